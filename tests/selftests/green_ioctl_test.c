// SPDX-License-Identifier: GPL-2.0
/*
 * green_ioctl_test - every /dev/green ioctl and every bad input: sizes,
 * pointers, reserved fields, flags, ids, timeouts, foreign processes.
 */
#include <dirent.h>
#include <sys/wait.h>

#include "green_util.h"
#include "kselftest_harness.h"

FIXTURE(green) {
	int fd;			/* a fresh group */
};

FIXTURE_SETUP(green)
{
	if (!g_have_device())
		SKIP(_exit(255), "no " GREEN_DEVICE " (green.ko not loaded)");
	self->fd = g_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(green)
{
	EXPECT_EQ(0, close(self->fd));
}

TEST_F(green, version)
{
	struct green_version v = { .size = sizeof(v) };

	ASSERT_EQ(0, g_ioctl(self->fd, GREEN_IOC_VERSION, &v));
	EXPECT_EQ(GREEN_ABI_VERSION, v.abi_version);
	EXPECT_EQ((1ULL << GREEN_CMD_MAX) - 1, v.ioctls);
	EXPECT_TRUE(v.features & GREEN_FEAT_PARK);
	EXPECT_TRUE(v.features & GREEN_FEAT_SWITCH_TO);
	EXPECT_TRUE(v.features & GREEN_FEAT_BLOCK_NOTIFY);
	EXPECT_TRUE(v.features & GREEN_FEAT_HOLD);
	EXPECT_TRUE(v.features & GREEN_FEAT_WAIT_SPARE);
	EXPECT_EQ(GREEN_MAX_WORKERS, v.max_workers);
	EXPECT_EQ(GREEN_SHM_SIZE, v.shm_size);
}

TEST_F(green, sizes)
{
	struct {
		struct green_version v;
		char tail[64];
	} big;
	char huge[8192];

	memset(&big, 0, sizeof(big));
	big.v.size = sizeof(big);
	EXPECT_EQ(0, g_ioctl(self->fd, GREEN_IOC_VERSION, &big));
	EXPECT_EQ(GREEN_ABI_VERSION, big.v.abi_version);
	big.tail[10] = 1;
	EXPECT_EQ(-E2BIG, g_ioctl(self->fd, GREEN_IOC_VERSION, &big));
	big.v.size = sizeof(big.v) - 8;
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_VERSION, &big));
	big.v.size = 0;
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_VERSION, &big));
	memset(huge, 0, sizeof(huge));
	*(uint32_t *)huge = sizeof(huge);
	EXPECT_EQ(-E2BIG, g_ioctl(self->fd, GREEN_IOC_VERSION, huge));

	/* Same rules for every struct. */
	struct green_register r = { .size = 4 };

	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_REGISTER, &r));
	struct green_park p = { .size = 8 };

	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_PARK, &p));
	struct green_wake w = { .size = 4 };

	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_WAKE, &w));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_KICK, &w));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_GRANT, &w));
	struct green_switch_to s = { .size = 16 };

	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_SWITCH_TO, &s));
	struct green_wake_batch b = { .size = 8 };

	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_WAKE_BATCH, &b));
	struct green_unregister u = { .size = 2 };

	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_UNREGISTER, &u));
}

TEST_F(green, bad_pointers)
{
	unsigned long cmds[] = {
		GREEN_IOC_VERSION, GREEN_IOC_REGISTER, GREEN_IOC_UNREGISTER,
		GREEN_IOC_PARK, GREEN_IOC_WAKE, GREEN_IOC_WAKE_BATCH,
		GREEN_IOC_SWITCH_TO, GREEN_IOC_KICK, GREEN_IOC_GRANT,
		GREEN_IOC_STATS,
	};
	void *unmapped = mmap(NULL, 4096, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i;

	ASSERT_NE(MAP_FAILED, unmapped);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(-EFAULT, g_ioctl(self->fd, cmds[i], NULL));
		EXPECT_EQ(-EFAULT, g_ioctl(self->fd, cmds[i], unmapped));
		EXPECT_EQ(-EFAULT, g_ioctl(self->fd, cmds[i],
					   (void *)0xffff800000000000ULL));
	}
	munmap(unmapped, 4096);
}

TEST_F(green, struct_straddles_unmapped)
{
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct green_version *v;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + 4096, 4096));
	v = (void *)(p + 4096 - 8);
	v->size = sizeof(*v);
	EXPECT_EQ(-EFAULT, g_ioctl(self->fd, GREEN_IOC_VERSION, v));
	munmap(p, 4096);
}

TEST_F(green, unknown_ioctls)
{
	char buf[64] = { 0 };

	EXPECT_EQ(-ENOTTY, g_ioctl(self->fd, _IO(GREEN_TYPE, GREEN_CMD_MAX), buf));
	EXPECT_EQ(-ENOTTY, g_ioctl(self->fd, _IO(GREEN_TYPE, 0xff), buf));
	EXPECT_EQ(-ENOTTY, g_ioctl(self->fd, _IO('x', 1), buf));
	EXPECT_EQ(-ENOTTY, g_ioctl(self->fd, _IOWR(GREEN_TYPE, 0, int), buf));
	EXPECT_EQ(-ENOTTY, g_ioctl(self->fd, _IOR(GREEN_TYPE, 3, long), buf));
}

TEST_F(green, reserved_and_flags)
{
	struct green_version v = { .size = sizeof(v), .reserved = 1 };
	struct green_register r = { .size = sizeof(r), .reserved = 1 };
	struct green_unregister u = { .size = sizeof(u), .reserved = 1 };
	struct green_park p = { .size = sizeof(p), .reserved = 1 };
	struct green_switch_to s = { .size = sizeof(s), .reserved = 1 };
	uint32_t id = 0;
	struct green_wake_batch b = { .size = sizeof(b), .count = 1,
				      .ids = (uintptr_t)&id, .reserved = 1 };
	struct green_wake w = { .size = sizeof(w), .reserved = 1 };

	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_VERSION, &v));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_REGISTER, &r));
	r.reserved = 0;
	r.flags = 1u << 7;
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_REGISTER, &r));
	r.flags = GREEN_REG_WAIT_SPARE;		/* needs HOLD */
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_REGISTER, &r));
	r.flags = GREEN_REG_NOTIFY | GREEN_REG_WAIT_SPARE;
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_REGISTER, &r));
	ASSERT_EQ(0, g_register(self->fd, 0));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_UNREGISTER, &u));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_PARK, &p));
	p.reserved = 0;
	p.flags = 1u << 5;
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_PARK, &p));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_SWITCH_TO, &s));
	s.reserved = 0;
	s.flags = 1u << 20;
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_SWITCH_TO, &s));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_WAKE_BATCH, &b));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_WAKE, &w));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_GRANT, &w));
	w.reserved = 0;
	w.flags = GREEN_GRANT_BLOCKS;		/* GRANT's only */
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_WAKE, &w));
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_KICK, &w));
	w.flags = 1u << 1;
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_GRANT, &w));
	/* The first version of the struct, without flags and blocks. */
	w.flags = 0;
	w.size = GREEN_WAKE_SIZE_VER0;
	EXPECT_EQ(0, g_ioctl(self->fd, GREEN_IOC_WAKE, &w));
	EXPECT_EQ(0, g_ioctl(self->fd, GREEN_IOC_GRANT, &w));
	EXPECT_EQ(0, g_unregister(self->fd));
}

TEST_F(green, register_unregister)
{
	int fd2 = g_open();

	ASSERT_LE(0, fd2);
	EXPECT_EQ(-ENOENT, g_unregister(self->fd));
	ASSERT_EQ(0, g_register(self->fd, 0));
	EXPECT_EQ(-EEXIST, g_register(self->fd, 0));
	EXPECT_EQ(-EBUSY, g_register(fd2, 0));
	EXPECT_EQ(-ENOENT, g_unregister(fd2));
	EXPECT_EQ(0, g_unregister(self->fd));
	EXPECT_EQ(-ENOENT, g_unregister(self->fd));
	/* now free to join the other group, and ids are reused */
	EXPECT_EQ(0, g_register(fd2, GREEN_REG_NOTIFY));
	EXPECT_EQ(0, g_unregister(fd2));
	EXPECT_EQ(0, g_register(self->fd, GREEN_REG_HOLD));
	EXPECT_EQ(0, g_unregister(self->fd));
	close(fd2);
}

struct reg_many {
	int fd;
	pthread_barrier_t *bar;
	int id;
};

static void *reg_many_fn(void *arg)
{
	struct reg_many *r = arg;

	r->id = g_register(r->fd, 0);
	pthread_barrier_wait(r->bar);	/* all registered */
	pthread_barrier_wait(r->bar);	/* main checked */
	if (r->id >= 0)
		g_unregister(r->fd);
	return NULL;
}

TEST_F(green, max_workers)
{
	static struct reg_many r[GREEN_MAX_WORKERS];
	static pthread_t th[GREEN_MAX_WORKERS];
	pthread_barrier_t bar;
	struct green_group_stats st;
	int i, seen[GREEN_MAX_WORKERS] = { 0 };

	pthread_barrier_init(&bar, NULL, GREEN_MAX_WORKERS + 1);
	for (i = 0; i < GREEN_MAX_WORKERS; i++) {
		r[i].fd = self->fd;
		r[i].bar = &bar;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, reg_many_fn, &r[i]));
	}
	pthread_barrier_wait(&bar);
	for (i = 0; i < GREEN_MAX_WORKERS; i++) {
		ASSERT_LE(0, r[i].id);
		ASSERT_GT(GREEN_MAX_WORKERS, r[i].id);
		EXPECT_EQ(0, seen[r[i].id]);
		seen[r[i].id] = 1;
	}
	EXPECT_EQ(-ENOSPC, g_register(self->fd, 0));
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_EQ(GREEN_MAX_WORKERS, st.nr_workers);
	pthread_barrier_wait(&bar);
	for (i = 0; i < GREEN_MAX_WORKERS; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_EQ(0, st.nr_workers);
}

TEST_F(green, park_timeouts)
{
	uint64_t t0;

	EXPECT_EQ(-ENOENT, g_park(self->fd, MS, 0, NULL));
	ASSERT_EQ(0, g_register(self->fd, 0));
	t0 = g_now_ns();
	EXPECT_EQ(-ETIMEDOUT, g_park(self->fd, 20 * MS, 0, NULL));
	EXPECT_LE(20 * MS, g_now_ns() - t0);
	EXPECT_EQ(-ETIMEDOUT, g_park(self->fd, 1, 0, NULL));
	EXPECT_EQ(-EINVAL, g_park(self->fd, GREEN_TIMEOUT_MAX_NS + 1, 0, NULL));
	EXPECT_EQ(-EINVAL, g_park(self->fd, ~0ULL, 0, NULL));
	EXPECT_EQ(-EINVAL, g_switch_to(self->fd, 0, ~0ULL, 0));
	EXPECT_EQ(0, g_unregister(self->fd));
}

TEST_F(green, wake_before_park)
{
	int id;

	ASSERT_LE(0, id = g_register(self->fd, 0));
	EXPECT_EQ(0, g_wake(self->fd, id));
	EXPECT_EQ(0, g_wake(self->fd, id));	/* tokens coalesce */
	EXPECT_EQ(GREEN_WOKEN_WAKE, g_park(self->fd, 0, 0, NULL));
	EXPECT_EQ(-ETIMEDOUT, g_park(self->fd, MS, 0, NULL));
	/* unregister drops a pending token */
	EXPECT_EQ(0, g_wake(self->fd, id));
	EXPECT_EQ(0, g_unregister(self->fd));
	ASSERT_LE(0, id = g_register(self->fd, 0));
	EXPECT_EQ(-ETIMEDOUT, g_park(self->fd, MS, 0, NULL));
	EXPECT_EQ(0, g_unregister(self->fd));
}

TEST_F(green, bad_ids)
{
	uint32_t bad[] = { 0, 5, GREEN_MAX_WORKERS, 0xffffffffu };
	unsigned int i;

	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-ESRCH, g_wake(self->fd, bad[i]));
		EXPECT_EQ(-ESRCH, g_kick(self->fd, bad[i]));
		EXPECT_EQ(-ESRCH, g_grant(self->fd, bad[i]));
	}
	EXPECT_EQ(0, g_wake_batch(self->fd, bad, 4));
	ASSERT_EQ(0, g_register(self->fd, 0));
	for (i = 1; i < 4; i++)
		EXPECT_EQ(-ESRCH, g_switch_to(self->fd, bad[i], MS, 0));
	EXPECT_EQ(-EINVAL, g_switch_to(self->fd, 0, MS, 0));	/* self */
	EXPECT_EQ(1, g_wake_batch(self->fd, bad, 4));
	EXPECT_EQ(0, g_unregister(self->fd));
}

struct parker {
	int fd;
	int id;
	unsigned int flags;
	uint64_t timeout;
	atomic_int ready;
	atomic_int done;
	int ret;
	unsigned int from;
};

static void *parker_fn(void *arg)
{
	struct parker *p = arg;

	p->id = g_register(p->fd, 0);
	atomic_store(&p->ready, 1);
	p->ret = g_park(p->fd, p->timeout, p->flags, &p->from);
	atomic_store(&p->done, 1);
	g_unregister(p->fd);
	return NULL;
}

static void sig_nop(int sig)
{
}

TEST_F(green, wake_parked_thread)
{
	struct parker p = { .fd = self->fd };
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, parker_fn, &p));
	ASSERT_TRUE(g_wait_for(&p.ready, 5000));
	ASSERT_LE(0, p.id);
	g_sleep_ms(20);
	EXPECT_EQ(0, atomic_load(&p.done));
	EXPECT_EQ(0, g_wake(self->fd, p.id));
	EXPECT_TRUE(g_wait_for(&p.done, 5000));
	pthread_join(th, NULL);
	EXPECT_EQ(GREEN_WOKEN_WAKE, p.ret);
}

TEST_F(green, park_interrupted)
{
	struct sigaction sa = { .sa_handler = sig_nop };
	struct parker p = { .fd = self->fd };
	pthread_t th;

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	ASSERT_EQ(0, pthread_create(&th, NULL, parker_fn, &p));
	ASSERT_TRUE(g_wait_for(&p.ready, 5000));
	g_sleep_ms(20);
	pthread_kill(th, SIGUSR1);
	EXPECT_TRUE(g_wait_for(&p.done, 5000));
	pthread_join(th, NULL);
	EXPECT_EQ(-EINTR, p.ret);
}

TEST_F(green, wake_batch)
{
	struct parker p[4];
	pthread_t th[4];
	uint32_t ids[6];
	int i;

	EXPECT_EQ(-EINVAL, g_wake_batch(self->fd, ids, 0));
	EXPECT_EQ(-EINVAL, g_wake_batch(self->fd, ids, GREEN_BATCH_MAX + 1));
	EXPECT_EQ(-EINVAL, g_wake_batch(self->fd, ids, 0x80000000u));
	EXPECT_EQ(-EFAULT, g_wake_batch(self->fd, NULL, 3));
	EXPECT_EQ(-EFAULT, g_wake_batch(self->fd, (void *)8, 1));
	for (i = 0; i < 4; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].fd = self->fd;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, parker_fn, &p[i]));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_TRUE(g_wait_for(&p[i].ready, 5000));
		ids[i] = p[i].id;
	}
	ids[4] = 200;
	ids[5] = 0xdead;
	g_sleep_ms(20);
	EXPECT_EQ(4, g_wake_batch(self->fd, ids, 6));
	for (i = 0; i < 4; i++) {
		EXPECT_TRUE(g_wait_for(&p[i].done, 5000));
		pthread_join(th[i], NULL);
		EXPECT_EQ(GREEN_WOKEN_WAKE, p[i].ret);
	}
}

struct pingpong {
	int fd;
	atomic_int ids[2];
	pthread_barrier_t bar;
	int rounds;
	int errors;
};

static void *pong_fn(void *arg)
{
	struct pingpong *pp = arg;
	int i, r;

	atomic_store(&pp->ids[1], g_register(pp->fd, 0));
	pthread_barrier_wait(&pp->bar);
	if (g_park(pp->fd, 0, 0, NULL) != GREEN_WOKEN_WAKE)
		pp->errors++;
	for (i = 0; i < pp->rounds - 1; i++) {
		r = g_switch_to(pp->fd, pp->ids[0], 10000 * MS, 0);
		if (r != GREEN_WOKEN_WAKE)
			pp->errors++;
	}
	g_wake(pp->fd, pp->ids[0]);
	g_unregister(pp->fd);
	return NULL;
}

TEST_F(green, switch_to_pingpong)
{
	struct pingpong pp = { .fd = self->fd, .rounds = 2000 };
	struct green_group_stats st;
	pthread_t th;
	int i;

	pthread_barrier_init(&pp.bar, NULL, 2);
	atomic_store(&pp.ids[0], g_register(self->fd, 0));
	ASSERT_LE(0, pp.ids[0]);
	ASSERT_EQ(0, pthread_create(&th, NULL, pong_fn, &pp));
	pthread_barrier_wait(&pp.bar);
	ASSERT_LE(0, pp.ids[1]);
	for (i = 0; i < pp.rounds; i++)
		ASSERT_EQ(GREEN_WOKEN_WAKE,
			  g_switch_to(self->fd, pp.ids[1], 10000 * MS, 0));
	pthread_join(th, NULL);
	EXPECT_EQ(0, pp.errors);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_EQ(2 * pp.rounds - 1, st.switch_tos);
	EXPECT_EQ(2 * pp.rounds, st.wakes);
	EXPECT_EQ(2 * pp.rounds, st.parks);
	EXPECT_EQ(0, g_unregister(self->fd));
	/* caller not registered */
	EXPECT_EQ(-ENOENT, g_switch_to(self->fd, pp.ids[1], MS, 0));
}

/*
 * Switch-to placement: A runs on CPU 1 only and switches to B, whose
 * allowed CPUs are @b_mask. Each time B wakes it notes its CPU and checks
 * that its mask is @b_mask again (restored before it returned).
 */
#define PLACE_ROUNDS 200

struct place {
	int fd;
	atomic_int ids[2];
	pthread_barrier_t bar;
	cpu_set_t b_mask;
	unsigned int flags;
	int on_1;		/* wakes of B on CPU 1 */
	int bad_mask;		/* wakes with B's mask not restored */
	int errors;
};

static void *place_b(void *arg)
{
	struct place *pl = arg;
	cpu_set_t now;
	int i, r;

	if (sched_setaffinity(0, sizeof(pl->b_mask), &pl->b_mask))
		pl->errors++;
	atomic_store(&pl->ids[1], g_register(pl->fd, 0));
	pthread_barrier_wait(&pl->bar);
	r = g_park(pl->fd, 10000 * MS, 0, NULL);
	for (i = 0; i < PLACE_ROUNDS; i++) {
		if (r != GREEN_WOKEN_WAKE)
			pl->errors++;
		pl->on_1 += sched_getcpu() == 1;
		if (sched_getaffinity(0, sizeof(now), &now) ||
		    !CPU_EQUAL(&now, &pl->b_mask))
			pl->bad_mask++;
		if (i == PLACE_ROUNDS - 1)
			break;
		r = g_switch_to(pl->fd, pl->ids[0], 10000 * MS, 0);
	}
	g_wake(pl->fd, pl->ids[0]);
	g_unregister(pl->fd);
	return NULL;
}

/*
 * B may run on CPU 0 and, with @b_anywhere, on CPU 1 too. Returns
 * green_group_stats.switch_here, or -1 when skipped (one CPU).
 */
static long place_run(struct __test_metadata *_metadata, int fd,
		      struct place *pl, bool b_anywhere)
{
	struct green_group_stats st;
	cpu_set_t old;
	pthread_t th;
	int i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return -1, "needs 2 CPUs");
	CPU_SET(0, &pl->b_mask);
	if (b_anywhere)
		CPU_SET(1, &pl->b_mask);
	pl->fd = fd;
	sched_getaffinity(0, sizeof(old), &old);
	EXPECT_EQ(0, g_pin_cpu(1));
	pthread_barrier_init(&pl->bar, NULL, 2);
	atomic_store(&pl->ids[0], g_register(fd, 0));
	EXPECT_LE(0, pl->ids[0]);
	EXPECT_EQ(0, pthread_create(&th, NULL, place_b, pl));
	pthread_barrier_wait(&pl->bar);
	g_sleep_ms(20);		/* B parked: the first switch narrows too */
	for (i = 0; i < PLACE_ROUNDS; i++)
		EXPECT_EQ(GREEN_WOKEN_WAKE,
			  g_switch_to(fd, pl->ids[1], 10000 * MS, pl->flags));
	pthread_join(th, NULL);
	EXPECT_EQ(0, pl->errors);
	EXPECT_EQ(0, pl->bad_mask);
	EXPECT_EQ(0, g_stats(fd, &st));
	EXPECT_EQ(0, g_unregister(fd));
	sched_setaffinity(0, sizeof(old), &old);
	return st.switch_here;
}

/* B may run anywhere: it runs on A's CPU, and gets its mask back. */
TEST_F(green, switch_to_here)
{
	struct place pl = { 0 };
	long here = place_run(_metadata, self->fd, &pl, true);

	if (here < 0)
		return;
	/*
	 * The first switch finds B parked and narrows it. Later ones need
	 * not: on a preemptible kernel, B waking A is preempted by it before
	 * B parks, and A's switch finds B still runnable on CPU 1. Once back
	 * on its own mask, B could also be moved by load balancing before it
	 * notes its CPU: allow a few such rounds.
	 */
	EXPECT_LE(1, here);
	EXPECT_GE(PLACE_ROUNDS, here);
	EXPECT_LE(PLACE_ROUNDS * 3 / 4, pl.on_1);
}

/* GREEN_SWITCH_ANYCPU: nothing narrowed. */
TEST_F(green, switch_to_anycpu)
{
	struct place pl = { .flags = GREEN_SWITCH_ANYCPU };

	EXPECT_GE(0, place_run(_metadata, self->fd, &pl, true));
}

/* B may not run on A's CPU: it stays where it may run, mask untouched. */
TEST_F(green, switch_to_not_allowed_here)
{
	struct place pl = { 0 };

	EXPECT_GE(0, place_run(_metadata, self->fd, &pl, false));
	EXPECT_EQ(0, pl.on_1);
}

TEST_F(green, kick_and_grant)
{
	struct green_shm *shm = g_map(self->fd);
	struct green_group_stats st;
	int id;

	ASSERT_NE(NULL, shm);
	ASSERT_LE(0, id = g_register(self->fd, GREEN_REG_HOLD));
	EXPECT_EQ(GREEN_WS_RUNNING, shm->slots[id].state);
	EXPECT_EQ(1, shm->slots[id].grant);
	EXPECT_EQ(0, shm->slots[id].preempt);
	EXPECT_EQ(0, g_kick(self->fd, id));
	EXPECT_EQ(1, shm->slots[id].preempt);
	shm->slots[id].grant = 0;
	EXPECT_EQ(0, g_grant(self->fd, id));
	EXPECT_EQ(1, shm->slots[id].grant);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_EQ(1, st.kicks);
	EXPECT_EQ(0, g_unregister(self->fd));
	EXPECT_EQ(GREEN_WS_FREE, shm->slots[id].state);
	munmap(shm, GREEN_SHM_SIZE);
}

/* Read the group's debugfs file @name (green/<prefix><n>/<name>). */
static int read_debugfs(struct __test_metadata *_metadata, const char *prefix,
			int n, const char *name, char *buf, size_t size)
{
	char path[128];
	int fd, len;

	snprintf(path, sizeof(path), "/sys/kernel/debug/green/%s%d/%s",
		 prefix, n, name);
	fd = open(path, O_RDONLY);
	EXPECT_LE(0, fd);
	len = fd < 0 ? -1 : read(fd, buf, size - 1);
	EXPECT_LT(0, len);
	buf[len > 0 ? len : 0] = 0;
	if (fd >= 0)
		close(fd);
	return len;
}

TEST_F(green, stats_and_debugfs)
{
	struct green_group_stats st;
	char prefix[32], buf[4096];
	int id, n, best;
	struct dirent *de;
	DIR *dir;

	ASSERT_LE(0, id = g_register(self->fd, 0));
	g_wake(self->fd, id);
	g_park(self->fd, MS, 0, NULL);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_EQ(1, st.nr_workers);
	EXPECT_EQ(1, st.wakes);
	EXPECT_EQ(1, st.parks);
	/* a prefix */
	memset(&st, 0xff, sizeof(st));
	st.size = 16;
	ASSERT_EQ(0, g_ioctl(self->fd, GREEN_IOC_STATS, &st));
	EXPECT_EQ(1, st.nr_workers);
	EXPECT_EQ(1, st.parks);
	EXPECT_EQ(~0ULL, st.wakes);
	st.size = 4;
	EXPECT_EQ(-EINVAL, g_ioctl(self->fd, GREEN_IOC_STATS, &st));
	EXPECT_EQ(0, g_unregister(self->fd));

	dir = opendir("/sys/kernel/debug/green");
	if (!dir)
		return;	/* debugfs not mounted */
	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	best = -1;
	while ((de = readdir(dir))) {
		if (!strncmp(de->d_name, prefix, strlen(prefix)) &&
		    atoi(de->d_name + strlen(prefix)) > best)
			best = atoi(de->d_name + strlen(prefix));
	}
	closedir(dir);
	ASSERT_LE(0, best);
	n = read_debugfs(_metadata, prefix, best, "stats", buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "parks 1\n"));
	EXPECT_NE(NULL, strstr(buf, "switch_here 0\n"));
	EXPECT_NE(NULL, strstr(buf, "handoff_ns_log2"));

	/* A line per registered worker: none now, the header alone. */
	n = read_debugfs(_metadata, prefix, best, "workers", buf, sizeof(buf));
	EXPECT_EQ(0, strncmp(buf, "id tid state ", 13));
	EXPECT_EQ(buf + n - 1, strchr(buf, '\n'));
}

TEST_F(green, mmap_rules)
{
	void *p;
	struct green_shm *shm;

	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, GREEN_SHM_SIZE, PROT_READ, MAP_SHARED, self->fd, 4096);
	EXPECT_EQ(MAP_FAILED, p);
	p = mmap(NULL, GREEN_SHM_SIZE, PROT_READ, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	p = mmap(NULL, GREEN_SHM_SIZE * 2, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	shm = g_map(self->fd);
	ASSERT_NE(NULL, shm);
	EXPECT_EQ(GREEN_ABI_VERSION, shm->hdr.abi_version);
	EXPECT_EQ(GREEN_MAX_WORKERS, shm->hdr.max_workers);
	EXPECT_EQ(GREEN_RING_SIZE, shm->hdr.ring_size);
	EXPECT_EQ(-1, mremap(shm, GREEN_SHM_SIZE, GREEN_SHM_SIZE * 2, 0) ==
		  MAP_FAILED ? -1 : 0);
	EXPECT_EQ(0, munmap(shm, GREEN_SHM_SIZE));
}

TEST_F(green, poll_idle)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };

	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, poll(&pfd, 1, 10));
}

/* A child after fork() shares the fd but not the group. */
TEST_F(green, foreign_process)
{
	int id, status;
	pid_t pid;

	ASSERT_LE(0, id = g_register(self->fd, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct green_version v = { .size = sizeof(v) };
		struct green_group_stats st;
		int bad = 0;

		bad |= g_ioctl(self->fd, GREEN_IOC_VERSION, &v) != 0;
		bad |= (g_register(self->fd, 0) != -EPERM) << 1;
		bad |= (g_wake(self->fd, id) != -EPERM) << 2;
		bad |= (g_park(self->fd, MS, 0, NULL) != -EPERM) << 3;
		bad |= (g_switch_to(self->fd, id, MS, 0) != -EPERM) << 4;
		bad |= (g_kick(self->fd, id) != -EPERM) << 5;
		bad |= (g_stats(self->fd, &st) != -EPERM) << 6;
		bad |= (g_unregister(self->fd) != -EPERM) << 7;
		bad |= (g_map(self->fd) != NULL) << 8;
		/* closing it in the child does not shut the parent's group */
		close(self->fd);
		_exit(bad ? 100 + __builtin_ctz(bad) : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, g_wake(self->fd, id));
	EXPECT_EQ(GREEN_WOKEN_WAKE, g_park(self->fd, MS, 0, NULL));
	EXPECT_EQ(0, g_unregister(self->fd));
}

/* After close() of one fd (a dup keeps the file), the group is shut down. */
TEST_F(green, shutdown_on_close)
{
	int fd2 = dup(self->fd);

	ASSERT_LE(0, fd2);
	ASSERT_LE(0, g_register(self->fd, 0));
	EXPECT_EQ(0, close(fd2));
	EXPECT_EQ(-EBADF, g_park(self->fd, MS, 0, NULL));
	EXPECT_EQ(-EBADF, g_wake(self->fd, 0));
	EXPECT_EQ(-EBADF, g_register(self->fd, 0));
	struct green_version v = { .size = sizeof(v) };

	EXPECT_EQ(0, g_ioctl(self->fd, GREEN_IOC_VERSION, &v));
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };

	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLHUP);
	/* The registration is dropped the next time this thread runs. */
	g_sleep_ms(10);
}

TEST_HARNESS_MAIN
