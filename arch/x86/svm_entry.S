/*
 * arch/x86/svm_entry.S — one VMRUN (AMD APM vol. 2 15.5).
 *
 * void svm_vmrun(uint64_t vmcb_pa, uint64_t host_pa, struct svm_gprs *g)
 *
 * Called with GIF=0 (CLGI) and RFLAGS.IF=1: VMRUN saves IF=1 in the host
 * state, so a physical interrupt is recognized while the guest runs (with
 * V_INTR_MASKING it is the host's IF that masks them, APM 15.21.1) and
 * becomes an INTR exit; after #VMEXIT GIF=0 holds it until the caller's
 * STGI.  VMRUN saves and loads only part of the state: VMSAVE/VMLOAD
 * switch FS, GS, TR, LDTR, KernelGSBase and the SYSCALL/SYSENTER MSRs
 * (APM 15.5.2).  RAX and RSP of the guest are in the VMCB; the others are
 * in *g (struct svm_gprs order).
 */
	.text
	.globl svm_vmrun
	.type svm_vmrun, @function
svm_vmrun:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdx		/* 8(%rsp) after the next push: g */
	push %rsi		/* (%rsp): host_pa */

	mov %rsi, %rax
	vmsave			/* host FS/GS/TR/LDTR/MSRs */
	mov %rdi, %rax
	vmload			/* the guest's */
	sti			/* GIF=0 still blocks delivery */

	mov 0x08(%rdx), %rcx
	mov 0x10(%rdx), %rbx	/* (rdx, loaded last) */
	mov 0x18(%rdx), %rsi
	mov 0x20(%rdx), %rdi
	mov 0x28(%rdx), %rbp
	mov 0x30(%rdx), %r8
	mov 0x38(%rdx), %r9
	mov 0x40(%rdx), %r10
	mov 0x48(%rdx), %r11
	mov 0x50(%rdx), %r12
	mov 0x58(%rdx), %r13
	mov 0x60(%rdx), %r14
	mov 0x68(%rdx), %r15
	push %rbx		/* guest rdx */
	mov 0x00(%rdx), %rbx
	pop %rdx

	vmrun			/* RAX = vmcb_pa */

	/* #VMEXIT: host RAX (vmcb_pa), RSP, RIP, RFLAGS are back; GIF=0. */
	push %rdi
	mov 0x10(%rsp), %rdi	/* g */
	mov %rbx, 0x00(%rdi)
	mov %rcx, 0x08(%rdi)
	mov %rdx, 0x10(%rdi)
	mov %rsi, 0x18(%rdi)
	mov %rbp, 0x28(%rdi)
	mov %r8, 0x30(%rdi)
	mov %r9, 0x38(%rdi)
	mov %r10, 0x40(%rdi)
	mov %r11, 0x48(%rdi)
	mov %r12, 0x50(%rdi)
	mov %r13, 0x58(%rdi)
	mov %r14, 0x60(%rdi)
	mov %r15, 0x68(%rdi)
	pop %rbx
	mov %rbx, 0x20(%rdi)

	cli
	vmsave			/* the guest's FS/GS/TR/... back into its VMCB */
	pop %rax
	vmload			/* the host's */
	add $8, %rsp		/* g */
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
	.size svm_vmrun, . - svm_vmrun

	.section .note.GNU-stack, "", @progbits
