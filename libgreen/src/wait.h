/* SPDX-License-Identifier: MIT */
/*
 * wait.h - how a task blocks and how it is woken, exactly once.
 *
 * A task that blocks may be woken by several parties racing: the event it
 * waits for (a channel peer, an I/O completion), its timeout timer, its
 * context being cancelled, another case of the same select. Exactly one
 * must win, and the others must not touch a later wait of the same task.
 *
 * g->wstate holds a generation (the high 32 bits), a wake code (16 bits,
 * signed: 0, -ETIMEDOUT, -ECANCELED, ...) and a phase (2 bits):
 *
 *   ARMED   the task is about to park (still running, maybe on its way)
 *   PARKED  its context is saved; a waker must make it runnable
 *   FIRED   a waker won; the code says why
 *
 * wait_arm() starts a new generation and returns its token. A waker calls
 * wait_wake(g, token, code): a CAS from ARMED or PARKED of that generation
 * to FIRED; a stale token (an earlier wait's timer) fails it. Winning on
 * PARKED, the waker readies the task. Winning on ARMED, it does not: the
 * task has not finished switching away, and the M that switched it away
 * sees FIRED when it tries ARMED -> PARKED, and readies it itself. So the
 * task runs again exactly once, and never while it is still running.
 *
 * After waking, the task cleans up after itself: it unlinks from wait
 * queues it is still on (a waker that lost the CAS skips it), stops its
 * timer and leaves its context's list. Nothing a waker holds points into
 * the task's stack after that.
 */
#ifndef GREEN_WAIT_H
#define GREEN_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

enum wait_reason {
	WR_NONE,
	WR_CHAN_SEND,
	WR_CHAN_RECV,
	WR_SELECT,
	WR_SLEEP,
	WR_IO,
	WR_POLL,
	WR_MUTEX,
	WR_RWMUTEX,
	WR_COND,
	WR_SEMA,
	WR_WAITGROUP,
	WR_ONCE,
	WR_CONTEXT,
	WR_ERRGROUP,
	WR_NREASONS,
};

/* "chan receive", "sleep", ... as in Go's goroutine dumps. */
const char *wait_reason_name(enum wait_reason r);

/*
 * Begin a wait of the calling task @g: returns the token wakers pass to
 * wait_wake(). Record @why and @obj for dumps.
 */
uint64_t wait_arm(struct g *g, enum wait_reason why, const void *obj);

/*
 * Park @g, armed with @token, until woken, and return the wake code.
 * @lock (may be NULL) is a spinlock the caller holds; it is released once
 * the task has switched away, so wakers that take it find the task
 * parked or about to be. @deadline (absolute, green_now() clock; 0: none)
 * and the task's own deadline and context also end the wait, with
 * -ETIMEDOUT or the context's code (-ECANCELED or -ETIMEDOUT); a context
 * already done, or a deadline already past, returns at once without
 * parking (and releases @lock).
 */
int wait_park(struct g *g, uint64_t token, _Atomic int *lock,
	      int64_t deadline);

/*
 * Wake the task whose wait has @token, with @code. True if this call won
 * (the task will run once, and wait_park returns @code); false if another
 * waker won or that wait is over.
 */
bool wait_wake(struct g *g, uint64_t token, int code);

/* The token of @g's current wait (for wakers that find @g on a list). */
static inline uint64_t wait_token(struct g *g)
{
	return atomic_load_explicit(&g->wstate, memory_order_acquire) &
	       ~(uint64_t)0xffffffff;
}

/* The earliest of @deadline and the task's deadline (0: none). */
int64_t wait_deadline(struct g *g, int64_t deadline);

/* task.c: after the switch away from a task parked by wait_park. */
void wait_commit(struct g *g);

#endif /* GREEN_WAIT_H */
