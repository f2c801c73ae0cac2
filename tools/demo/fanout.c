// SPDX-License-Identifier: MIT
/*
 * fanout.c - fan-out/fan-in with a deadline, and GET /fanout.
 *
 * The Go shape:
 *
 *	ctx, cancel := context.WithTimeout(ctx, timeout)
 *	defer cancel()
 *	results := make(chan result, n) // late senders never block
 *	for i := 0; i < n; i++ {
 *		go func(i int) { results <- call(ctx, i) }(i)
 *	}
 *	for got := 0; got < n; got++ {
 *		select {
 *		case r := <-results: ...
 *		case <-ctx.Done(): return        // deadline: stop waiting
 *		}
 *	}
 *
 * Go leaves the late goroutines to end on their own and its collector
 * frees what they used. Here the caller, once it has cancelled them,
 * waits for them (green_wg_wait): a cancelled sleep returns at once, so
 * this costs microseconds, and then everything can be freed in one place.
 */
#include <errno.h>
#include <stdlib.h>

#include "handlers.h"
#include "patterns.h"

struct fan;

struct fan_task {
	struct fan *fan;
	int index;
};

struct fan_msg {
	int index;
	int proc;
	int64_t took_ns;
};

struct fan {
	green_wg_t wg;			/* the tasks */
	green_chan_t *results;		/* struct fan_msg, capacity n */
	int64_t start;
	int64_t *planned;
	struct fan_task tasks[];
};

static void fan_free(struct fan *f)
{
	if (!f)
		return;
	green_chan_free(f->results);
	free(f->planned);
	free(f);
}

/* One "backend call": a sleep the context may cut short. */
static void fan_worker(void *arg)
{
	struct fan_task *t = arg;
	struct fan *f = t->fan;
	struct fan_msg m = { .index = t->index };

	if (green_sleep(f->planned[t->index]) == 0) {
		m.proc = green_proc_id();
		m.took_ns = green_now() - f->start;
		/* Never blocks: the channel has room for every task. */
		green_chan_try_send(f->results, &m);
	}
	green_wg_done(&f->wg);
}

int fanout_run(int n, int64_t timeout_ns, uint64_t seed,
	       struct fanout_result *r)
{
	struct green_select_case cases[2];
	green_ctx_t *ctx;
	struct fan_msg m;
	struct fan *f;
	int i, ret, started;

	r->n = n;
	r->finished = 0;
	r->timeout_ns = timeout_ns;
	r->items = calloc(n, sizeof(*r->items));
	f = calloc(1, sizeof(*f) + n * sizeof(f->tasks[0]));
	if (!r->items || !f)
		goto nomem;
	f->planned = malloc(n * sizeof(*f->planned));
	f->results = green_chan_make(sizeof(struct fan_msg), n);
	if (!f->planned || !f->results)
		goto nomem;
	for (i = 0; i < n; i++) {
		f->planned[i] = rng_next(&seed) % (2 * timeout_ns);
		r->items[i].planned_ns = f->planned[i];
		r->items[i].proc = -1;
	}
	/* A child of the request's context: a shutdown cancels it too. */
	ret = green_ctx_with_timeout(green_ctx_current(), timeout_ns, &ctx);
	if (ret)
		goto fail;
	green_wg_init(&f->wg);
	f->start = green_now();
	for (started = 0; started < n; started++) {
		f->tasks[started].fan = f;
		f->tasks[started].index = started;
		green_wg_add(&f->wg, 1);
		if (green_go_ctx(ctx, fan_worker, &f->tasks[started])) {
			green_wg_done(&f->wg);
			break;
		}
	}
	/* Fan in: a result, or the deadline, whichever comes first. */
	cases[0] = (struct green_select_case){
		.op = GREEN_SELECT_RECV, .chan = f->results, .elem = &m };
	cases[1] = (struct green_select_case){
		.op = GREEN_SELECT_RECV, .chan = green_ctx_done(ctx) };
	while (r->finished < started) {
		if (green_select(cases, 2, 0, green_ctx_deadline(ctx)) != 0)
			break;	/* the context is done */
		r->items[m.index].in_time = true;
		r->items[m.index].proc = m.proc;
		r->items[m.index].took_ns = m.took_ns;
		r->finished++;
	}
	r->elapsed_ns = green_now() - f->start;
	green_ctx_free(ctx);	/* Go's cancel(): the late ones stop now */
	green_wg_wait(&f->wg);
	fan_free(f);
	return started < n ? -ENOMEM : 0;
nomem:
	ret = -ENOMEM;
fail:
	fan_free(f);
	free(r->items);
	r->items = NULL;
	return ret;
}

void fanout_result_free(struct fanout_result *r)
{
	free(r->items);
	r->items = NULL;
}

/* GET /fanout?n=10&timeout_ms=50 */
void ep_fanout(struct http_req *req, struct http_resp *resp)
{
	struct fanout_result r;
	struct json j;
	long n, timeout_ms;
	int i, ret;

	if (query_long(req, resp, "n", 10, 1, 10000, &n) ||
	    query_long(req, resp, "timeout_ms", 50, 1, 10000, &timeout_ms))
		return;
	ret = fanout_run(n, timeout_ms * MS, req->start ^ req->conn_id, &r);
	if (ret && !r.items) {
		resp_error(resp, 500, "out of memory");
		return;
	}
	resp_json(resp, &j);
	json_int(&j, "n", n);
	json_int(&j, "timeout_ms", timeout_ms);
	json_int(&j, "finished", r.finished);
	json_int(&j, "timed_out", n - r.finished);
	json_double(&j, "elapsed_ms", r.elapsed_ns / 1e6, 3);
	json_arr_begin(&j, "tasks");
	for (i = 0; i < n && i < 100; i++) {
		json_obj_begin(&j, NULL);
		json_int(&j, "task", i);
		json_double(&j, "backend_ms", r.items[i].planned_ns / 1e6, 3);
		json_bool(&j, "in_time", r.items[i].in_time);
		json_int(&j, "proc", r.items[i].proc);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	resp_json_end(&j);
	fanout_result_free(&r);
}
