/*
 * iommu/pgtable_vtd.c — VT-d second-level page tables (VT-d spec 9.8):
 * building, editing, splitting and walking them.  Pure functions over
 * memory handed out by a vtd_pt_alloc; the only hardware touched is the CPU
 * cache (clflush) when the IOMMU's page walks are not coherent (ECAP.C=0).
 *
 * Levels are counted 1 (the table of 4 KiB leaves) .. pt->levels (the root).
 * A level-l entry covers 2^(12+9(l-1)) bytes.  An entry is present when R or
 * W is set (second-level entries have no P bit, 9.8); a non-leaf entry is
 * R|W because hardware checks R/W at every level of the walk.
 *
 * Why one 64-bit store is enough: a second-level entry is 64 bits and the
 * remapping hardware fetches each paging entry as one naturally aligned
 * 64-bit quantity (Linux relies on the same: it only guarantees 64-bit
 * atomic reads/writes of a dma_pte).  An aligned 8-byte store on x86-64 is
 * single-copy atomic (SDM Vol. 3A, "Guaranteed Atomic Operations").  So the
 * IOMMU sees an entry either wholly old or wholly new, and every change made
 * here (absent -> leaf/table, leaf -> absent, table -> absent, leaf -> table
 * of equivalent smaller leaves) is one such store through a volatile
 * pointer, which the compiler may not split or merge.  Only the 128-bit
 * context entries and IRTEs need an ordered two-half write (9.3, 9.10:
 * hardware fetches them whole); nothing here spans two qwords.
 */
#include "iommu/pgtable_vtd.h"

#include <stddef.h>

#include "hw/hw.h"

#define LEVEL_SHIFT(l) (12u + 9u * ((l)-1u))
#define LEVEL_SIZE(l) (1ull << LEVEL_SHIFT(l))
#define PT_BYTES 4096u

static inline unsigned pt_index(uint64_t iova, unsigned level)
{
	return (unsigned)(iova >> LEVEL_SHIFT(level)) & (VTD_PT_ENTRIES - 1);
}

static inline uint64_t *table_va(uint64_t pa) { return (uint64_t *)phys_to_virt(pa); }

static inline bool pte_present(uint64_t e) { return (e & (VTD_SL_R | VTD_SL_W)) != 0; }

/* PS is defined only at level 2 and 3 (9.8); at level 1 every present entry
 * is a leaf, at level 4 it never is (we never set PS there). */
static inline bool pte_leaf(uint64_t e, unsigned level)
{
	return level == 1 || (level <= 3 && (e & VTD_SL_PS));
}

static inline uint64_t pte_addr(uint64_t e) { return e & VTD_SL_ADDR; }

/* The only way an entry is written: one aligned 64-bit store. */
static inline void pte_set(uint64_t *p, uint64_t v) { *(volatile uint64_t *)p = v; }

static inline uint64_t table_pte(uint64_t pa) { return pa | VTD_SL_R | VTD_SL_W; }

static uint64_t prot_bits(const struct vtd_pt *pt, unsigned prot)
{
	uint64_t b = 0;

	if (prot & IOMMU_READ)
		b |= VTD_SL_R;
	if (prot & IOMMU_WRITE)
		b |= VTD_SL_W;
	/* SNP is legal only with ECAP.SC (9.8; QEMU treats it as reserved
	 * otherwise): the driver sets pt->snoop only then. */
	if (pt->snoop)
		b |= VTD_SL_SNP;
	return b;
}

/* A leaf of `level` at pa with attributes attr (R/W/SNP). */
static inline uint64_t leaf_pte(uint64_t pa, uint64_t attr, unsigned level)
{
	return pa | attr | (level > 1 ? VTD_SL_PS : 0);
}

static inline bool size_allowed(const struct vtd_pt *pt, unsigned level)
{
	return level == 1 || (level <= 3 && (pt->pgsizes & LEVEL_SIZE(level)));
}

/* VT-d 6.1 / ECAP.C=0: the IOMMU reads memory, not the CPU cache. */
static void flush_entries(const struct vtd_pt *pt, uint64_t *t, int lo, int hi)
{
	if (!pt->coherent && lo <= hi)
		cpu_clflush_range(&t[lo], (size_t)(hi - lo + 1) * sizeof(uint64_t));
}

static void flush_table(const struct vtd_pt *pt, uint64_t pa)
{
	if (!pt->coherent)
		cpu_clflush_range(table_va(pa), PT_BYTES);
}

static inline void mark(int *lo, int *hi, unsigned idx)
{
	if ((int)idx < *lo)
		*lo = (int)idx;
	if ((int)idx > *hi)
		*hi = (int)idx;
}

static void gather_range(struct iommu_gather *g, uint64_t start, uint64_t end)
{
	if (g->end == 0) {
		g->start = start;
		g->end = end;
		return;
	}
	if (start < g->start)
		g->start = start;
	if (end > g->end)
		g->end = end;
}

/* ------------------------------------------------------------ page pool */

/* Pages allocated before a change starts, linked through their first
 * 8 bytes.  They are ours and never linked into the table while here. */
struct pool {
	uint64_t head;
	uint64_t n;
};

/* Gives every page of a chain (linked through its first 8 bytes) back to
 * the allocator. */
static void free_chain(struct vtd_pt *pt, uint64_t *head)
{
	while (*head) {
		uint64_t pa = *head;

		*head = *table_va(pa);
		pt->alloc.free_page(pt->alloc.ctx, pa);
		pt->table_pages--;
	}
}

static void pool_drain(struct vtd_pt *pt, struct pool *p)
{
	free_chain(pt, &p->head);
	p->n = 0;
}

static int pool_fill(struct vtd_pt *pt, struct pool *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pa = pt->stash;

		if (pa) { /* zero but for the link, which pool_take clears */
			pt->stash = *table_va(pa);
			pt->nstash--;
		} else {
			pa = pt->alloc.alloc_page(pt->alloc.ctx);
			if (!pa) {
				pool_drain(pt, p);
				return -ENOMEM;
			}
			pt->table_pages++;
		}
		*table_va(pa) = p->head;
		p->head = pa;
		p->n++;
	}
	return 0;
}

/* A zeroed page from the pool (the caller counted how many it needs). */
static uint64_t pool_take(struct pool *p)
{
	uint64_t pa = p->head;

	p->head = *table_va(pa);
	*table_va(pa) = 0;
	p->n--;
	return pa;
}

/* ------------------------------------------------------------ init */

uint64_t vtd_pt_aperture_end(const struct vtd_pt *pt)
{
	return (1ull << (12u + 9u * pt->levels)) - 1;
}

int vtd_pt_init(struct vtd_pt *pt, unsigned levels, uint64_t pgsizes, bool coherent, bool snoop,
		const struct vtd_pt_alloc *a)
{
	if (levels != 3 && levels != 4)
		return -EINVAL;
	if (!(pgsizes & PGSIZE_4K) || (pgsizes & ~(PGSIZE_4K | PGSIZE_2M | PGSIZE_1G)))
		return -EINVAL;
	if (!a || !a->alloc_page || !a->free_page)
		return -EINVAL;
	pt->levels = levels;
	pt->pgsizes = pgsizes;
	pt->coherent = coherent;
	pt->snoop = snoop;
	pt->alloc = *a;
	pt->table_pages = 0;
	pt->stash_max = 0;
	pt->nstash = 0;
	pt->stash = 0;
	pt->root = a->alloc_page(a->ctx);
	if (!pt->root)
		return -ENOMEM;
	pt->table_pages = 1;
	flush_table(pt, pt->root);
	return 0;
}

static void destroy_table(struct vtd_pt *pt, uint64_t pa, unsigned level)
{
	uint64_t *t = table_va(pa);

	if (level > 1)
		for (unsigned i = 0; i < VTD_PT_ENTRIES; i++)
			if (pte_present(t[i]) && !pte_leaf(t[i], level))
				destroy_table(pt, pte_addr(t[i]), level - 1);
	pt->alloc.free_page(pt->alloc.ctx, pa);
	pt->table_pages--;
}

void vtd_pt_destroy(struct vtd_pt *pt)
{
	free_chain(pt, &pt->stash);
	pt->nstash = 0;
	if (!pt->root)
		return;
	destroy_table(pt, pt->root, pt->levels);
	pt->root = 0;
}

void vtd_pt_free_gathered(struct vtd_pt *pt, struct iommu_gather *g)
{
	/* An unlinked table had every entry cleared: all zero but the gather
	 * link in its first 8 bytes.  Keep up to stash_max for reuse. */
	while (g->freelist && pt->nstash < pt->stash_max) {
		uint64_t pa = g->freelist;

		g->freelist = *table_va(pa);
		*table_va(pa) = pt->stash;
		pt->stash = pa;
		pt->nstash++;
	}
	free_chain(pt, &g->freelist);
	g->nfree = 0;
}

/* ------------------------------------------------------------ checks */

static int check_range(const struct vtd_pt *pt, uint64_t iova, uint64_t size)
{
	if (size == 0 || (iova | size) & (PGSIZE_4K - 1))
		return -EINVAL;
	if (iova + size < iova)
		return -EOVERFLOW;
	if (iova + size - 1 > vtd_pt_aperture_end(pt))
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------ walk */

int vtd_pt_walk(const struct vtd_pt *pt, uint64_t iova, uint64_t *pa, unsigned *level,
		unsigned *prot)
{
	const uint64_t *t = table_va(pt->root);

	if (iova > vtd_pt_aperture_end(pt))
		return -EINVAL;
	for (unsigned l = pt->levels; l >= 1; l--) {
		uint64_t e = t[pt_index(iova, l)];

		if (!pte_present(e))
			return -ENOENT;
		if (pte_leaf(e, l)) {
			uint64_t mask = LEVEL_SIZE(l) - 1;

			if (pa)
				*pa = (pte_addr(e) & ~mask) | (iova & mask);
			if (level)
				*level = l;
			if (prot)
				*prot = ((e & VTD_SL_R) ? IOMMU_READ : 0) |
					((e & VTD_SL_W) ? IOMMU_WRITE : 0);
			return 0;
		}
		t = table_va(pte_addr(e));
	}
	return -ENOENT; /* not reached: level 1 entries are leaves */
}

/* ------------------------------------------------------------ map */

/* The leaf choice: the largest allowed size that iova and pa are both
 * aligned to and that the rest of the range covers.  Evaluated per level
 * while descending, so the largest fitting level is the first that says yes. */
static bool leaf_fits(const struct vtd_pt *pt, unsigned level, uint64_t iova, uint64_t pa,
		      uint64_t end)
{
	uint64_t sz = LEVEL_SIZE(level);

	if (!size_allowed(pt, level))
		return false;
	return ((iova | pa) & (sz - 1)) == 0 && end - iova >= sz;
}

/* Dry run of map over table t (NULL: a table that does not exist yet, all
 * entries absent): -EEXIST if any slot the map would write is present or a
 * superpage sits where the map must descend; counts the tables to create. */
static int map_scan(const struct vtd_pt *pt, const uint64_t *t, unsigned level, uint64_t iova,
		    uint64_t pa, uint64_t end, uint64_t *ntables)
{
	unsigned idx = pt_index(iova, level);

	while (iova < end && idx < VTD_PT_ENTRIES) {
		uint64_t sz = LEVEL_SIZE(level);
		uint64_t stop = (iova & ~(sz - 1)) + sz;
		uint64_t e = t ? t[idx] : 0;

		if (stop > end)
			stop = end;
		if (leaf_fits(pt, level, iova, pa, end)) {
			if (pte_present(e))
				return -EEXIST;
		} else if (pte_present(e)) {
			int rc;

			if (pte_leaf(e, level))
				return -EEXIST;
			rc = map_scan(pt, table_va(pte_addr(e)), level - 1, iova, pa, stop,
				      ntables);
			if (rc)
				return rc;
		} else {
			(*ntables)++;
			/* Below a fresh level-2 table only 4K leaves go. */
			if (level - 1 > 1) {
				int rc = map_scan(pt, NULL, level - 1, iova, pa, stop, ntables);

				if (rc)
					return rc;
			}
		}
		pa += stop - iova;
		iova = stop;
		idx++;
	}
	return 0;
}

/* The real map, after map_scan said yes: cannot fail.  Entries written in
 * one table are consecutive; they are flushed as one span at the end. */
static void map_fill(struct vtd_pt *pt, struct pool *pool, uint64_t *t, unsigned level,
		     uint64_t *iova, uint64_t *pa, uint64_t end, uint64_t attr)
{
	unsigned idx = pt_index(*iova, level);
	int lo = VTD_PT_ENTRIES, hi = -1;

	while (*iova < end && idx < VTD_PT_ENTRIES) {
		uint64_t sz = LEVEL_SIZE(level);

		if (leaf_fits(pt, level, *iova, *pa, end)) {
			pte_set(&t[idx], leaf_pte(*pa, attr, level));
			mark(&lo, &hi, idx);
			*iova += sz;
			*pa += sz;
		} else {
			uint64_t e = t[idx];

			if (!pte_present(e)) {
				uint64_t c = pool_take(pool);

				/* The fresh (zeroed) table reaches memory before
				 * anything points at it, so a walk through the new
				 * pointer never reads stale cache-resident junk. */
				flush_table(pt, c);
				e = table_pte(c);
				pte_set(&t[idx], e);
				mark(&lo, &hi, idx);
			}
			map_fill(pt, pool, table_va(pte_addr(e)), level - 1, iova, pa, end, attr);
		}
		idx++;
	}
	flush_entries(pt, t, lo, hi);
}

int vtd_pt_map(struct vtd_pt *pt, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
	       struct iommu_gather *g)
{
	struct pool pool = {0, 0};
	uint64_t ntables = 0, cur, curpa;
	int rc;

	if (!(prot & (IOMMU_READ | IOMMU_WRITE)) || (prot & ~(IOMMU_READ | IOMMU_WRITE)))
		return -EINVAL;
	if (pa & (PGSIZE_4K - 1))
		return -EINVAL;
	rc = check_range(pt, iova, size);
	if (rc)
		return rc;
	if (pa + size < pa)
		return -EOVERFLOW;
	if (pa + size - 1 > (VTD_SL_ADDR | (PGSIZE_4K - 1)))
		return -EINVAL; /* beyond the 52-bit address field */

	rc = map_scan(pt, table_va(pt->root), pt->levels, iova, pa, iova + size, &ntables);
	if (rc)
		return rc;
	/* All tables up front: an -ENOMEM now changes nothing, and these
	 * pages were never visible to the IOMMU, so they go straight back. */
	rc = pool_fill(pt, &pool, ntables);
	if (rc)
		return rc;
	cur = iova;
	curpa = pa;
	map_fill(pt, &pool, table_va(pt->root), pt->levels, &cur, &curpa, iova + size,
		 prot_bits(pt, prot));
	pool_drain(pt, &pool); /* empty unless map_scan miscounted */
	/* Absent -> present needs no invalidation except in caching mode or
	 * with CAP.RWBF; the driver decides (need_flush left as it is). */
	gather_range(g, iova, iova + size);
	return 0;
}

/* ------------------------------------------------------------ unmap */

/* Tables needed to turn one leaf of `level` into smaller allowed leaves. */
static uint64_t split_cost(const struct vtd_pt *pt, unsigned level)
{
	if (level - 1 == 1 || size_allowed(pt, level - 1))
		return 1;
	/* 1G with no 2M: a level-2 table of 512 tables of 4K leaves. */
	return 1 + VTD_PT_ENTRIES * split_cost(pt, level - 1);
}

/* The leaf containing iova (NULL if none) and its level. */
static const uint64_t *leaf_of(const struct vtd_pt *pt, uint64_t iova, unsigned *level)
{
	const uint64_t *t = table_va(pt->root);

	for (unsigned l = pt->levels; l >= 1; l--) {
		const uint64_t *p = &t[pt_index(iova, l)];

		if (!pte_present(*p))
			return NULL;
		if (pte_leaf(*p, l)) {
			*level = l;
			return p;
		}
		t = table_va(pte_addr(*p));
	}
	return NULL;
}

/* Tables the edge `edge` (a range boundary; the leaf is found at `inside`)
 * needs when a large leaf straddles it. */
static uint64_t edge_cost(const struct vtd_pt *pt, uint64_t inside, uint64_t edge)
{
	unsigned l;
	uint64_t n = 0;

	if (!leaf_of(pt, inside, &l))
		return 0;
	while (l >= 2 && (edge & (LEVEL_SIZE(l) - 1))) {
		n += split_cost(pt, l);
		l--;
		while (l >= 2 && !size_allowed(pt, l))
			l--;
	}
	return n;
}

/* A complete table (level-1 below `level`) mapping what leaf e of `level`
 * maps, with the same attributes, flushed before the caller links it. */
static uint64_t split_build(struct vtd_pt *pt, struct pool *pool, uint64_t e, unsigned level)
{
	uint64_t c = pool_take(pool);
	uint64_t *t = table_va(c);
	unsigned cl = level - 1;
	uint64_t base = pte_addr(e) & ~(LEVEL_SIZE(level) - 1);
	uint64_t attr = e & (VTD_SL_R | VTD_SL_W | VTD_SL_SNP);

	for (unsigned i = 0; i < VTD_PT_ENTRIES; i++) {
		uint64_t pa = base + (uint64_t)i * LEVEL_SIZE(cl);

		if (size_allowed(pt, cl))
			t[i] = leaf_pte(pa, attr, cl);
		else
			t[i] = table_pte(split_build(pt, pool, leaf_pte(pa, attr, cl), cl));
	}
	flush_table(pt, c);
	return c;
}

static bool table_empty(const uint64_t *t)
{
	for (unsigned i = 0; i < VTD_PT_ENTRIES; i++)
		if (t[i])
			return false;
	return true;
}

/* Clears [start, end) inside table t of `level`; returns how many entries
 * of t went absent (the caller then checks whether t is empty). */
static unsigned unmap_range(struct vtd_pt *pt, struct pool *pool, uint64_t *t, unsigned level,
			    uint64_t start, uint64_t end, struct iommu_gather *g)
{
	unsigned idx = pt_index(start, level), cleared = 0;
	int lo = VTD_PT_ENTRIES, hi = -1;
	uint64_t iova = start;

	while (iova < end && idx < VTD_PT_ENTRIES) {
		uint64_t sz = LEVEL_SIZE(level);
		uint64_t base = iova & ~(sz - 1), stop = base + sz;
		uint64_t e = t[idx];

		if (stop > end)
			stop = end;
		if (pte_present(e)) {
			if (pte_leaf(e, level) && iova == base && stop == base + sz) {
				pte_set(&t[idx], 0);
				mark(&lo, &hi, idx);
				cleared++;
				g->need_flush = true;
			} else {
				uint64_t *child;

				if (pte_leaf(e, level)) {
					/* Split: the replacement table maps the same
					 * memory and is in memory before the single
					 * store that swaps it in, so the part outside
					 * the range is never absent, not even for an
					 * instant. */
					e = table_pte(split_build(pt, pool, e, level));
					pte_set(&t[idx], e);
					mark(&lo, &hi, idx);
					g->need_flush = true;
					g->leaf_only = false;
				}
				child = table_va(pte_addr(e));
				if (unmap_range(pt, pool, child, level - 1, iova, stop, g) &&
				    table_empty(child)) {
					/* The IOMMU may still walk it until the
					 * invalidation completes: free after flush.
					 * The link written into entry 0 is a 4K
					 * aligned address, so R=W=0: non-present. */
					pte_set(&t[idx], 0);
					mark(&lo, &hi, idx);
					cleared++;
					*child = g->freelist;
					g->freelist = pte_addr(e);
					g->nfree++;
					g->need_flush = true;
					g->leaf_only = false;
				}
			}
		}
		iova = stop;
		idx++;
	}
	flush_entries(pt, t, lo, hi);
	return cleared;
}

int vtd_pt_unmap(struct vtd_pt *pt, uint64_t iova, uint64_t size, struct iommu_gather *g)
{
	struct pool pool = {0, 0};
	uint64_t end, need;
	int rc;

	rc = check_range(pt, iova, size);
	if (rc)
		return rc;
	end = iova + size;
	need = edge_cost(pt, iova, iova) + edge_cost(pt, end - 1, end);
	if (need) {
		rc = pool_fill(pt, &pool, need);
		if (rc)
			return rc;
	}
	unmap_range(pt, &pool, table_va(pt->root), pt->levels, iova, end, g);
	/* Over-counted when both edges fall in one leaf; never linked. */
	pool_drain(pt, &pool);
	gather_range(g, iova, end);
	return 0;
}
