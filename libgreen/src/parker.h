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
	void (*park)(struct m *m);
	void (*unpark)(struct m *m);
};

extern const struct parker_ops parker_futex;

/* The backend chosen at green_run. */
extern const struct parker_ops *parker;

#endif /* GREEN_PARKER_H */
