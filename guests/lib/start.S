/*
 * guests/lib/start.S — entry of a built-in guest (guests/abi.h: 64-bit long
 * mode, identity map, RIP = GUEST_LOAD = this first byte, RSP =
 * GUEST_STACK_TOP, RDI = bytes of RAM, interrupts off).
 *
 * Loads the guest's own GDT (flat 64-bit code 0x08, data 0x10) and IDT,
 * reloads the segment registers, calls main(ram_bytes) on the stack it was
 * given, then HC_EXIT with main's return value.  Also the 256 interrupt
 * stubs: each pushes a dummy error code where the CPU pushes none, then
 * its vector, so rt_trap() sees one frame layout (struct trap_frame).
 */
#include "guests/abi.h"

#define GDT_CODE 0x08
#define GDT_DATA 0x10
#define STUB_SIZE 16

	.section .text.start, "ax"
	.code64
	.globl _start
_start:
	cli				/* first byte 0xFA: tests/unit/test_guests.c */
	movq	%rdi, %rbx		/* RAM bytes; rbx is callee-saved */
	lgdt	gdt_desc(%rip)
	/* Far return reloads CS from the new GDT. */
	pushq	$GDT_CODE
	leaq	1f(%rip), %rax
	pushq	%rax
	lretq
1:	movl	$GDT_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	andq	$-16, %rsp		/* SysV: 16-byte aligned before the call */
	call	rt_idt_init
	movq	%rbx, %rdi
	call	main
	movslq	%eax, %rdi
	movl	$HC_EXIT, %eax
	vmmcall
	/* HC_EXIT does not come back; if it does, stop here. */
2:	cli
	hlt
	jmp	2b

/* Common path of every stub: save the general registers (struct
 * trap_frame order, r15 lowest), call rt_trap(frame), restore, drop the
 * vector and error code, return.  176 bytes are pushed in all after the
 * CPU's 16-byte alignment, so the call is 16-byte aligned. */
	.text
rt_isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	cld
	call	rt_trap
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp
	iretq

/* Stub v sits at rt_isr_stubs + v * STUB_SIZE.  Vectors 8, 10-14, 17, 21,
 * 29, 30 get an error code from the CPU (Intel SDM vol. 3 table 6-1, AMD
 * APM vol. 2 8.2); the others push a 0 in its place. */
	.balign	STUB_SIZE
	.globl	rt_isr_stubs
rt_isr_stubs:
	.set	vec, 0
	.rept	256
	.if	(vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	rt_isr_common
	/* Pads with int3 to the next stub; a stub larger than STUB_SIZE
	 * makes this .org move backwards, an assembly error. */
	.org	rt_isr_stubs + (vec + 1) * STUB_SIZE, 0xcc
	.set	vec, vec + 1
	.endr

/* In .data (not .rodata): it also keeps the folded .data/.bss section
 * PROGBITS (guest.lds).  Accessed bits preset so loading a segment does
 * not write the descriptor. */
	.data
	.balign	16
gdt:
	.quad	0			/* null */
	.quad	0x00af9b000000ffff	/* 0x08: code, L=1, P, DPL 0, accessed */
	.quad	0x00cf93000000ffff	/* 0x10: data, P, writable, accessed */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.section .note.GNU-stack, "", @progbits
