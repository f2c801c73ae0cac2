/* SPDX-License-Identifier: MIT */
/*
 * walk.h - the console walk-throughs of `demo patterns NAME`
 * (patterns.c lists and runs them): each runs the runtime itself and
 * prints its steps. Return 0, or 1 when something did not go as told.
 */
#ifndef DEMO_WALK_H
#define DEMO_WALK_H

#include <stdbool.h>
#include <stdint.h>

/* walk_sched.c: what the scheduler does */
int walk_parallelism(void);
int walk_blocking(void);
int walk_sleepers(void);
/* walk_chan.c: channel patterns */
int walk_pipeline(void);
int walk_fanout(void);
int walk_pool(void);
int walk_ratelimit(void);
int walk_timeout(void);
/* walk_ctx.c: cancellation and shutdown */
int walk_cancel(void);
int walk_shutdown(void);

/* Run @fn as green_run's first task with GREEN_PROCS=@procs (0: as is). */
int walk_run(void (*fn)(void *arg), void *arg, int procs);
/* Milliseconds since @t0 (green_now()). */
double walk_ms(int64_t t0);
/* A numbered step: "  step N. text" (N counts per walk-through). */
void walk_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A check: prints "  !! not as expected: @what" and counts it. */
void walk_check(bool ok, const char *what);
/* Checks that failed since the walk-through began. */
int walk_failures(void);

#endif /* DEMO_WALK_H */
