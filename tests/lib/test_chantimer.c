// SPDX-License-Identifier: MIT
/*
 * test_chantimer.c - green_after, green_timer_* and green_ticker_*: Go's
 * time.After, time.Timer and time.Ticker (with Go 1.23's stop and reset:
 * no stale value after they return). Never early; late only within a
 * generous bound. And stop, reset and free racing the timer callbacks
 * across processors, for the sanitizers to watch.
 */
#include "kselftest_harness.h"
#include "test_util.h"

#define MS 1000000LL
#define LATE (2000 * MS)	/* generous: sanitizers, Valgrind, load */

TEST(need_a_runtime_and_good_arguments)
{
	EXPECT_EQ(NULL, green_after(MS));
	EXPECT_EQ(NULL, green_timer_make(MS));
	EXPECT_EQ(NULL, green_ticker_make(MS));
	EXPECT_EQ(NULL, green_timer_chan(NULL));
	EXPECT_EQ(NULL, green_ticker_chan(NULL));
	EXPECT_EQ(-EINVAL, green_timer_stop(NULL));
	EXPECT_EQ(-EINVAL, green_timer_reset(NULL, MS));
	EXPECT_EQ(-EINVAL, green_ticker_stop(NULL));
	EXPECT_EQ(-EINVAL, green_ticker_reset(NULL, MS));
	green_timer_free(NULL);
	green_ticker_free(NULL);
}

struct res {
	int ret[16];
	int64_t t[16];
	bool ok[8];
};

static void after_main(void *arg)
{
	struct res *r = arg;
	int64_t t0 = green_now(), v = 0;
	green_chan_t *c = green_after(20 * MS), *never;
	int w;

	r->ret[0] = green_chan_recv(c, &v);
	r->t[0] = green_now() - t0;	/* waited */
	r->t[1] = v - t0;		/* the time it carries */
	/* It fires once. */
	r->ret[1] = green_chan_recv_until(c, &v, green_now() + 30 * MS);
	green_chan_free(c);

	/* As the timeout case of a select. */
	never = green_chan_make(sizeof(int), 0);
	c = green_after(10 * MS);
	{
		struct green_select_case cs[2] = {
			{ .op = GREEN_SELECT_RECV, .chan = never, .elem = &w },
			{ .op = GREEN_SELECT_RECV, .chan = c, .elem = &v },
		};

		t0 = green_now();
		r->ret[2] = green_select(cs, 2, 0, 0);
		r->t[2] = green_now() - t0;
	}
	green_chan_free(c);
	green_chan_free(never);

	/* 0 and negative: at once. */
	c = green_after(0);
	r->ret[3] = green_chan_recv_until(c, &v, green_now() + LATE);
	green_chan_free(c);
	c = green_after(-5);
	r->ret[4] = green_chan_recv_until(c, &v, green_now() + LATE);
	green_chan_free(c);
	/* Freed before it fires: never delivers, frees cleanly. */
	c = green_after(5 * MS);
	green_chan_free(c);
	green_sleep(10 * MS);
}

TEST(after_fires_once_never_early)
{
	struct res r = { 0 };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(after_main, &r));
	EXPECT_EQ(0, r.ret[0]);
	EXPECT_GE(r.t[0], 20 * MS);
	EXPECT_GE(r.t[1], 20 * MS);
	EXPECT_LE(r.t[1], r.t[0]);
	EXPECT_LT(r.t[0], LATE);
	EXPECT_EQ(-ETIMEDOUT, r.ret[1]);
	EXPECT_EQ(1, r.ret[2]);
	EXPECT_GE(r.t[2], 10 * MS);
	EXPECT_LT(r.t[2], LATE);
	EXPECT_EQ(0, r.ret[3]);
	EXPECT_EQ(0, r.ret[4]);
}

static void timer_main(void *arg)
{
	struct res *r = arg;
	green_timer_t *t;
	int64_t v, t0;

	/* Stopped before it fires: 1, and nothing is delivered. */
	t = green_timer_make(50 * MS);
	r->ret[0] = green_timer_stop(t);
	r->ret[1] = green_chan_recv_until(green_timer_chan(t), &v,
					  green_now() + 100 * MS);
	r->ret[2] = green_timer_stop(t);		/* 0: stopped */
	green_timer_free(t);

	/* Fired, value not received: stop says 1 and drains it. */
	t = green_timer_make(MS);
	green_sleep(20 * MS);
	r->ret[3] = (int)green_chan_len(green_timer_chan(t));	/* 1 */
	r->ret[4] = green_timer_stop(t);			/* 1 */
	r->ret[5] = green_chan_try_recv(green_timer_chan(t), &v);
	green_timer_free(t);

	/* Fired and received: stop says 0. */
	t = green_timer_make(MS);
	green_chan_recv(green_timer_chan(t), &v);
	r->ret[6] = green_timer_stop(t);
	/* Reset after that: 0, and it fires again, not early. */
	t0 = green_now();
	r->ret[7] = green_timer_reset(t, 10 * MS);
	r->ret[8] = green_chan_recv(green_timer_chan(t), &v);
	r->t[0] = v - t0;
	r->t[1] = green_now() - t0;
	/* Reset while active: 1, and the new time counts. */
	green_timer_reset(t, 1000 * MS);
	t0 = green_now();
	r->ret[9] = green_timer_reset(t, 10 * MS);
	r->ret[10] = green_chan_recv(green_timer_chan(t), &v);
	r->t[2] = v - t0;
	/* Reset with a value unread: the stale value is gone at once. */
	green_timer_reset(t, MS);
	green_sleep(20 * MS);
	t0 = green_now();
	r->ret[11] = green_timer_reset(t, 30 * MS);		/* 1 */
	r->ret[12] = green_chan_try_recv(green_timer_chan(t), &v);
	r->ret[13] = green_chan_recv(green_timer_chan(t), &v);
	r->t[3] = v - t0;
	green_timer_free(t);
}

TEST(timer_stop_and_reset)
{
	struct res r = { 0 };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(timer_main, &r));
	EXPECT_EQ(1, r.ret[0]);
	EXPECT_EQ(-ETIMEDOUT, r.ret[1]);
	EXPECT_EQ(0, r.ret[2]);
	EXPECT_EQ(1, r.ret[3]);
	EXPECT_EQ(1, r.ret[4]);
	EXPECT_EQ(-EAGAIN, r.ret[5]);
	EXPECT_EQ(0, r.ret[6]);
	EXPECT_EQ(0, r.ret[7]);
	EXPECT_EQ(0, r.ret[8]);
	EXPECT_GE(r.t[0], 10 * MS);
	EXPECT_GE(r.t[1], 10 * MS);
	EXPECT_LT(r.t[1], LATE);
	EXPECT_EQ(1, r.ret[9]);
	EXPECT_EQ(0, r.ret[10]);
	EXPECT_GE(r.t[2], 10 * MS);
	EXPECT_LT(r.t[2], LATE);
	EXPECT_EQ(1, r.ret[11]);
	EXPECT_EQ(-EAGAIN, r.ret[12]);
	EXPECT_EQ(0, r.ret[13]);
	EXPECT_GE(r.t[3], 30 * MS);
}

static void ticker_main(void *arg)
{
	struct res *r = arg;
	green_ticker_t *tk;
	int64_t t0 = green_now(), v, prev = 0;
	int i;

	tk = green_ticker_make(10 * MS);
	r->ok[0] = true;
	for (i = 0; i < 5; i++) {
		r->ret[i] = green_chan_recv(green_ticker_chan(tk), &v);
		/* Tick i is not before t0 + (i + 1) * period. */
		if (v < t0 + (i + 1) * 10 * MS || v <= prev)
			r->ok[0] = false;
		prev = v;
	}
	r->t[0] = green_now() - t0;
	/* A slow receiver: ticks are dropped, never more than one queued. */
	green_sleep(50 * MS);
	r->ret[5] = (int)green_chan_len(green_ticker_chan(tk));
	/* Stopped: no tick is seen after stop returns. */
	r->ret[6] = green_ticker_stop(tk);
	r->ret[7] = green_chan_recv_until(green_ticker_chan(tk), &v,
					  green_now() + 40 * MS);
	/* Reset: ticking again, with the new period. */
	t0 = green_now();
	r->ret[8] = green_ticker_reset(tk, 5 * MS);
	r->ret[9] = green_chan_recv(green_ticker_chan(tk), &v);
	r->ret[10] = green_chan_recv(green_ticker_chan(tk), &v);
	r->t[1] = v - t0;
	r->t[2] = green_now() - t0;
	r->ret[11] = green_ticker_reset(tk, 0);
	green_ticker_free(tk);
	r->ok[1] = green_ticker_make(0) == NULL &&
		   green_ticker_make(-MS) == NULL;
}

TEST(ticker_ticks_stops_resets)
{
	struct res r = { 0 };
	int i;

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(ticker_main, &r));
	for (i = 0; i < 5; i++)
		EXPECT_EQ(0, r.ret[i]);
	EXPECT_TRUE(r.ok[0]);
	EXPECT_GE(r.t[0], 50 * MS);
	EXPECT_LT(r.t[0], 50 * MS + LATE);
	EXPECT_EQ(1, r.ret[5]);
	EXPECT_EQ(0, r.ret[6]);
	EXPECT_EQ(-ETIMEDOUT, r.ret[7]);
	EXPECT_EQ(0, r.ret[8]);
	EXPECT_EQ(0, r.ret[9]);
	EXPECT_EQ(0, r.ret[10]);
	EXPECT_GE(r.t[1], 10 * MS);
	EXPECT_LT(r.t[2], LATE);
	EXPECT_EQ(-EINVAL, r.ret[11]);
	EXPECT_TRUE(r.ok[1]);
}

/*
 * Stop, reset and free racing the callbacks: timers due now or in a few
 * microseconds, stopped, reset or freed at once, on tasks spread over the
 * processors while the callbacks fire on whichever processor holds the
 * timer. A use after free is the sanitizers' to report; a value seen
 * after stop returned is counted here.
 */
struct race {
	long rounds;
	long stale, errors;
	green_wg_t wg;
};

static void stale(struct race *s)
{
	__atomic_fetch_add(&s->stale, 1, __ATOMIC_RELAXED);
}

static void race_task(void *arg)
{
	struct race *s = arg;
	long i;
	int64_t v;

	for (i = 0; i < s->rounds; i++) {
		int64_t d = (i % 7) * 1000;
		green_timer_t *t = green_timer_make(d);
		green_ticker_t *tk = green_ticker_make(1000 + (i % 3) * 1000);
		green_chan_t *c = green_after(d);

		if (!t || !tk || !c) {
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
			break;
		}
		if (i % 3)
			green_yield();
		switch (i % 4) {
		case 0:
			green_timer_stop(t);
			green_yield();
			if (green_chan_try_recv(green_timer_chan(t), &v) == 0)
				stale(s);
			break;
		case 1:
			green_timer_reset(t, d);
			break;
		case 2:
			green_chan_recv(green_timer_chan(t), &v);
			break;
		default:
			break;
		}
		if (i % 2) {
			green_ticker_stop(tk);
			green_yield();
			if (green_chan_try_recv(green_ticker_chan(tk), &v) == 0)
				stale(s);
		} else if (i % 5 == 0) {
			green_chan_recv(green_ticker_chan(tk), &v);
			green_ticker_reset(tk, 2000);
		}
		/* Later still: a callback that was in flight during stop
		 * has finished by now, and must not have delivered. */
		if (i % 4 == 0 &&
		    green_chan_try_recv(green_timer_chan(t), &v) == 0)
			stale(s);
		if (i % 2 &&
		    green_chan_try_recv(green_ticker_chan(tk), &v) == 0)
			stale(s);
		green_timer_free(t);
		green_ticker_free(tk);
		green_chan_free(c);
	}
	green_wg_done(&s->wg);
}

static void race_main(void *arg)
{
	struct race *s = arg;
	int i;

	green_wg_add(&s->wg, 8);
	for (i = 0; i < 8; i++)
		green_go(race_task, s);
	green_wg_wait(&s->wg);
	/* Let callbacks still in flight finish before the run ends. */
	green_sleep(20 * MS);
}

TEST(stop_reset_free_race_callbacks)
{
	struct race s = { .rounds = scaled(20000, 200), .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "4", 1);
	ASSERT_EQ(0, green_run(race_main, &s));
	EXPECT_EQ(0, s.stale);
	EXPECT_EQ(0, s.errors);
}

TEST_HARNESS_MAIN
