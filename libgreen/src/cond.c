// SPDX-License-Identifier: MIT
/*
 * cond.c - green_cond_t, Go's sync.Cond, with the mutex passed to each
 * wait (as pthread_cond_wait) and a wait that a context or deadline ends.
 *
 * A waiter queues itself on c->q before it unlocks the mutex, so a
 * signal sent after that unlock (under the mutex or not) finds it: no
 * wakeup is lost. Its wait is armed before it queues; a signal that comes
 * before it has parked ends the wait all the same (wait.h). Signal claims
 * the first waiter, broadcast every waiter. A waiter ended by its context
 * or deadline that a signal claimed in the meantime reports the signal
 * (0), so that the signal is not lost either.
 */
#include <errno.h>
#include <string.h>

#include "green.h"
#include "runtime.h"
#include "semaq.h"
#include "wait.h"

void green_cond_init(green_cond_t *c)
{
	if (c)
		memset(c, 0, sizeof(*c));
}

int green_cond_wait_until(green_cond_t *c, green_mutex_t *m,
			  int64_t deadline)
{
	struct g *g = g_current();
	struct semaw w;
	int code;

	if (!c || !m || deadline < 0)
		return -EINVAL;
	if (!g)
		return -EPERM;
	if (!(__atomic_load_n(&m->state, __ATOMIC_RELAXED) & 1))
		return sync_misuse("cond wait without the mutex held");
	w.g = g;
	w.n = 0;
	w.token = wait_arm(g, WR_COND, c);
	spin_lock(wq_lock(&c->q));
	wq_push(&c->q, &w, false);
	spin_unlock(wq_lock(&c->q));
	code = green_mutex_unlock(m);
	if (code) {
		/* Not ours to unlock after all: take back the wait. */
		bool claimed;

		spin_lock(wq_lock(&c->q));
		claimed = !w.queued;
		if (!claimed)
			wq_unlink(&c->q, &w);
		spin_unlock(wq_lock(&c->q));
		g->wreason = WR_NONE;
		g->wobj = NULL;
		if (claimed)
			green_cond_signal(c);	/* pass the signal on */
		return code;
	}
	code = wait_park(g, w.token, NULL, deadline);
	if (code) {
		spin_lock(wq_lock(&c->q));
		if (w.queued)
			wq_unlink(&c->q, &w);
		else
			code = 0;	/* a signal claimed us first */
		spin_unlock(wq_lock(&c->q));
	}
	green_mutex_lock(m);
	return code;
}

int green_cond_wait(green_cond_t *c, green_mutex_t *m)
{
	return green_cond_wait_until(c, m, 0);
}

int green_cond_signal(green_cond_t *c)
{
	struct semaw *w;
	struct g *g = NULL;
	uint64_t token = 0;

	if (!c)
		return -EINVAL;
	if (!wq_peek(&c->q))
		return 0;
	spin_lock(wq_lock(&c->q));
	w = wq_pop(&c->q);
	if (w) {
		g = w->g;
		token = w->token;
	}
	spin_unlock(wq_lock(&c->q));
	/*
	 * After the unlock: a waiter ended meanwhile by its context sees
	 * itself claimed and returns 0 without us; g and token are copies.
	 */
	if (g)
		wait_wake(g, token, 0);
	return 0;
}

int green_cond_broadcast(green_cond_t *c)
{
	struct semaw *w;

	if (!c)
		return -EINVAL;
	if (!wq_peek(&c->q))
		return 0;
	/* Under the lock: a waiter ended by its context must find itself
	 * queued or claimed, never half way. */
	spin_lock(wq_lock(&c->q));
	while ((w = wq_pop(&c->q)))
		wait_wake(w->g, w->token, 0);
	spin_unlock(wq_lock(&c->q));
	return 0;
}
