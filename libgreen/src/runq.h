/* SPDX-License-Identifier: MIT */
/*
 * runq.h - the run queue operations on the hot path (a task switch),
 * inline; see runq.c for the design.
 */
#ifndef GREEN_RUNQ_H
#define GREEN_RUNQ_H

#include "runtime.h"

#define RUNQ_MASK (RUNQ_SIZE - 1)

static inline struct g *slot_load(struct p *p, uint32_t i)
{
	return atomic_load_explicit(&p->runq[i & RUNQ_MASK],
				    memory_order_relaxed);
}

static inline void slot_store(struct p *p, uint32_t i, struct g *g)
{
	atomic_store_explicit(&p->runq[i & RUNQ_MASK], g,
			      memory_order_relaxed);
}

static inline struct g *runq_pop_head(struct p *p)
{
	uint32_t h, t;
	struct g *g;

	if (sched.nprocs == 1) {
		/* No other P, so no thief: head has one writer, the owner. */
		h = atomic_load_explicit(&p->runqhead, memory_order_relaxed);
		t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t == h)
			return NULL;
		g = slot_load(p, h);
		atomic_store_explicit(&p->runqhead, h + 1, memory_order_relaxed);
		return g;
	}
	for (;;) {
		h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t == h)
			return NULL;
		g = slot_load(p, h);
		if (atomic_compare_exchange_weak_explicit(&p->runqhead, &h,
							  h + 1,
							  memory_order_release,
							  memory_order_relaxed))
			return g;
	}
}

/*
 * Empty runnext and return what it held. Thieves empty it too, with a
 * locked exchange; with one P there is no thief, and the owner's plain
 * load and store save that locked instruction on every switch.
 */
static inline struct g *runnext_take(struct p *p)
{
	struct g *g;

	if (sched.nprocs == 1) {
		g = atomic_load_explicit(&p->runnext, memory_order_relaxed);
		if (g)
			atomic_store_explicit(&p->runnext, NULL,
					      memory_order_relaxed);
		return g;
	}
	return atomic_exchange_explicit(&p->runnext, NULL,
					memory_order_acquire);
}

static inline struct g *runqget(struct p *p)
{
	struct g *g;

	if (p->runnext_streak < RUNNEXT_STREAK_MAX &&
	    atomic_load_explicit(&p->runnext, memory_order_relaxed)) {
		g = runnext_take(p);
		if (g) {
			p->runnext_streak++;
			return g;
		}
	}
	p->runnext_streak = 0;
	g = runq_pop_head(p);
	if (g)
		return g;
	/* The queue is empty: runnext is fair game again. */
	return runnext_take(p);
}

/* Put @g at the tail of @p's queue (the common case of runqput). */
static inline void runqput_tail(struct p *p, struct g *g)
{
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);

	if (__builtin_expect(t - h >= RUNQ_SIZE, 0)) {
		runqput(p, g, false);
		return;
	}
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	slot_store(p, t, g);
	atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
}

/*
 * True when this pick must look at the global queue first: every
 * GLOBAL_CHECK_TICKS picks, if it holds anything, so it cannot starve;
 * and then also when this P has timers due or I/O to reap (p_poll_due).
 */
static inline bool global_turn(struct p *p)
{
	if (__builtin_expect(--p->gcheck != 0, 1))
		return false;
	p->gcheck = GLOBAL_CHECK_TICKS;
	return atomic_load_explicit(&sched.gq_size, memory_order_relaxed) > 0 ||
	       p_poll_due(p);
}

#endif /* GREEN_RUNQ_H */
