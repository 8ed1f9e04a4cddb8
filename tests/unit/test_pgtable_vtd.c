// SOURCES: iommu/pgtable_vtd.c lib/pgtable.c
/*
 * tests/unit/test_pgtable_vtd.c — VT-d second-level page tables: leaf
 * choice, argument checks, all-or-nothing map, split on unmap, deferred
 * freeing through the gather, clflush discipline, and a randomized model
 * test against a flat reference.
 */
#include <stdlib.h>
#include <string.h>

#include "fake_hw.h"
#include "hw/hw.h"
#include "iommu/pgtable_vtd.h"
#include "test.h"
#include "rng.h"

#define K4 PGSIZE_4K
#define M2 PGSIZE_2M
#define G1 PGSIZE_1G
#define ALL (K4 | M2 | G1)
#define RW (IOMMU_READ | IOMMU_WRITE)

/* ------------------------------------------------------------ page pool */

static struct {
	long live;    /* pages handed out and not freed */
	long nalloc;  /* successful allocations */
	long fail_in; /* >0: the fail_in-th next alloc fails (once) */
	long failed;
} P;

static uint64_t t_alloc(void *ctx)
{
	void *p = NULL;

	if (P.fail_in && --P.fail_in == 0) {
		P.failed++;
		return 0;
	}
	if (posix_memalign(&p, 4096, 4096))
		return 0;
	memset(p, 0, 4096);
	P.live++;
	P.nalloc++;
	return virt_to_phys(p);
}

static void t_free(void *ctx, uint64_t pa)
{
	free(phys_to_virt(pa));
	P.live--;
}

static const struct vtd_pt_alloc A = {t_alloc, t_free, NULL};

static void reset(void)
{
	memset(&P, 0, sizeof(P));
	fake_flush_reset();
}

static void mk(struct vtd_pt *pt, unsigned levels, uint64_t pgsizes, bool coherent, bool snoop)
{
	reset();
	CHECK_EQ(vtd_pt_init(pt, levels, pgsizes, coherent, snoop, &A), 0);
	CHECK_EQ(P.live, 1);
	CHECK_EQ(pt->table_pages, 1);
}

static void done(struct vtd_pt *pt)
{
	vtd_pt_destroy(pt);
	CHECK_EQ(P.live, 0);
}

/* ------------------------------------------------------------ tree dumps */

struct leaf {
	uint64_t iova, pte;
	unsigned level;
};
struct dump {
	struct leaf *v;
	size_t n, cap;
	size_t tables;	   /* non-root tables reachable */
	size_t empty;	   /* of which all-zero (must stay 0) */
	size_t bad_tables; /* non-leaf entries that are not exactly R|W */
};

#define SHIFT(l) (12u + 9u * ((l)-1u))

static void dump_rec(struct dump *d, const uint64_t *t, unsigned level, uint64_t base)
{
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = t[i], iova = base + ((uint64_t)i << SHIFT(level));

		if (!(e & (VTD_SL_R | VTD_SL_W)))
			continue;
		if (level == 1 || (level <= 3 && (e & VTD_SL_PS))) {
			if (d->n == d->cap) {
				d->cap = d->cap ? d->cap * 2 : 64;
				d->v = realloc(d->v, d->cap * sizeof(*d->v));
			}
			d->v[d->n++] = (struct leaf){iova, e, level};
		} else {
			const uint64_t *c = phys_to_virt(e & VTD_SL_ADDR);
			bool empty = true;

			d->tables++;
			if ((e & ~VTD_SL_ADDR) != (VTD_SL_R | VTD_SL_W))
				d->bad_tables++;
			for (unsigned j = 0; j < 512; j++)
				if (c[j])
					empty = false;
			if (empty)
				d->empty++;
			dump_rec(d, c, level - 1, iova);
		}
	}
}

static struct dump dump_of(const struct vtd_pt *pt)
{
	struct dump d = {0};

	dump_rec(&d, phys_to_virt(pt->root), pt->levels, 0);
	return d;
}

static bool dump_eq(const struct dump *a, const struct dump *b)
{
	return a->n == b->n && a->tables == b->tables &&
	       (a->n == 0 || !memcmp(a->v, b->v, a->n * sizeof(*a->v)));
}

static void dump_free(struct dump *d) { free(d->v); }

/* Structural invariants after any operation. */
static void check_tree(const struct vtd_pt *pt)
{
	struct dump d = dump_of(pt);

	CHECK_EQ(d.empty, 0);
	CHECK_EQ(d.bad_tables, 0);
	CHECK_EQ(d.tables + 1 + pt->nstash, pt->table_pages);
	dump_free(&d);
}

static int walk(const struct vtd_pt *pt, uint64_t iova, uint64_t *pa, unsigned *level,
		unsigned *prot)
{
	return vtd_pt_walk(pt, iova, pa, level, prot);
}

/* Checks iova..iova+size walks to pa.. at `level` with prot. */
static void expect_range(const struct vtd_pt *pt, uint64_t iova, uint64_t pa, uint64_t size,
			 unsigned level, unsigned prot, uint64_t step)
{
	for (uint64_t off = 0; off < size; off += step) {
		uint64_t got = 0;
		unsigned l = 0, p = 0;
		int rc = walk(pt, iova + off, &got, &l, &p);

		CHECK_EQ(rc, 0);
		if (rc)
			return;
		CHECK_EQ(got, pa + off);
		CHECK_EQ(l, level);
		CHECK_EQ(p, prot);
		if (got != pa + off || l != level || p != prot)
			return;
	}
}

static void expect_absent(const struct vtd_pt *pt, uint64_t iova, uint64_t size, uint64_t step)
{
	for (uint64_t off = 0; off < size; off += step) {
		int rc = walk(pt, iova + off, NULL, NULL, NULL);

		CHECK_EQ(rc, -ENOENT);
		if (rc != -ENOENT)
			return;
	}
}

/* Raw entry for iova at `level` (0 if the walk stops above). */
static uint64_t raw(const struct vtd_pt *pt, uint64_t iova, unsigned level)
{
	const uint64_t *t = phys_to_virt(pt->root);

	for (unsigned l = pt->levels; l >= 1; l--) {
		uint64_t e = t[(iova >> SHIFT(l)) & 511];

		if (l == level)
			return e;
		if (!(e & 3) || (l <= 3 && (e & VTD_SL_PS)))
			return 0;
		t = phys_to_virt(e & VTD_SL_ADDR);
	}
	return 0;
}

static uint64_t *raw_ptr(const struct vtd_pt *pt, uint64_t iova, unsigned level)
{
	uint64_t *t = phys_to_virt(pt->root);

	for (unsigned l = pt->levels; l >= 1; l--) {
		uint64_t *p = &t[(iova >> SHIFT(l)) & 511];

		if (l == level)
			return p;
		if (!(*p & 3) || (l <= 3 && (*p & VTD_SL_PS)))
			return NULL;
		t = phys_to_virt(*p & VTD_SL_ADDR);
	}
	return NULL;
}

static int map(struct vtd_pt *pt, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot)
{
	struct iommu_gather g;

	iommu_gather_init(&g);
	return vtd_pt_map(pt, iova, pa, size, prot, &g);
}

/* Unmap and free what it gathered at once (no hardware to invalidate). */
static int unmap(struct vtd_pt *pt, uint64_t iova, uint64_t size)
{
	struct iommu_gather g;
	int rc;

	iommu_gather_init(&g);
	rc = vtd_pt_unmap(pt, iova, size, &g);
	vtd_pt_free_gathered(pt, &g);
	return rc;
}

/* ------------------------------------------------------------ init */

TEST(init_args_and_aperture)
{
	struct vtd_pt pt;
	struct vtd_pt_alloc noalloc = {NULL, t_free, NULL};

	reset();
	CHECK_EQ(vtd_pt_init(&pt, 2, ALL, true, false, &A), -EINVAL);
	CHECK_EQ(vtd_pt_init(&pt, 5, ALL, true, false, &A), -EINVAL);
	CHECK_EQ(vtd_pt_init(&pt, 4, M2 | G1, true, false, &A), -EINVAL);
	CHECK_EQ(vtd_pt_init(&pt, 4, ALL | (1ull << 39), true, false, &A), -EINVAL);
	CHECK_EQ(vtd_pt_init(&pt, 4, ALL, true, false, NULL), -EINVAL);
	CHECK_EQ(vtd_pt_init(&pt, 4, ALL, true, false, &noalloc), -EINVAL);
	CHECK_EQ(P.live, 0);
	P.fail_in = 1;
	CHECK_EQ(vtd_pt_init(&pt, 4, ALL, true, false, &A), -ENOMEM);
	CHECK_EQ(P.live, 0);

	mk(&pt, 3, ALL, true, false);
	CHECK_EQ(vtd_pt_aperture_end(&pt), (1ull << 39) - 1);
	CHECK_EQ(walk(&pt, 0, NULL, NULL, NULL), -ENOENT);
	CHECK_EQ(walk(&pt, 1ull << 39, NULL, NULL, NULL), -EINVAL);
	done(&pt);
	mk(&pt, 4, ALL, true, false);
	CHECK_EQ(vtd_pt_aperture_end(&pt), (1ull << 48) - 1);
	CHECK_EQ(walk(&pt, 1ull << 48, NULL, NULL, NULL), -EINVAL);
	done(&pt);
}

/* ------------------------------------------------------------ map: leaves */

TEST(map_each_size_4level)
{
	struct vtd_pt pt;

	mk(&pt, 4, ALL, true, false);
	/* 4K: root + L3 + L2 + L1 tables. */
	CHECK_EQ(map(&pt, 0x1000, 0x77000, K4, IOMMU_READ), 0);
	CHECK_EQ(pt.table_pages, 4);
	expect_range(&pt, 0x1000, 0x77000, K4, 1, IOMMU_READ, 0x200);
	CHECK_EQ(raw(&pt, 0x1000, 1), 0x77000 | VTD_SL_R);
	/* 2M at 2M: the same L3, a new... no, the same L2 table, a PS entry. */
	CHECK_EQ(map(&pt, 0x200000, 0x40000000 + 0x600000, M2, IOMMU_WRITE), 0);
	CHECK_EQ(pt.table_pages, 4);
	CHECK_EQ(raw(&pt, 0x200000, 2), 0x40600000 | VTD_SL_W | VTD_SL_PS);
	expect_range(&pt, 0x200000, 0x40600000, M2, 2, IOMMU_WRITE, K4);
	/* 1G at 1G: a PS entry in the L3 table. */
	CHECK_EQ(map(&pt, G1, 5 * G1, G1, RW), 0);
	CHECK_EQ(pt.table_pages, 4);
	CHECK_EQ(raw(&pt, G1, 3), 5 * G1 | VTD_SL_R | VTD_SL_W | VTD_SL_PS);
	expect_range(&pt, G1, 5 * G1, G1, 3, RW, M2 - K4);
	CHECK_EQ(walk(&pt, 2 * G1, NULL, NULL, NULL), -ENOENT);
	CHECK_EQ(walk(&pt, 0, NULL, NULL, NULL), -ENOENT);
	check_tree(&pt);
	done(&pt);
}

TEST(map_1g_is_one_entry_write)
{
	struct vtd_pt pt;
	struct dump d;

	mk(&pt, 4, ALL, false, false);
	fake_flush_reset();
	CHECK_EQ(map(&pt, 3 * G1, 7 * G1, G1, RW), 0);
	d = dump_of(&pt);
	CHECK_EQ(d.n, 1);
	CHECK_EQ(d.tables, 1);
	dump_free(&d);
	/* One fresh table (64 lines), its pointer, the leaf: nothing per 4K. */
	CHECK_EQ(fake_clflush_lines, 64 + 1 + 1);
	done(&pt);
}

TEST(map_3level)
{
	struct vtd_pt pt;

	mk(&pt, 3, ALL, true, false);
	CHECK_EQ(map(&pt, 0, 0, G1, RW), 0);
	CHECK_EQ(pt.table_pages, 1); /* the root holds 1G leaves directly */
	CHECK_EQ(raw(&pt, 0, 3), VTD_SL_R | VTD_SL_W | VTD_SL_PS);
	CHECK_EQ(map(&pt, 511 * G1 + 510 * M2, 0x1234000, 2 * M2, IOMMU_READ), 0);
	expect_range(&pt, 511 * G1 + 510 * M2, 0x1234000, 2 * M2, 1, IOMMU_READ, K4);
	CHECK_EQ(pt.table_pages, 1 + 1 + 2);
	check_tree(&pt);
	done(&pt);
}

TEST(map_mixed_alignment)
{
	struct vtd_pt pt;

	mk(&pt, 4, ALL, true, false);
	/* iova 2M-aligned, pa only 4K-aligned: 512 4K leaves. */
	CHECK_EQ(map(&pt, 4 * M2, 0x3000, M2, RW), 0);
	expect_range(&pt, 4 * M2, 0x3000, M2, 1, RW, K4);
	/* iova 1G-aligned, pa 2M-aligned: 512 2M leaves, no 4K tables. */
	CHECK_EQ(map(&pt, 8 * G1, 3 * M2, G1, RW), 0);
	expect_range(&pt, 8 * G1, 3 * M2, G1, 2, RW, M2);
	CHECK_EQ(pt.table_pages, 1 + 1 + 1 + 1 + 1);
	/* pa 2M-aligned but iova only 4K-aligned: 4K leaves. */
	CHECK_EQ(map(&pt, 16 * G1 + K4, 10 * M2, M2, RW), 0);
	expect_range(&pt, 16 * G1 + K4, 10 * M2, M2, 1, RW, K4);
	/* A range 4K before a 2M boundary to 4K after the next one:
	 * 4K, then one 2M, then 4K. */
	CHECK_EQ(map(&pt, 20 * G1 + M2 - K4, 40 * M2 - K4, M2 + 2 * K4, IOMMU_READ), 0);
	expect_range(&pt, 20 * G1 + M2 - K4, 40 * M2 - K4, K4, 1, IOMMU_READ, K4);
	expect_range(&pt, 20 * G1 + M2, 40 * M2, M2, 2, IOMMU_READ, K4);
	expect_range(&pt, 20 * G1 + 2 * M2, 41 * M2, K4, 1, IOMMU_READ, K4);
	/* 1G + 2M + 4K aligned everywhere: largest first, then smaller. */
	CHECK_EQ(map(&pt, 30 * G1, 30 * G1, G1 + M2 + K4, RW), 0);
	CHECK_EQ(raw(&pt, 30 * G1, 3) & VTD_SL_PS, VTD_SL_PS);
	expect_range(&pt, 31 * G1, 31 * G1, M2, 2, RW, K4);
	expect_range(&pt, 31 * G1 + M2, 31 * G1 + M2, K4, 1, RW, K4);
	expect_absent(&pt, 31 * G1 + M2 + K4, K4, K4);
	check_tree(&pt);
	done(&pt);
}

TEST(map_pgsizes_restricted)
{
	struct vtd_pt pt;

	/* No 1G: a 1G-aligned gigabyte becomes 512 2M leaves. */
	mk(&pt, 4, K4 | M2, true, false);
	CHECK_EQ(map(&pt, G1, G1, G1, RW), 0);
	expect_range(&pt, G1, G1, G1, 2, RW, M2);
	CHECK_EQ(raw(&pt, G1, 3) & VTD_SL_PS, 0);
	check_tree(&pt);
	done(&pt);
	/* No 2M: 2M-aligned 2M becomes 4K leaves; 1G still a 1G leaf. */
	mk(&pt, 4, K4 | G1, true, false);
	CHECK_EQ(map(&pt, M2, M2, M2, RW), 0);
	expect_range(&pt, M2, M2, M2, 1, RW, K4);
	CHECK_EQ(map(&pt, G1, G1, G1 + M2, RW), 0);
	expect_range(&pt, G1, G1, G1, 3, RW, M2);
	expect_range(&pt, 2 * G1, 2 * G1, M2, 1, RW, K4);
	check_tree(&pt);
	done(&pt);
	/* 4K only. */
	mk(&pt, 3, K4, true, false);
	CHECK_EQ(map(&pt, 0, 0, 2 * M2, RW), 0);
	expect_range(&pt, 0, 0, 2 * M2, 1, RW, K4);
	CHECK_EQ(pt.table_pages, 1 + 1 + 2);
	done(&pt);
}

/* ------------------------------------------------------------ map: errors */

TEST(map_argument_errors)
{
	struct vtd_pt pt;
	uint64_t ap;

	mk(&pt, 3, ALL, true, false);
	ap = vtd_pt_aperture_end(&pt);
	CHECK_EQ(map(&pt, 0, 0, 0, RW), -EINVAL);
	CHECK_EQ(map(&pt, 0x800, 0, K4, RW), -EINVAL);
	CHECK_EQ(map(&pt, 0, 0x800, K4, RW), -EINVAL);
	CHECK_EQ(map(&pt, 0, 0, 0x800, RW), -EINVAL);
	CHECK_EQ(map(&pt, 0, 0, K4 + 1, RW), -EINVAL);
	CHECK_EQ(map(&pt, 0, 0, K4, 0), -EINVAL);
	CHECK_EQ(map(&pt, 0, 0, K4, 4), -EINVAL);
	CHECK_EQ(map(&pt, 0, 0, K4, RW | 8), -EINVAL);
	/* Aperture edges. */
	CHECK_EQ(map(&pt, ap + 1 - K4, 0x5000, K4, RW), 0);
	expect_range(&pt, ap + 1 - K4, 0x5000, K4, 1, RW, K4);
	CHECK_EQ(map(&pt, ap + 1, 0, K4, RW), -EINVAL);
	CHECK_EQ(map(&pt, ap + 1 - K4, 0, 2 * K4, RW), -EINVAL);
	CHECK_EQ(map(&pt, ap + 1 - 2 * K4, 0, 2 * K4, RW), -EEXIST);
	/* Wrap of iova and of pa. */
	CHECK_EQ(map(&pt, 0xfffffffffffff000ull, 0, 2 * K4, RW), -EOVERFLOW);
	CHECK_EQ(map(&pt, 0, 0xfffffffffffff000ull, 2 * K4, RW), -EOVERFLOW);
	/* Beyond the 52-bit address field. */
	CHECK_EQ(map(&pt, 0, 1ull << 52, K4, RW), -EINVAL);
	CHECK_EQ(map(&pt, 0, (1ull << 52) - K4, 2 * K4, RW), -EINVAL);
	CHECK_EQ(map(&pt, 0, (1ull << 52) - K4, K4, RW), 0);
	CHECK_EQ(pt.table_pages, 1 + 2 + 2);
	check_tree(&pt);
	done(&pt);

	mk(&pt, 4, ALL, true, false);
	ap = vtd_pt_aperture_end(&pt);
	CHECK_EQ(map(&pt, ap + 1 - G1, 0, G1, RW), 0);
	expect_range(&pt, ap + 1 - G1, 0, G1, 3, RW, M2);
	CHECK_EQ(map(&pt, ap + 1 - G1, 0, G1 + K4, RW), -EINVAL);
	CHECK_EQ(map(&pt, ap + 1, 0, K4, RW), -EINVAL);
	done(&pt);
}

/* Each conflicting map must fail and leave every entry as it was. */
static void expect_eexist(struct vtd_pt *pt, uint64_t iova, uint64_t pa, uint64_t size)
{
	struct dump before = dump_of(pt), after;
	long live = P.live;
	uint64_t pages = pt->table_pages;
	struct iommu_gather g;

	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_map(pt, iova, pa, size, RW, &g), -EEXIST);
	after = dump_of(pt);
	CHECK(dump_eq(&before, &after));
	CHECK_EQ(P.live, live);
	CHECK_EQ(pt->table_pages, pages);
	CHECK_EQ(g.end, 0);
	CHECK_EQ(g.freelist, 0);
	dump_free(&before);
	dump_free(&after);
}

TEST(map_eexist)
{
	struct vtd_pt pt;

	mk(&pt, 4, ALL, true, false);
	CHECK_EQ(map(&pt, 4 * M2, 4 * M2, M2, RW), 0);	    /* 2M leaf */
	CHECK_EQ(map(&pt, 8 * M2 + K4, 0x9000, K4, RW), 0); /* 4K in a table */
	CHECK_EQ(map(&pt, 2 * G1, 2 * G1, G1, RW), 0);	    /* 1G leaf */
	/* exact */
	expect_eexist(&pt, 4 * M2, 4 * M2, M2);
	expect_eexist(&pt, 8 * M2 + K4, 0x9000, K4);
	expect_eexist(&pt, 2 * G1, 0, G1);
	/* inner: 4K / 2M inside a larger leaf */
	expect_eexist(&pt, 4 * M2 + 5 * K4, 0, K4);
	expect_eexist(&pt, 2 * G1 + 6 * M2, 0, M2);
	expect_eexist(&pt, 2 * G1 + 6 * M2 + K4, K4, K4);
	/* outer: a larger leaf over a table holding a smaller one */
	expect_eexist(&pt, 8 * M2, 8 * M2, M2);
	expect_eexist(&pt, 0, 0, G1);
	expect_eexist(&pt, 0, 0, 2 * G1 + K4);
	/* partial overlap, free part first (nothing of it may stay) */
	expect_eexist(&pt, 3 * M2, 0x100000, M2 + K4);
	expect_eexist(&pt, 2 * G1 - 3 * M2, K4, 4 * M2);
	expect_eexist(&pt, 8 * M2, 0x1000, 2 * K4);
	/* partial overlap at the end of a long free stretch that would need
	 * hundreds of new tables */
	expect_eexist(&pt, G1 + 100 * M2, 0x1000, G1 - 100 * M2 + K4);
	CHECK_EQ(P.live, 4);
	check_tree(&pt);
	done(&pt);
}

/* Fail the n-th allocation for n = 1, 2, ... until the map succeeds. */
static void try_map_enomem(struct vtd_pt *pt, uint64_t iova, uint64_t pa, uint64_t size,
			   long *iterations)
{
	for (long n = 1;; n++) {
		struct dump before = dump_of(pt), after;
		long live = P.live;
		uint64_t pages = pt->table_pages;
		struct iommu_gather g;
		int rc;

		iommu_gather_init(&g);
		P.fail_in = n;
		rc = vtd_pt_map(pt, iova, pa, size, RW, &g);
		P.fail_in = 0;
		if (rc == 0) {
			dump_free(&before);
			break;
		}
		(*iterations)++;
		CHECK_EQ(rc, -ENOMEM);
		after = dump_of(pt);
		CHECK(dump_eq(&before, &after));
		CHECK_EQ(P.live, live);
		CHECK_EQ(pt->table_pages, pages);
		CHECK_EQ(g.freelist, 0);
		dump_free(&before);
		dump_free(&after);
		if (rc != -ENOMEM || n > 10000)
			break;
	}
}

TEST(map_enomem_every_n)
{
	struct vtd_pt pt;
	long it = 0;

	mk(&pt, 4, ALL, true, false);
	CHECK_EQ(map(&pt, G1 - K4, 0x1000, K4, RW), 0); /* shares some tables */
	/* 4K.. across a 512G boundary: new L3/L2/L1 tables on both sides. */
	try_map_enomem(&pt, (512 * G1) - 3 * M2 - K4, 0x2000, 6 * M2 + 2 * K4, &it);
	CHECK(it >= 6);
	expect_range(&pt, (512 * G1) - 3 * M2 - K4, 0x2000, 6 * M2 + 2 * K4, 1, RW, K4);
	check_tree(&pt);
	/* Unmapping everything and freeing gathers returns to the root. */
	CHECK_EQ(unmap(&pt, 0, vtd_pt_aperture_end(&pt) + 1), 0);
	CHECK_EQ(P.live, 1);
	CHECK_EQ(pt.table_pages, 1);
	done(&pt);

	/* No-coherency path too (flushes on the way must not matter). */
	it = 0;
	mk(&pt, 3, K4 | M2, false, true);
	try_map_enomem(&pt, M2 - K4, M2 - K4, 3 * M2, &it);
	CHECK(it >= 2);
	check_tree(&pt);
	done(&pt);
}

/* ------------------------------------------------------------ unmap */

TEST(unmap_argument_errors)
{
	struct vtd_pt pt;
	struct iommu_gather g;
	uint64_t ap;

	mk(&pt, 3, ALL, true, false);
	ap = vtd_pt_aperture_end(&pt);
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_unmap(&pt, 0, 0, &g), -EINVAL);
	CHECK_EQ(vtd_pt_unmap(&pt, 0x800, K4, &g), -EINVAL);
	CHECK_EQ(vtd_pt_unmap(&pt, 0, 0x1800, &g), -EINVAL);
	CHECK_EQ(vtd_pt_unmap(&pt, ap + 1, K4, &g), -EINVAL);
	CHECK_EQ(vtd_pt_unmap(&pt, ap + 1 - K4, 2 * K4, &g), -EINVAL);
	CHECK_EQ(vtd_pt_unmap(&pt, 0xfffffffffffff000ull, 2 * K4, &g), -EOVERFLOW);
	CHECK_EQ(g.end, 0);
	CHECK(!g.need_flush);
	CHECK_EQ(vtd_pt_unmap(&pt, ap + 1 - K4, K4, &g), 0);
	done(&pt);
}

TEST(unmap_holes_are_noops)
{
	struct vtd_pt pt;
	struct iommu_gather g;

	mk(&pt, 4, ALL, true, false);
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_unmap(&pt, 0, 4 * G1, &g), 0);
	CHECK(!g.need_flush);
	CHECK(g.leaf_only);
	CHECK_EQ(g.nfree, 0);
	CHECK_EQ(pt.table_pages, 1);
	/* Gaps around mapped pieces: only the pieces go. */
	CHECK_EQ(map(&pt, M2 + K4, 0xa000, K4, RW), 0);
	CHECK_EQ(map(&pt, 5 * M2, 5 * M2, M2, RW), 0);
	CHECK_EQ(map(&pt, 7 * M2, 7 * M2, M2, RW), 0);
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_unmap(&pt, 0, 6 * M2, &g), 0);
	CHECK(g.need_flush);
	CHECK(!g.leaf_only); /* the 4K table went */
	CHECK_EQ(g.nfree, 1);
	expect_absent(&pt, 0, 6 * M2, K4);
	expect_range(&pt, 7 * M2, 7 * M2, M2, 2, RW, K4);
	vtd_pt_free_gathered(&pt, &g);
	CHECK_EQ(g.nfree, 0);
	CHECK_EQ(g.freelist, 0);
	/* A hole inside a table that stays: nothing at all changes. */
	CHECK_EQ(map(&pt, 9 * M2, 0xb000, K4, RW), 0);
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_unmap(&pt, 9 * M2 + K4, 8 * K4, &g), 0);
	CHECK(!g.need_flush);
	CHECK_EQ(g.nfree, 0);
	expect_range(&pt, 9 * M2, 0xb000, K4, 1, RW, K4);
	check_tree(&pt);
	done(&pt);
}

TEST(unmap_spanning_several_leaves)
{
	struct vtd_pt pt;
	struct iommu_gather g;

	mk(&pt, 4, ALL, true, false);
	/* 4K, 2M, 1G, 2M, 4K pieces, contiguous in iova. */
	CHECK_EQ(map(&pt, G1 - M2 - K4, G1 - M2 - K4, M2 + K4, RW), 0);
	CHECK_EQ(map(&pt, G1, 4 * G1, G1 + M2 + K4, IOMMU_READ), 0);
	CHECK_EQ(walk(&pt, G1 - M2 - K4, NULL, NULL, NULL), 0);
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_unmap(&pt, G1 - M2 - K4, 2 * M2 + G1 + 2 * K4, &g), 0);
	CHECK(g.need_flush);
	CHECK(!g.leaf_only);
	CHECK_EQ(g.start, G1 - M2 - K4);
	CHECK_EQ(g.end, 2 * G1 + M2 + K4);
	/* Tables: L3 stays? No: every piece went, so L1 x2 + L2 x2 + L3. */
	CHECK_EQ(g.nfree, 5);
	expect_absent(&pt, G1 - M2 - K4, G1 + 2 * M2 + 2 * K4, K4 * 37);
	CHECK_EQ(pt.table_pages, 6); /* gathered pages are held until freed */
	vtd_pt_free_gathered(&pt, &g);
	CHECK_EQ(pt.table_pages, 1);
	CHECK_EQ(P.live, 1);
	done(&pt);
}

TEST(unmap_split_2m)
{
	struct vtd_pt pt;
	struct iommu_gather g;
	uint64_t iova = 3 * M2, pa = 0x12345 * M2;

	mk(&pt, 4, ALL, true, true);
	CHECK_EQ(map(&pt, iova, pa, M2, IOMMU_READ), 0);
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_unmap(&pt, iova + 7 * K4, 2 * K4, &g), 0);
	CHECK(g.need_flush);
	CHECK(!g.leaf_only); /* a leaf became a table */
	CHECK_EQ(g.start, iova + 7 * K4);
	CHECK_EQ(g.end, iova + 9 * K4);
	CHECK_EQ(g.nfree, 0);
	expect_range(&pt, iova, pa, 7 * K4, 1, IOMMU_READ, K4);
	expect_absent(&pt, iova + 7 * K4, 2 * K4, K4);
	expect_range(&pt, iova + 9 * K4, pa + 9 * K4, M2 - 9 * K4, 1, IOMMU_READ, K4);
	/* The split leaves keep SNP and carry no PS. */
	CHECK_EQ(raw(&pt, iova, 1), pa | VTD_SL_R | VTD_SL_SNP);
	CHECK_EQ(raw(&pt, iova, 2) & (VTD_SL_PS | VTD_SL_SNP | 3), VTD_SL_R | VTD_SL_W);
	CHECK_EQ(pt.table_pages, 1 + 3);
	check_tree(&pt);
	/* Straddling two 2M leaves: both split, the middle goes. */
	CHECK_EQ(map(&pt, 10 * M2, 20 * M2, 2 * M2, RW), 0);
	CHECK_EQ(unmap(&pt, 11 * M2 - 3 * K4, 5 * K4), 0);
	expect_range(&pt, 10 * M2, 20 * M2, M2 - 3 * K4, 1, RW, K4);
	expect_absent(&pt, 11 * M2 - 3 * K4, 5 * K4, K4);
	expect_range(&pt, 11 * M2 + 2 * K4, 21 * M2 + 2 * K4, M2 - 2 * K4, 1, RW, K4);
	CHECK_EQ(pt.table_pages, 1 + 3 + 2);
	/* Unmapping the leftovers frees the split tables. */
	CHECK_EQ(unmap(&pt, 0, G1), 0);
	CHECK_EQ(pt.table_pages, 1);
	CHECK_EQ(P.live, 1);
	done(&pt);
}

TEST(unmap_split_1g)
{
	struct vtd_pt pt;
	uint64_t iova = 5 * G1, pa = 9 * G1;

	mk(&pt, 4, ALL, true, false);
	CHECK_EQ(map(&pt, iova, pa, G1, IOMMU_WRITE), 0);
	/* 4K out of the middle: 1G -> 2M table -> 4K table. */
	CHECK_EQ(unmap(&pt, iova + 100 * M2 + 5 * K4, K4), 0);
	expect_range(&pt, iova, pa, 100 * M2, 2, IOMMU_WRITE, M2);
	expect_range(&pt, iova + 100 * M2, pa + 100 * M2, 5 * K4, 1, IOMMU_WRITE, K4);
	expect_absent(&pt, iova + 100 * M2 + 5 * K4, K4, K4);
	expect_range(&pt, iova + 100 * M2 + 6 * K4, pa + 100 * M2 + 6 * K4, M2 - 6 * K4, 1,
		     IOMMU_WRITE, K4);
	expect_range(&pt, iova + 101 * M2, pa + 101 * M2, G1 - 101 * M2, 2, IOMMU_WRITE, M2);
	CHECK_EQ(pt.table_pages, 1 + 1 + 2);
	/* 2M-aligned edges split only to 2M. */
	CHECK_EQ(map(&pt, 7 * G1, 7 * G1, G1, RW), 0);
	CHECK_EQ(unmap(&pt, 7 * G1 + 2 * M2, 3 * M2), 0);
	expect_range(&pt, 7 * G1, 7 * G1, 2 * M2, 2, RW, K4 * 3);
	expect_absent(&pt, 7 * G1 + 2 * M2, 3 * M2, K4 * 5);
	expect_range(&pt, 7 * G1 + 5 * M2, 7 * G1 + 5 * M2, G1 - 5 * M2, 2, RW, M2);
	CHECK_EQ(pt.table_pages, 1 + 1 + 2 + 1);
	check_tree(&pt);
	/* Tail of a 1G removed beyond it: one edge only. */
	CHECK_EQ(map(&pt, 20 * G1, 20 * G1, G1, RW), 0);
	CHECK_EQ(unmap(&pt, 21 * G1 - M2, 2 * M2), 0);
	expect_range(&pt, 20 * G1, 20 * G1, G1 - M2, 2, RW, M2);
	expect_absent(&pt, 21 * G1 - M2, M2, K4);
	check_tree(&pt);
	done(&pt);
}

TEST(unmap_split_1g_without_2m)
{
	struct vtd_pt pt;

	mk(&pt, 4, K4 | G1, true, false);
	CHECK_EQ(map(&pt, G1, 0, G1, RW), 0);
	CHECK_EQ(unmap(&pt, G1 + 3 * M2, K4), 0);
	/* No 2M leaves may appear: everything else is 4K now. */
	expect_range(&pt, G1, 0, 3 * M2, 1, RW, K4 * 7);
	expect_absent(&pt, G1 + 3 * M2, K4, K4);
	expect_range(&pt, G1 + 3 * M2 + K4, 3 * M2 + K4, G1 - 3 * M2 - K4, 1, RW, K4 * 9);
	CHECK_EQ(pt.table_pages, 1 + 1 + 1 + 512);
	check_tree(&pt);
	CHECK_EQ(unmap(&pt, G1, G1), 0);
	CHECK_EQ(P.live, 1);
	done(&pt);
}

/* Unmap [iova, iova+size) with the n-th alloc failing, n = 1, 2, ... */
static void try_unmap_enomem(struct vtd_pt *pt, uint64_t iova, uint64_t size, long *it)
{
	for (long n = 1;; n++) {
		struct dump before = dump_of(pt), after;
		long live = P.live;
		uint64_t pages = pt->table_pages;
		struct iommu_gather g;
		int rc;

		iommu_gather_init(&g);
		P.fail_in = n;
		rc = vtd_pt_unmap(pt, iova, size, &g);
		P.fail_in = 0;
		if (rc == 0) {
			vtd_pt_free_gathered(pt, &g);
			dump_free(&before);
			break;
		}
		(*it)++;
		CHECK_EQ(rc, -ENOMEM);
		after = dump_of(pt);
		CHECK(dump_eq(&before, &after));
		CHECK_EQ(P.live, live);
		CHECK_EQ(pt->table_pages, pages);
		CHECK_EQ(g.end, 0);
		CHECK(!g.need_flush);
		CHECK(g.leaf_only);
		CHECK_EQ(g.nfree, 0);
		dump_free(&before);
		dump_free(&after);
		if (rc != -ENOMEM || n > 10000)
			break;
	}
}

TEST(unmap_split_enomem_every_n)
{
	struct vtd_pt pt;
	long it = 0;

	mk(&pt, 4, ALL, false, false);
	CHECK_EQ(map(&pt, G1, 3 * G1, 2 * G1, RW), 0);
	/* Both edges inside different 1G leaves, each needing 1G->2M->4K. */
	try_unmap_enomem(&pt, 2 * G1 - M2 - K4, 2 * M2 + 2 * K4, &it);
	CHECK(it >= 4);
	expect_range(&pt, G1, 3 * G1, G1 - 2 * M2, 2, RW, M2);
	expect_range(&pt, 2 * G1 - 2 * M2, 4 * G1 - 2 * M2, M2 - K4, 1, RW, K4);
	expect_absent(&pt, 2 * G1 - M2 - K4, 2 * M2 + 2 * K4, K4);
	expect_range(&pt, 2 * G1 + M2 + K4, 4 * G1 + M2 + K4, M2 - K4, 1, RW, K4);
	expect_range(&pt, 2 * G1 + 2 * M2, 4 * G1 + 2 * M2, G1 - 2 * M2, 2, RW, M2);
	check_tree(&pt);
	/* Both edges in one 2M leaf. */
	it = 0;
	CHECK_EQ(map(&pt, 10 * G1, 0, M2, RW), 0);
	try_unmap_enomem(&pt, 10 * G1 + K4, K4, &it);
	CHECK(it >= 1);
	expect_absent(&pt, 10 * G1 + K4, K4, K4);
	expect_range(&pt, 10 * G1 + 2 * K4, 2 * K4, M2 - 2 * K4, 1, RW, K4);
	check_tree(&pt);
	CHECK_EQ(unmap(&pt, 0, vtd_pt_aperture_end(&pt) + 1), 0);
	CHECK_EQ(P.live, 1);
	done(&pt);
}

/* ------------------------------------------------------------ gather */

TEST(gather_freelist_and_flags)
{
	struct vtd_pt pt;
	struct iommu_gather g;
	uint64_t n = 0;

	mk(&pt, 4, ALL, true, false);
	CHECK_EQ(map(&pt, 0, 0, 3 * M2 + K4, RW), 0);
	CHECK_EQ(map(&pt, 700 * G1, 0, K4, RW), 0);
	CHECK_EQ(pt.table_pages, 1 + 3 + 3);
	/* Map gathers its range but asks for no flush. */
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_map(&pt, 5 * G1, 0, K4, RW, &g), 0);
	CHECK_EQ(g.start, 5 * G1);
	CHECK_EQ(g.end, 5 * G1 + K4);
	CHECK(!g.need_flush);
	CHECK(g.leaf_only);
	CHECK_EQ(vtd_pt_map(&pt, 4 * G1, 0, K4, RW, &g), 0);
	CHECK_EQ(g.start, 4 * G1);
	CHECK_EQ(g.end, 5 * G1 + K4);
	CHECK_EQ(pt.table_pages, 1 + 3 + 3 + 4);
	CHECK_EQ(unmap(&pt, 4 * G1, 2 * G1), 0);
	CHECK_EQ(pt.table_pages, 1 + 3 + 3);
	/* A leaf-only unmap: the 2M leaf in a table that keeps others. */
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_unmap(&pt, M2, M2, &g), 0);
	CHECK(g.need_flush);
	CHECK(g.leaf_only);
	CHECK_EQ(g.nfree, 0);
	CHECK_EQ(g.start, M2);
	CHECK_EQ(g.end, 2 * M2);
	/* Extending the same gather: the 4K table and (later) all above go. */
	CHECK_EQ(vtd_pt_unmap(&pt, 3 * M2, K4, &g), 0);
	CHECK(!g.leaf_only);
	CHECK_EQ(g.nfree, 1);
	CHECK_EQ(g.end, 3 * M2 + K4);
	CHECK_EQ(vtd_pt_unmap(&pt, 700 * G1, K4, &g), 0);
	CHECK_EQ(g.nfree, 4);
	CHECK_EQ(g.start, M2);
	CHECK_EQ(g.end, 700 * G1 + K4);
	/* Gathered pages stay ours (not freed) and are linked through their
	 * first 8 bytes; their entry 0 never looks present. */
	CHECK_EQ(P.live, 7);
	for (uint64_t pa = g.freelist; pa; pa = *(uint64_t *)phys_to_virt(pa)) {
		CHECK_EQ(pa & 0xfff, 0);
		n++;
	}
	CHECK_EQ(n, g.nfree);
	vtd_pt_free_gathered(&pt, &g);
	CHECK_EQ(P.live, 3);
	CHECK_EQ(pt.table_pages, 3);
	CHECK_EQ(g.freelist, 0);
	CHECK_EQ(g.nfree, 0);
	/* Unmap all: back to the root alone; the root itself is never gathered. */
	iommu_gather_init(&g);
	CHECK_EQ(vtd_pt_unmap(&pt, 0, vtd_pt_aperture_end(&pt) + 1, &g), 0);
	CHECK_EQ(g.nfree, 2);
	vtd_pt_free_gathered(&pt, &g);
	CHECK_EQ(P.live, 1);
	CHECK_EQ(pt.table_pages, 1);
	CHECK_EQ(walk(&pt, 0, NULL, NULL, NULL), -ENOENT);
	/* The table is usable again afterwards. */
	CHECK_EQ(map(&pt, 0, 0, K4, RW), 0);
	done(&pt);
}

/* ------------------------------------------------------------ SNP, prot */

TEST(snp_and_prot_bits)
{
	struct vtd_pt pt;
	unsigned p = 0;

	mk(&pt, 4, ALL, true, true);
	CHECK_EQ(map(&pt, 0, 0x5000, K4, IOMMU_READ), 0);
	CHECK_EQ(map(&pt, M2, M2, M2, IOMMU_WRITE), 0);
	CHECK_EQ(map(&pt, G1, G1, G1, RW), 0);
	CHECK_EQ(raw(&pt, 0, 1), 0x5000 | VTD_SL_R | VTD_SL_SNP);
	CHECK_EQ(raw(&pt, M2, 2), M2 | VTD_SL_W | VTD_SL_PS | VTD_SL_SNP);
	CHECK_EQ(raw(&pt, G1, 3), G1 | VTD_SL_R | VTD_SL_W | VTD_SL_PS | VTD_SL_SNP);
	/* Non-leaf entries: R|W only. */
	CHECK_EQ(raw(&pt, 0, 4) & ~VTD_SL_ADDR, VTD_SL_R | VTD_SL_W);
	CHECK_EQ(raw(&pt, 0, 2) & ~VTD_SL_ADDR, VTD_SL_R | VTD_SL_W);
	CHECK_EQ(walk(&pt, M2 + 5, NULL, NULL, &p), 0);
	CHECK_EQ(p, IOMMU_WRITE);
	check_tree(&pt);
	done(&pt);
	mk(&pt, 4, ALL, true, false);
	CHECK_EQ(map(&pt, 0, 0x5000, K4, IOMMU_READ), 0);
	CHECK_EQ(raw(&pt, 0, 1), 0x5000 | VTD_SL_R);
	CHECK_EQ(map(&pt, M2, M2, M2, RW), 0);
	CHECK_EQ(raw(&pt, M2, 2), M2 | VTD_SL_R | VTD_SL_W | VTD_SL_PS);
	done(&pt);
}

/* ------------------------------------------------------------ coherency */

/* Every present entry's line was flushed; every non-root table whole. */
static void check_all_flushed(const struct vtd_pt *pt, const uint64_t *t, unsigned level,
			      bool is_root, long *missing)
{
	if (!is_root)
		for (unsigned off = 0; off < 4096; off += CACHELINE_SIZE)
			if (!fake_flushed((const char *)t + off))
				(*missing)++;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = t[i];

		if (!(e & 3))
			continue;
		if (!fake_flushed(&t[i]))
			(*missing)++;
		if (level > 1 && !(level <= 3 && (e & VTD_SL_PS)))
			check_all_flushed(pt, phys_to_virt(e & VTD_SL_ADDR), level - 1, false,
					  missing);
	}
}

TEST(noncoherent_flushes)
{
	struct vtd_pt pt;
	long missing = 0;
	uint64_t *e;

	reset();
	CHECK_EQ(vtd_pt_init(&pt, 4, ALL, false, false, &A), 0);
	/* The fresh root is flushed whole. */
	CHECK_EQ(fake_clflush_lines, 64);
	for (unsigned off = 0; off < 4096; off += 64)
		CHECK(fake_flushed((char *)phys_to_virt(pt.root) + off));

	fake_flush_reset();
	CHECK_EQ(map(&pt, 0x1000, 0x1000, 8 * K4, RW), 0);
	CHECK_EQ(map(&pt, 3 * M2, 3 * M2, 2 * M2, RW), 0);
	CHECK_EQ(map(&pt, 5 * G1, 5 * G1, G1, RW), 0);
	check_all_flushed(&pt, phys_to_virt(pt.root), 4, true, &missing);
	CHECK_EQ(missing, 0);
	/* 8 consecutive 4K leaves: one 64-byte line, flushed once as a span. */
	fake_flush_reset();
	CHECK_EQ(map(&pt, 0x10000, 0x1000, 8 * K4, RW), 0);
	CHECK_EQ(fake_clflush_lines, 1);
	CHECK(fake_flushed(raw_ptr(&pt, 0x10000, 1)));
	/* 16 leaves across a line boundary: the two lines. */
	fake_flush_reset();
	CHECK_EQ(map(&pt, 0x3c000, 0x1000, 16 * K4, RW), 0);
	CHECK_EQ(fake_clflush_lines, 3);

	/* Unmap: each cleared entry's line. */
	fake_flush_reset();
	e = raw_ptr(&pt, 3 * M2, 2);
	CHECK_EQ(unmap(&pt, 3 * M2, M2), 0);
	CHECK_EQ(*e, 0);
	CHECK(fake_flushed(e));
	CHECK_EQ(fake_clflush_lines, 1);
	/* Split: the new tables whole, the replaced entry, the cleared one. */
	fake_flush_reset();
	e = raw_ptr(&pt, 5 * G1, 3);
	CHECK_EQ(unmap(&pt, 5 * G1 + 7 * M2 + K4, K4), 0);
	CHECK(fake_flushed(e));
	missing = 0;
	check_all_flushed(&pt, phys_to_virt(*e & VTD_SL_ADDR), 2, false, &missing);
	CHECK_EQ(missing, 0);
	CHECK(fake_flushed(raw_ptr(&pt, 5 * G1 + 7 * M2 + K4, 1)));
	CHECK_EQ(fake_clflush_lines, 64 + 64 + 1 + 1 + 1);
	/* Unlinking an emptied table flushes the parent entry. */
	fake_flush_reset();
	e = raw_ptr(&pt, 0x1000, 2);
	CHECK_EQ(unmap(&pt, 0, M2), 0);
	CHECK_EQ(*e, 0);
	CHECK(fake_flushed(e));
	done(&pt);
}

TEST(coherent_never_flushes)
{
	struct vtd_pt pt;

	reset();
	CHECK_EQ(vtd_pt_init(&pt, 4, ALL, true, true, &A), 0);
	CHECK_EQ(map(&pt, 0x1000, 0x1000, 8 * K4, RW), 0);
	CHECK_EQ(map(&pt, 5 * G1, 5 * G1, G1, RW), 0);
	CHECK_EQ(map(&pt, 3 * M2, 3 * M2, 2 * M2, RW), 0);
	CHECK_EQ(unmap(&pt, 5 * G1 + 7 * M2 + K4, K4), 0);
	CHECK_EQ(unmap(&pt, 3 * M2 + K4, M2), 0);
	CHECK_EQ(unmap(&pt, 0, vtd_pt_aperture_end(&pt) + 1), 0);
	CHECK_EQ(fake_clflush_lines, 0);
	CHECK_EQ(fake_flush_count, 0);
	done(&pt);
}

TEST(destroy_frees_everything)
{
	struct vtd_pt pt;

	mk(&pt, 4, ALL, true, false);
	CHECK_EQ(map(&pt, 0, 0, 5 * M2 + K4, RW), 0);
	CHECK_EQ(map(&pt, 300 * G1, 0, G1 + K4, RW), 0);
	CHECK_EQ(unmap(&pt, 300 * G1 + M2, K4), 0);
	CHECK(P.live > 5);
	CHECK_EQ((uint64_t)P.live, pt.table_pages);
	vtd_pt_destroy(&pt);
	CHECK_EQ(P.live, 0);
	CHECK_EQ(pt.root, 0);
}

/* ------------------------------------------------------------ model test */

struct ref {
	uint64_t base, npages;
	uint64_t *pa; /* 0 = absent, else pa | 1 */
	unsigned char *prot;
};

/* A page-granular range inside the region, biased toward big aligned ones. */
static void rnd_range(const struct ref *r, uint64_t *iova, uint64_t *size)
{
	uint64_t span = r->npages * K4, a, s;

	switch (rnd() % 4) {
	case 0: /* small */
		a = (rnd() % r->npages) * K4;
		s = (1 + rnd() % 8) * K4;
		break;
	case 1: /* 2M-aligned, a few 2M */
		a = (rnd() % (span / M2)) * M2;
		s = (1 + rnd() % 3) * M2;
		break;
	case 2: /* 1G-aligned gigabyte if the region has room */
		if (span >= G1) {
			a = (rnd() % (span / G1)) * G1;
			s = G1;
			break;
		}
		/* fall through */
	default: /* anything */
		a = (rnd() % r->npages) * K4;
		s = (1 + rnd() % (r->npages / 4)) * K4;
		break;
	}
	if (a + s > span)
		s = span - a;
	*iova = r->base + a;
	*size = s;
}

static void check_ref_pages(const struct vtd_pt *pt, const struct ref *r, uint64_t first,
			    uint64_t n, long *bad)
{
	for (uint64_t i = first; i < first + n && i < r->npages; i++) {
		uint64_t got = 0;
		unsigned l, p = 0;
		int rc = walk(pt, r->base + i * K4, &got, &l, &p);

		if (!r->pa[i]) {
			if (rc != -ENOENT)
				(*bad)++;
		} else if (rc || got != (r->pa[i] & ~1ull) || p != r->prot[i]) {
			(*bad)++;
		}
	}
}

static void model_run(unsigned levels, uint64_t pgsizes, bool coherent, uint64_t base,
		      uint64_t npages, int ops, uint64_t full_every)
{
	struct vtd_pt pt;
	struct ref r = {base, npages, calloc(npages, 8), calloc(npages, 1)};
	long bad = 0, nmap = 0, nunmap = 0, nexist = 0, nnomem = 0;

	mk(&pt, levels, pgsizes, coherent, false);
	for (int step = 0; step < ops && bad == 0; step++) {
		uint64_t iova, size, first, n;
		bool inject = rnd() % 10 == 0;
		int rc;

		rnd_range(&r, &iova, &size);
		first = (iova - base) / K4;
		n = size / K4;
		if (inject)
			P.fail_in = 1 + (long)(rnd() % 3);
		if (rnd() % 2) {
			/* pa aligned like iova most of the time, so superpages form */
			uint64_t pa = (iova & (G1 - 1)) + (1 + rnd() % 64) * G1;
			unsigned prot = 1 + (unsigned)(rnd() % 3);
			bool busy = false;

			if (rnd() % 4 == 0)
				pa += (1 + rnd() % 511) * K4;
			for (uint64_t i = 0; i < n; i++)
				busy |= r.pa[first + i] != 0;
			rc = map(&pt, iova, pa, size, prot);
			if (busy) {
				if (rc != -EEXIST)
					bad++;
				nexist++;
			} else if (rc == -ENOMEM && inject) {
				nnomem++;
			} else if (rc == 0) {
				for (uint64_t i = 0; i < n; i++) {
					r.pa[first + i] = (pa + i * K4) | 1;
					r.prot[first + i] = (unsigned char)prot;
				}
				nmap++;
			} else {
				bad++;
			}
		} else {
			rc = unmap(&pt, iova, size);
			if (rc == -ENOMEM && inject) {
				nnomem++;
			} else if (rc == 0) {
				memset(&r.pa[first], 0, n * 8);
				nunmap++;
			} else {
				bad++;
			}
		}
		P.fail_in = 0;
		/* The pages touched and their neighbours, every step; all pages
		 * every full_every steps (every step for small regions). */
		if (full_every <= 1 || step % full_every == 0) {
			check_ref_pages(&pt, &r, 0, npages, &bad);
			check_tree(&pt);
		} else {
			/* both edges and their neighbours, samples inside, anywhere */
			check_ref_pages(&pt, &r, first > 600 ? first - 600 : 0, 1200, &bad);
			check_ref_pages(&pt, &r, first + n > 600 ? first + n - 600 : 0, 1200, &bad);
			for (int k = 0; k < 256; k++) {
				check_ref_pages(&pt, &r, first + rnd() % n, 1, &bad);
				check_ref_pages(&pt, &r, rnd() % npages, 1, &bad);
			}
		}
		CHECK_EQ((uint64_t)P.live, pt.table_pages);
	}
	CHECK_EQ(bad, 0);
	CHECK(nmap > ops / 10);
	CHECK(nunmap > ops / 10);
	CHECK(nexist > 0);
	CHECK(nnomem > 0);
	check_ref_pages(&pt, &r, 0, npages, &bad);
	CHECK_EQ(bad, 0);
	check_tree(&pt);
	CHECK_EQ(unmap(&pt, base, npages * K4), 0);
	CHECK_EQ(P.live, 1);
	done(&pt);
	free(r.pa);
	free(r.prot);
}

TEST(model_small_region_every_page)
{
	/* 16 MiB at an odd spot, 4K and 2M leaves, all pages walked each step. */
	model_run(4, ALL, true, 3 * G1 + 8 * M2, 4096, 4000, 1);
	model_run(3, K4 | M2, false, 0, 4096, 2000, 1);
}

TEST(model_gigabyte_leaves)
{
	/* 2 GiB so 1G leaves form and split; all pages every 200 steps. */
	model_run(4, ALL, true, 511 * G1, 2 * 262144, 2000, 200);
	model_run(3, K4 | G1, true, 4 * G1, 2 * 262144, 600, 200);
}

/* Emptied tables kept for reuse (stash_max): after the first map/unmap
 * cycle no page is allocated any more, reused tables are zero (the walk
 * and the tree checks see nothing stale), and destroy frees them all. */
TEST(stash_reuses_emptied_tables)
{
	struct vtd_pt pt;
	struct iommu_gather g;
	long live_after_first;

	reset();
	mk(&pt, 4, PGSIZE_4K | PGSIZE_2M | PGSIZE_1G, false, false);
	pt.stash_max = 3;
	for (int round = 0; round < 50; round++) {
		uint64_t iova = 0x8000000000ull + (uint64_t)(round % 5) * 0x1000, pa;
		unsigned lvl, prot;

		iommu_gather_init(&g);
		CHECK_EQ(vtd_pt_map(&pt, iova, 0x40000000ull + round * 0x1000ull, 0x1000,
				    IOMMU_READ, &g),
			 0);
		CHECK_EQ(walk(&pt, iova, &pa, &lvl, &prot), 0);
		CHECK_EQ(pa, 0x40000000ull + round * 0x1000ull);
		CHECK_EQ(lvl, 1);
		CHECK_EQ(walk(&pt, iova + 0x1000, &pa, &lvl, &prot), -ENOENT);
		check_tree(&pt);
		iommu_gather_init(&g);
		CHECK_EQ(vtd_pt_unmap(&pt, iova, 0x1000, &g), 0);
		CHECK(g.nfree == 3); /* PT, PD, PDPT emptied below the root */
		vtd_pt_free_gathered(&pt, &g);
		CHECK_EQ(pt.nstash, 3);
		check_tree(&pt);
		if (round == 0)
			live_after_first = P.live;
		CHECK_EQ(P.live, live_after_first); /* nothing new allocated */
	}
	CHECK_EQ(live_after_first, 4); /* root + 3 stashed */
	CHECK_EQ(pt.table_pages, 4);
	done(&pt); /* destroy frees the stash: live 0 */
}
