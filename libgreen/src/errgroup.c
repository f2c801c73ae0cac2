// SPDX-License-Identifier: MIT
/*
 * errgroup.c - green_errgroup_t, Go's golang.org/x/sync/errgroup: run
 * tasks that each return an error code; the first non-zero one cancels
 * the group's context, so that the others' blocking calls end with
 * -ECANCELED, and wait returns it.
 *
 * The group owns a context derived from the parent it was made with;
 * every task runs with it attached (a reference each). A limit is a
 * weighted semaphore of that size: go takes a slot before spawning, as
 * Go's does (blocking, not cancellable), and a task gives it back when it
 * returns, before it counts itself done on the waitgroup: once wait has
 * returned, no task touches the group.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "green.h"
#include "runtime.h"
#include "semaq.h"

struct eg_task {
	green_errgroup_t *eg;
	int (*fn)(void *arg);
	void *arg;
};

int green_errgroup_init(green_errgroup_t *eg, green_ctx_t *parent)
{
	if (!eg)
		return -EINVAL;
	memset(eg, 0, sizeof(*eg));
	green_wg_init(&eg->wg);
	return green_ctx_with_cancel(parent ? parent : green_ctx_background(),
				     &eg->ctx);
}

green_ctx_t *green_errgroup_ctx(green_errgroup_t *eg)
{
	return eg ? eg->ctx : NULL;
}

int green_errgroup_set_limit(green_errgroup_t *eg, int n)
{
	if (!eg || !n)
		return -EINVAL;
	/* Go panics when the limit changes under running tasks. */
	if (__atomic_load_n(&eg->active, __ATOMIC_ACQUIRE))
		return -EBUSY;
	if (n < 0) {
		eg->limit = 0;
		return 0;
	}
	eg->limit = n;
	return green_sema_init(&eg->sem, n);
}

static void eg_run(void *arg)
{
	struct eg_task t = *(struct eg_task *)arg;
	green_errgroup_t *eg = t.eg;
	int err, zero = 0;

	free(arg);
	green_ctx_set(eg->ctx);		/* a fresh task had none */
	err = t.fn(t.arg);
	if (err && __atomic_compare_exchange_n(&eg->err, &zero, err, false,
					       __ATOMIC_ACQ_REL,
					       __ATOMIC_RELAXED))
		green_ctx_cancel(eg->ctx);
	green_ctx_unref(green_ctx_set(NULL));
	if (eg->limit)
		green_sema_release(&eg->sem, 1);
	__atomic_fetch_sub(&eg->active, 1, __ATOMIC_RELEASE);
	green_wg_done(&eg->wg);
}

static int eg_go(green_errgroup_t *eg, int (*fn)(void *), void *arg,
		 bool block)
{
	struct eg_task *t;
	int ret;

	if (!eg || !fn || !eg->ctx)
		return -EINVAL;
	if (eg->limit) {
		ret = block ? sema_acquire(&eg->sem, 1, 0, false) :
			      green_sema_try_acquire(&eg->sem, 1);
		if (ret)
			return ret;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		goto out_slot;
	}
	t->eg = eg;
	t->fn = fn;
	t->arg = arg;
	__atomic_fetch_add(&eg->active, 1, __ATOMIC_RELAXED);
	green_wg_add(&eg->wg, 1);
	ret = green_go(eg_run, t);
	if (!ret)
		return 0;
	green_wg_done(&eg->wg);
	__atomic_fetch_sub(&eg->active, 1, __ATOMIC_RELAXED);
	free(t);
out_slot:
	if (eg->limit)
		green_sema_release(&eg->sem, 1);
	return ret;
}

int green_errgroup_go(green_errgroup_t *eg, int (*fn)(void *arg), void *arg)
{
	return eg_go(eg, fn, arg, true);
}

int green_errgroup_try_go(green_errgroup_t *eg, int (*fn)(void *arg),
			  void *arg)
{
	return eg_go(eg, fn, arg, false);
}

int green_errgroup_wait(green_errgroup_t *eg)
{
	int ret;

	if (!eg)
		return -EINVAL;
	ret = green_wg_wait(&eg->wg);
	if (ret)
		return ret;
	/* Go cancels the context once every task has returned. */
	green_ctx_free(eg->ctx);
	eg->ctx = NULL;
	return __atomic_load_n(&eg->err, __ATOMIC_ACQUIRE);
}
