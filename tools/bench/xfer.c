// SPDX-License-Identifier: MIT
/*
 * xfer.c - `bench xfer N`: how long one cache line takes to move from one
 * CPU to another on this machine, the cost under every multi-processor
 * metric (a spawn on one processor run on another moves the task, the
 * waitgroup's counter, ...). Two threads, pinned to the first two CPUs
 * the process may use, hand a counter back and forth N times; prints the
 * nanoseconds of one hand-over (the median of 5 tries). Not a runtime
 * comparison: `make bench` prints it as context, since on a VM the same
 * two vCPUs have measured 56 ns one hour and 250 ns the next.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TRIES 5

struct xfer {
	_Alignas(128) _Atomic long turn;
	long n;
	int cpu[2];
};

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Wait for the odd (side 1) or even (side 0) turns and pass each on. */
static void play(struct xfer *x, long side)
{
	long i;

	for (i = side; i < x->n; i += 2) {
		while (atomic_load_explicit(&x->turn, memory_order_acquire) != i)
			;
		atomic_store_explicit(&x->turn, i + 1, memory_order_release);
	}
}

static void *other(void *arg)
{
	struct xfer *x = arg;

	if (pin(x->cpu[1]))
		return (void *)1;
	play(x, 1);
	return NULL;
}

static double once(struct xfer *x)
{
	struct timespec a, b;
	pthread_t t;
	void *ret;

	atomic_store(&x->turn, 0);
	if (pthread_create(&t, NULL, other, x))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	play(x, 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(t, &ret);
	if (ret)
		return -1;
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / x->n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int bench_xfer(int argc, char **argv);	/* called by main.c */

int bench_xfer(int argc, char **argv)
{
	static struct xfer x;
	double t[TRIES];
	cpu_set_t set;
	int i, c, k = 0;

	x.n = argc == 3 ? atol(argv[2]) : 0;
	if (x.n <= 0) {
		fprintf(stderr, "usage: bench xfer N\n");
		return 2;
	}
	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	for (c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &set))
			x.cpu[k++] = c;
	if (k < 2) {
		fprintf(stderr, "bench xfer: needs two CPUs\n");
		return 1;
	}
	if (pin(x.cpu[0]))
		return 1;
	for (i = 0; i < TRIES; i++) {
		t[i] = once(&x);
		if (t[i] < 0) {
			fprintf(stderr, "bench xfer: cannot start or pin the second thread\n");
			return 1;
		}
	}
	qsort(t, TRIES, sizeof(t[0]), cmp);
	printf("%.1f\n", t[TRIES / 2]);
	return 0;
}
