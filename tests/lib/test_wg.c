// SPDX-License-Identifier: MIT
/*
 * test_wg.c - green_wg_t, Go's sync.WaitGroup: waiting parks the task,
 * many waiters are all woken, misuse is an error, reuse works.
 */
#include "kselftest_harness.h"
#include "test_util.h"

struct wgs {
	green_wg_t wg, gate;
	long woken;
	int errs[8];
	long order_ok;
};

static void waiter(void *arg)
{
	struct wgs *s = arg;

	green_wg_wait(&s->gate);
	__atomic_fetch_add(&s->woken, 1, __ATOMIC_RELAXED);
	green_wg_done(&s->wg);
}

static void many_waiters_main(void *arg)
{
	struct wgs *s = arg;
	long i, n = scaled(10000, 100);

	green_wg_add(&s->gate, 1);
	for (i = 0; i < n; i++) {
		green_wg_add(&s->wg, 1);
		green_go(waiter, s);
	}
	/* Let them all park; none may get through the closed gate. */
	for (i = 0; i < 100; i++)
		green_yield();
	s->order_ok = __atomic_load_n(&s->woken, __ATOMIC_RELAXED) == 0;
	green_wg_done(&s->gate);
	green_wg_wait(&s->wg);
	s->errs[0] = s->woken == n ? 0 : 1;
}

TEST(many_waiters_all_woken)
{
	struct wgs s = { 0 };

	ASSERT_EQ(0, green_run(many_waiters_main, &s));
	EXPECT_TRUE(s.order_ok);
	EXPECT_EQ(0, s.errs[0]);
}

static void misuse_main(void *arg)
{
	struct wgs *s = arg;
	green_wg_t wg;

	green_wg_init(&wg);
	s->errs[0] = green_wg_done(&wg);		/* negative */
	s->errs[1] = green_wg_add(&wg, -5);
	s->errs[2] = green_wg_add(&wg, 3);
	s->errs[3] = green_wg_add(&wg, 0x7fffffff);	/* overflow */
	s->errs[4] = green_wg_add(&wg, -3);
	s->errs[5] = green_wg_wait(&wg);		/* zero: returns */
	/* Reuse after reaching zero. */
	green_wg_add(&wg, 1);
	green_wg_done(&wg);
	s->errs[6] = green_wg_wait(&wg);
}

TEST(misuse_is_an_error)
{
	struct wgs s = { 0 };
	green_wg_t wg = GREEN_WG_INIT;

	ASSERT_EQ(0, green_run(misuse_main, &s));
	EXPECT_EQ(-EINVAL, s.errs[0]);
	EXPECT_EQ(-EINVAL, s.errs[1]);
	EXPECT_EQ(0, s.errs[2]);
	EXPECT_EQ(-EINVAL, s.errs[3]);
	EXPECT_EQ(0, s.errs[4]);
	EXPECT_EQ(0, s.errs[5]);
	EXPECT_EQ(0, s.errs[6]);
	/* Outside a task: waiting on zero returns, else -EPERM. */
	EXPECT_EQ(0, green_wg_wait(&wg));
	green_wg_add(&wg, 1);
	EXPECT_EQ(-EPERM, green_wg_wait(&wg));
}

/* Waiting parks the task, not the thread: on one processor, the task that
 * calls done must be able to run while the other waits. */
static void doner(void *arg)
{
	green_wg_done(arg);
}

static void park_not_block_main(void *arg)
{
	long *rounds = arg, i;

	for (i = 0; i < *rounds; i++) {
		green_wg_t wg = GREEN_WG_INIT;

		green_wg_add(&wg, 1);
		green_go(doner, &wg);
		green_wg_wait(&wg);
	}
	*rounds = -1;
}

TEST(wait_parks_task_not_thread)
{
	long rounds = scaled(100000, 1000);

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(park_not_block_main, &rounds));
	EXPECT_EQ(-1, rounds);
}

/* Stress: waiters and doners racing across processors, many rounds. */
struct race {
	long rounds;
	long fails;
};

static void race_waiter(void *arg)
{
	green_wg_t **pair = arg;

	green_wg_wait(pair[0]);
	green_wg_done(pair[1]);
}

static void race_main(void *arg)
{
	struct race *r = arg;
	long i;

	for (i = 0; i < r->rounds; i++) {
		green_wg_t a = GREEN_WG_INIT, b = GREEN_WG_INIT;
		green_wg_t *pair[2] = { &a, &b };
		int k;

		green_wg_add(&a, 1);
		green_wg_add(&b, 4);
		for (k = 0; k < 4; k++)
			green_go(race_waiter, pair);
		green_wg_done(&a);
		green_wg_wait(&b);
		if (__atomic_load_n(&b.state, __ATOMIC_RELAXED) >> 32)
			r->fails++;
	}
}

TEST(cross_processor_race)
{
	struct race r = { .rounds = scaled(50000, 500) };

	setenv("GREEN_PROCS", "4", 1);
	ASSERT_EQ(0, green_run(race_main, &r));
	EXPECT_EQ(0, r.fails);
}

TEST_HARNESS_MAIN
