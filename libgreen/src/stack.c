// SPDX-License-Identifier: MIT
/*
 * stack.c - task stacks.
 *
 * A guard page below every stack turns an overflow into a fault we can
 * report. The classic way, mprotect(PROT_NONE), splits the mapping: two
 * VMAs a stack, and with Debian's vm.max_map_count of 65530 a process
 * tops out near 32k live tasks (libdill fails there). We need 100k-1M, so:
 *
 *  1. Stacks are carved from slabs of up to 64, one mmap each, so the
 *     mapping count does not grow with the task count by itself.
 *  2. A stack's guard is set when it is first used, not when it is mapped:
 *     reserved stacks that never run cost no syscall.
 *  3. Where the kernel has MADV_GUARD_INSTALL (6.13+), guards are installed
 *     in the page tables: no VMA split, every stack guarded, any count.
 *  4. Otherwise guards are mprotect()ed while a budget lasts: half of what
 *     max_map_count leaves after a reserve for the program (about 24k
 *     stacks by default). Past it, stacks get a canary word at their lowest
 *     address, checked each time the task switches out: an overflow is then
 *     reported after the fact instead of faulting at once.
 *  5. GREEN_STACK_GUARD=always refuses unguarded stacks (-ENOMEM instead);
 *     =never uses canaries only.
 *
 * Pages are committed by the kernel on first touch (MAP_NORESERVE, no
 * commit charge for the reservation), so a task costs what it touches.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sanitizer.h"
#include "stack.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define SLAB_BYTES (64UL << 20)
#define SLAB_MAX 256
#define MAP_RESERVE 16384	/* mappings left to the program */

static size_t page_size;
static bool have_guard_madvise;
static enum stack_guard_mode guard_mode;
static _Atomic long mprotect_budget;
static _Atomic uint64_t n_guarded, n_unguarded;

static long read_max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	long v = 65530;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

static bool probe_guard_madvise(void)
{
	void *p = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = madvise(p, page_size, MADV_GUARD_INSTALL) == 0;
	munmap(p, 2 * page_size);
	return ok;
}

void stack_global_init(enum stack_guard_mode mode)
{
	long max = read_max_map_count();

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	guard_mode = mode;
	/*
	 * GREEN_DEBUG_NO_GUARD_REGIONS=1 makes the tests take the path of
	 * kernels before 6.13.
	 */
	have_guard_madvise = mode != GUARD_NEVER &&
			     !getenv("GREEN_DEBUG_NO_GUARD_REGIONS") &&
			     probe_guard_madvise();
	atomic_store(&mprotect_budget, max > MAP_RESERVE ?
		     (max - MAP_RESERVE) / 2 : 0);
	atomic_store(&n_guarded, 0);
	atomic_store(&n_unguarded, 0);
}

/*
 * Bytes from one stack to the next in a slab. Without guards
 * (GREEN_STACK_GUARD=never) stacks are packed: sizes below a page share
 * pages, which is what makes a parked task cost less than a page.
 */
static size_t stride(size_t size)
{
	return guard_mode == GUARD_NEVER ? size : size + page_size;
}

unsigned int stack_slab_count(size_t size)
{
	size_t n = SLAB_BYTES / stride(size);

	if (n < 1)
		n = 1;
	return n > SLAB_MAX ? SLAB_MAX : (unsigned int)n;
}

/* Pick the guard for one stack; false when none may be had. */
static bool guard_one(void *guard, uint8_t *kind)
{
	if (guard_mode == GUARD_NEVER) {
		*kind = SG_NONE;
		return true;
	}
	if (have_guard_madvise &&
	    madvise(guard, page_size, MADV_GUARD_INSTALL) == 0) {
		*kind = SG_MADVISE;
		return true;
	}
	if (atomic_fetch_sub(&mprotect_budget, 1) > 0 ||
	    guard_mode == GUARD_ALWAYS) {
		if (mprotect(guard, page_size, PROT_NONE) == 0) {
			*kind = SG_MPROTECT;
			return true;
		}
		if (guard_mode == GUARD_ALWAYS)
			return false;
	}
	*kind = SG_NONE;
	return true;
}

int stack_slab_map(struct stack_slab *slab, unsigned int n, size_t size)
{
	size_t len = (stride(size) * n + page_size - 1) & ~(page_size - 1);
	void *base;

	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
		    -1, 0);
	if (base == MAP_FAILED)
		return -ENOMEM;
	slab->base = base;
	slab->len = len;
	slab->size = size;
	slab->n = n;
	return 0;
}

int stack_carve(struct stack_slab *slab, unsigned int i, struct stack *s)
{
	char *at = (char *)slab->base + i * stride(slab->size);

	s->lo = guard_mode == GUARD_NEVER ? at : at + page_size;
	s->size = slab->size;
	s->guard = SG_UNSET;
	s->touched = false;
	s->vg_id = san_stack_register(s->lo, stack_top(s));
	return guard_mode == GUARD_ALWAYS ? stack_arm(s) : 0;
}

int stack_arm(struct stack *s)
{
	if (s->guard != SG_UNSET)
		return 0;
	if (!guard_one(guard_mode == GUARD_NEVER ? NULL :
		       (char *)s->lo - page_size, &s->guard)) {
		s->guard = SG_UNSET;
		return -ENOMEM;
	}
	if (s->guard == SG_NONE) {
		*(uint64_t *)s->lo = STACK_CANARY;
		atomic_fetch_add_explicit(&n_unguarded, 1,
					  memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&n_guarded, 1, memory_order_relaxed);
	}
	return 0;
}

void stack_forget(struct stack *s)
{
	san_stack_fiber_destroy(&s->tsan_fiber);
	san_stack_deregister(s->vg_id);
	s->lo = NULL;
}

void stack_slab_unmap(struct stack_slab *slab)
{
	if (slab->base)
		munmap(slab->base, slab->len);
	slab->base = NULL;
}

void stack_release(struct stack *s)
{
	if (!s->touched)
		return;
	s->touched = false;
	/*
	 * Keep the top page: the next task touches it at once. Pages shared
	 * with a packed neighbour stay too.
	 */
	if (s->size >= 3 * page_size) {
		uintptr_t lo = ((uintptr_t)s->lo + page_size - 1) &
			       ~(uintptr_t)(page_size - 1);
		uintptr_t hi = ((uintptr_t)stack_top(s) &
				~(uintptr_t)(page_size - 1)) - page_size;

		if (hi > lo)
			madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	if (s->guard == SG_NONE)
		*(uint64_t *)s->lo = STACK_CANARY;
}

struct stack *stack_map_one(size_t size)
{
	struct stack *s = calloc(1, sizeof(*s));
	char *base;

	if (!s)
		return NULL;
	base = mmap(NULL, size + page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
		    -1, 0);
	if (base == MAP_FAILED) {
		free(s);
		return NULL;
	}
	if (mprotect(base, page_size, PROT_NONE) == 0)
		s->guard = SG_MPROTECT;
	else
		s->guard = SG_NONE;
	s->lo = base + page_size;
	s->size = size;
	s->own_map = true;
	s->touched = true;
	if (s->guard == SG_NONE)
		*(uint64_t *)s->lo = STACK_CANARY;
	s->vg_id = san_stack_register(s->lo, stack_top(s));
	return s;
}

void stack_unmap_one(struct stack *s)
{
	void *base = (char *)s->lo - page_size;

	stack_forget(s);
	munmap(base, s->size + page_size);
	free(s);
}

void stack_counts(uint64_t *guarded, uint64_t *unguarded)
{
	*guarded = atomic_load_explicit(&n_guarded, memory_order_relaxed);
	*unguarded = atomic_load_explicit(&n_unguarded, memory_order_relaxed);
}
