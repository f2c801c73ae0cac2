// SPDX-License-Identifier: MIT
/*
 * http.c - the HTTP/1.1 server of http.h, shaped like Go's net/http.
 *
 * Tasks. One acceptor task loops on green_accept() and starts one task per
 * connection (Go: `go c.serve(ctx)`). The connection task reads, parses and
 * answers its requests one after the other; a handler that needs more
 * tasks (fan-out, pipeline, pool) starts them itself. Every read and write
 * parks the task, not its worker thread, so ten thousand connections are
 * ten thousand parked tasks and a handful of threads.
 *
 * Reading. Bytes are read into a buffer on the task's stack and fed to the
 * parser (reqparse.c), which stops after each complete request. What
 * follows in the buffer is the next pipelined request: it is parsed only
 * after this one is answered, so answers go out in order. Answers to
 * pipelined requests are collected and sent with one write when the input
 * runs dry (or before a handler that waits, so nobody waits behind it).
 *
 * Deadlines (absolute, on green_now()), one per read:
 *   between requests    idle_timeout after the last answer, and the task
 *                       waits under the server's "idle" context, which
 *                       shutdown cancels: idle connections close at once
 *   inside a header     header_timeout after its first byte: a client
 *                       that trickles or stalls (slowloris) gets 408 and
 *                       is closed, holding nothing but its own task
 *   inside a body       body_timeout after the end of the header
 *   each answer         write_timeout
 *
 * Shutdown, as Go's Server.Shutdown: close the listener, cancel the idle
 * context (idle keep-alive connections end), let requests in flight
 * finish and answer them with "Connection: close", and poll until every
 * connection is gone. At the drain bound, cancel the "hard" context every
 * connection task runs under: blocking calls in handlers then return
 * -ECANCELED and the handlers answer 503 or give up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handlers.h"
#include "http.h"
#include "metrics.h"
#include "reqparse.h"

#define IN_BUF (16 * 1024)
#define FLUSH_AT (64 * 1024)	/* pipelined answers: send when this big */
#define LINGER_NS (500 * MS)	/* after an error, read what comes */
#define LINGER_BYTES (1024 * 1024)
#define LAST_WORDS_NS (1000 * MS)	/* a cancelled connection's answer */

struct conn {
	struct server *srv;
	int fd;
	uint64_t id;
	unsigned int seq;		/* requests answered */
	int64_t last_io;		/* the last read or answer */
	int64_t req_start;		/* the request's first byte, or 0 */
	int64_t hdr_done;		/* the end of its header, or 0 */
	bool continue_sent;		/* "100 Continue" for this request */
	struct buf out;			/* answers not yet sent */
	struct buf body;		/* the answer being built */
	struct reqparser rp;		/* last: the URL buffer is large */
};

void server_config_default(struct server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = "127.0.0.1:8080";
	cfg->header_timeout_ms = 5000;
	cfg->body_timeout_ms = 10000;
	cfg->idle_timeout_ms = 60000;
	cfg->write_timeout_ms = 10000;
	cfg->drain_ms = 5000;
	cfg->backlog = 4096;
}

static void inc(uint64_t *v)
{
	__atomic_fetch_add(v, 1, __ATOMIC_RELAXED);
}

static void dec(uint64_t *v)
{
	__atomic_fetch_sub(v, 1, __ATOMIC_RELAXED);
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 499: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

void http_resp_header(struct http_resp *r, const char *name,
		      const char *value)
{
	size_t len = strlen(r->headers);

	snprintf(r->headers + len, sizeof(r->headers) - len, "%s: %s\r\n",
		 name, value);
}

/* The Date header: formatted once a second per worker thread. */
static const char *http_date(void)
{
	static __thread time_t last;
	static __thread char date[40];
	time_t t = time(NULL);
	struct tm tm;

	if (t != last) {
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = t;
	}
	return date;
}

static void put_uint(struct buf *b, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	buf_put(b, tmp + i, sizeof(tmp) - i);
}

/* Status line, headers and body of @r into the connection's output. */
static void put_answer(struct conn *c, const struct http_resp *r,
		       bool head, bool last, bool keep_alive_10)
{
	struct buf *o = &c->out;

	buf_puts(o, "HTTP/1.1 ");
	put_uint(o, r->status);
	buf_putc(o, ' ');
	buf_puts(o, http_reason(r->status));
	buf_puts(o, "\r\nContent-Type: ");
	buf_puts(o, r->ctype ? r->ctype : "application/json");
	buf_puts(o, "\r\nContent-Length: ");
	put_uint(o, r->body->len);
	buf_puts(o, "\r\nDate: ");
	buf_puts(o, http_date());
	buf_puts(o, "\r\n");
	if (last)
		buf_puts(o, "Connection: close\r\n");
	else if (keep_alive_10)
		buf_puts(o, "Connection: keep-alive\r\n");
	buf_puts(o, r->headers);
	buf_puts(o, "\r\n");
	if (!head)
		buf_put(o, r->body->p, r->body->len);
}

/*
 * Send everything in c->out. 0, or -errno: the connection is done.
 *
 * At the drain bound the connection's context is cancelled, and with it
 * every blocking call of the task, sends included; but the handler's 503
 * should still reach the client. So a send under a cancelled context
 * runs detached from it, within a short deadline of its own.
 */
static int flush(struct conn *c)
{
	struct server *s = c->srv;
	int64_t deadline = green_now() + s->cfg.write_timeout_ms * MS;
	green_ctx_t *old = NULL;
	bool detached = false;
	size_t off = 0;
	ssize_t n = 0;

	if (c->out.oom) {
		buf_reset(&c->out);
		return -ENOMEM;
	}
	if (green_ctx_err(green_ctx_current())) {
		old = green_ctx_set(NULL);
		detached = true;
		deadline = green_now() + LAST_WORDS_NS;
	}
	/*
	 * Try the write first, as Go's netpoller does: a socket with room
	 * takes it at once, without a trip through the ring and a park.
	 * Only what does not fit waits (green_send_until parks the task).
	 */
	if (!detached) {
		n = send(c->fd, c->out.p, c->out.len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			off = n;
	}
	while (off < c->out.len) {
		n = green_send_until(c->fd, c->out.p + off, c->out.len - off,
				     0, deadline);
		if (n <= 0)
			break;
		off += n;
	}
	if (detached) {
		green_ctx_unref(green_ctx_set(old));
		green_ctx_unref(old);
	}
	if (off < c->out.len) {
		buf_reset(&c->out);
		return n ? (int)n : -EPIPE;
	}
	buf_reset(&c->out);
	c->last_io = green_now();
	return 0;
}

static void access_log(struct conn *c, const struct http_req *req,
		       const char *method, int status, int64_t ns)
{
	fprintf(stderr, "conn %llu #%u %s %s%s%s -> %d in %.3f ms (task %llu on P%d)\n",
		(unsigned long long)c->id, req->seq, method, req->path,
		*req->query ? "?" : "", req->query, status, ns / 1e6,
		(unsigned long long)green_self_id(), green_proc_id());
}

/*
 * Answer the request the parser completed. Returns true to go on with
 * the connection, false to close it.
 */
static bool answer(struct conn *c)
{
	struct server *s = c->srv;
	struct rp_request *rq = &c->rp.req;
	struct http_resp resp = { .status = 200, .body = &c->body };
	struct http_req req = {
		.srv = s, .fd = c->fd, .method = rq->method,
		.head = rq->method == HTTP_HEAD, .body_len = rq->body_len,
		.body_fnv = rq->body_fnv, .chunked = rq->chunked,
		.conn_id = c->id, .seq = ++c->seq, .start = green_now(),
	};
	char *q = strchr(rq->url, '?');
	bool last;
	int64_t ns;
	int ep;

	if (q)
		*q++ = '\0';
	req.path = rq->url;
	req.query = q ? q : "";
	ep = route_lookup(req.path);
	/* Answers queued for pipelined requests must not wait for this. */
	if (c->out.len && !route_fast(ep) && flush(c))
		return false;
	buf_reset(&c->body);
	inc(&s->requests);
	inc(&s->in_flight);
	route_serve(ep, &req, &resp);
	dec(&s->in_flight);
	ns = green_now() - req.start;
	if (c->body.oom) {
		buf_reset(&c->body);
		resp_error(&resp, 500, "out of memory");
	}
	if (resp.client_gone) {
		metrics_observe(ep, 499, ns);
		if (s->cfg.access_log)
			access_log(c, &req, http_method_str(rq->method),
				   499, ns);
		return false;
	}
	last = resp.close || !rq->keep_alive ||
		__atomic_load_n(&s->draining, __ATOMIC_RELAXED);
	put_answer(c, &resp, req.head, last,
		   rq->keep_alive && rq->minor == 0);
	metrics_observe(ep, resp.status, ns);
	if (s->cfg.access_log)
		access_log(c, &req, http_method_str(rq->method), resp.status,
			   ns);
	c->req_start = c->hdr_done = 0;
	c->continue_sent = false;
	if (last) {
		flush(c);
		return false;
	}
	if (c->out.len >= FLUSH_AT && flush(c))
		return false;
	return true;
}

/*
 * Lingering close: after an error answer, the client may still be
 * sending (a body we refused). Closing with unread data makes the kernel
 * reset the connection, and the client may lose our answer: stop
 * writing, read and drop for a moment, then close (Go does the same).
 */
static void linger(struct conn *c)
{
	int64_t deadline = green_now() + LINGER_NS;
	char tmp[4096];
	size_t total = 0;
	ssize_t n;

	shutdown(c->fd, SHUT_WR);
	while (total < LINGER_BYTES) {
		n = green_recv_until(c->fd, tmp, sizeof(tmp), 0, deadline);
		if (n <= 0)
			break;
		total += n;
	}
}

/* A request the parser refused: answer its status and close. */
static void refuse(struct conn *c, int status, const char *why)
{
	struct http_resp resp = { .status = status, .body = &c->body };

	buf_reset(&c->body);
	resp_error(&resp, status, why);
	put_answer(c, &resp, false, true, false);
	metrics_observe(EP_OTHER, status,
			c->req_start ? green_now() - c->req_start : 0);
	if (!flush(c))
		linger(c);
}

/* Read more of the stream, with the deadline of where we are in it. */
static ssize_t read_more(struct conn *c, char *in, size_t cap)
{
	struct server *s = c->srv;
	struct reqparser *rp = &c->rp;
	green_ctx_t *old;
	ssize_t n;

	if (rp->headers_done)
		return green_recv_until(c->fd, in, cap, 0, c->hdr_done +
					s->cfg.body_timeout_ms * MS);
	if (rp->started)
		return green_recv_until(c->fd, in, cap, 0, c->req_start +
					s->cfg.header_timeout_ms * MS);
	/* Between requests: shutdown may end this wait. */
	old = green_ctx_set(s->idle);
	n = green_recv_until(c->fd, in, cap, 0,
			     c->last_io + s->cfg.idle_timeout_ms * MS);
	green_ctx_unref(green_ctx_set(old));
	green_ctx_unref(old);
	return n;
}

/* A read ended without data: say why (if it matters) and close. */
static void read_ended(struct conn *c, ssize_t n)
{
	struct server *s = c->srv;
	struct reqparser *rp = &c->rp;

	if (n == -ETIMEDOUT && rp->started) {
		inc(&s->header_timeouts);
		if (!s->cfg.quiet)
			fprintf(stderr, "demo: conn %llu: request not complete after %d ms: 408, closed (slow client)\n",
				(unsigned long long)c->id, rp->headers_done ?
				s->cfg.body_timeout_ms :
				s->cfg.header_timeout_ms);
		refuse(c, 408, "request not received in time");
	} else if (n == -ETIMEDOUT) {
		inc(&s->idle_closed);
	} else if (n == -ECANCELED && !rp->started) {
		inc(&s->drained_at_shutdown);
	}
}

static void serve(struct conn *c)
{
	struct server *s = c->srv;
	struct reqparser *rp = &c->rp;
	char in[IN_BUF];
	size_t have = 0, off = 0, used;
	enum rp_event ev;
	ssize_t n;

	for (;;) {
		while (off < have) {
			ev = rp_feed(rp, in + off, have - off, &used);
			off += used;
			if (rp->started && !c->req_start)
				c->req_start = c->last_io;
			if (rp->headers_done && !c->hdr_done)
				c->hdr_done = c->last_io;
			if (ev == RP_ERROR) {
				refuse(c, rp->status, rp->error);
				return;
			}
			if (ev == RP_MORE)
				break;
			if (!answer(c))
				return;
			rp_next(rp);
		}
		have = off = 0;
		if (c->out.len && flush(c))
			return;
		if (!rp->started && __atomic_load_n(&s->draining,
						    __ATOMIC_RELAXED)) {
			inc(&s->drained_at_shutdown);
			return;
		}
		if (rp->headers_done && rp->req.expect_continue &&
		    !c->continue_sent) {
			buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
			c->continue_sent = true;
			if (flush(c))
				return;
		}
		n = read_more(c, in, sizeof(in));
		if (n <= 0) {
			read_ended(c, n);
			return;
		}
		c->last_io = green_now();
		have = n;
	}
}

struct conn_start {
	struct server *srv;
	int fd;
};

static void conn_task(void *arg)
{
	struct conn_start *cs = arg;
	struct server *s = cs->srv;
	struct conn *c;

	c = malloc(sizeof(*c));
	if (!c) {
		green_close(cs->fd);
		goto out;
	}
	c->srv = s;
	c->fd = cs->fd;
	c->id = __atomic_add_fetch(&s->conns_total, 1, __ATOMIC_RELAXED);
	c->seq = 0;
	c->last_io = green_now();
	c->req_start = c->hdr_done = 0;
	c->continue_sent = false;
	c->out = (struct buf)BUF_INIT;
	c->body = (struct buf)BUF_INIT;
	rp_init(&c->rp, RP_BODY_MAX);
	inc(&s->conns_open);
	serve(c);
	dec(&s->conns_open);
	green_close(c->fd);
	buf_free(&c->out);
	buf_free(&c->body);
	free(c);
out:
	free(cs);
	dec(&s->live);
}

static void acceptor(void *arg)
{
	struct server *s = arg;
	struct conn_start *cs;
	bool told = false;
	int fd, one = 1;

	for (;;) {
		fd = green_accept(s->lfd, NULL, NULL);
		if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED)) {
			if (fd >= 0)
				green_close(fd);
			break;
		}
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS ||
		    fd == -ENOMEM) {
			/* Out of descriptors: back off, as Go does. */
			if (!told && !s->cfg.quiet)
				fprintf(stderr, "demo: accept: %s; retrying (raise ulimit -n)\n",
					strerror(-fd));
			told = true;
			green_sleep(10 * MS);
			continue;
		}
		if (fd < 0)
			continue;	/* ECONNABORTED and the like */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		cs = malloc(sizeof(*cs));
		if (!cs) {
			green_close(fd);
			continue;
		}
		cs->srv = s;
		cs->fd = fd;
		inc(&s->live);
		if (green_go_ctx(s->hard, conn_task, cs)) {
			dec(&s->live);
			green_close(fd);
			free(cs);
		}
	}
	dec(&s->live);
}

/* "host:port", ":port" or "port"; IPv4 numbers or "localhost". */
static int parse_listen(const char *spec, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	size_t hlen = colon ? (size_t)(colon - spec) : 0;
	char *end;
	long port;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	port = strtol(colon ? colon + 1 : spec, &end, 10);
	if (*end || end == (colon ? colon + 1 : spec) || port < 0 ||
	    port > 65535 || hlen >= sizeof(host))
		return -EINVAL;
	sa->sin_port = htons(port);
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (!hlen || !strcmp(host, "0.0.0.0") || !strcmp(host, "*"))
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (!strcmp(host, "localhost"))
		sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static int listen_on(struct server *s)
{
	socklen_t len = sizeof(s->addr);
	int one = 1, ret;

	ret = parse_listen(s->cfg.listen, &s->addr);
	if (ret) {
		fprintf(stderr, "demo: --listen %s: want host:port (IPv4)\n",
			s->cfg.listen);
		return ret;
	}
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		goto fail;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&s->addr, sizeof(s->addr)) ||
	    listen(s->lfd, s->cfg.backlog) ||
	    getsockname(s->lfd, (struct sockaddr *)&s->addr, &len))
		goto fail_close;
	return 0;
fail_close:
	ret = -errno;
	close(s->lfd);
	fprintf(stderr, "demo: listen on %s: %s\n", s->cfg.listen,
		strerror(-ret));
	return ret;
fail:
	ret = -errno;
	fprintf(stderr, "demo: socket: %s\n", strerror(-ret));
	return ret;
}

int server_start(struct server *s, const struct server_config *cfg)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->started = green_now();
	rp_global_init();
	ret = listen_on(s);
	if (ret)
		return ret;
	ret = green_ctx_with_cancel(green_ctx_background(), &s->hard);
	if (ret)
		goto fail_listen;
	ret = green_ctx_with_cancel(s->hard, &s->idle);
	if (ret)
		goto fail_hard;
	ret = handlers_start(s);
	if (ret)
		goto fail_idle;
	inc(&s->live);
	ret = green_go(acceptor, s);
	if (ret) {
		dec(&s->live);
		goto fail_handlers;
	}
	return 0;
fail_handlers:
	handlers_stop(s);
fail_idle:
	green_ctx_free(s->idle);
fail_hard:
	green_ctx_free(s->hard);
fail_listen:
	close(s->lfd);
	return ret;
}

/* Whether every connection task (and the acceptor) has finished. */
static bool all_done(struct server *s)
{
	return __atomic_load_n(&s->live, __ATOMIC_ACQUIRE) == 0;
}

/*
 * Wait for the tasks until @deadline, polling as Go's Server.Shutdown
 * does: a waitgroup wait cannot be given up (there is no
 * green_wg_wait_until), and a poll every few milliseconds costs nothing
 * next to a drain.
 */
static bool wait_done(struct server *s, int64_t deadline)
{
	while (!all_done(s)) {
		if (green_now() >= deadline)
			return false;
		green_sleep(2 * MS);
	}
	return true;
}

void server_force(struct server *s)
{
	green_ctx_cancel(s->hard);
}

int server_shutdown(struct server *s)
{
	int forced = 0;

	__atomic_store_n(&s->draining, true, __ATOMIC_RELEASE);
	green_ctx_cancel(s->idle);	/* idle keep-alive waits end */
	green_close(s->lfd);		/* the acceptor's accept ends */
	if (!wait_done(s, green_now() + s->cfg.drain_ms * MS)) {
		forced = 1;
		if (!s->cfg.quiet)
			fprintf(stderr, "demo: %llu request(s) still running after %d ms: cancelling them\n",
				(unsigned long long)__atomic_load_n(
					&s->in_flight, __ATOMIC_RELAXED),
				s->cfg.drain_ms);
		green_ctx_cancel(s->hard);
		wait_done(s, green_now() + 2000 * MS);
	}
	if (green_ctx_err(s->hard))
		forced = 1;	/* at the bound, or server_force() */
	handlers_stop(s);
	green_ctx_free(s->idle);
	green_ctx_free(s->hard);
	return forced;
}
