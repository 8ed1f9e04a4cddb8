/* tests/unit/host_time.c — kernel/time.h over the fake TSC (1 GHz). */
#include "hw/hw.h"
#include "kernel/time.h"

uint64_t tsc_hz = 1000000000ull;

uint64_t tsc_to_ns(uint64_t ticks) { return ticks; }
uint64_t time_ns(void) { return rdtsc(); }
void udelay(uint64_t us) { (void)us; }
uint64_t deadline_after_ns(uint64_t ns) { return rdtsc() + ns; }
bool deadline_passed(uint64_t deadline) { return rdtsc() >= deadline; }
