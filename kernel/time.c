/*
 * kernel/time.c — the TSC as sluice's clock, calibrated once at boot against
 * the PIT (channel 2, gated through port 0x61, which exists on every PC and
 * in QEMU): 3 runs of 10 ms, the median kept.
 */
#include "hw/hw.h"
#include "kernel/time.h"

uint64_t tsc_hz = 1000000000ull; /* replaced by time_init() */
static uint64_t tsc_base;

#define PIT_HZ 1193182ull

static uint64_t pit_measure(unsigned ms)
{
	uint16_t count = (uint16_t)(PIT_HZ * ms / 1000);
	uint64_t t0, t1;
	uint8_t gate = inb(0x61);

	outb(0x61, (gate & ~0x02) | 0x01); /* speaker off, gate 2 on */
	outb(0x43, 0xb0);		   /* channel 2, lo/hi, mode 0 */
	outb(0x42, count & 0xff);
	outb(0x42, count >> 8);
	t0 = rdtsc();
	for (uint64_t spin = 0; !(inb(0x61) & 0x20); spin++)
		if (spin > 100000000ull)
			return 0; /* no PIT: keep the default */
	t1 = rdtsc();
	outb(0x61, gate);
	return (t1 - t0) * 1000 / ms;
}

void time_init(void)
{
	uint64_t m[3];

	for (int i = 0; i < 3; i++)
		m[i] = pit_measure(10);
	/* median of three */
	uint64_t a = m[0], b = m[1], c = m[2], med;
	if ((a <= b && b <= c) || (c <= b && b <= a))
		med = b;
	else if ((b <= a && a <= c) || (c <= a && a <= b))
		med = a;
	else
		med = c;
	if (med)
		tsc_hz = med;
	tsc_base = rdtsc();
}

uint64_t tsc_to_ns(uint64_t ticks)
{
	/* ticks * 1e9 / hz without overflow for any realistic uptime */
	return (uint64_t)((unsigned __int128)ticks * 1000000000ull / tsc_hz);
}

uint64_t time_ns(void) { return tsc_to_ns(rdtsc() - tsc_base); }

void udelay(uint64_t us)
{
	uint64_t end = rdtsc() + (uint64_t)((unsigned __int128)tsc_hz * us / 1000000ull);

	while (rdtsc() < end)
		cpu_pause();
}

uint64_t deadline_after_ns(uint64_t ns) { return time_ns() + ns; }

bool deadline_passed(uint64_t deadline) { return time_ns() >= deadline; }
