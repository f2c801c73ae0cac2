// SPDX-License-Identifier: MIT
/*
 * test_run.c - green_run's life cycle: twice in a row, nested, from two
 * threads at once, tasks left behind when the first task returns, and
 * spawning from a thread that is not a worker.
 */
#include <pthread.h>

#include "kselftest_harness.h"
#include "test_util.h"

static void add_one(void *arg)
{
	__atomic_fetch_add((long *)arg, 1, __ATOMIC_RELAXED);
}

struct counted {
	long *count;
	green_wg_t *wg;
};

static void add_one_done(void *arg)
{
	struct counted *c = arg;

	add_one(c->count);
	green_wg_done(c->wg);
}

/* Spawn 1000 tasks that each add one to *arg, and join them. */
static void spawn_some(void *arg)
{
	green_wg_t wg = GREEN_WG_INIT;
	struct counted c = { arg, &wg };
	int i;

	for (i = 0; i < 1000; i++) {
		green_wg_add(&wg, 1);
		if (green_go(add_one_done, &c))
			green_wg_done(&wg);
	}
	green_wg_wait(&wg);
}

TEST(run_twice_in_a_row)
{
	long count = 0;
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, green_run(spawn_some, &count));
		EXPECT_EQ(1000 * (i + 1), count);
		EXPECT_EQ(0, green_nprocs());
	}
}

static void nested(void *arg)
{
	*(int *)arg = green_run(add_one, NULL);
}

TEST(nested_run_is_busy)
{
	int ret = 0;

	ASSERT_EQ(0, green_run(nested, &ret));
	EXPECT_EQ(-EBUSY, ret);
}

/* Two threads call green_run at once: one runs, the other gets -EBUSY. */
static void slow_main(void *arg)
{
	int *started = arg;

	__atomic_store_n(started, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(started, __ATOMIC_ACQUIRE) != 2)
		green_yield();
}

static void *second_run(void *arg)
{
	int *started = arg;
	long ret;

	while (!__atomic_load_n(started, __ATOMIC_ACQUIRE))
		usleep(100);
	ret = green_run(add_one, NULL);
	__atomic_store_n(started, 2, __ATOMIC_RELEASE);
	return (void *)ret;
}

TEST(concurrent_runs_are_busy)
{
	int started = 0;
	pthread_t t;
	void *ret;

	ASSERT_EQ(0, pthread_create(&t, NULL, second_run, &started));
	ASSERT_EQ(0, green_run(slow_main, &started));
	pthread_join(t, &ret);
	EXPECT_EQ(-EBUSY, (long)ret);
}

/* Tasks parked forever or still queued when main returns are discarded;
 * the run ends, and (under valgrind) nothing leaks. */
static void park_forever(void *arg)
{
	green_wg_wait(arg);
}

static void leave_tasks_behind(void *arg)
{
	static green_wg_t never;
	long i;

	green_wg_init(&never);
	green_wg_add(&never, 1);
	for (i = 0; i < 1000; i++)
		green_go(park_forever, &never);
	for (i = 0; i < 100; i++)
		green_yield();
	for (i = 0; i < 1000; i++)
		green_go(add_one, arg);	/* may or may not run */
}

TEST(tasks_left_behind_are_discarded)
{
	long count = 0;

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(leave_tasks_behind, &count));
	EXPECT_LE(count, 1000);
	/* And the runtime starts clean again. */
	count = 0;
	ASSERT_EQ(0, green_run(spawn_some, &count));
	EXPECT_EQ(1000, count);
}

/* A plain thread may spawn tasks into a running runtime. */
struct foreign {
	green_wg_t wg;
	long count;
	int ret[100];
	bool go;
};

static void foreign_task(void *arg)
{
	struct foreign *f = arg;

	__atomic_fetch_add(&f->count, 1, __ATOMIC_RELAXED);
	green_wg_done(&f->wg);
}

static void *foreign_thread(void *arg)
{
	struct foreign *f = arg;
	int i;

	while (!__atomic_load_n(&f->go, __ATOMIC_ACQUIRE))
		usleep(100);
	for (i = 0; i < 100; i++)
		f->ret[i] = green_go(foreign_task, f);
	return NULL;
}

static void foreign_main(void *arg)
{
	struct foreign *f = arg;

	green_wg_add(&f->wg, 100);
	__atomic_store_n(&f->go, true, __ATOMIC_RELEASE);
	green_wg_wait(&f->wg);
}

TEST(spawn_from_plain_thread)
{
	struct foreign f = { 0 };
	pthread_t t;
	int i;

	ASSERT_EQ(0, pthread_create(&t, NULL, foreign_thread, &f));
	ASSERT_EQ(0, green_run(foreign_main, &f));
	pthread_join(t, NULL);
	for (i = 0; i < 100; i++)
		EXPECT_EQ(0, f.ret[i]);
	EXPECT_EQ(100, f.count);
	/* After the run, the same call is refused. */
	EXPECT_EQ(-EPERM, green_go(foreign_task, &f));
}

static void ids(void *arg)
{
	uint64_t *out = arg;

	out[0] = green_self_id();
	out[1] = (uint64_t)green_proc_id();
	out[2] = (uint64_t)green_nprocs();
}

TEST(identity)
{
	uint64_t out[3];

	setenv("GREEN_PROCS", "3", 1);
	ASSERT_EQ(0, green_run(ids, out));
	EXPECT_EQ(1, (long)out[0]);
	EXPECT_EQ(0, (long)out[1]);
	EXPECT_EQ(3, (long)out[2]);
}

TEST_HARNESS_MAIN
