/*
 * kernel/time.h — time from the TSC, calibrated at boot against the ACPI PM
 * timer (or the PIT).  Bounded waits use deadline_ns().
 */
#ifndef SLUICE_KERNEL_TIME_H
#define SLUICE_KERNEL_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"
#include "lib/err.h"

extern uint64_t tsc_hz; /* TSC ticks per second */

uint64_t time_ns(void); /* ns since calibration (monotonic) */
uint64_t tsc_to_ns(uint64_t ticks);
void udelay(uint64_t us);
void time_init(void); /* calibrates; called once at boot */

/* Deadline helpers: d = deadline_after_ns(ms * 1000000); while (!deadline_passed(d)) ... */
uint64_t deadline_after_ns(uint64_t ns);
bool deadline_passed(uint64_t deadline);

/*
 * The one bounded wait: evaluates cond until it is true or timeout_ns have
 * passed; 0 if cond became true, -ETIMEDOUT if not.  cond is evaluated once
 * more after the deadline, so a wait that was descheduled past its deadline
 * does not report a timeout for a condition that did come true.
 *
 *     if (poll_until(read32(r) & BIT, 1000000) != 0) ...
 */
#define poll_until(cond, timeout_ns)                                         \
	__extension__({                                                       \
		uint64_t poll_dl_ = deadline_after_ns(timeout_ns);            \
		int poll_rc_ = 0;                                             \
		while (!(cond)) {                                             \
			if (deadline_passed(poll_dl_)) {                      \
				poll_rc_ = (cond) ? 0 : -ETIMEDOUT;           \
				break;                                        \
			}                                                     \
			cpu_pause();                                          \
		}                                                             \
		poll_rc_;                                                     \
	})

#endif
