/*
 * arch/x86/arch.c — the CPU as sluice runs it: own GDT (with a TSS whose IST
 * stack catches double faults and machine checks), own IDT, exception
 * handlers that print a register dump on the console and stop cleanly, and
 * the dispatch of device interrupts to registered handlers.
 */
#include <stdint.h>
#include <string.h>

#include "arch/x86/apic.h"
#include "arch/x86/arch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/irq.h"
#include "hw/hw.h"
#include "kernel/log.h"
#include "kernel/panic.h"

struct cpu_features cpu_feat;

/* ---------------------------------------------------------------- GDT/TSS */
#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18

struct tss {
	uint32_t rsv0;
	uint64_t rsp[3];
	uint64_t rsv1;
	uint64_t ist[7];
	uint64_t rsv2;
	uint16_t rsv3;
	uint16_t iomap_base;
} __attribute__((packed));

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));
static uint8_t ist_stack[16384] __attribute__((aligned(16)));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static void gdt_init(void)
{
	uint64_t t = (uint64_t)(uintptr_t)&tss;
	struct desc_ptr p;

	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull; /* 64-bit code, DPL 0 */
	gdt[2] = 0x00cf92000000ffffull; /* data */
	gdt[3] = (sizeof(tss) - 1) | ((t & 0xffffff) << 16) | (0x89ull << 40) |
		 (((t >> 24) & 0xff) << 56);
	gdt[4] = t >> 32;
	tss.ist[0] = (uint64_t)(uintptr_t)(ist_stack + sizeof(ist_stack));
	tss.iomap_base = sizeof(tss);

	p.limit = sizeof(gdt) - 1;
	p.base = (uint64_t)(uintptr_t)gdt;
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "mov %2, %%ax\n\t"
			 "mov %%ax, %%ds\n\t"
			 "mov %%ax, %%es\n\t"
			 "mov %%ax, %%ss\n\t"
			 "mov %%ax, %%fs\n\t"
			 "mov %%ax, %%gs\n\t"
			 "mov %3, %%ax\n\t"
			 "ltr %%ax"
			 :
			 : "m"(p), "i"(SEL_CODE), "i"(SEL_DATA), "i"(SEL_TSS)
			 : "rax", "memory");
}

/* ---------------------------------------------------------------- IDT */
struct idt_entry {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off1;
	uint32_t off2;
	uint32_t rsv;
} __attribute__((packed));

static struct idt_entry idt[256] __attribute__((aligned(16)));
extern const uint64_t isr_stub_table[256];

static void idt_init(void)
{
	struct desc_ptr p;

	for (int v = 0; v < 256; v++) {
		uint64_t a = isr_stub_table[v];
		idt[v].off0 = (uint16_t)a;
		idt[v].sel = SEL_CODE;
		/* #NMI, #DF and #MC run on the IST stack: the interrupted
		 * stack may be the problem. */
		idt[v].ist = (v == 2 || v == 8 || v == 18) ? 1 : 0;
		idt[v].type = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
		idt[v].off1 = (uint16_t)(a >> 16);
		idt[v].off2 = (uint32_t)(a >> 32);
		idt[v].rsv = 0;
	}
	p.limit = sizeof(idt) - 1;
	p.base = (uint64_t)(uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(p));
}

/* ---------------------------------------------------------------- exceptions */
static const char *const exc_names[32] = {
	"#DE divide error",
	"#DB debug",
	"NMI",
	"#BP breakpoint",
	"#OF overflow",
	"#BR bound range",
	"#UD invalid opcode",
	"#NM device not available",
	"#DF double fault",
	"coprocessor overrun",
	"#TS invalid TSS",
	"#NP segment not present",
	"#SS stack fault",
	"#GP general protection",
	"#PF page fault",
	"reserved 15",
	"#MF x87 error",
	"#AC alignment check",
	"#MC machine check",
	"#XM SIMD error",
	"#VE virtualization",
	"#CP control protection",
	"reserved 22",
	"reserved 23",
	"reserved 24",
	"reserved 25",
	"reserved 26",
	"reserved 27",
	"#HV hypervisor injection",
	"#VC VMM communication",
	"#SX security",
	"reserved 31",
};

/* Exception fix-ups: a probe that may fault (arch_probe_write) registers the
 * RIP that may fault and where to continue; the handler resumes there. */
static volatile uint64_t fixup_rip, fixup_to, fixup_pop, fixup_hit_vector, fixup_hit_cr2;

static void exception(struct isr_frame *f)
{
	if (fixup_rip && f->rip == fixup_rip) {
		fixup_hit_vector = f->vector;
		fixup_hit_cr2 = f->vector == 14 ? read_cr2() : 0;
		f->rip = fixup_to;
		f->rsp += fixup_pop;
		return;
	}
	panic_begin();
	panic_printf("\r\n! panic exception vector=%lu name=\"%s\" error=0x%lx\r\n",
		     (unsigned long)f->vector, exc_names[f->vector & 31], (unsigned long)f->error);
	panic_printf("rip=0x%016lx cs=0x%lx rflags=0x%lx rsp=0x%016lx ss=0x%lx\r\n",
		     (unsigned long)f->rip, (unsigned long)f->cs, (unsigned long)f->rflags,
		     (unsigned long)f->rsp, (unsigned long)f->ss);
	panic_printf("rax=0x%016lx rbx=0x%016lx rcx=0x%016lx rdx=0x%016lx\r\n",
		     (unsigned long)f->rax, (unsigned long)f->rbx, (unsigned long)f->rcx,
		     (unsigned long)f->rdx);
	panic_printf("rsi=0x%016lx rdi=0x%016lx rbp=0x%016lx r8 =0x%016lx\r\n",
		     (unsigned long)f->rsi, (unsigned long)f->rdi, (unsigned long)f->rbp,
		     (unsigned long)f->r8);
	panic_printf("r9 =0x%016lx r10=0x%016lx r11=0x%016lx r12=0x%016lx\r\n",
		     (unsigned long)f->r9, (unsigned long)f->r10, (unsigned long)f->r11,
		     (unsigned long)f->r12);
	panic_printf("r13=0x%016lx r14=0x%016lx r15=0x%016lx\r\n", (unsigned long)f->r13,
		     (unsigned long)f->r14, (unsigned long)f->r15);
	panic_printf("cr0=0x%lx cr2=0x%016lx cr3=0x%lx cr4=0x%lx\r\n", (unsigned long)read_cr0(),
		     (unsigned long)read_cr2(), (unsigned long)read_cr3(),
		     (unsigned long)read_cr4());
	panic_backtrace(f->rbp);
	panic_end();
}

/* ---------------------------------------------------------------- interrupts */
#define VEC_FIRST 0x20
#define VEC_LAST 0xef
#define VEC_SPURIOUS 0xff

static struct {
	irq_handler_fn fn;
	void *ctx;
} handlers[256];
static uint64_t counts[256];
volatile unsigned irq_nesting;

void isr_dispatch(struct isr_frame *f)
{
	unsigned v = (unsigned)f->vector;

	if (v < 32) {
		exception(f);
		return;
	}
	if (v == VEC_SPURIOUS)
		return; /* no EOI for spurious interrupts (SDM 10.9) */
	counts[v]++;
	irq_nesting++;
	if (handlers[v].fn)
		handlers[v].fn(v, handlers[v].ctx);
	irq_nesting--;
	apic_eoi();
}

int irq_alloc_vector(irq_handler_fn fn, void *ctx)
{
	bool was = irq_save_disable();
	int ret = -ENOSPC;

	for (unsigned v = VEC_FIRST; v <= VEC_LAST; v++) {
		if (!handlers[v].fn) {
			handlers[v].ctx = ctx;
			handlers[v].fn = fn;
			counts[v] = 0;
			ret = (int)v;
			break;
		}
	}
	irq_restore(was);
	return ret;
}

void irq_free_vector(unsigned vector)
{
	bool was = irq_save_disable();

	if (vector < 256) {
		handlers[vector].fn = NULL;
		handlers[vector].ctx = NULL;
	}
	irq_restore(was);
}

uint64_t irq_count(unsigned vector) { return vector < 256 ? counts[vector] : 0; }

uint32_t irq_dest_apic_id(void) { return apic_id(); }

uint64_t irq_msi_compat_addr(void)
{
	/* Compatibility format: 0xFEE, destination id in bits 19:12, physical
	 * destination mode, no redirection hint. */
	return 0xfee00000ull | ((uint64_t)(apic_id() & 0xff) << 12);
}

uint32_t irq_msi_compat_data(unsigned vector) { return vector & 0xff; /* fixed, edge */ }

bool irq_save_disable(void)
{
	bool was = cpu_irq_enabled();

	cpu_cli();
	return was;
}

void irq_restore(bool was_enabled)
{
	if (was_enabled)
		cpu_sti();
}

/* ---------------------------------------------------------------- probes */
/* Writes one byte at addr; a fault is caught and reported instead of
 * stopping sluice.  Used to prove that text is write-protected. */
int arch_probe_write(uint64_t addr, uint8_t val, unsigned *vector)
{
	fixup_hit_vector = ~0ull;
	fixup_pop = 0;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "mov %%rax, fixup_rip(%%rip)\n\t"
			 "leaq 2f(%%rip), %%rax\n\t"
			 "mov %%rax, fixup_to(%%rip)\n"
			 "1: movb %1, (%0)\n"
			 "2:\n\t"
			 :
			 : "r"(addr), "q"(val)
			 : "rax", "memory");
	fixup_rip = 0;
	if (fixup_hit_vector != ~0ull) {
		*vector = (unsigned)fixup_hit_vector;
		return -EFAULT;
	}
	return 0;
}

/* Calls addr, which must hold a RET instruction: returns normally if the
 * page is executable, or catches the instruction-fetch fault.  Used to prove
 * that data is not executable (NX). */
int arch_probe_exec(uint64_t addr, unsigned *vector)
{
	fixup_hit_vector = ~0ull;
	fixup_rip = addr;
	fixup_pop = 8; /* the return address the call pushed */
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "mov %%rax, fixup_to(%%rip)\n\t"
			 "call *%0\n"
			 "1:\n\t"
			 :
			 : "r"(addr)
			 : "memory", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11");
	fixup_rip = 0;
	if (fixup_hit_vector != ~0ull) {
		*vector = (unsigned)fixup_hit_vector;
		return -EFAULT;
	}
	return 0;
}

/* ---------------------------------------------------------------- init */
static void detect_features(void)
{
	uint32_t a, b, c, d;

	cpuid(0, 0, &a, &b, &c, &d);
	memcpy(cpu_feat.vendor + 0, &b, 4);
	memcpy(cpu_feat.vendor + 4, &d, 4);
	memcpy(cpu_feat.vendor + 8, &c, 4);
	cpu_feat.vendor[12] = 0;
	cpuid(1, 0, &a, &b, &c, &d);
	cpu_feat.x2apic = c & (1u << 21);
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	uint32_t maxext = a;
	if (maxext >= 0x80000001) {
		cpuid(0x80000001, 0, &a, &b, &c, &d);
		cpu_feat.nx = d & (1u << 20);
		cpu_feat.pdpe1gb = d & (1u << 26);
		cpu_feat.svm = c & (1u << 2);
	}
	if (maxext >= 0x80000007) {
		cpuid(0x80000007, 0, &a, &b, &c, &d);
		cpu_feat.invariant_tsc = d & (1u << 8);
	}
	cpu_feat.phys_bits = 36;
	if (maxext >= 0x80000008) {
		cpuid(0x80000008, 0, &a, &b, &c, &d);
		cpu_feat.phys_bits = a & 0xff;
	}
}

/* The legacy 8259 PICs are masked: every interrupt comes through the LAPIC
 * (MSIs) or the IOAPIC. */
static void pic_disable(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void arch_init(void)
{
	detect_features();
	gdt_init();
	idt_init();
	pic_disable();
}
