/* SPDX-License-Identifier: MIT */
/*
 * semaq.h - the wait queue under every sync primitive (mutex.c,
 * rwmutex.c, cond.c, once.c, sema.c, errgroup.c), and Go's runtime
 * semaphore built on it.
 *
 * A struct green_waitq (green.h, private fields) is a spinlock, a token
 * count and a FIFO of waiters. A waiter (struct semaw) lives on its task's
 * stack for the length of the wait. Who ends a wait:
 *
 *   - a waker takes the waiter off the queue under the lock (queued goes
 *     false: the claim), then calls wait_wake() with the waiter's task and
 *     token; it never touches the waiter after the wake, since the task
 *     may have returned by then.
 *   - a cancellable wait (cond, semaphore) may also be ended by the task's
 *     context or deadline (wait.h). Such a waiter takes the lock again:
 *     still queued, it unlinks itself and reports the reason; no longer
 *     queued, a waker claimed it, and the grant stands (the primitive
 *     decides what that means: a cond wait counts as signalled, a
 *     semaphore gives the tokens back as Go's does).
 *
 * Non-cancellable waits (Go's Mutex, RWMutex and Once cannot be given
 * up) use park_nocancel(): wait_arm() and g_park_wait(), without the
 * context and deadline that wait_park() adds. Only a waker ends them.
 */
#ifndef GREEN_SEMAQ_H
#define GREEN_SEMAQ_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "green.h"
#include "lock.h"
#include "runtime.h"
#include "wait.h"

/* A task waiting on a green_waitq; on the task's stack. */
struct semaw {
	struct semaw *next, *prev;
	struct g *g;
	uint64_t token;			/* of g's wait (wait_arm) */
	int64_t n;			/* weight (semaphore), 0 elsewhere */
	bool queued;			/* on the queue; under the lock */
};

static inline _Atomic int *wq_lock(struct green_waitq *q)
{
	return (_Atomic int *)&q->lock;
}

static inline struct semaw *wq_first(struct green_waitq *q)
{
	return q->head;
}

static inline bool wq_empty(struct green_waitq *q)
{
	return !q->head;
}

/*
 * Whether anyone waits, without the lock (signal, broadcast): head is
 * written atomically for this. A waiter queues before it lets go of the
 * mutex, so a peek ordered after that by the mutex sees it.
 */
static inline bool wq_peek(struct green_waitq *q)
{
	return __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) != NULL;
}

static inline void wq_set_head(struct green_waitq *q, struct semaw *w)
{
	__atomic_store_n(&q->head, w, __ATOMIC_RELAXED);
}

/* Queue @w at the tail, or at the head with @front; lock held. */
static inline void wq_push(struct green_waitq *q, struct semaw *w, bool front)
{
	struct semaw *head = q->head, *tail = q->tail;

	w->queued = true;
	if (!head) {
		w->next = w->prev = NULL;
		wq_set_head(q, w);
		q->tail = w;
	} else if (front) {
		w->prev = NULL;
		w->next = head;
		head->prev = w;
		wq_set_head(q, w);
	} else {
		w->next = NULL;
		w->prev = tail;
		tail->next = w;
		q->tail = w;
	}
}

/* Take @w off the queue; lock held, @w queued. */
static inline void wq_unlink(struct green_waitq *q, struct semaw *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		wq_set_head(q, w->next);
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->next = w->prev = NULL;
	w->queued = false;
}

/* Claim the first waiter (NULL if none); lock held. */
static inline struct semaw *wq_pop(struct green_waitq *q)
{
	struct semaw *w = q->head;

	if (w)
		wq_unlink(q, w);
	return w;
}

/*
 * Park the calling task @g, armed by the caller, until a waker ends the
 * wait; neither its context nor its deadline does. @lock is released
 * once the task has switched away.
 */
static inline void park_nocancel(struct g *g, _Atomic int *lock)
{
	g_park_wait(lock);
	/* The waker's wait_wake() is the release we acquire here. */
	(void)atomic_load_explicit(&g->wstate, memory_order_acquire);
	g->wreason = WR_NONE;
	g->wobj = NULL;
}

/*
 * Go's runtime semaphore (semacquire/semrelease) on @q: a count of tokens
 * and the tasks waiting for one. A release hands its token straight to
 * the first waiter, or adds it to the count when nobody waits yet (the
 * waiter may be on its way: it announced itself in the primitive's state
 * word before queueing). Not cancellable.
 *
 * semacquire: take a token, parking @g until one comes (@lifo: queue at
 * the head, for a waiter that has waited before). @g NULL (outside a
 * task): poll the count with sched_yield().
 */
static inline void semacquire(struct green_waitq *q, struct g *g,
			      enum wait_reason why, const void *obj,
			      bool lifo)
{
	struct semaw w;

	for (;;) {
		spin_lock(wq_lock(q));
		if (q->count > 0) {
			q->count--;
			spin_unlock(wq_lock(q));
			return;
		}
		if (g)
			break;
		spin_unlock(wq_lock(q));
		sched_yield();
	}
	w.g = g;
	w.n = 0;
	w.token = wait_arm(g, why, obj);
	wq_push(q, &w, lifo);
	park_nocancel(g, wq_lock(q));
}

/*
 * Release @n tokens: wake up to @n waiters, count the rest. Returns true
 * if a task was woken (it goes to this processor's runnext).
 */
static inline bool semrelease_n(struct green_waitq *q, uint32_t n)
{
	bool woke = false;

	spin_lock(wq_lock(q));
	while (n) {
		struct semaw *w = wq_pop(q);
		struct g *g;
		uint64_t token;

		if (!w)
			break;
		g = w->g;
		token = w->token;
		/* Woken, @w's task returns at once: read it before. */
		wait_wake(g, token, 0);
		woke = true;
		n--;
	}
	q->count += n;
	spin_unlock(wq_lock(q));
	return woke;
}

/* Misuse of a sync primitive: -EPERM, or an abort under GREEN_DEBUG. */
int sync_misuse(const char *what);

/* sema.c: acquire for errgroup's limit, which no context ends. */
int sema_acquire(green_sema_t *s, int64_t n, int64_t deadline,
		 bool cancellable);

#endif /* GREEN_SEMAQ_H */
