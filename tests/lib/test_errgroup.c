// SPDX-License-Identifier: MIT
/*
 * test_errgroup.c - green_errgroup_t, Go's x/sync/errgroup: the first
 * error cancels the others' blocking calls and is what wait returns; the
 * tasks run with the group's context; a limit bounds how many run.
 */
#include "kselftest_harness.h"
#include "test_util.h"

/* ---- the first error cancels the rest ---- */

struct first {
	green_errgroup_t eg;
	green_sema_t never;		/* size 1, held: blocks for ever */
	green_chan_t *ch;		/* nobody sends */
	int r[4];
	int wait_ret;
	int saw_group_ctx;
	green_ctx_t *gctx;
};

static int blocker_sema(void *arg)
{
	struct first *f = arg;

	if (green_ctx_current() == f->gctx)
		__atomic_fetch_add(&f->saw_group_ctx, 1, __ATOMIC_RELAXED);
	f->r[0] = green_sema_acquire(&f->never, 1);
	return f->r[0];
}

static int blocker_sleep(void *arg)
{
	struct first *f = arg;

	if (green_ctx_current() == f->gctx)
		__atomic_fetch_add(&f->saw_group_ctx, 1, __ATOMIC_RELAXED);
	f->r[1] = green_sleep(60 * 1000000000LL);
	return f->r[1];
}

static int blocker_chan(void *arg)
{
	struct first *f = arg;

	if (green_ctx_current() == f->gctx)
		__atomic_fetch_add(&f->saw_group_ctx, 1, __ATOMIC_RELAXED);
	f->r[2] = green_chan_recv(f->ch, NULL);
	return f->r[2];
}

static int failer(void *arg)
{
	green_sleep(2000000);
	return -EIO;
}

static void first_main(void *arg)
{
	struct first *f = arg;
	green_ctx_t *held;

	green_sema_init(&f->never, 1);
	green_sema_try_acquire(&f->never, 1);
	f->ch = green_chan_make(0, 0);
	green_errgroup_init(&f->eg, NULL);
	f->gctx = green_errgroup_ctx(&f->eg);
	held = green_ctx_ref(f->gctx);
	green_errgroup_go(&f->eg, blocker_sema, f);
	green_errgroup_go(&f->eg, blocker_sleep, f);
	green_errgroup_go(&f->eg, blocker_chan, f);
	green_errgroup_go(&f->eg, failer, f);
	f->wait_ret = green_errgroup_wait(&f->eg);
	f->r[3] = green_ctx_err(held);
	green_ctx_unref(held);
	green_chan_free(f->ch);
}

TEST(first_error_cancels_the_rest)
{
	struct first f;

	memset(&f, 0, sizeof(f));
	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(first_main, &f));
	EXPECT_EQ(-EIO, f.wait_ret);
	EXPECT_EQ(-ECANCELED, f.r[0]);
	EXPECT_EQ(-ECANCELED, f.r[1]);
	EXPECT_EQ(-ECANCELED, f.r[2]);
	EXPECT_EQ(-ECANCELED, f.r[3]);
	EXPECT_EQ(3, f.saw_group_ctx);
}

/* ---- all succeed; the parent's values and cancellation ---- */

static const char key[] = "request-id";

struct parent {
	green_errgroup_t eg;
	long ran;
	long found;
	int wait_ok, wait_cancelled;
	int after_wait_err;
};

static int worker_ok(void *arg)
{
	struct parent *p = arg;

	__atomic_fetch_add(&p->ran, 1, __ATOMIC_RELAXED);
	if (green_ctx_value(green_ctx_current(), key) == (void *)key)
		__atomic_fetch_add(&p->found, 1, __ATOMIC_RELAXED);
	green_yield();
	return 0;
}

static int worker_waits(void *arg)
{
	return green_sleep(60 * 1000000000LL);
}

static void parent_main(void *arg)
{
	struct parent *p = arg;
	green_ctx_t *req, *vals;
	int i;

	green_ctx_with_cancel(green_ctx_background(), &req);
	green_ctx_with_value(req, key, (void *)key, &vals);
	green_errgroup_init(&p->eg, vals);
	for (i = 0; i < 100; i++)
		green_errgroup_go(&p->eg, worker_ok, p);
	p->wait_ok = green_errgroup_wait(&p->eg);
	/* Waited for: the group is over. */
	p->after_wait_err = green_errgroup_go(&p->eg, worker_ok, p);

	/* Cancelling the parent reaches the group's tasks. */
	green_errgroup_init(&p->eg, vals);
	for (i = 0; i < 10; i++)
		green_errgroup_go(&p->eg, worker_waits, p);
	green_sleep(2000000);
	green_ctx_cancel(req);
	p->wait_cancelled = green_errgroup_wait(&p->eg);
	green_ctx_free(vals);
	green_ctx_free(req);
}

TEST(parent_values_and_cancel)
{
	struct parent p;

	memset(&p, 0, sizeof(p));
	setenv("GREEN_PROCS", "4", 1);
	ASSERT_EQ(0, green_run(parent_main, &p));
	EXPECT_EQ(0, p.wait_ok);
	EXPECT_EQ(100, p.ran);
	EXPECT_EQ(100, p.found);
	EXPECT_EQ(-EINVAL, p.after_wait_err);
	EXPECT_EQ(-ECANCELED, p.wait_cancelled);
}

/* ---- the limit ---- */

struct lim {
	green_errgroup_t eg;
	int running, max_running;
	int started, n;
	green_wg_t gate;	/* the last three wait on it: the group full */
	int r[6];
};

static int limited(void *arg)
{
	struct lim *l = arg;
	int n = __atomic_add_fetch(&l->running, 1, __ATOMIC_RELAXED);

	if (n > __atomic_load_n(&l->max_running, __ATOMIC_RELAXED))
		__atomic_store_n(&l->max_running, n, __ATOMIC_RELAXED);
	/* The last three stay until the full group has been tried. */
	if (__atomic_add_fetch(&l->started, 1, __ATOMIC_RELAXED) > l->n - 3)
		green_wg_wait(&l->gate);
	else
		green_sleep(200000);
	__atomic_sub_fetch(&l->running, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Runs until all ten are running at once (bounded: a limit of 2 would
 * keep that from happening; the test then fails, it does not hang). */
static int gated(void *arg)
{
	struct lim *l = arg;
	int64_t give_up = green_now() + 5000000000LL;
	int n = __atomic_add_fetch(&l->running, 1, __ATOMIC_RELAXED);

	if (n > __atomic_load_n(&l->max_running, __ATOMIC_RELAXED))
		__atomic_store_n(&l->max_running, n, __ATOMIC_RELAXED);
	while (__atomic_load_n(&l->running, __ATOMIC_RELAXED) < 10 &&
	       green_now() < give_up)
		green_sleep(100000);
	return 0;
}

static void lim_main(void *arg)
{
	struct lim *l = arg;
	int i, n = scaled(200, 20);

	l->n = n;
	green_wg_init(&l->gate);
	green_wg_add(&l->gate, 1);
	green_errgroup_init(&l->eg, NULL);
	l->r[0] = green_errgroup_set_limit(&l->eg, 3);
	for (i = 0; i < n; i++)
		green_errgroup_go(&l->eg, limited, l);	/* may wait */
	l->r[1] = green_errgroup_set_limit(&l->eg, 5);	/* tasks run */
	/* Full: the last three wait at the gate. */
	l->r[2] = green_errgroup_try_go(&l->eg, limited, l);
	green_wg_done(&l->gate);
	l->r[3] = green_errgroup_wait(&l->eg);
	l->r[4] = __atomic_load_n(&l->started, __ATOMIC_RELAXED) == n;
	/* No limit: everything starts at once. */
	green_errgroup_init(&l->eg, NULL);
	green_errgroup_set_limit(&l->eg, 2);
	l->r[5] = green_errgroup_set_limit(&l->eg, -1);
	l->max_running = 0;
	l->running = 0;
	for (i = 0; i < 10; i++)
		green_errgroup_go(&l->eg, gated, l);
	green_errgroup_wait(&l->eg);
}

TEST(limit)
{
	struct lim l;

	memset(&l, 0, sizeof(l));
	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(lim_main, &l));
	EXPECT_EQ(0, l.r[0]);
	EXPECT_EQ(-EBUSY, l.r[1]);
	EXPECT_EQ(-EAGAIN, l.r[2]);
	EXPECT_EQ(0, l.r[3]);
	EXPECT_EQ(1, l.r[4]);
	EXPECT_EQ(0, l.r[5]);
	EXPECT_EQ(10, l.max_running);	/* the second round, unlimited */
}

struct lim_max {
	green_errgroup_t eg;
	int running, max_running;
};

static int lim_task(void *arg)
{
	struct lim_max *l = arg;
	int n = __atomic_add_fetch(&l->running, 1, __ATOMIC_RELAXED);

	if (n > __atomic_load_n(&l->max_running, __ATOMIC_RELAXED))
		__atomic_store_n(&l->max_running, n, __ATOMIC_RELAXED);
	green_yield();
	__atomic_sub_fetch(&l->running, 1, __ATOMIC_RELAXED);
	return 0;
}

static void lim_max_main(void *arg)
{
	struct lim_max *l = arg;
	int i, n = scaled(20000, 500);

	green_errgroup_init(&l->eg, NULL);
	green_errgroup_set_limit(&l->eg, 3);
	for (i = 0; i < n; i++)
		green_errgroup_go(&l->eg, lim_task, l);
	green_errgroup_wait(&l->eg);
}

TEST(limit_is_never_exceeded)
{
	struct lim_max l;

	memset(&l, 0, sizeof(l));
	setenv("GREEN_PROCS", "4", 1);
	ASSERT_EQ(0, green_run(lim_max_main, &l));
	EXPECT_LE(l.max_running, 3);
	EXPECT_GE(l.max_running, 1);
}

TEST(misuse)
{
	green_errgroup_t eg;

	EXPECT_EQ(-EINVAL, green_errgroup_init(NULL, NULL));
	ASSERT_EQ(0, green_errgroup_init(&eg, NULL));
	EXPECT_EQ(-EINVAL, green_errgroup_go(&eg, NULL, NULL));
	EXPECT_EQ(-EINVAL, green_errgroup_set_limit(&eg, 0));
	EXPECT_EQ(-EINVAL, green_errgroup_go(NULL, NULL, NULL));
	EXPECT_EQ(-EINVAL, green_errgroup_wait(NULL));
	EXPECT_EQ(NULL, green_errgroup_ctx(NULL));
	EXPECT_EQ(0, green_errgroup_wait(&eg));	/* no tasks */
}

TEST_HARNESS_MAIN
