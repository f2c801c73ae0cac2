// SPDX-License-Identifier: MIT
/*
 * test_deadlock.c - "all tasks are asleep - deadlock!": reported with a
 * dump and exit status 2 when every task is blocked for good, on one
 * processor or several, on channels or mutexes; reported and survived
 * with deadlock=continue; never reported while a timer, I/O, a blocking
 * call or a thread outside the runtime can still wake a task.
 *
 * Every case runs in a child process with an alarm, so a detector that
 * misses makes the test fail, not hang.
 */
#include <pthread.h>
#include <time.h>

#include "kselftest_harness.h"
#include "test_util.h"

#define SEC 1000000000LL

static __attribute__((noinline)) void recv_forever(void *arg)
{
	volatile int r = green_chan_recv(arg, NULL);

	(void)r;
}

/* Channels of the children, freed once green_run has returned. */
static green_chan_t *ca, *cb;

/* Main and a second task both wait on channels nobody sends to. */
static void chan_main(void *arg)
{
	volatile int r;

	green_go(recv_forever, ca);
	r = green_chan_recv(cb, NULL);
	(void)r;
}

static int run_in_child(void *arg)
{
	int ret;

	alarm(under_valgrind() ? 25 : 10);
	ca = green_chan_make(0, 0);
	cb = green_chan_make(0, 0);
	ret = green_run(arg, NULL) ? 1 : 0;
	green_chan_free(ca);
	green_chan_free(cb);
	return ret;
}

static void expect_deadlock(struct __test_metadata *_metadata,
			    const char *procs, void (*fn)(void *))
{
	struct child_result r;
	int64_t t0 = mono_ns();

	setenv("GREEN_PROCS", procs, 1);
	run_child(&r, "GREEN_DEBUG", "deadlockwait=50", run_in_child, fn);
	unsetenv("GREEN_PROCS");
	ASSERT_TRUE(WIFEXITED(r.status)) {
		fprintf(stderr, "%s\n", r.err);
	}
	EXPECT_EQ(2, WEXITSTATUS(r.status));
	EXPECT_NE(NULL, strstr(r.err,
		"libgreen: fatal error: all tasks are asleep - deadlock!\n"));
	EXPECT_NE(NULL, strstr(r.err, "\ntask 1 ["));
	EXPECT_LT(mono_ns() - t0, (under_valgrind() ? 25 : 5) * SEC);
}

TEST(channels_one_processor)
{
	struct child_result r;

	expect_deadlock(_metadata, "1", chan_main);
	setenv("GREEN_PROCS", "1", 1);
	run_child(&r, "GREEN_DEBUG", "deadlockwait=50", run_in_child,
		  chan_main);
	unsetenv("GREEN_PROCS");
	EXPECT_NE(NULL, strstr(r.err, "task 1 [chan receive on 0x"));
	EXPECT_NE(NULL, strstr(r.err, "task 2 [chan receive on 0x"));
	EXPECT_NE(NULL, strstr(r.err, "recv_forever+"));
}

TEST(channels_four_processors)
{
	expect_deadlock(_metadata, "4", chan_main);
}

/* The classic: two tasks take two mutexes in opposite orders. */
struct locks {
	green_mutex_t a, b;
	green_wg_t wg, both;
};

static void ab(void *arg)
{
	struct locks *l = arg;

	green_mutex_lock(&l->a);
	green_wg_done(&l->both);
	green_wg_wait(&l->both);
	green_mutex_lock(&l->b);
	green_wg_done(&l->wg);
}

static void ba(void *arg)
{
	struct locks *l = arg;

	green_mutex_lock(&l->b);
	green_wg_done(&l->both);
	green_wg_wait(&l->both);
	green_mutex_lock(&l->a);
	green_wg_done(&l->wg);
}

static void mutex_main(void *arg)
{
	static struct locks l;

	green_wg_add(&l.wg, 2);
	green_wg_add(&l.both, 2);
	green_go(ab, &l);
	green_go(ba, &l);
	green_wg_wait(&l.wg);
}

TEST(mutexes_in_opposite_order)
{
	struct child_result r;

	expect_deadlock(_metadata, "2", mutex_main);
	setenv("GREEN_PROCS", "2", 1);
	run_child(&r, "GREEN_DEBUG", "deadlockwait=50", run_in_child,
		  mutex_main);
	unsetenv("GREEN_PROCS");
	EXPECT_NE(NULL, strstr(r.err, "[sync.Mutex.Lock on 0x"));
}

/*
 * Main waits on a channel that a plain thread feeds after @delay_ms: a
 * wake from outside the runtime, which it cannot foresee.
 */
struct feed {
	green_chan_t *c;
	int delay_ms;
	int pfd[2];
	bool pipe;
};

static void *feeder(void *arg)
{
	struct feed *f = arg;
	int v = 7;

	usleep(f->delay_ms * 1000);
	if (f->pipe)
		return write(f->pfd[1], "x", 1) == 1 ? NULL : arg;
	return green_chan_send(f->c, &v) ? arg : NULL;
}

static struct feed feed;

static void fed_main(void *arg)
{
	pthread_t t;
	int v = 0;

	if (pthread_create(&t, NULL, feeder, &feed))
		return;
	if (feed.pipe) {
		char b;

		v = (int)green_read(feed.pfd[0], &b, 1) == 1 ? 7 : -1;
	} else {
		green_chan_recv(feed.c, &v);
	}
	pthread_join(t, NULL);
	if (v != 7)
		abort();
}

static int fed_child(void *arg)
{
	int ret;

	feed.c = green_chan_make(sizeof(int), 1);
	feed.delay_ms = 300;
	feed.pipe = arg != NULL;
	if (pipe(feed.pfd))
		return 1;
	ret = run_in_child(fed_main);
	green_chan_free(feed.c);
	return ret;
}

TEST(continue_reports_and_goes_on)
{
	struct child_result r;

	run_child(&r, "GREEN_DEBUG", "deadlock=continue,deadlockwait=50",
		  fed_child, NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_NE(NULL, strstr(r.err,
		"all tasks are asleep - deadlock! (GREEN_DEBUG=deadlock=continue"));
	EXPECT_EQ(NULL, strstr(r.err, "fatal error"));
	EXPECT_NE(NULL, strstr(r.err, "task 1 [chan receive"));
}

TEST(outside_thread_within_deadlockwait_is_no_deadlock)
{
	struct child_result r;

	/* Default wait (1 s): the thread's send 300 ms later is in time. */
	run_child(&r, NULL, NULL, fed_child, NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "asleep - deadlock"));
}

TEST(off_never_reports)
{
	struct child_result r;

	run_child(&r, "GREEN_DEBUG", "deadlock=off,deadlockwait=0", fed_child,
		  NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "asleep - deadlock"));
}

TEST(io_in_flight_is_no_deadlock)
{
	struct child_result r;

	run_child(&r, "GREEN_DEBUG", "deadlockwait=0", fed_child, &r);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "asleep - deadlock"));
	/* The epoll backend's waits count as I/O in flight too. */
	setenv("GREEN_POLLER", "epoll", 1);
	run_child(&r, "GREEN_DEBUG", "deadlockwait=0", fed_child, &r);
	unsetenv("GREEN_POLLER");
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "asleep - deadlock"));
}

/* A timer pending, or a task in a blocking call: no deadlock either. */
static void sleep_main(void *arg)
{
	green_go(recv_forever, ca);
	green_sleep(300000000);
}

static void syscall_main(void *arg)
{
	int pfd[2];
	char b;

	if (pipe(pfd))
		abort();
	green_go(recv_forever, ca);
	if (fork() == 0) {
		usleep(300000);
		_exit(write(pfd[1], "x", 1) == 1 ? 0 : 1);
	}
	green_syscall_enter();
	if (read(pfd[0], &b, 1) != 1)
		abort();
	green_syscall_exit();
	close(pfd[0]);
	close(pfd[1]);
}

TEST(timer_or_blocking_call_is_no_deadlock)
{
	struct child_result r;

	run_child(&r, "GREEN_DEBUG", "deadlockwait=0", run_in_child,
		  sleep_main);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "asleep - deadlock"));
	run_child(&r, "GREEN_DEBUG", "deadlockwait=0", run_in_child,
		  syscall_main);
	ASSERT_TRUE(WIFEXITED(r.status)) {
		TH_LOG("killed by signal %d: %s", WTERMSIG(r.status), r.err);
	}
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "asleep - deadlock"));
}

TEST_HARNESS_MAIN
