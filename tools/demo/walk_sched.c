// SPDX-License-Identifier: MIT
/*
 * walk_sched.c - walk-throughs about the scheduler itself: concurrency
 * vs parallelism, what blocking does to a processor, and why sleeping
 * tasks are cheap.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "green.h"
#include "walk.h"

#define MS (1000000LL)
#define NTASKS 8

/* ---- concurrency-vs-parallelism ---------------------------------------- */

struct par {
	long iters;		/* of the busy loop, about 40 ms each */
	green_wg_t wg;
	int64_t t0;
	double ms;		/* for all tasks */
	int procs;
	int on[NTASKS];		/* processor each task finished on */
	char order[64];		/* interleaving on one processor */
	int norder;
};

/*
 * Pure CPU work. A loop that may run long calls green_preempt_check():
 * Go preempts such loops itself (asynchronously, since Go 1.14); here
 * the loop offers to yield if it has held its processor too long.
 */
static void busy(long iters)
{
	volatile unsigned long x = 0;
	long i;

	for (i = 0; i < iters; i++) {
		x += i;
		if (!(i & 0xffff))
			green_preempt_check();
	}
	(void)x;
}

struct par_task {
	struct par *par;
	int id;
};

static void cpu_task(void *arg)
{
	struct par_task *pt = arg;

	busy(pt->par->iters);
	pt->par->on[pt->id] = green_proc_id();
	green_wg_done(&pt->par->wg);
}

static void cpu_main(void *arg)
{
	struct par *p = arg;
	struct par_task pt[NTASKS];
	int i;

	p->procs = green_nprocs();
	p->t0 = green_now();
	for (i = 0; i < NTASKS; i++) {
		pt[i] = (struct par_task){ p, i };
		green_wg_add(&p->wg, 1);
		if (green_go(cpu_task, &pt[i]))
			green_wg_done(&p->wg);
	}
	green_wg_wait(&p->wg);
	p->ms = walk_ms(p->t0);
}

static void note(struct par *p, char c)
{
	int i = __atomic_fetch_add(&p->norder, 1, __ATOMIC_RELAXED);

	if (i < (int)sizeof(p->order) - 1)
		p->order[i] = c;
}

static void stepper(void *arg)
{
	struct par_task *pt = arg;
	int i;

	for (i = 0; i < 3; i++) {
		note(pt->par, 'A' + pt->id);
		green_yield();		/* Go: runtime.Gosched() */
	}
	green_wg_done(&pt->par->wg);
}

static void interleave_main(void *arg)
{
	struct par *p = arg;
	struct par_task pt[3];
	int i;

	for (i = 0; i < 3; i++) {
		pt[i] = (struct par_task){ p, i };
		green_wg_add(&p->wg, 1);
		if (green_go(stepper, &pt[i]))
			green_wg_done(&p->wg);
	}
	green_wg_wait(&p->wg);
}

static void sleeper_task(void *arg)
{
	struct par_task *pt = arg;

	green_sleep(100 * MS);
	green_wg_done(&pt->par->wg);
}

static void io_main(void *arg)
{
	struct par *p = arg;
	struct par_task pt[NTASKS];
	int i;

	p->t0 = green_now();
	for (i = 0; i < NTASKS; i++) {
		pt[i] = (struct par_task){ p, i };
		green_wg_add(&p->wg, 1);
		if (green_go(sleeper_task, &pt[i]))
			green_wg_done(&p->wg);
	}
	green_wg_wait(&p->wg);
	p->ms = walk_ms(p->t0);
}

/* Iterations of busy() that take about @ms on this machine. */
static long calibrate(int ms)
{
	struct timespec a, b;
	long n = 1000000;
	double took;

	clock_gettime(CLOCK_MONOTONIC, &a);
	busy(n);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	return took > 0 ? (long)(n * ms / took) : n * 40;
}

int walk_parallelism(void)
{
	struct par one = { .wg = GREEN_WG_INIT }, all = { .wg = GREEN_WG_INIT };
	struct par mix = { .wg = GREEN_WG_INIT }, io = { .wg = GREEN_WG_INIT };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	bool quiet;
	int i;

	printf("  Concurrency is structure: many tasks in progress at once.\n"
	       "  Parallelism is execution: several running at the same instant,\n"
	       "  one per processor (GREEN_PROCS, Go's GOMAXPROCS).\n\n");
	one.iters = all.iters = calibrate(40);
	/* These tasks compute on purpose: no stall reports about them. */
	quiet = !getenv("GREEN_STALL_MS");
	if (quiet)
		setenv("GREEN_STALL_MS", "5000", 1);
	walk_step("%d tasks of about 40 ms of pure CPU work each, on ONE processor:\n",
		  NTASKS);
	if (walk_run(cpu_main, &one, 1))
		return 1;
	printf("     %.0f ms in all: one task after the other.\n", one.ms);
	walk_step("the same %d tasks on %ld processors (GREEN_PROCS=%ld):\n",
		  NTASKS, ncpu, ncpu);
	if (walk_run(cpu_main, &all, ncpu))
		return 1;
	printf("     %.0f ms in all, %.2fx faster; tasks finished on processors:",
	       all.ms, one.ms / all.ms);
	for (i = 0; i < NTASKS; i++)
		printf(" P%d", all.on[i]);
	printf("\n");
	if (quiet)
		unsetenv("GREEN_STALL_MS");
	if (ncpu > 1)
		printf("     Parallelism: the processors each ran tasks at the same\n"
		       "     time (less so when other programs keep the CPUs busy).\n");
	else
		printf("     (this machine has one CPU: nothing to run in parallel)\n");
	walk_step("concurrency without parallelism: 3 tasks A, B, C on one\n"
		  "     processor, each doing 3 steps and calling green_yield between\n"
		  "     them (Go: runtime.Gosched):\n");
	if (walk_run(interleave_main, &mix, 1))
		return 1;
	printf("     order of steps: %s: they take turns on one processor.\n",
	       mix.order);
	walk_step("and when tasks wait rather than compute, one processor is\n"
		  "     enough: %d tasks each sleeping 100 ms on ONE processor:\n",
		  NTASKS);
	if (walk_run(io_main, &io, 1))
		return 1;
	printf("     %.0f ms in all, not %d x 100 ms: a waiting task gives its\n"
	       "     processor to the next. That is why a server handles\n"
	       "     thousands of connections with a few threads.\n", io.ms,
	       NTASKS);
	walk_check(io.ms < 300, "sleepers overlap on one processor");
	return 0;
}

/* ---- blocking ------------------------------------------------------------ */

enum block_mode { PLAIN, MARKED, PARKED };

struct blk {
	enum block_mode mode;
	int pfd[2];
	green_wg_t wg;
	int ticks;		/* the ticker's, while the read waits */
	double read_ms;
	uint32_t workers;
	uint64_t handoffs;
};

static void *writer_thread(void *arg)
{
	struct blk *b = arg;
	struct timespec ts = { 0, 200 * MS };

	nanosleep(&ts, NULL);
	if (write(b->pfd[1], "x", 1) != 1)
		perror("demo: write");
	return NULL;
}

/* Counts ticks of a 10 ms ticker for 300 ms. */
static void tick_task(void *arg)
{
	struct blk *b = arg;
	green_ticker_t *t = green_ticker_make(10 * MS);
	int64_t end = green_now() + 300 * MS;
	int64_t v;

	while (t && green_chan_recv_until(green_ticker_chan(t), &v, end) == 0)
		b->ticks++;
	green_ticker_free(t);
	green_wg_done(&b->wg);
}

static void reader_task(void *arg)
{
	struct blk *b = arg;
	int64_t t0;
	char c;

	green_sleep(20 * MS);	/* let the ticker start */
	t0 = green_now();
	switch (b->mode) {
	case PLAIN:		/* the worker thread blocks in read(2) */
		if (read(b->pfd[0], &c, 1) < 0)
			perror("demo: read");
		break;
	case MARKED:		/* ... but says so: its P moves on */
		green_syscall_enter();
		if (read(b->pfd[0], &c, 1) < 0)
			perror("demo: read");
		green_syscall_exit();
		break;
	case PARKED:		/* the task parks; the thread runs others */
		green_read(b->pfd[0], &c, 1);
		break;
	}
	b->read_ms = walk_ms(t0);
	green_wg_done(&b->wg);
}

static void blocking_main(void *arg)
{
	struct blk *b = arg;
	struct green_proc_stats ps[1];
	struct green_stats st = { .size = sizeof(st) };

	green_wg_add(&b->wg, 2);
	green_go(tick_task, b);
	green_go(reader_task, b);
	green_wg_wait(&b->wg);
	green_stats(&st, ps, 1);
	b->workers = st.nworkers;
	b->handoffs = ps[0].handoffs;
}

static int run_blocking(struct blk *b, enum block_mode mode)
{
	pthread_t th;
	int ret;

	memset(b, 0, sizeof(*b));
	b->mode = mode;
	green_wg_init(&b->wg);
	if (pipe(b->pfd))
		return -errno;
	ret = pthread_create(&th, NULL, writer_thread, b);
	if (ret) {
		close(b->pfd[0]);
		close(b->pfd[1]);
		return -ret;
	}
	ret = walk_run(blocking_main, b, 1);
	pthread_join(th, NULL);
	close(b->pfd[0]);
	close(b->pfd[1]);
	return ret;
}

int walk_blocking(void)
{
	struct blk plain, marked, parked;

	printf("  One processor (GREEN_PROCS=1). A ticker task counts 10 ms ticks\n"
	       "  for 300 ms (about 30 when nothing is in its way) while another\n"
	       "  task reads a pipe that a plain thread writes 200 ms later.\n\n");
	walk_step("a plain read(2): the task blocks its worker thread.\n");
	if (run_blocking(&plain, PLAIN))
		return 1;
	printf("     read took %.0f ms; ticks: %d. The one processor's thread was\n"
	       "     stuck in the kernel, so the ticker could not run: every task\n"
	       "     of that processor waited. Worker threads: %u. (libgreen's\n"
	       "     stall detector may have said so on stderr, GREEN_STALL_MS.)\n",
	       plain.read_ms, plain.ticks, plain.workers);
	walk_step("the same read between green_syscall_enter/exit.\n");
	if (run_blocking(&marked, MARKED))
		return 1;
	printf("     read took %.0f ms; ticks: %d. The runtime knew the task might\n"
	       "     block; after about 20 us its processor was handed to another\n"
	       "     worker thread (handoffs: %llu; worker threads: %u) and the\n"
	       "     ticker kept running. Go does this for every system call.\n",
	       marked.read_ms, marked.ticks,
	       (unsigned long long)marked.handoffs, marked.workers);
	walk_step("green_read: the task parks instead of blocking.\n");
	if (run_blocking(&parked, PARKED))
		return 1;
	printf("     read took %.0f ms; ticks: %d; worker threads: %u. The read\n"
	       "     went to the processor's io_uring and the task parked; the\n"
	       "     same thread ran the ticker meanwhile and no thread was\n"
	       "     added. Go's netpoller does this for sockets and pipes.\n",
	       parked.read_ms, parked.ticks, parked.workers);
	walk_check(plain.ticks < parked.ticks && plain.ticks < marked.ticks,
		   "a blocked thread stalls its processor's other tasks");
	printf("  Rule: in a task, use green_read & co. for I/O; bracket other\n"
	       "  calls that may block (a library's, a page fault aside) with\n"
	       "  green_syscall_enter/exit.\n");
	return 0;
}

/* ---- sleepers ------------------------------------------------------------ */

#define NSLEEPERS 10000

struct sleepers {
	green_wg_t wg;
	long rss_before, rss_during;
	double cpu_ms;		/* process CPU time while they slept */
	double spawn_ms, total_ms;
	uint64_t tasks;
	uint32_t workers;
	int failed;
};

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			sscanf(line + 6, "%ld", &kb);
	fclose(f);
	return kb;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void sleep_1s(void *arg)
{
	struct sleepers *s = arg;

	green_sleep(1000 * MS);
	green_wg_done(&s->wg);
}

static void sleepers_main(void *arg)
{
	struct green_stats st = { .size = sizeof(st) };
	struct sleepers *s = arg;
	int64_t t0 = green_now();
	double cpu0;
	int i;

	s->rss_before = rss_kb();
	for (i = 0; i < NSLEEPERS; i++) {
		green_wg_add(&s->wg, 1);
		if (green_go(sleep_1s, s)) {
			green_wg_done(&s->wg);
			s->failed++;
		}
	}
	s->spawn_ms = walk_ms(t0);
	green_sleep(200 * MS);	/* all of them asleep by now */
	cpu0 = cpu_ms();
	green_stats(&st, NULL, 0);
	s->tasks = st.tasks_live;
	s->workers = st.nworkers;
	s->rss_during = rss_kb();
	green_sleep(500 * MS);
	s->cpu_ms = cpu_ms() - cpu0;
	green_wg_wait(&s->wg);
	s->total_ms = walk_ms(t0);
}

int walk_sleepers(void)
{
	struct sleepers s = { .wg = GREEN_WG_INIT };

	printf("  Go's classic: start 10,000 goroutines that each sleep a second.\n\n");
	walk_step("spawn %d tasks that each call green_sleep(1 s).\n",
		  NSLEEPERS);
	if (walk_run(sleepers_main, &s, 0))
		return 1;
	printf("     spawned in %.1f ms (%.2f us each)%s.\n", s.spawn_ms,
	       s.spawn_ms * 1e3 / NSLEEPERS,
	       s.failed ? " (some failed: out of memory?)" : "");
	walk_step("while they sleep:\n");
	printf("     %llu tasks alive, %u worker threads; memory +%.1f MB, about\n"
	       "     %.1f KB per task (its stack pages actually touched, and its\n"
	       "     descriptor). CPU used by the process over 500 ms of their\n"
	       "     sleep: %.1f ms. Each sleeper is an entry in its processor's\n"
	       "     timer heap, not a thread (10,000 threads would need 10,000\n"
	       "     kernel stacks and scheduler entries).\n",
	       (unsigned long long)s.tasks, s.workers,
	       (s.rss_during - s.rss_before) / 1024.0,
	       (double)(s.rss_during - s.rss_before) / NSLEEPERS, s.cpu_ms);
	walk_step("all woke up and finished %.0f ms after the first was spawned.\n",
		  s.total_ms);
	/* (Unless spawning alone took most of a second: a slow machine.) */
	walk_check(!s.failed && (s.tasks >= NSLEEPERS || s.spawn_ms > 500),
		   "10,000 tasks asleep");
	return 0;
}
