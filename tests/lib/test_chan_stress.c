// SPDX-License-Identifier: MIT
/*
 * test_chan_stress.c - channels under contention across processors:
 * every value sent is received exactly once, each producer's values in
 * order, and ten million operations finish without a deadlock or a lost
 * wakeup (the harness's timeout fails a test that hangs).
 */
#include "kselftest_harness.h"
#include "test_util.h"

#define MAXP 8

/*
 * Valgrind runs one thread at a time, and the spinning that keeps tasks
 * on processors costs it dearly: far fewer operations there.
 */
static long count(long n, long min, long valgrind)
{
	return under_valgrind() ? valgrind : scaled(n, min);
}

struct mpmc;

struct worker {
	struct mpmc *s;
	int id;
};

struct mpmc {
	green_chan_t *c;
	int producers, consumers;
	long per_producer;
	unsigned char *seen;		/* per value: times received */
	long last[MAXP][MAXP];		/* [consumer][producer]: seq */
	long disorder, received, bad_ret;
	green_wg_t pwg, cwg;
	struct worker w[2 * MAXP];
};

static void mpmc_producer(void *arg)
{
	struct worker *w = arg;
	struct mpmc *s = w->s;
	long i;

	for (i = 0; i < s->per_producer; i++) {
		long v = w->id * s->per_producer + i;

		if (green_chan_send(s->c, &v))
			__atomic_fetch_add(&s->bad_ret, 1, __ATOMIC_RELAXED);
	}
	green_wg_done(&s->pwg);
}

static void mpmc_consumer(void *arg)
{
	struct worker *w = arg;
	struct mpmc *s = w->s;
	long v, n = 0;
	int i;

	for (i = 0; i < MAXP; i++)
		s->last[w->id][i] = -1;
	while (green_chan_recv(s->c, &v) == 0) {
		long p = v / s->per_producer, seq = v % s->per_producer;

		if (v < 0 || p >= s->producers) {
			s->disorder++;
			continue;
		}
		__atomic_fetch_add(&s->seen[v], 1, __ATOMIC_RELAXED);
		/* One producer's values reach one consumer in order. */
		if (seq <= s->last[w->id][p])
			s->disorder++;
		s->last[w->id][p] = seq;
		n++;
	}
	__atomic_fetch_add(&s->received, n, __ATOMIC_RELAXED);
	green_wg_done(&s->cwg);
}

/* Producers and consumers on one channel; close once producers finish. */
static void mpmc_main(void *arg)
{
	struct mpmc *s = arg;
	int i;

	green_wg_add(&s->cwg, s->consumers);
	for (i = 0; i < s->consumers; i++) {
		s->w[i] = (struct worker){ s, i };
		green_go(mpmc_consumer, &s->w[i]);
	}
	green_wg_add(&s->pwg, s->producers);
	for (i = 0; i < s->producers; i++) {
		s->w[MAXP + i] = (struct worker){ s, i };
		green_go(mpmc_producer, &s->w[MAXP + i]);
	}
	green_wg_wait(&s->pwg);
	green_chan_close(s->c);
	green_wg_wait(&s->cwg);
}

static void run_mpmc(struct __test_metadata *_metadata, const char *procs,
		     int np, int nc, size_t cap, long per)
{
	struct mpmc *s = calloc(1, sizeof(*s));
	long i, missing = 0, dups = 0, n = np * per;

	ASSERT_NE(NULL, s);
	s->producers = np;
	s->consumers = nc;
	s->per_producer = per;
	s->seen = calloc(n, 1);
	s->c = green_chan_make(sizeof(long), cap);
	ASSERT_NE(NULL, s->seen);
	ASSERT_NE(NULL, s->c);
	green_wg_init(&s->pwg);
	green_wg_init(&s->cwg);
	setenv("GREEN_PROCS", procs, 1);
	ASSERT_EQ(0, green_run(mpmc_main, s));
	for (i = 0; i < n; i++) {
		missing += s->seen[i] == 0;
		dups += s->seen[i] > 1;
	}
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, dups);
	EXPECT_EQ(n, s->received);
	EXPECT_EQ(0, s->disorder);
	EXPECT_EQ(0, s->bad_ret);
	green_chan_free(s->c);
	free(s->seen);
	free(s);
}

TEST(unbuffered_4x4_on_4_procs)
{
	run_mpmc(_metadata, "4", 4, 4, 0, count(200000, 2000, 500));
}

TEST(buffered_4x4_on_4_procs)
{
	run_mpmc(_metadata, "4", 4, 4, 16, count(200000, 2000, 500));
}

TEST(buffered_cap1_8x2_on_2_procs)
{
	run_mpmc(_metadata, "2", 8, 2, 1, count(100000, 1000, 250));
}

TEST(unbuffered_2x8_on_3_procs)
{
	run_mpmc(_metadata, "3", 2, 8, 0, count(300000, 3000, 1000));
}

/*
 * Ten million operations of every kind: blocking, non-blocking, with
 * deadlines and in select, over unbuffered and buffered channels, by
 * tasks spread over the processors. Each token sent is counted back; a
 * lost wakeup hangs a task, which the harness's timeout reports.
 */
#define RING 8

struct tenm {
	green_chan_t *ch[RING];
	green_chan_t *done;
	long total;
	long ops;			/* operations done, all relays */
	long tokens_in, tokens_out, dropped;
	green_wg_t wg;
	int ids;
};

static int relay_recv(green_chan_t *in, long *v, long k)
{
	struct green_select_case sc[2] = {
		{ .op = GREEN_SELECT_RECV, .chan = in, .elem = v },
		{ .op = GREEN_SELECT_RECV, .chan = NULL },
	};
	int ret;

	switch (k % 4) {
	case 0:
		return green_chan_recv(in, v);
	case 1:
		while ((ret = green_chan_try_recv(in, v)) == -EAGAIN)
			green_yield();
		return ret;
	case 2:
		while ((ret = green_chan_recv_until(in, v, green_now() +
						    100000)) == -ETIMEDOUT)
			green_yield();	/* it may not have parked */
		return ret;
	default:
		ret = green_select(sc, 2, 0, 0);
		return ret == 0 ? sc[0].err : -1;
	}
}

static int relay_send(green_chan_t *out, long *v, long k)
{
	struct green_select_case sc[1] = {
		{ .op = GREEN_SELECT_SEND, .chan = out, .elem = v },
	};
	int ret;

	switch (k % 3) {
	case 0:
		return green_chan_send(out, v);
	case 1:
		while ((ret = green_chan_send_until(out, v, green_now() +
						    100000)) == -ETIMEDOUT)
			green_yield();	/* it may not have parked */
		return ret;
	default:
		ret = green_select(sc, 1, 0, 0);
		return ret == 0 ? sc[0].err : -1;
	}
}

/*
 * A relay takes a token from channel id and passes it to channel id + 1,
 * until the channels are closed. The ring is closed once the operations
 * reach the total; a token a relay holds when its send fails is dropped
 * and counted.
 */
static void relay(void *arg)
{
	struct tenm *t = arg;
	int id = __atomic_fetch_add(&t->ids, 1, __ATOMIC_RELAXED);
	green_chan_t *in = t->ch[id % RING], *out = t->ch[(id + 1) % RING];
	long v, ops = 0, k;

	for (k = 0;; k++) {
		if (relay_recv(in, &v, k))
			break;
		v++;
		if (relay_send(out, &v, k)) {
			__atomic_fetch_add(&t->dropped, 1, __ATOMIC_RELAXED);
			break;
		}
		ops += 2;
		if (ops == 1024) {
			if (__atomic_add_fetch(&t->ops, ops,
					       __ATOMIC_RELAXED) >= t->total)
				green_chan_try_send(t->done, NULL);
			ops = 0;
		}
	}
	__atomic_fetch_add(&t->ops, ops, __ATOMIC_RELAXED);
	green_wg_done(&t->wg);
}

static void tenm_main(void *arg)
{
	struct tenm *t = arg;
	long v = 0, i;

	green_wg_add(&t->wg, 2 * RING);
	for (i = 0; i < 2 * RING; i++)
		green_go(relay, t);
	/* Two relays per channel; as many tokens as relays. */
	for (i = 0; i < 2 * RING; i++) {
		if (green_chan_send(t->ch[i % RING], &v) == 0)
			t->tokens_in++;
	}
	green_chan_recv(t->done, NULL);
	for (i = 0; i < RING; i++)
		green_chan_close(t->ch[i]);
	green_wg_wait(&t->wg);
	/* A closed channel still gives what it buffered. */
	for (i = 0; i < RING; i++)
		while (green_chan_try_recv(t->ch[i], &v) == 0)
			t->tokens_out++;
}

TEST(ten_million_operations)
{
	struct tenm *t = calloc(1, sizeof(*t));
	int i;

	ASSERT_NE(NULL, t);
	for (i = 0; i < RING; i++) {
		/* Alternate unbuffered and buffered links. */
		t->ch[i] = green_chan_make(sizeof(long), i % 2 ? 2 * RING : 0);
		ASSERT_NE(NULL, t->ch[i]);
	}
	t->done = green_chan_make(0, 1);
	ASSERT_NE(NULL, t->done);
	t->total = count(10000000, 20000, 20000);
	green_wg_init(&t->wg);
	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(tenm_main, t));
	TH_LOG("%ld operations, %ld tokens dropped at close", t->ops,
	       t->dropped);
	EXPECT_EQ(2 * RING, t->tokens_in);
	EXPECT_EQ(t->tokens_in, t->tokens_out + t->dropped);
	EXPECT_GE(t->ops, t->total);
	for (i = 0; i < RING; i++)
		green_chan_free(t->ch[i]);
	green_chan_free(t->done);
	free(t);
}

TEST_HARNESS_MAIN
