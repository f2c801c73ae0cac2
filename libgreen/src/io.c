// SPDX-License-Identifier: MIT
/*
 * io.c - green_read() and friends: each call becomes a struct io_op for
 * the poller backend (poller.h) when made by a task on a worker, and is
 * the plain system call otherwise. Also the backend choice at green_run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctx.h"
#include "fdkind.h"
#include "green.h"
#include "poller.h"
#include "runtime.h"
#include "wait.h"

const struct poller_ops *poller = &poller_uring;

int poller_select(enum poller_choice choice)
{
	int ret;

	if (choice != POLLER_EPOLL) {
		poller = &poller_uring;
		ret = poller->global_init();
		if (!ret || choice == POLLER_URING)
			return ret;
		fprintf(stderr, "libgreen: io_uring unavailable (%s); using epoll\n",
			strerror(-ret));
	}
	poller = &poller_epoll;
	return poller->global_init();
}

int64_t io_op_result(struct io_op *op)
{
	int64_t res = op->res;
	int code = atomic_load_explicit(&op->cancel_code,
					memory_order_acquire);

	if (res != -ECANCELED && res != -EINTR && res != -ETIME)
		return res;
	if (code)
		return code;
	if (op->deadline > 0 && (int64_t)now_ns() >= op->deadline)
		return -ETIMEDOUT;
	return res == -ETIME ? -ETIMEDOUT : res;
}

/*
 * A read or write with RWF_NOWAIT: -EAGAIN, -EOPNOTSUPP, ... Not inlined:
 * errno is read right after the call, on the thread that made it (a task
 * can move between threads, and __errno_location() is declared const).
 * On a stream socket, as recv(2) or send(2) with MSG_DONTWAIT (fdkind.c).
 */
__attribute__((noinline)) int64_t io_nowait(struct io_op *op)
{
	struct iovec one = { .iov_base = op->buf, .iov_len = op->len };
	const struct iovec *iov = &one;
	int cnt = 1;
	off_t off = -1;		/* the file position */
	int64_t r;

	if ((op->kind == IO_READ || op->kind == IO_WRITE) &&
	    fd_stream(op->fd)) {
		if (op->kind == IO_READ)
			r = recv(op->fd, op->buf, op->len, MSG_DONTWAIT);
		else
			r = send(op->fd, op->buf, op->len, MSG_DONTWAIT);
		if (r >= 0)
			return r;
		if (errno != ENOTSOCK)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		fd_kind_set(op->fd, FDK_OTHER);	/* reused: not a socket */
	}
	if (op->kind == IO_READV || op->kind == IO_WRITEV) {
		iov = op->iov;
		cnt = op->iovcnt;
	} else if (op->kind == IO_PREAD || op->kind == IO_PWRITE) {
		off = op->off;
	}
	if (op->kind == IO_READ || op->kind == IO_READV ||
	    op->kind == IO_PREAD)
		r = preadv2(op->fd, iov, cnt, off, RWF_NOWAIT);
	else
		r = pwritev2(op->fd, iov, cnt, off, RWF_NOWAIT);
	return r < 0 ? -errno : r;
}

/* Not in a task on a worker: the plain system call. */
static int64_t io_direct(struct io_op *op)
{
	int64_t ret = -EINVAL;

	switch (op->kind) {
	case IO_READ:
		ret = read(op->fd, op->buf, op->len);
		break;
	case IO_WRITE:
		ret = write(op->fd, op->buf, op->len);
		break;
	case IO_READV:
		ret = readv(op->fd, op->iov, op->iovcnt);
		break;
	case IO_WRITEV:
		ret = writev(op->fd, op->iov, op->iovcnt);
		break;
	case IO_PREAD:
		ret = pread(op->fd, op->buf, op->len, op->off);
		break;
	case IO_PWRITE:
		ret = pwrite(op->fd, op->buf, op->len, op->off);
		break;
	case IO_RECV:
		ret = recv(op->fd, op->buf, op->len, op->flags);
		break;
	case IO_SEND:
		ret = send(op->fd, op->buf, op->len, op->flags);
		break;
	case IO_ACCEPT:
		ret = accept4(op->fd, op->addr, op->addrlen, op->flags);
		break;
	case IO_CONNECT:
		ret = connect(op->fd, op->addr, op->alen);
		break;
	case IO_CLOSE:
		ret = close(op->fd);
		break;
	case IO_OPENAT:
		ret = openat(op->fd, op->path, op->flags, op->mode);
		break;
	case IO_FSYNC:
		ret = op->flags ? fdatasync(op->fd) : fsync(op->fd);
		break;
	case IO_POLL: {
		struct pollfd pfd = { .fd = op->fd, .events = op->flags };
		int64_t left = op->deadline ?
			       op->deadline - (int64_t)now_ns() : -1;
		int ms = left < 0 && op->deadline ? 0 :
			 left < 0 ? -1 : (int)((left + 999999) / 1000000);

		ret = poll(&pfd, 1, ms);
		if (ret == 0)
			return -ETIMEDOUT;
		if (ret > 0)
			ret = pfd.revents;
		break;
	}
	case IO_NKINDS:
		break;
	}
	return ret < 0 ? -errno : ret;
}

static int64_t io_run(struct io_op *op)
{
	struct m *m = m_self();

	if (!m || !m->p || m->curg == &m->g0 || m->in_syscall || !m->p->poll)
		return io_direct(op);
	return poller->io(op);
}

static ssize_t rw(enum io_kind kind, int fd, void *buf, size_t n,
		  int64_t off, int flags, int64_t deadline)
{
	struct io_op op = {
		.kind = kind, .fd = fd, .buf = buf, .len = n, .off = off,
		.flags = flags, .deadline = deadline,
	};

	if (fd < 0)
		return -EBADF;
	if (!buf && n)
		return -EFAULT;
	/* Zero bytes never wait (io_uring on 6.1 would, for a pipe). */
	if (!n) {
		if (kind == IO_RECV || kind == IO_SEND)
			op.flags |= MSG_DONTWAIT;
		return io_direct(&op);
	}
	return io_run(&op);
}

ssize_t green_read(int fd, void *buf, size_t n)
{
	return rw(IO_READ, fd, buf, n, -1, 0, 0);
}

ssize_t green_read_until(int fd, void *buf, size_t n, int64_t deadline)
{
	return rw(IO_READ, fd, buf, n, -1, 0, deadline);
}

ssize_t green_write(int fd, const void *buf, size_t n)
{
	return rw(IO_WRITE, fd, (void *)buf, n, -1, 0, 0);
}

ssize_t green_write_until(int fd, const void *buf, size_t n, int64_t deadline)
{
	return rw(IO_WRITE, fd, (void *)buf, n, -1, 0, deadline);
}

ssize_t green_pread(int fd, void *buf, size_t n, off_t off)
{
	if (off < 0)
		return -EINVAL;
	return rw(IO_PREAD, fd, buf, n, off, 0, 0);
}

ssize_t green_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (off < 0)
		return -EINVAL;
	return rw(IO_PWRITE, fd, (void *)buf, n, off, 0, 0);
}

ssize_t green_recv(int fd, void *buf, size_t n, int flags)
{
	return rw(IO_RECV, fd, buf, n, -1, flags, 0);
}

ssize_t green_recv_until(int fd, void *buf, size_t n, int flags,
			 int64_t deadline)
{
	return rw(IO_RECV, fd, buf, n, -1, flags, deadline);
}

/*
 * A send usually fits in the socket's buffer: a task tries it at once,
 * without a trip through the poller (Go's netpoller does the same).
 * -EAGAIN: it would block, or the task's context or deadline has ended
 * and the poller path reports that.
 */
static ssize_t send_now(int fd, const void *buf, size_t n, int flags,
			int64_t deadline)
{
	struct g *g = g_current();
	ssize_t ret;

	if (!g || fd < 0 || !n || !buf || (g->ctx && ctx_err(g->ctx)))
		return -EAGAIN;
	deadline = wait_deadline(g, deadline);
	if (deadline > 0 && deadline <= (int64_t)now_ns())
		return -EAGAIN;
	ret = send(fd, buf, n, flags | MSG_DONTWAIT);
	if (ret < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return ret;
}

/* A peer that went away is -EPIPE, never a SIGPIPE that kills us. */
ssize_t green_send_until(int fd, const void *buf, size_t n, int flags,
			 int64_t deadline)
{
	ssize_t ret = send_now(fd, buf, n, flags | MSG_NOSIGNAL, deadline);

	if (ret != -EAGAIN)
		return ret;
	return rw(IO_SEND, fd, (void *)buf, n, -1, flags | MSG_NOSIGNAL,
		  deadline);
}

ssize_t green_send(int fd, const void *buf, size_t n, int flags)
{
	return green_send_until(fd, buf, n, flags, 0);
}

static ssize_t rwv(enum io_kind kind, int fd, const struct iovec *iov,
		   int iovcnt)
{
	struct io_op op = {
		.kind = kind, .fd = fd, .iov = iov, .iovcnt = iovcnt,
	};

	if (fd < 0)
		return -EBADF;
	if (iovcnt < 0 || iovcnt > IOV_MAX || (!iov && iovcnt))
		return -EINVAL;
	return io_run(&op);
}

ssize_t green_readv(int fd, const struct iovec *iov, int iovcnt)
{
	return rwv(IO_READV, fd, iov, iovcnt);
}

ssize_t green_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return rwv(IO_WRITEV, fd, iov, iovcnt);
}

int green_accept_until(int fd, struct sockaddr *addr, socklen_t *len,
		       int64_t deadline)
{
	struct io_op op = {
		.kind = IO_ACCEPT, .fd = fd, .addr = addr, .addrlen = len,
		.deadline = deadline,
	};
	int ret;

	if (fd < 0)
		return -EBADF;
	if (addr && !len)
		return -EINVAL;
	ret = io_run(&op);
	if (ret >= 0)	/* what the number held before is gone */
		fd_kind_set(ret, fd_stream(fd) ? FDK_STREAM : FDK_UNKNOWN);
	return ret;
}

int green_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return green_accept_until(fd, addr, len, 0);
}

int green_connect_until(int fd, const struct sockaddr *addr, socklen_t len,
			int64_t deadline)
{
	struct io_op op = {
		.kind = IO_CONNECT, .fd = fd, .addr = (struct sockaddr *)addr,
		.alen = len, .deadline = deadline,
	};

	if (fd < 0)
		return -EBADF;
	if (!addr)
		return -EINVAL;
	return io_run(&op);
}

int green_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return green_connect_until(fd, addr, len, 0);
}

int green_close(int fd)
{
	struct io_op op = { .kind = IO_CLOSE, .fd = fd };

	if (fd < 0)
		return -EBADF;
	if (atomic_load(&sched.running) && sched.allp)
		poller->cancel_fd(fd);
	fd_kind_set(fd, FDK_UNKNOWN);
	/* A close must not be cancelled half-way: no deadline applies. */
	return io_direct(&op);
}

int green_openat(int dirfd, const char *path, int flags, unsigned int mode)
{
	struct io_op op = {
		.kind = IO_OPENAT, .fd = dirfd, .path = path,
		.flags = flags, .mode = mode,
	};
	int ret;

	if (!path)
		return -EFAULT;
	ret = io_run(&op);
	if (ret >= 0)
		fd_kind_set(ret, FDK_UNKNOWN);
	return ret;
}

int green_fsync(int fd)
{
	struct io_op op = { .kind = IO_FSYNC, .fd = fd };

	if (fd < 0)
		return -EBADF;
	return io_run(&op);
}

int green_poll_until(int fd, short events, int64_t deadline)
{
	struct io_op op = {
		.kind = IO_POLL, .fd = fd, .flags = (unsigned short)events,
		.deadline = deadline,
	};

	if (fd < 0)
		return -EBADF;
	if (!events)
		return -EINVAL;
	return io_run(&op);
}

int green_poll(int fd, short events)
{
	return green_poll_until(fd, events, 0);
}
