/*
 * arch/x86/svm.c — the AMD SVM backend of arch/x86/vcpu.h: one VMCB per
 * vCPU with nested paging, an ASID each, every I/O port and MSR
 * intercepted, and the injection of external interrupts and exceptions.
 * The exit decoding and the injection decision are pure functions in
 * arch/x86/svm_decode.c; this file does what needs the CPU.
 */
#include <string.h>

#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/irq.h"
#include "arch/x86/svm.h"
#include "kernel/frame.h"
#include "kernel/log.h"

#define MSR_VM_CR 0xc0010114
#define VM_CR_SVMDIS (1ull << 4)
#define MSR_VM_HSAVE_PA 0xc0010117
#define EFER_LME SVM_EFER_LME
#define EFER_LMA SVM_EFER_LMA
#define EFER_SVME SVM_EFER_SVME

#define CPUID_SVM_ECX (1u << 2)	    /* 8000_0001 ECX */
#define CPUID_NP_EDX (1u << 0)	    /* 8000_000A EDX */
#define CPUID_INVLPGB_EBX (1u << 3) /* 8000_0008 EBX */

#define GUEST_CR0 ((1ull << 0) | (1ull << 4) | (1ull << 31)) /* PE, ET, PG */
#define GUEST_CR4 (1ull << 5)				     /* PAE */
#define POWER_ON_PAT 0x0007040600070406ull
#define GUEST_DR6 0xffff0ff0ull
#define GUEST_DR7 0x400ull

/* Segment attributes (APM 15.5.1: descriptor bits 47:40 in 7:0, 55:52 in 11:8). */
#define ATTR_CODE64 0xa9b /* G, L, P, S, type 0xb (execute/read, accessed) */
#define ATTR_DATA 0xc93	  /* G, D/B, P, S, type 0x3 (read/write, accessed) */
#define ATTR_TSS64 0x08b  /* P, type 0xb (busy 64-bit TSS) */
#define ATTR_LDT 0x082	  /* P, type 0x2 */
#define SEL_CODE 0x10
#define SEL_DATA 0x18

#define IOPM_ORDER 2 /* 12 KiB used (APM 15.10.1) */
#define IOPM_BYTES (12 * 1024)
#define MSRPM_ORDER 1 /* 8 KiB (APM 15.11) */
#define MSRPM_BYTES (8 * 1024)
#define MAX_ASID 256

struct vcpu {
	struct vmcb *vmcb; /* identity mapped: pointer == physical address */
	struct svm_gprs gprs;
	struct svm_events ev;
	uint32_t asid;
	uint64_t runs, exits;
	uint8_t fx[512] __attribute__((aligned(16))); /* the guest's FXSAVE image */
};
_Static_assert(sizeof(struct vcpu) <= FRAME_SIZE, "struct vcpu fits a frame");

static struct {
	bool ready;
	bool invlpgb;
	unsigned nasid;
	uint64_t hsave, host_state, iopm, msrpm;
	uint64_t asid_used[MAX_ASID / 64];
	uint8_t host_fx[512] __attribute__((aligned(16)));
} svm;

static void page_free(uint64_t pa, unsigned order)
{
	if (pa && frame_free(pa, order))
		klog("svm: page 0x%llx could not be freed", (unsigned long long)pa);
}

static bool svm_supported(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a < 0x8000000a)
		return false;
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	if (!(c & CPUID_SVM_ECX))
		return false;
	/* APM 15.4: firmware may lock SVM off (VM_CR.SVMDIS). */
	if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS)
		return false;
	cpuid(0x8000000a, 0, &a, &b, &c, &d);
	if (!(d & CPUID_NP_EDX) || b < 2)
		return false;
	svm.nasid = b < MAX_ASID ? b : MAX_ASID;
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a >= 0x80000008) {
		cpuid(0x80000008, 0, &a, &b, &c, &d);
		svm.invlpgb = b & CPUID_INVLPGB_EBX;
	}
	return true;
}

int vcpu_init(void)
{
	if (svm.ready)
		return 0;
	if (!svm_supported())
		return -ENOTSUP;
	svm.hsave = frame_alloc_zeroed(0, FRAME_SLUICE);
	svm.host_state = frame_alloc_zeroed(0, FRAME_SLUICE);
	svm.iopm = frame_alloc(IOPM_ORDER, FRAME_SLUICE);
	svm.msrpm = frame_alloc(MSRPM_ORDER, FRAME_SLUICE);
	if (!svm.hsave || !svm.host_state || !svm.iopm || !svm.msrpm) {
		page_free(svm.hsave, 0);
		page_free(svm.host_state, 0);
		page_free(svm.iopm, IOPM_ORDER);
		page_free(svm.msrpm, MSRPM_ORDER);
		svm.hsave = svm.host_state = svm.iopm = svm.msrpm = 0;
		return -ENOMEM;
	}
	/* Every port and every MSR exits: the guest touches nothing of the
	 * host's directly (APM 15.10.1, 15.11; MSRs outside the map's three
	 * ranges always exit). */
	memset((void *)(uintptr_t)svm.iopm, 0xff, IOPM_BYTES);
	memset((void *)(uintptr_t)svm.msrpm, 0xff, MSRPM_BYTES);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	/* APM 15.30.4: where VMRUN keeps the host state. */
	wrmsr(MSR_VM_HSAVE_PA, svm.hsave);
	svm.asid_used[0] = 1; /* ASID 0 is the host's */
	svm.ready = true;
	klog("svm: ready asids=%u npt=1 invlpgb=%d", svm.nasid, svm.invlpgb);
	return 0;
}

bool vcpu_available(void) { return svm.ready; }

const char *vcpu_backend(void) { return svm.ready ? "svm" : "none"; }

static uint32_t asid_alloc(void)
{
	for (uint32_t a = 1; a < svm.nasid; a++)
		if (!(svm.asid_used[a / 64] & (1ull << (a % 64)))) {
			svm.asid_used[a / 64] |= 1ull << (a % 64);
			return a;
		}
	return 0;
}

static void asid_free(uint32_t a) { svm.asid_used[a / 64] &= ~(1ull << (a % 64)); }

static void set_seg(struct vmcb_seg *s, uint16_t sel, uint16_t attrib)
{
	s->selector = sel;
	s->attrib = attrib;
	s->limit = 0xffffffff;
	s->base = 0;
}

static void setup_control(struct vmcb_control *c, const struct vcpu_config *cfg, uint32_t asid)
{
	c->icpt1 = SVM_ICPT1_INTR | SVM_ICPT1_NMI | SVM_ICPT1_SMI | SVM_ICPT1_INIT |
		   SVM_ICPT1_CPUID | SVM_ICPT1_RSM | SVM_ICPT1_INVD | SVM_ICPT1_HLT |
		   SVM_ICPT1_INVLPGA | SVM_ICPT1_IOIO_PROT | SVM_ICPT1_MSR_PROT |
		   SVM_ICPT1_TASK_SWITCH | SVM_ICPT1_FERR_FREEZE | SVM_ICPT1_SHUTDOWN;
	/* APM 15.5.1: VMRUN must be intercepted.  The guest runs with
	 * EFER.SVME=1, so every SVM instruction would otherwise reach the
	 * real CPU state (GIF, the host save area, other ASIDs' TLBs). */
	c->icpt2 = SVM_ICPT2_VMRUN | SVM_ICPT2_VMMCALL | SVM_ICPT2_VMLOAD | SVM_ICPT2_VMSAVE |
		   SVM_ICPT2_STGI | SVM_ICPT2_CLGI | SVM_ICPT2_SKINIT | SVM_ICPT2_MONITOR |
		   SVM_ICPT2_MWAIT | SVM_ICPT2_MWAIT_COND | SVM_ICPT2_XSETBV | SVM_ICPT2_RDPRU;
	if (svm.invlpgb) /* broadcast TLB invalidations reach other CPUs */
		c->icpt3 = SVM_ICPT3_INVLPGB | SVM_ICPT3_INVLPGB_ILLEGAL | SVM_ICPT3_TLBSYNC;
	c->iopm_base_pa = svm.iopm;
	c->msrpm_base_pa = svm.msrpm;
	c->guest_asid = asid;
	/* A recycled ASID may still have another guest's translations. */
	c->tlb_control = SVM_TLB_FLUSH_ALL;
	/* APM 15.21.1: the guest's IF masks only virtual interrupts; physical
	 * ones are masked by the host's IF and become INTR exits. */
	c->vint = SVM_VINT_V_INTR_MASKING;
	c->np_enable = 1;
	c->n_cr3 = cfg->npt_root;
}

static void setup_save(struct vmcb_save *s, const struct vcpu_config *cfg)
{
	set_seg(&s->cs, SEL_CODE, ATTR_CODE64);
	set_seg(&s->ds, SEL_DATA, ATTR_DATA);
	set_seg(&s->es, SEL_DATA, ATTR_DATA);
	set_seg(&s->ss, SEL_DATA, ATTR_DATA);
	set_seg(&s->fs, SEL_DATA, ATTR_DATA);
	set_seg(&s->gs, SEL_DATA, ATTR_DATA);
	s->tr.attrib = ATTR_TSS64;
	s->tr.limit = 0x67;
	s->ldtr.attrib = ATTR_LDT;
	s->cpl = 0;
	/* APM 15.5.1: VMRUN refuses a guest without EFER.SVME. */
	s->efer = EFER_LME | EFER_LMA | EFER_SVME | (rdmsr(MSR_EFER) & EFER_NXE);
	s->cr0 = GUEST_CR0;
	s->cr3 = cfg->cr3;
	s->cr4 = GUEST_CR4;
	s->dr6 = GUEST_DR6;
	s->dr7 = GUEST_DR7;
	s->rflags = 0x2;
	s->rip = cfg->rip;
	s->rsp = cfg->rsp;
	s->g_pat = POWER_ON_PAT;
}

int vcpu_create(const struct vcpu_config *cfg, struct vcpu **out)
{
	struct vcpu *v;
	uint64_t vpa, vmcb;
	uint32_t asid;

	if (!svm.ready)
		return -ENOTSUP;
	asid = asid_alloc();
	if (!asid)
		return -ENOSPC;
	vpa = frame_alloc_zeroed(0, FRAME_SLUICE);
	vmcb = frame_alloc_zeroed(0, FRAME_SLUICE);
	if (!vpa || !vmcb) {
		page_free(vpa, 0);
		page_free(vmcb, 0);
		asid_free(asid);
		return -ENOMEM;
	}
	v = (struct vcpu *)(uintptr_t)vpa;
	v->vmcb = (struct vmcb *)(uintptr_t)vmcb;
	v->asid = asid;
	setup_control(&v->vmcb->ctl, cfg, asid);
	setup_save(&v->vmcb->save, cfg);
	v->gprs.rdi = cfg->rdi;
	v->gprs.rsi = cfg->rsi;
	/* FXSAVE image of the reset state: FCW 0x37f, MXCSR 0x1f80. */
	v->fx[0] = 0x7f;
	v->fx[1] = 0x03;
	v->fx[24] = 0x80;
	v->fx[25] = 0x1f;
	*out = v;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	asid_free(v->asid);
	page_free((uint64_t)(uintptr_t)v->vmcb, 0);
	page_free((uint64_t)(uintptr_t)v, 0);
}

static inline void svm_clgi(void) { __asm__ volatile("clgi" ::: "memory"); }
static inline void svm_stgi(void) { __asm__ volatile("stgi" ::: "memory"); }
static inline void fx_save(void *p) { __asm__ volatile("fxsave64 (%0)" : : "r"(p) : "memory"); }
static inline void fx_restore(const void *p)
{
	__asm__ volatile("fxrstor64 (%0)" : : "r"(p) : "memory");
}

/* was_on: whether the host takes interrupts right after the exit (the
 * caller's IF). */
static void run(struct vcpu *v, struct vcpu_exit *ex, bool was_on)
{
	cpu_cli();
	v->runs++;
	svm_events_prepare(v->vmcb, &v->ev);
	fx_save(svm.host_fx);
	fx_restore(v->fx);
	svm_clgi();
	svm_vmrun((uint64_t)(uintptr_t)v->vmcb, svm.host_state, &v->gprs);
	fx_save(v->fx);
	fx_restore(svm.host_fx);
	/* GIF=0 held every interrupt since the exit; with IF=0 the host takes
	 * a pending one (the reason for an INTR exit) when the caller's IF
	 * comes back at the end, right after the exit if it was on. */
	svm_stgi();
	v->vmcb->ctl.tlb_control = 0;
	v->vmcb->ctl.clean = 0; /* no clean bits: VMRUN reloads everything */
	svm_events_after_exit(v->vmcb, &v->ev);
	svm_decode_exit(v->vmcb, &v->gprs, ex);
	v->exits++;
	if (was_on)
		cpu_sti();
}

int vcpu_run(struct vcpu *v, struct vcpu_exit *ex)
{
	run(v, ex, cpu_irq_enabled());
	return 0;
}

void vcpu_skip(struct vcpu *v, const struct vcpu_exit *ex)
{
	if (!ex->insn_len)
		return;
	v->vmcb->save.rip += ex->insn_len;
	/* The emulated instruction completed: an STI/MOV SS shadow it sat in
	 * (sti; hlt) is over. */
	v->vmcb->ctl.int_state &= ~SVM_INT_SHADOW;
}

void vcpu_get_regs(struct vcpu *v, struct vcpu_regs *r)
{
	const struct svm_gprs *g = &v->gprs;

	*r = (struct vcpu_regs){
		.rax = v->vmcb->save.rax,
		.rbx = g->rbx,
		.rcx = g->rcx,
		.rdx = g->rdx,
		.rsi = g->rsi,
		.rdi = g->rdi,
		.rbp = g->rbp,
		.rsp = v->vmcb->save.rsp,
		.r8 = g->r8,
		.r9 = g->r9,
		.r10 = g->r10,
		.r11 = g->r11,
		.r12 = g->r12,
		.r13 = g->r13,
		.r14 = g->r14,
		.r15 = g->r15,
		.rip = v->vmcb->save.rip,
		.rflags = v->vmcb->save.rflags,
	};
}

void vcpu_set_regs(struct vcpu *v, const struct vcpu_regs *r)
{
	struct svm_gprs *g = &v->gprs;

	v->vmcb->save.rax = r->rax;
	v->vmcb->save.rsp = r->rsp;
	v->vmcb->save.rip = r->rip;
	v->vmcb->save.rflags = r->rflags | 0x2; /* bit 1 is always 1 */
	g->rbx = r->rbx;
	g->rcx = r->rcx;
	g->rdx = r->rdx;
	g->rsi = r->rsi;
	g->rdi = r->rdi;
	g->rbp = r->rbp;
	g->r8 = r->r8;
	g->r9 = r->r9;
	g->r10 = r->r10;
	g->r11 = r->r11;
	g->r12 = r->r12;
	g->r13 = r->r13;
	g->r14 = r->r14;
	g->r15 = r->r15;
}

uint64_t vcpu_cr3(struct vcpu *v) { return v->vmcb->save.cr3; }

int vcpu_msr_get(struct vcpu *v, uint32_t index, uint64_t *value)
{
	return svm_msr_get(v->vmcb, index, value);
}

int vcpu_msr_set(struct vcpu *v, uint32_t index, uint64_t value)
{
	uint64_t ok = SVM_EFER_SCE | SVM_EFER_LME | (cpu_feat.nx ? SVM_EFER_NXE : 0);

	return svm_msr_set(v->vmcb, index, value, ok);
}

int vcpu_queue_irq(struct vcpu *v, unsigned vector) { return svm_events_queue_irq(&v->ev, vector); }

bool vcpu_irq_pending(struct vcpu *v) { return svm_events_irq_pending(&v->ev); }

bool vcpu_irq_window(struct vcpu *v) { return svm_irq_window(v->vmcb); }

void vcpu_flush_npt(struct vcpu *v) { v->vmcb->ctl.tlb_control = SVM_TLB_FLUSH_ALL; }

void vcpu_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error)
{
	/* APM 15.20: vector 2 as an exception and vectors >= 32 are refused by
	 * VMRUN (VMEXIT_INVALID). */
	if (vector >= 32 || vector == 2)
		return;
	v->ev.inject = vector | SVM_EV_TYPE_EXC | SVM_EV_VALID |
		       (has_error ? SVM_EV_EV | ((uint64_t)error << SVM_EV_ERR_SHIFT) : 0);
}

unsigned vcpu_read_guest_virt(struct vcpu *v, uint64_t gva, void *buf, unsigned len,
			      vcpu_gpa_fn gpa_to_host, void *ctx)
{
	return svm_read_guest_virt(v->vmcb, gva, buf, len, gpa_to_host, ctx);
}

void vcpu_stats(struct vcpu *v, struct vcpu_stats *out)
{
	out->runs = v->runs;
	out->exits = v->exits;
	out->asid = v->asid;
}

/* ------------------------------------------------------------ self-test */

/* Guest memory of the self-test: gpa == hpa below 4 GiB. */
enum { ST_CODE, ST_DATA, ST_STACK, ST_GPT, ST_NPT = ST_GPT + 6, ST_PAGES = ST_NPT + 6 };
#define ST_ORDER 4	      /* 16 pages >= ST_PAGES */
#define ST_HOLE 0xc0000000ull /* a 2 MiB page the NPT leaves out */
#define ST_H40 0x100	      /* guest handler of vector 0x40 */
#define ST_H41 0x180	      /* guest handler of vector 0x41 */
#define ST_SPIN 0x1c0	      /* jmp $ */
#define ST_H13 0x1e0	      /* guest handler of #GP */
#define ST_PTE_PWU 0x7ull     /* present, writable, user (APM 15.25.5: U=1 in the NPT) */
#define ST_PTE_PS (1ull << 7)

static const uint8_t st_main[] = {
	0x0f, 0xa2,		      /* 0x00 cpuid */
	0x66, 0xba, 0xf8, 0x03,	      /* 0x02 mov dx, 0x3f8 */
	0xb0, 0x47,		      /* 0x06 mov al, 'G' */
	0xee,			      /* 0x08 out dx, al */
	0x48, 0x89, 0xfb,	      /* 0x09 mov rbx, rdi */
	0x0f, 0x01, 0xd9,	      /* 0x0c vmmcall */
	0xb9, 0x1b, 0x00, 0x00, 0x00, /* 0x0f mov ecx, 0x1b */
	0x0f, 0x32,		      /* 0x14 rdmsr */
	0xb9, 0x10, 0x00, 0x00, 0x00, /* 0x16 mov ecx, 0x10 */
	0xb8, 0x78, 0x56, 0x34, 0x12, /* 0x1b mov eax, 0x12345678 */
	0xba, 0x01, 0x00, 0x00, 0x00, /* 0x20 mov edx, 1 */
	0x0f, 0x30,		      /* 0x25 wrmsr */
	0xfb,			      /* 0x27 sti */
	0xf4,			      /* 0x28 hlt */
	0xeb, 0xfe,		      /* 0x29 jmp $ */
};
static const uint8_t st_h40[] = {
	0x0f, 0x01, 0xf8, /* swapgs */
	0xe6, 0x80,	  /* out 0x80, al */
	0xfb,		  /* sti */
	0x90,		  /* nop (the STI shadow) */
	0xf4,		  /* hlt */
	0xeb, 0xfe,
};
static const uint8_t st_h41[] = {
	0xe6, 0x81,			       /* 0x00 out 0x81, al */
	0x48, 0xa1, 0, 0, 0, 0xc0, 0, 0, 0, 0, /* 0x02 mov rax, [ST_HOLE] */
	0x0f, 0x0b,			       /* 0x0c ud2 */
	0xeb, 0xfe,
};

static const uint8_t st_h13[] = {
	0xe6, 0x82, /* out 0x82, al */
	0x0f, 0x0b, /* ud2 */
};

static void st_identity(uint64_t *pml4, uint64_t *pdpt, uint64_t *pd, uint64_t hole)
{
	pml4[0] = (uint64_t)(uintptr_t)pdpt | ST_PTE_PWU;
	for (unsigned i = 0; i < 4; i++) {
		pdpt[i] = (uint64_t)(uintptr_t)(pd + 512 * i) | ST_PTE_PWU;
		for (unsigned j = 0; j < 512; j++) {
			uint64_t pa = ((uint64_t)i * 512 + j) << 21;
			if (pa != hole)
				pd[512 * i + j] = pa | ST_PTE_PWU | ST_PTE_PS;
		}
	}
}

static void st_gate(uint64_t *idt, unsigned vec, uint64_t off)
{
	idt[vec * 2] = (off & 0xffff) | ((uint64_t)SEL_CODE << 16) | (0x8e00ull << 32) |
		       (((off >> 16) & 0xffff) << 48);
	idt[vec * 2 + 1] = off >> 32;
}

static void *st_gpa(void *ctx, uint64_t gpa, bool write) { return (void *)(uintptr_t)gpa; }

static uint64_t st_irq_total(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < 256; i++)
		n += irq_count(i);
	return n;
}

static void st_ipi(unsigned vector, void *ctx) {}

/* Runs until an exit that is not a host interrupt (the tick may come any
 * time). */
static void st_run(struct vcpu *v, struct vcpu_exit *ex)
{
	for (int i = 0; i < 10000; i++) {
		run(v, ex, true);
		if (ex->kind != VCPU_EXIT_INTR)
			return;
	}
}

#define ST_EXPECT(cond)                                                                      \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			klog("svm: selftest failed at %s: kind=%d exit=0x%llx info1=0x%llx " \
			     "info2=0x%llx rip=0x%llx",                                      \
			     #cond, ex.kind, (unsigned long long)ex.raw,                     \
			     (unsigned long long)ex.info1, (unsigned long long)ex.info2,     \
			     (unsigned long long)ex.rip);                                    \
			rc = -EIO;                                                           \
			goto out;                                                            \
		}                                                                            \
	} while (0)

static int st_guest(struct vcpu *v, uint64_t base, int ipi)
{
	uint64_t code = base + ST_CODE * FRAME_SIZE;
	struct vcpu_exit ex = {0};
	struct vcpu_regs r;
	uint8_t bytes[4];
	uint64_t *idt = (uint64_t *)(uintptr_t)(base + ST_DATA * FRAME_SIZE + 2048);
	uint64_t n, gs, val, rsp, frame[2];
	int rc = 0;

	/* The host's tick takes the CPU back from a guest that spins. */
	vcpu_get_regs(v, &r);
	r.rip = code + ST_SPIN;
	vcpu_set_regs(v, &r);
	n = st_irq_total();
	run(v, &ex, true);
	ST_EXPECT(ex.kind == VCPU_EXIT_INTR && ex.rip == code + ST_SPIN && st_irq_total() > n);
	r.rip = code;
	vcpu_set_regs(v, &r);

	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_CPUID && ex.rip == code && ex.insn_len == 2);
	ST_EXPECT(vcpu_read_guest_virt(v, ex.rip, bytes, 2, st_gpa, NULL) == 2 &&
		  bytes[0] == 0x0f && bytes[1] == 0xa2);
	vcpu_skip(v, &ex);
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_IO && ex.io.port == 0x3f8 && ex.io.size == 1 && !ex.io.in &&
		  !ex.io.string && ex.insn_len == 1 && ex.rip == code + 8);
	vcpu_get_regs(v, &r);
	ST_EXPECT((r.rax & 0xff) == 'G');
	vcpu_skip(v, &ex);
	st_run(v, &ex);
	vcpu_get_regs(v, &r);
	ST_EXPECT(ex.kind == VCPU_EXIT_HYPERCALL && ex.insn_len == 3 && r.rbx == 0x5a5a1234);
	vcpu_skip(v, &ex);
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_MSR && ex.msr.index == 0x1b && !ex.msr.write &&
		  ex.insn_len == 2);
	vcpu_skip(v, &ex);
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_MSR && ex.msr.index == 0x10 && ex.msr.write &&
		  ex.msr.value == 0x112345678ull);
	vcpu_skip(v, &ex);

	/* An interrupt pending at VMRUN: an INTR exit, and the host's own
	 * handler has run when vcpu_run returns. */
	n = irq_count((unsigned)ipi);
	cpu_cli();
	apic_self_ipi((unsigned)ipi);
	run(v, &ex, true);
	ST_EXPECT(ex.kind == VCPU_EXIT_INTR && irq_count((unsigned)ipi) == n + 1 &&
		  ex.rip == code + 0x27);

	/* sti; hlt -> HLT in the STI shadow; skipping it ends the shadow, so
	 * the interrupt goes in by EVENTINJ. */
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_HLT && ex.rip == code + 0x28);
	ST_EXPECT(vcpu_queue_irq(v, 0x40) == 0);
	vcpu_skip(v, &ex);
	ST_EXPECT(vcpu_irq_window(v));
	/* The handler's swapgs: VMLOAD gave the guest these, VMSAVE took
	 * them back, and the host's own GS base came back. */
	ST_EXPECT(vcpu_msr_set(v, 0xc0000101, 0x1111000) == 0);
	ST_EXPECT(vcpu_msr_set(v, 0xc0000102, 0x2222000) == 0);
	gs = rdmsr(0xc0000101);
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_IO && ex.io.port == 0x80 && ex.rip == code + ST_H40 + 3 &&
		  !vcpu_irq_pending(v));
	ST_EXPECT(vcpu_msr_get(v, 0xc0000101, &val) == 0 && val == 0x2222000);
	ST_EXPECT(vcpu_msr_get(v, 0xc0000102, &val) == 0 && val == 0x1111000);
	ST_EXPECT(rdmsr(0xc0000101) == gs);
	/* In the handler IF=0: V_IRQ and the VINTR exit after sti; nop. */
	ST_EXPECT(!vcpu_irq_window(v));
	ST_EXPECT(vcpu_queue_irq(v, 0x41) == 0);
	vcpu_skip(v, &ex);
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_VINTR && vcpu_irq_pending(v) && vcpu_irq_window(v));
	/* A stack the NPT does not map: the delivery of 0x41 is cut by an
	 * NPF, EXITINTINFO names it and it is pending again. */
	vcpu_get_regs(v, &r);
	rsp = r.rsp;
	r.rsp = ST_HOLE + 0x800;
	vcpu_set_regs(v, &r);
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_NPF && ex.npf.write &&
		  (ex.npf.gpa >> 21) == (ST_HOLE >> 21) && vcpu_irq_pending(v));
	vcpu_get_regs(v, &r);
	r.rsp = rsp;
	vcpu_set_regs(v, &r);
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_IO && ex.io.port == 0x81 && ex.rip == code + ST_H41 &&
		  !vcpu_irq_pending(v));
	vcpu_skip(v, &ex);

	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_NPF && ex.npf.gpa == ST_HOLE && !ex.npf.present &&
		  !ex.npf.write && !ex.npf.in_walk && ex.rip == code + ST_H41 + 2);
	vcpu_get_regs(v, &r);
	r.rip += 10;
	vcpu_set_regs(v, &r);
	v->vmcb->ctl.icpt_exc = 1u << 6; /* #UD */
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_EXCEPTION && ex.exc.vector == 6);
	v->vmcb->ctl.icpt_exc = 0;
	/* An injected #GP(0x18) arrives through the guest's gate 13 with its
	 * error code on the stack, RIP of the faulting instruction above. */
	vcpu_inject_exception(v, 13, true, 0x18);
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_IO && ex.io.port == 0x82 && ex.rip == code + ST_H13);
	vcpu_get_regs(v, &r);
	ST_EXPECT(vcpu_read_guest_virt(v, r.rsp, frame, sizeof(frame), st_gpa, NULL) ==
		  sizeof(frame));
	ST_EXPECT(frame[0] == 0x18 && frame[1] == code + ST_H41 + 12);
	vcpu_skip(v, &ex);
	/* ud2 again with gate 13 gone: #UD, #GP and #DF find no gate in the
	 * guest IDT, a triple fault. */
	idt[13 * 2] = idt[13 * 2 + 1] = 0;
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_SHUTDOWN);

	v->vmcb->save.efer &= ~EFER_SVME;
	st_run(v, &ex);
	ST_EXPECT(ex.kind == VCPU_EXIT_INVALID);
out:
	return rc;
}

static void st_setup(uint64_t base, struct vcpu_config *cfg)
{
	uint8_t *code = (uint8_t *)(uintptr_t)(base + ST_CODE * FRAME_SIZE);
	uint64_t *gdt = (uint64_t *)(uintptr_t)(base + ST_DATA * FRAME_SIZE);
	uint64_t *pg = (uint64_t *)(uintptr_t)base;

	memcpy(code, st_main, sizeof(st_main));
	memcpy(code + ST_H40, st_h40, sizeof(st_h40));
	memcpy(code + ST_H41, st_h41, sizeof(st_h41));
	code[ST_SPIN] = 0xeb;
	code[ST_SPIN + 1] = 0xfe;
	gdt[SEL_CODE / 8] = 0x00af9a000000ffffull;
	gdt[SEL_DATA / 8] = 0x00cf92000000ffffull;
	st_gate(gdt + 2048 / 8, 0x40, (uint64_t)(uintptr_t)code + ST_H40);
	st_gate(gdt + 2048 / 8, 0x41, (uint64_t)(uintptr_t)code + ST_H41);
	st_gate(gdt + 2048 / 8, 13, (uint64_t)(uintptr_t)code + ST_H13);
	memcpy(code + ST_H13, st_h13, sizeof(st_h13));
	st_identity(pg + ST_GPT * 512, pg + (ST_GPT + 1) * 512, pg + (ST_GPT + 2) * 512, ~0ull);
	st_identity(pg + ST_NPT * 512, pg + (ST_NPT + 1) * 512, pg + (ST_NPT + 2) * 512, ST_HOLE);
	*cfg = (struct vcpu_config){
		.npt_root = base + ST_NPT * FRAME_SIZE,
		.cr3 = base + ST_GPT * FRAME_SIZE,
		.rip = base + ST_CODE * FRAME_SIZE,
		.rsp = base + (ST_STACK + 1) * FRAME_SIZE,
		.rdi = 0x5a5a1234,
	};
}

/* ASIDs 1..N-1 are handed out once each and come back on destroy. */
static int st_asids(void)
{
	struct vcpu_config cfg = {0};
	struct vcpu *vs[MAX_ASID];
	unsigned n = 0;
	int rc = 0;

	while (n < MAX_ASID && vcpu_create(&cfg, &vs[n]) == 0)
		n++;
	if (n != svm.nasid - 1 || vcpu_create(&cfg, &vs[0]) != -ENOSPC) {
		klog("svm: selftest failed: %u vCPUs created, %u ASIDs", n, svm.nasid);
		rc = -EIO;
	}
	while (n)
		vcpu_destroy(vs[--n]);
	return rc;
}

int vcpu_selftest(void)
{
	bool was_on = cpu_irq_enabled();
	struct vcpu_config cfg;
	struct vcpu *v = NULL;
	uint64_t base;
	int ipi, rc;

	if (!svm.ready)
		return -ENOTSUP;
	base = frame_alloc_zeroed(ST_ORDER, FRAME_SLUICE);
	if (!base)
		return -ENOMEM;
	ipi = irq_alloc_vector(st_ipi, NULL);
	rc = ipi < 0 ? ipi : (base >> 32) ? -ERANGE : 0;
	if (!rc) {
		st_setup(base, &cfg);
		rc = vcpu_create(&cfg, &v);
	}
	if (!rc) {
		v->vmcb->save.gdtr.base = base + ST_DATA * FRAME_SIZE;
		v->vmcb->save.gdtr.limit = 0x1f;
		v->vmcb->save.idtr.base = base + ST_DATA * FRAME_SIZE + 2048;
		v->vmcb->save.idtr.limit = 16 * 0x42 - 1;
		cpu_sti();
		rc = st_guest(v, base, ipi);
		if (!rc)
			klog("svm: selftest guest ok runs=%llu asid=%u",
			     (unsigned long long)v->runs, v->asid);
		vcpu_destroy(v);
	}
	if (!rc)
		rc = st_asids();
	if (!was_on)
		cpu_cli();
	if (ipi >= 0)
		irq_free_vector((unsigned)ipi);
	page_free(base, ST_ORDER);
	return rc;
}
