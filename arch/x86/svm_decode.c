/*
 * arch/x86/svm_decode.c — the pure parts of the SVM backend: exit decoding,
 * the event-injection decision and the guest page-table walk, over a VMCB
 * in memory (host unit tests run them unchanged).
 */
#include <string.h>

#include "arch/x86/svm.h"

/* Instruction lengths of the exits without a decode assist: the CPU under
 * QEMU TCG has no NRIPS, so nRIP cannot be relied on (APM 15.7.1). */
#define LEN_CPUID 2   /* 0f a2 */
#define LEN_MSR 2     /* 0f 32 / 0f 30 */
#define LEN_HLT 1     /* f4 */
#define LEN_VMMCALL 3 /* 0f 01 d9 */
#define MAX_INSN_LEN 15

static void decode_io(const struct vmcb *vmcb, struct vcpu_exit *ex)
{
	uint64_t i1 = vmcb->ctl.exitinfo1;

	ex->kind = VCPU_EXIT_IO;
	ex->io.port = (uint16_t)(i1 >> SVM_IOIO_PORT_SHIFT);
	ex->io.size = (i1 & SVM_IOIO_SZ32) ? 4 : (i1 & SVM_IOIO_SZ16) ? 2 : 1;
	ex->io.in = i1 & SVM_IOIO_IN;
	ex->io.string = i1 & SVM_IOIO_STR;
	ex->io.rep = i1 & SVM_IOIO_REP;
	/* APM 15.10.2: EXITINFO2 is the RIP of the next instruction. */
	uint64_t len = vmcb->ctl.exitinfo2 - vmcb->save.rip;
	ex->insn_len = (len >= 1 && len <= MAX_INSN_LEN) ? (unsigned)len : 0;
}

static void decode_msr(const struct vmcb *vmcb, const struct svm_gprs *g, struct vcpu_exit *ex)
{
	ex->kind = VCPU_EXIT_MSR;
	ex->msr.index = (uint32_t)g->rcx;
	/* APM 15.11: EXITINFO1 is 0 for RDMSR, 1 for WRMSR. */
	ex->msr.write = vmcb->ctl.exitinfo1 & 1;
	ex->msr.value =
		ex->msr.write ? ((g->rdx & 0xffffffffull) << 32) | (vmcb->save.rax & 0xffffffffull)
			      : 0;
	ex->insn_len = LEN_MSR;
}

static void decode_npf(const struct vmcb *vmcb, struct vcpu_exit *ex)
{
	uint64_t i1 = vmcb->ctl.exitinfo1;

	ex->kind = VCPU_EXIT_NPF;
	ex->npf.gpa = vmcb->ctl.exitinfo2;
	ex->npf.present = i1 & SVM_NPF_P;
	ex->npf.write = i1 & SVM_NPF_RW;
	ex->npf.user = i1 & SVM_NPF_US;
	ex->npf.exec = i1 & SVM_NPF_ID;
	ex->npf.in_walk = i1 & SVM_NPF_IN_WALK;
}

void svm_decode_exit(const struct vmcb *vmcb, const struct svm_gprs *g, struct vcpu_exit *ex)
{
	uint64_t code = vmcb->ctl.exitcode;

	memset(ex, 0, sizeof(*ex));
	ex->raw = code;
	ex->info1 = vmcb->ctl.exitinfo1;
	ex->info2 = vmcb->ctl.exitinfo2;
	ex->rip = vmcb->save.rip;
	ex->kind = VCPU_EXIT_UNKNOWN;

	if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32) {
		ex->kind = VCPU_EXIT_EXCEPTION;
		ex->exc.vector = (uint8_t)(code - SVM_EXIT_EXCP_BASE);
		ex->exc.error = (uint32_t)vmcb->ctl.exitinfo1; /* APM 15.12 */
		return;
	}
	switch (code) {
	case SVM_EXIT_IOIO: decode_io(vmcb, ex); break;
	case SVM_EXIT_MSR: decode_msr(vmcb, g, ex); break;
	case SVM_EXIT_NPF: decode_npf(vmcb, ex); break;
	case SVM_EXIT_CPUID:
		ex->kind = VCPU_EXIT_CPUID;
		ex->insn_len = LEN_CPUID;
		break;
	case SVM_EXIT_HLT:
		ex->kind = VCPU_EXIT_HLT;
		ex->insn_len = LEN_HLT;
		break;
	case SVM_EXIT_VMMCALL:
		ex->kind = VCPU_EXIT_HYPERCALL;
		ex->insn_len = LEN_VMMCALL;
		break;
	case SVM_EXIT_INTR:
	case SVM_EXIT_NMI:
	case SVM_EXIT_SMI: /* host events: taken by the host (or SMM) after STGI */
		ex->kind = VCPU_EXIT_INTR;
		break;
	case SVM_EXIT_VINTR: ex->kind = VCPU_EXIT_VINTR; break;
	case SVM_EXIT_SHUTDOWN: ex->kind = VCPU_EXIT_SHUTDOWN; break;
	case SVM_EXIT_INVALID:
	case SVM_EXIT_INVALID32: /* QEMU 7.2 TCG stores -1 in 32 bits */
		ex->kind = VCPU_EXIT_INVALID;
		break;
	default: break;
	}
}

bool svm_irq_window(const struct vmcb *vmcb)
{
	return (vmcb->save.rflags & SVM_RFLAGS_IF) && !(vmcb->ctl.int_state & SVM_INT_SHADOW);
}

bool svm_events_irq_pending(const struct svm_events *e)
{
	return e->pending[0] | e->pending[1] | e->pending[2] | e->pending[3];
}

int svm_events_queue_irq(struct svm_events *e, unsigned vector)
{
	if (vector < 0x20 || vector > 0xff)
		return -EINVAL;
	e->pending[vector / 64] |= 1ull << (vector % 64);
	return 0;
}

/* The highest queued vector (the local APIC's priority order), or -1. */
static int highest_pending(const struct svm_events *e)
{
	for (int w = 3; w >= 0; w--)
		if (e->pending[w])
			return w * 64 + 63 - __builtin_clzll(e->pending[w]);
	return -1;
}

void svm_events_prepare(struct vmcb *vmcb, struct svm_events *e)
{
	int v = highest_pending(e);

	vmcb->ctl.vint &= ~(SVM_VINT_V_IRQ | SVM_VINT_V_IGN_TPR | (0xfull << SVM_VINT_PRIO_SHIFT) |
			    (0xffull << SVM_VINT_VECTOR_SHIFT));
	vmcb->ctl.icpt1 &= ~SVM_ICPT1_VINTR;
	vmcb->ctl.eventinj = 0;
	if (e->inject) {
		/* An exception or NMI goes first; a queued interrupt waits
		 * for the window after it (below). */
		vmcb->ctl.eventinj = e->inject;
		e->inject = 0;
	} else if (v >= 0 && svm_irq_window(vmcb)) {
		vmcb->ctl.eventinj = (uint64_t)v | SVM_EV_TYPE_INTR | SVM_EV_VALID;
		e->pending[v / 64] &= ~(1ull << (v % 64));
		return;
	}
	if (v < 0)
		return;
	/* APM 15.21.4: a virtual interrupt the guest cannot take yet; with
	 * the VINTR intercept the CPU exits as soon as it could take it
	 * (V_IGN_TPR: the guest's TPR does not hold it back). */
	vmcb->ctl.vint |= SVM_VINT_V_IRQ | SVM_VINT_V_IGN_TPR | (0xfull << SVM_VINT_PRIO_SHIFT) |
			  ((uint64_t)v << SVM_VINT_VECTOR_SHIFT);
	vmcb->ctl.icpt1 |= SVM_ICPT1_VINTR;
}

void svm_events_after_exit(struct vmcb *vmcb, struct svm_events *e)
{
	uint64_t info = vmcb->ctl.exitintinfo;

	vmcb->ctl.eventinj = 0;
	/* The virtual interrupt was only a request for the VINTR exit. */
	vmcb->ctl.vint &= ~SVM_VINT_V_IRQ;
	vmcb->ctl.icpt1 &= ~SVM_ICPT1_VINTR;
	if (!(info & SVM_EV_VALID))
		return;
	/* APM 15.7.2: the exit interrupted the delivery of this event. */
	switch (info & SVM_EV_TYPE_MASK) {
	case SVM_EV_TYPE_INTR:
		(void)svm_events_queue_irq(e, (unsigned)(info & SVM_EV_VECTOR_MASK));
		break;
	case SVM_EV_TYPE_NMI:
	case SVM_EV_TYPE_EXC: e->inject = info; break;
	default:
		/* A software interrupt: RIP still points at INTn, which runs
		 * again. */
		break;
	}
}

#define PTE_P 1ull
#define PTE_PS (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull
#define CR0_PG_BIT (1ull << 31)
#define CR4_LA57_BIT (1ull << 12)

int svm_guest_walk(uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t gva, vcpu_gpa_fn fn,
		   void *ctx, uint64_t *gpa)
{
	uint64_t table = cr3 & PTE_ADDR;

	if (!(cr0 & CR0_PG_BIT)) {
		*gpa = gva;
		return 0;
	}
	if (cr4 & CR4_LA57_BIT) /* the vCPU starts 4-level; 5-level is not walked */
		return -EFAULT;
	for (int level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		uint64_t idx = (gva >> shift) & 0x1ff;
		const uint64_t *pe = fn(ctx, table + idx * 8, false);

		if (!pe || !(*pe & PTE_P))
			return -EFAULT;
		if (level == 1 || ((level == 2 || level == 3) && (*pe & PTE_PS))) {
			uint64_t mask = (1ull << shift) - 1;
			*gpa = ((*pe & PTE_ADDR) & ~mask) | (gva & mask);
			return 0;
		}
		table = *pe & PTE_ADDR;
	}
	return -EFAULT;
}

unsigned svm_read_guest_virt(const struct vmcb *vmcb, uint64_t gva, void *buf, unsigned len,
			     vcpu_gpa_fn fn, void *ctx)
{
	unsigned done = 0;

	while (done < len) {
		uint64_t gpa;
		unsigned chunk = 4096 - (unsigned)((gva + done) & 0xfff);
		const void *src;

		if (svm_guest_walk(vmcb->save.cr0, vmcb->save.cr3, vmcb->save.cr4, gva + done, fn,
				   ctx, &gpa))
			break;
		src = fn(ctx, gpa, false);
		if (!src)
			break;
		if (chunk > len - done)
			chunk = len - done;
		memcpy((uint8_t *)buf + done, src, chunk);
		done += chunk;
	}
	return done;
}

#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_PAT 0x277
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

/* The VMCB field of an MSR VMRUN/VMLOAD load, and whether a value must be
 * a canonical address (writing a non-canonical one is #GP). */
static uint64_t *msr_field(struct vmcb *vmcb, uint32_t index, bool *canonical)
{
	struct vmcb_save *s = &vmcb->save;

	*canonical = true;
	switch (index) {
	case MSR_FS_BASE: return &s->fs.base;
	case MSR_GS_BASE: return &s->gs.base;
	case MSR_KERNEL_GS_BASE: return &s->kernel_gs_base;
	case MSR_LSTAR: return &s->lstar;
	case MSR_CSTAR: return &s->cstar;
	case MSR_SYSENTER_ESP: return &s->sysenter_esp;
	case MSR_SYSENTER_EIP: return &s->sysenter_eip;
	default: break;
	}
	*canonical = false;
	switch (index) {
	case MSR_STAR: return &s->star;
	case MSR_SFMASK: return &s->sfmask;
	case MSR_SYSENTER_CS: return &s->sysenter_cs;
	case MSR_PAT: return &s->g_pat;
	case MSR_EFER: return &s->efer;
	default: return NULL;
	}
}

int svm_msr_get(const struct vmcb *vmcb, uint32_t index, uint64_t *value)
{
	bool canonical;
	const uint64_t *f = msr_field((struct vmcb *)vmcb, index, &canonical);

	if (!f)
		return -ENOENT;
	/* SVME is the host's requirement (VMRUN refuses a guest without
	 * it), not the guest's: it does not see it. */
	*value = index == MSR_EFER ? *f & ~SVM_EFER_SVME : *f;
	return 0;
}

static bool pat_valid(uint64_t pat)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned t = (pat >> (8 * i)) & 0xff;
		if (t == 2 || t == 3 || t > 7) /* Intel SDM / APM 7.8.1: reserved types */
			return false;
	}
	return true;
}

static int efer_set(struct vmcb *vmcb, uint64_t value, uint64_t efer_ok)
{
	uint64_t cur = vmcb->save.efer;

	/* APM 3.1.7: reserved bits are #GP; LMA is the CPU's (a write
	 * keeps it); LME cannot change while paging is on. */
	if (value & ~(efer_ok | SVM_EFER_LMA))
		return -EINVAL;
	if ((vmcb->save.cr0 & CR0_PG_BIT) && ((value ^ cur) & SVM_EFER_LME))
		return -EINVAL;
	vmcb->save.efer = (value & efer_ok) | (cur & SVM_EFER_LMA) | SVM_EFER_SVME;
	return 0;
}

int svm_msr_set(struct vmcb *vmcb, uint32_t index, uint64_t value, uint64_t efer_ok)
{
	bool canonical;
	uint64_t *f = msr_field(vmcb, index, &canonical);

	if (!f)
		return -ENOENT;
	if (index == MSR_EFER)
		return efer_set(vmcb, value, efer_ok);
	if (index == MSR_PAT && !pat_valid(value))
		return -EINVAL;
	if (canonical && (uint64_t)((int64_t)(value << 16) >> 16) != value)
		return -EINVAL;
	*f = value;
	return 0;
}
