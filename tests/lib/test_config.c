// SPDX-License-Identifier: MIT
/*
 * test_config.c - GREEN_* configuration: good values work, bad ones get
 * -EINVAL from green_run with a one-line reason, never a crash.
 */
#include <sched.h>

#include "kselftest_harness.h"
#include "test_util.h"

struct seen {
	int nprocs;
	uint64_t stack_size;
};

static void record(void *arg)
{
	struct seen *s = arg;
	struct green_stats st = { .size = sizeof(st) };

	s->nprocs = green_nprocs();
	if (green_stats(&st, NULL, 0) >= 0)
		s->stack_size = st.stack_size;
}

static int run_record(void *arg)
{
	struct seen s = { 0 };
	int ret = green_run(record, &s);

	if (ret)
		return 100 + (-ret);
	return s.nprocs;
}

/* Run green_run in a child with VAR=VAL; returns the child's result. */
static void run_with(struct child_result *r, const char *var, const char *val)
{
	run_child(r, var, val, run_record, NULL);
}

FIXTURE(bad) {
	struct child_result r;	/* the child's stderr and status */
};

FIXTURE_VARIANT(bad) {
	const char *var;	/* the variable set */
	const char *val;	/* its bad value */
	const char *msg;	/* what the error line must say */
};

FIXTURE_SETUP(bad) {}
FIXTURE_TEARDOWN(bad) {}

FIXTURE_VARIANT_ADD(bad, procs_zero) {
	.var = "GREEN_PROCS", .val = "0",
	.msg = "libgreen: GREEN_PROCS=\"0\": expected a number from 1 to 1024",
};
FIXTURE_VARIANT_ADD(bad, procs_garbage) {
	.var = "GREEN_PROCS", .val = "abc",
	.msg = "libgreen: GREEN_PROCS=\"abc\": expected a number",
};
FIXTURE_VARIANT_ADD(bad, procs_negative) {
	.var = "GREEN_PROCS", .val = "-1", .msg = "GREEN_PROCS=\"-1\"",
};
FIXTURE_VARIANT_ADD(bad, procs_huge) {
	.var = "GREEN_PROCS", .val = "99999999999999999999999",
	.msg = "expected a number from 1 to 1024",
};
FIXTURE_VARIANT_ADD(bad, procs_trailing) {
	.var = "GREEN_PROCS", .val = "4x", .msg = "GREEN_PROCS=\"4x\"",
};
FIXTURE_VARIANT_ADD(bad, procs_suffix) {
	.var = "GREEN_PROCS", .val = "1k", .msg = "GREEN_PROCS=\"1k\"",
};
FIXTURE_VARIANT_ADD(bad, procs_too_many) {
	.var = "GREEN_PROCS", .val = "1025", .msg = "GREEN_PROCS=\"1025\"",
};
FIXTURE_VARIANT_ADD(bad, stack_tiny) {
	.var = "GREEN_STACK_SIZE", .val = "1",
	.msg = "libgreen: GREEN_STACK_SIZE=\"1\": expected bytes from 16k to 1g",
};
FIXTURE_VARIANT_ADD(bad, stack_absurd) {
	.var = "GREEN_STACK_SIZE", .val = "64g",
	.msg = "GREEN_STACK_SIZE=\"64g\"",
};
FIXTURE_VARIANT_ADD(bad, stack_overflowing_number) {
	.var = "GREEN_STACK_SIZE", .val = "18446744073709551615k",
	.msg = "GREEN_STACK_SIZE=",
};
FIXTURE_VARIANT_ADD(bad, stack_garbage) {
	.var = "GREEN_STACK_SIZE", .val = "lots", .msg = "GREEN_STACK_SIZE=\"lots\"",
};
FIXTURE_VARIANT_ADD(bad, parker_garbage) {
	.var = "GREEN_PARKER", .val = "umcg",
	.msg = "GREEN_PARKER=\"umcg\": expected auto, futex or kmod",
};
FIXTURE_VARIANT_ADD(bad, guard_garbage) {
	.var = "GREEN_STACK_GUARD", .val = "sometimes",
	.msg = "GREEN_STACK_GUARD=\"sometimes\": expected auto, always or never",
};

TEST_F(bad, refused_with_reason)
{
	run_with(&self->r, variant->var, variant->val);
	ASSERT_TRUE(WIFEXITED(self->r.status));
	EXPECT_EQ(100 + EINVAL, WEXITSTATUS(self->r.status));
	EXPECT_NE(NULL, strstr(self->r.err, variant->msg))
		TH_LOG("stderr: %s", self->r.err);
	/* One line. */
	EXPECT_EQ(strlen(self->r.err) - 1,
		  (size_t)(strchr(self->r.err, '\n') - self->r.err));
}

TEST(procs_one)
{
	struct child_result r;

	run_with(&r, "GREEN_PROCS", "1");
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(1, WEXITSTATUS(r.status));
	EXPECT_STREQ("", r.err);
}

TEST(procs_more_than_cpus)
{
	struct child_result r;
	char buf[24];
	long n = sysconf(_SC_NPROCESSORS_ONLN) * 4;

	if (n > 64)
		n = 64;
	snprintf(buf, sizeof(buf), "%ld", n);
	run_with(&r, "GREEN_PROCS", buf);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(n, WEXITSTATUS(r.status));
}

TEST(procs_default_is_cpus_allowed)
{
	struct child_result r;
	cpu_set_t set;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	unsetenv("GREEN_PROCS");
	run_with(&r, "GREEN_PROCS", "");
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(CPU_COUNT(&set), WEXITSTATUS(r.status));
}

static int stack_size_child(void *arg)
{
	struct seen s = { 0 };

	if (green_run(record, &s))
		return 1;
	return s.stack_size == *(uint64_t *)arg ? 0 : 2;
}

TEST(stack_size_suffixes)
{
	static const struct { const char *val; uint64_t bytes; } cases[] = {
		{ "16k", 16384 }, { "1m", 1 << 20 }, { "100000", 102400 },
		{ "", 256 * 1024 }, { "1G", 1 << 30 },
	};
	struct child_result r;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t want = cases[i].bytes;

		setenv("GREEN_STACK_SIZE", cases[i].val, 1);
		run_child(&r, NULL, NULL, stack_size_child, &want);
		ASSERT_TRUE(WIFEXITED(r.status));
		EXPECT_EQ(0, WEXITSTATUS(r.status)) TH_LOG("%s", cases[i].val);
	}
}

TEST_HARNESS_MAIN
