// SPDX-License-Identifier: MIT
/*
 * sema.c - green_sema_t, a weighted semaphore: Go's
 * golang.org/x/sync/semaphore.
 *
 * cur holds the tokens taken, and bit 62 (SEMA_WAITERS) while tasks are
 * queued on s->q. Without waiters, acquire and release are one CAS on cur.
 * The bit is set and cleared only under the queue's lock, and while it is
 * set every change of cur is made under the lock; a fast path that loaded
 * cur without the bit fails its CAS once the bit is set.
 *
 * Waiters are served FIFO: a large request at the head holds back smaller
 * ones behind it, so it cannot be starved. Acquire is cancellable: the
 * task's context and deadline end it (-ECANCELED, -ETIMEDOUT); as in Go,
 * a context already done fails it even when tokens are free, and tokens
 * granted to a waiter whose context ended at the same time are given back.
 * That give-back is a release under the lock: the grant may have emptied
 * the queue and cleared the bit, and then fast paths change cur meanwhile.
 */
#include <errno.h>
#include <string.h>

#include "ctx.h"
#include "green.h"
#include "runtime.h"
#include "semaq.h"
#include "wait.h"

#define SEMA_WAITERS ((int64_t)1 << 62)
#define SEMA_MAX (SEMA_WAITERS - 1)

static inline _Atomic int64_t *scur(green_sema_t *s)
{
	return (_Atomic int64_t *)&s->cur;
}

int green_sema_init(green_sema_t *s, int64_t size)
{
	if (!s || size <= 0 || size > SEMA_MAX)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->size = size;
	return 0;
}

/* Take @n tokens if nobody waits and they are free. */
static bool sema_try_fast(green_sema_t *s, int64_t n)
{
	int64_t cur = atomic_load_explicit(scur(s), memory_order_relaxed);

	do {
		if ((cur & SEMA_WAITERS) || s->size - cur < n)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(scur(s), &cur,
							cur + n,
							memory_order_acquire,
							memory_order_relaxed));
	return true;
}

/*
 * With @cur tokens taken (the lock held, the waiters bit set), grant the
 * waiters at the head that fit, FIFO, and store the new count, with the
 * bit if anyone still waits.
 */
static void sema_notify(green_sema_t *s, int64_t cur)
{
	struct semaw *w;

	while ((w = wq_first(&s->q)) && s->size - cur >= w->n) {
		cur += w->n;
		wq_pop(&s->q);
		/* Woken, the waiter may return at once: w is gone after. */
		wait_wake(w->g, w->token, 0);
	}
	atomic_store_explicit(scur(s), cur | (wq_empty(&s->q) ? 0 :
					      SEMA_WAITERS),
			      memory_order_release);
}

/*
 * Give back @n tokens, the lock held. Without the waiters bit nobody
 * waits, but fast paths still change cur: a CAS. With it, cur changes
 * only under the lock: grant the waiters that now fit. False (nothing
 * done) if fewer than @n tokens are taken.
 */
static bool sema_put_locked(green_sema_t *s, int64_t n)
{
	int64_t cur = atomic_load_explicit(scur(s), memory_order_relaxed);

	while (!(cur & SEMA_WAITERS)) {
		if (cur < n)
			return false;
		if (atomic_compare_exchange_weak_explicit(scur(s), &cur,
				cur - n, memory_order_release,
				memory_order_relaxed))
			return true;
	}
	cur &= ~SEMA_WAITERS;
	if (cur < n)
		return false;
	sema_notify(s, cur - n);
	return true;
}

int sema_acquire(green_sema_t *s, int64_t n, int64_t deadline,
		 bool cancellable)
{
	struct g *g = g_current();
	_Atomic int *lock;
	struct semaw w;
	int64_t cur;
	int code;

	if (!s || n < 0 || n > s->size || deadline < 0)
		return -EINVAL;
	/* Go: a context done before the call fails it, tokens free or not. */
	if (cancellable && g && g->ctx) {
		code = ctx_err(g->ctx);
		if (code)
			return code;
	}
	if (sema_try_fast(s, n))
		return 0;
	lock = wq_lock(&s->q);
	spin_lock(lock);
	cur = atomic_load_explicit(scur(s), memory_order_relaxed);
	while (!(cur & SEMA_WAITERS)) {
		if (s->size - cur >= n) {
			if (atomic_compare_exchange_weak_explicit(scur(s),
					&cur, cur + n, memory_order_acquire,
					memory_order_relaxed)) {
				spin_unlock(lock);
				return 0;
			}
			continue;
		}
		if (!g)
			break;
		/* From here on, releases come through the lock. */
		if (atomic_compare_exchange_weak_explicit(scur(s), &cur,
				cur | SEMA_WAITERS, memory_order_relaxed,
				memory_order_relaxed))
			break;
	}
	if (!g) {
		spin_unlock(lock);
		return -EPERM;
	}
	w.g = g;
	w.n = n;
	w.token = wait_arm(g, WR_SEMA, s);
	wq_push(&s->q, &w, false);
	if (!cancellable) {
		park_nocancel(g, lock);
		return 0;
	}
	code = wait_park(g, w.token, lock, deadline);
	if (!code)
		return 0;	/* granted: only a release wakes with 0 */
	spin_lock(lock);
	if (w.queued) {
		/* Queued: the bit is set, cur changes only under the lock. */
		wq_unlink(&s->q, &w);	/* maybe the head, holding back */
		cur = atomic_load_explicit(scur(s), memory_order_relaxed);
		sema_notify(s, cur & ~SEMA_WAITERS);
	} else {
		/* Granted as the wait ended: give back (bit maybe clear). */
		sema_put_locked(s, n);
	}
	spin_unlock(lock);
	return code;
}

int green_sema_acquire(green_sema_t *s, int64_t n)
{
	return sema_acquire(s, n, 0, true);
}

int green_sema_acquire_until(green_sema_t *s, int64_t n, int64_t deadline)
{
	return sema_acquire(s, n, deadline, true);
}

int green_sema_try_acquire(green_sema_t *s, int64_t n)
{
	if (!s || n < 0 || n > s->size)
		return -EINVAL;
	return sema_try_fast(s, n) ? 0 : -EAGAIN;
}

int green_sema_release(green_sema_t *s, int64_t n)
{
	_Atomic int *lock;
	int64_t cur;
	bool ok;

	if (!s || n < 0)
		return -EINVAL;
	cur = atomic_load_explicit(scur(s), memory_order_relaxed);
	while (!(cur & SEMA_WAITERS)) {
		if (cur < n)
			goto misuse;
		if (atomic_compare_exchange_weak_explicit(scur(s), &cur,
							  cur - n,
							  memory_order_release,
							  memory_order_relaxed))
			return 0;
	}
	/* The bit cannot change under the lock. */
	lock = wq_lock(&s->q);
	spin_lock(lock);
	ok = sema_put_locked(s, n);
	spin_unlock(lock);
	if (ok)
		return 0;
misuse:
	sync_misuse("semaphore released more than held");
	return -EINVAL;
}
