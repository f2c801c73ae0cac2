// SPDX-License-Identifier: MIT
/*
 * walk_chan.c - walk-throughs of the channel patterns, running the same
 * code as the endpoints (pipeline.c, fanout.c, pool.c, ratelimit.c), and
 * of the three ways to stop waiting.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "green.h"
#include "patterns.h"
#include "walk.h"

#define MS (1000000LL)

/* ---- pipeline -------------------------------------------------------- */

static const char *const stage_name[3] = { "generate", "square", "sum" };

static void print_stage(int stage, long in, long out, void *arg)
{
	printf("     %*s%-8s %ld -> %ld   (task %llu on P%d)\n", stage * 4, "",
	       stage_name[stage], in, out,
	       (unsigned long long)green_self_id(), green_proc_id());
}

struct pipe_walk {
	struct pipeline_stats small, unbuf, buffered;
};

static void pipeline_main(void *arg)
{
	struct pipe_walk *w = arg;

	walk_step("generate 1..4 -> square -> sum, unbuffered channels (a send\n"
		  "     waits for the receiver: the stages hand values over in step):\n");
	pipeline_run(4, 0, print_stage, NULL, &w->small);
	printf("     sum = %llu. Each stage is a task; when the generator is done\n"
	       "     it closes its channel, the squarer's receive returns -EPIPE\n"
	       "     (Go: the range loop ends), it closes its own, and so on.\n",
	       (unsigned long long)w->small.sum);
	walk_step("1,000,000 values through the same three stages:\n");
	pipeline_run(1000000, 0, NULL, NULL, &w->unbuf);
	printf("     unbuffered:      %.0f ms (%.0f ns per value per hop)\n",
	       w->unbuf.elapsed_ns / 1e6, w->unbuf.elapsed_ns / 2e6);
	pipeline_run(1000000, 64, NULL, NULL, &w->buffered);
	printf("     capacity 64:     %.0f ms: a buffer lets a stage run ahead\n"
	       "     and the stages wake each other far less often.\n",
	       w->buffered.elapsed_ns / 1e6);
}

int walk_pipeline(void)
{
	struct pipe_walk w;

	if (walk_run(pipeline_main, &w, 0))
		return 1;
	walk_check(w.small.sum == 30 && w.unbuf.sum == w.buffered.sum &&
		   w.unbuf.items[2] == 1000000, "every value went through");
	return 0;
}

/* ---- fanout ---------------------------------------------------------- */

static void fanout_main(void *arg)
{
	struct fanout_result *r = arg;
	int i;

	walk_step("start 10 tasks, each \"calling a backend\" that answers after\n"
		  "     a random 0-100 ms; wait for answers until a 50 ms deadline.\n");
	if (fanout_run(10, 50 * MS, (uint64_t)green_now(), r)) {
		printf("     out of memory\n");
		return;
	}
	for (i = 0; i < r->n; i++)
		printf("     task %d: backend takes %5.1f ms -> %s\n", i,
		       r->items[i].planned_ns / 1e6, r->items[i].in_time ?
		       "answered in time" : "cancelled at the deadline");
	walk_step("%d answers in time; the caller returned after %.1f ms.\n",
		  r->finished, r->elapsed_ns / 1e6);
	printf("     Results came back on one channel with room for all 10, so\n"
	       "     a late task never blocks on a send nobody will receive (Go's\n"
	       "     goroutine leak). The deadline is a context with a timeout;\n"
	       "     the fan-in is a select on the results and ctx.Done(), and\n"
	       "     cancelling the context ended the late tasks' sleeps.\n");
}

int walk_fanout(void)
{
	struct fanout_result r = { 0 };
	int i, late_in_time = 0;

	if (walk_run(fanout_main, &r, 0) || !r.items)
		return 1;
	for (i = 0; i < r.n; i++)
		late_in_time += r.items[i].in_time &&
				r.items[i].planned_ns > 60 * MS;
	walk_check(r.elapsed_ns < 500 * MS && !late_in_time,
		   "nothing slower than the deadline counted");
	fanout_result_free(&r);
	return 0;
}

/* ---- worker-pool --------------------------------------------------------- */

struct pool_walk {
	struct pool *pool;
	green_wg_t wg;
	struct pool_report rep[4];
	int ret[4];
	int accepted, refused;
};

struct pool_client {
	struct pool_walk *w;
	int id;
};

static void pool_client(void *arg)
{
	struct pool_client *c = arg;

	c->w->ret[c->id] = pool_submit(c->w->pool, 3, 50 * MS,
				       &c->w->rep[c->id]);
	green_wg_done(&c->w->wg);
}

static void pool_main(void *arg)
{
	struct pool_walk *w = arg;
	struct pool_client c[4];
	struct pool_report rep;
	int i, j;

	w->pool = pool_make(2, 3);
	if (!w->pool)
		return;
	walk_step("a pool of 2 worker tasks and a job queue (buffered channel)\n"
		  "     of 3. One client submits 3 jobs of 50 ms:\n");
	pool_submit(w->pool, 3, 50 * MS, &rep);
	printf("     done in %.0f ms (2 rounds); worker 0 did %d, worker 1 did\n"
	       "     %d; the longest wait in the queue: %.0f ms.\n",
	       rep.elapsed_ns / 1e6, rep.by_worker[0], rep.by_worker[1],
	       rep.max_wait_ns / 1e6);
	walk_step("4 clients at once, 3 jobs each: 12 jobs, room for 2 running\n"
		  "     and 3 waiting. Submitting never waits: a full queue\n"
		  "     refuses (Go: select with a default case).\n");
	green_wg_init(&w->wg);
	for (i = 0; i < 4; i++) {
		c[i] = (struct pool_client){ w, i };
		green_wg_add(&w->wg, 1);
		if (green_go(pool_client, &c[i]))
			green_wg_done(&w->wg);
	}
	green_wg_wait(&w->wg);
	for (i = 0; i < 4; i++) {
		printf("     client %d: ", i);
		if (w->ret[i] == -EAGAIN) {
			printf("queue full after %d of 3 jobs: refused at once (503)\n",
			       w->rep[i].accepted);
			w->refused++;
		} else {
			printf("all 3 done in %.0f ms, by workers", w->rep[i].elapsed_ns / 1e6);
			for (j = 0; j < 2; j++)
				printf(" %d:%d", j, w->rep[i].by_worker[j]);
			printf("\n");
			w->accepted++;
		}
	}
	printf("     Backpressure: the refused client hears \"busy\" at once and\n"
	       "     can retry, instead of every client waiting longer and longer.\n");
	pool_free(w->pool);
}

int walk_pool(void)
{
	struct pool_walk w = { 0 };

	if (walk_run(pool_main, &w, 0))
		return 1;
	walk_check(w.accepted >= 1 && w.refused >= 1,
		   "some clients served, some refused");
	return 0;
}

/* ---- ratelimit ----------------------------------------------------------- */

struct rate_walk {
	int allowed, refused;
};

static void rate_main(void *arg)
{
	struct rate_walk *w = arg;
	struct bucket *b = bucket_make(10, 3);
	int64_t t0 = green_now();
	int i;

	if (!b)
		return;
	walk_step("a bucket of 3 tokens refilled at 10 per second (a ticker\n"
		  "     task puts one back every 100 ms); 16 attempts, one every\n"
		  "     25 ms:\n");
	for (i = 0; i < 16; i++) {
		bool ok = bucket_take(b) == 0;

		printf("     t=%4.0f ms  %s  (%d tokens left)\n", walk_ms(t0),
		       ok ? "allowed" : "refused: 429", bucket_tokens(b));
		if (ok)
			w->allowed++;
		else
			w->refused++;
		green_sleep(25 * MS);
	}
	walk_step("%d allowed: the burst of 3, then about one per 100 ms.\n",
		  w->allowed);
	bucket_free(b);
}

int walk_ratelimit(void)
{
	struct rate_walk w = { 0 };

	if (walk_run(rate_main, &w, 0))
		return 1;
	walk_check(w.allowed >= 3 && w.allowed <= 10 && w.refused >= 4,
		   "the burst passes, then the rate holds");
	return 0;
}

/* ---- timeout ------------------------------------------------------------- */

struct to_walk {
	double select_ms, ctx_ms, io_ms;
	int select_idx, ctx_ret, io_ret;
	green_chan_t *result;
	green_wg_t wg;
};

static void slow_result(void *arg)
{
	struct to_walk *w = arg;
	int v = 42;

	green_sleep(200 * MS);
	green_chan_try_send(w->result, &v);	/* buffered: never blocks */
	green_wg_done(&w->wg);
}

static void timeout_main(void *arg)
{
	struct to_walk *w = arg;
	green_chan_t *result = green_chan_make(sizeof(int), 1);
	green_chan_t *after = green_after(50 * MS);
	struct green_select_case cases[2];
	green_ctx_t *ctx, *old;
	int pfd[2], v;
	int64_t t0;
	char c;

	if (!result || !after) {
		green_chan_free(result);
		green_chan_free(after);
		return;
	}
	w->result = result;
	green_wg_init(&w->wg);
	green_wg_add(&w->wg, 1);
	walk_step("select on a result and a timer (Go: select with\n"
		  "     time.After): the result needs 200 ms, the timer 50 ms.\n");
	if (green_go(slow_result, w))
		green_wg_done(&w->wg);
	cases[0] = (struct green_select_case){
		.op = GREEN_SELECT_RECV, .chan = result, .elem = &v };
	cases[1] = (struct green_select_case){
		.op = GREEN_SELECT_RECV, .chan = after };
	t0 = green_now();
	w->select_idx = green_select(cases, 2, 0, 0);
	w->select_ms = walk_ms(t0);
	printf("     case %d won after %.1f ms: %s\n", w->select_idx,
	       w->select_ms, w->select_idx == 1 ? "the timer; we stop waiting" :
	       "the result");
	green_chan_free(after);

	walk_step("a context with a 50 ms timeout attached to this task (Go:\n"
		  "     context.WithTimeout): a 1 s sleep under it.\n");
	green_ctx_with_timeout(green_ctx_background(), 50 * MS, &ctx);
	old = green_ctx_set(ctx);
	t0 = green_now();
	w->ctx_ret = green_sleep(1000 * MS);
	w->ctx_ms = walk_ms(t0);
	green_ctx_unref(green_ctx_set(old));
	green_ctx_unref(old);
	green_ctx_free(ctx);
	printf("     green_sleep returned %s after %.1f ms. Every blocking call of\n"
	       "     the task (channels, I/O, locks that can wait) would have.\n",
	       w->ctx_ret == -ETIMEDOUT ? "-ETIMEDOUT" : "something else",
	       w->ctx_ms);

	walk_step("a deadline on one call: green_read_until on a pipe that\n"
		  "     nobody writes, 50 ms from now (Go: conn.SetReadDeadline).\n");
	if (pipe(pfd))
		return;
	t0 = green_now();
	w->io_ret = green_read_until(pfd[0], &c, 1, green_now() + 50 * MS);
	w->io_ms = walk_ms(t0);
	printf("     returned %s after %.1f ms; the read was cancelled in the\n"
	       "     kernel. The server uses these for its header and idle\n"
	       "     timeouts.\n", w->io_ret == -ETIMEDOUT ? "-ETIMEDOUT" :
	       "something else", w->io_ms);
	close(pfd[0]);
	close(pfd[1]);
	green_wg_wait(&w->wg);	/* the slow result's task first */
	green_chan_free(result);
}

int walk_timeout(void)
{
	struct to_walk w = { 0 };

	if (walk_run(timeout_main, &w, 0))
		return 1;
	walk_check(w.select_idx == 1 && w.ctx_ret == -ETIMEDOUT &&
		   w.io_ret == -ETIMEDOUT && w.select_ms < 190 &&
		   w.ctx_ms < 900 && w.io_ms < 900, "each wait ended early");
	return 0;
}
