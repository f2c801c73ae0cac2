// SPDX-License-Identifier: MIT
/*
 * test_epoll.c - what is particular to the epoll poller (poller_epoll.c),
 * with GREEN_POLLER=epoll: it is the one selected; a task reading a plain
 * blocking pipe or socket parks instead of blocking its worker (one
 * processor, no handoff); edge-triggered readiness is never lost, under
 * load and in the exact window between a task's attempt and its park
 * (this program interposes recv() to make that window happen); data that
 * came while nobody waited is found; many tasks wait on one fd;
 * green_close wakes every waiter with -EBADF and the fd number can be
 * reused; a wait through another processor's epoll; an M that lost its
 * processor while sleeping in the epoll still leaves at shutdown;
 * deadlines; regular files, which epoll cannot poll; a connect on a
 * blocking socket leaves it blocking; a number that accept hands out
 * again after a plain close() is not waited on through a stale
 * registration.
 */
#include <pthread.h>

#include "kselftest_harness.h"
#include "test_io_util.h"

static void use_epoll(int procs)
{
	char n[16];

	setenv("GREEN_POLLER", "epoll", 1);
	snprintf(n, sizeof(n), "%d", procs);
	setenv("GREEN_PROCS", n, 1);
}

/* Worker handoffs and worker threads so far (a parked read makes none). */
static void handoffs(uint64_t *hand, uint32_t *workers)
{
	struct green_proc_stats ps[4];
	struct green_stats st = { .size = sizeof(st) };
	int i, n = green_stats(&st, ps, 4);

	*hand = 0;
	for (i = 0; i < n && i < 4; i++)
		*hand += ps[i].handoffs;
	*workers = st.nworkers;
}

/* Handoffs need a syscall over 20 us: under Valgrind a quick one is. */
static bool handoffs_meaningful(void)
{
	return !under_valgrind();
}

static void xp_nop(void *arg)
{
}

/* ---- selected ---- */

TEST(selected)
{
	struct poller_snap s = { .ret = -1 };

	use_epoll(2);
	ASSERT_EQ(0, green_run(poller_snap_main, &s));
	EXPECT_EQ(2, s.ret);
	EXPECT_STREQ("epoll", s.poller);
	EXPECT_EQ(0, strncmp(s.features, "epoll", 5))
		TH_LOG("features: %s", s.features);
}

/* ---- a plain blocking fd parks the task, not the worker ---- */

#define PARK_TICKS 20

struct park {
	int fd[2];
	long ticks;		/* the other task's progress */
	long ticks_at_read;	/* ... when the read returned */
	ssize_t r;
	char got;
	int done;
	uint64_t hand;
	uint32_t workers;
	green_wg_t wg;
};

static void park_reader(void *arg)
{
	struct park *k = arg;

	k->r = green_read(k->fd[0], &k->got, 1);
	k->ticks_at_read = __atomic_load_n(&k->ticks, __ATOMIC_RELAXED);
	set_flag(&k->done);
	green_wg_done(&k->wg);
}

static void park_ticker(void *arg)
{
	struct park *k = arg;

	while (!__atomic_load_n(&k->done, __ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(&k->ticks, 1, __ATOMIC_RELAXED);
		green_sleep(MSEC / 2);
	}
	green_wg_done(&k->wg);
}

static void park_main(void *arg)
{
	struct park *k = arg;
	int64_t end;

	green_wg_add(&k->wg, 2);
	green_go(park_reader, k);
	green_go(park_ticker, k);
	/*
	 * The reader blocked for 50 ms at least (sysmon would have handed
	 * the processor on by then, had the worker blocked) and the ticker
	 * ran 20 times meanwhile. A worker blocked without sysmon would
	 * stop us too: the test would hang.
	 */
	end = green_now() + 50 * MSEC;
	while (green_now() < end ||
	       __atomic_load_n(&k->ticks, __ATOMIC_RELAXED) < PARK_TICKS)
		green_sleep(MSEC);
	/*
	 * Counted before the write: the read that follows it runs marked,
	 * and sysmon may hand the processor on if that quick call takes
	 * over 20 us (the TCG VM); what is checked is the wait before it.
	 */
	handoffs(&k->hand, &k->workers);
	if (write(k->fd[1], "x", 1) != 1)
		k->r = -999;
	green_wg_wait(&k->wg);
}

static void check_parked(struct __test_metadata *_metadata, struct park *k)
{
	EXPECT_EQ(1, k->r);
	EXPECT_EQ('x', k->got);
	/* The ticker ran while the only processor's reader was blocked. */
	EXPECT_GE(k->ticks_at_read, PARK_TICKS);
	if (handoffs_meaningful()) {
		EXPECT_EQ(0, (long)k->hand);
		/* One worker, and green.ko's spare if held resume is on. */
		EXPECT_EQ(1 + expect_hold(), (long)k->workers);
	}
}

TEST(blocking_pipe_parks)
{
	struct park k = { 0 };

	ASSERT_EQ(0, pipe2(k.fd, O_CLOEXEC));
	ASSERT_FALSE(nonblocking(k.fd[0]));
	use_epoll(1);
	ASSERT_EQ(0, green_run(park_main, &k));
	check_parked(_metadata, &k);
	/* The fd is still blocking: nothing was changed behind our back. */
	EXPECT_FALSE(nonblocking(k.fd[0]));
	close(k.fd[0]);
	close(k.fd[1]);
}

TEST(blocking_socket_parks)
{
	struct park k = { 0 };

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, k.fd));
	use_epoll(1);
	ASSERT_EQ(0, green_run(park_main, &k));
	check_parked(_metadata, &k);
	EXPECT_FALSE(nonblocking(k.fd[0]));
	close(k.fd[0]);
	close(k.fd[1]);
}

TEST(blocking_tcp_parks)
{
	struct park k = { 0 };

	ASSERT_EQ(0, tcp_pair(k.fd));
	use_epoll(1);
	ASSERT_EQ(0, green_run(park_main, &k));
	check_parked(_metadata, &k);
	close(k.fd[0]);
	close(k.fd[1]);
}

/* ---- edge-triggered: no readiness lost between attempt and park ---- */

/*
 * Pairs of tasks bounce a counter over two fds, on two processors, so
 * that data often arrives just after the reader found none and before it
 * parked. A lost edge leaves the reader parked: its generous deadline
 * turns that into -ETIMEDOUT instead of a hang.
 */
#define PP_PAIRS 8

struct pp {
	int a[2], b[2];		/* a: ping, b: pong */
	long rounds;
	long lost;		/* reads that timed out */
	long bad;		/* wrong values, errors */
	green_wg_t *wg;
};

static void pp_ping(void *arg)
{
	struct pp *p = arg;
	uint32_t v = 0, got;
	long i;

	for (i = 0; i < p->rounds; i++) {
		ssize_t r = green_write(p->a[1], &v, sizeof(v));

		if (r != sizeof(v)) {
			p->bad++;
			break;
		}
		r = green_read_until(p->b[0], &got, sizeof(got),
				     green_now() + 5 * SEC);
		if (r == -ETIMEDOUT) {
			p->lost++;
			break;
		}
		if (r != sizeof(got) || got != v + 1) {
			p->bad++;
			break;
		}
		v = got + 1;
	}
	green_wg_done(p->wg);
}

static void pp_pong(void *arg)
{
	struct pp *p = arg;
	uint32_t got;
	long i;

	for (i = 0; i < p->rounds; i++) {
		ssize_t r = green_read_until(p->a[0], &got, sizeof(got),
					     green_now() + 5 * SEC);

		if (r == -ETIMEDOUT) {
			p->lost++;
			break;
		}
		if (r != sizeof(got)) {
			p->bad++;
			break;
		}
		got++;
		if (green_write(p->b[1], &got, sizeof(got)) != sizeof(got)) {
			p->bad++;
			break;
		}
	}
	green_wg_done(p->wg);
}

static void pp_main(void *arg)
{
	struct pp *ps = arg;
	green_wg_t wg = GREEN_WG_INIT;
	int i;

	for (i = 0; i < PP_PAIRS; i++) {
		ps[i].wg = &wg;
		green_wg_add(&wg, 2);
		green_go(pp_ping, &ps[i]);
		green_go(pp_pong, &ps[i]);
	}
	green_wg_wait(&wg);
}

TEST(edges_not_lost)
{
	struct pp ps[PP_PAIRS];
	long rounds = scaled(4000, 100), lost = 0, bad = 0;
	int i;

	memset(ps, 0, sizeof(ps));
	for (i = 0; i < PP_PAIRS; i++) {
		/* Half pipes, half sockets; all blocking, made plainly. */
		if (i % 2) {
			ASSERT_EQ(0, pipe2(ps[i].a, O_CLOEXEC));
			ASSERT_EQ(0, pipe2(ps[i].b, O_CLOEXEC));
		} else {
			ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM |
						SOCK_CLOEXEC, 0, ps[i].a));
			ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM |
						SOCK_CLOEXEC, 0, ps[i].b));
		}
		ps[i].rounds = rounds;
	}
	use_epoll(2);
	ASSERT_EQ(0, green_run(pp_main, ps));
	for (i = 0; i < PP_PAIRS; i++) {
		lost += ps[i].lost;
		bad += ps[i].bad;
		close(ps[i].a[0]);
		close(ps[i].a[1]);
		close(ps[i].b[0]);
		close(ps[i].b[1]);
	}
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, bad);
}

/*
 * The exact race, made to happen: this program's recv() (which the
 * backend's non-blocking attempt calls) finds no data, then has a byte
 * sent and lets the fd's processor consume that edge before it answers
 * EAGAIN. The backend must notice the edge it missed and try again
 * rather than park for one that will not come. Another task waits on
 * the fd all along (for POLLPRI, which never comes), so that the reader
 * joins an existing registration instead of making a new one, which
 * would re-arm the edge. It must wait on another processor than the
 * reader's, so that its epoll is read while the reader's thread is held
 * in recv(); rounds where it does not are not counted.
 */
#define RACE_ROUNDS 12

struct race {
	int fd[2];
	int armed;		/* the next attempt on fd[0] races */
	int wproc;		/* the POLLPRI waiter's processor */
	int wdone;
	int64_t wret;
	long meaningful, lost, bad;
};

static struct race *race_now;

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	struct race *r = race_now;
	struct timespec ts = { 0, 20 * MSEC };
	ssize_t ret;

	ret = syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
	if (!r || fd != r->fd[0] || ret >= 0 || errno != EAGAIN ||
	    !__atomic_exchange_n(&r->armed, 0, __ATOMIC_ACQ_REL))
		return ret;
	if (syscall(SYS_write, r->fd[1], "e", 1) != 1)
		r->bad++;
	/* The waiter's processor takes the edge meanwhile. */
	nanosleep(&ts, NULL);
	errno = EAGAIN;
	return -1;
}

static void race_waiter(void *arg)
{
	struct race *r = arg;

	__atomic_store_n(&r->wproc, green_proc_id(), __ATOMIC_RELEASE);
	/* Until green_close: -EBADF. */
	r->wret = green_poll_until(r->fd[0], POLLPRI, green_now() + 60 * SEC);
	set_flag(&r->wdone);
}

static void race_main(void *arg)
{
	struct race *r = arg;
	int64_t end;
	char b;
	int k;

	r->wproc = -1;
	green_go(race_waiter, r);
	green_go(xp_nop, NULL);	/* the waiter to the queue */
	/* Busy, so that the other processor steals the waiter. */
	end = green_now() + 20 * MSEC;
	while (__atomic_load_n(&r->wproc, __ATOMIC_ACQUIRE) < 0 &&
	       green_now() < end)
		;
	/* It parks in its poll; we stay busy here, not to move. */
	end = green_now() + 2 * MSEC;
	while (green_now() < end)
		;
	race_now = r;
	for (k = 0; k < RACE_ROUNDS; k++) {
		ssize_t got;

		if (green_proc_id() != __atomic_load_n(&r->wproc,
						      __ATOMIC_ACQUIRE))
			r->meaningful++;
		__atomic_store_n(&r->armed, 1, __ATOMIC_RELEASE);
		got = green_read_until(r->fd[0], &b, 1, green_now() + 2 * SEC);
		if (got == -ETIMEDOUT)
			r->lost++;
		else if (got != 1 || b != 'e')
			r->bad++;
	}
	race_now = NULL;
	green_close(r->fd[0]);
	wait_flag(&r->wdone, 5 * SEC);
}

TEST(edge_between_attempt_and_park)
{
	struct race r = { 0 };

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r.fd));
	use_epoll(2);
	/* recv() above holds the processor on purpose: no stall reports. */
	setenv("GREEN_STALL_MS", "0", 1);
	ASSERT_EQ(0, green_run(race_main, &r));
	EXPECT_EQ(0, r.lost);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ(-EBADF, r.wret);
	TH_LOG("%ld of %d rounds raced", r.meaningful, RACE_ROUNDS);
	close(r.fd[1]);
}

/*
 * Data that came while nobody waited (the fd registered, its edge
 * consumed by the processor's reap with no waiter) is found by the next
 * read and poll without waiting for another edge.
 */
struct early {
	int fd[2];
	ssize_t r[4];
	int rev;
	int64_t took;
};

static void early_main(void *arg)
{
	struct early *e = arg;
	char c[2];
	int i;

	/* Register: wait once for real. */
	e->r[0] = green_read_until(e->fd[0], c, 1, green_now() + 20 * MSEC);
	/* Two edges nobody waits for; let the P reap them. */
	e->r[1] = green_write(e->fd[1], "ab", 2);
	for (i = 0; i < 10; i++)
		green_sleep(MSEC / 10);
	e->took = green_now();
	e->rev = green_poll_until(e->fd[0], POLLIN, green_now() + 5 * SEC);
	e->r[2] = green_read_until(e->fd[0], c, 2, green_now() + 5 * SEC);
	e->took = green_now() - e->took;
	/* And nothing is left: this one times out. */
	e->r[3] = green_read_until(e->fd[0], c, 1, green_now() + 20 * MSEC);
}

TEST(early_data_found)
{
	struct early e = { 0 };

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, e.fd));
	use_epoll(1);
	ASSERT_EQ(0, green_run(early_main, &e));
	EXPECT_EQ(-ETIMEDOUT, e.r[0]);
	EXPECT_EQ(2, e.r[1]);
	EXPECT_TRUE(e.rev > 0 && (e.rev & POLLIN)) TH_LOG("rev %d", e.rev);
	EXPECT_EQ(2, e.r[2]);
	EXPECT_LT(e.took, 2 * SEC);
	EXPECT_EQ(-ETIMEDOUT, e.r[3]);
	close(e.fd[0]);
	close(e.fd[1]);
}

/* ---- many tasks on one fd ---- */

struct many {
	int fd[2];		/* readers take one byte each */
	int pfd[2];		/* pollers wait for its one byte */
	long n;			/* readers, and bytes written */
	long got;		/* bytes read by all */
	long polled;		/* green_poll returns with POLLIN */
	long errs;
	green_wg_t wg;
};

static void many_reader(void *arg)
{
	struct many *m = arg;
	char c;
	ssize_t r = green_read_until(m->fd[0], &c, 1, green_now() + 10 * SEC);

	if (r == 1)
		__atomic_fetch_add(&m->got, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&m->errs, 1, __ATOMIC_RELAXED);
	green_wg_done(&m->wg);
}

static void many_poller(void *arg)
{
	struct many *m = arg;
	int r = green_poll_until(m->pfd[0], POLLIN, green_now() + 10 * SEC);

	if (r > 0 && (r & POLLIN))
		__atomic_fetch_add(&m->polled, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&m->errs, 1, __ATOMIC_RELAXED);
	green_wg_done(&m->wg);
}

static void many_main(void *arg)
{
	struct many *m = arg;
	long i;

	for (i = 0; i < m->n; i++) {
		green_wg_add(&m->wg, 2);
		green_go(many_reader, m);
		green_go(many_poller, m);
	}
	/* Let them all park on the fds. */
	green_sleep(20 * MSEC);
	/* One edge for all the pollers. */
	if (green_write(m->pfd[1], "p", 1) != 1)
		__atomic_fetch_add(&m->errs, 1, __ATOMIC_RELAXED);
	/* One byte at a time, so that waiters are woken again and again. */
	for (i = 0; i < m->n; i++) {
		if (green_write(m->fd[1], "y", 1) != 1)
			__atomic_fetch_add(&m->errs, 1, __ATOMIC_RELAXED);
		if (i % 8 == 0)
			green_yield();
	}
	green_wg_wait(&m->wg);
}

TEST(many_waiters_one_fd)
{
	struct many m = { .n = scaled(500, 20) };

	ASSERT_EQ(0, pipe2(m.fd, O_CLOEXEC));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m.pfd));
	use_epoll(2);
	ASSERT_EQ(0, green_run(many_main, &m));
	close(m.pfd[0]);
	close(m.pfd[1]);
	EXPECT_EQ(m.n, m.got);
	EXPECT_EQ(m.n, m.polled);
	EXPECT_EQ(0, m.errs);
	close(m.fd[0]);
	close(m.fd[1]);
}

/* ---- green_close wakes every waiter with -EBADF ---- */

#define CL_READERS 16

struct cl {
	int fd[2], lfd;
	int slot;		/* next reader's r[] */
	int64_t r[CL_READERS];
	int64_t pollr, acceptr;
	int64_t reuse;		/* a read on the number after reuse */
	int64_t closed;
	green_wg_t wg;
};

static void cl_reader(void *arg)
{
	struct cl *c = arg;
	int i = __atomic_fetch_add(&c->slot, 1, __ATOMIC_RELAXED);
	char b;

	c->r[i] = green_read_until(c->fd[0], &b, 1, green_now() + 10 * SEC);
	green_wg_done(&c->wg);
}

static void cl_poller(void *arg)
{
	struct cl *c = arg;

	c->pollr = green_poll_until(c->fd[0], POLLIN, green_now() + 10 * SEC);
	green_wg_done(&c->wg);
}

static void cl_acceptor(void *arg)
{
	struct cl *c = arg;

	c->acceptr = green_accept_until(c->lfd, NULL, NULL,
					green_now() + 10 * SEC);
	green_wg_done(&c->wg);
}

static void cl_main(void *arg)
{
	struct cl *c = arg;
	int fd[2], i;
	char b;

	for (i = 0; i < CL_READERS; i++) {
		green_wg_add(&c->wg, 1);
		green_go(cl_reader, c);
	}
	green_wg_add(&c->wg, 2);
	green_go(cl_poller, c);
	green_go(cl_acceptor, c);
	green_sleep(20 * MSEC);
	c->closed = green_close(c->fd[0]);
	green_close(c->lfd);
	green_wg_wait(&c->wg);
	/* The number comes back with a new pipe and works as new. */
	if (pipe2(fd, O_CLOEXEC)) {
		c->reuse = -errno;
		return;
	}
	if (fd[0] != c->fd[0])
		c->reuse = -1000 - fd[0];
	else if (green_write(fd[1], "z", 1) != 1)
		c->reuse = -2000;
	else
		c->reuse = green_read_until(fd[0], &b, 1,
					    green_now() + 5 * SEC);
	green_close(fd[0]);
	green_close(fd[1]);
}

TEST(close_wakes_waiters)
{
	struct cl c = { 0 };
	struct sockaddr_in a;
	int i;

	ASSERT_EQ(0, pipe2(c.fd, O_CLOEXEC));
	c.lfd = tcp_listener(4, &a);
	ASSERT_GE(c.lfd, 0);
	use_epoll(2);
	ASSERT_EQ(0, green_run(cl_main, &c));
	EXPECT_EQ(0, c.closed);
	for (i = 0; i < CL_READERS; i++)
		EXPECT_EQ(-EBADF, c.r[i]) TH_LOG("reader %d", i);
	EXPECT_EQ(-EBADF, c.pollr);
	EXPECT_EQ(-EBADF, c.acceptr);
	EXPECT_EQ(1, c.reuse);
	close(c.fd[1]);
}

/* ---- a wait through another processor's epoll ---- */

/*
 * The fd was registered on processor A, which then went idle with nobody
 * waiting on it, and a task on processor B waits on it: the registration
 * moves to B's epoll with that first waiter (a wait counted on an idle
 * A, which may have no M polling it, could go unseen). The readiness
 * comes from a thread outside the runtime. Which processor runs what
 * cannot be forced: a round counts when the two differ, and some do.
 */
#define XP_ROUNDS 20

struct xp {
	int fd[2];
	int pa;			/* the processor r1 registered on */
	int64_t r1;
	int stage;		/* 1: r1 done */
	long meaningful, failed;
};

static void xp_r1(void *arg)
{
	struct xp *x = arg;
	char b;

	x->pa = green_proc_id();
	x->r1 = green_read_until(x->fd[0], &b, 1, green_now() + 5 * MSEC);
	__atomic_store_n(&x->stage, 1, __ATOMIC_RELEASE);
}

/* A thread outside the runtime writes a byte 10 ms after it starts. */
static void *xp_writer(void *arg)
{
	struct xp *x = arg;
	struct timespec ts = { 0, 10 * MSEC };

	nanosleep(&ts, NULL);
	if (write(x->fd[1], "w", 1) != 1)
		__atomic_fetch_add(&x->failed, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void xp_main(void *arg)
{
	struct xp *x = arg;
	int64_t end, r2;
	pthread_t t;
	char b;
	int k;

	for (k = 0; k < XP_ROUNDS; k++) {
		x->stage = 0;
		green_go(xp_r1, x);
		if (k % 2) {
			/* r1 from runnext to the queue, and stay busy, so
			 * that the idle processor steals it. */
			green_go(xp_nop, NULL);
			end = green_now() + 20 * MSEC;
			while (!__atomic_load_n(&x->stage, __ATOMIC_ACQUIRE) &&
			       green_now() < end)
				;
		}
		while (!__atomic_load_n(&x->stage, __ATOMIC_ACQUIRE))
			green_sleep(MSEC / 4);
		if (x->r1 != -ETIMEDOUT)
			x->failed++;
		/* r1's processor goes idle with nobody waiting. */
		green_sleep(5 * MSEC);
		if (pthread_create(&t, NULL, xp_writer, x)) {
			x->failed++;
			break;
		}
		if (green_proc_id() != x->pa)
			x->meaningful++;
		r2 = green_read_until(x->fd[0], &b, 1, green_now() + 2 * SEC);
		pthread_join(t, NULL);
		if (r2 != 1)
			x->failed++;
	}
}

TEST(wait_through_idle_proc)
{
	struct xp x = { 0 };

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x.fd));
	use_epoll(2);
	ASSERT_EQ(0, green_run(xp_main, &x));
	EXPECT_EQ(0, x.failed);
	TH_LOG("%ld of %d rounds waited through another processor",
	       x.meaningful, XP_ROUNDS);
	close(x.fd[0]);
	close(x.fd[1]);
}

/* ---- an M that lost its processor while waiting in its epoll ---- */

/*
 * Regression: one processor; a blocking accept (the plain call, marked)
 * gets the processor handed to a second M, which later waits in the
 * epoll as the idle processor's poll_m; the first M takes the processor
 * back and reaps. The kick that told the waiting M it had lost the
 * processor must reach it, not be reaped by the holder: else it sleeps
 * on, and green_run never returns (the harness's timeout fails the test).
 * No deadlines: with a timer, the sleeper would wake in time anyway.
 * Many short runs.
 */
struct ev {
	int l;
	struct sockaddr_in a;
	int64_t acc, con, rd;
	green_wg_t wg;
};

static void ev_acceptor(void *arg)
{
	struct ev *v = arg;
	int fd = green_accept(v->l, NULL, NULL);

	v->acc = fd;
	if (fd >= 0) {
		green_write(fd, "a", 1);
		green_close(fd);
	}
	green_wg_done(&v->wg);
}

static void ev_main(void *arg)
{
	struct ev *v = arg;
	char b;
	int fd;

	green_wg_add(&v->wg, 1);
	green_go(ev_acceptor, v);
	green_sleep(2 * MSEC);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	v->con = green_connect(fd, (struct sockaddr *)&v->a, sizeof(v->a));
	v->rd = green_read(fd, &b, 1);
	green_wg_wait(&v->wg);
	green_close(fd);
}

TEST(shutdown_after_lost_processor)
{
	long runs = scaled(30, 5), bad = 0, i;
	struct ev v;

	use_epoll(1);
	for (i = 0; i < runs; i++) {
		memset(&v, 0, sizeof(v));
		v.l = tcp_listener(4, &v.a);
		ASSERT_GE(v.l, 0);
		ASSERT_EQ(0, green_run(ev_main, &v));
		bad += v.acc < 0 || v.con || v.rd != 1;
		close(v.l);
	}
	EXPECT_EQ(0, bad);
}

/* ---- deadlines ---- */

struct dl {
	int fd[2];
	int64_t r[4];
	int64_t took[2];
};

static void dl_main(void *arg)
{
	struct dl *d = arg;
	int64_t t0 = green_now();
	char b;

	d->r[0] = green_read_until(d->fd[0], &b, 1, t0 + 30 * MSEC);
	d->took[0] = green_now() - t0;
	/* The task's own deadline. */
	t0 = green_now();
	green_deadline_set(t0 + 30 * MSEC);
	d->r[1] = green_poll(d->fd[0], POLLIN);
	d->took[1] = green_now() - t0;
	green_deadline_set(0);
	/* The timed-out waiters left no trace: data is read at once. */
	green_write(d->fd[1], "q", 1);
	d->r[2] = green_read_until(d->fd[0], &b, 1, green_now() + 5 * SEC);
	/* A deadline already past fails without reading. */
	green_write(d->fd[1], "r", 1);
	d->r[3] = green_read_until(d->fd[0], &b, 1, green_now() - 1);
}

TEST(deadlines)
{
	struct dl d = { 0 };

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d.fd));
	use_epoll(1);
	ASSERT_EQ(0, green_run(dl_main, &d));
	EXPECT_EQ(-ETIMEDOUT, d.r[0]);
	EXPECT_GE(d.took[0], 30 * MSEC);
	EXPECT_LT(d.took[0], 5 * SEC);
	EXPECT_EQ(-ETIMEDOUT, d.r[1]);
	EXPECT_GE(d.took[1], 30 * MSEC);
	EXPECT_LT(d.took[1], 5 * SEC);
	EXPECT_EQ(1, d.r[2]);
	EXPECT_EQ(-ETIMEDOUT, d.r[3]);
	close(d.fd[0]);
	close(d.fd[1]);
}

/* ---- regular files: not pollable, read with the plain call ---- */

struct rf {
	char path[64];
	size_t size;
	size_t bad;
	int64_t r[6];
};

static void rf_main(void *arg)
{
	struct rf *f = arg;
	uint8_t *buf = malloc(f->size);
	size_t off = 0;
	int fd;

	fd = green_openat(AT_FDCWD, f->path, O_RDONLY | O_CLOEXEC, 0);
	f->r[0] = fd;
	if (fd < 0 || !buf)
		goto out;
	while (off < f->size) {
		ssize_t r = green_read(fd, buf + off, f->size - off);

		if (r <= 0) {
			f->r[1] = r ? r : -EIO;
			break;
		}
		off += r;
	}
	f->bad = pat_bad(buf, off, 7, 0) + (f->size - off);
	f->r[2] = green_read(fd, buf, 1);	/* EOF */
	f->r[3] = green_pread(fd, buf, 4096, f->size / 2);
	f->bad += pat_bad(buf, 4096, 7, f->size / 2);
	f->r[4] = green_poll(fd, POLLIN | POLLOUT);
	f->r[5] = green_close(fd);
out:
	free(buf);
}

TEST(regular_file)
{
	struct rf f = { .size = scaled(4 << 20, 64 << 10) };
	uint8_t *buf;
	int fd;

	snprintf(f.path, sizeof(f.path), "/tmp/green_epoll_%d", getpid());
	fd = open(f.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	buf = malloc(f.size);
	ASSERT_NE(NULL, buf);
	pat_fill(buf, f.size, 7, 0);
	ASSERT_EQ((ssize_t)f.size, write(fd, buf, f.size));
	free(buf);
	/*
	 * Out of the page cache where the file system allows, so that
	 * RWF_NOWAIT reads fail and take the path for what epoll refuses.
	 */
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	use_epoll(1);
	ASSERT_EQ(0, green_run(rf_main, &f));
	unlink(f.path);
	EXPECT_GE(f.r[0], 0);
	EXPECT_EQ(0, f.r[1]);
	EXPECT_EQ(0, (long)f.bad);
	EXPECT_EQ(0, f.r[2]);
	EXPECT_EQ(4096, f.r[3]);
	EXPECT_EQ(POLLIN | POLLOUT, f.r[4]);
	EXPECT_EQ(0, f.r[5]);
}

/* ---- connect on a blocking socket; accept's reused numbers ---- */

struct cn {
	struct sockaddr_in a;
	int lfd;
	int64_t r[8];
	int cfd[2];
	int flags_before, flags_after;
	green_wg_t wg;
};

static void cn_server(void *arg)
{
	struct cn *c = arg;
	char b;
	int k;

	/*
	 * Twice: accept, wait on the connection (registering it), then a
	 * plain close(). The second accept hands the same number out again;
	 * waiting on it must not go through the first one's registration.
	 */
	for (k = 0; k < 2; k++) {
		int fd = green_accept_until(c->lfd, NULL, NULL,
					    green_now() + 5 * SEC);

		c->r[2 + k] = fd;
		if (fd < 0)
			break;
		c->r[4 + k] = green_read_until(fd, &b, 1,
					       green_now() + 5 * SEC);
		close(fd);
	}
	green_wg_done(&c->wg);
}

static void cn_main(void *arg)
{
	struct cn *c = arg;
	int k;

	green_wg_add(&c->wg, 1);
	green_go(cn_server, c);
	for (k = 0; k < 2; k++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		c->cfd[k] = fd;
		if (fd < 0)
			break;
		if (!k)
			c->flags_before = fcntl(fd, F_GETFL);
		c->r[k] = green_connect(fd, (struct sockaddr *)&c->a,
					sizeof(c->a));
		if (!k)
			c->flags_after = fcntl(fd, F_GETFL);
		/* The server waits a little before the byte comes. */
		green_sleep(5 * MSEC);
		green_write(fd, "c", 1);
	}
	green_wg_wait(&c->wg);
	close(c->cfd[0]);
	close(c->cfd[1]);
}

TEST(connect_accept_blocking)
{
	struct cn c = { 0 };

	c.lfd = tcp_listener(8, &c.a);
	ASSERT_GE(c.lfd, 0);
	use_epoll(1);
	ASSERT_EQ(0, green_run(cn_main, &c));
	EXPECT_EQ(0, c.r[0]);
	EXPECT_EQ(0, c.r[1]);
	EXPECT_EQ(c.flags_before, c.flags_after);
	EXPECT_FALSE(c.flags_after & O_NONBLOCK);
	EXPECT_GE(c.r[2], 0);
	EXPECT_EQ(c.r[2], c.r[3]);	/* the same number, reused */
	EXPECT_EQ(1, c.r[4]);
	EXPECT_EQ(1, c.r[5]);
	close(c.lfd);
}

TEST_HARNESS_MAIN
