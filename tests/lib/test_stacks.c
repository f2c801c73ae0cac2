// SPDX-License-Identifier: MIT
/*
 * test_stacks.c - many live tasks with Debian's default vm.max_map_count:
 * 100k tasks parked at once fit, stacks stay guarded where the kernel
 * allows, and the process's mapping count stays far from the limit.
 */
#include "kselftest_harness.h"
#include "test_util.h"

struct live {
	green_wg_t gate, parked, done;
	long n;
	long maps_at_peak;
	struct green_stats st;
};

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void parked_task(void *arg)
{
	struct live *l = arg;
	volatile char touch[1024];

	touch[0] = 1;	/* use some stack, as real tasks do */
	(void)touch[0];
	green_wg_done(&l->parked);
	green_wg_wait(&l->gate);
	green_wg_done(&l->done);
}

static void live_main(void *arg)
{
	struct live *l = arg;
	long i;

	green_wg_add(&l->gate, 1);
	for (i = 0; i < l->n; i++) {
		green_wg_add(&l->parked, 1);
		green_wg_add(&l->done, 1);
		if (green_go(parked_task, l)) {
			green_wg_done(&l->parked);
			green_wg_done(&l->done);
		}
	}
	green_wg_wait(&l->parked);
	l->maps_at_peak = count_maps();
	l->st.size = sizeof(l->st);
	green_stats(&l->st, NULL, 0);
	green_wg_done(&l->gate);
	green_wg_wait(&l->done);
}

static void check_live(struct __test_metadata *_metadata)
{
	struct live *l = calloc(1, sizeof(*l));
	long max_maps = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

	if (f) {
		if (fscanf(f, "%ld", &max_maps) != 1)
			max_maps = 65530;
		fclose(f);
	}
	l->n = scaled(100000, 500);
	ASSERT_EQ(0, green_run(live_main, l));
	TH_LOG("%ld live tasks: %ld mappings (max %ld), %lu guarded and %lu unguarded stacks",
	       l->n, l->maps_at_peak, max_maps,
	       (unsigned long)l->st.stacks_guarded,
	       (unsigned long)l->st.stacks_unguarded);
	EXPECT_EQ(l->n + 1, (long)l->st.tasks_live);
	EXPECT_GE((long)(l->st.stacks_guarded + l->st.stacks_unguarded), l->n);
	EXPECT_LT(l->maps_at_peak, max_maps - 4096);
	/* Guards for at least the budget (or all, with guard regions). */
	EXPECT_GE((long)l->st.stacks_guarded,
		  l->n < 20000 ? l->n : 20000);
	free(l);
}

/* 100k stacks take a while on a loaded machine: a longer bound. */
FIXTURE(live) {};
FIXTURE_SETUP(live) {}
FIXTURE_TEARDOWN(live) {}

TEST_F_TIMEOUT(live, hundred_thousand_parked_tasks, 120)
{
	check_live(_metadata);
}

/*
 * Without guard regions (kernels before 6.13), guards are mprotect()ed
 * within a budget of mappings and the rest of the stacks get canaries.
 */
TEST_F_TIMEOUT(live, hundred_thousand_parked_tasks_mprotect_guards, 120)
{
	setenv("GREEN_DEBUG_NO_GUARD_REGIONS", "1", 1);
	check_live(_metadata);
}

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long size = 0, res = 0;

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

struct small {
	green_wg_t gate, parked;
	long n;
	long bytes_per_task;
	char line[128];
};

static void small_parked(void *arg)
{
	struct small *s = arg;

	green_wg_done(&s->parked);
	green_wg_wait(&s->gate);
}

static void small_main(void *arg)
{
	struct small *s = arg;
	long i, r0 = rss_bytes();

	green_wg_add(&s->gate, 1);
	for (i = 0; i < s->n; i++) {
		green_wg_add(&s->parked, 1);
		if (green_go(small_parked, s))
			green_wg_done(&s->parked);
	}
	green_wg_wait(&s->parked);
	s->bytes_per_task = (rss_bytes() - r0) / s->n;
	/* The first task has a full-size stack of its own: stdio is fine. */
	snprintf(s->line, sizeof(s->line), "%ld tasks, %ld bytes each",
		 s->n, s->bytes_per_task);
	green_wg_done(&s->gate);
}

/*
 * GREEN_STACK_GUARD=never with 2k stacks, packed two to a page: a parked
 * task costs less than a page (Go's goroutine: about 2.7 KB here).
 */
TEST(small_packed_stacks)
{
	struct small s = { .n = scaled(100000, 1000) };

	if (under_sanitizer() || under_valgrind())
		SKIP(return, "sanitizers need more than 2k of stack");
	setenv("GREEN_STACK_GUARD", "never", 1);
	setenv("GREEN_STACK_SIZE", "2k", 1);
	ASSERT_EQ(0, green_run(small_main, &s));
	unsetenv("GREEN_STACK_GUARD");
	unsetenv("GREEN_STACK_SIZE");
	TH_LOG("%s", s.line);
	EXPECT_NE(0, s.line[0]);
	EXPECT_LT(s.bytes_per_task, 2700);
	EXPECT_GT(s.bytes_per_task, 2048);
}

TEST_HARNESS_MAIN
