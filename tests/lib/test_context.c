// SPDX-License-Identifier: MIT
/*
 * test_context.c - green_ctx_t, Go's context package: a cancellation
 * reaches tasks blocked anywhere (semaphore, cond, sleep, channel,
 * select, I/O) in the context's whole subtree and nowhere else; deadlines
 * end with -ETIMEDOUT, a child's earlier one on its own timer; values are
 * found through ancestors; references keep contexts alive as long as
 * anything can reach them, whatever the order of frees, cancels and
 * timers (run it under ASan and Valgrind); the done channel; binding
 * contexts to tasks.
 */
#include <poll.h>

#include "kselftest_harness.h"
#include "test_util.h"

static void settle(void)
{
	int i;

	for (i = 0; i < 100; i++)
		green_yield();
}

/* ---- a cancel reaches every kind of wait in the subtree ---- */

enum { W_SEMA, W_COND, W_SLEEP, W_RECV, W_SELECT, W_READ, W_DONE, NWAIT };

struct blocked {
	green_sema_t sema;		/* empty */
	green_mutex_t m;
	green_cond_t c;
	green_chan_t *ch;		/* nobody sends */
	int pipe[2];			/* nobody writes */
	green_wg_t wg;
	green_ctx_t *ctx;		/* where the waiters are attached */
	int r[NWAIT];
	int started;
};

struct bw {
	struct blocked *b;
	int kind;
};

static void blocked_task(void *arg)
{
	struct bw *w = arg;
	struct blocked *b = w->b;
	struct green_select_case cs[2];
	char c;
	int r = 0;

	__atomic_fetch_add(&b->started, 1, __ATOMIC_RELAXED);
	switch (w->kind) {
	case W_SEMA:
		r = green_sema_acquire(&b->sema, 1);
		break;
	case W_COND:
		green_mutex_lock(&b->m);
		r = green_cond_wait(&b->c, &b->m);
		green_mutex_unlock(&b->m);
		break;
	case W_SLEEP:
		r = green_sleep(60 * 1000000000LL);
		break;
	case W_RECV:
		r = green_chan_recv(b->ch, NULL);
		break;
	case W_SELECT:
		cs[0] = (struct green_select_case){ GREEN_SELECT_RECV, 0,
						    b->ch, NULL };
		cs[1] = cs[0];
		r = green_select(cs, 2, 0, 0);
		break;
	case W_READ:
		r = (int)green_read(b->pipe[0], &c, 1);
		break;
	case W_DONE:
		/* Go's <-ctx.Done(): closed, so -EPIPE; then the error. */
		r = green_chan_recv(green_ctx_done(green_ctx_current()),
				    NULL);
		if (r == -EPIPE)
			r = green_ctx_err(green_ctx_current());
		break;
	}
	b->r[w->kind] = r;
	green_wg_done(&b->wg);
}

static void spawn_blocked(struct blocked *b, struct bw *ws)
{
	int k;

	for (k = 0; k < NWAIT; k++) {
		ws[k].b = b;
		ws[k].kind = k;
		b->r[k] = 1;
		green_wg_add(&b->wg, 1);
		green_go_ctx(b->ctx, blocked_task, &ws[k]);
	}
	while (__atomic_load_n(&b->started, __ATOMIC_RELAXED) < NWAIT)
		green_yield();
	settle();
}

static int blocked_init(struct blocked *b)
{
	memset(b, 0, sizeof(*b));
	green_sema_init(&b->sema, 1);
	green_sema_try_acquire(&b->sema, 1);
	green_wg_init(&b->wg);
	b->ch = green_chan_make(0, 0);
	return b->ch && !pipe(b->pipe) ? 0 : -1;
}

static void blocked_fini(struct blocked *b)
{
	green_chan_free(b->ch);
	close(b->pipe[0]);
	close(b->pipe[1]);
}

struct tree {
	struct blocked deep, side;
	int side_r_before[NWAIT];
	int root_err, mid_err, side_err_before, side_err_after;
	int fails;
};

static void tree_main(void *arg)
{
	struct tree *t = arg;
	green_ctx_t *root, *mid, *leaf, *side;
	struct bw wd[NWAIT], ws[NWAIT];
	int k;

	if (blocked_init(&t->deep) || blocked_init(&t->side)) {
		t->fails++;
		return;
	}
	/* root (cancel) <- mid (value) <- leaf (cancel); root <- side */
	green_ctx_with_cancel(green_ctx_background(), &root);
	green_ctx_with_value(root, "k", "v", &mid);
	green_ctx_with_cancel(mid, &leaf);
	green_ctx_with_cancel(green_ctx_background(), &side);
	t->deep.ctx = leaf;
	t->side.ctx = side;
	spawn_blocked(&t->deep, wd);
	spawn_blocked(&t->side, ws);

	/* Cancelling the root reaches the leaf's tasks, not the side's. */
	green_ctx_cancel(root);
	green_wg_wait(&t->deep.wg);
	settle();
	memcpy(t->side_r_before, t->side.r, sizeof(t->side.r));
	t->root_err = green_ctx_err(root);
	t->mid_err = green_ctx_err(mid);
	t->side_err_before = green_ctx_err(side);
	/* Free in an awkward order: parents first. */
	green_ctx_free(root);
	green_ctx_free(mid);
	green_ctx_free(side);	/* cancels the side's tasks now */
	green_wg_wait(&t->side.wg);
	green_ctx_free(leaf);
	for (k = 0; k < NWAIT; k++)
		if (t->side.r[k] != -ECANCELED)
			t->fails++;
	blocked_fini(&t->deep);
	blocked_fini(&t->side);
}

TEST(cancel_reaches_every_wait_in_subtree)
{
	struct tree t;
	int k;

	memset(&t, 0, sizeof(t));
	setenv("GREEN_PROCS", "2", 1);
	/* Valgrind stalls on a read pending in io_uring with 2 processors
	 * (a poller matter, not a context one): use epoll there. */
	if (under_valgrind())
		setenv("GREEN_POLLER", "epoll", 1);
	ASSERT_EQ(0, green_run(tree_main, &t));
	ASSERT_EQ(0, t.fails);
	for (k = 0; k < NWAIT; k++) {
		TH_LOG("wait kind %d: %d", k, t.deep.r[k]);
		EXPECT_EQ(-ECANCELED, t.deep.r[k]);
		EXPECT_EQ(1, t.side_r_before[k]);	/* still waiting */
	}
	EXPECT_EQ(-ECANCELED, t.root_err);
	EXPECT_EQ(-ECANCELED, t.mid_err);
	EXPECT_EQ(0, t.side_err_before);
}

/* ---- deadlines ---- */

struct dl {
	green_sema_t sema;
	green_wg_t wg;
	int r[6];
	int64_t d[4];
	int err[6];
	int64_t took;
};

static void dl_waiter(void *arg)
{
	struct dl *d = arg;

	d->r[0] = green_sema_acquire(&d->sema, 1);
	/* How long after the deadline it returned: never before. */
	d->took = green_now() - green_ctx_deadline(green_ctx_current());
	d->err[0] = green_ctx_err(green_ctx_current());
	green_wg_done(&d->wg);
}

static void dl_child_waiter(void *arg)
{
	struct dl *d = arg;

	d->r[1] = green_sleep(30 * 1000000000LL);
	green_wg_done(&d->wg);
}

static void dl_main(void *arg)
{
	struct dl *d = arg;
	green_ctx_t *t5, *parent, *child, *late, *past, *under;
	int64_t now = green_now();

	green_sema_init(&d->sema, 1);
	green_sema_try_acquire(&d->sema, 1);

	/* A timeout ends a blocked wait with -ETIMEDOUT. */
	green_ctx_with_timeout(green_ctx_background(), 5000000, &t5);
	green_wg_add(&d->wg, 1);
	green_go_ctx(t5, dl_waiter, d);
	green_wg_wait(&d->wg);
	green_ctx_free(t5);

	/* A child's earlier deadline: its own timer; the parent runs on. */
	green_ctx_with_timeout(green_ctx_background(), 60000000000LL,
			       &parent);
	green_ctx_with_timeout(parent, 5000000, &child);
	green_wg_add(&d->wg, 1);
	green_go_ctx(child, dl_child_waiter, d);
	green_wg_wait(&d->wg);
	d->err[1] = green_ctx_err(child);
	d->err[2] = green_ctx_err(parent);
	/* A later deadline than the parent's is the parent's. */
	green_ctx_with_deadline(parent, now + 120000000000LL, &late);
	d->d[0] = green_ctx_deadline(parent);
	d->d[1] = green_ctx_deadline(late);
	d->d[2] = green_ctx_deadline(child);
	/* A deadline already past: done at birth, and so its children. */
	green_ctx_with_deadline(green_ctx_background(), now - 1, &past);
	green_ctx_with_cancel(past, &under);
	d->err[3] = green_ctx_err(past);
	d->err[4] = green_ctx_err(under);
	d->d[3] = green_ctx_deadline(under);
	green_ctx_free(under);
	green_ctx_free(past);
	green_ctx_free(late);
	green_ctx_free(child);
	/* Cancelled by hand before its deadline: -ECANCELED. */
	green_ctx_cancel(parent);
	d->err[5] = green_ctx_err(parent);
	green_ctx_free(parent);
}

TEST(deadlines)
{
	struct dl d = { .wg = GREEN_WG_INIT };

	ASSERT_EQ(0, green_run(dl_main, &d));
	EXPECT_EQ(-ETIMEDOUT, d.r[0]);
	EXPECT_GE(d.took, 0);
	EXPECT_EQ(-ETIMEDOUT, d.err[0]);
	EXPECT_EQ(-ETIMEDOUT, d.r[1]);
	EXPECT_EQ(-ETIMEDOUT, d.err[1]);
	EXPECT_EQ(0, d.err[2]);
	EXPECT_EQ(d.d[0], d.d[1]);
	EXPECT_LT(d.d[2], d.d[0]);
	EXPECT_EQ(-ETIMEDOUT, d.err[3]);
	EXPECT_EQ(-ETIMEDOUT, d.err[4]);
	EXPECT_GT(d.d[3], 0);
	EXPECT_EQ(-ECANCELED, d.err[5]);
}

/* The deadline is honoured even where no timer could be started. */
TEST(deadline_outside_runtime)
{
	green_ctx_t *c;

	ASSERT_EQ(0, green_ctx_with_timeout(green_ctx_background(),
					    500000000, &c));
	EXPECT_EQ(0, green_ctx_err(c));
	while (green_now() <= green_ctx_deadline(c))
		usleep(10000);
	EXPECT_EQ(-ETIMEDOUT, green_ctx_err(c));
	green_ctx_free(c);
}

/* ---- values ---- */

static const char key_a[] = "a", key_b[] = "b", key_c[] = "c";
static const char other_a[] = "a";

TEST(values_through_ancestors)
{
	green_ctx_t *a, *b, *cancel, *a2;
	int va = 1, vb = 2, va2 = 3;

	/* Contexts work outside a runtime too (no deadline: no timer). */
	ASSERT_EQ(0, green_ctx_with_value(green_ctx_background(), key_a, &va,
					  &a));
	ASSERT_EQ(0, green_ctx_with_value(a, key_b, &vb, &b));
	ASSERT_EQ(0, green_ctx_with_cancel(b, &cancel));
	ASSERT_EQ(0, green_ctx_with_value(cancel, key_a, &va2, &a2));
	EXPECT_EQ(&va, green_ctx_value(cancel, key_a));
	EXPECT_EQ(&vb, green_ctx_value(cancel, key_b));
	EXPECT_EQ(&va2, green_ctx_value(a2, key_a));	/* shadowed */
	EXPECT_EQ(&vb, green_ctx_value(a2, key_b));
	EXPECT_EQ(NULL, green_ctx_value(a2, key_c));
	EXPECT_EQ(NULL, green_ctx_value(a, key_b));	/* not downwards */
	/* Keys are pointers: an equal string elsewhere is another key. */
	EXPECT_EQ(NULL, green_ctx_value(a2, other_a));
	EXPECT_EQ(NULL, green_ctx_value(green_ctx_background(), key_a));
	/* Value contexts cannot be cancelled themselves... */
	EXPECT_EQ(-EINVAL, green_ctx_cancel(a2));
	EXPECT_EQ(-EINVAL, green_ctx_cancel(green_ctx_background()));
	/* ...but end with their parent. */
	EXPECT_EQ(0, green_ctx_cancel(cancel));
	EXPECT_EQ(-ECANCELED, green_ctx_err(a2));
	EXPECT_EQ(0, green_ctx_err(b));
	/* Freed parents first: the children keep them alive. */
	green_ctx_free(a);
	green_ctx_free(b);
	green_ctx_free(cancel);
	EXPECT_EQ(&vb, green_ctx_value(a2, key_b));
	green_ctx_free(a2);
}

TEST(bad_arguments)
{
	green_ctx_t *c = NULL;

	EXPECT_EQ(-EINVAL, green_ctx_with_cancel(NULL, &c));
	EXPECT_EQ(-EINVAL, green_ctx_with_cancel(green_ctx_background(),
						 NULL));
	EXPECT_EQ(-EINVAL, green_ctx_with_value(green_ctx_background(), NULL,
						NULL, &c));
	EXPECT_EQ(-EINVAL, green_ctx_cancel(NULL));
	EXPECT_EQ(-EINVAL, green_ctx_err(NULL));
	EXPECT_EQ(0, green_ctx_err(green_ctx_background()));
	EXPECT_EQ(0, green_ctx_deadline(green_ctx_background()));
	EXPECT_EQ(NULL, green_ctx_done(NULL));
	EXPECT_EQ(-EINVAL, green_go_ctx(NULL, NULL, NULL));
	/* Outside a task: nothing to attach to. */
	EXPECT_EQ(NULL, green_ctx_set(green_ctx_background()));
	EXPECT_EQ(green_ctx_background(), green_ctx_current());
	green_ctx_free(NULL);
	green_ctx_unref(NULL);
	green_ctx_free(green_ctx_background());
	EXPECT_EQ(green_ctx_background(),
		  green_ctx_ref(green_ctx_background()));
}

/* ---- binding contexts to tasks ---- */

struct bind {
	green_ctx_t *a, *b;
	green_wg_t wg;
	green_ctx_t *seen[6];
	int r[4];
};

static void bound_task(void *arg)
{
	struct bind *x = arg;

	x->seen[4] = green_ctx_current();
	x->r[2] = green_sleep(30 * 1000000000LL);	/* a cancel ends it */
	green_wg_done(&x->wg);
}

static void bind_main(void *arg)
{
	struct bind *x = arg;
	green_ctx_t *old;

	x->seen[0] = green_ctx_current();		/* background */
	green_ctx_with_cancel(green_ctx_background(), &x->a);
	green_ctx_with_cancel(green_ctx_background(), &x->b);
	x->seen[1] = green_ctx_set(x->a);		/* NULL: had none */
	x->seen[2] = green_ctx_current();		/* a */
	old = green_ctx_set(x->b);			/* a, referenced */
	x->seen[3] = old;
	green_ctx_unref(green_ctx_set(old));		/* restore a */
	green_ctx_unref(old);
	x->seen[5] = green_ctx_current();		/* a again */
	/* A sleep of ours ends when a is cancelled. */
	green_ctx_cancel(x->a);
	x->r[0] = green_sleep(1000000);
	green_ctx_unref(green_ctx_set(NULL));
	x->r[1] = green_sleep(1000);			/* detached: fine */

	green_wg_add(&x->wg, 1);
	green_go_ctx(x->b, bound_task, x);
	settle();
	green_ctx_free(x->b);	/* the task holds its own reference */
	green_wg_wait(&x->wg);
	green_ctx_free(x->a);
}

TEST(tasks_and_contexts)
{
	struct bind x = { .wg = GREEN_WG_INIT };

	ASSERT_EQ(0, green_run(bind_main, &x));
	EXPECT_EQ(green_ctx_background(), x.seen[0]);
	EXPECT_EQ(NULL, x.seen[1]);
	EXPECT_EQ(x.a, x.seen[2]);
	EXPECT_EQ(x.a, x.seen[3]);
	EXPECT_EQ(x.b, x.seen[4]);
	EXPECT_EQ(x.a, x.seen[5]);
	EXPECT_EQ(-ECANCELED, x.r[0]);
	EXPECT_EQ(0, x.r[1]);
	EXPECT_EQ(-ECANCELED, x.r[2]);
}

/* ---- the done channel ---- */

struct done {
	int r[6];
};

static void done_main(void *arg)
{
	struct done *d = arg;
	green_ctx_t *c, *child;
	green_chan_t *ch;

	green_ctx_with_cancel(green_ctx_background(), &c);
	ch = green_ctx_done(c);
	d->r[0] = ch == green_ctx_done(c);		/* one channel */
	d->r[1] = green_chan_try_recv(ch, NULL);	/* -EAGAIN */
	green_ctx_cancel(c);
	d->r[2] = green_chan_recv(ch, NULL);		/* -EPIPE */
	/* Made after the cancel: closed at once. */
	green_ctx_with_cancel(c, &child);
	d->r[3] = green_chan_recv(green_ctx_done(child), NULL);
	d->r[4] = green_chan_try_recv(green_ctx_done(green_ctx_background()),
				      NULL);
	d->r[5] = green_ctx_done(green_ctx_background()) ==
		  green_ctx_done(green_ctx_background());
	green_ctx_free(c);
	green_ctx_free(child);
}

TEST(done_channel)
{
	struct done d;

	ASSERT_EQ(0, green_run(done_main, &d));
	EXPECT_EQ(1, d.r[0]);
	EXPECT_EQ(-EAGAIN, d.r[1]);
	EXPECT_EQ(-EPIPE, d.r[2]);
	EXPECT_EQ(-EPIPE, d.r[3]);
	EXPECT_EQ(-EAGAIN, d.r[4]);
	EXPECT_EQ(1, d.r[5]);
}

/* ---- lifetimes under fire: run under ASan/Valgrind for UAF ---- */

struct churn {
	green_wg_t wg;
	long rounds;
	long bad;
	green_sema_t sema;	/* size 1, held: waits end by context */
};

static void churn_waiter(void *arg)
{
	struct churn *c = arg;
	int r = green_sema_acquire(&c->sema, 1);

	if (r != -ECANCELED && r != -ETIMEDOUT)
		__atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
	green_wg_done(&c->wg);
}

static void churn_task(void *arg)
{
	struct churn *c = arg;
	uint64_t x = (uintptr_t)&x;
	long i;

	for (i = 0; i < c->rounds; i++) {
		green_ctx_t *root, *mid, *leaf;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Timers about to fire, children, a task on the leaf. */
		green_ctx_with_timeout(green_ctx_background(), x % 20000,
				       &root);
		green_ctx_with_value(root, key_a, NULL, &mid);
		green_ctx_with_timeout(mid, x % 30000, &leaf);
		green_wg_add(&c->wg, 1);
		green_go_ctx(leaf, churn_waiter, c);
		if (x & 1)
			green_yield();
		/* Frees in every order, racing the timers and the task. */
		switch ((x >> 8) % 3) {
		case 0:
			green_ctx_free(root);
			green_ctx_free(mid);
			green_ctx_free(leaf);
			break;
		case 1:
			green_ctx_free(leaf);
			green_ctx_free(mid);
			green_ctx_free(root);
			break;
		case 2:
			green_ctx_free(mid);
			green_ctx_free(root);
			green_ctx_free(leaf);
			break;
		}
	}
	green_wg_done(&c->wg);
}

static void churn_main(void *arg)
{
	struct churn *c = arg;
	int i;

	green_sema_init(&c->sema, 1);
	green_sema_try_acquire(&c->sema, 1);
	for (i = 0; i < 4; i++) {
		green_wg_add(&c->wg, 1);
		green_go(churn_task, c);
	}
	green_wg_wait(&c->wg);
}

TEST(free_cancel_timer_races)
{
	struct churn c = { .wg = GREEN_WG_INIT,
			   .rounds = scaled(20000, 300) };

	setenv("GREEN_PROCS", "4", 1);
	ASSERT_EQ(0, green_run(churn_main, &c));
	EXPECT_EQ(0, c.bad);
}

/* ---- cancels of I/O on another processor's ring, many at once ---- */

enum { IOC_READERS = 16 };

struct ioc {
	green_wg_t wg;
	int pipes[IOC_READERS][2];
	int started;
	long rounds, bad;
};

static void ioc_reader(void *arg)
{
	int *fds = arg;
	struct ioc *c = green_ctx_value(green_ctx_current(), key_b);
	char ch;

	__atomic_fetch_add(&c->started, 1, __ATOMIC_RELAXED);
	if (green_read(fds[0], &ch, 1) != -ECANCELED)
		__atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
	green_wg_done(&c->wg);
}

static void ioc_main(void *arg)
{
	struct ioc *c = arg;
	green_ctx_t *cc, *vc;
	long r;
	int i;

	for (i = 0; i < IOC_READERS; i++)
		if (pipe(c->pipes[i])) {
			c->bad++;
			return;
		}
	for (r = 0; r < c->rounds; r++) {
		green_ctx_with_cancel(green_ctx_background(), &cc);
		green_ctx_with_value(cc, key_b, c, &vc);
		c->started = 0;
		for (i = 0; i < IOC_READERS; i++) {
			green_wg_add(&c->wg, 1);
			green_go_ctx(vc, ioc_reader, c->pipes[i]);
		}
		while (__atomic_load_n(&c->started, __ATOMIC_RELAXED) <
		       IOC_READERS)
			green_yield();
		if (r & 1)
			settle();
		/* One kick per ring goes out; the rest find it on its way. */
		green_ctx_cancel(cc);
		green_wg_wait(&c->wg);
		green_ctx_free(vc);
		green_ctx_free(cc);
	}
	for (i = 0; i < IOC_READERS; i++) {
		close(c->pipes[i][0]);
		close(c->pipes[i][1]);
	}
}

/*
 * A cancel queued while its ring's kick was already on its way sends no
 * kick of its own. The ring's holder must still submit it, even when it
 * reaps that kick just after looking at the cancel queue and then goes
 * to sleep: this once hung about one run in 300 of the test above.
 */
TEST(io_cancels_sharing_a_kick)
{
	struct ioc c = { .wg = GREEN_WG_INIT, .rounds = scaled(3000, 100) };

	setenv("GREEN_PROCS", "2", 1);
	if (under_valgrind())
		setenv("GREEN_POLLER", "epoll", 1);
	ASSERT_EQ(0, green_run(ioc_main, &c));
	EXPECT_EQ(0, c.bad);
}

TEST_HARNESS_MAIN
