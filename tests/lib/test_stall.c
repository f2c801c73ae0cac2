// SPDX-License-Identifier: MIT
/*
 * test_stall.c - GREEN_STALL_MS: a task holding its processor too long is
 * reported once, with its backtrace (or the system call it is blocked
 * in), and green_preempt_check() then lets the processor's other tasks
 * run; GREEN_STALL_MS=0 turns it all off. Children, stderr captured.
 */
#include <stdatomic.h>
#include <time.h>

#include "kselftest_harness.h"
#include "test_util.h"

#define MS 1000000LL

struct spin {
	green_wg_t wg;
	_Atomic bool other_ran;
	int preempts;
	int64_t spin_ns;
};

static struct spin sp;

/* Spin until the runtime asks it to yield (or for spin_ns at most). */
static __attribute__((noinline)) void spin_task(void *arg)
{
	int64_t end = green_now() + sp.spin_ns;

	while (green_now() < end && !green_preempt_check())
		;
	green_wg_done(&sp.wg);
}

static void stall_main(void *arg)
{
	green_wg_add(&sp.wg, 1);
	green_go(spin_task, NULL);
	green_wg_wait(&sp.wg);
}

static int stall_child(void *arg)
{
	/* Reported once it had 50 ms of CPU: on a busy machine, later. */
	sp.spin_ns = arg ? 400 * MS : 10000 * MS;
	alarm(20);
	return green_run(stall_main, NULL) ? 1 : 0;
}

static int count(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s += strlen(what);
	}
	return n;
}

TEST(reported_once_with_backtrace)
{
	struct child_result r;

	run_child(&r, "GREEN_STALL_MS", "50", stall_child, NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(1, count(r.err, "libgreen: task 2 has held P ")) {
		fprintf(stderr, "stderr: %s\n", r.err);
	}
	EXPECT_NE(NULL, strstr(r.err, "without a switch (GREEN_STALL_MS=50)"));
	EXPECT_NE(NULL, strstr(r.err, "created by task 1 at stall_main+"));
#if !defined(__SANITIZE_THREAD__)
	/*
	 * TSan holds signals back until the task calls into libc, and
	 * Valgrind delivers them late: the task may be past its loop.
	 */
	if (!under_valgrind())
		EXPECT_NE(NULL, strstr(r.err, "spin_task+")) {
			fprintf(stderr, "%s\n", r.err);
		}
#endif
}

TEST(zero_turns_it_off)
{
	struct child_result r;

	run_child(&r, "GREEN_STALL_MS", "0", stall_child, &r);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "has held P"));
}

TEST(bad_value_refused)
{
	struct child_result r;

	run_child(&r, "GREEN_STALL_MS", "10ms", stall_child, NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(1, WEXITSTATUS(r.status));
	EXPECT_NE(NULL, strstr(r.err, "GREEN_STALL_MS=\"10ms\""));
}

/* A task blocked in a call libgreen does not know of: the call named. */
static __attribute__((noinline)) void sleepy_task(void *arg)
{
	struct timespec ts = { 0, 300 * MS };

	while (nanosleep(&ts, &ts))
		;
	green_wg_done(&sp.wg);
}

static void blocked_main(void *arg)
{
	green_wg_add(&sp.wg, 1);
	green_go(sleepy_task, NULL);
	green_wg_wait(&sp.wg);
}

static int blocked_child(void *arg)
{
	alarm(20);
	return green_run(blocked_main, NULL) ? 1 : 0;
}

TEST(blocking_call_named)
{
	struct child_result r;

	/* With green.ko's held resume the P is lent, not held: keep it. */
	setenv("GREEN_HOLD", "0", 1);
	run_child(&r, "GREEN_STALL_MS", "50", blocked_child, NULL);
	unsetenv("GREEN_HOLD");
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(1, count(r.err, "libgreen: task 2 has held P "));
	EXPECT_NE(NULL, strstr(r.err, "blocked in the kernel, in system call")) {
		fprintf(stderr, "%s\n", r.err);
	}
	EXPECT_NE(NULL, strstr(r.err, "nanosleep"));
}

/*
 * One processor: a spinner that checks green_preempt_check() lets main
 * spawn a second task, which then runs while the spinner still spins.
 * Exit 0 when it did, 3 when it never ran, 4 when no check yielded.
 */
static __attribute__((noinline)) void polite_spinner(void *arg)
{
	int64_t end = green_now() + sp.spin_ns;

	while (!atomic_load(&sp.other_ran) && green_now() < end)
		sp.preempts += green_preempt_check();
	green_wg_done(&sp.wg);
}

static void other_task(void *arg)
{
	atomic_store(&sp.other_ran, true);
	green_wg_done(&sp.wg);
}

static void preempt_main(void *arg)
{
	green_wg_add(&sp.wg, 2);
	green_go(polite_spinner, NULL);
	green_yield();		/* the spinner runs now, on our P */
	green_go(other_task, NULL);
	green_wg_wait(&sp.wg);
}

static int preempt_child(void *arg)
{
	sp.spin_ns = (long)arg * MS;
	alarm(20);
	if (green_run(preempt_main, NULL))
		return 1;
	if (!atomic_load(&sp.other_ran))
		return 3;
	return sp.preempts ? 0 : 4;
}

TEST(preempt_check_lets_others_run)
{
	struct child_result r;

	setenv("GREEN_PROCS", "1", 1);
	run_child(&r, "GREEN_STALL_MS", "20", preempt_child, (void *)5000L);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	/* Without stall detection, nobody asks: the other waits it out. */
	run_child(&r, "GREEN_STALL_MS", "0", preempt_child, (void *)300L);
	unsetenv("GREEN_PROCS");
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(4, WEXITSTATUS(r.status));
}

TEST_HARNESS_MAIN
