// SPDX-License-Identifier: MIT
/*
 * config.c - read GREEN_PROCS, GREEN_STACK_SIZE, GREEN_STACK_GUARD,
 * GREEN_PARKER and GREEN_POLLER.
 * Bad values are refused with a message naming the variable, the value
 * and what is accepted; they never fall back silently.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "green.h"

static int bad(const char *var, const char *val, const char *want)
{
	fprintf(stderr, "libgreen: %s=\"%s\": %s\n", var, val, want);
	return -EINVAL;
}

/* A decimal number with an optional k/K or m/M suffix, into *out. */
static int parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1024ULL * 1024 * 1024, end++;
	if (*end)
		return -EINVAL;
	if (v > ULLONG_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int default_procs(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		n = CPU_COUNT(&set);
	} else {
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	}
	if (n < 1)
		n = 1;
	return n > GREEN_MAX_PROCS ? GREEN_MAX_PROCS : n;
}

static int read_procs(struct green_config *cfg)
{
	const char *s = getenv("GREEN_PROCS");
	unsigned long long v;

	if (!s || !*s) {
		cfg->nprocs = default_procs();
		return 0;
	}
	if (parse_size(s, &v) || strpbrk(s, "kKmMgG") || v < 1 ||
	    v > GREEN_MAX_PROCS)
		return bad("GREEN_PROCS", s, "expected a number from 1 to 1024");
	cfg->nprocs = (int)v;
	return 0;
}

static int read_stack_size(struct green_config *cfg)
{
	const char *s = getenv("GREEN_STACK_SIZE");
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long v;

	if (!s || !*s) {
		cfg->stack_size = GREEN_STACK_DEFAULT;
		return 0;
	}
	if (parse_size(s, &v) || v > GREEN_STACK_MAX ||
	    (v < GREEN_STACK_MIN && (cfg->guard_mode != GUARD_NEVER ||
				     v < GREEN_STACK_MIN_UNGUARDED)))
		return bad("GREEN_STACK_SIZE", s,
			   "expected bytes from 16k to 1g (suffix k, m or g), or from 2k with GREEN_STACK_GUARD=never");
	/* Whole pages; packed unguarded stacks: whole cache lines. */
	if (v < (unsigned long long)page)
		cfg->stack_size = (size_t)((v + 63) & ~63ULL);
	else
		cfg->stack_size = (size_t)((v + page - 1) &
					   ~(unsigned long long)(page - 1));
	return 0;
}

static int read_guard(struct green_config *cfg)
{
	const char *s = getenv("GREEN_STACK_GUARD");

	if (!s || !*s || !strcmp(s, "auto"))
		cfg->guard_mode = GUARD_AUTO;
	else if (!strcmp(s, "always"))
		cfg->guard_mode = GUARD_ALWAYS;
	else if (!strcmp(s, "never"))
		cfg->guard_mode = GUARD_NEVER;
	else
		return bad("GREEN_STACK_GUARD", s,
			   "expected auto, always or never");
	return 0;
}

static int read_parker(struct green_config *cfg)
{
	const char *s = getenv("GREEN_PARKER");

	if (!s || !*s || !strcmp(s, "auto"))
		cfg->parker = PARKER_AUTO;
	else if (!strcmp(s, "futex"))
		cfg->parker = PARKER_FUTEX;
	else if (!strcmp(s, "kmod"))
		cfg->parker = PARKER_KMOD;
	else
		return bad("GREEN_PARKER", s, "expected auto, futex or kmod");
	return 0;
}

static int read_hold(struct green_config *cfg)
{
	const char *s = getenv("GREEN_HOLD");

	/* Off by default for now: see hold.c. */
	if (!s || !*s || !strcmp(s, "0"))
		cfg->hold = false;
	else if (!strcmp(s, "1"))
		cfg->hold = true;
	else
		return bad("GREEN_HOLD", s, "expected 0 or 1");
	return 0;
}

static int read_poller(struct green_config *cfg)
{
	const char *s = getenv("GREEN_POLLER");

	if (!s || !*s || !strcmp(s, "auto"))
		cfg->poller = POLLER_AUTO;
	else if (!strcmp(s, "uring") || !strcmp(s, "io_uring"))
		cfg->poller = POLLER_URING;
	else if (!strcmp(s, "epoll"))
		cfg->poller = POLLER_EPOLL;
	else
		return bad("GREEN_POLLER", s, "expected auto, uring or epoll");
	return 0;
}

int config_read(struct green_config *cfg)
{
	int ret;

	ret = read_procs(cfg);
	if (!ret)
		ret = read_guard(cfg);
	if (!ret)
		ret = read_stack_size(cfg);
	if (!ret)
		ret = read_parker(cfg);
	if (!ret)
		ret = read_hold(cfg);
	if (!ret)
		ret = read_poller(cfg);
	return ret;
}
