// SPDX-License-Identifier: MIT
/*
 * schedtrace.c - GREEN_DEBUG=schedtrace=MS: a line on stderr every MS
 * milliseconds describing the scheduler, in the shape of Go's
 * GODEBUG=schedtrace lines:
 *
 *   SCHED 1004ms: gomaxprocs=2 idleprocs=1 threads=4 spinningthreads=0
 *   idlethreads=1 runqueue=0 [0 3] tasks=12 steals=5 parks=9 wakes=8
 *   parker=futex poller=io_uring
 *
 * (one line): time since green_run; processors; idle processors; worker
 * threads started plus sysmon; workers spinning for work; workers
 * sleeping (parked, or waiting in an idle processor's poller); the global
 * run queue's length, then each processor's; live tasks; steals, worker
 * parks and wakes since green_run; the parker and poller backends. sysmon
 * prints them, with one write(2) each, so lines never interleave.
 */
#include <stdarg.h>
#include <unistd.h>

#include "debug.h"
#include "parker.h"
#include "poller.h"
#include "runq.h"

static uint64_t next_trace;		/* sysmon only */
static uint64_t trace_run;		/* the start_ns next_trace is for */

/* snprintf at @*len in @buf of @n bytes, never past its end. */
__attribute__((format(printf, 4, 5)))
static void put(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*len >= n)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *len, n - *len, fmt, ap);
	va_end(ap);
	if (r > 0)
		*len += (size_t)r < n - *len ? (size_t)r : n - *len - 1;
}

static uint64_t rd(const uint64_t *f)
{
	return __atomic_load_n(f, __ATOMIC_RELAXED);
}

int schedtrace_line(char *buf, size_t n, uint64_t now)
{
	uint64_t steals = 0, spawned, exited = 0;
	int i, idlem = 0, nm;
	size_t len = 0;
	struct m *m;

	if (!n)
		return 0;
	buf[0] = 0;
	spawned = atomic_load(&sched.foreign_spawned);
	mutex_lock(&sched.lock);
	for (m = sched.midle; m; m = m->link)
		idlem++;
	for (i = 0; i < sched.nprocs; i++)
		if (sched.allp[i].poll_m)
			idlem++;
	nm = sched.nm;
	mutex_unlock(&sched.lock);
	for (i = 0; i < sched.nprocs; i++) {
		steals += rd(&sched.allp[i].st.steals);
		spawned += rd(&sched.allp[i].st.spawned);
		exited += rd(&sched.allp[i].exited);
	}
	put(buf, n, &len,
	    "SCHED %llums: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%lld [",
	    (unsigned long long)(now - debug_opts.start_ns) / 1000000,
	    sched.nprocs, atomic_load(&sched.npidle), nm + 1,
	    atomic_load(&sched.nmspinning), idlem,
	    (long long)atomic_load(&sched.gq_size));
	for (i = 0; i < sched.nprocs; i++)
		put(buf, n, &len, i ? " %u" : "%u", runqlen(&sched.allp[i]));
	put(buf, n, &len,
	    "] tasks=%llu steals=%llu parks=%llu wakes=%llu parker=%s poller=%s\n",
	    (unsigned long long)(spawned - exited),
	    (unsigned long long)steals,
	    (unsigned long long)atomic_load(&sched.worker_parks),
	    (unsigned long long)atomic_load(&sched.worker_wakes),
	    parker->name, poller ? poller->name : "none");
	return (int)len;
}

void schedtrace_tick(uint64_t now)
{
	uint64_t period = debug_opts.schedtrace_ns;
	char buf[1024];
	int len;

	if (!period)
		return;
	if (trace_run != debug_opts.start_ns) {
		trace_run = debug_opts.start_ns;
		next_trace = now;
	}
	if (now < next_trace)
		return;
	next_trace += period;
	if (next_trace <= now)
		next_trace = now + period;
	len = schedtrace_line(buf, sizeof(buf), now);
	if (len > 0 && write(STDERR_FILENO, buf, len) < 0)
		return;
}

long schedtrace_sleep(long ns, uint64_t now)
{
	if (!debug_opts.schedtrace_ns || trace_run != debug_opts.start_ns)
		return ns;
	if (next_trace <= now)
		return 0;
	return next_trace - now < (uint64_t)ns ? (long)(next_trace - now) : ns;
}
