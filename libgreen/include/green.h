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
 *                     GREEN_STACK_MIN..GREEN_STACK_MAX (default 256k);
 *                     with GREEN_STACK_GUARD=never down to
 *                     GREEN_STACK_MIN_UNGUARDED, packed several to a page
 *                     (for very many small parked tasks; an overflow is
 *                     then caught only by the canary check)
 *   GREEN_STACK_GUARD "auto" (default), "always" or "never"; see
 *                     green_run(3) for how guard pages are budgeted.
 *
 * Man pages: libgreen(7); tasks: green_run(3), green_go(3), green_yield(3),
 * green_self_id(3), green_syscall_enter(3), green_wg_init(3),
 * green_stats(3); I/O: green_read(3), green_sleep(3); channels:
 * green_chan_make(3), green_chan_send(3), green_chan_recv(3),
 * green_chan_close(3), green_select(3), green_after(3),
 * green_timer_make(3), green_ticker_make(3); sync: green_mutex_init(3),
 * green_rwmutex_init(3), green_cond_init(3), green_once_do(3),
 * green_sema_init(3); context: green_ctx_with_cancel(3), green_ctx_set(3),
 * green_errgroup_init(3); debugging: green_dump(3),
 * green_preempt_check(3). Every other function has an alias page.
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
#define GREEN_STACK_MIN_UNGUARDED (2 * 1024)	/* GREEN_STACK_GUARD=never */
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
 * It starts with the default floating-point controls (round to nearest,
 * exceptions masked); what it sets (fesetround, MXCSR, the x87 control
 * word) stays its own, across switches and worker threads, as a thread's
 * would. green_run's first task starts the same way.
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
	char poller_features[128]; /* in use, then "(unused: ...)" */
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
 * Freeing the channel of green_after() also frees its timer; the channel
 * of a timer or ticker is freed by green_timer_free() or
 * green_ticker_free() instead. NULL is ignored.
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

#define GREEN_SELECT_MAX 65536	/* cases in one select, as Go's limit */

struct green_select_case {
	int op;			/* GREEN_SELECT_SEND or GREEN_SELECT_RECV */
	int err;		/* out, for the chosen case: 0, or -EPIPE when
				 * the channel was closed (recv: ok == false,
				 * elem zeroed; send: not sent) */
	green_chan_t *chan;	/* NULL: never ready (Go's nil channel) */
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
 *               a send case with NULL elem and non-zero element size,
 *               unknown @flags or a negative @deadline
 *   -ENOMEM     more than 8 cases and no memory for their waiters
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

/*
 * Sync primitives: Go's sync package (Mutex, RWMutex, Cond, Once) and
 * golang.org/x/sync/semaphore. Waiting parks the calling task, never its
 * worker thread. None owns resources: each may be discarded once no task
 * uses it. Structures are public for their size only: fields are private.
 *
 * Which waits a context can end. As in Go, green_mutex_lock(),
 * green_rwmutex_lock(), green_rwmutex_rlock() and green_once_do() wait
 * until they get what they wait for: their callers rarely check a lock's
 * result, and going on without the lock would corrupt what it protects.
 * (For a lock whose wait can be given up, use a green_sema_t of size 1.)
 * green_cond_wait() and green_sema_acquire() are cancellable: the task's
 * context (green_ctx_set) and deadline (green_deadline_set), and the
 * deadline of their _until variants, end them with -ECANCELED or
 * -ETIMEDOUT.
 *
 * Outside a task, mutexes and once wait by polling with sched_yield();
 * cond and semaphore waits that would block return -EPERM.
 *
 * Misuse that Go answers with a panic (unlocking an unlocked mutex,
 * releasing more than was acquired) returns an error, and aborts with
 * "libgreen: panic: ..." on stderr when GREEN_DEBUG (a comma-separated
 * list) contains "syncpanic".
 */

/* Private: a spinlock, a token count and a queue of waiting tasks. */
struct green_waitq {
	int lock;
	uint32_t count;
	void *head, *tail;
};

#define GREEN_WAITQ_INIT { 0, 0, NULL, NULL }

/*
 * green_mutex_t - Go's sync.Mutex. Uncontended, lock and unlock are one
 * atomic instruction each. Contended, a locker spins briefly when other
 * processors are running, then parks. A waiter that waited more than 1 ms
 * switches the mutex to starvation mode: unlock then hands it straight to
 * the longest waiter (FIFO) until the queue drains. As in Go, a locked
 * mutex is not tied to a task: another task may unlock it.
 */
typedef struct green_mutex {
	uint32_t state;			/* private */
	uint32_t pad;
	struct green_waitq q;		/* private */
} green_mutex_t;

#define GREEN_MUTEX_INIT { 0, 0, GREEN_WAITQ_INIT }

/** green_mutex_init() - initialise @m unlocked (as GREEN_MUTEX_INIT). */
void green_mutex_init(green_mutex_t *m);

/**
 * green_mutex_lock() - lock @m, parking the task until it is free. Not
 * cancellable. Returns 0, or -EINVAL for NULL.
 * green_mutex_trylock() - lock @m if that needs no waiting: 0, or -EBUSY.
 * green_mutex_unlock() - unlock @m: 0, or -EPERM when it is not locked.
 */
int green_mutex_lock(green_mutex_t *m);
int green_mutex_trylock(green_mutex_t *m);
int green_mutex_unlock(green_mutex_t *m);

/*
 * green_rwmutex_t - Go's sync.RWMutex: any number of readers or one
 * writer. A writer waiting for the lock keeps new readers out, so writers
 * are not starved by a stream of readers (and a task holding a read lock
 * must not take it again: a writer may be queued in between). Read lock
 * and unlock are one atomic each when no writer is around.
 */
typedef struct green_rwmutex {
	green_mutex_t w;		/* private: serialises writers */
	struct green_waitq wq, rq;	/* private: writer, readers waiting */
	int32_t readers;		/* private */
	int32_t rwait;			/* private */
} green_rwmutex_t;

#define GREEN_RWMUTEX_INIT { GREEN_MUTEX_INIT, GREEN_WAITQ_INIT, \
			     GREEN_WAITQ_INIT, 0, 0 }

/** green_rwmutex_init() - initialise @rw unlocked. */
void green_rwmutex_init(green_rwmutex_t *rw);

/**
 * green_rwmutex_lock() - lock @rw for writing. Not cancellable.
 * green_rwmutex_rlock() - lock @rw for reading. Not cancellable.
 * green_rwmutex_trylock(), green_rwmutex_tryrlock() - the same if that
 *     needs no waiting, else -EBUSY.
 * green_rwmutex_unlock(), green_rwmutex_runlock() - unlock; -EPERM when
 *     @rw is not locked that way.
 * All return 0 on success, -EINVAL for NULL.
 */
int green_rwmutex_lock(green_rwmutex_t *rw);
int green_rwmutex_rlock(green_rwmutex_t *rw);
int green_rwmutex_trylock(green_rwmutex_t *rw);
int green_rwmutex_tryrlock(green_rwmutex_t *rw);
int green_rwmutex_unlock(green_rwmutex_t *rw);
int green_rwmutex_runlock(green_rwmutex_t *rw);

/*
 * green_cond_t - Go's sync.Cond: tasks wait for a condition on state
 * guarded by a mutex, passed to each wait (as with pthread_cond_wait).
 * Wait in a loop that rechecks the condition: a wait may also end because
 * the task's context or deadline did.
 */
typedef struct green_cond {
	struct green_waitq q;		/* private */
} green_cond_t;

#define GREEN_COND_INIT { GREEN_WAITQ_INIT }

/** green_cond_init() - initialise @c (as GREEN_COND_INIT). */
void green_cond_init(green_cond_t *c);

/**
 * green_cond_wait() - unlock @m, wait for a signal, lock @m again.
 * green_cond_wait_until() - the same, giving up at @deadline (absolute,
 *     green_now() clock; 0: none).
 * @m is locked again on every return but -EINVAL and -EPERM. Returns 0
 * when signalled, or:
 *   -ETIMEDOUT, -ECANCELED  the deadline, the task's deadline or its
 *               context ended the wait (a signal that came at the same
 *               moment counts: the wait then returns 0)
 *   -EPERM      the caller is not a task, or @m is not locked
 *   -EINVAL     NULL @c or @m, or a negative @deadline
 */
int green_cond_wait(green_cond_t *c, green_mutex_t *m);
int green_cond_wait_until(green_cond_t *c, green_mutex_t *m,
			  int64_t deadline);

/**
 * green_cond_signal() - wake the task that has waited longest, if any.
 * green_cond_broadcast() - wake every waiting task.
 * The caller may hold the mutex or not. Return 0, or -EINVAL for NULL.
 */
int green_cond_signal(green_cond_t *c);
int green_cond_broadcast(green_cond_t *c);

/*
 * green_once_t - Go's sync.Once: run a function exactly once, however
 * many tasks call green_once_do(); every call returns after it has run.
 */
typedef struct green_once {
	uint32_t state;			/* private */
	uint32_t pad;
	uint64_t runner;		/* private */
	struct green_waitq q;		/* private */
} green_once_t;

#define GREEN_ONCE_INIT { 0, 0, 0, GREEN_WAITQ_INIT }

/** green_once_init() - initialise @o (as GREEN_ONCE_INIT). */
void green_once_init(green_once_t *o);

/**
 * green_once_do() - call @fn(@arg) if no call on @o has yet; callers that
 * come while it runs wait for it to return (not cancellable). Done, a
 * call is one load. Returns 0, or -EDEADLK when @fn itself calls
 * green_once_do() on @o (Go deadlocks), -EINVAL for NULL @o or @fn.
 */
int green_once_do(green_once_t *o, void (*fn)(void *arg), void *arg);

/*
 * green_sema_t - a weighted semaphore (golang.org/x/sync/semaphore): a
 * pool of @size tokens; acquire takes n, waiting until they are free,
 * release gives them back. Waiters are served in order (FIFO): a large
 * request is not starved by small ones behind it. Without waiters, acquire
 * and release are one atomic each.
 */
typedef struct green_sema {
	int64_t size;			/* private */
	int64_t cur;			/* private */
	struct green_waitq q;		/* private */
} green_sema_t;

#define GREEN_SEMA_INIT(size) { (size), 0, GREEN_WAITQ_INIT }

/** green_sema_init() - @size tokens (> 0): 0, or -EINVAL. */
int green_sema_init(green_sema_t *s, int64_t size);

/**
 * green_sema_acquire() - take @n tokens, waiting (cancellable) until they
 *     are free and every earlier waiter is served.
 * green_sema_acquire_until() - the same, giving up at @deadline
 *     (absolute, green_now() clock; 0: none).
 * Returns 0, or:
 *   -ECANCELED, -ETIMEDOUT  the task's context (even if already done when
 *               called, as in Go), its deadline or @deadline ended the
 *               wait; no tokens are taken
 *   -EPERM      it would wait and the caller is not a task
 *   -EINVAL     NULL @s, @n < 0 or @n > size (could never succeed)
 */
int green_sema_acquire(green_sema_t *s, int64_t n);
int green_sema_acquire_until(green_sema_t *s, int64_t n, int64_t deadline);

/**
 * green_sema_try_acquire() - take @n tokens if they are free and nobody
 * waits: 0, -EAGAIN, or -EINVAL as green_sema_acquire().
 */
int green_sema_try_acquire(green_sema_t *s, int64_t n);

/**
 * green_sema_release() - give back @n tokens and wake the waiters that
 * now fit. Returns 0, or -EINVAL for NULL @s, @n < 0, or more tokens than
 * are held (nothing is released; Go panics).
 */
int green_sema_release(green_sema_t *s, int64_t n);

/* ---- context and errgroup (context.c, errgroup.c) ---- */

/*
 * green_ctx_t - Go's context package: cancellation, deadlines and values
 * carried across tasks. Contexts form a tree rooted at
 * green_ctx_background(): cancelling one cancels all its descendants,
 * and a child's deadline is never later than its parent's.
 *
 * A context attached to a task (green_ctx_set, green_go_ctx) ends the
 * task's blocking calls once it is done: channel operations, select,
 * green_sleep, I/O, green_cond_wait and green_sema_acquire return its
 * code, -ECANCELED (cancelled) or -ETIMEDOUT (deadline passed).
 *
 * Lifetime: each context is reference counted. The with_* functions hand
 * their caller one reference; green_ctx_free() is the usual way to drop
 * it, Go's "defer cancel()": it cancels the context (unless it is a value
 * context) and drops the reference. Children, tasks attached to it and
 * its timer hold their own references, so a context is freed only when
 * none is left; a parent outlives its children. Every function is safe
 * on any context its caller holds a reference on, from any task or
 * thread. Contexts with deadlines need a running runtime for their timer
 * (made without one, they still report -ETIMEDOUT once the deadline has
 * passed) and must be freed before green_run() returns.
 */
typedef struct green_ctx green_ctx_t;

/**
 * green_ctx_background() - the root context: never cancelled, no
 * deadline, no values. Reference counting does not apply to it.
 */
green_ctx_t *green_ctx_background(void);

/**
 * green_ctx_with_cancel() - a child of @parent that green_ctx_cancel()
 *     ends; stored in *@out.
 * green_ctx_with_deadline() - ... that also ends at @deadline (absolute,
 *     green_now() clock), or at @parent's deadline if that is earlier.
 * green_ctx_with_timeout() - ... @ns nanoseconds from now.
 * green_ctx_with_value() - a child of @parent carrying @value for @key
 *     (compared as a pointer; not NULL). It cannot be cancelled itself.
 * A child of a done parent is done at once, with the parent's code.
 * Return 0, or -EINVAL (NULL @parent or @out), -ENOMEM.
 */
int green_ctx_with_cancel(green_ctx_t *parent, green_ctx_t **out);
int green_ctx_with_deadline(green_ctx_t *parent, int64_t deadline,
			    green_ctx_t **out);
int green_ctx_with_timeout(green_ctx_t *parent, int64_t ns,
			   green_ctx_t **out);
int green_ctx_with_value(green_ctx_t *parent, const void *key, void *value,
			 green_ctx_t **out);

/**
 * green_ctx_value() - the value of the nearest context up from @ctx
 * (itself included) made with @key, or NULL.
 */
void *green_ctx_value(green_ctx_t *ctx, const void *key);

/**
 * green_ctx_cancel() - cancel @ctx and its descendants (-ECANCELED),
 * waking their tasks' blocking calls. Cancelling again does nothing.
 * Returns 0, or -EINVAL for NULL, background or value contexts.
 */
int green_ctx_cancel(green_ctx_t *ctx);

/**
 * green_ctx_err() - 0 while @ctx is not done, -ECANCELED once cancelled,
 * -ETIMEDOUT once its deadline has passed (Go's DeadlineExceeded);
 * -EINVAL for NULL.
 * green_ctx_deadline() - @ctx's deadline (green_now() clock), 0 if none.
 */
int green_ctx_err(green_ctx_t *ctx);
int64_t green_ctx_deadline(green_ctx_t *ctx);

/**
 * green_ctx_done() - a channel (element size 0) that is closed when @ctx
 * is done, for select: a receive from it returns -EPIPE then. Made on the
 * first call, it lives as long as @ctx; the background's is never closed.
 * NULL for NULL @ctx or out of memory.
 */
green_chan_t *green_ctx_done(green_ctx_t *ctx);

/**
 * green_ctx_ref() - take a reference on @ctx; returns @ctx.
 * green_ctx_unref() - drop one; the last frees @ctx (not cancelling it:
 *     nobody can see it any more). NULL is ignored.
 * green_ctx_free() - cancel @ctx (not a value context) and drop the
 *     caller's reference: Go's "defer cancel()". NULL is ignored.
 */
green_ctx_t *green_ctx_ref(green_ctx_t *ctx);
void green_ctx_unref(green_ctx_t *ctx);
void green_ctx_free(green_ctx_t *ctx);

/**
 * green_ctx_set() - attach @ctx to the calling task (NULL or background:
 * detach), taking a reference on it. Returns the previous context, or
 * NULL if it had none; its reference passes to the caller, who drops it
 * with green_ctx_unref() or restores it:
 *
 *	old = green_ctx_set(ctx);
 *	...
 *	green_ctx_unref(green_ctx_set(old));
 *	green_ctx_unref(old);
 *
 * Outside a task it does nothing and returns NULL. A task's context is
 * dropped when the task ends.
 */
green_ctx_t *green_ctx_set(green_ctx_t *ctx);

/**
 * green_ctx_current() - the calling task's context, or the background
 * when it has none or the caller is not a task. No reference is taken:
 * it stays valid while the task keeps it attached.
 */
green_ctx_t *green_ctx_current(void);

/**
 * green_go_ctx() - green_go(@fn, @arg) with @ctx attached to the new task
 * (a reference of its own) before @fn runs. Returns what green_go()
 * does, or -EINVAL for NULL @ctx or @fn.
 */
int green_go_ctx(green_ctx_t *ctx, void (*fn)(void *arg), void *arg);

/*
 * green_errgroup_t - Go's golang.org/x/sync/errgroup: run tasks that
 * return 0 or a negative errno; the first non-zero result cancels the
 * group's context, which every task of the group runs with attached, so
 * the others' blocking calls return -ECANCELED. green_errgroup_wait()
 * returns that first result once every task has returned.
 */
typedef struct green_errgroup {
	green_wg_t wg;			/* private */
	green_sema_t sem;		/* private: the limit */
	green_ctx_t *ctx;		/* private */
	int err;			/* private */
	int limit;			/* private */
	long active;			/* private */
} green_errgroup_t;

/**
 * green_errgroup_init() - a group whose context is a child of @parent
 * (NULL: the background). Returns 0, or -EINVAL, -ENOMEM.
 */
int green_errgroup_init(green_errgroup_t *eg, green_ctx_t *parent);

/**
 * green_errgroup_ctx() - the group's context (no reference taken; valid
 * until green_errgroup_wait() returns). Cancelled by the first error.
 */
green_ctx_t *green_errgroup_ctx(green_errgroup_t *eg);

/**
 * green_errgroup_set_limit() - run at most @n tasks of the group at once
 * (@n < 0: no limit). Returns 0, or -EBUSY while tasks of the group
 * run, -EINVAL for NULL or @n == 0.
 */
int green_errgroup_set_limit(green_errgroup_t *eg, int n);

/**
 * green_errgroup_go() - run @fn(@arg) in a new task of the group. With a
 *     limit, waits (not cancellable) until a slot is free, as in Go.
 * green_errgroup_try_go() - the same, but -EAGAIN instead of waiting.
 * Return 0, or what green_go() returns, -EPERM (it would wait outside a
 * task), -EINVAL (NULL @fn, or a group not initialised or already waited
 * for).
 */
int green_errgroup_go(green_errgroup_t *eg, int (*fn)(void *arg), void *arg);
int green_errgroup_try_go(green_errgroup_t *eg, int (*fn)(void *arg),
			  void *arg);

/**
 * green_errgroup_wait() - wait for every task of the group (not
 * cancellable), cancel its context and free it; returns the first
 * non-zero result of a task, or 0 (-EPERM outside a task with tasks
 * still running). The group can be initialised again afterwards.
 */
int green_errgroup_wait(green_errgroup_t *eg);

/* ---- debugging: dumps, deadlocks, traces, stalls (dump.c, stall.c) ---- */

/*
 * Seeing inside the runtime, as Go lets one see goroutines; see
 * green_dump(3). Environment (read by green_run):
 *   GREEN_DEBUG     comma-separated items (others may be there too):
 *                   sigquit=exit|dump|off, nosigquit: SIGQUIT prints
 *                     every task to stderr, then exits with status 2
 *                     (exit, the default, as Go), goes on (dump), or
 *                     is left alone (off, nosigquit; so is a SIGQUIT
 *                     the program handles or ignores itself)
 *                   deadlock=exit|continue|off: when every task is
 *                     blocked and nothing in the runtime can wake one,
 *                     print "all tasks are asleep - deadlock!" and the
 *                     dump, then exit(2) (default), go on, or do not look
 *                   deadlockwait=MS: how long that must last before it
 *                     is reported (default 1000), for threads outside
 *                     the runtime that may still wake a task
 *                   schedtrace=MS: a Go-style "SCHED ..." line about the
 *                     scheduler on stderr every MS ms
 *   GREEN_STALL_MS  a task that holds its processor this long without a
 *                   switch is reported once on stderr, with its
 *                   backtrace, and asked to yield (green_preempt_check);
 *                   default 100, 0: off
 */
#include <stdio.h>

/**
 * green_dump() - print every task to @f, as Go's goroutine dump: its id,
 * state (runnable, running on which processor, or what it waits for:
 * the channel, mutex, file descriptor...), how long it has waited, its
 * backtrace (the caller's own included) and where it was created.
 *
 * The world is not stopped: each task is read consistently, the dump as
 * a whole is not one instant, and a task running on another worker is
 * shown without a backtrace. Callable from any task or thread while the
 * runtime runs (not concurrently with green_run returning). Returns the
 * number of tasks printed, or -EINVAL (NULL @f), -EPERM (no runtime
 * running), -ENOMEM.
 */
int green_dump(FILE *f);

/**
 * green_preempt_check() - a safe point for long computations: when the
 * runtime has found the calling task holding its processor for longer
 * than GREEN_STALL_MS, yield once (green_yield) and return 1; else
 * return 0 at once (a few loads). Call it in loops that may run long
 * without blocking. Outside a task it returns 0.
 */
int green_preempt_check(void);

#ifdef __cplusplus
}
#endif

#endif /* GREEN_H */
