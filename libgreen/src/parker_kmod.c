// SPDX-License-Identifier: MIT
/*
 * parker_kmod.c - idle workers park in green.ko (/dev/green).
 *
 * Each worker thread registers itself with the module and parks with
 * GREEN_IOC_PARK; a waker names it by worker id with GREEN_IOC_WAKE. The
 * module keeps one wake token per worker, so a wake that comes before the
 * park is not lost, as the parker contract requires.
 *
 * Workers register for block notification and idle workers park as
 * spares: when a worker blocks in the kernel, the module wakes a spare at
 * once and says which worker blocked. If that worker's task is inside
 * green_syscall_enter/exit, the spare hands its processor on right away
 * instead of after sysmon's 20 us (syscall_handoff). Blocks outside marked
 * calls are not acted on: taking the processor of a worker that resumes
 * into user code needs the held-resume protocol (GREEN_REG_HOLD), which
 * libgreen does not use yet. A worker that cannot
 * register (the module has GREEN_MAX_WORKERS ids) parks on its futex word
 * instead; each worker uses one mechanism for its whole life, so wakers
 * know which to use from m->park_id alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/green.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "parker.h"
#include "runtime.h"

static int kfd = -1;
static struct m *_Atomic by_id[GREEN_MAX_WORKERS];	/* registered Ms */

static int kmod_init(void)
{
	struct green_version v = { .size = sizeof(v) };
	int fd, ret;

	fd = open(GREEN_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, GREEN_IOC_VERSION, &v) < 0) {
		ret = -errno;
		goto fail;
	}
	if (v.abi_version != GREEN_ABI_VERSION ||
	    !(v.features & GREEN_FEAT_PARK)) {
		ret = -EPROTONOSUPPORT;
		goto fail;
	}
	kfd = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

static void kmod_fini(void)
{
	if (kfd >= 0)
		close(kfd);
	kfd = -1;
}

static void kmod_thread_init(struct m *m)
{
	struct green_register r = {
		.size = sizeof(r),
		.flags = GREEN_REG_NOTIFY,
	};

	m->park_id = -1;
	if (ioctl(kfd, GREEN_IOC_REGISTER, &r) < 0 ||
	    r.id >= GREEN_MAX_WORKERS)
		return;
	m->park_id = (int)r.id;
	atomic_store(&by_id[r.id], m);
}

static void kmod_thread_fini(struct m *m)
{
	struct green_unregister u = { .size = sizeof(u) };

	if (m->park_id < 0)
		return;
	atomic_store(&by_id[m->park_id], NULL);
	ioctl(kfd, GREEN_IOC_UNREGISTER, &u);
	m->park_id = -1;
}

static struct m *kmod_park(struct m *m)
{
	struct green_park a = {
		.size = sizeof(a),
		.flags = GREEN_PARK_SPARE,
	};

	if (m->park_id < 0)
		return parker_futex.park(m);
	/* EINTR and the like are spurious returns: callers recheck. */
	if (ioctl(kfd, GREEN_IOC_PARK, &a) < 0 ||
	    a.reason != GREEN_WOKEN_HANDOFF || a.from >= GREEN_MAX_WORKERS)
		return NULL;
	return atomic_load(&by_id[a.from]);
}

static void kmod_unpark(struct m *m)
{
	struct green_wake w = { .size = sizeof(w) };

	if (m->park_id < 0) {
		parker_futex.unpark(m);
		return;
	}
	w.id = (uint32_t)m->park_id;
	ioctl(kfd, GREEN_IOC_WAKE, &w);
}

const struct parker_ops parker_kmod = {
	.name = "kmod",
	.init = kmod_init,
	.fini = kmod_fini,
	.thread_init = kmod_thread_init,
	.thread_fini = kmod_thread_fini,
	.park = kmod_park,
	.unpark = kmod_unpark,
};
