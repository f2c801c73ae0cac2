// SPDX-License-Identifier: MIT
/*
 * test_chan.c - green_chan_t, rule by rule from the Go specification
 * ("Channel types", "Send statements", "Receive operator", "close",
 * "Length and capacity") and the Go memory model, adapted to C: a nil
 * channel is -EINVAL, a panic is -EPIPE (or an abort in chanpanic debug
 * mode), a receive from a closed, drained channel is -EPIPE with the
 * element zeroed (Go's zero value, ok == false).
 */
#include <signal.h>

#include "kselftest_harness.h"
#include "test_util.h"

#define MS 1000000LL

/* ---- make, len, cap: no runtime needed for operations that never wait */

TEST(make_len_cap_and_bad_sizes)
{
	green_chan_t *c = green_chan_make(sizeof(int), 3);
	int v = 0, i;

	ASSERT_NE(NULL, c);
	EXPECT_EQ(3, (int)green_chan_cap(c));
	EXPECT_EQ(0, (int)green_chan_len(c));
	for (i = 1; i <= 3; i++) {
		EXPECT_EQ(0, green_chan_try_send(c, &i));
		EXPECT_EQ(i, (int)green_chan_len(c));
	}
	EXPECT_EQ(-EAGAIN, green_chan_try_send(c, &i));
	/* A blocking send with room, or receive with a value, completes
	 * outside a task too. */
	EXPECT_EQ(0, green_chan_recv(c, &v));
	EXPECT_EQ(1, v);
	EXPECT_EQ(0, green_chan_send(c, &i));
	EXPECT_EQ(3, (int)green_chan_len(c));
	green_chan_free(c);

	c = green_chan_make(sizeof(int), 0);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, (int)green_chan_cap(c));
	EXPECT_EQ(0, (int)green_chan_len(c));
	green_chan_free(c);

	/* Element size 0 (chan struct{}) and the size limits. */
	c = green_chan_make(0, 2);
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, green_chan_try_send(c, NULL));
	EXPECT_EQ(1, (int)green_chan_len(c));
	green_chan_free(c);
	EXPECT_EQ(NULL, green_chan_make(65537, 1));
	EXPECT_EQ(NULL, green_chan_make(64, SIZE_MAX / 32));
	c = green_chan_make(65536, 0);
	EXPECT_NE(NULL, c);
	green_chan_free(c);
}

TEST(nil_channel_is_einval)
{
	int v = 1;

	EXPECT_EQ(-EINVAL, green_chan_send(NULL, &v));
	EXPECT_EQ(-EINVAL, green_chan_recv(NULL, &v));
	EXPECT_EQ(-EINVAL, green_chan_try_send(NULL, &v));
	EXPECT_EQ(-EINVAL, green_chan_try_recv(NULL, &v));
	EXPECT_EQ(-EINVAL, green_chan_send_until(NULL, &v, 1));
	EXPECT_EQ(-EINVAL, green_chan_recv_until(NULL, &v, 1));
	EXPECT_EQ(-EINVAL, green_chan_close_err(NULL));
	EXPECT_EQ(0, (int)green_chan_len(NULL));
	EXPECT_EQ(0, (int)green_chan_cap(NULL));
	green_chan_close(NULL);		/* ignored outside debug mode */
	green_chan_free(NULL);
}

TEST(bad_arguments)
{
	green_chan_t *c = green_chan_make(sizeof(int), 1);
	int v = 0;

	ASSERT_NE(NULL, c);
	EXPECT_EQ(-EINVAL, green_chan_send(c, NULL));
	EXPECT_EQ(-EINVAL, green_chan_try_send(c, NULL));
	EXPECT_EQ(-EINVAL, green_chan_send_until(c, &v, -1));
	EXPECT_EQ(-EINVAL, green_chan_recv_until(c, &v, -1));
	/* Receiving into NULL discards the value. */
	EXPECT_EQ(0, green_chan_try_send(c, &v));
	EXPECT_EQ(0, green_chan_try_recv(c, NULL));
	EXPECT_EQ(0, (int)green_chan_len(c));
	green_chan_free(c);
}

/* "Blocking ops from outside a task return -EPERM except when they can
 * complete immediately." */
TEST(waiting_outside_a_task_is_eperm)
{
	green_chan_t *u = green_chan_make(sizeof(int), 0);
	green_chan_t *b = green_chan_make(sizeof(int), 1);
	int v = 7;

	ASSERT_NE(NULL, u);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(-EPERM, green_chan_send(u, &v));
	EXPECT_EQ(-EPERM, green_chan_recv(u, &v));
	EXPECT_EQ(-EPERM, green_chan_recv(b, &v));
	EXPECT_EQ(0, green_chan_send(b, &v));
	EXPECT_EQ(-EPERM, green_chan_send(b, &v));
	EXPECT_EQ(-EPERM, green_chan_send_until(b, &v, green_now() + MS));
	v = 0;
	EXPECT_EQ(0, green_chan_recv(b, &v));
	EXPECT_EQ(7, v);
	green_chan_free(u);
	green_chan_free(b);
}

/* ---- "Channels act as first-in-first-out queues." */

struct fifo {
	green_chan_t *c;
	long n;
	long out_of_order;
	long received;
	green_wg_t wg;
};

static void fifo_producer(void *arg)
{
	struct fifo *f = arg;
	long i;

	for (i = 0; i < f->n; i++)
		green_chan_send(f->c, &i);
	green_wg_done(&f->wg);
}

static void fifo_main(void *arg)
{
	static const size_t caps[] = { 0, 1, 7, 64 };
	struct fifo *f = arg;
	size_t k;

	for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		long i, v;

		f->c = green_chan_make(sizeof(long), caps[k]);
		green_wg_add(&f->wg, 1);
		green_go(fifo_producer, f);
		for (i = 0; i < f->n; i++) {
			if (green_chan_recv(f->c, &v) == 0)
				f->received++;
			if (v != i)
				f->out_of_order++;
		}
		green_wg_wait(&f->wg);
		green_chan_free(f->c);
	}
}

TEST(fifo_order_across_processors)
{
	struct fifo f = { .n = scaled(100000, 1000), .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(fifo_main, &f));
	EXPECT_EQ(0, f.out_of_order);
	EXPECT_EQ(4 * f.n, f.received);
}

/* ---- "If the capacity is zero or absent, the channel is unbuffered and
 * communication succeeds only when both a sender and receiver are ready.
 * Otherwise ... without blocking if the buffer is not full (sends) or not
 * empty (receives)." One processor makes the interleaving exact. */

struct rdv {
	green_chan_t *c;
	long progress;		/* sends completed by the sender */
	long seen[8];		/* progress seen by main at checkpoints */
	int rets[8];
	int vals[8];
	green_wg_t wg;
};

static void rdv_sender(void *arg)
{
	struct rdv *r = arg;
	int i;

	for (i = 1; i <= 5; i++) {
		if (green_chan_send(r->c, &i) == 0)
			r->progress++;
	}
	green_wg_done(&r->wg);
}

static void yield_n(int n)
{
	while (n-- > 0)
		green_yield();
}

static void rdv_main(void *arg)
{
	struct rdv *r = arg;
	int v = 0;

	/* Unbuffered: the sender stays blocked until we receive. */
	r->c = green_chan_make(sizeof(int), 0);
	green_wg_add(&r->wg, 1);
	green_go(rdv_sender, r);
	yield_n(10);
	r->seen[0] = r->progress;			/* 0 */
	r->rets[0] = green_chan_recv(r->c, &v);
	r->vals[0] = v;					/* 1 */
	yield_n(10);
	r->seen[1] = r->progress;			/* 1 */
	/* A blocked sender makes a non-blocking receive succeed. */
	r->rets[1] = green_chan_try_recv(r->c, &v);
	r->vals[1] = v;					/* 2 */
	while (green_chan_recv(r->c, &v) == 0 && v < 5)
		;
	green_wg_wait(&r->wg);
	green_chan_free(r->c);

	/* Buffered, cap 3: three sends go through, the fourth waits. */
	r->progress = 0;
	r->c = green_chan_make(sizeof(int), 3);
	green_wg_add(&r->wg, 1);
	green_go(rdv_sender, r);
	yield_n(10);
	r->seen[2] = r->progress;			/* 3 */
	r->rets[2] = green_chan_recv(r->c, &v);
	r->vals[2] = v;					/* 1 */
	yield_n(10);
	r->seen[3] = r->progress;			/* 4: 4th went in */
	r->seen[4] = (long)green_chan_len(r->c);	/* 3 */
	while (green_chan_recv(r->c, &v) == 0 && v < 5)
		;
	green_wg_wait(&r->wg);
	r->seen[5] = r->progress;			/* 5 */
	r->rets[3] = green_chan_try_recv(r->c, &v);	/* empty */
	green_chan_free(r->c);
}

TEST(unbuffered_rendezvous_buffered_blocks_when_full)
{
	struct rdv r = { .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(rdv_main, &r));
	EXPECT_EQ(0, r.seen[0]);
	EXPECT_EQ(0, r.rets[0]);
	EXPECT_EQ(1, r.vals[0]);
	EXPECT_EQ(1, r.seen[1]);
	EXPECT_EQ(0, r.rets[1]);
	EXPECT_EQ(2, r.vals[1]);
	EXPECT_EQ(3, r.seen[2]);
	EXPECT_EQ(0, r.rets[2]);
	EXPECT_EQ(1, r.vals[2]);
	EXPECT_EQ(4, r.seen[3]);
	EXPECT_EQ(3, r.seen[4]);
	EXPECT_EQ(5, r.seen[5]);
	EXPECT_EQ(-EAGAIN, r.rets[3]);
}

/* ---- close: "After calling close, and after any previously sent values
 * have been received, receive operations will return the zero value for
 * the channel's type without blocking." */

TEST(close_drains_then_reports_closed)
{
	green_chan_t *c = green_chan_make(sizeof(int), 4);
	int i, v;

	ASSERT_NE(NULL, c);
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(0, green_chan_send(c, &i));
	EXPECT_EQ(0, green_chan_close_err(c));
	EXPECT_EQ(-EPIPE, green_chan_send(c, &i));
	EXPECT_EQ(-EPIPE, green_chan_try_send(c, &i));
	EXPECT_EQ(3, (int)green_chan_len(c));
	for (i = 1; i <= 3; i++) {
		v = -1;
		EXPECT_EQ(0, green_chan_recv(c, &v));
		EXPECT_EQ(i, v);
	}
	for (i = 0; i < 3; i++) {
		v = 12345;
		EXPECT_EQ(-EPIPE, green_chan_recv(c, &v));
		EXPECT_EQ(0, v);
		v = 12345;
		EXPECT_EQ(-EPIPE, green_chan_try_recv(c, &v));
		EXPECT_EQ(0, v);
		EXPECT_EQ(-EPIPE, green_chan_recv(c, NULL));
	}
	/* "Closing a closed channel": -EPIPE from close_err. */
	EXPECT_EQ(-EPIPE, green_chan_close_err(c));
	green_chan_close(c);
	EXPECT_EQ(0, (int)green_chan_len(c));
	EXPECT_EQ(4, (int)green_chan_cap(c));
	green_chan_free(c);

	/* Unbuffered: closed at once. */
	c = green_chan_make(sizeof(int), 0);
	ASSERT_NE(NULL, c);
	green_chan_close(c);
	v = 9;
	EXPECT_EQ(-EPIPE, green_chan_recv(c, &v));
	EXPECT_EQ(0, v);
	EXPECT_EQ(-EPIPE, green_chan_send(c, &v));
	green_chan_free(c);
}

/* close wakes every blocked receiver (-EPIPE, zero value) and sender. */
struct closer {
	green_chan_t *rc, *sc;
	long n;
	long recv_epipe, recv_zeroed, send_epipe, other;
	green_wg_t wg;
};

static void close_receiver(void *arg)
{
	struct closer *s = arg;
	long v = -1;
	int ret = green_chan_recv(s->rc, &v);

	if (ret == -EPIPE)
		__atomic_fetch_add(&s->recv_epipe, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&s->other, 1, __ATOMIC_RELAXED);
	if (v == 0)
		__atomic_fetch_add(&s->recv_zeroed, 1, __ATOMIC_RELAXED);
	green_wg_done(&s->wg);
}

static void close_sender(void *arg)
{
	struct closer *s = arg;
	long v = 42;

	if (green_chan_send(s->sc, &v) == -EPIPE)
		__atomic_fetch_add(&s->send_epipe, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&s->other, 1, __ATOMIC_RELAXED);
	green_wg_done(&s->wg);
}

static void close_main(void *arg)
{
	struct closer *s = arg;
	long i;

	s->rc = green_chan_make(sizeof(long), 0);
	s->sc = green_chan_make(sizeof(long), 2);
	/* Fill the buffered one so that its senders block. */
	for (i = 0; i < 2; i++)
		green_chan_send(s->sc, &i);
	for (i = 0; i < s->n; i++) {
		green_wg_add(&s->wg, 2);
		green_go(close_receiver, s);
		green_go(close_sender, s);
	}
	/* On one processor, this lets every one of them block. */
	yield_n(20);
	green_chan_close(s->rc);
	green_chan_close(s->sc);
	green_wg_wait(&s->wg);
	green_chan_free(s->rc);
	green_chan_free(s->sc);
}

TEST(close_wakes_every_waiter)
{
	struct closer s = { .n = scaled(1000, 50), .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(close_main, &s));
	EXPECT_EQ(s.n, s.recv_epipe);
	EXPECT_EQ(s.n, s.recv_zeroed);
	EXPECT_EQ(s.n, s.send_epipe);
	EXPECT_EQ(0, s.other);
}

/* ---- Debug mode: misuse aborts like Go's panic. */

static int misuse_send_closed(void *arg)
{
	green_chan_t *c = green_chan_make(sizeof(int), 1);
	int v = 1;

	int ret;

	green_chan_close(c);
	ret = green_chan_send(c, &v) == -EPIPE ? 0 : 1;
	green_chan_free(c);
	return ret;
}

static int misuse_double_close(void *arg)
{
	green_chan_t *c = green_chan_make(sizeof(int), 1);

	green_chan_close(c);
	green_chan_close(c);
	green_chan_free(c);
	return 0;
}

static int misuse_close_nil(void *arg)
{
	green_chan_close(NULL);
	return 0;
}

static bool aborted_with(struct child_result *r, const char *msg)
{
	return WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT &&
	       strstr(r->err, msg);
}

TEST(misuse_panics_in_chanpanic_mode)
{
	struct child_result r;

	run_child(&r, "GREEN_DEBUG", "chanpanic", misuse_send_closed, NULL);
	EXPECT_TRUE(aborted_with(&r, "panic: send on closed channel"));
	run_child(&r, "GREEN_DEBUG", "x,chanpanic", misuse_double_close, NULL);
	EXPECT_TRUE(aborted_with(&r, "panic: close of closed channel"));
	run_child(&r, "GREEN_DEBUG", "chanpanic,y", misuse_close_nil, NULL);
	EXPECT_TRUE(aborted_with(&r, "panic: close of nil channel"));

	/* Not in debug mode (or another word): an error, no abort. */
	run_child(&r, "GREEN_DEBUG", "nochanpanic", misuse_send_closed, NULL);
	EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	run_child(&r, NULL, NULL, misuse_double_close, NULL);
	EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	run_child(&r, NULL, NULL, misuse_close_nil, NULL);
	EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
}

/* ---- Element sizes: 0 (chan struct{}) and large, copied intact. */

#define BIG 4096

struct elems {
	green_chan_t *z, *big;
	long n;
	long bad, events;
	green_wg_t wg;
};

static void big_sender(void *arg)
{
	struct elems *e = arg;
	unsigned char buf[BIG];
	long i;

	for (i = 0; i < e->n; i++) {
		memset(buf, (int)(i & 0xff), sizeof(buf));
		buf[0] = (unsigned char)(i >> 8);
		green_chan_send(e->big, buf);
		green_chan_send(e->z, NULL);
	}
	green_wg_done(&e->wg);
}

static void elems_main(void *arg)
{
	struct elems *e = arg;
	unsigned char buf[BIG];
	size_t caps[] = { 0, 3 };
	int k;

	for (k = 0; k < 2; k++) {
		long i, j;

		e->big = green_chan_make(BIG, caps[k]);
		e->z = green_chan_make(0, caps[k]);
		green_wg_add(&e->wg, 1);
		green_go(big_sender, e);
		for (i = 0; i < e->n; i++) {
			green_chan_recv(e->big, buf);
			if (buf[0] != (unsigned char)(i >> 8))
				e->bad++;
			for (j = 1; j < BIG; j++)
				if (buf[j] != (unsigned char)(i & 0xff)) {
					e->bad++;
					break;
				}
			if (green_chan_recv(e->z, NULL) == 0)
				e->events++;
		}
		green_wg_wait(&e->wg);
		green_chan_free(e->big);
		green_chan_free(e->z);
	}
}

TEST(zero_size_and_large_elements)
{
	struct elems e = { .n = scaled(20000, 200), .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(elems_main, &e));
	EXPECT_EQ(0, e.bad);
	EXPECT_EQ(2 * e.n, e.events);
}

/* ---- Deadlines: per call, and the task's own. */

struct dl {
	int rets[8];
	int64_t waited[4];
	int vals[4];
};

static void deadline_main(void *arg)
{
	struct dl *d = arg;
	green_chan_t *u = green_chan_make(sizeof(int), 0);
	green_chan_t *b = green_chan_make(sizeof(int), 1);
	int v = 5;
	int64_t t0;

	t0 = green_now();
	d->rets[0] = green_chan_recv_until(u, &v, t0 + 20 * MS);
	d->waited[0] = green_now() - t0;
	t0 = green_now();
	d->rets[1] = green_chan_send_until(u, &v, t0 + 20 * MS);
	d->waited[1] = green_now() - t0;
	/* The timed-out waiters left the queues: nobody to pair with. */
	d->rets[2] = green_chan_try_send(u, &v);
	d->rets[3] = green_chan_try_recv(u, &v);
	/* A deadline in the past still lets a ready operation through. */
	d->rets[4] = green_chan_send_until(b, &v, 1);
	d->rets[5] = green_chan_send_until(b, &v, 1);
	/* The task's deadline (green_deadline_set) ends a plain recv. */
	green_chan_recv(b, &v);
	t0 = green_now();
	green_deadline_set(t0 + 20 * MS);
	d->rets[6] = green_chan_recv(b, &v);
	d->waited[2] = green_now() - t0;
	green_deadline_set(0);
	d->rets[7] = green_chan_try_send(b, &v);
	green_chan_free(u);
	green_chan_free(b);
}

TEST(deadlines_end_waits_and_clean_up)
{
	struct dl d = { 0 };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(deadline_main, &d));
	EXPECT_EQ(-ETIMEDOUT, d.rets[0]);
	EXPECT_EQ(-ETIMEDOUT, d.rets[1]);
	EXPECT_EQ(-EAGAIN, d.rets[2]);
	EXPECT_EQ(-EAGAIN, d.rets[3]);
	EXPECT_EQ(0, d.rets[4]);
	EXPECT_EQ(-ETIMEDOUT, d.rets[5]);
	EXPECT_EQ(-ETIMEDOUT, d.rets[6]);
	EXPECT_EQ(0, d.rets[7]);
	/* Never early; late only by a generous bound. */
	EXPECT_GE(d.waited[0], 20 * MS);
	EXPECT_GE(d.waited[1], 20 * MS);
	EXPECT_GE(d.waited[2], 20 * MS);
	EXPECT_LT(d.waited[0], 2000 * MS);
	EXPECT_LT(d.waited[1], 2000 * MS);
	EXPECT_LT(d.waited[2], 2000 * MS);
}

/*
 * Timeouts racing transfers: a receiver with a tiny deadline against a
 * sender with one. Each value is either delivered (both sides say 0) or
 * not (neither does): the counts match and no value arrives twice.
 */
struct tr {
	green_chan_t *c;
	long n;
	long sent, received, dups, sum_sent, sum_recv;
	long last;
	green_wg_t wg;
};

/*
 * A deadline already past (the waiter is queued for an instant, and a
 * peer on the other processor may claim it just as it gives up), or
 * 1 us to 1 ms: short enough to race, long enough to pair sometimes.
 */
static int64_t tr_deadline(long i)
{
	static const int64_t ns[] = { 0, 0, 1000, 10000, 0, 1000000 };

	return ns[i % 6] ? green_now() + ns[i % 6] : 1;
}

static void tr_sender(void *arg)
{
	struct tr *t = arg;
	long i;

	for (i = 1; i <= t->n; i++) {
		if (green_chan_send_until(t->c, &i, tr_deadline(i)) == 0) {
			t->sent++;
			t->sum_sent += i;
		} else {
			green_yield();
		}
	}
	i = 0;
	green_chan_send(t->c, &i);	/* the end */
	green_wg_done(&t->wg);
}

static void tr_receiver(void *arg)
{
	struct tr *t = arg;
	long v, tries = 0;

	for (;;) {
		int ret = green_chan_recv_until(t->c, &v,
						tr_deadline(++tries));

		if (ret == -ETIMEDOUT) {
			/* An expired deadline may not park: let others run. */
			green_yield();
			continue;
		}
		if (ret || v == 0)
			break;
		if (v <= t->last)
			t->dups++;
		t->last = v;
		t->received++;
		t->sum_recv += v;
	}
	green_wg_done(&t->wg);
}

static void tr_main(void *arg)
{
	struct tr *t = arg;
	int k;

	for (k = 0; k < 2; k++) {
		t[k].c = green_chan_make(sizeof(long), k);
		green_wg_add(&t[k].wg, 2);
		green_go(tr_receiver, &t[k]);
		green_go(tr_sender, &t[k]);
	}
	for (k = 0; k < 2; k++) {
		green_wg_wait(&t[k].wg);
		green_chan_free(t[k].c);
	}
}

TEST(timeouts_racing_transfers_lose_nothing)
{
	struct tr t[2] = { 0 };
	int k;

	for (k = 0; k < 2; k++) {
		/* Valgrind runs one thread at a time: each expiry is slow. */
		t[k].n = under_valgrind() ? 200 : scaled(100000, 1000);
		green_wg_init(&t[k].wg);
	}
	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(tr_main, t));
	for (k = 0; k < 2; k++) {
		EXPECT_EQ(t[k].sent, t[k].received);
		EXPECT_EQ(t[k].sum_sent, t[k].sum_recv);
		EXPECT_EQ(0, t[k].dups);
		EXPECT_GT(t[k].sent, 0);
	}
}

/*
 * The race a timeout must not lose a value to: the waiter's deadline has
 * fired (it is runnable) but it has not yet taken itself off the queue
 * when a peer claims it. On one processor: the receiver's deadline is D,
 * the peer sleeps until just after D, so both timers fire in one batch
 * and the peer (readied last, so run first) finds the receiver still
 * queued. The value must then count as received: both sides say 0.
 * Whatever the order, the two sides must agree.
 */
struct late {
	green_chan_t *c;
	int64_t deadline;
	long rounds;
	long agree, disagree, peer_won;
	int recv_ret, send_ret;
	long got;
	green_wg_t wg;
};

static void late_receiver(void *arg)
{
	struct late *l = arg;

	l->got = -1;
	l->recv_ret = green_chan_recv_until(l->c, &l->got, l->deadline);
	green_wg_done(&l->wg);
}

static void late_peer(void *arg)
{
	struct late *l = arg;
	long v = 1234;

	green_sleep_until(l->deadline + 1);
	l->send_ret = green_chan_try_send(l->c, &v);
	green_wg_done(&l->wg);
}

static void late_main(void *arg)
{
	struct late *l = arg;
	long i;

	l->c = green_chan_make(sizeof(long), 0);
	for (i = 0; i < l->rounds; i++) {
		l->deadline = green_now() + 200000;
		green_wg_add(&l->wg, 2);
		green_go(late_receiver, l);
		green_go(late_peer, l);
		green_wg_wait(&l->wg);
		if ((l->send_ret == 0) == (l->recv_ret == 0 && l->got == 1234))
			l->agree++;
		else
			l->disagree++;
		if (l->send_ret == 0)
			l->peer_won++;
	}
	green_chan_free(l->c);
}

TEST(timeout_loses_to_a_claim_in_flight)
{
	struct late l = { .rounds = scaled(2000, 50), .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(late_main, &l));
	TH_LOG("peer claimed the timed-out waiter in %ld of %ld rounds",
	       l.peer_won, l.rounds);
	EXPECT_EQ(0, l.disagree);
	EXPECT_EQ(l.rounds, l.agree);
}

/* ---- Go memory model: "A send on a channel is synchronized before the
 * completion of the corresponding receive"; "The kth receive on a channel
 * with capacity C is synchronized before the completion of the k+Cth send
 * from that channel." Plain (non-atomic) data: TSan checks the edges. */

#define HB_N 256

struct hb {
	green_chan_t *c, *sem;
	long data[HB_N];
	long bad;
	long inside, max_inside;
	green_wg_t wg;
};

static void hb_producer(void *arg)
{
	struct hb *h = arg;
	long i;

	for (i = 0; i < HB_N; i++) {
		h->data[i] = i * 3 + 1;
		green_chan_send(h->c, &i);
	}
	green_wg_done(&h->wg);
}

static void hb_worker(void *arg)
{
	struct hb *h = arg;
	long now, max;

	green_chan_send(h->sem, NULL);		/* acquire */
	now = __atomic_add_fetch(&h->inside, 1, __ATOMIC_RELAXED);
	max = __atomic_load_n(&h->max_inside, __ATOMIC_RELAXED);
	while (now > max && !__atomic_compare_exchange_n(&h->max_inside, &max,
							 now, false,
							 __ATOMIC_RELAXED,
							 __ATOMIC_RELAXED))
		;
	green_yield();
	__atomic_sub_fetch(&h->inside, 1, __ATOMIC_RELAXED);
	green_chan_recv(h->sem, NULL);		/* release */
	green_wg_done(&h->wg);
}

static void hb_main(void *arg)
{
	struct hb *h = arg;
	long i, k;

	for (k = 0; k < 2; k++) {
		h->c = green_chan_make(sizeof(long), k * 4);
		green_wg_add(&h->wg, 1);
		green_go(hb_producer, h);
		for (i = 0; i < HB_N; i++) {
			long idx;

			green_chan_recv(h->c, &idx);
			if (h->data[idx] != idx * 3 + 1)
				h->bad++;
		}
		green_wg_wait(&h->wg);
		green_chan_free(h->c);
	}
	/* A buffered channel of capacity 3 as a counting semaphore. */
	h->sem = green_chan_make(0, 3);
	for (i = 0; i < 64; i++) {
		green_wg_add(&h->wg, 1);
		green_go(hb_worker, h);
	}
	green_wg_wait(&h->wg);
	green_chan_free(h->sem);
}

TEST(memory_model_edges)
{
	struct hb *h = calloc(1, sizeof(*h));

	ASSERT_NE(NULL, h);
	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(hb_main, h));
	EXPECT_EQ(0, h->bad);
	EXPECT_LE(h->max_inside, 3);
	EXPECT_GE(h->max_inside, 1);
	free(h);
}

TEST_HARNESS_MAIN
