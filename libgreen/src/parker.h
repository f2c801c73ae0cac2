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
};

extern const struct parker_ops parker_futex;
extern const struct parker_ops parker_kmod;

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
