// SPDX-License-Identifier: MIT
/*
 * test_cond.c - green_cond_t, Go's sync.Cond: signal wakes one waiter (the
 * longest waiting), broadcast all, no wakeup is lost under contention,
 * and a wait ends with its deadline or its task's context.
 */
#include "kselftest_harness.h"
#include "test_util.h"

/* ---- signal one, in order; broadcast all ---- */

#define NW 4

struct order {
	green_mutex_t m;
	green_cond_t c;
	green_wg_t wg;
	int go_ahead;		/* guarded by m */
	int woken[NW], nwoken;
	int after_one_signal, after_four;
	struct order_arg {
		struct order *o;
		int id;
	} args[NW];
	int errs;
};

static void order_waiter(void *arg)
{
	struct order_arg *a = arg;
	struct order *o = a->o;

	green_mutex_lock(&o->m);
	while (!o->go_ahead)
		if (green_cond_wait(&o->c, &o->m))
			o->errs++;
	o->go_ahead--;
	o->woken[o->nwoken++] = a->id;
	green_mutex_unlock(&o->m);
	green_wg_done(&o->wg);
}

static void settle(void)
{
	int i;

	for (i = 0; i < 100; i++)
		green_yield();
}

static void order_main(void *arg)
{
	struct order *o = arg;
	int i;

	for (i = 0; i < NW; i++) {
		o->args[i].o = o;
		o->args[i].id = i;
		green_wg_add(&o->wg, 1);
		green_go(order_waiter, &o->args[i]);
		settle();	/* one processor: it waits before the next */
	}
	green_mutex_lock(&o->m);
	o->go_ahead = 1;
	green_cond_signal(&o->c);
	green_mutex_unlock(&o->m);
	settle();
	o->after_one_signal = o->nwoken;
	/*
	 * Signal without the mutex held is allowed too. One at a time:
	 * woken tasks go to runnext, so two woken at once would run in the
	 * reverse order of their waking.
	 */
	for (i = 0; i < 3; i++) {
		green_mutex_lock(&o->m);
		o->go_ahead++;
		green_mutex_unlock(&o->m);
		green_cond_signal(&o->c);
		settle();
	}
	green_wg_wait(&o->wg);
	o->after_four = o->nwoken;
}

TEST(signal_wakes_longest_waiter)
{
	struct order o = { .m = GREEN_MUTEX_INIT, .c = GREEN_COND_INIT,
			   .wg = GREEN_WG_INIT };
	int i;

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(order_main, &o));
	EXPECT_EQ(1, o.after_one_signal);
	EXPECT_EQ(NW, o.after_four);
	for (i = 0; i < NW; i++)
		EXPECT_EQ(i, o.woken[i]);
	EXPECT_EQ(0, o.errs);
}

struct bcast {
	green_mutex_t m;
	green_cond_t c;
	green_wg_t wg;
	int open;
	int woken;
	int woken_before;
};

static void bcast_waiter(void *arg)
{
	struct bcast *b = arg;

	green_mutex_lock(&b->m);
	while (!b->open)
		green_cond_wait(&b->c, &b->m);
	b->woken++;
	green_mutex_unlock(&b->m);
	green_wg_done(&b->wg);
}

static void bcast_main(void *arg)
{
	struct bcast *b = arg;
	int i, n = scaled(1000, 50);

	for (i = 0; i < n; i++) {
		green_wg_add(&b->wg, 1);
		green_go(bcast_waiter, b);
	}
	settle();
	green_mutex_lock(&b->m);
	b->woken_before = b->woken;
	b->open = 1;
	green_cond_broadcast(&b->c);
	green_mutex_unlock(&b->m);
	green_wg_wait(&b->wg);
}

TEST(broadcast_wakes_all)
{
	struct bcast b = { .m = GREEN_MUTEX_INIT, .c = GREEN_COND_INIT,
			   .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(bcast_main, &b));
	EXPECT_EQ(0, b.woken_before);
	EXPECT_EQ(scaled(1000, 50), b.woken);
}

/* ---- no lost wakeup: bounded queue, producers and consumers ---- */

struct pc {
	green_mutex_t m;
	green_cond_t not_empty, not_full;
	green_wg_t wg;
	long per_producer;
	int items;		/* guarded by m */
	long consumed, produced;
};

#define PC_CAP 4

static void producer(void *arg)
{
	struct pc *q = arg;
	long i;

	for (i = 0; i < q->per_producer; i++) {
		green_mutex_lock(&q->m);
		while (q->items == PC_CAP)
			green_cond_wait(&q->not_full, &q->m);
		q->items++;
		q->produced++;
		green_cond_signal(&q->not_empty);
		green_mutex_unlock(&q->m);
	}
	green_wg_done(&q->wg);
}

static void consumer(void *arg)
{
	struct pc *q = arg;
	long i;

	for (i = 0; i < q->per_producer; i++) {
		green_mutex_lock(&q->m);
		while (q->items == 0)
			green_cond_wait(&q->not_empty, &q->m);
		q->items--;
		q->consumed++;
		green_mutex_unlock(&q->m);
		/* Outside the mutex: a wait must not miss it either. */
		green_cond_signal(&q->not_full);
	}
	green_wg_done(&q->wg);
}

static void pc_main(void *arg)
{
	struct pc *q = arg;
	int i;

	for (i = 0; i < 4; i++) {
		green_wg_add(&q->wg, 2);
		green_go(producer, q);
		green_go(consumer, q);
	}
	green_wg_wait(&q->wg);
}

static void run_pc(struct __test_metadata *_metadata, const char *procs)
{
	struct pc q = { .m = GREEN_MUTEX_INIT, .not_empty = GREEN_COND_INIT,
			.not_full = GREEN_COND_INIT, .wg = GREEN_WG_INIT,
			.per_producer = scaled(100000, 1000) };

	setenv("GREEN_PROCS", procs, 1);
	ASSERT_EQ(0, green_run(pc_main, &q));
	EXPECT_EQ(4 * q.per_producer, q.produced);
	EXPECT_EQ(4 * q.per_producer, q.consumed);
	EXPECT_EQ(0, q.items);
}

TEST(no_lost_wakeup_2_procs)
{
	run_pc(_metadata, "2");
}

TEST(no_lost_wakeup_4_procs)
{
	run_pc(_metadata, "4");
}

/* ---- deadlines, contexts, misuse ---- */

struct ends {
	green_mutex_t m;
	green_cond_t c;
	green_wg_t wg;
	green_ctx_t *ctx;
	int r[8];
	int64_t waited;
	bool relocked[4];
};

static bool held(green_mutex_t *m)
{
	return __atomic_load_n(&m->state, __ATOMIC_RELAXED) & 1;
}

static void cancelled_waiter(void *arg)
{
	struct ends *e = arg;

	green_mutex_lock(&e->m);
	e->r[2] = green_cond_wait(&e->c, &e->m);	/* context ends it */
	e->relocked[1] = held(&e->m);
	green_mutex_unlock(&e->m);
	green_wg_done(&e->wg);
}

static void ends_main(void *arg)
{
	struct ends *e = arg;
	green_mutex_t other = GREEN_MUTEX_INIT;
	int64_t t0;

	green_mutex_lock(&e->m);
	t0 = green_now();
	e->r[0] = green_cond_wait_until(&e->c, &e->m, t0 + 20000000);
	e->waited = green_now() - t0;
	e->relocked[0] = held(&e->m);
	green_mutex_unlock(&e->m);

	/* A task whose context is cancelled while it waits. */
	green_ctx_with_cancel(green_ctx_background(), &e->ctx);
	green_wg_add(&e->wg, 1);
	green_go_ctx(e->ctx, cancelled_waiter, e);
	green_sleep(5000000);
	green_ctx_cancel(e->ctx);
	green_wg_wait(&e->wg);
	green_ctx_free(e->ctx);

	/* The task's own deadline. */
	green_deadline_set(green_now() + 5000000);
	green_mutex_lock(&e->m);
	e->r[3] = green_cond_wait(&e->c, &e->m);
	e->relocked[2] = held(&e->m);
	green_mutex_unlock(&e->m);
	green_deadline_set(0);

	e->r[4] = green_cond_wait(&e->c, &other);	/* not locked */
	e->r[5] = green_cond_wait_until(&e->c, &e->m, -1);
	e->r[6] = green_cond_signal(&e->c);	/* nobody waits */
	e->r[7] = green_cond_broadcast(&e->c);
}

TEST(deadline_context_and_misuse)
{
	struct ends e = { .m = GREEN_MUTEX_INIT, .c = GREEN_COND_INIT,
			  .wg = GREEN_WG_INIT };
	green_mutex_t m = GREEN_MUTEX_INIT;
	green_cond_t c = GREEN_COND_INIT;

	ASSERT_EQ(0, green_run(ends_main, &e));
	EXPECT_EQ(-ETIMEDOUT, e.r[0]);
	EXPECT_GE(e.waited, 20000000);
	EXPECT_EQ(-ECANCELED, e.r[2]);
	EXPECT_EQ(-ETIMEDOUT, e.r[3]);
	EXPECT_TRUE(e.relocked[0]);
	EXPECT_TRUE(e.relocked[1]);
	EXPECT_TRUE(e.relocked[2]);
	EXPECT_EQ(-EPERM, e.r[4]);
	EXPECT_EQ(-EINVAL, e.r[5]);
	EXPECT_EQ(0, e.r[6]);
	EXPECT_EQ(0, e.r[7]);
	EXPECT_EQ(0, (int)e.m.state);
	/* Outside a task there is nothing to park. */
	green_mutex_lock(&m);
	EXPECT_EQ(-EPERM, green_cond_wait(&c, &m));
	EXPECT_EQ(-EINVAL, green_cond_wait(NULL, &m));
	EXPECT_EQ(-EINVAL, green_cond_signal(NULL));
	EXPECT_EQ(-EINVAL, green_cond_broadcast(NULL));
}

/*
 * Signals racing with cancellations: every signal is either taken by a
 * waiter (which returns 0) or the waiter reports its context; a woken
 * count never exceeds the signals sent and no waiter is stranded.
 */
struct race {
	green_mutex_t m;
	green_cond_t c;
	green_wg_t wg;
	long rounds;
	long got, cancelled, tokens;	/* guarded by m */
	long stuck;
};

static void race_waiter(void *arg)
{
	struct race *r = arg;
	int ret;

	green_mutex_lock(&r->m);
	ret = 0;
	while (!r->tokens && !ret)
		ret = green_cond_wait(&r->c, &r->m);
	if (r->tokens) {
		r->tokens--;
		r->got++;
	} else {
		r->cancelled++;
	}
	green_mutex_unlock(&r->m);
	green_wg_done(&r->wg);
}

static void race_main(void *arg)
{
	struct race *r = arg;
	long i;

	for (i = 0; i < r->rounds; i++) {
		green_ctx_t *ctx;

		green_ctx_with_cancel(green_ctx_background(), &ctx);
		green_wg_add(&r->wg, 2);
		green_go_ctx(ctx, race_waiter, r);
		green_go_ctx(ctx, race_waiter, r);
		if (i & 1)
			green_yield();
		green_mutex_lock(&r->m);
		r->tokens++;
		green_cond_signal(&r->c);
		green_mutex_unlock(&r->m);
		green_ctx_free(ctx);	/* cancels the other */
		green_wg_wait(&r->wg);
		green_mutex_lock(&r->m);
		if (r->tokens)
			r->stuck++;	/* a signal nobody took */
		r->tokens = 0;
		green_mutex_unlock(&r->m);
	}
}

TEST(signal_races_cancel)
{
	struct race r = { .m = GREEN_MUTEX_INIT, .c = GREEN_COND_INIT,
			  .wg = GREEN_WG_INIT, .rounds = scaled(20000, 200) };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(race_main, &r));
	EXPECT_EQ(r.rounds, r.got);
	EXPECT_EQ(r.rounds, r.cancelled);
	EXPECT_EQ(0, r.stuck);
}

TEST_HARNESS_MAIN
