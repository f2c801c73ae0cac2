// SPDX-License-Identifier: MIT
/*
 * stats.c - GET /stats: the scheduler's state as JSON (green_stats), the
 * server's counters and the process's memory, and GET /metrics.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "handlers.h"
#include "metrics.h"

#define MAXP 64

/* Resident memory and threads, from /proc/self/status. */
static void proc_status(long *rss_kb, long *threads)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	*rss_kb = *threads = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			sscanf(line + 6, "%ld", rss_kb);
		else if (!strncmp(line, "Threads:", 8))
			sscanf(line + 8, "%ld", threads);
	}
	fclose(f);
}

static uint64_t load(uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

void ep_stats(struct http_req *req, struct http_resp *resp)
{
	struct green_stats st = { .size = sizeof(st) };
	struct green_proc_stats ps[MAXP];
	struct server *s = req->srv;
	long rss_kb, threads;
	struct json j;
	int n, p;

	n = green_stats(&st, ps, MAXP);
	if (n < 0) {
		resp_error(resp, 500, "green_stats failed");
		return;
	}
	if (n > MAXP)
		n = MAXP;
	proc_status(&rss_kb, &threads);
	resp_json(resp, &j);
	json_double(&j, "uptime_s", ms_since(s->started, green_now()) / 1e3, 3);
	json_obj_begin(&j, "scheduler");
	json_uint(&j, "procs", st.nprocs);
	json_uint(&j, "workers", st.nworkers);
	json_uint(&j, "idle_procs", st.idle_procs);
	json_uint(&j, "tasks_live", st.tasks_live);
	json_uint(&j, "tasks_spawned", st.tasks_spawned);
	json_uint(&j, "worker_parks", st.worker_parks);
	json_uint(&j, "worker_wakes", st.worker_wakes);
	json_uint(&j, "stack_size", st.stack_size);
	json_uint(&j, "stacks_guarded", st.stacks_guarded);
	json_uint(&j, "stacks_unguarded", st.stacks_unguarded);
	json_str(&j, "parker", st.parker);
	json_str(&j, "poller", st.poller);
	json_str(&j, "poller_features", st.poller_features);
	json_obj_end(&j);
	json_arr_begin(&j, "procs");
	for (p = 0; p < n; p++) {
		json_obj_begin(&j, NULL);
		json_int(&j, "proc", p);
		json_uint(&j, "tasks_run", ps[p].tasks_run);
		json_uint(&j, "spawned", ps[p].spawned);
		json_uint(&j, "steals", ps[p].steals);
		json_uint(&j, "stolen", ps[p].stolen);
		json_uint(&j, "yields", ps[p].yields);
		json_uint(&j, "global_gets", ps[p].global_gets);
		json_uint(&j, "runq_len", ps[p].runq_len);
		json_uint(&j, "syscalls", ps[p].syscalls);
		json_uint(&j, "handoffs", ps[p].handoffs);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_begin(&j, "server");
	json_uint(&j, "connections_open", load(&s->conns_open));
	json_uint(&j, "connections_total", load(&s->conns_total));
	json_uint(&j, "requests", load(&s->requests));
	json_uint(&j, "in_flight", load(&s->in_flight));
	json_uint(&j, "header_timeouts", load(&s->header_timeouts));
	json_uint(&j, "idle_closed", load(&s->idle_closed));
	json_uint(&j, "client_gone", load(&s->client_gone));
	json_obj_end(&j);
	json_obj_begin(&j, "process");
	json_int(&j, "rss_kb", rss_kb);
	json_int(&j, "threads", threads);
	json_int(&j, "pid", getpid());
	json_obj_end(&j);
	resp_json_end(&j);
}

void ep_metrics(struct http_req *req, struct http_resp *resp)
{
	resp->ctype = "text/plain; version=0.0.4; charset=utf-8";
	metrics_write(resp->body, req->srv);
}
