/* SPDX-License-Identifier: MIT */
/*
 * test_util.h - helpers shared by libgreen's tests (kselftest harness).
 *
 * Tasks never use ASSERT_*: it longjmps, and a task runs on its own stack,
 * maybe on another thread. Tasks record what they saw; the TEST body
 * asserts on it after green_run returns.
 */
#ifndef GREEN_TEST_UTIL_H
#define GREEN_TEST_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "green.h"

/*
 * Iteration counts are divided by GREEN_TEST_SCALE (the sanitizer and
 * Valgrind runs set it), never below @min.
 */
static inline long scaled(long n, long min)
{
	const char *s = getenv("GREEN_TEST_SCALE");
	long div = s ? atol(s) : 1;

	if (div > 1)
		n /= div;
	return n < min ? min : n;
}

/* CLOCK_MONOTONIC in ns. */
static inline int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline bool under_valgrind(void)
{
	return getenv("GREEN_TEST_VALGRIND") != NULL;
}

static inline bool under_sanitizer(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return true;
#else
	return false;
#endif
}

static inline bool under_tsan(void)
{
#if defined(__SANITIZE_THREAD__)
	return true;
#else
	return false;
#endif
}

/*
 * The idle-worker backend green_run will pick: GREEN_PARKER when set to
 * futex or kmod, else green.ko's when /dev/green opens.
 */
static inline const char *expected_parker(void)
{
	const char *s = getenv("GREEN_PARKER");

	if (s && (!strcmp(s, "futex") || !strcmp(s, "kmod")))
		return s;
	return access("/dev/green", R_OK | W_OK) == 0 ? "kmod" : "futex";
}

/*
 * green.ko's held resume will be on (hold.c): the kmod parker and
 * GREEN_HOLD=1. It keeps one more worker thread, parked as a spare.
 */
static inline bool expect_hold(void)
{
	const char *h = getenv("GREEN_HOLD");

	return !strcmp(expected_parker(), "kmod") && h && !strcmp(h, "1");
}

/* green.ko's held resume can be had: the kmod parker (tests opt in). */
static inline bool can_hold(void)
{
	return !strcmp(expected_parker(), "kmod");
}

/* What a child process did: its stderr and how it ended. */
struct child_result {
	char err[4096];
	int status;	/* as from waitpid */
};

/*
 * Run @fn(@arg) in a child process with stderr captured, after setting
 * the environment variable @var to @val (when @var is not NULL). The
 * child exits with @fn's return value.
 */
static inline void run_child(struct child_result *r, const char *var,
			     const char *val, int (*fn)(void *), void *arg)
{
	int pfd[2];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (pipe(pfd))
		abort();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		if (var)
			setenv(var, val, 1);
		_exit(fn(arg));
	}
	close(pfd[1]);
	while (len < sizeof(r->err) - 1 &&
	       (n = read(pfd[0], r->err + len, sizeof(r->err) - 1 - len)) > 0)
		len += n;
	r->err[len] = 0;
	close(pfd[0]);
	waitpid(pid, &r->status, 0);
}

#endif /* GREEN_TEST_UTIL_H */
