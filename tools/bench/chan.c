// SPDX-License-Identifier: MIT
/*
 * chan.c - `make bench`: channels and select, against chan.go.
 *
 *   bench pingpong N            two tasks pass a value back and forth
 *                               over two unbuffered channels, N round
 *                               trips. ns per round trip.
 *   bench buffered P C CAP N    P producers and C consumers move N values
 *                               through one channel of capacity CAP.
 *                               ns per value.
 *   bench select4 N             one task selects over four unbuffered
 *                               channels, each fed by its own sender, N
 *                               times. ns per select.
 *   bench parkmem N             N tasks blocked receiving on a channel:
 *                               resident memory growth (/proc/self/statm)
 *                               per task, in bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "green.h"

struct cbench {
	long n, producers, consumers, cap;
	double result;
	green_chan_t *ch[4];
	green_wg_t wg, cwg;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench: %s failed\n", what);
	exit(1);
}

static green_chan_t *make_chan(size_t cap)
{
	green_chan_t *c = green_chan_make(sizeof(long), cap);

	if (!c)
		die("green_chan_make");
	return c;
}

static void go(void (*fn)(void *), void *arg)
{
	if (green_go(fn, arg))
		die("green_go");
}

static void pingpong_peer(void *arg)
{
	struct cbench *b = arg;
	long i, v;

	for (i = 0; i < b->n; i++) {
		green_chan_recv(b->ch[0], &v);
		green_chan_send(b->ch[1], &v);
	}
	green_wg_done(&b->wg);
}

static void pingpong_main(void *arg)
{
	struct cbench *b = arg;
	double t0;
	long i, v;

	b->ch[0] = make_chan(0);
	b->ch[1] = make_chan(0);
	green_wg_add(&b->wg, 1);
	go(pingpong_peer, b);
	t0 = now_ns();
	for (i = 0; i < b->n; i++) {
		green_chan_send(b->ch[0], &i);
		green_chan_recv(b->ch[1], &v);
	}
	b->result = (now_ns() - t0) / b->n;
	green_wg_wait(&b->wg);
	green_chan_free(b->ch[0]);
	green_chan_free(b->ch[1]);
}

static void buf_producer(void *arg)
{
	struct cbench *b = arg;
	long i, n = b->n / b->producers;

	for (i = 0; i < n; i++)
		green_chan_send(b->ch[0], &i);
	green_wg_done(&b->wg);
}

static void buf_consumer(void *arg)
{
	struct cbench *b = arg;
	long v;

	while (green_chan_recv(b->ch[0], &v) == 0)
		;
	green_wg_done(&b->cwg);
}

static void buffered_main(void *arg)
{
	struct cbench *b = arg;
	double t0;
	long i;

	b->ch[0] = make_chan(b->cap);
	t0 = now_ns();
	green_wg_add(&b->cwg, b->consumers);
	for (i = 0; i < b->consumers; i++)
		go(buf_consumer, b);
	green_wg_add(&b->wg, b->producers);
	for (i = 0; i < b->producers; i++)
		go(buf_producer, b);
	green_wg_wait(&b->wg);
	green_chan_close(b->ch[0]);
	green_wg_wait(&b->cwg);
	b->result = (now_ns() - t0) / (b->n / b->producers * b->producers);
	green_chan_free(b->ch[0]);
}

struct feeder {
	struct cbench *b;
	green_chan_t *c;
};

static void select_feeder(void *arg)
{
	struct feeder *f = arg;
	long i, n = f->b->n / 4;

	for (i = 0; i < n; i++)
		green_chan_send(f->c, &i);
	green_wg_done(&f->b->wg);
}

static void select4_main(void *arg)
{
	struct cbench *b = arg;
	struct green_select_case cs[4];
	struct feeder f[4];
	long i, v, n = b->n / 4 * 4;
	double t0;
	int k;

	for (k = 0; k < 4; k++) {
		b->ch[k] = make_chan(0);
		cs[k] = (struct green_select_case){
			.op = GREEN_SELECT_RECV, .chan = b->ch[k], .elem = &v,
		};
		f[k] = (struct feeder){ b, b->ch[k] };
	}
	green_wg_add(&b->wg, 4);
	t0 = now_ns();
	for (k = 0; k < 4; k++)
		go(select_feeder, &f[k]);
	for (i = 0; i < n; i++)
		if (green_select(cs, 4, 0, 0) < 0)
			die("green_select");
	b->result = (now_ns() - t0) / n;
	green_wg_wait(&b->wg);
	for (k = 0; k < 4; k++)
		green_chan_free(b->ch[k]);
}

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;

	if (!f)
		die("/proc/self/statm");
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		die("reading /proc/self/statm");
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static void parked(void *arg)
{
	struct cbench *b = arg;
	long v;

	green_wg_done(&b->wg);
	green_chan_recv(b->ch[0], &v);
	green_wg_done(&b->cwg);
}

static void parkmem_main(void *arg)
{
	struct cbench *b = arg;
	long i, before;

	b->ch[0] = make_chan(0);
	before = rss_bytes();
	green_wg_add(&b->wg, b->n);
	green_wg_add(&b->cwg, b->n);
	for (i = 0; i < b->n; i++)
		go(parked, b);
	green_wg_wait(&b->wg);
	/* Every task has run up to its receive; let the last ones park. */
	for (i = 0; i < 100; i++)
		green_yield();
	b->result = (double)(rss_bytes() - before) / b->n;
	green_chan_close(b->ch[0]);
	green_wg_wait(&b->cwg);
	green_chan_free(b->ch[0]);
}

int bench_chan(int argc, char **argv);	/* called by main.c */

int bench_chan(int argc, char **argv)
{
	struct cbench b = { .wg = GREEN_WG_INIT, .cwg = GREEN_WG_INIT };
	void (*fn)(void *);
	int ret;

	if (argc == 3 && !strcmp(argv[1], "pingpong")) {
		fn = pingpong_main;
		b.n = atol(argv[2]);
	} else if (argc == 6 && !strcmp(argv[1], "buffered")) {
		fn = buffered_main;
		b.producers = atol(argv[2]);
		b.consumers = atol(argv[3]);
		b.cap = atol(argv[4]);
		b.n = atol(argv[5]);
		if (b.producers <= 0 || b.consumers <= 0 || b.cap < 0 ||
		    b.n < b.producers)
			die("arguments");
	} else if (argc == 3 && !strcmp(argv[1], "select4")) {
		fn = select4_main;
		b.n = atol(argv[2]);
	} else if (argc == 3 && !strcmp(argv[1], "parkmem")) {
		fn = parkmem_main;
		b.n = atol(argv[2]);
	} else {
		fprintf(stderr,
			"usage: bench pingpong N | bench buffered P C CAP N |\n"
			"       bench select4 N | bench parkmem N\n");
		return 2;
	}
	if (b.n < 4) {
		fprintf(stderr, "bench: counts must be at least 4\n");
		return 2;
	}
	ret = green_run(fn, &b);
	if (ret) {
		fprintf(stderr, "bench: green_run: %s\n", strerror(-ret));
		return 1;
	}
	printf("%.1f\n", b.result);
	return 0;
}
