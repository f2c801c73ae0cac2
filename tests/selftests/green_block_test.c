// SPDX-License-Identifier: GPL-2.0
/*
 * green_block_test - block notification: a registered worker that blocks
 * in the kernel is reported (event ring, poll, spare woken); a preempted
 * worker is not; a HOLD worker does not return to user code until granted.
 */
#include "green_util.h"
#include "kselftest_harness.h"

FIXTURE(blk) {
	int fd;			/* the group */
	struct green_shm *shm;	/* its shared memory */
	int pipe[2];		/* the worker blocks reading pipe[0] */
};

FIXTURE_SETUP(blk)
{
	if (!g_have_device())
		SKIP(_exit(255), "no " GREEN_DEVICE " (green.ko not loaded)");
	self->fd = g_open();
	ASSERT_LE(0, self->fd);
	self->shm = g_map(self->fd);
	ASSERT_NE(NULL, self->shm);
	ASSERT_EQ(0, pipe(self->pipe));
}

FIXTURE_TEARDOWN(blk)
{
	munmap(self->shm, GREEN_SHM_SIZE);
	close(self->pipe[0]);
	close(self->pipe[1]);
	EXPECT_EQ(0, close(self->fd));
}

struct worker {
	int fd;
	int rfd;
	unsigned int flags;
	int mode;		/* 0 read pipe, 1 usleep, 2 spare park,
				 * 3 read pipe once @go is set */
	atomic_int id;		/* -1 until registered */
	atomic_int ready;
	atomic_int go;
	atomic_int done;
	atomic_int in_read;
	int ret;
	unsigned int from;
	uint64_t t_done;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	char c;

	atomic_store(&w->id, g_register(w->fd, w->flags));
	atomic_store(&w->ready, 1);
	switch (w->mode) {
	case 3:
		/* spin: a sleep here would be a block of its own */
		while (!atomic_load(&w->go))
			;
		/* fall through */
	case 0:
		atomic_store(&w->in_read, 1);
		w->ret = read(w->rfd, &c, 1);
		break;
	case 1:
		usleep(20000);
		break;
	case 2:
		w->ret = g_park(w->fd, 10000 * MS, GREEN_PARK_SPARE, &w->from);
		break;
	}
	w->t_done = g_now_ns();
	atomic_store(&w->done, 1);
	g_unregister(w->fd);
	return NULL;
}

static void start(struct __test_metadata *_metadata, struct worker *w,
		  pthread_t *th, int fd, int rfd, unsigned int flags, int mode)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->rfd = rfd;
	w->flags = flags;
	w->mode = mode;
	atomic_store(&w->id, -1);
	ASSERT_EQ(0, pthread_create(th, NULL, worker_fn, w));
	ASSERT_TRUE(g_wait_for(&w->ready, 5000));
	ASSERT_LE(0, atomic_load(&w->id));
}

/* Read ring events until one of @type for @id shows up. */
static int find_event(struct green_shm *shm, unsigned int id, unsigned int type)
{
	uint64_t tail = __atomic_load_n(&shm->hdr.ring_tail, __ATOMIC_RELAXED);
	uint64_t head = __atomic_load_n(&shm->hdr.ring_head, __ATOMIC_ACQUIRE);
	int found = 0;

	for (; tail != head; tail++) {
		struct green_event *e = &shm->ring[tail % GREEN_RING_SIZE];

		if (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) != tail + 1)
			break;
		if (e->worker == id && e->type == type)
			found = 1;
	}
	__atomic_store_n(&shm->hdr.ring_tail, tail, __ATOMIC_RELEASE);
	return found;
}

TEST_F(blk, pipe_read_is_reported)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	struct green_group_stats st;
	struct worker w;
	pthread_t th;
	int id, got = 0, i;

	start(_metadata, &w, &th, self->fd, self->pipe[0], GREEN_REG_NOTIFY, 0);
	id = w.id;
	ASSERT_TRUE(g_wait_for(&w.in_read, 5000));
	/* the monitor: poll until the block event shows up */
	for (i = 0; i < 50 && !got; i++) {
		ASSERT_LE(0, poll(&pfd, 1, 100));
		if (pfd.revents & POLLIN)
			got = find_event(self->shm, id, GREEN_EV_BLOCK);
	}
	ASSERT_TRUE(got);
	EXPECT_EQ(GREEN_WS_BLOCKED, g_slot_state(self->shm, id));
	EXPECT_LE(1, self->shm->slots[id].blocks);
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(th, NULL);
	EXPECT_EQ(1, w.ret);
	for (i = 0, got = 0; i < 50 && !got; i++) {
		poll(&pfd, 1, 100);
		got = find_event(self->shm, id, GREEN_EV_UNBLOCK);
	}
	EXPECT_TRUE(got);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_LE(1, st.blocks);
	EXPECT_LE(1, st.unblocks);
	EXPECT_EQ(0, st.holds);
}

TEST_F(blk, usleep_is_reported)
{
	struct worker w;
	pthread_t th;

	start(_metadata, &w, &th, self->fd, -1, GREEN_REG_NOTIFY, 1);
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(th, NULL);
	EXPECT_LE(1, self->shm->slots[w.id].blocks);
	EXPECT_LE(1, self->shm->slots[w.id].unblocks);
}

TEST_F(blk, no_notify_no_events)
{
	struct green_group_stats st;
	struct worker w;
	pthread_t th;

	start(_metadata, &w, &th, self->fd, -1, 0, 1);
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(th, NULL);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_EQ(0, st.blocks);
	EXPECT_EQ(0, self->shm->hdr.ring_head);
}

struct spinner {
	int fd;
	atomic_int *stop;
	int id;
	uint64_t spins;
};

static void *spin_fn(void *arg)
{
	struct spinner *s = arg;

	g_pin_cpu(0);
	s->id = g_register(s->fd, GREEN_REG_NOTIFY | GREEN_REG_HOLD);
	while (!atomic_load_explicit(s->stop, memory_order_relaxed))
		s->spins++;
	return NULL;
}

/* Two busy threads on one CPU preempt each other: that is not a block. */
TEST_F(blk, preemption_is_not_a_block)
{
	struct spinner s[2];
	atomic_int stop = 0;
	pthread_t th[2];
	struct green_group_stats st;
	int i;

	for (i = 0; i < 2; i++) {
		s[i] = (struct spinner){ .fd = self->fd, .stop = &stop };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, spin_fn, &s[i]));
	}
	g_sleep_ms(1000);
	/* snapshot while they still run (unregister happens at exit) */
	ASSERT_EQ(0, g_stats(self->fd, &st));
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(2, st.nr_workers);
	EXPECT_LT(0, s[0].spins);
	EXPECT_LT(0, s[1].spins);
	/*
	 * Registration happens after sched_setaffinity (which may block once
	 * while migrating), so only blocks during the spin would count.
	 */
	EXPECT_EQ(0, st.blocks);
	EXPECT_EQ(0, st.holds);
}

TEST_F(blk, spare_takes_over)
{
	struct worker spare, w;
	pthread_t ts, tw;
	struct green_group_stats st;
	uint64_t sum = 0;
	int i;

	start(_metadata, &spare, &ts, self->fd, -1, 0, 2);
	ASSERT_TRUE(g_wait_state(self->shm, spare.id, GREEN_WS_PARKED, 5000));
	start(_metadata, &w, &tw, self->fd, self->pipe[0], GREEN_REG_NOTIFY, 0);
	ASSERT_TRUE(g_wait_for(&spare.done, 5000));
	EXPECT_EQ(GREEN_WOKEN_HANDOFF, spare.ret);
	EXPECT_EQ((unsigned int)w.id, spare.from);
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(ts, NULL);
	pthread_join(tw, NULL);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_LE(1, st.handoffs);
	for (i = 0; i < GREEN_HIST_BUCKETS; i++)
		sum += st.handoff_hist[i];
	EXPECT_EQ(st.handoffs, sum);
}

#define BPLACE_TRIES 20

/* A spare that last ran on CPU 1, then a worker on CPU 0 that blocks. */
struct bplace {
	int fd, rfd;
	cpu_set_t all;		/* the test's CPUs before it pinned itself */
	atomic_int ready, done;
	int id;			/* the spare's worker id, or -errno */
	int cpu_parked;		/* where the spare went to sleep */
	int cpu_woke;		/* where it ran once woken */
	int ret;		/* its PARK's */
	int read_ret;		/* the worker's read(2)'s */
};

static void *bplace_spare(void *arg)
{
	struct bplace *b = arg;

	g_pin_cpu(1);
	b->id = g_register(b->fd, 0);
	atomic_store(&b->ready, 1);
	if (b->id < 0)
		return NULL;
	/* Allowed everywhere again, but CPU 1 stays its previous CPU. */
	sched_setaffinity(0, sizeof(b->all), &b->all);
	b->cpu_parked = sched_getcpu();
	b->ret = g_park(b->fd, 10000 * MS, GREEN_PARK_SPARE, NULL);
	b->cpu_woke = sched_getcpu();
	atomic_store(&b->done, 1);
	g_unregister(b->fd);
	return NULL;
}

static void *bplace_worker(void *arg)
{
	struct bplace *b = arg;
	char c;

	g_pin_cpu(0);
	g_register(b->fd, GREEN_REG_NOTIFY);
	b->read_ret = read(b->rfd, &c, 1);
	g_unregister(b->fd);
	return NULL;
}

/*
 * The spare woken for a block runs on the CPU the block left idle, not
 * on its own previous CPU (an idle one too, and costlier to wake).
 */
TEST_F(blk, spare_wakes_on_blocked_cpu)
{
	int i, valid = 0, here = 0;
	cpu_set_t old;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs 2 CPUs");
	sched_getaffinity(0, sizeof(old), &old);
	if (!CPU_ISSET(0, &old) || !CPU_ISSET(1, &old))
		SKIP(return, "needs CPUs 0 and 1");
	g_pin_cpu(1);	/* keep CPU 0 to the worker */
	for (i = 0; i < BPLACE_TRIES; i++) {
		struct bplace b = { .fd = self->fd, .rfd = self->pipe[0],
				    .all = old };
		pthread_t ts, tw;

		ASSERT_EQ(0, pthread_create(&ts, NULL, bplace_spare, &b));
		ASSERT_TRUE(g_wait_for(&b.ready, 5000));
		ASSERT_LE(0, b.id);
		ASSERT_TRUE(g_wait_state(self->shm, b.id, GREEN_WS_PARKED,
					 5000));
		ASSERT_EQ(0, pthread_create(&tw, NULL, bplace_worker, &b));
		ASSERT_TRUE(g_wait_for(&b.done, 5000));
		ASSERT_EQ(1, write(self->pipe[1], "x", 1));
		pthread_join(tw, NULL);
		pthread_join(ts, NULL);
		EXPECT_EQ(GREEN_WOKEN_HANDOFF, b.ret);
		EXPECT_EQ(1, b.read_ret);
		valid += b.cpu_parked == 1;
		here += b.cpu_parked == 1 && b.cpu_woke == 0;
	}
	sched_setaffinity(0, sizeof(old), &old);
	TH_LOG("%d of %d spares parked on CPU 1 woke on CPU 0", here, valid);
	EXPECT_LE(BPLACE_TRIES / 2, valid);
	EXPECT_LE(valid * 3 / 4, here);
}

/*
 * A spare parks, then a HOLD worker blocks reading @rfd: the spare is
 * woken for the block and takes its CPU, so the worker's grant word is 0.
 */
static void handed_off(struct __test_metadata *_metadata, int fd,
		       struct green_shm *shm, int rfd, struct worker *spare,
		       pthread_t *ts, struct worker *w, pthread_t *tw)
{
	start(_metadata, spare, ts, fd, -1, 0, 2);
	ASSERT_TRUE(g_wait_state(shm, spare->id, GREEN_WS_PARKED, 5000));
	start(_metadata, w, tw, fd, rfd, GREEN_REG_HOLD, 0);
	ASSERT_TRUE(g_wait_for(&spare->done, 5000));
	EXPECT_EQ(GREEN_WOKEN_HANDOFF, spare->ret);
	EXPECT_EQ(0, shm->slots[w->id].grant);
}

/* A HOLD worker whose CPU went to a spare waits for GRANT. */
TEST_F(blk, hold_until_grant)
{
	struct worker spare, w;
	pthread_t ts, tw;
	struct green_group_stats st;
	uint64_t t_grant;
	int id;

	handed_off(_metadata, self->fd, self->shm, self->pipe[0], &spare, &ts,
		   &w, &tw);
	id = w.id;
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	/* the read completes in the kernel but the worker is held */
	g_sleep_ms(200);
	EXPECT_EQ(0, atomic_load(&w.done));
	EXPECT_EQ(GREEN_WS_HELD, g_slot_state(self->shm, id));
	t_grant = g_now_ns();
	EXPECT_EQ(0, g_grant(self->fd, id));
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	EXPECT_LE(t_grant, w.t_done);
	EXPECT_EQ(1, w.ret);
	pthread_join(ts, NULL);
	pthread_join(tw, NULL);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_LE(1, st.holds);
}

/*
 * GREEN_GRANT_BLOCKS: a GRANT answering an older block (the worker has
 * blocked again since) changes nothing; one for the current block
 * releases the worker. Without it, a late GRANT would undo the newer
 * block's handoff and leave its processor stuck (libgreen's hold).
 */
TEST_F(blk, stale_grant_is_ignored)
{
	struct worker spare, w;
	pthread_t ts, tw;
	uint64_t blocks;
	int id;

	handed_off(_metadata, self->fd, self->shm, self->pipe[0], &spare, &ts,
		   &w, &tw);
	id = w.id;
	blocks = self->shm->slots[id].blocks;
	EXPECT_LE(1, blocks);
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	g_sleep_ms(100);
	EXPECT_EQ(GREEN_WS_HELD, g_slot_state(self->shm, id));
	/* For an older block: no effect (and no error: it is a race). */
	EXPECT_EQ(0, g_grant_blocks(self->fd, id, blocks - 1));
	g_sleep_ms(100);
	EXPECT_EQ(0, atomic_load(&w.done));
	EXPECT_EQ(0, self->shm->slots[id].grant);
	EXPECT_EQ(GREEN_WS_HELD, g_slot_state(self->shm, id));
	/* For this block: released. */
	EXPECT_EQ(0, g_grant_blocks(self->fd, id, blocks));
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	EXPECT_EQ(1, w.ret);
	pthread_join(ts, NULL);
	pthread_join(tw, NULL);
}

/* Userspace writes the grant word itself before the worker resumes. */
TEST_F(blk, hold_pregranted_by_word)
{
	struct worker spare, w;
	pthread_t ts, tw;

	start(_metadata, &spare, &ts, self->fd, -1, 0, 2);
	ASSERT_TRUE(g_wait_state(self->shm, spare.id, GREEN_WS_PARKED, 5000));
	start(_metadata, &w, &tw, self->fd, self->pipe[0], GREEN_REG_HOLD, 0);
	ASSERT_TRUE(g_wait_for(&spare.done, 5000));
	__atomic_store_n(&self->shm->slots[w.id].grant, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	EXPECT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(ts, NULL);
	pthread_join(tw, NULL);
}

/* No spare took the CPU: a HOLD worker is not held. */
TEST_F(blk, hold_without_spare_runs_on)
{
	struct green_group_stats st;
	struct worker w;
	pthread_t th;

	start(_metadata, &w, &th, self->fd, -1, GREEN_REG_HOLD, 1);
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(th, NULL);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_LE(1, st.blocks);
	EXPECT_EQ(0, st.holds);
}

/*
 * WAIT_SPARE: a block that finds no spare parked stays pending; the next
 * spare to park takes it at once, and the worker is held until GRANT.
 */
TEST_F(blk, wait_spare_missed_block_goes_to_next_spare)
{
	struct worker spare, w;
	pthread_t ts, tw;
	struct green_group_stats st;
	int id;

	start(_metadata, &w, &tw, self->fd, self->pipe[0],
	      GREEN_REG_HOLD | GREEN_REG_WAIT_SPARE, 0);
	id = w.id;
	ASSERT_TRUE(g_wait_state(self->shm, id, GREEN_WS_BLOCKED, 5000));
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	/* no spare took it yet: the read is done but the worker is held */
	g_sleep_ms(200);
	EXPECT_EQ(0, atomic_load(&w.done));
	EXPECT_EQ(GREEN_WS_HELD, g_slot_state(self->shm, id));
	/* a spare parks: it returns at once with the missed block */
	start(_metadata, &spare, &ts, self->fd, -1, 0, 2);
	ASSERT_TRUE(g_wait_for(&spare.done, 5000));
	EXPECT_EQ(GREEN_WOKEN_HANDOFF, spare.ret);
	EXPECT_EQ((unsigned int)id, spare.from);
	EXPECT_EQ(0, self->shm->slots[id].grant);
	g_sleep_ms(100);
	EXPECT_EQ(0, atomic_load(&w.done));
	EXPECT_EQ(0, g_grant(self->fd, id));
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	EXPECT_EQ(1, w.ret);
	pthread_join(ts, NULL);
	pthread_join(tw, NULL);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	EXPECT_LE(1, st.handoffs);
	EXPECT_LE(1, st.holds);
}

/*
 * A WAIT_SPARE worker that blocked with no spare parked, its read done:
 * held, waiting for a spare that never comes.
 */
static void start_missed(struct __test_metadata *_metadata,
			 FIXTURE_DATA(blk) *self, struct worker *w,
			 pthread_t *tw)
{
	start(_metadata, w, tw, self->fd, self->pipe[0],
	      GREEN_REG_HOLD | GREEN_REG_WAIT_SPARE, 0);
	ASSERT_TRUE(g_wait_state(self->shm, w->id, GREEN_WS_BLOCKED, 5000));
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	g_sleep_ms(100);
	EXPECT_EQ(0, atomic_load(&w->done));
}

/* A missed block ends with GRANT (no spare ever comes) or close(). */
TEST_F(blk, wait_spare_missed_block_ends_with_grant_or_close)
{
	struct worker w;
	pthread_t tw;
	int fd2 = dup(self->fd);

	ASSERT_LE(0, fd2);
	start_missed(_metadata, self, &w, &tw);
	EXPECT_EQ(0, g_grant(self->fd, w.id));
	ASSERT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(tw, NULL);

	/* again, and this time the group is shut down */
	start_missed(_metadata, self, &w, &tw);
	close(fd2);	/* shuts the group down */
	EXPECT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(tw, NULL);
}

/* nolend: a block while the worker says so wakes no spare, holds nothing. */
TEST_F(blk, nolend_block_wakes_no_spare)
{
	struct worker spare, w;
	pthread_t ts, tw;
	struct green_group_stats st;
	uint64_t blocks;

	start(_metadata, &spare, &ts, self->fd, -1, 0, 2);
	ASSERT_TRUE(g_wait_state(self->shm, spare.id, GREEN_WS_PARKED, 5000));
	start(_metadata, &w, &tw, self->fd, self->pipe[0],
	      GREEN_REG_HOLD | GREEN_REG_WAIT_SPARE, 3);
	__atomic_store_n(&self->shm->slots[w.id].nolend, 1, __ATOMIC_RELAXED);
	atomic_store(&w.go, 1);
	ASSERT_TRUE(g_wait_state(self->shm, w.id, GREEN_WS_BLOCKED, 5000));
	g_sleep_ms(200);
	EXPECT_EQ(0, atomic_load(&spare.done));	/* still parked */
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	ASSERT_TRUE(g_wait_for(&w.done, 5000));	/* not held */
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ(0, g_wake(self->fd, spare.id));
	ASSERT_TRUE(g_wait_for(&spare.done, 5000));
	EXPECT_EQ(GREEN_WOKEN_WAKE, spare.ret);
	pthread_join(ts, NULL);
	pthread_join(tw, NULL);
	ASSERT_EQ(0, g_stats(self->fd, &st));
	blocks = st.blocks;
	EXPECT_LE(1, blocks);
	EXPECT_EQ(0, st.handoffs);
	EXPECT_EQ(0, st.holds);
}

/* Closing the fd releases a held worker. */
TEST_F(blk, close_releases_held)
{
	struct worker spare, w;
	pthread_t ts, tw;
	int fd2 = dup(self->fd);

	ASSERT_LE(0, fd2);
	start(_metadata, &spare, &ts, self->fd, -1, 0, 2);
	ASSERT_TRUE(g_wait_state(self->shm, spare.id, GREEN_WS_PARKED, 5000));
	start(_metadata, &w, &tw, self->fd, self->pipe[0], GREEN_REG_HOLD, 0);
	ASSERT_TRUE(g_wait_for(&spare.done, 5000));
	ASSERT_EQ(1, write(self->pipe[1], "x", 1));
	g_sleep_ms(100);
	EXPECT_EQ(0, atomic_load(&w.done));
	close(fd2);	/* shuts the group down */
	EXPECT_TRUE(g_wait_for(&w.done, 5000));
	pthread_join(ts, NULL);
	pthread_join(tw, NULL);
}

TEST_F(blk, ring_overflow_counts_lost)
{
	struct green_group_stats st;
	int i;

	ASSERT_LE(0, g_register(self->fd, GREEN_REG_NOTIFY));
	/* a usleep whose timer fires before the switch does not block */
	for (i = 0; i < 4000; i++) {
		usleep(50);
		ASSERT_EQ(0, g_stats(self->fd, &st));
		if (st.blocks >= GREEN_RING_SIZE)
			break;
	}
	EXPECT_LE(GREEN_RING_SIZE, st.blocks);
	EXPECT_LT(0, st.events_lost);
	EXPECT_EQ(GREEN_RING_SIZE, self->shm->hdr.ring_head);
	EXPECT_EQ(st.events_lost, self->shm->hdr.events_lost);
	EXPECT_EQ(0, g_unregister(self->fd));
}

TEST_HARNESS_MAIN
