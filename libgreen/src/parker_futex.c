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

static void futex_park(struct m *m)
{
	while (atomic_exchange(&m->park_word, 0) == 0)
		futex(&m->park_word, FUTEX_WAIT_PRIVATE, 0);
}

static void futex_unpark(struct m *m)
{
	if (atomic_exchange(&m->park_word, 1) == 0)
		futex(&m->park_word, FUTEX_WAKE_PRIVATE, 1);
}

const struct parker_ops parker_futex = {
	.name = "futex",
	.init = futex_init,
	.fini = futex_fini,
	.park = futex_park,
	.unpark = futex_unpark,
};
