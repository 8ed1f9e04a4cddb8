/*
 * vm/vlapic.h — one vCPU's virtual local APIC, x2APIC mode only (Intel SDM
 * vol. 3A 11.12): registers reached through MSRs 0x800-0x8FF, APIC_BASE
 * (0x1B) and IA32_TSC_DEADLINE (0x6E0); no xAPIC MMIO page.
 *
 * Modelled: ID, VER, TPR, PPR, EOI, LDR, SVR (software enable), ISR, TMR,
 * IRR, ESR, ICR (self and own-ID fixed IPIs), the six LVTs (timer, thermal,
 * PMC, LINT0, LINT1, error; masked at reset), the timer in one-shot,
 * periodic and TSC-deadline modes, SELF_IPI.  Interrupts are edge-triggered
 * fixed ones: the VM sets them in IRR (vlapic_set_irq), asks for the one to
 * inject (vlapic_pending), and moves it to ISR when it injects it
 * (vlapic_ack); the guest's EOI retires it.
 *
 * Time is the guest's TSC, passed in by the caller (now_tsc): the model
 * never reads a clock, so host tests drive it with a fake TSC.  The timer's
 * bus clock (TMICT/TMCCT units before the TDCR divider) is the TSC divided
 * by tsc_per_bus, fixed at vlapic_init.
 *
 * Pure code over lib/ only: tests/unit/test_vlapic.c, tests/fuzz/fuzz_vlapic.c.
 */
#ifndef SLUICE_VM_VLAPIC_H
#define SLUICE_VM_VLAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* Architectural MSRs (SDM vol. 3A 11.4.4, 11.5.4.1, table 11-6). */
#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_LAST 0x8ff

#define X2APIC_ID 0x802
#define X2APIC_VER 0x803
#define X2APIC_TPR 0x808
#define X2APIC_PPR 0x80a
#define X2APIC_EOI 0x80b
#define X2APIC_LDR 0x80d
#define X2APIC_SVR 0x80f
#define X2APIC_ISR0 0x810 /* ISR 0x810-0x817, 32 vectors each */
#define X2APIC_TMR0 0x818
#define X2APIC_IRR0 0x820
#define X2APIC_ESR 0x828
#define X2APIC_ICR 0x830
#define X2APIC_LVT_TIMER 0x832
#define X2APIC_LVT_THERMAL 0x833
#define X2APIC_LVT_PMC 0x834
#define X2APIC_LVT_LINT0 0x835
#define X2APIC_LVT_LINT1 0x836
#define X2APIC_LVT_ERROR 0x837
#define X2APIC_TMICT 0x838
#define X2APIC_TMCCT 0x839
#define X2APIC_TDCR 0x83e
#define X2APIC_SELF_IPI 0x83f

/* IA32_APIC_BASE fields (SDM 11.4.4, 11.12.1). */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)
#define APIC_BASE_ADDR 0xfee00000ull

/* VER: version 0x14 (integrated APIC), Max LVT Entry 5 (six LVTs, no CMCI),
 * no EOI-broadcast suppression (SDM 11.4.8). */
#define APIC_VERSION 0x14
#define APIC_MAXLVT 5
#define APIC_VER_VALUE (APIC_VERSION | APIC_MAXLVT << 16)

#define APIC_SVR_VECTOR 0xffu
#define APIC_SVR_ENABLE (1u << 8)
#define APIC_SVR_FOCUS (1u << 9)

/* LVT fields (SDM 11.5.1). */
#define APIC_LVT_VECTOR 0xffu
#define APIC_LVT_DM_SHIFT 8
#define APIC_LVT_DM (7u << 8)
#define APIC_LVT_STATUS (1u << 12) /* delivery status, read-only */
#define APIC_LVT_POLARITY (1u << 13)
#define APIC_LVT_REMOTE_IRR (1u << 14) /* read-only */
#define APIC_LVT_LEVEL (1u << 15)
#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVT_TIMER_MODE (3u << 17)
#define APIC_TIMER_ONESHOT (0u << 17)
#define APIC_TIMER_PERIODIC (1u << 17)
#define APIC_TIMER_TSC_DEADLINE (2u << 17)

/* ESR bits (SDM 11.5.3). */
#define APIC_ESR_SEND_ILLEGAL (1u << 5)
#define APIC_ESR_RECV_ILLEGAL (1u << 6)

/* ICR fields (SDM 11.6.1, 11.12.9: one 64-bit register in x2APIC mode). */
#define APIC_ICR_VECTOR 0xffull
#define APIC_ICR_DM (7ull << 8)
#define APIC_ICR_DM_FIXED (0ull << 8)
#define APIC_ICR_DM_NMI (4ull << 8)
#define APIC_ICR_LOGICAL (1ull << 11)
#define APIC_ICR_LEVEL_ASSERT (1ull << 14)
#define APIC_ICR_TRIGGER_LEVEL (1ull << 15)
#define APIC_ICR_SHORTHAND (3ull << 18)
#define APIC_ICR_DEST_NONE (0ull << 18)
#define APIC_ICR_DEST_SELF (1ull << 18)
#define APIC_ICR_DEST_ALL (2ull << 18)
#define APIC_ICR_DEST_OTHERS (3ull << 18)
#define APIC_ICR_DEST_SHIFT 32
#define APIC_DEST_BROADCAST 0xffffffffu

/* Largest tsc_per_bus: keeps TMICT * divider * tsc_per_bus below 2^55. */
#define VLAPIC_TSC_PER_BUS_MAX 65535u

enum {
	VLAPIC_LVT_TIMER,
	VLAPIC_LVT_THERMAL,
	VLAPIC_LVT_PMC,
	VLAPIC_LVT_LINT0,
	VLAPIC_LVT_LINT1,
	VLAPIC_LVT_ERROR,
	VLAPIC_NR_LVT,
};

/* Private to vlapic.c; read-only for others (tests look at it). */
struct vlapic {
	uint32_t id;
	bool bsp;
	uint32_t tsc_per_bus;
	uint32_t tpr, svr, esr, esr_pending;
	uint64_t icr;
	uint32_t isr[8], tmr[8], irr[8]; /* 256 bits each, 32 per register */
	uint32_t lvt[VLAPIC_NR_LVT];
	uint32_t tmict, tdcr;
	/* The armed timer: absolute TSC of its next expiry, 0 = not armed
	 * (one-shot/periodic from TMICT, or the TSC-deadline value). */
	uint64_t timer_at;
	uint64_t ipis_dropped; /* IPIs to other CPUs, or not fixed */
	uint64_t irqs_dropped; /* fixed interrupts refused while disabled */
	uint64_t timer_fired;  /* timer expiries (masked ones too) */
};

/* Reset state (SDM 11.4.7.1): software-disabled, LVTs masked, timer off.
 * tsc_per_bus is the bus clock's period in TSC ticks, 1..VLAPIC_TSC_PER_BUS_MAX.
 * -EINVAL: tsc_per_bus out of range. */
MUST_CHECK int vlapic_init(struct vlapic *a, uint32_t id, bool bsp, uint32_t tsc_per_bus);

/* RDMSR/WRMSR of an APIC MSR at guest TSC now_tsc.  A timer due by then
 * fires first (vlapic_tick).  0: done; -EINVAL: inject #GP(0) (x2APIC
 * access rules, SDM 11.12.1.2-3); -ENOENT: not an APIC MSR. */
MUST_CHECK int vlapic_msr_read(struct vlapic *a, uint32_t msr, uint64_t now_tsc, uint64_t *val);
MUST_CHECK int vlapic_msr_write(struct vlapic *a, uint32_t msr, uint64_t val, uint64_t now_tsc);

/* An edge-triggered fixed interrupt arrives (a device's MSI, the VM's own
 * sources): IRR.  Vectors 0-15 are illegal (ESR); refused while the APIC
 * is software-disabled (SDM 11.4.7.2). */
void vlapic_set_irq(struct vlapic *a, uint8_t vector);
/* The highest IRR vector whose priority class is above PPR's, or -1. */
int vlapic_pending(const struct vlapic *a);
/* The VM injected `vector` (from vlapic_pending): IRR -> ISR. */
void vlapic_ack(struct vlapic *a, uint8_t vector);
/* PPR (SDM 11.8.3.1). */
uint32_t vlapic_ppr(const struct vlapic *a);

/* Absolute TSC of the next timer event, 0 if none. */
uint64_t vlapic_next_deadline(const struct vlapic *a);
/* Fires the timer if due at now_tsc. */
void vlapic_tick(struct vlapic *a, uint64_t now_tsc);

#endif
