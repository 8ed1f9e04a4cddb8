/*
 * guests/lib/rt.h — the runtime of the built-in guests (freestanding; no
 * sluice headers, only guests/abi.h and the compiler's own headers).
 *
 * start.S calls main(ram_bytes) with the guest's GDT and IDT loaded and
 * HC_EXIT's main's return value.  Output goes to COM1 (sluice prefixes
 * each line with `[vm<id>] `).  An interrupt or exception without an
 * installed handler prints its vector and exits with RT_EXIT_TRAP + vector.
 */
#ifndef SLUICE_GUESTS_LIB_RT_H
#define SLUICE_GUESTS_LIB_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "guests/abi.h"

/* HC_EXIT code of an unexpected interrupt or exception: 0x100 + vector
 * (above any failed-check count a test guest exits with). */
#define RT_EXIT_TRAP 0x100

int main(uint64_t ram_bytes);

/* ---- port I/O */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
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

/* ---- MMIO (one access of exactly that width) */
static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)(uintptr_t)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)addr = v;
}
static inline uint64_t mmio_read64(uint64_t addr) { return *(volatile uint64_t *)(uintptr_t)addr; }
static inline void mmio_write64(uint64_t addr, uint64_t v)
{
	*(volatile uint64_t *)(uintptr_t)addr = v;
}

static inline void barrier(void) { __asm__ volatile("" : : : "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" : : : "memory"); }
static inline void irq_enable(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" : : : "memory"); }
/* sti; hlt: the STI shadow covers HLT, so an interrupt that is already
 * pending wakes the HLT instead of slipping in before it. */
static inline void irq_wait(void) { __asm__ volatile("sti; hlt; cli" : : : "memory"); }

/* ---- hypercalls (VMMCALL; guests/abi.h): 0 or a negative HC_E* errno */
static inline int64_t hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	int64_t ret;

	__asm__ volatile("vmmcall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "memory");
	return ret;
}
static inline int64_t hc_hint(uint64_t gpa, uint64_t size)
{
	return hypercall(HC_HINT, gpa, size, 0);
}
static inline int64_t hc_unhint(uint64_t gpa, uint64_t size)
{
	return hypercall(HC_UNHINT, gpa, size, 0);
}
__attribute__((noreturn)) void hc_exit(uint64_t code);

/* ---- output (COM1) */
void serial_putc(char c);
void serial_puts(const char *s);
/* %s %c %d %u %x %p with l / ll and a width with optional 0 flag; %%. */
int rt_vprintf(const char *fmt, va_list ap);
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- string (gcc may emit calls to these even when freestanding) */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- interrupts and exceptions */
struct trap_frame { /* start.S pushes it in this order, r15 lowest */
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;		   /* error 0 where the CPU pushes none */
	uint64_t rip, cs, rflags, rsp, ss; /* the CPU's frame */
};
typedef void (*trap_handler_fn)(struct trap_frame *f);
/* Builds and loads the IDT (every vector -> the default handler). */
void rt_idt_init(void);
/* Installs (or with NULL removes) the handler of vector 0..255. */
void rt_set_handler(unsigned vector, trap_handler_fn fn);
/* Called by start.S for every interrupt and exception. */
void rt_trap(struct trap_frame *f);

/* ---- the image itself (guest.lds) */
extern char __image_start[], __image_end[];

#endif
