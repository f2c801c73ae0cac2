// SPDX-License-Identifier: MIT
/*
 * test_schedtrace.c - GREEN_DEBUG=schedtrace=MS: a Go-style SCHED line on
 * stderr every MS ms, in the documented format, one run-queue length
 * per processor; none without it.
 */
#include <regex.h>

#include "kselftest_harness.h"
#include "test_util.h"

#define MS 1000000LL

static void worker(void *arg)
{
	int64_t end = *(int64_t *)arg;

	while (green_now() < end) {
		green_sleep(MS);
		green_yield();
	}
}

static void busy_main(void *arg)
{
	static int64_t end;
	int i;

	/* Valgrind runs one thread at a time: give the tracer more turns. */
	end = green_now() + (under_valgrind() ? 1500 : 250) * MS;
	for (i = 0; i < 4; i++)
		green_go(worker, &end);
	green_sleep_until(end + 5 * MS);
}

static int trace_child(void *arg)
{
	alarm(20);
	return green_run(busy_main, NULL) ? 1 : 0;
}

/* Check every SCHED line of @err against @re; their count, or -1. */
static int check_lines(const char *err, const char *re, int period_ms,
		       char *bad, size_t n)
{
	const char *s = err;
	regex_t rx;
	int k = 0;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB))
		return -1;
	while ((s = strstr(s, "SCHED "))) {
		const char *eol = strchr(s, '\n');
		char line[1024];
		long ms;

		if (!eol)
			break;		/* cut short by the buffer */
		snprintf(line, sizeof(line), "%.*s", (int)(eol - s), s);
		s = eol;
		if (regexec(&rx, line, 0, NULL, 0) ||
		    sscanf(line, "SCHED %ldms:", &ms) != 1 ||
		    ms < (long)k * period_ms) {
			snprintf(bad, n, "%s", line);
			k = -1;
			break;
		}
		k++;
	}
	regfree(&rx);
	return k;
}

#define LINE_RE(procs, more) \
	"^SCHED [0-9]+ms: gomaxprocs=" #procs " idleprocs=[0-9]+ " \
	"threads=[0-9]+ spinningthreads=[0-9]+ idlethreads=[0-9]+ " \
	"runqueue=[0-9]+ \\[[0-9]+( [0-9]+){" #more "}\\] tasks=[0-9]+ " \
	"steals=[0-9]+ parks=[0-9]+ wakes=[0-9]+ parker=(futex|kmod) " \
	"poller=(io_uring|epoll)$"

TEST(lines_every_period_in_go_format)
{
	struct child_result r;
	char bad[1024] = "";
	int n;

	setenv("GREEN_PROCS", "2", 1);
	run_child(&r, "GREEN_DEBUG", "schedtrace=20", trace_child, NULL);
	unsetenv("GREEN_PROCS");
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	n = check_lines(r.err, LINE_RE(2, 1), 20, bad, sizeof(bad));
	EXPECT_GE(n, 4) {
		fprintf(stderr, "bad line: %s\n%s\n", bad, r.err);
	}
	/* The first comes at once, as Go's (the tools start slowly). */
	if (!under_valgrind() && !under_sanitizer()) {
		long first = -1;

		sscanf(r.err, "SCHED %ldms:", &first);
		EXPECT_TRUE(first >= 0 && first < 100);
	}
}

TEST(one_processor)
{
	struct child_result r;
	char bad[1024] = "";

	setenv("GREEN_PROCS", "1", 1);
	run_child(&r, "GREEN_DEBUG", "chanpanic,schedtrace=50", trace_child,
		  NULL);
	unsetenv("GREEN_PROCS");
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	/* Valgrind runs the child slowly: its first line may be its only. */
	EXPECT_GE(check_lines(r.err, LINE_RE(1, 0), 50, bad, sizeof(bad)),
		  under_valgrind() ? 1 : 2) {
		fprintf(stderr, "bad line: %s\n%s\n", bad, r.err);
	}
}

TEST(none_by_default)
{
	struct child_result r;

	run_child(&r, NULL, NULL, trace_child, NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status)) {
		fprintf(stderr, "%s\n", r.err);
	}
	EXPECT_EQ(NULL, strstr(r.err, "SCHED"));
	run_child(&r, "GREEN_DEBUG", "schedtrace=0", trace_child, NULL);
	EXPECT_EQ(NULL, strstr(r.err, "SCHED"));
}

TEST_HARNESS_MAIN
