/*
 * arch/x86/isr.S — interrupt and exception entry stubs.
 *
 * Each vector pushes an error code (0 where the CPU pushes none) and its
 * number, then the common path saves the general registers and the full
 * x87/SSE state (fxsave: handlers and the libc they call may use SSE), calls
 * isr_dispatch(struct isr_frame *), restores and returns with iretq.
 */
	.text
	.code64

/* Vectors where the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30. */
.macro STUB vec
	.align 16
isr_stub_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp isr_common
.endm

.altmacro
.set i, 0
.rept 256
	STUB %i
	.set i, i + 1
.endr

isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	mov %rsp, %rbx          /* rbx: frame pointer (callee-saved) */
	sub $512, %rsp
	and $~15, %rsp
	fxsave64 (%rsp)
	mov %rbx, %rdi
	cld
	call isr_dispatch@PLT
	fxrstor64 (%rsp)
	mov %rbx, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	add $16, %rsp           /* vector, error code */
	iretq

.macro STUBREF vec
	.quad isr_stub_\vec
.endm

/* The stub addresses, for the IDT. */
	.section .data
	.align 8
	.globl isr_stub_table
isr_stub_table:
.set i, 0
.rept 256
	STUBREF %i
	.set i, i + 1
.endr
	.text
