// SPDX-License-Identifier: MIT
/*
 * wait.c - blocking a task with timeouts and cancellation, and waking it
 * exactly once. The protocol is described in wait.h.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "ctx.h"
#include "green.h"
#include "lock.h"
#include "runtime.h"
#include "timer.h"
#include "wait.h"

#define PH_MASK 3ULL
#define PH_ARMED 1ULL
#define PH_PARKED 2ULL
#define PH_FIRED 3ULL
#define CODE_SHIFT 2
#define GEN_MASK (~(uint64_t)0xffffffff)

static const char *const reason_names[WR_NREASONS] = {
	[WR_NONE] = "running",
	[WR_CHAN_SEND] = "chan send",
	[WR_CHAN_RECV] = "chan receive",
	[WR_SELECT] = "select",
	[WR_SLEEP] = "sleep",
	[WR_IO] = "IO wait",
	[WR_POLL] = "poll wait",
	[WR_MUTEX] = "sync.Mutex.Lock",
	[WR_RWMUTEX] = "sync.RWMutex.Lock",
	[WR_COND] = "sync.Cond.Wait",
	[WR_SEMA] = "semaphore acquire",
	[WR_WAITGROUP] = "sync.WaitGroup.Wait",
	[WR_ONCE] = "sync.Once.Do",
	[WR_CONTEXT] = "context wait",
	[WR_ERRGROUP] = "errgroup wait",
};

const char *wait_reason_name(enum wait_reason r)
{
	return r < WR_NREASONS && reason_names[r] ? reason_names[r] : "?";
}

static inline int wstate_code(uint64_t s)
{
	return (int16_t)(uint16_t)(s >> CODE_SHIFT);
}

/*
 * When a wait began is for dumps only ("chan receive, 12 ms"), so a park
 * reads a clock that sysmon refreshes on each of its rounds (at least
 * every 10 ms while a P runs) and every M on its way back from idle,
 * instead of paying for a clock read on every park. Go keeps its
 * waitsince just as approximately (the GC fills it in).
 */
void wait_clock_tick(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	atomic_store_explicit(&sched.wait_clock,
			      (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
			      memory_order_relaxed);
}

uint64_t wait_arm(struct g *g, enum wait_reason why, const void *obj)
{
	uint64_t s = atomic_load_explicit(&g->wstate, memory_order_relaxed);
	uint64_t token = (s & GEN_MASK) + (1ULL << 32);

	g->wreason = why;
	g->wobj = obj;
	g->wsince = atomic_load_explicit(&sched.wait_clock,
					 memory_order_relaxed);
	atomic_store_explicit(&g->wstate, token | PH_ARMED,
			      memory_order_release);
	return token;
}

bool wait_wake(struct g *g, uint64_t token, int code)
{
	uint64_t s = atomic_load_explicit(&g->wstate, memory_order_acquire);
	uint64_t fired = token | ((uint64_t)(uint16_t)code << CODE_SHIFT) |
			 PH_FIRED;

	for (;;) {
		uint64_t ph = s & PH_MASK;

		if ((s & GEN_MASK) != token ||
		    (ph != PH_ARMED && ph != PH_PARKED))
			return false;
		if (atomic_compare_exchange_weak_explicit(&g->wstate, &s, fired,
							  memory_order_acq_rel,
							  memory_order_acquire))
			break;
	}
	if ((s & PH_MASK) == PH_PARKED)
		g_ready(g);
	return true;
}

/*
 * On the M that switched @g away: ARMED -> PARKED. A waker that won while
 * @g was still ARMED left the readying to us.
 */
void wait_commit(struct g *g)
{
	uint64_t s = atomic_load_explicit(&g->wstate, memory_order_acquire);

	if ((s & PH_MASK) == PH_ARMED &&
	    atomic_compare_exchange_strong_explicit(&g->wstate, &s,
						    (s & ~PH_MASK) | PH_PARKED,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return;
	g_ready(g);
}

int64_t wait_deadline(struct g *g, int64_t deadline)
{
	int64_t d = g->deadline;

	if (g->ctx) {
		int64_t c = ctx_deadline(g->ctx);

		if (c && (!d || c < d))
			d = c;
	}
	if (deadline > 0 && (!d || deadline < d))
		d = deadline;
	return d;
}

static void wait_timer_fire(void *arg, uint64_t token)
{
	wait_wake(arg, token, -ETIMEDOUT);
}

int wait_park(struct g *g, uint64_t token, _Atomic int *lock,
	      int64_t deadline)
{
	struct gtimer t = { 0 };
	bool timed = false, linked = false;
	uint64_t s;
	int code;

	if (g->ctx) {
		code = ctx_wait_add(g->ctx, g);
		if (!code)
			linked = true;
		else if (g->wcancel)
			g->wcancel(g, code);	/* the source ends the wait */
		else
			wait_wake(g, token, code);
	}
	if (deadline >= 0 && !g->wcancel) {
		deadline = wait_deadline(g, deadline);
		if (deadline > 0 && deadline <= (int64_t)now_ns()) {
			wait_wake(g, token, -ETIMEDOUT);
		} else if (deadline > 0) {
			t.when = deadline;
			t.fn = wait_timer_fire;
			t.arg = g;
			t.seq = token;
			if (timer_start(&t))
				wait_wake(g, token, -ENOMEM);
			else
				timed = true;
		}
	}
	s = atomic_load_explicit(&g->wstate, memory_order_acquire);
	if ((s & PH_MASK) == PH_FIRED) {
		/*
		 * Ended before parking: no switch. A deadline already past
		 * still yields, so that a task retrying in a loop cannot
		 * keep its processor (and that processor's timers) forever.
		 */
		if (lock)
			spin_unlock(lock);
		if (wstate_code(s) == -ETIMEDOUT)
			green_yield();
	} else {
		g_park_wait(lock);
		s = atomic_load_explicit(&g->wstate, memory_order_acquire);
	}
	if (timed)
		timer_stop(&t);
	if (linked)
		ctx_wait_del(g->ctx, g);
	g->wreason = WR_NONE;
	g->wobj = NULL;
	return wstate_code(s);
}
