/*
 * iommu/pgtable_vtd.h — VT-d second-level page tables as pure functions over
 * memory (VT-d spec 9.8, "Second-Level Paging Entries").  No registers, no
 * invalidation: the VT-d driver owns those and calls these functions; host
 * unit tests run them unchanged.  The engine is lib/pgtable.h's, shared with
 * every other format; this is the VT-d entry format and the VT-d API on it.
 *
 * Contract (see iommu/iommu.h for the gather):
 *  - vtd_pt_map() maps all of [iova, iova+size) or nothing.  It checks the
 *    whole range and preallocates every table it needs before it writes a
 *    single entry, so -EEXIST and -ENOMEM leave the table untouched.
 *  - vtd_pt_unmap() clears [iova, iova+size) (absent parts are fine), splits
 *    a large leaf straddling an edge without a window (the split tables are
 *    allocated first: -ENOMEM means nothing changed), and puts table pages
 *    that became empty on g->freelist.  They stay allocated (and counted in
 *    table_pages) until vtd_pt_free_gathered(), which the caller runs only
 *    after the IOTLB/paging-structure invalidation completed.
 *  - A gather belongs to one vtd_pt until it is freed.
 */
#ifndef SLUICE_IOMMU_PGTABLE_VTD_H
#define SLUICE_IOMMU_PGTABLE_VTD_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "lib/err.h"
#include "lib/pgtable.h"

/* Second-level paging entry bits (VT-d 9.8). */
#define VTD_SL_R (1ull << 0)		  /* read */
#define VTD_SL_W (1ull << 1)		  /* write */
#define VTD_SL_PS (1ull << 7)		  /* page size: leaf at level 2 (2M) / 3 (1G) */
#define VTD_SL_SNP (1ull << 11)		  /* snoop (needs ECAP.SC) */
#define VTD_SL_ADDR 0x000ffffffffff000ull /* address bits 51:12 */

#define VTD_PT_ENTRIES PGT_ENTRIES

struct vtd_pt_alloc {			   /* where table pages come from */
	uint64_t (*alloc_page)(void *ctx); /* a zeroed 4 KiB page (physical address), 0 = none */
	void (*free_page)(void *ctx, uint64_t pa);
	void *ctx;
};

/* Emptied table pages a VT-d domain keeps for reuse (4 levels deep x 2). */
#define VTD_PT_STASH 8

/*
 * The engine's fields (lib/pgtable.h PGT_FIELDS), readable by name:
 *   root         physical address of the top table
 *   levels       3 (39-bit) or 4 (48-bit)
 *   pgsizes      PGSIZE_4K | PGSIZE_2M | PGSIZE_1G allowed as leaves
 *   coherent     false: clflush every entry write and every fresh table (ECAP.C=0)
 *   table_pages  pages held, root included (and pages waiting in a gather)
 *   alloc        the page source given to vtd_pt_init
 *   stash_max, nstash, stash
 *                up to stash_max emptied table pages are kept for reuse
 *                instead of going back to the allocator: they are already
 *                zero and were released only after the flush that covered
 *                them, so a map reuses them without allocating and zeroing.
 *                0 (the default) keeps none; vtd_pt_destroy frees them.
 */
struct vtd_pt {
	union {
		struct pgt pgt; /* what the engine is handed */
		struct {
			PGT_FIELDS;
		};
	};
	bool snoop; /* set SNP (bit 11) in leaves */
};

/* levels 3 or 4; pgsizes must hold PGSIZE_4K and nothing but 4K/2M/1G.
 * -EINVAL for bad arguments, -ENOMEM if the root cannot be allocated. */
int vtd_pt_init(struct vtd_pt *pt, unsigned levels, uint64_t pgsizes, bool coherent, bool snoop,
		const struct vtd_pt_alloc *a) MUST_CHECK;
/* Frees every table page reachable from the root, root included (leaves are
 * not memory of ours).  Pages on a gather's freelist are not reachable: run
 * vtd_pt_free_gathered() for them first. */
void vtd_pt_destroy(struct vtd_pt *pt);
/* prot: IOMMU_READ|IOMMU_WRITE, at least one.  -EINVAL (bad prot, zero size,
 * misalignment, beyond the aperture or the 52-bit address width),
 * -EOVERFLOW (iova+size or pa+size wraps), -EEXIST, -ENOMEM. */
int vtd_pt_map(struct vtd_pt *pt, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
	       struct iommu_gather *g) MUST_CHECK;
/* -EINVAL, -EOVERFLOW as for map; -ENOMEM if a split cannot allocate. */
int vtd_pt_unmap(struct vtd_pt *pt, uint64_t iova, uint64_t size,
		 struct iommu_gather *g) MUST_CHECK;
/* level: 1 = 4K leaf, 2 = 2M, 3 = 1G.  Any out pointer may be NULL.
 * -ENOENT if not mapped, -EINVAL beyond the aperture. */
int vtd_pt_walk(const struct vtd_pt *pt, uint64_t iova, uint64_t *pa, unsigned *level,
		unsigned *prot) MUST_CHECK;
/* After the IOTLB flush: frees g's freelist and resets freelist/nfree. */
void vtd_pt_free_gathered(struct vtd_pt *pt, struct iommu_gather *g);
/* Last translatable IOVA: 2^(12+9*levels) - 1. */
uint64_t vtd_pt_aperture_end(const struct vtd_pt *pt);

#endif
