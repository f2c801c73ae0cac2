// SPDX-License-Identifier: MIT
/*
 * metrics.c - counters for /metrics, kept per processor.
 *
 * Every answer bumps a counter and a histogram bucket. With one shared
 * set, every request on every processor would write the same cache
 * lines; instead each processor counts in its own shard (indexed by
 * green_proc_id(), atomically since a task may move between processors
 * mid-update), and /metrics adds the shards up: the per-P pattern of
 * Go's runtime (and of its sync.Pool).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "metrics.h"

#define NSHARD 16
#define NBUCKET 14

/* Upper bounds of the latency buckets, in seconds (and nanoseconds). */
static const char *const bucket_le[NBUCKET] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
	"0.025", "0.05", "0.1", "0.25", "0.5", "1", "5",
};
static const int64_t bucket_ns[NBUCKET] = {
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
	25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
	5000000000LL,
};

/* The statuses the service answers; anything else counts as "other". */
static const int statuses[] = {
	200, 400, 404, 405, 408, 413, 429, 431, 499, 500, 503, 505, 0
};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))

struct shard {
	uint64_t count[EP_COUNT][NSTATUS];
	uint64_t bucket[EP_COUNT][NBUCKET + 1];	/* the last is +Inf */
	uint64_t sum_ns[EP_COUNT];
} __attribute__((aligned(64)));

static struct shard shards[NSHARD];

static unsigned int status_index(int status)
{
	unsigned int i;

	for (i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void metrics_observe(int ep, int status, int64_t ns)
{
	int p = green_proc_id();
	struct shard *sh = &shards[(p < 0 ? 0 : p) % NSHARD];
	unsigned int b = 0;

	if (ep < 0 || ep >= EP_COUNT)
		ep = EP_OTHER;
	while (b < NBUCKET && ns > bucket_ns[b])
		b++;
	__atomic_fetch_add(&sh->count[ep][status_index(status)], 1,
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->bucket[ep][b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sh->sum_ns[ep], ns, __ATOMIC_RELAXED);
}

static uint64_t sum(const uint64_t *first, size_t stride_bytes)
{
	const char *p = (const char *)first;
	uint64_t total = 0;
	int i;

	for (i = 0; i < NSHARD; i++, p += stride_bytes)
		total += __atomic_load_n((const uint64_t *)p,
					 __ATOMIC_RELAXED);
	return total;
}

#define SUM(field) sum(&shards[0].field, sizeof(struct shard))

uint64_t metrics_count(int ep, int status)
{
	if (ep < 0 || ep >= EP_COUNT)
		return 0;
	return SUM(count[ep][status_index(status)]);
}

static void help(struct buf *b, const char *name, const char *type,
		 const char *text)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void requests(struct buf *b)
{
	unsigned int s;
	int ep;

	help(b, "demo_requests_total", "counter",
	     "Requests answered, by endpoint and status code.");
	for (ep = 0; ep < EP_COUNT; ep++) {
		for (s = 0; s < NSTATUS; s++) {
			uint64_t n = SUM(count[ep][s]);
			char code[8];

			if (!n)
				continue;
			if (statuses[s])
				snprintf(code, sizeof(code), "%d", statuses[s]);
			else
				strcpy(code, "other");
			buf_printf(b, "demo_requests_total{path=\"%s\",code=\"%s\"} %llu\n",
				   ep_name[ep], code, (unsigned long long)n);
		}
	}
}

static void latency(struct buf *b)
{
	uint64_t cum, n;
	int ep, i;

	help(b, "demo_request_duration_seconds", "histogram",
	     "Time from a parsed request to its answer, by endpoint.");
	for (ep = 0; ep < EP_COUNT; ep++) {
		cum = 0;
		for (i = 0; i <= NBUCKET; i++)
			cum += SUM(bucket[ep][i]);
		if (!cum)
			continue;
		cum = 0;
		for (i = 0; i <= NBUCKET; i++) {
			cum += SUM(bucket[ep][i]);
			buf_printf(b, "demo_request_duration_seconds_bucket{path=\"%s\",le=\"%s\"} %llu\n",
				   ep_name[ep], i < NBUCKET ? bucket_le[i] :
				   "+Inf", (unsigned long long)cum);
		}
		n = SUM(sum_ns[ep]);
		buf_printf(b, "demo_request_duration_seconds_sum{path=\"%s\"} %.9f\n",
			   ep_name[ep], n / 1e9);
		buf_printf(b, "demo_request_duration_seconds_count{path=\"%s\"} %llu\n",
			   ep_name[ep], (unsigned long long)cum);
	}
}

static void gauge(struct buf *b, const char *name, const char *type,
		  const char *text, uint64_t v)
{
	help(b, name, type, text);
	buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static uint64_t load(uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static void server_metrics(struct buf *b, struct server *s)
{
	gauge(b, "demo_connections_open", "gauge",
	      "Connections open now (a task each).", load(&s->conns_open));
	gauge(b, "demo_connections_total", "counter",
	      "Connections accepted.", load(&s->conns_total));
	gauge(b, "demo_requests_in_flight", "gauge",
	      "Requests being handled now.", load(&s->in_flight));
	gauge(b, "demo_header_timeouts_total", "counter",
	      "Slow clients cut off with 408.", load(&s->header_timeouts));
	gauge(b, "demo_client_gone_total", "counter",
	      "Requests whose work was cancelled because the client left.",
	      load(&s->client_gone));
}

#define MAXP 64

static void sched_metrics(struct buf *b)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} per_p[] = {
#define F(n, h) { "green_proc_" #n "_total", h, \
		  offsetof(struct green_proc_stats, n) }
		F(tasks_run, "Task switches on the processor."),
		F(spawned, "Tasks spawned by tasks on the processor."),
		F(steals, "Successful steals by the processor."),
		F(stolen, "Tasks taken by those steals."),
		F(yields, "green_yield calls on the processor."),
		F(global_gets, "Tasks taken from the global queue."),
		F(syscalls, "green_syscall_enter calls on the processor."),
		F(handoffs, "Handoffs of the processor from a blocked task."),
#undef F
	};
	struct green_proc_stats ps[MAXP];
	struct green_stats st = { .size = sizeof(st) };
	unsigned int i;
	int n, p;

	n = green_stats(&st, ps, MAXP);
	if (n < 0)
		return;
	if (n > MAXP)
		n = MAXP;
	buf_printf(b, "# HELP green_info The scheduler's backends.\n"
		   "# TYPE green_info gauge\n"
		   "green_info{parker=\"%s\",poller=\"%s\"} 1\n",
		   st.parker, st.poller);
	gauge(b, "green_procs", "gauge", "Processors (GREEN_PROCS).",
	      st.nprocs);
	gauge(b, "green_workers", "gauge", "Worker threads started.",
	      st.nworkers);
	gauge(b, "green_idle_procs", "gauge", "Processors with no worker now.",
	      st.idle_procs);
	gauge(b, "green_tasks_live", "gauge", "Tasks not finished yet.",
	      st.tasks_live);
	gauge(b, "green_tasks_spawned_total", "counter", "Tasks created.",
	      st.tasks_spawned);
	gauge(b, "green_worker_parks_total", "counter",
	      "Times a worker thread went to sleep.", st.worker_parks);
	gauge(b, "green_worker_wakes_total", "counter",
	      "Times a sleeping worker thread was woken.", st.worker_wakes);
	help(b, "green_proc_runq_len", "gauge",
	     "Tasks in the processor's local run queue.");
	for (p = 0; p < n; p++)
		buf_printf(b, "green_proc_runq_len{proc=\"%d\"} %llu\n", p,
			   (unsigned long long)ps[p].runq_len);
	for (i = 0; i < sizeof(per_p) / sizeof(per_p[0]); i++) {
		help(b, per_p[i].name, "counter", per_p[i].help);
		for (p = 0; p < n; p++)
			buf_printf(b, "%s{proc=\"%d\"} %llu\n", per_p[i].name,
				   p, (unsigned long long)*(uint64_t *)
				   ((char *)&ps[p] + per_p[i].off));
	}
}

void metrics_write(struct buf *b, struct server *s)
{
	requests(b);
	latency(b);
	server_metrics(b, s);
	sched_metrics(b);
}
