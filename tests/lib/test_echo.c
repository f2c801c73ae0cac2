// SPDX-License-Identifier: MIT
/*
 * test_echo.c - 10,000 concurrent loopback TCP echo connections, on every
 * poller: a task per server connection and a task per client, all
 * connected at once before any data moves, messages of random sizes up to
 * 64 KiB read and written in random pieces so that short reads and writes
 * happen, and every byte checked.
 */
#include "kselftest_harness.h"
#include "test_io_util.h"

IO_FIXTURE(echo);

#define MSG_MAX (64 * 1024)

struct echo_run {
	long n;			/* connections */
	int msgs;		/* messages per connection */
	int l;			/* listener */
	struct sockaddr_in addr;
	green_wg_t servers, clients, connected;
	green_wg_t gate;	/* opens once every client is connected */
	long accepted;
	/* Results, summed atomically. */
	long connect_err, accept_err, server_err, client_err;
	int64_t first_err;
	int64_t connected_at;	/* when the last client connected */
	long bad, bytes, short_reads, short_writes, done;
};

static void note_err(struct echo_run *e, long *counter, int64_t err)
{
	int64_t zero = 0;

	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	__atomic_compare_exchange_n(&e->first_err, &zero, err, false,
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

struct server {
	struct echo_run *e;
	int fd;
	uint64_t seed;
};

/* Echo what comes, in pieces of random size, until EOF. */
static void server_task(void *arg)
{
	struct server *sv = arg;
	struct echo_run *e = sv->e;
	uint64_t s = sv->seed;
	uint8_t *buf = malloc(MSG_MAX);
	long shorts = 0, partial = 0;
	ssize_t r;
	size_t n;

	while (buf) {
		n = rnd_size(&s, MSG_MAX);
		r = green_read(sv->fd, buf, n);
		if (r <= 0) {
			if (r < 0)
				note_err(e, &e->server_err, r);
			break;
		}
		if ((size_t)r < n)
			shorts++;
		r = write_all(sv->fd, buf, r, &partial);
		if (r < 0) {
			note_err(e, &e->server_err, r);
			break;
		}
	}
	if (!buf)
		note_err(e, &e->server_err, -ENOMEM);
	__atomic_fetch_add(&e->short_reads, shorts, __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->short_writes, partial, __ATOMIC_RELAXED);
	green_close(sv->fd);
	free(buf);
	free(sv);
	green_wg_done(&e->servers);
}

static void acceptor(void *arg)
{
	struct echo_run *e = arg;
	int64_t give_up = green_now() + 60 * SEC;	/* not a hang */
	struct server *sv;
	long i;
	int fd;

	for (i = 0; i < e->n; i++) {
		fd = green_accept_until(e->l, NULL, NULL, give_up);
		if (fd < 0) {
			note_err(e, &e->accept_err, fd);
			continue;
		}
		sv = malloc(sizeof(*sv));
		if (!sv) {
			note_err(e, &e->accept_err, -ENOMEM);
			close(fd);
			continue;
		}
		sv->e = e;
		sv->fd = fd;
		sv->seed = 0x5eed + i;
		e->accepted++;
		green_wg_add(&e->servers, 1);
		if (green_go(server_task, sv)) {
			note_err(e, &e->accept_err, -ENOMEM);
			green_close(fd);
			free(sv);
			green_wg_done(&e->servers);
		}
	}
	green_wg_done(&e->servers);
}

struct client {
	struct echo_run *e;
	long id;
};

/*
 * Connect, wait until every client is connected, then send each message
 * in random pieces and read the echo back in random pieces, checking
 * every byte.
 */
static void client_task(void *arg)
{
	struct client *c = arg;
	struct echo_run *e = c->e;
	uint64_t s = c->id * 2654435761u + 1, off = 0;
	uint8_t *out = malloc(MSG_MAX), *in = malloc(MSG_MAX);
	long bad = 0, shorts = 0, partial = 0;
	size_t len, done, n;
	ssize_t r;
	int fd, m, connected = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || !out || !in) {
		note_err(e, &e->connect_err, fd < 0 ? -errno : -ENOMEM);
		goto out;
	}
	r = green_connect(fd, (struct sockaddr *)&e->addr, sizeof(e->addr));
	if (r) {
		note_err(e, &e->connect_err, r);
		goto out;
	}
	connected = 1;
	green_wg_done(&e->connected);
	green_wg_wait(&e->gate);
	for (m = 0; m < e->msgs; m++) {
		/* One in eight up to 64 KiB, the rest up to 4 KiB. */
		len = rnd_size(&s, rnd(&s) % 8 ? MSG_MAX / 16 : MSG_MAX);
		pat_fill(out, len, c->id, off);
		for (done = 0; done < len; done += r) {
			n = rnd_size(&s, len - done);
			r = write_all(fd, out + done, n, &partial);
			if (r < 0)
				goto io_err;
		}
		for (done = 0; done < len; done += r) {
			n = rnd_size(&s, len - done);
			r = green_read(fd, in + done, n);
			if (r <= 0) {
				r = r ? r : -EPIPE;
				goto io_err;
			}
			if ((size_t)r < n)
				shorts++;
		}
		bad += pat_bad(in, len, c->id, off);
		off += len;
	}
	__atomic_fetch_add(&e->done, 1, __ATOMIC_RELAXED);
	goto out;
io_err:
	note_err(e, &e->client_err, r);
out:
	if (!connected)
		green_wg_done(&e->connected);
	__atomic_fetch_add(&e->bad, bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->bytes, off, __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->short_reads, shorts, __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->short_writes, partial, __ATOMIC_RELAXED);
	if (fd >= 0)
		green_close(fd);
	free(out);
	free(in);
	green_wg_done(&e->clients);
}

static void echo_main(void *arg)
{
	struct echo_run *e = arg;
	struct client *c = calloc(e->n, sizeof(*c));
	long i;

	if (!c) {
		note_err(e, &e->connect_err, -ENOMEM);
		return;
	}
	green_wg_add(&e->gate, 1);
	green_wg_add(&e->servers, 1);
	green_go(acceptor, e);
	for (i = 0; i < e->n; i++) {
		c[i].e = e;
		c[i].id = i;
		green_wg_add(&e->clients, 1);
		green_wg_add(&e->connected, 1);
		if (green_go(client_task, &c[i])) {
			note_err(e, &e->connect_err, -ENOMEM);
			green_wg_done(&e->clients);
			green_wg_done(&e->connected);
		}
	}
	/* Every connection is open at once before any data moves. */
	green_wg_wait(&e->connected);
	e->connected_at = mono_ns();
	green_wg_done(&e->gate);
	green_wg_wait(&e->clients);
	green_wg_wait(&e->servers);
	free(c);
}

/*
 * Two fds a connection: raise the soft RLIMIT_NOFILE to the hard one and
 * return how many connections fit, at most @want.
 */
static long fit_connections(long want)
{
	struct rlimit rl;
	long fit;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		return want;
	fit = ((long)rl.rlim_cur - 64) / 2;
	return fit < want ? fit : want;
}

TEST_F_TIMEOUT(echo, ten_thousand_connections, 120)
{
	struct echo_run e = {
		.servers = GREEN_WG_INIT, .clients = GREEN_WG_INIT,
		.connected = GREEN_WG_INIT, .gate = GREEN_WG_INIT,
	};
	long want = scaled(10000, 200);
	int64_t t0;

	e.n = fit_connections(want);
	if (e.n < 200)
		SKIP(return, "RLIMIT_NOFILE allows only %ld connections", e.n);
	if (e.n < want)
		TH_LOG("RLIMIT_NOFILE: %ld connections instead of %ld",
		       e.n, want);
	e.msgs = 2;
	e.l = tcp_listener(e.n < 4096 ? e.n : 4096, &e.addr);
	ASSERT_GE(e.l, 0);
	t0 = mono_ns();
	IO_RUN(echo_main, &e);
	TH_LOG("%ld connections in %.2f s; %ld bytes echoed, %ld short reads, %ld short writes, in %.2f s",
	       e.n, (e.connected_at - t0) / 1e9, e.bytes, e.short_reads,
	       e.short_writes, (mono_ns() - e.connected_at) / 1e9);
	EXPECT_EQ(0, e.connect_err) TH_LOG("first error %ld",
					   (long)e.first_err);
	EXPECT_EQ(0, e.accept_err) TH_LOG("first error %ld",
					  (long)e.first_err);
	EXPECT_EQ(0, e.server_err) TH_LOG("first error %ld",
					  (long)e.first_err);
	EXPECT_EQ(0, e.client_err) TH_LOG("first error %ld",
					  (long)e.first_err);
	EXPECT_EQ(e.n, e.accepted);
	EXPECT_EQ(e.n, e.done);
	EXPECT_EQ(0, e.bad);
	EXPECT_GT(e.short_reads, 0);
	close(e.l);
}

TEST_HARNESS_MAIN
