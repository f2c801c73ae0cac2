// SPDX-License-Identifier: MIT
/*
 * hold.c - a worker blocked in the kernel lends its processor (green.ko).
 *
 * With green.ko and GREEN_HOLD=1 (off by default until the whole suite
 * passes on it every time), workers register with GREEN_REG_HOLD. When
 * one blocks in the kernel anywhere (a syscall libgreen does not wrap, a
 * page fault, a library's own wait), the module wakes a parked spare at
 * once and keeps the blocked worker from returning to user code until
 * the runtime grants it: the worker is frozen. The spare looks at it
 * (hold_take):
 *
 *   - its task is in green_syscall_enter/exit: sysmon's handoff, now;
 *   - it runs a task outside the runtime (lock.h's depth is 0): its P is
 *     taken and handed on as a syscall's is, and it goes on sched.held;
 *   - it is in the scheduler or holds a runtime lock: granted at once,
 *     it keeps its P (the lending would break the P's unlocked state).
 *
 * A frozen worker must have a P before it returns to user code, as a Go
 * thread leaving a syscall must; it cannot give its task up instead, as it
 * is stopped at an arbitrary instruction. Tasks are not tied to Ps, so any
 * P will do. Held workers whose block has ended get one first, before
 * other work, as Go's exitsyscall does:
 *   - an M going round schedule() gives its P up to one (hold_handback)
 *     and parks as a spare;
 *   - a P about to go idle goes to one instead (hold_give_locked);
 *   - sysmon polls while any worker is frozen and gives it an idle P
 *     (hold_sysmon), since nobody else may be awake when its block ends.
 *
 * The module wakes a spare only for blocks at depth 0 (lock.h: the depth
 * is its slot's nolend word), so the scheduler's own waits cost nothing.
 * One idle M is always kept parked as a spare (hold_spare_locked), and
 * workers register with GREEN_REG_WAIT_SPARE: a block that finds no spare
 * parked is held until the next spare parks, which takes it at once, so a
 * burst of blocks is not missed while the new spare starts.
 *
 * A new spare may itself wait for the frozen worker: fork() holds every
 * malloc arena across its clone, and a thread starting up allocates. So
 * fork runs at depth 1 (pthread_atfork), and sysmon lets a worker back
 * from a block that has waited SPARE_WAIT_NS for a spare go on with its
 * own P (hold_sysmon; never while the block lasts, or it is never lent);
 * under sched.lock and only if not lent, the module's GRANT clearing the
 * wait only while no spare has taken it, so the two never both decide.
 *
 * Limits: a frozen task holding a user lock (a malloc arena, say) that an
 * M inside the runtime then waits for leaves that M's P stuck until the
 * frozen worker gets another P; with every P stuck so, both wait. Past
 * GREEN_MAX_WORKERS (256) threads, new workers cannot register and are no
 * spares. GREEN_HOLD=0 is for programs that meet either.
 */
#include <pthread.h>

#include "debug.h"
#include "parker.h"
#include "runtime.h"

#define SPARE_WAIT_NS 1000000	/* a block waits this long for a spare */

/* Take a held worker off sched.held: one whose block has ended, or any
 * with @any; sched.lock held. NULL if none. */
static struct m *held_pick_locked(bool any)
{
	struct m **pp, *w;

	for (pp = &sched.held; (w = *pp); pp = &w->heldlink) {
		if (!any && parker->blocked(w))
			continue;
		*pp = w->heldlink;
		w->heldlink = NULL;
		w->lent = false;
		atomic_fetch_sub(&sched.nheld, 1);
		return w;
	}
	return NULL;
}

/* @w gets @p and returns to user code; sched.lock held. */
static void held_resume_locked(struct m *w, struct p *p)
{
	acquirep(w, p);
	parker->grant(w);
}

/*
 * Give @p to a held worker whose block has ended (or to any, with @any);
 * sched.lock held. True if @p went to one.
 */
bool hold_give_locked(struct p *p, bool any)
{
	struct m *w;

	if (!sched.held || !(w = held_pick_locked(any)))
		return false;
	held_resume_locked(w, p);
	return true;
}

/*
 * A spare was woken because @w blocked in the kernel (park returned it).
 * Decided under sched.lock, as one frozen worker may be named by several
 * spares (it can block more than once inside one call before it returns
 * to user code):
 *   - already lent: it stays frozen until it gets a P; nothing to do;
 *   - its grant word is 1: this notice is stale (another spare let it
 *     go, or it got a P back and runs): nothing to do;
 *   - else it is frozen and undecided: its fields are stable. Lend its P,
 *     or grant it and let it keep the P.
 */
void hold_take(struct m *w)
{
	bool lend = false, decide;
	struct p *p;

	if (!parker->grant) {
		syscall_handoff(w);	/* notifications only: marked calls */
		return;
	}
	mutex_lock(&sched.lock);
	p = w->p;
	decide = !w->lent && parker->frozen(w);
	if (decide && p && p->m == w && w->curg != &w->g0 &&
	    !w->in_syscall && *w->depth == 0 &&
	    atomic_load(&p->status) == P_RUNNING &&
	    !atomic_load(&sched.shutdown)) {
		lend = true;
		w->p = NULL;
		p->m = NULL;
		w->heldlink = sched.held;
		w->lent = true;
		sched.held = w;
		atomic_fetch_add(&sched.nheld, 1);
	} else if (decide) {
		parker->grant(w);	/* keeps its P: on it goes */
	}
	mutex_unlock(&sched.lock);
	if (!lend) {
		/* A marked call goes sysmon's way: exit copes with a lost P. */
		syscall_handoff(w);
		return;
	}
	__atomic_fetch_add(&p->st.handoffs, 1, __ATOMIC_RELAXED);
	handoffp(p);	/* most often to this very spare */
	/* Nothing to run: nobody may be awake when @w's block ends. */
	if (atomic_load(&p->status) == P_IDLE)
		sysmon_wake();
}

/*
 * From schedule(), on g0 with @m->p: if a held worker's block has ended,
 * give it the P. True if given (the M then has no P and parks).
 */
bool hold_handback(struct m *m)
{
	bool gave;

	mutex_lock(&sched.lock);
	gave = hold_give_locked(m->p, false);
	if (gave) {
		m->p = NULL;
		stop_spinning(m);
	}
	mutex_unlock(&sched.lock);
	return gave;
}

/*
 * Shutdown: a worker frozen with its P still its own (its block found no
 * spare, and none will park now) may go on; sched.lock held.
 */
void hold_shutdown_locked(void)
{
	struct m *m;

	if (!parker->grant)
		return;
	for (m = sched.allm; m; m = m->alllink)
		if (!m->lent)
			parker->grant(m);
}

/*
 * Workers back from a block that no spare has taken yet (grant word 1,
 * not lent), and in that same block since the last look, SPARE_WAIT_NS
 * ago or more: no spare came, so let them go on with their own P. Not
 * while the block lasts: granted then, it would never be lent, and a task
 * blocked for long (a pipe read on one P, waiting for a writer that needs
 * that P) would hold its P to the end; a slow spare (a new thread, under
 * a debug kernel) still comes for it. A grant that races a spare taking
 * the block is harmless: the module then leaves it held for that spare,
 * whose decision (under sched.lock, after this) finds it undecided or
 * stale.
 *
 * What is seen here may pass before the grant goes: a worker just granted
 * by another (its word already 1, its thread not yet woken) looks the
 * same, and may run and block again while this look goes on. So the grant
 * names the block that was seen (grant_block): a grant that landed on the
 * newer block would undo the spare's taking it, and with one P the run
 * hung (the CI's intermittent test_hold timeout).
 * sched.lock held.
 */
static void spare_waiters_locked(uint64_t now)
{
	struct m *m;

	for (m = sched.allm; m; m = m->alllink) {
		uint64_t block = 0;

		/* A block at depth > 0 (the scheduler's own) is never held. */
		if (!m->lent && m->park_id >= 0 && *m->depth == 0)
			block = parker->waits_spare(m);
		if (!block || block != m->spare_wait_block) {
			m->spare_wait_block = block;
			m->spare_wait_since = block ? now : 0;
			continue;
		}
		if (now - m->spare_wait_since >= SPARE_WAIT_NS)
			parker->grant_block(m, block);
	}
}

/*
 * sysmon: idle Ps for held workers whose block has ended (at shutdown,
 * for every held worker), and blocks no spare came for. True while
 * either needs watching.
 */
bool hold_sysmon(void)
{
	static uint64_t last_look;
	bool down = atomic_load(&sched.shutdown);
	uint64_t now = now_ns();
	struct m *w;

	if (!parker->grant)
		return false;
	if (atomic_load_explicit(&sched.nheld, memory_order_relaxed)) {
		mutex_lock(&sched.lock);
		while (sched.pidle && (w = held_pick_locked(down)))
			held_resume_locked(w, pidleget_evict());
		mutex_unlock(&sched.lock);
	}
	/* A rare fallback: a look per SPARE_WAIT_NS at most, never a tick. */
	if (now - last_look >= SPARE_WAIT_NS) {
		last_look = now;
		mutex_lock(&sched.lock);
		spare_waiters_locked(now);
		mutex_unlock(&sched.lock);
	}
	return atomic_load(&sched.nheld) != 0;
}

/*
 * fork() holds every malloc arena across its clone: at depth 1 it is
 * never lent (a new spare would wait for the arenas). The child has no
 * runtime, nor the module's shared memory: no depth.
 */
static void fork_prepare(void)
{
	locks_inc();
}

static void fork_parent(void)
{
	locks_dec();
}

static void fork_child(void)
{
	green_tls_depth = NULL;
}

static void atfork_once(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* green_run: fork's handlers, once per process. */
void hold_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, atfork_once);
}
