// SPDX-License-Identifier: MIT
/*
 * target.c - the program tests/gdb/run.sh debugs: task 1 parks four tasks
 * in known states, then calls gdb_stop_here() (a breakpoint), then lets
 * them go and exits.
 *
 *   task 2  recv_blocked   chan receive
 *   task 3  mutex_blocked  sync.Mutex.Lock
 *   task 4  sleeper        sleep
 *   task 5  pipe_reader    IO wait (read) on the pipe's read end
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "green.h"

static green_chan_t *chan;
static green_mutex_t mu = GREEN_MUTEX_INIT;
static green_wg_t wg = GREEN_WG_INIT;
static int pfd[2];
static volatile long sink;

__attribute__((noinline)) void gdb_stop_here(void)
{
	__asm__ __volatile__("" ::: "memory");
}

static __attribute__((noinline)) void recv_blocked(void *arg)
{
	int v = 0;

	sink = green_chan_recv(chan, &v);
	green_wg_done(&wg);
}

static __attribute__((noinline)) void mutex_blocked(void *arg)
{
	sink = green_mutex_lock(&mu);
	green_mutex_unlock(&mu);
	green_wg_done(&wg);
}

static __attribute__((noinline)) void sleeper(void *arg)
{
	sink = green_sleep(60 * 1000000000LL);
}

static __attribute__((noinline)) void pipe_reader(void *arg)
{
	char b;

	sink = green_read(pfd[0], &b, 1);
	green_wg_done(&wg);
}

/* Have all four parked: each one's frames show in a dump. */
static int all_parked(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ok;

	if (!f)
		return 0;
	green_dump(f);
	fclose(f);
	/* "\t#2  0x... sleeper+0x1c": a frame, not "starts at sleeper+0x0" */
	ok = strstr(buf, " recv_blocked+0x") &&
	     strstr(buf, " mutex_blocked+0x") && strstr(buf, " sleeper+0x") &&
	     strstr(buf, " pipe_reader+0x") && !strstr(buf, "starts at");
	free(buf);
	return ok;
}

static void main_task(void *arg)
{
	int i;

	green_mutex_lock(&mu);
	green_wg_add(&wg, 3);
	green_go(recv_blocked, NULL);
	green_go(mutex_blocked, NULL);
	green_go(sleeper, NULL);
	green_go(pipe_reader, NULL);
	for (i = 0; i < 5000 && !all_parked(); i++)
		green_sleep(1000000);
	printf("pipe fd %d, channel %p, mutex %p\n", pfd[0], (void *)chan,
	       (void *)&mu);
	fflush(stdout);
	if (getenv("TARGET_ABORT"))
		abort();	/* for a core dump by the kernel */
	gdb_stop_here();
	green_mutex_unlock(&mu);
	green_chan_close(chan);
	if (write(pfd[1], "x", 1) != 1)
		abort();
	green_wg_wait(&wg);
}

int main(void)
{
	int ret;

	if (pipe(pfd))
		return 1;
	chan = green_chan_make(sizeof(int), 0);
	ret = green_run(main_task, NULL);
	green_chan_free(chan);
	return ret ? 1 : 0;
}
