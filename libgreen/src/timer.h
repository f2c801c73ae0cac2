/* SPDX-License-Identifier: MIT */
/*
 * timer.h - per-processor timers: a 4-ary min-heap per P, as in Go.
 *
 * A timer fires on the P whose heap holds it, when that P next looks
 * (every scheduling round, and an idle P waits in its poller no longer
 * than until its earliest timer). 100k sleeping tasks cost 100k heap
 * slots and no CPU.
 *
 * A callback runs on a worker, outside any lock, with copies of the
 * timer's fn, arg and seq taken when it was removed from the heap: it must
 * not touch the struct gtimer itself, which its owner may already have
 * freed. timer_stop() returning false means the callback has run or is
 * about to; an owner that shares @arg with the callback (a reference
 * count) must let the callback release it then.
 */
#ifndef GREEN_TIMER_H
#define GREEN_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct p;

struct gtimer {
	int64_t when;			/* green_now() clock */
	uint32_t idx;			/* heap slot + 1; 0: not queued */
	struct p *p;			/* whose heap */
	void (*fn)(void *arg, uint64_t seq);
	void *arg;
	uint64_t seq;
};

/*
 * Queue @t (fields when, fn, arg, seq set) on the caller's P, or on P 0
 * off the workers. 0, or -ENOMEM when the heap cannot grow. An idle P
 * whose next wake-up is later than @t is woken.
 */
int timer_start(struct gtimer *t);

/* Dequeue @t: true if it was queued and will not fire. */
bool timer_stop(struct gtimer *t);

/* Run @p's timers that are due; the caller holds @p. Returns how many. */
int timers_run(struct p *p, int64_t now);

/* When @p's earliest timer is due, or INT64_MAX. Lock-free read. */
int64_t timers_next(struct p *p);

int timers_init(struct p *p);
void timers_fini(struct p *p);

#endif /* GREEN_TIMER_H */
