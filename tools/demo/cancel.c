// SPDX-License-Identifier: MIT
/*
 * cancel.c - GET /cancel?ms=: work that stops when its client leaves.
 *
 * The Go shape: net/http cancels r.Context() when the connection closes,
 * and the work checks it:
 *
 *	ctx := r.Context()
 *	for step := 0; step < 10; step++ {
 *		select {
 *		case <-time.After(d / 10):       // one step of work
 *		case <-ctx.Done():               // the client went away
 *			log.Printf("client gone: %v", ctx.Err())
 *			return
 *		}
 *	}
 *
 * Here the connection's task makes a context for the request and runs
 * two tasks under it: the work, in steps (each a cancellable sleep), and
 * a watcher parked in green_poll() on the connection for POLLRDHUP, the
 * peer's close. Whichever ends first decides: the watcher cancels the
 * context (the work's sleep returns -ECANCELED at once), or the work
 * finishes and the handler cancels the context (the watcher's poll
 * returns -ECANCELED). Nothing polls in a loop; both just park.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "handlers.h"

#define STEPS 10

struct cancel_job {
	green_ctx_t *ctx;
	green_chan_t *done;	/* int: the work's result, capacity 1 */
	green_wg_t wg;		/* work and watcher */
	int64_t step_ns;
	int steps;		/* steps the work finished */
	int fd;
	bool gone;		/* the watcher saw the client leave */
	int64_t gone_at;
};

static void work(void *arg)
{
	struct cancel_job *cj = arg;
	int ret = 0;

	for (cj->steps = 0; cj->steps < STEPS; cj->steps++) {
		ret = green_sleep(cj->step_ns);	/* one step of "work" */
		if (ret)
			break;			/* the context is done */
	}
	/* Capacity 1 and one send: never waits, whatever the context. */
	green_chan_try_send(cj->done, &ret);
	green_wg_done(&cj->wg);
}

static void watcher(void *arg)
{
	struct cancel_job *cj = arg;
	int ev = green_poll(cj->fd, POLLRDHUP);

	/* > 0: the peer closed (POLLRDHUP), or POLLHUP/POLLERR. */
	if (ev > 0) {
		cj->gone = true;
		cj->gone_at = green_now();
		green_ctx_cancel(cj->ctx);
	}
	green_wg_done(&cj->wg);
}

void ep_cancel(struct http_req *req, struct http_resp *resp)
{
	struct cancel_job cj = { .fd = req->fd, .wg = GREEN_WG_INIT };
	struct json j;
	int64_t t0 = green_now();
	long ms;
	int ret = -ENOMEM, spawned = 0;

	if (query_long(req, resp, "ms", 1000, 1, 60000, &ms))
		return;
	cj.step_ns = ms * MS / STEPS;
	cj.done = green_chan_make(sizeof(int), 1);
	if (!cj.done || green_ctx_with_cancel(green_ctx_current(), &cj.ctx))
		goto fail;
	green_wg_add(&cj.wg, 2);
	if (green_go_ctx(cj.ctx, work, &cj) == 0)
		spawned++;
	if (spawned && green_go_ctx(cj.ctx, watcher, &cj) == 0)
		spawned++;
	if (spawned < 2) {
		green_ctx_cancel(cj.ctx);
		green_wg_add(&cj.wg, spawned - 2);
		green_wg_wait(&cj.wg);
		goto fail_ctx;
	}
	green_chan_recv(cj.done, &ret);	/* the work ended, either way */
	green_ctx_cancel(cj.ctx);	/* stop the watcher */
	green_wg_wait(&cj.wg);
	green_ctx_free(cj.ctx);
	green_chan_free(cj.done);
	if (cj.gone) {
		__atomic_fetch_add(&req->srv->client_gone, 1, __ATOMIC_RELAXED);
		if (!req->srv->cfg.quiet)
			fprintf(stderr, "demo: conn %llu: client left after %.1f ms; /cancel work stopped after %d of %d steps\n",
				(unsigned long long)req->conn_id,
				ms_since(t0, cj.gone_at), cj.steps, STEPS);
		resp->client_gone = true;
		return;
	}
	if (ret) {
		resp_error(resp, 503, "cancelled: the server is shutting down");
		return;
	}
	resp_json(resp, &j);
	json_int(&j, "ms", ms);
	json_bool(&j, "completed", true);
	json_int(&j, "steps", cj.steps);
	json_double(&j, "elapsed_ms", ms_since(t0, green_now()), 3);
	json_uint(&j, "client_gone_total",
		  __atomic_load_n(&req->srv->client_gone, __ATOMIC_RELAXED));
	resp_json_end(&j);
	return;
fail_ctx:
	green_ctx_free(cj.ctx);
fail:
	green_chan_free(cj.done);
	resp_error(resp, 500, "out of memory");
}
