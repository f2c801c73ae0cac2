// SPDX-License-Identifier: MIT
/*
 * sched.c - the scheduler: worker threads, processors, finding work.
 *
 * Design
 * ======
 * libgreen runs many tasks on few threads, as Go does. The words are Go's:
 *
 *   G  a task: a saved stack pointer and a stack (task.c, stack.c).
 *   M  a worker thread. It runs tasks only while it holds a P.
 *   P  a processor: the right to run tasks, GREEN_PROCS of them. A P owns
 *      a local run queue (a 256-slot lock-free ring plus a runnext slot),
 *      caches of free tasks and free stacks (stackpool.c), and counters.
 *
 * There is one global run queue, under sched.lock, for overflow from the
 * local rings and for tasks spawned or woken off the workers; it holds
 * batches, moved whole. Ms and Ps are separate so that an M that blocks in
 * the kernel can hand its P to another M (syscall.c: sysmon, and green.ko's
 * spares). Ms are started on demand: GREEN_PROCS of them, plus one for
 * each P handed away from a blocked M; an M back from a syscall that finds
 * no P parks as a spare. With green.ko's held resume (hold.c) a block in
 * any call lends the P, and one idle M is always kept parked as the spare
 * the module wakes; an M frozen that way gets a P before anything else
 * when its call returns.
 *
 * Rejected designs: one shared run queue (a lock every switch: it does not
 * scale past a couple of threads); per-thread queues without stealing (one
 * busy thread and idle others); waking an idle thread for every new task
 * (a futex wake costs 2 us on one CPU and 60 us across vCPUs here, twenty
 * times a task's whole life).
 *
 * Switching. A task switches to the next task of its P directly (one
 * stack switch) and goes through its M's g0, the thread's own stack, only
 * when it must look elsewhere or sleep. See task.c for the hand-over of
 * the task switched from.
 *
 * Picking (findrunnable, on g0):
 *   1. every 61st pick, the global queue first, so it cannot starve;
 *   2. the local queue: runnext, then the ring (runqget caps runnext
 *      streaks, so two tasks waking each other cannot starve the ring);
 *   3. the global queue;
 *   4. steal half of a random victim's ring, four rounds over all Ps in a
 *      random order, taking runnext too in the last round. Only "spinning"
 *      Ms steal, and at most half as many as there are busy Ps: enough to
 *      find new work quickly, not so many that they burn every CPU. A
 *      running victim keeps its runnext, and a ring of a few tasks that
 *      its running task queued, for 3 us first: most often it runs them
 *      itself, on a warm cache;
 *   5. a spinning M keeps polling for SPIN_NS (a wake across vCPUs costs
 *      tens of microseconds here; a short poll often saves it);
 *   6. give the P back (idle list), stop spinning, recheck, park the M.
 *
 * Waking (wakep): whoever makes a task runnable wakes an idle M when
 * there is an idle P and no M is spinning; the woken M spins and steals.
 * When a spinning M finds work it stops spinning, and if it was the last
 * spinner it wakes another, so work spreads in a chain and never with a
 * thundering herd. Unlike Go, a task that wakes or spawns one on its own
 * P defers that wake to the P's next pick, where it is dropped if the
 * P runs the new task itself (wakep_defer; sysmon is the backstop).
 * An M that reaps I/O completions runs the first task they ready and
 * wakes an M for the rest only (poll_and_timers).
 *
 * The protocol that keeps wakes from being lost, in steps:
 *   submitter: (a) put the task in a queue; (b) read npidle and
 *              nmspinning; wake an M if a P idles and none spins.
 *   spinner:   (1) put its P on the idle list (npidle++), (2) nmspinning--,
 *              a full barrier; (3) look at every queue again; (4) park.
 * If the submitter's (b) saw the spinner still counted, the spinner's (3)
 * runs after (a) and finds the task. If (b) saw nmspinning 0 and a P idle,
 * it wakes an M itself. The parker remembers a wake that comes before the
 * park. A submitter off the workers takes sched.lock (startm_locked); one
 * on a worker holds a P and queues where that P looks, so a wake it misses
 * (its (b) read before (a) was visible: no fence, as in Go) costs
 * parallelism until that P next schedules, never the task.
 *
 * Shutdown: when the first task (green_run's fn) returns, sched.shutdown is
 * set and every idle M woken, under sched.lock so that no M can park after
 * missing it. Each M leaves schedule() at its next pick; tasks still queued
 * or parked are discarded (as when Go's main returns). The thread that
 * called green_run waits for every M, then frees all tasks and stacks.
 */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "debug.h"
#include "overflow.h"
#include "parker.h"
#include "poller.h"
#include "runq.h"
#include "runtime.h"
#include "sanitizer.h"
#include "timer.h"

/* Adaptive mutexes spin briefly before sleeping: held for a few
 * instructions, they are rarely worth a futex round trip. */
struct sched sched = {
	.lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
	.gfree_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
};

const struct parker_ops *parker = &parker_futex;

static pthread_cond_t m_exit_cond = PTHREAD_COND_INITIALIZER;

__thread struct m *green_tls_m __attribute__((tls_model("initial-exec")));
__thread uint32_t *green_tls_depth __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) void m_set_self(struct m *m)
{
	__asm__ __volatile__("" ::: "memory");
	green_tls_m = m;
	if (m && !m->depth) {
		m->depth_own = 1;	/* on g0 */
		m->depth = &m->depth_own;
	}
	/* Only held resume reads the depth: no cost without it. */
	green_tls_depth = m && (parker->grant || debug_opts.depth) ?
			  m->depth : NULL;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t fastrand(struct p *p)
{
	uint64_t x = p->rand;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	p->rand = x;
	return (uint32_t)(x >> 32);
}

/* Idle processor list; sched.lock held. */
static void pidleput(struct p *p)
{
	p->m = NULL;
	atomic_store_explicit(&p->status, P_IDLE, memory_order_relaxed);
	p->link = sched.pidle;
	sched.pidle = p;
	atomic_fetch_add(&sched.npidle, 1);
}

static struct p *pidleget(void)
{
	struct p *p = sched.pidle;

	if (p) {
		sched.pidle = p->link;
		atomic_fetch_sub(&sched.npidle, 1);
	}
	return p;
}

/* Take @p off the idle list wherever it is; sched.lock held. */
static void pidleremove(struct p *p)
{
	struct p **pp;

	for (pp = &sched.pidle; *pp; pp = &(*pp)->link) {
		if (*pp == p) {
			*pp = p->link;
			atomic_fetch_sub(&sched.npidle, 1);
			return;
		}
	}
}

/*
 * An idle P taken for another M: the M waiting in its poller (if any)
 * loses it, and is kicked so that it notices; sched.lock held.
 */
struct p *pidleget_evict(void)
{
	struct p *p = pidleget();

	if (p && p->poll_m) {
		p->poll_m = NULL;
		poller_kick(p);
	}
	return p;
}

/*
 * Has @p a timer due or I/O in flight, or does a frozen worker wait for a
 * P (hold.c)? Then tasks that switch straight to each other (green_yield,
 * parks) go round schedule() for them now and then (global_turn), or a
 * loop of yields would starve them.
 */
bool p_poll_due(struct p *p)
{
	int64_t next = timers_next(p);

	return (next != INT64_MAX && next <= (int64_t)now_ns()) ||
	       (p->poll && poller->busy(p)) ||
	       atomic_load_explicit(&sched.nheld, memory_order_relaxed);
}

/* Does an idle @p need an M waiting in its poller (I/O, timers)? */
static bool p_needs_poll(struct p *p)
{
	return p->poll && (poller->busy(p) || timers_next(p) != INT64_MAX);
}

void acquirep(struct m *m, struct p *p)
{
	m->p = p;
	p->m = m;
	atomic_store_explicit(&p->status, P_RUNNING, memory_order_release);
}

struct p *pidleget_any(void)
{
	struct p *p;

	mutex_lock(&sched.lock);
	p = pidleget_evict();
	mutex_unlock(&sched.lock);
	return p;
}

static void startm_p_locked(struct p *p, bool spinning);

/*
 * @p was taken from an M stuck in a syscall (sysmon won the CAS to
 * P_IDLE): give it to another M if there is work for it, else make it idle.
 */
void handoffp(struct p *p)
{
	mutex_lock(&sched.lock);
	if (!runqempty(p) || atomic_load(&sched.gq_size) > 0 ||
	    p_needs_poll(p))
		startm_p_locked(p, false);
	else
		pidleput(p);
	mutex_unlock(&sched.lock);
}

static void *m_main(void *arg);

/* Start an M for @p; sched.lock held. 0 or -errno. */
static int newm_locked(struct p *p, bool spinning)
{
	pthread_attr_t attr;
	struct m *m;
	int ret;

	m = aligned_alloc(CACHELINE, sizeof(*m));
	if (!m)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	m->id = sched.nm;
	m->park_id = -1;
	m->spinning = spinning;
	atomic_store(&m->nextp, p);
	pthread_attr_init(&attr);
	ret = -pthread_create(&m->thread, &attr, m_main, m);
	pthread_attr_destroy(&attr);
	if (ret) {
		free(m);
		return ret;
	}
	m->alllink = sched.allm;
	__atomic_store_n(&sched.allm, m, __ATOMIC_RELEASE); /* hold_sysmon */
	sched.nm++;
	return 0;
}

/* The first idle M, off sched.midle, or NULL; sched.lock held. */
static struct m *midle_pop_locked(void)
{
	struct m *m = sched.midle;

	if (m) {
		sched.midle = m->link;
		m->idle = false;
		atomic_fetch_sub_explicit(&sched.nmidle, 1,
					  memory_order_relaxed);
	}
	return m;
}

/* The calling M, if it is idle (awake in stopm): off sched.midle. */
static struct m *midle_take_self_locked(void)
{
	struct m *self = m_self(), **pp;

	if (!self || !self->idle)
		return NULL;
	for (pp = &sched.midle; *pp != self; pp = &(*pp)->link)
		;
	*pp = self->link;
	self->idle = false;
	atomic_fetch_sub_explicit(&sched.nmidle, 1, memory_order_relaxed);
	return self;
}

/*
 * Give an idle P (or @p) to an idle or new M and wake it; sched.lock held.
 * With @spinning, the caller already counted the M in nmspinning.
 */
static void startm_p_locked(struct p *p, bool spinning)
{
	struct m *m;

	if (atomic_load(&sched.shutdown)) {
		if (p)
			pidleput(p);
		goto undo;
	}
	if (!p) {
		p = pidleget();
		if (!p)
			goto undo;
		if (p->poll_m) {
			/* Its M waits in its poller: wake that one. */
			m = p->poll_m;
			p->poll_m = NULL;
			m->spinning = spinning;
			atomic_store_explicit(&m->nextp, p,
					      memory_order_release);
			poller_kick(p);
			return;
		}
	}
	/*
	 * A spare woken by green.ko hands the blocked worker's P to itself:
	 * it is awake and idle, and waking another M would cost a second
	 * wakeup (a cross-CPU one, most likely) before the P's tasks run.
	 */
	m = midle_take_self_locked();
	if (!m)
		m = midle_pop_locked();
	if (!m) {
		if (newm_locked(p, spinning)) {
			pidleput(p);
			goto undo;
		}
		return;
	}
	m->spinning = spinning;
	atomic_store_explicit(&m->nextp, p, memory_order_release);
	atomic_fetch_add_explicit(&sched.worker_wakes, 1,
				  memory_order_relaxed);
	/* A spare handing a P to itself (hold.c) is awake already. */
	if (m != m_self())
		parker->unpark(m);
	hold_spare_locked();
	return;
undo:
	if (spinning)
		atomic_fetch_sub(&sched.nmspinning, 1);
}

/*
 * With held resume, keep one idle M parked as a spare for green.ko to wake
 * when a worker blocks (hold.c); sched.lock held.
 */
void hold_spare_locked(void)
{
	if (parker->grant && !sched.midle &&
	    !atomic_load(&sched.shutdown))
		newm_locked(NULL, false);
}

/* Wake an M for queued work if a P is idle and no M spins; lock held. */
void startm_locked(void)
{
	int zero = 0;

	if (atomic_load(&sched.npidle) == 0 ||
	    !atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1))
		return;
	startm_p_locked(NULL, true);
}

/*
 * The caller holds a P and has just queued work where that P will look
 * (its own run queue, or the global one). No full fence before reading
 * npidle, as in Go: if a stale read misses a P going idle whose recheck
 * also missed the task, the task is not lost, it waits for this P.
 */
void wakep(void)
{
	int zero = 0;

	if (atomic_load(&sched.npidle) == 0 ||
	    atomic_load(&sched.nmspinning) != 0 ||
	    !atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1))
		return;
	mutex_lock(&sched.lock);
	startm_p_locked(NULL, true);
	mutex_unlock(&sched.lock);
}

/*
 * A task on @p (held by the caller) queued work there by waking a task or
 * spawning one. Go wakes an idle M at once (wakep); here the wake waits
 * for @p's next pick (wake_check): if the task that queued the work parks
 * first, as in a ping-pong or a request handed to a worker, @p runs the
 * new task itself and no M is woken only to find nothing. Waking one
 * costs 2 us on one CPU and tens across vCPUs, more than such a task's
 * whole turn; on 2 processors a channel ping-pong took 205 ns a round
 * trip with it and 125 without. If the task keeps running instead, or
 * blocks in a call nobody sees, sysmon wakes the M (wake_backstop) once
 * the deferral has lasted a tick (BACKSTOP_NS).
 */
void wakep_defer(struct p *p)
{
	uint32_t seq;

	if (sched.nprocs == 1 ||
	    atomic_load_explicit(&p->wake_due, memory_order_relaxed) ||
	    !atomic_load_explicit(&sched.npidle, memory_order_relaxed))
		return;	/* no other P, one pending, or none idle */
	atomic_store_explicit(&p->wake_due, true, memory_order_relaxed);
	seq = atomic_load_explicit(&p->wake_seq, memory_order_relaxed);
	atomic_store_explicit(&p->wake_seq, seq + 1, memory_order_relaxed);
	/*
	 * No fence (two a round trip cost a ping-pong 10%): a load here
	 * that passes the store above can miss sysmon going idle just
	 * then, and the backstop waits for sysmon's next tick, at most
	 * SYSMON_BUSY_NS while a P runs (syscall.c).
	 */
	if (atomic_load_explicit(&sched.sysmon_idle, memory_order_relaxed) ==
	    SYSMON_SLEEPS)
		sysmon_wake();
}

/*
 * sysmon, every BACKSTOP_NS while wakes are deferred: wake an M for each
 * running P whose deferral has lasted since the last tick. Returns
 * whether any P has one pending.
 */
bool wake_backstop(void)
{
	bool any = false;
	int i;

	for (i = 0; i < sched.nprocs; i++) {
		struct p *p = &sched.allp[i];
		uint32_t seq;

		if (atomic_load(&p->status) != P_RUNNING ||
		    !atomic_load_explicit(&p->wake_due, memory_order_relaxed))
			continue;
		any = true;
		seq = atomic_load_explicit(&p->wake_seq, memory_order_relaxed);
		if (seq != p->wake_seen) {
			p->wake_seen = seq;	/* new: give it a tick */
			continue;
		}
		mutex_lock(&sched.lock);
		startm_locked();
		mutex_unlock(&sched.lock);
	}
	return any;
}

/* Park the M until a waker hands it a P or the runtime shuts down. */
static void stopm(struct m *m)
{
	mutex_lock(&sched.lock);
	if (atomic_load(&sched.shutdown)) {
		mutex_unlock(&sched.lock);
		return;
	}
	m->link = sched.midle;
	sched.midle = m;
	m->idle = true;
	atomic_fetch_add_explicit(&sched.nmidle, 1, memory_order_relaxed);
	deadlock_idle_locked();	/* the last M idle: deadlock.c */
	mutex_unlock(&sched.lock);
	atomic_fetch_add_explicit(&sched.worker_parks, 1,
				  memory_order_relaxed);
	while (!atomic_load_explicit(&m->nextp, memory_order_acquire) &&
	       !atomic_load(&sched.shutdown)) {
		struct m *blocked = parker->park(m);

		wait_clock_tick();
		if (blocked)
			hold_take(blocked);
	}
}

/* @m stops looking for work (uncounted); returns whether it was. */
bool stop_spinning(struct m *m)
{
	if (!m->spinning)
		return false;
	m->spinning = false;
	atomic_fetch_sub(&sched.nmspinning, 1);
	return true;
}

/* A spinning M found work: stop spinning, pass the baton on. */
static void resetspinning(struct m *m)
{
	m->spinning = false;
	if (atomic_fetch_sub(&sched.nmspinning, 1) == 1)
		wakep();
}

static struct g *steal_work(struct m *m)
{
	struct p *p = m->p;
	int round, i, n = sched.nprocs;

	for (round = 0; round < 4; round++) {
		uint32_t start = fastrand(p) % n;

		for (i = 0; i < n; i++) {
			struct p *v = &sched.allp[(start + i) % n];
			struct g *g;

			if (v == p)
				continue;
			/* ring grace in the first round, runnext in the last */
			g = runqsteal(p, v, round == 3, round == 0);
			if (g)
				return g;
		}
	}
	return NULL;
}

static bool any_work(void)
{
	int i;

	if (atomic_load(&sched.gq_size) > 0)
		return true;
	for (i = 0; i < sched.nprocs; i++)
		if (!runqempty(&sched.allp[i]))
			return true;
	return false;
}

/*
 * Reap @p's I/O completions and run its due timers; @p is held by @m,
 * looking for work. That M runs the first task readied here itself, so
 * only the others call for another M (wakep), as with Go's netpoll in
 * findrunnable: waking one for each completion sent a kick to the other
 * P's ring every round trip of two tasks talking over a socket, and kept
 * them on two CPUs, where each completion wakes a thread across vCPUs.
 */
static void poll_and_timers(struct m *m, struct p *p)
{
	int64_t next = timers_next(p);

	m->ready_batch = true;
	m->readied = 0;
	if (p->poll)
		poller->reap(p);
	if (next != INT64_MAX) {
		int64_t now = (int64_t)now_ns();

		if (next <= now) {
			/* Due timers' tasks run in deadline order. */
			m->ready_fifo = true;
			timers_run(p, now);
			m->ready_fifo = false;
		}
	}
	m->ready_batch = false;
	if (m->readied > 1)
		wakep();
}

/*
 * Woken in its poller, @p (just taken back) reaps its completions. When
 * another M is spinning for work, the tasks go to it through the global
 * queue and this M goes back to sleep: the tasks then issue their next
 * operations on the spinner's ring, and two tasks talking to each other
 * end up on one processor, where a completion is delivered without
 * waking a thread on another CPU (io_uring runs it on the submitter).
 * Returns true, with sched.lock held, when it gave them away.
 */
static bool give_to_spinner(struct m *m, struct p *p)
{
	struct g *head = NULL, *tail = NULL, *g;

	poll_and_timers(m, p);
	if (!atomic_load(&sched.nmspinning) || runqempty(p))
		return false;
	/* @p goes idle again: nothing may stay held in its poller. */
	if (p->poll && poller->flush)
		poller->flush(p);
	while ((g = runqget(p))) {
		g->link = NULL;
		if (tail)
			tail->link = g;
		else
			head = g;
		tail = g;
	}
	mutex_lock(&sched.lock);
	for (g = head; g; g = head) {
		head = g->link;
		globrunqput(g);
	}
	return true;
}

/* Called between poll_idle's check and its wait: tests widen the window. */
void (*sched_poll_wait_hook)(void);

/*
 * @m left @p idle with itself as its poll_m: wait in @p's poller until a
 * completion, a timer or a kick. Returns @p, taken back, or NULL when @m
 * was handed a P (nextp), lost @p to another M, or the runtime stops.
 */
static struct p *poll_idle(struct m *m, struct p *p)
{
	atomic_fetch_add_explicit(&sched.worker_parks, 1,
				  memory_order_relaxed);
	for (;;) {
		bool mine;

		/*
		 * Counted as a sleeper before the check: once the lock is
		 * dropped, @p may be taken from us (pidleget_evict) and the
		 * kick that tells us reaped by its new holder before we wait;
		 * seeing a sleeper, the holder kicks again (poller.h).
		 */
		mutex_lock(&sched.lock);
		mine = p->poll_m == m;
		if (mine)
			atomic_fetch_add(&p->poll_sleepers, 1);
		mutex_unlock(&sched.lock);
		if (!mine)
			break;
		if (atomic_load_explicit(&m->nextp, memory_order_acquire) ||
		    atomic_load(&sched.shutdown)) {
			atomic_fetch_sub(&p->poll_sleepers, 1);
			break;
		}
		if (sched_poll_wait_hook)
			sched_poll_wait_hook();
		poller->wait(p, timers_next(p));
		wait_clock_tick();
		atomic_fetch_sub(&p->poll_sleepers, 1);
		mutex_lock(&sched.lock);
		if (atomic_load(&m->nextp) || atomic_load(&sched.shutdown) ||
		    p->poll_m != m) {
			mutex_unlock(&sched.lock);
			break;
		}
		pidleremove(p);
		p->poll_m = NULL;
		mutex_unlock(&sched.lock);
		return p;
	}
	mutex_lock(&sched.lock);
	if (p->poll_m == m)
		p->poll_m = NULL;
	mutex_unlock(&sched.lock);
	return NULL;
}

/* Find a task for @m (which holds a P), parking while there is none.
 * Returns NULL when the runtime shuts down. */
static struct g *findrunnable(struct m *m)
{
	uint64_t spin_start = 0;
	bool was_spinning, polling, gave = false;
	struct p *p, *idlep;
	struct g *g;

top:
	if (!m->p) {
		/* Lost our P in a syscall: wait to be handed one. */
		stopm(m);
		p = atomic_exchange(&m->nextp, NULL);
		if (!p)
			return NULL;	/* shutdown */
		acquirep(m, p);
	}
	p = m->p;
	if (atomic_load_explicit(&sched.shutdown, memory_order_relaxed))
		return NULL;
	/* A worker frozen by green.ko came back: it goes first (hold.c). */
	if (atomic_load_explicit(&sched.nheld, memory_order_relaxed) &&
	    hold_handback(m))
		goto top;
	poll_and_timers(m, p);
	if (global_turn(p)) {
		g = globrunqget(p, 1);
		if (g)
			goto found;
	}
	g = runqget(p);
	if (g)
		goto found;
	g = globrunqget(p, 0);
	if (g)
		goto found;
	if (sched.nprocs > 1 && (m->spinning ||
	    2 * atomic_load(&sched.nmspinning) <
	    sched.nprocs - atomic_load(&sched.npidle))) {
		if (!m->spinning) {
			m->spinning = true;
			atomic_fetch_add(&sched.nmspinning, 1);
		}
		g = steal_work(m);
		if (g)
			goto found;
		if (!spin_start)
			spin_start = now_ns();
		if (now_ns() - spin_start < SPIN_NS) {
			int i;

			for (i = 0; i < 64; i++)
				cpu_relax();
			goto top;
		}
	}

	/* Nothing: give the P back and sleep. */
	if (p->poll && poller->flush)
		poller->flush(p);
	mutex_lock(&sched.lock);
	if (atomic_load(&sched.shutdown)) {
		mutex_unlock(&sched.lock);
		return NULL;
	}
	g = globrunqget_locked(0);
	if (g) {
		mutex_unlock(&sched.lock);
		runqput_chain(p, g->link);
		goto found;
	}
idle_locked:
	if (hold_give_locked(p, false)) {
		m->p = NULL;
		stop_spinning(m);
		mutex_unlock(&sched.lock);
		goto top;
	}
	/* Frozen workers still blocked: sysmon gives them idle Ps. */
	if (sched.held)
		sysmon_wake();
	/* Nothing queued here: no wake is due (wakep_defer). */
	atomic_store_explicit(&p->wake_due, false, memory_order_relaxed);
	pidleput(p);
	polling = p_needs_poll(p);
	if (polling)
		p->poll_m = m;
	m->p = NULL;
	/* The spinner we gave tasks to may have stopped looking: wake one. */
	if (gave && atomic_load(&sched.gq_size) > 0)
		startm_locked();
	gave = false;
	/*
	 * Stop spinning while still under the lock: once it is dropped, a
	 * waker may hand @p back to us as its poll_m, counting us spinning.
	 */
	was_spinning = stop_spinning(m);
	mutex_unlock(&sched.lock);

	idlep = p;
	if (was_spinning && any_work()) {
		bool handed;

		mutex_lock(&sched.lock);
		p = atomic_exchange(&m->nextp, NULL);
		handed = p != NULL;	/* a waker gave us one, spinning set */
		if (!p && polling && idlep->poll_m == m) {
			/* Ours still: take it back rather than another. */
			pidleremove(idlep);
			idlep->poll_m = NULL;
			p = idlep;
		} else if (!p) {
			p = pidleget_evict();
		}
		if (p && !handed) {
			m->spinning = true;
			atomic_fetch_add(&sched.nmspinning, 1);
		}
		mutex_unlock(&sched.lock);
		if (p) {
			acquirep(m, p);
			spin_start = 0;
			goto top;
		}
	}
	if (polling) {
		struct p *own = poll_idle(m, idlep);

		if (own) {
			acquirep(m, own);
			spin_start = 0;
			p = own;
			if (give_to_spinner(m, p)) {
				gave = true;
				goto idle_locked;
			}
			goto top;
		}
	}
	if (!atomic_load(&m->nextp))
		stopm(m);
	p = atomic_exchange(&m->nextp, NULL);
	if (!p)
		return NULL;	/* shutdown */
	acquirep(m, p);
	spin_start = 0;
	goto top;

found:
	wake_check(p);
	if (!g_prepare(p, g)) {
		/* No stack even for a reserved task: memory is exhausted. */
		g_requeue_global(g);
		usleep(1000);
		goto top;
	}
	if (m->spinning)
		resetspinning(m);
	return g;
}

/* The M's scheduling loop on g0; returns at shutdown. */
static void schedule_loop(struct m *m)
{
	struct g *g;

	while ((g = findrunnable(m)))
		g_switch(&m->g0, g, SW_NONE, NULL);
}

static void g0_init(struct m *m)
{
	pthread_attr_t attr;
	void *lo = NULL;
	size_t size = 0;

	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, &lo, &size);
		pthread_attr_destroy(&attr);
	}
	m->g0.m = m;
	m->curg = &m->g0;
	m->tid = gettid();
	san_fiber_thread(&m->g0.san, lo, size);
}

/* An M gives back its P when it stops, so the run can finish. */
static void m_stop(struct m *m)
{
	mutex_lock(&sched.lock);
	if (m->p) {
		/* At shutdown a frozen worker takes it, block ended or not. */
		if (!hold_give_locked(m->p, true))
			pidleput(m->p);
		m->p = NULL;
	}
	m->exited = true;
	pthread_cond_broadcast(&m_exit_cond);
	mutex_unlock(&sched.lock);
}

static void *m_main(void *arg)
{
	struct m *m = arg;
	struct p *p;

	m_set_self(m);
	g0_init(m);
	overflow_thread_init(m);
	parker->thread_init(m);
	p = atomic_exchange(&m->nextp, NULL);
	if (p)
		acquirep(m, p);		/* else a spare: findrunnable parks it */
	schedule_loop(m);
	parker->thread_fini(m);
	overflow_thread_fini(m);
	m_stop(m);
	m_set_self(NULL);
	return NULL;
}

void sched_shutdown(void)
{
	struct m *m;
	int i;

	mutex_lock(&sched.lock);
	atomic_store(&sched.shutdown, true);
	while ((m = midle_pop_locked()))
		parker->unpark(m);
	hold_shutdown_locked();
	for (i = 0; i < sched.nprocs; i++)
		if (sched.allp[i].poll_m)
			poller_kick(&sched.allp[i]);
	mutex_unlock(&sched.lock);
}

/* Wait for every M but @m0 to leave schedule(), then join them. */
static void join_ms(struct m *m0)
{
	struct m *m, *next;
	bool all;

	mutex_lock(&sched.lock);
	do {
		/*
		 * Frozen workers need a P, or a grant, to leave; blocks in
		 * tasks still running find no spare now (hold.c): look
		 * again every 10 ms.
		 */
		while (sched.held && sched.pidle)
			hold_give_locked(pidleget_evict(), true);
		hold_shutdown_locked();
		all = true;
		for (m = sched.allm; m; m = m->alllink)
			if (m != m0 && !m->exited)
				all = false;
		if (!all && parker->grant) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&m_exit_cond, &sched.lock, &ts);
		} else if (!all) {
			pthread_cond_wait(&m_exit_cond, &sched.lock);
		}
	} while (!all);
	mutex_unlock(&sched.lock);
	for (m = sched.allm; m; m = next) {
		next = m->alllink;
		if (m != m0) {
			pthread_join(m->thread, NULL);
			free(m);
		}
	}
	sched.allm = NULL;
}

static int sched_init(const struct green_config *cfg)
{
	int i;

	sched.nprocs = cfg->nprocs;
	sched.stack_size = cfg->stack_size;
	sched.guard_mode = cfg->guard_mode;
	sched.allp = aligned_alloc(CACHELINE, sizeof(struct p) * cfg->nprocs);
	if (!sched.allp)
		return -ENOMEM;
	memset(sched.allp, 0, sizeof(struct p) * cfg->nprocs);
	for (i = 0; i < cfg->nprocs; i++) {
		struct p *p = &sched.allp[i];

		p->id = i;
		p->gcheck = GLOBAL_CHECK_TICKS;
		p->rand = 0x9e3779b97f4a7c15ULL * (i + 1) ^ now_ns();
		if (!p->rand)
			p->rand = 1;
		if (timers_init(p))
			return -ENOMEM;
	}
	for (i = cfg->nprocs - 1; i >= 1; i--)
		pidleput(&sched.allp[i]);
	atomic_store(&sched.goid_gen, 1);
	stack_global_init(cfg->guard_mode);
	return 0;
}

static void pollers_fini(void)
{
	int i;

	for (i = 0; i < sched.nprocs; i++)
		if (sched.allp[i].poll)
			poller->fini(&sched.allp[i]);
	poller->global_fini();
}

/*
 * Pick the I/O backend and give each P its poller. With GREEN_POLLER
 * unset, a ring that cannot be set up (locked-memory limits, old kernels)
 * means epoll for every P, with the notice poller_select prints.
 */
static int pollers_init(enum poller_choice choice)
{
	int i, ret;

	ret = poller_select(choice);
	if (ret)
		return ret;
	for (i = 0; i < sched.nprocs; i++) {
		ret = poller->init(&sched.allp[i]);
		if (!ret)
			continue;
		pollers_fini();
		if (choice != POLLER_AUTO || poller == &poller_epoll)
			return ret;
		fprintf(stderr, "libgreen: io_uring setup failed (%s); using epoll\n",
			strerror(-ret));
		return pollers_init(POLLER_EPOLL);
	}
	return 0;
}

/* Free everything and return the global state to its initial values. */
static void sched_fini(void)
{
	int i;

	for (i = 0; sched.allp && i < sched.nprocs; i++) {
		timers_fini(&sched.allp[i]);
		sched.allp[i].poll_m = NULL;
	}
	g_teardown_all();
	free(sched.allp);
	sched.allp = NULL;
	sched.nprocs = 0;
	sched.pidle = NULL;
	sched.midle = NULL;
	atomic_store(&sched.nmidle, 0);
	sched.gq.head = NULL;
	sched.gq.tail = NULL;
	sched.nm = 0;
	atomic_store(&sched.gq_size, 0);
	atomic_store(&sched.npidle, 0);
	atomic_store(&sched.nmspinning, 0);
	atomic_store(&sched.foreign_spawned, 0);
	atomic_store(&sched.worker_parks, 0);
	atomic_store(&sched.worker_wakes, 0);
	atomic_store(&sched.shutdown, false);
}

int green_run(void (*fn)(void *), void *arg)
{
	struct green_config cfg;
	bool idle = false;
	struct m *m0;
	struct g *g;
	int ret;

	if (!fn)
		return -EINVAL;
	if (!atomic_compare_exchange_strong(&sched.running, &idle, true))
		return -EBUSY;
	ret = config_read(&cfg);
	if (ret)
		goto out;
	ret = sched_init(&cfg);
	if (ret)
		goto out_fini;
	config_hold = cfg.hold;
	hold_init();
	ret = parker_select(cfg.parker);
	if (ret)
		goto out_fini;
	ret = pollers_init(cfg.poller);
	if (ret)
		goto out_parker;
	ret = overflow_install();
	if (ret)
		goto out_pollers;
	ret = sysmon_start();
	if (ret)
		goto out_signals;
	m0 = aligned_alloc(CACHELINE, sizeof(*m0));
	if (!m0) {
		ret = -ENOMEM;
		sysmon_stop();
		goto out_signals;
	}
	memset(m0, 0, sizeof(*m0));
	m0->park_id = -1;
	m0->thread = pthread_self();
	m0->alllink = NULL;
	mutex_lock(&sched.lock);	/* sysmon reads them under it */
	sched.allm = m0;
	sched.nm = 1;
	hold_spare_locked();
	mutex_unlock(&sched.lock);
	m_set_self(m0);
	g0_init(m0);
	acquirep(m0, &sched.allp[0]);
	g = stack_reserve(m0->p) ? NULL : g_alloc(m0->p);
	if (!g) {
		ret = -ENOMEM;
		sysmon_stop();
		goto out_m0;
	}
	g_init(g, atomic_fetch_add(&sched.goid_gen, 1), fn, arg);
	stat_inc(&sched.allp[0].st.spawned);	/* read by sysmon, stats */
	runqput(m0->p, g, false);

	overflow_thread_init(m0);
	parker->thread_init(m0);
	schedule_loop(m0);
	parker->thread_fini(m0);
	overflow_thread_fini(m0);
	m_stop(m0);
	sysmon_stop();
	join_ms(m0);
	ret = 0;
out_m0:
	m_set_self(NULL);
	sched.allm = NULL;
	free(m0);
out_signals:
	overflow_uninstall();
out_pollers:
	pollers_fini();
out_parker:
	parker->fini();
out_fini:
	sched_fini();
out:
	atomic_store(&sched.running, false);
	return ret;
}

int green_nprocs(void)
{
	return atomic_load(&sched.running) ? sched.nprocs : 0;
}
