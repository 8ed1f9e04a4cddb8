/*
 * arch/x86/paging.h — sluice's own 4-level page tables: physical memory and
 * MMIO identity mapped, data not executable (NX), the image's text
 * read-only (CR0.WP), MMIO uncached.
 */
#ifndef SLUICE_ARCH_X86_PAGING_H
#define SLUICE_ARCH_X86_PAGING_H

#include <stdint.h>

#include "boot/boot_info.h"
#include "lib/err.h"

int paging_init(const struct boot_info *bi) MUST_CHECK;
/* Bytes of physical address space identity mapped (0..top). */
uint64_t paging_top(void);
/* The image's text range (for self-tests and the panic dump). */
void paging_text_range(uint64_t *start, uint64_t *end);

#endif
