// SPDX-License-Identifier: MIT
/*
 * rwmutex.c - green_rwmutex_t, Go's sync.RWMutex: many readers or one
 * writer, and a writer waiting keeps new readers out (so writers are not
 * starved, and a reader must not take the lock recursively).
 *
 * readers counts readers holding or waiting; a writer subtracts
 * RW_MAX_READERS from it, so that it goes negative and arriving readers
 * park on rq. Of the readers that held the lock when the writer came
 * (the count it took off), each leaving one decrements rwait; the last
 * wakes the writer parked on wq. Writers are serialised by the mutex w.
 * Unlocking, the writer adds RW_MAX_READERS back and wakes every reader
 * that queued meanwhile, then unlocks w. A read lock and unlock are one
 * atomic each when no writer is around.
 *
 * Not cancellable, as in Go (green.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "green.h"
#include "runtime.h"
#include "semaq.h"
#include "wait.h"

#define RW_MAX_READERS (1 << 30)

static inline _Atomic int32_t *rw_readers(green_rwmutex_t *rw)
{
	return (_Atomic int32_t *)&rw->readers;
}

static inline _Atomic int32_t *rw_rwait(green_rwmutex_t *rw)
{
	return (_Atomic int32_t *)&rw->rwait;
}

void green_rwmutex_init(green_rwmutex_t *rw)
{
	if (rw)
		memset(rw, 0, sizeof(*rw));
}

int green_rwmutex_rlock(green_rwmutex_t *rw)
{
	if (!rw)
		return -EINVAL;
	if (atomic_fetch_add_explicit(rw_readers(rw), 1,
				      memory_order_acquire) < 0)
		/* A writer holds it or waits: wait for its unlock. */
		semacquire(&rw->rq, g_current(), WR_RWMUTEX, rw, false);
	return 0;
}

int green_rwmutex_tryrlock(green_rwmutex_t *rw)
{
	int32_t c;

	if (!rw)
		return -EINVAL;
	c = atomic_load_explicit(rw_readers(rw), memory_order_relaxed);
	do {
		if (c < 0)
			return -EBUSY;
	} while (!atomic_compare_exchange_weak_explicit(rw_readers(rw), &c,
							c + 1,
							memory_order_acquire,
							memory_order_relaxed));
	return 0;
}

int green_rwmutex_runlock(green_rwmutex_t *rw)
{
	int32_t r;

	if (!rw)
		return -EINVAL;
	r = atomic_load_explicit(rw_readers(rw), memory_order_relaxed);
	/* A CAS, not Go's add, so that misuse leaves the count intact. */
	do {
		if (r == 0 || r == -RW_MAX_READERS)
			return sync_misuse("runlock of unlocked rwmutex");
	} while (!atomic_compare_exchange_weak_explicit(rw_readers(rw), &r,
							r - 1,
							memory_order_release,
							memory_order_relaxed));
	/* A writer waits: the last reader it waits for wakes it. */
	if (r - 1 < 0 &&
	    atomic_fetch_sub_explicit(rw_rwait(rw), 1,
				      memory_order_acq_rel) == 1)
		semrelease_n(&rw->wq, 1);
	return 0;
}

int green_rwmutex_lock(green_rwmutex_t *rw)
{
	int32_t r;

	if (!rw)
		return -EINVAL;
	green_mutex_lock(&rw->w);
	/* Announce the writer; r: readers holding the lock now. */
	r = atomic_fetch_sub_explicit(rw_readers(rw), RW_MAX_READERS,
				      memory_order_acq_rel);
	if (r != 0 && atomic_fetch_add_explicit(rw_rwait(rw), r,
						memory_order_acq_rel) + r != 0)
		semacquire(&rw->wq, g_current(), WR_RWMUTEX, rw, false);
	return 0;
}

int green_rwmutex_trylock(green_rwmutex_t *rw)
{
	int32_t zero = 0;

	if (!rw)
		return -EINVAL;
	if (green_mutex_trylock(&rw->w))
		return -EBUSY;
	if (!atomic_compare_exchange_strong_explicit(rw_readers(rw), &zero,
						     -RW_MAX_READERS,
						     memory_order_acquire,
						     memory_order_relaxed)) {
		green_mutex_unlock(&rw->w);
		return -EBUSY;
	}
	return 0;
}

int green_rwmutex_unlock(green_rwmutex_t *rw)
{
	int32_t r;

	if (!rw)
		return -EINVAL;
	r = atomic_load_explicit(rw_readers(rw), memory_order_relaxed);
	do {
		if (r >= 0)
			return sync_misuse("unlock of unlocked rwmutex");
	} while (!atomic_compare_exchange_weak_explicit(rw_readers(rw), &r,
							r + RW_MAX_READERS,
							memory_order_release,
							memory_order_relaxed));
	/* Readers that arrived while we held it: let them all in. */
	r += RW_MAX_READERS;
	if (r > 0)
		semrelease_n(&rw->rq, (uint32_t)r);
	green_mutex_unlock(&rw->w);
	return 0;
}
