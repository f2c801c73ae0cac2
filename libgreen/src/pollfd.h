/* SPDX-License-Identifier: MIT */
/*
 * pollfd.h - the epoll backend's per-descriptor table (poller_epoll.c).
 *
 * One entry per file descriptor number, in a three-level radix table
 * grown on demand and never shrunk while the runtime runs, so that an
 * entry's address is stable and lookups take no lock. An entry records
 * which P's epoll the descriptor is registered in, the tasks waiting on
 * it, and per direction a count of readiness events seen (as Go's
 * pollDesc rg/wg): with edge-triggered epoll, an event that comes while
 * no task waits is not repeated, so a task compares the count it read
 * before trying its system call with the count when it links itself, and
 * retries instead of parking when they differ.
 *
 * gen changes when the descriptor is closed through green_close (or its
 * number comes back from accept or openat, or a socket is about to
 * connect): waits begun before fail with -EBADF, and events registered
 * under an older generation are ignored.
 */
#ifndef GREEN_POLLFD_H
#define GREEN_POLLFD_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"

struct poller;

/* Directions a task waits for. */
#define FD_R 1U
#define FD_W 2U

/* fdent.flags: what the descriptor turned out to be, reset with gen. */
#define FD_NOPOLL 1U		/* epoll refused it (regular file): block */
#define FD_NOTSOCK 2U		/* not a socket: no recv/send */
#define FD_NONOWAIT_R 4U	/* RWF_NOWAIT reads unsupported */
#define FD_NONOWAIT_W 8U	/* RWF_NOWAIT writes unsupported */

/* A task waiting on a descriptor; on the task's stack. */
struct fdwaiter {
	struct fdwaiter *next, *prev;
	struct g *g;
	uint64_t token;		/* its wait, for wait_wake */
	unsigned int mask;	/* FD_R, FD_W */
	bool woken;		/* a waker has been here */
	uint32_t regno;		/* fdent.regno when it linked */
	struct poller *counted;	/* whose nwait it adds to */
};

struct fdent {
	_Atomic int lock;		/* everything below but the atomics */
	_Atomic uint32_t gen;		/* written under lock */
	_Atomic uint32_t seq[2];	/* events seen: [0] read, [1] write */
	_Atomic unsigned int flags;	/* FD_NOPOLL, ... */
	struct poller *ep;		/* registered in its epoll, or NULL */
	uint32_t regno;			/* changes with ep */
	uint32_t nep;			/* waiters counted on ep since */
	struct fdwaiter *waiters;
} __attribute__((aligned(CACHELINE)));

#endif /* GREEN_POLLFD_H */
