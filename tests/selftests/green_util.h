/* SPDX-License-Identifier: GPL-2.0 */
/*
 * green_util.h - thin wrappers around the /dev/green ioctls for the
 * selftests.  Every wrapper returns 0 (or a value) or -errno.
 */
#ifndef GREEN_UTIL_H
#define GREEN_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/green.h>

#define MS	1000000ULL	/* ns */

static inline int g_open(void)
{
	return open(GREEN_DEVICE, O_RDWR | O_CLOEXEC);
}

static inline int g_have_device(void)
{
	int fd = g_open();

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static inline int g_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline int g_register(int fd, unsigned int flags)
{
	struct green_register r = { .size = sizeof(r), .flags = flags };
	int ret = g_ioctl(fd, GREEN_IOC_REGISTER, &r);

	return ret ? ret : (int)r.id;
}

static inline int g_unregister(int fd)
{
	struct green_unregister u = { .size = sizeof(u) };

	return g_ioctl(fd, GREEN_IOC_UNREGISTER, &u);
}

/* Returns the wake reason (> 0) or -errno. */
static inline int g_park(int fd, uint64_t timeout_ns, unsigned int flags,
			 unsigned int *from)
{
	struct green_park p = { .size = sizeof(p), .flags = flags,
				.timeout_ns = timeout_ns };
	int ret = g_ioctl(fd, GREEN_IOC_PARK, &p);

	if (from)
		*from = p.from;
	return ret ? ret : (int)p.reason;
}

static inline int g_wake_cmd(int fd, unsigned long cmd, unsigned int id)
{
	struct green_wake w = { .size = sizeof(w), .id = id };

	return g_ioctl(fd, cmd, &w);
}

#define g_wake(fd, id)	g_wake_cmd(fd, GREEN_IOC_WAKE, id)
#define g_kick(fd, id)	g_wake_cmd(fd, GREEN_IOC_KICK, id)
#define g_grant(fd, id)	g_wake_cmd(fd, GREEN_IOC_GRANT, id)

/* GRANT only if @id's slot still counts @blocks blocks. */
static inline int g_grant_blocks(int fd, unsigned int id, uint64_t blocks)
{
	struct green_wake w = { .size = sizeof(w), .id = id,
				.flags = GREEN_GRANT_BLOCKS, .blocks = blocks };

	return g_ioctl(fd, GREEN_IOC_GRANT, &w);
}

static inline int g_wake_batch(int fd, const uint32_t *ids, unsigned int n)
{
	struct green_wake_batch b = { .size = sizeof(b), .count = n,
				      .ids = (uintptr_t)ids };
	int ret = g_ioctl(fd, GREEN_IOC_WAKE_BATCH, &b);

	return ret ? ret : (int)b.woken;
}

static inline int g_switch_to(int fd, unsigned int id, uint64_t timeout_ns,
			      unsigned int flags)
{
	struct green_switch_to s = { .size = sizeof(s), .id = id,
				     .timeout_ns = timeout_ns,
				     .flags = flags };
	int ret = g_ioctl(fd, GREEN_IOC_SWITCH_TO, &s);

	return ret ? ret : (int)s.reason;
}

static inline int g_stats(int fd, struct green_group_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	return g_ioctl(fd, GREEN_IOC_STATS, s);
}

static inline struct green_shm *g_map(int fd)
{
	void *p = mmap(NULL, GREEN_SHM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline uint64_t g_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline void g_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Wait up to @ms for *@p to become nonzero. */
static inline int g_wait_for(atomic_int *p, unsigned int ms)
{
	uint64_t end = g_now_ns() + ms * MS;

	while (!atomic_load(p)) {
		if (g_now_ns() > end)
			return 0;
		usleep(1000);
	}
	return 1;
}

/* Run the calling thread on @cpu only: sched_setaffinity's result. */
static inline int g_pin_cpu(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof(one), &one);
}

static inline uint32_t g_slot_state(struct green_shm *shm, unsigned int id)
{
	return __atomic_load_n(&shm->slots[id].state, __ATOMIC_ACQUIRE);
}

/* Wait up to @ms for worker @id's slot to reach @state: 1, or 0 if not. */
static inline int g_wait_state(struct green_shm *shm, unsigned int id,
			       uint32_t state, unsigned int ms)
{
	uint64_t end = g_now_ns() + ms * MS;

	while (g_slot_state(shm, id) != state) {
		if (g_now_ns() > end)
			return 0;
		usleep(1000);
	}
	return 1;
}

/* Scale factor for loops: env GREEN_STRESS_SCALE (default 1). */
static inline double g_scale(void)
{
	const char *s = getenv("GREEN_STRESS_SCALE");
	double v = s ? atof(s) : 1.0;

	return v > 0 ? v : 1.0;
}

#endif /* GREEN_UTIL_H */
