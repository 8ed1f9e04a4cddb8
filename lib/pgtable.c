/*
 * lib/pgtable.c — the page-table engine: building, editing, splitting and
 * walking radix tables of 512 64-bit entries.  Pure functions over memory
 * handed out by a pgt_alloc; the only hardware touched is the CPU cache
 * (clflush) when the table's walker is not coherent (VT-d ECAP.C=0).  What
 * an entry looks like comes from pt->fmt (struct pgt_fmt); nothing here
 * knows a format.
 *
 * Levels are counted 1 (the table of 4 KiB leaves) .. pt->levels (the root).
 * A level-l entry covers 2^(12+9(l-1)) bytes.
 *
 * Why one 64-bit store is enough: every format here has 64-bit entries that
 * its walker (the remapping hardware, the CPU's nested walk) fetches as one
 * naturally aligned 64-bit quantity, and an aligned 8-byte store on x86-64
 * is single-copy atomic (SDM Vol. 3A, "Guaranteed Atomic Operations").  So a
 * walker sees an entry either wholly old or wholly new, and every change
 * made here (absent -> leaf/table, leaf -> absent, table -> absent, leaf ->
 * table of equivalent smaller leaves) is one such store through a volatile
 * pointer, which the compiler may not split or merge.
 */
#include "lib/pgtable.h"

#include <stddef.h>

#include "hw/hw.h"

#define LEVEL_SHIFT(l) (12u + 9u * ((l)-1u))
#define LEVEL_SIZE(l) (1ull << LEVEL_SHIFT(l))
#define PT_BYTES 4096u

static inline unsigned pt_index(uint64_t va, unsigned level)
{
	return (unsigned)(va >> LEVEL_SHIFT(level)) & (PGT_ENTRIES - 1);
}

static inline uint64_t *table_va(uint64_t pa) { return (uint64_t *)phys_to_virt(pa); }

static inline bool pte_present(const struct pgt *pt, uint64_t e)
{
	return (e & pt->fmt->present) != 0;
}

static inline bool level_may_leaf(const struct pgt *pt, unsigned level)
{
	return (pt->fmt->leaf_levels >> level) & 1u;
}

/* At level 1 every present entry is a leaf; above, a leaf has ps set, at a
 * level that may hold leaves (we never set ps anywhere else). */
static inline bool pte_leaf(const struct pgt *pt, uint64_t e, unsigned level)
{
	return level == 1 || (level_may_leaf(pt, level) && (e & pt->fmt->ps));
}

/* The same per level: a present entry e of `level` is a leaf iff e & this
 * (hot loops load it once per table: an entry store may alias the format). */
static inline uint64_t leaf_bit(const struct pgt *pt, unsigned level)
{
	if (level == 1)
		return ~0ull;
	return level_may_leaf(pt, level) ? pt->fmt->ps : 0;
}

static inline uint64_t pte_addr(const struct pgt *pt, uint64_t e) { return e & pt->fmt->addr; }

/* The only way an entry is written: one aligned 64-bit store. */
static inline void pte_set(uint64_t *p, uint64_t v) { *(volatile uint64_t *)p = v; }

static inline uint64_t table_pte(const struct pgt *pt, uint64_t pa) { return pa | pt->fmt->table; }

/* A leaf of `level` at pa with the format's attribute bits attr. */
static inline uint64_t leaf_pte(const struct pgt *pt, uint64_t pa, uint64_t attr, unsigned level)
{
	return pa | attr | (level > 1 ? pt->fmt->ps : 0);
}

static inline bool size_allowed(const struct pgt *pt, unsigned level)
{
	return level == 1 || (level_may_leaf(pt, level) && (pt->pgsizes & LEVEL_SIZE(level)));
}

/* A walker that reads memory, not the CPU cache (VT-d 6.1, ECAP.C=0). */
static void flush_entries(const struct pgt *pt, uint64_t *t, int lo, int hi)
{
	if (!pt->coherent && lo <= hi)
		cpu_clflush_range(&t[lo], (size_t)(hi - lo + 1) * sizeof(uint64_t));
}

static void flush_table(const struct pgt *pt, uint64_t pa)
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

/* ------------------------------------------------------------ page pool */

/* Pages allocated before a change starts, linked through their first
 * 8 bytes.  They are ours and never linked into the table while here. */
struct pool {
	uint64_t head;
	uint64_t n;
};

/* Gives every page of a chain (linked through its first 8 bytes) back to
 * the allocator. */
static void free_chain(struct pgt *pt, uint64_t *head)
{
	while (*head) {
		uint64_t pa = *head;

		*head = *table_va(pa);
		pt->alloc.free_page(pt->alloc.ctx, pa);
		pt->table_pages--;
	}
}

static void pool_drain(struct pgt *pt, struct pool *p)
{
	free_chain(pt, &p->head);
	p->n = 0;
}

static int pool_fill(struct pgt *pt, struct pool *p, uint64_t n)
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

uint64_t pgt_aperture_end(const struct pgt *pt) { return (1ull << (12u + 9u * pt->levels)) - 1; }

int pgt_init(struct pgt *pt, const struct pgt_fmt *fmt, unsigned levels, uint64_t pgsizes,
	     bool coherent, const struct pgt_alloc *a)
{
	uint64_t leafsizes = PGT_4K;

	if (!fmt || !(fmt->leaf_levels & 2u))
		return -EINVAL;
	if (levels != 3 && levels != 4)
		return -EINVAL;
	if (fmt->leaf_levels & 4u)
		leafsizes |= PGT_2M;
	if (fmt->leaf_levels & 8u)
		leafsizes |= PGT_1G;
	if (!(pgsizes & PGT_4K) || (pgsizes & ~leafsizes))
		return -EINVAL;
	if (!a || !a->alloc_page || !a->free_page)
		return -EINVAL;
	pt->fmt = fmt;
	pt->levels = levels;
	pt->pgsizes = pgsizes;
	pt->coherent = coherent;
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

static void destroy_table(struct pgt *pt, uint64_t pa, unsigned level)
{
	uint64_t *t = table_va(pa);
	const uint64_t present = pt->fmt->present, leaf = leaf_bit(pt, level);

	if (level > 1)
		for (unsigned i = 0; i < PGT_ENTRIES; i++)
			if ((t[i] & present) && !(t[i] & leaf))
				destroy_table(pt, pte_addr(pt, t[i]), level - 1);
	pt->alloc.free_page(pt->alloc.ctx, pa);
	pt->table_pages--;
}

void pgt_destroy(struct pgt *pt)
{
	free_chain(pt, &pt->stash);
	pt->nstash = 0;
	if (!pt->root)
		return;
	destroy_table(pt, pt->root, pt->levels);
	pt->root = 0;
}

void pgt_free_gathered(struct pgt *pt, struct pgt_gather *g)
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

static int check_range(const struct pgt *pt, uint64_t va, uint64_t size)
{
	if (size == 0 || (va | size) & (PGT_4K - 1))
		return -EINVAL;
	if (va + size < va)
		return -EOVERFLOW;
	if (va + size - 1 > pgt_aperture_end(pt))
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------ walk */

int pgt_walk(const struct pgt *pt, uint64_t va, uint64_t *pa, unsigned *level, uint64_t *entry)
{
	const uint64_t *t = table_va(pt->root);

	if (va > pgt_aperture_end(pt))
		return -EINVAL;
	for (unsigned l = pt->levels; l >= 1; l--) {
		uint64_t e = t[pt_index(va, l)];

		if (!pte_present(pt, e))
			return -ENOENT;
		if (pte_leaf(pt, e, l)) {
			uint64_t mask = LEVEL_SIZE(l) - 1;

			if (pa)
				*pa = (pte_addr(pt, e) & ~mask) | (va & mask);
			if (level)
				*level = l;
			if (entry)
				*entry = e;
			return 0;
		}
		t = table_va(pte_addr(pt, e));
	}
	return -ENOENT; /* not reached: level 1 entries are leaves */
}

/* ------------------------------------------------------------ map */

/* The leaf choice: the largest allowed size that va and pa are both
 * aligned to and that the rest of the range covers.  Evaluated per level
 * while descending, so the largest fitting level is the first that says yes. */
static inline bool leaf_fits(bool allowed, unsigned level, uint64_t va, uint64_t pa, uint64_t end)
{
	uint64_t sz = LEVEL_SIZE(level);

	if (!allowed)
		return false;
	return ((va | pa) & (sz - 1)) == 0 && end - va >= sz;
}

/* Dry run of map over table t (NULL: a table that does not exist yet, all
 * entries absent): -EEXIST if any slot the map would write is present or a
 * superpage sits where the map must descend; counts the tables to create. */
static int map_scan(const struct pgt *pt, const uint64_t *t, unsigned level, uint64_t va,
		    uint64_t pa, uint64_t end, uint64_t *ntables)
{
	unsigned idx = pt_index(va, level);
	const bool allowed = size_allowed(pt, level);

	while (va < end && idx < PGT_ENTRIES) {
		uint64_t sz = LEVEL_SIZE(level);
		uint64_t stop = (va & ~(sz - 1)) + sz;
		uint64_t e = t ? t[idx] : 0;

		if (stop > end)
			stop = end;
		if (leaf_fits(allowed, level, va, pa, end)) {
			if (pte_present(pt, e))
				return -EEXIST;
		} else if (pte_present(pt, e)) {
			int rc;

			if (pte_leaf(pt, e, level))
				return -EEXIST;
			rc = map_scan(pt, table_va(pte_addr(pt, e)), level - 1, va, pa, stop,
				      ntables);
			if (rc)
				return rc;
		} else {
			(*ntables)++;
			/* Below a fresh level-2 table only 4K leaves go. */
			if (level - 1 > 1) {
				int rc = map_scan(pt, NULL, level - 1, va, pa, stop, ntables);

				if (rc)
					return rc;
			}
		}
		pa += stop - va;
		va = stop;
		idx++;
	}
	return 0;
}

/* The real map, after map_scan said yes: cannot fail.  Entries written in
 * one table are consecutive; they are flushed as one span at the end. */
static void map_fill(struct pgt *pt, struct pool *pool, uint64_t *t, unsigned level, uint64_t *va,
		     uint64_t *pa, uint64_t end, uint64_t attr)
{
	unsigned idx = pt_index(*va, level);
	int lo = PGT_ENTRIES, hi = -1;
	/* Per table, not per entry: an entry store may alias the format. */
	const bool allowed = size_allowed(pt, level);
	const uint64_t leaf_bits = leaf_pte(pt, 0, attr, level);

	while (*va < end && idx < PGT_ENTRIES) {
		uint64_t sz = LEVEL_SIZE(level);

		if (leaf_fits(allowed, level, *va, *pa, end)) {
			pte_set(&t[idx], *pa | leaf_bits);
			mark(&lo, &hi, idx);
			*va += sz;
			*pa += sz;
		} else {
			uint64_t e = t[idx];

			if (!pte_present(pt, e)) {
				uint64_t c = pool_take(pool);

				/* The fresh (zeroed) table reaches memory before
				 * anything points at it, so a walk through the new
				 * pointer never reads stale cache-resident junk. */
				flush_table(pt, c);
				e = table_pte(pt, c);
				pte_set(&t[idx], e);
				mark(&lo, &hi, idx);
			}
			map_fill(pt, pool, table_va(pte_addr(pt, e)), level - 1, va, pa, end, attr);
		}
		idx++;
	}
	flush_entries(pt, t, lo, hi);
}

int pgt_map(struct pgt *pt, uint64_t va, uint64_t pa, uint64_t size, uint64_t attr)
{
	struct pool pool = {0, 0};
	uint64_t ntables = 0, cur, curpa;
	int rc;

	if (!pte_present(pt, attr) || (attr & (pt->fmt->addr | pt->fmt->ps)))
		return -EINVAL;
	if (pa & (PGT_4K - 1))
		return -EINVAL;
	rc = check_range(pt, va, size);
	if (rc)
		return rc;
	if (pa + size < pa)
		return -EOVERFLOW;
	if (pa + size - 1 > (pt->fmt->addr | (PGT_4K - 1)))
		return -EINVAL; /* beyond the address field */

	rc = map_scan(pt, table_va(pt->root), pt->levels, va, pa, va + size, &ntables);
	if (rc)
		return rc;
	/* All tables up front: an -ENOMEM now changes nothing, and these
	 * pages were never visible to a walker, so they go straight back. */
	rc = pool_fill(pt, &pool, ntables);
	if (rc)
		return rc;
	cur = va;
	curpa = pa;
	map_fill(pt, &pool, table_va(pt->root), pt->levels, &cur, &curpa, va + size, attr);
	pool_drain(pt, &pool); /* empty unless map_scan miscounted */
	return 0;
}

/* ------------------------------------------------------------ unmap */

/* Tables needed to turn one leaf of `level` into smaller allowed leaves. */
static uint64_t split_cost(const struct pgt *pt, unsigned level)
{
	if (level - 1 == 1 || size_allowed(pt, level - 1))
		return 1;
	/* 1G with no 2M: a level-2 table of 512 tables of 4K leaves. */
	return 1 + PGT_ENTRIES * split_cost(pt, level - 1);
}

/* The leaf containing va (NULL if none) and its level. */
static const uint64_t *leaf_of(const struct pgt *pt, uint64_t va, unsigned *level)
{
	const uint64_t *t = table_va(pt->root);

	for (unsigned l = pt->levels; l >= 1; l--) {
		const uint64_t *p = &t[pt_index(va, l)];

		if (!pte_present(pt, *p))
			return NULL;
		if (pte_leaf(pt, *p, l)) {
			*level = l;
			return p;
		}
		t = table_va(pte_addr(pt, *p));
	}
	return NULL;
}

/* Tables the edge `edge` (a range boundary; the leaf is found at `inside`)
 * needs when a large leaf straddles it. */
static uint64_t edge_cost(const struct pgt *pt, uint64_t inside, uint64_t edge)
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
static uint64_t split_build(struct pgt *pt, struct pool *pool, uint64_t e, unsigned level)
{
	uint64_t c = pool_take(pool);
	uint64_t *t = table_va(c);
	unsigned cl = level - 1;
	uint64_t base = pte_addr(pt, e) & ~(LEVEL_SIZE(level) - 1);
	uint64_t attr = e & pt->fmt->attr;

	for (unsigned i = 0; i < PGT_ENTRIES; i++) {
		uint64_t pa = base + (uint64_t)i * LEVEL_SIZE(cl);

		if (size_allowed(pt, cl))
			t[i] = leaf_pte(pt, pa, attr, cl);
		else
			t[i] = table_pte(pt, split_build(pt, pool, leaf_pte(pt, pa, attr, cl), cl));
	}
	flush_table(pt, c);
	return c;
}

/* One cache line (8 entries) per test: the scan is the cost of a 4K unmap
 * that leaves its table populated, and one branch per entry made it
 * sensitive to where the loop happened to be placed. */
static bool table_empty(const uint64_t *t)
{
	for (unsigned i = 0; i < PGT_ENTRIES; i += 8)
		if (t[i] | t[i + 1] | t[i + 2] | t[i + 3] | t[i + 4] | t[i + 5] | t[i + 6] |
		    t[i + 7])
			return false;
	return true;
}

/* Clears [start, end) inside table t of `level`; returns how many entries
 * of t went absent (the caller then checks whether t is empty). */
static unsigned unmap_range(struct pgt *pt, struct pool *pool, uint64_t *t, unsigned level,
			    uint64_t start, uint64_t end, struct pgt_gather *g)
{
	unsigned idx = pt_index(start, level), cleared = 0;
	int lo = PGT_ENTRIES, hi = -1;
	uint64_t va = start;
	const uint64_t present = pt->fmt->present, leaf = leaf_bit(pt, level);

	while (va < end && idx < PGT_ENTRIES) {
		uint64_t sz = LEVEL_SIZE(level);
		uint64_t base = va & ~(sz - 1), stop = base + sz;
		uint64_t e = t[idx];

		if (stop > end)
			stop = end;
		if (e & present) {
			if ((e & leaf) && va == base && stop == base + sz) {
				pte_set(&t[idx], 0);
				mark(&lo, &hi, idx);
				cleared++;
				g->need_flush = true;
			} else {
				uint64_t *child;

				if (e & leaf) {
					/* Split: the replacement table maps the same
					 * memory and is in memory before the single
					 * store that swaps it in, so the part outside
					 * the range is never absent, not even for an
					 * instant. */
					e = table_pte(pt, split_build(pt, pool, e, level));
					pte_set(&t[idx], e);
					mark(&lo, &hi, idx);
					g->need_flush = true;
					g->leaf_only = false;
				}
				child = table_va(pte_addr(pt, e));
				if (unmap_range(pt, pool, child, level - 1, va, stop, g) &&
				    table_empty(child)) {
					/* A walker may still hold it until the
					 * invalidation completes: free after flush.
					 * The link written into entry 0 is a 4K
					 * aligned address, so no present bit (every
					 * format keeps them below bit 12). */
					pte_set(&t[idx], 0);
					mark(&lo, &hi, idx);
					cleared++;
					*child = g->freelist;
					g->freelist = pte_addr(pt, e);
					g->nfree++;
					g->need_flush = true;
					g->leaf_only = false;
				}
			}
		}
		va = stop;
		idx++;
	}
	flush_entries(pt, t, lo, hi);
	return cleared;
}

int pgt_unmap(struct pgt *pt, uint64_t va, uint64_t size, struct pgt_gather *g)
{
	struct pool pool = {0, 0};
	uint64_t end, need;
	int rc;

	rc = check_range(pt, va, size);
	if (rc)
		return rc;
	end = va + size;
	need = edge_cost(pt, va, va) + edge_cost(pt, end - 1, end);
	if (need) {
		rc = pool_fill(pt, &pool, need);
		if (rc)
			return rc;
	}
	unmap_range(pt, &pool, table_va(pt->root), pt->levels, va, end, g);
	/* Over-counted when both edges fall in one leaf; never linked. */
	pool_drain(pt, &pool);
	pgt_range_add(&g->start, &g->end, va, end);
	return 0;
}
