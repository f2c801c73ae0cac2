// SPDX-License-Identifier: MIT
/*
 * bench - libgreen's side of `make bench`. Each metric does the same work
 * as the function of the same name in bench.go:
 *
 *   bench spawn ROUNDS N   spawn N tasks that each call done on a
 *                          waitgroup, wait; ROUNDS times. ns per task.
 *   bench yield N          two tasks each yield N times. ns per yield.
 *   bench handoff N        one task blocks in a marked read(2) on a pipe;
 *                          how long until another task runs (its
 *                          processor handed over). Median ns of N rounds.
 *                          With "unmarked", a plain read(2): only green.ko's
 *                          held resume hands the processor over.
 *   bench xfer N           no runtime: a cache line's trip between two
 *                          CPUs (xfer.c), printed by make bench as context.
 *
 * The processor count comes from GREEN_PROCS, as GOMAXPROCS for Go.
 * Prints one number: nanoseconds per operation.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

struct handoff {
	int fd[2];
	long n;
	bool unmarked;		/* plain read(2): green.ko's held resume */
	double *lat;
	_Atomic long round;	/* set by the reader as it blocks */
	_Atomic double blocked_at;
	green_wg_t wg;
};

static void handoff_reader(void *arg)
{
	struct handoff *h = arg;
	char c;
	long i;

	for (i = 1; i <= h->n; i++) {
		if (!h->unmarked)
			green_syscall_enter();
		h->blocked_at = now();
		h->round = i;
		if (read(h->fd[0], &c, 1) != 1)
			exit(1);
		if (!h->unmarked)
			green_syscall_exit();
	}
	green_wg_done(&h->wg);
}

static void handoff_writer(void *arg)
{
	struct handoff *h = arg;
	long i;

	for (i = 1; i <= h->n; i++) {
		while (h->round != i)
			green_yield();
		h->lat[i - 1] = now() - h->blocked_at;
		if (write(h->fd[1], "x", 1) != 1)
			exit(1);
	}
	green_wg_done(&h->wg);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void handoff_main(void *arg)
{
	struct bench *b = arg;
	struct handoff h = { .n = b->n, .wg = GREEN_WG_INIT,
			     .unmarked = b->rounds == 2 };

	h.lat = calloc(h.n, sizeof(*h.lat));
	if (!h.lat || pipe(h.fd)) {
		fprintf(stderr, "bench: out of memory or pipes\n");
		exit(1);
	}
	green_wg_add(&h.wg, 2);
	green_go(handoff_writer, &h);
	green_go(handoff_reader, &h);
	green_wg_wait(&h.wg);
	qsort(h.lat, h.n, sizeof(*h.lat), cmp_double);
	b->ns_per_op = h.lat[h.n / 2];
	free(h.lat);
	close(h.fd[0]);
	close(h.fd[1]);
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
	} else if ((argc == 3 || (argc == 4 &&
				  !strcmp(argv[3], "unmarked"))) &&
		   !strcmp(argv[1], "handoff")) {
		fn = handoff_main;
		b.rounds = argc == 4 ? 2 : 1;	/* 2: unmarked */
		b.n = atol(argv[2]);
	} else if (argc >= 2 && (!strcmp(argv[1], "echo") ||
				 !strcmp(argv[1], "sleepers"))) {
		int bench_io(int argc, char **argv);	/* io.c */

		return bench_io(argc, argv);
	} else if (argc >= 2 && (!strcmp(argv[1], "pingpong") ||
				 !strcmp(argv[1], "buffered") ||
				 !strcmp(argv[1], "select4") ||
				 !strcmp(argv[1], "parkmem"))) {
		int bench_chan(int argc, char **argv);	/* chan.c */

		return bench_chan(argc, argv);
	} else if (argc >= 2 && !strcmp(argv[1], "xfer")) {
		int bench_xfer(int argc, char **argv);	/* xfer.c */

		return bench_xfer(argc, argv);
	} else if (argc >= 2 && !strcmp(argv[1], "mutex")) {
		int bench_sync(int argc, char **argv);	/* sync.c */

		return bench_sync(argc, argv);
	} else {
		fprintf(stderr, "usage: bench spawn ROUNDS N | bench yield N | bench handoff N [unmarked] | bench xfer N\n");
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
