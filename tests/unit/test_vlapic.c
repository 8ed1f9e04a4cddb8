// SOURCES: vm/vlapic.c
/* tests/unit/test_vlapic.c — vm/vlapic.c through its MSR interface with a
 * fake TSC: every x2APIC register's read/write rules and #GP cases (Intel
 * SDM vol. 3A 11.12.1), APIC_BASE, priorities (TPR masking, ISR nesting,
 * EOI order), ESR, self-IPIs and the ICR, the timer in one-shot, periodic
 * and TSC-deadline modes and the TDCR divider. */
#include <string.h>

#include "test.h"
#include "vm/vlapic.h"

#define ID 3
#define TSC_PER_BUS 4

static struct vlapic A;
static uint64_t now;

static void reset(bool enable)
{
	now = 1000;
	CHECK_EQ(vlapic_init(&A, ID, true, TSC_PER_BUS), 0);
	if (enable)
		CHECK_EQ(vlapic_msr_write(&A, X2APIC_SVR, APIC_SVR_ENABLE | 0xff, now), 0);
}
static uint64_t rd(uint32_t msr)
{
	uint64_t v = 0xdeadbeef;

	CHECK_EQ(vlapic_msr_read(&A, msr, now, &v), 0);
	return v;
}
static int rd_rc(uint32_t msr)
{
	uint64_t v;

	return vlapic_msr_read(&A, msr, now, &v);
}
static void wr(uint32_t msr, uint64_t v) { CHECK_EQ(vlapic_msr_write(&A, msr, v, now), 0); }
static int wr_rc(uint32_t msr, uint64_t v) { return vlapic_msr_write(&A, msr, v, now); }
static bool irr(unsigned v) { return (rd(X2APIC_IRR0 + v / 32) >> (v % 32)) & 1; }
static bool isr(unsigned v) { return (rd(X2APIC_ISR0 + v / 32) >> (v % 32)) & 1; }
/* What the VM does to inject: the pending vector goes in service. */
static int take(void)
{
	int v = vlapic_pending(&A);

	if (v >= 0)
		vlapic_ack(&A, (uint8_t)v);
	return v;
}
static uint32_t esr(void)
{
	wr(X2APIC_ESR, 0);
	return (uint32_t)rd(X2APIC_ESR);
}

/* ---- register rules */

TEST(reset_state)
{
	reset(false);
	CHECK_EQ(rd(X2APIC_ID), ID);
	CHECK_EQ(rd(X2APIC_VER), 0x00050014);
	CHECK_EQ(rd(X2APIC_TPR), 0);
	CHECK_EQ(rd(X2APIC_PPR), 0);
	CHECK_EQ(rd(X2APIC_LDR), 1u << ID);
	CHECK_EQ(rd(X2APIC_SVR), 0xff);
	for (uint32_t r = X2APIC_LVT_TIMER; r <= X2APIC_LVT_ERROR; r++)
		CHECK_EQ(rd(r), APIC_LVT_MASKED);
	for (unsigned i = 0; i < 8; i++) {
		CHECK_EQ(rd(X2APIC_ISR0 + i), 0);
		CHECK_EQ(rd(X2APIC_TMR0 + i), 0);
		CHECK_EQ(rd(X2APIC_IRR0 + i), 0);
	}
	CHECK_EQ(rd(X2APIC_ESR), 0);
	CHECK_EQ(rd(X2APIC_ICR), 0);
	CHECK_EQ(rd(X2APIC_TMICT), 0);
	CHECK_EQ(rd(X2APIC_TMCCT), 0);
	CHECK_EQ(rd(X2APIC_TDCR), 0);
	CHECK_EQ(rd(MSR_IA32_TSC_DEADLINE), 0);
	CHECK_EQ(vlapic_pending(&A), -1);
	CHECK_EQ(vlapic_next_deadline(&A), 0);

	CHECK_EQ(vlapic_init(&A, ID, true, 0), -EINVAL);
	CHECK_EQ(vlapic_init(&A, ID, true, VLAPIC_TSC_PER_BUS_MAX + 1), -EINVAL);
	CHECK_EQ(vlapic_init(&A, 0x25, false, VLAPIC_TSC_PER_BUS_MAX), 0);
	CHECK_EQ(rd(X2APIC_ID), 0x25);
	CHECK_EQ(rd(X2APIC_LDR), 2u << 16 | 1u << 5); /* cluster 2, member 5 */
}

/* Every MSR of 0x800-0x8FF: exactly the listed registers read, exactly the
 * listed ones take a write, all others #GP both ways. */
TEST(register_space)
{
	static const uint32_t readable[] = {X2APIC_ID,	  X2APIC_VER,	X2APIC_TPR, X2APIC_PPR,
					    X2APIC_LDR,	  X2APIC_SVR,	X2APIC_ESR, X2APIC_ICR,
					    X2APIC_TMICT, X2APIC_TMCCT, X2APIC_TDCR};
	static const uint32_t writable[] = {X2APIC_TPR, X2APIC_EOI,   X2APIC_SVR,  X2APIC_ESR,
					    X2APIC_ICR, X2APIC_TMICT, X2APIC_TDCR, X2APIC_SELF_IPI};

	for (uint32_t msr = MSR_X2APIC_FIRST; msr <= MSR_X2APIC_LAST; msr++) {
		bool r = msr >= X2APIC_ISR0 && msr < X2APIC_IRR0 + 8;
		bool w = false;

		r |= msr >= X2APIC_LVT_TIMER && msr <= X2APIC_LVT_ERROR;
		w |= msr >= X2APIC_LVT_TIMER && msr <= X2APIC_LVT_ERROR;
		for (unsigned i = 0; i < sizeof(readable) / sizeof(readable[0]); i++)
			r |= msr == readable[i];
		for (unsigned i = 0; i < sizeof(writable) / sizeof(writable[0]); i++)
			w |= msr == writable[i];
		reset(true);
		if ((rd_rc(msr) == 0) != r || (r ? 0 : rd_rc(msr)) != (r ? 0 : -EINVAL)) {
			printf("  read 0x%x\n", msr);
			CHECK(false);
		}
		if ((wr_rc(msr, 0) == 0) != w || (!w && wr_rc(msr, 0) != -EINVAL)) {
			printf("  write 0x%x\n", msr);
			CHECK(false);
		}
	}
}

TEST(read_only_registers_keep_their_value)
{
	static const uint32_t ro[] = {X2APIC_ID,    X2APIC_VER,	     X2APIC_PPR,  X2APIC_LDR,
				      X2APIC_TMCCT, X2APIC_ISR0 + 7, X2APIC_TMR0, X2APIC_IRR0 + 7};

	reset(true);
	vlapic_set_irq(&A, 0xf0);
	for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		uint64_t before = rd(ro[i]);

		CHECK_EQ(wr_rc(ro[i], 0x12345678), -EINVAL);
		CHECK_EQ(rd(ro[i]), before);
	}
	CHECK(irr(0xf0));
	CHECK_EQ(rd(X2APIC_ID), ID);
	CHECK_EQ(rd_rc(X2APIC_EOI), -EINVAL); /* write-only */
	CHECK_EQ(rd_rc(X2APIC_SELF_IPI), -EINVAL);
}

TEST(not_apic_msrs)
{
	static const uint32_t others[] = {
		0x7ff,	   0x900, 0x10, 0x1a, 0x1c, 0x6df, 0x6e1, 0xc0000080u, MSR_X2APIC_FIRST - 1,
		0x4b564d01};

	reset(true);
	for (unsigned i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		CHECK_EQ(rd_rc(others[i]), -ENOENT);
		CHECK_EQ(wr_rc(others[i], 0), -ENOENT);
	}
}

TEST(reserved_bits_fault)
{
	reset(true);
	/* SDM 11.12.1.2: bits 63:32 reserved everywhere but the ICR */
	CHECK_EQ(wr_rc(X2APIC_TPR, 1ull << 32), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_SVR, 0x1ffull | 1ull << 63), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_EOI, 1ull << 32), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_TMICT, 1ull << 32), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_LVT_TIMER, 0x30ull | 1ull << 40), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_SELF_IPI, 0x40ull | 1ull << 32), -EINVAL);
	CHECK_EQ(rd(X2APIC_TMICT), 0);
	CHECK_EQ(rd(X2APIC_LVT_TIMER), APIC_LVT_MASKED);
	CHECK(!irr(0x40));
	/* SDM 11.12.1.3: non-zero writes to reserved bits fault */
	CHECK_EQ(wr_rc(X2APIC_TPR, 0x100), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_SVR, 0x5ff), -EINVAL);  /* bit 10 */
	CHECK_EQ(wr_rc(X2APIC_SVR, 0x11ff), -EINVAL); /* bit 12: no EOI-broadcast suppression */
	CHECK_EQ(rd(X2APIC_SVR), 0x1ff);
	CHECK_EQ(wr_rc(X2APIC_LVT_TIMER, 0x60030), -EINVAL); /* timer mode 11b */
	CHECK_EQ(wr_rc(X2APIC_LVT_TIMER, 0x80030), -EINVAL); /* bit 19 */
	CHECK_EQ(wr_rc(X2APIC_LVT_TIMER, 0x00430), -EINVAL); /* no delivery mode */
	CHECK_EQ(wr_rc(X2APIC_LVT_ERROR, 0x00130), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_LVT_LINT0, 0x00830), -EINVAL);   /* bit 11 */
	CHECK_EQ(wr_rc(X2APIC_LVT_THERMAL, 0x02030), -EINVAL); /* no polarity */
	CHECK_EQ(wr_rc(X2APIC_LVT_PMC, 0x20030), -EINVAL);
	for (uint32_t r = X2APIC_LVT_TIMER; r <= X2APIC_LVT_ERROR; r++)
		CHECK_EQ(rd(r), APIC_LVT_MASKED);
	CHECK_EQ(wr_rc(X2APIC_TDCR, 0x4), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_TDCR, 0x10), -EINVAL);
	CHECK_EQ(rd(X2APIC_TDCR), 0);
	CHECK_EQ(wr_rc(X2APIC_EOI, 1), -EINVAL); /* SDM 11.12.1.2 */
	CHECK_EQ(wr_rc(X2APIC_ESR, 1), -EINVAL);
	CHECK_EQ(wr_rc(X2APIC_SELF_IPI, 0x140), -EINVAL);
	CHECK(!irr(0x40));
	/* ICR: bits 13, 16-17, 20-31 (SDM 11.12.9) */
	static const unsigned icr_rsvd[] = {13, 16, 17, 20, 25, 31};

	for (unsigned i = 0; i < sizeof(icr_rsvd) / sizeof(icr_rsvd[0]); i++)
		CHECK_EQ(wr_rc(X2APIC_ICR, APIC_ICR_DEST_SELF | 0x40 | 1ull << icr_rsvd[i]),
			 -EINVAL);
	CHECK(!irr(0x40));
	CHECK_EQ(rd(X2APIC_ICR), 0);
	/* bit 12, the xAPIC delivery status, is ignored */
	wr(X2APIC_ICR, APIC_ICR_DEST_SELF | 0x40 | 1ull << 12);
	CHECK(irr(0x40));
	CHECK_EQ(rd(X2APIC_ICR), APIC_ICR_DEST_SELF | 0x40);
}

TEST(read_write_registers)
{
	reset(true);
	wr(X2APIC_TPR, 0xa5);
	CHECK_EQ(rd(X2APIC_TPR), 0xa5);
	wr(X2APIC_SVR, 0x3ff);
	CHECK_EQ(rd(X2APIC_SVR), 0x3ff);
	/* read-only bits (delivery status, remote IRR) are ignored */
	wr(X2APIC_LVT_LINT0, 0x1f7ff);
	CHECK_EQ(rd(X2APIC_LVT_LINT0), 0x1a7ff);
	wr(X2APIC_LVT_LINT1, 0x00400); /* NMI */
	CHECK_EQ(rd(X2APIC_LVT_LINT1), 0x00400);
	wr(X2APIC_LVT_THERMAL, 0x117ee);
	CHECK_EQ(rd(X2APIC_LVT_THERMAL), 0x107ee);
	wr(X2APIC_LVT_PMC, 0x00400);
	CHECK_EQ(rd(X2APIC_LVT_PMC), 0x00400);
	wr(X2APIC_LVT_ERROR, 0x110fe);
	CHECK_EQ(rd(X2APIC_LVT_ERROR), 0x100fe);
	wr(X2APIC_LVT_TIMER, 0x410ec);
	CHECK_EQ(rd(X2APIC_LVT_TIMER), 0x400ec);
	wr(X2APIC_TDCR, 0xb);
	CHECK_EQ(rd(X2APIC_TDCR), 0xb);
	wr(X2APIC_ICR, 4ull << 32 | 0x4031);
	CHECK_EQ(rd(X2APIC_ICR), 4ull << 32 | 0x4031);
}

TEST(software_disable_masks_lvts)
{
	reset(true);
	wr(X2APIC_LVT_TIMER, 0x30);
	wr(X2APIC_LVT_LINT0, 0x700);
	wr(X2APIC_SVR, 0xff); /* SDM 11.4.7.2: every LVT masked */
	CHECK_EQ(rd(X2APIC_LVT_TIMER), 0x10030);
	CHECK_EQ(rd(X2APIC_LVT_LINT0), 0x10700);
	wr(X2APIC_LVT_TIMER, 0x31); /* the mask cannot be cleared while disabled */
	CHECK_EQ(rd(X2APIC_LVT_TIMER), 0x10031);
	vlapic_set_irq(&A, 0x50);
	CHECK(!irr(0x50));
	CHECK_EQ(A.irqs_dropped, 1);
	wr(X2APIC_SELF_IPI, 0x50);
	CHECK(!irr(0x50));
	wr(X2APIC_SVR, 0x1ff); /* enabling leaves them masked until rewritten */
	CHECK_EQ(rd(X2APIC_LVT_TIMER), 0x10031);
	wr(X2APIC_LVT_TIMER, 0x31);
	CHECK_EQ(rd(X2APIC_LVT_TIMER), 0x31);
	vlapic_set_irq(&A, 0x50);
	CHECK(irr(0x50));
}

TEST(apic_base)
{
	reset(true);
	CHECK_EQ(rd(MSR_IA32_APIC_BASE), 0xfee00d00ull); /* EN | EXTD | BSP */
	wr(MSR_IA32_APIC_BASE, 0xfee00d00ull);
	wr(MSR_IA32_APIC_BASE, 0xfee00c00ull); /* BSP ignored */
	CHECK_EQ(rd(MSR_IA32_APIC_BASE), 0xfee00d00ull);
	CHECK_EQ(wr_rc(MSR_IA32_APIC_BASE, 0xfee00900ull), -EINVAL); /* x2APIC -> xAPIC */
	CHECK_EQ(wr_rc(MSR_IA32_APIC_BASE, 0xfee00100ull), -EINVAL); /* disable */
	CHECK_EQ(wr_rc(MSR_IA32_APIC_BASE, 0xfed00d00ull), -EINVAL); /* move */
	CHECK_EQ(wr_rc(MSR_IA32_APIC_BASE, 0xfee00d01ull), -EINVAL); /* reserved */
	CHECK_EQ(wr_rc(MSR_IA32_APIC_BASE, 0xfee00d00ull | 1ull << 52), -EINVAL);
	CHECK_EQ(rd(MSR_IA32_APIC_BASE), 0xfee00d00ull);
	CHECK_EQ(vlapic_init(&A, 1, false, 1), 0);
	CHECK_EQ(rd(MSR_IA32_APIC_BASE), 0xfee00c00ull);
}

/* ---- priorities */

TEST(tpr_masks_by_class)
{
	reset(true);
	vlapic_set_irq(&A, 0x45);
	CHECK_EQ(vlapic_pending(&A), 0x45);
	wr(X2APIC_TPR, 0x40); /* SDM 11.8.3: same class is blocked */
	CHECK_EQ(rd(X2APIC_PPR), 0x40);
	CHECK_EQ(vlapic_pending(&A), -1);
	wr(X2APIC_TPR, 0x4f);
	CHECK_EQ(vlapic_pending(&A), -1);
	wr(X2APIC_TPR, 0x3f);
	CHECK_EQ(vlapic_pending(&A), 0x45);
	wr(X2APIC_TPR, 0xff);
	CHECK_EQ(vlapic_pending(&A), -1);
	vlapic_set_irq(&A, 0xff);
	CHECK_EQ(vlapic_pending(&A), -1);
	wr(X2APIC_TPR, 0);
	CHECK_EQ(vlapic_pending(&A), 0xff); /* the highest first */
}

TEST(isr_nesting_and_eoi_order)
{
	reset(true);
	vlapic_set_irq(&A, 0x31);
	CHECK_EQ(take(), 0x31);
	CHECK(isr(0x31) && !irr(0x31));
	CHECK_EQ(rd(X2APIC_ISR0 + 1), 1u << 17);
	CHECK_EQ(rd(X2APIC_PPR), 0x30);
	vlapic_set_irq(&A, 0x35); /* same class as the one in service: waits */
	CHECK_EQ(vlapic_pending(&A), -1);
	vlapic_set_irq(&A, 0x41); /* higher class: nests */
	CHECK_EQ(take(), 0x41);
	CHECK_EQ(rd(X2APIC_PPR), 0x40);
	wr(X2APIC_TPR, 0x50); /* PPR is the higher of TPR and the ISR class */
	CHECK_EQ(rd(X2APIC_PPR), 0x50);
	wr(X2APIC_TPR, 0x23);
	CHECK_EQ(rd(X2APIC_PPR), 0x40);
	wr(X2APIC_EOI, 0); /* retires the highest in service: 0x41 */
	CHECK(!isr(0x41) && isr(0x31));
	CHECK_EQ(rd(X2APIC_PPR), 0x30);
	CHECK_EQ(vlapic_pending(&A), -1);
	wr(X2APIC_EOI, 0);
	CHECK(!isr(0x31));
	CHECK_EQ(rd(X2APIC_PPR), 0x23);
	CHECK_EQ(take(), 0x35);
	wr(X2APIC_EOI, 0);
	CHECK_EQ(rd(X2APIC_PPR), 0x23);
	wr(X2APIC_EOI, 0); /* nothing in service: harmless */
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(rd(X2APIC_ISR0 + i), 0);
	vlapic_ack(&A, 0x77); /* not requested: nothing goes in service */
	CHECK(!isr(0x77));
}

TEST(irr_registers_and_tmr)
{
	reset(true);
	vlapic_set_irq(&A, 0xec);
	vlapic_set_irq(&A, 0x10);
	vlapic_set_irq(&A, 0x10); /* edge: one bit however many times */
	CHECK_EQ(rd(X2APIC_IRR0 + 7), 1u << 12);
	CHECK_EQ(rd(X2APIC_IRR0), 1u << 16);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(rd(X2APIC_TMR0 + i), 0);
	CHECK_EQ(take(), 0xec);
	CHECK_EQ(vlapic_pending(&A), -1); /* class 1 waits behind 0xec in service */
	wr(X2APIC_EOI, 0);
	CHECK_EQ(take(), 0x10);
}

TEST(illegal_vectors_and_esr)
{
	reset(true);
	vlapic_set_irq(&A, 5);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(rd(X2APIC_IRR0 + i), 0);
	CHECK_EQ(rd(X2APIC_ESR), 0); /* SDM 11.5.3: visible after a write */
	CHECK_EQ(esr(), APIC_ESR_RECV_ILLEGAL);
	CHECK_EQ(esr(), 0);
	wr(X2APIC_SELF_IPI, 15);
	CHECK_EQ(esr(), APIC_ESR_SEND_ILLEGAL);
	wr(X2APIC_ICR, APIC_ICR_DEST_SELF | 2);
	CHECK_EQ(esr(), APIC_ESR_SEND_ILLEGAL);
	CHECK_EQ(vlapic_pending(&A), -1);
	/* the error LVT, when unmasked, raises its vector */
	wr(X2APIC_LVT_ERROR, 0xfe);
	vlapic_set_irq(&A, 0);
	CHECK(irr(0xfe));
	CHECK_EQ(esr(), APIC_ESR_RECV_ILLEGAL);
	/* a timer LVT with an illegal vector is an error, not an interrupt */
	wr(X2APIC_LVT_TIMER, 0x0e);
	wr(X2APIC_TMICT, 1);
	vlapic_tick(&A, now + 1000);
	CHECK(!irr(0x0e));
	CHECK_EQ(esr(), APIC_ESR_RECV_ILLEGAL);
	CHECK_EQ(rd(X2APIC_IRR0) & 0xffff, 0);
}

/* ---- IPIs */

TEST(self_ipi)
{
	reset(true);
	wr(X2APIC_SELF_IPI, 0x55);
	CHECK(irr(0x55));
	CHECK_EQ(A.ipis_dropped, 0);
	CHECK_EQ(take(), 0x55);
	wr(X2APIC_SELF_IPI, 0x55); /* again while in service: pending behind it */
	CHECK(irr(0x55) && isr(0x55));
	CHECK_EQ(vlapic_pending(&A), -1);
}

TEST(icr_targets)
{
	reset(true);
	wr(X2APIC_ICR, (uint64_t)ID << 32 | 0x61); /* physical, own ID */
	CHECK(irr(0x61));
	wr(X2APIC_ICR, 4ull << 32 | 0x62); /* another CPU */
	CHECK(!irr(0x62));
	CHECK_EQ(A.ipis_dropped, 1);
	wr(X2APIC_ICR, 0xffffffffull << 32 | 0x63); /* broadcast */
	CHECK(irr(0x63));
	wr(X2APIC_ICR, APIC_ICR_DEST_SELF | 0x64);
	CHECK(irr(0x64));
	wr(X2APIC_ICR, APIC_ICR_DEST_ALL | 0x65);
	CHECK(irr(0x65));
	wr(X2APIC_ICR, APIC_ICR_DEST_OTHERS | 0x66);
	CHECK(!irr(0x66));
	CHECK_EQ(A.ipis_dropped, 2);
	wr(X2APIC_ICR, APIC_ICR_DEST_SELF | APIC_ICR_DM_NMI | 0x67);		/* not fixed */
	wr(X2APIC_ICR, (uint64_t)ID << 32 | 5ull << 8 | APIC_ICR_LEVEL_ASSERT); /* INIT */
	CHECK(!irr(0x67));
	CHECK_EQ(A.ipis_dropped, 4);
	/* logical (SDM 11.12.10.2): ID 3 is cluster 0, member bit 3 */
	wr(X2APIC_ICR, APIC_ICR_LOGICAL | 0x8ull << 32 | 0x68);
	CHECK(irr(0x68));
	wr(X2APIC_ICR, APIC_ICR_LOGICAL | 0xfff7ull << 32 | 0x69);
	CHECK(!irr(0x69));
	wr(X2APIC_ICR, APIC_ICR_LOGICAL | 0x10008ull << 32 | 0x6a); /* cluster 1 */
	CHECK(!irr(0x6a));
	CHECK_EQ(A.ipis_dropped, 6);
	CHECK_EQ(rd(X2APIC_ICR), APIC_ICR_LOGICAL | 0x10008ull << 32 | 0x6a);
	CHECK_EQ(esr(), 0);
}

/* ---- the timer */

TEST(timer_one_shot)
{
	reset(true);
	wr(X2APIC_TDCR, 0xb); /* divide by 1: a count is TSC_PER_BUS ticks */
	wr(X2APIC_LVT_TIMER, 0x30);
	wr(X2APIC_TMICT, 100);
	CHECK_EQ(vlapic_next_deadline(&A), 1000 + 100 * TSC_PER_BUS);
	CHECK_EQ(rd(X2APIC_TMICT), 100);
	CHECK_EQ(rd(X2APIC_TMCCT), 100);
	now = 1200;
	CHECK_EQ(rd(X2APIC_TMCCT), 50);
	now = 1397;
	CHECK_EQ(rd(X2APIC_TMCCT), 1);
	vlapic_tick(&A, 1399);
	CHECK(!irr(0x30));
	vlapic_tick(&A, 1400);
	CHECK(irr(0x30));
	CHECK_EQ(vlapic_next_deadline(&A), 0);
	now = 1400;
	CHECK_EQ(rd(X2APIC_TMCCT), 0);
	CHECK_EQ(take(), 0x30);
	wr(X2APIC_EOI, 0);
	vlapic_tick(&A, 100000); /* fires once only */
	CHECK(!irr(0x30));
	CHECK_EQ(A.timer_fired, 1);
	CHECK_EQ(rd(X2APIC_TMICT), 100);
	/* a new TMICT restarts it; 0 stops it */
	wr(X2APIC_TMICT, 10);
	CHECK_EQ(vlapic_next_deadline(&A), 1400 + 10 * TSC_PER_BUS);
	wr(X2APIC_TMICT, 0);
	CHECK_EQ(vlapic_next_deadline(&A), 0);
	vlapic_tick(&A, 200000);
	CHECK_EQ(A.timer_fired, 1);
}

TEST(timer_periodic)
{
	reset(true);
	now = 0;
	wr(X2APIC_LVT_TIMER, APIC_TIMER_PERIODIC | 0x30);
	wr(X2APIC_TMICT, 10); /* TDCR 0: divide by 2, period 10 * 2 * 4 = 80 */
	CHECK_EQ(vlapic_next_deadline(&A), 80);
	vlapic_tick(&A, 80);
	CHECK(irr(0x30));
	CHECK_EQ(vlapic_next_deadline(&A), 160);
	CHECK_EQ(take(), 0x30);
	wr(X2APIC_EOI, 0);
	vlapic_tick(&A, 400); /* missed periods coalesce into one interrupt */
	CHECK(irr(0x30));
	CHECK_EQ(A.timer_fired, 2);
	CHECK_EQ(vlapic_next_deadline(&A), 480);
	now = 450;
	CHECK_EQ(rd(X2APIC_TMCCT), 4); /* 30 ticks left = 3.75 counts */
	CHECK_EQ(A.timer_fired, 2);
	now = 500; /* overdue, not yet ticked: the access fires it first */
	CHECK_EQ(rd(X2APIC_TMCCT), 8);
	CHECK_EQ(A.timer_fired, 3);
	CHECK_EQ(vlapic_next_deadline(&A), 560);
	/* one-shot <-> periodic keeps the count running */
	wr(X2APIC_LVT_TIMER, APIC_TIMER_ONESHOT | 0x30);
	CHECK_EQ(vlapic_next_deadline(&A), 560);
	vlapic_tick(&A, 560);
	CHECK_EQ(vlapic_next_deadline(&A), 0);
	CHECK_EQ(A.timer_fired, 4);
}

/* An MSR access at a time a timer is due sees it fired, whatever it is. */
TEST(timer_due_fires_before_an_access)
{
	reset(true);
	now = 0;
	wr(X2APIC_LVT_TIMER, APIC_TIMER_PERIODIC | 0x30);
	wr(X2APIC_TMICT, 10); /* period 80 */
	now = 100;	      /* due at 80, no tick: a TDCR write must not lose it */
	wr(X2APIC_TDCR, 0xb);
	CHECK_EQ(A.timer_fired, 1);
	CHECK(irr(0x30));
	/* 60 TSC ticks of the next period left: 8 counts (7.5 rounded up), now
	 * TSC_PER_BUS ticks each at divide by 1 */
	CHECK_EQ(vlapic_next_deadline(&A), 100 + 8 * TSC_PER_BUS);
	/* a masking write comes after the expiry it races with */
	CHECK_EQ(take(), 0x30);
	wr(X2APIC_EOI, 0);
	now = 160;
	wr(X2APIC_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_PERIODIC | 0x30);
	CHECK(irr(0x30));
	CHECK_EQ(A.timer_fired, 2);
	/* a one-shot due before a TMICT rewrite fires, then restarts */
	reset(true);
	now = 0;
	wr(X2APIC_LVT_TIMER, 0x31);
	wr(X2APIC_TMICT, 1); /* due at 8 */
	now = 50;
	wr(X2APIC_TMICT, 1);
	CHECK(irr(0x31));
	CHECK_EQ(A.timer_fired, 1);
	CHECK_EQ(vlapic_next_deadline(&A), 58);
	/* a read does the same */
	now = 60;
	CHECK_EQ(rd(X2APIC_ID), ID);
	CHECK_EQ(A.timer_fired, 2);
	CHECK_EQ(vlapic_next_deadline(&A), 0);
}

TEST(timer_masked_counts_without_irr)
{
	reset(true);
	now = 0;
	wr(X2APIC_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_PERIODIC | 0x30);
	wr(X2APIC_TMICT, 1);
	vlapic_tick(&A, 8);
	CHECK_EQ(A.timer_fired, 1);
	CHECK_EQ(vlapic_next_deadline(&A), 16);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(rd(X2APIC_IRR0 + i), 0);
	wr(X2APIC_LVT_TIMER, APIC_TIMER_PERIODIC | 0x30); /* unmasked again */
	vlapic_tick(&A, 16);
	CHECK(irr(0x30));
}

TEST(tdcr_divides)
{
	static const struct {
		uint32_t tdcr, div;
	} t[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
		 {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		reset(true);
		wr(X2APIC_LVT_TIMER, 0x30);
		wr(X2APIC_TDCR, t[i].tdcr);
		wr(X2APIC_TMICT, 3);
		CHECK_EQ(vlapic_next_deadline(&A), now + 3ull * t[i].div * TSC_PER_BUS);
	}
	/* a new divider applies to the rest of the count */
	reset(true);
	now = 0;
	wr(X2APIC_LVT_TIMER, 0x30);
	wr(X2APIC_TDCR, 0xb);
	wr(X2APIC_TMICT, 100);
	now = 200; /* 50 counts left */
	wr(X2APIC_TDCR, 0x0);
	CHECK_EQ(vlapic_next_deadline(&A), 200 + 50 * 2 * TSC_PER_BUS);
	CHECK_EQ(rd(X2APIC_TMCCT), 50);
}

TEST(timer_tsc_deadline)
{
	reset(true);
	wr(X2APIC_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | 0xec);
	wr(MSR_IA32_TSC_DEADLINE, 5000);
	CHECK_EQ(rd(MSR_IA32_TSC_DEADLINE), 5000);
	CHECK_EQ(vlapic_next_deadline(&A), 5000);
	wr(X2APIC_TMICT, 10); /* SDM 11.5.4.1: ignored in this mode */
	CHECK_EQ(rd(X2APIC_TMICT), 0);
	CHECK_EQ(rd(X2APIC_TMCCT), 0);
	CHECK_EQ(vlapic_next_deadline(&A), 5000);
	vlapic_tick(&A, 4999);
	CHECK(!irr(0xec));
	vlapic_tick(&A, 5000);
	CHECK(irr(0xec));
	CHECK_EQ(rd(MSR_IA32_TSC_DEADLINE), 0); /* disarmed on expiry */
	CHECK_EQ(vlapic_next_deadline(&A), 0);
	CHECK_EQ(take(), 0xec);
	wr(X2APIC_EOI, 0);
	vlapic_tick(&A, 100000);
	CHECK_EQ(A.timer_fired, 1);
	/* 0 disarms */
	wr(MSR_IA32_TSC_DEADLINE, 9000);
	wr(MSR_IA32_TSC_DEADLINE, 0);
	CHECK_EQ(vlapic_next_deadline(&A), 0);
	vlapic_tick(&A, 100000);
	CHECK_EQ(A.timer_fired, 1);
	/* a deadline already passed fires at once */
	now = 20000;
	wr(MSR_IA32_TSC_DEADLINE, 500);
	CHECK(irr(0xec));
	CHECK_EQ(rd(MSR_IA32_TSC_DEADLINE), 0);
	CHECK_EQ(A.timer_fired, 2);
	/* masked: expires, no interrupt */
	CHECK_EQ(take(), 0xec);
	wr(X2APIC_EOI, 0);
	wr(X2APIC_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_TSC_DEADLINE | 0xec);
	wr(MSR_IA32_TSC_DEADLINE, 20001);
	vlapic_tick(&A, 20001);
	CHECK(!irr(0xec));
	CHECK_EQ(A.timer_fired, 3);
}

TEST(timer_mode_switches)
{
	reset(true);
	/* outside TSC-deadline mode the MSR reads 0 and ignores writes */
	wr(X2APIC_LVT_TIMER, 0x30);
	wr(MSR_IA32_TSC_DEADLINE, 5000);
	CHECK_EQ(rd(MSR_IA32_TSC_DEADLINE), 0);
	CHECK_EQ(vlapic_next_deadline(&A), 0);
	/* SDM 11.5.4.1: entering TSC-deadline mode disarms a count */
	wr(X2APIC_TMICT, 100);
	CHECK(vlapic_next_deadline(&A) != 0);
	wr(X2APIC_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | 0x30);
	CHECK_EQ(vlapic_next_deadline(&A), 0);
	CHECK_EQ(rd(X2APIC_TMICT), 0);
	/* and leaving it disarms the deadline */
	wr(MSR_IA32_TSC_DEADLINE, 5000);
	wr(X2APIC_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | 0x31); /* same mode: kept */
	CHECK_EQ(vlapic_next_deadline(&A), 5000);
	wr(X2APIC_LVT_TIMER, APIC_TIMER_PERIODIC | 0x30);
	CHECK_EQ(vlapic_next_deadline(&A), 0);
	CHECK_EQ(rd(MSR_IA32_TSC_DEADLINE), 0);
	vlapic_tick(&A, 100000);
	CHECK_EQ(A.timer_fired, 0);
}
