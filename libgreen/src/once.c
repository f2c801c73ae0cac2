// SPDX-License-Identifier: MIT
/*
 * once.c - green_once_t, Go's sync.Once: run a function exactly once;
 * every caller returns only after it has run.
 *
 * state: 0 not run, 1 running, 2 done. Done, a call is one load. The
 * first caller runs the function outside the lock; callers arriving
 * meanwhile park on o->q (not cancellable: returning before the function
 * has run would break the promise) and are all woken when it is done. A
 * call from inside the function on the same once would wait for itself
 * forever (Go deadlocks): it returns -EDEADLK instead.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "green.h"
#include "runtime.h"
#include "semaq.h"
#include "wait.h"

#define ONCE_RUNNING 1
#define ONCE_DONE 2

static inline _Atomic uint32_t *ostate(green_once_t *o)
{
	return (_Atomic uint32_t *)&o->state;
}

void green_once_init(green_once_t *o)
{
	if (o)
		memset(o, 0, sizeof(*o));
}

/* Someone else runs it: wait until it is done. Lock held; releases it. */
static void once_wait(green_once_t *o, struct g *g)
{
	struct semaw w;

	if (!g) {
		/* Outside a task there is nothing to park: poll. */
		spin_unlock(wq_lock(&o->q));
		while (atomic_load_explicit(ostate(o), memory_order_acquire) !=
		       ONCE_DONE)
			sched_yield();
		return;
	}
	w.g = g;
	w.n = 0;
	w.token = wait_arm(g, WR_ONCE, o);
	wq_push(&o->q, &w, false);
	park_nocancel(g, wq_lock(&o->q));
}

static int once_slow(green_once_t *o, void (*fn)(void *), void *arg)
{
	struct g *g = g_current();
	uint64_t self = g ? g->id : 0;
	struct semaw *w;

	spin_lock(wq_lock(&o->q));
	switch (atomic_load_explicit(ostate(o), memory_order_acquire)) {
	case ONCE_DONE:
		spin_unlock(wq_lock(&o->q));
		return 0;
	case ONCE_RUNNING:
		if (self && o->runner == self) {
			spin_unlock(wq_lock(&o->q));
			return -EDEADLK;
		}
		once_wait(o, g);
		return 0;
	}
	atomic_store_explicit(ostate(o), ONCE_RUNNING, memory_order_relaxed);
	o->runner = self;
	spin_unlock(wq_lock(&o->q));

	fn(arg);

	spin_lock(wq_lock(&o->q));
	o->runner = 0;
	atomic_store_explicit(ostate(o), ONCE_DONE, memory_order_release);
	/* Each is claimed before it is woken: woken, it returns at once. */
	while ((w = wq_pop(&o->q)))
		wait_wake(w->g, w->token, 0);
	spin_unlock(wq_lock(&o->q));
	return 0;
}

int green_once_do(green_once_t *o, void (*fn)(void *arg), void *arg)
{
	if (!o || !fn)
		return -EINVAL;
	if (__builtin_expect(atomic_load_explicit(ostate(o),
						  memory_order_acquire) ==
			     ONCE_DONE, 1))
		return 0;
	return once_slow(o, fn, arg);
}
