/*
 * vm/vlapic.c — a vCPU's virtual x2APIC: register file, interrupt
 * acceptance and priority, the timer.  What is and is not modelled, and
 * why, is in docs/vlapic.md.
 */
#include "vm/vlapic.h"

#include <string.h>

#define VEC_MIN 16 /* SDM 11.5.2: vectors 0-15 are illegal */
#define LO32 0xffffffffull

/* Writable and read-only bits of each LVT (SDM 11.5.1, figure 11-8);
 * anything else is reserved. */
static const uint32_t lvt_rw[VLAPIC_NR_LVT] = {
	[VLAPIC_LVT_TIMER] = APIC_LVT_VECTOR | APIC_LVT_MASKED | APIC_LVT_TIMER_MODE,
	[VLAPIC_LVT_THERMAL] = APIC_LVT_VECTOR | APIC_LVT_DM | APIC_LVT_MASKED,
	[VLAPIC_LVT_PMC] = APIC_LVT_VECTOR | APIC_LVT_DM | APIC_LVT_MASKED,
	[VLAPIC_LVT_LINT0] = APIC_LVT_VECTOR | APIC_LVT_DM | APIC_LVT_POLARITY | APIC_LVT_LEVEL |
			     APIC_LVT_MASKED,
	[VLAPIC_LVT_LINT1] = APIC_LVT_VECTOR | APIC_LVT_DM | APIC_LVT_POLARITY | APIC_LVT_LEVEL |
			     APIC_LVT_MASKED,
	[VLAPIC_LVT_ERROR] = APIC_LVT_VECTOR | APIC_LVT_MASKED,
};
static const uint32_t lvt_ro[VLAPIC_NR_LVT] = {
	[VLAPIC_LVT_TIMER] = APIC_LVT_STATUS,
	[VLAPIC_LVT_THERMAL] = APIC_LVT_STATUS,
	[VLAPIC_LVT_PMC] = APIC_LVT_STATUS,
	[VLAPIC_LVT_LINT0] = APIC_LVT_STATUS | APIC_LVT_REMOTE_IRR,
	[VLAPIC_LVT_LINT1] = APIC_LVT_STATUS | APIC_LVT_REMOTE_IRR,
	[VLAPIC_LVT_ERROR] = APIC_LVT_STATUS,
};

/* SDM 11.12.9: one 64-bit register; bits 13, 16-17 and 20-31 are reserved.
 * Bit 12 (delivery status in xAPIC mode) is dropped, not faulted: Intel
 * CPUs ignore a write of it. */
#define ICR_BUSY (1ull << 12)
#define ICR_RW                                                                      \
	(APIC_ICR_VECTOR | APIC_ICR_DM | APIC_ICR_LOGICAL | APIC_ICR_LEVEL_ASSERT | \
	 APIC_ICR_TRIGGER_LEVEL | APIC_ICR_SHORTHAND | (LO32 << APIC_ICR_DEST_SHIFT))
#define SVR_RW (APIC_SVR_VECTOR | APIC_SVR_ENABLE | APIC_SVR_FOCUS)
#define TDCR_RW 0xbu /* SDM 11.5.4: bits 0, 1, 3; bit 2 is 0 */

static bool bit_test(const uint32_t *r, unsigned v) { return (r[v / 32] >> (v % 32)) & 1; }
static void bit_set(uint32_t *r, unsigned v) { r[v / 32] |= 1u << (v % 32); }
static void bit_clear(uint32_t *r, unsigned v) { r[v / 32] &= ~(1u << (v % 32)); }
static int bit_highest(const uint32_t *r)
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

static bool sw_enabled(const struct vlapic *a) { return a->svr & APIC_SVR_ENABLE; }
static uint32_t timer_mode(const struct vlapic *a)
{
	return a->lvt[VLAPIC_LVT_TIMER] & APIC_LVT_TIMER_MODE;
}

/* SDM 11.12.10.2: the x2APIC logical ID is derived from the x2APIC ID. */
static uint32_t ldr(const struct vlapic *a) { return (a->id >> 4) << 16 | 1u << (a->id & 0xf); }

/* SDM 11.5.4, figure 11-10: TDCR bits 3,1,0 = 111 divides by 1, else by
 * 2 << value. */
static uint64_t tdcr_divide(uint32_t tdcr)
{
	uint32_t v = (tdcr & 8) >> 1 | (tdcr & 3);

	return v == 7 ? 1 : 2u << v;
}
/* TSC ticks per TMICT count. */
static uint64_t timer_unit(const struct vlapic *a) { return tdcr_divide(a->tdcr) * a->tsc_per_bus; }

/* An interrupt accepted into IRR: edge-triggered, so TMR clear (SDM 11.8.4). */
static void accept(struct vlapic *a, uint8_t vector)
{
	bit_set(a->irr, vector);
	bit_clear(a->tmr, vector);
}

/* SDM 11.5.3: an error sets its ESR bit and raises the error LVT. */
static void error(struct vlapic *a, uint32_t bits)
{
	uint32_t lvt = a->lvt[VLAPIC_LVT_ERROR];

	a->esr_pending |= bits;
	if (!(lvt & APIC_LVT_MASKED) && (lvt & APIC_LVT_VECTOR) >= VEC_MIN)
		accept(a, lvt & APIC_LVT_VECTOR);
}

/* A local (LVT) interrupt with fixed delivery. */
static void deliver_local(struct vlapic *a, uint32_t lvt)
{
	if (lvt & APIC_LVT_MASKED)
		return;
	if ((lvt & APIC_LVT_VECTOR) < VEC_MIN)
		error(a, APIC_ESR_RECV_ILLEGAL);
	else
		accept(a, lvt & APIC_LVT_VECTOR);
}

int vlapic_init(struct vlapic *a, uint32_t id, bool bsp, uint32_t tsc_per_bus)
{
	if (!tsc_per_bus || tsc_per_bus > VLAPIC_TSC_PER_BUS_MAX)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->bsp = bsp;
	a->tsc_per_bus = tsc_per_bus;
	a->svr = APIC_SVR_VECTOR; /* SDM 11.4.7.1: SVR resets to 0xFF */
	for (unsigned i = 0; i < VLAPIC_NR_LVT; i++)
		a->lvt[i] = APIC_LVT_MASKED;
	return 0;
}

uint32_t vlapic_ppr(const struct vlapic *a)
{
	int isrv = bit_highest(a->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (a->tpr & 0xf0) >= isr_class ? a->tpr & 0xff : isr_class;
}

int vlapic_pending(const struct vlapic *a)
{
	int v = bit_highest(a->irr);

	if (v < 0 || ((uint32_t)v & 0xf0) <= (vlapic_ppr(a) & 0xf0))
		return -1;
	return v;
}

void vlapic_set_irq(struct vlapic *a, uint8_t vector)
{
	if (!sw_enabled(a)) {
		a->irqs_dropped++; /* SDM 11.4.7.2: fixed interrupts are not accepted */
		return;
	}
	if (vector < VEC_MIN)
		error(a, APIC_ESR_RECV_ILLEGAL);
	else
		accept(a, vector);
}

void vlapic_ack(struct vlapic *a, uint8_t vector)
{
	if (!bit_test(a->irr, vector))
		return;
	bit_clear(a->irr, vector);
	bit_set(a->isr, vector);
}

/* SDM 11.8.5: EOI retires the highest-priority in-service interrupt. */
static void eoi(struct vlapic *a)
{
	int v = bit_highest(a->isr);

	if (v >= 0) {
		bit_clear(a->isr, (unsigned)v);
		bit_clear(a->tmr, (unsigned)v);
	}
}

/* ---- the timer */

uint64_t vlapic_next_deadline(const struct vlapic *a) { return a->timer_at; }

void vlapic_tick(struct vlapic *a, uint64_t now_tsc)
{
	if (!a->timer_at || now_tsc < a->timer_at)
		return;
	a->timer_fired++;
	deliver_local(a, a->lvt[VLAPIC_LVT_TIMER]);
	if (timer_mode(a) == APIC_TIMER_PERIODIC && a->tmict) {
		uint64_t period = a->tmict * timer_unit(a);

		/* Missed periods coalesce: IRR holds one instance of a vector. */
		a->timer_at += ((now_tsc - a->timer_at) / period + 1) * period;
	} else {
		a->timer_at = 0; /* SDM 11.5.4.1: TSC-deadline disarms on expiry */
	}
}

/* SDM 11.5.4: the current count, derived from the expiry time. */
static uint32_t tmcct(const struct vlapic *a, uint64_t now)
{
	uint64_t unit = timer_unit(a), rem, count;

	if (!a->timer_at || timer_mode(a) == APIC_TIMER_TSC_DEADLINE)
		return 0; /* SDM 11.5.4.1: reads 0 in TSC-deadline mode */
	if (now < a->timer_at) {
		rem = a->timer_at - now;
	} else if (timer_mode(a) == APIC_TIMER_PERIODIC && a->tmict) {
		uint64_t period = a->tmict * unit;

		rem = period - (now - a->timer_at) % period;
	} else {
		return 0;
	}
	count = (rem + unit - 1) / unit;
	return count > a->tmict ? a->tmict : (uint32_t)count;
}

static void write_tmict(struct vlapic *a, uint32_t val, uint64_t now)
{
	if (timer_mode(a) == APIC_TIMER_TSC_DEADLINE)
		return; /* SDM 11.5.4.1: ignored in TSC-deadline mode */
	a->tmict = val;
	a->timer_at = val ? now + val * timer_unit(a) : 0;
}

/* A new divider applies to what is left of the count. */
static void write_tdcr(struct vlapic *a, uint32_t val, uint64_t now)
{
	bool counting = a->timer_at && timer_mode(a) != APIC_TIMER_TSC_DEADLINE;
	uint32_t left = counting ? tmcct(a, now) : 0;

	a->tdcr = val;
	if (counting && left)
		a->timer_at = now + left * timer_unit(a);
}

static void write_lvt(struct vlapic *a, unsigned i, uint32_t val)
{
	uint32_t old_mode = timer_mode(a);

	a->lvt[i] = val & lvt_rw[i];
	if (!sw_enabled(a))
		a->lvt[i] |= APIC_LVT_MASKED; /* SDM 11.4.7.2: mask bits stay set */
	/* SDM 11.5.4.1: entering or leaving TSC-deadline mode disarms the
	 * timer; TMICT, meaningless in that mode, is cleared with it. */
	if (i == VLAPIC_LVT_TIMER && old_mode != timer_mode(a) &&
	    (old_mode == APIC_TIMER_TSC_DEADLINE || timer_mode(a) == APIC_TIMER_TSC_DEADLINE)) {
		a->timer_at = 0;
		a->tmict = 0;
	}
}

static void write_svr(struct vlapic *a, uint32_t val)
{
	a->svr = val;
	if (!sw_enabled(a))
		for (unsigned i = 0; i < VLAPIC_NR_LVT; i++)
			a->lvt[i] |= APIC_LVT_MASKED; /* SDM 11.4.7.2 */
}

/* ---- IPIs */

static bool icr_targets_self(const struct vlapic *a, uint64_t icr)
{
	uint32_t dest = (uint32_t)(icr >> APIC_ICR_DEST_SHIFT);

	switch (icr & APIC_ICR_SHORTHAND) {
	case APIC_ICR_DEST_SELF:
	case APIC_ICR_DEST_ALL: return true;
	case APIC_ICR_DEST_OTHERS: return false;
	}
	if (dest == APIC_DEST_BROADCAST)
		return true;
	if (!(icr & APIC_ICR_LOGICAL))
		return dest == a->id;
	/* SDM 11.12.10.2: cluster in 31:16, a bitmap of 16 members in 15:0. */
	return (dest >> 16) == (ldr(a) >> 16) && (dest & ldr(a) & 0xffff);
}

/* One vCPU: an IPI reaches this APIC or nobody. */
static void send_ipi(struct vlapic *a, uint64_t icr)
{
	uint8_t vector = icr & APIC_ICR_VECTOR;
	bool fixed = (icr & APIC_ICR_DM) == APIC_ICR_DM_FIXED;

	if (fixed && vector < VEC_MIN) {
		error(a, APIC_ESR_SEND_ILLEGAL);
		return;
	}
	if (!fixed || !icr_targets_self(a, icr)) {
		a->ipis_dropped++;
		return;
	}
	vlapic_set_irq(a, vector);
}

/* ---- the MSR interface */

static uint64_t apic_base(const struct vlapic *a)
{
	return APIC_BASE_ADDR | APIC_BASE_EN | APIC_BASE_EXTD | (a->bsp ? APIC_BASE_BSP : 0);
}

static bool in_bank(uint32_t reg, uint32_t first) { return reg >= first && reg < first + 8; }

static int x2apic_read(struct vlapic *a, uint32_t reg, uint64_t now, uint64_t *val)
{
	if (in_bank(reg, X2APIC_ISR0))
		*val = a->isr[reg - X2APIC_ISR0];
	else if (in_bank(reg, X2APIC_TMR0))
		*val = a->tmr[reg - X2APIC_TMR0];
	else if (in_bank(reg, X2APIC_IRR0))
		*val = a->irr[reg - X2APIC_IRR0];
	else if (reg >= X2APIC_LVT_TIMER && reg <= X2APIC_LVT_ERROR)
		*val = a->lvt[reg - X2APIC_LVT_TIMER];
	else
		switch (reg) {
		case X2APIC_ID: *val = a->id; break;
		case X2APIC_VER: *val = APIC_VER_VALUE; break;
		case X2APIC_TPR: *val = a->tpr; break;
		case X2APIC_PPR: *val = vlapic_ppr(a); break;
		case X2APIC_LDR: *val = ldr(a); break;
		case X2APIC_SVR: *val = a->svr; break;
		case X2APIC_ESR: *val = a->esr; break;
		case X2APIC_ICR: *val = a->icr; break;
		case X2APIC_TMICT: *val = a->tmict; break;
		case X2APIC_TMCCT: *val = tmcct(a, now); break;
		case X2APIC_TDCR: *val = a->tdcr; break;
		default: return -EINVAL; /* EOI, SELF_IPI are write-only; the rest reserved */
		}
	return 0;
}

static int write_lvt_checked(struct vlapic *a, unsigned i, uint32_t val)
{
	if (val & ~(lvt_rw[i] | lvt_ro[i]))
		return -EINVAL;
	/* SDM 11.5.1: timer mode 11b is reserved. */
	if (i == VLAPIC_LVT_TIMER && (val & APIC_LVT_TIMER_MODE) == APIC_LVT_TIMER_MODE)
		return -EINVAL;
	write_lvt(a, i, val);
	return 0;
}

static int x2apic_write(struct vlapic *a, uint32_t reg, uint64_t val, uint64_t now)
{
	uint32_t v = (uint32_t)val;

	if (reg == X2APIC_ICR) {
		if (val & ~(ICR_RW | ICR_BUSY))
			return -EINVAL;
		val &= ~ICR_BUSY;
		a->icr = val;
		send_ipi(a, val);
		return 0;
	}
	/* SDM 11.12.1.2: bits 63:32 of every other register are reserved. */
	if (val >> 32)
		return -EINVAL;
	if (reg >= X2APIC_LVT_TIMER && reg <= X2APIC_LVT_ERROR)
		return write_lvt_checked(a, reg - X2APIC_LVT_TIMER, v);
	switch (reg) {
	case X2APIC_TPR:
		if (v & ~0xffu)
			return -EINVAL;
		a->tpr = v;
		return 0;
	case X2APIC_EOI: /* SDM 11.12.1.2: a non-zero write faults */
		if (v)
			return -EINVAL;
		eoi(a);
		return 0;
	case X2APIC_SVR:
		if (v & ~SVR_RW)
			return -EINVAL;
		write_svr(a, v);
		return 0;
	case X2APIC_ESR: /* SDM 11.5.3: a write latches the errors seen since */
		if (v)
			return -EINVAL;
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		return 0;
	case X2APIC_TMICT: write_tmict(a, v, now); return 0;
	case X2APIC_TDCR:
		if (v & ~TDCR_RW)
			return -EINVAL;
		write_tdcr(a, v, now);
		return 0;
	case X2APIC_SELF_IPI: /* SDM 11.12.11: vector in 7:0, fixed, edge, self */
		if (v & ~0xffu)
			return -EINVAL;
		send_ipi(a, APIC_ICR_DEST_SELF | v);
		return 0;
	}
	return -EINVAL; /* read-only (ID, VER, PPR, LDR, ISR, TMR, IRR, TMCCT) or reserved */
}

/* Timers due by now fire before the guest looks or changes anything, as
 * they would have on hardware: the VM need not tick before every access. */
static bool apic_msr(uint32_t msr)
{
	return msr == MSR_IA32_APIC_BASE || msr == MSR_IA32_TSC_DEADLINE ||
	       (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
}

int vlapic_msr_read(struct vlapic *a, uint32_t msr, uint64_t now_tsc, uint64_t *val)
{
	if (!apic_msr(msr))
		return -ENOENT;
	vlapic_tick(a, now_tsc);
	if (msr == MSR_IA32_APIC_BASE) {
		*val = apic_base(a);
		return 0;
	}
	if (msr == MSR_IA32_TSC_DEADLINE) {
		/* SDM 11.5.4.1: reads 0 outside TSC-deadline mode. */
		*val = timer_mode(a) == APIC_TIMER_TSC_DEADLINE ? a->timer_at : 0;
		return 0;
	}
	return x2apic_read(a, msr, now_tsc, val);
}

int vlapic_msr_write(struct vlapic *a, uint32_t msr, uint64_t val, uint64_t now_tsc)
{
	if (!apic_msr(msr))
		return -ENOENT;
	vlapic_tick(a, now_tsc);
	if (msr == MSR_IA32_APIC_BASE) {
		/* Only x2APIC mode at the fixed base exists: leaving it, moving
		 * the base or setting reserved bits faults; BSP is ignored. */
		if ((val & ~APIC_BASE_BSP) != (apic_base(a) & ~APIC_BASE_BSP))
			return -EINVAL;
		return 0;
	}
	if (msr == MSR_IA32_TSC_DEADLINE) {
		/* SDM 11.5.4.1: ignored outside TSC-deadline mode; 0 disarms; a
		 * deadline already passed fires at once. */
		if (timer_mode(a) == APIC_TIMER_TSC_DEADLINE) {
			a->timer_at = val;
			vlapic_tick(a, now_tsc);
		}
		return 0;
	}
	return x2apic_write(a, msr, val, now_tsc);
}
