// SPDX-License-Identifier: MIT
/*
 * bench - libgreen's side of `make bench`. Each metric does the same work
 * as the function of the same name in bench.go:
 *
 *   bench spawn ROUNDS N   spawn N tasks that each call done on a
 *                          waitgroup, wait; ROUNDS times. ns per task.
 *   bench yield N          two tasks each yield N times. ns per yield.
 *
 * The processor count comes from GREEN_PROCS, as GOMAXPROCS for Go.
 * Prints one number: nanoseconds per operation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "green.h"

struct bench {
	long rounds, n;
	double ns_per_op;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void done(void *arg)
{
	green_wg_done(arg);
}

static void spawn_main(void *arg)
{
	struct bench *b = arg;
	green_wg_t wg = GREEN_WG_INIT;
	double t0 = now();
	long r, i;

	for (r = 0; r < b->rounds; r++) {
		for (i = 0; i < b->n; i++) {
			green_wg_add(&wg, 1);
			if (green_go(done, &wg)) {
				fprintf(stderr, "bench: green_go failed\n");
				exit(1);
			}
		}
		green_wg_wait(&wg);
	}
	b->ns_per_op = (now() - t0) / (b->rounds * b->n);
}

static void yielder(void *arg)
{
	struct bench *b = arg;
	long i;

	for (i = 0; i < b->n; i++)
		green_yield();
}

static void yield_main(void *arg)
{
	struct bench *b = arg;
	double t0 = now();

	green_go(yielder, b);
	yielder(b);
	/* The other may still be finishing its last yields. */
	green_yield();
	b->ns_per_op = (now() - t0) / (2 * b->n);
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	void (*fn)(void *);
	int ret;

	if (argc == 4 && !strcmp(argv[1], "spawn")) {
		fn = spawn_main;
		b.rounds = atol(argv[2]);
		b.n = atol(argv[3]);
	} else if (argc == 3 && !strcmp(argv[1], "yield")) {
		fn = yield_main;
		b.rounds = 1;
		b.n = atol(argv[2]);
	} else {
		fprintf(stderr, "usage: bench spawn ROUNDS N | bench yield N\n");
		return 2;
	}
	if (b.rounds <= 0 || b.n <= 0) {
		fprintf(stderr, "bench: counts must be positive\n");
		return 2;
	}
	ret = green_run(fn, &b);
	if (ret) {
		fprintf(stderr, "bench: green_run: %s\n", strerror(-ret));
		return 1;
	}
	printf("%.1f\n", b.ns_per_op);
	return 0;
}
