// SOURCES: dma/space.c dma/walk.c dma/map.c dma/hint.c dma/attach.c dma/prereg.c dma/acct.c lib/itree.c kernel/frame.c tests/unit/fake_iommu.c
/*
 * tests/unit/test_dma.c — the dma layer's rules, one test per rule, on the
 * fake IOMMU with frames from host memory.
 */
#include "dma/dma_priv.h" /* the owner's guest (no guest owners yet) */
#include "tests/unit/dma_testlib.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define G1 0x40000000ull
#define RW (DMA_PROT_R | DMA_PROT_W)

static struct dma_space *mk(void)
{
	struct dma_space *s = NULL;

	tl_setup();
	fake_iommu_reset();
	CHECK_EQ(dma_space_create(NULL, &s), 0);
	return s;
}

static void rm(struct dma_space *s)
{
	CHECK_EQ(dma_space_destroy(s), 0);
	CHECK_EQ(fake_iommu_stats.violations, 0);
}

TEST(map_validation)
{
	struct dma_space *s = mk();
	uint64_t pa = tl_user(4), hpa = 0, un = 1;
	struct tl_mem m0 = tl_mem();

	CHECK_EQ(dma_map(s, 0x10000, 0, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, pa, 0, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, pa, 4, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0x10800, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0x10000, 0x800, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, pa + 0x800, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, UINT64_MAX - K4 + 1, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), -EOVERFLOW);
	CHECK_EQ(dma_map(s, 0x10000, 2 * K4, DMA_SRC_HPA, UINT64_MAX - K4 + 1, RW, &hpa),
		 -EOVERFLOW);
	/* MSI window is reserved, either edge. */
	CHECK_EQ(dma_map(s, 0xFEE00000, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0xFEDFF000, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0xFEEFF000, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0xFEDFF000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0xFEF00000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	/* No domain: the whole 64-bit space minus reserved; last page works. */
	CHECK_EQ(dma_map(s, UINT64_MAX - K4 + 1, K4, DMA_SRC_HPA, pa, DMA_PROT_R, &hpa), 0);
	CHECK_EQ(hpa, pa);
	CHECK_EQ(dma_unmap_all(s, &un), 0);
	CHECK_EQ(un, 3 * K4);
	struct tl_mem m1 = tl_mem();
	CHECK_EQ(m1.pinned, m0.pinned);
	rm(s);
	tl_user_free(pa, 4);
}

TEST(map_source_eperm)
{
	struct dma_space *s = mk();
	uint64_t hpa;
	uint64_t iopt = frame_alloc(0, FRAME_IOPT), slu = frame_alloc(0, FRAME_SLUICE);
	uint64_t user = tl_user(0), guest = frame_alloc(0, FRAME_GUEST);
	uint64_t freef = frame_alloc(0, FRAME_USER);

	CHECK(iopt && slu && guest && freef);
	CHECK_EQ(frame_free(freef, 0), 0);
	/* sluice's own memory, its tables, free frames, unmanaged addresses. */
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, slu, RW, &hpa), -EPERM);
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, iopt, RW, &hpa), -EPERM);
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, freef, RW, &hpa), -EPERM);
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, tl_base, RW, &hpa),
		 -EPERM); /* frame records */
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, 0x1000, RW, &hpa), -EPERM);
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, tl_base + TL_RAM, RW, &hpa), -EPERM);
	/* A range that runs from user memory into sluice's. */
	uint64_t two = tl_user(1);
	frame_get(two + K4)->tag = FRAME_SLUICE;
	CHECK_EQ(dma_map(s, 0x1000, 2 * K4, DMA_SRC_HPA, two, RW, &hpa), -EPERM);
	CHECK_EQ(frame_get(two)->pins, 0);
	frame_get(two + K4)->tag = FRAME_USER;
	CHECK_EQ(dma_map(s, 0x1000, 2 * K4, DMA_SRC_HPA, two, RW, &hpa), 0);
	CHECK_EQ(dma_unmap_all(s, NULL), 0);
	tl_user_free(two, 1);
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, user, RW, &hpa), 0);
	/* Guest RAM only into its guest's spaces (hpa_other_owners_frames_refused). */
	frame_set_holder(guest, 0, 3);
	CHECK_EQ(dma_map(s, 0x2000, K4, DMA_SRC_HPA, guest, RW, &hpa), -EPERM);
	s->owner->guest = 3;
	CHECK_EQ(dma_map(s, 0x2000, K4, DMA_SRC_HPA, guest, RW, &hpa), 0);
	s->owner->guest = 0;
	CHECK_EQ(frame_get(user)->pins, 1);
	/* A pinned frame can't be freed (mem free -> EBUSY). */
	CHECK_EQ(frame_free(user, 0), -EBUSY);
	rm(s);
	CHECK_EQ(frame_get(user)->pins, 0);
	CHECK_EQ(frame_free(user, 0), 0);
	CHECK_EQ(frame_free(guest, 0), 0);
	CHECK_EQ(frame_free(iopt, 0), 0);
	CHECK_EQ(frame_free(slu, 0), 0);
}

TEST(overlap_five_ways)
{
	struct dma_space *s = mk();
	uint64_t pa = tl_user(6), hpa;

	CHECK_EQ(dma_map(s, 0x100000, 0x4000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0x100000, 0x4000, DMA_SRC_HPA, pa, RW, &hpa), -EEXIST); /* duplicate */
	CHECK_EQ(dma_map(s, 0x0fe000, 0x4000, DMA_SRC_HPA, pa, RW, &hpa), -EEXIST); /* head */
	CHECK_EQ(dma_map(s, 0x103000, 0x4000, DMA_SRC_HPA, pa, RW, &hpa), -EEXIST); /* tail */
	CHECK_EQ(dma_map(s, 0x0ff000, 0x8000, DMA_SRC_HPA, pa, RW, &hpa), -EEXIST); /* superset */
	CHECK_EQ(dma_map(s, 0x101000, 0x1000, DMA_SRC_HPA, pa, RW, &hpa), -EEXIST); /* subset */
	/* Adjacent both sides is fine. */
	CHECK_EQ(dma_map(s, 0x0ff000, 0x1000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0x104000, 0x1000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	struct dma_space_info si;
	dma_space_info(s, &si);
	CHECK_EQ(si.nmaps, 3);
	CHECK_EQ(si.bytes, 0x6000);
	/* pa's first frame is in two mappings: two pins, one charge. */
	CHECK_EQ(frame_get(pa)->pins, 3);
	struct dma_owner_stat os;
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 0x4000);
	rm(s);
	tl_user_free(pa, 6);
}

TEST(unmap_rules)
{
	struct dma_space *s = mk();
	uint64_t pa = tl_user(6), hpa, un;

	CHECK_EQ(dma_unmap_all(s, &un), 0); /* empty space */
	CHECK_EQ(un, 0);
	CHECK_EQ(dma_map(s, 0x10000, 0x4000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0x14000, 0x2000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0x20000, 0x1000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	un = 7;
	CHECK_EQ(dma_unmap(s, 0x11000, 0x1000, &un), -EINVAL); /* bisects */
	CHECK_EQ(un, 0);
	CHECK_EQ(dma_unmap(s, 0x10000, 0x1000, &un), -EINVAL); /* head part */
	CHECK_EQ(dma_unmap(s, 0x13000, 0x2000, &un), -EINVAL); /* spans two, cuts both */
	CHECK_EQ(dma_unmap(s, 0x10000, 0x5000, &un), -EINVAL); /* cuts the 2nd */
	CHECK_EQ(dma_unmap(s, 0x10000, 0, &un), -EINVAL);
	CHECK_EQ(dma_unmap(s, 0x10800, 0x1000, &un), -EINVAL);
	CHECK_EQ(dma_unmap(s, UINT64_MAX - 0xfff, 0x2000, &un), -EOVERFLOW);
	struct dma_space_info si;
	dma_space_info(s, &si);
	CHECK_EQ(si.nmaps, 3);
	CHECK_EQ(dma_unmap(s, 0x30000, 0x10000, &un), 0); /* empty range */
	CHECK_EQ(un, 0);
	/* A range covering two whole mappings and a gap reports their bytes. */
	CHECK_EQ(dma_unmap(s, 0x8000, 0x10000, &un), 0);
	CHECK_EQ(un, 0x6000);
	CHECK_EQ(dma_unmap(s, 0, UINT64_MAX, &un), -EINVAL); /* not aligned */
	CHECK_EQ(dma_unmap(s, 0, 1ull << 63, &un), 0);
	CHECK_EQ(un, 0x1000);
	CHECK_EQ(frame_get(pa)->pins, 0);
	rm(s);
	tl_user_free(pa, 6);
}

TEST(map_count_limit)
{
	struct dma_space *s = mk();
	uint64_t pa = tl_user(0), hpa;
	struct dma_space_info si;

	dma_space_info(s, &si);
	CHECK_EQ(si.map_limit, DMA_DEFAULT_MAP_LIMIT);
	CHECK(si.map_limit > 65535);
	CHECK_EQ(dma_space_set_map_limit(s, 0), -EINVAL);
	CHECK_EQ(dma_space_set_map_limit(s, 3), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(dma_map(s, 0x1000ull * (i + 1), K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, pa, RW, &hpa), -ENOSPC);
	CHECK_EQ(dma_space_set_map_limit(s, 2), -EINVAL);
	CHECK_EQ(frame_get(pa)->pins, 3);
	rm(s);
	tl_user_free(pa, 0);
}

TEST(map_count_beyond_vfio)
{
	/* 70000 mappings: more than VFIO's 65535 default. */
	struct dma_space *s = mk();
	uint64_t pa = tl_user(0), hpa, un;

	for (uint64_t i = 0; i < 70000; i++)
		if (dma_map(s, i * K4, K4, DMA_SRC_HPA, pa, DMA_PROT_R, &hpa)) {
			CHECK(!"map failed");
			break;
		}
	CHECK_EQ(frame_get(pa)->pins, 70000);
	CHECK_EQ(dma_unmap_all(s, &un), 0);
	CHECK_EQ(un, 70000 * K4);
	rm(s);
	tl_user_free(pa, 0);
}

TEST(alloc_source)
{
	struct dma_space *s = mk();
	struct tl_mem m0 = tl_mem();
	uint64_t hpa = 0, un;

	CHECK_EQ(dma_map(s, 0x40000000, 0x40000000, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	struct frame *f = frame_get(hpa);
	CHECK(f && f->tag == FRAME_DMA && f->pins == 1);
	CHECK_EQ(hpa & (G1 - 1), 0); /* one 1 GiB block */
	CHECK_EQ(*(volatile uint64_t *)(hpa + 0x1000), 0);
	struct tl_mem m1 = tl_mem();
	CHECK_EQ(m0.free - m1.free, G1);
	CHECK_EQ(m1.pinned - m0.pinned, G1);
	/* An unaligned IOVA limits the block size. */
	CHECK_EQ(dma_map(s, 0x3000, 0x5000, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	uint64_t pa2;
	CHECK_EQ(dma_lookup(s, 0x4000, &pa2, NULL), 0);
	CHECK_EQ(frame_get(pa2)->tag, FRAME_DMA);
	CHECK_EQ(dma_unmap_all(s, &un), 0);
	CHECK_EQ(un, G1 + 0x5000);
	struct tl_mem m2 = tl_mem();
	CHECK_EQ(m2.free, m0.free);
	CHECK_EQ(m2.pinned, m0.pinned);
	rm(s);
}

static int count_segs(const struct dma_map_info *mi, void *arg)
{
	*(unsigned *)arg += mi->nsegs;
	return 0;
}

TEST(alloc_fragmented_fallback)
{
	struct dma_space *s = mk();
	struct tl_mem m0 = tl_mem();
	uint64_t hpa, un;
	unsigned segs = 0;

	/* The first (2 MiB) allocation fails: fall back to smaller blocks. */
	dma_test_fail_nth(2); /* 1 = the mapping record, 2 = the seg array... */
	CHECK_EQ(dma_map(s, M2, M2, DMA_SRC_ALLOC, 0, RW, &hpa), -ENOMEM);
	dma_test_fail_nth(3); /* ...3 = the first frame allocation */
	CHECK_EQ(dma_map(s, M2, M2, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	CHECK_EQ(dma_test_fail_pending(), 0);
	(void)dma_for_each_map(s, count_segs, &segs);
	CHECK(segs >= 2);
	for (uint64_t o = 0; o < M2; o += K4) {
		uint64_t pa;
		CHECK_EQ(dma_lookup(s, M2 + o, &pa, NULL), 0);
		CHECK_EQ(frame_get(pa)->pins, 1);
	}
	CHECK_EQ(dma_unmap_all(s, &un), 0);
	CHECK_EQ(tl_mem().free, m0.free);
	rm(s);
}

TEST(attach_rules)
{
	struct dma_space *s = mk(), *s2 = NULL;
	struct iommu_unit *u = tl_unit(PGSIZE_4K | PGSIZE_2M);
	struct iommu_unit *nou = fake_iommu_unit_new(PGSIZE_4K, (1ull << 39) - 1, true, false);
	struct dma_group g, g2, gn;
	uint64_t pa = tl_user(0), hpa;

	CHECK_EQ(dma_space_create(NULL, &s2), 0);
	tl_group(&g, u, 0x10);
	tl_group(&g2, u, 0x18);
	tl_group(&gn, nou, 0x20);
	/* No interrupt remapping: refused unless allow_unsafe_interrupts. */
	CHECK_EQ(dma_attach(s, &gn), -EPERM);
	CHECK(gn.space == NULL);
	dma_allow_unsafe_interrupts = true;
	CHECK_EQ(dma_attach(s, &gn), 0);
	CHECK(!gn.irq_remapped);
	CHECK_EQ(dma_detach(s, &gn), 0);
	dma_allow_unsafe_interrupts = false;
	/* Remapped but not isolated (compatibility format passes, as on QEMU
	 * 7.2): refused too, allowed with the flag, and still remapped. */
	nou->intr_remap = true;
	nou->intr_isolated = false;
	CHECK_EQ(dma_attach(s, &gn), -EPERM);
	CHECK(gn.space == NULL);
	dma_allow_unsafe_interrupts = true;
	CHECK_EQ(dma_attach(s, &gn), 0);
	CHECK(gn.irq_remapped);
	CHECK_EQ(dma_detach(s, &gn), 0);
	dma_allow_unsafe_interrupts = false;
	nou->intr_isolated = true;
	CHECK_EQ(dma_attach(s, &gn), 0);
	CHECK_EQ(dma_detach(s, &gn), 0);
	nou->intr_remap = false;
	nou->intr_isolated = false;

	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_attach(s, &g), 0);
	CHECK(g.irq_remapped);
	CHECK_EQ(dma_attach(s, &g), -EBUSY);
	CHECK_EQ(dma_attach(s2, &g), -EBUSY); /* a group is in one space */
	CHECK_EQ(dma_detach(s2, &g), -ENOENT);
	/* Same unit: the domain is reused, no replay. */
	uint64_t maps0 = fake_iommu_stats.calls[FAKE_MAP];
	CHECK_EQ(dma_attach(s, &g2), 0);
	CHECK_EQ(fake_iommu_stats.calls[FAKE_MAP], maps0);
	CHECK(fake_iommu_rid_domain(u, 0x10) == fake_iommu_rid_domain(u, 0x18));
	struct dma_space_info si;
	dma_space_info(s, &si);
	CHECK_EQ(si.ndomains, 1);
	CHECK_EQ(si.ngroups, 2);
	CHECK(dma_space_group_at(s, 0) == &g && dma_space_group_at(s, 1) == &g2);
	/* Detach both: the domain goes, the mapping stays (unlike VFIO). */
	CHECK_EQ(dma_detach(s, &g), 0);
	CHECK_EQ(fake_iommu_live_domains(), 1);
	CHECK_EQ(dma_detach(s, &g2), 0);
	CHECK_EQ(fake_iommu_live_domains(), 0);
	CHECK(fake_iommu_rid_domain(u, 0x10) == NULL);
	dma_space_info(s, &si);
	CHECK_EQ(si.nmaps, 1);
	CHECK_EQ(si.ndomains, 0);
	CHECK_EQ(frame_get(pa)->pins, 1);
	/* Re-attach replays it. */
	CHECK_EQ(dma_attach(s, &g), 0);
	uint64_t tp;
	unsigned lv, pr;
	CHECK_EQ(dma_translate(s, 0x1000, &tp, &lv, &pr), 0);
	CHECK_EQ(tp, pa);
	CHECK_EQ(lv, 1);
	CHECK_EQ(pr, RW);
	CHECK_EQ(frame_get(pa)->pins, 1); /* replay pins nothing */
	CHECK_EQ(dma_translate(s, 0x2000, &tp, &lv, &pr), -ENOENT);
	/* Destroy drops everything, detaching the group. */
	rm(s);
	CHECK(g.space == NULL);
	CHECK_EQ(fake_iommu_live_domains(), 0);
	CHECK_EQ(frame_get(pa)->pins, 0);
	CHECK_EQ(dma_space_destroy(s2), 0);
	tl_user_free(pa, 0);
	fake_iommu_unit_free(u);
	fake_iommu_unit_free(nou);
}

TEST(attach_geometry_conflicts)
{
	struct dma_space *s = mk();
	struct iommu_unit *small = fake_iommu_unit_new(PGSIZE_4K, (1ull << 32) - 1, true, true);
	struct iommu_unit *big = fake_iommu_unit_new(PGSIZE_2M, (1ull << 48) - 1, true, true);
	struct iommu_unit *u = tl_unit(PGSIZE_4K);
	struct dma_group g1, g2, g3;
	uint64_t pa = tl_user(0), hpa;
	struct dma_space_info si;

	tl_group(&g1, small, 1);
	tl_group(&g2, big, 2);
	tl_group(&g3, u, 3);
	CHECK_EQ(dma_map(s, 1ull << 32, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_attach(s, &g1), -EINVAL); /* mapping outside its aperture */
	CHECK_EQ(dma_attach(s, &g2), -EINVAL); /* mapping not 2M aligned */
	CHECK_EQ(fake_iommu_live_domains(), 0);
	CHECK_EQ(dma_unmap_all(s, NULL), 0);
	/* RMRR: a reserved region the group brings. */
	g3.nresv = 1;
	g3.resv[0].start = 0x80000000;
	g3.resv[0].last = 0x800fffff;
	CHECK_EQ(dma_map(s, 0x80010000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_attach(s, &g3), -EINVAL);
	CHECK_EQ(dma_unmap_all(s, NULL), 0);
	CHECK_EQ(dma_attach(s, &g3), 0);
	CHECK_EQ(dma_map(s, 0x80010000, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_detach(s, &g3), 0);
	CHECK_EQ(dma_map(s, 0x80010000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_unmap_all(s, NULL), 0);
	CHECK_EQ(dma_space_add_reserved(s, 0x5000, 0x5fff), 0);
	CHECK_EQ(dma_map(s, 0x5000, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, 0x4000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_space_add_reserved(s, 0x4000, 0x4fff), -EINVAL);
	CHECK_EQ(dma_unmap_all(s, NULL), 0);
	/* Aperture and page size: intersections over domains. */
	CHECK_EQ(dma_attach(s, &g1), 0);
	dma_space_info(s, &si);
	CHECK_EQ(si.iova_last, (1ull << 32) - 1);
	CHECK_EQ(si.pgsize, K4);
	CHECK_EQ(dma_map(s, (1ull << 32) - K4, K4, DMA_SRC_HPA, pa, RW, &hpa), 0); /* last page */
	CHECK_EQ(dma_map(s, 1ull << 32, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, (1ull << 32) - K4, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_map(s, (1ull << 32) - 2 * K4, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), -EEXIST);
	CHECK_EQ(dma_unmap_all(s, NULL), 0);
	CHECK_EQ(dma_detach(s, &g1), 0);
	CHECK_EQ(dma_attach(s, &g2), 0);
	dma_space_info(s, &si);
	CHECK_EQ(si.pgsize, M2);
	CHECK_EQ(dma_map(s, M2, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	CHECK_EQ(dma_detach(s, &g2), 0);
	rm(s);
	tl_user_free(pa, 0);
	fake_iommu_unit_free(small);
	fake_iommu_unit_free(big);
	fake_iommu_unit_free(u);
}

TEST(flush_once_per_domain_and_unpin_after)
{
	struct dma_space *s = mk();
	struct iommu_unit *u1 = tl_unit(PGSIZE_4K | PGSIZE_2M), *u2 = tl_unit(PGSIZE_4K);
	struct dma_group g1, g2;
	uint64_t pa = tl_user(8), hpa, un;

	tl_group(&g1, u1, 1);
	tl_group(&g2, u2, 1);
	CHECK_EQ(dma_attach(s, &g1), 0);
	CHECK_EQ(dma_attach(s, &g2), 0);
	for (int i = 0; i < 64; i++)
		CHECK_EQ(dma_map(s, 0x100000 + i * 0x4000ull, 0x4000, DMA_SRC_HPA,
				 pa + i * 0x4000ull, RW, &hpa),
			 0);
	struct iommu_domain *d1 = fake_iommu_rid_domain(u1, 1), *d2 = fake_iommu_rid_domain(u2, 1);
	uint64_t f1 = fake_iommu_flushes(d1), f2 = fake_iommu_flushes(d2);
	uint64_t fl = fake_iommu_stats.calls[FAKE_FLUSH];
	CHECK_EQ(dma_unmap(s, 0x100000, 64 * 0x4000ull, &un), 0);
	CHECK_EQ(un, 64 * 0x4000ull);
	CHECK_EQ(fake_iommu_flushes(d1) - f1, 1);
	CHECK_EQ(fake_iommu_flushes(d2) - f2, 1);
	CHECK_EQ(fake_iommu_stats.calls[FAKE_FLUSH] - fl, 2);
	/* Every flushed range was still pinned when the flush ran. */
	CHECK_EQ(fake_iommu_stats.violations, 0);
	CHECK_EQ(frame_get(pa)->pins, 0);
	CHECK_EQ(dma_detach(s, &g1), 0);
	CHECK_EQ(dma_detach(s, &g2), 0);
	rm(s);
	tl_user_free(pa, 8);
	fake_iommu_unit_free(u1);
	fake_iommu_unit_free(u2);
}

TEST(large_pages_from_contiguity)
{
	struct dma_space *s = mk();
	struct iommu_unit *u = tl_unit(PGSIZE_4K | PGSIZE_2M | PGSIZE_1G);
	struct dma_group g;
	uint64_t pa = tl_user(FRAME_ORDER_1G), hpa;
	unsigned lv, pr;

	tl_group(&g, u, 1);
	CHECK_EQ(dma_attach(s, &g), 0);
	uint64_t m0 = fake_iommu_stats.calls[FAKE_MAP], l0 = fake_iommu_stats.leaves[2];
	CHECK_EQ(dma_map(s, 4 * G1, G1, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(fake_iommu_stats.calls[FAKE_MAP] - m0, 1);
	CHECK_EQ(fake_iommu_stats.leaves[2] - l0, 1);
	CHECK_EQ(dma_translate(s, 4 * G1 + 0x123000, &hpa, &lv, &pr), 0);
	CHECK_EQ(hpa, pa + 0x123000);
	CHECK_EQ(lv, 3);
	/* 2M-aligned but not 1G-aligned IOVA: 2M leaves. */
	CHECK_EQ(dma_unmap_all(s, NULL), 0);
	uint64_t l1 = fake_iommu_stats.leaves[1];
	CHECK_EQ(dma_map(s, 4 * G1 + M2, G1, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(fake_iommu_stats.leaves[1] - l1, 512);
	CHECK_EQ(dma_translate(s, 4 * G1 + M2, &hpa, &lv, &pr), 0);
	CHECK_EQ(lv, 2);
	CHECK_EQ(dma_detach(s, &g), 0);
	rm(s);
	tl_user_free(pa, FRAME_ORDER_1G);
	fake_iommu_unit_free(u);
}

TEST(charging_once_per_owner)
{
	struct dma_space *a = mk(), *b = NULL, *c = NULL;
	uint64_t pa = tl_user(2), hpa;
	struct dma_owner_stat oa, ob, oc;
	struct iommu_unit *u1 = tl_unit(PGSIZE_4K), *u2 = tl_unit(PGSIZE_4K);
	struct dma_group g1, g2;

	CHECK_EQ(dma_space_create(a, &b), 0);	 /* shares a's owner */
	CHECK_EQ(dma_space_create(NULL, &c), 0); /* its own */
	tl_group(&g1, u1, 1);
	tl_group(&g2, u2, 1);
	CHECK_EQ(dma_attach(a, &g1), 0);
	CHECK_EQ(dma_attach(a, &g2), 0); /* two domains */
	CHECK_EQ(dma_map(a, 0x10000, 0x4000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(b, 0x10000, 0x4000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(b, 0x20000, 0x2000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	dma_owner_stat(a, &oa);
	dma_owner_stat(b, &ob);
	CHECK_EQ(oa.id, ob.id);
	CHECK_EQ(oa.nspaces, 2);
	CHECK_EQ(oa.pinned, 0x4000); /* once, whatever the domains or spaces */
	CHECK_EQ(frame_get(pa)->pins, 3);
	/* A different owner: charged as well, tracked in a side record. */
	CHECK_EQ(dma_map(c, 0x10000, 0x2000, DMA_SRC_HPA, pa + 0x1000, RW, &hpa), 0);
	dma_owner_stat(c, &oc);
	CHECK_EQ(oc.pinned, 0x2000);
	struct dma_stats st;
	dma_stats(&st);
	CHECK_EQ(st.side_entries, 2);
	/* Drop the primary owner's holds first: c is promoted. */
	CHECK_EQ(dma_unmap_all(a, NULL), 0);
	dma_owner_stat(a, &oa);
	CHECK_EQ(oa.pinned, 0x4000); /* b still holds pa..pa+0x3fff */
	CHECK_EQ(dma_unmap_all(b, NULL), 0);
	dma_owner_stat(a, &oa);
	CHECK_EQ(oa.pinned, 0);
	dma_owner_stat(c, &oc);
	CHECK_EQ(oc.pinned, 0x2000);
	CHECK_EQ(frame_get(pa + 0x1000)->owner, oc.id);
	dma_stats(&st);
	CHECK_EQ(st.side_entries, 0);
	CHECK_EQ(dma_unmap_all(c, NULL), 0);
	dma_owner_stat(c, &oc);
	CHECK_EQ(oc.pinned, 0);
	CHECK_EQ(frame_get(pa + 0x1000)->pins, 0);
	CHECK_EQ(frame_get(pa + 0x1000)->owner, 0);
	CHECK_EQ(dma_detach(a, &g1), 0);
	CHECK_EQ(dma_detach(a, &g2), 0);
	rm(c);
	rm(b);
	dma_owner_stat(a, &oa);
	CHECK_EQ(oa.nspaces, 1);
	rm(a);
	tl_user_free(pa, 2);
	fake_iommu_unit_free(u1);
	fake_iommu_unit_free(u2);
}

TEST(pin_limit_enomem_unwinds)
{
	struct dma_space *s = mk();
	struct iommu_unit *u = tl_unit(PGSIZE_4K);
	struct dma_group g;
	uint64_t pa = tl_user(4), hpa;
	struct dma_owner_stat os;

	tl_group(&g, u, 1);
	CHECK_EQ(dma_attach(s, &g), 0);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.limit, UINT64_MAX);
	CHECK_EQ(dma_owner_set_limit(s, 0x8000), 0);
	CHECK_EQ(dma_map(s, 0x10000, 0x6000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	struct tl_mem m0 = tl_mem();
	CHECK_EQ(dma_map(s, 0x20000, 0x4000, DMA_SRC_HPA, pa + 0x6000, RW, &hpa), -ENOMEM);
	CHECK_EQ(dma_map(s, 0x20000, 0x4000, DMA_SRC_ALLOC, 0, RW, &hpa), -ENOMEM);
	/* Frames already charged to this owner cost nothing. */
	CHECK_EQ(dma_map(s, 0x30000, 0x8000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 0x8000);
	CHECK_EQ(tl_mem().free, m0.free);
	uint64_t t;
	CHECK_EQ(dma_translate(s, 0x20000, &t, NULL, NULL), -ENOENT);
	CHECK_EQ(dma_detach(s, &g), 0);
	rm(s);
	tl_user_free(pa, 4);
	fake_iommu_unit_free(u);
}

TEST(prereg_rules)
{
	struct dma_space *s = mk();
	uint64_t pa = tl_user(8), hpa, un;
	struct dma_owner_stat os;

	CHECK_EQ(dma_pin_register(s, pa + 0x800, 0x1000), -EINVAL);
	CHECK_EQ(dma_pin_register(s, pa, 0x1800), -EINVAL);
	CHECK_EQ(dma_pin_register(s, pa, 0), -EINVAL);
	CHECK_EQ(dma_pin_register(s, UINT64_MAX - 0xfff, 0x2000), -EINVAL);
	CHECK_EQ(dma_pin_register(s, pa, 0x10000), 0);
	CHECK_EQ(frame_get(pa)->pins, 1);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 0x10000);
	CHECK_EQ(os.registered, 0x10000);
	CHECK_EQ(dma_pin_register(s, pa, 0x10000), -EBUSY);
	CHECK_EQ(dma_pin_register(s, pa + 0x1000, 0x1000), -EINVAL);
	CHECK_EQ(dma_pin_register(s, pa - 0x1000, 0x2000), -EINVAL);
	/* Maps inside: no pins, no charge. */
	CHECK_EQ(dma_map(s, 0x100000, 0x4000, DMA_SRC_HPA, pa + 0x4000, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0x200000, 0x10000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(frame_get(pa + 0x4000)->pins, 1);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 0x10000);
	/* A map straddling the registration's end is ordinary. */
	CHECK_EQ(dma_map(s, 0x300000, 0x2000, DMA_SRC_HPA, pa + 0xf000, RW, &hpa), 0);
	CHECK_EQ(frame_get(pa + 0xf000)->pins, 2);
	CHECK_EQ(frame_get(pa + 0x10000)->pins, 1);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 0x11000);
	CHECK_EQ(dma_pin_unregister(s, pa, 0x8000), -ENOENT);
	CHECK_EQ(dma_pin_unregister(s, pa + 0x100000, 0x10000), -ENOENT);
	CHECK_EQ(dma_pin_unregister(s, pa, 0x10000), -EBUSY);
	CHECK_EQ(dma_unmap(s, 0x100000, 0x4000, &un), 0);
	CHECK_EQ(dma_pin_unregister(s, pa, 0x10000), -EBUSY);
	CHECK_EQ(dma_unmap(s, 0x200000, 0x10000, &un), 0);
	CHECK_EQ(frame_get(pa)->pins, 1); /* still registered */
	CHECK_EQ(dma_pin_unregister(s, pa, 0x10000), 0);
	CHECK_EQ(frame_get(pa)->pins, 0);
	CHECK_EQ(frame_get(pa + 0xf000)->pins, 1);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 0x2000);
	CHECK_EQ(os.registered, 0);
	CHECK_EQ(dma_pin_unregister(s, pa, 0x10000), -ENOENT);
	/* Register past the limit; register of sluice memory. */
	CHECK_EQ(dma_owner_set_limit(s, 0x4000), 0);
	CHECK_EQ(dma_pin_register(s, pa + 0x20000, 0x4000), -ENOMEM);
	CHECK_EQ(dma_pin_register(s, tl_base, 0x1000), -EPERM);
	/* Destroy drops registrations too. */
	CHECK_EQ(dma_owner_set_limit(s, UINT64_MAX), 0);
	CHECK_EQ(dma_pin_register(s, pa + 0x20000, 0x4000), 0);
	rm(s);
	CHECK_EQ(frame_get(pa + 0x20000)->pins, 0);
	tl_user_free(pa, 8);
}

static void domains_of(struct dma_group *gs, unsigned n, struct iommu_domain **out)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = fake_iommu_rid_domain(gs[i].unit, gs[i].rids[0]);
}

TEST(replay_every_alignment)
{
	struct dma_space *s = mk();
	struct iommu_unit *u[3] = {tl_unit(PGSIZE_4K), tl_unit(PGSIZE_4K | PGSIZE_2M),
				   tl_unit(PGSIZE_4K | PGSIZE_2M | PGSIZE_1G)};
	struct dma_group g[3];
	uint64_t pa = tl_user(FRAME_ORDER_1G), hpa;
	struct iommu_domain *d[3];
	int bad;

	for (int i = 0; i < 3; i++)
		tl_group(&g[i], u[i], 7);
	/* Mappings whose IOVA and PA alignment vary from 4K to 1G. */
	static const uint64_t off[] = {0x1000, 0x2000, 0x10000, M2 - K4, M2, 3 * M2, G1 / 2};
	static const uint64_t len[] = {K4, 0x3000, M2, M2 + 2 * K4, M2, 4 * M2, G1 / 2};
	uint64_t iova = 0;
	for (unsigned i = 0; i < 7; i++) {
		CHECK_EQ(dma_map(s, iova + off[i], len[i], DMA_SRC_HPA, pa + off[i] % (G1 / 2), RW,
				 &hpa),
			 0);
		iova += 2 * G1;
	}
	CHECK_EQ(dma_map(s, 32 * G1, G1, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 40 * G1, 64 * M2, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	for (int k = 0; k < 3; k++) {
		CHECK_EQ(dma_attach(s, &g[k]), 0);
		domains_of(g, k + 1, d);
		(void)tl_digest(&s, 1, (struct iommu_domain * *[]){d}, (unsigned[]){k + 1}, &bad);
		CHECK_EQ(bad, 0);
	}
	/* Every page pinned exactly once whatever the number of domains
	 * (the 1G mapping overlaps the others' frames: count per mapping). */
	CHECK_EQ(frame_get(pa + G1 - K4)->pins, 1); /* the 1G mapping */
	CHECK_EQ(frame_get(pa + 0x1000)->pins, 3);  /* 4K, G1/2 and 1G mappings */
	CHECK_EQ(frame_get(pa + G1 / 2)->pins, 1);
	uint64_t a;
	CHECK_EQ(dma_lookup(s, 40 * G1 + 5 * K4, &a, NULL), 0);
	CHECK_EQ(frame_get(a)->pins, 1);
	unsigned lv, pr;
	CHECK_EQ(dma_translate(s, 32 * G1, &hpa, &lv, &pr), 0);
	CHECK_EQ(lv, 1); /* first domain is 4K only */
	for (int k = 0; k < 3; k++)
		CHECK_EQ(dma_detach(s, &g[k]), 0);
	rm(s);
	tl_user_free(pa, FRAME_ORDER_1G);
	for (int k = 0; k < 3; k++)
		fake_iommu_unit_free(u[k]);
}

TEST(loops_forward_backward_checkerboard)
{
	struct dma_space *s = mk();
	struct iommu_unit *u = tl_unit(PGSIZE_4K | PGSIZE_2M);
	struct dma_group g;
	uint64_t pa = tl_user(10), hpa, un;
	const int N = 256;
	struct iommu_domain *d;
	int bad;

	tl_group(&g, u, 1);
	CHECK_EQ(dma_attach(s, &g), 0);
	d = fake_iommu_rid_domain(u, 1);
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < N; i++)
			CHECK_EQ(dma_map(s, 0x100000 + i * K4, K4, DMA_SRC_HPA, pa + i * K4, RW,
					 &hpa),
				 0);
		(void)tl_digest(&s, 1, (struct iommu_domain * *[]){&d}, (unsigned[]){1}, &bad);
		CHECK_EQ(bad, 0);
		for (int j = 0; j < N; j++) {
			int i = pass == 0   ? j
				: pass == 1 ? N - 1 - j
					    : (j < N / 2 ? 2 * j : 2 * (j - N / 2) + 1);
			CHECK_EQ(dma_unmap(s, 0x100000 + i * K4, K4, &un), 0);
			CHECK_EQ(un, K4);
			CHECK_EQ(frame_get(pa + i * K4)->pins, 0);
		}
		CHECK_EQ(fake_iommu_mapped_bytes(d), 0);
		/* Checkerboard map, then unmap everything with one call. */
		for (int i = 0; i < N; i += 2)
			CHECK_EQ(dma_map(s, 0x100000 + i * K4, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
		CHECK_EQ(frame_get(pa)->pins, N / 2);
		CHECK_EQ(dma_unmap(s, 0x100000, N * K4, &un), 0);
		CHECK_EQ(un, N / 2 * K4);
	}
	CHECK_EQ(dma_detach(s, &g), 0);
	rm(s);
	tl_user_free(pa, 10);
	fake_iommu_unit_free(u);
}

TEST(hint_and_unhint)
{
	struct dma_space *s = mk();
	struct iommu_unit *u = tl_unit(PGSIZE_4K | PGSIZE_2M | PGSIZE_1G);
	struct dma_group g;
	uint64_t pa = tl_user(FRAME_ORDER_2M + 1), hpa, t;
	struct iommu_domain *d;
	struct dma_owner_stat os;
	unsigned lv, pr;
	int bad;

	tl_group(&g, u, 1);
	CHECK_EQ(dma_attach(s, &g), 0);
	d = fake_iommu_rid_domain(u, 1);
	CHECK_EQ(dma_map(s, 2 * M2, 2 * M2, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 4 * M2, M2, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	uint64_t apa = hpa;
	CHECK_EQ(fake_iommu_nleaves(d), 3);
	/* Rules: aligned, non-empty, no wrap, covered by mappings. */
	CHECK_EQ(dma_hint(s, 2 * M2 + 0x800, K4), -EINVAL);
	CHECK_EQ(dma_hint(s, 2 * M2, 0), -EINVAL);
	CHECK_EQ(dma_hint(s, UINT64_MAX - 0xfff, 0x2000), -EOVERFLOW);
	CHECK_EQ(dma_hint(s, M2, M2 + K4), -EINVAL);	     /* starts in a gap */
	CHECK_EQ(dma_hint(s, 5 * M2 - K4, 2 * K4), -EINVAL); /* ends in a gap */
	/* A 4K hint in the middle of a 2M leaf: the leaf is split. */
	uint64_t splits = fake_iommu_stats.splits;
	CHECK_EQ(dma_hint(s, 2 * M2 + 0x5000, K4), 0);
	CHECK_EQ(fake_iommu_stats.splits - splits, 1);
	CHECK_EQ(dma_translate(s, 2 * M2 + 0x5000, &t, &lv, &pr), -ENOENT);
	CHECK_EQ(dma_translate(s, 2 * M2 + 0x6000, &t, &lv, &pr), 0);
	CHECK_EQ(t, pa + 0x6000);
	CHECK_EQ(frame_get(pa + 0x5000)->pins, 0);
	CHECK_EQ(frame_get(pa + 0x6000)->pins, 1);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 3 * M2 - K4);
	/* A hint spanning two mappings (bisecting both). */
	CHECK_EQ(dma_hint(s, 4 * M2 - 0x2000, 0x4000), 0);
	CHECK_EQ(frame_get(apa)->pins, 0);
	CHECK_EQ(frame_get(apa)->tag, FRAME_DMA); /* still owned, not freed */
	CHECK_EQ(frame_get(apa + K4)->pins, 0);
	CHECK_EQ(frame_get(apa + 2 * K4)->pins, 1);
	/* Re-hinting is idempotent. */
	CHECK_EQ(dma_hint(s, 2 * M2 + 0x4000, 0x3000), 0);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 3 * M2 - 0x7000);
	(void)tl_digest(&s, 1, (struct iommu_domain * *[]){&d}, (unsigned[]){1}, &bad);
	CHECK_EQ(bad, 0);
	/* Unmap still needs whole mappings; hinted parts are simply gone. */
	CHECK_EQ(dma_unmap(s, 2 * M2, M2, NULL), -EINVAL);
	/* Unhint everything: same frames re-pinned and remapped. */
	CHECK_EQ(dma_unhint(s, 2 * M2, 3 * M2), 0);
	CHECK_EQ(frame_get(apa)->pins, 1);
	CHECK_EQ(dma_translate(s, 4 * M2, &t, &lv, &pr), 0);
	CHECK_EQ(t, apa);
	CHECK_EQ(dma_translate(s, 2 * M2 + 0x5000, &t, &lv, &pr), 0);
	CHECK_EQ(t, pa + 0x5000);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 3 * M2);
	struct dma_space_info si;
	dma_space_info(s, &si);
	CHECK_EQ(si.hinted, 0);
	(void)tl_digest(&s, 1, (struct iommu_domain * *[]){&d}, (unsigned[]){1}, &bad);
	CHECK_EQ(bad, 0);
	/* Unhint past the limit: ENOMEM, nothing changes. */
	CHECK_EQ(dma_hint(s, 2 * M2, M2), 0);
	CHECK_EQ(dma_owner_set_limit(s, 2 * M2), 0);
	CHECK_EQ(dma_unhint(s, 2 * M2, M2), -ENOMEM);
	CHECK_EQ(dma_translate(s, 2 * M2, &t, &lv, &pr), -ENOENT);
	/* Replay into a new domain leaves hinted ranges out. */
	struct iommu_unit *u2 = tl_unit(PGSIZE_4K);
	struct dma_group g2;
	struct iommu_domain *dd[2];
	tl_group(&g2, u2, 3);
	CHECK_EQ(dma_attach(s, &g2), 0);
	dd[0] = d;
	dd[1] = fake_iommu_rid_domain(u2, 3);
	(void)tl_digest(&s, 1, (struct iommu_domain * *[]){dd}, (unsigned[]){2}, &bad);
	CHECK_EQ(bad, 0);
	/* Hinted memory of a mapping in a registration: pages stay pinned. */
	CHECK_EQ(dma_detach(s, &g2), 0);
	CHECK_EQ(dma_detach(s, &g), 0);
	struct tl_mem m0 = tl_mem();
	rm(s);
	CHECK(tl_mem().free > m0.free);
	CHECK_EQ(frame_get(pa)->pins, 0);
	tl_user_free(pa, FRAME_ORDER_2M + 1);
	fake_iommu_unit_free(u);
	fake_iommu_unit_free(u2);
}

TEST(hint_registered_keeps_pins)
{
	struct dma_space *s = mk();
	uint64_t pa = tl_user(4), hpa;

	CHECK_EQ(dma_pin_register(s, pa, 0x10000), 0);
	CHECK_EQ(dma_map(s, 0x100000, 0x10000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_hint(s, 0x104000, 0x2000), 0);
	CHECK_EQ(frame_get(pa + 0x4000)->pins, 1); /* the registration's */
	CHECK_EQ(dma_pin_unregister(s, pa, 0x10000), -EBUSY);
	CHECK_EQ(dma_unhint(s, 0x104000, 0x2000), 0);
	CHECK_EQ(frame_get(pa + 0x4000)->pins, 1);
	rm(s);
	CHECK_EQ(frame_get(pa)->pins, 0);
	tl_user_free(pa, 4);
}

TEST(space_ids_and_iteration)
{
	struct dma_space *a = mk(), *b = NULL, *c = NULL;

	CHECK_EQ(dma_space_create(NULL, &b), 0);
	CHECK_EQ(dma_space_create(b, &c), 0);
	CHECK(dma_space_get(dma_space_id(b)) == b);
	CHECK(dma_space_next(NULL) == a);
	CHECK(dma_space_next(a) == b && dma_space_next(b) == c && !dma_space_next(c));
	unsigned bid = dma_space_id(b);
	rm(b);
	CHECK(dma_space_get(bid) == NULL);
	struct dma_owner_stat os;
	dma_owner_stat(c, &os);
	CHECK_EQ(os.nspaces, 1);
	CHECK_EQ(dma_space_create(NULL, &b), 0);
	CHECK_EQ(dma_space_id(b), bid); /* lowest free id reused */
	rm(a);
	rm(b);
	rm(c);
	CHECK(dma_space_next(NULL) == NULL);
}

/* A pin limit set below what the owner already pinned refuses every new
 * charge (no wrap-around in limit - pinned). */
TEST(limit_below_pinned_refuses)
{
	struct dma_space *s = mk();
	uint64_t pa = tl_user(4), hpa, un;
	struct dma_owner_stat os;

	CHECK_EQ(dma_map(s, 0x10000, 0x8000, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_owner_set_limit(s, 0x1000), 0);
	CHECK_EQ(dma_map(s, 0x20000, 0x8000, DMA_SRC_HPA, pa + 0x8000, RW, &hpa), -ENOMEM);
	CHECK_EQ(dma_map(s, 0x40000, 0x100000, DMA_SRC_ALLOC, 0, RW, &hpa), -ENOMEM);
	CHECK_EQ(dma_pin_register(s, pa + 0x8000, 0x8000), -ENOMEM);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, 0x8000);
	CHECK_EQ(dma_owner_set_limit(s, UINT64_MAX), 0);
	CHECK_EQ(dma_unmap_all(s, &un), 0);
	CHECK_EQ(un, 0x8000);
	rm(s);
	tl_user_free(pa, 4);
}

/* The reason each failed call records (dma_space_why), where the check
 * failed: kind, errno and the values the console prints. */
static const struct dma_why *why_is(struct dma_space *s, enum dma_why_kind kind, int err)
{
	const struct dma_why *w = dma_space_why(s);

	CHECK_EQ(w->kind, kind);
	CHECK_EQ(w->err, err);
	return w;
}

TEST(why_map_unmap_hint)
{
	struct dma_space *s = mk();
	uint64_t pa = tl_user(2), hpa, un;
	uint64_t slu = frame_alloc(0, FRAME_SLUICE);
	const struct dma_why *w;

	CHECK_EQ(dma_map(s, 0x10000, 0, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	why_is(s, DMA_WHY_ZERO_SIZE, -EINVAL);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, pa, 4, &hpa), -EINVAL);
	w = why_is(s, DMA_WHY_BAD_ARG, -EINVAL);
	CHECK_EQ(w->a, 4);
	CHECK_EQ(dma_map(s, 0x10800, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	w = why_is(s, DMA_WHY_IOVA_ALIGN, -EINVAL);
	CHECK_EQ(w->a, 0x10800);
	CHECK_EQ(w->b, K4);
	CHECK_EQ(dma_map(s, 0x10000, 0x800, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	why_is(s, DMA_WHY_SIZE_ALIGN, -EINVAL);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, pa + 0x800, RW, &hpa), -EINVAL);
	w = why_is(s, DMA_WHY_HPA_ALIGN, -EINVAL);
	CHECK_EQ(w->a, pa + 0x800);
	CHECK_EQ(dma_map(s, UINT64_MAX - K4 + 1, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), -EOVERFLOW);
	why_is(s, DMA_WHY_IOVA_WRAPS, -EOVERFLOW);
	CHECK_EQ(dma_map(s, 0x10000, 2 * K4, DMA_SRC_HPA, UINT64_MAX - K4 + 1, RW, &hpa),
		 -EOVERFLOW);
	why_is(s, DMA_WHY_HPA_WRAPS, -EOVERFLOW);
	CHECK_EQ(dma_map(s, 0xFEDFF000, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	w = why_is(s, DMA_WHY_RESERVED, -EINVAL);
	CHECK_EQ(w->a, 0xFEE00000);
	CHECK_EQ(w->b, 0xFEEFFFFF);
	CHECK_EQ(w->id, -1);
	CHECK_EQ(dma_space_add_reserved(s, 0x800000, 0x8fffff), 0);
	CHECK_EQ(dma_map(s, 0x8ff000, K4, DMA_SRC_HPA, pa, RW, &hpa), -EINVAL);
	w = why_is(s, DMA_WHY_RESERVED, -EINVAL);
	CHECK_EQ(w->a, 0x800000);
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, slu, RW, &hpa), -EPERM);
	w = why_is(s, DMA_WHY_NOT_DMA_MEMORY, -EPERM);
	CHECK_EQ(w->a, slu);
	CHECK_EQ(w->b, FRAME_SLUICE);
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, 0x1000, RW, &hpa), -EPERM);
	w = why_is(s, DMA_WHY_NOT_DMA_MEMORY, -EPERM);
	CHECK_EQ(w->b, DMA_WHY_UNMANAGED);
	/* from user memory into sluice's: the first frame that is not */
	frame_get(pa + K4)->tag = FRAME_SLUICE;
	CHECK_EQ(dma_map(s, 0x1000, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), -EPERM);
	w = why_is(s, DMA_WHY_NOT_DMA_MEMORY, -EPERM);
	CHECK_EQ(w->a, pa + K4);
	frame_get(pa + K4)->tag = FRAME_USER;

	CHECK_EQ(dma_map(s, 0x10000, 4 * K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_space_why(s)->kind, DMA_WHY_NONE);
	CHECK_EQ(dma_map(s, 0xf000, 2 * K4, DMA_SRC_ALLOC, 0, RW, &hpa), -EEXIST);
	w = why_is(s, DMA_WHY_OVERLAP, -EEXIST);
	CHECK_EQ(w->map_iova, 0x10000);
	CHECK_EQ(w->map_size, 4 * K4);
	CHECK_EQ(dma_space_set_map_limit(s, 1), 0);
	CHECK_EQ(dma_map(s, 0x20000, K4, DMA_SRC_ALLOC, 0, RW, &hpa), -ENOSPC);
	w = why_is(s, DMA_WHY_MAP_LIMIT, -ENOSPC);
	CHECK_EQ(w->a, 1);
	CHECK_EQ(w->b, 1);
	CHECK_EQ(dma_space_set_map_limit(s, DMA_DEFAULT_MAP_LIMIT), 0);

	/* pin limit versus no memory: exact, with what the call needs */
	CHECK_EQ(dma_owner_set_limit(s, 5 * K4), 0);
	CHECK_EQ(dma_map(s, 0x20000, 2 * K4, DMA_SRC_ALLOC, 0, RW, &hpa), -ENOMEM);
	w = why_is(s, DMA_WHY_PIN_LIMIT, -ENOMEM);
	CHECK_EQ(w->a, 4 * K4);
	CHECK_EQ(w->b, 5 * K4);
	CHECK_EQ(w->c, 2 * K4);
	CHECK_EQ(dma_owner_set_limit(s, 4 * K4), 0);
	/* at the limit, the same frames again need no charge: memory fails */
	dma_test_fail_nth(1);
	CHECK_EQ(dma_map(s, 0x40000, 4 * K4, DMA_SRC_HPA, pa, RW, &hpa), -ENOMEM);
	w = why_is(s, DMA_WHY_NO_MEMORY, -ENOMEM);
	CHECK_EQ(w->b, DMA_MEM_RECORD);
	dma_test_fail_nth(2); /* the record, then the first block */
	CHECK_EQ(dma_owner_set_limit(s, UINT64_MAX), 0);
	CHECK_EQ(dma_map(s, 0x40000, 4 * K4, DMA_SRC_ALLOC, 0, RW, &hpa), -ENOMEM);
	w = why_is(s, DMA_WHY_NO_MEMORY, -ENOMEM);
	dma_test_fail_nth(0);
	CHECK(w->b == DMA_MEM_BACKING || w->b == DMA_MEM_TRACKING);

	/* unmap: split, range checks */
	CHECK_EQ(dma_unmap(s, 0x11000, K4, &un), -EINVAL);
	w = why_is(s, DMA_WHY_BISECT, -EINVAL);
	CHECK_EQ(w->map_iova, 0x10000);
	CHECK_EQ(w->map_size, 4 * K4);
	CHECK_EQ(dma_unmap(s, 0x10000, 0, &un), -EINVAL);
	why_is(s, DMA_WHY_ZERO_SIZE, -EINVAL);
	CHECK_EQ(dma_unmap(s, UINT64_MAX - K4 + 1, 2 * K4, &un), -EOVERFLOW);
	why_is(s, DMA_WHY_IOVA_WRAPS, -EOVERFLOW);

	/* hint: a gap, and where it starts */
	CHECK_EQ(dma_hint(s, 0x12000, 4 * K4), -EINVAL);
	w = why_is(s, DMA_WHY_GAP, -EINVAL);
	CHECK_EQ(w->a, 0x14000);
	CHECK_EQ(dma_hint(s, 0x8000, 2 * K4), -EINVAL);
	w = why_is(s, DMA_WHY_GAP, -EINVAL);
	CHECK_EQ(w->a, 0x8000);
	CHECK_EQ(dma_map(s, 0x16000, K4, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	CHECK_EQ(dma_hint(s, 0x13000, 4 * K4), -EINVAL); /* between two mappings */
	w = why_is(s, DMA_WHY_GAP, -EINVAL);
	CHECK_EQ(w->a, 0x14000);
	CHECK_EQ(dma_unmap(s, 0x16000, K4, &un), 0);
	CHECK_EQ(dma_hint(s, 0x11000, 2 * K4), 0);
	CHECK_EQ(dma_owner_set_limit(s, 2 * K4), 0);
	CHECK_EQ(dma_unhint(s, 0x11000, 2 * K4), -ENOMEM);
	w = why_is(s, DMA_WHY_PIN_LIMIT, -ENOMEM);
	CHECK_EQ(w->a, 2 * K4);
	CHECK_EQ(w->c, 2 * K4);
	CHECK_EQ(dma_owner_set_limit(s, UINT64_MAX), 0);
	/* hinted memory handed to sluice meanwhile: unhint refuses it */
	frame_get(pa + 2 * K4)->tag = FRAME_SLUICE;
	CHECK_EQ(dma_unhint(s, 0x11000, 2 * K4), -EPERM);
	w = why_is(s, DMA_WHY_NOT_DMA_MEMORY, -EPERM);
	CHECK_EQ(w->a, pa + 2 * K4);
	frame_get(pa + 2 * K4)->tag = FRAME_USER;
	CHECK_EQ(dma_unhint(s, 0x11000, 2 * K4), 0);
	CHECK_EQ(dma_translate(s, 0x10000, &hpa, NULL, NULL), -ENOENT);
	why_is(s, DMA_WHY_NO_DOMAIN, -ENOENT);
	rm(s);
	tl_user_free(pa, 2);
	CHECK_EQ(frame_free(slu, 0), 0);
}

TEST(why_register_attach_detach)
{
	struct dma_space *s = mk(), *t = NULL;
	struct iommu_unit *u = tl_unit(PGSIZE_4K | PGSIZE_2M), *small, *big;
	struct dma_group g, h;
	uint64_t pa = tl_user(4), hpa;
	const struct dma_why *w;

	CHECK_EQ(dma_pin_register(s, pa, 0), -EINVAL);
	why_is(s, DMA_WHY_ZERO_SIZE, -EINVAL);
	CHECK_EQ(dma_pin_register(s, pa + 1, K4), -EINVAL);
	why_is(s, DMA_WHY_HPA_ALIGN, -EINVAL);
	CHECK_EQ(dma_pin_register(s, pa, 100), -EINVAL);
	why_is(s, DMA_WHY_SIZE_ALIGN, -EINVAL);
	CHECK_EQ(dma_pin_register(s, UINT64_MAX - K4 + 1, 2 * K4), -EINVAL);
	why_is(s, DMA_WHY_HPA_WRAPS, -EINVAL);
	CHECK_EQ(dma_pin_register(s, pa, 4 * K4), 0);
	CHECK_EQ(dma_pin_register(s, pa, 4 * K4), -EBUSY);
	why_is(s, DMA_WHY_REG_EXISTS, -EBUSY);
	CHECK_EQ(dma_pin_register(s, pa + K4, K4), -EINVAL);
	w = why_is(s, DMA_WHY_REG_OVERLAP, -EINVAL);
	CHECK_EQ(w->a, pa);
	CHECK_EQ(w->b, 4 * K4);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_pin_unregister(s, pa, 4 * K4), -EBUSY);
	w = why_is(s, DMA_WHY_REG_IN_USE, -EBUSY);
	CHECK_EQ(w->a, 1);
	CHECK_EQ(dma_pin_unregister(s, pa, 2 * K4), -ENOENT);
	why_is(s, DMA_WHY_REG_NONE, -ENOENT);
	CHECK_EQ(dma_owner_set_limit(s, 4 * K4), 0);
	CHECK_EQ(dma_pin_register(s, pa + 8 * K4, 2 * K4), -ENOMEM);
	w = why_is(s, DMA_WHY_PIN_LIMIT, -ENOMEM);
	CHECK_EQ(w->c, 2 * K4);
	CHECK_EQ(dma_owner_set_limit(s, UINT64_MAX), 0);
	dma_test_fail_nth(1);
	CHECK_EQ(dma_pin_register(s, pa + 8 * K4, 2 * K4), -ENOMEM);
	dma_test_fail_nth(0);
	w = why_is(s, DMA_WHY_NO_MEMORY, -ENOMEM);
	CHECK_EQ(w->b, DMA_MEM_RECORD);

	/* attach: unsafe interrupts, a mapping above the aperture, a
	 * group's RMRR over a mapping, the group already elsewhere */
	tl_group(&g, u, 1);
	u->intr_remap = false;
	CHECK_EQ(dma_attach(s, &g), -EPERM);
	w = why_is(s, DMA_WHY_UNSAFE_INTERRUPTS, -EPERM);
	CHECK_EQ(w->id, (int)u->index);
	CHECK_EQ(w->a, 0); /* not remapped at all */
	u->intr_remap = true;
	/* remapped, but compatibility format not blocked: not isolated */
	u->intr_isolated = false;
	CHECK_EQ(dma_attach(s, &g), -EPERM);
	w = why_is(s, DMA_WHY_UNSAFE_INTERRUPTS, -EPERM);
	CHECK_EQ(w->id, (int)u->index);
	CHECK_EQ(w->a, 1);
	u->intr_isolated = true;
	small = fake_iommu_unit_new(PGSIZE_4K, 0xffff, true, true);
	tl_group(&h, small, 2);
	CHECK_EQ(dma_attach(s, &h), -EINVAL);
	w = why_is(s, DMA_WHY_APERTURE, -EINVAL);
	CHECK_EQ(w->map_iova, 0x10000);
	CHECK_EQ(w->b, 0xffff);
	CHECK_EQ(w->id, (int)small->index);
	big = tl_unit(PGSIZE_2M);
	tl_group(&h, big, 3);
	CHECK_EQ(dma_attach(s, &h), -EINVAL);
	w = why_is(s, DMA_WHY_PGSIZE, -EINVAL);
	CHECK_EQ(w->b, M2);
	CHECK_EQ(w->map_iova, 0x10000);
	CHECK_EQ(w->id, (int)big->index);
	CHECK_EQ(dma_map(s, 0x200000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	g.nresv = 1;
	g.resv[0].start = 0x200000;
	g.resv[0].last = 0x2fffff;
	g.id = 7;
	CHECK_EQ(dma_attach(s, &g), -EINVAL);
	w = why_is(s, DMA_WHY_RESERVED, -EINVAL);
	CHECK_EQ(w->a, 0x200000);
	CHECK_EQ(w->b, 0x2fffff);
	CHECK_EQ(w->id, 7);
	CHECK_EQ(w->map_iova, 0x200000);
	g.nresv = 0;
	CHECK_EQ(dma_attach(s, &g), 0);
	CHECK_EQ(dma_space_create(NULL, &t), 0);
	CHECK_EQ(dma_attach(t, &g), -EBUSY);
	w = why_is(t, DMA_WHY_GROUP_BUSY, -EBUSY);
	CHECK_EQ(w->id, (int)dma_space_id(s));
	CHECK_EQ(dma_detach(t, &g), -ENOENT);
	why_is(t, DMA_WHY_NOT_ATTACHED, -ENOENT);
	/* the driver refuses: which unit, which call, which requester ID */
	fake_iommu_fail_any(1);
	CHECK_EQ(dma_detach(s, &g), -EIO);
	w = why_is(s, DMA_WHY_IOMMU, -EIO);
	CHECK_EQ(w->a, DMA_OP_DETACH);
	CHECK_EQ(w->b, 1);
	CHECK_EQ(w->id, (int)u->index);
	fake_iommu_fail_any(1);
	CHECK_EQ(dma_map(s, 0x400000, K4, DMA_SRC_ALLOC, 0, RW, &hpa), -EIO);
	w = why_is(s, DMA_WHY_IOMMU, -EIO);
	CHECK_EQ(w->a, DMA_OP_MAP);
	CHECK_EQ(w->b, 0x400000);
	fake_iommu_fail_any(0);
	CHECK_EQ(dma_detach(s, &g), 0);
	CHECK_EQ(dma_unmap_all(s, NULL), 0);
	rm(t);
	rm(s);
	fake_iommu_unit_free(small);
	fake_iommu_unit_free(big);
	fake_iommu_unit_free(u);
	tl_user_free(pa, 4);
}

/* The free-IOVA search skips mappings, every reserved range (the MSI
 * window, RMRRs, added ones) and the avoided range, stays in [lo, last]
 * and inside the aperture, and is aligned. */
static uint64_t free_iova(struct dma_space *s, uint64_t size, uint64_t align, uint64_t lo,
			  uint64_t last, uint64_t avoid, uint64_t avoid_last, int *err)
{
	struct dma_iova_req r = {size, align, lo, last, avoid, avoid_last};
	uint64_t v = 0xdead;

	*err = dma_free_iova(s, &r, &v);
	return v;
}

TEST(free_iova_search)
{
	struct dma_space *s = mk();
	struct iommu_unit *u = fake_iommu_unit_new(PGSIZE_4K, (1ull << 32) - 1, true, true);
	struct dma_group g;
	uint64_t h;
	int e;

	CHECK_EQ(free_iova(s, K4, K4, 0, UINT64_MAX, 1, 0, &e), 0);
	CHECK_EQ(e, 0);
	CHECK_EQ(dma_map(s, 0, 2 * K4, DMA_SRC_ALLOC, 0, RW, &h), 0);
	CHECK_EQ(dma_map(s, 0x3000, K4, DMA_SRC_ALLOC, 0, RW, &h), 0);
	CHECK_EQ(free_iova(s, K4, K4, 0, UINT64_MAX, 1, 0, &e), 0x2000);
	CHECK_EQ(free_iova(s, 2 * K4, K4, 0, UINT64_MAX, 1, 0, &e), 0x4000);
	CHECK_EQ(free_iova(s, K4, K4, 0, UINT64_MAX, 0x2000, 0x2fff, &e), 0x4000); /* avoided */
	CHECK_EQ(free_iova(s, K4, 0x10000, 0, UINT64_MAX, 1, 0, &e), 0x10000);
	CHECK_EQ(free_iova(s, K4, K4, 0xfee00000, UINT64_MAX, 1, 0, &e), 0xfef00000); /* MSI */
	CHECK_EQ(free_iova(s, K4, K4, 0, 0x3fff, 1, 0, &e), 0x2000);
	CHECK_EQ(e, 0);
	free_iova(s, 2 * K4, K4, 0, 0x4fff, 1, 0, &e);
	CHECK_EQ(e, -ENOSPC);
	CHECK_EQ(dma_space_why(s)->kind, DMA_WHY_NO_IOVA);
	free_iova(s, K4, 3, 0, UINT64_MAX, 1, 0, &e);
	CHECK_EQ(e, -EINVAL);
	free_iova(s, 0, K4, 0, UINT64_MAX, 1, 0, &e);
	CHECK_EQ(e, -EINVAL);
	CHECK_EQ(dma_map(s, 0xfffffffffffff000ull, K4, DMA_SRC_ALLOC, 0, RW, &h), 0);
	CHECK_EQ(free_iova(s, K4, K4, 0xffffffffffffe000ull, UINT64_MAX, 1, 0, &e),
		 0xffffffffffffe000ull);
	free_iova(s, 2 * K4, K4, 0xffffffffffffe000ull, UINT64_MAX, 1, 0, &e);
	CHECK_EQ(e, -ENOSPC);
	CHECK_EQ(dma_unmap(s, 0xfffffffffffff000ull, K4, NULL), 0);
	/* a reserved range of the space and a group's RMRR are skipped ... */
	CHECK_EQ(dma_space_add_reserved(s, 0x4000, 0x7fff), 0);
	CHECK_EQ(free_iova(s, K4, K4, 0x3000, UINT64_MAX, 1, 0, &e), 0x8000);
	tl_group(&g, u, 1);
	g.nresv = 1;
	g.resv[0].start = 0x8000;
	g.resv[0].last = 0xafff;
	CHECK_EQ(dma_attach(s, &g), 0);
	CHECK_EQ(free_iova(s, K4, K4, 0x3000, UINT64_MAX, 1, 0, &e), 0xb000);
	/* ... and the aperture of the domain bounds the search */
	CHECK_EQ(free_iova(s, K4, K4, 0xfffff000ull, UINT64_MAX, 1, 0, &e), 0xfffff000ull);
	free_iova(s, K4, K4, 0x100000000ull, UINT64_MAX, 1, 0, &e);
	CHECK_EQ(e, -ENOSPC);
	CHECK_EQ(dma_detach(s, &g), 0);
	CHECK_EQ(free_iova(s, K4, K4, 0x3000, UINT64_MAX, 1, 0, &e), 0x8000);
	rm(s);
	fake_iommu_unit_free(u);
}

/* A mapping of the hypervisor's own (edu's bounce page): charged to the
 * hypervisor, not to the space's owner, outside its pin and mapping limits,
 * otherwise an ordinary mapping (domains, unmap, flush before free). */
TEST(hyp_mapping_charged_to_the_hypervisor)
{
	struct dma_space *s = mk();
	struct iommu_unit *u = tl_unit(PGSIZE_4K);
	struct dma_group g;
	struct dma_owner_stat os;
	struct dma_space_info si;
	struct dma_stats st;
	uint64_t hpa, pa = tl_user(0), un;
	struct tl_mem m0 = tl_mem();

	tl_group(&g, u, 1);
	CHECK_EQ(dma_attach(s, &g), 0);
	CHECK_EQ(dma_map(s, 0x1000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_owner_set_limit(s, K4), 0);
	CHECK_EQ(dma_space_set_map_limit(s, 1), 0);
	/* the user is at both limits: its own map fails, sluice's does not */
	CHECK_EQ(dma_map(s, 0x10000, 2 * K4, DMA_SRC_ALLOC, 0, DMA_PROT_W, &hpa), -ENOSPC);
	CHECK_EQ(dma_map_hyp(s, 0x10000, 2 * K4, DMA_PROT_W, &hpa), 0);
	CHECK(frame_get(hpa)->tag == FRAME_DMA && frame_get(hpa)->pins == 1);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.pinned, K4);
	dma_stats(&st);
	CHECK_EQ(st.hyp_pinned, 2 * K4);
	dma_space_info(s, &si);
	CHECK_EQ(si.nmaps, 2);
	/* the device reaches it like any mapping, with its prot */
	unsigned lv, pr;
	uint64_t got;
	struct iommu_domain *d = fake_iommu_rid_domain(u, 1);
	CHECK_EQ(d->unit->ops->iova_to_phys(d, 0x11000, &got, &lv, &pr), 0);
	CHECK_EQ(got, hpa + K4);
	CHECK_EQ(pr, DMA_PROT_W);
	/* the user's mapping limit stays its own */
	CHECK_EQ(dma_space_set_map_limit(s, 1), 0);
	CHECK_EQ(dma_unmap(s, 0x10000, 2 * K4, &un), 0);
	CHECK_EQ(un, 2 * K4);
	dma_stats(&st);
	CHECK_EQ(st.hyp_pinned, 0);
	CHECK_EQ(dma_unmap(s, 0x1000, K4, &un), 0);
	CHECK_EQ(tl_mem().free, m0.free);
	CHECK_EQ(tl_mem().pinned, m0.pinned);
	CHECK_EQ(dma_owner_set_limit(s, UINT64_MAX), 0);
	CHECK_EQ(dma_detach(s, &g), 0);
	rm(s);
	fake_iommu_unit_free(u);
	tl_user_free(pa, 0);
}

/* A group's release callback runs once the group has left its space:
 * after a detach and for every group a destroy detaches, never for a
 * detach that failed (the group stays). */
static int released[4];
static void count_release(struct dma_group *g, void *arg)
{
	(void)g;
	released[(intptr_t)arg]++;
}

TEST(group_release_callback)
{
	struct dma_space *s = mk();
	struct iommu_unit *u = tl_unit(PGSIZE_4K);
	struct dma_group g1, g2;

	tl_group(&g1, u, 1);
	tl_group(&g2, u, 2);
	dma_group_on_release(&g1, count_release, (void *)1);
	dma_group_on_release(&g2, count_release, (void *)2);
	CHECK_EQ(dma_attach(s, &g1), 0);
	CHECK_EQ(dma_attach(s, &g2), 0);
	fake_iommu_fail_any(1);
	CHECK_EQ(dma_detach(s, &g1), -EIO);
	fake_iommu_fail_any(0);
	CHECK_EQ(released[1], 0);
	CHECK(g1.space == s);
	CHECK_EQ(dma_detach(s, &g1), 0);
	CHECK_EQ(released[1], 1);
	CHECK(g1.space == NULL);
	CHECK_EQ(dma_attach(s, &g1), 0);
	rm(s);
	CHECK_EQ(released[1], 2);
	CHECK_EQ(released[2], 1);
	dma_group_on_release(&g1, NULL, NULL);
	s = mk();
	CHECK_EQ(dma_attach(s, &g1), 0);
	rm(s);
	CHECK_EQ(released[1], 2);
	fake_iommu_unit_free(u);
}

/* The quiesce callback: on detach after the group's requester IDs are
 * blocked (and never for a detach that failed); on destroy before any page
 * is unpinned, once; a failure lets the group leave but keeps it out of
 * every space (EBUSY, not quiesced) until the retry on attach succeeds. */
static struct {
	unsigned calls;
	int fail;
	bool rid_blocked;
	uint64_t pinned, nmaps;
	struct dma_space *s;
	struct iommu_unit *u;
} qz;
static int record_quiesce(struct dma_group *g, void *arg)
{
	struct dma_space_info si;

	(void)arg;
	qz.calls++;
	qz.rid_blocked = fake_iommu_rid_domain(qz.u, g->rids[0]) == NULL;
	qz.pinned = tl_mem().pinned;
	dma_space_info(qz.s, &si);
	qz.nmaps = si.nmaps;
	return qz.fail;
}

TEST(group_quiesce_callback)
{
	struct dma_space *s = mk(), *t;
	struct iommu_unit *u = tl_unit(PGSIZE_4K);
	struct dma_group g;
	const struct dma_why *w;
	uint64_t pa = tl_user(0), hpa, pinned0 = tl_mem().pinned;

	memset(&qz, 0, sizeof(qz));
	qz.s = s;
	qz.u = u;
	tl_group(&g, u, 1);
	dma_group_on_quiesce(&g, record_quiesce, NULL);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_attach(s, &g), 0);
	CHECK_EQ(qz.calls, 0);
	CHECK(g.unquiesced);
	fake_iommu_fail_any(1);
	CHECK_EQ(dma_detach(s, &g), -EIO);
	fake_iommu_fail_any(0);
	CHECK_EQ(qz.calls, 0); /* still attached: left alone */
	CHECK_EQ(dma_detach(s, &g), 0);
	CHECK_EQ(qz.calls, 1);
	CHECK(qz.rid_blocked);
	CHECK(!g.unquiesced);
	CHECK_EQ(dma_attach(s, &g), 0); /* quiet: no retry needed */
	CHECK_EQ(qz.calls, 1);

	/* destroy: quiesced while the mapping still holds its pinned page */
	CHECK_EQ(dma_space_destroy(s), 0);
	CHECK_EQ(qz.calls, 2);
	CHECK_EQ(qz.nmaps, 1);
	CHECK(qz.pinned > pinned0);
	CHECK_EQ(tl_mem().pinned, pinned0);

	/* a failing quiesce: the group leaves, then is refused until it works */
	s = mk();
	t = mk();
	qz.s = s;
	CHECK_EQ(dma_attach(s, &g), 0);
	qz.fail = -ETIMEDOUT;
	CHECK_EQ(dma_detach(s, &g), 0);
	CHECK(g.space == NULL);
	CHECK(g.unquiesced);
	CHECK_EQ(qz.calls, 3);
	qz.s = t;
	CHECK_EQ(dma_attach(t, &g), -EBUSY);
	w = why_is(t, DMA_WHY_NOT_QUIESCED, -EBUSY);
	CHECK_EQ(w->a, ETIMEDOUT);
	CHECK_EQ(qz.calls, 4);
	CHECK(g.space == NULL);
	CHECK(fake_iommu_rid_domain(u, 1) == NULL);
	qz.fail = 0;
	CHECK_EQ(dma_attach(t, &g), 0);
	CHECK_EQ(qz.calls, 5);
	CHECK(g.space == t);
	rm(t);
	rm(s);
	CHECK_EQ(qz.calls, 6);
	tl_user_free(pa, 0);
	fake_iommu_unit_free(u);
}

/* hpa: maps only frames the space's owner may use: the console user's
 * memory, its own owner's alloc blocks (share= spaces: one owner), and
 * guest RAM only into that guest's spaces. */
TEST(hpa_other_owners_frames_refused)
{
	struct dma_space *a = mk(), *b = NULL, *c = NULL;
	struct dma_owner_stat oa, oc;
	const struct dma_why *w;
	uint64_t apa, hpa, un, gpa, upa = tl_user(0);

	CHECK_EQ(dma_space_create(a, &b), 0);	 /* a's owner */
	CHECK_EQ(dma_space_create(NULL, &c), 0); /* another */
	dma_owner_stat(a, &oa);
	dma_owner_stat(c, &oc);
	CHECK_EQ(dma_map(a, 0x10000, 2 * K4, DMA_SRC_ALLOC, 0, RW, &apa), 0);
	CHECK_EQ(frame_get(apa)->holder, oa.id);
	/* another owner: refused, the first frame and whose it is named */
	CHECK_EQ(dma_map(c, 0x10000, 2 * K4, DMA_SRC_HPA, apa, RW, &hpa), -EPERM);
	w = why_is(c, DMA_WHY_OTHER_OWNER, -EPERM);
	CHECK_EQ(w->a, apa);
	CHECK_EQ(w->b, oa.id);
	CHECK_EQ(w->c, FRAME_DMA);
	CHECK_EQ(w->id, oc.id);
	CHECK_EQ(frame_get(apa)->pins, 1);
	CHECK_EQ(dma_pin_register(c, apa, 2 * K4), -EPERM);
	why_is(c, DMA_WHY_OTHER_OWNER, -EPERM);
	/* mixed: the console user's page, then a's block */
	CHECK_EQ(dma_map(c, 0x20000, K4, DMA_SRC_HPA, upa, RW, &hpa), 0);
	/* the same owner (share=): allowed, VFIO's one process, two containers */
	CHECK_EQ(dma_map(b, 0x10000, 2 * K4, DMA_SRC_HPA, apa, RW, &hpa), 0);
	CHECK_EQ(frame_get(apa)->pins, 2);
	CHECK_EQ(dma_unmap(b, 0x10000, 2 * K4, &un), 0);
	CHECK_EQ(dma_unmap(a, 0x10000, 2 * K4, &un), 0);

	/* guest RAM: only into that guest's spaces */
	gpa = frame_alloc(0, FRAME_GUEST);
	CHECK(gpa != 0);
	frame_set_holder(gpa, 0, 7);
	CHECK_EQ(dma_map(c, 0x30000, K4, DMA_SRC_HPA, gpa, RW, &hpa), -EPERM);
	w = why_is(c, DMA_WHY_OTHER_OWNER, -EPERM);
	CHECK_EQ(w->b, 7);
	CHECK_EQ(w->c, FRAME_GUEST);
	c->owner->guest = 8;
	CHECK_EQ(dma_map(c, 0x30000, K4, DMA_SRC_HPA, gpa, RW, &hpa), -EPERM);
	/* a guest's space takes no console-user memory */
	CHECK_EQ(dma_map(c, 0x40000, K4, DMA_SRC_HPA, upa, RW, &hpa), -EPERM);
	w = why_is(c, DMA_WHY_OTHER_OWNER, -EPERM);
	CHECK_EQ(w->c, FRAME_USER);
	c->owner->guest = 7;
	CHECK_EQ(dma_map(c, 0x30000, K4, DMA_SRC_HPA, gpa, RW, &hpa), 0);
	CHECK_EQ(dma_unmap(c, 0x30000, K4, &un), 0);
	c->owner->guest = 0;
	CHECK_EQ(frame_free(gpa, 0), 0);
	rm(c);
	rm(b);
	rm(a);
	tl_user_free(upa, 0);
}

/* The last group leaves but its domain cannot be torn down (unmap fails,
 * and so does the retry): the group has left all the same, so what was set
 * up for it (its interrupt routes: the release callback) goes too, once. */
TEST(detach_failed_teardown_still_releases)
{
	struct dma_space *s = mk();
	struct iommu_unit *u = tl_unit(PGSIZE_4K);
	struct dma_group g;
	struct dma_stats st0, st1;
	struct iommu_domain *d;
	uint64_t hpa;

	tl_group(&g, u, 1);
	dma_group_on_release(&g, count_release, (void *)3);
	released[3] = 0;
	CHECK_EQ(dma_attach(s, &g), 0);
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	d = fake_iommu_rid_domain(u, 1);
	dma_stats(&st0);
	fake_iommu_fail_from(FAKE_UNMAP, 1, -EIO);
	CHECK_EQ(dma_detach(s, &g), -EIO);
	fake_iommu_fail(FAKE_UNMAP, 0, 0);
	dma_stats(&st1);
	CHECK_EQ(st1.leaked_domains, st0.leaked_domains + 1);
	CHECK(g.space == NULL);
	CHECK_EQ(released[3], 1);
	CHECK_EQ(dma_detach(s, &g), -ENOENT);
	CHECK_EQ(released[3], 1);
	dma_group_on_release(&g, NULL, NULL);
	rm(s);
	d->unit->ops->domain_free(d); /* the leaked domain, for the leak checker */
	fake_iommu_unit_free(u);
}

/* Two domains; the second refuses the map and the first one's unwinding
 * unmap fails too: that domain is dirty, the pages stay pinned and the
 * IOVA stays taken (no map over it, dma_free_iova skips it). */
TEST(unwind_unmap_failure_quarantines_the_range)
{
	struct dma_space *s = mk();
	struct iommu_unit *u1 = tl_unit(PGSIZE_4K), *u2 = tl_unit(PGSIZE_4K);
	struct dma_group g1, g2;
	struct dma_stats st0, st1;
	struct dma_space_info si;
	const struct dma_why *w;
	uint64_t pa = tl_user(1), hpa, at = 0;

	tl_group(&g1, u1, 1);
	tl_group(&g2, u2, 1);
	CHECK_EQ(dma_attach(s, &g1), 0);
	CHECK_EQ(dma_attach(s, &g2), 0);
	dma_stats(&st0);
	fake_iommu_fail(FAKE_MAP, 2, -EIO);
	fake_iommu_fail(FAKE_UNMAP, 1, -EIO);
	CHECK_EQ(dma_map(s, 0x10000, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), -EIO);
	fake_iommu_reset();
	CHECK(s->doms->dirty);
	CHECK(!s->doms->next->dirty);
	CHECK_EQ(frame_get(pa)->pins, 1); /* a device may still reach it */
	CHECK_EQ(frame_get(pa + K4)->pins, 1);
	dma_stats(&st1);
	CHECK_EQ(st1.quarantined, st0.quarantined + 2 * K4);
	dma_space_info(s, &si);
	CHECK_EQ(si.nmaps, 0);
	/* the range stays taken: a map over it names it */
	CHECK_EQ(dma_map(s, 0x11000, K4, DMA_SRC_ALLOC, 0, RW, &hpa), -EINVAL);
	w = why_is(s, DMA_WHY_QUARANTINED, -EINVAL);
	CHECK_EQ(w->a, 0x10000);
	CHECK_EQ(w->b, 0x11fff);
	CHECK_EQ(dma_free_iova(s, &(struct dma_iova_req){.size = K4, .align = K4, .lo = 0x10000,
							   .last = UINT64_MAX},
			       &at),
		 0);
	CHECK_EQ(at, 0x12000);
	CHECK_EQ(dma_map(s, 0x12000, K4, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	rm(s);
	CHECK_EQ(frame_get(pa)->pins, 1); /* quarantined for ever */
	fake_iommu_unit_free(u1);
	fake_iommu_unit_free(u2);
}

/* Unhint: the second domain refuses the pieces and the first one's
 * unwinding unmap fails: the pieces stay pinned (the first domain may still
 * map them) and that domain is dirty. */
TEST(unhint_unwind_unmap_failure_keeps_pins)
{
	struct dma_space *s = mk();
	struct iommu_unit *u1 = tl_unit(PGSIZE_4K), *u2 = tl_unit(PGSIZE_4K);
	struct dma_group g1, g2;
	uint64_t pa = tl_user(1), hpa;

	tl_group(&g1, u1, 1);
	tl_group(&g2, u2, 1);
	CHECK_EQ(dma_attach(s, &g1), 0);
	CHECK_EQ(dma_attach(s, &g2), 0);
	CHECK_EQ(dma_map(s, 0x10000, 2 * K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_hint(s, 0x10000, 2 * K4), 0);
	CHECK_EQ(frame_get(pa)->pins, 0);
	fake_iommu_fail(FAKE_MAP, 2, -EIO);
	fake_iommu_fail(FAKE_UNMAP, 1, -EIO);
	CHECK_EQ(dma_unhint(s, 0x10000, 2 * K4), -EIO);
	fake_iommu_reset();
	CHECK(s->doms->dirty);
	CHECK_EQ(frame_get(pa)->pins, 1);
	CHECK_EQ(frame_get(pa + K4)->pins, 1);
	rm(s);
	fake_iommu_unit_free(u1);
	fake_iommu_unit_free(u2);
}
