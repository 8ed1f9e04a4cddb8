// SOURCES: arch/x86/svm_decode.c
/*
 * tests/unit/test_svm_exit.c — the SVM backend's pure parts over a VMCB in
 * memory: decoding of every exit kind (IOIO sizes/direction/string/rep and
 * the length from EXITINFO2, MSR read/write, NPF error bits, exceptions,
 * SHUTDOWN, VMEXIT_INVALID in 64 and 32 bits, unknown codes), the
 * injection decision (EVENTINJ in the window, V_IRQ + VINTR outside it),
 * EXITINTINFO re-queueing, and the guest page-table walk (4K/2M/1G) over a
 * fake guest memory.
 */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/svm.h"
#include "test.h"

static struct vmcb *vmcb_new(uint64_t code, uint64_t i1, uint64_t i2, uint64_t rip)
{
	struct vmcb *v = calloc(1, sizeof(*v));

	v->ctl.exitcode = code;
	v->ctl.exitinfo1 = i1;
	v->ctl.exitinfo2 = i2;
	v->save.rip = rip;
	return v;
}

static struct vcpu_exit decode(uint64_t code, uint64_t i1, uint64_t i2, uint64_t rip)
{
	struct vmcb *v = vmcb_new(code, i1, i2, rip);
	struct svm_gprs g = {0};
	struct vcpu_exit ex;

	svm_decode_exit(v, &g, &ex);
	free(v);
	return ex;
}

TEST(svm_ioio)
{
	/* out dx, al at 0x1000: port 0x3f8, 8-bit, next RIP 0x1001. */
	struct vcpu_exit ex = decode(0x7b, (0x3f8ull << 16) | SVM_IOIO_SZ8, 0x1001, 0x1000);
	CHECK_EQ(ex.kind, VCPU_EXIT_IO);
	CHECK_EQ(ex.io.port, 0x3f8);
	CHECK_EQ(ex.io.size, 1);
	CHECK(!ex.io.in && !ex.io.string && !ex.io.rep);
	CHECK_EQ(ex.insn_len, 1);
	CHECK_EQ(ex.rip, 0x1000);
	CHECK_EQ(ex.raw, 0x7b);
	/* in ax, 0x61 (2 bytes), in eax, dx with a 0x66/REX prefix (2). */
	ex = decode(0x7b, (0x61ull << 16) | SVM_IOIO_SZ16 | SVM_IOIO_IN, 0x2002, 0x2000);
	CHECK(ex.io.in && ex.io.size == 2 && ex.io.port == 0x61 && ex.insn_len == 2);
	ex = decode(0x7b, (0xcfcull << 16) | SVM_IOIO_SZ32 | SVM_IOIO_IN, 0x3002, 0x3000);
	CHECK(ex.io.in && ex.io.size == 4 && ex.io.port == 0xcfc);
	/* rep outsb */
	ex = decode(0x7b, (0x80ull << 16) | SVM_IOIO_SZ8 | SVM_IOIO_STR | SVM_IOIO_REP, 0x4002,
		    0x4000);
	CHECK(ex.io.string && ex.io.rep && !ex.io.in && ex.insn_len == 2);
	/* A next RIP that makes no sense gives no length (never skipped). */
	ex = decode(0x7b, (0x80ull << 16) | SVM_IOIO_SZ8, 0, 0x4000);
	CHECK_EQ(ex.insn_len, 0);
	ex = decode(0x7b, (0x80ull << 16) | SVM_IOIO_SZ8, 0x4010, 0x4000);
	CHECK_EQ(ex.insn_len, 0);
	ex = decode(0x7b, (0x80ull << 16) | SVM_IOIO_SZ8, 0x400f, 0x4000);
	CHECK_EQ(ex.insn_len, 15);
}

TEST(svm_msr)
{
	struct vmcb *v = vmcb_new(0x7c, 0, 0, 0x500);
	struct svm_gprs g = {.rcx = 0xffffffff0000001bull, .rdx = 0xaaaaaaaa00000001ull};
	struct vcpu_exit ex;

	v->save.rax = 0xbbbbbbbb12345678ull;
	svm_decode_exit(v, &g, &ex);
	CHECK_EQ(ex.kind, VCPU_EXIT_MSR);
	CHECK_EQ(ex.msr.index, 0x1b);
	CHECK(!ex.msr.write);
	CHECK_EQ(ex.insn_len, 2);
	v->ctl.exitinfo1 = 1;
	svm_decode_exit(v, &g, &ex);
	CHECK(ex.msr.write);
	CHECK_EQ(ex.msr.value, 0x112345678ull); /* EDX:EAX, upper halves ignored */
	free(v);
}

TEST(svm_simple_exits)
{
	struct vcpu_exit ex = decode(0x72, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_CPUID && ex.insn_len == 2);
	ex = decode(0x78, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_HLT && ex.insn_len == 1);
	ex = decode(0x81, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_HYPERCALL && ex.insn_len == 3);
	ex = decode(0x60, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_INTR && ex.insn_len == 0);
	ex = decode(0x61, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_INTR);
	ex = decode(0x62, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_INTR);
	ex = decode(0x64, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_VINTR && ex.insn_len == 0);
	ex = decode(0x7f, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_SHUTDOWN);
	ex = decode(SVM_EXIT_INVALID, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_INVALID);
	ex = decode(0xffffffffull, 0, 0, 0x10); /* QEMU 7.2's 32-bit -1 */
	CHECK(ex.kind == VCPU_EXIT_INVALID);
	/* What vm/ does not emulate stops the guest: SVM instructions,
	 * INVD, XSETBV, MWAIT, VMEXIT_BUSY, CR accesses, AVIC. */
	static const uint64_t unknown[] = {0x80, 0x82, 0x83, 0x84,	   0x85, 0x86, 0x76,  0x8d,
					   0x8b, 0x8e, 0x7a, (uint64_t)-2, 0x00, 0x10, 0x401, 0x63};
	for (unsigned i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		ex = decode(unknown[i], 7, 9, 0x10);
		CHECK_EQ(ex.kind, VCPU_EXIT_UNKNOWN);
		CHECK(ex.raw == unknown[i] && ex.info1 == 7 && ex.info2 == 9 && ex.insn_len == 0);
	}
}

TEST(svm_exceptions)
{
	struct vcpu_exit ex = decode(0x40 + 13, 0x18, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_EXCEPTION && ex.exc.vector == 13 && ex.exc.error == 0x18);
	ex = decode(0x40 + 6, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_EXCEPTION && ex.exc.vector == 6 && ex.insn_len == 0);
	ex = decode(0x5f, 0, 0, 0x10);
	CHECK(ex.kind == VCPU_EXIT_EXCEPTION && ex.exc.vector == 31);
}

TEST(svm_npf)
{
	/* Read of a not-present final GPA (as QEMU reports: P=0, US=1, bit 32). */
	struct vcpu_exit ex = decode(0x400, SVM_NPF_FINAL | SVM_NPF_US, 0xc0000000, 0x10);
	CHECK_EQ(ex.kind, VCPU_EXIT_NPF);
	CHECK_EQ(ex.npf.gpa, 0xc0000000);
	CHECK(!ex.npf.present && !ex.npf.write && ex.npf.user && !ex.npf.exec && !ex.npf.in_walk);
	CHECK_EQ(ex.insn_len, 0);
	ex = decode(0x400, SVM_NPF_FINAL | SVM_NPF_P | SVM_NPF_RW, 0xfee00030, 0x10);
	CHECK(ex.npf.present && ex.npf.write && !ex.npf.exec && !ex.npf.in_walk);
	ex = decode(0x400, SVM_NPF_IN_WALK | SVM_NPF_P, 0x5000, 0x10);
	CHECK(ex.npf.in_walk && ex.npf.present && !ex.npf.write);
	ex = decode(0x400, SVM_NPF_FINAL | SVM_NPF_ID, 0x7000, 0x10);
	CHECK(ex.npf.exec && !ex.npf.in_walk);
}

TEST(svm_inject_in_window)
{
	struct vmcb *v = vmcb_new(0, 0, 0, 0);
	struct svm_events e = {0};

	v->save.rflags = 0x202;
	CHECK(svm_irq_window(v));
	CHECK_EQ(svm_events_queue_irq(&e, 0x1f), -EINVAL);
	CHECK_EQ(svm_events_queue_irq(&e, 0x100), -EINVAL);
	CHECK(!svm_events_irq_pending(&e));
	CHECK_EQ(svm_events_queue_irq(&e, 0x30), 0);
	CHECK_EQ(svm_events_queue_irq(&e, 0x30), 0); /* edge: once */
	CHECK_EQ(svm_events_queue_irq(&e, 0xe1), 0);
	CHECK_EQ(svm_events_queue_irq(&e, 0xec), 0);
	svm_events_prepare(v, &e);
	/* The highest vector first, as the local APIC would. */
	CHECK_EQ(v->ctl.eventinj, 0xec | SVM_EV_VALID);
	CHECK(!(v->ctl.icpt1 & SVM_ICPT1_VINTR));
	CHECK(!(v->ctl.vint & SVM_VINT_V_IRQ));
	CHECK(svm_events_irq_pending(&e)); /* 0x30 still waits */
	/* Delivered: TCG leaves the vector with V=0 in EXITINTINFO. */
	v->ctl.exitintinfo = 0xec;
	svm_events_after_exit(v, &e);
	CHECK_EQ(v->ctl.eventinj, 0);
	svm_events_prepare(v, &e);
	CHECK_EQ(v->ctl.eventinj, 0xe1 | SVM_EV_VALID);
	svm_events_after_exit(v, &e);
	svm_events_prepare(v, &e);
	CHECK_EQ(v->ctl.eventinj, 0x30 | SVM_EV_VALID);
	v->ctl.exitintinfo = 0;
	svm_events_after_exit(v, &e);
	CHECK(!svm_events_irq_pending(&e));
	svm_events_prepare(v, &e);
	CHECK_EQ(v->ctl.eventinj, 0);
	free(v);
}

static void check_vintr_request(struct vmcb *v, unsigned vector)
{
	CHECK_EQ(v->ctl.eventinj, 0);
	CHECK(v->ctl.icpt1 & SVM_ICPT1_VINTR);
	CHECK(v->ctl.vint & SVM_VINT_V_IRQ);
	CHECK(v->ctl.vint & SVM_VINT_V_IGN_TPR);
	CHECK_EQ((v->ctl.vint >> SVM_VINT_VECTOR_SHIFT) & 0xff, vector);
}

TEST(svm_inject_outside_window)
{
	struct vmcb *v = vmcb_new(0, 0, 0, 0);
	struct svm_events e = {0};

	v->ctl.vint = SVM_VINT_V_INTR_MASKING;
	v->save.rflags = 0x2; /* IF=0 */
	CHECK(!svm_irq_window(v));
	CHECK_EQ(svm_events_queue_irq(&e, 0x41), 0);
	svm_events_prepare(v, &e);
	check_vintr_request(v, 0x41);
	CHECK(v->ctl.vint & SVM_VINT_V_INTR_MASKING); /* kept */
	CHECK(svm_events_irq_pending(&e));
	/* The VINTR exit: the request is dropped, the interrupt still pending. */
	v->ctl.exitcode = 0x64;
	svm_events_after_exit(v, &e);
	CHECK(!(v->ctl.vint & SVM_VINT_V_IRQ) && !(v->ctl.icpt1 & SVM_ICPT1_VINTR));
	CHECK(svm_events_irq_pending(&e));
	/* IF=1 but an STI shadow: still not deliverable. */
	v->save.rflags = 0x202;
	v->ctl.int_state = SVM_INT_SHADOW;
	CHECK(!svm_irq_window(v));
	svm_events_prepare(v, &e);
	check_vintr_request(v, 0x41);
	/* Window open: EVENTINJ, and the V_IRQ request is gone. */
	v->ctl.int_state = 0;
	svm_events_prepare(v, &e);
	CHECK_EQ(v->ctl.eventinj, 0x41 | SVM_EV_VALID);
	CHECK(!(v->ctl.vint & SVM_VINT_V_IRQ) && !(v->ctl.icpt1 & SVM_ICPT1_VINTR));
	CHECK(!svm_events_irq_pending(&e));
	free(v);
}

TEST(svm_exitintinfo_requeue)
{
	struct vmcb *v = vmcb_new(0x400, 0, 0, 0);
	struct svm_events e = {0};

	v->save.rflags = 0x202;
	CHECK_EQ(svm_events_queue_irq(&e, 0x50), 0);
	svm_events_prepare(v, &e);
	CHECK(!svm_events_irq_pending(&e));
	/* An NPF on the guest IDT during delivery: the interrupt comes back. */
	v->ctl.exitintinfo = 0x50 | SVM_EV_VALID;
	svm_events_after_exit(v, &e);
	CHECK(svm_events_irq_pending(&e));
	CHECK_EQ(v->ctl.eventinj, 0);
	svm_events_prepare(v, &e);
	CHECK_EQ(v->ctl.eventinj, 0x50 | SVM_EV_VALID);
	/* An exception (#PF with its error code) is re-injected as it was,
	 * before a pending interrupt, which then asks for a VINTR exit. */
	CHECK_EQ(svm_events_queue_irq(&e, 0x51), 0);
	uint64_t pf = 14 | SVM_EV_TYPE_EXC | SVM_EV_EV | SVM_EV_VALID | (2ull << 32);
	v->ctl.exitintinfo = pf;
	svm_events_after_exit(v, &e);
	CHECK_EQ(e.inject, pf);
	svm_events_prepare(v, &e);
	CHECK_EQ(v->ctl.eventinj, pf);
	CHECK(v->ctl.icpt1 & SVM_ICPT1_VINTR);
	CHECK_EQ(e.inject, 0);
	/* A software interrupt is not re-injected: INTn runs again. */
	v->ctl.exitintinfo = 0x80 | SVM_EV_TYPE_SOFT | SVM_EV_VALID;
	struct svm_events e2 = {0};
	svm_events_after_exit(v, &e2);
	CHECK(!svm_events_irq_pending(&e2) && !e2.inject);
	/* An NMI is. */
	v->ctl.exitintinfo = 2 | SVM_EV_TYPE_NMI | SVM_EV_VALID;
	svm_events_after_exit(v, &e2);
	CHECK_EQ(e2.inject, 2 | SVM_EV_TYPE_NMI | SVM_EV_VALID);
	free(v);
}

/* Fake guest memory: 64 pages at GPA 0x100000. */
#define GBASE 0x100000ull
#define GPAGES 64
static uint8_t *gmem;

static void *gpa_fn(void *ctx, uint64_t gpa, bool write)
{
	(*(unsigned *)ctx)++;
	if (gpa < GBASE || gpa >= GBASE + GPAGES * 4096)
		return NULL;
	return gmem + (gpa - GBASE);
}

static uint64_t *gpage(unsigned i) { return (uint64_t *)(gmem + i * 4096); }

TEST(svm_walk_guest_tables)
{
	struct vmcb *v = vmcb_new(0, 0, 0, 0);
	unsigned calls = 0;
	uint64_t gpa;
	uint8_t buf[32];

	gmem = aligned_alloc(4096, GPAGES * 4096);
	memset(gmem, 0, GPAGES * 4096);
	v->save.cr0 = 0x80000011;
	v->save.cr4 = 0x20;
	v->save.cr3 = GBASE; /* page 0: PML4 */
	/* gva 0x400000 (PML4 0, PDPT 0, PD 2, PT 0): 4K pages 0x400000 ->
	 * page 10, 0x401000 -> page 11; gva 0x40000000 (PDPT 1) a 1G leaf at
	 * GPA 0x40000000 (outside the fake memory); gva 0x600000 a 2M leaf at
	 * GPA 0x200000. */
	gpage(0)[0] = (GBASE + 1 * 4096) | 3;
	gpage(1)[0] = (GBASE + 2 * 4096) | 3;
	gpage(1)[1] = 0x40000000ull | 0x83;
	gpage(2)[2] = (GBASE + 3 * 4096) | 3;
	gpage(2)[3] = 0x200000ull | 0x83;
	gpage(3)[0] = (GBASE + 10 * 4096) | 3;
	gpage(3)[1] = (GBASE + 11 * 4096) | 3 | (1ull << 63); /* NX is not an address bit */

	CHECK_EQ(svm_guest_walk(v->save.cr0, v->save.cr3, v->save.cr4, 0x400123, gpa_fn, &calls,
				&gpa),
		 0);
	CHECK_EQ(gpa, GBASE + 10 * 4096 + 0x123);
	CHECK_EQ(calls, 4);
	CHECK_EQ(svm_guest_walk(v->save.cr0, v->save.cr3, v->save.cr4, 0x401ff8, gpa_fn, &calls,
				&gpa),
		 0);
	CHECK_EQ(gpa, GBASE + 11 * 4096 + 0xff8);
	CHECK_EQ(svm_guest_walk(v->save.cr0, v->save.cr3, v->save.cr4, 0x7fffff, gpa_fn, &calls,
				&gpa),
		 0);
	CHECK_EQ(gpa, 0x3fffff);
	CHECK_EQ(svm_guest_walk(v->save.cr0, v->save.cr3, v->save.cr4, 0x40000000ull + 0x12345678,
				gpa_fn, &calls, &gpa),
		 0);
	CHECK_EQ(gpa, 0x52345678);
	CHECK_EQ(svm_guest_walk(v->save.cr0, v->save.cr3, v->save.cr4, 0x402000, gpa_fn, &calls,
				&gpa),
		 -EFAULT);
	CHECK_EQ(svm_guest_walk(v->save.cr0, v->save.cr3, v->save.cr4, 0x8000000000ull, gpa_fn,
				&calls, &gpa),
		 -EFAULT);
	/* Paging off: GPA = linear.  LA57: not walked. */
	CHECK_EQ(svm_guest_walk(0x11, v->save.cr3, 0x20, 0x12345, gpa_fn, &calls, &gpa), 0);
	CHECK_EQ(gpa, 0x12345);
	CHECK_EQ(svm_guest_walk(v->save.cr0, v->save.cr3, 0x1020, 0x400000, gpa_fn, &calls, &gpa),
		 -EFAULT);

	/* A read across the 4K boundary comes from two guest pages; it stops
	 * at the page that is not present. */
	for (unsigned i = 0; i < 4096; i++) {
		gmem[10 * 4096 + i] = (uint8_t)i;
		gmem[11 * 4096 + i] = (uint8_t)(0x80 + i);
	}
	CHECK_EQ(svm_read_guest_virt(v, 0x400ff8, buf, 16, gpa_fn, &calls), 16);
	CHECK_EQ(buf[0], 0xf8);
	CHECK_EQ(buf[7], 0xff);
	CHECK_EQ(buf[8], 0x80);
	CHECK_EQ(buf[15], 0x87);
	CHECK_EQ(svm_read_guest_virt(v, 0x401ffc, buf, 16, gpa_fn, &calls), 4);
	CHECK_EQ(svm_read_guest_virt(v, 0x402000, buf, 16, gpa_fn, &calls), 0);
	free(gmem);
	free(v);
}

TEST(svm_msrs_in_vmcb)
{
	struct vmcb *v = vmcb_new(0, 0, 0, 0);
	const uint64_t ok = SVM_EFER_SCE | SVM_EFER_LME | SVM_EFER_NXE;
	uint64_t val = 0;

	v->save.cr0 = 0x80000011;
	v->save.efer = SVM_EFER_LME | SVM_EFER_LMA | SVM_EFER_SVME;
	v->save.g_pat = 0x0007040600070406ull;
	/* The guest does not see SVME; its writes keep SVME and LMA. */
	CHECK_EQ(svm_msr_get(v, 0xc0000080, &val), 0);
	CHECK_EQ(val, SVM_EFER_LME | SVM_EFER_LMA);
	CHECK_EQ(svm_msr_set(v, 0xc0000080, val | SVM_EFER_SCE | SVM_EFER_NXE, ok), 0);
	CHECK_EQ(v->save.efer,
		 SVM_EFER_LME | SVM_EFER_LMA | SVM_EFER_SVME | SVM_EFER_SCE | SVM_EFER_NXE);
	CHECK_EQ(svm_msr_set(v, 0xc0000080, SVM_EFER_LME | SVM_EFER_SCE, ok), 0); /* LMA kept */
	CHECK_EQ(v->save.efer, SVM_EFER_LME | SVM_EFER_LMA | SVM_EFER_SVME | SVM_EFER_SCE);
	/* Reserved bits, SVME itself, NXE without NX, LME off with paging on. */
	CHECK_EQ(svm_msr_set(v, 0xc0000080, SVM_EFER_LME | (1ull << 1), ok), -EINVAL);
	CHECK_EQ(svm_msr_set(v, 0xc0000080, SVM_EFER_LME | SVM_EFER_SVME, ok), -EINVAL);
	CHECK_EQ(svm_msr_set(v, 0xc0000080, SVM_EFER_LME | SVM_EFER_NXE, ok & ~SVM_EFER_NXE),
		 -EINVAL);
	CHECK_EQ(svm_msr_set(v, 0xc0000080, SVM_EFER_SCE, ok), -EINVAL);
	CHECK_EQ(v->save.efer, SVM_EFER_LME | SVM_EFER_LMA | SVM_EFER_SVME | SVM_EFER_SCE);

	/* Bases: canonical only. */
	CHECK_EQ(svm_msr_set(v, 0xc0000101, 0xffff888000000000ull, ok), 0);
	CHECK_EQ(v->save.gs.base, 0xffff888000000000ull);
	CHECK_EQ(svm_msr_set(v, 0xc0000101, 0x0000800000000000ull, ok), -EINVAL);
	CHECK_EQ(v->save.gs.base, 0xffff888000000000ull);
	CHECK_EQ(svm_msr_set(v, 0xc0000100, 0x7fffffffffffull, ok), 0);
	CHECK_EQ(v->save.fs.base, 0x7fffffffffffull);
	CHECK_EQ(svm_msr_set(v, 0xc0000102, 0x1000, ok), 0);
	CHECK_EQ(v->save.kernel_gs_base, 0x1000);
	CHECK_EQ(svm_msr_set(v, 0xc0000082, 0xffffffff81000000ull, ok), 0);
	CHECK_EQ(v->save.lstar, 0xffffffff81000000ull);
	CHECK_EQ(svm_msr_set(v, 0xc0000081, 0x0023001000000000ull, ok), 0);
	CHECK_EQ(v->save.star, 0x0023001000000000ull);
	CHECK_EQ(svm_msr_set(v, 0xc0000084, 0x47700, ok), 0);
	CHECK_EQ(v->save.sfmask, 0x47700);
	CHECK_EQ(svm_msr_set(v, 0x174, 0x10, ok), 0);
	CHECK_EQ(v->save.sysenter_cs, 0x10);
	CHECK_EQ(svm_msr_get(v, 0xc0000082, &val), 0);
	CHECK_EQ(val, 0xffffffff81000000ull);

	/* PAT: memory types 2, 3 and > 7 are reserved. */
	CHECK_EQ(svm_msr_set(v, 0x277, 0x0007010600070406ull, ok), 0);
	CHECK_EQ(v->save.g_pat, 0x0007010600070406ull);
	CHECK_EQ(svm_msr_set(v, 0x277, 0x0007040600070402ull, ok), -EINVAL);
	CHECK_EQ(svm_msr_set(v, 0x277, 0x0807040600070406ull, ok), -EINVAL);
	CHECK_EQ(v->save.g_pat, 0x0007010600070406ull);

	/* Everything else is the caller's. */
	CHECK_EQ(svm_msr_get(v, 0x1b, &val), -ENOENT);
	CHECK_EQ(svm_msr_set(v, 0x10, 0, ok), -ENOENT);
	CHECK_EQ(svm_msr_set(v, 0x830, 0, ok), -ENOENT);
	free(v);
}
