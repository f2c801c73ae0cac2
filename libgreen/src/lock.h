/* SPDX-License-Identifier: MIT */
/*
 * lock.h - a spinlock for short critical sections shared by tasks on
 * different workers (wait lists). Held for a few instructions and never
 * across a switch, except that g_park releases it after the switch. A
 * waiter that spins long yields its CPU, since the holder may be a
 * preempted thread.
 */
#ifndef GREEN_LOCK_H
#define GREEN_LOCK_H

#include <sched.h>
#include <stdatomic.h>

#include "arch.h"

static inline void spin_lock(_Atomic int *l)
{
	int spins = 0;

	for (;;) {
		int zero = 0;

		if (atomic_compare_exchange_weak_explicit(l, &zero, 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
		while (atomic_load_explicit(l, memory_order_relaxed)) {
			if (++spins < 128)
				cpu_relax();
			else
				sched_yield();
		}
	}
}

static inline void spin_unlock(_Atomic int *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

#endif /* GREEN_LOCK_H */
