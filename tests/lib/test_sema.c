// SPDX-License-Identifier: MIT
/*
 * test_sema.c - green_sema_t, a weighted semaphore (Go's
 * x/sync/semaphore): FIFO service with weights, bounded concurrency under
 * contention, cancellation and deadlines that give no tokens away, misuse.
 */
#include "kselftest_harness.h"
#include "test_util.h"

static void settle(void)
{
	int i;

	for (i = 0; i < 100; i++)
		green_yield();
}

/* ---- FIFO with weights ---- */

struct fifo {
	green_sema_t s;
	green_wg_t wg;
	char order[8];
	int n;
	int woken_after_1, woken_after_5;
	int try_with_waiters;
	struct fifo_arg {
		struct fifo *f;
		char name;
		int64_t weight;
	} args[3];
	int errs;
};

static void fifo_waiter(void *arg)
{
	struct fifo_arg *a = arg;
	struct fifo *f = a->f;

	if (green_sema_acquire(&f->s, a->weight))
		f->errs++;
	f->order[f->n++] = a->name;
	green_wg_done(&f->wg);
}

static void fifo_main(void *arg)
{
	struct fifo *f = arg;
	static const struct { char name; int64_t w; } who[3] = {
		{ 'A', 5 }, { 'B', 1 }, { 'C', 4 },
	};
	int i;

	green_sema_acquire(&f->s, 10);
	for (i = 0; i < 3; i++) {
		f->args[i].f = f;
		f->args[i].name = who[i].name;
		f->args[i].weight = who[i].w;
		green_wg_add(&f->wg, 1);
		green_go(fifo_waiter, &f->args[i]);
		settle();	/* one processor: queued before the next */
	}
	green_sema_release(&f->s, 1);
	settle();
	/* B (1) fits, but A (5) is first: nobody goes. */
	f->woken_after_1 = f->n;
	f->try_with_waiters = green_sema_try_acquire(&f->s, 1);
	green_sema_release(&f->s, 4);
	settle();
	f->woken_after_5 = f->n;	/* A */
	green_sema_release(&f->s, 1);	/* B */
	settle();
	green_sema_release(&f->s, 4);	/* C */
	green_wg_wait(&f->wg);
	green_sema_release(&f->s, 10);
}

TEST(fifo_with_weights)
{
	struct fifo f = { .wg = GREEN_WG_INIT };

	ASSERT_EQ(0, green_sema_init(&f.s, 10));
	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(fifo_main, &f));
	EXPECT_EQ(0, f.woken_after_1);
	EXPECT_EQ(-EAGAIN, f.try_with_waiters);
	EXPECT_EQ(1, f.woken_after_5);
	ASSERT_EQ(3, f.n);
	EXPECT_EQ('A', f.order[0]);
	EXPECT_EQ('B', f.order[1]);
	EXPECT_EQ('C', f.order[2]);
	EXPECT_EQ(0, f.errs);
	EXPECT_EQ(0, f.s.cur);
}

/* ---- weights never exceed the size, across processors ---- */

struct bound {
	green_sema_t s;
	green_wg_t wg;
	long iters;
	int64_t in_use, max_in_use;
	long errs;
};

static void bound_task(void *arg)
{
	struct bound *b = arg;
	uint64_t x = (uint64_t)(uintptr_t)&x;
	long i;

	for (i = 0; i < b->iters; i++) {
		int64_t w, now;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w = 1 + x % 3;
		if (green_sema_acquire(&b->s, w)) {
			__atomic_fetch_add(&b->errs, 1, __ATOMIC_RELAXED);
			continue;
		}
		now = __atomic_add_fetch(&b->in_use, w, __ATOMIC_RELAXED);
		if (now > __atomic_load_n(&b->max_in_use, __ATOMIC_RELAXED))
			__atomic_store_n(&b->max_in_use, now,
					 __ATOMIC_RELAXED);
		if ((i & 7) == 0)
			green_yield();
		__atomic_sub_fetch(&b->in_use, w, __ATOMIC_RELAXED);
		if (green_sema_release(&b->s, w))
			__atomic_fetch_add(&b->errs, 1, __ATOMIC_RELAXED);
	}
	green_wg_done(&b->wg);
}

static void bound_main(void *arg)
{
	struct bound *b = arg;
	int i;

	for (i = 0; i < 8; i++) {
		green_wg_add(&b->wg, 1);
		green_go(bound_task, b);
	}
	green_wg_wait(&b->wg);
}

static void run_bound(struct __test_metadata *_metadata, const char *procs)
{
	struct bound b = { .s = GREEN_SEMA_INIT(4), .wg = GREEN_WG_INIT,
			   .iters = scaled(100000, 1000) };

	setenv("GREEN_PROCS", procs, 1);
	ASSERT_EQ(0, green_run(bound_main, &b));
	EXPECT_EQ(0, b.errs);
	EXPECT_LE(b.max_in_use, 4);
	EXPECT_GE(b.max_in_use, 2);
	EXPECT_EQ(0, b.s.cur);	/* all back, no waiters bit */
}

TEST(bounded_2_procs)
{
	run_bound(_metadata, "2");
}

TEST(bounded_4_procs)
{
	run_bound(_metadata, "4");
}

/* ---- cancellation and deadlines ---- */

struct cancel {
	green_sema_t s;
	green_wg_t wg;
	green_ctx_t *ctx;
	int r[10];
	char order[4];
	int n;
};

static void cancelled_acquirer(void *arg)
{
	struct cancel *c = arg;

	c->r[0] = green_sema_acquire(&c->s, 5);	/* head, cancelled */
	green_wg_done(&c->wg);
}

static void small_acquirer(void *arg)
{
	struct cancel *c = arg;

	c->r[1] = green_sema_acquire(&c->s, 1);	/* behind it */
	c->order[c->n++] = 'B';
	green_sema_release(&c->s, 1);
	green_wg_done(&c->wg);
}

static void cancel_main(void *arg)
{
	struct cancel *c = arg;
	green_ctx_t *done;

	green_sema_acquire(&c->s, 8);
	green_ctx_with_cancel(green_ctx_background(), &c->ctx);
	green_wg_add(&c->wg, 2);
	green_go_ctx(c->ctx, cancelled_acquirer, c);
	settle();
	green_go(small_acquirer, c);
	settle();
	c->order[c->n++] = 'M';
	/* The big one leaves the head: the small one behind it fits. */
	green_ctx_cancel(c->ctx);
	green_wg_wait(&c->wg);
	green_ctx_free(c->ctx);

	/* Deadlines: the call's and the task's own. */
	c->r[2] = green_sema_acquire_until(&c->s, 3, green_now() + 2000000);
	green_deadline_set(green_now() + 2000000);
	c->r[3] = green_sema_acquire(&c->s, 3);
	green_deadline_set(0);
	green_sema_release(&c->s, 8);
	c->r[4] = green_sema_try_acquire(&c->s, 10); /* nothing leaked */
	green_sema_release(&c->s, 10);

	/* A context done before the call fails it, tokens free or not. */
	green_ctx_with_cancel(green_ctx_background(), &done);
	green_ctx_cancel(done);
	green_ctx_unref(green_ctx_set(done));
	c->r[5] = green_sema_acquire(&c->s, 1);
	c->r[6] = green_sema_try_acquire(&c->s, 1);	/* not a wait */
	green_sema_release(&c->s, 1);
	green_ctx_unref(green_ctx_set(NULL));
	green_ctx_unref(done);
	c->r[7] = green_sema_acquire(&c->s, 0);
	c->r[8] = green_sema_acquire(&c->s, 11);
	c->r[9] = green_sema_release(&c->s, 1);		/* none held */
}

TEST(cancel_and_deadline_give_nothing_away)
{
	struct cancel c = { .wg = GREEN_WG_INIT };

	ASSERT_EQ(0, green_sema_init(&c.s, 10));
	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(cancel_main, &c));
	EXPECT_EQ(-ECANCELED, c.r[0]);
	EXPECT_EQ(0, c.r[1]);
	ASSERT_EQ(2, c.n);
	EXPECT_EQ('M', c.order[0]);
	EXPECT_EQ('B', c.order[1]);
	EXPECT_EQ(-ETIMEDOUT, c.r[2]);
	EXPECT_EQ(-ETIMEDOUT, c.r[3]);
	EXPECT_EQ(0, c.r[4]);
	EXPECT_EQ(-ECANCELED, c.r[5]);
	EXPECT_EQ(0, c.r[6]);
	EXPECT_EQ(0, c.r[7]);
	EXPECT_EQ(-EINVAL, c.r[8]);
	EXPECT_EQ(-EINVAL, c.r[9]);
	EXPECT_EQ(0, c.s.cur);
}

/*
 * Releases racing with cancellations across processors: tokens granted
 * to a waiter whose context ended at the same time are given back, so at
 * the end every token is free again.
 */
struct churn {
	green_sema_t s;
	green_wg_t wg;
	long rounds;
	long ok, cancelled, other;
};

static void churn_waiter(void *arg)
{
	struct churn *c = arg;
	int r = green_sema_acquire(&c->s, 1);

	if (!r) {
		__atomic_fetch_add(&c->ok, 1, __ATOMIC_RELAXED);
		green_sema_release(&c->s, 1);
	} else if (r == -ECANCELED) {
		__atomic_fetch_add(&c->cancelled, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&c->other, 1, __ATOMIC_RELAXED);
	}
	green_wg_done(&c->wg);
}

static void churn_main(void *arg)
{
	struct churn *c = arg;
	long i;

	for (i = 0; i < c->rounds; i++) {
		green_ctx_t *ctx;
		int k;

		green_sema_acquire(&c->s, 2);
		green_ctx_with_cancel(green_ctx_background(), &ctx);
		green_wg_add(&c->wg, 3);
		for (k = 0; k < 3; k++)
			green_go_ctx(ctx, churn_waiter, c);
		if (i & 1)
			green_yield();
		green_sema_release(&c->s, 2);
		green_ctx_free(ctx);
		green_wg_wait(&c->wg);
	}
}

TEST(release_races_cancel)
{
	struct churn c = { .s = GREEN_SEMA_INIT(2), .wg = GREEN_WG_INIT,
			   .rounds = scaled(20000, 200) };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(churn_main, &c));
	EXPECT_EQ(3 * c.rounds, c.ok + c.cancelled);
	EXPECT_EQ(0, c.other);
	EXPECT_EQ(0, c.s.cur);
}

TEST(init_and_misuse)
{
	green_sema_t s;

	EXPECT_EQ(-EINVAL, green_sema_init(&s, 0));
	EXPECT_EQ(-EINVAL, green_sema_init(NULL, 1));
	ASSERT_EQ(0, green_sema_init(&s, 2));
	EXPECT_EQ(-EINVAL, green_sema_acquire(NULL, 1));
	EXPECT_EQ(-EINVAL, green_sema_acquire(&s, -1));
	EXPECT_EQ(-EINVAL, green_sema_try_acquire(&s, 3));
	EXPECT_EQ(-EINVAL, green_sema_release(&s, -1));
	/* Outside a task: what needs no waiting works, the rest -EPERM. */
	EXPECT_EQ(0, green_sema_acquire(&s, 2));
	EXPECT_EQ(-EPERM, green_sema_acquire(&s, 1));
	EXPECT_EQ(-EAGAIN, green_sema_try_acquire(&s, 1));
	EXPECT_EQ(-EINVAL, green_sema_release(&s, 3));
	EXPECT_EQ(0, green_sema_release(&s, 2));
	EXPECT_EQ(0, s.cur);
}

TEST_HARNESS_MAIN
