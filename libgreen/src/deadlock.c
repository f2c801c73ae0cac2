// SPDX-License-Identifier: MIT
/*
 * deadlock.c - "all tasks are asleep - deadlock!", as Go says it.
 *
 * The runtime is deadlocked when no task can ever run again: every task
 * is parked, and nothing that could wake one is pending. Inside the
 * runtime, what can wake a task is another task (none runs), a timer (a
 * P's heap is not empty), an I/O completion (a poller is busy) or a task
 * coming back from a blocking call (its worker is not idle). So:
 *
 *   1. The last worker to go idle notices, in stopm with sched.lock held
 *      (deadlock_idle_locked): every P idle, every run queue empty, no
 *      timer on any P, no I/O in flight, and every M idle (on the idle
 *      list, or waiting in an idle P's poller). It records the time and
 *      a progress count (tasks switched to, workers woken, foreign
 *      spawns).
 *   2. sysmon, deadlockwait ms later (default 1000), takes sched.lock,
 *      checks all of that again, that the progress count has not moved,
 *      and that every task is parked (G_WAITING). Only then does it
 *      report: the message and a dump on stderr, and exit(2) (or go on
 *      with deadlock=continue).
 *
 * What the runtime cannot see: a thread outside it that will later wake
 * a task (a channel send or green_go from a plain thread, a context
 * cancelled from a signal handler's helper thread). Go has no such
 * threads; libgreen does, which is why step 2 waits. A program whose
 * outside threads can leave all its tasks waiting for longer than that
 * should raise deadlockwait or set deadlock=off.
 */
#include <stdlib.h>
#include <unistd.h>

#include "debug.h"
#include "poller.h"
#include "runq.h"
#include "timer.h"

static struct {
	_Atomic uint64_t since;		/* last seen quiet; 0: not */
	uint64_t progress;		/* progress() then; sched.lock */
} dl;

static uint64_t progress(void)
{
	uint64_t n = atomic_load(&sched.worker_wakes) +
		     atomic_load(&sched.foreign_spawned);
	int i;

	for (i = 0; i < sched.nprocs; i++) {
		struct p *p = &sched.allp[i];

		n += __atomic_load_n(&p->st.tasks_run, __ATOMIC_RELAXED) +
		     __atomic_load_n(&p->st.yields, __ATOMIC_RELAXED) +
		     __atomic_load_n(&p->st.spawned, __ATOMIC_RELAXED);
	}
	return n;
}

/* Nothing runs, and nothing inside the runtime can start; lock held. */
static bool quiet_locked(void)
{
	int i, idle = 0;
	struct m *m;

	if (atomic_load(&sched.npidle) != sched.nprocs ||
	    atomic_load(&sched.gq_size) ||
	    atomic_load_explicit(&sched.shutdown, memory_order_relaxed))
		return false;
	for (i = 0; i < sched.nprocs; i++) {
		struct p *p = &sched.allp[i];

		if (!runqempty(p) || timers_next(p) != INT64_MAX ||
		    (p->poll && poller->busy(p)))
			return false;
		if (p->poll_m)
			idle++;
	}
	for (m = sched.midle; m; m = m->link)
		idle++;
	return idle >= sched.nm;
}

/* Is every task parked? A racing foreign wake is caught by progress(). */
static bool all_parked(void)
{
	struct gchunk *c;
	unsigned int i;
	uint8_t st;

	mutex_lock(&sched.gfree_lock);
	c = sched.chunks;
	mutex_unlock(&sched.gfree_lock);
	for (; c; c = c->next) {
		for (i = 0; i < c->n; i++) {
			st = atomic_load(&c->gs[i].status);
			if (st == G_RUNNABLE || st == G_RUNNING)
				return false;
		}
	}
	return true;
}

void deadlock_idle_locked(void)
{
	if (debug_opts.deadlock == DL_OFF ||
	    atomic_load(&sched.npidle) != sched.nprocs || !quiet_locked())
		return;
	dl.progress = progress();
	atomic_store(&dl.since, now_ns());
}

static void report(void)
{
	bool fatal = debug_opts.deadlock == DL_EXIT;

	fprintf(stderr, "libgreen: %sall tasks are asleep - deadlock!%s\n",
		fatal ? "fatal error: " : "",
		fatal ? "" : " (GREEN_DEBUG=deadlock=continue: going on)");
	green_dump(stderr);
	if (!fatal)
		return;
	debug_exit(2);
}

void deadlock_tick(uint64_t now)
{
	uint64_t since = atomic_load_explicit(&dl.since, memory_order_relaxed);
	bool dead;

	if (!since || now < since + debug_opts.deadlock_wait_ns)
		return;
	mutex_lock(&sched.lock);
	if (atomic_load(&dl.since) != since) {
		/* Seen quiet again meanwhile: wait from then on. */
		mutex_unlock(&sched.lock);
		return;
	}
	atomic_store(&dl.since, 0);
	dead = quiet_locked() && progress() == dl.progress && all_parked();
	mutex_unlock(&sched.lock);
	if (dead)
		report();
}

void deadlock_reset(void)
{
	atomic_store(&dl.since, 0);
}

long deadlock_sleep(long ns, uint64_t now)
{
	uint64_t since = atomic_load_explicit(&dl.since, memory_order_relaxed);
	uint64_t due;

	if (!since)
		return ns;
	due = since + debug_opts.deadlock_wait_ns;
	if (due <= now)
		return 0;
	return due - now < (uint64_t)ns ? (long)(due - now) : ns;
}
