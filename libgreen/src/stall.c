// SPDX-License-Identifier: MIT
/*
 * stall.c - a task that keeps its processor too long: reported once, and
 * asked to yield.
 *
 * Detection (sysmon, as Go's retake): each processor's progress count
 * (tasks switched to plus yields, counters its owner keeps anyway, so a
 * switch costs nothing more) is sampled at most every GREEN_STALL_MS.
 * A processor running the same task with the same count for
 * GREEN_STALL_MS or more is stalled: its task has run that long without
 * a switch, in a loop (its thread used that much CPU time: a thread the
 * kernel left waiting on a busy machine is not reported) or in a
 * blocking call libgreen does not know of. It is reported once (per
 * stall) on stderr, with the task's backtrace.
 *
 * The backtrace of a task running on another thread: sysmon sends that
 * worker SIGURG (as Go does for preemption; rarely used by programs) and
 * its handler walks the interrupted frames (backtrace.c: memory reads
 * only, async-signal-safe) into a buffer; sysmon, not the handler, turns
 * them into names and prints them. A SIGURG that is not our request goes
 * to the program's own handler, if any. A worker that is not running
 * (/proc says it sleeps in the kernel: a blocking call libgreen was not
 * told of) is not signalled, since calls like nanosleep and poll would
 * fail with EINTR even under SA_RESTART; the report names the system call
 * and where it was made instead.
 *
 * Preemption is cooperative: the stalled processor's preempt word is set,
 * and green_preempt_check(), called at the task's safe points, yields
 * once. A task cannot be switched at an arbitrary instruction in C: it
 * may hold malloc's lock, or any library's, that the next task on the
 * same thread would then wait for forever. green.ko's KICK request sets
 * the same kind of flag (in the worker's shared-memory slot) and forces
 * the thread through the kernel; it cannot switch tasks either, so
 * libgreen does not use it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "debug.h"

#define ANSWER_WAIT_NS 100000000	/* for the worker's signal handler */

enum { RQ_IDLE, RQ_PENDING, RQ_WALKING, RQ_DONE };

/* What sysmon last saw on a processor. */
struct pstall {
	struct g *g;
	struct m *m;
	uint64_t prog;		/* progress count then */
	uint64_t since;		/* first seen so, ns; 0: no task ran */
	uint64_t cpu;		/* its thread's CPU time then, ns */
	uint64_t reported;	/* prog + 1 of the stall reported */
};

/*
 * A processor's running task and its worker, read racily (validated by
 * progress); copied here so that nothing else reads the M.
 */
struct prun {
	struct m *m;
	struct g *g;
	pthread_t thread;
	pid_t tid;
	uint64_t id, created_by;
	void *created_pc;
};

/* What a blocked worker waits in, for the report. */
struct kstate {
	char state;		/* /proc's letter: 'R' running, 'S'... */
	long nr;		/* system call, or -1 */
	uintptr_t pc;		/* where it was made, or 0 */
};

static struct pstall *ps;
static uint64_t next_check;
static struct sigaction old_urg;
static bool urg_installed;

/* sysmon's request to a worker's SIGURG handler. */
static struct {
	_Atomic int state;
	struct m *m;
	struct g *g;
	int n;			/* frames; -1: not on the task's stack */
	uintptr_t pcs[BT_MAX];
} req;

static uint64_t progress(struct p *p)
{
	return __atomic_load_n(&p->st.tasks_run, __ATOMIC_RELAXED) +
	       __atomic_load_n(&p->st.yields, __ATOMIC_RELAXED);
}

DEBUG_NOSAN static bool peek(struct p *p, struct prun *r)
{
	struct m *m;
	struct g *g;

	if (atomic_load(&p->status) != P_RUNNING)
		return false;
	m = p->m;
	if (!m || m->p != p)
		return false;
	g = m->curg;
	if (!g || g == &m->g0 || !g->stack)
		return false;
	r->m = m;
	r->g = g;
	r->thread = m->thread;
	r->tid = m->tid;
	r->id = g->id;
	r->created_by = g->created_by;
	r->created_pc = g->created_pc;
	return true;
}

static void chain(int sig, siginfo_t *si, void *uc)
{
	if (old_urg.sa_flags & SA_SIGINFO) {
		if (old_urg.sa_sigaction)
			old_urg.sa_sigaction(sig, si, uc);
	} else if (old_urg.sa_handler != SIG_DFL &&
		   old_urg.sa_handler != SIG_IGN) {
		old_urg.sa_handler(sig);
	}
}

/*
 * Where the return address of the interrupted function is when rbp does
 * not (yet, or any more) point at its frame: at its first instruction
 * (endbr64 or push %rbp) and at its ret it is on top of the stack, after
 * the push it is one word above. 0 elsewhere: the walk finds it via rbp.
 */
DEBUG_NOSAN static uintptr_t frameless_ret(uintptr_t pc, uintptr_t sp)
{
	const volatile uint8_t *ip = (const volatile uint8_t *)pc;
	const volatile uintptr_t *top = (const volatile uintptr_t *)sp;

	if (ip[0] == 0xc3 || ip[0] == 0x55 ||
	    (ip[0] == 0xf3 && ip[1] == 0x0f && ip[2] == 0x1e && ip[3] == 0xfa))
		return top[0];
	if (ip[0] == 0x48 && ip[1] == 0x89 && ip[2] == 0xe5)
		return top[1];
	return 0;
}

/* Walk the frames the signal interrupted, if they are the task's. */
DEBUG_NOSAN static int walk_interrupted(struct g *g, const ucontext_t *uc)
{
	const greg_t *r = uc->uc_mcontext.gregs;
	uintptr_t lo, hi, sp = (uintptr_t)r[REG_RSP], ret;

	if (m_self()->curg != g || !g->stack)
		return -1;
	lo = (uintptr_t)g->stack->lo;
	hi = lo + g->stack->size;
	if (sp < lo || sp >= hi - 2 * sizeof(uintptr_t))
		return -1;
	ret = frameless_ret((uintptr_t)r[REG_RIP], sp);
	if (!ret)
		return bt_walk((uintptr_t)r[REG_RIP], (uintptr_t)r[REG_RBP],
			       sp, hi, req.pcs, BT_MAX);
	req.pcs[0] = (uintptr_t)r[REG_RIP];
	return 1 + bt_walk(ret, (uintptr_t)r[REG_RBP], sp, hi, req.pcs + 1,
			   BT_MAX - 1);
}

static void on_sigurg(int sig, siginfo_t *si, void *uc)
{
	int saved = errno, expect = RQ_PENDING;
	struct m *m = m_self();

	/* Sent by a process (us), not by a socket's urgent data. */
	if (si->si_code <= 0 && m &&
	    atomic_load_explicit(&req.state, memory_order_acquire) ==
	    RQ_PENDING && req.m == m &&
	    atomic_compare_exchange_strong(&req.state, &expect, RQ_WALKING)) {
		req.n = walk_interrupted(req.g, uc);
		atomic_store_explicit(&req.state, RQ_DONE,
				      memory_order_release);
	} else {
		chain(sig, si, uc);
	}
	errno = saved;
}

static ssize_t read_proc(const char *fmt, pid_t tid, char *buf, size_t n)
{
	char path[64];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), fmt, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, n - 1);
	close(fd);
	buf[len > 0 ? len : 0] = 0;
	return len;
}

/* How the kernel sees thread @tid; state 0 when it cannot tell. */
static void kernel_state(pid_t tid, struct kstate *k)
{
	unsigned long v[9];
	char buf[512], *s;

	k->state = 0;
	k->nr = -1;
	k->pc = 0;
	if (read_proc("/proc/self/task/%d/stat", tid, buf, sizeof(buf)) <= 0)
		return;
	s = strrchr(buf, ')');		/* after the command name */
	if (!s || s[1] != ' ' || !s[2])
		return;
	k->state = s[2];
	if (k->state == 'R' ||
	    read_proc("/proc/self/task/%d/syscall", tid, buf, sizeof(buf)) <= 0)
		return;
	if (sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &k->nr, &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 9)
		k->pc = v[7];
	else if (sscanf(buf, "%ld", &k->nr) != 1)
		k->nr = -1;
}

static const char *syscall_name(long nr)
{
	switch (nr) {
	case 0: return "read";
	case 1: return "write";
	case 7: return "poll";
	case 23: return "select";
	case 35: return "nanosleep";
	case 43: return "accept";
	case 45: return "recvfrom";
	case 47: return "recvmsg";
	case 61: return "wait4";
	case 202: return "futex";
	case 219: return "restart_syscall";
	case 230: return "clock_nanosleep";
	case 232: return "epoll_wait";
	case 270: return "pselect6";
	case 271: return "ppoll";
	case 281: return "epoll_pwait";
	default: return "?";
	}
}

/* Ask @r's worker for its task's frames: how many, or -1 / -2. */
static int ask_backtrace(const struct prun *r)
{
	struct timespec nap = { 0, 200000 };
	uint64_t end = now_ns() + ANSWER_WAIT_NS;
	int expect = RQ_PENDING;

	if (!urg_installed)
		return -2;
	req.m = r->m;
	req.g = r->g;
	req.n = 0;
	atomic_store_explicit(&req.state, RQ_PENDING, memory_order_release);
	if (pthread_kill(r->thread, SIGURG)) {
		atomic_store(&req.state, RQ_IDLE);
		return -2;
	}
	while (atomic_load_explicit(&req.state, memory_order_acquire) !=
	       RQ_DONE && now_ns() < end)
		nanosleep(&nap, NULL);
	if (atomic_compare_exchange_strong(&req.state, &expect, RQ_IDLE))
		return -2;	/* no answer: withdrawn */
	while (atomic_load_explicit(&req.state, memory_order_acquire) !=
	       RQ_DONE)
		nanosleep(&nap, NULL);	/* a walk is short and bounded */
	atomic_store(&req.state, RQ_IDLE);
	return req.n;
}

/* CPU time thread @t has used, ns; 0 when it cannot be read. */
static uint64_t thread_cpu(pthread_t t)
{
	struct timespec ts;
	clockid_t cid;

	if (pthread_getcpuclockid(t, &cid) ||
	    clock_gettime(cid, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void report(struct p *p, const struct prun *r, const struct kstate *k,
		   uint64_t ns, uint64_t cpu)
{
	char sym[256];
	int n = -3;

	if (k->state == 'R' || !k->state)
		n = ask_backtrace(r);
	flockfile(stderr);
	fprintf(stderr,
		"libgreen: task %llu has held P %d for %llu ms (%llu ms on a CPU) without a switch (GREEN_STALL_MS=%llu)",
		(unsigned long long)r->id, p->id,
		(unsigned long long)ns / 1000000,
		(unsigned long long)cpu / 1000000,
		(unsigned long long)debug_opts.stall_ns / 1000000);
	if (n == -3) {
		bt_symbol(k->pc, sym, sizeof(sym));
		fprintf(stderr,
			": blocked in the kernel, in system call %ld (%s) at %s; tell libgreen with green_syscall_enter/exit\n",
			k->nr, syscall_name(k->nr), sym);
	} else {
		fprintf(stderr,
			"; asked to yield at its next green_preempt_check()\n");
	}
	if (n > 0)
		bt_print(stderr, req.pcs, n);
	else if (n == -1)
		fprintf(stderr, "\t(no backtrace: it had switched or was off its stack)\n");
	else if (n == -2)
		fprintf(stderr, "\t(no backtrace: its worker did not answer)\n");
	dump_created(stderr, r->id, r->created_by, r->created_pc);
	funlockfile(stderr);
}

static uint64_t interval(void)
{
	uint64_t i = debug_opts.stall_ns;

	return i < 1000000 ? 1000000 : i;
}

void stall_tick(uint64_t now)
{
	int i;

	if (!ps || now < next_check)
		return;
	next_check = now + interval();
	for (i = 0; i < sched.nprocs; i++) {
		struct pstall *s = &ps[i];
		struct p *p = &sched.allp[i];
		uint64_t prog, cpu;
		struct kstate k;
		struct prun r;

		if (!peek(p, &r)) {
			s->since = 0;
			continue;
		}
		prog = progress(p);
		if (!s->since || prog != s->prog || r.g != s->g ||
		    r.m != s->m) {
			s->g = r.g;
			s->m = r.m;
			s->prog = prog;
			s->since = now;
			s->cpu = thread_cpu(r.thread);
			continue;
		}
		if (now - s->since < debug_opts.stall_ns ||
		    s->reported == prog + 1)
			continue;
		/*
		 * Running, it must have had the CPU that long: a thread the
		 * kernel did not run (an overloaded machine) is no stall.
		 * Blocked in the kernel, the wall time is what counts.
		 */
		cpu = s->cpu ? thread_cpu(r.thread) - s->cpu : now - s->since;
		kernel_state(r.tid, &k);
		if ((k.state == 'R' || !k.state) && cpu < debug_opts.stall_ns)
			continue;
		s->reported = prog + 1;
		report(p, &r, &k, now - s->since, cpu);
		/* After its backtrace was taken, in the act. */
		atomic_store_explicit(&p->preempt, prog + 1,
				      memory_order_relaxed);
	}
}

long stall_sleep(long ns)
{
	uint64_t i;

	if (!ps || atomic_load(&sched.npidle) == sched.nprocs)
		return ns;
	i = interval();
	return i < (uint64_t)ns ? (long)i : ns;
}

/*
 * Its frame is set up first, before the fast path: shrink-wrapped, the fast
 * path ran without one, and a stall report whose signal landed there
 * (often: spinning tasks call this in their loop) walked from the caller's
 * frame pointer and left the caller, the spinning function, out.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-shrink-wrap")))
#endif
int green_preempt_check(void)
{
	struct m *m = m_self();
	uint64_t want;
	struct p *p;

	if (!m || !m->p || m->curg == &m->g0)
		return 0;
	p = m->p;
	want = atomic_load_explicit(&p->preempt, memory_order_relaxed);
	if (__builtin_expect(!want, 1))
		return 0;
	atomic_store_explicit(&p->preempt, 0, memory_order_relaxed);
	/* Asked of a task that has switched since: done already. */
	if (want - 1 != progress(p))
		return 0;
	green_yield();
	return 1;
}

int stall_start(void)
{
	struct sigaction sa;

	next_check = 0;
	atomic_store(&req.state, RQ_IDLE);
	if (!debug_opts.stall_ns)
		return 0;
	ps = calloc(sched.nprocs, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigurg;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	urg_installed = !sigaction(SIGURG, &sa, &old_urg);
	return 0;
}

void stall_stop(void)
{
	if (urg_installed)
		sigaction(SIGURG, &old_urg, NULL);
	urg_installed = false;
	free(ps);
	ps = NULL;
}
