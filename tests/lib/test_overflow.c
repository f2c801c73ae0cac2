// SPDX-License-Identifier: MIT
/*
 * test_overflow.c - a task that overflows its stack is reported clearly
 * (which task, what stack size), not as a bare segfault: by the guard page
 * fault handler, and by the canary check for stacks without a guard.
 */
#include <signal.h>

#include "kselftest_harness.h"
#include "test_util.h"

static volatile int limit = 1 << 30;	/* deeper than any stack */

static int depth(int n)
{
	volatile char pad[512];

	pad[0] = (char)n;
	if (n < limit)
		return depth(n + 1) + pad[0];
	return pad[0];
}

static void recurse(void *arg)
{
	*(int *)arg = depth(0);
}

static void overflow_main(void *arg)
{
	green_wg_t wg = GREEN_WG_INIT;
	static int sink;

	green_wg_add(&wg, 1);
	green_go(recurse, &sink);
	green_wg_wait(&wg);
}

static int overflow_child(void *arg)
{
	return green_run(overflow_main, NULL) ? 1 : 0;
}

TEST(guard_page_overflow_is_reported)
{
	struct child_result r;

	if (under_sanitizer() || under_valgrind())
		SKIP(return, "sanitizers and valgrind handle stack overflow themselves");
	setenv("GREEN_STACK_GUARD", "auto", 1);
	run_child(&r, "GREEN_STACK_SIZE", "64k", overflow_child, NULL);
	ASSERT_TRUE(WIFSIGNALED(r.status)) TH_LOG("status %d", r.status);
	EXPECT_EQ(SIGSEGV, WTERMSIG(r.status));
	EXPECT_NE(NULL, strstr(r.err,
		"libgreen: task 2 overflowed its stack of 65536 bytes (fault in the guard page"))
		TH_LOG("stderr: %s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "GREEN_STACK_SIZE")) TH_LOG("stderr: %s", r.err);
}

/*
 * Without guards (GREEN_STACK_GUARD=never), a task recursing past the
 * bottom of its stack, yielding at every level, is caught by the canary
 * at its first switch after the overwrite.
 */
static volatile bool stop;

static int depth_yield(int n)
{
	volatile char pad[512];
	int i;

	for (i = 0; i < 512; i++)
		pad[i] = (char)n;
	green_yield();
	if (n < limit)
		return depth_yield(n + 1) + pad[0];
	return pad[0];
}

static void smash_bottom(void *arg)
{
	*(int *)arg = depth_yield(0);
}

static void companion(void *arg)
{
	while (!stop)
		green_yield();
}

static void canary_main(void *arg)
{
	static int sink;

	green_go(companion, NULL);
	green_go(smash_bottom, &sink);
	while (!stop)
		green_yield();
}

static int canary_child(void *arg)
{
	setenv("GREEN_PROCS", "1", 1);
	setenv("GREEN_STACK_SIZE", "64k", 1);
	return green_run(canary_main, NULL) ? 1 : 0;
}

TEST(canary_overflow_is_reported)
{
	struct child_result r;

	if (under_valgrind())
		SKIP(return, "valgrind flags the deliberate overflow first");
	/*
	 * TSan's runtime runs below the overflowing frame, on the task's
	 * stack, for every instrumented store: it writes past the bottom
	 * into the neighbouring stack before any switch can look at the
	 * canary (plain and ASan builds run this test).
	 */
	if (under_tsan())
		SKIP(return, "TSan's runtime writes past the stack before the canary is checked");
	run_child(&r, "GREEN_STACK_GUARD", "never", canary_child, NULL);
	ASSERT_TRUE(WIFSIGNALED(r.status)) TH_LOG("status %d: %s", r.status, r.err);
	EXPECT_EQ(SIGABRT, WTERMSIG(r.status));
	EXPECT_NE(NULL, strstr(r.err,
		"libgreen: task 3 overflowed its stack of 65536 bytes (its canary was overwritten"))
		TH_LOG("stderr: %s", r.err);
}

/* A fault that is not an overflow still kills with SIGSEGV, unreported. */
static void null_deref(void *arg)
{
	*(volatile int *)arg = 1;
}

static void null_main(void *arg)
{
	green_wg_t wg = GREEN_WG_INIT;

	green_wg_add(&wg, 1);
	green_go(null_deref, NULL);
	green_wg_wait(&wg);
}

static int null_child(void *arg)
{
	return green_run(null_main, NULL) ? 1 : 0;
}

TEST(other_faults_are_not_called_overflows)
{
	struct child_result r;

	if (under_sanitizer() || under_valgrind())
		SKIP(return, "sanitizers and valgrind report the fault themselves");
	run_child(&r, NULL, NULL, null_child, NULL);
	ASSERT_TRUE(WIFSIGNALED(r.status));
	EXPECT_EQ(SIGSEGV, WTERMSIG(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "overflowed")) TH_LOG("stderr: %s", r.err);
}

TEST_HARNESS_MAIN
