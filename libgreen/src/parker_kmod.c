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
 * instead of after sysmon's 20 us (syscall_handoff). With the held-resume
 * protocol (GREEN_REG_HOLD, with GREEN_HOLD=1), a block anywhere else
 * freezes the worker until the runtime grants it, and its processor may
 * be lent meanwhile (hold.c); the worker's slot in the module's shared
 * memory says whether it is still blocked. A worker that cannot
 * register (the module has GREEN_MAX_WORKERS ids) parks on its futex word
 * instead; each worker uses one mechanism for its whole life, so wakers
 * know which to use from m->park_id alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/green.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "parker.h"
#include "runtime.h"

static int kfd = -1;
static struct m *_Atomic by_id[GREEN_MAX_WORKERS];	/* registered Ms */
static struct green_shm *shm;		/* mapped when holding is on */
bool config_hold;
static uint32_t reg_flags = GREEN_REG_NOTIFY;
static bool grant_blocks;		/* GREEN_FEAT_GRANT_BLOCKS */

/*
 * Let worker @id return to user code (the caller set up its P), if it is
 * still in block number @blocks. The worker may be back and blocked again
 * before this runs (a second grant for one block: sysmon's, say, after
 * the first let it go): a grant word written then would undo the newer
 * block's handoff (grant 0, or a pending wait for a spare) and leave the
 * worker's P stuck with it. So the module writes the word, under its
 * lock, and only if the worker has not blocked since (GREEN_GRANT_BLOCKS).
 * @blocks must be read when the caller decided, not here: a worker let go
 * meanwhile may have blocked again, and a count read now names that
 * newer block. Without that feature the word is written here first.
 */
static void grant_id(uint32_t id, uint64_t blocks)
{
	struct green_wake w = { .size = sizeof(w), .id = id };

	/* The caller's writes (m->p and the P) before the grant word: the
	 * ioctl is a full barrier. */
	if (grant_blocks) {
		w.flags = GREEN_GRANT_BLOCKS;
		w.blocks = blocks;
	} else {
		__atomic_store_n(&shm->slots[id].grant, 1, __ATOMIC_RELEASE);
	}
	ioctl(kfd, GREEN_IOC_GRANT, &w);
}

/* Worker @id's count of blocks (the module's, in its slot). */
static uint64_t block_count(uint32_t id)
{
	return __atomic_load_n(&shm->slots[id].blocks, __ATOMIC_ACQUIRE);
}

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
	reg_flags = GREEN_REG_NOTIFY;
	if (!config_hold || !(v.features & GREEN_FEAT_HOLD) ||
	    !(v.features & GREEN_FEAT_SHM))
		return 0;
	shm = mmap(NULL, GREEN_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (shm == MAP_FAILED) {
		shm = NULL;
		return 0;
	}
	reg_flags |= GREEN_REG_HOLD;
	grant_blocks = v.features & GREEN_FEAT_GRANT_BLOCKS;
	/* Blocks while no spare is parked wait for the next (hold.c). */
	if (v.features & GREEN_FEAT_WAIT_SPARE)
		reg_flags |= GREEN_REG_WAIT_SPARE;
	return 0;
fail:
	close(fd);
	return ret;
}

static void kmod_fini(void)
{
	if (shm)
		munmap(shm, GREEN_SHM_SIZE);
	shm = NULL;
	if (kfd >= 0)
		close(kfd);
	kfd = -1;
}

static void kmod_thread_init(struct m *m)
{
	struct green_register r = {
		.size = sizeof(r),
		.flags = reg_flags,
	};

	m->park_id = -1;
	if (ioctl(kfd, GREEN_IOC_REGISTER, &r) < 0 ||
	    r.id >= GREEN_MAX_WORKERS)
		return;
	m->park_id = (int)r.id;
	atomic_store(&by_id[r.id], m);
	if (shm) {
		/* The depth moves to where the kernel sees it (lock.h). */
		uint32_t *d = &shm->slots[r.id].nolend;

		__atomic_store_n(d, *m->depth, __ATOMIC_RELAXED);
		m->depth = d;
		green_tls_depth = d;
	}
}

static void kmod_thread_fini(struct m *m)
{
	struct green_unregister u = { .size = sizeof(u) };

	if (m->park_id < 0)
		return;
	if (m->depth != &m->depth_own) {
		m->depth_own = *m->depth;
		m->depth = &m->depth_own;
		green_tls_depth = m->depth;
	}
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
	struct m *blocked;

	if (m->park_id < 0)
		return parker_futex.park(m);
	/* EINTR and the like are spurious returns: callers recheck. */
	if (ioctl(kfd, GREEN_IOC_PARK, &a) < 0 ||
	    a.reason != GREEN_WOKEN_HANDOFF || a.from >= GREEN_MAX_WORKERS)
		return NULL;
	blocked = atomic_load(&by_id[a.from]);
	/* Registering or leaving: nothing to lend, but it may be frozen. */
	if (!blocked && shm)
		grant_id(a.from, block_count(a.from));
	return blocked;
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

/* Is @m's thread still blocked in the kernel (not yet held or running)? */
static bool kmod_blocked(struct m *m)
{
	if (m->park_id < 0)
		return false;
	return __atomic_load_n(&shm->slots[m->park_id].state,
			       __ATOMIC_ACQUIRE) == GREEN_WS_BLOCKED;
}

static bool kmod_frozen(struct m *m)
{
	if (m->park_id < 0)
		return false;
	return __atomic_load_n(&shm->slots[m->park_id].grant,
			       __ATOMIC_ACQUIRE) == 0;
}

/*
 * The count first: the module marks a new block BLOCKED before it counts
 * it, so a HELD seen after the count is that block's or a newer one's
 * (whose grant the module then refuses as stale), never an older one's.
 */
static uint64_t kmod_waits_spare(struct m *m)
{
	struct green_slot *s = &shm->slots[m->park_id];
	uint64_t blocks = block_count((uint32_t)m->park_id);
	uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

	if (st != GREEN_WS_HELD ||
	    !__atomic_load_n(&s->grant, __ATOMIC_ACQUIRE))
		return 0;
	return blocks;
}

/*
 * A worker that cannot be let go by anyone else meanwhile (frozen, or
 * lent: every grant is decided under sched.lock): its current block.
 */
static void kmod_grant(struct m *m)
{
	if (m->park_id >= 0)
		grant_id((uint32_t)m->park_id,
			 block_count((uint32_t)m->park_id));
}

static void kmod_grant_block(struct m *m, uint64_t blocks)
{
	if (m->park_id >= 0)
		grant_id((uint32_t)m->park_id, blocks);
}

/* The kmod parker, with held resume when the module and GREEN_HOLD allow. */
const struct parker_ops *parker_kmod_pick(void)
{
	return (reg_flags & GREEN_REG_HOLD) ? &parker_kmod_hold : &parker_kmod;
}

/* Both variants park the same way; only one lends processors. */
#define KMOD_PARKER_OPS				\
	.name = "kmod",				\
	.init = kmod_init,			\
	.fini = kmod_fini,			\
	.thread_init = kmod_thread_init,	\
	.thread_fini = kmod_thread_fini,	\
	.park = kmod_park,			\
	.unpark = kmod_unpark,			\
	.notifies = true

const struct parker_ops parker_kmod_hold = {
	KMOD_PARKER_OPS,
	.blocked = kmod_blocked,
	.grant = kmod_grant,
	.frozen = kmod_frozen,
	.waits_spare = kmod_waits_spare,
	.grant_block = kmod_grant_block,
};

const struct parker_ops parker_kmod = {
	KMOD_PARKER_OPS,
};
