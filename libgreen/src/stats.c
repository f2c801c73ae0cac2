// SPDX-License-Identifier: MIT
/*
 * stats.c - green_stats(): a snapshot of the runtime's counters. Each
 * counter has one writer (its P) or is atomic, so reading them while the
 * runtime runs is safe; the set is not one instant.
 */
#include <errno.h>
#include <string.h>

#include "parker.h"
#include "poller.h"
#include "runtime.h"

static uint64_t rd(const uint64_t *f)
{
	return __atomic_load_n(f, __ATOMIC_RELAXED);
}

int green_stats(struct green_stats *st, struct green_proc_stats *procs,
		unsigned int nprocs)
{
	uint64_t spawned = 0, exited = 0;
	unsigned int i;
	struct m *m;

	if (!st || st->size != sizeof(*st) || (nprocs && !procs))
		return -EINVAL;
	if (!atomic_load(&sched.running))
		return -EPERM;
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->nprocs = sched.nprocs;
	for (i = 0; i < (unsigned int)sched.nprocs; i++) {
		struct p *p = &sched.allp[i];

		spawned += rd(&p->st.spawned);
		exited += rd(&p->exited);
		if (i >= nprocs)
			continue;
		procs[i].tasks_run = rd(&p->st.tasks_run);
		procs[i].spawned = rd(&p->st.spawned);
		procs[i].steals = rd(&p->st.steals);
		procs[i].stolen = rd(&p->st.stolen);
		procs[i].yields = rd(&p->st.yields);
		procs[i].global_gets = rd(&p->st.global_gets);
		procs[i].runq_len = runqlen(p);
		procs[i].syscalls = rd(&p->st.syscalls);
		procs[i].handoffs = rd(&p->st.handoffs);
	}
	spawned += atomic_load(&sched.foreign_spawned);
	st->tasks_spawned = spawned;
	st->tasks_live = spawned - exited;
	st->idle_procs = atomic_load(&sched.npidle);
	mutex_lock(&sched.lock);
	for (m = sched.allm; m; m = m->alllink)
		st->nworkers++;
	mutex_unlock(&sched.lock);
	st->worker_parks = atomic_load(&sched.worker_parks);
	st->worker_wakes = atomic_load(&sched.worker_wakes);
	st->stack_size = sched.stack_size;
	stack_counts(&st->stacks_guarded, &st->stacks_unguarded);
	strncpy(st->parker, parker->name, sizeof(st->parker) - 1);
	strncpy(st->poller, poller->name, sizeof(st->poller) - 1);
	strncpy(st->poller_features, poller->features(),
		sizeof(st->poller_features) - 1);
	return sched.nprocs;
}
