// SPDX-License-Identifier: MIT
/*
 * runq.c - run queues: each P's bounded lock-free ring with its runnext
 * slot, and the global queue.
 *
 * The local ring has one producer (the owning P) and many consumers (the
 * owner and thieves). The owner writes a slot and publishes it with a
 * release store of tail; consumers claim slots by CAS on head. A thief
 * copies the slots before its CAS: if the owner reused them meanwhile, head
 * moved and the CAS fails. Slots are atomics so the racy reads are defined.
 *
 * runnext holds the task that should run next (just spawned or just
 * woken), for locality. runqget caps how many picks in a row may come from
 * runnext (RUNNEXT_STREAK_MAX), so two tasks waking each other cannot keep
 * the rest of the queue waiting.
 */
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

/* Move half of the full local queue and @g to the global queue. */
static bool runqput_slow(struct p *p, struct g *g, uint32_t h, uint32_t t)
{
	struct g *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2, i;

	for (i = 0; i < n; i++)
		batch[i] = slot_load(p, h + i);
	if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n,
						     memory_order_release,
						     memory_order_relaxed))
		return false;
	batch[n] = g;
	pthread_mutex_lock(&sched.lock);
	for (i = 0; i <= n; i++)
		globrunqput(batch[i]);
	pthread_mutex_unlock(&sched.lock);
	return true;
}

void runqput(struct p *p, struct g *g, bool next)
{
	uint32_t h, t;

	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	if (next) {
		g = atomic_exchange_explicit(&p->runnext, g,
					     memory_order_acq_rel);
		if (!g)
			return;
	}
	for (;;) {
		h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t - h < RUNQ_SIZE) {
			slot_store(p, t, g);
			atomic_store_explicit(&p->runqtail, t + 1,
					      memory_order_release);
			return;
		}
		if (runqput_slow(p, g, h, t))
			return;
	}
}

static struct g *runq_pop_head(struct p *p)
{
	uint32_t h, t;
	struct g *g;

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

struct g *runqget(struct p *p)
{
	struct g *g;

	if (p->runnext_streak < RUNNEXT_STREAK_MAX &&
	    atomic_load_explicit(&p->runnext, memory_order_relaxed)) {
		g = atomic_exchange_explicit(&p->runnext, NULL,
					     memory_order_acquire);
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
	return atomic_exchange_explicit(&p->runnext, NULL,
					memory_order_acquire);
}

bool runqempty(struct p *p)
{
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_acquire);

	return t == h && !atomic_load_explicit(&p->runnext,
					       memory_order_relaxed);
}

uint32_t runqlen(struct p *p)
{
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);

	return t - h > RUNQ_SIZE ? 0 : t - h;
}

/*
 * Take half of @victim's queue into @p's (which must be empty), returning
 * one task to run now. With @steal_next, a lone runnext may be taken too.
 */
struct g *runqsteal(struct p *p, struct p *victim, bool steal_next)
{
	uint32_t h, t, n, i, mytail;
	struct g *g;

	for (;;) {
		h = atomic_load_explicit(&victim->runqhead,
					 memory_order_acquire);
		t = atomic_load_explicit(&victim->runqtail,
					 memory_order_acquire);
		n = t - h;
		n = n - n / 2;
		if (n == 0) {
			if (!steal_next)
				return NULL;
			g = atomic_load_explicit(&victim->runnext,
						 memory_order_relaxed);
			if (!g)
				return NULL;
			if (atomic_compare_exchange_strong_explicit(
				    &victim->runnext, &g, NULL,
				    memory_order_acquire, memory_order_relaxed))
				return g;
			continue;
		}
		if (n > RUNQ_SIZE / 2)
			continue;	/* read h and t apart: inconsistent */
		mytail = atomic_load_explicit(&p->runqtail,
					      memory_order_relaxed);
		for (i = 0; i < n; i++)
			slot_store(p, mytail + i, slot_load(victim, h + i));
		if (atomic_compare_exchange_strong_explicit(
			    &victim->runqhead, &h, h + n,
			    memory_order_acq_rel, memory_order_relaxed))
			break;
	}
	/* Run the last one now, publish the rest. */
	n--;
	g = slot_load(p, mytail + n);
	if (n)
		atomic_store_explicit(&p->runqtail, mytail + n,
				      memory_order_release);
	stat_inc(&p->st.steals);
	stat_add(&p->st.stolen, n + 1);
	return g;
}

void globrunqput(struct g *g)
{
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	g->link = NULL;
	if (sched.gq_tail)
		sched.gq_tail->link = g;
	else
		sched.gq_head = g;
	sched.gq_tail = g;
	atomic_fetch_add_explicit(&sched.gq_size, 1, memory_order_seq_cst);
}

/*
 * Take up to @max tasks (0: a fair share) from the global queue: one is
 * returned, the rest go to @p's local queue.
 */
struct g *globrunqget(struct p *p, int max)
{
	int64_t size = atomic_load_explicit(&sched.gq_size,
					    memory_order_relaxed);
	int64_t n;
	struct g *g;

	if (size == 0)
		return NULL;
	n = size / sched.nprocs + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	atomic_fetch_sub_explicit(&sched.gq_size, n, memory_order_relaxed);
	g = sched.gq_head;
	sched.gq_head = g->link;
	while (--n > 0) {
		struct g *g1 = sched.gq_head;

		sched.gq_head = g1->link;
		runqput(p, g1, false);
	}
	if (!sched.gq_head)
		sched.gq_tail = NULL;
	stat_inc(&p->st.global_gets);
	return g;
}
