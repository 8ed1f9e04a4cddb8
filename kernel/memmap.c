/*
 * kernel/memmap.c — range questions over the boot memory map (see
 * memmap.h).  Regions may come in any order and may (in a broken map)
 * overlap; a byte described by two regions of different kinds counts as
 * both, so an overlap never lets a RAM byte pass as reserved.
 */
#include "kernel/memmap.h"

#include <errno.h>

/* Kinds beyond the mask's width are unknown: treat them as MEM_OTHER. */
static uint32_t kind_bit(uint32_t kind)
{
	return kind < 32 ? MEMMAP_KIND(kind) : MEMMAP_KIND(MEM_OTHER);
}

/* The inclusive last byte of r (false for an empty region); a region that
 * would wrap past 2^64 ends at the top of the address space. */
static bool region_last(const struct mem_region *r, uint64_t *last)
{
	if (!r->size)
		return false;
	*last = r->base + (r->size - 1);
	if (*last < r->base)
		*last = UINT64_MAX;
	return true;
}

bool memmap_first_in(const struct mem_region *r, unsigned n, uint64_t base, uint64_t last,
		     uint32_t kinds, uint64_t *at, uint32_t *kind)
{
	bool found = false;
	uint64_t best = 0;
	uint32_t best_kind = MEMMAP_HOLE;

	if (last < base)
		return false;
	for (unsigned i = 0; i < n; i++) {
		uint64_t rl, start;

		if (!(kind_bit(r[i].kind) & kinds) || !region_last(&r[i], &rl))
			continue;
		if (rl < base || r[i].base > last)
			continue;
		start = r[i].base > base ? r[i].base : base;
		if (!found || start < best) {
			found = true;
			best = start;
			best_kind = r[i].kind;
		}
	}
	if (found) {
		*at = best;
		*kind = best_kind;
	}
	return found;
}

/* The first address of [base, last] no region of kinds describes: each
 * round jumps to the furthest end of a region holding the current address. */
static bool first_uncovered(const struct mem_region *r, unsigned n, uint64_t base, uint64_t last,
			    uint32_t kinds, uint64_t *at)
{
	uint64_t cur = base;

	for (;;) {
		bool held = false;
		uint64_t reach = 0;

		for (unsigned i = 0; i < n; i++) {
			uint64_t rl;

			if (!(kind_bit(r[i].kind) & kinds) || !region_last(&r[i], &rl))
				continue;
			if (r[i].base <= cur && cur <= rl && (!held || rl > reach)) {
				held = true;
				reach = rl;
			}
		}
		if (!held) {
			*at = cur;
			return true;
		}
		if (reach >= last)
			return false;
		cur = reach + 1;
	}
}

bool memmap_first_outside(const struct mem_region *r, unsigned n, uint64_t base, uint64_t last,
			  uint32_t kinds, uint64_t *at, uint32_t *kind)
{
	uint64_t other = 0, hole = 0;
	uint32_t other_kind = MEMMAP_HOLE;
	bool has_other, has_hole;

	if (last < base)
		return false;
	has_other = memmap_first_in(r, n, base, last, ~kinds, &other, &other_kind);
	has_hole = first_uncovered(r, n, base, last, kinds, &hole);
	if (!has_other && !has_hole)
		return false;
	/* An address in a region of another kind is reported as that kind, even
	 * where a region of kinds overlaps it; otherwise it is a hole. */
	if (has_other && (!has_hole || other <= hole)) {
		*at = other;
		*kind = other_kind;
	} else {
		*at = hole;
		*kind = MEMMAP_HOLE;
	}
	return true;
}

int memmap_rmrr_check(const struct mem_region *r, unsigned n, uint64_t base, uint64_t last,
		      uint64_t *at, uint32_t *kind)
{
	return memmap_first_outside(r, n, base, last, MEMMAP_RMRR_KINDS, at, kind) ? -EPERM : 0;
}

int memmap_drhd_check(const struct mem_region *r, unsigned n, uint64_t base, uint64_t size,
		      uint64_t *at, uint32_t *kind)
{
	uint64_t last = size ? base + (size - 1) : base;

	if (last < base)
		last = UINT64_MAX;
	return memmap_first_in(r, n, base, last, MEMMAP_RAM_KINDS, at, kind) ? -EPERM : 0;
}

const char *mem_kind_name(uint32_t kind)
{
	switch (kind) {
	case MEMMAP_HOLE: return "in no memory map entry";
	case MEM_USABLE: return "usable RAM";
	case MEM_LOADER: return "loader memory (sluice's image, stack, boot_info, page tables)";
	case MEM_RESERVED: return "reserved";
	case MEM_ACPI: return "ACPI tables";
	case MEM_MMIO: return "MMIO";
	case MEM_ACPI_NVS: return "ACPI NVS";
	case MEM_UNUSABLE: return "unusable RAM";
	case MEM_PERSISTENT: return "persistent memory";
	default: return "memory of a type sluice does not know";
	}
}
