// SPDX-License-Identifier: MIT
/*
 * io.c - libgreen's I/O metrics of `make bench`; io.go does the same work
 * with goroutines, metric for metric.
 *
 *   bench echo CONNS N          TCP echo ping-pong over loopback: CONNS
 *                               connections, a server task and a client
 *                               task each, in this one process; N round
 *                               trips of 64 bytes in all. ns per round
 *                               trip (wall time / N), timed once every
 *                               connection is up.
 *   bench sleepers N R cpu|wall N tasks each sleep 1 ms, R times, timed
 *                               from when all have started (parked on a
 *                               gate). "cpu": process CPU ns per sleep;
 *                               "wall": ms for all of it.
 *
 * The processor count comes from GREEN_PROCS, as GOMAXPROCS for Go.
 * Prints one number.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "green.h"

int bench_io(int argc, char **argv);

#define ECHO_MSG 64

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static void die(const char *what, long err)
{
	fprintf(stderr, "bench: %s: %s\n", what,
		strerror(err < 0 ? -err : err));
	exit(1);
}

/* ---- echo ---- */

struct echo {
	long conns, rounds;	/* rounds per connection */
	int l;
	struct sockaddr_in addr;
	green_wg_t up, go, done;
	double ns_per_rt;
};

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void echo_server(void *arg)
{
	int fd = (int)(long)arg;
	char buf[ECHO_MSG];
	ssize_t r, w, off;

	nodelay(fd);
	while ((r = green_read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < r; off += w) {
			w = green_write(fd, buf + off, r - off);
			if (w <= 0)
				die("server write", w);
		}
	}
	if (r < 0)
		die("server read", r);
	green_close(fd);
}

static void echo_acceptor(void *arg)
{
	struct echo *e = arg;
	long i;
	int fd;

	for (i = 0; i < e->conns; i++) {
		fd = green_accept(e->l, NULL, NULL);
		if (fd < 0)
			die("accept", fd);
		if (green_go(echo_server, (void *)(long)fd))
			die("green_go", ENOMEM);
	}
}

static void echo_client(void *arg)
{
	struct echo *e = arg;
	char out[ECHO_MSG], in[ECHO_MSG];
	ssize_t r, got;
	long i;
	int fd;

	memset(out, 'p', sizeof(out));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket", errno);
	r = green_connect(fd, (struct sockaddr *)&e->addr, sizeof(e->addr));
	if (r)
		die("connect", r);
	nodelay(fd);
	green_wg_done(&e->up);
	green_wg_wait(&e->go);
	for (i = 0; i < e->rounds; i++) {
		r = green_write(fd, out, sizeof(out));
		if (r != sizeof(out))
			die("client write", r < 0 ? r : EIO);
		for (got = 0; got < ECHO_MSG; got += r) {
			r = green_read(fd, in + got, ECHO_MSG - got);
			if (r <= 0)
				die("client read", r < 0 ? r : EPIPE);
		}
	}
	green_close(fd);
	green_wg_done(&e->done);
}

static void echo_main(void *arg)
{
	struct echo *e = arg;
	socklen_t len = sizeof(e->addr);
	double t0;
	long i;

	e->l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	e->addr.sin_family = AF_INET;
	e->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (e->l < 0 ||
	    bind(e->l, (struct sockaddr *)&e->addr, sizeof(e->addr)) ||
	    listen(e->l, 1024) ||
	    getsockname(e->l, (struct sockaddr *)&e->addr, &len))
		die("listen", errno);
	green_go(echo_acceptor, e);
	green_wg_add(&e->go, 1);
	for (i = 0; i < e->conns; i++) {
		green_wg_add(&e->up, 1);
		green_wg_add(&e->done, 1);
		if (green_go(echo_client, e))
			die("green_go", ENOMEM);
	}
	green_wg_wait(&e->up);
	t0 = mono();
	green_wg_done(&e->go);
	green_wg_wait(&e->done);
	e->ns_per_rt = (mono() - t0) / (e->conns * e->rounds);
	close(e->l);
}

/* ---- sleepers ---- */

struct sleepers {
	long n, rounds;
	green_wg_t up, go, done;
	double wall, cpu;	/* ns, from the gate opening */
};

static void sleeper(void *arg)
{
	struct sleepers *s = arg;
	long i;

	green_wg_done(&s->up);
	green_wg_wait(&s->go);
	for (i = 0; i < s->rounds; i++)
		green_sleep(1000000);
	green_wg_done(&s->done);
}

static void sleepers_main(void *arg)
{
	struct sleepers *s = arg;
	double w0, c0;
	long i;

	green_wg_add(&s->go, 1);
	for (i = 0; i < s->n; i++) {
		green_wg_add(&s->up, 1);
		green_wg_add(&s->done, 1);
		if (green_go(sleeper, s))
			die("green_go", ENOMEM);
	}
	/* Every task started and parked: spawning is not timed. */
	green_wg_wait(&s->up);
	w0 = mono();
	c0 = cpu();
	green_wg_done(&s->go);
	green_wg_wait(&s->done);
	s->wall = mono() - w0;
	s->cpu = cpu() - c0;
}

int bench_io(int argc, char **argv)
{
	int ret;

	if (argc == 4 && !strcmp(argv[1], "echo")) {
		struct echo e = { .up = GREEN_WG_INIT, .go = GREEN_WG_INIT,
				  .done = GREEN_WG_INIT };
		long n = atol(argv[3]);

		e.conns = atol(argv[2]);
		if (e.conns <= 0 || n < e.conns) {
			fprintf(stderr, "bench: echo CONNS N: 0 < CONNS <= N\n");
			return 2;
		}
		e.rounds = n / e.conns;
		ret = green_run(echo_main, &e);
		if (ret)
			die("green_run", ret);
		printf("%.1f\n", e.ns_per_rt);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "sleepers") &&
	    (!strcmp(argv[4], "cpu") || !strcmp(argv[4], "wall"))) {
		struct sleepers s = { .up = GREEN_WG_INIT, .go = GREEN_WG_INIT,
				      .done = GREEN_WG_INIT };

		s.n = atol(argv[2]);
		s.rounds = atol(argv[3]);
		if (s.n <= 0 || s.rounds <= 0) {
			fprintf(stderr, "bench: counts must be positive\n");
			return 2;
		}
		ret = green_run(sleepers_main, &s);
		if (ret)
			die("green_run", ret);
		if (!strcmp(argv[4], "cpu"))
			printf("%.1f\n", s.cpu / (s.n * s.rounds));
		else
			printf("%.1f\n", s.wall / 1e6);
		return 0;
	}
	fprintf(stderr, "usage: bench echo CONNS N | bench sleepers N ROUNDS cpu|wall\n");
	return 2;
}
