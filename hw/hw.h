/*
 * hw/hw.h — the one place where sluice touches hardware: MMIO, port I/O,
 * cache maintenance, barriers and the TSC.
 *
 * In the hypervisor these are inline instructions.  In host unit tests
 * (HOST_TEST defined) they are plain functions that the test links against
 * (tests/unit/fake_hw.c), so register models can stand in for devices.
 *
 * Physical memory is identity mapped in sluice, so phys_to_virt() and
 * virt_to_phys() are casts; host tests use the same rule over memory they
 * allocate themselves (the "physical address" of test memory is its host
 * address).
 */
#ifndef SLUICE_HW_HW_H
#define SLUICE_HW_HW_H

#include <stddef.h>
#include <stdint.h>

static inline void *phys_to_virt(uint64_t pa) { return (void *)(uintptr_t)pa; }
static inline uint64_t virt_to_phys(const void *va) { return (uint64_t)(uintptr_t)va; }

#define CACHELINE_SIZE 64u

#ifdef HOST_TEST

uint32_t mmio_read32(uint64_t addr);
uint64_t mmio_read64(uint64_t addr);
void mmio_write32(uint64_t addr, uint32_t val);
void mmio_write64(uint64_t addr, uint64_t val);
uint8_t inb(uint16_t port);
uint16_t inw(uint16_t port);
uint32_t inl(uint16_t port);
void outb(uint16_t port, uint8_t val);
void outw(uint16_t port, uint16_t val);
void outl(uint16_t port, uint32_t val);
void cpu_mfence(void);
void cpu_pause(void);
uint64_t rdtsc(void);
/* Counts lines flushed, so tests can check that non-coherent paths flush. */
void cpu_clflush_range(const void *p, size_t len);

#else

static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)(uintptr_t)addr; }
static inline uint64_t mmio_read64(uint64_t addr) { return *(volatile uint64_t *)(uintptr_t)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)addr = val;
}
static inline void mmio_write64(uint64_t addr, uint64_t val)
{
	*(volatile uint64_t *)(uintptr_t)addr = val;
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void outb(uint16_t port, uint8_t val)
{
	__asm__ volatile("outb %0, %1" : : "a"(val), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t val)
{
	__asm__ volatile("outw %0, %1" : : "a"(val), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t val)
{
	__asm__ volatile("outl %0, %1" : : "a"(val), "Nd"(port));
}
static inline void cpu_mfence(void) { __asm__ volatile("mfence" ::: "memory"); }
static inline void cpu_pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
/* Write back and invalidate the cache lines of [p, p+len), fenced on both
 * sides so the device sees the data after the call returns (VT-d 6.1, ECAP.C=0). */
static inline void cpu_clflush_range(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHELINE_SIZE - 1);
	uintptr_t end = (uintptr_t)p + len;

	cpu_mfence();
	for (; a < end; a += CACHELINE_SIZE)
		__asm__ volatile("clflush (%0)" : : "r"(a) : "memory");
	cpu_mfence();
}

#endif /* HOST_TEST */

#define barrier() __asm__ volatile("" ::: "memory")

#endif
