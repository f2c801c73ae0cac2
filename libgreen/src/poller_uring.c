// SPDX-License-Identifier: MIT
/*
 * poller_uring.c - the io_uring backend: one ring per processor.
 *
 * A task's operation becomes one SQE (two with a deadline: the operation
 * linked to an IORING_OP_LINK_TIMEOUT, so the kernel cancels it when the
 * deadline passes), whose user_data is the struct io_op on the task's
 * stack. SQEs are not submitted one by one: they are flushed when the P
 * goes through the scheduler (reap) or when 32 are queued, so a busy P
 * submits a batch per io_uring_enter. A reap that finds completions
 * already waiting holds a lone queued SQE back for one pass, so that the
 * tasks they ready add theirs to the same submission (held); the holder
 * flushes before it leaves its P idle (sched.c, poller->flush). The
 * completion's reaper stores the result and wakes the task (wait.h),
 * which finds it in its op.
 *
 * Features, probed at green_run and each disabled by GREEN_URING_DISABLE:
 *   ext_arg     waiting with a timeout without an extra SQE: required (5.11)
 *   submit_all  IORING_SETUP_SUBMIT_ALL: one bad SQE does not stall the rest
 *   msg_ring    IORING_OP_MSG_RING: a P kicks another's ring directly from
 *               its own; otherwise an eventfd read kept armed on each ring
 *   cancel_fd   IORING_ASYNC_CANCEL_FD|ALL at shutdown; otherwise ANY/one
 *               by one
 *   coop_taskrun  IORING_SETUP_COOP_TASKRUN|TASKRUN_FLAG, with msg_ring
 *               only. Most completions (a socket read that waited) are
 *               task_work of the thread that submitted them. By default
 *               the kernel interrupts that thread with an IPI to run it;
 *               here a thread asleep is still woken, but one running is
 *               left until it next enters the kernel, and the holder
 *               enters when the ring says task_work waits (IORING_SQ_
 *               TASKRUN). IPIs are dear across vCPUs: 100 echo
 *               connections on 2 Ps ran 2x faster. The cost: a thread
 *               that lost a P and then computes for long without a
 *               system call holds back that P's completions of its
 *               requests, as it already holds back its own P's tasks
 *               (the stall report names such a task). Eventfd kicks are
 *               task_work of the thread that armed the read, hence only
 *               with msg_ring.
 *   poll_first  IORING_RECVSEND_POLL_FIRST (5.19, probed through
 *               IORING_OP_SOCKET of the same release) on green_read of a
 *               stream socket, made as a recv (fdkind.c): a request and
 *               response peer reads before its peer has written, and
 *               the try io_uring makes at submission only fails. If data
 *               is there, the poll fires at once and the recv runs
 *               before the submitting call returns.
 * Probed but not used, and why:
 *   defer_taskrun, single_issuer: they deliver completions only to the
 *   thread that set the ring up. A P moves between threads (a worker
 *   blocked in a syscall hands its P on), and the thread that waits on the
 *   ring is not always the one that submitted.
 *   multishot_accept (IORING_ACCEPT_MULTISHOT, 5.19): one request accepts
 *   every connection that comes until cancelled, whether or not a task
 *   called green_accept for it. Connections nobody asked for would have
 *   to be kept (and closed with the listener) by the runtime, and a
 *   program that stops accepting, to shed load, would not stop the
 *   kernel from doing it. green_accept keeps accept(2)'s contract.
 *   provided_buffers (IORING_OP_PROVIDE_BUFFERS, 5.7): the kernel picks
 *   the buffer a read lands in. green_read is given the caller's buffer,
 *   and a copy out of a provided one would cost what the pool saves.
 *
 * Kicks land in the CQ, which whoever holds the P reaps: when a P is taken
 * from the M waiting in its ring, the kick that tells that M can be reaped
 * by the new holder before the M has even gone to sleep. So the holder
 * kicks again while the P counts such a sleeper (sched.c poll_idle), until
 * the sleeper has seen one. A msg_ring kick that fails (the target's CQ
 * overflowing) is sent again through the target's eventfd.
 *
 * Cancellation: a context or green_close asks for an operation to end by
 * queueing it on its ring's cancel queue and kicking the ring; the holder
 * submits IORING_OP_ASYNC_CANCEL for it at its next reap, before it reaps
 * again, so the op is still in flight when the cancel names it. The task
 * resumes only on its operation's own completion, so its buffer is never
 * written after it has resumed.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ctx.h"
#include "fdkind.h"
#include "lock.h"
#include "poller.h"
#include "runtime.h"
#include "sanitizer.h"
#include "wait.h"

#define RING_ENTRIES 256
#define SUBMIT_BATCH 32
#define TAG_IGNORE 0ULL		/* link timeouts, cancels */
#define TAG_KICK 1ULL		/* a kick: msg_ring or the eventfd read */
#define TAG_MSG 2ULL		/* | the target's poller: a msg_ring send */
#define TAG_MASK 7ULL		/* ops and pollers are 8-byte aligned */
#define DRAIN_NS 2000000000LL	/* shutdown: wait for cancelled ops */

enum {
	F_EXT_ARG = 1 << 0,
	F_SUBMIT_ALL = 1 << 1,
	F_MSG_RING = 1 << 2,
	F_CANCEL_FD = 1 << 3,
	F_COOP_TASKRUN = 1 << 4,	/* with TASKRUN_FLAG */
	F_SINGLE_ISSUER = 1 << 5,	/* probed only */
	F_DEFER_TASKRUN = 1 << 6,	/* probed only */
	F_POLL_FIRST = 1 << 7,		/* IORING_RECVSEND_POLL_FIRST */
	F_MULTISHOT_ACCEPT = 1 << 8,	/* probed only */
	F_PROVIDE_BUFFERS = 1 << 9,	/* probed only */
};

struct poller {
	struct io_uring ring;
	_Atomic int lock;		/* inflight and cancelq */
	struct io_op *inflight;
	struct io_op *cancelq;
	_Atomic uint32_t ninflight;
	unsigned int queued;		/* SQEs not yet submitted */
	unsigned int held;		/* of those, held back by a reap */
	int efd;			/* kick eventfd */
	uint64_t efd_buf;
	bool efd_armed;
	_Atomic bool kicked;		/* a kick is on its way */
};

static unsigned int features;	/* in use */
static unsigned int probed;	/* the kernel has them */
static char feature_str[160];	/* green_stats keeps 127 */

static bool disabled(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *s = list;

	if (!list)
		return false;
	if (!strcmp(list, "all"))
		return true;
	while ((s = strstr(s, name))) {
		if ((s == list || s[-1] == ',') && (s[n] == ',' || !s[n]))
			return true;
		s += n;
	}
	return false;
}

static int setup_flags(void)
{
	return (features & F_SUBMIT_ALL ? IORING_SETUP_SUBMIT_ALL : 0) |
	       (features & F_COOP_TASKRUN ?
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG : 0);
}

/* Can a ring be set up with @flags? */
static bool try_flags(unsigned int flags)
{
	struct io_uring r;

	if (io_uring_queue_init(4, &r, flags))
		return false;
	io_uring_queue_exit(&r);
	return true;
}

static int uring_global_init(void)
{
	const char *off = getenv("GREEN_URING_DISABLE");
	struct io_uring_probe *pr;
	char unused[64];
	struct io_uring r;
	int ret;

	probed = 0;
	ret = io_uring_queue_init(4, &r, 0);
	if (ret)
		return ret;	/* -ENOSYS, -EPERM: refused */
	if (r.features & IORING_FEAT_EXT_ARG)
		probed |= F_EXT_ARG;
	pr = io_uring_get_probe_ring(&r);
	if (pr) {
		if (io_uring_opcode_supported(pr, IORING_OP_MSG_RING))
			probed |= F_MSG_RING;
		/* All came in 5.19; the flags have no probe of their own. */
		if (io_uring_opcode_supported(pr, IORING_OP_SOCKET))
			probed |= F_POLL_FIRST | F_MULTISHOT_ACCEPT;
		if (io_uring_opcode_supported(pr, IORING_OP_PROVIDE_BUFFERS))
			probed |= F_PROVIDE_BUFFERS;
		io_uring_free_probe(pr);
	}
	io_uring_queue_exit(&r);
	if (!(probed & F_EXT_ARG))
		return -EOPNOTSUPP;
	if (try_flags(IORING_SETUP_SUBMIT_ALL))
		probed |= F_SUBMIT_ALL | F_CANCEL_FD;	/* both 5.18/5.19 */
	if (try_flags(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG))
		probed |= F_COOP_TASKRUN;
	if (try_flags(IORING_SETUP_SINGLE_ISSUER))
		probed |= F_SINGLE_ISSUER;
	if (try_flags(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN))
		probed |= F_DEFER_TASKRUN;
	features = probed & (F_EXT_ARG | F_SUBMIT_ALL | F_MSG_RING |
			     F_CANCEL_FD | F_COOP_TASKRUN | F_POLL_FIRST);
	if (disabled(off, "submit_all"))
		features &= ~F_SUBMIT_ALL;
	if (disabled(off, "msg_ring"))
		features &= ~F_MSG_RING;
	if (disabled(off, "cancel_fd"))
		features &= ~F_CANCEL_FD;
	if (disabled(off, "poll_first"))
		features &= ~F_POLL_FIRST;
	/* Eventfd kicks complete as task_work of the thread that armed
	 * the read, which coop_taskrun would leave waiting: see above. */
	if (disabled(off, "coop_taskrun") || !(features & F_MSG_RING))
		features &= ~F_COOP_TASKRUN;
	snprintf(unused, sizeof(unused), "%s%s%s",
		 probed & F_DEFER_TASKRUN ? " defer_taskrun" : "",
		 probed & F_MULTISHOT_ACCEPT ? " multishot_accept" : "",
		 probed & F_PROVIDE_BUFFERS ? " provided_buffers" : "");
	snprintf(feature_str, sizeof(feature_str),
		 "io_uring%s%s%s%s%s%s%s%s",
		 features & F_SUBMIT_ALL ? " submit_all" : "",
		 features & F_MSG_RING ? " msg_ring" : " eventfd",
		 features & F_CANCEL_FD ? " cancel_fd" : "",
		 features & F_COOP_TASKRUN ? " coop_taskrun" : "",
		 features & F_POLL_FIRST ? " poll_first" : "",
		 *unused ? " (unused:" : "", unused, *unused ? ")" : "");
	return 0;
}

static void uring_global_fini(void)
{
}

static const char *uring_features(void)
{
	return feature_str;
}

static void submit_all(struct poller *r)
{
	io_uring_submit(&r->ring);
	r->queued = 0;
	r->held = 0;
}

static struct io_uring_sqe *sqe_get(struct poller *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe) {
		submit_all(r);
		sqe = io_uring_get_sqe(&r->ring);
	}
	return sqe;	/* not NULL: the SQ was just emptied */
}

static void arm_kick_read(struct poller *r)
{
	struct io_uring_sqe *sqe;

	if (r->efd_armed)
		return;
	sqe = sqe_get(r);
	io_uring_prep_read(sqe, r->efd, &r->efd_buf, sizeof(r->efd_buf), 0);
	io_uring_sqe_set_data64(sqe, TAG_KICK);
	r->efd_armed = true;
	r->queued++;
}

static int uring_init(struct p *p)
{
	struct io_uring_params params = { 0 };
	struct poller *r;
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->efd = -1;
	params.flags = setup_flags();
	params.flags |= IORING_SETUP_CQSIZE;
	params.cq_entries = 4 * RING_ENTRIES;
	ret = io_uring_queue_init_params(RING_ENTRIES, &r->ring, &params);
	if (ret) {
		free(r);
		return ret;
	}
	/* Kicks from threads without a ring of their own (and all kicks
	 * without msg_ring) come through an eventfd read kept armed. */
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		ret = -errno;
		io_uring_queue_exit(&r->ring);
		free(r);
		return ret;
	}
	arm_kick_read(r);
	submit_all(r);
	p->poll = r;
	return 0;
}

/* Remove @op from the in-flight list; r->lock held. */
static void inflight_del(struct poller *r, struct io_op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		r->inflight = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->inflight = false;
	atomic_fetch_sub_explicit(&r->ninflight, 1, memory_order_relaxed);
}

static void kick_efd(struct poller *r)
{
	uint64_t one = 1;

	if (write(r->efd, &one, sizeof(one)) < 0)
		atomic_store(&r->kicked, false);
}

/*
 * Consume completions; with @wake, make their tasks runnable (the holder;
 * without, shutdown). Sets *@kicks when a kick was among them.
 */
static int reap_cqes(struct poller *r, bool wake, bool *kicks)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	int woken = 0;

	io_uring_for_each_cqe(&r->ring, head, cqe) {
		uint64_t ud = cqe->user_data;
		struct io_op *op;

		n++;
		if (ud == TAG_IGNORE)
			continue;
		if (ud == TAG_KICK) {
			if (cqe->res != 0)	/* msg_ring's res is 0 */
				r->efd_armed = false;
			atomic_store_explicit(&r->kicked, false,
					      memory_order_release);
			*kicks = true;
			continue;
		}
		if ((ud & TAG_MASK) == TAG_MSG) {
			/* A kick sent by msg_ring failed: the eventfd then. */
			if (cqe->res < 0 && wake)
				kick_efd((struct poller *)(uintptr_t)
					 (ud & ~TAG_MASK));
			continue;
		}
		op = (struct io_op *)(uintptr_t)ud;
		op->res = cqe->res;
		spin_lock(&r->lock);
		inflight_del(r, op);
		spin_unlock(&r->lock);
		if (wake && wait_wake(op->g, op->token, 0))
			woken++;
	}
	io_uring_cq_advance(&r->ring, n);
	return woken;
}

static void uring_kick(struct p *p);

/*
 * Submit cancels for the queued requests; the holder, before reaping.
 * Returns whether there were any.
 */
static bool submit_cancels(struct poller *r)
{
	struct io_op *list, *op;

	if (!__atomic_load_n(&r->cancelq, __ATOMIC_RELAXED))
		return false;
	spin_lock(&r->lock);
	list = r->cancelq;
	__atomic_store_n(&r->cancelq, NULL, __ATOMIC_RELAXED);
	for (op = list; op; op = op->cnext)
		op->cancel_queued = false;
	spin_unlock(&r->lock);
	/*
	 * The ops are still in flight: only this thread reaps this ring, and
	 * it submits the cancels below before reaping again.
	 */
	for (op = list; op; op = op->cnext) {
		struct io_uring_sqe *sqe = sqe_get(r);

		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
		io_uring_sqe_set_data64(sqe, TAG_IGNORE);
		r->queued++;
	}
	return true;
}

static int uring_reap(struct p *p)
{
	struct poller *r = p->poll;
	bool kicks = false, hold;
	int n;

	hold = !submit_cancels(r) && r->efd_armed && !r->held &&
	       io_uring_cq_ready(&r->ring);
	arm_kick_read(r);
	if (hold && r->queued == 1) {
		/*
		 * Completions wait already: their tasks run first, and what
		 * is queued goes in with what they queue, at the first pass
		 * that finds nothing to reap (or at SUBMIT_BATCH). A request
		 * and response peer's read then costs no system call of its
		 * own: on 1 processor an echo round trip is three calls
		 * (two sends, one submit), not four. Not with cancels queued:
		 * their ops must still be in flight when they are submitted.
		 */
		r->held = r->queued;
	} else if (r->queued) {
		submit_all(r);
	} else if (IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_TASKRUN)
		io_uring_get_events(&r->ring);	/* coop_taskrun: run it */
	if (!io_uring_cq_ready(&r->ring))
		return 0;
	n = reap_cqes(r, true, &kicks);
	/* A kick consumed above: re-arm at once, before this P can idle. */
	if (!r->efd_armed) {
		arm_kick_read(r);
		submit_all(r);
	}
	/* Nothing to run after all: this P may idle next, submit now. */
	if (!n && r->queued)
		submit_all(r);
	/* An M that lost @p may have missed its kick (sched.c poll_idle). */
	if (kicks && atomic_load(&p->poll_sleepers))
		uring_kick(p);
	return n;
}

static void uring_flush(struct p *p)
{
	if (p->poll->queued)
		submit_all(p->poll);
}

static void uring_wait(struct p *p, int64_t deadline)
{
	struct poller *r = p->poll;
	struct __kernel_timespec ts, *tsp = NULL;
	struct io_uring_cqe *cqe;

	/*
	 * Read the CQ's indices atomically: the ring's holder may be reaping
	 * (advancing the head) while this M, no longer its holder, looks.
	 */
	if (__atomic_load_n(r->ring.cq.ktail, __ATOMIC_ACQUIRE) !=
	    __atomic_load_n(r->ring.cq.khead, __ATOMIC_ACQUIRE))
		return;
	/*
	 * A cancel queued while a kick was already on its way sent none of
	 * its own; if that kick was then reaped after submit_cancels() had
	 * looked, nothing would wake us for it. Return instead: the holder
	 * submits it at its next reap. The fence orders reap_cqes()'s clear
	 * of kicked before this load, against cancel_queue()'s store and
	 * uring_kick()'s exchange (store buffering).
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (__atomic_load_n(&r->cancelq, __ATOMIC_RELAXED))
		return;
	/*
	 * Valgrind runs one thread at a time and does not let go while one
	 * sits in io_uring_enter: wait in short slices there.
	 */
	if (san_valgrind() && deadline - (int64_t)now_ns() > 1000000)
		deadline = (int64_t)now_ns() + 1000000;
	if (deadline != INT64_MAX) {
		int64_t d = deadline - (int64_t)now_ns();

		if (d <= 0)
			return;
		ts.tv_sec = d / 1000000000;
		ts.tv_nsec = d % 1000000000;
		tsp = &ts;
	}
	/* Peeks only: with ext_arg, waiting touches neither SQ nor CQ head. */
	io_uring_wait_cqes(&r->ring, &cqe, 1, tsp, NULL);
}

static bool uring_busy(struct p *p)
{
	struct poller *r = p->poll;

	return atomic_load_explicit(&r->ninflight, memory_order_relaxed) ||
	       r->queued;
}

static void uring_kick(struct p *p)
{
	struct poller *r = p->poll;
	struct m *m = m_self();

	if (atomic_exchange_explicit(&r->kicked, true, memory_order_acq_rel))
		return;		/* one is on its way */
	if (features & F_MSG_RING) {
		struct p *own;
		struct poller *src;
		struct io_uring_sqe *sqe;

		locks_inc();	/* our P's ring: see lock.h */
		own = m && m->p ? m->p : NULL;
		src = own ? own->poll : NULL;
		if (src && own != p) {
			sqe = sqe_get(src);
			io_uring_prep_msg_ring(sqe, r->ring.ring_fd, 0,
					       TAG_KICK, 0);
			io_uring_sqe_set_data64(sqe, (uintptr_t)r | TAG_MSG);
			submit_all(src);
			locks_dec();
			return;
		}
		locks_dec();
	}
	kick_efd(r);
}

static void cancel_queue(struct poller *r, struct io_op *op)
{
	if (op->inflight && !op->cancel_queued) {
		op->cancel_queued = true;
		op->cnext = r->cancelq;
		__atomic_store_n(&r->cancelq, op, __ATOMIC_RELAXED);
	}
}

static void uring_op_cancel(struct io_op *op, int code)
{
	struct poller *r = op->p->poll;
	int zero = 0;

	if (!atomic_compare_exchange_strong(&op->cancel_code, &zero, code))
		return;
	spin_lock(&r->lock);
	cancel_queue(r, op);
	spin_unlock(&r->lock);
	poller_kick(op->p);
}

/* Context ended the wait of @g, which is in an op on some ring. */
static void uring_wcancel(struct g *g, int code)
{
	uring_op_cancel((struct io_op *)g->wobj, code);
}

static void uring_cancel_fd(int fd)
{
	int i;

	for (i = 0; i < sched.nprocs; i++) {
		struct p *p = &sched.allp[i];
		struct poller *r = p->poll;
		struct io_op *op;
		bool any = false;

		if (!r || !atomic_load(&r->ninflight))
			continue;
		spin_lock(&r->lock);
		for (op = r->inflight; op; op = op->next) {
			int zero = 0;

			if (op->fd != fd || op->kind == IO_CLOSE)
				continue;
			atomic_compare_exchange_strong(&op->cancel_code, &zero,
						       -EBADF);
			cancel_queue(r, op);
			any = true;
		}
		spin_unlock(&r->lock);
		if (any)
			poller_kick(p);
	}
}

static void prep(struct io_uring_sqe *sqe, struct io_op *op)
{
	switch (op->kind) {
	case IO_READ:
		if (!op->as_recv) {
			io_uring_prep_read(sqe, op->fd, op->buf, op->len, -1);
			break;
		}
		io_uring_prep_recv(sqe, op->fd, op->buf, op->len, 0);
		if (features & F_POLL_FIRST)
			sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
		break;
	case IO_WRITE:
		io_uring_prep_write(sqe, op->fd, op->buf, op->len, -1);
		break;
	case IO_READV:
		io_uring_prep_readv(sqe, op->fd, op->iov, op->iovcnt, -1);
		break;
	case IO_WRITEV:
		io_uring_prep_writev(sqe, op->fd, op->iov, op->iovcnt, -1);
		break;
	case IO_PREAD:
		io_uring_prep_read(sqe, op->fd, op->buf, op->len, op->off);
		break;
	case IO_PWRITE:
		io_uring_prep_write(sqe, op->fd, op->buf, op->len, op->off);
		break;
	case IO_RECV:
		io_uring_prep_recv(sqe, op->fd, op->buf, op->len, op->flags);
		break;
	case IO_SEND:
		io_uring_prep_send(sqe, op->fd, op->buf, op->len, op->flags);
		break;
	case IO_ACCEPT:
		io_uring_prep_accept(sqe, op->fd, op->addr, op->addrlen,
				     op->flags);
		break;
	case IO_CONNECT:
		io_uring_prep_connect(sqe, op->fd, op->addr, op->alen);
		break;
	case IO_CLOSE:
		io_uring_prep_close(sqe, op->fd);
		break;
	case IO_OPENAT:
		io_uring_prep_openat(sqe, op->fd, op->path, op->flags,
				     op->mode);
		break;
	case IO_FSYNC:
		io_uring_prep_fsync(sqe, op->fd, op->flags);
		break;
	case IO_POLL:
		io_uring_prep_poll_add(sqe, op->fd, (unsigned int)op->flags);
		break;
	case IO_NKINDS:
		break;
	}
}

/* Valgrind cannot see what the kernel wrote through the ring. */
static void mark_defined(struct io_op *op)
{
	int64_t left = op->res;
	int i;

	if (left <= 0)
		return;
	switch (op->kind) {
	case IO_READ:
	case IO_PREAD:
	case IO_RECV:
		san_mem_defined(op->buf, left);
		break;
	case IO_READV:
		for (i = 0; i < op->iovcnt && left > 0; i++) {
			size_t n = op->iov[i].iov_len < (size_t)left ?
				   op->iov[i].iov_len : (size_t)left;

			san_mem_defined(op->iov[i].iov_base, n);
			left -= n;
		}
		break;
	case IO_ACCEPT:
		if (op->addrlen) {
			san_mem_defined(op->addrlen, sizeof(*op->addrlen));
			san_mem_defined(op->addr, *op->addrlen);
		}
		break;
	default:
		break;
	}
}

static int64_t uring_io(struct io_op *op)
{
	struct m *m = m_self();
	struct g *g = m->curg;
	struct io_uring_sqe *sqe;
	struct poller *r;
	int64_t deadline;
	struct p *p;
	int64_t res;
	int code;

again:
	if (g->ctx && (code = ctx_err(g->ctx)))
		return code;
	deadline = wait_deadline(g, op->deadline);
	if (deadline > 0 && deadline <= (int64_t)now_ns())
		return -ETIMEDOUT;
	/*
	 * A write usually fits in the socket's or pipe's buffer: when it
	 * would be alone in its batch (but for what a reap held back), try
	 * it at once, as Go's netpoller does. Parked until its completion,
	 * the writer would come back in the same reap as the reader its data
	 * woke, and two tasks ready at once call for a second M (sched.c
	 * poll_and_timers). Behind other queued requests it waits for the
	 * batch: a system call each would cost more than the batch saves
	 * (100 connections: 2.5x slower).
	 */
	if ((op->kind == IO_WRITE || op->kind == IO_WRITEV) &&
	    m->p->poll->queued <= m->p->poll->held) {
		res = io_nowait(op);
		if (res != -EAGAIN && res != -EOPNOTSUPP)
			return res;
	}
	op->as_recv = op->kind == IO_READ && fd_stream(op->fd);
	/* Our P's ring until the task parks: see lock.h. */
	locks_inc();
	p = m->p;
	r = p->poll;
	op->deadline = deadline;
	if (io_uring_sq_space_left(&r->ring) < 2)
		submit_all(r);
	sqe = sqe_get(r);
	prep(sqe, op);
	io_uring_sqe_set_data(sqe, op);
	r->queued++;
	if (deadline > 0) {
		struct io_uring_sqe *t;

		sqe->flags |= IOSQE_IO_LINK;
		op->ts.tv_sec = deadline / 1000000000;
		op->ts.tv_nsec = deadline % 1000000000;
		t = io_uring_get_sqe(&r->ring);
		io_uring_prep_link_timeout(t, &op->ts, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(t, TAG_IGNORE);
		r->queued++;
	}
	op->g = g;
	op->p = p;
	op->res = 0;
	op->cancel_queued = false;
	atomic_store_explicit(&op->cancel_code, 0, memory_order_relaxed);
	op->token = wait_arm(g, op->kind == IO_POLL ? WR_POLL : WR_IO, op);
	spin_lock(&r->lock);
	op->prev = NULL;
	op->next = r->inflight;
	if (op->next)
		op->next->prev = op;
	r->inflight = op;
	op->inflight = true;
	atomic_fetch_add_explicit(&r->ninflight, 1, memory_order_relaxed);
	spin_unlock(&r->lock);
	if (r->queued >= SUBMIT_BATCH)
		submit_all(r);
	g->wcancel = uring_wcancel;
	locks_dec();
	wait_park(g, op->token, NULL, -1);
	g->wcancel = NULL;
	if (__atomic_load_n(&op->cancel_queued, __ATOMIC_ACQUIRE)) {
		struct io_op **pp;

		spin_lock(&r->lock);
		for (pp = &r->cancelq; *pp; pp = &(*pp)->cnext) {
			if (*pp == op) {
				__atomic_store_n(pp, op->cnext,
						 __ATOMIC_RELAXED);
				break;
			}
		}
		op->cancel_queued = false;
		spin_unlock(&r->lock);
	}
	if (san_valgrind())
		mark_defined(op);
	res = io_op_result(op);
	if (op->as_recv && res == -ENOTSOCK) {
		/* The number was reused by another kind of file (fdkind.c). */
		fd_kind_set(op->fd, FDK_OTHER);
		m = m_self();	/* resumed maybe on another M */
		goto again;
	}
	return res;
}

/* All Ms have stopped: cancel what is in flight and wait for it. */
static void uring_fini(struct p *p)
{
	struct poller *r = p->poll;
	int64_t until = now_ns() + DRAIN_NS;
	bool kicks;

	if (!r)
		return;
	if (atomic_load(&r->ninflight) || r->efd_armed) {
		struct io_uring_sqe *sqe = sqe_get(r);

		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, TAG_IGNORE);
		io_uring_submit(&r->ring);
	}
	while ((atomic_load(&r->ninflight) || r->efd_armed) &&
	       (int64_t)now_ns() < until) {
		struct __kernel_timespec ts = { 0, 10000000 };
		struct io_uring_cqe *cqe;

		io_uring_wait_cqes(&r->ring, &cqe, 1, &ts, NULL);
		reap_cqes(r, false, &kicks);
	}
	if (atomic_load(&r->ninflight))
		fprintf(stderr, "libgreen: %u I/O operations still in flight at shutdown\n",
			atomic_load(&r->ninflight));
	io_uring_queue_exit(&r->ring);
	if (r->efd >= 0)
		close(r->efd);
	free(r);
	p->poll = NULL;
}

const struct poller_ops poller_uring = {
	.name = "io_uring",
	.global_init = uring_global_init,
	.global_fini = uring_global_fini,
	.init = uring_init,
	.fini = uring_fini,
	.busy = uring_busy,
	.reap = uring_reap,
	.flush = uring_flush,
	.wait = uring_wait,
	.kick = uring_kick,
	.io = uring_io,
	.cancel_fd = uring_cancel_fd,
	.features = uring_features,
};
