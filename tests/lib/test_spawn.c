// SPDX-License-Identifier: MIT
/*
 * test_spawn.c - spawning and joining tasks: a million of them, from many
 * spawners at once, recursively, and the error paths of green_go.
 */
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "test_util.h"

struct spawn_state {
	green_wg_t wg;
	long n;
	long ran;		/* atomically incremented by children */
	long errors;		/* unexpected green_go failures */
	bool seen[4096];	/* which ids ran, for n <= 4096 */
};

static void count_child(void *arg)
{
	struct spawn_state *s = arg;

	__atomic_fetch_add(&s->ran, 1, __ATOMIC_RELAXED);
	green_wg_done(&s->wg);
}

static void spawn_n(void *arg)
{
	struct spawn_state *s = arg;
	long i;

	for (i = 0; i < s->n; i++) {
		green_wg_add(&s->wg, 1);
		if (green_go(count_child, s)) {
			green_wg_done(&s->wg);
			s->errors++;
		}
	}
	green_wg_wait(&s->wg);
}

TEST(million_tasks_spawned_and_joined)
{
	struct spawn_state *s = calloc(1, sizeof(*s));

	s->n = scaled(1000000, 1000);
	ASSERT_EQ(0, green_run(spawn_n, s));
	EXPECT_EQ(0, s->errors);
	EXPECT_EQ(s->n, s->ran);
	free(s);
}

/* Many spawners at once, each joining its own children. */
static void spawner(void *arg)
{
	struct spawn_state *s = arg;
	green_wg_t wg = GREEN_WG_INIT;
	long i;

	for (i = 0; i < 1000; i++) {
		green_wg_add(&wg, 1);
		green_wg_add(&s->wg, 1);
		if (green_go(count_child, s)) {
			green_wg_done(&s->wg);
			__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
		}
		green_wg_done(&wg);
	}
	green_wg_wait(&wg);
	green_wg_done(&s->wg);
}

static void many_spawners(void *arg)
{
	struct spawn_state *s = arg;
	long i;

	for (i = 0; i < s->n; i++) {
		green_wg_add(&s->wg, 1);
		if (green_go(spawner, s))
			s->errors++;
	}
	green_wg_wait(&s->wg);
}

TEST(concurrent_spawners)
{
	struct spawn_state *s = calloc(1, sizeof(*s));

	s->n = scaled(200, 4);
	ASSERT_EQ(0, green_run(many_spawners, s));
	EXPECT_EQ(0, s->errors);
	EXPECT_EQ(s->n * 1000, s->ran);
	free(s);
}

/* A binary tree of tasks, each joining its two children. */
struct tree {
	int depth;
	long *count;
	green_wg_t *parent;
};

static void tree_node(void *arg)
{
	struct tree *t = arg;
	struct tree kids[2];
	green_wg_t wg = GREEN_WG_INIT;
	int i;

	__atomic_fetch_add(t->count, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2 && t->depth > 0; i++) {
		kids[i].depth = t->depth - 1;
		kids[i].count = t->count;
		kids[i].parent = &wg;
		green_wg_add(&wg, 1);
		if (green_go(tree_node, &kids[i]))
			green_wg_done(&wg);
	}
	green_wg_wait(&wg);
	if (t->parent)
		green_wg_done(t->parent);
}

TEST(recursive_tree)
{
	long count = 0;
	int depth = under_valgrind() ? 8 : scaled(16, 10);
	struct tree root = { .depth = depth, .count = &count };

	ASSERT_EQ(0, green_run(tree_node, &root));
	EXPECT_EQ((1L << (depth + 1)) - 1, count);
}

/* Each task runs exactly once and sees its own argument. */
static void mark(void *arg)
{
	bool *seen = arg;

	__atomic_store_n(seen, true, __ATOMIC_RELAXED);
}

static void mark_all(void *arg)
{
	struct spawn_state *s = arg;
	long i;

	for (i = 0; i < 4096; i++)
		if (green_go(mark, &s->seen[i]))
			s->errors++;
	/* Returning ends the run; wait with yields until all marked. */
	for (;;) {
		long done = 0;

		for (i = 0; i < 4096; i++)
			done += __atomic_load_n(&s->seen[i], __ATOMIC_RELAXED);
		if (done == 4096)
			break;
		green_yield();
	}
}

TEST(every_task_runs_with_its_argument)
{
	struct spawn_state *s = calloc(1, sizeof(*s));
	long i;

	ASSERT_EQ(0, green_run(mark_all, s));
	EXPECT_EQ(0, s->errors);
	for (i = 0; i < 4096; i++)
		ASSERT_TRUE(s->seen[i]);
	free(s);
}

static void nothing(void *arg)
{
}

static void go_null(void *arg)
{
	int *ret = arg;

	*ret = green_go(NULL, NULL);
}

TEST(go_errors)
{
	int ret = 0;

	/* No runtime. */
	EXPECT_EQ(-EPERM, green_go(nothing, NULL));
	ASSERT_EQ(0, green_run(go_null, &ret));
	EXPECT_EQ(-EINVAL, ret);
	EXPECT_EQ(-EINVAL, green_run(NULL, NULL));
}

/*
 * Out of memory: under a small address-space limit, green_go must return
 * -ENOMEM, not abort, and the runtime must go on working.
 */
struct oom_state {
	green_wg_t gate;	/* holds the spawned tasks parked */
	green_wg_t all;		/* every spawned task, joined at the end */
	long spawned;
	int first_err;
	int after_err;		/* spawning once memory is back */
};

static void block_child(void *arg)
{
	struct oom_state *s = arg;

	green_wg_wait(&s->gate);
	green_wg_done(&s->all);
}

static void oom_done(void *arg)
{
	struct oom_state *s = arg;

	green_wg_done(&s->all);
}

static void oom_main(void *arg)
{
	struct oom_state *s = arg;
	int ret;

	green_wg_add(&s->gate, 1);
	for (;;) {
		green_wg_add(&s->all, 1);
		ret = green_go(block_child, s);
		if (ret) {
			green_wg_done(&s->all);
			s->first_err = ret;
			break;
		}
		s->spawned++;
	}
	/* Release the parked tasks and join them: their stacks come back. */
	green_wg_done(&s->gate);
	green_wg_wait(&s->all);
	/* Still usable: spawn and join one more. */
	green_wg_add(&s->all, 1);
	s->after_err = green_go(oom_done, s);
	if (s->after_err)
		green_wg_done(&s->all);
	green_wg_wait(&s->all);
}

static int oom_child(void *arg)
{
	struct oom_state s = { .gate = GREEN_WG_INIT, .all = GREEN_WG_INIT };
	struct rlimit rl = { 1UL << 30, 1UL << 30 };	/* 1 GiB */

	(void)arg;
	if (setrlimit(RLIMIT_AS, &rl))
		return 10;
	if (green_run(oom_main, &s))
		return 11;
	if (s.first_err != -ENOMEM)
		return 12;
	if (s.spawned < 100)
		return 13;
	if (s.after_err)
		return 14;
	return 0;
}

TEST(go_enomem_is_returned_not_fatal)
{
	struct child_result r;

	if (under_sanitizer() || under_valgrind())
		SKIP(return, "address-space limits do not apply under sanitizers/valgrind");
	run_child(&r, "GREEN_STACK_SIZE", "1m", oom_child, NULL);
	ASSERT_TRUE(WIFEXITED(r.status)) TH_LOG("child died: status %d, stderr: %s", r.status, r.err);
	EXPECT_EQ(0, WEXITSTATUS(r.status)) TH_LOG("stderr: %s", r.err);
}

TEST_HARNESS_MAIN
