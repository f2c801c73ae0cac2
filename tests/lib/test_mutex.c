// SPDX-License-Identifier: MIT
/*
 * test_mutex.c - green_mutex_t, Go's sync.Mutex: mutual exclusion under
 * contention across processors, parking the task and not the thread,
 * starvation mode and its FIFO handoff, misuse.
 */
#include <time.h>

#include "kselftest_harness.h"
#include "test_util.h"

#define MUTEX_STARVING 4	/* state bit, mutex.c */

/* ---- mutual exclusion ---- */

struct excl {
	green_mutex_t m;
	green_wg_t wg;
	long iters;
	long counter;		/* guarded by m, plain on purpose */
	int inside;		/* tasks inside the critical section */
	long overlaps;		/* times someone found another inside */
	long errs;
};

static void excl_task(void *arg)
{
	struct excl *e = arg;
	long i;

	for (i = 0; i < e->iters; i++) {
		if (green_mutex_lock(&e->m))
			__atomic_fetch_add(&e->errs, 1, __ATOMIC_RELAXED);
		if (__atomic_fetch_add(&e->inside, 1, __ATOMIC_RELAXED))
			__atomic_fetch_add(&e->overlaps, 1, __ATOMIC_RELAXED);
		e->counter++;
		/* Now and then, hold it across a switch: others park. */
		if ((i & 63) == 0)
			green_yield();
		__atomic_fetch_sub(&e->inside, 1, __ATOMIC_RELAXED);
		if (green_mutex_unlock(&e->m))
			__atomic_fetch_add(&e->errs, 1, __ATOMIC_RELAXED);
	}
	green_wg_done(&e->wg);
}

static void excl_main(void *arg)
{
	struct excl *e = arg;
	int k;

	for (k = 0; k < 8; k++) {
		green_wg_add(&e->wg, 1);
		green_go(excl_task, e);
	}
	green_wg_wait(&e->wg);
}

static void run_exclusion(struct __test_metadata *_metadata,
			  const char *procs)
{
	struct excl e = { .m = GREEN_MUTEX_INIT, .wg = GREEN_WG_INIT,
			  .iters = scaled(200000, 2000) };

	setenv("GREEN_PROCS", procs, 1);
	ASSERT_EQ(0, green_run(excl_main, &e));
	EXPECT_EQ(8 * e.iters, e.counter);
	EXPECT_EQ(0, e.overlaps);
	EXPECT_EQ(0, e.errs);
	EXPECT_EQ(0, (int)e.m.state);	/* unlocked, nobody waiting */
}

TEST(exclusion_1_proc)
{
	run_exclusion(_metadata, "1");
}

TEST(exclusion_2_procs)
{
	run_exclusion(_metadata, "2");
}

TEST(exclusion_4_procs)
{
	run_exclusion(_metadata, "4");
}

/* ---- basics and misuse ---- */

struct basics {
	int r[12];
	green_mutex_t m;
	green_wg_t wg;
};

static void other_unlocks(void *arg)
{
	struct basics *b = arg;

	b->r[8] = green_mutex_unlock(&b->m);	/* Go: not tied to a task */
	green_wg_done(&b->wg);
}

static void basics_main(void *arg)
{
	struct basics *b = arg;
	green_mutex_t m;

	green_mutex_init(&m);
	b->r[0] = green_mutex_unlock(&m);	/* not locked */
	b->r[1] = green_mutex_trylock(&m);
	b->r[2] = green_mutex_trylock(&m);	/* held */
	b->r[3] = green_mutex_unlock(&m);
	b->r[4] = green_mutex_lock(&m);
	b->r[5] = green_mutex_unlock(&m);
	b->r[6] = green_mutex_unlock(&m);
	b->r[7] = green_mutex_lock(&b->m);
	green_wg_add(&b->wg, 1);
	green_go(other_unlocks, b);
	green_wg_wait(&b->wg);
	b->r[9] = green_mutex_trylock(&b->m);
	b->r[10] = green_mutex_unlock(&b->m);
}

TEST(basics_and_misuse)
{
	struct basics b = { .m = GREEN_MUTEX_INIT, .wg = GREEN_WG_INIT };
	green_mutex_t m = GREEN_MUTEX_INIT;

	ASSERT_EQ(0, green_run(basics_main, &b));
	EXPECT_EQ(-EPERM, b.r[0]);
	EXPECT_EQ(0, b.r[1]);
	EXPECT_EQ(-EBUSY, b.r[2]);
	EXPECT_EQ(0, b.r[3]);
	EXPECT_EQ(0, b.r[4]);
	EXPECT_EQ(0, b.r[5]);
	EXPECT_EQ(-EPERM, b.r[6]);
	EXPECT_EQ(0, b.r[7]);
	EXPECT_EQ(0, b.r[8]);
	EXPECT_EQ(0, b.r[9]);
	EXPECT_EQ(0, b.r[10]);
	EXPECT_EQ(-EINVAL, green_mutex_lock(NULL));
	EXPECT_EQ(-EINVAL, green_mutex_trylock(NULL));
	EXPECT_EQ(-EINVAL, green_mutex_unlock(NULL));
	/* Outside a task too (uncontended: no waiting). */
	EXPECT_EQ(0, green_mutex_lock(&m));
	EXPECT_EQ(-EBUSY, green_mutex_trylock(&m));
	EXPECT_EQ(0, green_mutex_unlock(&m));
	EXPECT_EQ(-EPERM, green_mutex_unlock(&m));
}

static int debug_child(void *arg)
{
	green_mutex_t m = GREEN_MUTEX_INIT;

	green_mutex_unlock(&m);
	return 0;	/* not reached under syncpanic */
}

TEST(debug_mode_aborts_on_misuse)
{
	struct child_result r;

	run_child(&r, "GREEN_DEBUG", "chanpanic,syncpanic", debug_child,
		  NULL);
	ASSERT_TRUE(WIFSIGNALED(r.status));
	EXPECT_EQ(SIGABRT, WTERMSIG(r.status));
	EXPECT_NE(NULL, strstr(r.err, "panic: unlock of unlocked mutex"));
	run_child(&r, "GREEN_DEBUG", "syncpanicx", debug_child, NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
}

/* ---- starvation mode: FIFO handoff ---- */

#define NW 4

struct starve {
	green_mutex_t m;
	green_wg_t wg;
	int order[NW + 1];
	int norder;
	bool held_starving[NW];	/* state had STARVING while it held m */
	bool main_saw_starving;
	bool parked_ok;
	struct starve_arg {
		struct starve *s;
		int id;
	} args[NW];
};

static void starve_waiter(void *arg)
{
	struct starve_arg *a = arg;
	struct starve *s = a->s;
	int id = a->id;

	green_mutex_lock(&s->m);
	s->order[s->norder++] = id;
	s->held_starving[id] = __atomic_load_n(&s->m.state,
					       __ATOMIC_RELAXED) &
			       MUTEX_STARVING;
	green_mutex_unlock(&s->m);
	green_wg_done(&s->wg);
}

static unsigned int waiters(green_mutex_t *m)
{
	return __atomic_load_n(&m->state, __ATOMIC_RELAXED) >> 3;
}

static void starve_main(void *arg)
{
	struct starve *s = arg;
	int64_t t0;
	int i;

	green_mutex_lock(&s->m);
	s->parked_ok = true;
	for (i = 0; i < NW; i++) {
		int k;

		s->args[i].s = s;
		s->args[i].id = i;
		green_wg_add(&s->wg, 1);
		green_go(starve_waiter, &s->args[i]);
		/* One processor: it runs until it parks on the mutex. */
		for (k = 0; k < 1000 && (int)waiters(&s->m) != i + 1; k++)
			green_yield();
		if ((int)waiters(&s->m) != i + 1)
			s->parked_ok = false;
	}
	/* Make them wait past the 1 ms threshold. */
	t0 = mono_ns();
	while (mono_ns() - t0 < 3000000)
		;
	/*
	 * Unlock (waking the first waiter) and barge straight back in: the
	 * woken waiter finds it taken, has waited > 1 ms, and switches the
	 * mutex to starvation mode.
	 */
	green_mutex_unlock(&s->m);
	green_mutex_lock(&s->m);
	green_yield();
	s->main_saw_starving = __atomic_load_n(&s->m.state,
					       __ATOMIC_RELAXED) &
			       MUTEX_STARVING;
	/* From here the lock is handed down the queue in order. */
	green_mutex_unlock(&s->m);
	green_mutex_lock(&s->m);
	s->order[s->norder++] = NW;
	green_mutex_unlock(&s->m);
	green_wg_wait(&s->wg);
}

TEST(starvation_mode_fifo_handoff)
{
	struct starve s = { .m = GREEN_MUTEX_INIT, .wg = GREEN_WG_INIT };
	int i;

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(starve_main, &s));
	ASSERT_TRUE(s.parked_ok);
	EXPECT_TRUE(s.main_saw_starving);
	ASSERT_EQ(NW + 1, s.norder);
	for (i = 0; i <= NW; i++)
		EXPECT_EQ(i, s.order[i]);
	/* Handed off to all but the last, which ends starvation mode. */
	for (i = 0; i < NW - 1; i++)
		EXPECT_TRUE(s.held_starving[i]);
	EXPECT_FALSE(s.held_starving[NW - 1]);
	EXPECT_EQ(0, (int)s.m.state);
}

/* ---- starvation mode: a waiter is not starved by a barging task ---- */

struct barge {
	green_mutex_t m;
	green_wg_t wg;
	int stop;
	int64_t give_up;	/* the barger stops here regardless */
	int64_t waited_ns;
	long barger_rounds;
};

static void barger(void *arg)
{
	struct barge *b = arg;
	long n = 0;

	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE) &&
	       mono_ns() < b->give_up) {
		int64_t t;

		green_mutex_lock(&b->m);
		t = mono_ns();
		while (mono_ns() - t < 2000)
			;
		green_mutex_unlock(&b->m);
		__atomic_store_n(&b->barger_rounds, ++n, __ATOMIC_RELAXED);
	}
	green_wg_done(&b->wg);
}

static void barge_main(void *arg)
{
	struct barge *b = arg;
	int64_t t0;

	b->give_up = mono_ns() + 10000000000LL;
	green_wg_add(&b->wg, 1);
	green_go(barger, b);
	/* Let the barger get going (it may run on the other processor),
	 * then try once. */
	while (__atomic_load_n(&b->barger_rounds, __ATOMIC_RELAXED) < 100 &&
	       mono_ns() < b->give_up)
		green_yield();
	t0 = mono_ns();
	green_mutex_lock(&b->m);
	b->waited_ns = mono_ns() - t0;
	green_mutex_unlock(&b->m);
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
	green_wg_wait(&b->wg);
}

TEST(starvation_mode_bounds_wait)
{
	struct barge b = { .m = GREEN_MUTEX_INIT, .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(barge_main, &b));
	EXPECT_GE(b.barger_rounds, 100);
	/* Generous: starvation mode hands over after about 1 ms. */
	EXPECT_LT(b.waited_ns, 5000000000LL);
	EXPECT_EQ(0, (int)b.m.state);
}

/* ---- contended across processors, with spinning and parking ---- */

struct hot {
	green_mutex_t m;
	green_wg_t wg;
	long iters;
	long counter;
};

static void hot_task(void *arg)
{
	struct hot *h = arg;
	long i;

	for (i = 0; i < h->iters; i++) {
		green_mutex_lock(&h->m);
		h->counter++;
		green_mutex_unlock(&h->m);
	}
	green_wg_done(&h->wg);
}

static void hot_main(void *arg)
{
	struct hot *h = arg;
	int k;

	for (k = 0; k < 4; k++) {
		green_wg_add(&h->wg, 1);
		green_go(hot_task, h);
	}
	green_wg_wait(&h->wg);
}

TEST(short_sections_4_tasks_2_procs)
{
	struct hot h = { .m = GREEN_MUTEX_INIT, .wg = GREEN_WG_INIT,
			 .iters = scaled(500000, 5000) };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(hot_main, &h));
	EXPECT_EQ(4 * h.iters, h.counter);
	EXPECT_EQ(0, (int)h.m.state);
}

TEST_HARNESS_MAIN
