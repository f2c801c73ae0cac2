// SPDX-License-Identifier: MIT
/*
 * chantimer.c - timers and tickers that deliver on channels: Go's
 * time.After, time.Timer and time.Ticker, on the per-P timers of timer.h.
 *
 * Each owns a channel of int64_t with capacity 1. When it fires, the
 * timer callback sends the time without blocking (a value still unread
 * makes it drop this one, as Go's sendTime), and a ticker re-queues
 * itself for its next tick.
 *
 * Lifetimes. The callback runs outside any lock, with a copy of the arg
 * (the green_timer) and of the seq taken when the heap let go of it, so
 * the owner may be stopping, resetting or freeing the timer at that very
 * moment. Two rules keep that safe:
 *   - a reference count: the owner holds one, and so does each queued or
 *     running callback. timer_stop() returning true (dequeued, will not
 *     run) hands the callback's reference back to the owner; false means
 *     the callback runs or has run, and drops its own. Whoever drops the
 *     last frees the timer and its channel;
 *   - a generation: stop, reset and free bump gen under the timer's lock,
 *     and a callback whose seq is not the current gen does nothing. So
 *     once stop or reset returns, no stale value is sent, and the one
 *     already in the channel is drained (Go 1.23's semantics).
 * Lock order: the timer's lock, then its channel's or its heap's.
 */
#include <errno.h>
#include <stdlib.h>

#include "chan.h"
#include "green.h"
#include "lock.h"
#include "runtime.h"
#include "timer.h"

struct green_timer {
	struct gtimer gt;
	_Atomic int lock;		/* all below, and queueing gt */
	_Atomic int refs;		/* owner + callback queued/running */
	green_chan_t *c;
	int64_t period;			/* ticker: ns per tick, or 0 */
	uint64_t gen;			/* current arming; gt.seq of it */
	bool armed;			/* will deliver unless stopped */
};

struct green_ticker {
	struct green_timer t;
};

static void tm_put(struct green_timer *tm)
{
	if (atomic_fetch_sub_explicit(&tm->refs, 1,
				      memory_order_acq_rel) == 1) {
		chan_destroy(tm->c);
		free(tm);
	}
}

/*
 * Send @now unless the channel holds a value already (or was closed). A
 * receiver handed the value is left in *@wk, to wake once the timer's
 * lock is dropped too.
 */
static void deliver(green_chan_t *c, int64_t now, struct chan_wake *wk)
{
	spin_lock(&c->lock);
	chan_send_locked(c, &now, wk);
	spin_unlock(&c->lock);
}

/* The first tick after @now on the grid @when + k * @period. */
static int64_t next_tick(int64_t when, int64_t period, int64_t now)
{
	when += period;
	if (when <= now)
		when += ((now - when) / period + 1) * period;
	return when;
}

static void tm_fire(void *arg, uint64_t seq)
{
	struct green_timer *tm = arg;
	struct chan_wake wk = { 0 };
	bool requeued = false;

	spin_lock(&tm->lock);
	if (seq == tm->gen && tm->armed) {
		int64_t now = (int64_t)now_ns();

		deliver(tm->c, now, &wk);
		if (tm->period) {
			/* The reference this callback holds goes with it. */
			tm->gt.when = next_tick(tm->gt.when, tm->period, now);
			requeued = !timer_start(&tm->gt);
		}
		tm->armed = requeued;
	}
	spin_unlock(&tm->lock);
	chan_wake(&wk);
	if (!requeued)
		tm_put(tm);
}

/*
 * Stop @tm (locked) and drain a value not yet received. True if that kept
 * a delivery from being seen: it was armed, or its value was unread.
 */
static bool tm_disarm(struct green_timer *tm)
{
	bool active = tm->armed;

	tm->armed = false;
	tm->gen++;
	if (timer_stop(&tm->gt))
		atomic_fetch_sub_explicit(&tm->refs, 1, memory_order_relaxed);
	if (green_chan_try_recv(tm->c, NULL) == 0)
		active = true;
	return active;
}

/* Queue @tm (locked, disarmed) to fire @ns from now. */
static int tm_arm(struct green_timer *tm, int64_t ns)
{
	int64_t now = (int64_t)now_ns();

	if (ns < 0)
		ns = 0;
	tm->gt.when = ns > INT64_MAX - now ? INT64_MAX : now + ns;
	tm->gt.fn = tm_fire;
	tm->gt.arg = tm;
	tm->gt.seq = tm->gen;
	atomic_fetch_add_explicit(&tm->refs, 1, memory_order_relaxed);
	if (timer_start(&tm->gt)) {
		atomic_fetch_sub_explicit(&tm->refs, 1, memory_order_relaxed);
		return -ENOMEM;
	}
	tm->armed = true;
	return 0;
}

static struct green_timer *tm_make(size_t size, int64_t ns, int64_t period)
{
	struct green_timer *tm;

	/* Timers live in the processors' heaps: they need a runtime. */
	if (!atomic_load(&sched.running) || !sched.allp)
		return NULL;
	tm = calloc(1, size);
	if (!tm)
		return NULL;
	tm->c = green_chan_make(sizeof(int64_t), 1);
	if (!tm->c) {
		free(tm);
		return NULL;
	}
	tm->c->tm = tm;
	tm->period = period;
	atomic_init(&tm->refs, 1);
	spin_lock(&tm->lock);
	if (tm_arm(tm, ns)) {
		spin_unlock(&tm->lock);
		chan_destroy(tm->c);
		free(tm);
		return NULL;
	}
	spin_unlock(&tm->lock);
	return tm;
}

void chantimer_free(struct green_timer *tm)
{
	spin_lock(&tm->lock);
	tm->armed = false;
	tm->gen++;
	if (timer_stop(&tm->gt))
		atomic_fetch_sub_explicit(&tm->refs, 1, memory_order_relaxed);
	spin_unlock(&tm->lock);
	tm_put(tm);
}

green_chan_t *green_after(int64_t ns)
{
	struct green_timer *tm = tm_make(sizeof(*tm), ns, 0);

	return tm ? tm->c : NULL;
}

green_timer_t *green_timer_make(int64_t ns)
{
	return tm_make(sizeof(struct green_timer), ns, 0);
}

green_chan_t *green_timer_chan(green_timer_t *t)
{
	return t ? t->c : NULL;
}

int green_timer_stop(green_timer_t *t)
{
	bool active;

	if (!t)
		return -EINVAL;
	spin_lock(&t->lock);
	active = tm_disarm(t);
	spin_unlock(&t->lock);
	return active;
}

int green_timer_reset(green_timer_t *t, int64_t ns)
{
	bool active;
	int ret;

	if (!t)
		return -EINVAL;
	spin_lock(&t->lock);
	active = tm_disarm(t);
	ret = tm_arm(t, ns);
	spin_unlock(&t->lock);
	return ret ? ret : active;
}

void green_timer_free(green_timer_t *t)
{
	if (t)
		chantimer_free(t);
}

green_ticker_t *green_ticker_make(int64_t period)
{
	if (period <= 0)
		return NULL;
	return (green_ticker_t *)tm_make(sizeof(struct green_ticker), period,
					 period);
}

green_chan_t *green_ticker_chan(green_ticker_t *t)
{
	return t ? t->t.c : NULL;
}

int green_ticker_stop(green_ticker_t *t)
{
	if (!t)
		return -EINVAL;
	spin_lock(&t->t.lock);
	tm_disarm(&t->t);
	spin_unlock(&t->t.lock);
	return 0;
}

int green_ticker_reset(green_ticker_t *t, int64_t period)
{
	int ret;

	if (!t || period <= 0)
		return -EINVAL;
	spin_lock(&t->t.lock);
	tm_disarm(&t->t);
	t->t.period = period;
	ret = tm_arm(&t->t, period);
	spin_unlock(&t->t.lock);
	return ret;
}

void green_ticker_free(green_ticker_t *t)
{
	if (t)
		chantimer_free(&t->t);
}
