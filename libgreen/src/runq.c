// SPDX-License-Identifier: MIT
/*
 * runq.c - run queues: each P's bounded lock-free ring with its runnext
 * slot, and the global queue.
 *
 * The local ring has one producer (the owning P) and many consumers (the
 * owner and thieves). The owner writes a slot and publishes it with a
 * release store of tail; consumers claim slots by CAS on head. A thief
 * copies the slots before its CAS: if the owner reused them meanwhile, head
 * moved and the CAS fails. Slots are atomics so the racy reads are defined.
 *
 * runnext holds the task that should run next (just spawned or just
 * woken), for locality. runqget caps how many picks in a row may come from
 * runnext (RUNNEXT_STREAK_MAX), so two tasks waking each other cannot keep
 * the rest of the queue waiting.
 */
#include "runq.h"

/* Move half of the full local queue and @g to the global queue. */
static bool runqput_slow(struct p *p, struct g *g, uint32_t h, uint32_t t)
{
	struct g *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2, i;

	for (i = 0; i < n; i++)
		batch[i] = slot_load(p, h + i);
	if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n,
						     memory_order_release,
						     memory_order_relaxed))
		return false;
	batch[n] = g;
	/* Link them as one chain outside the lock; the tasks are hot here. */
	for (i = 0; i < n; i++) {
		batch[i]->link = batch[i + 1];
		batch[i]->ahead = batch[i + AHEAD <= n ? i + AHEAD : n];
	}
	mutex_lock(&sched.lock);
	gbatches_push(&sched.gq, batch[0], g, n + 1, false);
	atomic_fetch_add_explicit(&sched.gq_size, n + 1, memory_order_seq_cst);
	mutex_unlock(&sched.lock);
	return true;
}

void runqput(struct p *p, struct g *g, bool next)
{
	uint32_t h, t;

	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	__atomic_store_n(&p->ready_tick,
			 __atomic_load_n(&p->st.tasks_run, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	if (next) {
		/*
		 * Only the owner fills runnext; thieves only empty it. Empty,
		 * it stays so until we store: no locked exchange needed.
		 */
		struct g *old = atomic_load_explicit(&p->runnext,
						     memory_order_relaxed);

		if (!old || sched.nprocs == 1) {
			/* No thief can take @old meanwhile (none at all on 1 P). */
			atomic_store_explicit(&p->runnext, g,
					      memory_order_release);
			if (!old)
				return;
			g = old;
		} else {
			g = atomic_exchange_explicit(&p->runnext, g,
						     memory_order_acq_rel);
			if (!g)
				return;
		}
	}
	for (;;) {
		h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t - h < RUNQ_SIZE) {
			slot_store(p, t, g);
			atomic_store_explicit(&p->runqtail, t + 1,
					      memory_order_release);
			return;
		}
		if (runqput_slow(p, g, h, t))
			return;
	}
}

bool runqempty(struct p *p)
{
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_acquire);

	return t == h && !atomic_load_explicit(&p->runnext,
					       memory_order_relaxed);
}

uint32_t runqlen(struct p *p)
{
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);

	return t - h > RUNQ_SIZE ? 0 : t - h;
}

/*
 * The moment a thief gives a running victim before taking its runnext or
 * a short ring: about 3 us, without a system call (usleep would sleep far
 * longer).
 */
static void steal_grace(void)
{
	uint64_t until = now_ns() + 3000;

	while (now_ns() < until)
		cpu_relax();
}

static bool p_running(struct p *p)
{
	return atomic_load_explicit(&p->status, memory_order_relaxed) ==
	       P_RUNNING;
}

/*
 * Whether the task running on @p queued the last task there: it has not
 * switched since. Tasks queued before it started (completions reaped,
 * a previous task's wakes) wait behind it, however long it runs.
 */
static bool p_queued_by_current(struct p *p)
{
	return __atomic_load_n(&p->ready_tick, __ATOMIC_RELAXED) ==
	       __atomic_load_n(&p->st.tasks_run, __ATOMIC_RELAXED);
}

/*
 * Take half of @victim's queue into @p's (which must be empty), returning
 * one task to run now. With @steal_next, a lone runnext may be taken too.
 * With @grace, a running victim's short ring gets a moment first.
 */
struct g *runqsteal(struct p *p, struct p *victim, bool steal_next,
		    bool grace)
{
	uint32_t h, t, n, i, mytail;
	bool graced = !grace;
	struct g *g;

	for (;;) {
		h = atomic_load_explicit(&victim->runqhead,
					 memory_order_acquire);
		t = atomic_load_explicit(&victim->runqtail,
					 memory_order_acquire);
		n = t - h;
		/*
		 * A short ring that the victim's running task has just
		 * filled (a select taking from several senders, a channel
		 * waking its peers) is most often run by the victim itself
		 * within microseconds, when that task blocks, with the data
		 * still in its cache; moving a task to another CPU costs
		 * more than it gains. So, as for runnext below, give it a
		 * moment first, then take what is left. A longer ring is a
		 * backlog, and tasks queued before the running task began
		 * (completions reaped, say, behind a request being served)
		 * wait for however long it runs: both are taken at once.
		 * (select4 on 2 processors: 630 ns a select without, 330.)
		 * The caller grants one such moment per victim and search,
		 * so a spinner that finds only busy Ps waits 3 us for each
		 * at most, as for their runnext.
		 */
		if (n && n <= RUNQ_GRACE_MAX && !graced && p_running(victim) &&
		    p_queued_by_current(victim)) {
			steal_grace();
			graced = true;
			continue;
		}
		n = n - n / 2;
		if (n == 0) {
			if (!steal_next)
				return NULL;
			g = atomic_load_explicit(&victim->runnext,
						 memory_order_relaxed);
			if (!g)
				return NULL;
			/*
			 * A running victim is about to switch to its runnext
			 * (a task it just woke, likely talking to it): give
			 * it a moment first, as Go does, so that the pair
			 * stays on one processor.
			 */
			if (p_running(victim)) {
				steal_grace();
				g = atomic_load_explicit(&victim->runnext,
							 memory_order_relaxed);
				if (!g)
					return NULL;
			}
			if (atomic_compare_exchange_strong_explicit(
				    &victim->runnext, &g, NULL,
				    memory_order_acquire, memory_order_relaxed))
				return g;
			continue;
		}
		if (n > RUNQ_SIZE / 2)
			continue;	/* read h and t apart: inconsistent */
		mytail = atomic_load_explicit(&p->runqtail,
					      memory_order_relaxed);
		for (i = 0; i < n; i++)
			slot_store(p, mytail + i, slot_load(victim, h + i));
		if (atomic_compare_exchange_strong_explicit(
			    &victim->runqhead, &h, h + n,
			    memory_order_acq_rel, memory_order_relaxed))
			break;
	}
	/* Run the last one now, publish the rest. */
	n--;
	g = slot_load(p, mytail + n);
	if (n)
		atomic_store_explicit(&p->runqtail, mytail + n,
				      memory_order_release);
	stat_inc(&p->st.steals);
	stat_add(&p->st.stolen, n + 1);
	return g;
}

void gbatches_push(struct gbatches *l, struct g *head, struct g *tail,
		   uint32_t n, bool front)
{
	tail->link = NULL;
	head->batch_n = n;
	if (front) {
		head->batch_next = l->head;
		l->head = head;
		if (!l->tail)
			l->tail = head;
		return;
	}
	head->batch_next = NULL;
	if (l->tail)
		l->tail->batch_next = head;
	else
		l->head = head;
	l->tail = head;
}

/* Take the first batch whole: its chain, with its length in *n. */
struct g *gbatches_pop(struct gbatches *l, uint32_t *n)
{
	struct g *b = l->head;

	if (!b)
		return NULL;
	l->head = b->batch_next;
	if (!l->head)
		l->tail = NULL;
	*n = b->batch_n;
	return b;
}

/* Take one task from the first batch. */
struct g *gbatches_pop_one(struct gbatches *l)
{
	struct g *b = l->head, *nb;

	if (!b)
		return NULL;
	if (b->batch_n == 1) {
		l->head = b->batch_next;
		if (!l->head)
			l->tail = NULL;
		return b;
	}
	nb = b->link;
	nb->batch_next = b->batch_next;
	nb->batch_n = b->batch_n - 1;
	l->head = nb;
	if (l->tail == b)
		l->tail = nb;
	return b;
}

void globrunqput(struct g *g)
{
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	gbatches_push(&sched.gq, g, g, 1, false);
	atomic_fetch_add_explicit(&sched.gq_size, 1, memory_order_seq_cst);
}

/*
 * Take from the global queue with sched.lock held: one task when @max is
 * 1, else the first batch whole. Returns a chain (linked through ->link)
 * for runqput_chain, to be spread after the lock is dropped.
 */
struct g *globrunqget_locked(int max)
{
	uint32_t n = 1;
	struct g *g;

	if (max == 1)
		g = gbatches_pop_one(&sched.gq);
	else
		g = gbatches_pop(&sched.gq, &n);
	if (g) {
		if (max == 1)
			g->link = NULL;
		atomic_fetch_sub_explicit(&sched.gq_size, n,
					  memory_order_relaxed);
	}
	return g;
}

/* Queue every task of @chain on @p's local queue. */
void runqput_chain(struct p *p, struct g *chain)
{
	struct g *g;

	while ((g = chain)) {
		chain = g->link;
		__builtin_prefetch(g->ahead, 1);
		runqput(p, g, false);
	}
}

/* Take from the global queue (see globrunqget_locked); one to run now. */
struct g *globrunqget(struct p *p, int max)
{
	struct g *g;

	if (!atomic_load_explicit(&sched.gq_size, memory_order_relaxed))
		return NULL;
	mutex_lock(&sched.lock);
	g = globrunqget_locked(max);
	mutex_unlock(&sched.lock);
	if (g) {
		runqput_chain(p, g->link);
		stat_inc(&p->st.global_gets);
	}
	return g;
}
