// SPDX-License-Identifier: MIT
/*
 * context.c - green_ctx_t, Go's context package: a tree of contexts, each
 * ended by hand (cancel), by its deadline or with its parent, carrying
 * values; and what ctx.h promises the wait machinery: a cancellation ends
 * every wait of every task attached to the context or to a descendant.
 *
 * The tree. Every context but the background holds a reference on its
 * parent, so ancestors outlive descendants (values and deadlines are read
 * up the chain without locks). A context that can be cancelled (made by
 * with_cancel, with_timeout or with_deadline, or below one) is linked on
 * its parent's children list, a weak link: the child takes itself off it
 * when its last reference goes. Cancelling walks down the tree
 * iteratively (a chain of value contexts can be deep, and a task's stack
 * small): under a context's lock it sets the code, detaches the children,
 * taking a reference on each that is still alive, and wakes its blocked
 * tasks; the children are then cancelled one by one, outside the lock.
 *
 * Tasks. A task holds a reference on the context attached to it
 * (g->ctx). wait_park() links the armed task on that context's list of
 * blocked tasks (ctx_wait_add); the cancel wakes each one found there
 * under the lock (or asks its wait to cancel itself at the source, for
 * I/O), and the task unlinks itself once awake. A task is linked on its
 * own context only; ancestors reach it through the tree.
 *
 * Deadlines. A context whose deadline is earlier than its parent's starts
 * a timer on the creating task's processor (timer.h); the timer holds a
 * reference, given back by the callback after it cancels, or by the
 * cancel that stops the timer first. A context past its deadline also
 * reports -ETIMEDOUT at once from green_ctx_err() and ends waits at once
 * (wait_park honours ctx_deadline), even if its timer has not run yet.
 *
 * Locks: a context's spinlock guards err's transition, its children list,
 * its blocked tasks and its done channel. No two contexts' locks are ever
 * held together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "green.h"
#include "lock.h"
#include "runtime.h"
#include "timer.h"
#include "wait.h"

enum ctx_kind {
	CTX_BACKGROUND,
	CTX_CANCEL,	/* with_cancel, with_timeout, with_deadline */
	CTX_VALUE,
};

struct green_ctx {
	_Atomic long refs;
	_Atomic int err;		/* 0, -ECANCELED or -ETIMEDOUT */
	_Atomic int lock;
	uint8_t kind;			/* enum ctx_kind */
	bool cancellable;		/* it or an ancestor is CTX_CANCEL */
	bool dl_owner;			/* its own deadline is the one */
	bool timed;			/* its timer was started */
	bool linked;			/* in the parent's children */
	int64_t deadline;		/* earliest up the chain, 0: none */
	struct green_ctx *parent;	/* a reference held; NULL: root */
	struct green_ctx *children;	/* lock */
	struct green_ctx *sib_next, *sib_prev;	/* the parent's lock */
	struct green_ctx *cnext;	/* on a cancel's work list */
	struct g *waiters;		/* blocked tasks (ctx_next); lock */
	green_chan_t *done;		/* made on demand, closed on end */
	struct gtimer timer;
	const void *key;		/* CTX_VALUE */
	void *value;
};

static struct green_ctx background = {
	.refs = 1,
	.kind = CTX_BACKGROUND,
};

green_ctx_t *green_ctx_background(void)
{
	return &background;
}

green_ctx_t *green_ctx_ref(green_ctx_t *c)
{
	if (c && c != &background)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

/* A reference on @c unless its last one is already gone (being freed). */
static bool ctx_get_unless_zero(struct green_ctx *c)
{
	long r = atomic_load_explicit(&c->refs, memory_order_relaxed);

	do {
		if (!r)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&c->refs, &r, r + 1,
							memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

/*
 * The last reference on @c is gone: no task, child or timer holds it, and
 * only its parent's children list may still point at it. Free it and
 * return the parent, whose reference it held.
 */
static struct green_ctx *ctx_destroy(struct green_ctx *c)
{
	struct green_ctx *p = c->parent;

	if (p->cancellable) {
		spin_lock(&p->lock);
		if (c->linked) {
			if (c->sib_prev)
				c->sib_prev->sib_next = c->sib_next;
			else
				p->children = c->sib_next;
			if (c->sib_next)
				c->sib_next->sib_prev = c->sib_prev;
		}
		spin_unlock(&p->lock);
	}
	if (c->done)
		green_chan_free(c->done);
	free(c);
	return p;
}

void green_ctx_unref(green_ctx_t *c)
{
	/* A loop, not recursion: freeing a chain frees up the chain. */
	while (c && c != &background &&
	       atomic_fetch_sub_explicit(&c->refs, 1,
					 memory_order_acq_rel) == 1)
		c = ctx_destroy(c);
}

/*
 * End @c with @code if it is not over yet: wake its blocked tasks, close
 * its done channel, stop its timer, and put its live children on *@work,
 * each with a reference for the caller to drop.
 */
static void ctx_cancel_one(struct green_ctx *c, int code,
			   struct green_ctx **work)
{
	struct green_ctx *ch, *next;
	green_chan_t *done;
	struct g *g;

	spin_lock(&c->lock);
	if (atomic_load_explicit(&c->err, memory_order_relaxed)) {
		spin_unlock(&c->lock);
		return;
	}
	atomic_store_explicit(&c->err, code, memory_order_release);
	for (ch = c->children; ch; ch = next) {
		next = ch->sib_next;
		ch->linked = false;
		ch->sib_next = ch->sib_prev = NULL;
		/* One whose last reference went is freeing itself: skip. */
		if (ctx_get_unless_zero(ch)) {
			ch->cnext = *work;
			*work = ch;
		}
	}
	c->children = NULL;
	/* Each task unlinks itself once awake, under this lock. */
	for (g = c->waiters; g; g = g->ctx_next) {
		if (g->wcancel)
			g->wcancel(g, code);
		else
			wait_wake(g, wait_token(g), code);
	}
	done = c->done;
	spin_unlock(&c->lock);
	if (done)
		green_chan_close(done);
	/* Stopped, the timer's reference is ours to drop; else the
	 * callback drops it. The caller holds another: @c stays. */
	if (c->timed && timer_stop(&c->timer))
		atomic_fetch_sub_explicit(&c->refs, 1, memory_order_release);
}

/* End @c and its whole subtree with @code; the caller holds @c. */
static void ctx_cancel(struct green_ctx *c, int code)
{
	struct green_ctx *work = NULL, *ch;

	ctx_cancel_one(c, code, &work);
	while ((ch = work)) {
		work = ch->cnext;
		ctx_cancel_one(ch, code, &work);
		green_ctx_unref(ch);
	}
}

static void ctx_timer_fire(void *arg, uint64_t seq)
{
	struct green_ctx *c = arg;

	ctx_cancel(c, -ETIMEDOUT);
	green_ctx_unref(c);	/* the timer's reference */
}

static int ctx_new(struct green_ctx *parent, enum ctx_kind kind,
		   int64_t deadline, struct green_ctx **out)
{
	struct green_ctx *c;
	int perr;

	if (!parent || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	atomic_init(&c->refs, 1);
	c->kind = kind;
	c->parent = green_ctx_ref(parent);
	c->cancellable = kind == CTX_CANCEL || parent->cancellable;
	c->deadline = parent->deadline;
	if (deadline && (!parent->deadline || deadline < parent->deadline)) {
		c->deadline = deadline;
		c->dl_owner = true;
		if (deadline <= (int64_t)now_ns()) {
			atomic_store(&c->err, -ETIMEDOUT);
		} else if (m_self()) {
			/* On a worker: the timer goes on its processor. */
			c->timer.when = deadline;
			c->timer.fn = ctx_timer_fire;
			c->timer.arg = c;
			atomic_store(&c->refs, 2);
			if (timer_start(&c->timer)) {
				green_ctx_unref(parent);
				free(c);
				return -ENOMEM;
			}
			c->timed = true;
		}
	}
	if (parent->cancellable) {
		spin_lock(&parent->lock);
		perr = atomic_load_explicit(&parent->err,
					    memory_order_relaxed);
		if (perr) {
			/* Born into a cancelled parent: cancelled too. */
			if (!atomic_load(&c->err))
				atomic_store(&c->err, perr);
		} else {
			c->sib_next = parent->children;
			if (c->sib_next)
				c->sib_next->sib_prev = c;
			parent->children = c;
			c->linked = true;
		}
		spin_unlock(&parent->lock);
		if (perr && c->timed && timer_stop(&c->timer))
			atomic_fetch_sub(&c->refs, 1);
	}
	*out = c;
	return 0;
}

int green_ctx_with_cancel(green_ctx_t *parent, green_ctx_t **out)
{
	return ctx_new(parent, CTX_CANCEL, 0, out);
}

int green_ctx_with_deadline(green_ctx_t *parent, int64_t deadline,
			    green_ctx_t **out)
{
	/* 0 is a time long past here, not "none": make it non-zero. */
	return ctx_new(parent, CTX_CANCEL, deadline > 0 ? deadline : 1, out);
}

int green_ctx_with_timeout(green_ctx_t *parent, int64_t ns,
			   green_ctx_t **out)
{
	int64_t now = (int64_t)now_ns();

	if (ns > INT64_MAX - now)
		ns = INT64_MAX - now;
	return green_ctx_with_deadline(parent, now + ns, out);
}

int green_ctx_with_value(green_ctx_t *parent, const void *key, void *value,
			 green_ctx_t **out)
{
	int ret;

	if (!key)
		return -EINVAL;
	ret = ctx_new(parent, CTX_VALUE, 0, out);
	if (!ret) {
		(*out)->key = key;
		(*out)->value = value;
	}
	return ret;
}

void *green_ctx_value(green_ctx_t *c, const void *key)
{
	for (; c; c = c->parent)
		if (c->kind == CTX_VALUE && c->key == key)
			return c->value;
	return NULL;
}

int green_ctx_cancel(green_ctx_t *c)
{
	if (!c || c->kind != CTX_CANCEL)
		return -EINVAL;
	ctx_cancel(c, -ECANCELED);
	return 0;
}

void green_ctx_free(green_ctx_t *c)
{
	if (!c || c == &background)
		return;
	if (c->kind == CTX_CANCEL)
		ctx_cancel(c, -ECANCELED);
	green_ctx_unref(c);
}

int green_ctx_err(green_ctx_t *c)
{
	struct green_ctx *o;
	int err;

	if (!c)
		return -EINVAL;
	err = atomic_load_explicit(&c->err, memory_order_acquire);
	if (err || !c->deadline || (int64_t)now_ns() < c->deadline)
		return err;
	/* Past the deadline, its timer not run yet: end it now. */
	for (o = c; !o->dl_owner; o = o->parent)
		;
	ctx_cancel(o, -ETIMEDOUT);
	return atomic_load_explicit(&c->err, memory_order_acquire);
}

int64_t green_ctx_deadline(green_ctx_t *c)
{
	return c ? c->deadline : 0;
}

green_chan_t *green_ctx_done(green_ctx_t *c)
{
	green_chan_t *ch, *mine;
	bool over = false;

	if (!c)
		return NULL;
	ch = __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
	if (ch)
		return ch;
	/* Made outside the lock; the loser of a race frees its own. */
	mine = green_chan_make(0, 0);
	if (!mine)
		return NULL;
	spin_lock(&c->lock);
	ch = c->done;
	if (!ch) {
		ch = mine;
		mine = NULL;
		__atomic_store_n(&c->done, ch, __ATOMIC_RELEASE);
		/* Cancelled before it existed: nobody else will close it. */
		over = atomic_load_explicit(&c->err, memory_order_relaxed);
	}
	spin_unlock(&c->lock);
	if (mine)
		green_chan_free(mine);
	if (over)
		green_chan_close(ch);
	return ch;
}

green_ctx_t *green_ctx_set(green_ctx_t *c)
{
	struct g *g = g_current();
	struct green_ctx *old;

	if (!g)
		return NULL;
	old = g->ctx;
	g->ctx = c && c != &background ? green_ctx_ref(c) : NULL;
	g->has_ctx = true;
	return old;
}

green_ctx_t *green_ctx_current(void)
{
	struct g *g = g_current();

	return g && g->ctx ? g->ctx : &background;
}

/* What green_go_ctx hands its new task. */
struct ctx_start {
	struct green_ctx *ctx;		/* a reference, now the task's */
	void (*fn)(void *arg);
	void *arg;
};

static void ctx_start(void *arg)
{
	struct ctx_start s = *(struct ctx_start *)arg;

	free(arg);
	g_current()->ctx = s.ctx;
	g_current()->has_ctx = true;
	s.fn(s.arg);
}

int green_go_ctx(green_ctx_t *c, void (*fn)(void *arg), void *arg)
{
	struct ctx_start *s;
	int ret;

	if (!c || !fn)
		return -EINVAL;
	if (c == &background)
		return green_go(fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ctx = green_ctx_ref(c);
	s->fn = fn;
	s->arg = arg;
	ret = green_go(ctx_start, s);
	if (ret) {
		green_ctx_unref(c);
		free(s);
	}
	return ret;
}

/* ---- ctx.h: what wait_park needs ---- */

int ctx_wait_add(struct green_ctx *c, struct g *g)
{
	int err;

	if (!c->cancellable)
		return 0;	/* never ends: nothing to link */
	spin_lock(&c->lock);
	err = atomic_load_explicit(&c->err, memory_order_relaxed);
	if (!err) {
		g->ctx_prev = NULL;
		g->ctx_next = c->waiters;
		if (g->ctx_next)
			g->ctx_next->ctx_prev = g;
		c->waiters = g;
	}
	spin_unlock(&c->lock);
	return err;
}

void ctx_wait_del(struct green_ctx *c, struct g *g)
{
	if (!c->cancellable)
		return;
	spin_lock(&c->lock);
	if (g->ctx_prev || c->waiters == g) {
		if (g->ctx_prev)
			g->ctx_prev->ctx_next = g->ctx_next;
		else
			c->waiters = g->ctx_next;
		if (g->ctx_next)
			g->ctx_next->ctx_prev = g->ctx_prev;
	}
	g->ctx_next = g->ctx_prev = NULL;
	spin_unlock(&c->lock);
}

int ctx_err(struct green_ctx *c)
{
	return atomic_load_explicit(&c->err, memory_order_acquire);
}

int64_t ctx_deadline(struct green_ctx *c)
{
	return c->deadline;
}

void ctx_task_exit(struct g *g)
{
	struct green_ctx *c = g->ctx;

	g->ctx = NULL;
	green_ctx_unref(c);
}
