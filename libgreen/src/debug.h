/* SPDX-License-Identifier: MIT */
/*
 * debug.h - seeing inside the runtime: task dumps (dump.c), deadlock
 * detection (deadlock.c), scheduler traces (schedtrace.c), stall detection
 * and cooperative preemption (stall.c), backtraces (backtrace.c), and the
 * GREEN_DEBUG / GREEN_STALL_MS settings that drive them (debug.c).
 *
 * Everything periodic runs on sysmon (syscall.c), which already wakes at
 * least every 100 ms: debug_sysmon_tick() each round, and
 * debug_sysmon_sleep() bounds its sleep when a trace line or a deadlock
 * confirmation is due sooner. Nothing here adds work to a task switch.
 *
 * The hooks in the scheduler's files:
 *   syscall.c  sysmon_start: debug_start(); sysmon_stop: debug_stop();
 *              sysmon's loop: debug_sysmon_tick(), debug_sysmon_sleep()
 *   sched.c    stopm, the M on the idle list, sched.lock held:
 *              deadlock_idle_locked()
 *   task.c     green_go: g->created_pc, g->created_by
 */
#ifndef GREEN_DEBUG_H
#define GREEN_DEBUG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime.h"

/*
 * Code that reads another thread's tasks, processors or stacks without
 * synchronising with it (dumps, the stall checker, frame walks): the
 * reads are racy by design and validated afterwards, so the sanitizers
 * must not instrument them.
 */
#define DEBUG_NOSAN __attribute__((no_sanitize("address", "thread", \
						"undefined"), noinline))

enum deadlock_mode {
	DL_OFF,
	DL_EXIT,	/* report, then exit(2) (the default, as Go) */
	DL_CONTINUE,	/* report once, go on */
};

enum sigquit_mode {
	SQ_OFF,		/* leave SIGQUIT alone */
	SQ_EXIT,	/* dump, then exit(2) (the default, as Go) */
	SQ_DUMP,	/* dump, go on */
};

struct debug_opts {
	enum deadlock_mode deadlock;
	enum sigquit_mode sigquit;
	uint64_t deadlock_wait_ns;	/* quiet this long before a report */
	uint64_t schedtrace_ns;		/* 0: no trace */
	uint64_t stall_ns;		/* 0: no stall detection */
	uint64_t start_ns;		/* when green_run started */
	bool depth;			/* count depth without green.ko */
};

extern struct debug_opts debug_opts;

/*
 * debug.c. debug_start: read GREEN_DEBUG and GREEN_STALL_MS (a bad value:
 * -EINVAL after a one-line message), install the signal handlers. 0 or
 * -errno. debug_stop: undo it.
 */
int debug_start(void);
void debug_stop(void);
void debug_sysmon_tick(void);
long debug_sysmon_sleep(long ns);

/*
 * Flush stdio and end the process with @code at once, as Go's fatal
 * errors do: no atexit handlers (and no sanitizer's exit-time reports of
 * the threads and memory the stopped runtime still holds).
 */
void debug_exit(int code) __attribute__((noreturn));

/* dump.c */
void dump_sigquit_start(void);
void dump_sigquit_stop(void);
void dump_sigquit_tick(void);	/* sysmon: a SIGQUIT came, dump */
/* "\tcreated by task 1 at main+0x1c (prog)" for task @id. */
void dump_created(FILE *f, uint64_t id, uint64_t by, void *pc);

/* deadlock.c */
void deadlock_idle_locked(void);	/* stopm, sched.lock held */
void deadlock_reset(void);
void deadlock_tick(uint64_t now);	/* sysmon */
long deadlock_sleep(long ns, uint64_t now);

/* schedtrace.c */
int schedtrace_line(char *buf, size_t n, uint64_t now);
void schedtrace_tick(uint64_t now);
long schedtrace_sleep(long ns, uint64_t now);

/* stall.c */
int stall_start(void);
void stall_stop(void);
void stall_tick(uint64_t now);
long stall_sleep(long ns);

/* backtrace.c */
#define BT_MAX 48

/*
 * Walk frame pointers from @fp (@pc first, if not 0), reading only
 * inside [@lo, @hi): at most @max return addresses into @pcs, returns
 * how many. Reads memory only: async-signal-safe.
 */
int bt_walk(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi,
	    uintptr_t *pcs, int max);

/*
 * A context saved by green_ctx_switch at @sp, on the stack [@lo, @hi);
 * -1 when there is none there (the task runs, or is switching).
 */
int bt_parked(uintptr_t sp, uintptr_t lo, uintptr_t hi, uintptr_t *pcs,
	      int max);

/* The caller's own frames, on the stack that ends at @hi. */
int bt_self(uintptr_t hi, uintptr_t *pcs, int max);

/* "func+0x1c (module)", or "module+0x1234", or "?" for @pc. */
void bt_symbol(uintptr_t pc, char *buf, size_t n);

/* One line a frame: "\t#3  0x00005555... func+0x1c (module)\n". */
void bt_print(FILE *f, const uintptr_t *pcs, int n);

/* Forget cached symbol tables (green_run ends). */
void bt_fini(void);

#endif /* GREEN_DEBUG_H */
