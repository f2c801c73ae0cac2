// SPDX-License-Identifier: MIT
/*
 * poller_epoll.c - the epoll backend, for where io_uring is refused
 * (Docker's seccomp profile, kernel.io_uring_disabled) or
 * GREEN_POLLER=epoll.
 *
 * An operation is tried at once without blocking; if it would block, the
 * task waits for the descriptor's readiness and tries again, as Go's
 * netpoller does. Each P has an epoll instance, and an eventfd for kicks
 * kept out of it. A descriptor is registered once, edge-triggered for
 * both directions, in the epoll of the P where a task first waits on it
 * (pollfd.h: the per-descriptor table, its waiters and readiness counts).
 * The holder of a P reaps its epoll (epoll_wait, no timeout); a readiness
 * event wakes the descriptor's waiters for that direction (wait_wake),
 * which retry their system call on whichever P they run. An idle P's
 * poll_m sleeps in ppoll(2) on the epoll and the eventfd and takes
 * nothing: epoll hands an event to one caller only, and whatever a
 * sleeper took would be lost to the holder, and the reverse (a kick
 * reaped by a holder would leave the sleeper asleep).
 *
 * How an operation is tried without blocking the worker:
 *   sockets      recv/send/recvmsg/sendmsg with MSG_DONTWAIT (read and
 *                write on a socket are recv and send with no flags);
 *   others       preadv2/pwritev2 with RWF_NOWAIT (pipes on recent
 *                kernels, page-cached file data);
 *   neither      (6.1's pipes, ttys) wait for readiness with poll(2) and
 *                a zero timeout, then the plain call between
 *                green_syscall_enter/exit in case it still blocks;
 *   accept       directly on a non-blocking listener, else as "neither";
 *   connect      on a blocking socket, made non-blocking for the connect
 *                call alone (then restored: the handshake goes on either
 *                way), so that a deadline or a context can end the wait
 *                for it; a blocking connect would hold the worker thread
 *                for the whole handshake, a minute and more to a silent
 *                host, beyond any deadline;
 *   not pollable (regular files: epoll says EPERM), open, close, fsync:
 *                the plain call between green_syscall_enter/exit, and
 *                sysmon hands the P on if it lasts. A task may find a
 *                file's data cached, RWF_NOWAIT, and skip that.
 *
 * Which epoll holds a descriptor matters for one rule: a P whose poller is
 * busy() is never left idle without an M waiting in it (sched.c). Only
 * the holder of a P makes its count of waiters go from 0 to 1: a task
 * registers the descriptor in its own P's epoll (moving it there if it
 * was in another's and nobody waits on it) unless tasks already wait on
 * it through another P's epoll, whose count is then above zero.
 *
 * Descriptors must be closed with green_close() (as Go's runtime needs
 * its own Close): a plain close() removes the registration in the
 * kernel without this table knowing, and a later descriptor with the same
 * number would wait on a registration that is gone. Numbers that come
 * back from green_accept() and green_openat(), and sockets given to
 * green_connect(), are reset here, which covers the usual reuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ctx.h"
#include "lock.h"
#include "poller.h"
#include "pollfd.h"
#include "runtime.h"
#include "wait.h"

#define EV_BATCH 128		/* events taken per epoll_wait */
#define REAP_ROUNDS 4		/* full batches a reap takes at most */
#define WAKE_BATCH 16		/* wakes done after the entry's lock */
#define EV_FD (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET)
#define EV_R (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define EV_W (EPOLLOUT | EPOLLHUP | EPOLLERR)

/*
 * A task can resume on another thread after a park or a syscall handoff,
 * and glibc's __errno_location() is declared const, so a compiler may
 * reuse one thread's errno address later in the same function. Every
 * system call a task makes here is in a function of its own that reads
 * errno right after the call.
 */
#define SYSCALL_FN static __attribute__((noinline))

struct poller {
	int epfd;
	int kickfd;			/* eventfd, not in the epoll set */
	_Atomic bool kicked;		/* a kick is on its way */
	_Atomic bool ready;		/* wait() saw events to reap */
	_Atomic bool waiting;		/* an M is in wait() */
	_Atomic int nwait;		/* tasks waiting through this epoll */
} __attribute__((aligned(CACHELINE)));

/* ---- the descriptor table ---- */

#define FDT_BITS 10
#define FDT_N (1U << FDT_BITS)
#define FDT_TOP (1U << (31 - 2 * FDT_BITS))

struct fdchunk {
	struct fdent e[FDT_N];
};

struct fdmid {
	struct fdchunk *_Atomic c[FDT_N];
};

static struct fdmid *_Atomic fdt[FDT_TOP];
static _Atomic int fdt_lock;

static struct fdent *fd_grow(unsigned int u)
{
	struct fdmid *_Atomic *mp = &fdt[u >> (2 * FDT_BITS)];
	struct fdchunk *_Atomic *cp;
	struct fdchunk *c = NULL;
	struct fdmid *mid;

	spin_lock(&fdt_lock);
	mid = atomic_load_explicit(mp, memory_order_relaxed);
	if (!mid) {
		mid = calloc(1, sizeof(*mid));
		if (!mid)
			goto out;
		atomic_store_explicit(mp, mid, memory_order_release);
	}
	cp = &mid->c[(u >> FDT_BITS) & (FDT_N - 1)];
	c = atomic_load_explicit(cp, memory_order_relaxed);
	if (!c) {
		c = aligned_alloc(CACHELINE, sizeof(*c));
		if (!c)
			goto out;
		memset(c, 0, sizeof(*c));
		atomic_store_explicit(cp, c, memory_order_release);
	}
out:
	spin_unlock(&fdt_lock);
	return c ? &c->e[u & (FDT_N - 1)] : NULL;
}

/* @fd's entry; with @alloc, made if missing (NULL: no memory). */
static struct fdent *fd_entry(int fd, bool alloc)
{
	unsigned int u = (unsigned int)fd;
	struct fdchunk *c = NULL;
	struct fdmid *mid;

	if (fd < 0)
		return NULL;
	mid = atomic_load_explicit(&fdt[u >> (2 * FDT_BITS)],
				   memory_order_acquire);
	if (mid)
		c = atomic_load_explicit(&mid->c[(u >> FDT_BITS) &
						 (FDT_N - 1)],
					 memory_order_acquire);
	if (c)
		return &c->e[u & (FDT_N - 1)];
	return alloc ? fd_grow(u) : NULL;
}

static void fdt_free(void)
{
	unsigned int i, j;

	for (i = 0; i < FDT_TOP; i++) {
		struct fdmid *mid = atomic_load(&fdt[i]);

		if (!mid)
			continue;
		for (j = 0; j < FDT_N; j++)
			free(atomic_load(&mid->c[j]));
		free(mid);
		atomic_store(&fdt[i], NULL);
	}
}

static inline uint64_t fd_key(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

static inline void fd_flag(struct fdent *e, unsigned int f)
{
	atomic_fetch_or_explicit(&e->flags, f, memory_order_relaxed);
}

static inline unsigned int fd_flags(struct fdent *e)
{
	return atomic_load_explicit(&e->flags, memory_order_relaxed);
}

static inline void seq_read(struct fdent *e, uint32_t seq[2])
{
	seq[0] = atomic_load_explicit(&e->seq[0], memory_order_acquire);
	seq[1] = atomic_load_explicit(&e->seq[1], memory_order_acquire);
}

/* Has an event for @mask come since @seq was read? Lock held. */
static inline bool seq_moved(struct fdent *e, unsigned int mask,
			     const uint32_t seq[2])
{
	return ((mask & FD_R) && atomic_load_explicit(&e->seq[0],
			memory_order_relaxed) != seq[0]) ||
	       ((mask & FD_W) && atomic_load_explicit(&e->seq[1],
			memory_order_relaxed) != seq[1]);
}

/* The registration is gone or moves; lock held. */
static void fd_unreg(struct fdent *e)
{
	e->ep = NULL;
	e->regno++;
	e->nep = 0;
}

/* A new generation: older waits fail, older events are ignored. */
static void fd_newgen(struct fdent *e)
{
	atomic_store_explicit(&e->gen, atomic_load_explicit(&e->gen,
			      memory_order_relaxed) + 1, memory_order_release);
	atomic_store_explicit(&e->flags, 0, memory_order_relaxed);
}

/*
 * Wake @e's waiters for @mask with @code. Called with @e's lock held,
 * returns with it released; most wakes are done after the release, from
 * copies (a waiter's fdwaiter is on its stack, gone once it resumes; its
 * struct g and a stale token are harmless). Returns the tasks woken.
 */
static int fd_wake_unlock(struct fdent *e, unsigned int mask, int code)
{
	struct {
		struct g *g;
		uint64_t token;
	} batch[WAKE_BATCH];
	struct fdwaiter *w;
	int n = 0, woken = 0, i;

	for (w = e->waiters; w; w = w->next) {
		if (!(w->mask & mask) || w->woken)
			continue;
		w->woken = true;
		if (n < WAKE_BATCH) {
			batch[n].g = w->g;
			batch[n++].token = w->token;
		} else if (wait_wake(w->g, w->token, code)) {
			woken++;
		}
	}
	spin_unlock(&e->lock);
	for (i = 0; i < n; i++)
		if (wait_wake(batch[i].g, batch[i].token, code))
			woken++;
	return woken;
}

/* ---- system calls (see SYSCALL_FN) ---- */

SYSCALL_FN int ep_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	return epoll_ctl(epfd, op, fd, ev) ? -errno : 0;
}

/* @fd's poll(2) revents now, or -errno. */
SYSCALL_FN int poll_now(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r = poll(&pfd, 1, 0);

	if (r < 0)
		return -errno;
	return r ? pfd.revents : 0;
}

SYSCALL_FN int fd_getfl(int fd)
{
	int r = fcntl(fd, F_GETFL);

	return r < 0 ? -errno : r;
}

SYSCALL_FN int fd_setfl(int fd, int fl)
{
	return fcntl(fd, F_SETFL, fl) ? -errno : 0;
}

/* A finished non-blocking connect: 0 or its error. */
SYSCALL_FN int sock_error(int fd)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

/* 1 if @fd is a listening socket, 0 if another socket, or -errno. */
SYSCALL_FN int sock_listening(int fd)
{
	socklen_t len = sizeof(int);
	int on = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len))
		return -errno;
	return on != 0;
}

SYSCALL_FN bool sock_stream(int fd)
{
	socklen_t len = sizeof(int);
	int type = 0;

	return !getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) &&
	       type == SOCK_STREAM;
}

/* The operation as a plain, maybe blocking, system call. */
SYSCALL_FN int64_t op_plain(struct io_op *op)
{
	int64_t r = -EINVAL;

	switch (op->kind) {
	case IO_READ:
		r = read(op->fd, op->buf, op->len);
		break;
	case IO_READV:
		r = readv(op->fd, op->iov, op->iovcnt);
		break;
	case IO_PREAD:
		r = pread(op->fd, op->buf, op->len, op->off);
		break;
	case IO_WRITE:
		r = write(op->fd, op->buf, op->len);
		break;
	case IO_WRITEV:
		r = writev(op->fd, op->iov, op->iovcnt);
		break;
	case IO_PWRITE:
		r = pwrite(op->fd, op->buf, op->len, op->off);
		break;
	case IO_RECV:
		r = recv(op->fd, op->buf, op->len, op->flags);
		break;
	case IO_SEND:
		r = send(op->fd, op->buf, op->len, op->flags);
		break;
	case IO_ACCEPT:
		r = accept4(op->fd, op->addr, op->addrlen, op->flags);
		break;
	case IO_CONNECT:
		r = connect(op->fd, op->addr, op->alen);
		break;
	case IO_CLOSE:
		r = close(op->fd);
		break;
	case IO_OPENAT:
		r = openat(op->fd, op->path, op->flags, op->mode);
		break;
	case IO_FSYNC:
		r = op->flags ? fdatasync(op->fd) : fsync(op->fd);
		break;
	case IO_POLL: {
		struct pollfd pfd = { .fd = op->fd, .events = op->flags };
		int64_t left = op->deadline ?
			       op->deadline - (int64_t)now_ns() : -1;
		int ms = -1;

		if (op->deadline)
			ms = left <= 0 ? 0 : left / 1000000 >= INT_MAX ?
			     INT_MAX : (int)((left + 999999) / 1000000);
		r = poll(&pfd, 1, ms);
		if (r == 0)
			return -ETIMEDOUT;
		if (r > 0)
			r = pfd.revents;
		break;
	}
	case IO_NKINDS:
		return -EINVAL;
	}
	return r < 0 ? -errno : r;
}

/* A socket operation with MSG_DONTWAIT: -EAGAIN, -ENOTSOCK, ... */
SYSCALL_FN int64_t op_sock(struct io_op *op)
{
	struct msghdr mh = {
		.msg_iov = (struct iovec *)op->iov,
		.msg_iovlen = op->iovcnt,
	};
	int64_t r = -EINVAL;

	switch (op->kind) {
	case IO_READ:
		r = recv(op->fd, op->buf, op->len, MSG_DONTWAIT);
		break;
	case IO_RECV:
		r = recv(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT);
		break;
	case IO_READV:
		r = recvmsg(op->fd, &mh, MSG_DONTWAIT);
		break;
	case IO_WRITE:
		r = send(op->fd, op->buf, op->len, MSG_DONTWAIT);
		break;
	case IO_SEND:
		r = send(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT);
		break;
	case IO_WRITEV:
		r = sendmsg(op->fd, &mh, MSG_DONTWAIT);
		break;
	default:
		return -EINVAL;
	}
	return r < 0 ? -errno : r;
}

/* The plain call, marked as blocking so that sysmon can hand the P on. */
static int64_t op_blocking(struct io_op *op)
{
	int64_t r;

	green_syscall_enter();
	r = op_plain(op);
	green_syscall_exit();
	return r;
}

/* ---- registering and waiting ---- */

/*
 * Make @e registered in @pl's epoll (moving it from another's); @e's lock
 * held. 0, -EPERM (not pollable: FD_NOPOLL set) or another -errno.
 */
static int fd_register(struct fdent *e, int fd, struct poller *pl)
{
	struct epoll_event ev = {
		.events = EV_FD,
		.data.u64 = fd_key(fd, atomic_load_explicit(&e->gen,
						memory_order_relaxed)),
	};
	int r;

	if (e->ep == pl)
		return 0;
	if (e->ep) {
		/* Nobody waits through it; a stale one answers ENOENT. */
		ep_ctl(e->ep->epfd, EPOLL_CTL_DEL, fd, NULL);
		fd_unreg(e);
	}
	r = ep_ctl(pl->epfd, EPOLL_CTL_ADD, fd, &ev);
	if (r == -EEXIST)	/* left from an older generation */
		r = ep_ctl(pl->epfd, EPOLL_CTL_MOD, fd, &ev);
	if (r == -EPERM)
		fd_flag(e, FD_NOPOLL);
	if (r)
		return r;
	atomic_fetch_and_explicit(&e->flags, ~FD_NOPOLL,
				  memory_order_relaxed);
	e->ep = pl;
	e->regno++;
	e->nep = 0;
	return 0;
}

/*
 * Park the calling task until @e is ready for @mask (an event since @seq
 * was read, before the attempt that found it not ready). Returns 0 to try
 * again, -EBADF if @e was closed since generation @gen, the wake code
 * (-ETIMEDOUT, -ECANCELED, -EBADF), or registration's -errno.
 */
static int fd_wait(struct fdent *e, struct io_op *op, unsigned int mask,
		   uint32_t gen, const uint32_t seq[2])
{
	struct fdwaiter w = { .g = op->g, .mask = mask };
	int code;

	spin_lock(&e->lock);
	if (atomic_load_explicit(&e->gen, memory_order_relaxed) != gen) {
		spin_unlock(&e->lock);
		return -EBADF;
	}
	if (seq_moved(e, mask, seq)) {
		spin_unlock(&e->lock);
		return 0;
	}
	if (!e->ep || !e->nep) {
		/* The P we hold: see "Which epoll" at the top. */
		code = fd_register(e, op->fd, m_self()->p->poll);
		if (code) {
			spin_unlock(&e->lock);
			return code;
		}
	}
	w.counted = e->ep;
	w.regno = e->regno;
	e->nep++;
	atomic_fetch_add(&w.counted->nwait, 1);
	w.token = wait_arm(op->g, op->kind == IO_POLL ? WR_POLL : WR_IO, op);
	w.next = e->waiters;
	if (w.next)
		w.next->prev = &w;
	e->waiters = &w;

	code = wait_park(op->g, w.token, &e->lock, op->deadline);

	spin_lock(&e->lock);
	if (w.prev)
		w.prev->next = w.next;
	else
		e->waiters = w.next;
	if (w.next)
		w.next->prev = w.prev;
	if (w.regno == e->regno)
		e->nep--;
	atomic_fetch_sub(&w.counted->nwait, 1);
	spin_unlock(&e->lock);
	return code;
}

/* @fd is a new descriptor (accept, openat): forget the number's past. */
static void fd_fresh(int fd)
{
	struct fdent *e = fd_entry(fd, false);

	if (!e)
		return;
	spin_lock(&e->lock);
	fd_newgen(e);
	fd_unreg(e);	/* the old file's registration went with it */
	/* Tasks still waiting here waited on a file closed under them. */
	fd_wake_unlock(e, FD_R | FD_W, -EBADF);
}

/*
 * A socket about to connect: drop a registration nobody waits through
 * (maybe left from a file that had the number before). Returns the
 * generation to wait under.
 */
static uint32_t fd_reset_idle(struct fdent *e, int fd)
{
	uint32_t gen;

	spin_lock(&e->lock);
	if (!e->waiters) {
		if (e->ep)
			ep_ctl(e->ep->epfd, EPOLL_CTL_DEL, fd, NULL);
		fd_unreg(e);
		fd_newgen(e);
	}
	gen = atomic_load_explicit(&e->gen, memory_order_relaxed);
	spin_unlock(&e->lock);
	return gen;
}

/*
 * Readiness first, then the plain call, for descriptors with neither
 * MSG_DONTWAIT nor RWF_NOWAIT: -EAGAIN when not ready.
 */
static int64_t try_ready(struct io_op *op, struct fdent *e, unsigned int dir)
{
	int rev;

	if (!(fd_flags(e) & FD_NOPOLL)) {
		/* Learn whether it is pollable at all, once. */
		spin_lock(&e->lock);
		if (!e->ep)
			fd_register(e, op->fd, m_self()->p->poll);
		spin_unlock(&e->lock);
	}
	if (fd_flags(e) & FD_NOPOLL)
		return op_blocking(op);
	rev = poll_now(op->fd, dir == FD_R ? POLLIN : POLLOUT);
	if (rev < 0)
		return rev;
	if (rev & POLLNVAL)
		return -EBADF;
	if (!rev)
		return -EAGAIN;
	/* Ready; still marked, in case another reader took it first. */
	return op_blocking(op);
}

/* One attempt that does not block a worker: result, or -EAGAIN to wait. */
static int64_t fd_try(struct io_op *op, struct fdent *e, unsigned int dir,
		      bool nonblock)
{
	unsigned int nonowait = dir == FD_R ? FD_NONOWAIT_R : FD_NONOWAIT_W;
	unsigned int fl = fd_flags(e);
	int64_t r;

	switch (op->kind) {
	case IO_RECV:
	case IO_SEND:
		return op_sock(op);
	case IO_ACCEPT:
		return nonblock ? op_plain(op) : try_ready(op, e, dir);
	case IO_READ:
	case IO_READV:
	case IO_WRITE:
	case IO_WRITEV:
		if (!(fl & FD_NOTSOCK)) {
			r = op_sock(op);
			if (r != -ENOTSOCK)
				return r;
			fd_flag(e, FD_NOTSOCK);
		}
		if (!(fl & nonowait)) {
			r = io_nowait(op);
			if (r == -EAGAIN && (fl & FD_NOPOLL))
				return op_blocking(op);
			if (r != -EOPNOTSUPP)
				return r;
			fd_flag(e, nonowait);
		}
		return try_ready(op, e, dir);
	case IO_PREAD:
	case IO_PWRITE:
		/* Seekable, hence never pollable. */
		if (!(fl & nonowait)) {
			r = io_nowait(op);
			if (r >= 0 && (size_t)r < op->len) {
				/* Part cached: the rest as blocking would. */
				struct io_op rest = {
					.kind = op->kind, .fd = op->fd,
					.buf = (char *)op->buf + r,
					.len = op->len - r, .off = op->off + r,
				};
				int64_t more = r ? op_blocking(&rest) : 0;

				return more > 0 ? r + more : r;
			}
			if (r != -EAGAIN && r != -EOPNOTSUPP)
				return r;
			if (r == -EOPNOTSUPP)
				fd_flag(e, nonowait);
		}
		return op_blocking(op);
	default:
		return -EINVAL;
	}
}

/* Try @op, waiting for readiness in @dir until it is done. */
static int64_t fd_io(struct io_op *op, unsigned int dir, bool nonblock)
{
	struct fdent *e = fd_entry(op->fd, true);
	uint32_t gen, seq[2];
	int64_t r;

	if (!e)
		return op_blocking(op);	/* no memory for the table */
	gen = atomic_load_explicit(&e->gen, memory_order_acquire);
	for (;;) {
		seq_read(e, seq);
		r = fd_try(op, e, dir, nonblock);
		if (r != -EAGAIN)
			return r;
		r = fd_wait(e, op, dir, gen, seq);
		if (r == -EPERM)
			return op_blocking(op);
		if (r)
			return r;
	}
}

/* recv with MSG_WAITALL on a stream: until @len bytes, EOF or an error. */
static int64_t recv_all(struct io_op *op)
{
	void *buf = op->buf;
	size_t len = op->len, done = 0;
	int64_t r;

	for (;;) {
		r = fd_io(op, FD_R, false);
		if (r <= 0)
			break;
		done += r;
		if (done == len || (done == (size_t)r && !sock_stream(op->fd)))
			break;
		op->buf = (char *)buf + done;
		op->len = len - done;
	}
	op->buf = buf;
	op->len = len;
	return done ? (int64_t)done : r;
}

static int64_t ep_connect(struct io_op *op)
{
	struct fdent *e = fd_entry(op->fd, true);
	uint32_t gen, seq[2];
	int64_t r;
	int fl;

	if (!e)
		return op_blocking(op);
	gen = fd_reset_idle(e, op->fd);
	fl = fd_getfl(op->fd);
	if (fl < 0)
		return fl;
	if (fl & O_NONBLOCK) {
		r = op_plain(op);
	} else {
		/* Non-blocking for this call only; see the top comment. */
		if (fd_setfl(op->fd, fl | O_NONBLOCK))
			return op_blocking(op);
		r = op_plain(op);
		fd_setfl(op->fd, fl);
		/* A full AF_UNIX backlog: a blocking connect waits. */
		if (r == -EAGAIN)
			return op_blocking(op);
	}
	if (r != -EINPROGRESS)
		return r;
	for (;;) {
		int rev;

		seq_read(e, seq);
		rev = poll_now(op->fd, POLLOUT);
		if (rev < 0)
			return rev;
		if (rev & POLLNVAL)
			return -EBADF;
		if (rev)
			return sock_error(op->fd);
		r = fd_wait(e, op, FD_W, gen, seq);
		if (r)
			return r;
	}
}

static int64_t ep_poll_op(struct io_op *op)
{
	short ev = (short)op->flags;
	unsigned int mask = 0;
	struct fdent *e;
	uint32_t gen, seq[2];
	int64_t r;

	if (ev & (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLRDHUP))
		mask |= FD_R;
	if (ev & (POLLOUT | POLLWRNORM | POLLWRBAND))
		mask |= FD_W;
	if (!mask)
		mask = FD_R | FD_W;	/* errors and hangups: either */
	e = fd_entry(op->fd, true);
	if (!e)
		return op_blocking(op);
	gen = atomic_load_explicit(&e->gen, memory_order_acquire);
	for (;;) {
		int rev;

		seq_read(e, seq);
		rev = poll_now(op->fd, ev);
		if (rev < 0)
			return rev;
		if (rev & POLLNVAL)
			return -EBADF;
		if (rev)
			return rev;
		r = fd_wait(e, op, mask, gen, seq);
		if (r == -EPERM)
			return op_blocking(op);
		if (r)
			return r;
	}
}

static int64_t ep_io(struct io_op *op)
{
	struct m *m = m_self();
	struct g *g = m->curg;
	int64_t deadline, r;
	int code;

	if (g->ctx && (code = ctx_err(g->ctx)))
		return code;
	deadline = wait_deadline(g, op->deadline);
	if (deadline > 0 && deadline <= (int64_t)now_ns())
		return -ETIMEDOUT;
	op->deadline = deadline;
	op->g = g;
	op->p = m->p;
	switch (op->kind) {
	case IO_READ:
	case IO_READV:
	case IO_PREAD:
		return fd_io(op, FD_R, false);
	case IO_WRITE:
	case IO_WRITEV:
	case IO_PWRITE:
		return fd_io(op, FD_W, false);
	case IO_RECV:
		if (op->flags & MSG_DONTWAIT)
			return op_sock(op);	/* asked not to wait */
		if ((op->flags & (MSG_WAITALL | MSG_PEEK)) == MSG_WAITALL)
			return recv_all(op);
		return fd_io(op, FD_R, false);
	case IO_SEND:
		if (op->flags & MSG_DONTWAIT)
			return op_sock(op);
		return fd_io(op, FD_W, false);
	case IO_ACCEPT:
		code = fd_getfl(op->fd);
		if (code < 0)
			return code;
		if (!(code & O_NONBLOCK)) {
			/*
			 * Readiness comes first on a blocking listener: make
			 * sure it is one, or the plain accept's error (a pipe,
			 * a socket not listening) would never be seen.
			 */
			int l = sock_listening(op->fd);

			if (l <= 0)
				return l < 0 ? l : op_blocking(op);
		}
		r = fd_io(op, FD_R, code & O_NONBLOCK);
		if (r >= 0)
			fd_fresh(r);
		return r;
	case IO_CONNECT:
		return ep_connect(op);
	case IO_POLL:
		return ep_poll_op(op);
	case IO_OPENAT:
		r = op_blocking(op);
		if (r >= 0)
			fd_fresh(r);
		return r;
	case IO_CLOSE:
	case IO_FSYNC:
		return op_blocking(op);
	case IO_NKINDS:
		break;
	}
	return -EINVAL;
}

/* Wake every task waiting on @fd with -EBADF; green_close, before close. */
static void ep_cancel_fd(int fd)
{
	struct fdent *e = fd_entry(fd, false);

	if (!e)
		return;
	spin_lock(&e->lock);
	fd_newgen(e);
	if (e->ep)
		ep_ctl(e->ep->epfd, EPOLL_CTL_DEL, fd, NULL);
	fd_unreg(e);
	fd_wake_unlock(e, FD_R | FD_W, -EBADF);
}

/* ---- the P's side: events, waiting, kicks ---- */

/* One readiness event: count it and wake its waiters. */
static int fd_event(uint64_t key, uint32_t events)
{
	struct fdent *e = fd_entry((int)(uint32_t)key, false);
	unsigned int mask = 0;

	if (!e)
		return 0;
	if (events & EV_R)
		mask |= FD_R;
	if (events & EV_W)
		mask |= FD_W;
	spin_lock(&e->lock);
	if (atomic_load_explicit(&e->gen, memory_order_relaxed) !=
	    (uint32_t)(key >> 32)) {
		spin_unlock(&e->lock);	/* closed since: stale */
		return 0;
	}
	if (mask & FD_R)
		atomic_fetch_add_explicit(&e->seq[0], 1, memory_order_release);
	if (mask & FD_W)
		atomic_fetch_add_explicit(&e->seq[1], 1, memory_order_release);
	return fd_wake_unlock(e, mask, 0);
}

/*
 * The holder: take the events and ready their tasks. Only when someone
 * waits through this epoll, or wait() saw it readable: a process doing
 * no I/O makes no system call here.
 */
static int ep_reap(struct p *p)
{
	struct poller *ep = p->poll;
	struct epoll_event evs[EV_BATCH];
	int n, i, woken = 0, round;

	if (!atomic_load(&ep->nwait) &&
	    !atomic_load_explicit(&ep->ready, memory_order_relaxed))
		return 0;
	atomic_store_explicit(&ep->ready, false, memory_order_relaxed);
	for (round = 0; round < REAP_ROUNDS; round++) {
		n = epoll_wait(ep->epfd, evs, EV_BATCH, 0);
		for (i = 0; i < n; i++)
			woken += fd_event(evs[i].data.u64, evs[i].events);
		if (n < EV_BATCH)
			break;
	}
	return woken;
}

static void ep_kick(struct p *p)
{
	struct poller *ep = p->poll;
	uint64_t one = 1;

	if (atomic_exchange_explicit(&ep->kicked, true, memory_order_acq_rel))
		return;		/* one is on its way */
	if (write(ep->kickfd, &one, sizeof(one)) < 0)
		atomic_store(&ep->kicked, false);
}

/*
 * The P's poll_m, not holding it: sleep until its epoll has events, a
 * kick, or @deadline, taking nothing. The events are left for the
 * holder's reap, and kicks come through an eventfd outside the epoll
 * set, which only a sleeper here reads: a holder reaping the epoll
 * meanwhile (the P was taken) cannot take the kick meant to tell this M.
 */
static void ep_wait(struct p *p, int64_t deadline)
{
	struct poller *ep = p->poll;
	struct pollfd pfd[2] = {
		{ .fd = ep->epfd, .events = POLLIN },
		{ .fd = ep->kickfd, .events = POLLIN },
	};
	struct timespec ts, *tsp = NULL;
	uint64_t v;

	if (deadline != INT64_MAX) {
		int64_t d = deadline - (int64_t)now_ns();

		if (d <= 0)
			return;
		ts.tv_sec = d / 1000000000;
		ts.tv_nsec = d % 1000000000;
		tsp = &ts;
	}
	/*
	 * One sleeper at a time: another M still here has lost the P, was
	 * kicked for it and is on its way out; only it drains the kick.
	 */
	if (atomic_exchange(&ep->waiting, true))
		return;
	if (ppoll(pfd, 2, tsp, NULL) > 0) {
		if (pfd[0].revents)
			atomic_store_explicit(&ep->ready, true,
					      memory_order_relaxed);
		if (pfd[1].revents) {
			/*
			 * Drained, then cleared (the other order could leave
			 * the flag set with nothing to read, and every later
			 * kick would be dropped); by an exchange, to see what
			 * a kick coalesced meanwhile was about.
			 */
			if (read(ep->kickfd, &v, sizeof(v)) < 0)
				v = 0;
			atomic_exchange(&ep->kicked, false);
			/*
			 * Another M counted here (sched.c poll_idle) may be
			 * the one the kick was for: one that lost @p and has
			 * yet to sleep, or the new poll_m whose kick came
			 * while the flag was still set. Pass it on.
			 */
			if (atomic_load(&p->poll_sleepers) > 1)
				ep_kick(p);
		}
	}
	atomic_store(&ep->waiting, false);
}

static bool ep_busy(struct p *p)
{
	return atomic_load(&p->poll->nwait) > 0;
}

static int ep_init(struct p *p)
{
	struct poller *ep;
	int ret;

	ep = aligned_alloc(CACHELINE, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	memset(ep, 0, sizeof(*ep));
	ep->kickfd = -1;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0)
		goto fail;
	ep->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ep->kickfd < 0)
		goto fail;
	p->poll = ep;
	return 0;
fail:
	ret = -errno;
	if (ep->epfd >= 0)
		close(ep->epfd);
	free(ep);
	return ret;
}

/*
 * All Ms have stopped. Nothing is in flight in the kernel: tasks still
 * waiting are discarded with the runtime, and the table (which points at
 * this poller) is freed by global_fini.
 */
static void ep_fini(struct p *p)
{
	struct poller *ep = p->poll;

	if (!ep)
		return;
	close(ep->kickfd);
	close(ep->epfd);
	free(ep);
	p->poll = NULL;
}

static int ep_global_init(void)
{
	return 0;
}

static void ep_global_fini(void)
{
	fdt_free();
}

static const char *ep_features(void)
{
	return "epoll";
}

const struct poller_ops poller_epoll = {
	.name = "epoll",
	.global_init = ep_global_init,
	.global_fini = ep_global_fini,
	.init = ep_init,
	.fini = ep_fini,
	.busy = ep_busy,
	.reap = ep_reap,
	.wait = ep_wait,
	.kick = ep_kick,
	.io = ep_io,
	.cancel_fd = ep_cancel_fd,
	.features = ep_features,
};
