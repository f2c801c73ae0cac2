// SPDX-License-Identifier: MIT
/*
 * test_parker.c - the idle-worker backends: GREEN_PARKER=futex|kmod|auto
 * picks one, stats say which, and workers park and wake through it with
 * no lost wakeup across many idle/busy cycles.
 */
#include "kselftest_harness.h"
#include "test_util.h"

struct cycles {
	long rounds;
	long done;
	struct green_stats st;
};

static void small(void *arg)
{
	__atomic_fetch_add(&((struct cycles *)arg)->done, 1, __ATOMIC_RELAXED);
}

struct pair {
	struct cycles *c;
	green_wg_t *wg;
};

static void small_done(void *arg)
{
	struct pair *p = arg;

	small(p->c);
	green_wg_done(p->wg);
}

/*
 * Rounds of a few tasks with a pause between, so idle workers park and
 * are woken again each round: a lost wakeup hangs the test (timeout).
 */
static void cycles_main(void *arg)
{
	struct cycles *c = arg;
	long r;
	int i;

	for (r = 0; r < c->rounds; r++) {
		green_wg_t wg = GREEN_WG_INIT;
		struct pair p = { c, &wg };

		for (i = 0; i < 8; i++) {
			green_wg_add(&wg, 1);
			green_go(small_done, &p);
		}
		green_wg_wait(&wg);
		if (r % 16 == 0)
			usleep(200);	/* let the others go idle and park */
	}
	c->st.size = sizeof(c->st);
	green_stats(&c->st, NULL, 0);
}

static void run_cycles(struct __test_metadata *_metadata, const char *want)
{
	struct cycles c = { .rounds = scaled(20000, 500) };

	setenv("GREEN_PROCS", "4", 1);
	ASSERT_EQ(0, green_run(cycles_main, &c));
	EXPECT_EQ(c.rounds * 8, c.done);
	EXPECT_STREQ(want, c.st.parker);
	EXPECT_GT((long)c.st.worker_parks, 0);
	EXPECT_GT((long)c.st.worker_wakes, 0);
	TH_LOG("%s: %lu parks, %lu wakes", c.st.parker,
	       (unsigned long)c.st.worker_parks,
	       (unsigned long)c.st.worker_wakes);
}

TEST(futex_backend)
{
	setenv("GREEN_PARKER", "futex", 1);
	run_cycles(_metadata, "futex");
}

static int kmod_child(void *arg)
{
	return -green_run(small, arg);
}

/* With the module, kmod is used; without, green_run says why it cannot. */
TEST(kmod_backend)
{
	struct cycles c = { 0 };
	struct child_result r;

	setenv("GREEN_PARKER", "kmod", 1);
	if (access("/dev/green", R_OK | W_OK) == 0) {
		run_cycles(_metadata, "kmod");
		return;
	}
	run_child(&r, NULL, NULL, kmod_child, &c);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_NE(0, WEXITSTATUS(r.status));
	EXPECT_NE(NULL, strstr(r.err, "libgreen: GREEN_PARKER=kmod: cannot use /dev/green"))
		TH_LOG("stderr: %s", r.err);
}

TEST(auto_backend)
{
	unsetenv("GREEN_PARKER");
	run_cycles(_metadata, access("/dev/green", R_OK | W_OK) == 0 ?
			      "kmod" : "futex");
}

TEST_HARNESS_MAIN
