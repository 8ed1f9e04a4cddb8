// SOURCES: dma/space.c dma/walk.c dma/map.c dma/hint.c dma/attach.c dma/prereg.c dma/acct.c lib/itree.c kernel/frame.c tests/unit/fake_iommu.c
/*
 * tests/unit/test_dma_faults.c — fault-injection sweeps: for every n, the
 * n-th allocation (heap or frame) and, separately, the n-th driver call
 * fails inside map, unmap, attach (replay), detach, register, unregister,
 * hint, unhint (also over several pieces of one mapping) and rebind.  A failed call
 * must leave every observable thing as it was (records, page tables, pins,
 * charges, free memory); after teardown nothing may leak.
 */
#include "tests/unit/dma_testlib.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define RW (DMA_PROT_R | DMA_PROT_W)

/* The world every operation runs in. */
static struct {
	struct dma_space *a, *b;
	struct iommu_unit *u1, *u2, *u3;
	struct dma_group g1, g2, g3;
	uint64_t user, reg;
} w;

static unsigned ndoms_a(struct iommu_domain **d)
{
	unsigned n = 0;
	if (w.g1.space)
		d[n++] = fake_iommu_rid_domain(w.u1, 1);
	if (w.g2.space)
		d[n++] = fake_iommu_rid_domain(w.u2, 2);
	if (w.g3.space == w.a)
		d[n++] = fake_iommu_rid_domain(w.u3, 3);
	return n;
}

static uint64_t digest(int *bad)
{
	struct iommu_domain *da[3], *db[1];
	unsigned na = ndoms_a(da), nb = 0;
	struct dma_space *sp[2] = {w.a, w.b};

	if (w.g3.space == w.b)
		db[nb++] = fake_iommu_rid_domain(w.u3, 3);
	return tl_digest(sp, 2, (struct iommu_domain * *[]){da, db}, (unsigned[]){na, nb}, bad);
}

static void build(void)
{
	uint64_t hpa;

	tl_setup();
	fake_iommu_reset();
	dma_test_fail_nth(0);
	w.u1 = tl_unit(PGSIZE_4K | PGSIZE_2M);
	w.u2 = tl_unit(PGSIZE_4K);
	w.u3 = tl_unit(PGSIZE_4K | PGSIZE_2M | PGSIZE_1G);
	tl_group(&w.g1, w.u1, 1);
	tl_group(&w.g2, w.u2, 2);
	tl_group(&w.g3, w.u3, 3);
	w.user = tl_user(11);
	w.reg = tl_user(9);
	if (dma_space_create(NULL, &w.a) || dma_space_create(NULL, &w.b))
		abort();
	if (dma_attach(w.a, &w.g1) || dma_attach(w.a, &w.g2))
		abort();
	int e[] = {
		dma_map(w.a, 0x100000, 0x8000, DMA_SRC_HPA, w.user, RW, &hpa),
		dma_map(w.a, 0x108000, 0x4000, DMA_SRC_HPA, w.user + 0x10000, RW, &hpa),
		dma_map(w.a, 4 * M2, 2 * M2, DMA_SRC_HPA, w.user + 2 * M2, RW, &hpa),
		dma_map(w.a, 8 * M2, 0x3000, DMA_SRC_ALLOC, 0, DMA_PROT_R, &hpa),
		dma_map(w.b, 0x100000, 0x8000, DMA_SRC_HPA, w.user, RW, &hpa),
		dma_pin_register(w.a, w.reg, M2),
		dma_map(w.a, 16 * M2, 0x10000, DMA_SRC_HPA, w.reg, RW, &hpa),
		dma_hint(w.a, 0x102000, 0x8000),
		dma_hint(w.a, 4 * M2 + 0x1000, K4),
		dma_hint(w.a, 4 * M2 + 0x3000, K4),
		/* The second hole backed by other memory: the 2M hpa mapping has
		 * three segments for every op below (replay, unhint, unmap). */
		dma_hint_rebind(w.a, 4 * M2 + 0x3000, K4, w.user + 7 * M2),
	};
	for (unsigned i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		if (e[i]) {
			fprintf(stderr, "build step %u: %d\n", i, e[i]);
			abort();
		}
}

static void teardown(void)
{
	struct dma_stats st;

	dma_test_fail_nth(0);
	fake_iommu_fail_any(0);
	CHECK_EQ(dma_space_destroy(w.a), 0);
	CHECK_EQ(dma_space_destroy(w.b), 0);
	CHECK_EQ(frame_get(w.user)->pins, 0);
	tl_user_free(w.user, 11);
	tl_user_free(w.reg, 9);
	CHECK_EQ(fake_iommu_live_domains(), 0);
	CHECK_EQ(fake_iommu_stats.violations, 0);
	dma_stats(&st);
	CHECK_EQ(st.quarantined, 0);
	CHECK_EQ(st.leaked_domains, 0);
	CHECK_EQ(st.side_entries, 0);
	CHECK_EQ(st.deferred_free, 0);
	fake_iommu_unit_free(w.u1);
	fake_iommu_unit_free(w.u2);
	fake_iommu_unit_free(w.u3);
}

typedef int (*op_fn)(void);

static int op_map_hpa(void)
{
	uint64_t h;
	return dma_map(w.a, 0x400000 * 16, 2 * M2 + 0x3000, DMA_SRC_HPA, w.user, RW, &h);
}
static int op_map_alloc(void)
{
	uint64_t h;
	return dma_map(w.a, 0x400000 * 20, M2 + 0x5000, DMA_SRC_ALLOC, 0, RW, &h);
}
static int op_map_reg(void)
{
	uint64_t h;
	return dma_map(w.a, 0x400000 * 24, 0x8000, DMA_SRC_HPA, w.reg + 0x8000, RW, &h);
}
static int op_map_other_owner(void)
{
	uint64_t h;
	return dma_map(w.b, 0x400000 * 24, 0x10000, DMA_SRC_HPA, w.user, RW, &h);
}
static int op_map_hyp(void)
{
	uint64_t h;
	return dma_map_hyp(w.a, 0x400000 * 28, 0x3000, DMA_PROT_W, &h);
}
static int op_unmap(void)
{
	uint64_t u;
	return dma_unmap(w.a, 0x100000, 0xc000, &u);
}
static int op_unmap_all(void)
{
	uint64_t u;
	return dma_unmap_all(w.a, &u);
}
static int op_attach_replay(void) { return dma_attach(w.a, &w.g3); }
static int op_attach_b(void) { return dma_attach(w.b, &w.g3); }
static int op_detach(void) { return dma_detach(w.a, &w.g2); }
static int op_register(void) { return dma_pin_register(w.a, w.user + M2, M2); }
static int op_unregister(void)
{
	int e = dma_unmap(w.a, 16 * M2, 0x10000, NULL);
	if (e)
		return e;
	return dma_pin_unregister(w.a, w.reg, M2);
}
static int op_hint(void)
{
	return dma_hint(w.a, 0x101000, 0xa000); /* across two mappings, partly hinted */
}
static int op_hint_big(void) { return dma_hint(w.a, 4 * M2 + M2 - 0x2000, 0x4000); }
static int op_unhint(void) { return dma_unhint(w.a, 0x100000, 0xc000); }
/* Several pieces in one mapping (two holes hinted at build): a failure
 * after the first piece must undo exactly the pieces done. */
static int op_hint_holes(void) { return dma_hint(w.a, 4 * M2, 0x5000); }
static int op_unhint_holes(void) { return dma_unhint(w.a, 4 * M2, 0x5000); }
static int op_rebind(void)
{
	return dma_hint_rebind(w.a, 4 * M2 + 0x1000, K4, w.user + 7 * M2 + K4);
}
static int op_unhint_reg(void)
{
	int e = dma_hint(w.a, 16 * M2, 0x4000);
	if (e)
		return e;
	return dma_unhint(w.a, 16 * M2, 0x8000);
}

static const struct {
	const char *name;
	op_fn fn;
} ops[] = {
	{"map_hpa", op_map_hpa},
	{"map_alloc", op_map_alloc},
	{"map_reg", op_map_reg},
	{"map_other_owner", op_map_other_owner},
	{"map_hyp", op_map_hyp},
	{"unmap", op_unmap},
	{"unmap_all", op_unmap_all},
	{"attach_replay", op_attach_replay},
	{"attach_b", op_attach_b},
	{"detach", op_detach},
	{"register", op_register},
	{"unregister", op_unregister},
	{"hint", op_hint},
	{"hint_big", op_hint_big},
	{"unhint", op_unhint},
	{"hint_holes", op_hint_holes},
	{"unhint_holes", op_unhint_holes},
	{"unhint_reg", op_unhint_reg},
	{"rebind", op_rebind},
};

static void sweep(bool driver)
{
	unsigned total = 0;

	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		unsigned failures = 0;
		for (unsigned long n = 1; n < 10000; n++) {
			int bad, bad2, e;
			uint64_t d0, d1;
			bool fired;

			build();
			d0 = digest(&bad);
			CHECK_EQ(bad, 0);
			if (driver)
				fake_iommu_fail_any(n);
			else
				dma_test_fail_nth(n);
			e = ops[i].fn();
			fired = driver ? fake_iommu_fail_any_pending() == 0
				       : dma_test_fail_pending() == 0;
			dma_test_fail_nth(0);
			fake_iommu_fail_any(0);
			d1 = digest(&bad2);
			if (bad2) {
				fprintf(stderr, "  %s n=%lu (%s): inconsistent state\n",
					ops[i].name, n, driver ? "driver" : "alloc");
				CHECK_EQ(bad2, 0);
			}
			/* Multi-step ops (unregister = unmap + unregister) may fail in the
			 * second step; every single-call op must be all or nothing. */
			if (e && ops[i].fn != op_unregister && ops[i].fn != op_unhint_reg &&
			    d0 != d1) {
				fprintf(stderr,
					"  %s n=%lu (%s): failed with %d and changed state\n",
					ops[i].name, n, driver ? "driver" : "alloc", e);
				CHECK(d0 == d1);
			}
			if (e)
				failures++;
			if (!e && !fired) {
				teardown();
				break;
			}
			teardown();
		}
		total += failures;
	}
	CHECK(total > 50);
}

TEST(alloc_failure_sweep) { sweep(false); }

TEST(driver_failure_sweep) { sweep(true); }

/* Specific driver failures of each kind in attach: the space and every
 * charge stay as they were. */
TEST(attach_failures_each_kind)
{
	static const enum fake_op kinds[] = {FAKE_DOMAIN_ALLOC, FAKE_MAP, FAKE_FLUSH, FAKE_ATTACH};
	for (unsigned k = 0; k < 4; k++) {
		int bad;
		build();
		uint64_t d0 = digest(&bad);
		fake_iommu_fail(kinds[k], 1, -ENOMEM);
		if (kinds[k] == FAKE_FLUSH) {
			/* A flush is retried once: fail twice to see the failure. */
			fake_iommu_fail(FAKE_FLUSH, 1, -EIO);
			fake_iommu_fail_any(0);
		}
		int e = dma_attach(w.a, &w.g3);
		if (kinds[k] == FAKE_FLUSH)
			CHECK_EQ(e, 0); /* retried */
		else
			CHECK(e < 0);
		if (e) {
			CHECK(d0 == digest(&bad));
			CHECK(w.g3.space == NULL);
		}
		CHECK_EQ(bad, 0);
		fake_iommu_reset();
		teardown();
	}
}
