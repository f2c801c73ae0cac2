// SPDX-License-Identifier: MIT
/*
 * waitgroup.c - green_wg_t, Go's sync.WaitGroup.
 *
 * state holds the counter in its high 32 bits and the number of waiters in
 * its low 32. add/done is one atomic add; only the add that brings the
 * counter to zero with waiters present takes the lock, to wake them.
 *
 * Contract of green_wg_wait: a waiter increments the waiter count with a
 * CAS (which fails if the counter changed, so it rechecks) and enqueues
 * itself, both under the lock, then parks; the lock is released only after
 * the waiter's context is saved (g_park). The waker's lock acquisition
 * therefore sees every waiter that was counted, fully parked or about to
 * be, and none is lost.
 */
#include <errno.h>
#include <stdatomic.h>

#include "green.h"
#include "lock.h"
#include "runtime.h"

#define WG_SHIFT 32

static inline _Atomic uint64_t *wg_state(green_wg_t *wg)
{
	return (_Atomic uint64_t *)&wg->state;
}

static inline _Atomic int *wg_lock(green_wg_t *wg)
{
	return (_Atomic int *)&wg->lock;
}

void green_wg_init(green_wg_t *wg)
{
	atomic_store(wg_state(wg), 0);
	atomic_store(wg_lock(wg), 0);
	wg->waiters = NULL;
}

int green_wg_add(green_wg_t *wg, int delta)
{
	uint64_t old, new;
	int64_t count;
	struct g *list, *g;

	old = atomic_load_explicit(wg_state(wg), memory_order_relaxed);
	do {
		count = (int64_t)(old >> WG_SHIFT) + delta;
		if (count < 0 || count > INT32_MAX)
			return -EINVAL;
		new = ((uint64_t)count << WG_SHIFT) | (uint32_t)old;
	} while (!atomic_compare_exchange_weak_explicit(wg_state(wg), &old,
							new,
							memory_order_acq_rel,
							memory_order_relaxed));
	if (count > 0 || (uint32_t)new == 0)
		return 0;
	/* Counter reached zero with waiters: wake them all. */
	spin_lock(wg_lock(wg));
	list = wg->waiters;
	wg->waiters = NULL;
	/* Clear the waiter count; an add racing with us keeps its count. */
	atomic_fetch_and_explicit(wg_state(wg), ~(uint64_t)UINT32_MAX,
				  memory_order_release);
	spin_unlock(wg_lock(wg));
	while ((g = list)) {
		list = g->link;
		g_ready(g);
	}
	return 0;
}

int green_wg_done(green_wg_t *wg)
{
	return green_wg_add(wg, -1);
}

int green_wg_wait(green_wg_t *wg)
{
	struct g *self = g_current();
	uint64_t old;

	old = atomic_load_explicit(wg_state(wg), memory_order_acquire);
	if ((old >> WG_SHIFT) == 0)
		return 0;
	if (!self)
		return -EPERM;
	spin_lock(wg_lock(wg));
	old = atomic_load_explicit(wg_state(wg), memory_order_acquire);
	do {
		if ((old >> WG_SHIFT) == 0) {
			spin_unlock(wg_lock(wg));
			return 0;
		}
	} while (!atomic_compare_exchange_weak_explicit(wg_state(wg), &old,
							old + 1,
							memory_order_acq_rel,
							memory_order_acquire));
	self->link = wg->waiters;
	wg->waiters = self;
	g_park(wg_lock(wg));
	return 0;
}
