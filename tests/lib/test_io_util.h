/* SPDX-License-Identifier: MIT */
/*
 * test_io_util.h - what libgreen's I/O and sleep tests share.
 *
 * Every I/O test runs once per poller: IO_FIXTURE(name) declares a
 * fixture with the variants "uring" (io_uring, every feature the kernel
 * has), "uring_nofeat" (io_uring with GREEN_URING_DISABLE=all: the
 * fallbacks) and "epoll". A test body starts the runtime with
 * IO_RUN(fn, arg), which skips (never passes) when io_uring is refused on
 * this machine and the variant needs it.
 *
 * Also: a byte pattern to check every byte of a stream, a per-task random
 * generator, loops over partial reads and writes, loopback TCP pairs, and
 * the poller green_stats names (poller_snap_main).
 */
#ifndef GREEN_TEST_IO_UTIL_H
#define GREEN_TEST_IO_UTIL_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "test_util.h"

#define MSEC 1000000LL
#define SEC 1000000000LL

/*
 * Whether io_uring can be used here: NULL, or why not (seccomp, the
 * kernel.io_uring_disabled sysctl, an old kernel).
 */
static inline const char *uring_refused(void)
{
	static char why[96];
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	snprintf(why, sizeof(why), "io_uring refused here: io_uring_setup: %s",
		 strerror(errno));
	return why;
}

/*
 * One fixture, three pollers. Fixture fields:
 *   refused  why io_uring cannot be used (NULL: it can, or not needed)
 * Variant fields:
 *   poller   GREEN_POLLER for the run
 *   disable  GREEN_URING_DISABLE for the run (NULL: unset)
 */
#define IO_FIXTURE(f)							\
FIXTURE(f) {								\
	const char *refused;						\
};									\
FIXTURE_VARIANT(f) {							\
	const char *poller;						\
	const char *disable;						\
};									\
FIXTURE_VARIANT_ADD(f, uring) {						\
	.poller = "uring",						\
};									\
FIXTURE_VARIANT_ADD(f, uring_nofeat) {					\
	.poller = "uring",						\
	.disable = "all",						\
};									\
FIXTURE_VARIANT_ADD(f, epoll) {						\
	.poller = "epoll",						\
};									\
FIXTURE_SETUP(f)							\
{									\
	setenv("GREEN_POLLER", variant->poller, 1);			\
	if (variant->disable)						\
		setenv("GREEN_URING_DISABLE", variant->disable, 1);	\
	else								\
		unsetenv("GREEN_URING_DISABLE");			\
	if (!strcmp(variant->poller, "uring"))				\
		self->refused = uring_refused();			\
	/* Skip before the body runs (and allocates): passed = 0. */	\
	if (self->refused)						\
		SKIP(_metadata->passed = 0; return, "%s", self->refused); \
}									\
FIXTURE_TEARDOWN(f)							\
{									\
}

/*
 * Run the runtime for a test body of an IO_FIXTURE: skip with the reason
 * when io_uring is refused and the variant needs it, else green_run must
 * return 0. IO_RUN_EXPR(expr) does the same for an expression that runs
 * it (once or more) and gives its result, or another -errno.
 */
#define IO_RUN(fn, arg) IO_RUN_EXPR(green_run(fn, arg))

#define IO_RUN_EXPR(expr) do {						\
	int __ret;							\
									\
	if (self->refused)						\
		SKIP(return, "%s", self->refused);			\
	__ret = (expr);							\
	if (__ret && !strcmp(variant->poller, "uring") &&		\
	    (__ret == -ENOSYS || __ret == -EPERM))			\
		SKIP(return, "io_uring refused: green_run: %s",		\
		     strerror(-__ret));					\
	ASSERT_EQ(0, __ret);						\
} while (0)

/* CPU time (user + system) of the whole process, in ns. */
static inline int64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * SEC +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* xorshift64*: a task's own random numbers (seed must not be 0). */
static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* 1..max inclusive. */
static inline size_t rnd_size(uint64_t *s, size_t max)
{
	return 1 + rnd(s) % max;
}

/*
 * The byte at offset @off of stream @seed: every stream a test moves has
 * its own seed, so a byte that lands in the wrong stream, at the wrong
 * offset, twice or never, shows.
 */
static inline uint64_t pat_word(uint64_t seed, uint64_t off)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ (off >> 3);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x;
}

static inline uint8_t pat(uint64_t seed, uint64_t off)
{
	return pat_word(seed, off) >> ((off & 7) * 8);
}

/* Eight bytes at a time where the stream offset allows (little endian). */
static inline void pat_fill(uint8_t *buf, size_t n, uint64_t seed,
			    uint64_t off)
{
	size_t i = 0;
	uint64_t w;

	for (; i < n && ((off + i) & 7); i++)
		buf[i] = pat(seed, off + i);
	for (; i + 8 <= n; i += 8) {
		w = pat_word(seed, off + i);
		memcpy(buf + i, &w, 8);
	}
	for (; i < n; i++)
		buf[i] = pat(seed, off + i);
}

/* Number of bytes of @buf that differ from the stream at @off. */
static inline size_t pat_bad(const uint8_t *buf, size_t n, uint64_t seed,
			     uint64_t off)
{
	size_t i = 0, bad = 0, k;
	uint64_t w;

	for (; i < n && ((off + i) & 7); i++)
		bad += buf[i] != pat(seed, off + i);
	for (; i + 8 <= n; i += 8) {
		w = pat_word(seed, off + i);
		if (memcmp(buf + i, &w, 8))
			for (k = 0; k < 8; k++)
				bad += buf[i + k] != pat(seed, off + i + k);
	}
	for (; i < n; i++)
		bad += buf[i] != pat(seed, off + i);
	return bad;
}

/*
 * green_write until all @n bytes are written: @n, or -errno. Counts the
 * short writes in *@partial (may be NULL).
 */
static inline ssize_t write_all(int fd, const void *buf, size_t n,
				long *partial)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = green_write(fd, (const char *)buf + done, n - done);
		if (r < 0)
			return r;
		if (r == 0)
			return -EIO;
		if ((size_t)r < n - done && partial)
			(*partial)++;
		done += r;
	}
	return n;
}

/* green_read until @n bytes came: @n, fewer at EOF, or -errno. */
static inline ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = green_read(fd, (char *)buf + done, n - done);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		done += r;
	}
	return done;
}

/*
 * Wait in a task (sleeping 1 ms at a time) until *@flag is non-zero or
 * @timeout ns passed: true if it was set. Tests use it instead of an
 * unbounded wait so that a hang is a failure, not a harness timeout.
 */
static inline bool wait_flag(const int *flag, int64_t timeout)
{
	int64_t end = mono_ns() + timeout;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (mono_ns() > end)
			return false;
		green_sleep(MSEC);
	}
	return true;
}

static inline void set_flag(int *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
}

/* A listening loopback TCP socket on an ephemeral port; -errno. */
static inline int tcp_listener(int backlog, struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    listen(fd, backlog) ||
	    getsockname(fd, (struct sockaddr *)addr, &len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * A connected loopback TCP pair (plain blocking sockets, made with plain
 * system calls, so usable before green_run): 0 or -errno.
 */
static inline int tcp_pair(int fd[2])
{
	struct sockaddr_in a;
	int l, err = 0;

	l = tcp_listener(1, &a);
	if (l < 0)
		return l;
	fd[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd[0] < 0 || connect(fd[0], (struct sockaddr *)&a, sizeof(a)))
		err = -errno;
	else if ((fd[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		err = -errno;
	if (err && fd[0] >= 0)
		close(fd[0]);
	close(l);
	return err;
}

/* Make @fd's peer reset the connection when closed (SO_LINGER 0). */
static inline int set_linger0(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Is O_NONBLOCK set on @fd's open file description? */
static inline bool nonblocking(int fd)
{
	return fcntl(fd, F_GETFL) & O_NONBLOCK;
}

/* The poller green_stats names, taken by a task: run poller_snap_main. */
struct poller_snap {
	char poller[16];
	char features[128];
	int ret;		/* green_stats' */
};

static inline void poller_snap_main(void *arg)
{
	struct poller_snap *s = arg;
	struct green_stats st = { .size = sizeof(st) };

	s->ret = green_stats(&st, NULL, 0);
	memcpy(s->poller, st.poller, sizeof(s->poller));
	memcpy(s->features, st.poller_features, sizeof(s->features));
}

#endif /* GREEN_TEST_IO_UTIL_H */
