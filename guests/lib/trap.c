/*
 * guests/lib/trap.c — the guest's IDT: 256 interrupt gates to start.S's
 * stubs, a handler table, and the default handler that reports an
 * unexpected vector and exits.
 */
#include <stdbool.h>

#include "guests/lib/rt.h"

#define IDT_VECTORS 256
#define STUB_SIZE 16	 /* start.S */
#define GDT_CODE 0x08	 /* start.S */
#define GATE_INTR64 0x8e /* P, DPL 0, 64-bit interrupt gate (IF cleared on entry) */
#define VEC_PF 14

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct idt_desc {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* start.S pushes 15 registers, the vector and the error code below the
 * CPU's 5-quad frame. */
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "start.S frame layout");

extern const char rt_isr_stubs[];

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static trap_handler_fn handlers[IDT_VECTORS];
static volatile bool in_report;

void rt_idt_init(void)
{
	for (unsigned v = 0; v < IDT_VECTORS; v++) {
		uint64_t off = (uintptr_t)rt_isr_stubs + (uint64_t)v * STUB_SIZE;

		idt[v] = (struct idt_gate){
			.off_lo = (uint16_t)off,
			.sel = GDT_CODE,
			.type = GATE_INTR64,
			.off_mid = (uint16_t)(off >> 16),
			.off_hi = (uint32_t)(off >> 32),
		};
	}
	struct idt_desc d = {.limit = sizeof(idt) - 1, .base = (uintptr_t)idt};

	__asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

void rt_set_handler(unsigned vector, trap_handler_fn fn)
{
	if (vector < IDT_VECTORS)
		handlers[vector] = fn;
}

static uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

void rt_trap(struct trap_frame *f)
{
	trap_handler_fn fn = handlers[f->vector & (IDT_VECTORS - 1)];

	if (fn) {
		fn(f);
		return;
	}
	/* A fault while reporting one (e.g. HC_EXIT itself faults): stop with
	 * interrupts off instead of recursing down the stack. */
	if (in_report)
		for (;;)
			__asm__ volatile("cli; hlt");
	in_report = true;
	rt_printf("guest: unexpected vector=%llu error=0x%llx rip=0x%llx",
		  (unsigned long long)f->vector, (unsigned long long)f->error,
		  (unsigned long long)f->rip);
	if (f->vector == VEC_PF)
		rt_printf(" cr2=0x%llx", (unsigned long long)read_cr2());
	rt_printf("\n");
	hc_exit(RT_EXIT_TRAP + f->vector);
}
