// SPDX-License-Identifier: MIT
/*
 * test_rwmutex.c - green_rwmutex_t, Go's sync.RWMutex: readers share it,
 * writers are exclusive, a waiting writer keeps new readers out and is
 * not starved by a stream of readers, misuse is an error.
 */
#include "kselftest_harness.h"
#include "test_util.h"

/* ---- readers run together ---- */

#define NR 8

struct share {
	green_rwmutex_t rw;
	green_wg_t wg;
	int inside, max_inside;
};

static void share_reader(void *arg)
{
	struct share *s = arg;
	int n, i;

	green_rwmutex_rlock(&s->rw);
	n = __atomic_add_fetch(&s->inside, 1, __ATOMIC_RELAXED);
	/* Wait (bounded) for every reader to be inside at once. */
	for (i = 0; i < 100000 &&
	     __atomic_load_n(&s->inside, __ATOMIC_RELAXED) < NR; i++)
		green_yield();
	n = __atomic_load_n(&s->inside, __ATOMIC_RELAXED);
	if (n > __atomic_load_n(&s->max_inside, __ATOMIC_RELAXED))
		__atomic_store_n(&s->max_inside, n, __ATOMIC_RELAXED);
	green_rwmutex_runlock(&s->rw);
	green_wg_done(&s->wg);
}

static void share_main(void *arg)
{
	struct share *s = arg;
	int i;

	for (i = 0; i < NR; i++) {
		green_wg_add(&s->wg, 1);
		green_go(share_reader, s);
	}
	green_wg_wait(&s->wg);
}

TEST(readers_share_the_lock)
{
	struct share s = { .rw = GREEN_RWMUTEX_INIT, .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(share_main, &s));
	EXPECT_EQ(NR, s.max_inside);
	EXPECT_EQ(0, s.rw.readers);
}

/* ---- writers exclusive, under contention ---- */

struct mix {
	green_rwmutex_t rw;
	green_wg_t wg;
	long iters;
	long counter;		/* written by writers only, plain */
	int readers_in, writers_in;
	long bad;
	long reads;
};

static void mix_writer(void *arg)
{
	struct mix *x = arg;
	long i;

	for (i = 0; i < x->iters; i++) {
		green_rwmutex_lock(&x->rw);
		if (__atomic_fetch_add(&x->writers_in, 1, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&x->readers_in, __ATOMIC_RELAXED))
			__atomic_fetch_add(&x->bad, 1, __ATOMIC_RELAXED);
		x->counter++;
		if ((i & 31) == 0)
			green_yield();
		__atomic_fetch_sub(&x->writers_in, 1, __ATOMIC_RELAXED);
		green_rwmutex_unlock(&x->rw);
	}
	green_wg_done(&x->wg);
}

static void mix_reader(void *arg)
{
	struct mix *x = arg;
	long i, sum = 0;

	for (i = 0; i < 4 * x->iters; i++) {
		green_rwmutex_rlock(&x->rw);
		__atomic_fetch_add(&x->readers_in, 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&x->writers_in, __ATOMIC_RELAXED))
			__atomic_fetch_add(&x->bad, 1, __ATOMIC_RELAXED);
		sum += x->counter;	/* a plain read, guarded */
		if ((i & 15) == 0)
			green_yield();
		__atomic_fetch_sub(&x->readers_in, 1, __ATOMIC_RELAXED);
		green_rwmutex_runlock(&x->rw);
	}
	__atomic_fetch_add(&x->reads, i + (sum < 0), __ATOMIC_RELAXED);
	green_wg_done(&x->wg);
}

static void mix_main(void *arg)
{
	struct mix *x = arg;
	int i;

	for (i = 0; i < 3; i++) {
		green_wg_add(&x->wg, 2);
		green_go(mix_writer, x);
		green_go(mix_reader, x);
	}
	green_wg_wait(&x->wg);
}

static void run_mix(struct __test_metadata *_metadata, const char *procs)
{
	struct mix x = { .rw = GREEN_RWMUTEX_INIT, .wg = GREEN_WG_INIT,
			 .iters = scaled(50000, 500) };

	setenv("GREEN_PROCS", procs, 1);
	ASSERT_EQ(0, green_run(mix_main, &x));
	EXPECT_EQ(0, x.bad);
	EXPECT_EQ(3 * x.iters, x.counter);
	EXPECT_EQ(3 * 4 * x.iters, x.reads);
	EXPECT_EQ(0, x.rw.readers);
	EXPECT_EQ(0, (int)x.rw.w.state);
}

TEST(writers_exclusive_2_procs)
{
	run_mix(_metadata, "2");
}

TEST(writers_exclusive_4_procs)
{
	run_mix(_metadata, "4");
}

/* ---- a waiting writer goes before readers that come after it ---- */

struct pref {
	green_rwmutex_t rw;
	green_wg_t wg;
	int order[4], n;
	int try_while_writer_waits;
};

static void pref_writer(void *arg)
{
	struct pref *p = arg;

	green_rwmutex_lock(&p->rw);
	p->order[p->n++] = 'W';
	green_rwmutex_unlock(&p->rw);
	green_wg_done(&p->wg);
}

static void pref_reader(void *arg)
{
	struct pref *p = arg;

	p->try_while_writer_waits = green_rwmutex_tryrlock(&p->rw);
	green_rwmutex_rlock(&p->rw);
	p->order[p->n++] = 'R';
	green_rwmutex_runlock(&p->rw);
	green_wg_done(&p->wg);
}

static void pref_main(void *arg)
{
	struct pref *p = arg;
	int i;

	green_rwmutex_rlock(&p->rw);
	green_wg_add(&p->wg, 2);
	green_go(pref_writer, p);
	for (i = 0; i < 100; i++)	/* one processor: it parks */
		green_yield();
	green_go(pref_reader, p);
	for (i = 0; i < 100; i++)
		green_yield();
	p->order[p->n++] = 'M';
	green_rwmutex_runlock(&p->rw);
	green_wg_wait(&p->wg);
}

TEST(waiting_writer_blocks_new_readers)
{
	struct pref p = { .rw = GREEN_RWMUTEX_INIT, .wg = GREEN_WG_INIT };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(pref_main, &p));
	EXPECT_EQ(-EBUSY, p.try_while_writer_waits);
	ASSERT_EQ(3, p.n);
	EXPECT_EQ('M', p.order[0]);
	EXPECT_EQ('W', p.order[1]);
	EXPECT_EQ('R', p.order[2]);
}

/* ---- a stream of overlapping readers does not starve a writer ---- */

struct stream {
	green_rwmutex_t rw;
	green_wg_t wg;
	int writer_done;
	long limit;		/* readers give up after this many rounds */
	long rounds_at_write;
	long rounds;
};

static void stream_reader(void *arg)
{
	struct stream *s = arg;
	long i;

	for (i = 0; i < s->limit &&
	     !__atomic_load_n(&s->writer_done, __ATOMIC_ACQUIRE); i++) {
		green_rwmutex_rlock(&s->rw);
		green_yield();	/* the other reader comes in meanwhile */
		green_rwmutex_runlock(&s->rw);
		__atomic_fetch_add(&s->rounds, 1, __ATOMIC_RELAXED);
	}
	green_wg_done(&s->wg);
}

static void stream_writer(void *arg)
{
	struct stream *s = arg;

	while (__atomic_load_n(&s->rounds, __ATOMIC_RELAXED) < 10)
		green_yield();
	green_rwmutex_lock(&s->rw);
	s->rounds_at_write = __atomic_load_n(&s->rounds, __ATOMIC_RELAXED);
	__atomic_store_n(&s->writer_done, 1, __ATOMIC_RELEASE);
	green_rwmutex_unlock(&s->rw);
	green_wg_done(&s->wg);
}

static void stream_main(void *arg)
{
	struct stream *s = arg;

	green_wg_add(&s->wg, 3);
	green_go(stream_reader, s);
	green_go(stream_reader, s);
	green_go(stream_writer, s);
	green_wg_wait(&s->wg);
}

TEST(writer_not_starved_by_readers)
{
	struct stream s = { .rw = GREEN_RWMUTEX_INIT, .wg = GREEN_WG_INIT,
			    .limit = 200000 };

	setenv("GREEN_PROCS", "1", 1);
	ASSERT_EQ(0, green_run(stream_main, &s));
	EXPECT_EQ(1, s.writer_done);
	/* It got in within a few reader rounds, long before they quit. */
	EXPECT_LT(s.rounds_at_write, 100);
}

/* ---- misuse and the try variants ---- */

static void misuse_main(void *arg)
{
	int *r = arg;
	green_rwmutex_t rw;

	green_rwmutex_init(&rw);
	r[0] = green_rwmutex_runlock(&rw);
	r[1] = green_rwmutex_unlock(&rw);
	r[2] = green_rwmutex_tryrlock(&rw);
	r[3] = green_rwmutex_tryrlock(&rw);
	r[4] = green_rwmutex_trylock(&rw);	/* readers in */
	r[5] = green_rwmutex_unlock(&rw);	/* read-locked only */
	r[6] = green_rwmutex_runlock(&rw);
	r[7] = green_rwmutex_runlock(&rw);
	r[8] = green_rwmutex_runlock(&rw);	/* one too many */
	r[9] = green_rwmutex_trylock(&rw);
	r[10] = green_rwmutex_tryrlock(&rw);	/* writer in */
	r[11] = green_rwmutex_trylock(&rw);
	r[12] = green_rwmutex_runlock(&rw);
	r[13] = green_rwmutex_unlock(&rw);
	r[14] = green_rwmutex_unlock(&rw);
	r[15] = rw.readers == 0 && rw.w.state == 0;
}

TEST(misuse_and_try)
{
	int r[16];
	int want[16] = { -EPERM, -EPERM, 0, 0, -EBUSY, -EPERM, 0, 0, -EPERM,
			 0, -EBUSY, -EBUSY, -EPERM, 0, -EPERM, 1 };
	int i;

	ASSERT_EQ(0, green_run(misuse_main, r));
	for (i = 0; i < 16; i++)
		EXPECT_EQ(want[i], r[i]);
	EXPECT_EQ(-EINVAL, green_rwmutex_lock(NULL));
	EXPECT_EQ(-EINVAL, green_rwmutex_rlock(NULL));
	EXPECT_EQ(-EINVAL, green_rwmutex_unlock(NULL));
	EXPECT_EQ(-EINVAL, green_rwmutex_runlock(NULL));
}

TEST_HARNESS_MAIN
