// SPDX-License-Identifier: MIT
/*
 * test_poll_idle.c - an idle M that loses its P while on its way to sleep
 * in the P's poller is still woken, on every poller.
 *
 * An M leaving its P idle with I/O in flight waits in that P's poller
 * (sched.c poll_idle). Another M may take the P from it between its last
 * check and its sleep, and kicks the poller to tell it; with io_uring the
 * kick is a completion that the P's new holder can reap before the old M
 * sleeps. Nothing then wakes the old M, and the run cannot end: green_run
 * waits for every M (the CI's intermittent test_iofile timeout).
 *
 * The scene, built with the runtime's test hook: task A parks on a pipe
 * and its M, on its way to sleep, is held in that window; task B comes
 * out of a long marked call whose P sysmon took, so its M takes the first
 * idle P, A's, and wakes A there. A then ends the run, and the held M,
 * let go, must not sleep forever. Without the fix (a new kick while a P
 * counts such a sleeper) the io_uring variants hang here.
 *
 * In the second scene B naps before waking A, so that its M, now A's P's
 * poll_m, sleeps in the poller while the first M is still held, and
 * takes the kick meant for that one. It must pass it on: without that,
 * the epoll variant hangs (the CI's intermittent test_poll_idle timeout),
 * since the run's end kicks only the Ps that have a poll_m.
 */
#include <stdatomic.h>

#include "kselftest_harness.h"
#include "test_io_util.h"

/* libgreen's own (runtime.h): called before each idle M's poll wait. */
extern void (*sched_poll_wait_hook)(void);

/*
 * The hook holds the first M that reaches it once armed, in the window
 * between its last check and its sleep, until the test releases it (or
 * 300 ms pass).
 */
enum { HOOK_OFF, HOOK_ARMED, HOOK_HOLDING, HOOK_RELEASED };
static _Atomic int hook_state;
static _Atomic int hook_others;	/* other Ms that slept meanwhile */

static void hold_in_window(void)
{
	int armed = HOOK_ARMED;
	int64_t until = mono_ns() + 300 * MSEC;

	if (!atomic_compare_exchange_strong(&hook_state, &armed,
					    HOOK_HOLDING)) {
		if (armed == HOOK_HOLDING)
			atomic_fetch_add(&hook_others, 1);
		return;
	}
	while (atomic_load(&hook_state) == HOOK_HOLDING && mono_ns() < until)
		usleep(100);
}

IO_FIXTURE(poll_idle);

struct scene {
	int pipe[2];
	_Atomic int in_syscall;
	ssize_t rd, wr;
	int64_t nap;		/* B's sleep before it writes, ns */
	bool held;		/* the hook held an M in its window */
	green_wg_t wg;
};

/*
 * B: in a marked call long enough for sysmon to take its P, so that on
 * the way out its M takes the first idle P: A's, whose M the hook holds.
 * Then it wakes A through the pipe, on that P.
 */
static void b_main(void *arg)
{
	struct scene *s = arg;

	green_syscall_enter();
	atomic_store(&s->in_syscall, 1);
	usleep(30000);
	green_syscall_exit();
	if (s->nap)
		green_sleep(s->nap);
	s->wr = green_write(s->pipe[1], "x", 1);
	green_wg_done(&s->wg);
}

/* A (the main task): parks on the pipe once B's P is idle. */
static void a_main(void *arg)
{
	struct scene *s = arg;
	char c;

	green_wg_init(&s->wg);
	green_wg_add(&s->wg, 1);
	if (green_go(b_main, s)) {
		s->rd = -ENOMEM;
		return;
	}
	while (!atomic_load(&s->in_syscall))
		green_yield();
	green_sleep(5000000);	/* sysmon takes B's P meanwhile */
	atomic_store(&hook_state, HOOK_ARMED);
	s->rd = green_read(s->pipe[0], &c, 1);
	s->held = atomic_exchange(&hook_state, HOOK_RELEASED) ==
		  HOOK_HOLDING;
	green_wg_wait(&s->wg);
	/* The run ends now: the held M must wake to let it. */
}

/*
 * Play the scene @runs times, B napping @nap ns; count the runs where the
 * hook held an M, and those where another M slept meanwhile. Returns 0,
 * green_run's error, or -EIO when a read or write did not move its byte.
 */
static int play(long runs, int64_t nap, long *held, long *others)
{
	long n;

	setenv("GREEN_PROCS", "2", 1);
	sched_poll_wait_hook = hold_in_window;
	/* A sleeper nobody wakes hangs green_run: fail, not time out. */
	alarm(20);
	for (n = 0; n < runs; n++) {
		struct scene s = { .rd = -1, .wr = -1, .nap = nap };
		int ret;

		if (pipe2(s.pipe, O_CLOEXEC))
			return -errno;
		atomic_store(&hook_state, HOOK_OFF);
		atomic_store(&hook_others, 0);
		ret = green_run(a_main, &s);
		close(s.pipe[0]);
		close(s.pipe[1]);
		if (ret)
			return ret;
		if (s.rd != 1 || s.wr != 1)
			return -EIO;
		*held += s.held;
		*others += s.held && atomic_load(&hook_others) > 0;
	}
	alarm(0);
	sched_poll_wait_hook = NULL;
	unsetenv("GREEN_PROCS");
	return 0;
}

TEST_F(poll_idle, lost_processor_still_wakes_the_sleeper)
{
	long runs = scaled(20, 5), held = 0, others = 0;

	IO_RUN_EXPR(play(runs, 0, &held, &others));
	TH_LOG("%ld of %ld runs held an M in its window; all ended", held,
	       runs);
	/* The scene is what the test is about: it must have happened. */
	EXPECT_GT(held, 0);
}

TEST_F(poll_idle, next_sleeper_passes_the_kick_on)
{
	long runs = scaled(20, 5), held = 0, others = 0;

	IO_RUN_EXPR(play(runs, 2 * MSEC, &held, &others));
	TH_LOG("%ld of %ld runs held an M while another slept in its poller; all ended",
	       others, runs);
	EXPECT_GT(others, 0);
}

TEST_HARNESS_MAIN
