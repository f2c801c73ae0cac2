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

/*
 * The same race, made likely: each round, waiters whose context is
 * cancelled or whose deadline is (almost) past race the release that
 * grants them, so many are granted as their wait ends and give the
 * tokens back. Meanwhile other tasks take and return tokens on the
 * lock-free paths, on other processors: a give-back that lost one of
 * their changes would leak tokens (the next round's acquire of all of
 * them never succeeds: the deadlock detector ends the test) or hand out
 * too many (more in use than the size, or a release of more than held).
 */
#define GB_SIZE 4
#define GB_WAITERS 6

struct giveback {
	green_sema_t s;
	green_wg_t wg, hwg;
	long rounds, done_rounds;
	int stop;
	long ok, ended, other;
	long fast, errs;		/* errs: failed releases */
	int64_t in_use, max_in_use;
};

struct gb_waiter {
	struct giveback *b;
	int64_t slack;		/* deadline from now; < 0: none */
};

/* Count @n tokens as held, and give them back to @b->s. */
static void gb_take(struct giveback *b, int64_t n)
{
	int64_t now = __atomic_add_fetch(&b->in_use, n, __ATOMIC_RELAXED);

	if (now > __atomic_load_n(&b->max_in_use, __ATOMIC_RELAXED))
		__atomic_store_n(&b->max_in_use, now, __ATOMIC_RELAXED);
}

static void gb_put(struct giveback *b, int64_t n)
{
	__atomic_sub_fetch(&b->in_use, n, __ATOMIC_RELAXED);
	if (green_sema_release(&b->s, n))
		__atomic_fetch_add(&b->errs, 1, __ATOMIC_RELAXED);
}

static void gb_waiter(void *arg)
{
	struct gb_waiter *a = arg;
	struct giveback *b = a->b;
	int r;

	if (a->slack < 0)
		r = green_sema_acquire(&b->s, 1);
	else
		r = green_sema_acquire_until(&b->s, 1,
					     green_now() + a->slack);
	if (!r) {
		__atomic_fetch_add(&b->ok, 1, __ATOMIC_RELAXED);
		gb_take(b, 1);
		gb_put(b, 1);
	} else if (r == -ECANCELED || r == -ETIMEDOUT) {
		__atomic_fetch_add(&b->ended, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&b->other, 1, __ATOMIC_RELAXED);
	}
	green_wg_done(&b->wg);
}

/*
 * Take and return a token on the fast paths while nobody queues. Rounds
 * that stop coming mean the main task is stuck: step aside then, so that
 * the deadlock detector sees it.
 */
static void gb_hammer(void *arg)
{
	struct giveback *b = arg;
	long seen = -1, idle = 0, i = 0;

	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		long r = __atomic_load_n(&b->done_rounds, __ATOMIC_RELAXED);

		if (r != seen) {
			seen = r;
			idle = 0;
		} else if (++idle > 1 << 22) {
			break;
		}
		if (!green_sema_try_acquire(&b->s, 1)) {
			__atomic_fetch_add(&b->fast, 1, __ATOMIC_RELAXED);
			gb_take(b, 1);
			gb_put(b, 1);
		}
		if ((++i & 63) == 0)
			green_yield();
	}
	green_wg_done(&b->hwg);
}

static void gb_main(void *arg)
{
	struct giveback *b = arg;
	struct gb_waiter w[GB_WAITERS];
	long i;
	int k;

	green_wg_add(&b->hwg, 2);
	green_go(gb_hammer, b);
	green_go(gb_hammer, b);
	for (i = 0; i < b->rounds; i++) {
		green_ctx_t *ctx;

		green_sema_acquire(&b->s, GB_SIZE);
		gb_take(b, GB_SIZE);
		green_ctx_with_cancel(green_ctx_background(), &ctx);
		green_wg_add(&b->wg, GB_WAITERS);
		for (k = 0; k < GB_WAITERS; k++) {
			w[k].b = b;
			/* Half cancelled, half timed out (after 0 to 3 us). */
			w[k].slack = k & 1 ? (k + i) % 4 * 1000 : -1;
			if (w[k].slack < 0)
				green_go_ctx(ctx, gb_waiter, &w[k]);
			else
				green_go(gb_waiter, &w[k]);
		}
		for (k = 0; k < (int)(i % 3); k++)
			green_yield();
		if (i & 1) {
			green_ctx_cancel(ctx);
			gb_put(b, GB_SIZE);
		} else {
			gb_put(b, GB_SIZE);
			green_ctx_cancel(ctx);
		}
		green_ctx_free(ctx);
		green_wg_wait(&b->wg);
		__atomic_store_n(&b->done_rounds, i + 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
	green_wg_wait(&b->hwg);
}

static void run_giveback(struct __test_metadata *_metadata,
			 const char *procs)
{
	struct giveback b = { .s = GREEN_SEMA_INIT(GB_SIZE),
			      .wg = GREEN_WG_INIT, .hwg = GREEN_WG_INIT,
			      .rounds = scaled(100000, 200) };

	setenv("GREEN_PROCS", procs, 1);
	ASSERT_EQ(0, green_run(gb_main, &b));
	EXPECT_EQ(b.rounds, b.done_rounds);
	EXPECT_EQ(GB_WAITERS * b.rounds, b.ok + b.ended);
	EXPECT_EQ(0, b.other);
	EXPECT_EQ(0, b.errs);
	EXPECT_LE(b.max_in_use, GB_SIZE);
	EXPECT_EQ(0, b.s.cur);	/* every token back, no waiters bit */
	if (b.s.cur || b.errs || b.max_in_use > GB_SIZE)
		TH_LOG("%ld rounds: %ld granted, %ld ended, %ld fast takes",
		       b.done_rounds, b.ok, b.ended, b.fast);
}

TEST(giveback_races_fast_paths_2_procs)
{
	run_giveback(_metadata, "2");
}

TEST(giveback_races_fast_paths_4_procs)
{
	run_giveback(_metadata, "4");
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
