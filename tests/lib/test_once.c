// SPDX-License-Identifier: MIT
/*
 * test_once.c - green_once_t, Go's sync.Once: the function runs exactly
 * once however many tasks race, and every caller returns only after it
 * has run.
 */
#include "kselftest_harness.h"
#include "test_util.h"

struct once_state {
	green_once_t once;
	green_wg_t wg;
	int runs;
	int ready;		/* set by the function, at its end */
	int early;		/* callers that returned before ready */
	int errs;
};

static void init_fn(void *arg)
{
	struct once_state *s = arg;

	__atomic_fetch_add(&s->runs, 1, __ATOMIC_RELAXED);
	/* Take a while (parked), so that the others arrive meanwhile. */
	green_sleep(5000000);
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELAXED);
}

static void caller(void *arg)
{
	struct once_state *s = arg;

	if (green_once_do(&s->once, init_fn, s))
		__atomic_fetch_add(&s->errs, 1, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&s->ready, __ATOMIC_RELAXED))
		__atomic_fetch_add(&s->early, 1, __ATOMIC_RELAXED);
	green_wg_done(&s->wg);
}

static void concurrent_main(void *arg)
{
	struct once_state *s = arg;
	int i;

	for (i = 0; i < 100; i++) {
		green_wg_add(&s->wg, 1);
		green_go(caller, s);
	}
	green_wg_wait(&s->wg);
	/* Done: later calls return at once, without running it. */
	green_wg_add(&s->wg, 1);
	caller(s);
}

TEST(exactly_once_callers_wait)
{
	struct once_state s = { .once = GREEN_ONCE_INIT, .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "4", 1);
	ASSERT_EQ(0, green_run(concurrent_main, &s));
	EXPECT_EQ(1, s.runs);
	EXPECT_EQ(0, s.early);
	EXPECT_EQ(0, s.errs);
}

/* Many fresh onces, raced by tasks on several processors. */
struct many {
	green_once_t once;
	green_wg_t wg;
	int runs;
	int value;		/* written by the function, plain */
	int bad;
};

static void set_value(void *arg)
{
	struct many *m = arg;

	m->runs++;		/* plain: only one may run */
	m->value = 42;
}

static void many_caller(void *arg)
{
	struct many *m = arg;

	green_once_do(&m->once, set_value, m);
	if (m->value != 42)	/* plain read: ordered by the once */
		__atomic_fetch_add(&m->bad, 1, __ATOMIC_RELAXED);
	green_wg_done(&m->wg);
}

static void many_main(void *arg)
{
	long *fails = arg, rounds = scaled(20000, 200), i;

	for (i = 0; i < rounds; i++) {
		struct many m = { .wg = GREEN_WG_INIT };
		int k;

		green_once_init(&m.once);
		green_wg_add(&m.wg, 4);
		for (k = 0; k < 4; k++)
			green_go(many_caller, &m);
		green_wg_wait(&m.wg);
		if (m.runs != 1 || m.bad)
			(*fails)++;
	}
}

TEST(race_many_onces)
{
	long fails = 0;

	setenv("GREEN_PROCS", "4", 1);
	ASSERT_EQ(0, green_run(many_main, &fails));
	EXPECT_EQ(0, fails);
}

/* Calling it again from inside the function would wait for ever. */
struct rec {
	green_once_t once;
	int inner;
	int outer;
};

static void recurse(void *arg)
{
	struct rec *r = arg;

	r->inner = green_once_do(&r->once, recurse, r);
}

static void rec_main(void *arg)
{
	struct rec *r = arg;

	r->outer = green_once_do(&r->once, recurse, r);
}

static int hits;

static void count_hit(void *arg)
{
	hits++;
}

TEST(recursion_and_misuse)
{
	struct rec r = { .once = GREEN_ONCE_INIT };
	green_once_t o = GREEN_ONCE_INIT;

	ASSERT_EQ(0, green_run(rec_main, &r));
	EXPECT_EQ(-EDEADLK, r.inner);
	EXPECT_EQ(0, r.outer);
	EXPECT_EQ(-EINVAL, green_once_do(NULL, count_hit, NULL));
	EXPECT_EQ(-EINVAL, green_once_do(&o, NULL, NULL));
	/* Outside a task it runs (once) too. */
	EXPECT_EQ(0, green_once_do(&o, count_hit, NULL));
	EXPECT_EQ(0, green_once_do(&o, count_hit, NULL));
	EXPECT_EQ(1, hits);
}

TEST_HARNESS_MAIN
