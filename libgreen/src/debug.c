// SPDX-License-Identifier: MIT
/*
 * debug.c - the debugging settings, and sysmon's periodic debug work.
 *
 * GREEN_DEBUG is a comma-separated list shared with other parts of
 * libgreen (chanpanic, syncpanic); the items read here are
 *
 *   nosigquit            leave SIGQUIT alone (same as sigquit=off)
 *   sigquit=exit|dump|off  on SIGQUIT, dump every task and exit(2) (the
 *                        default, as Go), dump and go on, or do nothing
 *   deadlock=exit|continue|off  when every task is blocked for good:
 *                        report and exit(2) (default), report once and
 *                        go on, or do not look
 *   deadlockwait=MS      how long the runtime must stay blocked before
 *                        that is called a deadlock (default 1000)
 *   schedtrace=MS        a scheduler line on stderr every MS ms
 *   depth                count the runtime depth (lock.h) even when no
 *                        green.ko held resume needs it (for tests)
 *
 * and GREEN_STALL_MS (default 100, 0: off) is how long a task may run
 * without a switch before it is reported. Other items are left to their
 * readers; a bad value of one of these is refused, as config.c does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "debug.h"

#define MS 1000000ULL
#define MS_MAX 3600000ULL		/* an hour: bigger is a typo */
#define DEADLOCK_WAIT_MS 1000
#define STALL_MS 100
#define TICK_MIN_NS 1000		/* sysmon never sleeps less */

struct debug_opts debug_opts;

static int bad(const char *var, const char *val, const char *want)
{
	fprintf(stderr, "libgreen: %s=\"%s\": %s\n", var, val, want);
	return -EINVAL;
}

/* Milliseconds, 0..MS_MAX, from exactly @len characters at @s. */
static int parse_ms(const char *s, size_t len, uint64_t *ns)
{
	uint64_t v = 0;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
		if (v > MS_MAX)
			return -EINVAL;
	}
	*ns = v * MS;
	return 0;
}

/* Does the item @it of length @len read "@key=..."? Its value if so. */
static const char *item_val(const char *it, size_t len, const char *key,
			    size_t *vlen)
{
	size_t k = strlen(key);

	if (len <= k || strncmp(it, key, k) || it[k] != '=')
		return NULL;
	*vlen = len - k - 1;
	return it + k + 1;
}

static bool is(const char *v, size_t len, const char *word)
{
	return len == strlen(word) && !strncmp(v, word, len);
}

static int parse_item(struct debug_opts *o, const char *all, const char *it,
		      size_t len)
{
	const char *v;
	size_t vl;

	if (is(it, len, "nosigquit")) {
		o->sigquit = SQ_OFF;
	} else if (is(it, len, "depth")) {
		o->depth = true;
	} else if ((v = item_val(it, len, "sigquit", &vl))) {
		if (is(v, vl, "exit"))
			o->sigquit = SQ_EXIT;
		else if (is(v, vl, "dump"))
			o->sigquit = SQ_DUMP;
		else if (is(v, vl, "off"))
			o->sigquit = SQ_OFF;
		else
			return bad("GREEN_DEBUG", all,
				   "sigquit= takes exit, dump or off");
	} else if ((v = item_val(it, len, "deadlock", &vl))) {
		if (is(v, vl, "exit"))
			o->deadlock = DL_EXIT;
		else if (is(v, vl, "continue"))
			o->deadlock = DL_CONTINUE;
		else if (is(v, vl, "off"))
			o->deadlock = DL_OFF;
		else
			return bad("GREEN_DEBUG", all,
				   "deadlock= takes exit, continue or off");
	} else if ((v = item_val(it, len, "deadlockwait", &vl))) {
		if (parse_ms(v, vl, &o->deadlock_wait_ns))
			return bad("GREEN_DEBUG", all,
				   "deadlockwait= takes milliseconds, 0 to 3600000");
	} else if ((v = item_val(it, len, "schedtrace", &vl))) {
		if (parse_ms(v, vl, &o->schedtrace_ns))
			return bad("GREEN_DEBUG", all,
				   "schedtrace= takes milliseconds, 0 (off) to 3600000");
	}
	return 0;
}

static int debug_parse(struct debug_opts *o)
{
	const char *s = getenv("GREEN_DEBUG"), *it;
	int ret;

	memset(o, 0, sizeof(*o));
	o->deadlock = DL_EXIT;
	o->sigquit = SQ_EXIT;
	o->deadlock_wait_ns = DEADLOCK_WAIT_MS * MS;
	o->stall_ns = STALL_MS * MS;
	for (it = s; it && *it; ) {
		size_t len = strcspn(it, ",");

		ret = parse_item(o, s, it, len);
		if (ret)
			return ret;
		it += len;
		if (*it == ',')
			it++;
	}
	s = getenv("GREEN_STALL_MS");
	if (s && *s && parse_ms(s, strlen(s), &o->stall_ns))
		return bad("GREEN_STALL_MS", s,
			   "expected milliseconds, 0 (off) to 3600000");
	return 0;
}

int debug_start(void)
{
	int ret;

	ret = debug_parse(&debug_opts);
	if (ret)
		return ret;
	debug_opts.start_ns = now_ns();
	deadlock_reset();
	ret = stall_start();
	if (ret)
		return ret;
	dump_sigquit_start();
	return 0;
}

void debug_stop(void)
{
	dump_sigquit_stop();
	stall_stop();
	bt_fini();
}

void debug_exit(int code)
{
	fflush(NULL);
	for (;;)
		syscall(SYS_exit_group, code);
}

void debug_sysmon_tick(void)
{
	uint64_t now = now_ns();

	dump_sigquit_tick();
	if (atomic_load_explicit(&sched.shutdown, memory_order_relaxed))
		return;
	schedtrace_tick(now);
	stall_tick(now);
	deadlock_tick(now);
}

long debug_sysmon_sleep(long ns)
{
	uint64_t now = now_ns();

	ns = schedtrace_sleep(ns, now);
	ns = deadlock_sleep(ns, now);
	ns = stall_sleep(ns);
	return ns < TICK_MIN_NS ? TICK_MIN_NS : ns;
}
