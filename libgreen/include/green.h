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

#ifdef __cplusplus
}
#endif

#endif /* GREEN_H */
