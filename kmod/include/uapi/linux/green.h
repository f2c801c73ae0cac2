/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * green.h - the whole contract between green.ko (/dev/green) and userspace.
 *
 * A *group* is one open of /dev/green by one process.  Threads of that
 * process register themselves as *workers* and get a small worker id
 * (0 .. GREEN_MAX_WORKERS - 1).  Workers park and are woken by id, hand the
 * CPU to each other (SWITCH_TO), and the group learns at once when a
 * registered worker blocks in the kernel: an event is written to the group's
 * shared memory (mmap of the fd), the fd becomes readable (POLLIN) and a
 * parked spare worker is woken, preferably on the CPU the blocked worker
 * left idle.  See kmod/green.c for the design essay.
 *
 * Every ioctl takes a pointer to a struct whose first field is
 * "__u32 size" = sizeof() the struct as the caller knows it.  Newer kernels
 * accept older (smaller) structs; a larger struct is accepted only if the
 * bytes the kernel does not know are zero.  Reserved fields must be zero.
 * Ioctl numbers are _IO(GREEN_TYPE, nr): the size is in the struct, so a
 * number never changes once shipped.
 *
 * Errors (ioctl returns -1 and sets errno):
 *   ENOTTY     unknown ioctl number.
 *   EFAULT     bad user pointer (the struct or an array it points to).
 *   EINVAL     size smaller than the first version of the struct, unknown
 *              flags, nonzero reserved field, timeout above
 *              GREEN_TIMEOUT_MAX_NS, batch count 0 or above
 *              GREEN_BATCH_MAX, SWITCH_TO naming the caller itself.
 *   E2BIG      size larger than the kernel's struct with nonzero bytes
 *              beyond it, or size larger than a page.
 *   EPERM      the fd is used by a process other than the one that opened
 *              it (e.g. a child after fork).  Nothing in a group can name a
 *              thread of another process.
 *   EBADF      the group has been shut down: a close() of the fd (any
 *              close by the owning process, including at exit) wakes every
 *              parked or held worker with this error.
 *   ENOENT     the calling thread is not a registered worker of this group
 *              (PARK, SWITCH_TO, UNREGISTER).
 *   ESRCH      worker id out of range or not registered in this group.
 *   EEXIST     REGISTER by a thread already registered in this group.
 *   EBUSY      REGISTER by a thread registered in another green group.
 *   ENOSPC     all GREEN_MAX_WORKERS ids are in use.
 *   ETIMEDOUT  PARK / SWITCH_TO timed out.
 *   EINTR      PARK / SWITCH_TO interrupted by a signal (not restarted).
 *   ENOMEM     out of memory.
 *
 * mmap(fd, GREEN_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, offset 0)
 * maps struct green_shm.  Anything else: EINVAL (EPERM from another
 * process).  The mapping is not inherited by fork().
 */
#ifndef _UAPI_LINUX_GREEN_H
#define _UAPI_LINUX_GREEN_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define GREEN_ABI_VERSION	1
#define GREEN_DEVICE		"/dev/green"
#define GREEN_TYPE		0xB7

#define GREEN_MAX_WORKERS	256
#define GREEN_BATCH_MAX		GREEN_MAX_WORKERS
#define GREEN_TIMEOUT_MAX_NS	(86400ULL * 1000000000ULL)	/* one day */
#define GREEN_RING_SIZE		256	/* events, a power of two */
#define GREEN_HIST_BUCKETS	32	/* log2(ns) buckets */

enum {
	GREEN_CMD_VERSION = 0,
	GREEN_CMD_REGISTER,
	GREEN_CMD_UNREGISTER,
	GREEN_CMD_PARK,
	GREEN_CMD_WAKE,
	GREEN_CMD_WAKE_BATCH,
	GREEN_CMD_SWITCH_TO,
	GREEN_CMD_KICK,
	GREEN_CMD_GRANT,
	GREEN_CMD_STATS,
	GREEN_CMD_MAX,
};

/* Feature bits reported by GREEN_IOC_VERSION. */
#define GREEN_FEAT_PARK		(1ULL << 0)	/* park/wake/batch wake */
#define GREEN_FEAT_SWITCH_TO	(1ULL << 1)	/* same-CPU handoff */
#define GREEN_FEAT_BLOCK_NOTIFY	(1ULL << 2)	/* block events, poll, spares */
#define GREEN_FEAT_HOLD		(1ULL << 3)	/* hold at resume until granted */
#define GREEN_FEAT_KICK		(1ULL << 4)	/* preemption requests */
#define GREEN_FEAT_STATS	(1ULL << 5)	/* STATS ioctl, debugfs files
						 * green/<tgid>-<n>/stats and
						 * .../workers (one line each) */
#define GREEN_FEAT_SHM		(1ULL << 6)	/* mmap of struct green_shm */
#define GREEN_FEAT_WAIT_SPARE	(1ULL << 7)	/* GREEN_REG_WAIT_SPARE */
#define GREEN_FEAT_SWITCH_HERE	(1ULL << 8)	/* SWITCH_TO runs the target
						 * on the caller's CPU */
#define GREEN_FEAT_GRANT_BLOCKS	(1ULL << 9)	/* GREEN_GRANT_BLOCKS */

/**
 * struct green_version - GREEN_IOC_VERSION: the handshake
 * @size: sizeof(struct green_version)
 * @abi_version: out, GREEN_ABI_VERSION of the module
 * @features: out, GREEN_FEAT_* bits
 * @ioctls: out, bit n set when the ioctl with nr n (GREEN_CMD_*) exists
 * @max_workers: out, GREEN_MAX_WORKERS
 * @shm_size: out, bytes to mmap (GREEN_SHM_SIZE)
 * @reserved: must be zero
 *
 * Works on any fd, from any process; never fails except EFAULT/EINVAL/E2BIG.
 */
struct green_version {
	__u32 size;
	__u32 abi_version;
	__aligned_u64 features;
	__aligned_u64 ioctls;
	__u32 max_workers;
	__u32 shm_size;
	__aligned_u64 reserved;
};

/* REGISTER flags */
#define GREEN_REG_HOLD		(1U << 0)	/* hold at resume after a block */
#define GREEN_REG_NOTIFY	(1U << 1)	/* report blocks (events, spares) */
#define GREEN_REG_WAIT_SPARE	(1U << 2)	/* with HOLD: a block that finds
						 * no spare parked waits for one */
#define GREEN_REG_FLAGS		(GREEN_REG_HOLD | GREEN_REG_NOTIFY | \
				 GREEN_REG_WAIT_SPARE)

/**
 * struct green_register - GREEN_IOC_REGISTER: make the caller a worker
 * @size: sizeof(struct green_register)
 * @flags: GREEN_REG_* (HOLD implies NOTIFY; WAIT_SPARE needs HOLD)
 * @id: out, the worker id
 * @reserved: must be zero
 *
 * Only the calling thread can be registered; it stays registered until it
 * calls UNREGISTER or exits.  With GREEN_REG_WAIT_SPARE, a block that
 * finds no spare parked is not dropped: it stays pending (the worker is
 * held at resume) until the next PARK with GREEN_PARK_SPARE, which then
 * returns at once with GREEN_WOKEN_HANDOFF for it, or until GRANT names
 * the worker.  A runtime that always keeps a spare coming uses it so
 * that a burst of blocks is never missed.  If the group is shut down, the registration
 * is dropped the next time the thread runs.
 */
struct green_register {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 reserved;
};

/**
 * struct green_unregister - GREEN_IOC_UNREGISTER: the caller stops being a
 * worker; its id may be reused.  A pending wake token is discarded.
 * @size: sizeof(struct green_unregister)
 * @reserved: must be zero
 */
struct green_unregister {
	__u32 size;
	__u32 reserved;
};

/* PARK / SWITCH_TO flags */
#define GREEN_PARK_SPARE	(1U << 0)	/* may be woken to take over a blocked worker's CPU */
#define GREEN_PARK_FLAGS	GREEN_PARK_SPARE

/* Why a park returned 0 (@reason). */
#define GREEN_WOKEN_WAKE	1	/* WAKE, WAKE_BATCH or SWITCH_TO named us */
#define GREEN_WOKEN_HANDOFF	2	/* spare woken for blocked worker @from */

/**
 * struct green_park - GREEN_IOC_PARK: sleep until woken
 * @size: sizeof(struct green_park)
 * @flags: GREEN_PARK_*
 * @timeout_ns: relative timeout; 0 waits forever; at most GREEN_TIMEOUT_MAX_NS
 * @reason: out, GREEN_WOKEN_*
 * @from: out, for GREEN_WOKEN_HANDOFF the id of the worker that blocked
 * @reserved: must be zero
 *
 * Each worker has one wake token.  WAKE sets it (a WAKE before the PARK is
 * not lost; several WAKEs before one PARK count once) and PARK consumes it.
 * Returns 0 when woken, ETIMEDOUT, EINTR on a signal, EBADF on shutdown.
 * A GREEN_PARK_SPARE park that a block's handoff picks as it returns for
 * another reason returns GREEN_WOKEN_HANDOFF: the blocked worker waits
 * for that decision, and a woken caller looks again for what else woke it.
 */
struct green_park {
	__u32 size;
	__u32 flags;
	__aligned_u64 timeout_ns;
	__u32 reason;
	__u32 from;
	__aligned_u64 reserved;
};

/**
 * struct green_wake - GREEN_IOC_WAKE, GREEN_IOC_KICK, GREEN_IOC_GRANT
 * @size: sizeof(struct green_wake), or GREEN_WAKE_SIZE_VER0 (the struct
 *	without @flags, @reserved and @blocks, all then taken as zero)
 * @id: target worker id
 * @flags: GRANT: GREEN_GRANT_BLOCKS or 0; WAKE and KICK: must be zero
 * @reserved: must be zero
 * @blocks: with GREEN_GRANT_BLOCKS, the target's slot blocks count that
 *	the grant answers
 *
 * WAKE sets the target's wake token and wakes it if parked.  KICK sets
 * GREEN_SLOT_PREEMPT in the target's slot and kicks it into the kernel
 * if it is running (the runtime checks the flag at safe points).  GRANT
 * sets the target's slot grant word to 1 and releases it if it is held.
 * Any thread of the owning process may call these.
 *
 * A GRANT that arrives after its target has resumed and blocked again
 * would undo the decision about that newer block (grant word back to 1:
 * the block's processor is never lent).  With GREEN_GRANT_BLOCKS, GRANT
 * does nothing if the slot's blocks count is no longer @blocks
 * (GREEN_FEAT_GRANT_BLOCKS).  A runtime that writes the grant word itself
 * and then calls GRANT to release a held worker wants this.
 */
struct green_wake {
	__u32 size;
	__u32 id;
	__u32 flags;
	__u32 reserved;
	__aligned_u64 blocks;
};

#define GREEN_WAKE_SIZE_VER0	8
#define GREEN_GRANT_BLOCKS	(1U << 0)

/**
 * struct green_wake_batch - GREEN_IOC_WAKE_BATCH: WAKE each id in an array
 * @size: sizeof(struct green_wake_batch)
 * @count: number of ids, 1 .. GREEN_BATCH_MAX
 * @ids: user pointer to __u32 ids[count]
 * @woken: out, number of ids that named a registered worker
 * @reserved: must be zero
 *
 * Ids that are not registered are skipped (counted out of @woken), never
 * an error; the whole array is read before anybody is woken (EFAULT wakes
 * nobody).
 */
struct green_wake_batch {
	__u32 size;
	__u32 count;
	__aligned_u64 ids;
	__u32 woken;
	__u32 reserved;
};

/* SWITCH_TO flags (in addition to GREEN_PARK_*) */
#define GREEN_SWITCH_GRANT	(1U << 8)	/* GRANT the target instead of WAKE */
#define GREEN_SWITCH_ANYCPU	(1U << 9)	/* leave the target's CPU to the
						 * scheduler (see below) */
#define GREEN_SWITCH_FLAGS	(GREEN_PARK_FLAGS | GREEN_SWITCH_GRANT | \
				 GREEN_SWITCH_ANYCPU)

/**
 * struct green_switch_to - GREEN_IOC_SWITCH_TO: wake @id and park the caller
 * @size: sizeof(struct green_switch_to)
 * @id: worker to wake (must be registered, not the caller)
 * @timeout_ns: as for PARK
 * @flags: GREEN_SWITCH_FLAGS
 * @reason: out, as for PARK
 * @from: out, as for PARK
 * @reserved: must be zero
 *
 * The target is woken and the caller parks in one call (one syscall instead
 * of two; the caller's CPU is given up at once).  With GREEN_SWITCH_GRANT
 * the target is granted (see struct green_slot) instead of woken.
 *
 * A target parked in PARK or SWITCH_TO runs on the caller's CPU, which the
 * caller is giving up, rather than wherever the scheduler would put it (an
 * idle CPU, at the cost of waking that CPU): for the wakeup, its allowed
 * CPUs are narrowed to the caller's, and it restores them itself before it
 * returns (GREEN_FEAT_SWITCH_HERE).  Not done when the caller's CPU is not
 * among the target's allowed ones, when the target may run on one CPU only,
 * or with GREEN_SWITCH_ANYCPU.  A sched_setaffinity() on the target while
 * it is being woken this way is kept (the restore sees a mask it did not
 * set and leaves it), unless it races with the narrowing itself.
 * Errors as for WAKE (nobody parks) and then as for PARK.
 */
struct green_switch_to {
	__u32 size;
	__u32 id;
	__aligned_u64 timeout_ns;
	__u32 flags;
	__u32 reason;
	__u32 from;
	__u32 reserved;
};

/**
 * struct green_group_stats - GREEN_IOC_STATS: the group's counters (all out)
 * @size: sizeof(struct green_group_stats); a smaller size (at least 8) gets a
 *	prefix of the counters
 * @nr_workers: registered workers now
 * @parks: PARK and SWITCH_TO calls that slept or consumed a token
 * @wakes: tokens set by WAKE, WAKE_BATCH and SWITCH_TO
 * @switch_tos: SWITCH_TO calls
 * @blocks: real blocks of registered workers (preemption not counted)
 * @unblocks: resumes after such a block
 * @handoffs: spares woken because a worker blocked
 * @holds: resumes held until granted
 * @kicks: KICK calls
 * @events_lost: block/unblock events dropped because the ring was full
 * @handoff_hist: handoff latency, block to spare woken: bucket i counts
 *	latencies in [2^i, 2^(i+1)) ns (bucket 0 also counts 0 ns)
 * @switch_here: SWITCH_TO targets run on the caller's CPU by narrowing their
 *	allowed CPUs for the wakeup (GREEN_FEAT_SWITCH_HERE)
 */
struct green_group_stats {
	__u32 size;
	__u32 nr_workers;
	__aligned_u64 parks;
	__aligned_u64 wakes;
	__aligned_u64 switch_tos;
	__aligned_u64 blocks;
	__aligned_u64 unblocks;
	__aligned_u64 handoffs;
	__aligned_u64 holds;
	__aligned_u64 kicks;
	__aligned_u64 events_lost;
	__aligned_u64 handoff_hist[GREEN_HIST_BUCKETS];
	__aligned_u64 switch_here;
};

#define GREEN_IOC_VERSION	_IO(GREEN_TYPE, GREEN_CMD_VERSION)
#define GREEN_IOC_REGISTER	_IO(GREEN_TYPE, GREEN_CMD_REGISTER)
#define GREEN_IOC_UNREGISTER	_IO(GREEN_TYPE, GREEN_CMD_UNREGISTER)
#define GREEN_IOC_PARK		_IO(GREEN_TYPE, GREEN_CMD_PARK)
#define GREEN_IOC_WAKE		_IO(GREEN_TYPE, GREEN_CMD_WAKE)
#define GREEN_IOC_WAKE_BATCH	_IO(GREEN_TYPE, GREEN_CMD_WAKE_BATCH)
#define GREEN_IOC_SWITCH_TO	_IO(GREEN_TYPE, GREEN_CMD_SWITCH_TO)
#define GREEN_IOC_KICK		_IO(GREEN_TYPE, GREEN_CMD_KICK)
#define GREEN_IOC_GRANT		_IO(GREEN_TYPE, GREEN_CMD_GRANT)
#define GREEN_IOC_STATS		_IO(GREEN_TYPE, GREEN_CMD_STATS)

/*
 * Shared memory (mmap).  The kernel writes everything except @ring_tail
 * and a slot's @grant, @preempt and @nolend words, which userspace may
 * write.
 */

/* slot state: what the worker is doing as far as the module knows */
#define GREEN_WS_FREE		0	/* id not registered */
#define GREEN_WS_RUNNING	1
#define GREEN_WS_PARKED		2
#define GREEN_WS_BLOCKED	3	/* blocked in the kernel */
#define GREEN_WS_HELD		4	/* resumed, waiting for a grant */

/* event types */
#define GREEN_EV_BLOCK		1
#define GREEN_EV_UNBLOCK	2

/**
 * struct green_event - one ring entry
 * @seq: ring index + 1, written last: an entry is valid when @seq equals
 *	its index + 1 (read it with acquire semantics)
 * @worker: worker id
 * @type: GREEN_EV_*
 * @time_ns: CLOCK_MONOTONIC time of the event
 */
struct green_event {
	__aligned_u64 seq;
	__u32 worker;
	__u32 type;
	__aligned_u64 time_ns;
	__aligned_u64 reserved;
};

/**
 * struct green_slot - per-worker word block, one cache line
 * @state: GREEN_WS_*
 * @cpu: CPU the worker last blocked or ran on
 * @grant: 1 = may run.  For GREEN_REG_HOLD workers the kernel sets it to 0
 *	when a spare is woken to take over the blocked worker's CPU; if no
 *	spare was woken it stays (or is set back to) 1.  A held worker
 *	returns to user code once it is 1 (userspace sets it and issues
 *	GRANT or WAKE, or just GRANT).
 * @preempt: set to 1 by KICK; userspace clears it
 * @blocks: blocks of this worker
 * @unblocks: resumes of this worker after a block
 * @block_ns: CLOCK_MONOTONIC time of the last block
 * @nolend: written by the worker: nonzero while it must keep its CPU's
 *	work to itself (a runtime's scheduler or critical section).  A block
 *	then is counted and reported as an event, but wakes no spare and is
 *	never held.
 */
struct green_slot {
	__u32 state;
	__u32 cpu;
	__u32 grant;
	__u32 preempt;
	__aligned_u64 blocks;
	__aligned_u64 unblocks;
	__aligned_u64 block_ns;
	__u32 nolend;
	__u32 pad;
	__aligned_u64 reserved[2];
};

/**
 * struct green_shm_header - first page of the mapping
 * @abi_version: GREEN_ABI_VERSION
 * @max_workers: GREEN_MAX_WORKERS
 * @ring_size: GREEN_RING_SIZE
 * @ring_head: next ring index the kernel will write (free running)
 * @ring_tail: next index userspace will read; userspace writes it.  The fd
 *	polls readable while ring_head != ring_tail.  When the ring is full
 *	events are dropped and counted in events_lost.
 * @events: total events produced
 * @events_lost: events dropped
 */
struct green_shm_header {
	__u32 abi_version;
	__u32 max_workers;
	__u32 ring_size;
	__u32 reserved0;
	__aligned_u64 ring_head;
	__aligned_u64 ring_tail;
	__aligned_u64 events;
	__aligned_u64 events_lost;
};

/**
 * struct green_shm - the mapping: header page, ring page, slot pages
 */
struct green_shm {
	union {
		struct green_shm_header hdr;
		__u8 hdr_page[4096];
	};
	struct green_event ring[GREEN_RING_SIZE];
	struct green_slot slots[GREEN_MAX_WORKERS];
};

#define GREEN_SHM_SIZE	sizeof(struct green_shm)

#endif /* _UAPI_LINUX_GREEN_H */
