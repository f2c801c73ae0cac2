/* SPDX-License-Identifier: MIT */
/*
 * runtime.h - libgreen's internal types: G (task), M (worker thread),
 * P (processor) and the scheduler's global state. See sched.c for the
 * design essay.
 */
#ifndef GREEN_RUNTIME_H
#define GREEN_RUNTIME_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "green.h"
#include "lock.h"
#include "sanitizer.h"
#include "stack.h"

#define CACHELINE 64

/* Local run queue capacity; a power of two (Go uses 256 too). */
#define RUNQ_SIZE 256

/*
 * A running P's ring of at most this many tasks, queued by the task it is
 * running, is left to it for a moment (runq.c, runqsteal) before a thief
 * takes any.
 */
#define RUNQ_GRACE_MAX 8

/* Run queue picks from runnext before one from the queue head is forced. */
#define RUNNEXT_STREAK_MAX 16

/* Every this many picks the global queue is checked first (Go: 61). */
#define GLOBAL_CHECK_TICKS 61

/* How long a spinning worker polls for work before parking, in ns. */
#define SPIN_NS 30000

enum g_status {
	G_FREE,		/* on a free list, not a task */
	G_RUNNABLE,	/* in a run queue */
	G_RUNNING,	/* on an M */
	G_WAITING,	/* parked on a primitive */
};

/* What the code resuming after a switch does with the task switched from. */
enum p_status {
	P_IDLE,		/* on the idle list, or being handed over */
	P_RUNNING,	/* held by an M running tasks */
	P_SYSCALL,	/* its M's task is in green_syscall_enter/exit */
};

enum switch_action {
	SW_NONE,
	SW_READY,	/* put it at the tail of the local run queue */
	SW_PARK,	/* it is parked: release the lock it parked under */
	SW_EXIT,	/* it finished: free it */
	SW_REQUEUE,	/* it lost its P in a syscall: global queue */
	SW_WAIT,	/* parked by wait_park: commit, then release the lock */
};

struct m;
struct p;

/*
 * A task. Laid out to fit one cache line outside sanitizer builds: a task
 * handed from one processor to another costs one line transfer.
 */
struct g {
	void *sp;		/* saved stack pointer; first, for switch.S */
	struct g *link;		/* global queue, free lists, wait lists */
	union {
		struct m *m;	/* the M running it, while G_RUNNING */
		struct g *batch_next; /* on a queued batch's first task */
		struct g *ahead; /* on a chain: a task AHEAD links on, to
				  * prefetch; only a hint (may be stale) */
	};
	void (*fn)(void *arg);
	void *arg;
	struct stack *stack;	/* bound at first run; NULL for g0 */
	uint64_t id;
	uint32_t batch_n;	/* on a queued batch's first task: length */
	_Atomic uint8_t status;	/* enum g_status */
	bool has_ctx;		/* ctx may be set: only then does the exit
				 * look at the second line */
	struct san_fiber san;	/* sanitizer bookkeeping, see sanitizer.h */

	/*
	 * Blocking (wait.c): a second cache line, touched only by a task
	 * that blocks and by whoever wakes it, never by spawn and run.
	 */
	_Alignas(CACHELINE) _Atomic uint64_t wstate; /* see wait.h */
	uint8_t wreason;		/* enum wait_reason */
	const void *wobj;		/* what it waits on (a channel, ...) */
	uint64_t wsince;		/* when it blocked, ns; 0 if unknown */
	struct green_ctx *ctx;		/* its context, or NULL (context.c) */
	struct g *ctx_next, *ctx_prev;	/* on ctx's list of blocked tasks */
	/* Interrupts this wait when a context ends it, for waits that must
	 * be cancelled at their source (I/O in the kernel); NULL: the
	 * context wakes the task directly. */
	void (*wcancel)(struct g *g, int code);
	int64_t deadline;		/* the task's deadline (ns), 0: none */
	/* For dumps (debug.h): where green_go was called, by which task
	 * (0: a thread outside the tasks, or green_run). */
	void *created_pc;
	uint64_t created_by;
} __attribute__((aligned(CACHELINE)));

#if !defined(GREEN_ASAN) && !defined(GREEN_TSAN)
_Static_assert(offsetof(struct g, wstate) == CACHELINE,
	       "struct g: spawn and run must touch one cache line");
#endif

struct p {
	int id;
	struct timers *timers;		/* timer.c */
	struct poller *poll;		/* poller.h: this P's I/O backend */
	struct m *poll_m;		/* idle M waiting in this P's poller */
	_Atomic int poll_sleepers;	/* Ms in its poller->wait (sched.c) */
	struct m *m;			/* owner, when running */
	struct p *link;			/* idle list */
	uint32_t gcheck;		/* picks until the global queue's turn */
	uint32_t runnext_streak;	/* picks from runnext in a row */
	uint64_t rand;			/* xorshift state for steal order */
	uint64_t goid_next, goid_end;	/* batch of task ids */
	struct g *gfree;		/* free tasks */
	uint32_t gfree_n;
	struct stack *stk_cache;	/* free stacks, hottest first */
	uint32_t stk_ncache;
	int64_t stk_credits;		/* stacks this P may promise */
	uint64_t exited;		/* tasks that finished on this P */
	struct green_proc_stats st;	/* written by the owner only, but
					 * handoffs (sysmon, atomic) */
	uint64_t ready_tick;		/* st.tasks_run when a task was last
					 * queued here (runqput); thieves
					 * read it (runqsteal) */
	/*
	 * A wake deferred (wakep_defer): set by the owner when it queues
	 * work, cleared at its next pick; sysmon reads both as a backstop.
	 */
	_Atomic bool wake_due;
	_Atomic uint32_t wake_seq;	/* deferrals begun */
	uint32_t wake_seen;		/* sysmon's: wake_seq last tick */
	_Atomic int status;		/* enum p_status */
	_Atomic uint64_t syscall_when;	/* when the syscall began, ns */
	/*
	 * The M in a marked call on this P, NULL when none: whoever clears
	 * it (the M on its way out, or sysmon taking the P) owns the P. The
	 * status alone could not say: P_SYSCALL again after a retake may be
	 * another M's call (syscall.c).
	 */
	struct m *_Atomic sys_m;
	_Atomic uint64_t preempt;	/* stall.c: yield asked, progress + 1 */

	/* Shared with thieves. */
	_Alignas(CACHELINE) _Atomic uint32_t runqhead;
	_Atomic uint32_t runqtail;
	struct g *_Atomic runnext;
	struct g *_Atomic runq[RUNQ_SIZE];
} __attribute__((aligned(CACHELINE)));

struct m {
	struct g g0;			/* scheduler context on the thread stack */
	struct g *curg;			/* task running now (g0 in schedule) */
	struct p *p;			/* processor held, NULL when idle */
	struct p *_Atomic nextp;	/* processor handed over by a waker */
	struct m *link;			/* idle list */
	struct m *alllink;		/* all Ms, for shutdown */
	int id;
	bool spinning;			/* looking for work, counted */
	bool in_syscall;		/* between syscall enter and exit */
	bool exited;			/* left schedule(), sched.lock */
	bool idle;			/* on sched.midle; sched.lock */
	bool ready_fifo;		/* g_ready queues at the tail: a batch
					 * of timers or completions runs in
					 * the order it became ready */
	bool ready_batch;		/* g_ready counts in readied and leaves
					 * waking an M to poll_and_timers */
	int readied;
	pthread_t thread;
	pid_t tid;			/* its kernel id (stall.c reads its state) */
	void *altstack;			/* SIGSEGV handler stack */
	stack_t old_altstack;		/* the thread's, restored at exit */

	/* Set by the task switching away, consumed after the switch. */
	struct g *pend_g;
	enum switch_action pend_action;
	_Atomic int *pend_lock;

	int park_id;			/* green.ko worker id, or -1 */
	uint32_t *depth;		/* its depth (lock.h): depth_own, or
					 * its green.ko slot's nolend word */
	uint32_t depth_own;
	struct m *heldlink;		/* sched.held: frozen, lent its P */
	bool lent;			/* on sched.held; sched.lock */
	uint64_t spare_wait_since;	/* hold_sysmon; sched.lock */
	uint64_t spare_wait_block;	/* its block then, or 0; sched.lock */
	_Alignas(CACHELINE) _Atomic uint32_t park_word; /* parker state */
} __attribute__((aligned(CACHELINE)));

/*
 * A list of batches: chains of tasks linked through g->link whose first
 * task records the chain's tail and length, so that a whole chain moves
 * between lists in O(1), without touching (cache-missing on) each task.
 */
/*
 * Chains of tasks built on one CPU are walked on another, where every
 * ->link is a cache miss; ->ahead lets the walker prefetch AHEAD tasks
 * on instead of one at a time.
 */
#define AHEAD 8

struct gbatches {
	struct g *head, *tail;
};

/* A chunk of task structures, allocated together, freed at shutdown. */
struct gchunk {
	struct gchunk *next;
	unsigned int n;
	struct g gs[];
};

struct sched {
	pthread_mutex_t lock;		/* queues and idle lists below */
	struct gbatches gq;		/* global run queue, FIFO */
	_Atomic int64_t gq_size;
	struct p *pidle;		/* idle processors */
	_Atomic int npidle;
	struct m *midle;		/* idle worker threads */
	_Atomic int nmidle;		/* how many; read without the lock */
	struct m *held;			/* frozen by green.ko, want a P (hold.c) */
	_Atomic int nheld;
	struct m *allm;
	int nm;
	_Atomic int nmspinning;
	pthread_mutex_t gfree_lock;	/* the two below */
	struct gbatches gfree;		/* global free tasks, LIFO batches */
	struct gchunk *chunks;		/* every task ever allocated */
	_Atomic uint64_t goid_gen;
	_Atomic uint64_t foreign_spawned;	/* by green_go off the workers */
	_Atomic uint64_t worker_parks, worker_wakes;

	struct p *allp;
	int nprocs;
	size_t stack_size;
	enum stack_guard_mode guard_mode;

	_Atomic uint32_t sysmon_idle;	/* 0, SYSMON_SLEEPS or _NAPS */
	_Atomic bool sysmon_deep;	/* sleeps SYSMON_IDLE_NS (syscall.c) */
	_Atomic uint64_t wait_clock;	/* ns; wait.c wait_clock_tick */
	pthread_t sysmon;

	_Atomic bool running;		/* between green_run start and end */
	_Atomic bool shutdown;		/* the first task returned */
};

extern struct sched sched;

/* Owner-written counters read by green_stats: single-writer updates. */
static inline void stat_add(uint64_t *f, uint64_t n)
{
	__atomic_store_n(f, __atomic_load_n(f, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static inline void stat_inc(uint64_t *f)
{
	stat_add(f, 1);
}

extern __thread struct m *green_tls_m
	__attribute__((tls_model("initial-exec"), visibility("hidden")));

/*
 * The calling thread's M, or NULL. A task can resume on another thread,
 * and a compiler may keep a thread-local's address across a call, so the
 * load is an asm statement that is redone at every use.
 */
static inline struct m *m_self(void)
{
	struct m *m;

	__asm__ __volatile__("movq green_tls_m@gottpoff(%%rip), %0\n\t"
			     "movq %%fs:(%0), %0"
			     : "=r"(m) : : "memory");
	return m;
}

void m_set_self(struct m *m);

/* runq.c */
void runqput(struct p *p, struct g *g, bool next);
struct g *runqsteal(struct p *p, struct p *victim, bool steal_next,
		    bool grace);
bool runqempty(struct p *p);
uint32_t runqlen(struct p *p);
void globrunqput(struct g *g);		/* sched.lock held */
struct g *globrunqget(struct p *p, int max);	/* takes sched.lock */
struct g *globrunqget_locked(int max);	/* sched.lock held; a chain */
void runqput_chain(struct p *p, struct g *chain);

void gbatches_push(struct gbatches *l, struct g *head, struct g *tail,
		   uint32_t n, bool front);
struct g *gbatches_pop(struct gbatches *l, uint32_t *n);
struct g *gbatches_pop_one(struct gbatches *l);

/* task.c */
struct g *g_alloc(struct p *p);
void g_init(struct g *g, uint64_t id, void (*fn)(void *), void *arg);
struct g *g_current(void);
bool g_prepare(struct p *p, struct g *g);
void g_requeue_global(struct g *g);
void g_free(struct p *p, struct g *g);
void g_teardown_all(void);
void g_switch(struct g *cur, struct g *next, enum switch_action act,
	      _Atomic int *lock);
void g_park(_Atomic int *lock);
void g_park_wait(_Atomic int *lock);
void g_ready(struct g *g);
void wakep(void);
void wakep_defer(struct p *p);
bool wake_backstop(void);

/*
 * @p's owner picked a task to run: a wake it deferred is due now if work
 * still waits behind that task (sched.c, wakep_defer).
 */
static inline void wake_check(struct p *p)
{
	if (!atomic_load_explicit(&p->wake_due, memory_order_relaxed))
		return;
	atomic_store_explicit(&p->wake_due, false, memory_order_relaxed);
	if (!runqempty(p))
		wakep();
}

/* sched.c */
uint64_t now_ns(void);
/* Refresh sched.wait_clock (wait.c): sysmon's rounds, Ms back from idle. */
void wait_clock_tick(void);
void handoffp(struct p *p);		/* a P nobody holds: run or idle it */
struct p *pidleget_any(void);		/* takes sched.lock */
void startm_locked(void);		/* sched.lock held */
void sched_shutdown(void);

void acquirep(struct m *m, struct p *p);
bool stop_spinning(struct m *m);
bool p_poll_due(struct p *p);
struct p *pidleget_evict(void);		/* sched.lock held */
/* Tests only (linked statically): runs just before an idle M's poll wait. */
extern void (*sched_poll_wait_hook)(void);

/* hold.c: green.ko's held resume */
void hold_take(struct m *blocked);
bool hold_give_locked(struct p *p, bool any);	/* sched.lock held */
void hold_spare_locked(void);			/* sched.lock held, sched.c */
bool hold_handback(struct m *m);
bool hold_sysmon(void);
void hold_init(void);
void hold_shutdown_locked(void);

/* syscall.c */
void syscall_handoff(struct m *blocked);
void sysmon_wake(void);
enum {
	SYSMON_SLEEPS = 1,	/* nothing to watch: any waker wakes it */
	SYSMON_NAPS = 2,	/* between backstop ticks (wakep_defer) */
};
int sysmon_start(void);
void sysmon_stop(void);

/* Switch stacks: save callee-saved state on the current stack, store the
 * stack pointer to *save, load load_sp and return there. switch.S */
void green_ctx_switch(void **save, void *load_sp);
void *green_ctx_init(void *stack_top, void (*entry)(void));

#endif /* GREEN_RUNTIME_H */
