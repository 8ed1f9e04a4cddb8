// SOURCES: vm/vlapic.c
/* tests/fuzz/fuzz_vlapic.c — random sequences of x2APIC MSR reads and
 * writes, interrupts, injections, EOIs and timer ticks on one vLAPIC, the
 * fake TSC moving forward.  Invariants checked after every step: vectors
 * 0-15 are never in IRR or ISR; PPR and the pending vector agree with an
 * independent computation from TPR, ISR and IRR; registers never hold
 * reserved bits; LVTs stay masked while the APIC is software-disabled;
 * TMCCT never exceeds TMICT; the return codes follow the MSR ranges; a tick
 * or any MSR access leaves no timer due.
 *
 * Input: byte 0 picks the APIC ID, the bus clock ratio and the starting
 * TSC, then 12-byte records: op, register, 64-bit value, 16-bit TSC step
 * (little-endian). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/vlapic.h"

#define ASSERT(c)                         \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static const uint32_t lvt_rw[VLAPIC_NR_LVT] = {0x700ff, 0x107ff, 0x107ff,
					       0x1a7ff, 0x1a7ff, 0x100ff};

static int highest(const uint32_t *r)
{
	for (int i = 255; i >= 0; i--)
		if ((r[i / 32] >> (i % 32)) & 1)
			return i;
	return -1;
}

static bool readable(uint32_t msr)
{
	switch (msr) {
	case 0x802:
	case 0x803:
	case 0x808:
	case 0x80a:
	case 0x80d:
	case 0x80f:
	case 0x828:
	case 0x830:
	case 0x838:
	case 0x839:
	case 0x83e: return true;
	}
	return (msr >= 0x810 && msr <= 0x827) || (msr >= 0x832 && msr <= 0x837);
}

static uint64_t rd(struct vlapic *a, uint32_t msr, uint64_t now)
{
	uint64_t v = 0;

	ASSERT(vlapic_msr_read(a, msr, now, &v) == 0);
	return v;
}

static void check(struct vlapic *a, uint64_t now)
{
	/* any access fires what is due: no timer is left due after it */
	ASSERT(rd(a, X2APIC_ID, now) == a->id);
	ASSERT(!vlapic_next_deadline(a) || vlapic_next_deadline(a) > now);

	int isrv = highest(a->isr), irrv = highest(a->irr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	uint32_t ppr = (a->tpr & 0xf0) >= isr_class ? a->tpr : isr_class;
	int want = irrv >= 0 && ((uint32_t)irrv & 0xf0) > (ppr & 0xf0) ? irrv : -1;

	ASSERT(!(a->irr[0] & 0xffff) && !(a->isr[0] & 0xffff));
	ASSERT(rd(a, X2APIC_PPR, now) == ppr && vlapic_ppr(a) == ppr);
	ASSERT(vlapic_pending(a) == want);
	ASSERT(a->tpr <= 0xff && !(a->svr & ~0x3ffu) && !(a->tdcr & ~0xbu));
	ASSERT(!(a->icr & 0xfff33000ull));
	for (unsigned i = 0; i < VLAPIC_NR_LVT; i++) {
		ASSERT(!(a->lvt[i] & ~lvt_rw[i]));
		ASSERT((a->svr & APIC_SVR_ENABLE) || (a->lvt[i] & APIC_LVT_MASKED));
	}
	ASSERT((a->lvt[0] & APIC_LVT_TIMER_MODE) != APIC_LVT_TIMER_MODE);
	uint64_t cc = rd(a, X2APIC_TMCCT, now);

	ASSERT(cc <= a->tmict);
	if ((a->lvt[0] & APIC_LVT_TIMER_MODE) == APIC_TIMER_TSC_DEADLINE)
		ASSERT(cc == 0 && rd(a, X2APIC_TMICT, now) == 0);
	else
		ASSERT(rd(a, MSR_IA32_TSC_DEADLINE, now) == 0);
	ASSERT(rd(a, X2APIC_ID, now) == a->id);
	ASSERT(rd(a, MSR_IA32_APIC_BASE, now) == (0xfee00c00ull | (a->bsp ? APIC_BASE_BSP : 0)));
}

static void op_read(struct vlapic *a, uint32_t msr, uint64_t now)
{
	uint64_t v = 0;
	int rc = vlapic_msr_read(a, msr, now, &v);

	if (msr == MSR_IA32_APIC_BASE || msr == MSR_IA32_TSC_DEADLINE)
		ASSERT(rc == 0);
	else if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST)
		ASSERT(rc == -ENOENT);
	else
		ASSERT(rc == (readable(msr) ? 0 : -EINVAL));
	if (rc == 0 && msr >= MSR_X2APIC_FIRST && msr != X2APIC_ICR)
		ASSERT(v >> 32 == 0);
}

static void op_write(struct vlapic *a, uint32_t msr, uint64_t val, uint64_t now)
{
	int rc = vlapic_msr_write(a, msr, val, now);

	if (msr == MSR_IA32_TSC_DEADLINE)
		ASSERT(rc == 0);
	else if (msr == MSR_IA32_APIC_BASE)
		ASSERT(rc == 0 || rc == -EINVAL);
	else if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST)
		ASSERT(rc == -ENOENT);
	else
		ASSERT(rc == 0 || rc == -EINVAL);
	if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST && msr != X2APIC_ICR && val >> 32)
		ASSERT(rc == -EINVAL);
}

static uint32_t pick_msr(uint8_t op, uint8_t reg)
{
	static const uint32_t others[4] = {MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, 0x7ff, 0x900};

	return (op & 0x80) ? others[reg & 3] : MSR_X2APIC_FIRST + reg;
}

/* Values near the valid ones are the interesting ones. */
static uint64_t shape(uint8_t op, uint64_t val)
{
	switch ((op >> 4) & 3) {
	case 0: return val & 0x7ffff;
	case 1: return val & 0xffffffffull;
	case 2: return val & 0xff00000000ull ? val : val & 0xc00ff;
	}
	return val;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t starts[4] = {0, 1000, 1ull << 40, 1ull << 62};
	struct vlapic a;
	uint64_t now;

	if (size < 1 || size > 4096)
		return 0;
	ASSERT(vlapic_init(&a, 0, false, 0) == -EINVAL);
	ASSERT(vlapic_init(&a, data[0] & 0x1f, data[0] & 0x20, 1u + (data[0] >> 6) * 7) == 0);
	now = starts[data[0] >> 6];
	check(&a, now);
	for (size_t p = 1; p + 12 <= size; p += 12) {
		uint8_t op = data[p], reg = data[p + 1];
		uint64_t val = 0;

		memcpy(&val, data + p + 2, 8);
		now += (uint64_t)data[p + 10] | (uint64_t)data[p + 11] << 8;
		switch (op & 7) {
		case 0: op_read(&a, pick_msr(op, reg), now); break;
		case 1:
		case 2: op_write(&a, pick_msr(op, reg), shape(op, val), now); break;
		case 3: vlapic_set_irq(&a, reg); break;
		case 4: {
			int v = vlapic_pending(&a);

			if (v >= 0) {
				vlapic_ack(&a, (uint8_t)v);
				ASSERT((a.isr[v / 32] >> (v % 32)) & 1);
			} else {
				vlapic_ack(&a, reg);
			}
			break;
		}
		case 5: ASSERT(vlapic_msr_write(&a, X2APIC_EOI, 0, now) == 0); break;
		case 6:
			vlapic_tick(&a, now);
			ASSERT(!vlapic_next_deadline(&a) || vlapic_next_deadline(&a) > now);
			break;
		case 7: /* arm the timer soon in whichever mode */
			(void)vlapic_msr_write(&a, MSR_IA32_TSC_DEADLINE, now + (val & 0xfff), now);
			(void)vlapic_msr_write(&a, X2APIC_TMICT, val & 0xff, now);
			break;
		}
		check(&a, now);
	}
	return 0;
}
