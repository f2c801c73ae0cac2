/* SPDX-License-Identifier: MIT */
/*
 * chan.h - channels' insides, shared by chan.c, select.c and chantimer.c.
 *
 * A channel is a spinlock, a ring buffer of cap elements and two queues
 * of waiters (Go's sudogs): tasks blocked sending and tasks blocked
 * receiving. A waiter lives on its task's stack for the length of the
 * wait. Every field below is read and written under the lock, except the
 * ones marked lock-free, which are atomics so that try-operations can
 * answer "would block" without taking the lock (as Go's chansend and
 * chanrecv do for non-blocking calls).
 *
 * Who completes a wait. A peer (the other end, or close) takes a waiter
 * off a queue under the channel's lock: that is the claim. For a waiter of
 * a select, which sits on several queues at once, the claim is also a CAS
 * on the select's done word, and a peer that loses it skips the waiter.
 * The claimant copies the element straight to or from the waiter's
 * buffer, sets its result, and calls wait_wake() after unlocking (close
 * wakes under the lock; it is rare). A waiter woken for another reason
 * (its deadline or context) takes the lock again: still linked, it
 * unlinks itself and reports that reason; no longer linked, a peer has
 * claimed it, and the transfer stands.
 */
#ifndef GREEN_CHAN_H
#define GREEN_CHAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "green.h"
#include "runtime.h"

/* A select's shared state: done is 0, or the winning case + 1. */
struct selstate {
	_Atomic uint32_t done;
};

#define SEL_SELF UINT32_MAX	/* done: the select ended its own wait */

/* A task blocked on one channel (one case, for select). */
struct waiter {
	struct waiter *next, *prev;	/* on the channel's queue */
	struct g *g;
	uint64_t token;			/* of g's wait (wait_arm) */
	void *elem;			/* value to send, or recv buffer */
	struct selstate *sel;		/* NULL outside select */
	uint32_t idx;			/* case index, for select */
	bool linked;			/* on a queue */
	int result;			/* set by the claimant: 0, -EPIPE */
};

struct waitq {
	struct waiter *_Atomic first;	/* lock-free reads */
	struct waiter *last;
};

struct green_chan {
	_Atomic int lock;
	_Atomic bool closed;		/* lock-free reads */
	size_t elem_size;
	size_t cap;
	_Atomic size_t qcount;		/* elements buffered; lock-free */
	size_t sendx, recvx;		/* ring indexes */
	struct waitq recvq, sendq;
	struct green_timer *tm;		/* owning timer, or NULL */
	char *buf;
};

/* A task to wake once the channel's lock is dropped. */
struct chan_wake {
	struct g *g;
	uint64_t token;
};

/*
 * Send @elem on locked @c if it can be done without blocking: 0 (sent),
 * -EPIPE (closed), or -EAGAIN (would block). A receiver handed the value
 * is recorded in *@wk: call chan_wake() on it after unlocking.
 */
int chan_send_locked(green_chan_t *c, const void *elem, struct chan_wake *wk);

/*
 * Receive from locked @c into @elem (NULL: discard) without blocking: 0,
 * -EPIPE (closed and drained; @elem zeroed), or -EAGAIN. *@wk as above.
 */
int chan_recv_locked(green_chan_t *c, void *elem, struct chan_wake *wk);

/* Wake the task a peer handed a value to, if any. */
void chan_wake(struct chan_wake *wk);

/* Queue @w on @q / take it off (both with the channel locked). */
void waitq_push(struct waitq *q, struct waiter *w);
void waitq_unlink(struct waitq *q, struct waiter *w);

/* Misuse (send on closed, double close, close of NULL): a panic-style
 * abort when GREEN_DEBUG names "chanpanic", else nothing. */
void chan_misuse(const char *what);

/* Free @c's memory only (chantimer.c owns timers' channels). */
void chan_destroy(green_chan_t *c);

/* chantimer.c: the timer that owns @c is freed with it. */
void chantimer_free(struct green_timer *tm);

#endif /* GREEN_CHAN_H */
