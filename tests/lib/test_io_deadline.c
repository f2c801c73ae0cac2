// SPDX-License-Identifier: MIT
/*
 * test_io_deadline.c - deadlines on I/O, on every poller: the *_until
 * variants and green_deadline_set end a call with -ETIMEDOUT and leave
 * the fd usable with nothing lost; tasks whose tiny deadlines race the
 * data they read return exactly once each and lose no byte, also when
 * every read is a task of its own that exits at once.
 */
#include "kselftest_harness.h"
#include "test_io_util.h"

IO_FIXTURE(deadline);

enum op {
	OP_READ,
	OP_RECV,
	OP_POLL,
	OP_WRITE,	/* on a full socket */
	OP_SEND,	/* on a full socket */
	OP_ACCEPT,
	OP_N,
};

static const char *const op_name[OP_N] = {
	"read", "recv", "poll", "write", "send", "accept"
};

/*
 * One blocked-operation check: a socketpair (rd: the end the op waits
 * on, pr: its peer) and a listener for accept. For the writes the
 * socket is stuffed first; every byte written, before and after the
 * timeout, is a byte of one pattern stream the peer checks in full.
 */
struct blocked {
	int sv[2];
	int l;
	struct sockaddr_in addr;
	uint64_t wseq;		/* bytes of the write stream sent */
	int64_t ret;		/* the timed-out call */
	int64_t deadline;
	int64_t returned_at;	/* green_now() right after it */
	ssize_t late_read;	/* data sent afterwards: read intact? */
	size_t late_bad;
	ssize_t drained;	/* write ops: the peer read back ... */
	size_t drain_bad;	/* ... and compared */
	int accepted;		/* accept after the timeout */
};

/* Stuff @fd (a unix stream socket) with the stream until it is full. */
static void stuff(struct blocked *b, int fd)
{
	uint8_t buf[4096];
	ssize_t r;

	for (;;) {
		pat_fill(buf, sizeof(buf), 77, b->wseq);
		r = green_send(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r <= 0)
			break;
		b->wseq += r;
	}
}

static int64_t do_op(struct blocked *b, enum op op, int64_t deadline)
{
	uint8_t buf[256];
	int64_t r;

	switch (op) {
	case OP_READ:
		return green_read_until(b->sv[0], buf, sizeof(buf), deadline);
	case OP_RECV:
		return green_recv_until(b->sv[0], buf, sizeof(buf), 0,
					deadline);
	case OP_POLL:
		return green_poll_until(b->sv[0], POLLIN, deadline);
	case OP_WRITE:
	case OP_SEND:
		pat_fill(buf, sizeof(buf), 77, b->wseq);
		if (op == OP_WRITE)
			r = green_write_until(b->sv[0], buf, sizeof(buf),
					      deadline);
		else
			r = green_send_until(b->sv[0], buf, sizeof(buf), 0,
					     deadline);
		if (r > 0)	/* room appeared: account for it */
			b->wseq += r;
		return r;
	case OP_ACCEPT:
		return green_accept_until(b->l, NULL, NULL, deadline);
	default:
		return -EINVAL;
	}
}

/* After the timeout: the fd works and nothing was lost or duplicated. */
static void check_after(struct blocked *b, enum op op)
{
	uint8_t buf[4096];
	uint64_t off = 0;
	ssize_t r;
	int c;

	switch (op) {
	case OP_READ:
	case OP_RECV:
	case OP_POLL:
		pat_fill(buf, 100, 5, 0);
		green_write(b->sv[1], buf, 100);
		memset(buf, 0, sizeof(buf));
		b->late_read = read_full(b->sv[0], buf, 100);
		b->late_bad = pat_bad(buf, 100, 5, 0);
		break;
	case OP_WRITE:
	case OP_SEND:
		/* The peer reads the whole stream; shut it to end it. */
		shutdown(b->sv[0], SHUT_WR);
		while ((r = green_read(b->sv[1], buf, sizeof(buf))) > 0) {
			b->drain_bad += pat_bad(buf, r, 77, off);
			off += r;
		}
		b->drained = r < 0 ? r : (ssize_t)off;
		break;
	case OP_ACCEPT:
		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(c, (struct sockaddr *)&b->addr, sizeof(b->addr)))
			b->accepted = -errno;
		else
			b->accepted = green_accept(b->l, NULL, NULL);
		if (b->accepted >= 0)
			close(b->accepted);
		close(c);
		break;
	default:
		break;
	}
}

struct dl_run {
	int64_t offset;		/* deadline relative to now */
	struct blocked b[OP_N];
	int setup_err;
};

static void timeout_main(void *arg)
{
	struct dl_run *d = arg;
	int i;

	for (i = 0; i < OP_N; i++) {
		struct blocked *b = &d->b[i];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			       b->sv)) {
			d->setup_err = -errno;
			return;
		}
		b->l = tcp_listener(4, &b->addr);
		if (i == OP_WRITE || i == OP_SEND)
			stuff(b, b->sv[0]);
		/* An offset <= 0 is a deadline in the past, 1 the epoch. */
		b->deadline = d->offset == 1 ? 1 : green_now() + d->offset;
		b->ret = do_op(b, i, b->deadline);
		b->returned_at = green_now();
		check_after(b, i);
		close(b->sv[0]);
		close(b->sv[1]);
		close(b->l);
	}
}

static void expect_timeouts(struct __test_metadata *_metadata,
			    struct dl_run *d)
{
	int i;

	ASSERT_EQ(0, d->setup_err);
	for (i = 0; i < OP_N; i++) {
		struct blocked *b = &d->b[i];

		EXPECT_EQ(-ETIMEDOUT, b->ret) TH_LOG("%s", op_name[i]);
		/* Never before the deadline; late by a generous bound. */
		EXPECT_GE(b->returned_at, b->deadline) TH_LOG("%s", op_name[i]);
		if (d->offset > 1) {	/* 1 is the epoch */
			EXPECT_LT(b->returned_at, b->deadline + 2 * SEC)
				TH_LOG("%s", op_name[i]);
		}
		switch (i) {
		case OP_READ:
		case OP_RECV:
		case OP_POLL:
			EXPECT_EQ(100, b->late_read) TH_LOG("%s", op_name[i]);
			EXPECT_EQ(0, (long)b->late_bad)
				TH_LOG("%s", op_name[i]);
			break;
		case OP_WRITE:
		case OP_SEND:
			EXPECT_GT((long)b->wseq, 0);
			EXPECT_EQ((ssize_t)b->wseq, b->drained)
				TH_LOG("%s", op_name[i]);
			EXPECT_EQ(0, (long)b->drain_bad)
				TH_LOG("%s", op_name[i]);
			break;
		case OP_ACCEPT:
			EXPECT_GE(b->accepted, 0);
			break;
		}
	}
}

TEST_F(deadline, past)
{
	struct dl_run d = { .offset = -1000 };

	IO_RUN(timeout_main, &d);
	expect_timeouts(_metadata, &d);
}

TEST_F(deadline, epoch)
{
	struct dl_run d = { .offset = 1 };

	IO_RUN(timeout_main, &d);
	expect_timeouts(_metadata, &d);
}

TEST_F(deadline, near_future)
{
	struct dl_run d = { .offset = 20 * MSEC };

	IO_RUN(timeout_main, &d);
	expect_timeouts(_metadata, &d);
}

/*
 * A past deadline with the data already there: either the data or
 * -ETIMEDOUT, and then the data is still there for the next read.
 */
struct ready {
	ssize_t first, second;
	size_t bad;
};

static void ready_main(void *arg)
{
	struct ready *r = arg;
	uint8_t buf[64];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		r->first = -1000;
		return;
	}
	pat_fill(buf, 10, 9, 0);
	green_write(sv[1], buf, 10);
	memset(buf, 0, sizeof(buf));
	r->first = green_read_until(sv[0], buf, sizeof(buf), green_now() - 1);
	if (r->first == -ETIMEDOUT)
		r->second = green_read(sv[0], buf, sizeof(buf));
	else
		r->second = r->first;
	r->bad = pat_bad(buf, 10, 9, 0);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(deadline, past_with_data_ready)
{
	struct ready r = { 0 };

	IO_RUN(ready_main, &r);
	EXPECT_TRUE(r.first == 10 || r.first == -ETIMEDOUT)
		TH_LOG("%zd", r.first);
	EXPECT_EQ(10, r.second);
	EXPECT_EQ(0, (long)r.bad);
}

/* connect_until while the listener's queue is full: SYNs are dropped. */
struct conn_dl {
	int64_t ret, deadline, returned_at;
	int setup_err;
};

static void connect_main(void *arg)
{
	struct conn_dl *c = arg;
	struct sockaddr_in a;
	int l, first, second;

	l = tcp_listener(0, &a);
	first = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	second = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || first < 0 || second < 0 ||
	    green_connect(first, (struct sockaddr *)&a, sizeof(a))) {
		c->setup_err = -1;
		return;
	}
	c->deadline = green_now() + 30 * MSEC;
	c->ret = green_connect_until(second, (struct sockaddr *)&a, sizeof(a),
				     c->deadline);
	c->returned_at = green_now();
	close(first);
	close(second);
	close(l);
}

TEST_F(deadline, connect)
{
	struct conn_dl c = { 0 };

	IO_RUN(connect_main, &c);
	ASSERT_EQ(0, c.setup_err);
	EXPECT_EQ(-ETIMEDOUT, c.ret);
	EXPECT_GE(c.returned_at, c.deadline);
	EXPECT_LT(c.returned_at, c.deadline + 2 * SEC);
}

/* ---- green_deadline_set: per task ---- */

struct task_dl {
	int sv[2], sv2[2];
	int64_t set_prev, set_prev2, got, dl;
	int64_t read_ret, sleep_ret, call_earlier, call_later;
	int64_t read_at, sleep_at;
	ssize_t after_clear;	/* deadline cleared: the read waits */
	size_t bad;
	ssize_t other;		/* a task without a deadline */
	int64_t other_at;
	int go;			/* the late writer may write */
	int64_t go_at;
	green_wg_t wg;
};

static void no_deadline_task(void *arg)
{
	struct task_dl *t = arg;
	char buf[8];

	t->other = green_read(t->sv2[0], buf, sizeof(buf));
	t->other_at = green_now();
	green_wg_done(&t->wg);
}

static void late_writer(void *arg)
{
	struct task_dl *t = arg;
	uint8_t buf[50];

	wait_flag(&t->go, 10 * SEC);
	green_sleep(20 * MSEC);
	pat_fill(buf, sizeof(buf), 3, 0);
	green_write(t->sv[1], buf, sizeof(buf));
	green_write(t->sv2[1], "x", 1);
	green_wg_done(&t->wg);
}

static void task_dl_main(void *arg)
{
	struct task_dl *t = arg;
	uint8_t buf[64];
	int64_t e;

	green_wg_add(&t->wg, 2);
	green_go(no_deadline_task, t);
	green_go(late_writer, t);
	t->dl = green_now() + 30 * MSEC;
	t->set_prev = green_deadline_set(t->dl);
	t->got = green_deadline();
	t->read_ret = green_read(t->sv[0], buf, sizeof(buf));
	t->read_at = green_now();
	t->sleep_ret = green_sleep(SEC);
	t->sleep_at = green_now();
	/* The earlier of a call's deadline and the task's wins. */
	e = green_now();
	green_deadline_set(e + 10 * SEC);
	t->call_earlier = green_read_until(t->sv[0], buf, sizeof(buf),
					   e + 10 * MSEC) == -ETIMEDOUT &&
			  green_now() < e + 5 * SEC;
	e = green_now();
	green_deadline_set(e + 10 * MSEC);
	t->call_later = green_read_until(t->sv[0], buf, sizeof(buf),
					 e + 10 * SEC) == -ETIMEDOUT &&
			green_now() < e + 5 * SEC;
	t->set_prev2 = green_deadline_set(0);
	t->go_at = green_now();
	set_flag(&t->go);
	/* No deadline now: this read waits for the late writer. */
	memset(buf, 0, sizeof(buf));
	t->after_clear = read_full(t->sv[0], buf, 50);
	t->bad = pat_bad(buf, 50, 3, 0);
	green_wg_wait(&t->wg);
}

TEST_F(deadline, task_deadline)
{
	struct task_dl t = { .wg = GREEN_WG_INIT };

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				t.sv));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				t.sv2));
	IO_RUN(task_dl_main, &t);
	EXPECT_EQ(0, t.set_prev);
	EXPECT_EQ(t.dl, t.got);
	EXPECT_EQ(-ETIMEDOUT, t.read_ret);
	EXPECT_GE(t.read_at, t.dl);
	/* The deadline has passed: the sleep ends at once. */
	EXPECT_EQ(-ETIMEDOUT, t.sleep_ret);
	EXPECT_LT(t.sleep_at, t.dl + SEC / 2);
	EXPECT_TRUE(t.call_earlier);
	EXPECT_TRUE(t.call_later);
	EXPECT_GT(t.set_prev2, 0);
	EXPECT_EQ(50, t.after_clear);
	EXPECT_EQ(0, (long)t.bad);
	/* The other task had no deadline: it got its byte, late. */
	EXPECT_EQ(1, t.other);
	EXPECT_GE(t.other_at, t.go_at + 20 * MSEC);
	close(t.sv[0]);
	close(t.sv[1]);
	close(t.sv2[0]);
	close(t.sv2[1]);
}

/* ---- tiny deadlines racing the data ---- */

/*
 * Per pair: a writer sends a pattern stream in small pieces at random
 * moments; a reader reads it with deadlines of a few microseconds, so
 * that the timer and the data arrive at about the same time. Each read
 * returns once, with data or -ETIMEDOUT; a timed-out read takes nothing,
 * so the stream arrives whole and in order.
 */
struct racer {
	int fd[2];
	uint64_t seed;
	size_t total;
	size_t got, bad;
	long calls, returns, timeouts, datas, others;
	int64_t other_err;
	int oneshot;		/* one task per read */
	green_wg_t *wg;
};

static void race_writer(void *arg)
{
	struct racer *r = arg;
	uint64_t s = r->seed * 3 + 11;
	uint8_t buf[64];
	size_t off = 0, n;

	while (off < r->total) {
		n = rnd_size(&s, sizeof(buf));
		if (n > r->total - off)
			n = r->total - off;
		pat_fill(buf, n, r->seed, off);
		if (write_all(r->fd[1], buf, n, NULL) != (ssize_t)n)
			break;
		off += n;
		switch (rnd(&s) % 4) {
		case 0:
			green_yield();
			break;
		case 1:
			green_sleep(rnd(&s) % 30000);
			break;
		}
	}
	green_wg_done(r->wg);
}

/* One read with a tiny deadline; record what came. */
static void race_read_once(struct racer *r, uint64_t *s)
{
	uint8_t buf[256];
	int64_t dl = green_now() + rnd(s) % 20000;
	ssize_t n;

	__atomic_fetch_add(&r->calls, 1, __ATOMIC_RELAXED);
	n = green_read_until(r->fd[0], buf, sizeof(buf), dl);
	__atomic_fetch_add(&r->returns, 1, __ATOMIC_RELAXED);
	if (n == -ETIMEDOUT) {
		r->timeouts++;
	} else if (n > 0) {
		r->datas++;
		if (r->got + n > r->total) {
			r->bad += r->got + n - r->total;
			n = r->total - r->got;
		}
		r->bad += pat_bad(buf, n, r->seed, r->got);
		r->got += n;
	} else {
		r->others++;
		r->other_err = n;
	}
}

struct oneshot {
	struct racer *r;
	uint64_t *s;
	green_wg_t wg;
};

static void race_oneshot(void *arg)
{
	struct oneshot *o = arg;

	race_read_once(o->r, o->s);
	green_wg_done(&o->wg);
}

static void race_reader(void *arg)
{
	struct racer *r = arg;
	uint64_t s = r->seed * 5 + 17;

	while (r->got < r->total && !r->others) {
		if (r->oneshot) {
			/* A task of its own that exits at once. */
			struct oneshot o = { r, &s, GREEN_WG_INIT };

			green_wg_add(&o.wg, 1);
			if (green_go(race_oneshot, &o)) {
				r->others++;
				green_wg_done(&o.wg);
			}
			green_wg_wait(&o.wg);
		} else {
			race_read_once(r, &s);
		}
	}
	green_wg_done(r->wg);
}

struct race_run {
	long n;
	int oneshot;
	struct racer *r;
	green_wg_t wg;
};

static void race_main(void *arg)
{
	struct race_run *rr = arg;
	long i;

	for (i = 0; i < rr->n; i++) {
		green_wg_add(&rr->wg, 2);
		green_go(race_reader, &rr->r[i]);
		green_go(race_writer, &rr->r[i]);
	}
	green_wg_wait(&rr->wg);
}

static void race_test(struct __test_metadata *_metadata,
		      struct race_run *rr)
{
	long i, timeouts = 0, datas = 0;

	for (i = 0; i < rr->n; i++) {
		struct racer *r = &rr->r[i];

		EXPECT_EQ(r->calls, r->returns);
		EXPECT_EQ(r->calls, r->timeouts + r->datas + r->others);
		EXPECT_EQ(0, r->others) TH_LOG("pair %ld: %ld", i,
					       (long)r->other_err);
		EXPECT_EQ(r->total, r->got) TH_LOG("pair %ld", i);
		EXPECT_EQ(0, (long)r->bad) TH_LOG("pair %ld", i);
		timeouts += r->timeouts;
		datas += r->datas;
		close(r->fd[0]);
		close(r->fd[1]);
	}
	/* Both outcomes must have happened for the test to mean much. */
	EXPECT_GT(timeouts, 0);
	EXPECT_GT(datas, 0);
	TH_LOG("%ld pairs: %ld reads with data, %ld timed out", rr->n,
	       datas, timeouts);
	free(rr->r);
}

static void race_setup(struct __test_metadata *_metadata,
		       struct race_run *rr, long n, size_t total, int oneshot)
{
	long i;

	rr->n = n;
	rr->oneshot = oneshot;
	rr->r = calloc(n, sizeof(*rr->r));
	ASSERT_NE(NULL, rr->r);
	green_wg_init(&rr->wg);
	for (i = 0; i < n; i++) {
		struct racer *r = &rr->r[i];

		/* Half socketpairs, half pipes. */
		if (i % 2) {
			ASSERT_EQ(0, pipe2(r->fd, O_CLOEXEC));
		} else {
			ASSERT_EQ(0, socketpair(AF_UNIX,
						SOCK_STREAM | SOCK_CLOEXEC, 0,
						r->fd));
		}
		r->seed = i + 1;
		r->total = total;
		r->oneshot = oneshot;
		r->wg = &rr->wg;
	}
}

TEST_F(deadline, tiny_deadlines_race_data)
{
	struct race_run rr;

	race_setup(_metadata, &rr, scaled(100, 10), scaled(16 * 1024, 2048),
		   0);
	IO_RUN(race_main, &rr);
	race_test(_metadata, &rr);
}

TEST_F(deadline, short_lived_tasks_race_completions)
{
	struct race_run rr;

	race_setup(_metadata, &rr, scaled(50, 10), scaled(16 * 1024, 2048),
		   1);
	IO_RUN(race_main, &rr);
	race_test(_metadata, &rr);
}

TEST_HARNESS_MAIN
