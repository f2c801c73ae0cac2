/* SPDX-License-Identifier: MIT */
/*
 * parker.h - how an idle worker thread (M) sleeps and is woken.
 *
 * Contract, for every backend: unpark(m) may come before park(m) and is
 * then not lost (park returns at once); several unparks before one park
 * count as one; park may return spuriously, so callers recheck their
 * condition. The futex backend is always there; green.ko's comes with the
 * module.
 */
#ifndef GREEN_PARKER_H
#define GREEN_PARKER_H

#include <stdbool.h>
#include <stdint.h>

struct m;

struct parker_ops {
	const char *name;
	int (*init)(void);		/* 0, or -errno: backend unusable */
	void (*fini)(void);
	void (*thread_init)(struct m *m);	/* on the worker's thread */
	void (*thread_fini)(struct m *m);
	/*
	 * Returns NULL, or a worker that blocked in the kernel while this
	 * one was parked as a spare (green.ko's block notification): the
	 * caller may hand that worker's processor on (syscall_handoff).
	 */
	struct m *(*park)(struct m *m);
	void (*unpark)(struct m *m);
	/* A registered worker's blocks are told to parked spares (park). */
	bool notifies;
	/*
	 * green.ko's held resume (hold.c); NULL where the backend has none.
	 * A worker that blocked while a spare was woken for it is frozen:
	 * it does not return to user code until granted. blocked() is true
	 * while its thread is still blocked in the kernel; grant() lets it
	 * go on (at once, or when its block ends).
	 */
	bool (*blocked)(struct m *m);
	void (*grant)(struct m *m);
	/* Its grant word is 0: it may not return to user code. */
	bool (*frozen)(struct m *m);
	/*
	 * Back from a block, grant word 1: held for a spare not yet come.
	 * Returns that block's number (its count of blocks, read before the
	 * state), or 0 when it does not wait so.
	 */
	uint64_t (*waits_spare)(struct m *m);
	/*
	 * grant(), but only while @m is still in block number @blocks: for a
	 * decision about a worker that may already be let go, and be back
	 * and blocked again when the grant comes (hold.c's sysmon look).
	 */
	void (*grant_block)(struct m *m, uint64_t blocks);
};

extern const struct parker_ops parker_futex;
extern const struct parker_ops parker_kmod;
extern const struct parker_ops parker_kmod_hold;
extern bool config_hold;	/* GREEN_HOLD, read by parker_kmod's init */

/* After parker_kmod.init: the kmod parker with or without held resume. */
const struct parker_ops *parker_kmod_pick(void);

enum parker_choice {
	PARKER_AUTO,	/* green.ko when /dev/green opens, else futex */
	PARKER_FUTEX,
	PARKER_KMOD,	/* green.ko or fail */
};

/* Pick and initialise the backend for @choice. 0 or -errno. */
int parker_select(enum parker_choice choice);

/* The backend chosen at green_run. */
extern const struct parker_ops *parker;

#endif /* GREEN_PARKER_H */
