// SPDX-License-Identifier: GPL-2.0
/*
 * green_stress_test - many processes, many threads, park/wake/switch-to/
 * grant/kick and real blocks in loops, while the parent SIGKILLs children
 * at random.  Env: GREEN_STRESS_SCALE (default 1) scales the op target
 * (GREEN_STRESS_OPS, default 2,000,000) and the time cap (60 s).
 */
#include <sys/wait.h>

#include "green_util.h"
#include "kselftest_harness.h"

#define PROCS		3
#define THREADS		6

struct shared {
	atomic_ullong ops;		/* all ops, all children */
	atomic_ullong errors;		/* unexpected errnos */
	atomic_int last_err;
};

struct stress_thread {
	int fd;
	int id;
	unsigned int seed;
	struct shared *sh;
	unsigned int flags;
	atomic_int *stop;
};

static int expected_err(int ret)
{
	return ret >= 0 || ret == -ETIMEDOUT || ret == -ESRCH ||
	       ret == -EINTR || ret == -EBADF /* shut down */ ||
	       ret == -EINVAL /* switch_to self */;
}

static void *stress_fn(void *arg)
{
	struct stress_thread *t = arg;
	unsigned long long local = 0;
	uint32_t ids[4];
	int ret, r, i;

	t->id = g_register(t->fd, t->flags);
	if (t->id < 0) {
		atomic_fetch_add(&t->sh->errors, 1);
		atomic_store(&t->sh->last_err, t->id);
		return NULL;
	}
	while (!t->stop || !atomic_load(t->stop)) {
		r = rand_r(&t->seed) % 16;
		switch (r) {
		case 0 ... 3:
			ret = g_wake(t->fd, rand_r(&t->seed) % THREADS);
			break;
		case 4 ... 6:
			ret = g_park(t->fd, 200000,
				     r == 4 ? GREEN_PARK_SPARE : 0, NULL);
			break;
		case 7 ... 10:
			ret = g_switch_to(t->fd, rand_r(&t->seed) % THREADS,
					  200000, r == 7 ? GREEN_SWITCH_GRANT : 0);
			break;
		case 11:
			for (i = 0; i < 4; i++)
				ids[i] = rand_r(&t->seed) % (THREADS + 2);
			ret = g_wake_batch(t->fd, ids, 4);
			break;
		case 12:
			ret = g_grant(t->fd, rand_r(&t->seed) % THREADS);
			break;
		case 13:
			ret = g_kick(t->fd, rand_r(&t->seed) % THREADS);
			break;
		case 14:
			ret = usleep(1) ? -errno : 0;	/* a real block */
			break;
		default:
			ret = sched_yield();		/* not a block */
			break;
		}
		if (!expected_err(ret)) {
			atomic_fetch_add(&t->sh->errors, 1);
			atomic_store(&t->sh->last_err, ret);
		}
		if (++local == 64) {
			atomic_fetch_add(&t->sh->ops, local);
			local = 0;
		}
	}
	return NULL;
}

/* One child: a group, THREADS workers hammering it; exits when told. */
static void child(struct shared *sh, unsigned int seed, unsigned long long quota)
{
	struct stress_thread t[THREADS];
	unsigned long long start = atomic_load(&sh->ops);
	pthread_t th;
	int fd = g_open(), i;
	struct green_shm *shm;

	if (fd < 0)
		_exit(10);
	shm = g_map(fd);
	if (!shm)
		_exit(11);
	for (i = 0; i < THREADS; i++) {
		t[i] = (struct stress_thread){
			.fd = fd, .sh = sh, .seed = seed * 31 + i,
			.flags = (i % 3 == 0) ? GREEN_REG_HOLD :
				 (i % 3 == 1) ? GREEN_REG_NOTIFY : 0,
		};
		if (pthread_create(&th, NULL, stress_fn, &t[i]))
			_exit(12);
	}
	/* Run our share, then leave with everybody still inside. */
	while (atomic_load(&sh->ops) - start < quota)
		g_sleep_ms(20);
	if (seed & 1)
		close(fd);	/* wakes parked and held workers first */
	_exit(0);
}

FIXTURE(stress) {
	int unused;		/* the harness needs a field */
};

FIXTURE_SETUP(stress)
{
	if (!g_have_device())
		SKIP(_exit(255), "no " GREEN_DEVICE " (green.ko not loaded)");
}

FIXTURE_TEARDOWN(stress)
{
}

TEST_F_TIMEOUT(stress, random_ops_and_kills, 900)
{
	double scale = g_scale();
	const char *e = getenv("GREEN_STRESS_OPS");
	unsigned long long target = (e ? strtoull(e, NULL, 0) : 2000000) * scale;
	uint64_t deadline = g_now_ns() + (uint64_t)(60 * scale * 1e9);
	struct shared *sh;
	pid_t pids[PROCS] = { 0 };
	unsigned int seed = 1, spawned = 0, killed = 0, i;
	int status, fd;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));

	while (atomic_load(&sh->ops) < target && g_now_ns() < deadline) {
		for (i = 0; i < PROCS; i++) {
			if (pids[i]) {
				pid_t r = waitpid(pids[i], &status, WNOHANG);

				if (r == 0)
					continue;
				ASSERT_EQ(pids[i], r);
				if (WIFEXITED(status))
					EXPECT_EQ(0, WEXITSTATUS(status));
			}
			pids[i] = fork();
			ASSERT_LE(0, pids[i]);
			if (pids[i] == 0)
				child(sh, seed, target / 8);
			seed++;
			spawned++;
		}
		g_sleep_ms(20 + rand_r(&seed) % 200);
		i = rand_r(&seed) % PROCS;
		if (rand_r(&seed) % 2 && pids[i]) {
			kill(pids[i], SIGKILL);
			ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
			pids[i] = 0;
			killed++;
		}
	}
	for (i = 0; i < PROCS; i++) {
		if (!pids[i])
			continue;
		kill(pids[i], SIGKILL);
		waitpid(pids[i], &status, 0);
	}
	TH_LOG("%llu ops (target %llu), %u processes, %u killed, %llu errors",
	       (unsigned long long)atomic_load(&sh->ops), target, spawned,
	       killed, (unsigned long long)atomic_load(&sh->errors));
	printf("# stress: %llu ops, %u processes, %u SIGKILLed\n",
	       (unsigned long long)atomic_load(&sh->ops), spawned, killed);
	EXPECT_EQ(0, atomic_load(&sh->errors)) {
		TH_LOG("last unexpected error %d", atomic_load(&sh->last_err));
	}
	EXPECT_LT(0, atomic_load(&sh->ops));
	/* the device still works */
	fd = g_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, g_register(fd, 0));
	EXPECT_EQ(0, g_unregister(fd));
	close(fd);
}

/* Threads that register, block and exit, racing with close(). */
TEST_F_TIMEOUT(stress, register_exit_churn, 300)
{
	int round, rounds = 20 * g_scale();
	atomic_int stop;

	for (round = 0; round < rounds; round++) {
		struct stress_thread t[THREADS];
		struct shared sh = { 0 };
		pthread_t th[THREADS];
		int fd = g_open(), i;

		ASSERT_LE(0, fd);
		atomic_store(&stop, 0);
		for (i = 0; i < THREADS; i++) {
			t[i] = (struct stress_thread){ .fd = fd, .sh = &sh,
				.seed = round * 7 + i, .stop = &stop,
				.flags = i & 1 ? GREEN_REG_HOLD : 0 };
			ASSERT_EQ(0, pthread_create(&th[i], NULL, stress_fn,
						    &t[i]));
		}
		g_sleep_ms(30);
		close(fd);	/* parked and held workers wake with EBADF */
		atomic_store(&stop, 1);
		for (i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
	}
}

TEST_HARNESS_MAIN
