/* SPDX-License-Identifier: MIT */
/*
 * stack.h - task stacks: carved from large anonymous mappings ("slabs"),
 * committed lazily by the kernel on first touch, each below a guard page
 * where one can be had. See stack.c for how guards are budgeted.
 *
 *   slab:  | guard | stack 0 ...... | guard | stack 1 ...... | ...
 *          ^base   ^lo              ^top
 *                  canary (unguarded stacks only) at lo, grows down from top
 */
#ifndef GREEN_STACK_H
#define GREEN_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum stack_guard_mode {
	GUARD_AUTO,	/* guard every stack while it costs no mapping or
			 * fits the mapping budget, then canaries */
	GUARD_ALWAYS,	/* guard every stack; fail with -ENOMEM when the
			 * kernel runs out of mappings */
	GUARD_NEVER,	/* canaries only */
};

enum stack_guard_kind {
	SG_UNSET,	/* not decided yet: guards are set at first use */
	SG_NONE,	/* no guard page: a canary word at lo */
	SG_MADVISE,	/* MADV_GUARD_INSTALL (Linux 6.13+): no extra VMA */
	SG_MPROTECT,	/* PROT_NONE page: splits the mapping, two VMAs */
};

struct stack {
	struct stack *next;	/* free lists */
	void *lo;		/* lowest usable byte */
	size_t size;		/* usable bytes; top = lo + size */
	uint8_t guard;		/* enum stack_guard_kind */
	bool touched;		/* used since mapped or last released */
	bool own_map;		/* mapped alone (stack_map_one), not pooled */
	unsigned int vg_id;	/* Valgrind registration */
	void *tsan_fiber;	/* TSan builds: see san_fiber_create */
};

struct stack_slab {
	void *base;
	size_t len;
	size_t size;		/* usable bytes of each stack */
	unsigned int n;		/* stacks carved from it */
};

/* Probe the kernel and size the guard budget; once per green_run. */
void stack_global_init(enum stack_guard_mode mode);

/* How many stacks of @size bytes one slab holds. */
unsigned int stack_slab_count(size_t size);

/* Map a slab for @n stacks of @size bytes. 0 or -ENOMEM. */
int stack_slab_map(struct stack_slab *slab, unsigned int n, size_t size);

/*
 * Carve stack @i of @slab into @s. Its guard is set by stack_arm when it
 * is first used (a syscall a stack: reserved stacks that never run cost
 * none), except with GREEN_STACK_GUARD=always, where it is set here.
 * 0, or -ENOMEM when GREEN_STACK_GUARD=always cannot guard.
 */
int stack_carve(struct stack_slab *slab, unsigned int i, struct stack *s);

/* Give @s its guard page, or a canary where none may be had. 0/-ENOMEM. */
int stack_arm(struct stack *s);

/* Undo stack_carve's registrations, then unmap the whole slab. */
void stack_forget(struct stack *s);
void stack_slab_unmap(struct stack_slab *slab);

/* Give a pooled stack's pages back to the kernel (it stays mapped). */
void stack_release(struct stack *s);

static inline void *stack_top(const struct stack *s)
{
	return (char *)s->lo + s->size;
}

#define STACK_CANARY 0x6772656e2d6f6b21ULL	/* "green-ok!" */

/* False when an unguarded stack's canary was overwritten. */
static inline bool stack_canary_ok(const struct stack *s)
{
	return s->guard != SG_NONE || *(const uint64_t *)s->lo == STACK_CANARY;
}

/*
 * A stack of @size bytes in a mapping of its own, guarded, outside the
 * pool: for green_run's first task when GREEN_STACK_SIZE is below
 * GREEN_STACK_MIN (that task is the program's main, and calls printf).
 * NULL when out of memory. stack_unmap_one() frees it.
 */
struct stack *stack_map_one(size_t size);
void stack_unmap_one(struct stack *s);

/* Counters for green_stats. */
void stack_counts(uint64_t *guarded, uint64_t *unguarded);

struct p;

/*
 * The stack pool (stackpool.c). A task gets its stack when it first runs,
 * not when it is spawned: a burst of spawned tasks then costs small task
 * structures, and each task that starts takes the stack the last one to
 * finish left hot in the cache. So that a started task never finds no
 * stack, green_go reserves one (stack_reserve), mapping more if needed,
 * and fails there with -ENOMEM.
 */
int stack_reserve(struct p *p);
int stack_reserve_global(void);		/* for spawns off the workers */
void stack_unreserve_global(void);
struct stack *stack_bind(struct p *p);
void stack_unbind(struct p *p, struct stack *s);
void stackpool_teardown(void);

#endif /* GREEN_STACK_H */
