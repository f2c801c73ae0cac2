// SPDX-License-Identifier: MIT
/*
 * waitgroup.c - green_wg_t, Go's sync.WaitGroup.
 *
 * state holds the counter in its high 32 bits and the number of waiters in
 * its low 32. add/done is one atomic add (no retry loop when many tasks
 * finish at once); only the add that brings the counter to zero with
 * waiters present takes the lock, to wake them.
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

static void wg_wake(green_wg_t *wg);

int green_wg_add(green_wg_t *wg, int delta)
{
	uint64_t d = (uint64_t)(int64_t)delta << WG_SHIFT, new;
	int64_t count;

	/* One atomic add (no retry loop under contention); misuse undone. */
	new = atomic_fetch_add_explicit(wg_state(wg), d,
					memory_order_acq_rel) + d;
	count = (int64_t)(new >> WG_SHIFT);
	if (count > INT32_MAX) {
		/*
		 * Below zero or past INT32_MAX: undo. A waiter that saw the
		 * bad count in between may have parked; if the counter is
		 * back at zero, it is woken below like any other.
		 */
		new = atomic_fetch_sub_explicit(wg_state(wg), d,
						memory_order_acq_rel) - d;
		if ((new >> WG_SHIFT) == 0 && (uint32_t)new != 0)
			wg_wake(wg);
		return -EINVAL;
	}
	if (count > 0 || (uint32_t)new == 0)
		return 0;
	wg_wake(wg);
	return 0;
}

/* The counter reached zero with waiters: wake them all. */
static void wg_wake(green_wg_t *wg)
{
	struct g *list, *g;

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
