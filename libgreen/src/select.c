// SPDX-License-Identifier: MIT
/*
 * select.c - green_select, Go's select statement (Go's selectgo).
 *
 *   1. Shuffle the cases with a channel into a random poll order, so
 *      that among ready cases each is equally likely to be chosen.
 *   2. Sort them by channel address (lock order) and lock each channel
 *      once, in that order: two selects over the same channels never
 *      deadlock.
 *   3. In poll order, do the first case that can proceed, as a
 *      non-blocking send or receive would (chan_*_locked); unlock; done.
 *   4. Nothing ready: with GREEN_SELECT_NONBLOCK, unlock and -EAGAIN.
 *      Else arm a wait, queue one waiter per case (on the task's stack,
 *      all pointing at one selstate) and unlock all. A peer that takes a
 *      waiter off a queue claims the whole select with a CAS on
 *      selstate.done (0 -> case + 1) before touching it, so exactly one
 *      case proceeds; a peer that loses the CAS skips that waiter.
 *   5. Park (wait_park). The locks are not held across the switch: a
 *      peer that claims a case before the task is off its stack only
 *      marks the wait fired (wait.h), and the task does not park at all.
 *   6. Awake: claim the select for itself (done 0 -> SEL_SELF). Failing
 *      that, a peer won, and its case is the result; succeeding, nobody
 *      can win any more and the wake code (deadline, context) is the
 *      result. Either way, lock the channels one at a time and unlink
 *      the waiters still queued: taking each lock also waits out a peer
 *      still copying into this select's buffers under it.
 */
#include <errno.h>
#include <stdlib.h>

#include "chan.h"
#include "green.h"
#include "lock.h"
#include "runtime.h"
#include "wait.h"

/*
 * Cases handled without malloc: their waiters (64 bytes each) live on the
 * task's stack, which may be as small as 2 KB (GREEN_STACK_GUARD=never).
 */
#define SEL_STACK 8

static __thread uint64_t sel_seed __attribute__((tls_model("initial-exec")));

/*
 * xorshift64 per thread. Not inlined, and only called before the task
 * parks, so the thread-local is never read on a thread the task left.
 */
static __attribute__((noinline)) uint32_t sel_rand(uint32_t n)
{
	uint64_t x = sel_seed;

	if (!x)
		x = (now_ns() ^ (uintptr_t)&x) | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	sel_seed = x;
	return (uint32_t)(((x >> 32) * (uint64_t)n) >> 32);
}

static inline green_chan_t *chan_of(struct green_select_case *cases,
				    uint32_t i)
{
	return cases[i].chan;
}

/* Heapsort @order (n case indexes) by channel address, as Go's. */
static void sort_lockorder(struct green_select_case *cases, uint32_t *order,
			   uint32_t n)
{
	uint32_t i, end;

	for (i = n / 2; i-- > 0;) {
		uint32_t j = i;

		for (;;) {
			uint32_t k = 2 * j + 1, t;

			if (k >= n)
				break;
			if (k + 1 < n && chan_of(cases, order[k + 1]) >
					 chan_of(cases, order[k]))
				k++;
			if (chan_of(cases, order[k]) <=
			    chan_of(cases, order[j]))
				break;
			t = order[j];
			order[j] = order[k];
			order[k] = t;
			j = k;
		}
	}
	for (end = n; end-- > 1;) {
		uint32_t j = 0, t = order[0];

		order[0] = order[end];
		order[end] = t;
		for (;;) {
			uint32_t k = 2 * j + 1;

			if (k >= end)
				break;
			if (k + 1 < end && chan_of(cases, order[k + 1]) >
					   chan_of(cases, order[k]))
				k++;
			if (chan_of(cases, order[k]) <=
			    chan_of(cases, order[j]))
				break;
			t = order[j];
			order[j] = order[k];
			order[k] = t;
			j = k;
		}
	}
}

static void sel_lock(struct green_select_case *cases, uint32_t *order,
		     uint32_t n)
{
	green_chan_t *prev = NULL;
	uint32_t k;

	for (k = 0; k < n; k++) {
		green_chan_t *c = chan_of(cases, order[k]);

		if (c != prev)
			spin_lock(&c->lock);
		prev = c;
	}
}

static void sel_unlock(struct green_select_case *cases, uint32_t *order,
		       uint32_t n)
{
	green_chan_t *prev = NULL;
	uint32_t k;

	for (k = 0; k < n; k++) {
		green_chan_t *c = chan_of(cases, order[k]);

		if (c != prev)
			spin_unlock(&c->lock);
		prev = c;
	}
}

static inline struct waitq *queue_of(struct green_select_case *sc)
{
	return sc->op == GREEN_SELECT_SEND ? &sc->chan->sendq :
					     &sc->chan->recvq;
}

static int sel_check(struct green_select_case *cases, unsigned int n,
		     int flags, int64_t deadline)
{
	unsigned int i;

	if ((!cases && n) || n > GREEN_SELECT_MAX || deadline < 0 ||
	    (flags & ~GREEN_SELECT_NONBLOCK))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct green_select_case *sc = &cases[i];

		if (sc->op != GREEN_SELECT_SEND && sc->op != GREEN_SELECT_RECV)
			return -EINVAL;
		if (sc->op == GREEN_SELECT_SEND && sc->chan && !sc->elem &&
		    sc->chan->elem_size)
			return -EINVAL;
	}
	return 0;
}

/* Steps 4-6: block on every case; the case done or the wake code. */
static int sel_block(struct green_select_case *cases, uint32_t *lockorder,
		     uint32_t np, struct waiter *ws, int64_t deadline)
{
	struct g *self = g_current();
	struct selstate st;
	green_chan_t *prev;
	uint64_t token;
	uint32_t k, done = 0;
	int code;

	if (!self) {
		sel_unlock(cases, lockorder, np);
		return -EPERM;
	}
	atomic_init(&st.done, 0);
	token = wait_arm(self, WR_SELECT, cases);
	for (k = 0; k < np; k++) {
		uint32_t i = lockorder[k];
		struct waiter *w = &ws[i];

		w->g = self;
		w->token = token;
		w->elem = cases[i].elem;
		w->sel = &st;
		w->idx = i;
		w->result = 0;
		waitq_push(queue_of(&cases[i]), w);
	}
	sel_unlock(cases, lockorder, np);

	code = wait_park(self, token, NULL, deadline);

	atomic_compare_exchange_strong_explicit(&st.done, &done, SEL_SELF,
						memory_order_acq_rel,
						memory_order_acquire);
	prev = NULL;
	for (k = 0; k < np; k++) {
		uint32_t i = lockorder[k];
		green_chan_t *c = chan_of(cases, i);

		if (c != prev) {
			if (prev)
				spin_unlock(&prev->lock);
			spin_lock(&c->lock);
			prev = c;
		}
		if (ws[i].linked)
			waitq_unlink(queue_of(&cases[i]), &ws[i]);
	}
	if (prev)
		spin_unlock(&prev->lock);
	if (!done)
		return code;	/* ours: deadline or context */
	cases[done - 1].err = ws[done - 1].result;
	return (int)(done - 1);
}

int green_select(struct green_select_case *cases, unsigned int n, int flags,
		 int64_t deadline)
{
	struct waiter wstack[SEL_STACK], *ws = wstack;
	uint32_t ostack[2 * SEL_STACK], *pollorder = ostack, *lockorder;
	struct chan_wake wk = { 0 };
	uint32_t i, k, np = 0;
	int ret;

	ret = sel_check(cases, n, flags, deadline);
	if (ret)
		return ret;
	if (n > SEL_STACK) {
		ws = malloc(n * sizeof(*ws));
		pollorder = malloc(2 * n * sizeof(*pollorder));
		if (!ws || !pollorder) {
			ret = -ENOMEM;
			goto out;
		}
	}
	lockorder = pollorder + n;

	/* 1. Poll order: an inside-out Fisher-Yates shuffle. */
	for (i = 0; i < n; i++) {
		uint32_t j;

		if (!cases[i].chan)
			continue;
		j = sel_rand(np + 1);
		pollorder[np] = pollorder[j];
		pollorder[j] = i;
		np++;
	}
	/* 2. Lock order. */
	for (k = 0; k < np; k++)
		lockorder[k] = pollorder[k];
	sort_lockorder(cases, lockorder, np);
	sel_lock(cases, lockorder, np);

	/* 3. The first ready case in poll order. */
	for (k = 0; k < np; k++) {
		struct green_select_case *sc = &cases[pollorder[k]];

		if (sc->op == GREEN_SELECT_SEND)
			ret = chan_send_locked(sc->chan, sc->elem, &wk);
		else
			ret = chan_recv_locked(sc->chan, sc->elem, &wk);
		if (ret != -EAGAIN) {
			sel_unlock(cases, lockorder, np);
			chan_wake(&wk);
			sc->err = ret;
			ret = (int)pollorder[k];
			goto out;
		}
	}
	if (flags & GREEN_SELECT_NONBLOCK) {
		sel_unlock(cases, lockorder, np);
		ret = -EAGAIN;
		goto out;
	}
	ret = sel_block(cases, lockorder, np, ws, deadline);
out:
	if (ret >= 0 && cases[ret].op == GREEN_SELECT_SEND &&
	    cases[ret].err == -EPIPE)
		chan_misuse("send on closed channel");
	if (ws != wstack) {
		free(ws);
		free(pollorder);
	}
	return ret;
}
