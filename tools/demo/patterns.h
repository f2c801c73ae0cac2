/* SPDX-License-Identifier: MIT */
/*
 * patterns.h - the concurrency patterns, each a small reusable core that
 * both an endpoint (handlers.h) and a console walk-through (`demo
 * patterns NAME`, patterns.c) run. All of them are called from a task.
 */
#ifndef DEMO_PATTERNS_H
#define DEMO_PATTERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "green.h"

/*
 * Fan-out/fan-in with a deadline (fanout.c): @n tasks each "call a
 * backend" that answers after a random latency in [0, 2 * @timeout_ns);
 * results come back on one channel; what is not back by the deadline is
 * cancelled through a context.
 */
struct fanout_item {
	int proc;		/* processor the task finished on, or -1 */
	int64_t planned_ns;	/* the backend's latency */
	int64_t took_ns;	/* until its result was sent, if it was */
	bool in_time;		/* its result came before the deadline */
};

struct fanout_result {
	int n;
	int finished;		/* results received in time */
	int64_t timeout_ns;
	int64_t elapsed_ns;	/* for the whole fan-out */
	struct fanout_item *items;	/* n of them; fanout_result_free() */
};

int fanout_run(int n, int64_t timeout_ns, uint64_t seed,
	       struct fanout_result *r);
void fanout_result_free(struct fanout_result *r);

/*
 * A pipeline (pipeline.c): generate 1..@n -> square -> sum, three stages
 * in three tasks joined by channels of capacity @cap; closing a channel
 * tells the next stage that nothing more comes.
 */
struct pipeline_stats {
	long n;
	uint64_t sum;		/* n(n+1)(2n+1)/6 when all went through */
	long items[3];		/* values each stage handled */
	int proc[3];		/* processor each stage ended on */
	int64_t elapsed_ns;
	int err;		/* 0, or why it stopped early (-ECANCELED) */
};

/* Called by each stage for each value (the walk-through prints them). */
typedef void (*pipeline_trace_fn)(int stage, long in, long out, void *arg);

int pipeline_run(long n, size_t cap, pipeline_trace_fn trace, void *arg,
		 struct pipeline_stats *st);

/*
 * A bounded worker pool (pool.c): @workers tasks take jobs from a
 * buffered channel of @queue_cap. Submitting never waits: a full queue
 * refuses the job (backpressure), and the caller answers 503.
 */
#define POOL_MAX_WORKERS 64

struct pool;

struct pool_report {
	int jobs;		/* asked for */
	int accepted;		/* queued before the queue was full */
	int done;		/* finished and reported back */
	int by_worker[POOL_MAX_WORKERS];	/* jobs each worker did */
	int64_t max_wait_ns;	/* longest a job sat in the queue */
	int64_t elapsed_ns;
};

/* Make a pool and start its workers. NULL when out of memory. */
struct pool *pool_make(int workers, int queue_cap);
/*
 * Queue @jobs jobs of @work_ns each and wait for them. Returns 0, or
 * -EAGAIN when the queue was full (nothing waited for: the accepted jobs
 * still run), -ECANCELED/-ETIMEDOUT when the caller's context ended.
 */
int pool_submit(struct pool *p, int jobs, int64_t work_ns,
		struct pool_report *rep);
int pool_workers(const struct pool *p);
int pool_queue_cap(const struct pool *p);
/* Jobs waiting in the queue now. */
int pool_queued(const struct pool *p);
/* Close the queue, let the workers finish what is queued, free. */
void pool_free(struct pool *p);

/*
 * A token bucket (ratelimit.c): a buffered channel of @burst tokens that
 * a ticker task refills at @rate_per_s; taking is a non-blocking receive.
 */
struct bucket;

struct bucket *bucket_make(int rate_per_s, int burst);
/* 0 when a token was taken, -EAGAIN when the bucket is empty. */
int bucket_take(struct bucket *b);
int bucket_tokens(const struct bucket *b);
int bucket_rate(const struct bucket *b);
int bucket_burst(const struct bucket *b);
void bucket_free(struct bucket *b);

/* A small xorshift generator: the patterns' "random" latencies. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

#endif /* DEMO_PATTERNS_H */
