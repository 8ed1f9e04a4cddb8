/*
 * arch/x86/irq.h — interrupt vectors and handlers.
 *
 * Vectors 0x20..0xef are handed out by irq_alloc_vector(); a handler runs
 * with interrupts off, on the interrupted stack, after the CPU state
 * (including SSE) was saved.  The LAPIC EOI is sent after the handler
 * returns.  irq_count(v) counts deliveries per vector.
 */
#ifndef SLUICE_ARCH_X86_IRQ_H
#define SLUICE_ARCH_X86_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

typedef void (*irq_handler_fn)(unsigned vector, void *ctx);

/* A free vector with handler installed, or -ENOSPC. */
int irq_alloc_vector(irq_handler_fn fn, void *ctx) MUST_CHECK;
void irq_free_vector(unsigned vector);
uint64_t irq_count(unsigned vector);
/* > 0 while an interrupt handler runs (console output is queued then). */
extern volatile unsigned irq_nesting;
/* APIC id of the CPU sluice runs on (the destination for every MSI). */
uint32_t irq_dest_apic_id(void);
/* Compatibility-format MSI address/data for vector on this CPU (fixed,
 * edge) — only for the IOMMU's own fault/completion events. */
uint64_t irq_msi_compat_addr(void);
uint32_t irq_msi_compat_data(unsigned vector);

bool irq_save_disable(void);
void irq_restore(bool was_enabled);

#endif
