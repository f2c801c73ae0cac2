/* SPDX-License-Identifier: MIT */
/*
 * lock.h - a spinlock for short critical sections shared by tasks on
 * different workers (wait lists). Held for a few instructions and never
 * across a switch, except that g_park releases it after the switch. A
 * waiter that spins long yields its CPU, since the holder may be a
 * preempted thread.
 *
 * Every lock the runtime takes also counts in the worker's depth, its
 * "inside the runtime" count (Go's m.locks), as do the stretches where a
 * worker uses its processor's unlocked state (run queue, caches, ring) or
 * switches tasks; the scheduler's own context (g0) runs at depth 1, and a
 * switch sets the depth afresh (task.c). green.ko may freeze a worker that
 * blocks in the kernel and lend its processor to a spare (hold.c); only at
 * depth 0, so a frozen worker holds no runtime lock and is in the middle
 * of no processor operation. The depth lives in the worker's slot of the
 * module's shared memory (nolend), where the kernel reads it as the
 * worker blocks; off the workers there is none (NULL). A depth left wrong
 * only forbids lending until the next switch: it never breaks a lock.
 */
#ifndef GREEN_LOCK_H
#define GREEN_LOCK_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "arch.h"

extern __thread uint32_t *green_tls_depth
	__attribute__((tls_model("initial-exec")));

/*
 * Enter the runtime. Only this thread writes its depth (the kernel reads
 * it when the thread blocks, in program order): no atomic RMW, but the
 * compiler keeps what follows after the count.
 */
static inline void locks_inc(void)
{
	uint32_t *d = green_tls_depth;

	if (d)
		__atomic_store_n(d, *d + 1, __ATOMIC_RELAXED);
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void locks_dec(void)
{
	uint32_t *d = green_tls_depth;

	atomic_signal_fence(memory_order_seq_cst);
	if (d)
		__atomic_store_n(d, *d - 1, __ATOMIC_RELAXED);
}

/* A switch ends: the depth of the context resumed (task 0, g0 1). */
static inline void locks_set(uint32_t v)
{
	uint32_t *d = green_tls_depth;

	atomic_signal_fence(memory_order_seq_cst);
	if (d)
		__atomic_store_n(d, v, __ATOMIC_RELAXED);
}

/* The runtime's pthread mutexes (sched.lock and friends), counted. */
static inline void mutex_lock(pthread_mutex_t *mu)
{
	locks_inc();
	pthread_mutex_lock(mu);
}

static inline void mutex_unlock(pthread_mutex_t *mu)
{
	pthread_mutex_unlock(mu);
	locks_dec();
}

static inline void spin_lock(_Atomic int *l)
{
	int spins = 0;

	locks_inc();

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
	locks_dec();
}

#endif /* GREEN_LOCK_H */
