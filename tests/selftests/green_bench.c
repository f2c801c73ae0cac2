// SPDX-License-Identifier: GPL-2.0
/*
 * green_bench - ping-pong between two threads, green.ko against futex,
 * in one run (only ratios mean anything under TCG).  Prints
 *   BENCH <metric> kmod=<ns> futex=<ns> unit=ns ratio=<futex/kmod>
 * switch_to: A SWITCH_TO(B), B SWITCH_TO(A)   vs  futex wake + wait
 *            (issue 3's target: 3x)
 * park_wake: A WAKE(B) + PARK, B PARK + WAKE(A) vs the same with futexes
 * switch_to_anycpu: switch_to with GREEN_SWITCH_ANYCPU, the target placed
 *            by the scheduler: what running it on the caller's CPU gains
 * Env: GREEN_BENCH_ROUNDS (default 20000), GREEN_BENCH_REPS (default 3,
 * the median is printed).
 */
#include <linux/futex.h>

#include "green_util.h"

static int rounds = 20000;
static int pin = -1;		/* GREEN_BENCH_PIN=cpu: both threads there */

static void maybe_pin(void)
{
	if (pin >= 0)
		g_pin_cpu(pin);
}

/* ---- futex ping-pong ---- */

static atomic_int fword[2];

static void fwait(atomic_int *w)
{
	while (!atomic_exchange(w, 0))
		syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

static void fwake(atomic_int *w)
{
	atomic_store(w, 1);
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *futex_peer(void *arg)
{
	int i;

	maybe_pin();
	for (i = 0; i < rounds; i++) {
		fwait(&fword[1]);
		fwake(&fword[0]);
	}
	return NULL;
}

static double bench_futex(void)
{
	pthread_t th;
	uint64_t t0;
	int i;

	atomic_store(&fword[0], 0);
	atomic_store(&fword[1], 0);
	pthread_create(&th, NULL, futex_peer, NULL);
	usleep(10000);
	t0 = g_now_ns();
	for (i = 0; i < rounds; i++) {
		fwake(&fword[1]);
		fwait(&fword[0]);
	}
	t0 = g_now_ns() - t0;
	pthread_join(th, NULL);
	return (double)t0 / rounds;
}

/* ---- green.ko ping-pong ---- */

enum mode { SWITCH_TO, PARK_WAKE, SWITCH_TO_ANYCPU, NR_MODES };

static unsigned int sw_flags(int mode)
{
	return mode == SWITCH_TO_ANYCPU ? GREEN_SWITCH_ANYCPU : 0;
}

struct kpeer {
	int fd;
	int mode;		/* enum mode */
	atomic_int a, b;	/* worker ids */
	pthread_barrier_t bar;
};

static void *kmod_peer(void *arg)
{
	struct kpeer *k = arg;
	int i;

	maybe_pin();
	atomic_store(&k->b, g_register(k->fd, 0));
	pthread_barrier_wait(&k->bar);
	g_park(k->fd, 0, 0, NULL);
	for (i = 0; i < rounds - 1; i++) {
		if (k->mode != PARK_WAKE) {
			g_switch_to(k->fd, k->a, 0, sw_flags(k->mode));
		} else {
			g_wake(k->fd, k->a);
			g_park(k->fd, 0, 0, NULL);
		}
	}
	g_wake(k->fd, k->a);
	g_unregister(k->fd);
	return NULL;
}

static double bench_kmod(int fd, int mode)
{
	struct kpeer k = { .fd = fd, .mode = mode };
	pthread_t th;
	uint64_t t0;
	int i;

	pthread_barrier_init(&k.bar, NULL, 2);
	atomic_store(&k.a, g_register(fd, 0));
	pthread_create(&th, NULL, kmod_peer, &k);
	pthread_barrier_wait(&k.bar);
	usleep(10000);
	t0 = g_now_ns();
	for (i = 0; i < rounds; i++) {
		if (mode != PARK_WAKE) {
			g_switch_to(fd, k.b, 0, sw_flags(mode));
		} else {
			g_wake(fd, k.b);
			g_park(fd, 0, 0, NULL);
		}
	}
	t0 = g_now_ns() - t0;
	pthread_join(th, NULL);
	g_unregister(fd);
	return (double)t0 / rounds;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	const char *names[] = { "switch_to", "park_wake", "switch_to_anycpu" };
	const char *e;
	int reps = 3, fd, mode, r;
	double k[9], f[9], km, fm;

	if ((e = getenv("GREEN_BENCH_ROUNDS")))
		rounds = atoi(e) > 1 ? atoi(e) : 2;
	if ((e = getenv("GREEN_BENCH_PIN")))
		pin = atoi(e);
	maybe_pin();
	if ((e = getenv("GREEN_BENCH_REPS")))
		reps = atoi(e) < 1 ? 1 : atoi(e) > 9 ? 9 : atoi(e);
	fd = g_open();
	if (fd < 0) {
		printf("# SKIP: no %s\n", GREEN_DEVICE);
		return 4;
	}
	printf("# green_bench: %d round trips, median of %d, %ld CPUs, pin %d\n",
	       rounds, reps, sysconf(_SC_NPROCESSORS_ONLN), pin);
	for (mode = 0; mode < NR_MODES; mode++) {
		for (r = 0; r < reps; r++) {
			k[r] = bench_kmod(fd, mode);
			f[r] = bench_futex();
		}
		qsort(k, reps, sizeof(k[0]), cmp);
		qsort(f, reps, sizeof(f[0]), cmp);
		km = k[reps / 2];
		fm = f[reps / 2];
		printf("BENCH %s kmod=%.0f futex=%.0f unit=ns ratio=%.2f%s\n",
		       names[mode], km, fm, fm / km,
		       mode != SWITCH_TO ? "" :
		       fm / km >= 3 ? " target=3x met" : " target=3x MISSED");
	}
	close(fd);
	return 0;
}
