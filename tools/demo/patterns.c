// SPDX-License-Identifier: MIT
/*
 * patterns.c - `demo patterns [NAME]`: the list of walk-throughs, and what
 * they share. Each walk-through (walk_*.c) is a short console program
 * about one idea, printing its steps as it goes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "green.h"
#include "walk.h"

static const struct walk {
	const char *name;
	int (*fn)(void);
	const char *what;
} walks[] = {
	{ "concurrency-vs-parallelism", walk_parallelism,
	  "the same work on 1 processor and on all of them" },
	{ "blocking", walk_blocking,
	  "a task that blocks its thread, marks it, or parks instead" },
	{ "sleepers", walk_sleepers,
	  "10,000 sleeping tasks are timers, not threads" },
	{ "pipeline", walk_pipeline,
	  "stages joined by channels; closing says \"no more\"" },
	{ "fanout", walk_fanout,
	  "fan-out/fan-in with a deadline" },
	{ "worker-pool", walk_pool,
	  "a bounded pool fed by a buffered channel; backpressure" },
	{ "ratelimit", walk_ratelimit,
	  "a token bucket: a buffered channel refilled by a ticker" },
	{ "timeout", walk_timeout,
	  "three ways to stop waiting: select+timer, context, deadline" },
	{ "cancel", walk_cancel,
	  "context trees and errgroup: one cancel reaches every task" },
	{ "shutdown", walk_shutdown,
	  "SIGTERM to a running server: drain, then exit" },
};

#define NWALKS (sizeof(walks) / sizeof(walks[0]))

static int step_no;
static int failures;

int walk_run(void (*fn)(void *arg), void *arg, int procs)
{
	const char *old = getenv("GREEN_PROCS");
	char *saved = old ? strdup(old) : NULL;
	char tmp[16];
	int ret;

	if (procs > 0) {
		snprintf(tmp, sizeof(tmp), "%d", procs);
		setenv("GREEN_PROCS", tmp, 1);
	}
	ret = green_run(fn, arg);
	if (saved)
		setenv("GREEN_PROCS", saved, 1);
	else
		unsetenv("GREEN_PROCS");
	free(saved);
	if (ret) {
		fprintf(stderr, "demo: green_run: %s\n", strerror(-ret));
		failures++;
	}
	return ret;
}

double walk_ms(int64_t t0)
{
	return (green_now() - t0) / 1e6;
}

void walk_step(const char *fmt, ...)
{
	va_list ap;

	printf("  %d. ", ++step_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void walk_check(bool ok, const char *what)
{
	if (ok)
		return;
	failures++;
	printf("  !! not as expected: %s\n", what);
}

int walk_failures(void)
{
	return failures;
}

static void list(FILE *f)
{
	size_t i;

	fprintf(f, "usage: demo patterns NAME   (or `all`)\n\n");
	for (i = 0; i < NWALKS; i++)
		fprintf(f, "  %-27s %s\n", walks[i].name, walks[i].what);
}

static int run_one(const struct walk *w)
{
	int ret;

	printf("== %s: %s ==\n", w->name, w->what);
	step_no = 0;
	failures = 0;
	ret = w->fn();
	if (!ret && failures)
		ret = 1;
	printf("\n");
	return ret;
}

int cmd_patterns(int argc, char **argv)
{
	size_t i;
	int ret = 0;

	if (argc < 2) {
		list(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "all")) {
		for (i = 0; i < NWALKS; i++)
			ret |= run_one(&walks[i]);
		return ret;
	}
	for (i = 0; i < NWALKS; i++)
		if (!strcmp(argv[1], walks[i].name))
			return run_one(&walks[i]);
	fprintf(stderr, "demo: no pattern named %s\n\n", argv[1]);
	list(stderr);
	return 2;
}
