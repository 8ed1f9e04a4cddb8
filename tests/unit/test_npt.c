// SOURCES: arch/x86/npt.c lib/pgtable.c
/*
 * tests/unit/test_npt.c — AMD nested page tables on the shared page-table
 * engine: largest-leaf construction, the exact entry bits (U/S at every
 * level, NX, PCD/PWT, PS), all-or-nothing map on -EEXIST and on allocation
 * failure, unmap splitting 1G and 2M leaves at 4K edges, emptied tables
 * freed at once, walk, and argument errors.
 *
 * The entry bits are spelled out here from APM vol. 2 §5.3 (not taken from
 * arch/x86/npt.c), and trees are read raw, so a wrong bit fails.
 */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/npt.h"
#include "fake_hw.h"
#include "hw/hw.h"
#include "test.h"

#define K4 (1ull << 12)
#define M2 (1ull << 21)
#define G1 (1ull << 30)
#define ALL (K4 | M2 | G1)

#define B_P (1ull << 0)
#define B_RW (1ull << 1)
#define B_US (1ull << 2)
#define B_PWT (1ull << 3)
#define B_PCD (1ull << 4)
#define B_PS (1ull << 7)
#define B_NX (1ull << 63)
#define B_ADDR 0x000ffffffffff000ull

#define TABLE_BITS (B_P | B_RW | B_US)
#define RW (NPT_R | NPT_W)

/* ------------------------------------------------------------ page pool */

static struct {
	long live;    /* pages handed out and not freed */
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
	return virt_to_phys(p);
}

static void t_free(void *ctx, uint64_t pa)
{
	free(phys_to_virt(pa));
	P.live--;
}

static const struct npt_alloc A = {t_alloc, t_free, NULL};

static void mk(struct npt *n, uint64_t pgsizes)
{
	memset(&P, 0, sizeof(P));
	fake_flush_reset();
	CHECK_EQ(npt_init(n, pgsizes, &A), 0);
	CHECK_EQ(P.live, 1);
	CHECK_EQ(n->table_pages, 1);
	CHECK(n->root != 0);
}

static void done(struct npt *n)
{
	npt_destroy(n);
	CHECK_EQ(P.live, 0);
}

/* ------------------------------------------------------------ raw reads */

#define SHIFT(l) (12u + 9u * ((l)-1u))

/* The entry at `level` on the way to gpa (0 if the walk stops above). */
static uint64_t raw(const struct npt *n, uint64_t gpa, unsigned level)
{
	const uint64_t *t = phys_to_virt(n->root);

	for (unsigned l = 4; l >= 1; l--) {
		uint64_t e = t[(gpa >> SHIFT(l)) & 511];

		if (l == level)
			return e;
		if (!(e & B_P) || (l <= 3 && (e & B_PS)) || l == 1)
			return 0;
		t = phys_to_virt(e & B_ADDR);
	}
	return 0;
}

/* Every non-leaf entry reachable is exactly addr|P|RW|US; no table below
 * the root is empty; leaves are counted per level. */
struct census {
	unsigned long leaves[4];
	unsigned long tables, bad_tables, empty;
};

static void census_rec(struct census *c, const uint64_t *t, unsigned level)
{
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = t[i];
		const uint64_t *child;
		bool empty = true;

		if (!(e & B_P))
			continue;
		if (level == 1 || (level <= 3 && (e & B_PS))) {
			c->leaves[level]++;
			continue;
		}
		c->tables++;
		if ((e & ~B_ADDR) != TABLE_BITS)
			c->bad_tables++;
		child = phys_to_virt(e & B_ADDR);
		for (unsigned j = 0; j < 512; j++)
			if (child[j])
				empty = false;
		if (empty)
			c->empty++;
		census_rec(c, child, level - 1);
	}
}

static struct census census(const struct npt *n)
{
	struct census c;

	memset(&c, 0, sizeof(c));
	census_rec(&c, phys_to_virt(n->root), 4);
	CHECK_EQ(c.bad_tables, 0);
	CHECK_EQ(c.empty, 0);
	CHECK_EQ(c.tables + 1, n->table_pages);
	CHECK_EQ((long)n->table_pages, P.live);
	return c;
}

/* A copy of every table page, in walk order, to compare trees. */
struct snap {
	uint64_t *words;
	size_t n;
	uint64_t table_pages;
	long live;
};

static void snap_rec(struct snap *s, const uint64_t *t, unsigned level)
{
	s->words = realloc(s->words, (s->n + 512) * sizeof(uint64_t));
	memcpy(s->words + s->n, t, 512 * sizeof(uint64_t));
	s->n += 512;
	for (unsigned i = 0; i < 512; i++)
		if ((t[i] & B_P) && level > 1 && !(level <= 3 && (t[i] & B_PS)))
			snap_rec(s, phys_to_virt(t[i] & B_ADDR), level - 1);
}

static struct snap snap(const struct npt *n)
{
	struct snap s = {NULL, 0, n->table_pages, P.live};

	snap_rec(&s, phys_to_virt(n->root), 4);
	return s;
}

static bool snap_same(struct snap *a, const struct npt *n)
{
	struct snap b = snap(n);
	bool same = a->n == b.n && a->table_pages == b.table_pages && a->live == b.live &&
		    memcmp(a->words, b.words, a->n * sizeof(uint64_t)) == 0;

	free(b.words);
	return same;
}

static void expect_leaf(const struct npt *n, uint64_t gpa, uint64_t hpa, unsigned level)
{
	uint64_t pa = 0;
	unsigned l = 0;

	CHECK_EQ(npt_walk(n, gpa, &pa, &l, NULL), 0);
	CHECK_EQ(pa, hpa);
	CHECK_EQ(l, level);
}

/* Every 4K page of [gpa, gpa+size) maps hpa + offset. */
static void expect_range(const struct npt *n, uint64_t gpa, uint64_t hpa, uint64_t size)
{
	unsigned long bad = 0;

	for (uint64_t o = 0; o < size; o += K4) {
		uint64_t pa = 0;

		if (npt_walk(n, gpa + o, &pa, NULL, NULL) != 0 || pa != hpa + o)
			bad++;
	}
	CHECK_EQ(bad, 0);
}

/* ------------------------------------------------------------ tests */

TEST(init_args)
{
	struct npt n;

	memset(&P, 0, sizeof(P));
	CHECK_EQ(npt_init(&n, 0, &A), -EINVAL);
	CHECK_EQ(npt_init(&n, M2 | G1, &A), -EINVAL);
	CHECK_EQ(npt_init(&n, ALL | (1ull << 39), &A), -EINVAL);
	CHECK_EQ(npt_init(&n, ALL | (1ull << 13), &A), -EINVAL);
	CHECK_EQ(npt_init(&n, ALL, NULL), -EINVAL);
	P.fail_in = 1;
	CHECK_EQ(npt_init(&n, ALL, &A), -ENOMEM);
	CHECK_EQ(P.live, 0);
	mk(&n, ALL);
	CHECK_EQ(npt_walk(&n, 0, NULL, NULL, NULL), -ENOENT);
	done(&n);
}

/* [1G-2M-4K, 2G+2M+4K) with hpa congruent: 4K, 2M, 1G, 2M, 4K leaves. */
TEST(largest_leaves_mix)
{
	struct npt n;
	const uint64_t gpa = G1 - M2 - K4, hpa = 5 * G1 - M2 - K4;
	const uint64_t size = G1 + 2 * (M2 + K4);
	struct census c;

	mk(&n, ALL);
	CHECK_EQ(npt_map(&n, gpa, hpa, size, RW), 0);
	expect_leaf(&n, gpa, hpa, 1);
	expect_leaf(&n, G1 - M2, 5 * G1 - M2, 2);
	expect_leaf(&n, G1, 5 * G1, 3);
	expect_leaf(&n, G1 + 12345 * K4 + 7, 5 * G1 + 12345 * K4 + 7, 3);
	expect_leaf(&n, 2 * G1, 6 * G1, 2);
	expect_leaf(&n, 2 * G1 + M2, 6 * G1 + M2, 1);
	CHECK_EQ(npt_walk(&n, gpa - K4, NULL, NULL, NULL), -ENOENT);
	CHECK_EQ(npt_walk(&n, gpa + size, NULL, NULL, NULL), -ENOENT);
	c = census(&n);
	CHECK_EQ(c.leaves[1], 2);
	CHECK_EQ(c.leaves[2], 2);
	CHECK_EQ(c.leaves[3], 1);
	/* root, one PDPT, two PDs, two PTs */
	CHECK_EQ(n.table_pages, 6);
	expect_range(&n, gpa, hpa, 4 * M2);
	expect_range(&n, 2 * G1 - M2, 6 * G1 - M2, 2 * M2 + K4);
	done(&n);
}

TEST(misaligned_hpa_and_pgsizes)
{
	struct npt n;
	struct census c;

	/* gpa 1G-aligned, hpa only 4K-aligned: 4K leaves throughout. */
	mk(&n, ALL);
	CHECK_EQ(npt_map(&n, G1, 2 * G1 + K4, 2 * M2, RW), 0);
	c = census(&n);
	CHECK_EQ(c.leaves[1], 1024);
	CHECK_EQ(c.leaves[2] + c.leaves[3], 0);
	expect_range(&n, G1, 2 * G1 + K4, 2 * M2);
	/* hpa 2M- but not 1G-aligned: 1 GiB as 512 2M leaves. */
	CHECK_EQ(npt_map(&n, 4 * G1, 8 * G1 + M2, G1, NPT_R), 0);
	c = census(&n);
	CHECK_EQ(c.leaves[2], 512);
	CHECK_EQ(c.leaves[3], 0);
	expect_leaf(&n, 5 * G1 - K4, 9 * G1 + M2 - K4, 2);
	done(&n);

	/* 4K only: an aligned 2M is 512 4K leaves; 4K|1G: 1G stays one leaf. */
	mk(&n, K4);
	CHECK_EQ(npt_map(&n, M2, M2, M2, RW), 0);
	expect_leaf(&n, M2, M2, 1);
	CHECK_EQ(census(&n).leaves[1], 512);
	done(&n);
	mk(&n, K4 | G1);
	CHECK_EQ(npt_map(&n, G1, G1, G1 + M2, RW), 0);
	expect_leaf(&n, G1, G1, 3);
	expect_leaf(&n, 2 * G1, 2 * G1, 1);
	c = census(&n);
	CHECK_EQ(c.leaves[3], 1);
	CHECK_EQ(c.leaves[1], 512);
	done(&n);
}

/* Leaves: hpa|P|US, RW for W, NX unless X, PCD|PWT for MMIO, PS above
 * level 1, nothing else.  Tables: addr|P|RW|US at levels 4, 3 and 2. */
TEST(entry_bits_exact)
{
	static const struct {
		unsigned prot;
		uint64_t bits;
	} cases[] = {
		{NPT_R, B_P | B_US | B_NX},
		{NPT_R | NPT_W, B_P | B_US | B_RW | B_NX},
		{NPT_R | NPT_X, B_P | B_US},
		{NPT_R | NPT_W | NPT_X, B_P | B_US | B_RW},
		{NPT_R | NPT_MMIO, B_P | B_US | B_NX | B_PCD | B_PWT},
		{NPT_R | NPT_W | NPT_MMIO, B_P | B_US | B_RW | B_NX | B_PCD | B_PWT},
		{NPT_R | NPT_W | NPT_X | NPT_MMIO, B_P | B_US | B_RW | B_PCD | B_PWT},
	};
	struct npt n;

	mk(&n, ALL);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t g4 = (uint64_t)i * 4 * G1 + G1; /* room for each */
		uint64_t h = 16 * G1 + (uint64_t)i * 4 * G1;
		unsigned prot = 0, level = 0;

		/* a 1G, a 2M and a 4K leaf with the same prot */
		CHECK_EQ(npt_map(&n, g4, h, G1, cases[i].prot), 0);
		CHECK_EQ(npt_map(&n, g4 + G1, h + G1, M2, cases[i].prot), 0);
		CHECK_EQ(npt_map(&n, g4 + G1 + M2, h + G1 + M2, K4, cases[i].prot), 0);
		CHECK_EQ(raw(&n, g4, 3), h | cases[i].bits | B_PS);
		CHECK_EQ(raw(&n, g4 + G1, 2), (h + G1) | cases[i].bits | B_PS);
		CHECK_EQ(raw(&n, g4 + G1 + M2, 1), (h + G1 + M2) | cases[i].bits);
		CHECK_EQ(raw(&n, g4 + G1 + M2, 4) & ~B_ADDR, TABLE_BITS);
		CHECK_EQ(raw(&n, g4 + G1 + M2, 3) & ~B_ADDR, TABLE_BITS);
		CHECK_EQ(raw(&n, g4 + G1 + M2, 2) & ~B_ADDR, TABLE_BITS);
		/* walk gives the prot back, at each size */
		CHECK_EQ(npt_walk(&n, g4 + 5 * K4, NULL, &level, &prot), 0);
		CHECK_EQ(prot, cases[i].prot);
		CHECK_EQ(level, 3);
		CHECK_EQ(npt_walk(&n, g4 + G1 + K4, NULL, &level, &prot), 0);
		CHECK_EQ(prot, cases[i].prot);
		CHECK_EQ(level, 2);
		CHECK_EQ(npt_walk(&n, g4 + G1 + M2, NULL, &level, &prot), 0);
		CHECK_EQ(prot, cases[i].prot);
		CHECK_EQ(level, 1);
	}
	census(&n);
	/* The CPU walks coherently: nothing is ever clflushed. */
	CHECK_EQ(fake_clflush_lines, 0);
	done(&n);
}

TEST(map_eexist_changes_nothing)
{
	struct npt n;
	struct snap s;

	mk(&n, ALL);
	CHECK_EQ(npt_map(&n, G1, G1, G1, RW), 0);	      /* 1G leaf */
	CHECK_EQ(npt_map(&n, 4 * G1 + M2, 0, M2, RW), 0);     /* 2M leaf */
	CHECK_EQ(npt_map(&n, 8 * G1 + 5 * K4, 0, K4, RW), 0); /* 4K leaf */
	s = snap(&n);
	/* exact, inside a large leaf, overlapping an edge, covering */
	CHECK_EQ(npt_map(&n, G1, G1, G1, RW), -EEXIST);
	CHECK_EQ(npt_map(&n, G1 + M2, 0, K4, RW), -EEXIST);
	CHECK_EQ(npt_map(&n, G1 - M2, 0, 2 * M2, RW), -EEXIST);
	CHECK_EQ(npt_map(&n, 0, 0, 3 * G1, RW), -EEXIST);
	CHECK_EQ(npt_map(&n, 4 * G1, 0, G1, RW), -EEXIST);
	CHECK_EQ(npt_map(&n, 4 * G1 + 2 * M2 - K4, 0, 2 * K4, RW), -EEXIST);
	/* fresh tables would be needed before the clash: none stays */
	CHECK_EQ(npt_map(&n, 8 * G1 - M2 - K4, 0, M2 + 7 * K4, RW), -EEXIST);
	CHECK_EQ(npt_map(&n, 7 * G1, 0, G1 + 6 * K4, RW), -EEXIST);
	CHECK(snap_same(&s, &n));
	free(s.words);
	census(&n);
	done(&n);
}

/* Map needs k tables: the n-th allocation failing (n <= k) is -ENOMEM with
 * the tree unchanged and no page kept; n > k succeeds. */
TEST(map_enomem_every_n)
{
	struct npt n;
	const uint64_t gpa = 2 * G1 - M2 - K4, size = G1 + 2 * M2 + 2 * K4;
	long ok_at = 0;

	for (long f = 1; f <= 10 && !ok_at; f++) {
		struct snap s;
		int rc;

		mk(&n, ALL);
		CHECK_EQ(npt_map(&n, 64 * G1, 0, K4, RW), 0); /* an unrelated leaf */
		s = snap(&n);
		P.fail_in = f;
		rc = npt_map(&n, gpa, 16 * G1 + (gpa & (G1 - 1)), size, RW);
		if (P.failed) {
			CHECK_EQ(rc, -ENOMEM);
			CHECK(snap_same(&s, &n));
			CHECK_EQ(npt_walk(&n, gpa, NULL, NULL, NULL), -ENOENT);
		} else {
			CHECK_EQ(rc, 0);
			ok_at = f;
			expect_range(&n, gpa, 16 * G1 + (gpa & (G1 - 1)), 2 * M2);
		}
		P.fail_in = 0;
		free(s.words);
		census(&n);
		done(&n);
	}
	/* PD for 1-2G, PT at 2G-2M-4K, PD for 2-3G, PT at 3G+2M (the PDPT
	 * for 0-512G exists already): 4 tables, so the 5th call is the first
	 * that cannot fail. */
	CHECK_EQ(ok_at, 5);
}

TEST(unmap_splits_1g_at_4k_edges)
{
	struct npt n;
	const uint64_t gpa = 3 * G1, hpa = 7 * G1;
	const uint64_t hole = gpa + 300 * M2 + 17 * K4;
	const unsigned prot = NPT_R | NPT_W | NPT_MMIO;
	struct census c;
	unsigned got = 0;

	mk(&n, ALL);
	CHECK_EQ(npt_map(&n, gpa, hpa, G1, prot), 0);
	CHECK_EQ(n.table_pages, 2);
	CHECK_EQ(npt_unmap(&n, hole, 2 * K4), 0);
	CHECK_EQ(npt_walk(&n, hole, NULL, NULL, NULL), -ENOENT);
	CHECK_EQ(npt_walk(&n, hole + K4, NULL, NULL, NULL), -ENOENT);
	/* the rest at the same hpa, as 2M leaves and, around the hole, 4K */
	expect_range(&n, gpa, hpa, hole - gpa);
	expect_range(&n, hole + 2 * K4, hpa + (hole - gpa) + 2 * K4, gpa + G1 - hole - 2 * K4);
	expect_leaf(&n, gpa, hpa, 2);
	expect_leaf(&n, hole - K4, hpa + (hole - gpa) - K4, 1);
	expect_leaf(&n, hole + 2 * K4, hpa + (hole - gpa) + 2 * K4, 1);
	expect_leaf(&n, gpa + G1 - K4, hpa + G1 - K4, 2);
	c = census(&n);
	CHECK_EQ(c.leaves[3], 0);
	CHECK_EQ(c.leaves[2], 511);
	CHECK_EQ(c.leaves[1], 510);
	CHECK_EQ(n.table_pages, 4);
	/* the split leaves keep W, MMIO and the absence of X */
	CHECK_EQ(npt_walk(&n, gpa + 5 * M2, NULL, NULL, &got), 0);
	CHECK_EQ(got, prot);
	CHECK_EQ(npt_walk(&n, hole - K4, NULL, NULL, &got), 0);
	CHECK_EQ(got, prot);
	CHECK_EQ(raw(&n, hole - K4, 1),
		 (hpa + (hole - gpa) - K4) | B_P | B_US | B_RW | B_NX | B_PCD | B_PWT);
	CHECK_EQ(raw(&n, gpa, 2), hpa | B_P | B_US | B_RW | B_NX | B_PCD | B_PWT | B_PS);
	done(&n);
}

TEST(unmap_splits_2m_at_4k_edges)
{
	struct npt n;
	const uint64_t gpa = 10 * M2, hpa = 40 * M2;
	struct census c;

	mk(&n, K4 | M2);
	CHECK_EQ(npt_map(&n, gpa, hpa, 2 * M2, NPT_R | NPT_X), 0);
	CHECK_EQ(census(&n).leaves[2], 2);
	/* straddles the boundary between the two 2M leaves */
	CHECK_EQ(npt_unmap(&n, gpa + M2 - 3 * K4, 5 * K4), 0);
	for (uint64_t o = M2 - 3 * K4; o < M2 + 2 * K4; o += K4)
		CHECK_EQ(npt_walk(&n, gpa + o, NULL, NULL, NULL), -ENOENT);
	expect_range(&n, gpa, hpa, M2 - 3 * K4);
	expect_range(&n, gpa + M2 + 2 * K4, hpa + M2 + 2 * K4, M2 - 2 * K4);
	expect_leaf(&n, gpa, hpa, 1);
	expect_leaf(&n, gpa + 2 * M2 - K4, hpa + 2 * M2 - K4, 1);
	c = census(&n);
	CHECK_EQ(c.leaves[2], 0);
	CHECK_EQ(c.leaves[1], 1024 - 5);
	CHECK_EQ(raw(&n, gpa, 1), hpa | B_P | B_US);
	done(&n);
}

/* A split that cannot allocate changes nothing; one that can succeeds. */
TEST(unmap_split_enomem)
{
	struct npt n;
	struct snap s;

	mk(&n, ALL);
	CHECK_EQ(npt_map(&n, G1, G1, G1, RW), 0);
	s = snap(&n);
	P.fail_in = 1; /* the first of the split's tables */
	CHECK_EQ(npt_unmap(&n, G1 + K4, K4), -ENOMEM);
	CHECK(snap_same(&s, &n));
	P.fail_in = 2; /* the second */
	CHECK_EQ(npt_unmap(&n, G1 + K4, K4), -ENOMEM);
	CHECK(snap_same(&s, &n));
	P.fail_in = 0;
	free(s.words);
	CHECK_EQ(npt_unmap(&n, G1 + K4, K4), 0);
	CHECK_EQ(npt_walk(&n, G1 + K4, NULL, NULL, NULL), -ENOENT);
	expect_leaf(&n, G1, G1, 1);
	census(&n);
	done(&n);
}

/* Emptied tables go back to the allocator in the unmap itself: after
 * unmapping everything (in pieces, through splits) only the root is left. */
TEST(unmap_frees_empty_tables_at_once)
{
	struct npt n;

	mk(&n, ALL);
	CHECK_EQ(npt_map(&n, G1 - M2 - K4, 5 * G1 - M2 - K4, G1 + 2 * (M2 + K4), RW), 0);
	CHECK_EQ(npt_map(&n, 600 * G1 + K4, K4, 3 * K4, NPT_R), 0); /* another PML4 slot */
	CHECK_EQ(npt_map(&n, (1ull << 48) - M2, 0, M2, NPT_R), 0);  /* the last 2M */
	/* 6 for the mix, PDPT+PD+PT and PDPT+PD for the other two */
	CHECK_EQ(n.table_pages, 11);
	/* absent parts are fine */
	CHECK_EQ(npt_unmap(&n, 100 * G1, G1), 0);
	CHECK_EQ(n.table_pages, 11);
	CHECK_EQ(npt_unmap(&n, 600 * G1 + 2 * K4, K4), 0);
	census(&n);
	CHECK_EQ(npt_unmap(&n, 600 * G1, M2), 0);
	CHECK_EQ(n.table_pages, 8);
	CHECK_EQ(P.live, 8);
	/* cut the 1G leaf in the middle first (a split), then the rest */
	CHECK_EQ(npt_unmap(&n, G1 + 100 * K4, K4), 0);
	census(&n);
	CHECK_EQ(npt_unmap(&n, 0, G1 + 100 * K4), 0);
	census(&n);
	CHECK_EQ(npt_unmap(&n, G1 + 101 * K4, 2 * G1), 0);
	CHECK_EQ(npt_unmap(&n, (1ull << 48) - G1, G1), 0);
	CHECK_EQ(n.table_pages, 1);
	CHECK_EQ(P.live, 1);
	CHECK_EQ(npt_walk(&n, G1, NULL, NULL, NULL), -ENOENT);
	/* the root is still a working table */
	CHECK_EQ(npt_map(&n, 0, 0, K4, RW), 0);
	expect_leaf(&n, 0, 0, 1);
	done(&n);
}

TEST(walk_results)
{
	struct npt n;
	uint64_t pa = 0;
	unsigned level = 9, prot = 0;

	mk(&n, ALL);
	CHECK_EQ(npt_map(&n, 2 * G1, 3 * G1, G1, NPT_R | NPT_W | NPT_X), 0);
	CHECK_EQ(npt_walk(&n, 2 * G1 + 0x123456, &pa, &level, &prot), 0);
	CHECK_EQ(pa, 3 * G1 + 0x123456);
	CHECK_EQ(level, 3);
	CHECK_EQ(prot, NPT_R | NPT_W | NPT_X);
	CHECK_EQ(npt_walk(&n, 2 * G1 + 77, NULL, NULL, NULL), 0);
	CHECK_EQ(npt_walk(&n, 2 * G1 - 1, &pa, &level, &prot), -ENOENT);
	CHECK_EQ(npt_walk(&n, 3 * G1, NULL, NULL, NULL), -ENOENT);
	CHECK(npt_walk(&n, 1ull << 48, NULL, NULL, NULL) < 0);
	done(&n);
}

TEST(bad_arguments)
{
	struct npt n;
	const uint64_t top = 1ull << 48;

	mk(&n, ALL);
	/* prot */
	CHECK_EQ(npt_map(&n, 0, 0, K4, 0), -EINVAL);
	CHECK_EQ(npt_map(&n, 0, 0, K4, NPT_W), -EINVAL);
	CHECK_EQ(npt_map(&n, 0, 0, K4, NPT_X | NPT_MMIO), -EINVAL);
	CHECK_EQ(npt_map(&n, 0, 0, K4, NPT_R | 0x10u), -EINVAL);
	/* zero size, misalignment */
	CHECK_EQ(npt_map(&n, 0, 0, 0, NPT_R), -EINVAL);
	CHECK_EQ(npt_map(&n, 1, 0, K4, NPT_R), -EINVAL);
	CHECK_EQ(npt_map(&n, 0, 0x800, K4, NPT_R), -EINVAL);
	CHECK_EQ(npt_map(&n, 0, 0, K4 + 1, NPT_R), -EINVAL);
	/* beyond 48 bits of gpa, 52 bits of hpa */
	CHECK_EQ(npt_map(&n, top - K4, 0, 2 * K4, NPT_R), -EINVAL);
	CHECK_EQ(npt_map(&n, top, 0, K4, NPT_R), -EINVAL);
	CHECK_EQ(npt_map(&n, 0, 1ull << 52, K4, NPT_R), -EINVAL);
	CHECK_EQ(npt_map(&n, 0, (1ull << 52) - K4, 2 * K4, NPT_R), -EINVAL);
	/* wrap */
	CHECK_EQ(npt_map(&n, 0 - K4, 0, 2 * K4, NPT_R), -EOVERFLOW);
	CHECK_EQ(npt_map(&n, 0, 0 - K4, 2 * K4, NPT_R), -EOVERFLOW);
	CHECK_EQ(n.table_pages, 1);
	CHECK_EQ(P.live, 1);
	/* the last page of the space is fine */
	CHECK_EQ(npt_map(&n, top - K4, (1ull << 52) - K4, K4, NPT_R), 0);
	expect_leaf(&n, top - K4, (1ull << 52) - K4, 1);
	/* unmap */
	CHECK_EQ(npt_unmap(&n, 0, 0), -EINVAL);
	CHECK_EQ(npt_unmap(&n, 0x800, K4), -EINVAL);
	CHECK_EQ(npt_unmap(&n, 0, 0x1800), -EINVAL);
	CHECK_EQ(npt_unmap(&n, top - K4, 2 * K4), -EINVAL);
	CHECK_EQ(npt_unmap(&n, 0 - K4, 2 * K4), -EOVERFLOW);
	expect_leaf(&n, top - K4, (1ull << 52) - K4, 1);
	CHECK_EQ(npt_unmap(&n, top - K4, K4), 0);
	CHECK_EQ(n.table_pages, 1);
	done(&n);
}
