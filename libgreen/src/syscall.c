// SPDX-License-Identifier: MIT
/*
 * syscall.c - blocking calls outside the runtime, and sysmon.
 *
 * A task about to block its worker thread (a blocking syscall, a library
 * call that waits) brackets the call with green_syscall_enter/exit. Enter
 * marks its P as P_SYSCALL and leaves it attached. If the call returns
 * quickly, exit takes the P back with one CAS. If it lasts longer than
 * SYSCALL_RETAKE_NS, sysmon wins the CAS instead and hands the P to
 * another worker (handoffp), so the P's other tasks go on running; the
 * returning task then takes an idle P if there is one, else it goes to the
 * global queue and its worker parks as a spare. At most GREEN_PROCS
 * workers run tasks at any time. This is Go's entersyscall/exitsyscall
 * and sysmon retake.
 *
 * sysmon polls every SYSMON_TICK_NS while some P is in a syscall, and
 * sleeps on a futex otherwise; green_syscall_enter wakes it, unless
 * green.ko will tell a parked spare the instant the call blocks (the
 * spare then hands the P on: syscall_handoff). Go's sysmon
 * polls with a back-off up to 10 ms instead, so its handoff can take that
 * long; an idle libgreen process does not wake at all.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "debug.h"
#include "green.h"
#include "parker.h"
#include "runtime.h"

#define SYSCALL_RETAKE_NS 20000		/* 20 us, as Go */
#define SYSMON_TICK_NS 20000
#define SYSMON_IDLE_NS 100000000	/* futex wait bound when idle */
#define SYSMON_BUSY_NS 10000000		/* the same while a P runs */
#define BACKSTOP_NS 500000		/* deferred wakes: sched.c */
#define BACKSTOP_LINGER 20		/* ticks without one before idling */

static _Atomic bool sysmon_quit;

static void futex_wait(_Atomic uint32_t *w, uint32_t val, long ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wake sysmon if it sleeps or naps: it has something to watch (hold.c). */
void sysmon_wake(void)
{
	/* Dekker with sysmon's sleep: both sides store, then load (seq_cst). */
	if (atomic_exchange(&sched.sysmon_idle, 0))
		futex_wake(&sched.sysmon_idle);
}

/*
 * Will green.ko tell a spare at once if @m blocks? It does for a
 * registered worker while an M is parked, so sysmon need not be woken
 * for the call: it would tick every 20 us on a CPU the spare and the
 * other tasks want. A call that runs long without blocking is then
 * retaken at sysmon's next look (SYSMON_BUSY_NS at the latest), as Go's
 * backed-off sysmon would; a spare taken between this test and the
 * block is the same case.
 */
static bool spare_told(struct m *m)
{
	return parker->notifies && m->park_id >= 0 &&
	       atomic_load_explicit(&sched.nmidle, memory_order_relaxed) > 0 &&
	       !atomic_load(&sched.sysmon_deep);
}

/*
 * How long sysmon may sleep: SYSMON_IDLE_NS only while every P is idle,
 * and spare_told() then wakes it for every marked call. Dekker with the
 * caller's P, counted busy before its call: one of the two sees the other.
 */
static long sysmon_bound(void)
{
	atomic_store(&sched.sysmon_deep, true);
	if (atomic_load(&sched.npidle) < sched.nprocs) {
		atomic_store(&sched.sysmon_deep, false);
		return SYSMON_BUSY_NS;
	}
	return SYSMON_IDLE_NS;
}

void green_syscall_enter(void)
{
	struct m *m = m_self();
	struct p *p;

	if (!m || !m->p || m->curg == &m->g0 || m->in_syscall)
		return;
	p = m->p;
	m->in_syscall = true;
	stat_inc(&p->st.syscalls);
	atomic_store_explicit(&p->syscall_when, now_ns(), memory_order_release);
	atomic_store(&p->sys_m, m);
	atomic_store(&p->status, P_SYSCALL);
	if (!spare_told(m))
		sysmon_wake();
}

void green_syscall_exit(void)
{
	struct m *m = m_self(), *self = m;
	struct p *p;

	if (!m || !m->in_syscall)
		return;
	m->in_syscall = false;
	p = m->p;
	if (atomic_compare_exchange_strong(&p->sys_m, &self, NULL)) {
		atomic_store(&p->status, P_RUNNING);
		return;		/* still ours */
	}
	/* sysmon handed our P to another worker: find another or wait. */
	m->p = NULL;
	p = pidleget_any();
	if (p) {
		m->p = p;
		p->m = m;
		atomic_store(&p->status, P_RUNNING);
		return;
	}
	g_switch(m->curg, &m->g0, SW_REQUEUE, NULL);
}

/*
 * Take @p from @m, in a marked call on it, if it still is; true if taken.
 * Winning sys_m from @m is what makes @p ours: a status test would take a
 * P whose M came back and lost no time entering another call (or let
 * that M keep a P already handed on).
 */
static bool retake_p(struct p *p, struct m *m)
{
	if (!m || !atomic_compare_exchange_strong(&p->sys_m, &m, NULL))
		return false;
	atomic_store(&p->status, P_IDLE);
	__atomic_fetch_add(&p->st.handoffs, 1, __ATOMIC_RELAXED);
	handoffp(p);
	return true;
}

/*
 * green.ko says @blocked's thread just blocked in the kernel: if its task
 * is in a marked call, hand its processor on now, not at sysmon's tick.
 * @blocked is blocked, so its p is stable; a stale one is harmless, as
 * only a P in P_SYSCALL is taken and green_syscall_exit copes with that.
 */
void syscall_handoff(struct m *blocked)
{
	struct p *p = __atomic_load_n(&blocked->p, __ATOMIC_RELAXED);

	if (p && atomic_load(&p->status) == P_SYSCALL)
		retake_p(p, blocked);
}

/* Take every P stuck in a syscall for too long; true if any is in one. */
static bool retake(void)
{
	uint64_t now = now_ns(), when;
	bool any = false;
	int i;

	for (i = 0; i < sched.nprocs; i++) {
		struct p *p = &sched.allp[i];
		struct m *in;

		if (atomic_load(&p->status) != P_SYSCALL)
			continue;
		any = true;
		/* Its M first: the time read after it is that call's or a
		 * later one's, and retake_p then fails. */
		in = atomic_load(&p->sys_m);
		when = atomic_load_explicit(&p->syscall_when,
					    memory_order_acquire);
		/* A call that began after @now was read is young, not old. */
		if (when > now || now - when < SYSCALL_RETAKE_NS)
			continue;
		retake_p(p, in);
	}
	return any;
}

/*
 * Sleep @ns on sysmon's tick for deferred wakes, unless a task enters a
 * marked call or a frozen worker needs a P (sysmon_wake ends the nap;
 * wakep_defer does not, sysmon being awake enough for it).
 */
static void sysmon_nap(long ns)
{
	atomic_store(&sched.sysmon_idle, SYSMON_NAPS);
	if (!retake() && !atomic_load(&sched.nheld))
		futex_wait(&sched.sysmon_idle, SYSMON_NAPS,
			   debug_sysmon_sleep(ns));
	atomic_store(&sched.sysmon_idle, 0);
}

/*
 * sysmon: takes Ps from tasks in long system calls (retake), serves
 * green.ko's frozen workers (hold.c), backs deferred wakes (sched.c
 * wakep_defer) and runs the debug ticks. It sleeps on a futex when there
 * is nothing to watch, for at most SYSMON_BUSY_NS while a P runs (a
 * deferred wake may have missed it going idle). Woken, it stays on its
 * BACKSTOP_NS tick for BACKSTOP_LINGER ticks without one before it sleeps
 * again: a ping-pong defers a wake every round trip, and a futex wake for
 * each would cost more than the wakes saved.
 */
static void *sysmon_main(void *arg)
{
	struct timespec tick = { 0, SYSMON_TICK_NS };
	int linger = 0;

	(void)arg;
	prctl(PR_SET_TIMERSLACK, 1UL);	/* 20 us means 20 us, not 50 */
	while (!atomic_load(&sysmon_quit)) {
		wait_clock_tick();
		debug_sysmon_tick();	/* dumps, traces, stalls, deadlock */
		if (retake() | hold_sysmon()) {
			nanosleep(&tick, NULL);
			continue;
		}
		if (wake_backstop())
			linger = BACKSTOP_LINGER;
		if (linger > 0) {
			linger--;
			sysmon_nap(BACKSTOP_NS);
			continue;
		}
		atomic_store(&sched.sysmon_idle, SYSMON_SLEEPS);
		if (retake() || atomic_load(&sched.nheld) || wake_backstop()) {
			atomic_store(&sched.sysmon_idle, 0);
			linger = BACKSTOP_LINGER;
			continue;
		}
		futex_wait(&sched.sysmon_idle, SYSMON_SLEEPS,
			   debug_sysmon_sleep(sysmon_bound()));
		atomic_store(&sched.sysmon_deep, false);
		/* Woken (the waker cleared the word), maybe for a deferral. */
		if (!atomic_exchange(&sched.sysmon_idle, 0))
			linger = BACKSTOP_LINGER;
	}
	return NULL;
}

int sysmon_start(void)
{
	int ret = debug_start();

	if (ret)
		return ret;
	atomic_store(&sysmon_quit, false);
	atomic_store(&sched.sysmon_idle, 0);
	wait_clock_tick();
	ret = -pthread_create(&sched.sysmon, NULL, sysmon_main, NULL);
	if (ret)
		debug_stop();
	return ret;
}

void sysmon_stop(void)
{
	atomic_store(&sysmon_quit, true);
	atomic_store(&sched.sysmon_idle, 0);
	futex_wake(&sched.sysmon_idle);
	pthread_join(sched.sysmon, NULL);
	debug_stop();
}
