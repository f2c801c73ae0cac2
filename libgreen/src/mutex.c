// SPDX-License-Identifier: MIT
/*
 * mutex.c - green_mutex_t, Go's sync.Mutex.
 *
 * state: bit 0 locked, bit 1 woken (a waiter is awake or a spinner is
 * about to take the lock: unlock need not wake another), bit 2 starving,
 * bits 3.. the number of waiters. Waiters park on m->q (semaq.h).
 *
 * Uncontended, lock and unlock are one compare-and-swap each, from the
 * value just read (so a set woken bit or queued waiters do not force the
 * slow path, as a CAS from 0 would); the slow paths are out of line.
 * Contended, the algorithm is Go's, in two modes:
 *
 * Normal mode: waiters queue FIFO, but a woken waiter does not own the
 * lock: it competes with tasks arriving right now, which have the edge
 * (they are running). A waiter that loses is queued again at the head. A
 * locker spins a few rounds first when other processors are running (the
 * holder is likely running too and about to unlock), never on one
 * processor or when its own processor has tasks queued.
 *
 * Starvation mode: entered by a waiter that waited more than 1 ms. Unlock
 * hands the lock straight to the first waiter (FIFO) and yields to it;
 * arrivals do not try to take it and queue at the tail. The handed-to
 * waiter sets the locked bit itself. The mode ends when that waiter is
 * the last one or waited less than 1 ms.
 *
 * Lock is not cancellable, as in Go (see green.h): a caller ignoring the
 * result of a lock it did not get would corrupt what the lock protects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "green.h"
#include "runq.h"
#include "runtime.h"
#include "semaq.h"
#include "wait.h"

#define MUTEX_LOCKED 1u
#define MUTEX_WOKEN 2u
#define MUTEX_STARVING 4u
#define MUTEX_WAITER_SHIFT 3
#define MUTEX_WAITER (1u << MUTEX_WAITER_SHIFT)

#define STARVATION_NS 1000000	/* Go's starvationThresholdNs */
#define SPIN_ROUNDS 4		/* Go's active_spin */
#define SPIN_PAUSES 30		/* Go's active_spin_cnt */

int sync_misuse(const char *what)
{
	const char *s = getenv("GREEN_DEBUG");
	const char *p = s;
	size_t n = strlen("syncpanic");

	/* A comma-separated list, as for chanpanic (chan.c). */
	while (p && (p = strstr(p, "syncpanic"))) {
		if ((p == s || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) {
			fprintf(stderr, "libgreen: panic: %s\n", what);
			abort();
		}
		p += n;
	}
	return -EPERM;
}

static inline _Atomic uint32_t *mstate(green_mutex_t *m)
{
	return (_Atomic uint32_t *)&m->state;
}

void green_mutex_init(green_mutex_t *m)
{
	if (m)
		memset(m, 0, sizeof(*m));
}

/*
 * Spinning makes sense only if the holder can be running: other
 * processors are busy, and nothing waits on ours (Go's sync_runtime_canSpin).
 */
static bool can_spin(int iter)
{
	struct m *m;

	if (iter >= SPIN_ROUNDS || sched.nprocs <= 1 ||
	    sched.nprocs <= atomic_load_explicit(&sched.npidle,
						 memory_order_relaxed) +
			    atomic_load_explicit(&sched.nmspinning,
						 memory_order_relaxed) + 1)
		return false;
	m = m_self();
	return m && m->p && runqempty(m->p);
}

static void do_spin(void)
{
	int i;

	for (i = 0; i < SPIN_PAUSES; i++)
		cpu_relax();
}

/* Go's lockSlow. Outside a task, semacquire polls instead of parking. */
static __attribute__((noinline)) int mutex_lock_slow(green_mutex_t *m)
{
	_Atomic uint32_t *st = mstate(m);
	struct g *g = g_current();
	uint64_t wait_start = 0;
	bool starving = false, awoke = false, lifo;
	int iter = 0;
	uint32_t old, new;

	old = atomic_load_explicit(st, memory_order_relaxed);
	for (;;) {
		/* Spin while it is locked, not in starvation mode. */
		if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED &&
		    can_spin(iter)) {
			/* Tell unlock not to wake a waiter: we are awake. */
			if (!awoke && !(old & MUTEX_WOKEN) &&
			    (old >> MUTEX_WAITER_SHIFT) &&
			    atomic_compare_exchange_weak_explicit(st, &old,
						old | MUTEX_WOKEN,
						memory_order_relaxed,
						memory_order_relaxed))
				awoke = true;
			do_spin();
			iter++;
			old = atomic_load_explicit(st, memory_order_relaxed);
			continue;
		}
		new = old;
		/* A starving mutex is handed over: arrivals do not take it. */
		if (!(old & MUTEX_STARVING))
			new |= MUTEX_LOCKED;
		if (old & (MUTEX_LOCKED | MUTEX_STARVING))
			new += MUTEX_WAITER;
		/* Only a held mutex switches: unlock expects waiters then. */
		if (starving && (old & MUTEX_LOCKED))
			new |= MUTEX_STARVING;
		if (awoke)
			new &= ~MUTEX_WOKEN;
		if (!atomic_compare_exchange_weak_explicit(st, &old, new,
				memory_order_acquire, memory_order_relaxed))
			continue;
		if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
			break;		/* locked it with the CAS */
		/* A waiter that waited before goes back to the head. */
		lifo = wait_start != 0;
		if (!wait_start)
			wait_start = now_ns();
		semacquire(&m->q, g, WR_MUTEX, m, lifo);
		starving = starving || now_ns() - wait_start > STARVATION_NS;
		old = atomic_load_explicit(st, memory_order_relaxed);
		if (old & MUTEX_STARVING) {
			/*
			 * Handed to us: locked is not set and we still count
			 * as a waiter. Fix both; leave starvation mode if we
			 * are the last waiter or did not wait long (else two
			 * tasks could hand the lock back and forth forever).
			 */
			uint32_t delta = MUTEX_LOCKED - MUTEX_WAITER;

			if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
				delta -= MUTEX_STARVING;
			atomic_fetch_add_explicit(st, delta,
						  memory_order_acquire);
			break;
		}
		awoke = true;
		iter = 0;
	}
	return 0;
}

int green_mutex_lock(green_mutex_t *m)
{
	uint32_t old;

	if (!m)
		return -EINVAL;
	/*
	 * CAS from the value read, not from 0: then a woken bit still set
	 * (its waiter queued but not yet run) or waiters queued do not send
	 * every lock down the slow path. The same barging as Go's lockSlow.
	 */
	old = atomic_load_explicit(mstate(m), memory_order_relaxed);
	if (__builtin_expect(!(old & (MUTEX_LOCKED | MUTEX_STARVING)), 1) &&
	    atomic_compare_exchange_strong_explicit(mstate(m), &old,
						    old | MUTEX_LOCKED,
						    memory_order_acquire,
						    memory_order_relaxed))
		return 0;
	return mutex_lock_slow(m);
}

int green_mutex_trylock(green_mutex_t *m)
{
	uint32_t old;

	if (!m)
		return -EINVAL;
	old = atomic_load_explicit(mstate(m), memory_order_relaxed);
	if (old & (MUTEX_LOCKED | MUTEX_STARVING))
		return -EBUSY;
	/* Waiters may be queued; we are running and may barge in. */
	if (!atomic_compare_exchange_strong_explicit(mstate(m), &old,
						     old | MUTEX_LOCKED,
						     memory_order_acquire,
						     memory_order_relaxed))
		return -EBUSY;
	return 0;
}

/* Go's unlockSlow: unlocked, the state is now @new (not 0). */
static __attribute__((noinline)) int mutex_unlock_slow(green_mutex_t *m,
							uint32_t new)
{
	_Atomic uint32_t *st = mstate(m);
	uint32_t old;

	if (new & MUTEX_STARVING) {
		/*
		 * Hand the lock to the first waiter and let it run now: it
		 * is in our runnext. Locked stays clear until it sets it;
		 * starving keeps arrivals off meanwhile.
		 */
		if (semrelease_n(&m->q, 1) && g_current())
			green_yield();
		return 0;
	}
	old = new;
	for (;;) {
		/*
		 * Nobody to wake, or a task is already awake, has taken the
		 * lock, or starvation mode began (then the waker is whoever
		 * unlocks next, not us).
		 */
		if (!(old >> MUTEX_WAITER_SHIFT) ||
		    (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
			return 0;
		new = (old - MUTEX_WAITER) | MUTEX_WOKEN;
		if (atomic_compare_exchange_weak_explicit(st, &old, new,
				memory_order_relaxed, memory_order_relaxed)) {
			semrelease_n(&m->q, 1);
			return 0;
		}
	}
}

int green_mutex_unlock(green_mutex_t *m)
{
	uint32_t old;

	if (!m)
		return -EINVAL;
	/*
	 * One CAS from the value read (Go adds -1; a CAS leaves the state
	 * intact on misuse). The load is of a line we hold: cheap.
	 */
	old = atomic_load_explicit(mstate(m), memory_order_relaxed);
	do {
		if (__builtin_expect(!(old & MUTEX_LOCKED), 0))
			return sync_misuse("unlock of unlocked mutex");
	} while (!atomic_compare_exchange_weak_explicit(mstate(m), &old,
							old - MUTEX_LOCKED,
							memory_order_release,
							memory_order_relaxed));
	if (__builtin_expect(old == MUTEX_LOCKED, 1))
		return 0;
	return mutex_unlock_slow(m, old - MUTEX_LOCKED);
}
