// SPDX-License-Identifier: MIT
/*
 * stackpool.c - where tasks get their stacks.
 *
 * Free stacks sit in each P's cache (LIFO, owner only, so the next task
 * gets the stack that is still in the CPU's caches) and in a global list
 * under pool.lock. Reservations keep the books so a started task always
 * finds a stack:
 *
 *   free stacks (caches + global) = reserved (spawned, not started)
 *                                 + credits (free and promised to nobody)
 *
 * green_go turns a credit into a reservation; a task's first run turns a
 * reservation into a bound stack; a task's exit turns its stack back into
 * a free stack and a credit. Credits, like stacks, move between a P and
 * the global pool in batches, so the common paths take no lock. When a P
 * finds no free stack while the books say one exists (it is in another
 * P's cache), it maps a new slab; only if that fails does the task wait.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "runtime.h"
#include "sanitizer.h"

#define BATCH 32		/* stacks or credits moved at once */
#define CACHE_MAX 64		/* per P, before moving a batch back */
#define KEEP_PAGES 16384	/* global free stacks that keep their pages */

struct sslab {
	struct sslab *next;
	struct stack_slab slab;
	unsigned int n;
	struct stack st[];
};

static struct {
	pthread_mutex_t lock;
	struct stack *free;
	uint64_t nfree;
	int64_t credits;
	struct sslab *slabs;
} pool = { .lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP };

/* Map a slab; its stacks become free stacks and credits. pool.lock held. */
static int slab_new(void)
{
	unsigned int n = stack_slab_count(sched.stack_size), i;
	struct sslab *sl;
	int ret;

	sl = calloc(1, sizeof(*sl) + n * sizeof(struct stack));
	if (!sl)
		return -ENOMEM;
	ret = stack_slab_map(&sl->slab, n, sched.stack_size);
	if (ret) {
		free(sl);
		return ret;
	}
	for (i = 0; i < n; i++) {
		ret = stack_carve(&sl->slab, i, &sl->st[i]);
		if (ret)
			break;
	}
	if (i == 0) {
		stack_slab_unmap(&sl->slab);
		free(sl);
		return ret;
	}
	sl->n = i;
	sl->next = pool.slabs;
	pool.slabs = sl;
	while (i-- > 0) {
		sl->st[i].next = pool.free;
		pool.free = &sl->st[i];
	}
	pool.nfree += sl->n;
	pool.credits += sl->n;
	return 0;
}

int stack_reserve(struct p *p)
{
	int64_t k;
	int ret = 0;

	if (p->stk_credits > 0) {
		p->stk_credits--;
		return 0;
	}
	mutex_lock(&pool.lock);
	if (pool.credits == 0)
		ret = slab_new();
	if (!ret) {
		k = pool.credits < BATCH ? pool.credits : BATCH;
		pool.credits -= k;
		p->stk_credits = k - 1;
	}
	mutex_unlock(&pool.lock);
	return ret;
}

int stack_reserve_global(void)
{
	int ret = 0;

	mutex_lock(&pool.lock);
	if (pool.credits == 0)
		ret = slab_new();
	if (!ret)
		pool.credits--;
	mutex_unlock(&pool.lock);
	return ret;
}

void stack_unreserve_global(void)
{
	mutex_lock(&pool.lock);
	pool.credits++;
	mutex_unlock(&pool.lock);
}

struct stack *stack_bind(struct p *p)
{
	struct stack *s = p->stk_cache;

	if (!s) {
		mutex_lock(&pool.lock);
		if (!pool.free && slab_new()) {
			mutex_unlock(&pool.lock);
			return NULL;
		}
		while (pool.free && p->stk_ncache < BATCH) {
			s = pool.free;
			pool.free = s->next;
			pool.nfree--;
			s->next = p->stk_cache;
			p->stk_cache = s;
			p->stk_ncache++;
		}
		mutex_unlock(&pool.lock);
		s = p->stk_cache;
	}
	p->stk_cache = s->next;
	p->stk_ncache--;
	if (stack_arm(s)) {
		/* GREEN_STACK_GUARD=always and no guard: back it goes. */
		s->next = p->stk_cache;
		p->stk_cache = s;
		p->stk_ncache++;
		return NULL;
	}
	s->touched = true;
	san_stack_unpoison(s->lo, s->size);
	return s;
}

void stack_unbind(struct p *p, struct stack *s)
{
	s->next = p->stk_cache;
	p->stk_cache = s;
	p->stk_ncache++;
	p->stk_credits++;
	if (p->stk_ncache <= CACHE_MAX && p->stk_credits <= CACHE_MAX)
		return;
	mutex_lock(&pool.lock);
	while (p->stk_ncache > CACHE_MAX - BATCH) {
		s = p->stk_cache;
		p->stk_cache = s->next;
		p->stk_ncache--;
		if (pool.nfree >= KEEP_PAGES)
			stack_release(s);
		s->next = pool.free;
		pool.free = s;
		pool.nfree++;
	}
	if (p->stk_credits > CACHE_MAX - BATCH) {
		pool.credits += p->stk_credits - (CACHE_MAX - BATCH);
		p->stk_credits = CACHE_MAX - BATCH;
	}
	mutex_unlock(&pool.lock);
}

void stackpool_teardown(void)
{
	struct sslab *sl, *next;
	unsigned int i;

	for (sl = pool.slabs; sl; sl = next) {
		next = sl->next;
		for (i = 0; i < sl->n; i++)
			stack_forget(&sl->st[i]);
		stack_slab_unmap(&sl->slab);
		free(sl);
	}
	pool.slabs = NULL;
	pool.free = NULL;
	pool.nfree = 0;
	pool.credits = 0;
}
