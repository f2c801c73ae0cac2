// SPDX-License-Identifier: MIT
/*
 * task.c - tasks (G): allocation, spawning, switching,
 * parking and readying, yielding and exiting.
 *
 * A switch goes straight from one task to the next when the local run
 * queue has one, and through the M's g0 (schedule) only when it has not.
 * What must happen to the task switched away from (queue it, release the
 * lock it parked under, free it) cannot be done on its own stack before
 * the switch, since another M could then run it while its registers are
 * still being saved. So the switching task leaves the action in its M
 * (pend_*), and whatever runs next on that M does it first thing after the
 * switch: g_after_switch().
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "overflow.h"
#include "runq.h"
#include "runtime.h"
#include "sanitizer.h"
#include "wait.h"

#define GFREE_LOCAL_MAX 64	/* free tasks a P keeps */
#define GFREE_BATCH 32		/* moved to or from the global list */
#define GCHUNK 64		/* task structures allocated at once */
#define GOID_BATCH 64

static void g_entry(void);

/* Allocate a chunk of task structures as free batches; gfree_lock held. */
static int chunk_new(void)
{
	struct gchunk *c;
	unsigned int i, b;

	c = aligned_alloc(CACHELINE, sizeof(*c) + GCHUNK * sizeof(struct g));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c) + GCHUNK * sizeof(struct g));
	c->n = GCHUNK;
	c->next = sched.chunks;
	sched.chunks = c;
	for (b = 0; b < GCHUNK; b += GFREE_BATCH) {
		for (i = b; i < b + GFREE_BATCH - 1; i++)
			c->gs[i].link = &c->gs[i + 1];
		gbatches_push(&sched.gfree, &c->gs[b],
			      &c->gs[b + GFREE_BATCH - 1], GFREE_BATCH, true);
	}
	return 0;
}

/* One free task structure from the global pool, for spawns off a P. */
static struct g *g_alloc_global(void)
{
	struct g *g;

	mutex_lock(&sched.gfree_lock);
	if (!sched.gfree.head && chunk_new())
		g = NULL;
	else
		g = gbatches_pop_one(&sched.gfree);
	mutex_unlock(&sched.gfree_lock);
	return g;
}

struct g *g_alloc(struct p *p)
{
	struct g *g = p->gfree;

	if (!g) {
		uint32_t n = 0;

		mutex_lock(&sched.gfree_lock);
		if (sched.gfree.head || !chunk_new())
			g = gbatches_pop(&sched.gfree, &n);
		mutex_unlock(&sched.gfree_lock);
		if (!g)
			return NULL;
		p->gfree_n = n;
	}
	p->gfree = g->link;
	p->gfree_n--;
	__builtin_prefetch(p->gfree, 1);
	__builtin_prefetch(g->ahead, 1);
	return g;
}

void g_free(struct p *p, struct g *g)
{
	struct g *tail, *win[AHEAD];
	uint32_t i;

	if (g->stack) {
		if (g->stack->own_map) {
			stack_unmap_one(g->stack);
			p->stk_credits++;	/* its reservation */
		} else {
			stack_unbind(p, g->stack);
		}
		g->stack = NULL;
	}
	atomic_store_explicit(&g->status, G_FREE, memory_order_relaxed);
	g->fn = NULL;
	g->arg = NULL;
	g->link = p->gfree;
	p->gfree = g;
	p->gfree_n++;
	stat_inc(&p->exited);
	if (p->gfree_n <= GFREE_LOCAL_MAX)
		return;
	/*
	 * Hand the most recently freed batch (hot here) to the pool, each
	 * task pointing AHEAD on for the P that takes it (g_alloc).
	 */
	tail = g;
	win[0] = g;
	for (i = 1; i < GFREE_BATCH; i++) {
		tail = tail->link;
		if (i >= AHEAD)	/* win[i % AHEAD] holds task i - AHEAD */
			win[i % AHEAD]->ahead = tail;
		win[i % AHEAD] = tail;
	}
	p->gfree = tail->link;
	p->gfree_n -= GFREE_BATCH;
	mutex_lock(&sched.gfree_lock);
	gbatches_push(&sched.gfree, g, tail, GFREE_BATCH, true);
	mutex_unlock(&sched.gfree_lock);
}

/* Free every task structure; all Ms have stopped. */
void g_teardown_all(void)
{
	struct gchunk *c, *next;

	for (c = sched.chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	sched.chunks = NULL;
	sched.gfree.head = NULL;
	sched.gfree.tail = NULL;
	stackpool_teardown();
}

/*
 * Make @g ready to be switched to on @p: a task that never ran gets its
 * stack and first frame now. False when no stack could be had (memory
 * exhausted even though one was reserved): the caller requeues @g.
 */
bool g_prepare(struct p *p, struct g *g)
{
	struct stack *s;

	if (g->stack)
		return true;
	if (__builtin_expect(g->id == 1 && sched.stack_size < GREEN_STACK_MIN,
			     0))
		s = stack_map_one(GREEN_STACK_DEFAULT);
	else
		s = stack_bind(p);
	if (!s)
		return false;
	g->stack = s;
	g->sp = green_ctx_init(stack_top(s), g_entry);
	san_fiber_create(&g->san, s->lo, s->size, &s->tsan_fiber);
	return true;
}

/* The actions other than SW_READY on @prev, the task that left @m. */
static void __attribute__((noinline))
g_after_switch_slow(struct m *m, struct g *prev)
{
	switch (m->pend_action) {
	case SW_PARK:
		if (m->pend_lock)
			atomic_store_explicit(m->pend_lock, 0,
					      memory_order_release);
		break;
	case SW_EXIT:
		g_free(m->p, prev);
		break;
	case SW_REQUEUE:
		g_requeue_global(prev);
		wakep();
		break;
	case SW_WAIT:
		wait_commit(prev);
		if (m->pend_lock)
			atomic_store_explicit(m->pend_lock, 0,
					      memory_order_release);
		break;
	case SW_READY:	/* done inline by g_after_switch */
	case SW_NONE:
		break;
	}
}

/*
 * Finish a switch on the M that made it: the action on the task that left
 * (inline for a yield's requeue, the common case), then the end of the
 * switch's runtime stretch (locks_inc in the caller of switch_to; see
 * lock.h).
 */
static inline __attribute__((always_inline)) void g_after_switch(struct m *m)
{
	struct g *prev = m->pend_g;

	if (prev) {
		m->pend_g = NULL;
		if (__builtin_expect(m->pend_action == SW_READY, 1))
			runqput_tail(m->p, prev);
		else
			g_after_switch_slow(m, prev);
	}
	locks_set(m->curg == &m->g0);
}

/*
 * Report @cur's stack overflow if its canary is gone. Every switch away
 * from a task checks, before its frames reach further down the stack.
 * A task running or switched to has a stack; g0 has none.
 */
static inline void canary_check(struct g *cur)
{
	if (cur->stack && !stack_canary_ok(cur->stack))
		overflow_report_canary(cur);
}

/* Switch from @cur (its canary checked) to @next. */
static inline __attribute__((always_inline)) void
switch_to(struct g *cur, struct g *next, enum switch_action act,
	  _Atomic int *lock)
{
	struct m *m = cur->m;

	m->pend_g = cur;
	m->pend_action = act;
	m->pend_lock = lock;
	m->curg = next;
	next->m = m;
	if (next->stack) {
		atomic_store_explicit(&next->status, G_RUNNING,
				      memory_order_relaxed);
		stat_inc(&m->p->st.tasks_run);
	}
	san_switch_start(&cur->san, &next->san, act == SW_EXIT);
	green_ctx_switch(&cur->sp, next->sp);
	/*
	 * Resumed, maybe on another M: whoever switched to us stored its M
	 * in cur->m first (a memory read here, never a stale thread-local).
	 */
	san_switch_finish(&cur->san);
	g_after_switch(cur->m);
}

void g_switch(struct g *cur, struct g *next, enum switch_action act,
	      _Atomic int *lock)
{
	canary_check(cur);
	locks_inc();
	switch_to(cur, next, act, lock);
}

/*
 * A task to switch to directly from a task, or NULL when the M must go
 * through schedule(): nothing local, the periodic global-queue check is
 * due, or the runtime is shutting down.
 */
static inline __attribute__((always_inline)) struct g *
pick_local(struct p *p)
{
	struct g *g;

	if (__builtin_expect(atomic_load_explicit(&sched.shutdown,
						  memory_order_relaxed), 0))
		return NULL;
	if (global_turn(p))
		return NULL;
	g = runqget(p);
	if (g)
		wake_check(p);
	if (g && !g->stack && !g_prepare(p, g)) {
		g_requeue_global(g);
		return NULL;
	}
	return g;
}

/* Switch the running task away, with @act done to it after the switch. */
static void g_leave(struct m *m, enum switch_action act, _Atomic int *lock)
{
	struct g *next;

	canary_check(m->curg);
	locks_inc();	/* pick_local uses the P's run queue: see lock.h */
	next = pick_local(m->p);
	switch_to(m->curg, next ? next : &m->g0, act, lock);
}

static void g_exit(void) __attribute__((noreturn));
static void g_exit(void)
{
	struct m *m = m_self();
	struct g *g = m->curg;

	if (__builtin_expect(g->has_ctx, 0))
		ctx_task_exit(g);
	if (g->id == 1)
		sched_shutdown();
	g_leave(m, SW_EXIT, NULL);
	__builtin_unreachable();
}

static void g_entry(void)
{
	struct m *m = m_self();
	struct g *g = m->curg;

	san_switch_finish(&g->san);
	g_after_switch(m);
	g->fn(g->arg);
	g_exit();
}

static uint64_t goid_next(struct p *p)
{
	if (p->goid_next == p->goid_end) {
		p->goid_next = atomic_fetch_add(&sched.goid_gen, GOID_BATCH);
		p->goid_end = p->goid_next + GOID_BATCH;
	}
	return p->goid_next++;
}

void g_init(struct g *g, uint64_t id, void (*fn)(void *), void *arg)
{
	g->fn = fn;
	g->arg = arg;
	g->id = id;
	g->link = NULL;
	g->m = NULL;
	g->stack = NULL;	/* bound by g_prepare when it first runs */
	g->sp = NULL;
	g->has_ctx = false;
	g->deadline = 0;	/* second line: the spawner writes it anyway */
}

/* A task that could not get a stack waits in the global queue. */
void g_requeue_global(struct g *g)
{
	mutex_lock(&sched.lock);
	globrunqput(g);
	mutex_unlock(&sched.lock);
}

/* Spawn from a thread that is not a worker: through the global queue. */
static int go_foreign(void (*fn)(void *), void *arg, void *pc)
{
	struct g *g;
	int ret = -EPERM;

	mutex_lock(&sched.lock);
	if (!atomic_load(&sched.running) || atomic_load(&sched.shutdown))
		goto out;
	ret = stack_reserve_global();
	if (ret)
		goto out;
	g = g_alloc_global();
	if (!g) {
		stack_unreserve_global();
		ret = -ENOMEM;
		goto out;
	}
	g_init(g, atomic_fetch_add(&sched.goid_gen, 1), fn, arg);
	g->created_pc = pc;
	g->created_by = 0;
	atomic_fetch_add(&sched.foreign_spawned, 1);
	globrunqput(g);
	startm_locked();
	ret = 0;
out:
	mutex_unlock(&sched.lock);
	return ret;
}

int green_go(void (*fn)(void *), void *arg)
{
	struct m *m = m_self();
	struct p *p;
	struct g *g;

	if (!fn)
		return -EINVAL;
	locks_inc();	/* the P's caches and run queue: see lock.h */
	if (!m || !m->p) {
		locks_dec();
		return go_foreign(fn, arg, __builtin_return_address(0));
	}
	p = m->p;
	if (stack_reserve(p)) {
		locks_dec();
		return -ENOMEM;
	}
	g = g_alloc(p);
	if (!g) {
		p->stk_credits++;	/* give the reservation back */
		locks_dec();
		return -ENOMEM;
	}
	g_init(g, goid_next(p), fn, arg);
	g->created_pc = __builtin_return_address(0);	/* for dumps */
	g->created_by = m->curg->id;
	stat_inc(&p->st.spawned);
	runqput(p, g, true);
	wakep_defer(p);
	locks_dec();
	return 0;
}

void green_yield(void)
{
	struct m *m = m_self();
	struct g *cur, *next;
	struct p *p;

	if (!m || m->curg == &m->g0) {
		sched_yield();
		return;
	}
	cur = m->curg;
	canary_check(cur);
	locks_inc();
	p = m->p;
	stat_inc(&p->st.yields);
	next = pick_local(p);
	if (!next) {
		/*
		 * Nothing local (or a turn elsewhere): go round schedule()
		 * only if there is work elsewhere, timers or I/O included.
		 */
		if (!atomic_load_explicit(&sched.gq_size, memory_order_relaxed) &&
		    !atomic_load_explicit(&sched.shutdown, memory_order_relaxed) &&
		    !p_poll_due(p)) {
			locks_dec();
			return;
		}
		next = &m->g0;
	}
	switch_to(cur, next, SW_READY, NULL);
}

void g_park(_Atomic int *lock)
{
	struct m *m = m_self();

	atomic_store_explicit(&m->curg->status, G_WAITING,
			      memory_order_relaxed);
	g_leave(m, SW_PARK, lock);
}

void g_park_wait(_Atomic int *lock)
{
	struct m *m = m_self();

	atomic_store_explicit(&m->curg->status, G_WAITING,
			      memory_order_relaxed);
	g_leave(m, SW_WAIT, lock);
}

void g_ready(struct g *g)
{
	struct m *m = m_self();

	locks_inc();	/* the P's run queue: see lock.h */
	if (m && m->p) {
		runqput(m->p, g, !m->ready_fifo);
		if (m->ready_batch)
			m->readied++;
		else
			wakep_defer(m->p);
		locks_dec();
		return;
	}
	locks_dec();
	mutex_lock(&sched.lock);
	globrunqput(g);
	startm_locked();
	mutex_unlock(&sched.lock);
}

struct g *g_current(void)
{
	struct m *m = m_self();

	return m && m->curg != &m->g0 ? m->curg : NULL;
}

uint64_t green_self_id(void)
{
	struct g *g = g_current();

	return g ? g->id : 0;
}

int green_proc_id(void)
{
	struct m *m = m_self();

	return m && m->p && m->curg != &m->g0 ? m->p->id : -1;
}
