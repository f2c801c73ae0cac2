/* SPDX-License-Identifier: MIT */
/*
 * arch.h - what libgreen needs from the CPU: a context switch (switch_*.S)
 * and a spin-wait hint. Only x86-64 is implemented.
 */
#ifndef GREEN_ARCH_H
#define GREEN_ARCH_H

#if !defined(__x86_64__)
#error "libgreen: only x86-64 is supported (the context switch is in switch_x86_64.S); porting needs a switch and cpu_relax for this architecture"
#endif

static inline void cpu_relax(void)
{
	__asm__ __volatile__("pause" ::: "memory");
}

#endif /* GREEN_ARCH_H */
