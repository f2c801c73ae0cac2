// SPDX-License-Identifier: MIT
/*
 * test_yield.c - fairness: a task yielding in a loop cannot starve the
 * others, and two tasks waking each other through runnext cannot starve
 * the rest of the run queue.
 */
#include "kselftest_harness.h"
#include "test_util.h"

#define NTASKS 8

struct fair {
	green_wg_t wg;
	long rounds;
	long count[NTASKS];	/* each task's progress */
};

struct yarg {
	struct fair *f;
	int id;
};

static void yield_loop(void *arg)
{
	struct yarg *a = arg;
	struct fair *f = a->f;
	long i;

	for (i = 0; i < f->rounds; i++) {
		__atomic_store_n(&f->count[a->id], i + 1, __ATOMIC_RELAXED);
		green_yield();
	}
	green_wg_done(&f->wg);
}

/* One task yields forever until the others have finished their rounds. */
static bool stop;

static void hog(void *arg)
{
	long *spins = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		(*spins)++;
		green_yield();
	}
}

struct fair_main_arg {
	struct fair f;
	struct yarg args[NTASKS];
	long hog_spins;
};

static void fair_main(void *arg)
{
	struct fair_main_arg *m = arg;
	int i;

	green_go(hog, &m->hog_spins);
	for (i = 0; i < NTASKS; i++) {
		m->args[i].f = &m->f;
		m->args[i].id = i;
		green_wg_add(&m->f.wg, 1);
		green_go(yield_loop, &m->args[i]);
	}
	green_wg_wait(&m->f.wg);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
}

/* On one processor, round robin: every task finishes despite the hog. */
TEST(yield_loop_cannot_starve_others)
{
	struct fair_main_arg *m = calloc(1, sizeof(*m));
	int i;

	setenv("GREEN_PROCS", "1", 1);
	m->f.rounds = scaled(100000, 1000);
	ASSERT_EQ(0, green_run(fair_main, m));
	for (i = 0; i < NTASKS; i++)
		EXPECT_EQ(m->f.rounds, m->f.count[i]);
	/* The hog ran about as often as each worker task, not more. */
	EXPECT_LE(m->hog_spins, m->f.rounds * 2);
	EXPECT_GE(m->hog_spins, m->f.rounds / 2);
	free(m);
}

/* While the loop runs, no task gets more than a step ahead of another. */
struct lockstep {
	long rounds;
	long count[NTASKS];
	long max_gap;
	green_wg_t wg;
};

struct larg {
	struct lockstep *l;
	int id;
};

static void lockstep_task(void *arg)
{
	struct larg *a = arg;
	struct lockstep *l = a->l;
	long i;
	int j;

	for (i = 0; i < l->rounds; i++) {
		l->count[a->id]++;
		for (j = 0; j < NTASKS; j++) {
			long gap = l->count[a->id] - l->count[j];

			if (gap > l->max_gap)
				l->max_gap = gap;
		}
		green_yield();
	}
	green_wg_done(&l->wg);
}

static void lockstep_main(void *arg)
{
	struct lockstep *l = arg;
	struct larg args[NTASKS];
	int i;

	for (i = 0; i < NTASKS; i++) {
		args[i].l = l;
		args[i].id = i;
		green_wg_add(&l->wg, 1);
		green_go(lockstep_task, &args[i]);
	}
	green_wg_wait(&l->wg);
}

TEST(yield_is_round_robin)
{
	struct lockstep l = { .rounds = scaled(20000, 500) };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(lockstep_main, &l));
	/* Strict round robin allows a gap of one step (two at the start). */
	EXPECT_LE(l.max_gap, 2);
}

/*
 * Two tasks that wake each other go through runnext; a third, queued
 * behind them, must still make progress while they ping-pong.
 */
struct pingpong {
	green_wg_t ping, pong;	/* armed by the side that will wait */
	long rounds;
	long pp_done;		/* ping-pong rounds completed */
	long bystander;		/* rounds of the third task */
	long pp_at_bystander_end;
	bool quit;
	green_wg_t all;
};

static void ponger(void *arg)
{
	struct pingpong *pp = arg;
	long i;

	for (i = 0; i < pp->rounds; i++) {
		green_wg_wait(&pp->ping);	/* wait for a ping */
		green_wg_add(&pp->ping, 1);	/* re-arm before answering */
		green_wg_done(&pp->pong);
	}
	green_wg_done(&pp->all);
}

static void pinger(void *arg)
{
	struct pingpong *pp = arg;
	long i;

	for (i = 0; i < pp->rounds; i++) {
		green_wg_add(&pp->pong, 1);
		green_wg_done(&pp->ping);
		green_wg_wait(&pp->pong);
		pp->pp_done = i + 1;
	}
	green_wg_done(&pp->all);
}

static void bystander(void *arg)
{
	struct pingpong *pp = arg;

	while (pp->bystander < 100) {
		pp->bystander++;
		green_yield();
	}
	pp->pp_at_bystander_end = pp->pp_done;
	green_wg_done(&pp->all);
}

static void pingpong_main(void *arg)
{
	struct pingpong *pp = arg;

	green_wg_add(&pp->ping, 1);
	green_wg_add(&pp->all, 3);
	green_go(ponger, pp);
	green_go(pinger, pp);
	green_go(bystander, pp);
	green_wg_wait(&pp->all);
}

TEST(runnext_pingpong_cannot_starve_queue)
{
	struct pingpong pp = { .rounds = scaled(100000, 20000) };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(pingpong_main, &pp));
	EXPECT_EQ(pp.rounds, pp.pp_done);
	EXPECT_EQ(100, pp.bystander);
	/* The bystander finished long before the ping-pong did. */
	EXPECT_LT(pp.pp_at_bystander_end, pp.rounds / 2)
		TH_LOG("bystander finished after %ld of %ld rounds",
		       pp.pp_at_bystander_end, pp.rounds);
}

static void yield_outside(void *arg)
{
}

/* ---- yield loops and timers ---- */

struct timer_starve {
	int stop;
	int64_t slept;
};

static void yield_spinner(void *arg)
{
	struct timer_starve *t = arg;
	int64_t t0 = green_now();

	/* Bounded, so a starved timer fails the test instead of hanging. */
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE) &&
	       green_now() - t0 < 3000000000LL)
		green_yield();
}

static void timer_starve_main(void *arg)
{
	struct timer_starve *t = arg;
	int64_t t0;

	green_go(yield_spinner, t);
	green_go(yield_spinner, t);
	green_yield();
	t0 = green_now();
	green_sleep(10000000);		/* 10 ms */
	t->slept = green_now() - t0;
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
}

/*
 * Tasks that only yield to each other switch without going round the
 * scheduler; a sleeper on the same processor must still wake on time.
 */
TEST(yield_loop_cannot_starve_timers)
{
	struct timer_starve t = { 0 };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(timer_starve_main, &t));
	unsetenv("GREEN_PROCS");
	TH_LOG("a 10 ms sleep among yield loops took %.1f ms", t.slept / 1e6);
	EXPECT_GE(t.slept, 10000000);
	EXPECT_LT(t.slept, 1000000000);		/* 3 s when starved */
}

TEST(yield_outside_a_task_is_harmless)
{
	green_yield();
	ASSERT_EQ(0, green_run(yield_outside, NULL));
	green_yield();
	EXPECT_EQ(0, (long)green_self_id());
	EXPECT_EQ(-1, green_proc_id());
}

TEST_HARNESS_MAIN
