// SPDX-License-Identifier: MIT
/*
 * test_fpenv.c - a task's floating-point control state is its own: the
 * SSE control/status register (MXCSR) and the x87 control word survive
 * its switches and moves between worker threads, whatever the tasks it
 * shares them with set; a new task starts with the defaults; green_run
 * leaves its caller's state as it found it.
 *
 * The state is read and set with the instructions the context switch
 * saves, and each mode is also checked by its effect on arithmetic.
 */
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "test_util.h"

#define MXCSR_DEFAULT 0x1f80	/* all exceptions masked, round to nearest */
#define MXCSR_RC_SHIFT 13
#define MXCSR_FTZ 0x8000
#define MXCSR_FLAGS 0x3f	/* exception flags: status, not control */
#define FPUCW_DEFAULT 0x037f	/* masked, 64-bit precision, nearest */
#define FPUCW_RC_SHIFT 10
#define NTASKS 8

static unsigned int mxcsr_get(void)
{
	unsigned int v;

	__asm__ __volatile__("stmxcsr %0" : "=m"(v));
	return v;
}

static void mxcsr_set(unsigned int v)
{
	__asm__ __volatile__("ldmxcsr %0" : : "m"(v));
}

static unsigned short fpucw_get(void)
{
	unsigned short v;

	__asm__ __volatile__("fnstcw %0" : "=m"(v));
	return v;
}

static void fpucw_set(unsigned short v)
{
	__asm__ __volatile__("fldcw %0" : : "m"(v));
}

/*
 * 1/3 in double (SSE) and long double (x87) under the current modes:
 * rounding down and up give different last bits, so a mode lost or
 * swapped shows in the result, not only in the register.
 */
static double third_sse(void)
{
	volatile double one = 1.0, three = 3.0;

	return one / three;
}

static long double third_x87(void)
{
	volatile long double one = 1.0L, three = 3.0L;

	return one / three;
}

/* The two control states a task uses: rounding mode @rc (0..3) in both. */
static unsigned int task_mxcsr(int rc)
{
	return MXCSR_DEFAULT | (unsigned int)rc << MXCSR_RC_SHIFT |
	       (rc & 1 ? MXCSR_FTZ : 0);
}

static unsigned short task_fpucw(int rc)
{
	return (unsigned short)(FPUCW_DEFAULT | rc << FPUCW_RC_SHIFT);
}

struct expect {
	double sse[4];
	long double x87[4];
};

static struct expect want;

/* The results of each rounding mode, computed on this thread alone. */
static void compute_expected(void)
{
	unsigned int mx = mxcsr_get();
	unsigned short cw = fpucw_get();
	int rc;

	for (rc = 0; rc < 4; rc++) {
		mxcsr_set(task_mxcsr(rc));
		fpucw_set(task_fpucw(rc));
		want.sse[rc] = third_sse();
		want.x87[rc] = third_x87();
	}
	mxcsr_set(mx);
	fpucw_set(cw);
}

struct fp_run {
	green_wg_t wg;
	long rounds;
	int bad_start;		/* tasks that did not start with defaults */
	int bad_reg;		/* switches after which a register differed */
	int bad_math;		/* ... or arithmetic rounded another way */
	int moves;		/* switches that resumed on another thread */
	unsigned int seen_mx;	/* the first wrong MXCSR, for the report */
	unsigned short seen_cw;
};

struct fp_task {
	struct fp_run *r;
	int rc;
};

static bool at_defaults(void)
{
	return (mxcsr_get() & ~MXCSR_FLAGS) == MXCSR_DEFAULT &&
	       fpucw_get() == FPUCW_DEFAULT;
}

static void note(int *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void fp_task(void *arg)
{
	struct fp_task *t = arg;
	struct fp_run *r = t->r;
	unsigned int mx = task_mxcsr(t->rc);
	unsigned short cw = task_fpucw(t->rc);
	long i;

	if (!at_defaults())
		note(&r->bad_start);
	mxcsr_set(mx);
	fpucw_set(cw);
	for (i = 0; i < r->rounds; i++) {
		pid_t tid = (pid_t)syscall(SYS_gettid);
		unsigned int got_mx;
		unsigned short got_cw;

		/* Sleeps move tasks between workers; yields interleave. */
		if (i % 16 == 15)
			green_sleep(20000);
		else
			green_yield();
		if ((pid_t)syscall(SYS_gettid) != tid)
			note(&r->moves);
		got_mx = mxcsr_get() & ~MXCSR_FLAGS;
		got_cw = fpucw_get();
		if (got_mx != mx || got_cw != cw) {
			if (!__atomic_fetch_add(&r->bad_reg, 1,
						__ATOMIC_RELAXED)) {
				r->seen_mx = got_mx;
				r->seen_cw = got_cw;
			}
			mxcsr_set(mx);
			fpucw_set(cw);
		}
		if (third_sse() != want.sse[t->rc] ||
		    third_x87() != want.x87[t->rc])
			note(&r->bad_math);
	}
	green_wg_done(&r->wg);
}

static void fp_main(void *arg)
{
	struct fp_run *r = arg;
	struct fp_task t[NTASKS];
	int i;

	/* green_run's first task starts at the defaults too. */
	if (!at_defaults())
		note(&r->bad_start);
	green_wg_init(&r->wg);
	for (i = 0; i < NTASKS; i++) {
		t[i].r = r;
		t[i].rc = i % 4;
		green_wg_add(&r->wg, 1);
		if (green_go(fp_task, &t[i]))
			green_wg_done(&r->wg);
	}
	/* The first task changes its own modes too, then waits. */
	mxcsr_set(task_mxcsr(2));
	fpucw_set(task_fpucw(3));
	green_wg_wait(&r->wg);
}

static void run_fp(struct __test_metadata *_metadata, const char *procs)
{
	struct fp_run r = { .rounds = scaled(2000, 200) };
	unsigned int mx_before, mx_after;
	unsigned short cw_before, cw_after;

	if (under_valgrind())
		SKIP(return, "Valgrind emulates rounding modes only "
		     "partly (x87 at double precision, MXCSR's ignored)");
	compute_expected();
	ASSERT_NE(want.sse[1], want.sse[2]);	/* down and up differ */
	ASSERT_NE(want.x87[1], want.x87[2]);
	/* The caller runs with modes of its own, which green_run keeps. */
	mxcsr_set(task_mxcsr(3));
	fpucw_set(task_fpucw(1));
	mx_before = mxcsr_get() & ~MXCSR_FLAGS;
	cw_before = fpucw_get();
	setenv("GREEN_PROCS", procs, 1);
	ASSERT_EQ(0, green_run(fp_main, &r));
	mx_after = mxcsr_get() & ~MXCSR_FLAGS;
	cw_after = fpucw_get();
	mxcsr_set(MXCSR_DEFAULT);
	fpucw_set(FPUCW_DEFAULT);
	TH_LOG("%s processors: %d of %ld switches resumed on another thread",
	       procs, r.moves, NTASKS * r.rounds);
	EXPECT_EQ(0, r.bad_start);
	EXPECT_EQ(0, r.bad_reg) {
		TH_LOG("first wrong state: MXCSR %#x, x87 CW %#x",
		       r.seen_mx, r.seen_cw);
	}
	EXPECT_EQ(0, r.bad_math);
	EXPECT_EQ(mx_before, mx_after);
	EXPECT_EQ(cw_before, cw_after);
}

TEST(fp_state_follows_the_task_1)
{
	run_fp(_metadata, "1");
}

TEST(fp_state_follows_the_task_2)
{
	run_fp(_metadata, "2");
}

TEST(fp_state_follows_the_task_4)
{
	run_fp(_metadata, "4");
}

TEST_HARNESS_MAIN
