// SPDX-License-Identifier: MIT
/*
 * pipeline.c - stages joined by channels, and GET /pipeline.
 *
 * The Go shape (from "Go Concurrency Patterns: Pipelines"):
 *
 *	gen := func(n int) <-chan int {
 *		out := make(chan int)
 *		go func() {
 *			for i := 1; i <= n; i++ { out <- i }
 *			close(out)                  // "no more values"
 *		}()
 *		return out
 *	}
 *	sq := func(in <-chan int) <-chan int { ... out <- v * v ... }
 *	for v := range sq(gen(n)) { sum += v }
 *
 * Each stage is a task; each stage ranges over its input until it is
 * closed and drained (a receive returns -EPIPE), then closes its output.
 * Only a channel's sender closes it, as in Go. A cancelled context ends
 * every stage's sends and receives, since all stages run under it.
 * The stages run concurrently: while the summer adds one square, the
 * squarer computes the next and the generator queues the one after.
 */
#include <errno.h>
#include <stdlib.h>

#include "handlers.h"
#include "patterns.h"

struct pipe {
	long n;
	green_chan_t *nums;	/* generate -> square */
	green_chan_t *squares;	/* square -> sum */
	green_wg_t wg;		/* the two spawned stages */
	pipeline_trace_fn trace;
	void *arg;
	struct pipeline_stats *st;
};

static void trace(struct pipe *p, int stage, long in, long out)
{
	if (p->trace)
		p->trace(stage, in, out, p->arg);
}

static void generate(void *arg)
{
	struct pipe *p = arg;
	long i;

	for (i = 1; i <= p->n; i++) {
		trace(p, 0, i, i);
		if (green_chan_send(p->nums, &i))
			break;	/* cancelled, or the next stage gave up */
		p->st->items[0]++;
	}
	p->st->proc[0] = green_proc_id();
	green_chan_close(p->nums);
	green_wg_done(&p->wg);
}

static void square(void *arg)
{
	struct pipe *p = arg;
	long v, sq;

	/* Go's `for v := range in`: until closed and drained. */
	while (green_chan_recv(p->nums, &v) == 0) {
		sq = v * v;
		trace(p, 1, v, sq);
		if (green_chan_send(p->squares, &sq))
			break;
		p->st->items[1]++;
	}
	p->st->proc[1] = green_proc_id();
	green_chan_close(p->squares);
	green_wg_done(&p->wg);
}

int pipeline_run(long n, size_t cap, pipeline_trace_fn fn, void *arg,
		 struct pipeline_stats *st)
{
	struct pipe p = {
		.n = n, .trace = fn, .arg = arg, .st = st,
		.wg = GREEN_WG_INIT,
	};
	green_ctx_t *ctx = green_ctx_current();
	int64_t t0 = green_now();
	long v;
	int ret;

	*st = (struct pipeline_stats){ .n = n, .proc = { -1, -1, -1 } };
	p.nums = green_chan_make(sizeof(long), cap);
	p.squares = green_chan_make(sizeof(long), cap);
	if (!p.nums || !p.squares) {
		ret = -ENOMEM;
		goto out;
	}
	/* The stages run under the caller's context (Go passes ctx along). */
	green_wg_add(&p.wg, 2);
	if (green_go_ctx(ctx, generate, &p)) {
		green_wg_add(&p.wg, -2);
		ret = -ENOMEM;
		goto out;
	}
	if (green_go_ctx(ctx, square, &p)) {
		/* Drain the generator so that it can finish. */
		while (green_chan_recv(p.nums, &v) == 0)
			;
		green_wg_add(&p.wg, -1);
		green_wg_wait(&p.wg);
		ret = -ENOMEM;
		goto out;
	}
	/* The last stage is this task: sum what comes out. */
	while ((ret = green_chan_recv(p.squares, &v)) == 0) {
		trace(&p, 2, v, (long)(st->sum + v));
		st->sum += v;
		st->items[2]++;
	}
	st->proc[2] = green_proc_id();
	/*
	 * Stopped early (cancelled)? The other stages run under the same
	 * context, so their sends and receives end too: only senders close.
	 */
	green_wg_wait(&p.wg);
	ret = ret == -EPIPE ? 0 : ret;	/* -EPIPE: closed, all done */
out:
	st->err = ret;
	st->elapsed_ns = green_now() - t0;
	green_chan_free(p.nums);
	green_chan_free(p.squares);
	return ret;
}

/* GET /pipeline?n=100 */
void ep_pipeline(struct http_req *req, struct http_resp *resp)
{
	static const char *const names[3] = { "generate", "square", "sum" };
	struct pipeline_stats st;
	struct json j;
	long n;
	int i, ret;

	if (query_long(req, resp, "n", 100, 1, 1000000, &n))
		return;
	ret = pipeline_run(n, 16, NULL, NULL, &st);
	if (ret == -ENOMEM) {
		resp_error(resp, 500, "out of memory");
		return;
	}
	if (ret) {
		resp_error(resp, 503, "cancelled: the server is shutting down");
		return;
	}
	resp_json(resp, &j);
	json_int(&j, "n", n);
	json_uint(&j, "sum_of_squares", st.sum);
	json_double(&j, "elapsed_ms", st.elapsed_ns / 1e6, 3);
	json_arr_begin(&j, "stages");
	for (i = 0; i < 3; i++) {
		json_obj_begin(&j, NULL);
		json_str(&j, "stage", names[i]);
		json_int(&j, "items", st.items[i]);
		json_int(&j, "proc", st.proc[i]);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	resp_json_end(&j);
}
