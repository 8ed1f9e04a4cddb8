/*
 * tests/unit/fake_hw.h — host stand-ins for hw/hw.h.  A test installs a
 * register model for an MMIO window; accesses outside any model abort the
 * test (a driver touching an address it should not is a bug).
 */
#ifndef SLUICE_TESTS_UNIT_FAKE_HW_H
#define SLUICE_TESTS_UNIT_FAKE_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_mmio {
	uint64_t base, size;
	/* size is 4 or 8 */
	uint64_t (*read)(void *ctx, uint64_t off, unsigned size);
	void (*write)(void *ctx, uint64_t off, uint64_t val, unsigned size);
	void *ctx;
};

void fake_mmio_add(const struct fake_mmio *m);
void fake_mmio_clear(void);

struct fake_pio {
	uint32_t (*in)(void *ctx, uint16_t port, unsigned size);
	void (*out)(void *ctx, uint16_t port, uint32_t val, unsigned size);
	void *ctx;
};
void fake_pio_set(const struct fake_pio *p);

/* Cache lines flushed by cpu_clflush_range since the last reset. */
extern uint64_t fake_clflush_lines;
/* Address ranges flushed are recorded here (most recent FAKE_FLUSH_LOG). */
#define FAKE_FLUSH_LOG 4096
extern uint64_t fake_flush_log[FAKE_FLUSH_LOG];
extern size_t fake_flush_count;
int fake_flushed(const void *p); /* was the line holding p flushed? */
void fake_flush_reset(void);

/* rdtsc() in host tests: a counter the test can advance (each call adds
 * fake_tsc_step). */
extern uint64_t fake_tsc, fake_tsc_step;

/* Interrupt masking: irq_save_disable/irq_restore clear and restore this
 * flag (on at start).  fake_irq_raise runs fn as an interrupt handler at
 * once (with the flag off) and returns true if interrupts are enabled;
 * otherwise it holds fn back until irq_restore enables them again and
 * returns false. */
extern bool fake_irq_enabled;
bool fake_irq_raise(void (*fn)(void *), void *ctx);

#endif
