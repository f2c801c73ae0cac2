/* SPDX-License-Identifier: MIT */
/*
 * overflow.h - report task stack overflows clearly: a SIGSEGV/SIGBUS
 * handler on an alternate stack names the task and its stack size when
 * the fault is in the task's guard page; an unguarded stack's overwritten
 * canary is reported when the task switches out.
 */
#ifndef GREEN_OVERFLOW_H
#define GREEN_OVERFLOW_H

struct g;
struct m;

/* Install the handlers (green_run start) and restore the old ones. */
int overflow_install(void);
void overflow_uninstall(void);

/* Give the calling worker thread an alternate signal stack, and take it. */
int overflow_thread_init(struct m *m);
void overflow_thread_fini(struct m *m);

void overflow_report_canary(struct g *g) __attribute__((noreturn));

#endif /* GREEN_OVERFLOW_H */
