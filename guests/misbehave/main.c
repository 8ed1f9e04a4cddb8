/*
 * guests/misbehave/main.c — a guest that does one wrong thing on request,
 * to prove that a misbehaving guest stops only itself.  It prints
 * "misbehave: ready", reads one word from COM1 (`vm console <vm> <word>`)
 * and does what it names:
 *   npf     reads guest-physical 0xC0000000 (outside RAM and any BAR)
 *   port    reads I/O port 0x60 (nothing emulates it)
 *   string  an OUTSB to COM1 (string I/O is not emulated)
 *   triple  a triple fault: an IDT of limit 0, then INT3
 *   msr     RDMSR of an MSR that does not exist (#GP: its trap handler exits)
 *   halt    CLI; HLT
 *   clgi    CLGI (an SVM instruction: intercepted, not emulated)
 *   touch   hints a page, writes to it (faults fresh memory in), checks that
 *           the rest of the page reads zero, exits 0 if so
 * Anything else: prints "misbehave: unknown <word>" and exits 1.
 */
#include "guests/lib/rt.h"

#define COM1 0x3f8
#define LSR_DR 0x01

static unsigned read_word(char *buf, unsigned max)
{
	unsigned n = 0;

	for (;;) {
		if (!(inb(COM1 + 5) & LSR_DR)) {
			cpu_relax();
			continue;
		}
		char c = (char)inb(COM1);
		if (c == '\n' || c == '\r')
			break;
		if (n + 1 < max)
			buf[n++] = c;
	}
	buf[n] = 0;
	return n;
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static int touch(uint64_t ram)
{
	uint64_t gpa = (ram / 2) & ~0xfffull;
	volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)gpa;

	p[100] = 0x77;
	int64_t r = hc_hint(gpa, 0x1000);
	if (r) {
		rt_printf("misbehave: hint failed %lld\n", (long long)r);
		return 2;
	}
	p[0] = 0x42; /* a nested page fault brings a fresh page in */
	for (unsigned i = 1; i < 0x1000; i++)
		if (p[i]) {
			rt_printf("misbehave: byte %u of the fresh page is 0x%x\n", i, p[i]);
			return 3;
		}
	rt_printf("misbehave: touched gpa=0x%llx fresh and zeroed\n", (unsigned long long)gpa);
	return p[0] == 0x42 ? 0 : 4;
}

int main(uint64_t ram_bytes)
{
	char w[32];

	rt_printf("misbehave: ready\n");
	read_word(w, sizeof(w));
	rt_printf("misbehave: doing %s\n", w);
	if (streq(w, "npf"))
		return (int)*(volatile uint32_t *)(uintptr_t)0xc0000000ull;
	if (streq(w, "port"))
		return inb(0x60);
	if (streq(w, "string")) {
		const char c = 'x';
		__asm__ volatile("outsb" : : "S"(&c), "d"((uint16_t)COM1) : "memory");
		return 0;
	}
	if (streq(w, "triple")) {
		struct __attribute__((packed)) {
			uint16_t limit;
			uint64_t base;
		} idt = {0, 0};
		__asm__ volatile("lidt %0; int3" : : "m"(idt));
		return 0;
	}
	if (streq(w, "msr")) {
		uint32_t lo, hi;
		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x4b4b0000u));
		return (int)lo;
	}
	if (streq(w, "halt")) {
		__asm__ volatile("cli; hlt");
		return 0;
	}
	if (streq(w, "clgi")) {
		__asm__ volatile("clgi");
		return 0;
	}
	if (streq(w, "touch"))
		return touch(ram_bytes);
	rt_printf("misbehave: unknown %s\n", w);
	return 1;
}
