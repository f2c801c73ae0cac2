// SPDX-License-Identifier: MIT
/*
 * test_steal.c - work spreads across processors: tasks spawned on one P
 * are stolen and run by the others, as green_stats and green_proc_id show.
 */
#include "kselftest_harness.h"
#include "test_util.h"

#define MAXP 64

struct spread {
	green_wg_t wg;
	long ntasks;
	long ran_on[MAXP];	/* tasks that ran on each P */
	struct green_stats st;
	struct green_proc_stats ps[MAXP];
	int nprocs;
};

static void burn(void *arg)
{
	struct spread *s = arg;
	volatile unsigned long x = 0;
	int i, p;

	for (i = 0; i < 20000; i++)
		x += i;
	p = green_proc_id();
	if (p >= 0 && p < MAXP)
		__atomic_fetch_add(&s->ran_on[p], 1, __ATOMIC_RELAXED);
	green_wg_done(&s->wg);
}

/*
 * Rounds of 100 tasks: they fit in P0's local queue (256), so no overflow
 * to the global queue; the other Ps can only get them by stealing.
 */
static void spread_main(void *arg)
{
	struct spread *s = arg;
	long i;

	for (i = 0; i < s->ntasks; i++) {
		green_wg_add(&s->wg, 1);
		if (green_go(burn, s))
			green_wg_done(&s->wg);
		if (i % 100 == 99)
			green_wg_wait(&s->wg);
	}
	green_wg_wait(&s->wg);
	s->st.size = sizeof(s->st);
	s->nprocs = green_stats(&s->st, s->ps, MAXP);
}

static void check_spread(struct __test_metadata *_metadata, const char *procs)
{
	long total = 0, steals = 0;
	struct spread *s;
	int i, used = 0;

	if (under_valgrind())
		SKIP(return, "valgrind runs one thread at a time: no stealing to see");
	s = calloc(1, sizeof(*s));
	setenv("GREEN_PROCS", procs, 1);
	s->ntasks = scaled(20000, 500);
	ASSERT_EQ(0, green_run(spread_main, s));
	ASSERT_EQ(atoi(procs), s->nprocs);
	for (i = 0; i < s->nprocs; i++) {
		total += s->ran_on[i];
		steals += s->ps[i].steals;
		used += s->ran_on[i] > 0;
		TH_LOG("P%d ran %ld tasks, stole %lu times (%lu tasks)", i,
		       s->ran_on[i], (unsigned long)s->ps[i].steals,
		       (unsigned long)s->ps[i].stolen);
	}
	EXPECT_EQ(s->ntasks, total);
	/* All spawned on P0's queue; the others only got work by stealing. */
	EXPECT_GT(steals, 0);
	for (i = 1; i < s->nprocs; i++)
		EXPECT_EQ(0, (long)s->ps[i].global_gets);
	EXPECT_GE(used, 2);
	EXPECT_EQ(s->ntasks + 1, (long)s->st.tasks_spawned);
	/* Main, and at most one task per P between its done and its exit. */
	EXPECT_GE((long)s->st.tasks_live, 1);
	EXPECT_LE((long)s->st.tasks_live, 1 + s->nprocs);
	EXPECT_STREQ(expected_parker(), s->st.parker);
	free(s);
}

TEST(stealing_spreads_work_2)
{
	check_spread(_metadata, "2");
}

/* More processors than CPUs works too. */
TEST(stealing_spreads_work_8)
{
	check_spread(_metadata, "8");
}

static void stats_main(void *arg)
{
	int *ret = arg;
	struct green_stats st = { .size = 3 };

	ret[0] = green_stats(&st, NULL, 0);
	st.size = sizeof(st);
	ret[1] = green_stats(&st, NULL, 4);
	ret[2] = green_stats(NULL, NULL, 0);
	ret[3] = green_stats(&st, NULL, 0);
}

TEST(stats_errors)
{
	struct green_stats st = { .size = sizeof(st) };
	int ret[4];

	EXPECT_EQ(-EPERM, green_stats(&st, NULL, 0));
	setenv("GREEN_PROCS", "3", 1);
	ASSERT_EQ(0, green_run(stats_main, ret));
	EXPECT_EQ(-EINVAL, ret[0]);
	EXPECT_EQ(-EINVAL, ret[1]);
	EXPECT_EQ(-EINVAL, ret[2]);
	EXPECT_EQ(3, ret[3]);
}

TEST_HARNESS_MAIN
