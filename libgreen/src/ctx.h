/* SPDX-License-Identifier: MIT */
/*
 * ctx.h - what the wait machinery needs from contexts (context.c).
 *
 * A task's context (g->ctx) ends every wait of the task when it is
 * cancelled or its deadline passes. wait_park() links the armed task on
 * its context's list; cancellation walks the list under the context's
 * lock and, for each task, calls g->wcancel(g, code) when set (a wait
 * cancelled at its source, such as I/O in the kernel) or else
 * wait_wake(g, wait_token(g), code). The task unlinks itself once awake.
 */
#ifndef GREEN_CTX_H
#define GREEN_CTX_H

#include "runtime.h"

/*
 * Link @g (armed) on @ctx's list of blocked tasks: 0; or, if @ctx is
 * already done, its code (-ECANCELED or -ETIMEDOUT) and @g is not linked.
 */
int ctx_wait_add(struct green_ctx *ctx, struct g *g);

/* Unlink @g if linked. */
void ctx_wait_del(struct green_ctx *ctx, struct g *g);

/* Code of a done context (-ECANCELED, -ETIMEDOUT) or 0. */
int ctx_err(struct green_ctx *ctx);

/* Deadline of @ctx and its ancestors (green_now() clock), 0: none. */
int64_t ctx_deadline(struct green_ctx *ctx);

/*
 * @g is finishing with g->ctx set: drop the reference it holds and clear
 * g->ctx. Called by task.c on the exiting task's own stack.
 */
void ctx_task_exit(struct g *g);

#endif /* GREEN_CTX_H */
