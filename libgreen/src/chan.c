// SPDX-License-Identifier: MIT
/*
 * chan.c - green_chan_t, Go's channels (the protocol is in chan.h).
 *
 * A send, in order (Go's chansend):
 *   1. closed: -EPIPE (Go panics; see chan_misuse);
 *   2. a receiver waits: copy the value straight into its buffer, wake it
 *      (it goes to this processor's runnext: a ping-pong is two switches);
 *   3. room in the ring: copy the value in;
 *   4. else queue a waiter on the task's stack and park.
 * A receive mirrors it (Go's chanrecv): closed and drained: -EPIPE; a
 * sender waits: take its value (from an unbuffered channel), or take the
 * ring's head and put the sender's value at the tail (a full buffered
 * channel, which keeps FIFO order); an element buffered: take it; else
 * park. The fast path is one spinlock and one copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "green.h"
#include "lock.h"
#include "runtime.h"
#include "wait.h"

#define CHAN_ELEM_MAX 65536	/* Go's limit on an element's size */

void chan_misuse(const char *what)
{
	const char *s = getenv("GREEN_DEBUG");
	const char *p = s;
	size_t n = strlen("chanpanic");

	/* A comma-separated list; misuse is rare, so it is read each time. */
	while (p && (p = strstr(p, "chanpanic"))) {
		if ((p == s || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) {
			fprintf(stderr, "libgreen: panic: %s\n", what);
			abort();
		}
		p += n;
	}
}

green_chan_t *green_chan_make(size_t elem_size, size_t cap)
{
	size_t head = (sizeof(struct green_chan) + CACHELINE - 1) &
		      ~(size_t)(CACHELINE - 1);
	size_t bytes;
	green_chan_t *c;
	void *mem;

	if (elem_size > CHAN_ELEM_MAX ||
	    (elem_size && cap > (SIZE_MAX - head) / elem_size))
		return NULL;
	bytes = head + elem_size * cap;
	/* Its own cache lines: two busy channels do not share one. */
	if (posix_memalign(&mem, CACHELINE, bytes))
		return NULL;
	c = mem;
	memset(c, 0, sizeof(*c));
	c->elem_size = elem_size;
	c->cap = cap;
	c->buf = (char *)mem + head;
	return c;
}

void chan_destroy(green_chan_t *c)
{
	free(c);
}

void green_chan_free(green_chan_t *c)
{
	if (!c)
		return;
	if (c->tm) {
		chantimer_free(c->tm);
		return;
	}
	if (atomic_load_explicit(&c->recvq.first, memory_order_relaxed) ||
	    atomic_load_explicit(&c->sendq.first, memory_order_relaxed))
		chan_misuse("free of a channel with blocked tasks");
	chan_destroy(c);
}

void waitq_push(struct waitq *q, struct waiter *w)
{
	struct waiter *first = atomic_load_explicit(&q->first,
						    memory_order_relaxed);

	w->next = NULL;
	w->prev = q->last;
	w->linked = true;
	if (first)
		q->last->next = w;
	else
		atomic_store_explicit(&q->first, w, memory_order_relaxed);
	q->last = w;
}

void waitq_unlink(struct waitq *q, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		atomic_store_explicit(&q->first, w->next,
				      memory_order_relaxed);
	if (w->next)
		w->next->prev = w->prev;
	else
		q->last = w->prev;
	w->next = w->prev = NULL;
	w->linked = false;
}

/*
 * Take the first waiter a peer may complete off @q: a plain one, or one
 * of a select that this call claims (Go's dequeue and selectDone). A
 * select waiter already claimed elsewhere is dropped from the queue.
 */
static struct waiter *waitq_claim(struct waitq *q)
{
	struct waiter *w;

	while ((w = atomic_load_explicit(&q->first, memory_order_relaxed))) {
		uint32_t zero = 0;

		waitq_unlink(q, w);
		if (!w->sel ||
		    atomic_compare_exchange_strong(&w->sel->done, &zero,
						   w->idx + 1))
			return w;
	}
	return NULL;
}

static inline void *slot(green_chan_t *c, size_t i)
{
	return c->buf + i * c->elem_size;
}

/* Word-sized elements (the common case) are copied without a call. */
static inline void copy_elem(green_chan_t *c, void *dst, const void *src)
{
	if (!dst)
		return;
	switch (c->elem_size) {
	case 0:
		break;
	case 4:
		memcpy(dst, src, 4);
		break;
	case 8:
		memcpy(dst, src, 8);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, c->elem_size);
	}
}

static inline void qcount_set(green_chan_t *c, size_t n)
{
	atomic_store_explicit(&c->qcount, n, memory_order_relaxed);
}

static inline size_t qcount(green_chan_t *c)
{
	return atomic_load_explicit(&c->qcount, memory_order_relaxed);
}

static inline void claim_done(struct waiter *w, struct chan_wake *wk)
{
	w->result = 0;
	wk->g = w->g;
	wk->token = w->token;
}

int chan_send_locked(green_chan_t *c, const void *elem, struct chan_wake *wk)
{
	struct waiter *w;

	if (atomic_load_explicit(&c->closed, memory_order_relaxed))
		return -EPIPE;
	w = waitq_claim(&c->recvq);
	if (w) {
		/* Only an empty buffer has waiting receivers. */
		copy_elem(c, w->elem, elem);
		claim_done(w, wk);
		return 0;
	}
	if (qcount(c) < c->cap) {
		copy_elem(c, slot(c, c->sendx), elem);
		if (++c->sendx == c->cap)
			c->sendx = 0;
		qcount_set(c, qcount(c) + 1);
		return 0;
	}
	return -EAGAIN;
}

int chan_recv_locked(green_chan_t *c, void *elem, struct chan_wake *wk)
{
	struct waiter *w;

	if (atomic_load_explicit(&c->closed, memory_order_relaxed) &&
	    !qcount(c)) {
		if (elem && c->elem_size)
			memset(elem, 0, c->elem_size);
		return -EPIPE;
	}
	w = waitq_claim(&c->sendq);
	if (w) {
		if (!c->cap) {
			copy_elem(c, elem, w->elem);
		} else {
			/* Full: take the head, the sender's value goes to
			 * the tail, which is the same slot. */
			copy_elem(c, elem, slot(c, c->recvx));
			copy_elem(c, slot(c, c->recvx), w->elem);
			if (++c->recvx == c->cap)
				c->recvx = 0;
			c->sendx = c->recvx;
		}
		claim_done(w, wk);
		return 0;
	}
	if (qcount(c)) {
		copy_elem(c, elem, slot(c, c->recvx));
		if (++c->recvx == c->cap)
			c->recvx = 0;
		qcount_set(c, qcount(c) - 1);
		return 0;
	}
	return -EAGAIN;
}

void chan_wake(struct chan_wake *wk)
{
	if (wk->g)
		wait_wake(wk->g, wk->token, 0);
}

/*
 * Lock-free checks for the non-blocking calls, as Go's. Send: seen open,
 * then seen full: at the second load it was full, and open at the first;
 * a closed channel never becomes "not ready to send" again, so there was
 * a moment when it was open and full. Receive: seen empty, then seen
 * open: open at the first load too (a channel never reopens), so it was
 * open and empty then. Either way "would block" was true during the call.
 */
static bool chan_full(green_chan_t *c)
{
	if (!c->cap)
		return !atomic_load_explicit(&c->recvq.first,
					     memory_order_acquire);
	return atomic_load_explicit(&c->qcount, memory_order_acquire) ==
	       c->cap;
}

static bool chan_empty(green_chan_t *c)
{
	if (!c->cap)
		return !atomic_load_explicit(&c->sendq.first,
					     memory_order_acquire);
	return !atomic_load_explicit(&c->qcount, memory_order_acquire);
}

/* Park on @c's @q with @w (c locked); the result of the operation. */
static int chan_block(green_chan_t *c, struct waitq *q, struct waiter *w,
		      enum wait_reason why, int64_t deadline)
{
	struct g *self = g_current();
	int code;

	if (!self) {
		spin_unlock(&c->lock);
		return -EPERM;
	}
	w->g = self;
	w->sel = NULL;
	w->token = wait_arm(self, why, c);
	waitq_push(q, w);
	/*
	 * Unlocked before the switch, not after it: the next task may first
	 * need a stack, and peers would spin meanwhile. A peer that claims
	 * us before we are off our stack just fires the wait (wait.h).
	 */
	spin_unlock(&c->lock);
	code = wait_park(self, w->token, NULL, deadline);
	if (code == 0 || code == -EPIPE)
		return code;	/* only peers wake with these: done */
	/* Deadline or context: unless a peer claimed us in the meantime. */
	spin_lock(&c->lock);
	if (w->linked)
		waitq_unlink(q, w);
	else
		code = w->result;
	spin_unlock(&c->lock);
	return code;
}

static int chan_send(green_chan_t *c, const void *elem, bool block,
		     int64_t deadline)
{
	struct chan_wake wk = { 0 };
	struct waiter w;
	int ret;

	if (!c || (!elem && c->elem_size) || deadline < 0)
		return -EINVAL;
	if (!block && !atomic_load_explicit(&c->closed, memory_order_acquire) &&
	    chan_full(c))
		return -EAGAIN;
	spin_lock(&c->lock);
	ret = chan_send_locked(c, elem, &wk);
	if (ret != -EAGAIN) {
		spin_unlock(&c->lock);
		chan_wake(&wk);
		if (ret == -EPIPE)
			chan_misuse("send on closed channel");
		return ret;
	}
	if (!block) {
		spin_unlock(&c->lock);
		return -EAGAIN;
	}
	w.elem = (void *)elem;
	ret = chan_block(c, &c->sendq, &w, WR_CHAN_SEND, deadline);
	if (ret == -EPIPE)
		chan_misuse("send on closed channel");
	return ret;
}

static int chan_recv(green_chan_t *c, void *elem, bool block,
		     int64_t deadline)
{
	struct chan_wake wk = { 0 };
	struct waiter w;
	int ret;

	if (!c || deadline < 0)
		return -EINVAL;
	if (!block && chan_empty(c)) {
		if (!atomic_load_explicit(&c->closed, memory_order_acquire))
			return -EAGAIN;
		/* Closed: maybe a value came in before the close. */
		if (chan_empty(c)) {
			if (elem && c->elem_size)
				memset(elem, 0, c->elem_size);
			return -EPIPE;
		}
	}
	spin_lock(&c->lock);
	ret = chan_recv_locked(c, elem, &wk);
	if (ret != -EAGAIN) {
		spin_unlock(&c->lock);
		chan_wake(&wk);
		return ret;
	}
	if (!block) {
		spin_unlock(&c->lock);
		return -EAGAIN;
	}
	w.elem = elem;
	return chan_block(c, &c->recvq, &w, WR_CHAN_RECV, deadline);
}

int green_chan_send(green_chan_t *c, const void *elem)
{
	return chan_send(c, elem, true, 0);
}

int green_chan_send_until(green_chan_t *c, const void *elem,
			  int64_t deadline)
{
	return chan_send(c, elem, true, deadline);
}

int green_chan_try_send(green_chan_t *c, const void *elem)
{
	return chan_send(c, elem, false, 0);
}

int green_chan_recv(green_chan_t *c, void *elem)
{
	return chan_recv(c, elem, true, 0);
}

int green_chan_recv_until(green_chan_t *c, void *elem, int64_t deadline)
{
	return chan_recv(c, elem, true, deadline);
}

int green_chan_try_recv(green_chan_t *c, void *elem)
{
	return chan_recv(c, elem, false, 0);
}

/*
 * Wake every waiter with -EPIPE. Under the lock: once it is dropped, a
 * waiter woken by its deadline may return and take its waiter with it.
 */
static void wake_all_closed(green_chan_t *c, struct waitq *q, bool zero)
{
	struct waiter *w;

	while ((w = waitq_claim(q))) {
		if (zero && w->elem && c->elem_size)
			memset(w->elem, 0, c->elem_size);
		w->result = -EPIPE;
		wait_wake(w->g, w->token, -EPIPE);
	}
}

int green_chan_close_err(green_chan_t *c)
{
	if (!c) {
		chan_misuse("close of nil channel");
		return -EINVAL;
	}
	spin_lock(&c->lock);
	if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
		spin_unlock(&c->lock);
		chan_misuse("close of closed channel");
		return -EPIPE;
	}
	atomic_store_explicit(&c->closed, true, memory_order_release);
	wake_all_closed(c, &c->recvq, true);
	wake_all_closed(c, &c->sendq, false);
	spin_unlock(&c->lock);
	return 0;
}

void green_chan_close(green_chan_t *c)
{
	green_chan_close_err(c);
}

size_t green_chan_len(green_chan_t *c)
{
	return c ? qcount(c) : 0;
}

size_t green_chan_cap(green_chan_t *c)
{
	return c ? c->cap : 0;
}
