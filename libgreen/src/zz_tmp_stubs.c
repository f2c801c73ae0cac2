// SPDX-License-Identifier: MIT
/* TEMPORARY (lead): weak stand-ins until context.c and poller_epoll.c land. */
#include <errno.h>
#include "ctx.h"
#include "poller.h"

__attribute__((weak)) int ctx_wait_add(struct green_ctx *ctx, struct g *g) { return 0; }
__attribute__((weak)) void ctx_wait_del(struct green_ctx *ctx, struct g *g) { }
__attribute__((weak)) int ctx_err(struct green_ctx *ctx) { return 0; }
__attribute__((weak)) int64_t ctx_deadline(struct green_ctx *ctx) { return 0; }
__attribute__((weak)) void ctx_task_exit(struct g *g) { g->ctx = 0; }
static int nope(void) { return -ENOSYS; }
__attribute__((weak)) const struct poller_ops poller_epoll = { .name = "epoll", .global_init = nope };
