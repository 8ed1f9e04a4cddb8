/*
 * arch/x86/apic.h — the local APIC (xAPIC, or x2APIC where the CPU has it).
 */
#ifndef SLUICE_ARCH_X86_APIC_H
#define SLUICE_ARCH_X86_APIC_H

#include <stdbool.h>
#include <stdint.h>

void apic_init(void);
uint32_t apic_id(void);
void apic_eoi(void);
bool apic_x2apic_mode(void);
/* Sends a fixed interrupt with vector to this CPU (self IPI). */
void apic_self_ipi(unsigned vector);

/* Periodic LAPIC timer interrupt at hz on vector (calibrated against the
 * TSC): it wakes the idle console from HLT.  -EIO if the timer does not count. */
int apic_timer_start(unsigned hz, unsigned vector);
unsigned apic_timer_hz(void);

#endif
