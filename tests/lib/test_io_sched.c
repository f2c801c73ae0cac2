// SPDX-License-Identifier: MIT
/*
 * test_io_sched.c - I/O meets the scheduler, on every poller: tasks moved
 * to another processor while in I/O keep every byte; green_run returns
 * promptly, and cleanly, while tasks are still blocked in I/O and sleep,
 * and the runtime starts again after that.
 */
#include "kselftest_harness.h"
#include "test_io_util.h"

IO_FIXTURE(iosched);

/* ---- stolen while in I/O ---- */

/*
 * Many ping-pong pairs on two processors: each side writes a message of
 * random size, the other echoes it; both also burn a little CPU and yield
 * so that run queues fill and the idle processor steals. Every byte is
 * checked; processor changes across an I/O call are counted.
 */
struct pp {
	int fd[2];
	uint64_t seed;
	long rounds;
	size_t bad, moved;
	long migrations;
	int64_t err;
	green_wg_t *wg;
};

static void burn(uint64_t *s)
{
	volatile uint64_t x = *s;
	long i, n = rnd(s) % 2000;

	for (i = 0; i < n; i++)
		x = x * 31 + i;
}

static void pp_echo(void *arg)
{
	struct pp *p = arg;
	uint8_t buf[8192];
	ssize_t r;

	while ((r = green_read(p->fd[1], buf, sizeof(buf))) > 0) {
		if (write_all(p->fd[1], buf, r, NULL) != r) {
			p->err = -EIO;
			break;
		}
	}
	if (r < 0)
		p->err = r;
	green_wg_done(p->wg);
}

static void pp_client(void *arg)
{
	struct pp *p = arg;
	uint64_t s = p->seed * 7 + 3, off = 0;
	uint8_t *out = malloc(16384), *in = malloc(16384);
	size_t n;
	ssize_t r;
	long i;
	int before;

	for (i = 0; out && in && i < p->rounds; i++) {
		n = rnd_size(&s, 16384);
		pat_fill(out, n, p->seed, off);
		burn(&s);
		before = green_proc_id();
		r = write_all(p->fd[0], out, n, NULL);
		if (r == (ssize_t)n)
			r = read_full(p->fd[0], in, n);
		if (green_proc_id() != before)
			p->migrations++;
		if (r != (ssize_t)n) {
			p->err = r < 0 ? r : -EIO;
			break;
		}
		p->bad += pat_bad(in, n, p->seed, off);
		p->moved += n;
		off += n;
		if (rnd(&s) % 3 == 0)
			green_yield();
	}
	if (!out || !in)
		p->err = -ENOMEM;
	free(out);
	free(in);
	shutdown(p->fd[0], SHUT_WR);	/* the echo task sees EOF */
	green_wg_done(p->wg);
}

struct steal_run {
	long n;
	struct pp *p;
	green_wg_t wg;
	uint64_t steals;
};

static void steal_main(void *arg)
{
	struct steal_run *sr = arg;
	struct green_proc_stats ps[2];
	struct green_stats st = { .size = sizeof(st) };
	long i;
	int np;

	for (i = 0; i < sr->n; i++) {
		green_wg_add(&sr->wg, 2);
		green_go(pp_echo, &sr->p[i]);
		green_go(pp_client, &sr->p[i]);
	}
	green_wg_wait(&sr->wg);
	np = green_stats(&st, ps, 2);
	for (i = 0; i < np; i++)
		sr->steals += ps[i].stolen;
}

TEST_F(iosched, stolen_in_io)
{
	struct steal_run sr = { .wg = GREEN_WG_INIT };
	long i, migrations = 0;
	size_t moved = 0;

	sr.n = scaled(500, 20);
	sr.p = calloc(sr.n, sizeof(*sr.p));
	ASSERT_NE(NULL, sr.p);
	for (i = 0; i < sr.n; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					sr.p[i].fd));
		sr.p[i].seed = i + 100;
		sr.p[i].rounds = scaled(40, 5);
		sr.p[i].wg = &sr.wg;
	}
	setenv("GREEN_PROCS", "2", 1);
	IO_RUN(steal_main, &sr);
	for (i = 0; i < sr.n; i++) {
		EXPECT_EQ(0, sr.p[i].err) TH_LOG("pair %ld", i);
		EXPECT_EQ(0, (long)sr.p[i].bad) TH_LOG("pair %ld", i);
		migrations += sr.p[i].migrations;
		moved += sr.p[i].moved;
		close(sr.p[i].fd[0]);
		close(sr.p[i].fd[1]);
	}
	TH_LOG("%zu bytes echoed, %ld I/O calls resumed on another processor, %lu tasks stolen",
	       moved, migrations, (unsigned long)sr.steals);
	free(sr.p);
}

/* ---- shutdown with operations in flight ---- */

enum { SD_READ, SD_RECV, SD_PIPE, SD_POLL, SD_WRITE, SD_SLEEP,
       SD_DEADLINE, SD_ACCEPT, SD_KINDS };

struct sd {
	int kind;
	int fd[2];
	int blocked;		/* about to block */
	int returned;		/* must stay 0: nobody resumes them */
	green_wg_t *started;
};

struct sd_run {
	long n;
	struct sd *t;
	int l;
	green_wg_t started;
	int64_t main_returned_at;
};

static void sd_task(void *arg)
{
	struct sd *t = arg;
	char buf[4096];
	int i;

	if (t->kind == SD_WRITE) {
		/* Fill the socket; the last write blocks. */
		memset(buf, 'w', sizeof(buf));
		for (i = 0; i < 1024; i++)
			if (green_send(t->fd[0], buf, sizeof(buf),
				       MSG_DONTWAIT) <= 0)
				break;
	}
	green_wg_done(t->started);
	set_flag(&t->blocked);
	switch (t->kind) {
	case SD_READ:
	case SD_PIPE:
		green_read(t->fd[0], buf, sizeof(buf));
		break;
	case SD_RECV:
		green_recv(t->fd[0], buf, sizeof(buf), 0);
		break;
	case SD_POLL:
		green_poll(t->fd[0], POLLIN);
		break;
	case SD_WRITE:
		green_write(t->fd[0], buf, sizeof(buf));
		break;
	case SD_SLEEP:
		green_sleep(3600 * SEC);
		break;
	case SD_DEADLINE:
		green_read_until(t->fd[0], buf, sizeof(buf),
				 green_now() + 3600 * SEC);
		break;
	case SD_ACCEPT:
		green_accept(t->fd[0], NULL, NULL);
		break;
	}
	set_flag(&t->returned);
}

static void sd_main(void *arg)
{
	struct sd_run *r = arg;
	long i;

	for (i = 0; i < r->n; i++) {
		green_wg_add(&r->started, 1);
		green_go(sd_task, &r->t[i]);
	}
	green_wg_wait(&r->started);
	green_sleep(20 * MSEC);		/* let them all park */
	r->main_returned_at = mono_ns();
}

static int sd_open(struct sd_run *r, struct sd *t, int kind)
{
	struct sockaddr_in a;

	t->kind = kind;
	t->started = &r->started;
	t->fd[1] = -1;
	switch (kind) {
	case SD_PIPE:
		return pipe2(t->fd, O_CLOEXEC);
	case SD_RECV:
		return tcp_pair(t->fd);
	case SD_ACCEPT:
		t->fd[0] = tcp_listener(4, &a);
		return t->fd[0] < 0 ? -1 : 0;
	default:
		return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				  t->fd);
	}
}

/* A small I/O round trip: the runtime works after the shutdown. */
static void again_main(void *arg)
{
	int *ok = arg, sv[2];
	char buf[4];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return;
	*ok = green_write(sv[1], "ok", 2) == 2 &&
	      green_read_until(sv[0], buf, sizeof(buf),
			       green_now() + 5 * SEC) == 2 &&
	      green_sleep(MSEC) == 0;
	close(sv[0]);
	close(sv[1]);
}

TEST_F(iosched, shutdown_with_io_in_flight)
{
	struct sd_run r = { .started = GREEN_WG_INIT };
	long i, returned = 0, blocked = 0;
	int64_t end;
	int ok = 0;

	r.n = scaled(80, 2 * SD_KINDS);
	r.n -= r.n % SD_KINDS;
	r.t = calloc(r.n, sizeof(*r.t));
	ASSERT_NE(NULL, r.t);
	for (i = 0; i < r.n; i++)
		ASSERT_EQ(0, sd_open(&r, &r.t[i], i % SD_KINDS));
	IO_RUN(sd_main, &r);
	end = mono_ns();
	for (i = 0; i < r.n; i++) {
		blocked += r.t[i].blocked;
		returned += r.t[i].returned;
		close(r.t[i].fd[0]);
		if (r.t[i].fd[1] >= 0)
			close(r.t[i].fd[1]);
	}
	EXPECT_EQ(r.n, blocked);
	/* As in Go: tasks left blocked are discarded, not resumed. */
	EXPECT_EQ(0, returned);
	EXPECT_LT(end - r.main_returned_at, (under_valgrind() ? 10 : 3) * SEC)
		TH_LOG("green_run took %.3f s to return",
		       (end - r.main_returned_at) / 1e9);
	/* And the runtime runs again. */
	IO_RUN(again_main, &ok);
	EXPECT_TRUE(ok);
	free(r.t);
}

/* Shut down again and again with I/O in flight: nothing leaks or hangs. */
TEST_F(iosched, repeated_shutdowns)
{
	long rounds = scaled(20, 3), k, i;
	int64_t t0, worst = 0;

	for (k = 0; k < rounds; k++) {
		struct sd_run r = { .started = GREEN_WG_INIT, .n = SD_KINDS };
		struct sd t[SD_KINDS];

		memset(t, 0, sizeof(t));
		r.t = t;
		for (i = 0; i < r.n; i++)
			ASSERT_EQ(0, sd_open(&r, &t[i], i));
		t0 = mono_ns();
		IO_RUN(sd_main, &r);
		if (mono_ns() - t0 > worst)
			worst = mono_ns() - t0;
		for (i = 0; i < r.n; i++) {
			EXPECT_EQ(0, t[i].returned);
			close(t[i].fd[0]);
			if (t[i].fd[1] >= 0)
				close(t[i].fd[1]);
		}
	}
	/* Valgrind runs the drain's waits one thread at a time. */
	EXPECT_LT(worst, (under_valgrind() ? 10 : 3) * SEC);
}

TEST_HARNESS_MAIN
