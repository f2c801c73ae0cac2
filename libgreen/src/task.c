// SPDX-License-Identifier: MIT
/*
 * task.c - tasks (G): allocation with their stacks, spawning, switching,
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

#include "overflow.h"
#include "runtime.h"
#include "sanitizer.h"

#define GFREE_LOCAL_MAX 64	/* free tasks a P keeps */
#define GFREE_BATCH 32		/* moved to or from the global list */
#define GFREE_KEEP_PAGES 16384	/* global free tasks whose stacks keep
				 * their pages; beyond, pages are released */
#define GOID_BATCH 64

/* Allocate a chunk of tasks with a slab of stacks; sched.lock held. */
static int chunk_new(void)
{
	unsigned int n = stack_slab_count(sched.stack_size), i;
	struct gchunk *c;
	int ret;

	c = calloc(1, sizeof(*c) + n * sizeof(struct g));
	if (!c)
		return -ENOMEM;
	ret = stack_slab_map(&c->slab, n, sched.stack_size);
	if (ret) {
		free(c);
		return ret;
	}
	for (i = 0; i < n; i++) {
		ret = stack_carve(&c->slab, i, &c->gs[i].stack);
		if (ret)
			break;
	}
	c->n = i;
	c->next = sched.chunks;
	sched.chunks = c;
	if (i == 0)
		return ret;
	/* The new tasks go to the global free list. */
	while (i-- > 0) {
		c->gs[i].link = sched.gfree;
		sched.gfree = &c->gs[i];
		sched.gfree_n++;
	}
	return 0;
}

/* Take up to GFREE_BATCH free tasks for @p; sched.lock held. */
static int gfree_refill_locked(struct p *p)
{
	int ret;

	if (!sched.gfree) {
		ret = chunk_new();
		if (ret)
			return ret;
	}
	while (sched.gfree && p->gfree_n < GFREE_BATCH) {
		struct g *g = sched.gfree;

		sched.gfree = g->link;
		sched.gfree_n--;
		g->link = p->gfree;
		p->gfree = g;
		p->gfree_n++;
	}
	return 0;
}

struct g *g_alloc(struct p *p)
{
	struct g *g = p->gfree;

	if (!g) {
		int ret;

		pthread_mutex_lock(&sched.lock);
		ret = gfree_refill_locked(p);
		pthread_mutex_unlock(&sched.lock);
		if (ret)
			return NULL;
		g = p->gfree;
	}
	p->gfree = g->link;
	p->gfree_n--;
	return g;
}

void g_free(struct p *p, struct g *g)
{
	atomic_store_explicit(&g->status, G_FREE, memory_order_relaxed);
	g->fn = NULL;
	g->arg = NULL;
	g->link = p->gfree;
	p->gfree = g;
	p->gfree_n++;
	stat_inc(&p->exited);
	if (p->gfree_n <= GFREE_LOCAL_MAX)
		return;
	pthread_mutex_lock(&sched.lock);
	while (p->gfree_n > GFREE_LOCAL_MAX - GFREE_BATCH) {
		g = p->gfree;
		p->gfree = g->link;
		p->gfree_n--;
		if (sched.gfree_n >= GFREE_KEEP_PAGES)
			stack_release(&g->stack);
		g->link = sched.gfree;
		sched.gfree = g;
		sched.gfree_n++;
	}
	pthread_mutex_unlock(&sched.lock);
}

/* Free every task and stack; all Ms have stopped. */
void g_teardown_all(void)
{
	struct gchunk *c, *next;
	unsigned int i;

	for (c = sched.chunks; c; c = next) {
		next = c->next;
		for (i = 0; i < c->n; i++) {
			san_fiber_destroy(&c->gs[i].san);
			stack_forget(&c->gs[i].stack);
		}
		stack_slab_unmap(&c->slab);
		free(c);
	}
	sched.chunks = NULL;
	sched.gfree = NULL;
	sched.gfree_n = 0;
}

void g_after_switch(struct m *m)
{
	struct g *prev = m->pend_g;

	if (!prev)
		return;
	m->pend_g = NULL;
	switch (m->pend_action) {
	case SW_READY:
		runqput(m->p, prev, false);
		break;
	case SW_PARK:
		if (m->pend_lock)
			atomic_store_explicit(m->pend_lock, 0,
					      memory_order_release);
		break;
	case SW_EXIT:
		g_free(m->p, prev);
		break;
	case SW_NONE:
		break;
	}
}

void g_switch(struct g *cur, struct g *next, enum switch_action act,
	      _Atomic int *lock)
{
	struct m *m = cur->m;

	if (!cur->is_g0 && !stack_canary_ok(&cur->stack))
		overflow_report_canary(cur);
	m->pend_g = cur;
	m->pend_action = act;
	m->pend_lock = lock;
	m->curg = next;
	next->m = m;
	if (!next->is_g0) {
		atomic_store_explicit(&next->status, G_RUNNING,
				      memory_order_relaxed);
		stat_inc(&m->p->st.tasks_run);
	}
	san_switch_start(&cur->san, &next->san, act == SW_EXIT);
	green_ctx_switch(&cur->sp, next->sp);
	/* Resumed, maybe on another M. */
	san_switch_finish(&cur->san);
	g_after_switch(m_self());
}

/*
 * A task to switch to directly from a task, or NULL when the M must go
 * through schedule(): nothing local, the periodic global-queue check is
 * due, or the runtime is shutting down.
 */
static struct g *pick_local(struct p *p)
{
	if (atomic_load_explicit(&sched.shutdown, memory_order_relaxed))
		return NULL;
	if (++p->schedtick % GLOBAL_CHECK_TICKS == 0 &&
	    atomic_load_explicit(&sched.gq_size, memory_order_relaxed) > 0)
		return NULL;
	return runqget(p);
}

/* Switch the running task away, with @act done to it after the switch. */
static void g_leave(struct m *m, enum switch_action act, _Atomic int *lock)
{
	struct g *next = pick_local(m->p);

	g_switch(m->curg, next ? next : &m->g0, act, lock);
}

static void g_exit(void) __attribute__((noreturn));
static void g_exit(void)
{
	struct m *m = m_self();

	if (m->curg->id == 1)
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
	g->sp = green_ctx_init(stack_top(&g->stack), g_entry);
	san_fiber_create(&g->san, g->stack.lo, g->stack.size);
}

/* Spawn from a thread that is not a worker: through the global queue. */
static int go_foreign(void (*fn)(void *), void *arg)
{
	struct g *g;
	int ret = -EPERM;

	pthread_mutex_lock(&sched.lock);
	if (!atomic_load(&sched.running) || atomic_load(&sched.shutdown))
		goto out;
	if (!sched.gfree) {
		ret = chunk_new();
		if (ret)
			goto out;
	}
	g = sched.gfree;
	sched.gfree = g->link;
	sched.gfree_n--;
	g_init(g, atomic_fetch_add(&sched.goid_gen, 1), fn, arg);
	atomic_fetch_add(&sched.foreign_spawned, 1);
	globrunqput(g);
	startm_locked();
	ret = 0;
out:
	pthread_mutex_unlock(&sched.lock);
	return ret;
}

int green_go(void (*fn)(void *), void *arg)
{
	struct m *m = m_self();
	struct p *p;
	struct g *g;

	if (!fn)
		return -EINVAL;
	if (!m || !m->p)
		return go_foreign(fn, arg);
	p = m->p;
	g = g_alloc(p);
	if (!g)
		return -ENOMEM;
	g_init(g, goid_next(p), fn, arg);
	stat_inc(&p->st.spawned);
	runqput(p, g, true);
	wakep();
	return 0;
}

void green_yield(void)
{
	struct m *m = m_self();

	if (!m || m->curg == &m->g0) {
		sched_yield();
		return;
	}
	stat_inc(&m->p->st.yields);
	if (runqempty(m->p) &&
	    !atomic_load_explicit(&sched.gq_size, memory_order_relaxed) &&
	    !atomic_load_explicit(&sched.shutdown, memory_order_relaxed))
		return;	/* nothing else to run here */
	g_leave(m, SW_READY, NULL);
}

void g_park(_Atomic int *lock)
{
	struct m *m = m_self();

	atomic_store_explicit(&m->curg->status, G_WAITING,
			      memory_order_relaxed);
	g_leave(m, SW_PARK, lock);
}

void g_ready(struct g *g)
{
	struct m *m = m_self();

	if (m && m->p) {
		runqput(m->p, g, true);
		wakep();
		return;
	}
	pthread_mutex_lock(&sched.lock);
	globrunqput(g);
	startm_locked();
	pthread_mutex_unlock(&sched.lock);
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
