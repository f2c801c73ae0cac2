// SPDX-License-Identifier: GPL-2.0
/*
 * green_lifetime_test - threads exiting while registered or parked, kill -9
 * of a process with parked workers, the fd closed from another thread,
 * exec by a registered thread, rmmod refused while the device is open.
 */
#include <sys/wait.h>

#include "green_util.h"
#include "kselftest_harness.h"

FIXTURE(life) {
	int fd;			/* the group */
};

FIXTURE_SETUP(life)
{
	if (!g_have_device())
		SKIP(_exit(255), "no " GREEN_DEVICE " (green.ko not loaded)");
	self->fd = g_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(life)
{
	close(self->fd);
}

static int nr_workers(int fd)
{
	struct green_group_stats st;

	return g_stats(fd, &st) ? -1 : (int)st.nr_workers;
}

/* Wait up to 2 s for the group to have @n workers. */
static int wait_workers(int fd, int n)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (nr_workers(fd) == n)
			return 1;
		usleep(10000);
	}
	return 0;
}

struct th_arg {
	int fd;
	unsigned int flags;
	int park;		/* park forever before returning */
	atomic_int ready;
	int id;
	int ret;
};

static void *exit_registered_fn(void *arg)
{
	struct th_arg *a = arg;

	a->id = g_register(a->fd, a->flags);
	atomic_store(&a->ready, 1);
	if (a->park)
		a->ret = g_park(a->fd, 0, GREEN_PARK_SPARE, NULL);
	return NULL;	/* exits still registered */
}

TEST_F(life, thread_exit_while_registered)
{
	struct th_arg a[32];
	pthread_t th[32];
	int i, round;

	for (round = 0; round < 4; round++) {
		for (i = 0; i < 32; i++) {
			memset(&a[i], 0, sizeof(a[i]));
			a[i].fd = self->fd;
			a[i].flags = (i % 3 == 0) ? GREEN_REG_HOLD :
				     (i % 3 == 1) ? GREEN_REG_NOTIFY : 0;
			ASSERT_EQ(0, pthread_create(&th[i], NULL,
						    exit_registered_fn, &a[i]));
		}
		for (i = 0; i < 32; i++) {
			pthread_join(th[i], NULL);
			EXPECT_LE(0, a[i].id);
		}
		/* the ids come back once the dead tasks are reaped */
		EXPECT_TRUE(wait_workers(self->fd, 0));
	}
}

static __thread int exit_from_handler;

static void exit_handler(int sig)
{
	/* raw thread exit: pthread_exit would unwind through the handler */
	if (exit_from_handler)
		syscall(SYS_exit, 0);
}

/*
 * Eight threads register (NOTIFY, not HOLD: they park as spares and nobody
 * grants, so a HOLD worker that blocked on, say, mmap_lock while another
 * spare took its CPU would rightly stay held), park, and get SIGUSR2,
 * which makes them exit as @fn arranges; every registration must go.
 */
static void park_then_exit(struct __test_metadata *_metadata, int fd,
			   void *(*fn)(void *), bool check_registered)
{
	struct sigaction sa = { .sa_handler = exit_handler };
	struct th_arg a[8];
	pthread_t th[8];
	int i;

	sigaction(SIGUSR2, &sa, NULL);
	for (i = 0; i < 8; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].fd = fd;
		a[i].park = 1;
		a[i].flags = GREEN_REG_NOTIFY;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, fn, &a[i]));
	}
	for (i = 0; i < 8; i++)
		ASSERT_TRUE(g_wait_for(&a[i].ready, 5000));
	if (check_registered)
		EXPECT_TRUE(wait_workers(fd, 8));
	g_sleep_ms(50);
	for (i = 0; i < 8; i++)
		pthread_kill(th[i], SIGUSR2);
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	EXPECT_TRUE(wait_workers(fd, 0));
}

/* Half return from park with EINTR, half die inside the handler. */
TEST_F(life, thread_exit_while_parked)
{
	park_then_exit(_metadata, self->fd, exit_registered_fn, true);
}

static void *exit_in_handler_fn(void *arg)
{
	exit_from_handler = 1;
	return exit_registered_fn(arg);
}

TEST_F(life, thread_exit_from_signal_while_parked)
{
	park_then_exit(_metadata, self->fd, exit_in_handler_fn, false);
}

/* A child process with parked, held and blocked workers is SIGKILLed. */
TEST(kill9_with_parked_workers)
{
	int round;

	if (!g_have_device())
		SKIP(return, "no " GREEN_DEVICE);
	for (round = 0; round < 10; round++) {
		int ready[2], pfd[2], status;
		pid_t pid;
		char c;

		ASSERT_EQ(0, pipe(ready));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			int fd = g_open(), i;
			struct th_arg a[8];
			pthread_t th;

			if (fd < 0 || g_map(fd) == NULL || pipe(pfd))
				_exit(1);
			for (i = 0; i < 8; i++) {
				memset(&a[i], 0, sizeof(a[i]));
				a[i].fd = fd;
				a[i].park = i < 6;
				a[i].flags = i & 1 ? GREEN_REG_HOLD : 0;
				pthread_create(&th, NULL, exit_registered_fn,
					       &a[i]);
				while (!atomic_load(&a[i].ready))
					usleep(100);
			}
			/* the main thread blocks as a HOLD worker */
			g_register(fd, GREEN_REG_HOLD);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			read(pfd[0], &c, 1);
			_exit(2);
		}
		close(ready[1]);
		ASSERT_EQ(1, read(ready[0], &c, 1));
		close(ready[0]);
		usleep(round * 2000);
		kill(pid, SIGKILL);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status));
	}
	/* the device still works */
	int fd = g_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, g_register(fd, 0));
	EXPECT_EQ(0, g_unregister(fd));
	close(fd);
}

/* Closing the fd from another thread wakes parked workers with EBADF. */
TEST_F(life, close_from_other_thread)
{
	struct th_arg a[4];
	pthread_t th[4];
	int i;

	for (i = 0; i < 4; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].fd = self->fd;
		a[i].park = 1;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, exit_registered_fn,
					    &a[i]));
	}
	for (i = 0; i < 4; i++)
		ASSERT_TRUE(g_wait_for(&a[i].ready, 5000));
	g_sleep_ms(50);
	EXPECT_EQ(0, close(self->fd));
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(-EBADF, a[i].ret);
	}
	self->fd = -1;
}

/* Worker registered, then its process execs: dropped, no hooks left. */
TEST(exec_while_registered)
{
	int status, fd;
	pid_t pid;

	if (!g_have_device())
		SKIP(return, "no " GREEN_DEVICE);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		fd = open(GREEN_DEVICE, O_RDWR);	/* no O_CLOEXEC */
		if (fd < 0 || g_register(fd, GREEN_REG_HOLD) < 0)
			_exit(1);
		setenv("GREEN_EXEC_CHILD", "1", 1);
		execl("/proc/self/exe", "green_lifetime_test", NULL);
		_exit(3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* rmmod is refused while a group exists. */
TEST_F(life, rmmod_refused_while_open)
{
	int ret;

	if (geteuid())
		SKIP(return, "not root");
	ret = syscall(SYS_delete_module, "green", O_NONBLOCK);
	if (ret && errno == ENOENT)
		SKIP(return, "green is built in or not a module");
	ASSERT_EQ(-1, ret);
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
	EXPECT_EQ(0, g_register(self->fd, 0));
	EXPECT_EQ(0, g_unregister(self->fd));
}

/* After exec, the child runs this: an unrelated program, blocking a bit. */
static void __attribute__((constructor)) exec_child(void)
{
	int fd;

	if (!getenv("GREEN_EXEC_CHILD"))
		return;
	usleep(10000);	/* blocks: the notifier must detach, not hold */
	usleep(10000);
	fd = g_open();
	if (fd < 0)
		_exit(4);
	/* the inherited registration is gone: we can register anew */
	_exit(g_register(fd, 0) == 0 ? 0 : 5);
}

TEST_HARNESS_MAIN
