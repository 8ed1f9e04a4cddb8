/*
 * kernel/time.h — time from the TSC, calibrated at boot against the ACPI PM
 * timer (or the PIT).  Bounded waits use deadline_ns().
 */
#ifndef SLUICE_KERNEL_TIME_H
#define SLUICE_KERNEL_TIME_H

#include <stdbool.h>
#include <stdint.h>

extern uint64_t tsc_hz; /* TSC ticks per second */

uint64_t time_ns(void); /* ns since calibration (monotonic) */
uint64_t tsc_to_ns(uint64_t ticks);
void udelay(uint64_t us);
void time_init(void); /* calibrates; called once at boot */

/* Deadline helpers: d = deadline_after_ns(ms * 1000000); while (!deadline_passed(d)) ... */
uint64_t deadline_after_ns(uint64_t ns);
bool deadline_passed(uint64_t deadline);

#endif
