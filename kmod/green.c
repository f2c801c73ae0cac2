// SPDX-License-Identifier: GPL-2.0
/*
 * green.ko - kernel help for the libgreen M:N runtime: park, wake,
 * switch-to, and notification when a worker thread blocks.
 *
 * What it does
 * ------------
 * A userspace M:N scheduler runs green tasks on a few worker threads.  It
 * needs three things the kernel does not offer cheaply: (1) park an idle
 * worker and wake it by name, with a wake that may come before the park;
 * (2) hand the CPU straight from one worker to another (wake the target,
 * sleep self) without a trip through an idle CPU; (3) learn at once when a
 * worker blocks inside the kernel (a syscall the runtime did not wrap, a
 * page fault), so that the worker's processor goes to a spare worker, and
 * stop the blocked worker from returning to user code while its processor
 * is taken.  Go fakes (3) with a polling sysmon thread (20 us .. 10 ms).
 *
 * Objects
 * -------
 * group:  one open of /dev/green by one process (tgid and mm recorded at
 *         open).  Owns the shared memory (struct green_shm: header, event
 *         ring, one slot per worker) that the process maps, a poll wait
 *         queue, the table of workers and the list of parked spares.
 * worker: a thread of that process that registered itself.  Owns a
 *         preempt notifier on its own task, a wake token, a wait queue
 *         and a task_work.  Only the thread itself can register or
 *         unregister, so an id can never name a thread of another process.
 *
 * Protocol
 * --------
 * 1. PARK consumes the worker's token (atomic xchg to 0) or sleeps on the
 *    worker's wait queue until the token is set: a WAKE before the PARK is
 *    not lost.  WAKE sets the token 0 -> 1 and wakes the queue.
 * 2. SWITCH_TO does WAKE on the target and then PARKs the caller in one
 *    call.  Sleepers are woken with wake_up_process() only when they sit
 *    in one of our waits (in_wait, Dekker-style with the token), with no
 *    wait-queue lock.  The target runs on the caller's CPU: for the wakeup
 *    its allowed CPUs are narrowed to that one, and it restores them itself
 *    before it leaves the park (green_pin_here/green_pin_close, with the
 *    handshake described there).  Otherwise the scheduler wakes it on an
 *    idle CPU, and waking that CPU costs more than the switch (4x under
 *    TCG).  Rejected: __wake_up_sync_key (WF_SYNC, "run it here"): 6.1 has
 *    no WF_CURRENT_CPU, WF_SYNC still prefers an idle CPU, and under TCG it
 *    measured bimodal (2-5 ms round trips when the idle CPU pulled the
 *    wakee).  For block handoffs (irq_work, no sleeping allowed) the
 *    irq_work prefers a spare that parked on the blocked worker's CPU, and
 *    starts the spare's wakeup from that CPU, now idle (green_wake_here).
 * 3. Block detection: the preempt notifier's sched_out runs with the rq
 *    lock held and interrupts off.  current->on_rq == 0 there means a real
 *    block (a preemption leaves it on the runqueue).  Excluded: the
 *    module's own sleeps (park, hold: a per-worker in_wait flag), exiting
 *    tasks (PF_EXITING) and the final switch of a dead task (TASK_DEAD).
 *    The hook only writes module-owned memory (slot, ring), increments
 *    atomics, puts the worker on a lock-free list and queues the group's
 *    irq_work.  It never wakes anybody, takes no lock but a leaf raw
 *    spinlock for the ring, and never touches user memory (it may fault).
 * 4. The irq_work handler (hard irq, rq lock no longer held) pops a parked
 *    spare (same CPU preferred), sets its token to HANDOFF and wakes it,
 *    records the block->wake latency, and wakes poll() waiters.  For a
 *    worker that asked for GREEN_REG_HOLD it sets the slot's grant word to
 *    0 when a spare took the processor and then clears the worker's
 *    handoff-pending bit.  If no spare is parked, a WAIT_SPARE worker's
 *    block stays pending (it is held at resume) on g->missed: the next spare to
 *    park takes it at once instead of sleeping, or GRANT ends it.  So a
 *    burst of blocks never outruns the runtime's supply of spares.
 * 5. sched_in after a block (runs after the rq lock is dropped, preemption
 *    off) records UNBLOCK and, for HOLD workers, task_work_add(TWA_RESUME).
 *    The callback runs on return to user mode and sleeps (killable) until
 *    the handoff decision is made and the grant word is nonzero (GRANT
 *    ioctl, or userspace writes the word and calls GRANT or WAKE), or the
 *    group is shut down.  A grant may come late, after the worker was let
 *    go, resumed and blocked again: it must not undo the decision about
 *    that newer block, so GRANT can name the block it answers (the slot's
 *    blocks count, GREEN_GRANT_BLOCKS) and then does nothing for a newer
 *    one, checking and writing under group->lock as the deciders do.
 *
 * Lifetime
 * --------
 * Workers and groups are refcounted.  A worker holds a ref on its group
 * and the group holds the module, so a task that still carries our
 * notifier keeps the code alive.  The worker's refs: one for the
 * registration (table slot and attached notifier, dropped when both are
 * gone), one while it is on the blocked list, one while its task_work is
 * queued (task_work_cancel is not exported in 6.1, so a queued callback
 * may outlive an unregister; it finds the worker detached and just drops
 * its ref).  A preempt notifier can only be removed by its own task:
 *   - UNREGISTER ioctl: the thread removes it itself.
 *   - thread exit: the final switch calls sched_out with TASK_DEAD; the
 *     hook puts the worker on the group's exited list and the irq_work
 *     handler (which runs only after that switch has finished walking the
 *     notifier list) removes it from the table and drops the ref.
 *   - group shut down (close, exit) or exec (mm changed): the next
 *     sched_in queues the task_work, which unregisters the notifier.
 * Shutdown happens on any close() of the fd by the owning process (flush),
 * because ioctls in progress hold file references, so release() alone
 * would never run while workers are parked.  Shutdown wakes every parked
 * or held worker (park returns -EBADF).
 * The last worker ref frees it after an RCU grace period (ioctls look
 * workers up under RCU; irq_work and hooks run with interrupts or
 * preemption off).  The last group ref queues a work item that waits for
 * the irq_work (irq_work_sync), frees the shared memory and drops the
 * module.  Module exit: misc_deregister, rcu_barrier, destroy_workqueue.
 * rmmod while a group exists is refused by the module refcount.
 *
 * Locking
 * -------
 * group->lock (spinlock, irq-safe: the irq_work takes it): workers table
 * writes, spare list, dead flag.  Never held in the scheduler hooks.
 * Lock order: group->lock -> scheduler locks (wake_up_process).
 * group->ring_lock (raw spinlock, leaf): event ring producers, including
 * the hooks.  Task-private worker fields (attached, blocked) are only
 * touched by the worker's own task or its hooks; in_wait is written only
 * by the task and read by wakers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/irq_work.h>
#include <linux/llist.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include <uapi/linux/green.h>

static_assert(GREEN_SHM_SIZE % PAGE_SIZE == 0);
static_assert(sizeof(struct green_slot) == 64);
static_assert(offsetof(struct green_shm, ring) == 4096);

/* worker->bits */
enum {
	GW_BLOCK_QUEUED,	/* on group->blocked, holds a ref */
	GW_HANDOFF_PENDING,	/* irq_work has not decided about the block */
	GW_TWORK_QUEUED,	/* task_work queued, holds a ref */
};

/* park token values */
#define GREEN_TOKEN_NONE	0

struct green_stat {
	atomic64_t parks, wakes, switch_tos, blocks, unblocks;
	atomic64_t handoffs, holds, kicks, switch_here;
	atomic64_t hist[GREEN_HIST_BUCKETS];
};

struct green_group {
	refcount_t ref;
	spinlock_t lock;
	bool dead;				/* under lock; READ_ONCE elsewhere */
	unsigned int nr_workers;		/* under lock */
	struct green_worker __rcu *workers[GREEN_MAX_WORKERS];
	struct list_head spares;		/* under lock */
	struct list_head missed;		/* under lock: HOLD workers that
						 * blocked with no spare parked;
						 * each entry holds a ref */
	pid_t tgid;
	struct mm_struct *mm;			/* mmgrab()ed: never reused */
	struct green_shm *shm;			/* vmalloc_user() */
	raw_spinlock_t ring_lock;
	u64 ring_head;				/* under ring_lock */
	u64 events_lost;			/* under ring_lock */
	wait_queue_head_t poll_wq;
	struct irq_work irq_work;
	struct llist_head blocked;
	struct llist_head exited;
	struct work_struct free_work;
	struct dentry *debugfs;
	struct green_stat st;
};

struct green_worker {
	refcount_t ref;
	struct green_group *g;
	struct task_struct *task;		/* get_task_struct()ed */
	u32 id;
	u32 flags;				/* GREEN_REG_* */
	struct preempt_notifier pn;
	/* task-private: only the worker's task and its hooks */
	bool attached;
	bool blocked;
	bool in_wait;
	/* shared */
	unsigned long bits;
	atomic_t token;				/* GREEN_WOKEN_* or 0 */
	u32 handoff_from;
	u32 park_cpu;
	u64 block_ns;
	atomic_t pin;				/* GREEN_PIN_*: switch-to placement */
	int pin_cpu;				/* the CPU it was narrowed to */
	cpumask_var_t pin_saved;		/* its allowed CPUs before */
	struct list_head spare_node;		/* under g->lock */
	struct list_head missed_node;		/* under g->lock */
	struct llist_node block_node;
	struct llist_node exit_node;
	struct callback_head twork;
	struct rcu_head rcu;
};

static struct workqueue_struct *green_wq;
static struct dentry *green_debugfs_root;
static atomic_t green_group_seq = ATOMIC_INIT(0);
static struct preempt_ops green_preempt_ops;

/*
 * Test-only fault injection, compiled in only with -DGREEN_FAULT_INJECT
 * (tests/vmdebug/broken.sh): inject_uaf=1 reads each group after freeing
 * it, a use-after-free that the debug kernel's KASAN must report.
 * Production builds carry no such parameter.
 */
#ifdef GREEN_FAULT_INJECT
static bool inject_uaf;
module_param(inject_uaf, bool, 0444);
MODULE_PARM_DESC(inject_uaf, "test only: read each group after freeing it");
#else
static const bool inject_uaf;	/* always false: the read compiles away */
#endif

/* ---------------------------------------------------------------- */
/* lifetime */

static void green_group_free_work(struct work_struct *work)
{
	struct green_group *g = container_of(work, struct green_group,
					     free_work);

	irq_work_sync(&g->irq_work);
	vfree(g->shm);
	mmdrop(g->mm);
	kfree(g);
	if (inject_uaf)		/* the deliberate bug: see GREEN_FAULT_INJECT */
		pr_info("fault injection: read the freed group of tgid %d\n",
			READ_ONCE(g->tgid));
	module_put(THIS_MODULE);
}

/* Any context except the scheduler hooks. */
static void green_group_put(struct green_group *g)
{
	if (refcount_dec_and_test(&g->ref))
		queue_work(green_wq, &g->free_work);
}

static void green_worker_free_rcu(struct rcu_head *rcu)
{
	struct green_worker *w = container_of(rcu, struct green_worker, rcu);

	put_task_struct(w->task);
	green_group_put(w->g);
	free_cpumask_var(w->pin_saved);
	kfree(w);
}

/* Any context except the scheduler hooks. */
static void green_worker_put(struct green_worker *w)
{
	if (refcount_dec_and_test(&w->ref))
		call_rcu(&w->rcu, green_worker_free_rcu);
}

/*
 * Wake @w if it sleeps in one of our waits.  The caller has just changed
 * the condition with a full barrier (atomic RMW or smp_mb()); the sleeper
 * sets in_wait and then its task state (a full barrier) before it checks
 * the condition, so either it sees the change or we see in_wait.
 */
static void green_kick_sleeper(struct green_worker *w)
{
	if (READ_ONCE(w->in_wait))
		wake_up_process(w->task);
}

static struct green_slot *green_slot(struct green_worker *w)
{
	return &w->g->shm->slots[w->id];
}

/* Remove @w from the table if it is still there.  Any context. */
static void green_worker_unlink(struct green_worker *w)
{
	struct green_group *g = w->g;
	unsigned long flags;

	spin_lock_irqsave(&g->lock, flags);
	if (rcu_access_pointer(g->workers[w->id]) == w) {
		RCU_INIT_POINTER(g->workers[w->id], NULL);
		g->nr_workers--;
		WRITE_ONCE(g->shm->slots[w->id].state, GREEN_WS_FREE);
	}
	spin_unlock_irqrestore(&g->lock, flags);
}

/* The worker's own task removes its notifier and registration. */
static void green_worker_detach_self(struct green_worker *w)
{
	if (WARN_ON_ONCE(w->task != current) || !w->attached)
		return;
	preempt_disable();
	preempt_notifier_unregister(&w->pn);
	w->attached = false;
	w->blocked = false;
	preempt_enable();
	green_worker_unlink(w);
	green_worker_put(w);
}

static void green_release_missed(struct green_group *g, struct list_head *l);

/* Mark the group dead and wake everybody who sleeps for it. */
static void green_group_shutdown(struct green_group *g)
{
	LIST_HEAD(missed);
	unsigned int i;

	spin_lock_irq(&g->lock);
	if (g->dead) {
		spin_unlock_irq(&g->lock);
		return;
	}
	WRITE_ONCE(g->dead, true);
	list_splice_init(&g->missed, &missed);
	spin_unlock_irq(&g->lock);
	green_release_missed(g, &missed);

	rcu_read_lock();
	for (i = 0; i < GREEN_MAX_WORKERS; i++) {
		struct green_worker *w = rcu_dereference(g->workers[i]);

		if (w)
			wake_up_process(w->task);
	}
	rcu_read_unlock();
	wake_up_poll(&g->poll_wq, EPOLLHUP);
}

/* ---------------------------------------------------------------- */
/* events and scheduler hooks (rq lock may be held: no sleeping, no wakeups) */

static void green_event(struct green_group *g, u32 id, u32 type, u64 now)
{
	struct green_shm_header *hdr = &g->shm->hdr;
	struct green_event *e;
	unsigned long flags;
	u64 head;

	raw_spin_lock_irqsave(&g->ring_lock, flags);
	head = g->ring_head;
	if (head - READ_ONCE(hdr->ring_tail) >= GREEN_RING_SIZE) {
		WRITE_ONCE(hdr->events_lost, ++g->events_lost);
	} else {
		e = &g->shm->ring[head & (GREEN_RING_SIZE - 1)];
		WRITE_ONCE(e->worker, id);
		WRITE_ONCE(e->type, type);
		WRITE_ONCE(e->time_ns, now);
		/* publish the entry: pairs with the reader's acquire of seq */
		smp_store_release(&e->seq, head + 1);
		g->ring_head = head + 1;
		WRITE_ONCE(hdr->ring_head, head + 1);
	}
	WRITE_ONCE(hdr->events, READ_ONCE(hdr->events) + 1);
	raw_spin_unlock_irqrestore(&g->ring_lock, flags);
}

static void green_sched_out(struct preempt_notifier *pn,
			    struct task_struct *next)
{
	struct green_worker *w = container_of(pn, struct green_worker, pn);
	struct green_group *g = w->g;
	struct green_slot *slot;
	u64 now;

	if (READ_ONCE(current->__state) == TASK_DEAD) {
		/* Final switch: the handler runs after it has finished. */
		llist_add(&w->exit_node, &g->exited);
		irq_work_queue(&g->irq_work);
		return;
	}
	if (current->on_rq || (current->flags & PF_EXITING) || w->in_wait ||
	    !(w->flags & GREEN_REG_NOTIFY) || READ_ONCE(g->dead) ||
	    current->mm != g->mm)
		return;

	w->blocked = true;
	now = ktime_get_ns();
	w->block_ns = now;
	slot = green_slot(w);
	WRITE_ONCE(slot->state, GREEN_WS_BLOCKED);
	WRITE_ONCE(slot->cpu, raw_smp_processor_id());
	WRITE_ONCE(slot->block_ns, now);
	WRITE_ONCE(slot->blocks, slot->blocks + 1);
	atomic64_inc(&g->st.blocks);
	green_event(g, w->id, GREEN_EV_BLOCK, now);
	/* The worker keeps its CPU's work (its scheduler, say): no spare. */
	if (!READ_ONCE(slot->nolend) &&
	    !test_and_set_bit(GW_BLOCK_QUEUED, &w->bits)) {
		refcount_inc(&w->ref);
		if (w->flags & GREEN_REG_HOLD)
			set_bit(GW_HANDOFF_PENDING, &w->bits);
		llist_add(&w->block_node, &g->blocked);
	}
	irq_work_queue(&g->irq_work);
}

static void green_queue_twork(struct green_worker *w)
{
	if (test_and_set_bit(GW_TWORK_QUEUED, &w->bits))
		return;
	refcount_inc(&w->ref);
	if (task_work_add(current, &w->twork, TWA_RESUME)) {
		clear_bit(GW_TWORK_QUEUED, &w->bits);
		refcount_dec(&w->ref);	/* never the last: registration */
	}
}

static void green_sched_in(struct preempt_notifier *pn, int cpu)
{
	struct green_worker *w = container_of(pn, struct green_worker, pn);
	struct green_group *g = w->g;
	struct green_slot *slot;

	if (current->flags & PF_EXITING)
		return;
	if (unlikely(READ_ONCE(g->dead) || current->mm != g->mm)) {
		/* Detach on the way back to user mode. */
		green_queue_twork(w);
		return;
	}
	if (!w->blocked)
		return;
	w->blocked = false;
	slot = green_slot(w);
	WRITE_ONCE(slot->unblocks, slot->unblocks + 1);
	WRITE_ONCE(slot->cpu, cpu);
	WRITE_ONCE(slot->state, GREEN_WS_RUNNING);
	atomic64_inc(&g->st.unblocks);
	green_event(g, w->id, GREEN_EV_UNBLOCK, ktime_get_ns());
	irq_work_queue(&g->irq_work);
	if (w->flags & GREEN_REG_HOLD)
		green_queue_twork(w);
}

static struct preempt_ops green_preempt_ops = {
	.sched_in = green_sched_in,
	.sched_out = green_sched_out,
};

/* ---------------------------------------------------------------- */
/* irq_work: wake spares and pollers, reap exited workers */

static void green_hist_add(struct green_group *g, u64 ns)
{
	unsigned int b = ns ? ilog2(ns) : 0;

	atomic64_inc(&g->st.hist[min_t(unsigned int, b,
					  GREEN_HIST_BUCKETS - 1)]);
}

/*
 * Wake spare @t onto this CPU, which its blocked worker just left idle.
 * From irq_work a module can neither narrow @t's CPUs (that may sleep)
 * nor pass WF_CURRENT_CPU (6.1 has none), so it does what the kernel's
 * NUMA swap does for a task that is not running: sets the CPU the wakeup
 * starts from (wake_cpu), under the pi_lock that try_to_wake_up() reads
 * it under.  The scheduler still decides (it takes this CPU when idle)
 * and migrates @t the usual way; left alone it would pick @t's previous
 * CPU, and waking that idle CPU costs more than the whole handoff (2-3x
 * under TCG).
 */
static void green_wake_here(struct task_struct *t, u32 cpu)
{
	unsigned long flags;

	if (cpu == raw_smp_processor_id()) {
		raw_spin_lock_irqsave(&t->pi_lock, flags);
		if (!READ_ONCE(t->on_rq) && cpumask_test_cpu(cpu, t->cpus_ptr))
			t->wake_cpu = cpu;
		raw_spin_unlock_irqrestore(&t->pi_lock, flags);
	}
	wake_up_process(t);
}

/* Called with g->lock held.  Returns true if a spare took the CPU. */
static bool green_handoff_locked(struct green_group *g, struct green_worker *w)
{
	struct green_worker *s, *pick;
	u32 cpu = READ_ONCE(g->shm->slots[w->id].cpu);

	while (!list_empty(&g->spares)) {
		pick = list_first_entry(&g->spares, struct green_worker,
					spare_node);
		list_for_each_entry(s, &g->spares, spare_node) {
			if (s->park_cpu == cpu) {
				pick = s;
				break;
			}
		}
		list_del_init(&pick->spare_node);
		WRITE_ONCE(pick->handoff_from, w->id);
		if (atomic_cmpxchg(&pick->token, GREEN_TOKEN_NONE,
				   GREEN_WOKEN_HANDOFF) != GREEN_TOKEN_NONE)
			continue;	/* already woken by somebody else */
		green_wake_here(pick->task, cpu);
		return true;
	}
	return false;
}

/*
 * The handoff decision about @w's block is made: a spare took its CPU
 * (@took) or not.  Clears the pending bit that holds a HOLD worker at
 * resume (after grant = 0: green_may_resume()) and kicks it if held.
 */
static void green_block_decided(struct green_group *g,
				struct green_worker *w, bool took)
{
	if (took) {
		atomic64_inc(&g->st.handoffs);
		green_hist_add(g, ktime_get_ns() - w->block_ns);
	}
	smp_mb__before_atomic();
	clear_bit(GW_HANDOFF_PENDING, &w->bits);
	smp_mb__after_atomic();	/* bit before in_wait: kick_sleeper */
	if (w->flags & GREEN_REG_HOLD)
		green_kick_sleeper(w);
}

/*
 * A spare about to park takes the oldest missed block instead; g->lock
 * held.  Returns that worker (its missed ref now the caller's), or NULL.
 * Workers gone from the table are moved to @gone for the caller to
 * release.
 */
static struct green_worker *green_pop_missed_locked(struct green_group *g,
						    struct list_head *gone)
{
	struct green_worker *w;

	while ((w = list_first_entry_or_null(&g->missed, struct green_worker,
					     missed_node))) {
		list_del_init(&w->missed_node);
		if (rcu_access_pointer(g->workers[w->id]) == w)
			return w;
		list_add_tail(&w->missed_node, gone);
	}
	return NULL;
}

/* Release workers taken off g->missed without a handoff. */
static void green_release_missed(struct green_group *g, struct list_head *l)
{
	struct green_worker *w, *tmp;

	list_for_each_entry_safe(w, tmp, l, missed_node) {
		list_del_init(&w->missed_node);
		green_block_decided(g, w, false);
		green_worker_put(w);
	}
}

static void green_irq_work(struct irq_work *iw)
{
	struct green_group *g = container_of(iw, struct green_group, irq_work);
	struct green_worker *w, *tmp;
	struct llist_node *list;
	bool took, missed;

	list = llist_del_all(&g->blocked);
	llist_for_each_entry_safe(w, tmp, list, block_node) {
		spin_lock(&g->lock);
		took = false;
		missed = false;
		if (!g->dead && rcu_access_pointer(g->workers[w->id]) == w) {
			took = green_handoff_locked(g, w);
			if (took && (w->flags & GREEN_REG_HOLD)) {
				WRITE_ONCE(green_slot(w)->grant, 0);
			} else if (!took &&
				   (w->flags & GREEN_REG_WAIT_SPARE)) {
				/*
				 * No spare parked: the block stays pending
				 * (the worker is held at resume) until the
				 * next spare parks and takes it, or GRANT.
				 */
				if (list_empty(&w->missed_node)) {
					refcount_inc(&w->ref);
					list_add_tail(&w->missed_node,
						      &g->missed);
				}
				missed = true;
			}
		}
		spin_unlock(&g->lock);
		clear_bit(GW_BLOCK_QUEUED, &w->bits);
		if (!missed)
			green_block_decided(g, w, took);
		green_worker_put(w);
	}

	list = llist_del_all(&g->exited);
	llist_for_each_entry_safe(w, tmp, list, exit_node) {
		green_worker_unlink(w);
		green_worker_put(w);
	}

	wake_up_poll(&g->poll_wq, EPOLLIN);
}

/* ---------------------------------------------------------------- */
/* task_work: hold at resume, detach after shutdown or exec */

static bool green_may_resume(struct green_worker *w)
{
	if (READ_ONCE(w->g->dead))
		return true;
	if (test_bit(GW_HANDOFF_PENDING, &w->bits))
		return false;
	smp_rmb();	/* pending bit before grant: see green_irq_work() */
	return READ_ONCE(green_slot(w)->grant) != 0;
}

static void green_twork(struct callback_head *cb)
{
	struct green_worker *w = container_of(cb, struct green_worker, twork);
	struct green_group *g = w->g;
	struct green_slot *slot = green_slot(w);

	clear_bit(GW_TWORK_QUEUED, &w->bits);
	if (!w->attached || (current->flags & PF_EXITING))
		goto out;
	if (READ_ONCE(g->dead) || current->mm != g->mm) {
		green_worker_detach_self(w);
		goto out;
	}
	if (green_may_resume(w))
		goto out;

	atomic64_inc(&g->st.holds);
	WRITE_ONCE(slot->state, GREEN_WS_HELD);
	WRITE_ONCE(w->in_wait, true);
	/* Only a fatal signal ends the hold early. */
	for (;;) {
		set_current_state(TASK_KILLABLE);
		if (green_may_resume(w) || fatal_signal_pending(current))
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	WRITE_ONCE(w->in_wait, false);
	WRITE_ONCE(slot->state, GREEN_WS_RUNNING);
out:
	green_worker_put(w);
}

/* ---------------------------------------------------------------- */
/* ioctl helpers */

/*
 * Read an extensible struct: its first __u32 is the caller's size.
 * Returns the caller's size or -errno.
 */
static long green_get_arg(void *karg, size_t ksize, size_t minsize,
			  void __user *uarg)
{
	u32 usize;
	int ret;

	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < minsize)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(karg, ksize, uarg, usize);
	if (ret)
		return ret;
	return usize;
}

static int green_put_arg(void __user *uarg, const void *karg, size_t ksize,
			 size_t usize)
{
	if (copy_to_user(uarg, karg, min(ksize, usize)))
		return -EFAULT;
	return 0;
}

/* Version 1 of every struct is its full size: smaller is -EINVAL. */
#define GREEN_GET(k, u) green_get_arg(&(k), sizeof(k), sizeof(k), (u))

static bool green_owner(struct green_group *g)
{
	return current->tgid == g->tgid && current->mm == g->mm;
}

/* The calling thread's worker in @g, or NULL. */
static struct green_worker *green_self(struct green_group *g)
{
	struct preempt_notifier *pn;
	struct green_worker *w;

	hlist_for_each_entry(pn, &current->preempt_notifiers, link) {
		if (pn->ops != &green_preempt_ops)
			continue;
		w = container_of(pn, struct green_worker, pn);
		if (w->g == g)
			return w;
	}
	return NULL;
}

/* Under rcu_read_lock(). */
static struct green_worker *green_lookup(struct green_group *g, u32 id)
{
	if (id >= GREEN_MAX_WORKERS)
		return NULL;
	return rcu_dereference(g->workers[array_index_nospec(id,
						GREEN_MAX_WORKERS)]);
}

/* Set the wake token and wake the worker.  Returns true if it was set. */
static bool green_wake_worker(struct green_group *g, struct green_worker *w)
{
	if (atomic_cmpxchg(&w->token, GREEN_TOKEN_NONE, GREEN_WOKEN_WAKE) !=
	    GREEN_TOKEN_NONE)
		return false;
	atomic64_inc(&g->st.wakes);
	green_kick_sleeper(w);
	return true;
}

static void green_grant_worker(struct green_worker *w)
{
	WRITE_ONCE(green_slot(w)->grant, 1);
	smp_mb();	/* grant before in_wait: see green_kick_sleeper() */
	green_kick_sleeper(w);
}

/*
 * Switch-to placement: the target of a SWITCH_TO runs on the caller's CPU,
 * which the caller is about to give up.  Left to itself, the scheduler
 * would wake the target on an idle CPU (select_idle_sibling), and pay for
 * waking that CPU: the round trip of two workers switching to each other
 * would cross CPUs twice.  6.1 offers a module no "wake on this CPU"
 * (WF_CURRENT_CPU came later, WF_SYNC still prefers an idle CPU), so the
 * caller narrows the parked target's allowed CPUs to its own for the
 * wakeup, and the target restores them itself on its way out of the park,
 * before it can return to user mode.
 *
 * w->pin, the handshake between the two:
 *   CLOSED  the target is not in PARK: nobody may narrow it.
 *   OPEN    set by the target as it parks: a caller may claim it (-> BUSY).
 *   BUSY    a caller is narrowing it (set_cpus_allowed_ptr() may sleep).
 *   PINNED  narrowed to pin_cpu; pin_saved holds the mask before.
 * The target closes on its way out (green_pin_close): OPEN -> CLOSED, or
 * it waits out BUSY and restores PINNED.  So it never leaves narrowed,
 * whether woken by the switch, a timeout, a signal or the shutdown.
 */
enum { GREEN_PIN_CLOSED, GREEN_PIN_OPEN, GREEN_PIN_BUSY, GREEN_PIN_PINNED };

/*
 * Narrow parked @w to this CPU before waking it, when that makes sense.
 * True when it was narrowed.
 */
static bool green_pin_here(struct green_worker *w)
{
	struct task_struct *t = w->task;
	int cpu = raw_smp_processor_id();
	bool pinned;

	/* Running (still on its way into the park): it stays where it is. */
	if (t->nr_cpus_allowed < 2 || !cpumask_test_cpu(cpu, t->cpus_ptr) ||
	    READ_ONCE(t->on_cpu))
		return false;
	if (atomic_cmpxchg(&w->pin, GREEN_PIN_OPEN, GREEN_PIN_BUSY) !=
	    GREEN_PIN_OPEN)
		return false;
	cpumask_copy(w->pin_saved, t->cpus_ptr);
	w->pin_cpu = cpu;
	pinned = !set_cpus_allowed_ptr(t, cpumask_of(cpu));
	atomic_set_release(&w->pin, pinned ? GREEN_PIN_PINNED : GREEN_PIN_OPEN);
	wake_up_var(&w->pin);
	return pinned;
}

/* The parked task itself, leaving the park: no more narrowing; undo one. */
static void green_pin_close(struct green_worker *w)
{
	int old;

	for (;;) {
		old = atomic_cmpxchg(&w->pin, GREEN_PIN_OPEN, GREEN_PIN_CLOSED);
		if (old != GREEN_PIN_BUSY)
			break;
		wait_var_event(&w->pin,
			       atomic_read_acquire(&w->pin) != GREEN_PIN_BUSY);
	}
	if (old != GREEN_PIN_PINNED)
		return;
	/* A mask set by someone else meanwhile is theirs: keep it. */
	if (cpumask_equal(current->cpus_ptr, cpumask_of(w->pin_cpu)))
		set_cpus_allowed_ptr(current, w->pin_saved);
	atomic_set(&w->pin, GREEN_PIN_CLOSED);
}

/* Sleep until the token is set.  Returns the token value or -errno. */
static int green_park_self(struct green_group *g, struct green_worker *w,
			   u32 flags, u64 timeout_ns)
{
	struct green_slot *slot = green_slot(w);
	struct green_worker *blocked = NULL;
	ktime_t expires = 0;
	LIST_HEAD(gone);
	int ret;

	if (timeout_ns)
		expires = ktime_add_ns(ktime_get(), timeout_ns);
	if (flags & GREEN_PARK_SPARE) {
		w->park_cpu = raw_smp_processor_id();
		spin_lock_irq(&g->lock);
		if (!g->dead)
			blocked = green_pop_missed_locked(g, &gone);
		if (blocked)	/* under the lock: see green_ioc_kick_grant */
			WRITE_ONCE(green_slot(blocked)->grant, 0);
		else
			list_add_tail(&w->spare_node, &g->spares);
		spin_unlock_irq(&g->lock);
		green_release_missed(g, &gone);
		if (blocked) {
			/* A block nobody took yet: take it now. */
			WRITE_ONCE(w->handoff_from, blocked->id);
			green_block_decided(g, blocked, true);
			green_worker_put(blocked);
			return GREEN_WOKEN_HANDOFF;
		}
	}
	atomic64_inc(&g->st.parks);
	WRITE_ONCE(slot->state, GREEN_WS_PARKED);
	atomic_set(&w->pin, GREEN_PIN_OPEN);
	WRITE_ONCE(w->in_wait, true);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		ret = atomic_xchg(&w->token, GREEN_TOKEN_NONE);
		if (ret)
			break;
		ret = -EBADF;
		if (READ_ONCE(g->dead))
			break;
		ret = -EINTR;
		if (signal_pending(current))
			break;
		if (!timeout_ns) {
			schedule();
			continue;
		}
		if (!schedule_hrtimeout_range(&expires, current->timer_slack_ns,
					      HRTIMER_MODE_ABS)) {
			ret = atomic_xchg(&w->token, GREEN_TOKEN_NONE);
			if (!ret)
				ret = -ETIMEDOUT;
			break;
		}
	}
	__set_current_state(TASK_RUNNING);
	WRITE_ONCE(w->in_wait, false);
	green_pin_close(w);
	WRITE_ONCE(slot->state, GREEN_WS_RUNNING);
	if (flags & GREEN_PARK_SPARE) {
		spin_lock_irq(&g->lock);
		list_del_init(&w->spare_node);
		/*
		 * A handoff may have picked us after we took our token and
		 * before we left the list: its worker is frozen until we
		 * decide, so say it now rather than at our next park (a
		 * wake only asks the caller to look again, which it does
		 * after the handoff too).  No handoff can pick us now.
		 */
		if (ret != GREEN_WOKEN_HANDOFF && ret != -EBADF &&
		    atomic_cmpxchg(&w->token, GREEN_WOKEN_HANDOFF,
				   GREEN_TOKEN_NONE) == GREEN_WOKEN_HANDOFF)
			ret = GREEN_WOKEN_HANDOFF;
		spin_unlock_irq(&g->lock);
	}
	return ret;
}

/* ---------------------------------------------------------------- */
/* ioctls */

static long green_ioc_version(struct green_group *g, void __user *uarg)
{
	struct green_version v;
	long usize = GREEN_GET(v, uarg);

	if (usize < 0)
		return usize;
	if (v.reserved)
		return -EINVAL;
	v.abi_version = GREEN_ABI_VERSION;
	v.features = GREEN_FEAT_PARK | GREEN_FEAT_SWITCH_TO |
		     GREEN_FEAT_BLOCK_NOTIFY | GREEN_FEAT_HOLD |
		     GREEN_FEAT_KICK | GREEN_FEAT_STATS | GREEN_FEAT_SHM |
		     GREEN_FEAT_WAIT_SPARE | GREEN_FEAT_SWITCH_HERE |
		     GREEN_FEAT_GRANT_BLOCKS;
	v.ioctls = GENMASK_ULL(GREEN_CMD_MAX - 1, 0);
	v.max_workers = GREEN_MAX_WORKERS;
	v.shm_size = GREEN_SHM_SIZE;
	return green_put_arg(uarg, &v, sizeof(v), usize);
}

static int green_check_registrable(struct green_group *g)
{
	struct preempt_notifier *pn;
	struct green_worker *w;

	hlist_for_each_entry(pn, &current->preempt_notifiers, link) {
		if (pn->ops != &green_preempt_ops)
			continue;
		w = container_of(pn, struct green_worker, pn);
		return w->g == g ? -EEXIST : -EBUSY;
	}
	return 0;
}

static long green_ioc_register(struct green_group *g, void __user *uarg)
{
	struct green_register r;
	long usize = GREEN_GET(r, uarg);
	struct green_worker *w;
	struct green_slot *slot;
	u32 id;
	int ret;

	if (usize < 0)
		return usize;
	if (r.reserved || (r.flags & ~GREEN_REG_FLAGS))
		return -EINVAL;
	if ((r.flags & GREEN_REG_WAIT_SPARE) && !(r.flags & GREEN_REG_HOLD))
		return -EINVAL;
	if (r.flags & GREEN_REG_HOLD)
		r.flags |= GREEN_REG_NOTIFY;
	ret = green_check_registrable(g);
	if (ret)
		return ret;

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	if (!zalloc_cpumask_var(&w->pin_saved, GFP_KERNEL)) {
		kfree(w);
		return -ENOMEM;
	}
	atomic_set(&w->pin, GREEN_PIN_CLOSED);
	refcount_set(&w->ref, 1);
	w->g = g;
	w->flags = r.flags;
	w->task = current;
	INIT_LIST_HEAD(&w->spare_node);
	INIT_LIST_HEAD(&w->missed_node);
	init_task_work(&w->twork, green_twork);
	preempt_notifier_init(&w->pn, &green_preempt_ops);

	spin_lock_irq(&g->lock);
	ret = -EBADF;
	if (g->dead)
		goto err_unlock;
	ret = -ENOSPC;
	for (id = 0; id < GREEN_MAX_WORKERS; id++)
		if (!rcu_access_pointer(g->workers[id]))
			break;
	if (id == GREEN_MAX_WORKERS)
		goto err_unlock;
	w->id = id;
	slot = green_slot(w);
	memset(slot, 0, sizeof(*slot));
	slot->state = GREEN_WS_RUNNING;
	slot->grant = 1;
	slot->cpu = raw_smp_processor_id();
	refcount_inc(&g->ref);
	get_task_struct(current);
	g->nr_workers++;
	rcu_assign_pointer(g->workers[id], w);
	spin_unlock_irq(&g->lock);

	preempt_disable();
	preempt_notifier_register(&w->pn);
	w->attached = true;
	preempt_enable();

	r.id = id;
	ret = green_put_arg(uarg, &r, sizeof(r), usize);
	if (ret)
		green_worker_detach_self(w);
	return ret;

err_unlock:
	spin_unlock_irq(&g->lock);
	free_cpumask_var(w->pin_saved);
	kfree(w);
	return ret;
}

static long green_ioc_unregister(struct green_group *g, void __user *uarg)
{
	struct green_unregister u;
	long usize = GREEN_GET(u, uarg);
	struct green_worker *w;

	if (usize < 0)
		return usize;
	if (u.reserved)
		return -EINVAL;
	w = green_self(g);
	if (!w)
		return -ENOENT;
	atomic_set(&w->token, GREEN_TOKEN_NONE);
	green_worker_detach_self(w);
	return 0;
}

static int green_check_timeout(u64 timeout_ns)
{
	return timeout_ns > GREEN_TIMEOUT_MAX_NS ? -EINVAL : 0;
}

static long green_ioc_park(struct green_group *g, void __user *uarg)
{
	struct green_park p;
	long usize = GREEN_GET(p, uarg);
	struct green_worker *w;
	int ret;

	if (usize < 0)
		return usize;
	if (p.reserved || (p.flags & ~GREEN_PARK_FLAGS) ||
	    green_check_timeout(p.timeout_ns))
		return -EINVAL;
	w = green_self(g);
	if (!w)
		return -ENOENT;
	ret = green_park_self(g, w, p.flags, p.timeout_ns);
	if (ret < 0)
		return ret;
	p.reason = ret;
	p.from = ret == GREEN_WOKEN_HANDOFF ? READ_ONCE(w->handoff_from) : 0;
	return green_put_arg(uarg, &p, sizeof(p), usize);
}

/* struct green_wake, also in its first, 8-byte version; @flags allowed. */
static long green_get_wake(struct green_wake *k, void __user *uarg, u32 flags)
{
	long usize = green_get_arg(k, sizeof(*k), GREEN_WAKE_SIZE_VER0, uarg);

	if (usize < 0)
		return usize;
	if (k->reserved || (k->flags & ~flags))
		return -EINVAL;
	return usize;
}

static long green_ioc_wake(struct green_group *g, void __user *uarg)
{
	struct green_wake k;
	long usize = green_get_wake(&k, uarg, 0);
	struct green_worker *w;
	long ret = 0;

	if (usize < 0)
		return usize;
	rcu_read_lock();
	w = green_lookup(g, k.id);
	if (w)
		green_wake_worker(g, w);
	else
		ret = -ESRCH;
	rcu_read_unlock();
	return ret;
}

static long green_ioc_wake_batch(struct green_group *g, void __user *uarg)
{
	struct green_wake_batch b;
	long usize = GREEN_GET(b, uarg);
	struct green_worker *w;
	u32 *ids, i;
	long ret;

	if (usize < 0)
		return usize;
	if (b.reserved || !b.count || b.count > GREEN_BATCH_MAX)
		return -EINVAL;
	ids = memdup_user(u64_to_user_ptr(b.ids), b.count * sizeof(*ids));
	if (IS_ERR(ids))
		return PTR_ERR(ids);
	b.woken = 0;
	rcu_read_lock();
	for (i = 0; i < b.count; i++) {
		w = green_lookup(g, ids[i]);
		if (w) {
			green_wake_worker(g, w);
			b.woken++;
		}
	}
	rcu_read_unlock();
	kfree(ids);
	ret = green_put_arg(uarg, &b, sizeof(b), usize);
	return ret;
}

static long green_ioc_switch_to(struct green_group *g, void __user *uarg)
{
	struct green_switch_to s;
	long usize = GREEN_GET(s, uarg);
	struct green_worker *self, *w;
	int ret;

	if (usize < 0)
		return usize;
	if (s.reserved || (s.flags & ~GREEN_SWITCH_FLAGS) ||
	    green_check_timeout(s.timeout_ns))
		return -EINVAL;
	self = green_self(g);
	if (!self)
		return -ENOENT;
	/* A reference: narrowing the target's CPUs may sleep. */
	rcu_read_lock();
	w = green_lookup(g, s.id);
	if (w == self)
		ret = -EINVAL;
	else if (!w || !refcount_inc_not_zero(&w->ref))
		ret = -ESRCH;
	else
		ret = 0;
	rcu_read_unlock();
	if (ret)
		return ret;
	if (s.flags & GREEN_SWITCH_GRANT) {
		green_grant_worker(w);
	} else {
		if (!(s.flags & GREEN_SWITCH_ANYCPU) && green_pin_here(w))
			atomic64_inc(&g->st.switch_here);
		green_wake_worker(g, w);
	}
	green_worker_put(w);
	atomic64_inc(&g->st.switch_tos);
	ret = green_park_self(g, self, s.flags & GREEN_PARK_FLAGS, s.timeout_ns);
	if (ret < 0)
		return ret;
	s.reason = ret;
	s.from = ret == GREEN_WOKEN_HANDOFF ? READ_ONCE(self->handoff_from) : 0;
	return green_put_arg(uarg, &s, sizeof(s), usize);
}

static long green_ioc_kick_grant(struct green_group *g, void __user *uarg,
				 bool kick)
{
	struct green_wake k;
	long usize = green_get_wake(&k, uarg, kick ? 0 : GREEN_GRANT_BLOCKS);
	struct green_worker *w;
	long ret = 0;

	if (usize < 0)
		return usize;
	rcu_read_lock();
	w = green_lookup(g, k.id);
	if (!w) {
		ret = -ESRCH;
	} else if (kick) {
		WRITE_ONCE(green_slot(w)->preempt, 1);
		atomic64_inc(&g->st.kicks);
		kick_process(w->task);
	} else {
		LIST_HEAD(missed);
		bool stale;

		/*
		 * Under g->lock, as the irq_work and a parking spare decide
		 * about a block: a newer block's decision (grant 0, or missed)
		 * is made after the hook counted it, so a stale GRANT either
		 * sees the new count or writes before that decision.
		 */
		spin_lock_irq(&g->lock);
		stale = (k.flags & GREEN_GRANT_BLOCKS) &&
			READ_ONCE(green_slot(w)->blocks) != k.blocks;
		if (!stale) {
			/* A missed block's pending hold ends with the grant. */
			if (!list_empty(&w->missed_node))
				list_move(&w->missed_node, &missed);
			WRITE_ONCE(green_slot(w)->grant, 1);
		}
		spin_unlock_irq(&g->lock);
		if (!stale) {
			smp_mb();	/* grant before in_wait: kick_sleeper */
			green_kick_sleeper(w);
		}
		green_release_missed(g, &missed);
	}
	rcu_read_unlock();
	return ret;
}

static void green_fill_stats(struct green_group *g, struct green_group_stats *s)
{
	unsigned int i;

	s->nr_workers = READ_ONCE(g->nr_workers);
	s->parks = atomic64_read(&g->st.parks);
	s->wakes = atomic64_read(&g->st.wakes);
	s->switch_tos = atomic64_read(&g->st.switch_tos);
	s->blocks = atomic64_read(&g->st.blocks);
	s->unblocks = atomic64_read(&g->st.unblocks);
	s->handoffs = atomic64_read(&g->st.handoffs);
	s->holds = atomic64_read(&g->st.holds);
	s->kicks = atomic64_read(&g->st.kicks);
	s->events_lost = READ_ONCE(g->shm->hdr.events_lost);
	s->switch_here = atomic64_read(&g->st.switch_here);
	for (i = 0; i < GREEN_HIST_BUCKETS; i++)
		s->handoff_hist[i] = atomic64_read(&g->st.hist[i]);
}

static long green_ioc_stats(struct green_group *g, void __user *uarg)
{
	struct green_group_stats s;
	long usize = green_get_arg(&s, sizeof(s),
				   offsetofend(struct green_group_stats, nr_workers),
				   uarg);
	u32 size;

	if (usize < 0)
		return usize;
	size = s.size;
	memset(&s, 0, sizeof(s));
	s.size = size;
	green_fill_stats(g, &s);
	return green_put_arg(uarg, &s, sizeof(s), usize);
}

static long green_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct green_group *g = file->private_data;
	void __user *uarg = (void __user *)arg;

	if (_IOC_TYPE(cmd) != GREEN_TYPE || _IOC_DIR(cmd) != _IOC_NONE ||
	    _IOC_SIZE(cmd) || _IOC_NR(cmd) >= GREEN_CMD_MAX)
		return -ENOTTY;
	if (cmd == GREEN_IOC_VERSION)
		return green_ioc_version(g, uarg);
	if (!green_owner(g))
		return -EPERM;
	if (READ_ONCE(g->dead))
		return -EBADF;

	switch (cmd) {
	case GREEN_IOC_REGISTER:
		return green_ioc_register(g, uarg);
	case GREEN_IOC_UNREGISTER:
		return green_ioc_unregister(g, uarg);
	case GREEN_IOC_PARK:
		return green_ioc_park(g, uarg);
	case GREEN_IOC_WAKE:
		return green_ioc_wake(g, uarg);
	case GREEN_IOC_WAKE_BATCH:
		return green_ioc_wake_batch(g, uarg);
	case GREEN_IOC_SWITCH_TO:
		return green_ioc_switch_to(g, uarg);
	case GREEN_IOC_KICK:
		return green_ioc_kick_grant(g, uarg, true);
	case GREEN_IOC_GRANT:
		return green_ioc_kick_grant(g, uarg, false);
	case GREEN_IOC_STATS:
		return green_ioc_stats(g, uarg);
	}
	return -ENOTTY;
}

/* ---------------------------------------------------------------- */
/* debugfs */

static int green_stats_show(struct seq_file *m, void *unused)
{
	struct green_group *g = m->private;
	struct green_group_stats s = { .size = sizeof(s) };
	unsigned int i;

	green_fill_stats(g, &s);
	seq_printf(m, "tgid %d\ndead %d\nworkers %u\n", g->tgid,
		   READ_ONCE(g->dead), s.nr_workers);
	seq_printf(m, "parks %llu\nwakes %llu\nswitch_tos %llu\n",
		   s.parks, s.wakes, s.switch_tos);
	seq_printf(m, "switch_here %llu\n", s.switch_here);
	seq_printf(m, "blocks %llu\nunblocks %llu\nhandoffs %llu\n",
		   s.blocks, s.unblocks, s.handoffs);
	seq_printf(m, "holds %llu\nkicks %llu\nevents_lost %llu\n",
		   s.holds, s.kicks, s.events_lost);
	seq_puts(m, "handoff_ns_log2");
	for (i = 0; i < GREEN_HIST_BUCKETS; i++)
		seq_printf(m, " %llu", s.handoff_hist[i]);
	seq_putc(m, '\n');
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(green_stats);

/* One line per registered worker, for debugging a stuck handoff. */
static int green_workers_show(struct seq_file *m, void *unused)
{
	struct green_group *g = m->private;
	struct green_worker *w;
	struct green_slot *slot;
	u32 id;

	seq_puts(m, "id tid state nolend grant bits in_wait cpu blocks unblocks\n");
	rcu_read_lock();
	for (id = 0; id < GREEN_MAX_WORKERS; id++) {
		w = rcu_dereference(g->workers[id]);
		if (!w)
			continue;
		slot = green_slot(w);
		seq_printf(m, "%u %d %u %u %u %lx %d %u %llu %llu\n", id,
			   task_pid_nr(w->task), READ_ONCE(slot->state),
			   READ_ONCE(slot->nolend), READ_ONCE(slot->grant),
			   READ_ONCE(w->bits), READ_ONCE(w->in_wait),
			   READ_ONCE(slot->cpu), READ_ONCE(slot->blocks),
			   READ_ONCE(slot->unblocks));
	}
	rcu_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(green_workers);

static void green_debugfs_add(struct green_group *g)
{
	char name[32];

	snprintf(name, sizeof(name), "%d-%d", g->tgid,
		 atomic_inc_return(&green_group_seq));
	g->debugfs = debugfs_create_dir(name, green_debugfs_root);
	debugfs_create_file("stats", 0444, g->debugfs, g, &green_stats_fops);
	debugfs_create_file("workers", 0444, g->debugfs, g,
			    &green_workers_fops);
}

/* ---------------------------------------------------------------- */
/* file operations */

static int green_open(struct inode *inode, struct file *file)
{
	struct green_group *g;

	if (!current->mm)
		return -EINVAL;
	g = kzalloc(sizeof(*g), GFP_KERNEL);
	if (!g)
		return -ENOMEM;
	g->shm = vmalloc_user(GREEN_SHM_SIZE);
	if (!g->shm) {
		kfree(g);
		return -ENOMEM;
	}
	g->shm->hdr.abi_version = GREEN_ABI_VERSION;
	g->shm->hdr.max_workers = GREEN_MAX_WORKERS;
	g->shm->hdr.ring_size = GREEN_RING_SIZE;
	refcount_set(&g->ref, 1);
	spin_lock_init(&g->lock);
	raw_spin_lock_init(&g->ring_lock);
	INIT_LIST_HEAD(&g->spares);
	INIT_LIST_HEAD(&g->missed);
	init_waitqueue_head(&g->poll_wq);
	init_irq_work(&g->irq_work, green_irq_work);
	init_llist_head(&g->blocked);
	init_llist_head(&g->exited);
	INIT_WORK(&g->free_work, green_group_free_work);
	g->tgid = current->tgid;
	g->mm = current->mm;
	mmgrab(g->mm);
	__module_get(THIS_MODULE);	/* dropped by green_group_free_work */
	green_debugfs_add(g);
	file->private_data = g;
	return 0;
}

/* Every close() of an fd: the owner closing it shuts the group down. */
static int green_flush(struct file *file, fl_owner_t id)
{
	struct green_group *g = file->private_data;

	if (current->tgid == g->tgid)
		green_group_shutdown(g);
	return 0;
}

static int green_release(struct inode *inode, struct file *file)
{
	struct green_group *g = file->private_data;

	green_group_shutdown(g);
	debugfs_remove_recursive(g->debugfs);
	green_group_put(g);
	return 0;
}

static __poll_t green_poll(struct file *file, poll_table *pt)
{
	struct green_group *g = file->private_data;
	struct green_shm_header *hdr = &g->shm->hdr;
	__poll_t mask = 0;

	poll_wait(file, &g->poll_wq, pt);
	if (READ_ONCE(g->dead))
		mask |= EPOLLHUP;
	if (READ_ONCE(hdr->ring_head) != READ_ONCE(hdr->ring_tail))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static int green_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct green_group *g = file->private_data;

	if (!green_owner(g))
		return -EPERM;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != GREEN_SHM_SIZE ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND;
	return remap_vmalloc_range(vma, g->shm, 0);
}

static const struct file_operations green_fops = {
	.owner = THIS_MODULE,
	.open = green_open,
	.flush = green_flush,
	.release = green_release,
	.unlocked_ioctl = green_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = green_poll,
	.mmap = green_mmap,
	.llseek = noop_llseek,
};

static struct miscdevice green_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = KBUILD_MODNAME,
	.fops = &green_fops,
	.mode = 0666,
};

static int __init green_init(void)
{
	int ret;

	green_wq = alloc_workqueue(KBUILD_MODNAME, 0, 0);
	if (!green_wq)
		return -ENOMEM;
	preempt_notifier_inc();
	green_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	ret = misc_register(&green_misc);
	if (ret)
		goto err_debugfs;
	return 0;

err_debugfs:
	debugfs_remove_recursive(green_debugfs_root);
	preempt_notifier_dec();
	destroy_workqueue(green_wq);
	return ret;
}

static void __exit green_exit(void)
{
	misc_deregister(&green_misc);
	rcu_barrier();			/* worker frees may queue group frees */
	destroy_workqueue(green_wq);	/* drains group frees */
	debugfs_remove_recursive(green_debugfs_root);
	preempt_notifier_dec();
}

module_init(green_init);
module_exit(green_exit);
MODULE_DESCRIPTION("park/wake/switch-to and block notification for M:N runtimes");
MODULE_LICENSE("GPL");
