/*
 * kernel/memmap.h — questions about the boot memory map (struct boot_info's
 * regions, in any order): which kinds a physical range lies in, and the two
 * DMAR policies bring-up applies before it trusts a firmware table with
 * memory: an RMRR must lie wholly in reserved or ACPI NVS memory, and a
 * DRHD's register set must not touch RAM.  Pure functions: by range
 * intersection over the region list, never page by page.
 */
#ifndef SLUICE_KERNEL_MEMMAP_H
#define SLUICE_KERNEL_MEMMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/boot_info.h"
#include "lib/err.h"

#define MEMMAP_HOLE 0u /* the "kind" of an address no region describes */
/* A set of kinds (enum mem_kind) as a bit mask. */
#define MEMMAP_KIND(k) (1u << (k))
/* Where an RMRR may lie: reserved or ACPI NVS. */
#define MEMMAP_RMRR_KINDS (MEMMAP_KIND(MEM_RESERVED) | MEMMAP_KIND(MEM_ACPI_NVS))
/* Where a DRHD's registers may not lie: any kind of RAM (all but reserved
 * and MMIO; unknown types count as RAM). */
#define MEMMAP_RAM_KINDS \
	(~(MEMMAP_KIND(MEMMAP_HOLE) | MEMMAP_KIND(MEM_RESERVED) | MEMMAP_KIND(MEM_MMIO)))

/* The first address of [base, last] (inclusive) that lies in a region whose
 * kind is in kinds: true with *at and *kind, false if there is none. */
bool memmap_first_in(const struct mem_region *r, unsigned n, uint64_t base, uint64_t last,
		     uint32_t kinds, uint64_t *at, uint32_t *kind);
/* The first address of [base, last] that is not described by regions of
 * kinds alone (in no region, or also in a region of another kind): true with
 * *at and *kind (MEMMAP_HOLE if no region describes it), false if every
 * byte is covered by regions of kinds.  O(n) per region the range spans. */
bool memmap_first_outside(const struct mem_region *r, unsigned n, uint64_t base, uint64_t last,
			  uint32_t kinds, uint64_t *at, uint32_t *kind);

/* 0 if every byte of the RMRR [base, last] lies in reserved or ACPI NVS
 * regions; -EPERM with the first other address and its kind otherwise. */
int memmap_rmrr_check(const struct mem_region *r, unsigned n, uint64_t base, uint64_t last,
		      uint64_t *at, uint32_t *kind) MUST_CHECK;
/* 0 if no byte of the register set [base, base + size) lies in RAM (holes,
 * reserved and MMIO are fine); -EPERM with the first RAM address otherwise. */
int memmap_drhd_check(const struct mem_region *r, unsigned n, uint64_t base, uint64_t size,
		      uint64_t *at, uint32_t *kind) MUST_CHECK;

/* What a kind is, to follow "0x... is ": "usable RAM", "ACPI NVS", ... */
const char *mem_kind_name(uint32_t kind);

#endif
