/*
 * arch/x86/apic.c — local APIC bring-up.  x2APIC is used when the CPU has it
 * (MSR access, 32-bit ids); otherwise xAPIC through its MMIO page.  The
 * APIC is software-enabled with spurious vector 0xff and TPR 0.
 */
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "hw/hw.h"
#include "kernel/time.h"
#include "lib/err.h"

#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2APIC (1ull << 10)

/* Register offsets (xAPIC MMIO); x2APIC MSR = 0x800 + offset / 16. */
#define APIC_ID 0x20
#define APIC_TPR 0x80
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR 0x390
#define APIC_TIMER_DIV 0x3e0
#define LVT_PERIODIC (1u << 17)
#define LVT_MASKED (1u << 16)

static uint64_t xapic_base;
static unsigned timer_hz;
static bool x2apic;

static uint32_t apic_read(unsigned reg)
{
	if (x2apic)
		return (uint32_t)rdmsr(0x800 + reg / 16);
	return mmio_read32(xapic_base + reg);
}

static void apic_write(unsigned reg, uint32_t v)
{
	if (x2apic)
		wrmsr(0x800 + reg / 16, v);
	else
		mmio_write32(xapic_base + reg, v);
}

void apic_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	xapic_base = base & 0xffffff000ull;
	base |= APIC_BASE_ENABLE;
	if (cpu_feat.x2apic)
		base |= APIC_BASE_X2APIC;
	wrmsr(MSR_APIC_BASE, base);
	x2apic = base & APIC_BASE_X2APIC;

	apic_write(APIC_TPR, 0);
	apic_write(APIC_LVT_TIMER, LVT_MASKED);
	apic_write(APIC_LVT_ERROR, LVT_MASKED);
	apic_write(APIC_SVR, 0x100 | 0xff); /* enable, spurious vector 0xff */
}

uint32_t apic_id(void)
{
	uint32_t id = apic_read(APIC_ID);

	return x2apic ? id : id >> 24;
}

void apic_eoi(void) { apic_write(APIC_EOI, 0); }

bool apic_x2apic_mode(void) { return x2apic; }

void apic_self_ipi(unsigned vector)
{
	/* Fixed delivery, physical destination = self (shorthand 01b). */
	if (x2apic) {
		wrmsr(0x800 + APIC_ICR_LO / 16, (1u << 18) | (vector & 0xff));
		return;
	}
	apic_write(APIC_ICR_HI, 0);
	apic_write(APIC_ICR_LO, (1u << 18) | (vector & 0xff));
}

/* The LAPIC timer's rate is not architectural: count it against the
 * (already calibrated) TSC for 10 ms, then run it periodic at hz. */
int apic_timer_start(unsigned hz, unsigned vector)
{
	uint32_t ticks;

	if (!hz || hz > 10000)
		return -EINVAL;
	apic_write(APIC_TIMER_DIV, 0x3); /* divide by 16 */
	apic_write(APIC_LVT_TIMER, LVT_MASKED);
	apic_write(APIC_TIMER_INIT, 0xffffffffu);
	udelay(10000);
	ticks = 0xffffffffu - apic_read(APIC_TIMER_CUR);
	apic_write(APIC_TIMER_INIT, 0);
	if (ticks < 100)
		return -EIO; /* timer not counting */
	timer_hz = hz;
	apic_write(APIC_LVT_TIMER, LVT_PERIODIC | (vector & 0xff));
	apic_write(APIC_TIMER_INIT, (uint32_t)((uint64_t)ticks * 100 / hz));
	return 0;
}

unsigned apic_timer_hz(void) { return timer_hz; }
