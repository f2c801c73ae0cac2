// SPDX-License-Identifier: MIT
/*
 * overflow.c - stack overflow reports.
 *
 * A task that runs off the bottom of its stack touches the guard page
 * below it and gets SIGSEGV. The handler runs on the worker's alternate
 * stack (the task's own is exhausted), checks whether the fault address is
 * in or just below the current task's stack, and if so writes one line
 * naming the task and its stack size, then restores the default action so
 * the fault repeats and the process dies with SIGSEGV and a core, as it
 * would have. Other faults go to the handler that was there before us.
 * Only async-signal-safe calls are made in the handler.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overflow.h"
#include "runtime.h"

#define ALTSTACK_SIZE (64 * 1024)
#define SLACK (64 * 1024)	/* how far below the stack still counts */

static struct sigaction old_segv, old_bus;
static size_t page;

/* Append @s to @buf at *@len, without libc formatting. */
static void put_str(char *buf, size_t *len, size_t cap, const char *s)
{
	while (*s && *len < cap - 1)
		buf[(*len)++] = *s++;
}

static void put_num(char *buf, size_t *len, size_t cap, uint64_t v,
		    unsigned int base)
{
	char tmp[24];
	int i = 0;

	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (base == 16)
		put_str(buf, len, cap, "0x");
	while (i > 0 && *len < cap - 1)
		buf[(*len)++] = tmp[--i];
}

static void report(struct g *g, const void *addr, const char *how)
{
	char buf[256];
	size_t len = 0;

	put_str(buf, &len, sizeof(buf), "libgreen: task ");
	put_num(buf, &len, sizeof(buf), g->id, 10);
	put_str(buf, &len, sizeof(buf), " overflowed its stack of ");
	put_num(buf, &len, sizeof(buf), g->stack->size, 10);
	put_str(buf, &len, sizeof(buf), " bytes (");
	put_str(buf, &len, sizeof(buf), how);
	if (addr) {
		put_str(buf, &len, sizeof(buf), " at ");
		put_num(buf, &len, sizeof(buf), (uintptr_t)addr, 16);
	}
	put_str(buf, &len, sizeof(buf),
		"); raise GREEN_STACK_SIZE or use less stack\n");
	buf[len] = 0;
	if (write(STDERR_FILENO, buf, len) < 0)
		return;
}

static bool in_guard_zone(const struct g *g, uintptr_t a)
{
	uintptr_t lo;

	if (!g->stack)
		return false;
	lo = (uintptr_t)g->stack->lo;
	return a < lo + sizeof(uint64_t) && a + SLACK >= lo;
}

static void chain(const struct sigaction *old, int sig, siginfo_t *si,
		  void *uc)
{
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction) {
			old->sa_sigaction(sig, si, uc);
			return;
		}
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	/* Default action: return and let the fault repeat unhandled. */
	signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct m *m = m_self();
	struct g *g = m ? m->curg : NULL;

	if (g && g->stack && in_guard_zone(g, (uintptr_t)si->si_addr)) {
		report(g, si->si_addr, "fault in the guard page");
		signal(sig, SIG_DFL);
	} else {
		chain(sig == SIGBUS ? &old_bus : &old_segv, sig, si, uc);
	}
	errno = saved;
}

int overflow_install(void)
{
	struct sigaction sa;

	page = (size_t)sysconf(_SC_PAGESIZE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv))
		return -errno;
	if (sigaction(SIGBUS, &sa, &old_bus)) {
		sigaction(SIGSEGV, &old_segv, NULL);
		return -errno;
	}
	return 0;
}

void overflow_uninstall(void)
{
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
}

int overflow_thread_init(struct m *m)
{
	stack_t ss;

	m->altstack = malloc(ALTSTACK_SIZE);
	if (!m->altstack)
		return -ENOMEM;
	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = m->altstack;
	ss.ss_size = ALTSTACK_SIZE;
	if (sigaltstack(&ss, &m->old_altstack)) {
		free(m->altstack);
		m->altstack = NULL;
		return -errno;
	}
	return 0;
}

void overflow_thread_fini(struct m *m)
{
	if (!m->altstack)
		return;
	sigaltstack(&m->old_altstack, NULL);
	free(m->altstack);
	m->altstack = NULL;
}

void overflow_report_canary(struct g *g)
{
	report(g, NULL, "its canary was overwritten, seen at a switch");
	abort();
}
