/* tests/unit/fake_hw.c — hw/hw.h for host tests: register models, flush log;
 * and interrupt masking (arch/x86/irq.h) as a flag that holds back
 * fake_irq_raise's interrupts while it is off. */
#include <stdio.h>
#include <stdlib.h>

#include "arch/x86/irq.h"
#include "fake_hw.h"
#include "hw/hw.h"

#define MAX_MODELS 16

static struct fake_mmio models[MAX_MODELS];
static int nmodels;
static struct fake_pio pio;
uint64_t fake_clflush_lines;
uint64_t fake_flush_log[FAKE_FLUSH_LOG];
size_t fake_flush_count;
uint64_t fake_tsc, fake_tsc_step = 1000; /* 1 us per read at the fake 1 GHz */

void fake_mmio_add(const struct fake_mmio *m)
{
	if (nmodels == MAX_MODELS)
		abort();
	models[nmodels++] = *m;
}

void fake_mmio_clear(void) { nmodels = 0; }

void fake_pio_set(const struct fake_pio *p) { pio = *p; }

static struct fake_mmio *find(uint64_t addr, unsigned size)
{
	for (int i = 0; i < nmodels; i++)
		if (addr >= models[i].base && addr + size <= models[i].base + models[i].size)
			return &models[i];
	fprintf(stderr, "fake_hw: MMIO access to unmodelled 0x%llx\n", (unsigned long long)addr);
	abort();
}

uint32_t mmio_read32(uint64_t a)
{
	struct fake_mmio *m = find(a, 4);
	return (uint32_t)m->read(m->ctx, a - m->base, 4);
}
uint64_t mmio_read64(uint64_t a)
{
	struct fake_mmio *m = find(a, 8);
	return m->read(m->ctx, a - m->base, 8);
}
void mmio_write32(uint64_t a, uint32_t v)
{
	struct fake_mmio *m = find(a, 4);
	m->write(m->ctx, a - m->base, v, 4);
}
void mmio_write64(uint64_t a, uint64_t v)
{
	struct fake_mmio *m = find(a, 8);
	m->write(m->ctx, a - m->base, v, 8);
}

uint8_t inb(uint16_t p) { return pio.in ? (uint8_t)pio.in(pio.ctx, p, 1) : 0xff; }
uint16_t inw(uint16_t p) { return pio.in ? (uint16_t)pio.in(pio.ctx, p, 2) : 0xffff; }
uint32_t inl(uint16_t p) { return pio.in ? pio.in(pio.ctx, p, 4) : 0xffffffffu; }
void outb(uint16_t p, uint8_t v)
{
	if (pio.out)
		pio.out(pio.ctx, p, v, 1);
}
void outw(uint16_t p, uint16_t v)
{
	if (pio.out)
		pio.out(pio.ctx, p, v, 2);
}
void outl(uint16_t p, uint32_t v)
{
	if (pio.out)
		pio.out(pio.ctx, p, v, 4);
}
void cpu_mfence(void) { __sync_synchronize(); }
void cpu_pause(void) {}
bool fake_irq_enabled = true;
static void (*irq_pending_fn)(void *);
static void *irq_pending_ctx;

bool irq_save_disable(void)
{
	bool was = fake_irq_enabled;

	fake_irq_enabled = false;
	return was;
}

void irq_restore(bool was_enabled)
{
	fake_irq_enabled = was_enabled;
	if (was_enabled && irq_pending_fn) {
		void (*fn)(void *) = irq_pending_fn;

		irq_pending_fn = NULL;
		fake_irq_raise(fn, irq_pending_ctx);
	}
}

bool fake_irq_raise(void (*fn)(void *), void *ctx)
{
	if (!fake_irq_enabled) {
		if (irq_pending_fn)
			abort(); /* one pending interrupt is all the tests model */
		irq_pending_fn = fn;
		irq_pending_ctx = ctx;
		return false;
	}
	/* A handler runs with interrupts off (arch/x86/irq.h). */
	fake_irq_enabled = false;
	fn(ctx);
	fake_irq_enabled = true;
	return true;
}
uint64_t rdtsc(void) { return fake_tsc += fake_tsc_step; }

void cpu_clflush_range(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHELINE_SIZE - 1);
	uintptr_t end = (uintptr_t)p + len;

	for (; a < end; a += CACHELINE_SIZE) {
		fake_clflush_lines++;
		fake_flush_log[fake_flush_count++ % FAKE_FLUSH_LOG] = a;
	}
}

int fake_flushed(const void *p)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHELINE_SIZE - 1);
	size_t n = fake_flush_count < FAKE_FLUSH_LOG ? fake_flush_count : FAKE_FLUSH_LOG;

	for (size_t i = 0; i < n; i++)
		if (fake_flush_log[i] == a)
			return 1;
	return 0;
}

void fake_flush_reset(void)
{
	fake_clflush_lines = 0;
	fake_flush_count = 0;
}
