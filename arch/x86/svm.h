/*
 * arch/x86/svm.h — AMD SVM internals behind arch/x86/vcpu.h: the VMCB
 * layout (AMD APM vol. 2 Appendix B), exit codes (Appendix C), and the
 * pure parts of the backend (exit decoding, event injection, the guest
 * page-table walk) that host unit tests run over a VMCB in memory.
 * Only arch/x86/svm*.c and their tests include this.
 */
#ifndef SLUICE_ARCH_X86_SVM_H
#define SLUICE_ARCH_X86_SVM_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/vcpu.h"

/* APM B.1 (VMCB offset 0x00C): the first misc intercept vector. */
#define SVM_ICPT1_INTR (1u << 0)
#define SVM_ICPT1_NMI (1u << 1)
#define SVM_ICPT1_SMI (1u << 2)
#define SVM_ICPT1_INIT (1u << 3)
#define SVM_ICPT1_VINTR (1u << 4)
#define SVM_ICPT1_CPUID (1u << 18)
#define SVM_ICPT1_RSM (1u << 19)
#define SVM_ICPT1_INVD (1u << 22)
#define SVM_ICPT1_HLT (1u << 24)
#define SVM_ICPT1_INVLPGA (1u << 26)
#define SVM_ICPT1_IOIO_PROT (1u << 27)
#define SVM_ICPT1_MSR_PROT (1u << 28)
#define SVM_ICPT1_TASK_SWITCH (1u << 29)
#define SVM_ICPT1_FERR_FREEZE (1u << 30)
#define SVM_ICPT1_SHUTDOWN (1u << 31)
/* APM B.1 (offset 0x010): the second. */
#define SVM_ICPT2_VMRUN (1u << 0)
#define SVM_ICPT2_VMMCALL (1u << 1)
#define SVM_ICPT2_VMLOAD (1u << 2)
#define SVM_ICPT2_VMSAVE (1u << 3)
#define SVM_ICPT2_STGI (1u << 4)
#define SVM_ICPT2_CLGI (1u << 5)
#define SVM_ICPT2_SKINIT (1u << 6)
#define SVM_ICPT2_MONITOR (1u << 10)
#define SVM_ICPT2_MWAIT (1u << 11)
#define SVM_ICPT2_MWAIT_COND (1u << 12)
#define SVM_ICPT2_XSETBV (1u << 13)
#define SVM_ICPT2_RDPRU (1u << 14)
/* APM B.1 (offset 0x014): the third (INVLPGB/TLBSYNC, if CPUID has them). */
#define SVM_ICPT3_INVLPGB (1u << 0)
#define SVM_ICPT3_INVLPGB_ILLEGAL (1u << 1)
#define SVM_ICPT3_TLBSYNC (1u << 4)

/* VMCB 0x060 (virtual interrupt control). */
#define SVM_VINT_V_IRQ (1ull << 8)
#define SVM_VINT_PRIO_SHIFT 16
#define SVM_VINT_V_IGN_TPR (1ull << 20)
#define SVM_VINT_V_INTR_MASKING (1ull << 24)
#define SVM_VINT_VECTOR_SHIFT 32
/* VMCB 0x068 bit 0: the guest is in an interrupt shadow (STI, MOV SS). */
#define SVM_INT_SHADOW 1ull

/* EVENTINJ / EXITINTINFO (APM 15.20): vector, type, EV, V, error code. */
#define SVM_EV_VECTOR_MASK 0xffull
#define SVM_EV_TYPE_SHIFT 8
#define SVM_EV_TYPE_MASK (7ull << SVM_EV_TYPE_SHIFT)
#define SVM_EV_TYPE_INTR (0ull << SVM_EV_TYPE_SHIFT)
#define SVM_EV_TYPE_NMI (2ull << SVM_EV_TYPE_SHIFT)
#define SVM_EV_TYPE_EXC (3ull << SVM_EV_TYPE_SHIFT)
#define SVM_EV_TYPE_SOFT (4ull << SVM_EV_TYPE_SHIFT)
#define SVM_EV_EV (1ull << 11)
#define SVM_EV_VALID (1ull << 31)
#define SVM_EV_ERR_SHIFT 32

/* TLB_CONTROL (VMCB 0x05C). */
#define SVM_TLB_FLUSH_ALL 1

/* EXITINFO1 of an IOIO exit (APM 15.10.2). */
#define SVM_IOIO_IN (1ull << 0)
#define SVM_IOIO_STR (1ull << 2)
#define SVM_IOIO_REP (1ull << 3)
#define SVM_IOIO_SZ8 (1ull << 4)
#define SVM_IOIO_SZ16 (1ull << 5)
#define SVM_IOIO_SZ32 (1ull << 6)
#define SVM_IOIO_PORT_SHIFT 16

/* EXITINFO1 of a nested page fault (APM 15.25.6). */
#define SVM_NPF_P (1ull << 0)
#define SVM_NPF_RW (1ull << 1)
#define SVM_NPF_US (1ull << 2)
#define SVM_NPF_ID (1ull << 4)
#define SVM_NPF_FINAL (1ull << 32)
#define SVM_NPF_IN_WALK (1ull << 33)

/* Exit codes (APM Appendix C). */
#define SVM_EXIT_EXCP_BASE 0x40
#define SVM_EXIT_INTR 0x60
#define SVM_EXIT_NMI 0x61
#define SVM_EXIT_SMI 0x62
#define SVM_EXIT_INIT 0x63
#define SVM_EXIT_VINTR 0x64
#define SVM_EXIT_CPUID 0x72
#define SVM_EXIT_INVD 0x76
#define SVM_EXIT_HLT 0x78
#define SVM_EXIT_IOIO 0x7b
#define SVM_EXIT_MSR 0x7c
#define SVM_EXIT_SHUTDOWN 0x7f
#define SVM_EXIT_VMRUN 0x80
#define SVM_EXIT_VMMCALL 0x81
#define SVM_EXIT_VMLOAD 0x82
#define SVM_EXIT_VMSAVE 0x83
#define SVM_EXIT_XSETBV 0x8d
#define SVM_EXIT_NPF 0x400
#define SVM_EXIT_INVALID ((uint64_t)-1)
#define SVM_EXIT_INVALID32 0xffffffffull /* the same, zero-extended (QEMU TCG) */

#define SVM_RFLAGS_IF (1ull << 9)

struct vmcb_seg {
	uint16_t selector;
	uint16_t attrib; /* descriptor bits 47:40 and 55:52, packed (APM 15.5.1) */
	uint32_t limit;
	uint64_t base;
};

struct vmcb_control {
	uint32_t icpt_cr;  /* 0x000: CR reads 15:0, writes 31:16 */
	uint32_t icpt_dr;  /* 0x004 */
	uint32_t icpt_exc; /* 0x008: one bit per exception vector */
	uint32_t icpt1;	   /* 0x00c */
	uint32_t icpt2;	   /* 0x010 */
	uint32_t icpt3;	   /* 0x014 */
	uint8_t rsvd0[0x3c - 0x18];
	uint16_t pause_filter_thresh; /* 0x03c */
	uint16_t pause_filter_count;  /* 0x03e */
	uint64_t iopm_base_pa;	      /* 0x040 */
	uint64_t msrpm_base_pa;	      /* 0x048 */
	uint64_t tsc_offset;	      /* 0x050 */
	uint32_t guest_asid;	      /* 0x058 */
	uint8_t tlb_control;	      /* 0x05c */
	uint8_t rsvd1[3];
	uint64_t
		vint; /* 0x060: V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR */
	uint64_t int_state;   /* 0x068: INTERRUPT_SHADOW */
	uint64_t exitcode;    /* 0x070 */
	uint64_t exitinfo1;   /* 0x078 */
	uint64_t exitinfo2;   /* 0x080 */
	uint64_t exitintinfo; /* 0x088 */
	uint64_t np_enable;   /* 0x090: bit 0 NP_ENABLE */
	uint64_t avic_bar;    /* 0x098 */
	uint64_t ghcb_pa;     /* 0x0a0 */
	uint64_t eventinj;    /* 0x0a8 */
	uint64_t n_cr3;	      /* 0x0b0 */
	uint64_t lbr_virt;    /* 0x0b8 */
	uint32_t clean;	      /* 0x0c0: VMCB clean bits (0: reload everything) */
	uint32_t rsvd2;
	uint64_t nrip;	      /* 0x0c8: next RIP (NRIPS only) */
	uint8_t insn_fetched; /* 0x0d0 */
	uint8_t insn_bytes[15];
	uint8_t rsvd3[0x400 - 0xe0];
};

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr; /* 0x400 */
	uint8_t rsvd0[0x4cb - 0x4a0];
	uint8_t cpl; /* 0x4cb */
	uint32_t rsvd1;
	uint64_t efer; /* 0x4d0 */
	uint8_t rsvd2[0x548 - 0x4d8];
	uint64_t cr4, cr3, cr0, dr7, dr6, rflags, rip; /* 0x548 */
	uint8_t rsvd3[0x5d8 - 0x580];
	uint64_t rsp; /* 0x5d8 */
	uint64_t s_cet, ssp, isst_addr;
	uint64_t rax; /* 0x5f8 */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip, cr2; /* 0x628 */
	uint8_t rsvd4[0x668 - 0x648];
	uint64_t g_pat; /* 0x668 */
	uint64_t dbgctl, br_from, br_to, lastexcp_from, lastexcp_to;
	uint8_t rsvd5[0x1000 - 0x698];
};

struct vmcb {
	struct vmcb_control ctl;
	struct vmcb_save save;
};

_Static_assert(__builtin_offsetof(struct vmcb, ctl.vint) == 0x60, "VMCB V_IRQ");
_Static_assert(__builtin_offsetof(struct vmcb, ctl.eventinj) == 0xa8, "VMCB EVENTINJ");
_Static_assert(__builtin_offsetof(struct vmcb, ctl.nrip) == 0xc8, "VMCB nRIP");
_Static_assert(__builtin_offsetof(struct vmcb, save.efer) == 0x4d0, "VMCB EFER");
_Static_assert(__builtin_offsetof(struct vmcb, save.cr4) == 0x548, "VMCB CR4");
_Static_assert(__builtin_offsetof(struct vmcb, save.rip) == 0x578, "VMCB RIP");
_Static_assert(__builtin_offsetof(struct vmcb, save.rsp) == 0x5d8, "VMCB RSP");
_Static_assert(__builtin_offsetof(struct vmcb, save.rax) == 0x5f8, "VMCB RAX");
_Static_assert(__builtin_offsetof(struct vmcb, save.cr2) == 0x640, "VMCB CR2");
_Static_assert(__builtin_offsetof(struct vmcb, save.g_pat) == 0x668, "VMCB G_PAT");
_Static_assert(sizeof(struct vmcb) == 4096, "VMCB is one page");

/* Guest general registers VMRUN does not load (RAX and RSP live in the
 * VMCB), in the order arch/x86/svm_entry.S stores them. */
struct svm_gprs {
	uint64_t rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* Interrupts and events waiting for the guest. */
struct svm_events {
	uint64_t pending[4]; /* external interrupt vectors queued (bitmap) */
	uint64_t inject;     /* an exception or NMI in EVENTINJ format, 0 = none */
};

/* Decodes the exit the VMCB holds into *ex. */
void svm_decode_exit(const struct vmcb *vmcb, const struct svm_gprs *g, struct vcpu_exit *ex);
/* Whether the guest can take an external interrupt now (RFLAGS.IF, no shadow). */
bool svm_irq_window(const struct vmcb *vmcb);
/* Before VMRUN: an exception/NMI or the highest queued interrupt into
 * EVENTINJ when the guest can take it, else V_IRQ and the VINTR intercept
 * so the guest exits when it can. */
void svm_events_prepare(struct vmcb *vmcb, struct svm_events *e);
/* After #VMEXIT: an event whose delivery the exit interrupted (EXITINTINFO.V)
 * is queued again; EVENTINJ is consumed. */
void svm_events_after_exit(struct vmcb *vmcb, struct svm_events *e);
bool svm_events_irq_pending(const struct svm_events *e);
/* -EINVAL for a vector outside 0x20..0xff. */
int svm_events_queue_irq(struct svm_events *e, unsigned vector);
/* Walks the guest's 4-level tables (cr0, cr4, efer decide whether paging is
 * on) for gva; 0 and *gpa, or -EFAULT if not present. */
int svm_guest_walk(uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t gva, vcpu_gpa_fn fn,
		   void *ctx, uint64_t *gpa);
/* Copies guest-virtual memory page by page; bytes read. */
unsigned svm_read_guest_virt(const struct vmcb *vmcb, uint64_t gva, void *buf, unsigned len,
			     vcpu_gpa_fn fn, void *ctx);

/* vcpu_msr_get/set over the VMCB; efer_ok: the EFER bits the guest may
 * set (SCE, LME, NXE where the CPU has NX). */
int svm_msr_get(const struct vmcb *vmcb, uint32_t index, uint64_t *value);
int svm_msr_set(struct vmcb *vmcb, uint32_t index, uint64_t value, uint64_t efer_ok);
#define SVM_EFER_SCE (1ull << 0)
#define SVM_EFER_LME (1ull << 8)
#define SVM_EFER_LMA (1ull << 10)
#define SVM_EFER_NXE (1ull << 11)
#define SVM_EFER_SVME (1ull << 12)

/* arch/x86/svm_entry.S: VMSAVE host_pa, VMLOAD/VMRUN/VMSAVE vmcb_pa with
 * the guest registers in *g, VMLOAD host_pa.  Called with GIF=0 (CLGI). */
void svm_vmrun(uint64_t vmcb_pa, uint64_t host_pa, struct svm_gprs *g);

#endif
