// SPDX-License-Identifier: MIT
/*
 * sync.c - `make bench`: sync primitives, against sync.go.
 *
 *   bench mutex T N     T tasks each lock a shared mutex, bump a shared
 *                       counter and unlock, N times. ns per lock+unlock
 *                       (all tasks together: wall time / (T * N)).
 *                       With T = 1 it is the uncontended path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "green.h"

struct sbench {
	long tasks, n;
	double result;
	green_mutex_t m;
	green_wg_t wg;
	long counter;		/* guarded by m */
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void mutex_task(void *arg)
{
	struct sbench *b = arg;
	long i;

	for (i = 0; i < b->n; i++) {
		green_mutex_lock(&b->m);
		b->counter++;
		green_mutex_unlock(&b->m);
	}
	green_wg_done(&b->wg);
}

static void mutex_main(void *arg)
{
	struct sbench *b = arg;
	double t0 = now_ns();
	long i;

	for (i = 0; i < b->tasks; i++) {
		green_wg_add(&b->wg, 1);
		if (green_go(mutex_task, b)) {
			fprintf(stderr, "bench: green_go failed\n");
			exit(1);
		}
	}
	green_wg_wait(&b->wg);
	b->result = (now_ns() - t0) / (b->tasks * b->n);
	if (b->counter != b->tasks * b->n) {
		fprintf(stderr, "bench: mutex lost updates\n");
		exit(1);
	}
}

int bench_sync(int argc, char **argv);

int bench_sync(int argc, char **argv)
{
	struct sbench b = { .m = GREEN_MUTEX_INIT, .wg = GREEN_WG_INIT };
	int ret;

	if (argc != 4 || strcmp(argv[1], "mutex")) {
		fprintf(stderr, "usage: bench mutex TASKS N\n");
		return 2;
	}
	/* Tasks that never switch are the point here, not a stall to
	 * report (unless asked for). */
	setenv("GREEN_STALL_MS", "0", 0);
	b.tasks = atol(argv[2]);
	b.n = atol(argv[3]);
	if (b.tasks <= 0 || b.n <= 0) {
		fprintf(stderr, "bench: counts must be positive\n");
		return 2;
	}
	ret = green_run(mutex_main, &b);
	if (ret) {
		fprintf(stderr, "bench: green_run: %s\n", strerror(-ret));
		return 1;
	}
	printf("%.1f\n", b.result);
	return 0;
}
