/*
 * arch/x86/arch.h — CPU bring-up and the interrupt frame.
 */
#ifndef SLUICE_ARCH_X86_ARCH_H
#define SLUICE_ARCH_X86_ARCH_H

#include <stdint.h>

#include "lib/err.h"

/* Layout pushed by arch/x86/isr.S (lowest address first). */
struct isr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

void arch_init(void); /* GDT, TSS, IDT, PIC off; CPU features */
void isr_dispatch(struct isr_frame *f);

/* Fault-catching probes (for self-tests of the page protections). */
int arch_probe_write(uint64_t addr, uint8_t val, unsigned *vector) MUST_CHECK;
int arch_probe_exec(uint64_t addr, unsigned *vector) MUST_CHECK;

#endif
