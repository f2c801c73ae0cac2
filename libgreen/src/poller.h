/* SPDX-License-Identifier: MIT */
/*
 * poller.h - how tasks wait for I/O: one poller per processor (P).
 *
 * Two backends behind one interface: io_uring (poller_uring.c; a ring per
 * P, operations submitted and completed by the kernel) and epoll
 * (poller_epoll.c; an epoll instance per P, operations tried without
 * blocking and retried on readiness). io.c turns green_read() and friends
 * into a struct io_op and hands it to the backend, which parks the task
 * until the operation is done.
 *
 * Who touches a P's poller: the M holding the P submits and reaps; an idle
 * P's last M waits in it (p->poll_m) with the P on the idle list, so that a
 * completion, a due timer or a kick brings that same M back with its P
 * (sched.c). Any thread may kick a P's poller or ask it to cancel an
 * operation (through a locked queue the holder drains).
 */
#ifndef GREEN_POLLER_H
#define GREEN_POLLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/time_types.h>

struct p;
struct g;

enum io_kind {
	IO_READ,
	IO_WRITE,
	IO_READV,
	IO_WRITEV,
	IO_PREAD,
	IO_PWRITE,
	IO_RECV,
	IO_SEND,
	IO_ACCEPT,
	IO_CONNECT,
	IO_CLOSE,
	IO_OPENAT,
	IO_FSYNC,
	IO_POLL,
	IO_NKINDS,
};

/* One operation of a task; lives on the task's stack until it returns. */
struct io_op {
	enum io_kind kind;
	int fd;
	void *buf;
	size_t len;
	const struct iovec *iov;
	int iovcnt;
	int64_t off;
	int flags;		/* recv/send, openat, fsync flags; poll events */
	unsigned int mode;	/* openat */
	const char *path;	/* openat */
	struct sockaddr *addr;	/* accept, connect */
	socklen_t *addrlen;	/* accept */
	socklen_t alen;		/* connect */
	int64_t deadline;	/* absolute, green_now() clock; 0: none */

	/* Backend state. */
	struct g *g;
	uint64_t token;
	struct p *p;		/* whose poller holds it */
	int64_t res;
	_Atomic int cancel_code;	/* why it was cancelled, first wins */
	bool inflight;		/* on p's in-flight list */
	bool cancel_queued;	/* on p's cancel queue */
	bool as_recv;		/* an IO_READ made as a recv (fdkind.c) */
	struct io_op *next, *prev;	/* in-flight list */
	struct io_op *cnext;		/* cancel queue */
	struct __kernel_timespec ts;	/* io_uring linked timeout */
};

struct poller_ops {
	const char *name;
	/* Once per green_run, before the Ps' init. 0 or -errno (unusable). */
	int (*global_init)(void);
	void (*global_fini)(void);
	int (*init)(struct p *p);
	/* All Ms stopped: cancel what is in flight, wait for it, free. */
	void (*fini)(struct p *p);
	/* Operations in flight on @p that a waiting M must cover. */
	bool (*busy)(struct p *p);
	/*
	 * The holder of @p: submit what is queued, act on queued cancel
	 * requests, reap completions and ready their tasks (wait_wake).
	 * Cheap when there is nothing to do. Returns the tasks readied.
	 * A kick it takes while p->poll_sleepers is not 0 was maybe meant
	 * for an M that lost @p and has yet to see it: it kicks again.
	 */
	int (*reap)(struct p *p);
	/*
	 * The holder of @p, before it leaves @p idle: submit what a reap
	 * held back (io_uring: a lone request, for the tasks it readied
	 * to add theirs to). NULL when the backend holds nothing back.
	 */
	void (*flush)(struct p *p);
	/*
	 * @p's poll_m, which does not hold @p: sleep until something may be
	 * ready to reap, a kick, or @deadline (green_now() clock; INT64_MAX:
	 * none). Must consume nothing the holder reaps (io_uring: it only
	 * peeks at the CQ; epoll: it ppoll()s the epoll fd and a kick
	 * eventfd kept out of the epoll set), since a new holder may take
	 * @p while this runs. A kick it takes while another M is counted in
	 * p->poll_sleepers was maybe meant for that one: it kicks again.
	 */
	void (*wait)(struct p *p, int64_t deadline);
	/* Interrupt @p's wait, from any thread; kicks coalesce. */
	void (*kick)(struct p *p);
	/* Run @op for the calling task (which holds a P): result or -errno. */
	int64_t (*io)(struct io_op *op);
	/* Fail every operation in flight on @fd with -EBADF (before close). */
	void (*cancel_fd)(int fd);
	/* Feature names in use, for stats and the notice line. */
	const char *(*features)(void);
};

extern const struct poller_ops poller_uring;
extern const struct poller_ops poller_epoll;

/* The backend chosen at green_run (GREEN_POLLER, probing). */
extern const struct poller_ops *poller;

enum poller_choice {
	POLLER_AUTO,	/* io_uring, else epoll with a notice */
	POLLER_URING,
	POLLER_EPOLL,
};

int poller_select(enum poller_choice choice);

static inline void poller_kick(struct p *p);

/*
 * Result of a finished op: a cancelled one reports why (its context's
 * code, -EBADF for a close, -ETIMEDOUT past its deadline).
 */
int64_t io_op_result(struct io_op *op);
int64_t io_nowait(struct io_op *op);

#include "runtime.h"

static inline void poller_kick(struct p *p)
{
	if (p->poll)
		poller->kick(p);
}

#endif /* GREEN_POLLER_H */
