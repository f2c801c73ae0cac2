// SPDX-License-Identifier: MIT
/*
 * parker_futex.c - idle workers sleep on a futex word of their own.
 *
 * park_word is 1 when a wake is pending. park consumes it with an exchange
 * and sleeps while it was 0; unpark sets it and issues FUTEX_WAKE only when
 * it was 0 (a sleeper may be there). A wake before the park leaves the word
 * at 1, so the park returns at once: wakes are never lost.
 */
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "parker.h"
#include "runtime.h"

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static int futex_init(void)
{
	return 0;
}

static void futex_fini(void)
{
}

static void futex_thread(struct m *m)
{
	(void)m;
}

static struct m *futex_park(struct m *m)
{
	while (atomic_exchange(&m->park_word, 0) == 0)
		futex(&m->park_word, FUTEX_WAIT_PRIVATE, 0);
	return NULL;
}

static void futex_unpark(struct m *m)
{
	if (atomic_exchange(&m->park_word, 1) == 0)
		futex(&m->park_word, FUTEX_WAKE_PRIVATE, 1);
}

int parker_select(enum parker_choice choice)
{
	int ret;

	parker = &parker_futex;
	if (choice == PARKER_FUTEX)
		return 0;
	ret = parker_kmod.init();
	if (!ret) {
		parker = parker_kmod_pick();
		return 0;
	}
	if (choice == PARKER_AUTO)
		return 0;
	fprintf(stderr, "libgreen: GREEN_PARKER=kmod: cannot use %s: %s\n",
		"/dev/green", strerror(-ret));
	return ret;
}

const struct parker_ops parker_futex = {
	.name = "futex",
	.init = futex_init,
	.fini = futex_fini,
	.thread_init = futex_thread,
	.thread_fini = futex_thread,
	.park = futex_park,
	.unpark = futex_unpark,
};
