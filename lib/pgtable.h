/*
 * lib/pgtable.h — the page-table engine: radix tables of 512 64-bit entries
 * in 4 KiB pages, built, edited, split and walked as pure functions over
 * memory.  A format (struct pgt_fmt) is a few constants saying how its
 * entries look; everything else (leaf choice, all-or-nothing map, split
 * without a window, pruning, the gather, the stash of emptied tables, walk)
 * is this one engine for every format: VT-d second-level
 * (iommu/pgtable_vtd.c) and AMD nested paging (arch/x86/npt.c).  See
 * docs/pgtable.md.
 *
 * Contract:
 *  - pgt_map() maps all of [va, va+size) or nothing.  It checks the whole
 *    range and preallocates every table it needs before it writes a single
 *    entry, so -EEXIST and -ENOMEM leave the table untouched.
 *  - pgt_unmap() clears [va, va+size) (absent parts are fine), splits a large
 *    leaf straddling an edge without a window (the split tables are
 *    allocated first: -ENOMEM means nothing changed), and puts table pages
 *    that became empty on g->freelist.  They stay allocated (and counted in
 *    table_pages) until pgt_free_gathered(), which the caller runs once no
 *    walker can still hold a pointer to them (after its TLB invalidation).
 *  - A gather belongs to one pgt until it is freed.
 */
#ifndef SLUICE_LIB_PGTABLE_H
#define SLUICE_LIB_PGTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* Leaf sizes (the same values as iommu/iommu.h's PGSIZE_*). */
#define PGT_4K (1ull << 12)
#define PGT_2M (1ull << 21)
#define PGT_1G (1ull << 30)

#define PGT_ENTRIES 512u

/* An entry format.  Every format here is 64-bit entries with the address in
 * `addr`; a leaf is addr | attr | (level > 1 ? ps : 0), a table pointer is
 * addr | table. */
struct pgt_fmt {
	uint64_t present;     /* an entry is present when any of these is set */
	uint64_t table;	      /* the bits of a non-leaf entry besides its address */
	uint64_t ps;	      /* marks a leaf above level 1 */
	uint64_t addr;	      /* the address field (4K aligned bits) */
	uint64_t attr;	      /* leaf bits a split copies into the smaller leaves */
	unsigned leaf_levels; /* bit l set: level l may hold leaves (bit 1 must be) */
};

struct pgt_alloc {			   /* where table pages come from */
	uint64_t (*alloc_page)(void *ctx); /* a zeroed 4 KiB page (physical address), 0 = none */
	void (*free_page)(void *ctx, uint64_t pa);
	void *ctx;
};

/* What an unmap changed, for the caller's TLB invalidation. */
struct pgt_gather {
	uint64_t start, end; /* range touched, [start, end); end 0 = none */
	bool leaf_only;	     /* only leaves changed */
	bool need_flush;     /* something a walker may cache changed */
	uint64_t freelist;   /* emptied table pages, linked through their first 8 bytes */
	unsigned nfree;
};

/* Widens the touched range [*start, *end) (end 0 = none yet) to cover
 * [s, e): the engine's gather and a driver's own (iommu_gather) share it. */
static inline void pgt_range_add(uint64_t *start, uint64_t *end, uint64_t s, uint64_t e)
{
	if (*end == 0) {
		*start = s;
		*end = e;
		return;
	}
	if (s < *start)
		*start = s;
	if (e > *end)
		*end = e;
}

static inline void pgt_gather_init(struct pgt_gather *g)
{
	g->start = 0;
	g->end = 0;
	g->leaf_only = true;
	g->need_flush = false;
	g->freelist = 0;
	g->nfree = 0;
}

/* Emptied table pages kept for reuse: up to stash_max of them, zero (every
 * entry was cleared before they were unlinked) and released only after the
 * flush that covered them, so a map reuses them without allocating and
 * zeroing.  0 (the default) keeps none; pgt_destroy frees them.
 *
 * The fields are a macro so that a format's own struct (struct vtd_pt,
 * struct npt) can spell them out as its public fields in an anonymous
 * struct overlaid on a struct pgt (a union: the same members in the same
 * order, so the same layout). */
#define PGT_FIELDS                                                                            \
	uint64_t root;	      /* physical address of the top table */                         \
	unsigned levels;      /* levels of tables: the root is level `levels`, leaves 1..3 */ \
	uint64_t pgsizes;     /* PGT_4K | PGT_2M | PGT_1G allowed as leaves */                \
	bool coherent;	      /* false: clflush every entry write and every fresh table */    \
	uint64_t table_pages; /* pages held, root included (and pages waiting in a gather) */ \
	struct pgt_alloc alloc;                                                               \
	unsigned stash_max, nstash;                                                           \
	uint64_t stash;		  /* linked through their first 8 bytes */                    \
	const struct pgt_fmt *fmt /* the entry format */

struct pgt {
	PGT_FIELDS;
};

/* levels 3 or 4; pgsizes must hold PGT_4K and nothing but 4K/2M/1G at
 * levels the format allows.  -EINVAL for bad arguments, -ENOMEM if the root
 * cannot be allocated. */
int pgt_init(struct pgt *pt, const struct pgt_fmt *fmt, unsigned levels, uint64_t pgsizes,
	     bool coherent, const struct pgt_alloc *a) MUST_CHECK;
/* Frees every table page reachable from the root, root included, and the
 * stash.  Pages on a gather's freelist are not reachable: free them first. */
void pgt_destroy(struct pgt *pt);
/* attr: the leaf bits besides address and ps; it must hold a present bit
 * (the format's wrapper turns its prot into them).  -EINVAL (zero size,
 * misalignment, beyond the aperture or the address field), -EOVERFLOW
 * (va+size or pa+size wraps), -EEXIST, -ENOMEM. */
int pgt_map(struct pgt *pt, uint64_t va, uint64_t pa, uint64_t size, uint64_t attr) MUST_CHECK;
/* -EINVAL, -EOVERFLOW as for map; -ENOMEM if a split cannot allocate. */
int pgt_unmap(struct pgt *pt, uint64_t va, uint64_t size, struct pgt_gather *g) MUST_CHECK;
/* level: 1 = 4K leaf, 2 = 2M, 3 = 1G; entry: the leaf as stored.  Any out
 * pointer may be NULL.  -ENOENT if not mapped, -EINVAL beyond the aperture. */
int pgt_walk(const struct pgt *pt, uint64_t va, uint64_t *pa, unsigned *level,
	     uint64_t *entry) MUST_CHECK;
/* After the flush: frees (or stashes) g's freelist and resets freelist/nfree. */
void pgt_free_gathered(struct pgt *pt, struct pgt_gather *g);
/* Last translatable address: 2^(12+9*levels) - 1. */
uint64_t pgt_aperture_end(const struct pgt *pt);

#endif
