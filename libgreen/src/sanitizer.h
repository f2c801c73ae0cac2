/* SPDX-License-Identifier: MIT */
/*
 * sanitizer.h - tell ASan, TSan and Valgrind about task stacks and
 * switches, so users can debug their own code under them. Each hook is an
 * empty inline function in a build without the tool.
 */
#ifndef GREEN_SANITIZER_H
#define GREEN_SANITIZER_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define GREEN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GREEN_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GREEN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GREEN_TSAN 1
#endif
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define GREEN_VALGRIND 1
#endif
#endif

#ifdef GREEN_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef GREEN_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* True when running under Valgrind (a build with its headers). */
static inline bool san_valgrind(void)
{
#ifdef GREEN_VALGRIND
	return RUNNING_ON_VALGRIND;
#else
	return false;
#endif
}

/* Valgrind: the kernel wrote @len bytes at @p behind its back (io_uring). */
static inline void san_mem_defined(const void *p, size_t len)
{
#ifdef GREEN_VALGRIND
	VALGRIND_MAKE_MEM_DEFINED(p, len);
#else
	(void)p;
	(void)len;
#endif
}

/* Per-context bookkeeping; lives in struct g, empty without a sanitizer. */
struct san_fiber {
#ifdef GREEN_ASAN
	void *fake_stack;	/* ASan: fake stack saved while switched out */
	const void *bottom;	/* lowest address of the context's stack */
	size_t size;
#endif
#ifdef GREEN_TSAN
	void *tsan;		/* TSan fiber */
#endif
};

/* ASan: the context's stack is [bottom, bottom + size). */
static inline void san_fiber_set_stack(struct san_fiber *f,
				       const void *bottom, size_t size)
{
#ifdef GREEN_ASAN
	f->fake_stack = NULL;
	f->bottom = bottom;
	f->size = size;
#endif
	(void)f;
	(void)bottom;
	(void)size;
}

/*
 * A task context on [bottom, bottom + size). A TSan fiber costs
 * milliseconds to create, so one is kept with each stack (*@stack_fiber)
 * and reused by every task that runs on it, destroyed with the stack: to
 * TSan, tasks that use one stack run one after the other.
 */
static inline void san_fiber_create(struct san_fiber *f, const void *bottom,
				    size_t size, void **stack_fiber)
{
	san_fiber_set_stack(f, bottom, size);
#ifdef GREEN_TSAN
	if (!*stack_fiber)
		*stack_fiber = __tsan_create_fiber(0);
	f->tsan = *stack_fiber;
#endif
	(void)stack_fiber;
}

/* The thread's own context (an M's g0). */
static inline void san_fiber_thread(struct san_fiber *f, const void *bottom,
				    size_t size)
{
	san_fiber_set_stack(f, bottom, size);
#ifdef GREEN_TSAN
	f->tsan = __tsan_get_current_fiber();
#endif
}

/* A stack's TSan fiber (see san_fiber_create), when the stack goes. */
static inline void san_stack_fiber_destroy(void **stack_fiber)
{
#ifdef GREEN_TSAN
	if (*stack_fiber)
		__tsan_destroy_fiber(*stack_fiber);
#endif
	*stack_fiber = NULL;
}

/* Right before switching from @from to @to; @exiting: @from never resumes. */
static inline void san_switch_start(struct san_fiber *from,
				    const struct san_fiber *to, bool exiting)
{
#ifdef GREEN_ASAN
	__sanitizer_start_switch_fiber(exiting ? NULL : &from->fake_stack,
				       to->bottom, to->size);
#endif
#ifdef GREEN_TSAN
	__tsan_switch_to_fiber(to->tsan, 0);
#endif
	(void)from;
	(void)to;
	(void)exiting;
}

/* First thing a context does once it runs again (or for the first time). */
static inline void san_switch_finish(struct san_fiber *self)
{
#ifdef GREEN_ASAN
	__sanitizer_finish_switch_fiber(self->fake_stack, NULL, NULL);
#endif
	(void)self;
}

/* ASan: a stack about to be reused; the last task's frames left poison. */
static inline void san_stack_unpoison(void *lo, size_t size)
{
#ifdef GREEN_ASAN
	__asan_unpoison_memory_region(lo, size);
#endif
	(void)lo;
	(void)size;
}

/* Valgrind: a region used as a stack. Returns an id for deregistering. */
static inline unsigned int san_stack_register(void *lo, void *hi)
{
#ifdef GREEN_VALGRIND
	return VALGRIND_STACK_REGISTER(lo, hi);
#else
	(void)lo;
	(void)hi;
	return 0;
#endif
}

static inline void san_stack_deregister(unsigned int id)
{
#ifdef GREEN_VALGRIND
	VALGRIND_STACK_DEREGISTER(id);
#else
	(void)id;
#endif
}

#endif /* GREEN_SANITIZER_H */
