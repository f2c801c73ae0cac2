// SPDX-License-Identifier: MIT
/*
 * test_wake.c - deferred wakes (sched.c wakep_defer): a task that wakes
 * another on its own processor leaves waking an idle worker to its
 * processor's next pick. Two tasks handing work back and forth then stay
 * on one processor, waking nobody; and a task woken by one that keeps
 * running, or that blocks in a call the runtime does not see, still gets
 * an idle processor soon through sysmon's backstop.
 */
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "test_util.h"

#define MS 1000000LL

static uint64_t worker_wakes(void)
{
	struct green_stats st = { .size = sizeof(st) };

	if (green_stats(&st, NULL, 0) < 0)
		return UINT64_MAX;
	return st.worker_wakes;
}

/* ---- a ping-pong wakes no worker ---- */

struct pingpong {
	green_chan_t *ping, *pong;
	long rounds, bad;
	uint64_t wakes;		/* worker wakes during the rounds */
	uint64_t ns;		/* how long they took */
	green_wg_t wg;
};

static void ponger(void *arg)
{
	struct pingpong *pp = arg;
	long v;

	while (green_chan_recv(pp->ping, &v) == 0)
		if (green_chan_send(pp->pong, &v))
			break;
	green_wg_done(&pp->wg);
}

static void pingpong_main(void *arg)
{
	struct pingpong *pp = arg;
	uint64_t before;
	long i, v;

	green_wg_add(&pp->wg, 1);
	green_go(ponger, pp);
	/* Let the start-up wakes settle: the pair is on one processor. */
	for (i = 0; i < 1000; i++)
		if (green_chan_send(pp->ping, &i) ||
		    green_chan_recv(pp->pong, &v))
			pp->bad++;
	before = worker_wakes();
	pp->ns = mono_ns();
	for (i = 0; i < pp->rounds; i++)
		if (green_chan_send(pp->ping, &i) ||
		    green_chan_recv(pp->pong, &v) || v != i)
			pp->bad++;
	pp->ns = mono_ns() - pp->ns;
	pp->wakes = worker_wakes() - before;
	green_chan_close(pp->ping);
	green_wg_wait(&pp->wg);
}

TEST(pingpong_wakes_no_worker)
{
	struct pingpong pp = { .wg = GREEN_WG_INIT };

	pp.rounds = scaled(200000, 20000);
	pp.ping = green_chan_make(sizeof(long), 0);
	pp.pong = green_chan_make(sizeof(long), 0);
	ASSERT_TRUE(pp.ping && pp.pong);
	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(pingpong_main, &pp));
	unsetenv("GREEN_PROCS");
	EXPECT_EQ(0, pp.bad);
	TH_LOG("%llu worker wakes in %ld round trips, %.1f ms",
	       (unsigned long long)pp.wakes, pp.rounds, pp.ns / 1e6);
	/*
	 * Waking Go's way woke the idle worker every time it had spun
	 * (30 us) and given up: about 30 wakes a millisecond. Deferred, a
	 * wake comes only from sysmon's backstop (a deferral that outlasts
	 * its 0.5 ms tick: the thread was preempted right then) or a stray
	 * steal. Valgrind preempts threads anywhere, every few ms: there,
	 * only the values are checked.
	 */
	if (!under_valgrind())
		EXPECT_LT(pp.wakes, pp.ns / (2 * MS) + 20);
	green_chan_free(pp.ping);
	green_chan_free(pp.pong);
}

/* ---- the backstop ---- */

/*
 * Spawn @fn, which waits on @go, and let it park there while the other
 * processors go idle again: the caller's green_wg_done(@go) then readies
 * it on this processor, its wake deferred. @done counts it.
 */
static void spawn_parked(void (*fn)(void *), void *arg, green_wg_t *go,
			 green_wg_t *done)
{
	green_wg_add(done, 1);
	green_wg_add(go, 1);
	green_go(fn, arg);
	green_sleep(20 * MS);
}

/* The waker keeps running. */

struct busy {
	_Atomic uint64_t ran_at;	/* when the woken task ran */
	uint64_t woke_at;
	green_wg_t go, done;
};

static void woken(void *arg)
{
	struct busy *b = arg;

	green_wg_wait(&b->go);
	atomic_store(&b->ran_at, mono_ns());
	green_wg_done(&b->done);
}

static void busy_main(void *arg)
{
	struct busy *b = arg;
	int64_t end;

	spawn_parked(woken, b, &b->go, &b->done);
	b->woke_at = mono_ns();
	green_wg_done(&b->go);	/* readies it here, wake deferred */
	/* Compute without a pick for up to 2 s: only sysmon can help. */
	end = b->woke_at + 2000 * MS;
	while (!atomic_load(&b->ran_at) && mono_ns() < end)
		;
	green_wg_wait(&b->done);
}

TEST(busy_waker_still_lets_the_woken_run)
{
	struct busy b = { .go = GREEN_WG_INIT, .done = GREEN_WG_INIT };
	uint64_t ran;

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(busy_main, &b));
	unsetenv("GREEN_PROCS");
	ran = atomic_load(&b.ran_at);
	ASSERT_NE(0ULL, (unsigned long long)ran);
	/* A backstop tick or two (0.5 ms each), not the 2 s of the loop;
	 * generous for TCG and Valgrind. */
	EXPECT_LT(ran - b.woke_at, (uint64_t)500 * MS);
	TH_LOG("the woken task ran %.1f ms after its wake",
	       (ran - b.woke_at) / 1e6);
}

/* The waker blocks where nobody sees. */

struct unseen {
	int fd[2];
	long got;
	green_wg_t go, done;
};

static void pipe_writer(void *arg)
{
	struct unseen *u = arg;

	green_wg_wait(&u->go);
	if (write(u->fd[1], "w", 1) != 1)
		u->got = -100;
	green_wg_done(&u->done);
}

static void unseen_main(void *arg)
{
	struct unseen *u = arg;
	char c;

	spawn_parked(pipe_writer, u, &u->go, &u->done);
	green_wg_done(&u->go);	/* readies the writer, wake deferred */
	/* An unmarked blocking read that only the writer can end. */
	u->got = read(u->fd[0], &c, 1);
	green_wg_wait(&u->done);
}

TEST(unmarked_block_after_a_wake_does_not_deadlock)
{
	struct unseen u = { .go = GREEN_WG_INIT, .done = GREEN_WG_INIT };

	ASSERT_EQ(0, pipe(u.fd));
	setenv("GREEN_PROCS", "2", 1);
	alarm(30);	/* a deadlock fails the test, not the suite */
	ASSERT_EQ(0, green_run(unseen_main, &u));
	alarm(0);
	unsetenv("GREEN_PROCS");
	EXPECT_EQ(1, u.got);
	close(u.fd[0]);
	close(u.fd[1]);
}

TEST_HARNESS_MAIN
