/*
 * arch/x86/npt.h — nested page tables (AMD NPT: the x86-64 4-level long-mode
 * format, walked as user accesses, so U=1 at every level), as pure
 * functions over memory like iommu/pgtable_vtd.h: the same page-table
 * engine with a different entry format.  Host unit tests run them unchanged.
 *
 * Contract (the same as vtd_pt_*):
 *  - npt_map() maps all of [gpa, gpa+size) or nothing, with the largest
 *    leaves (1 GiB, 2 MiB, 4 KiB) that gpa, hpa and the rest of the range
 *    allow; -EEXIST / -ENOMEM leave the table untouched.
 *  - npt_unmap() clears [gpa, gpa+size) (absent parts are fine) and splits
 *    a large leaf straddling an edge without a window.  Table pages that
 *    became empty are freed at once: the caller flushes the guest TLB
 *    (vcpu_flush_npt) before the guest runs again, and no guest runs while
 *    the table is edited (single CPU), so nothing walks a freed page.
 */
#ifndef SLUICE_ARCH_X86_NPT_H
#define SLUICE_ARCH_X86_NPT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/pgtable.h"

#define NPT_R 0x1u    /* readable (present) */
#define NPT_W 0x2u    /* writable */
#define NPT_X 0x4u    /* executable (no NX bit) */
#define NPT_MMIO 0x8u /* uncached (PCD|PWT): device memory */

struct npt_alloc {			   /* where table pages come from */
	uint64_t (*alloc_page)(void *ctx); /* a zeroed 4 KiB page (physical address), 0 = none */
	void (*free_page)(void *ctx, uint64_t pa);
	void *ctx;
};

/*
 * The engine's fields (lib/pgtable.h PGT_FIELDS), readable by name:
 *   root         physical address of the PML4 (nCR3)
 *   pgsizes      PGT_4K | PGT_2M | PGT_1G allowed (the values of iommu.h's PGSIZE_*)
 *   table_pages  pages held, root included
 *   alloc        the page source given to npt_init
 * The others (levels, coherent, stash*, fmt) are the engine's.
 */
struct npt {
	union {
		struct pgt pgt; /* what the engine is handed */
		struct {
			PGT_FIELDS;
		};
	};
};

/* 48-bit guest-physical space (4 levels).  pgsizes must hold 4K and nothing
 * but 4K/2M/1G (-EINVAL); -ENOMEM if the root cannot be allocated. */
int npt_init(struct npt *n, uint64_t pgsizes, const struct npt_alloc *a) MUST_CHECK;
void npt_destroy(struct npt *n);
/* prot: NPT_R required; W, X, MMIO optional.  -EINVAL (bad prot, zero size,
 * misalignment, beyond 48 bits), -EOVERFLOW, -EEXIST, -ENOMEM. */
int npt_map(struct npt *n, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned prot) MUST_CHECK;
/* -EINVAL, -EOVERFLOW as for map; -ENOMEM if a split cannot allocate. */
int npt_unmap(struct npt *n, uint64_t gpa, uint64_t size) MUST_CHECK;
/* level: 1 = 4K leaf, 2 = 2M, 3 = 1G.  Out pointers may be NULL.  -ENOENT
 * if not mapped, -EINVAL beyond 48 bits. */
int npt_walk(const struct npt *n, uint64_t gpa, uint64_t *hpa, unsigned *level,
	     unsigned *prot) MUST_CHECK;

#endif
