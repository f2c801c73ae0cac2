// SPDX-License-Identifier: MIT
/*
 * sleep.c - GET /sleep?ms=: a request that waits.
 *
 * The Go shape: `time.Sleep(d)` in the handler. The connection's task
 * parks on its processor's timer heap: no thread is held, no CPU is
 * spent, so ten thousand concurrent sleepers are ten thousand parked
 * tasks (a few KB of stack each) and the same handful of worker threads.
 * The answer says how many tasks exist right now to make that visible.
 */
#include <errno.h>

#include "handlers.h"

static uint64_t sleepers;	/* requests in green_sleep now */

void ep_sleep(struct http_req *req, struct http_resp *resp)
{
	struct green_stats st = { .size = sizeof(st) };
	struct json j;
	uint64_t now_sleeping;
	int64_t t0;
	long ms;
	int ret;

	if (query_long(req, resp, "ms", 100, 0, 60000, &ms))
		return;
	now_sleeping = __atomic_add_fetch(&sleepers, 1, __ATOMIC_RELAXED);
	t0 = green_now();
	ret = green_sleep(ms * MS);	/* -ECANCELED: forced shutdown */
	__atomic_sub_fetch(&sleepers, 1, __ATOMIC_RELAXED);
	if (ret) {
		resp_error(resp, 503, "cancelled: the server is shutting down");
		return;
	}
	green_stats(&st, NULL, 0);
	resp_json(resp, &j);
	json_int(&j, "slept_ms", ms);
	json_double(&j, "actual_ms", ms_since(t0, green_now()), 3);
	json_uint(&j, "sleepers_when_started", now_sleeping);
	json_uint(&j, "tasks_live", st.tasks_live);
	json_uint(&j, "workers", st.nworkers);
	json_int(&j, "proc", green_proc_id());
	resp_json_end(&j);
}
