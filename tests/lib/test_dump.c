// SPDX-License-Identifier: MIT
/*
 * test_dump.c - green_dump() and SIGQUIT: every task with its state, what
 * it waits on, its backtrace and its creator; a task running elsewhere is
 * named with its processor; SIGQUIT dumps and exits 2, or dumps and goes
 * on, or is left alone, as GREEN_DEBUG says.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "test_util.h"

struct dumps {
	green_chan_t *c;
	green_mutex_t mu;
	int pfd[2];
	char *text;		/* the dump, from a memstream */
	int ret;		/* green_dump's result */
	int results[4];
	green_wg_t wg;		/* the blocked tasks but the sleeper */
	bool complete;		/* every blocked task seen in its state */
	_Atomic bool stop;
	_Atomic int main_p;	/* main's processor */
	int spins;
};

/* Dump into a string; NULL if the stream cannot be had. */
static char *dump_string(int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	*ret = green_dump(f);
	fclose(f);
	return buf;
}

/* The entry of the task whose header contains @needle, in @text. */
static char *entry_of(const char *text, const char *needle, char *out,
		      size_t n)
{
	const char *at = strstr(text, needle), *start, *end;

	out[0] = 0;
	if (!at)
		return out;
	for (start = at; start > text && strncmp(start, "\ntask ", 6); start--)
		;
	end = strstr(at, "\ntask ");
	if (!end)
		end = at + strlen(at);
	snprintf(out, n, "%.*s", (int)(end - start), start);
	return out;
}

/*
 * Does @text have a backtrace line in function @fn ("\t#3  0x... fn+0x1c")?
 * (A task not started yet shows "starts at fn+0x0" instead.)
 */
static bool has_frame(const char *text, const char *fn)
{
	const char *at = text;
	char want[128];

	snprintf(want, sizeof(want), " %s+0x", fn);
	while (at && (at = strstr(at, want))) {
		const char *line = at;

		while (line > text && line[-1] != '\n')
			line--;
		if (!strncmp(line, "\t#", 2))
			return true;
		at++;
	}
	return false;
}

/* Yield until a dump shows a frame of @fn (at most about 5 s). */
static void wait_for(const char *fn)
{
	int i, ret;

	for (i = 0; i < 5000; i++) {
		char *t = dump_string(&ret);
		bool seen = t && has_frame(t, fn);

		free(t);
		if (seen)
			return;
		green_sleep(1000000);
	}
}

static __attribute__((noinline)) void recv_blocker(void *arg)
{
	struct dumps *d = arg;
	int v;

	d->results[0] = green_chan_recv(d->c, &v);
	green_wg_done(&d->wg);
}

static __attribute__((noinline)) void mutex_blocker(void *arg)
{
	struct dumps *d = arg;

	d->results[1] = green_mutex_lock(&d->mu);
	green_mutex_unlock(&d->mu);
	green_wg_done(&d->wg);
}

static __attribute__((noinline)) void sleeper(void *arg)
{
	struct dumps *d = arg;

	d->results[2] = green_sleep(60 * 1000000000LL);
}

static __attribute__((noinline)) void reader(void *arg)
{
	struct dumps *d = arg;
	char b;

	d->results[3] = (int)green_read(d->pfd[0], &b, 1);
	green_wg_done(&d->wg);
}

static void dump_main(void *arg)
{
	struct dumps *d = arg;
	int i, ret = 0;

	green_mutex_lock(&d->mu);
	green_wg_add(&d->wg, 3);
	green_go(recv_blocker, d);
	green_go(mutex_blocker, d);
	green_go(sleeper, d);
	green_go(reader, d);
	/* Until each shows up parked in its own state (at most ~5 s). */
	for (i = 0; i < 5000; i++) {
		char *t;

		green_sleep(1000000);
		t = dump_string(&ret);
		/* Each parked for good: its frames readable. */
		if (t && has_frame(t, "recv_blocker") &&
		    has_frame(t, "mutex_blocker") && has_frame(t, "sleeper") &&
		    has_frame(t, "reader")) {
			free(d->text);
			d->text = t;
			d->ret = ret;
			d->complete = true;
			break;
		}
		free(d->text);
		d->text = t;
		d->ret = ret;
	}
	green_mutex_unlock(&d->mu);
	green_chan_close(d->c);
	if (write(d->pfd[1], "x", 1) != 1)
		d->results[3] = -1;
	green_wg_wait(&d->wg);
}

TEST(every_task_with_state_object_backtrace_creator)
{
	struct dumps d = { 0 };
	char want[128], ent[8192];

	ASSERT_EQ(0, pipe(d.pfd));
	d.c = green_chan_make(sizeof(int), 0);
	ASSERT_NE(NULL, d.c);
	ASSERT_EQ(0, green_run(dump_main, &d));
	ASSERT_NE(NULL, d.text);
	EXPECT_TRUE(d.complete);
	if (!d.complete)
		fprintf(stderr, "%s", d.text);
	EXPECT_EQ(5, d.ret);

	/* The caller itself: running, with its own frames. */
	entry_of(d.text, "task 1 [running]", ent, sizeof(ent));
	EXPECT_NE(NULL, strstr(ent, "green_dump+"));
	EXPECT_NE(NULL, strstr(ent, "dump_main+"));
	EXPECT_NE(NULL, strstr(ent, "created by green_run"));

	snprintf(want, sizeof(want), "chan receive on %p, ", (void *)d.c);
	entry_of(d.text, want, ent, sizeof(ent));
	EXPECT_TRUE(has_frame(ent, "recv_blocker"));
	EXPECT_NE(NULL, strstr(ent, "chan_recv"));
	EXPECT_NE(NULL, strstr(ent, "created by task 1 at dump_main+"));

	snprintf(want, sizeof(want), "sync.Mutex.Lock on %p, ", (void *)&d.mu);
	entry_of(d.text, want, ent, sizeof(ent));
	EXPECT_TRUE(has_frame(ent, "mutex_blocker")) {
		fprintf(stderr, "%s\n", d.text);
	}

	entry_of(d.text, "[sleep, ", ent, sizeof(ent));
	EXPECT_TRUE(has_frame(ent, "sleeper"));
	EXPECT_NE(NULL, strstr(ent, " ms]:"));

	snprintf(want, sizeof(want), "IO wait (read) on fd %d, ", d.pfd[0]);
	entry_of(d.text, want, ent, sizeof(ent));
	EXPECT_TRUE(has_frame(ent, "reader"));

	/* Ordered by id, the runtime's summary line first. */
	EXPECT_NE(NULL, strstr(d.text, "libgreen: 5 tasks, "));
	EXPECT_NE(NULL, strstr(d.text, "SCHED "));
	EXPECT_TRUE(strstr(d.text, "\ntask 1 [") <
		    strstr(d.text, "\ntask 2 ["));

	/* The blocked tasks were not disturbed: each finished normally. */
	EXPECT_EQ(-EPIPE, d.results[0]);
	EXPECT_EQ(0, d.results[1]);
	EXPECT_EQ(1, d.results[3]);
	free(d.text);
	green_chan_free(d.c);
	close(d.pfd[0]);
	close(d.pfd[1]);
}

/*
 * The spinner gives way while it shares main's processor, and main's
 * spawns wake idle workers, which steal: soon they run on two.
 */
static __attribute__((noinline)) void spinner(void *arg)
{
	struct dumps *d = arg;
	int64_t end = green_now() + 5000000000LL;

	while (!atomic_load(&d->stop) && green_now() < end) {
		if (green_proc_id() == atomic_load(&d->main_p))
			green_yield();
		d->spins++;
	}
}

static void noop(void *arg)
{
}

/* A task running on another worker: its processor, no backtrace. */
static void running_main(void *arg)
{
	struct dumps *d = arg;
	int64_t end = green_now() + 5000000000LL;
	int ret;

	green_go(spinner, d);
	while (green_now() < end) {
		char *t, ent[4096], want[64];

		atomic_store(&d->main_p, green_proc_id());
		green_go(noop, NULL);
		green_yield();
		atomic_store(&d->main_p, green_proc_id());
		t = dump_string(&ret);
		if (!t)
			continue;
		snprintf(want, sizeof(want), "task 2 [running on P %d]",
			 !green_proc_id());
		entry_of(t, want, ent, sizeof(ent));
		if (ent[0] && strstr(ent, "no backtrace") &&
		    strstr(ent, "created by task 1 at running_main+")) {
			d->complete = true;
			free(t);
			break;
		}
		free(t);
	}
	atomic_store(&d->stop, true);
}

TEST(running_elsewhere_named_with_its_processor)
{
	struct dumps d = { 0 };

	setenv("GREEN_PROCS", "2", 1);
	ASSERT_EQ(0, green_run(running_main, &d));
	unsetenv("GREEN_PROCS");
	EXPECT_TRUE(d.complete);
}

static void errors_main(void *arg)
{
	int *r = arg;

	r[0] = green_dump(NULL);
	r[1] = green_preempt_check();	/* nothing asked */
}

TEST(bad_arguments_and_no_runtime)
{
	int r[2] = { 1, 1 };
	FILE *f = fopen("/dev/null", "w");

	ASSERT_NE(NULL, f);
	EXPECT_EQ(-EPERM, green_dump(f));
	EXPECT_EQ(-EINVAL, green_dump(NULL));
	EXPECT_EQ(0, green_preempt_check());
	ASSERT_EQ(0, green_run(errors_main, r));
	EXPECT_EQ(-EINVAL, r[0]);
	EXPECT_EQ(0, r[1]);
	fclose(f);
}

/* SIGQUIT in a child: the dump on stderr, then exit 2 (or going on). */
static __attribute__((noinline)) void quit_blocked(void *arg)
{
	volatile int r = green_chan_recv(arg, NULL);

	(void)r;
}

static pthread_t pinger;
static _Atomic bool pinger_stop;

static void *ping_sigquit(void *arg)
{
	int i;

	for (i = 0; i < 50 && !atomic_load(&pinger_stop); i++) {
		kill(getpid(), SIGQUIT);
		usleep(200000);
	}
	return NULL;
}

static void quit_main(void *arg)
{
	green_chan_t *c = green_chan_make(0, 0);

	green_go(quit_blocked, c);
	wait_for("quit_blocked");	/* parked, its frames readable */
	/*
	 * To this thread: TSan delivers a signal at a libc call, and an idle
	 * worker parked in a futex would hold it back. Valgrind may hold a
	 * signal back until its thread runs code again: a plain thread
	 * sends it until one gets through.
	 */
	if (under_valgrind())
		pthread_create(&pinger, NULL, ping_sigquit, NULL);
	else
		raise(SIGQUIT);
	/*
	 * sysmon dumps meanwhile, then exits (waiting out the longest sleep
	 * is a failure), or goes on with sigquit=dump (Valgrind runs it
	 * late; the sleep is its only sign).
	 */
	green_sleep(*(int64_t *)arg);
	if (under_valgrind()) {
		atomic_store(&pinger_stop, true);
		pthread_join(pinger, NULL);	/* before the handler goes */
	}
	green_chan_close(c);
	green_sleep(1000000);
	green_chan_free(c);
}

static int quit_child(void *arg)
{
	struct rlimit no_core = { 0, 0 };
	const char *dbg = getenv("GREEN_DEBUG");
	int64_t wait = 15000000000LL;

	if (dbg && strstr(dbg, "sigquit=dump"))
		wait = under_valgrind() ? 8000000000LL : 300000000;
	setrlimit(RLIMIT_CORE, &no_core);
	return green_run(quit_main, &wait) ? 1 : 0;
}

TEST(sigquit_dumps_and_exits_2)
{
	struct child_result r;

	run_child(&r, NULL, NULL, quit_child, NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(2, WEXITSTATUS(r.status));
	EXPECT_NE(NULL, strstr(r.err, "SIGQUIT: quit"));
	EXPECT_NE(NULL, strstr(r.err, "\ntask 1 [")) {
		fprintf(stderr, "%s\n", r.err);
	}
	EXPECT_NE(NULL, strstr(r.err, "chan receive on 0x"));
	EXPECT_TRUE(has_frame(r.err, "quit_blocked")) {
		fprintf(stderr, "%s\n", r.err);
	}
}

TEST(sigquit_dump_goes_on)
{
	struct child_result r;

	if (under_valgrind())
		SKIP(return, "Valgrind may hold the signal back until the end");

	run_child(&r, "GREEN_DEBUG", "chanpanic,sigquit=dump", quit_child,
		  NULL);
	ASSERT_TRUE(WIFEXITED(r.status));
	EXPECT_EQ(0, WEXITSTATUS(r.status));
	EXPECT_NE(NULL, strstr(r.err, "SIGQUIT: dump"));
	EXPECT_TRUE(has_frame(r.err, "quit_blocked")) {
		fprintf(stderr, "%s\n", r.err);
	}
}

TEST(nosigquit_leaves_it_alone)
{
	struct child_result r;

	run_child(&r, "GREEN_DEBUG", "nosigquit", quit_child, NULL);
	ASSERT_TRUE(WIFSIGNALED(r.status));
	EXPECT_EQ(SIGQUIT, WTERMSIG(r.status));
	EXPECT_EQ(NULL, strstr(r.err, "SIGQUIT"));
}

TEST(bad_debug_values_refused)
{
	static const char *const bad[] = {
		"sigquit=maybe", "deadlock=yes", "deadlockwait=-1",
		"schedtrace=abc", "schedtrace=", "x,schedtrace=9999999",
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct child_result r;

		run_child(&r, "GREEN_DEBUG", bad[i], quit_child, NULL);
		ASSERT_TRUE(WIFEXITED(r.status));
		EXPECT_EQ(1, WEXITSTATUS(r.status));
		EXPECT_NE(NULL, strstr(r.err, "GREEN_DEBUG="));
	}
}

TEST_HARNESS_MAIN
