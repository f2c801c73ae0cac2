// SPDX-License-Identifier: MIT
/*
 * pool.c - a bounded worker pool with backpressure, and GET /pool.
 *
 * The Go shape:
 *
 *	jobs := make(chan job, queueCap)         // the bound
 *	for w := 0; w < workers; w++ {
 *		go func(w int) { for j := range jobs { run(w, j) } }(w)
 *	}
 *	// per request:
 *	select {
 *	case jobs <- j:                          // queued
 *	default:                                 // full: push back
 *		w.Header().Set("Retry-After", "1")
 *		http.Error(w, "busy", http.StatusServiceUnavailable)
 *	}
 *
 * A fixed number of workers bounds the concurrency of the work (say,
 * connections to a database); the buffered channel bounds the waiting.
 * Without the bound a slow backend turns a burst into an ever-growing
 * queue and ever-growing latency; with it, the excess is refused at once
 * and the client retries later.
 */
#include <errno.h>
#include <stdlib.h>

#include "handlers.h"
#include "patterns.h"

/* One request's jobs: their results come back on its own channel. */
struct batch {
	int refs;			/* the submitter and each queued job */
	green_chan_t *done;		/* struct job_done, capacity jobs */
};

struct job {
	struct batch *batch;
	int64_t work_ns;
	int64_t queued_at;
};

struct job_done {
	int worker;
	int64_t waited_ns;		/* in the queue */
};

struct worker_arg {
	struct pool *pool;
	int id;
};

struct pool {
	green_chan_t *jobs;		/* struct job, capacity queue_cap */
	int nworkers;
	int queue_cap;
	green_wg_t wg;			/* the workers */
	struct worker_arg args[];
};

static void batch_put(struct batch *b)
{
	if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL))
		return;
	green_chan_free(b->done);
	free(b);
}

static void worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct pool *p = wa->pool;
	struct job j;
	struct job_done d = { .worker = wa->id };

	/* Go's `for j := range jobs`: until the pool is closed. */
	while (green_chan_recv(p->jobs, &j) == 0) {
		d.waited_ns = green_now() - j.queued_at;
		green_sleep(j.work_ns);		/* the "work" */
		green_chan_try_send(j.batch->done, &d);	/* has room */
		batch_put(j.batch);
	}
	green_wg_done(&p->wg);
}

struct pool *pool_make(int workers, int queue_cap)
{
	struct pool *p;
	int i;

	if (workers < 1 || workers > POOL_MAX_WORKERS || queue_cap < 1)
		return NULL;
	p = calloc(1, sizeof(*p) + workers * sizeof(p->args[0]));
	if (!p)
		return NULL;
	p->jobs = green_chan_make(sizeof(struct job), queue_cap);
	if (!p->jobs) {
		free(p);
		return NULL;
	}
	p->queue_cap = queue_cap;
	green_wg_init(&p->wg);
	for (i = 0; i < workers; i++) {
		p->args[i].pool = p;
		p->args[i].id = i;
		green_wg_add(&p->wg, 1);
		if (green_go(worker, &p->args[i])) {
			green_wg_done(&p->wg);
			break;
		}
	}
	p->nworkers = i;
	if (!i) {
		pool_free(p);
		return NULL;
	}
	return p;
}

int pool_submit(struct pool *p, int jobs, int64_t work_ns,
		struct pool_report *rep)
{
	struct job j = { .work_ns = work_ns };
	struct job_done d;
	struct batch *b;
	int64_t t0 = green_now();
	int i, ret = 0;

	*rep = (struct pool_report){ .jobs = jobs };
	b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->done = green_chan_make(sizeof(struct job_done), jobs);
	if (!b->done) {
		free(b);
		return -ENOMEM;
	}
	b->refs = 1 + jobs;
	j.batch = b;
	for (i = 0; i < jobs; i++) {
		j.queued_at = green_now();
		/* Go's select with a default case: never wait for room. */
		if (green_chan_try_send(p->jobs, &j))
			break;
	}
	rep->accepted = i;
	if (i < jobs) {
		__atomic_sub_fetch(&b->refs, jobs - i, __ATOMIC_ACQ_REL);
		ret = -EAGAIN;
		goto out;
	}
	while (rep->done < jobs) {
		ret = green_chan_recv(b->done, &d);	/* cancellable */
		if (ret)
			break;
		rep->done++;
		rep->by_worker[d.worker]++;
		if (d.waited_ns > rep->max_wait_ns)
			rep->max_wait_ns = d.waited_ns;
	}
out:
	rep->elapsed_ns = green_now() - t0;
	batch_put(b);
	return ret;
}

int pool_workers(const struct pool *p)
{
	return p->nworkers;
}

int pool_queue_cap(const struct pool *p)
{
	return p->queue_cap;
}

int pool_queued(const struct pool *p)
{
	return green_chan_len(p->jobs);
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	green_chan_close(p->jobs);	/* workers finish the queue, end */
	green_wg_wait(&p->wg);
	green_chan_free(p->jobs);
	free(p);
}

/* The service's pool: 4 workers, room for 32 waiting jobs. */
#define SERVICE_WORKERS 4
#define SERVICE_QUEUE 32

static struct pool *service_pool;

int pool_service_start(void)
{
	service_pool = pool_make(SERVICE_WORKERS, SERVICE_QUEUE);
	return service_pool ? 0 : -ENOMEM;
}

void pool_service_stop(void)
{
	pool_free(service_pool);
	service_pool = NULL;
}

/* GET /pool?jobs=4&ms=10 */
void ep_pool(struct http_req *req, struct http_resp *resp)
{
	struct pool *p = service_pool;
	struct pool_report rep;
	struct json j;
	long jobs, ms;
	int i, ret;

	if (query_long(req, resp, "jobs", 4, 1, 1000, &jobs) ||
	    query_long(req, resp, "ms", 10, 0, 1000, &ms))
		return;
	ret = pool_submit(p, jobs, ms * MS, &rep);
	if (ret == -ENOMEM) {
		resp_error(resp, 500, "out of memory");
		return;
	}
	if (ret == -EAGAIN) {
		resp->status = 503;
		http_resp_header(resp, "Retry-After", "1");
	} else if (ret) {
		resp_error(resp, 503, "cancelled: the server is shutting down");
		return;
	}
	resp_json(resp, &j);
	if (ret == -EAGAIN)
		json_str(&j, "error", "queue full: try again later");
	json_int(&j, "jobs", jobs);
	json_int(&j, "accepted", rep.accepted);
	json_int(&j, "done", rep.done);
	json_int(&j, "workers", pool_workers(p));
	json_int(&j, "queue_cap", pool_queue_cap(p));
	json_int(&j, "queued_now", pool_queued(p));
	json_double(&j, "max_wait_ms", rep.max_wait_ns / 1e6, 3);
	json_double(&j, "elapsed_ms", rep.elapsed_ns / 1e6, 3);
	json_arr_begin(&j, "by_worker");
	for (i = 0; i < pool_workers(p); i++)
		json_int(&j, NULL, rep.by_worker[i]);
	json_arr_end(&j);
	resp_json_end(&j);
}
