/*
 * arch/x86/vcpu.h — a virtual CPU, independent of the virtualization
 * extension behind it.  AMD SVM (arch/x86/svm.c) is the first backend;
 * Intel VMX/EPT is the second.  vm/ uses only this header: it never sees a
 * VMCB (or VMCS) field.
 *
 * A vCPU starts in 64-bit long mode with paging on (the state the Linux
 * 64-bit boot protocol asks for, docs/guests.md): flat 64-bit code segment,
 * flat data segments, RFLAGS = 0x2 (interrupts off), the guest page tables
 * given in vcpu_config.cr3.  Guest-physical memory is translated by the
 * nested page table given in vcpu_config.npt_root (arch/x86/npt.h).
 *
 *     vcpu_create(&cfg, &v);
 *     for (;;) {
 *             vcpu_run(v, &ex);         // one VMRUN until the next exit
 *             switch (ex.kind) { ... }  // the caller emulates
 *             vcpu_skip(v, &ex);        // past the instruction, if handled
 *     }
 *
 * vcpu_run enters with host interrupts off and comes back with them as they
 * were; a host interrupt during the guest is an exit (VCPU_EXIT_INTR) taken
 * by the host right after the exit, so sluice keeps control.
 */
#ifndef SLUICE_ARCH_X86_VCPU_H
#define SLUICE_ARCH_X86_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

struct vcpu;

/* 0 if this CPU can run guests (SVM with nested paging, enabled by
 * vcpu_init); -ENOTSUP otherwise. */
int vcpu_init(void) MUST_CHECK;
bool vcpu_available(void);
/* "svm" (or "none") for vm list / boot lines. */
const char *vcpu_backend(void);

struct vcpu_config {
	uint64_t npt_root; /* nested page table root (host-physical) */
	uint64_t cr3;	   /* guest page tables (guest-physical) */
	uint64_t rip, rsp;
	uint64_t rdi, rsi; /* initial argument registers */
};

/* -ENOTSUP without vcpu support, -ENOMEM, -ENOSPC (no ASID left). */
int vcpu_create(const struct vcpu_config *cfg, struct vcpu **out) MUST_CHECK;
void vcpu_destroy(struct vcpu *v);

enum vcpu_exit_kind {
	VCPU_EXIT_NONE = 0,
	VCPU_EXIT_IO,	     /* IN/OUT: io */
	VCPU_EXIT_MSR,	     /* RDMSR/WRMSR: msr */
	VCPU_EXIT_CPUID,     /* cpuid (leaf/subleaf in regs rax/rcx) */
	VCPU_EXIT_HLT,	     /* HLT */
	VCPU_EXIT_HYPERCALL, /* VMMCALL / VMCALL (number and args in regs) */
	VCPU_EXIT_INTR,	     /* a host interrupt arrived: already handled */
	VCPU_EXIT_VINTR,     /* the guest can take an interrupt now */
	VCPU_EXIT_NPF,	     /* nested page fault: npf */
	VCPU_EXIT_SHUTDOWN,  /* triple fault */
	VCPU_EXIT_EXCEPTION, /* an intercepted guest exception: exc */
	VCPU_EXIT_INVALID,   /* the backend refused the guest state */
	VCPU_EXIT_UNKNOWN,   /* anything else (raw says which) */
};

struct vcpu_exit {
	enum vcpu_exit_kind kind;
	uint64_t raw;	   /* the backend's exit code (SVM EXITCODE), for logs */
	uint64_t info1, info2; /* the backend's qualifiers, for logs */
	uint64_t rip;	   /* guest RIP of the exiting instruction */
	/* Length of the exiting instruction, 0 if unknown (the caller must
	 * not skip it then): from the exit (IOIO) or the instruction. */
	unsigned insn_len;
	union {
		struct {
			uint16_t port;
			uint8_t size; /* 1, 2, 4 */
			bool in;
			bool string, rep; /* INS/OUTS (not emulated: stop the guest) */
		} io;
		struct {
			uint32_t index; /* ECX */
			bool write;
			uint64_t value; /* EDX:EAX for a write */
		} msr;
		struct {
			uint64_t gpa;
			bool present, write, user, exec;
			bool in_walk; /* during the guest's own page-table walk */
		} npf;
		struct {
			uint8_t vector;
			uint32_t error;
		} exc;
	};
};

/* One VMRUN: runs the guest until its next exit and decodes it.  Returns 0
 * (the exit is in *ex) or a negative errno if the guest could not be
 * entered at all. */
int vcpu_run(struct vcpu *v, struct vcpu_exit *ex) MUST_CHECK;
/* Advances RIP past the exiting instruction (ex->insn_len bytes). */
void vcpu_skip(struct vcpu *v, const struct vcpu_exit *ex);

/* General registers: the caller may read and change them between runs. */
struct vcpu_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};
void vcpu_get_regs(struct vcpu *v, struct vcpu_regs *r);
void vcpu_set_regs(struct vcpu *v, const struct vcpu_regs *r);
/* Guest CR3 (guest-physical), for walking the guest's page tables. */
uint64_t vcpu_cr3(struct vcpu *v);
/* MSRs whose state the vCPU holds (EFER, PAT, FS/GS/KernelGS base, the
 * SYSCALL and SYSENTER MSRs): the caller's RDMSR/WRMSR emulation hands
 * them here.  -ENOENT: not one of them (the caller emulates it); -EINVAL:
 * a value the CPU would refuse (the caller injects #GP(0)). */
int vcpu_msr_get(struct vcpu *v, uint32_t index, uint64_t *value) MUST_CHECK;
int vcpu_msr_set(struct vcpu *v, uint32_t index, uint64_t value) MUST_CHECK;

/* An external interrupt with vector (0x20..0xff) becomes pending: it is
 * delivered at the next run where the guest can take it (RFLAGS.IF and no
 * interrupt shadow), or a VCPU_EXIT_VINTR says when it can.  Edge
 * semantics: a vector already pending is not queued twice.  -EINVAL bad
 * vector. */
int vcpu_queue_irq(struct vcpu *v, unsigned vector) MUST_CHECK;
/* True while a queued interrupt is not yet delivered. */
bool vcpu_irq_pending(struct vcpu *v);
/* Whether the guest could take an interrupt now (RFLAGS.IF, no shadow). */
bool vcpu_irq_window(struct vcpu *v);
/* The nested page table changed (entries removed or narrowed): the guest
 * TLB is flushed before the next run. */
void vcpu_flush_npt(struct vcpu *v);
/* A fault for the guest (e.g. #GP(0) for an unknown MSR) at the next run. */
void vcpu_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error);

/* Reads guest-virtual memory through the guest's page tables and npt_read
 * (guest-physical -> host pointer), for the instruction at RIP.  Returns
 * bytes read (< len at a page that is not present). */
typedef void *(*vcpu_gpa_fn)(void *ctx, uint64_t gpa, bool write);
unsigned vcpu_read_guest_virt(struct vcpu *v, uint64_t gva, void *buf, unsigned len,
			      vcpu_gpa_fn gpa_to_host, void *ctx);

struct vcpu_stats {
	uint64_t runs, exits;
	uint64_t asid;
};
void vcpu_stats(struct vcpu *v, struct vcpu_stats *out);

/* Runs a built-in guest through every exit kind (CPUID, IN/OUT, VMMCALL,
 * RDMSR/WRMSR, host interrupts, HLT, injection by EVENTINJ and after a
 * VINTR exit, NPF, exception, SHUTDOWN, VMEXIT_INVALID) and checks the
 * ASID pool; each failure is a log line.  0, -ENOTSUP (no vcpu_init),
 * -ENOMEM, -ERANGE (its 16 pages landed above 4 GiB), -ENOSPC (no vector
 * or ASID), -EIO (a check failed).  Needs host interrupts and the tick. */
int vcpu_selftest(void) MUST_CHECK;

#endif
