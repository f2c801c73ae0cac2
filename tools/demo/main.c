// SPDX-License-Identifier: MIT
/*
 * demo - a first look at libgreen (`make demo` runs it).
 *
 * Until the HTTP microservice lands here, the demo shows what the runtime
 * does today, the Go way:
 *   1. concurrency: 100,000 tasks, each a function call with its own
 *      stack, started with green_go and joined with a waitgroup, as Go's
 *      `go f()` and sync.WaitGroup;
 *   2. parallelism: the same CPU-bound work on 1 processor and on all of
 *      them (GREEN_PROCS, Go's GOMAXPROCS), and who ran where;
 *   3. cooperation: green_yield (Go's runtime.Gosched) lets a long task
 *      share its processor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "green.h"

#define MAXP 64

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct spread {
	green_wg_t wg;
	long ntasks;
	long work;			/* loop iterations per task */
	long ran_on[MAXP];		/* tasks that ran on each processor */
	double ms;
	struct green_stats st;
	struct green_proc_stats ps[MAXP];
	int nprocs;
};

static void task(void *arg)
{
	struct spread *s = arg;
	volatile unsigned long x = 0;
	long i;
	int p;

	for (i = 0; i < s->work; i++)
		x += i;
	p = green_proc_id();
	if (p >= 0 && p < MAXP)
		__atomic_fetch_add(&s->ran_on[p], 1, __ATOMIC_RELAXED);
	green_wg_done(&s->wg);
}

static void spread_main(void *arg)
{
	struct spread *s = arg;
	double t0 = now_ms();
	long i;

	for (i = 0; i < s->ntasks; i++) {
		green_wg_add(&s->wg, 1);
		if (green_go(task, s)) {
			green_wg_done(&s->wg);
			fprintf(stderr, "demo: green_go failed\n");
			break;
		}
	}
	green_wg_wait(&s->wg);
	s->ms = now_ms() - t0;
	s->st.size = sizeof(s->st);
	s->nprocs = green_stats(&s->st, s->ps, MAXP);
}

static int run_spread(struct spread *s, const char *procs)
{
	int ret;

	if (procs)
		setenv("GREEN_PROCS", procs, 1);
	ret = green_run(spread_main, s);
	if (ret) {
		fprintf(stderr, "demo: green_run: %s\n", strerror(-ret));
		return ret;
	}
	return 0;
}

static void print_spread(const struct spread *s)
{
	int i;

	printf("  %ld tasks in %.1f ms on %d processor(s), %u worker thread(s), parker %s\n",
	       s->ntasks, s->ms, s->nprocs, s->st.nworkers, s->st.parker);
	for (i = 0; i < s->nprocs && i < MAXP; i++)
		printf("    P%-2d ran %6ld of them; stole %4lu times (%lu tasks), took %lu batches from the global queue\n",
		       i, s->ran_on[i], (unsigned long)s->ps[i].steals,
		       (unsigned long)s->ps[i].stolen,
		       (unsigned long)s->ps[i].global_gets);
}

/* Part 3: a long task that yields lets a short one finish first. */
struct coop {
	green_wg_t wg;
	char order[8];
	int n;
};

static void note(struct coop *c, char who)
{
	int i = __atomic_fetch_add(&c->n, 1, __ATOMIC_RELAXED);

	if (i < (int)sizeof(c->order) - 1)
		c->order[i] = who;
}

static void long_task(void *arg)
{
	struct coop *c = arg;
	int i;

	for (i = 0; i < 3; i++) {
		note(c, 'L');
		green_yield();	/* let others use the processor */
	}
	green_wg_done(&c->wg);
}

static void short_task(void *arg)
{
	struct coop *c = arg;

	note(c, 's');
	green_wg_done(&c->wg);
}

static void coop_main(void *arg)
{
	struct coop *c = arg;

	green_wg_add(&c->wg, 3);
	green_go(long_task, c);
	green_go(short_task, c);
	green_go(short_task, c);
	green_wg_wait(&c->wg);
}

int main(void)
{
	static struct spread one, all;
	struct coop c = { .wg = GREEN_WG_INIT };
	const char *env = getenv("GREEN_PROCS");
	char procs[16];

	printf("libgreen demo: Go's concurrency model in C\n\n");
	printf("1. Concurrency: 100,000 tasks (Go: goroutines), spawned with\n"
	       "   green_go and joined with a waitgroup. Each is a function with\n"
	       "   its own stack; they run M:N on a few worker threads.\n");
	all.ntasks = 100000;
	all.work = 2000;
	if (run_spread(&all, env))
		return 1;
	print_spread(&all);
	snprintf(procs, sizeof(procs), "%d", all.nprocs);

	printf("\n2. Parallelism: the same work on 1 processor (GREEN_PROCS=1,\n"
	       "   Go's GOMAXPROCS=1): concurrent, but one at a time.\n");
	one.ntasks = all.ntasks;
	one.work = all.work;
	if (run_spread(&one, "1"))
		return 1;
	print_spread(&one);
	printf("  With %s processors it took %.2fx the time of one. The tasks were\n"
	       "  all spawned on P0; the others got theirs by stealing from P0's\n"
	       "  run queue and from the global queue P0 overflowed into, as in Go.\n",
	       procs, all.ms / one.ms);

	printf("\n3. Cooperation: on one processor a long task calls green_yield\n"
	       "   (Go: runtime.Gosched) so two short tasks run in between.\n");
	setenv("GREEN_PROCS", "1", 1);
	if (green_run(coop_main, &c)) {
		fprintf(stderr, "demo: green_run failed\n");
		return 1;
	}
	printf("  order of steps: %s (L = long task, s = short task)\n", c.order);
	if (env)
		setenv("GREEN_PROCS", env, 1);
	printf("\nNext: README.md explains G, M and P; `make check` runs the tests.\n");
	return 0;
}
