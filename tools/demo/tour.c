// SPDX-License-Identifier: MIT
/*
 * tour.c - `demo tour` (what `make demo` runs): the service started in
 * this process, each endpoint called by client tasks of the same
 * scheduler, and what happened told in plain words. Checks what it
 * shows: exits 1 if something did not behave as told.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "client.h"
#include "demo.h"
#include "handlers.h"
#include "http.h"
#include "json.h"
#include "metrics.h"

#define HEADER_TIMEOUT_MS 500
#define CALL_NS (5000 * MS)	/* a deadline for each call */

struct tour {
	struct server srv;
	struct sockaddr_in sa;
	int64_t t0;
	int failures;
	int max_conns;		/* client connections at once (fds) */
	uint64_t peak_tasks;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void title(int n, const char *text)
{
	printf("\n%d. %s\n", n, text);
}

static void check(struct tour *t, bool ok, const char *what)
{
	if (ok)
		return;
	t->failures++;
	printf("   !! not as expected: %s\n", what);
}

static double num(const struct hc_resp *r, const char *key)
{
	double v = -1;

	if (r->body.p) {
		buf_cstr((struct buf *)&r->body);
		json_get_num(r->body.p, key, &v);
	}
	return v;
}

/* One request on a connection of its own. */
static int call(struct tour *t, const char *path, struct hc_resp *r)
{
	struct hc c;
	int ret;

	ret = hc_dial(&c, &t->sa, green_now() + CALL_NS);
	if (ret) {
		memset(r, 0, sizeof(*r));
		return ret;
	}
	ret = hc_get(&c, path, r, green_now() + CALL_NS);
	hc_close(&c);
	return ret;
}

/* Many clients at once, a task each: the same request, results kept. */
struct crowd;

struct member {
	struct crowd *crowd;
	int status;
	int proc;		/* "proc" of the answer */
	uint64_t task;		/* "task" of the answer */
	int64_t ns;
};

struct crowd {
	struct tour *t;
	const char *path;
	int n;
	green_wg_t wg;
	struct member *m;
};

static void member_task(void *arg)
{
	struct member *m = arg;
	struct hc_resp r;

	if (call(m->crowd->t, m->crowd->path, &r) == 0) {
		m->status = r.status;
		m->proc = (int)num(&r, "proc");
		m->task = (uint64_t)num(&r, "task");
		m->ns = r.ns;
	}
	hc_resp_free(&r);
	green_wg_done(&m->crowd->wg);
}

static int crowd_start(struct crowd *cr, struct tour *t, const char *path,
		       int n)
{
	int i;

	cr->t = t;
	cr->path = path;
	cr->n = n;
	green_wg_init(&cr->wg);
	cr->m = calloc(n, sizeof(*cr->m));
	if (!cr->m)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		cr->m[i].crowd = cr;
		green_wg_add(&cr->wg, 1);
		if (green_go(member_task, &cr->m[i])) {
			green_wg_done(&cr->wg);
			cr->n = i;
			break;
		}
	}
	return 0;
}

static int crowd_count(const struct crowd *cr, int status)
{
	int i, k = 0;

	for (i = 0; i < cr->n; i++)
		k += cr->m[i].status == status;
	return k;
}

static void crowd_end(struct crowd *cr)
{
	free(cr->m);
	cr->m = NULL;
}

static void stats_now(struct tour *t, double *tasks, double *rss_kb,
		      double *workers)
{
	struct hc_resp r;

	*tasks = *rss_kb = *workers = -1;
	if (call(t, "/stats", &r) == 0) {
		*tasks = num(&r, "tasks_live");
		*rss_kb = num(&r, "rss_kb");
		*workers = num(&r, "workers");
		if (*tasks > t->peak_tasks)
			t->peak_tasks = *tasks;
	}
	hc_resp_free(&r);
}

static void step_hello(struct tour *t)
{
	struct hc_resp r;
	int ret;

	title(1, "GET /: one request, one task");
	ret = call(t, "/", &r);
	check(t, !ret && r.status == 200, "GET / answers 200");
	say("   client task %llu on P%d  ->  server task %.0f on P%.0f, %.2f ms\n",
	    (unsigned long long)green_self_id(), green_proc_id(),
	    num(&r, "task"), num(&r, "proc"), r.ns / 1e6);
	say("   answer: %s", ret ? "(none)\n" : buf_cstr(&r.body));
	say("   The acceptor task took the connection and started a task for it\n"
	    "   (green_go; Go: `go c.serve()`). That task parked in green_recv\n"
	    "   until the request came: a parked task holds no thread.\n");
	hc_resp_free(&r);
}

static void step_keepalive(struct tour *t)
{
	static const char pipelined[] =
		"GET / HTTP/1.1\r\nHost: demo\r\n\r\n"
		"GET /ratelimit HTTP/1.1\r\nHost: demo\r\n\r\n"
		"GET /nope HTTP/1.1\r\nHost: demo\r\n\r\n";
	struct hc_resp r;
	struct hc c;
	double task[3];
	int i, st[3] = { 0 };

	title(2, "Keep-alive and pipelining: one connection, many requests");
	if (hc_dial(&c, &t->sa, green_now() + CALL_NS)) {
		check(t, false, "connect");
		return;
	}
	for (i = 0; i < 3; i++) {
		hc_get(&c, "/", &r, green_now() + CALL_NS);
		task[i] = num(&r, "task");
		st[i] = r.status;
		hc_resp_free(&r);
	}
	say("   3 requests one after the other: answered by server task %.0f,\n"
	    "   %.0f and %.0f (one task per connection, not per request)\n",
	    task[0], task[1], task[2]);
	check(t, st[0] == 200 && task[0] == task[1] && task[1] == task[2],
	      "one task serves a keep-alive connection");
	hc_send_raw(&c, pipelined, sizeof(pipelined) - 1,
		    green_now() + CALL_NS);
	for (i = 0; i < 3; i++) {
		hc_recv(&c, &r, green_now() + CALL_NS);
		st[i] = r.status;
		hc_resp_free(&r);
	}
	hc_close(&c);
	say("   3 requests in ONE write (pipelining): /, /ratelimit, /nope\n"
	    "   -> %d, %d, %d, in order: the parser stops after each request\n"
	    "   and the rest of the buffer waits for its turn.\n",
	    st[0], st[1], st[2]);
	check(t, st[0] == 200 && (st[1] == 200 || st[1] == 429) &&
	      st[2] == 404, "pipelined answers in order");
}

static void step_crowd(struct tour *t)
{
	struct green_stats st = { .size = sizeof(st) };
	struct crowd cr;
	int64_t t0 = green_now();
	int on[2] = { 0, 0 }, i, n = 200;

	title(3, "200 clients at once: concurrency");
	if (n > t->max_conns)
		n = t->max_conns;
	if (crowd_start(&cr, t, "/", n))
		return;
	green_wg_wait(&cr.wg);
	for (i = 0; i < cr.n; i++)
		if (cr.m[i].proc >= 0)
			on[cr.m[i].proc > 0]++;
	green_stats(&st, NULL, 0);
	say("   %d client tasks connected at once; %d answers in %.1f ms.\n",
	    cr.n, crowd_count(&cr, 200), (green_now() - t0) / 1e6);
	say("   Server tasks answered on P0: %d, on the other processor(s): %d\n"
	    "   (%u processors, %u worker threads). The acceptor queues each\n"
	    "   new task on its own processor; a processor that runs dry\n"
	    "   steals half of another's queue (Go's work stealing).\n",
	    on[0], on[1], st.nprocs, st.nworkers);
	check(t, crowd_count(&cr, 200) == cr.n, "every client answered");
	crowd_end(&cr);
}

static void step_sleep(struct tour *t)
{
	double before_rss, tasks, rss, workers, dummy;
	struct crowd cr;
	int64_t t0;
	int n = 1000;

	title(4, "/sleep: 1000 requests asleep at the same time");
	if (n > t->max_conns)
		n = t->max_conns;
	stats_now(t, &dummy, &before_rss, &dummy);
	t0 = green_now();
	if (crowd_start(&cr, t, "/sleep?ms=300", n))
		return;
	green_sleep(150 * MS);
	stats_now(t, &tasks, &rss, &workers);
	green_wg_wait(&cr.wg);
	say("   %d requests each sleeping 300 ms: all answered %.0f ms after\n"
	    "   the first client started, connecting included (they sleep at\n"
	    "   the same time: not %d x 300 ms).\n",
	    cr.n, (green_now() - t0) / 1e6, cr.n);
	say("   Half-way: %.0f tasks alive (a server task and a client task\n"
	    "   per request), still %.0f worker threads; memory +%.1f MB, about\n"
	    "   %.1f KB per request with both tasks and their buffers.\n",
	    tasks, workers, (rss - before_rss) / 1024,
	    (rss - before_rss) / (cr.n ? cr.n : 1));
	say("   green_sleep parks the task on its processor's timer heap (Go:\n"
	    "   time.Sleep): a sleeping task costs memory, not a thread.\n");
	check(t, crowd_count(&cr, 200) == cr.n, "every sleeper answered");
	check(t, tasks >= cr.n, "the sleepers are tasks, alive at once");
	crowd_end(&cr);
}

static void step_fanout(struct tour *t)
{
	struct hc_resp r;
	double fin, n;

	title(5, "/fanout?n=20&timeout_ms=50: fan-out, fan-in, deadline");
	call(t, "/fanout?n=20&timeout_ms=50", &r);
	fin = num(&r, "finished");
	n = num(&r, "n");
	say("   20 backend calls, each a task with a random latency of 0-100 ms,\n"
	    "   results collected from one channel until a 50 ms deadline:\n"
	    "   %.0f made it, %.0f were cancelled through the context; the\n"
	    "   request took %.1f ms, not the slowest call's time.\n",
	    fin, n - fin, num(&r, "elapsed_ms"));
	check(t, r.status == 200 && fin >= 0 && fin <= n &&
	      num(&r, "elapsed_ms") < 1000, "fan-out bounded by its deadline");
	hc_resp_free(&r);
}

static void step_pipeline(struct tour *t)
{
	struct hc_resp r;
	double sum;

	title(6, "/pipeline?n=1000: three stages joined by channels");
	call(t, "/pipeline?n=1000", &r);
	sum = num(&r, "sum_of_squares");
	say("   generate 1..1000 -> square -> sum, three tasks passing values\n"
	    "   through channels (capacity 16); closing a channel says \"no\n"
	    "   more\". Sum of squares: %.0f (expected 333833500), %.2f ms.\n",
	    sum, num(&r, "elapsed_ms"));
	check(t, r.status == 200 && sum == 333833500.0,
	      "the pipeline sums 1..1000 squared");
	hc_resp_free(&r);
}

static void step_pool(struct tour *t)
{
	struct hc_resp r;
	struct crowd cr;
	int ok, busy;

	title(7, "/pool: a bounded worker pool, and backpressure");
	call(t, "/pool?jobs=8&ms=10", &r);
	say("   8 jobs of 10 ms on 4 workers: %.1f ms (two rounds), answer:\n"
	    "   %s", num(&r, "elapsed_ms"), buf_cstr(&r.body));
	check(t, r.status == 200 && num(&r, "done") == 8, "8 jobs done");
	hc_resp_free(&r);
	if (crowd_start(&cr, t, "/pool?jobs=10&ms=50", 10))
		return;
	green_wg_wait(&cr.wg);
	ok = crowd_count(&cr, 200);
	busy = crowd_count(&cr, 503);
	say("   Then 10 clients at once, 10 jobs of 50 ms each: 100 jobs, but\n"
	    "   room for 4 running + 32 queued. %d got 200, %d got 503 with\n"
	    "   Retry-After: 1 at once instead of waiting in an ever longer\n"
	    "   queue (a full channel refuses: Go's select with default).\n",
	    ok, busy);
	check(t, ok >= 1 && busy >= 1 && ok + busy == 10,
	      "some accepted, some refused");
	crowd_end(&cr);
}

static void step_ratelimit(struct tour *t)
{
	struct hc_resp r;
	struct hc c;
	int i, ok = 0, limited = 0;

	title(8, "/ratelimit: a token bucket shared by every connection");
	if (hc_dial(&c, &t->sa, green_now() + CALL_NS))
		return;
	for (i = 0; i < 40; i++) {
		hc_get(&c, "/ratelimit", &r, green_now() + CALL_NS);
		ok += r.status == 200;
		limited += r.status == 429;
		hc_resp_free(&r);
	}
	hc_close(&c);
	say("   40 requests as fast as possible against 100/s with a burst of\n"
	    "   20: %d allowed, %d refused with 429. The bucket is a buffered\n"
	    "   channel of tokens that a ticker task refills.\n", ok,
	    limited);
	check(t, ok >= 1 && limited >= 1 && ok + limited == 40,
	      "the bucket lets the burst through and refuses the rest");
}

static void step_cancel(struct tour *t)
{
	uint64_t before = __atomic_load_n(&t->srv.client_gone,
					  __ATOMIC_RELAXED);
	int64_t left, seen = 0;
	struct hc c;

	title(9, "/cancel?ms=2000: work cancelled when the client leaves");
	if (hc_dial(&c, &t->sa, green_now() + CALL_NS))
		return;
	hc_send(&c, "GET", "/cancel?ms=2000", NULL, NULL, 0,
		green_now() + CALL_NS);
	green_sleep(100 * MS);
	hc_close(&c);
	left = green_now();
	while (green_now() - left < 1000 * MS) {
		if (__atomic_load_n(&t->srv.client_gone, __ATOMIC_RELAXED) >
		    before) {
			seen = green_now();
			break;
		}
		green_sleep(1 * MS);
	}
	say("   The client asked for 2 s of work and hung up after 100 ms. A\n"
	    "   watcher task parked in green_poll(POLLRDHUP) saw the close and\n"
	    "   cancelled the request's context; the work's next green_sleep\n"
	    "   returned -ECANCELED. Noticed %.2f ms after the hang-up.\n",
	    seen ? (seen - left) / 1e6 : -1.0);
	check(t, seen != 0, "the server notices the client left");
}

/* 408: half a header, then silence; another client is served meanwhile. */
static void slow_client(struct tour *t, int *status, double *other_ms,
			double *cut_ms)
{
	static const char half[] = "GET / HTTP/1.1\r\nHost: demo\r\n";
	struct hc_resp r, o;
	struct hc c;
	int64_t t0;

	*status = 0;
	if (hc_dial(&c, &t->sa, green_now() + CALL_NS))
		return;
	t0 = green_now();
	hc_send_raw(&c, half, sizeof(half) - 1, green_now() + CALL_NS);
	call(t, "/", &o);
	*other_ms = o.ns / 1e6;
	hc_resp_free(&o);
	hc_recv(&c, &r, green_now() + CALL_NS);
	*cut_ms = (green_now() - t0) / 1e6;
	*status = r.status;
	hc_resp_free(&r);
	hc_close(&c);
}

static int refused(struct tour *t, const char *raw, size_t len,
		   struct hc_resp *r)
{
	struct hc c;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = hc_dial(&c, &t->sa, green_now() + CALL_NS);
	if (ret)
		return ret;
	ret = hc_send_raw(&c, raw, len, green_now() + CALL_NS);
	if (!ret)
		ret = hc_recv(&c, r, green_now() + CALL_NS);
	hc_close(&c);
	return r->status;
}

static void step_errors(struct tour *t)
{
	static const char bad[] = "HELLO\r\n\r\n";
	static const char big_body[] =
		"POST /echo HTTP/1.1\r\nHost: demo\r\n"
		"Content-Length: 2000000\r\n\r\n";
	struct buf big = BUF_INIT;
	struct hc_resp r;
	double other_ms = -1, cut_ms = -1;
	int s404, s405, s431, s413, s400, s408, i;
	char allow[32];

	title(10, "What the server refuses");
	call(t, "/nope", &r);
	s404 = r.status;
	hc_resp_free(&r);
	buf_puts(&big, "POST / HTTP/1.1\r\nHost: demo\r\nContent-Length: 0\r\n\r\n");
	refused(t, big.p, big.len, &r);
	s405 = r.status;
	snprintf(allow, sizeof(allow), "%s", r.allow);
	hc_resp_free(&r);
	buf_reset(&big);
	buf_puts(&big, "GET / HTTP/1.1\r\nHost: demo\r\nX-Big: ");
	for (i = 0; i < 9000; i++)
		buf_putc(&big, 'a');
	buf_puts(&big, "\r\n\r\n");
	s431 = refused(t, big.p, big.len, &r);
	hc_resp_free(&r);
	buf_free(&big);
	s413 = refused(t, big_body, sizeof(big_body) - 1, &r);
	hc_resp_free(&r);
	s400 = refused(t, bad, sizeof(bad) - 1, &r);
	hc_resp_free(&r);
	slow_client(t, &s408, &other_ms, &cut_ms);
	say("   GET /nope -> %d; POST / -> %d (Allow: %s);\n"
	    "   a 9 KB header -> %d; a 2 MB body -> %d (refused from its\n"
	    "   Content-Length, before it is sent); \"HELLO\" -> %d.\n",
	    s404, s405, allow, s431, s413, s400);
	say("   A slow client sent half a header and stopped: %d after %.0f ms\n"
	    "   (the header deadline, %d ms here), while another client was\n"
	    "   served in %.2f ms: a stalled client holds only its own task.\n",
	    s408, cut_ms, HEADER_TIMEOUT_MS, other_ms);
	check(t, s404 == 404 && s405 == 405 && s431 == 431 && s413 == 413 &&
	      s400 == 400 && s408 == 408, "each refusal has its status");
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void step_stats(struct tour *t)
{
	struct green_proc_stats ps[8];
	struct green_stats st = { .size = sizeof(st) };
	struct hc_resp r;
	const char *p, *line;
	int n, i, shown = 0;

	title(11, "/stats and /metrics: the scheduler's state");
	n = green_stats(&st, ps, 8);
	say("   %u processors, %u worker threads, %llu tasks alive now, %llu\n"
	    "   spawned so far; idle workers park on %s; I/O: %s.\n",
	    st.nprocs, st.nworkers, (unsigned long long)st.tasks_live,
	    (unsigned long long)st.tasks_spawned, st.parker, st.poller);
	for (i = 0; i < n && i < 8; i++)
		say("   P%d: %llu task switches, stole %llu times (%llu tasks),\n"
		    "       %llu taken from the global queue\n",
		    i, (unsigned long long)ps[i].tasks_run,
		    (unsigned long long)ps[i].steals,
		    (unsigned long long)ps[i].stolen,
		    (unsigned long long)ps[i].global_gets);
	call(t, "/metrics", &r);
	say("   /metrics answers Prometheus text (%zu bytes), for example:\n",
	    r.body.len);
	p = buf_cstr(&r.body);
	while (p && *p && shown < 4) {
		line = p;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
		if (starts(line, "demo_requests_total{path=\"/\",code=\"200") ||
		    starts(line, "demo_requests_total{path=\"/pool\",code=\"503") ||
		    starts(line, "green_tasks_live ") ||
		    starts(line, "demo_request_duration_seconds_count{path=\"/\"")) {
			say("     %.*s", (int)(p - line), line);
			shown++;
		}
	}
	check(t, r.status == 200 && shown >= 3, "/metrics has the counters");
	hc_resp_free(&r);
}

struct inflight {
	struct tour *t;
	int status;
	bool close;
	int64_t ns;
	green_wg_t wg;
};

static void inflight_task(void *arg)
{
	struct inflight *f = arg;
	struct hc_resp r;

	if (call(f->t, "/sleep?ms=300", &r) == 0) {
		f->status = r.status;
		f->close = r.close;
		f->ns = r.ns;
	}
	hc_resp_free(&r);
	green_wg_done(&f->wg);
}

static void step_shutdown(struct tour *t)
{
	struct inflight f = { .t = t, .wg = GREEN_WG_INIT };
	struct hc_resp r;
	struct hc idle;
	int64_t t0;
	int forced, idle_ret = -1, idle_ok;

	title(12, "Graceful shutdown");
	idle_ok = hc_dial(&idle, &t->sa, green_now() + CALL_NS) == 0 &&
		  hc_get(&idle, "/", &r, green_now() + CALL_NS) == 0;
	if (idle_ok)
		hc_resp_free(&r);
	green_wg_add(&f.wg, 1);
	green_go(inflight_task, &f);
	green_sleep(50 * MS);
	t0 = green_now();
	forced = server_shutdown(&t->srv);
	green_wg_wait(&f.wg);
	if (idle_ok) {
		idle_ret = hc_recv(&idle, &r, green_now() + 1000 * MS);
		hc_resp_free(&r);
		hc_close(&idle);
	}
	say("   A /sleep?ms=300 request was in flight and another connection\n"
	    "   sat idle. Shutdown closed the listener and cancelled the idle\n"
	    "   wait (that connection was closed: %s); the request finished\n"
	    "   and got %d with Connection: %s after %.0f ms; the server\n"
	    "   stopped %.0f ms after shutdown began%s. `demo serve` does\n"
	    "   this on SIGINT/SIGTERM (read from a signalfd by a task).\n",
	    idle_ret == -EPIPE ? "yes" : "no", f.status,
	    f.close ? "close" : "keep-alive", f.ns / 1e6,
	    (green_now() - t0) / 1e6, forced ? " (forced)" : "");
	check(t, f.status == 200 && !forced && (!idle_ok || idle_ret == -EPIPE),
	      "in-flight request finished, idle connection closed");
}

static void tour_main(void *arg)
{
	struct tour *t = arg;
	struct server_config cfg;
	struct green_stats st = { .size = sizeof(st) };
	char host[INET_ADDRSTRLEN];

	server_config_default(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.quiet = true;
	cfg.header_timeout_ms = HEADER_TIMEOUT_MS;
	cfg.drain_ms = 3000;
	if (server_start(&t->srv, &cfg)) {
		t->failures++;
		return;
	}
	t->sa = t->srv.addr;
	inet_ntop(AF_INET, &t->sa.sin_addr, host, sizeof(host));
	green_stats(&st, NULL, 0);
	say("libgreen demo tour: Go's concurrency patterns as an HTTP service in C\n"
	    "\n"
	    "The service runs in this process on http://%s:%d with %u\n"
	    "processors (GREEN_PROCS; Go: GOMAXPROCS), I/O through %s, idle\n"
	    "worker threads parked on %s. Every connection is a task (Go: a\n"
	    "goroutine); the clients below are tasks of the same scheduler.\n",
	    host, ntohs(t->sa.sin_port), st.nprocs, st.poller, st.parker);
	step_hello(t);
	step_keepalive(t);
	step_crowd(t);
	step_sleep(t);
	step_fanout(t);
	step_pipeline(t);
	step_pool(t);
	step_ratelimit(t);
	step_cancel(t);
	step_errors(t);
	step_stats(t);
	step_shutdown(t);
}

/* Room for the crowds: raise the soft descriptor limit to the hard one. */
static int fd_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 200;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Two descriptors a request (both ends), and some to spare. */
	return rl.rlim_cur > 2100 ? 1000 : ((int)rl.rlim_cur - 100) / 2;
}

int cmd_tour(int argc, char **argv)
{
	struct tour t = { .max_conns = fd_budget() };
	int64_t t0 = green_now();
	int ret;

	ret = green_run(tour_main, &t);
	if (ret) {
		fprintf(stderr, "demo: green_run: %s\n", strerror(-ret));
		return 1;
	}
	printf("\nSummary: %llu requests on %llu connections in %.2f s; at most %llu\n"
	       "tasks alive at once. %s\n"
	       "Next: `demo patterns` lists console walk-throughs of each pattern;\n"
	       "`demo serve` runs the service; tools/demo/README.md explains each\n"
	       "endpoint next to its Go equivalent.\n",
	       (unsigned long long)t.srv.requests,
	       (unsigned long long)t.srv.conns_total,
	       (green_now() - t0) / 1e9, (unsigned long long)t.peak_tasks,
	       t.failures ? "Some steps did not behave as described (!! above)." :
	       "Every step behaved as described.");
	return t.failures ? 1 : 0;
}
