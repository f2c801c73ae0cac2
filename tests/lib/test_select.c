// SPDX-License-Identifier: MIT
/*
 * test_select.c - green_select, rule by rule from the Go specification's
 * "Select statements": a uniformly random choice among ready cases, the
 * default case (GREEN_SELECT_NONBLOCK), blocking until one case can
 * proceed, nil channels never ready, exactly one communication done; plus
 * deadlines, closed channels, and values under contention across
 * processors with selects on both ends, and context cancellation.
 */
#include <signal.h>

#include "kselftest_harness.h"
#include "test_util.h"

#define MS 1000000LL

static void yield_n(int n)
{
	while (n-- > 0)
		green_yield();
}

#define RECV(ch, p) { .op = GREEN_SELECT_RECV, .chan = (ch), .elem = (p) }
#define SEND(ch, p) { .op = GREEN_SELECT_SEND, .chan = (ch), .elem = (p) }

TEST(bad_arguments)
{
	green_chan_t *c = green_chan_make(sizeof(int), 1);
	int v = 0;
	struct green_select_case bad_op[1] = { { .op = 3, .chan = c } };
	struct green_select_case null_elem[1] = { SEND(c, NULL) };
	struct green_select_case ok[1] = { RECV(c, &v) };

	ASSERT_NE(NULL, c);
	EXPECT_EQ(-EINVAL, green_select(bad_op, 1, 0, 0));
	EXPECT_EQ(-EINVAL, green_select(null_elem, 1, 0, 0));
	EXPECT_EQ(-EINVAL, green_select(NULL, 1, 0, 0));
	EXPECT_EQ(-EINVAL, green_select(ok, GREEN_SELECT_MAX + 1, 0, 0));
	EXPECT_EQ(-EINVAL, green_select(ok, 1, 0x10, 0));
	EXPECT_EQ(-EINVAL, green_select(ok, 1, 0, -1));
	/* No cases: only the default case. */
	EXPECT_EQ(-EAGAIN, green_select(NULL, 0, GREEN_SELECT_NONBLOCK, 0));
	/* Outside a task: a select that would block is -EPERM, a ready one
	 * proceeds. */
	EXPECT_EQ(-EPERM, green_select(ok, 1, 0, 0));
	EXPECT_EQ(0, green_chan_try_send(c, &(int){ 9 }));
	v = 0;
	EXPECT_EQ(0, green_select(ok, 1, 0, 0));
	EXPECT_EQ(0, ok[0].err);
	EXPECT_EQ(9, v);
	green_chan_free(c);
}

/* "If there is a default case, that case is chosen" when no other can
 * proceed; a nil channel is never ready. */
TEST(default_case_and_nil_channels)
{
	green_chan_t *u = green_chan_make(sizeof(int), 0);
	green_chan_t *b = green_chan_make(sizeof(int), 1);
	int v = 5, w = 0, i;
	struct green_select_case none[4] = {
		RECV(u, &w), SEND(u, &v), RECV(b, &w), RECV(NULL, &w),
	};
	struct green_select_case nils[3] = {
		RECV(NULL, &w), SEND(NULL, &v), SEND(b, &v),
	};

	ASSERT_NE(NULL, u);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(-EAGAIN, green_select(none, 4, GREEN_SELECT_NONBLOCK, 0));
	/* Nothing was left queued on the channels. */
	EXPECT_EQ(-EAGAIN, green_chan_try_send(u, &v));
	EXPECT_EQ(-EAGAIN, green_chan_try_recv(u, &v));
	EXPECT_EQ(0, (int)green_chan_len(b));
	/* Only the non-nil case can be chosen. */
	for (i = 0; i < 20; i++) {
		EXPECT_EQ(2, green_select(nils, 3, GREEN_SELECT_NONBLOCK, 0));
		EXPECT_EQ(0, green_chan_try_recv(b, &w));
		EXPECT_EQ(5, w);
	}
	EXPECT_EQ(-EAGAIN, green_select(nils, 2, GREEN_SELECT_NONBLOCK, 0));
	green_chan_free(u);
	green_chan_free(b);
}

/* "Unless the selected case is the default case, the respective
 * communication operation is executed": exactly one. */
TEST(exactly_one_case_proceeds)
{
	green_chan_t *a = green_chan_make(sizeof(int), 1);
	green_chan_t *b = green_chan_make(sizeof(int), 1);
	int x = 1, y = 2, got = 0, i, r;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	for (i = 0; i < 50; i++) {
		struct green_select_case rc[2] = { RECV(a, &got),
						   RECV(b, &got) };
		struct green_select_case sc[2] = { SEND(a, &x), SEND(b, &y) };

		green_chan_try_send(a, &x);
		green_chan_try_send(b, &y);
		r = green_select(rc, 2, 0, 0);
		ASSERT_TRUE(r == 0 || r == 1);
		EXPECT_EQ(r == 0 ? 1 : 2, got);
		EXPECT_EQ(r == 0 ? 0 : 1, (int)green_chan_len(a));
		EXPECT_EQ(r == 0 ? 1 : 0, (int)green_chan_len(b));
		/* Empty both, then two sends can proceed: one does. */
		green_chan_try_recv(a, NULL);
		green_chan_try_recv(b, NULL);
		r = green_select(sc, 2, 0, 0);
		ASSERT_TRUE(r == 0 || r == 1);
		EXPECT_EQ(0, sc[r].err);
		EXPECT_EQ(1, (int)(green_chan_len(a) + green_chan_len(b)));
		EXPECT_EQ(1, (int)green_chan_len(r == 0 ? a : b));
		green_chan_try_recv(a, NULL);
		green_chan_try_recv(b, NULL);
	}
	green_chan_free(a);
	green_chan_free(b);
}

/*
 * "If one or more of the communications can proceed, a single one that
 * can proceed is chosen via a uniform pseudo-random selection." Four
 * always-ready cases (two receives, two sends): a chi-square statistic on
 * the counts, 3 degrees of freedom. 40 is far beyond p = 1e-7 for a fair
 * choice; a fixed or biased order (say always the first ready case, or
 * 40/20/20/20) exceeds it by orders of magnitude.
 */
TEST(uniform_choice_among_ready_cases)
{
	green_chan_t *r0 = green_chan_make(sizeof(int), 1);
	green_chan_t *r1 = green_chan_make(sizeof(int), 1);
	green_chan_t *s0 = green_chan_make(sizeof(int), 1);
	green_chan_t *s1 = green_chan_make(sizeof(int), 1);
	long n = scaled(40000, 4000), count[4] = { 0 }, i;
	int v = 1, w;
	double chi2 = 0, e;
	struct green_select_case cs[4] = {
		RECV(r0, &w), SEND(s0, &v), RECV(r1, &w), SEND(s1, &v),
	};

	ASSERT_NE(NULL, s1);
	green_chan_try_send(r0, &v);
	green_chan_try_send(r1, &v);
	for (i = 0; i < n; i++) {
		int k = green_select(cs, 4, GREEN_SELECT_NONBLOCK, 0);

		ASSERT_TRUE(k >= 0 && k < 4);
		count[k]++;
		/* Make every case ready again. */
		if (cs[k].op == GREEN_SELECT_RECV)
			green_chan_try_send(cs[k].chan, &v);
		else
			green_chan_try_recv(cs[k].chan, NULL);
	}
	e = n / 4.0;
	for (i = 0; i < 4; i++)
		chi2 += (count[i] - e) * (count[i] - e) / e;
	TH_LOG("counts %ld %ld %ld %ld, chi-square %.2f", count[0], count[1],
	       count[2], count[3], chi2);
	EXPECT_LT(chi2, 40.0);
	green_chan_free(r0);
	green_chan_free(r1);
	green_chan_free(s0);
	green_chan_free(s1);
}

/* A closed channel's receive case is always ready (ok == false, zero
 * value); a send case on it proceeds with -EPIPE (Go panics). */
TEST(closed_channel_cases)
{
	green_chan_t *c = green_chan_make(sizeof(int), 0);
	green_chan_t *d = green_chan_make(sizeof(int), 1);
	int v = 77, w, i, seen[2] = { 0 };
	struct green_select_case rc[2] = { RECV(c, &w), RECV(d, &w) };
	struct green_select_case sc[1] = { SEND(c, &v) };

	ASSERT_NE(NULL, d);
	green_chan_close(c);
	w = 5;
	EXPECT_EQ(0, green_select(rc, 1, 0, 0));
	EXPECT_EQ(-EPIPE, rc[0].err);
	EXPECT_EQ(0, w);
	EXPECT_EQ(0, green_select(sc, 1, GREEN_SELECT_NONBLOCK, 0));
	EXPECT_EQ(-EPIPE, sc[0].err);
	/* Closed and ready-with-a-value: both get chosen. */
	for (i = 0; i < 200; i++) {
		int k;

		green_chan_try_send(d, &v);
		k = green_select(rc, 2, 0, 0);
		ASSERT_TRUE(k == 0 || k == 1);
		seen[k & 1]++;
		EXPECT_EQ(k == 0 ? -EPIPE : 0, rc[k].err);
		EXPECT_EQ(k == 0 ? 0 : 77, w);
		green_chan_try_recv(d, NULL);
	}
	EXPECT_GT(seen[0], 0);
	EXPECT_GT(seen[1], 0);
	green_chan_free(c);
	green_chan_free(d);
}

/* "If there is no default case, the select statement blocks until at
 * least one of the communications can proceed." One processor makes the
 * order exact: the selecting task is parked on all three cases each time. */
struct blk {
	green_chan_t *a, *b, *c;
	int ret[4], err[4], val[4];
	int progress;
	green_wg_t wg;
};

static void blk_selector(void *arg)
{
	struct blk *s = arg;
	int k;

	for (k = 0; k < 3; k++) {
		int in = -1, out = 100 + k;
		struct green_select_case cs[3] = {
			RECV(s->a, &in), RECV(s->b, &in), SEND(s->c, &out),
		};

		s->ret[k] = green_select(cs, 3, 0, 0);
		s->err[k] = s->ret[k] >= 0 ? cs[s->ret[k]].err : 0;
		s->val[k] = in;
		s->progress++;
	}
	green_wg_done(&s->wg);
}

static void blk_main(void *arg)
{
	struct blk *s = arg;
	int v = 42, w = 0;

	s->a = green_chan_make(sizeof(int), 0);
	s->b = green_chan_make(sizeof(int), 0);
	s->c = green_chan_make(sizeof(int), 0);
	green_wg_add(&s->wg, 1);
	green_go(blk_selector, s);
	yield_n(5);
	s->val[3] = s->progress;		/* 0: it blocks */
	green_chan_send(s->b, &v);		/* case 1 */
	yield_n(5);
	green_chan_recv(s->c, &w);		/* case 2 */
	s->ret[3] = w;
	yield_n(5);
	green_chan_close(s->a);			/* case 0, closed */
	green_wg_wait(&s->wg);
	/* Its waiters were all removed: nothing pairs with these now. */
	s->err[3] = green_chan_try_send(s->b, &v) == -EAGAIN &&
		    green_chan_try_recv(s->c, &w) == -EAGAIN;
	green_chan_free(s->a);
	green_chan_free(s->b);
	green_chan_free(s->c);
}

TEST(blocks_until_a_case_can_proceed)
{
	struct blk s = { .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(blk_main, &s));
	EXPECT_EQ(0, s.val[3]);
	EXPECT_EQ(1, s.ret[0]);
	EXPECT_EQ(0, s.err[0]);
	EXPECT_EQ(42, s.val[0]);
	EXPECT_EQ(2, s.ret[1]);
	EXPECT_EQ(0, s.err[1]);
	EXPECT_EQ(101, s.ret[3]);
	EXPECT_EQ(0, s.ret[2]);
	EXPECT_EQ(-EPIPE, s.err[2]);
	EXPECT_EQ(0, s.val[2]);
	EXPECT_TRUE(s.err[3]);
}

/* Deadlines: the call's, and the task's own; the waiters are removed. */
struct dl {
	int ret[4];
	int64_t waited[2];
	bool clean;
};

static void dl_main(void *arg)
{
	struct dl *d = arg;
	green_chan_t *u = green_chan_make(sizeof(int), 0);
	green_chan_t *b = green_chan_make(sizeof(int), 0);
	int v = 1, w;
	struct green_select_case cs[2] = { RECV(u, &w), SEND(b, &v) };
	int64_t t0 = green_now();

	d->ret[0] = green_select(cs, 2, 0, t0 + 20 * MS);
	d->waited[0] = green_now() - t0;
	d->clean = green_chan_try_send(u, &v) == -EAGAIN &&
		   green_chan_try_recv(b, &w) == -EAGAIN;
	t0 = green_now();
	green_deadline_set(t0 + 20 * MS);
	d->ret[1] = green_select(cs, 2, 0, 0);
	d->waited[1] = green_now() - t0;
	/* Already past, nothing ready: -ETIMEDOUT at once. */
	d->ret[2] = green_select(cs, 2, 0, 1);
	green_deadline_set(0);
	/* No case at all (Go's empty select) ends at the deadline. */
	d->ret[3] = green_select(NULL, 0, 0, green_now() + MS);
	green_chan_free(u);
	green_chan_free(b);
}

TEST(deadlines)
{
	struct dl d = { 0 };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(dl_main, &d));
	EXPECT_EQ(-ETIMEDOUT, d.ret[0]);
	EXPECT_EQ(-ETIMEDOUT, d.ret[1]);
	EXPECT_EQ(-ETIMEDOUT, d.ret[2]);
	EXPECT_EQ(-ETIMEDOUT, d.ret[3]);
	EXPECT_TRUE(d.clean);
	EXPECT_GE(d.waited[0], 20 * MS);
	EXPECT_GE(d.waited[1], 20 * MS);
	EXPECT_LT(d.waited[0], 2000 * MS);
	EXPECT_LT(d.waited[1], 2000 * MS);
}

/*
 * A select whose deadline has fired, claimed by a peer before it ran
 * again (see test_chan.c's timeout_loses_to_a_claim_in_flight): the peer's
 * send counts, and the select reports that case, not -ETIMEDOUT.
 */
struct late {
	green_chan_t *a, *b;
	int64_t deadline;
	long rounds, disagree, peer_won;
	int sel_ret, send_ret;
	long got;
	green_wg_t wg;
};

static void late_selector(void *arg)
{
	struct late *l = arg;
	struct green_select_case cs[2] = {
		RECV(l->a, &l->got), RECV(l->b, &l->got),
	};

	l->got = -1;
	l->sel_ret = green_select(cs, 2, 0, l->deadline);
	green_wg_done(&l->wg);
}

static void late_peer(void *arg)
{
	struct late *l = arg;
	long v = 4321;

	green_sleep_until(l->deadline + 1);
	l->send_ret = green_chan_try_send(l->b, &v);
	green_wg_done(&l->wg);
}

static void late_main(void *arg)
{
	struct late *l = arg;
	long i;

	l->a = green_chan_make(sizeof(long), 0);
	l->b = green_chan_make(sizeof(long), 0);
	for (i = 0; i < l->rounds; i++) {
		l->deadline = green_now() + 200000;
		green_wg_add(&l->wg, 2);
		green_go(late_selector, l);
		green_go(late_peer, l);
		green_wg_wait(&l->wg);
		if ((l->send_ret == 0) != (l->sel_ret == 1 && l->got == 4321))
			l->disagree++;
		if (l->send_ret == 0)
			l->peer_won++;
	}
	green_chan_free(l->a);
	green_chan_free(l->b);
}

TEST(deadline_loses_to_a_claim_in_flight)
{
	struct late l = { .rounds = scaled(2000, 50), .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(late_main, &l));
	TH_LOG("peer claimed the timed-out select in %ld of %ld rounds",
	       l.peer_won, l.rounds);
	EXPECT_EQ(0, l.disagree);
}

/*
 * A task's context ends its channel waits: a cancel wakes a blocked
 * receive, send and select with -ECANCELED, and leaves nothing queued; a
 * context already done fails a wait at once but lets a ready operation
 * through; the context's done channel works as a select case.
 */
struct ctxs {
	green_chan_t *u, *v, *b;
	green_ctx_t *ctx;
	int ret[8];
	bool clean, done_case;
	green_wg_t wg;
};

static void ctx_recv(void *arg)
{
	struct ctxs *s = arg;
	long x;

	s->ret[0] = green_chan_recv(s->u, &x);
	green_wg_done(&s->wg);
}

static void ctx_send(void *arg)
{
	struct ctxs *s = arg;
	long x = 1;

	s->ret[1] = green_chan_send(s->v, &x);
	green_wg_done(&s->wg);
}

static void ctx_select(void *arg)
{
	struct ctxs *s = arg;
	long x = 2, y;
	struct green_select_case cs[3] = {
		RECV(s->u, &y), SEND(s->v, &x), RECV(NULL, &y),
	};

	s->ret[2] = green_select(cs, 3, 0, 0);
	s->ret[3] = green_select(NULL, 0, 0, 0);	/* select {} */
	green_wg_done(&s->wg);
}

static void ctx_main(void *arg)
{
	struct ctxs *s = arg;
	green_ctx_t *old;
	long x = 3;
	int k;

	s->u = green_chan_make(sizeof(long), 0);
	s->v = green_chan_make(sizeof(long), 0);
	s->b = green_chan_make(sizeof(long), 1);
	green_ctx_with_cancel(green_ctx_background(), &s->ctx);
	green_wg_add(&s->wg, 3);
	green_go_ctx(s->ctx, ctx_recv, s);
	green_go_ctx(s->ctx, ctx_send, s);
	green_go_ctx(s->ctx, ctx_select, s);
	yield_n(20);
	green_ctx_cancel(s->ctx);
	green_wg_wait(&s->wg);
	s->clean = green_chan_try_send(s->u, &x) == -EAGAIN &&
		   green_chan_try_recv(s->v, &x) == -EAGAIN;

	/* Now attach the cancelled context to ourselves. */
	old = green_ctx_set(s->ctx);
	s->ret[4] = green_chan_recv(s->u, &x);			/* waits */
	s->ret[5] = green_chan_send(s->b, &x);			/* ready */
	{
		struct green_select_case cs[2] = {
			RECV(s->u, &x), RECV(green_ctx_done(s->ctx), NULL),
		};

		k = green_select(cs, 2, 0, 0);
		s->done_case = k == 1 && cs[1].err == -EPIPE;
	}
	s->ret[6] = green_select(NULL, 0, 0, 0);
	green_ctx_unref(green_ctx_set(old));
	green_ctx_unref(old);
	s->ret[7] = green_chan_try_recv(s->b, &x);
	green_ctx_free(s->ctx);
	green_chan_free(s->u);
	green_chan_free(s->v);
	green_chan_free(s->b);
}

TEST(context_cancels_waits)
{
	struct ctxs s = { .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(ctx_main, &s));
	EXPECT_EQ(-ECANCELED, s.ret[0]);
	EXPECT_EQ(-ECANCELED, s.ret[1]);
	EXPECT_EQ(-ECANCELED, s.ret[2]);
	EXPECT_EQ(-ECANCELED, s.ret[3]);
	EXPECT_TRUE(s.clean);
	EXPECT_EQ(-ECANCELED, s.ret[4]);
	EXPECT_EQ(0, s.ret[5]);
	EXPECT_TRUE(s.done_case);
	EXPECT_EQ(-ECANCELED, s.ret[6]);
	EXPECT_EQ(0, s.ret[7]);
}

/* The same channel in several cases, sending and receiving; and more
 * cases than fit on the stack. */
struct same {
	green_chan_t *c;
	green_chan_t *many[100];
	int ret[4], val[4];
	green_wg_t wg;
};

static void same_peer(void *arg)
{
	struct same *s = arg;
	int v = 7, w = 0;

	green_chan_send(s->c, &v);		/* to a recv case */
	green_chan_recv(s->c, &w);		/* from the send case */
	s->val[1] = w;
	v = 99;
	green_chan_send(s->many[63], &v);
	green_wg_done(&s->wg);
}

static void same_main(void *arg)
{
	struct same *s = arg;
	struct green_select_case cs[3], big[100];
	int in = 0, out = 8, i;

	s->c = green_chan_make(sizeof(int), 0);
	for (i = 0; i < 100; i++)
		s->many[i] = green_chan_make(sizeof(int), 0);
	green_wg_add(&s->wg, 1);
	green_go(same_peer, s);
	for (i = 0; i < 2; i++) {
		cs[0] = (struct green_select_case)RECV(s->c, &in);
		cs[1] = (struct green_select_case)SEND(s->c, &out);
		cs[2] = (struct green_select_case)RECV(s->c, &in);
		s->ret[i] = green_select(cs, 3, 0, 0);
		if (i == 0)
			s->val[0] = in;
	}
	for (i = 0; i < 100; i++)
		big[i] = (struct green_select_case)RECV(s->many[i], &in);
	in = 0;
	s->ret[2] = green_select(big, 100, 0, 0);
	s->val[2] = in;
	green_wg_wait(&s->wg);
	green_chan_free(s->c);
	for (i = 0; i < 100; i++)
		green_chan_free(s->many[i]);
}

TEST(same_channel_twice_and_many_cases)
{
	struct same s = { .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(same_main, &s));
	EXPECT_TRUE(s.ret[0] == 0 || s.ret[0] == 2);
	EXPECT_EQ(7, s.val[0]);
	EXPECT_EQ(1, s.ret[1]);
	EXPECT_EQ(8, s.val[1]);
	EXPECT_EQ(63, s.ret[2]);
	EXPECT_EQ(99, s.val[2]);
}

/* chanpanic debug mode: a send case that meets a closed channel aborts. */
static int select_send_closed(void *arg)
{
	green_chan_t *c = green_chan_make(sizeof(int), 1);
	int v = 1, ret;
	struct green_select_case cs[1] = { SEND(c, &v) };

	green_chan_close(c);
	ret = green_select(cs, 1, 0, 0) == 0 && cs[0].err == -EPIPE ? 0 : 1;
	green_chan_free(c);
	return ret;
}

TEST(send_case_on_closed_panics_in_chanpanic_mode)
{
	struct child_result r;

	run_child(&r, "GREEN_DEBUG", "chanpanic", select_send_closed, NULL);
	EXPECT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT);
	EXPECT_NE(NULL, strstr(r.err, "panic: send on closed channel"));
	run_child(&r, NULL, NULL, select_send_closed, NULL);
	EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
}

/*
 * Contention across processors with select on both ends: senders select
 * over four channels (sending one value to whichever takes it), receivers
 * select over the same four in another order, plus plain receivers and a
 * deadline now and then. Every value arrives exactly once.
 */
#define NCH 4
#define NSEND 6
#define NRECV 6

struct storm {
	green_chan_t *ch[NCH];
	long per_sender;
	unsigned char *seen;
	long received, bad;
	green_wg_t swg, rwg;
	int sids, rids;
};

static void storm_sender(void *arg)
{
	struct storm *s = arg;
	long id = __atomic_fetch_add(&s->sids, 1, __ATOMIC_RELAXED), i;

	for (i = 0; i < s->per_sender; i++) {
		long v = id * s->per_sender + i;
		struct green_select_case cs[NCH];
		int k, r;

		for (k = 0; k < NCH; k++)
			cs[k] = (struct green_select_case)SEND(s->ch[k], &v);
		/* An expired deadline may not park: yield in the retry. */
		while ((r = green_select(cs, NCH, 0, green_now() + MS)) ==
		       -ETIMEDOUT)
			green_yield();
		if (r < 0 || cs[r].err)
			__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
	}
	green_wg_done(&s->swg);
}

static void storm_receiver(void *arg)
{
	struct storm *s = arg;
	long id = __atomic_fetch_add(&s->rids, 1, __ATOMIC_RELAXED);
	long v, n = 0, k;

	for (k = 0;; k++) {
		struct green_select_case cs[NCH];
		int j, r;

		if (id % 3 == 0 && k % 2) {
			/* A plain receive now and then. */
			r = green_chan_recv(s->ch[k % NCH], &v);
			if (r == -EPIPE)
				break;
		} else {
			for (j = 0; j < NCH; j++)
				cs[j] = (struct green_select_case)
					RECV(s->ch[(j + id) % NCH], &v);
			r = green_select(cs, NCH, 0,
					 k % 5 ? 0 : green_now() + MS);
			if (r == -ETIMEDOUT) {
				green_yield();
				continue;
			}
			if (r < 0) {
				__atomic_fetch_add(&s->bad, 1,
						   __ATOMIC_RELAXED);
				break;
			}
			if (cs[r].err == -EPIPE)
				break;
		}
		if (v < 0 || v >= NSEND * s->per_sender) {
			__atomic_fetch_add(&s->bad, 1, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_fetch_add(&s->seen[v], 1, __ATOMIC_RELAXED);
		n++;
	}
	__atomic_fetch_add(&s->received, n, __ATOMIC_RELAXED);
	green_wg_done(&s->rwg);
}

static void storm_main(void *arg)
{
	struct storm *s = arg;
	int i;

	green_wg_add(&s->rwg, NRECV);
	for (i = 0; i < NRECV; i++)
		green_go(storm_receiver, s);
	green_wg_add(&s->swg, NSEND);
	for (i = 0; i < NSEND; i++)
		green_go(storm_sender, s);
	green_wg_wait(&s->swg);
	/* A receiver that meets a closed channel stops; the others drain
	 * the rest first since closing all at once leaves none open. */
	for (i = 0; i < NCH; i++)
		green_chan_close(s->ch[i]);
	green_wg_wait(&s->rwg);
}

static void run_storm(struct __test_metadata *_metadata, const char *procs,
		      size_t cap)
{
	struct storm *s = calloc(1, sizeof(*s));
	long i, n, missing = 0, dups = 0;

	ASSERT_NE(NULL, s);
	/* Valgrind runs one thread at a time: spinning costs it dearly. */
	s->per_sender = under_valgrind() ? 300 : scaled(50000, 500);
	n = NSEND * s->per_sender;
	s->seen = calloc(n, 1);
	ASSERT_NE(NULL, s->seen);
	for (i = 0; i < NCH; i++) {
		s->ch[i] = green_chan_make(sizeof(long), cap);
		ASSERT_NE(NULL, s->ch[i]);
	}
	green_wg_init(&s->swg);
	green_wg_init(&s->rwg);
	setenv("GREEN_PROCS", procs, 1);
	ASSERT_EQ(0, green_run(storm_main, s));
	/* Values left buffered when a receiver stopped at a close. */
	for (i = 0; i < NCH; i++) {
		long v;

		while (green_chan_try_recv(s->ch[i], &v) == 0) {
			s->seen[v]++;
			s->received++;
		}
		green_chan_free(s->ch[i]);
	}
	for (i = 0; i < n; i++) {
		missing += s->seen[i] == 0;
		dups += s->seen[i] > 1;
	}
	EXPECT_EQ(0, s->bad);
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, dups);
	EXPECT_EQ(n, s->received);
	free(s->seen);
	free(s);
}

TEST(select_both_ends_unbuffered_4_procs)
{
	run_storm(_metadata, "4", 0);
}

TEST(select_both_ends_buffered_2_procs)
{
	run_storm(_metadata, "2", 3);
}

TEST_HARNESS_MAIN
