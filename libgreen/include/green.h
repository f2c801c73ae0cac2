/* SPDX-License-Identifier: MIT */
/*
 * green.h - libgreen, Go's concurrency model for C on Linux.
 *
 * libgreen runs goroutine-like tasks M:N on worker threads: G (a task),
 * M (a worker thread) and P (a processor: the right to run tasks, with its
 * own run queue), as in Go's runtime. This header is the whole public API.
 *
 * Conventions, as in liburing: every function that can fail returns a
 * non-negative result or a negative errno value (-ENOMEM, -EINVAL, ...).
 * errno is never the channel for errors. Every function is callable from
 * any task on any worker thread unless its comment says otherwise.
 *
 * Environment (read by green_run):
 *   GREEN_PROCS       number of processors, 1..GREEN_MAX_PROCS
 *                     (default: the CPUs this process may run on)
 *   GREEN_STACK_SIZE  task stack size in bytes, suffix k/K or m/M allowed,
 *                     GREEN_STACK_MIN..GREEN_STACK_MAX (default 256k)
 *   GREEN_STACK_GUARD "auto" (default), "always" or "never"; see
 *                     green_run(3) for how guard pages are budgeted.
 *
 * Man pages: libgreen(7), green_run(3), green_go(3), green_yield(3),
 * green_wg_init(3), green_stats(3).
 */
#ifndef GREEN_H
#define GREEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GREEN_VERSION_MAJOR 0
#define GREEN_VERSION_MINOR 1

/* Limits on the configuration green_run accepts. */
#define GREEN_MAX_PROCS 1024
#define GREEN_STACK_MIN (16 * 1024)
#define GREEN_STACK_MAX (1024 * 1024 * 1024)
#define GREEN_STACK_DEFAULT (256 * 1024)

/**
 * green_run() - start the runtime and run @fn(@arg) as its first task.
 *
 * Reads the GREEN_* environment, starts GREEN_PROCS processors with a worker
 * thread each (the calling thread becomes the first worker), runs @fn as the
 * first task and returns once @fn has returned and the runtime has shut
 * down. As in Go, where main returning ends the program, tasks still
 * runnable or blocked when @fn returns are discarded without being resumed;
 * wait for them (green_wg_wait) before returning if they must finish.
 *
 * May be called again after it returned. Returns 0, or:
 *   -EINVAL  bad configuration (a one-line reason is printed to stderr)
 *   -EBUSY   a runtime is already running in this process
 *   -ENOMEM, -EAGAIN  out of memory or threads
 */
int green_run(void (*fn)(void *arg), void *arg);

/**
 * green_go() - spawn a task running @fn(@arg).
 *
 * The task is queued on the caller's processor (or the global queue when
 * called from a thread that is not a worker) and may be stolen by another.
 * Never aborts. Returns 0, or:
 *   -ENOMEM  no memory for the task or its stack
 *   -EPERM   no runtime is running
 *   -EINVAL  @fn is NULL
 */
int green_go(void (*fn)(void *arg), void *arg);

/**
 * green_yield() - let other runnable tasks run, then continue.
 *
 * The caller goes to the back of its processor's run queue. A task that
 * yields in a loop cannot starve others. Outside a task it is sched_yield().
 */
void green_yield(void);

/**
 * green_syscall_enter() - the calling task is about to block its thread.
 * green_syscall_exit() - ... and is back.
 *
 * Bracket a call that may block the worker thread (a blocking syscall, a
 * library call that waits). If it lasts longer than about 20 us, the
 * task's processor is handed to another worker so the processor's other
 * tasks keep running; on return the task gets a processor back (maybe
 * after waiting for one). Calls must pair up on the same task, with no
 * other libgreen call in between. Outside a task both do nothing.
 */
void green_syscall_enter(void);
void green_syscall_exit(void);

/**
 * green_self_id() - the calling task's id (1 for green_run's task), or 0
 * when called outside a task.
 */
uint64_t green_self_id(void);

/**
 * green_proc_id() - index of the processor running the caller,
 * 0..nprocs-1, or -1 outside a task.
 */
int green_proc_id(void);

/**
 * green_nprocs() - number of processors of the running runtime, or 0.
 */
int green_nprocs(void);

/*
 * green_wg_t - Go's sync.WaitGroup: wait for a collection of tasks.
 *
 * green_wg_add() adds @delta (which may be negative) to the counter;
 * green_wg_done() is green_wg_add(wg, -1); green_wg_wait() parks the calling
 * task (not its worker thread) until the counter is zero. Add before the
 * task that calls done is spawned, as in Go. A waitgroup whose counter is
 * zero and has no waiters can be reused or discarded; it owns no resources.
 */
typedef struct green_wg {
	uint64_t state;		/* counter << 32 | waiters; private */
	int lock;		/* private */
	int pad;
	void *waiters;		/* private */
} green_wg_t;

#define GREEN_WG_INIT { 0, 0, 0, NULL }

/** green_wg_init() - initialise @wg with a zero counter. */
void green_wg_init(green_wg_t *wg);

/**
 * green_wg_add() - add @delta to the counter; wake the waiters when it
 * reaches zero. Returns 0, or -EINVAL when the counter would go negative or
 * overflow (the counter is left unchanged: this is a bug in the caller, the
 * case where Go panics).
 */
int green_wg_add(green_wg_t *wg, int delta);

/** green_wg_done() - green_wg_add(@wg, -1). */
int green_wg_done(green_wg_t *wg);

/**
 * green_wg_wait() - park the calling task until the counter is zero.
 * Returns 0, or -EPERM when called outside a task (no task to park).
 */
int green_wg_wait(green_wg_t *wg);

/* Per-processor counters; see green_stats(3). All counts since green_run. */
struct green_proc_stats {
	uint64_t tasks_run;	/* times a task was switched to on this P */
	uint64_t spawned;	/* tasks created by tasks running on this P */
	uint64_t steals;	/* successful steals by this P from others */
	uint64_t stolen;	/* tasks taken by those steals */
	uint64_t yields;	/* green_yield calls on this P */
	uint64_t global_gets;	/* tasks taken from the global queue */
	uint64_t runq_len;	/* tasks in the local run queue now */
	uint64_t syscalls;	/* green_syscall_enter calls on this P */
	uint64_t handoffs;	/* times it was taken from a task blocked in
				 * a syscall and handed to another worker */
};

struct green_stats {
	uint32_t size;		/* in: sizeof(struct green_stats) */
	uint32_t nprocs;	/* processors */
	uint32_t nworkers;	/* worker threads started */
	uint32_t idle_procs;	/* processors with no worker now */
	uint64_t tasks_live;	/* tasks created and not yet finished */
	uint64_t tasks_spawned;	/* tasks created since green_run */
	uint64_t worker_parks;	/* times a worker went to sleep */
	uint64_t worker_wakes;	/* times a sleeping worker was woken */
	uint64_t stack_size;	/* task stack size in bytes */
	uint64_t stacks_guarded; /* stacks with a guard page */
	uint64_t stacks_unguarded; /* stacks over the guard budget */
	char parker[16];	/* idle-worker backend: "futex" */
	char poller[16];	/* I/O backend: "io_uring" or "epoll" */
	char poller_features[128]; /* e.g. "io_uring submit_all msg_ring" */
};

/**
 * green_stats() - snapshot the runtime's counters.
 * @st:     filled in; set st->size = sizeof(*st) first.
 * @procs:  array of @nprocs entries filled for processors 0..@nprocs-1
 *          (may be NULL when @nprocs is 0).
 *
 * Counters are read without stopping the world: each is exact, the set is
 * not a single instant. Returns the number of processors, or -EINVAL for a
 * bad @st->size, -EPERM when no runtime is running.
 */
int green_stats(struct green_stats *st, struct green_proc_stats *procs,
		unsigned int nprocs);

/* ---- I/O, timers and deadlines (io.c, sleep.c) ---- */

/*
 * I/O. A task calling these parks instead of blocking its worker thread:
 * the operation goes to its processor's io_uring (or, where io_uring is
 * refused, is retried on epoll readiness). Each returns what the system
 * call would (a count, a file descriptor, 0) or -errno, and never sets
 * errno. They work on any file descriptor, blocking or not, created with
 * plain socket(), open(), pipe(). Called outside a task they are the
 * plain (blocking) system calls.
 *
 * Deadlines: a call ends with -ETIMEDOUT, the operation cancelled in the
 * kernel, once the earliest of these passes: the deadline of the *_until
 * variant, the task's deadline (green_deadline_set) and its context's.
 * A cancelled context ends the call with -ECANCELED. Deadlines are
 * absolute times on the green_now() clock.
 *
 * Environment: GREEN_POLLER "auto" (default: io_uring, else epoll with a
 * one-line notice), "uring" (fail if refused) or "epoll";
 * GREEN_URING_DISABLE, a comma-separated list of io_uring features not to
 * use even when the kernel has them (msg_ring, submit_all, ...; "all"),
 * to exercise the fallbacks. See green_read(3).
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/** green_now() - CLOCK_MONOTONIC in nanoseconds: the clock of deadlines. */
int64_t green_now(void);

/**
 * green_sleep() - park the calling task for @ns nanoseconds (<= 0: yield).
 * green_sleep_until() - ... until green_now() >= @deadline.
 * Returns 0, or -ECANCELED / -ETIMEDOUT when the task's context ends
 * first, -ETIMEDOUT when the task's own deadline comes first. Outside a
 * task it is nanosleep(2). A sleeping task costs memory, not CPU.
 */
int green_sleep(int64_t ns);
int green_sleep_until(int64_t deadline);

/**
 * green_deadline_set() - set the calling task's deadline for every
 * blocking call it makes (0: none); returns the previous one, so that a
 * caller can restore it. Returns -EPERM outside a task.
 * green_deadline() - the calling task's deadline, 0 if none.
 */
int64_t green_deadline_set(int64_t deadline);
int64_t green_deadline(void);

ssize_t green_read(int fd, void *buf, size_t n);
ssize_t green_write(int fd, const void *buf, size_t n);
ssize_t green_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t green_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t green_pread(int fd, void *buf, size_t n, off_t off);
ssize_t green_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t green_recv(int fd, void *buf, size_t n, int flags);
ssize_t green_send(int fd, const void *buf, size_t n, int flags);
int green_accept(int fd, struct sockaddr *addr, socklen_t *len);
int green_connect(int fd, const struct sockaddr *addr, socklen_t len);

/**
 * green_close() - close @fd. Operations other tasks have in flight on it
 * end with -EBADF first (never a hang).
 */
int green_close(int fd);
int green_openat(int dirfd, const char *path, int flags, unsigned int mode);
int green_fsync(int fd);

/**
 * green_poll() - wait until @fd is ready for @events (POLLIN, POLLOUT,
 * ...): returns the ready events (> 0) or -errno.
 */
int green_poll(int fd, short events);

/* The same, with a per-call deadline (absolute, green_now() clock). */
ssize_t green_read_until(int fd, void *buf, size_t n, int64_t deadline);
ssize_t green_write_until(int fd, const void *buf, size_t n,
			  int64_t deadline);
ssize_t green_recv_until(int fd, void *buf, size_t n, int flags,
			 int64_t deadline);
ssize_t green_send_until(int fd, const void *buf, size_t n, int flags,
			 int64_t deadline);
int green_accept_until(int fd, struct sockaddr *addr, socklen_t *len,
		       int64_t deadline);
int green_connect_until(int fd, const struct sockaddr *addr, socklen_t len,
			int64_t deadline);
int green_poll_until(int fd, short events, int64_t deadline);


/* ---- channels and select (chan.c, select.c, chantimer.c) ---- */

/*
 * green_chan_t - Go's channels. A channel carries fixed-size elements
 * (elem_size bytes, copied in and out with memcpy) between tasks. With
 * cap 0 it is unbuffered: a send waits until a receiver takes the value,
 * which is copied straight from the sender's buffer to the receiver's.
 * With cap > 0 it is a FIFO of cap elements: a send waits only when it is
 * full, a receive only when it is empty.
 *
 * Blocking calls park the calling task, not its worker thread. They end
 * early with -ETIMEDOUT when the task's deadline (green_deadline_set) or
 * the call's own deadline passes, and with the context's code when the
 * task's context is cancelled; the element is then not transferred.
 * Called outside a task, an operation that would block returns -EPERM
 * (one that can complete at once does). A NULL channel is -EINVAL (Go's
 * nil channel blocks forever; in select, a NULL channel is such a case).
 *
 * Closing: receives drain what is buffered, then return -EPIPE with the
 * element zeroed (Go's zero value and ok == false); sends return -EPIPE;
 * tasks blocked in either are woken. Where Go panics (send on a closed
 * channel, closing twice or closing nil) libgreen returns -EPIPE or
 * -EINVAL, or aborts with "panic: ..." on stderr when GREEN_DEBUG (a
 * comma-separated list) contains "chanpanic", to find such bugs.
 */
typedef struct green_chan green_chan_t;

/**
 * green_chan_make() - a channel of @cap elements of @elem_size bytes.
 * @elem_size may be 0 (Go's chan struct{}: only the events count) and at
 * most 65536, as in Go; @cap 0 is unbuffered. Returns NULL when out of
 * memory or for a size out of range. Free it with green_chan_free().
 */
green_chan_t *green_chan_make(size_t elem_size, size_t cap);

/**
 * green_chan_free() - free @c. No task may be using it or blocked on it.
 * Freeing a channel of green_after() or a timer also frees the timer.
 * NULL is ignored.
 */
void green_chan_free(green_chan_t *c);

/**
 * green_chan_send() - send a copy of *@elem (@elem may be NULL when the
 * element size is 0). Returns 0 once the value is buffered or taken by a
 * receiver, or:
 *   -EPIPE      the channel is (or gets) closed; the value was not sent
 *   -ETIMEDOUT, -ECANCELED  the task's deadline or context ended the wait
 *   -EPERM      it would block and the caller is not a task
 *   -EINVAL     @c is NULL, or @elem is NULL with a non-zero element size
 */
int green_chan_send(green_chan_t *c, const void *elem);

/**
 * green_chan_recv() - receive an element into *@elem (NULL: discard it).
 * Returns 0, or -EPIPE when the channel is closed and drained (*@elem is
 * zeroed), or -ETIMEDOUT, -ECANCELED, -EPERM, -EINVAL as for send.
 */
int green_chan_recv(green_chan_t *c, void *elem);

/**
 * green_chan_send_until() - green_chan_send() that gives up with
 * -ETIMEDOUT at @deadline (absolute, green_now() clock; 0: none).
 * green_chan_recv_until() - the same for green_chan_recv().
 */
int green_chan_send_until(green_chan_t *c, const void *elem,
			  int64_t deadline);
int green_chan_recv_until(green_chan_t *c, void *elem, int64_t deadline);

/**
 * green_chan_try_send() - send only if it needs no waiting: 0, -EAGAIN
 * when it would block, or -EPIPE, -EINVAL as green_chan_send().
 * green_chan_try_recv() - the same for receiving: 0, -EAGAIN, -EPIPE
 * (closed and drained), -EINVAL. Both work outside tasks too.
 */
int green_chan_try_send(green_chan_t *c, const void *elem);
int green_chan_try_recv(green_chan_t *c, void *elem);

/**
 * green_chan_close() - close @c: no more sends; blocked receivers and
 * senders are woken (with -EPIPE) and later receives drain the buffer.
 * green_chan_close_err() - the same, and reports misuse: returns 0, or
 * -EPIPE when @c was already closed, -EINVAL when @c is NULL.
 */
void green_chan_close(green_chan_t *c);
int green_chan_close_err(green_chan_t *c);

/**
 * green_chan_len() - elements buffered now (0 for NULL or unbuffered).
 * green_chan_cap() - the capacity @c was made with (0 for NULL).
 */
size_t green_chan_len(green_chan_t *c);
size_t green_chan_cap(green_chan_t *c);

/*
 * green_select() - Go's select: wait until one of several channel
 * operations can proceed, do that one, return its index.
 */
#define GREEN_SELECT_SEND 1	/* case: send *elem on chan */
#define GREEN_SELECT_RECV 2	/* case: receive into elem (NULL: discard) */

#define GREEN_SELECT_NONBLOCK 1	/* flag: Go's default case */

/* Cases with a NULL chan never proceed (Go's nil channel cases). */
#define GREEN_SELECT_MAX 65536

struct green_select_case {
	int op;			/* GREEN_SELECT_SEND or GREEN_SELECT_RECV */
	int err;		/* out, for the chosen case: 0, or -EPIPE when
				 * the channel was closed (recv: ok == false,
				 * elem zeroed; send: not sent) */
	green_chan_t *chan;
	void *elem;
};

/**
 * green_select() - proceed with one of @n @cases.
 * @flags:    0, or GREEN_SELECT_NONBLOCK to return -EAGAIN at once when
 *            no case is ready (Go's default case).
 * @deadline: absolute, green_now() clock; 0 for none.
 *
 * When several cases are ready, one is chosen uniformly at random, as in
 * Go. Returns the index of the case done (its err field set), or:
 *   -EAGAIN     GREEN_SELECT_NONBLOCK and nothing was ready
 *   -ETIMEDOUT  @deadline or the task's deadline passed first
 *   -ECANCELED  the task's context was cancelled (or its code)
 *   -EPERM      it would block and the caller is not a task
 *   -EINVAL     a bad op, @n > GREEN_SELECT_MAX, NULL @cases with @n > 0,
 *               or a send case with NULL elem and non-zero element size
 *   -ENOMEM     more than 16 cases and no memory for their waiters
 * With no case ready, no deadline and no context, it waits for ever (Go's
 * select {} with nil channels).
 */
int green_select(struct green_select_case *cases, unsigned int n, int flags,
		 int64_t deadline);

/*
 * Timers and tickers (Go's time.After, time.Timer, time.Ticker): each
 * delivers on a channel of int64_t, capacity 1, the green_now() time at
 * which it fired; receive from it directly or as a select case. They need
 * a running runtime, and must be freed before green_run returns.
 *
 * As in Go 1.23, stopping or resetting a timer or ticker discards a value
 * it delivered that was not received yet, so no stale value is received
 * after stop or reset returns. A ticker drops ticks a slow receiver
 * misses rather than queueing them.
 */
typedef struct green_timer green_timer_t;
typedef struct green_ticker green_ticker_t;

/**
 * green_after() - a channel that receives the time once, @ns nanoseconds
 * from now (<= 0: at once). Free it with green_chan_free(), which stops
 * the timer. NULL when out of memory or outside a running runtime.
 */
green_chan_t *green_after(int64_t ns);

/**
 * green_timer_make() - a timer that fires once, @ns from now.
 * green_timer_chan() - its channel (NULL for NULL).
 * green_timer_stop() - stop it: 1 if that kept it from delivering (it had
 *                      not fired, or its value was not received yet), 0 if
 *                      it had already been received or stopped.
 * green_timer_reset() - stop it and start it again, @ns from now; returns
 *                      what stop would, or -ENOMEM.
 * green_timer_free() - stop and free it, with its channel.
 * NULL timers: -EINVAL (free ignores NULL).
 */
green_timer_t *green_timer_make(int64_t ns);
green_chan_t *green_timer_chan(green_timer_t *t);
int green_timer_stop(green_timer_t *t);
int green_timer_reset(green_timer_t *t, int64_t ns);
void green_timer_free(green_timer_t *t);

/**
 * green_ticker_make() - a ticker that delivers every @period ns (> 0,
 * else NULL), the first time @period from now.
 * green_ticker_chan() - its channel.
 * green_ticker_stop() - stop it: 0, or -EINVAL.
 * green_ticker_reset() - stop it and restart with a new @period: 0,
 *                        -EINVAL (@period <= 0) or -ENOMEM.
 * green_ticker_free() - stop and free it, with its channel.
 */
green_ticker_t *green_ticker_make(int64_t period);
green_chan_t *green_ticker_chan(green_ticker_t *t);
int green_ticker_stop(green_ticker_t *t);
int green_ticker_reset(green_ticker_t *t, int64_t period);
void green_ticker_free(green_ticker_t *t);

/* ---- sync: Mutex, RWMutex, Cond, Once, Semaphore (sync*.c) ---- */

/* ---- context and errgroup (context.c, errgroup.c) ---- */

#ifdef __cplusplus
}
#endif

#endif /* GREEN_H */
