// SPDX-License-Identifier: MIT
/*
 * dump.c - green_dump(): every task, what it waits for and where it is,
 * as in Go's goroutine dump; and the SIGQUIT handler that asks for one.
 *
 * The dump does not stop the world. It walks every task structure
 * (sched.chunks) and takes a snapshot of each: its status, the wait's
 * generation (g->wstate), reason, object and start, its saved stack
 * pointer. A parked task's frames are read from its stack (backtrace.c),
 * then the snapshot is taken again: if the task ran meanwhile, its
 * backtrace is dropped rather than printed wrong. A task running on
 * another worker is only named with its processor (its registers live in
 * that thread); the stall report (stall.c) or gdb give its frames. The
 * whole is "consistent enough": each task's entry is one instant, the
 * dump is not.
 *
 * SIGQUIT (unless GREEN_DEBUG says otherwise, or the program has its own
 * handler) only sets a flag and wakes sysmon; sysmon prints the dump to
 * stderr, where normal calls are allowed, then exits with status 2 as Go
 * does, or goes on with sigquit=dump.
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "debug.h"
#include "poller.h"
#include "wait.h"

struct tsnap {
	uint64_t id;
	uint64_t wstate;
	uint8_t status;
	uint8_t wreason;
	const void *wobj;
	uint64_t wsince;
	uintptr_t sp, lo, hi;		/* saved sp; its stack (0: none) */
	void *created_pc;
	uint64_t created_by;
	void (*fn)(void *);
	struct m *m;			/* while running */
	int64_t deadline;
	bool own_map;
};

struct ent {
	uint64_t id;
	struct g *g;
};

static struct sigaction old_quit;
static bool quit_installed;
static _Atomic int quit_pending;

static const char *const io_names[IO_NKINDS] = {
	[IO_READ] = "read", [IO_WRITE] = "write", [IO_READV] = "readv",
	[IO_WRITEV] = "writev", [IO_PREAD] = "pread",
	[IO_PWRITE] = "pwrite", [IO_RECV] = "recv", [IO_SEND] = "send",
	[IO_ACCEPT] = "accept", [IO_CONNECT] = "connect",
	[IO_CLOSE] = "close", [IO_OPENAT] = "openat", [IO_FSYNC] = "fsync",
	[IO_POLL] = "poll",
};

DEBUG_NOSAN static void snap(struct g *g, struct tsnap *t)
{
	struct stack *s;

	t->status = atomic_load_explicit(&g->status, memory_order_acquire);
	t->wstate = atomic_load_explicit(&g->wstate, memory_order_acquire);
	t->id = g->id;
	t->wreason = g->wreason;
	t->wobj = g->wobj;
	t->wsince = g->wsince;
	t->sp = (uintptr_t)g->sp;
	s = g->stack;
	t->lo = s ? (uintptr_t)s->lo : 0;
	t->hi = s ? (uintptr_t)s->lo + s->size : 0;
	t->own_map = s ? s->own_map : false;
	t->created_pc = g->created_pc;
	t->created_by = g->created_by;
	t->fn = g->fn;
	t->m = t->status == G_RUNNING ? g->m : NULL;
	t->deadline = g->deadline;
}

static bool same(const struct tsnap *a, const struct tsnap *b)
{
	return a->status == b->status && a->wstate == b->wstate &&
	       a->sp == b->sp && a->id == b->id;
}

/* " (read) on fd 5" for a task in I/O: the op is on its stack. */
DEBUG_NOSAN static void io_detail(const struct tsnap *t, char *buf, size_t n)
{
	const struct io_op *op = t->wobj;
	uintptr_t a = (uintptr_t)op;
	int kind, fd;

	if (!op || a < t->sp || a + sizeof(*op) > t->hi) {
		snprintf(buf, n, " on %p", t->wobj);
		return;
	}
	kind = op->kind;
	fd = op->fd;
	if (kind >= 0 && kind < IO_NKINDS && io_names[kind])
		snprintf(buf, n, " (%s) on fd %d", io_names[kind], fd);
	else
		snprintf(buf, n, " on fd %d", fd);
}

/* Where a running task's worker is: "running on P 1", "syscall". */
DEBUG_NOSAN static void running_where(const struct tsnap *t, char *buf,
				      size_t n)
{
	struct m *m = t->m;
	struct p *p = m ? m->p : NULL;

	if (m && m->in_syscall)
		snprintf(buf, n, p ? "syscall on P %d" :
			 "syscall, its processor handed on", p ? p->id : 0);
	else if (p)
		snprintf(buf, n, "running on P %d", p->id);
	else
		snprintf(buf, n, "running");
}

static void state_line(const struct tsnap *t, bool self, uint64_t now,
		       char *buf, size_t n)
{
	char obj[96] = "", extra[64] = "";
	const char *why;

	switch (t->status) {
	case G_RUNNABLE:
		snprintf(buf, n, t->lo ? "runnable" : "runnable, not started");
		return;
	case G_RUNNING:
		if (self)
			snprintf(buf, n, "running");
		else
			running_where(t, buf, n);
		return;
	case G_WAITING:
		break;
	default:
		snprintf(buf, n, "status %d", t->status);
		return;
	}
	why = t->wreason == WR_NONE ? "waiting" : wait_reason_name(t->wreason);
	if (t->wreason == WR_IO || t->wreason == WR_POLL)
		io_detail(t, obj, sizeof(obj));
	else if (t->wobj)
		snprintf(obj, sizeof(obj), " on %p", t->wobj);
	if (t->deadline)
		snprintf(extra, sizeof(extra), ", deadline in %lld ms",
			 (long long)(t->deadline - (int64_t)now) / 1000000);
	if (t->wsince)	/* blocked after @now was read: 0 ms */
		snprintf(buf, n, "%s%s, %llu ms%s", why, obj,
			 t->wsince < now ?
			 (unsigned long long)(now - t->wsince) / 1000000 : 0ULL,
			 extra);
	else
		snprintf(buf, n, "%s%s%s", why, obj, extra);
}

void dump_created(FILE *f, uint64_t id, uint64_t by, void *pc)
{
	char sym[256];

	if (!pc) {
		if (id == 1)
			fprintf(f, "\tcreated by green_run\n");
		return;
	}
	bt_symbol((uintptr_t)pc, sym, sizeof(sym));
	if (by)
		fprintf(f, "\tcreated by task %llu at %s\n",
			(unsigned long long)by, sym);
	else
		fprintf(f, "\tcreated outside the tasks at %s\n", sym);
}

/* One task's entry; @selfpcs: the caller's frames when @g is the caller. */
static int dump_one(FILE *f, struct g *g, uint64_t now, bool self,
		    const uintptr_t *selfpcs, int nself)
{
	uintptr_t pcs[BT_MAX];
	struct tsnap a, b;
	char state[192], sym[256];
	int n = 0, tries;

	for (tries = 0; tries < 3; tries++) {
		snap(g, &a);
		snap(g, &b);
		if (same(&a, &b))
			break;
	}
	if (a.status == G_FREE)
		return 0;
	state_line(&a, self, now, state, sizeof(state));
	fprintf(f, "\ntask %llu [%s]:\n", (unsigned long long)a.id, state);
	if (self) {
		bt_print(f, selfpcs, nself);
	} else if (a.status == G_RUNNING) {
		fprintf(f, "\t(running on another worker: no backtrace)\n");
	} else if (!a.lo || !a.sp) {
		bt_symbol((uintptr_t)a.fn + 1, sym, sizeof(sym));
		fprintf(f, "\tstarts at %s\n", sym);
	} else if (a.own_map && atomic_load(&sched.shutdown)) {
		fprintf(f, "\t(shutting down: no backtrace)\n");
	} else {
		n = bt_parked(a.sp, a.lo, a.hi, pcs, BT_MAX);
		snap(g, &b);
		if (!same(&a, &b))
			fprintf(f, "\t(it ran while being dumped: backtrace dropped)\n");
		else if (n < 0)
			fprintf(f, "\t(starting or switching: no backtrace)\n");
		else
			bt_print(f, pcs, n);
	}
	dump_created(f, a.id, a.created_by, a.created_pc);
	return 1;
}

static int by_id(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;

	return a->id < b->id ? -1 : a->id > b->id;
}

DEBUG_NOSAN static uint64_t peek_id(struct g *g)
{
	return g->id;
}

int green_dump(FILE *f)
{
	uintptr_t selfpcs[BT_MAX];
	struct g *self = g_current();
	struct gchunk *head, *c;
	size_t cap = 0, n = 0, i;
	int nself = 0, count = 0;
	char line[512];
	struct ent *all;
	uint64_t now;

	if (!f)
		return -EINVAL;
	if (!atomic_load(&sched.running) || !sched.allp)
		return -EPERM;
	if (self && self->stack)
		nself = bt_self((uintptr_t)self->stack->lo + self->stack->size,
				selfpcs, BT_MAX);
	mutex_lock(&sched.gfree_lock);
	head = sched.chunks;
	mutex_unlock(&sched.gfree_lock);
	for (c = head; c; c = c->next)
		cap += c->n;
	all = malloc((cap ? cap : 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (c = head; c; c = c->next)
		for (i = 0; i < c->n && n < cap; i++)
			if (atomic_load(&c->gs[i].status) != G_FREE) {
				all[n].g = &c->gs[i];
				all[n++].id = peek_id(&c->gs[i]);
			}
	qsort(all, n, sizeof(*all), by_id);
	now = now_ns();
	flockfile(f);
	fprintf(f, "libgreen: %zu tasks, %llu ms after green_run\n", n,
		(unsigned long long)(now - debug_opts.start_ns) / 1000000);
	if (schedtrace_line(line, sizeof(line), now) > 0)
		fprintf(f, "%s", line);
	for (i = 0; i < n; i++)
		count += dump_one(f, all[i].g, now, all[i].g == self,
				  selfpcs, nself);
	fprintf(f, "\n");
	funlockfile(f);
	fflush(f);
	free(all);
	return count;
}

static void on_sigquit(int sig)
{
	int saved = errno;

	atomic_store(&quit_pending, 1);
	atomic_store(&sched.sysmon_idle, 0);
	syscall(SYS_futex, &sched.sysmon_idle, FUTEX_WAKE_PRIVATE, 1, NULL,
		NULL, 0);
	errno = saved;
}

void dump_sigquit_start(void)
{
	struct sigaction sa;

	atomic_store(&quit_pending, 0);
	if (debug_opts.sigquit == SQ_OFF ||
	    sigaction(SIGQUIT, NULL, &old_quit))
		return;
	/* A program that handles or ignores SIGQUIT itself keeps it. */
	if ((old_quit.sa_flags & SA_SIGINFO) ||
	    old_quit.sa_handler != SIG_DFL)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigquit;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	quit_installed = !sigaction(SIGQUIT, &sa, NULL);
}

void dump_sigquit_stop(void)
{
	if (quit_installed)
		sigaction(SIGQUIT, &old_quit, NULL);
	quit_installed = false;
}

void dump_sigquit_tick(void)
{
	if (!atomic_load_explicit(&quit_pending, memory_order_relaxed) ||
	    !atomic_exchange(&quit_pending, 0))
		return;
	fprintf(stderr, "SIGQUIT: %s\n",
		debug_opts.sigquit == SQ_EXIT ? "quit" : "dump");
	green_dump(stderr);
	if (debug_opts.sigquit != SQ_EXIT)
		return;
	debug_exit(2);
}
