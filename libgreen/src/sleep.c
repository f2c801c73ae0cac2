// SPDX-License-Identifier: MIT
/*
 * sleep.c - green_now, green_sleep and per-task deadlines. A sleep is a
 * wait (wait.h) that only its deadline ends: one timer in the P's heap,
 * no kernel object, so 100k sleepers cost 100k heap slots.
 */
#include <errno.h>
#include <time.h>

#include "green.h"
#include "runtime.h"
#include "wait.h"

int64_t green_now(void)
{
	return (int64_t)now_ns();
}

int green_sleep_until(int64_t deadline)
{
	struct g *g = g_current();
	uint64_t token;
	int code;

	if (!g) {
		struct timespec ts = { deadline / 1000000000,
				       deadline % 1000000000 };

		if (deadline <= 0)
			return 0;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
		return 0;
	}
	if (deadline <= green_now()) {
		green_yield();
		return 0;
	}
	token = wait_arm(g, WR_SLEEP, NULL);
	code = wait_park(g, token, NULL, deadline);
	/* Our own deadline ending the sleep is the sleep done, unless the
	 * task's deadline or its context came first. */
	if (code == -ETIMEDOUT && green_now() >= deadline &&
	    (!g->deadline || g->deadline >= deadline))
		return 0;
	return code;
}

int green_sleep(int64_t ns)
{
	if (ns <= 0) {
		green_yield();
		return 0;
	}
	return green_sleep_until(green_now() + ns);
}

int64_t green_deadline_set(int64_t deadline)
{
	struct g *g = g_current();
	int64_t old;

	if (!g)
		return -EPERM;
	old = g->deadline;
	g->deadline = deadline > 0 ? deadline : 0;
	return old;
}

int64_t green_deadline(void)
{
	struct g *g = g_current();

	return g ? g->deadline : 0;
}
