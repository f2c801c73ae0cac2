// SPDX-License-Identifier: MIT
/*
 * timer.c - per-processor timer heaps (see timer.h).
 *
 * A 4-ary min-heap of timer pointers ordered by when, as Go's: shallower
 * than a binary heap, so a sift touches fewer cache lines. Each heap has
 * a spinlock: its P adds and runs timers, but any task stops its own
 * timer wherever it now runs, and contexts start timers from any thread.
 * heap->next caches the earliest when for lock-free peeks by the
 * scheduler and the idle poller.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "lock.h"
#include "poller.h"
#include "runtime.h"
#include "timer.h"

struct timers {
	_Atomic int lock;
	uint32_t n, cap;
	struct gtimer **heap;
	_Atomic int64_t next;
};

static void set_next(struct timers *ts)
{
	atomic_store_explicit(&ts->next, ts->n ? ts->heap[0]->when : INT64_MAX,
			      memory_order_release);
}

static void place(struct timers *ts, uint32_t i, struct gtimer *t)
{
	ts->heap[i] = t;
	t->idx = i + 1;
}

static void sift_up(struct timers *ts, uint32_t i)
{
	struct gtimer *t = ts->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 4;

		if (ts->heap[parent]->when <= t->when)
			break;
		place(ts, i, ts->heap[parent]);
		i = parent;
	}
	place(ts, i, t);
}

static void sift_down(struct timers *ts, uint32_t i)
{
	struct gtimer *t = ts->heap[i];

	for (;;) {
		uint32_t c = 4 * i + 1, best = i, k;
		int64_t bw = t->when;

		for (k = c; k < c + 4 && k < ts->n; k++) {
			if (ts->heap[k]->when < bw) {
				best = k;
				bw = ts->heap[k]->when;
			}
		}
		if (best == i)
			break;
		place(ts, i, ts->heap[best]);
		i = best;
	}
	place(ts, i, t);
}

/* Remove the timer in slot @i; lock held. */
static void remove_at(struct timers *ts, uint32_t i)
{
	struct gtimer *last;

	ts->heap[i]->idx = 0;
	last = ts->heap[--ts->n];
	if (i == ts->n)
		return;
	place(ts, i, last);
	if (i > 0 && ts->heap[(i - 1) / 4]->when > last->when)
		sift_up(ts, i);
	else
		sift_down(ts, i);
}

int timers_init(struct p *p)
{
	struct timers *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return -ENOMEM;
	atomic_store(&ts->next, INT64_MAX);
	p->timers = ts;
	return 0;
}

void timers_fini(struct p *p)
{
	struct timers *ts = p->timers;
	uint32_t i;

	if (!ts)
		return;
	/* Timers still queued are dropped: timer_stop on them says so. */
	for (i = 0; i < ts->n; i++) {
		ts->heap[i]->idx = 0;
		ts->heap[i]->p = NULL;
	}
	free(ts->heap);
	free(ts);
	p->timers = NULL;
}

int timer_start(struct gtimer *t)
{
	struct m *m = m_self();
	struct p *p = m && m->p ? m->p : &sched.allp[0];
	struct timers *ts = p->timers;
	int64_t old;

	spin_lock(&ts->lock);
	if (ts->n == ts->cap) {
		uint32_t cap = ts->cap ? 2 * ts->cap : 64;
		struct gtimer **h = realloc(ts->heap, cap * sizeof(*h));

		if (!h) {
			spin_unlock(&ts->lock);
			return -ENOMEM;
		}
		ts->heap = h;
		ts->cap = cap;
	}
	t->p = p;
	old = ts->n ? ts->heap[0]->when : INT64_MAX;
	place(ts, ts->n++, t);
	sift_up(ts, t->idx - 1);
	set_next(ts);
	spin_unlock(&ts->lock);
	/* An idle P polls until its old earliest timer: cut that short. */
	if (t->when < old && (!m || m->p != p))
		poller_kick(p);
	return 0;
}

bool timer_stop(struct gtimer *t)
{
	struct p *p = t->p;
	struct timers *ts;
	bool queued;

	if (!p)
		return false;
	ts = p->timers;
	spin_lock(&ts->lock);
	queued = t->idx != 0;
	if (queued) {
		remove_at(ts, t->idx - 1);
		set_next(ts);
	}
	spin_unlock(&ts->lock);
	return queued;
}

int timers_run(struct p *p, int64_t now)
{
	struct timers *ts = p->timers;
	int ran = 0;

	while (atomic_load_explicit(&ts->next, memory_order_acquire) <= now) {
		void (*fn)(void *arg, uint64_t seq);
		struct gtimer *t;
		uint64_t seq;
		void *arg;

		spin_lock(&ts->lock);
		if (!ts->n || ts->heap[0]->when > now) {
			spin_unlock(&ts->lock);
			break;
		}
		t = ts->heap[0];
		fn = t->fn;
		arg = t->arg;
		seq = t->seq;
		remove_at(ts, 0);
		set_next(ts);
		spin_unlock(&ts->lock);
		fn(arg, seq);
		ran++;
	}
	return ran;
}

int64_t timers_next(struct p *p)
{
	return atomic_load_explicit(&p->timers->next, memory_order_acquire);
}
