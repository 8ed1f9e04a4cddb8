// SOURCES: dma/space.c dma/walk.c dma/map.c dma/hint.c dma/attach.c dma/prereg.c dma/acct.c lib/itree.c kernel/frame.c tests/unit/fake_iommu.c
/*
 * tests/unit/test_dma_hint.c — giving hinted memory back: a guest's RAM
 * block is hinted, its frames returned to the allocator
 * (frame_free_range), the range rebound to fresh frames
 * (dma_hint_rebind), then unhinted: the domains translate to the new
 * frames, pins and charges moved with them, and unmap releases exactly
 * the right frames.  On the fake IOMMU with frames from host memory.
 */
#include <string.h>

#include "dma/dma_priv.h" /* segment counts of a mapping */
#include "tests/unit/dma_testlib.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define G1 0x40000000ull
#define RW (DMA_PROT_R | DMA_PROT_W)
#define GUEST 4

static struct iommu_unit *unit;
static struct dma_group grp;
static struct iommu_domain *dom;

/* A guest's space with one group attached (one domain, 4K/2M/1G pages). */
static struct dma_space *mk_guest(void)
{
	struct dma_space *s = NULL;

	tl_setup();
	fake_iommu_reset();
	CHECK_EQ(dma_space_create_guest(GUEST, &s), 0);
	unit = tl_unit(PGSIZE_4K | PGSIZE_2M | PGSIZE_1G);
	tl_group(&grp, unit, 1);
	CHECK_EQ(dma_attach(s, &grp), 0);
	dom = fake_iommu_rid_domain(unit, 1);
	return s;
}

static void rm(struct dma_space *s)
{
	CHECK_EQ(dma_space_destroy(s), 0);
	CHECK_EQ(fake_iommu_stats.violations, 0);
	fake_iommu_unit_free(unit);
}

/* Guest RAM: a block of the guest's. */
static uint64_t guest_block(unsigned order)
{
	uint64_t pa = frame_alloc(order, FRAME_GUEST);

	if (!pa)
		abort();
	frame_set_holder(pa, order, GUEST);
	return pa;
}

/* Frees what is still allocated of [pa, pa + size), block by block (what
 * the VM does with the rest of a carved block). */
static void free_rest(uint64_t pa, uint64_t size)
{
	for (uint64_t p = pa; p < pa + size;) {
		uint64_t b;
		unsigned o;

		if (frame_block_of(p, &b, &o)) {
			p += K4;
			continue;
		}
		CHECK_EQ(frame_free(b, o), 0);
		p = b + (K4 << o);
	}
}

static uint64_t owner_pinned(struct dma_space *s)
{
	struct dma_owner_stat os;

	dma_owner_stat(s, &os);
	return os.pinned;
}

static uint64_t xlate(struct dma_space *s, uint64_t iova)
{
	uint64_t t = 0;
	unsigned lv, pr;

	if (dma_translate(s, iova, &t, &lv, &pr))
		return 0;
	return t;
}

static int check(struct dma_space *s)
{
	int bad;

	(void)tl_digest(&s, 1, (struct iommu_domain * *[]){&dom}, (unsigned[]){1}, &bad);
	return bad;
}

static uint64_t digest(struct dma_space *s)
{
	int bad;
	uint64_t h = tl_digest(&s, 1, (struct iommu_domain * *[]){&dom}, (unsigned[]){1}, &bad);

	CHECK_EQ(bad, 0);
	return h;
}

static struct dma_mapping *mapping_at(struct dma_space *s, uint64_t iova)
{
	return MAP_OF(itree_first(&s->maps, iova, iova));
}

TEST(rebind_moves_the_backing)
{
	struct dma_space *s = mk_guest();
	struct tl_mem m0 = tl_mem();
	uint64_t blk = guest_block(FRAME_ORDER_2M), nu, hpa;
	uint64_t a = G1 + 8 * K4, n = 3 * K4; /* three pages inside the 2M page */
	bool hinted;

	CHECK_EQ(dma_map(s, G1, M2, DMA_SRC_HPA, blk, RW, &hpa), 0);
	CHECK_EQ(owner_pinned(s), M2);
	CHECK_EQ(dma_hint(s, a, n), 0);
	CHECK_EQ(owner_pinned(s), M2 - n);
	/* The VM gives the old frames back, and has new ones for the range. */
	CHECK_EQ(frame_free_range(blk, FRAME_ORDER_2M, blk + 8 * K4, n), 0);
	nu = guest_block(2);
	CHECK_EQ(dma_hint_rebind(s, a, n, nu), 0);
	CHECK_EQ(mapping_at(s, G1)->nseg, 3);
	/* Records only: still hinted, in no domain, nothing pinned. */
	for (uint64_t o = 0; o < n; o += K4) {
		CHECK_EQ(dma_lookup(s, a + o, &hpa, &hinted), 0);
		CHECK_EQ(hpa, nu + o);
		CHECK(hinted);
		CHECK_EQ(xlate(s, a + o), 0);
		CHECK_EQ(frame_get(nu + o)->pins, 0);
	}
	CHECK_EQ(owner_pinned(s), M2 - n);
	CHECK_EQ(check(s), 0);

	/* Unhint: the new frames pinned, charged and mapped. */
	CHECK_EQ(dma_unhint(s, a, n), 0);
	for (uint64_t o = 0; o < n; o += K4) {
		CHECK_EQ(xlate(s, a + o), nu + o);
		CHECK_EQ(frame_get(nu + o)->pins, 1);
		CHECK_EQ(frame_get(nu + o)->owner, frame_get(blk)->owner);
		CHECK_EQ(frame_get(blk + 8 * K4 + o)->tag, FRAME_FREE);
		CHECK_EQ(frame_get(blk + 8 * K4 + o)->pins, 0);
	}
	CHECK_EQ(frame_get(nu + n)->pins, 0); /* the 4th frame of the new block: not mapped */
	/* The rest of the mapping is untouched. */
	CHECK_EQ(xlate(s, G1), blk);
	CHECK_EQ(xlate(s, a - K4), blk + 7 * K4);
	CHECK_EQ(xlate(s, a + n), blk + 8 * K4 + n);
	CHECK_EQ(xlate(s, G1 + M2 - K4), blk + M2 - K4);
	CHECK_EQ(owner_pinned(s), M2);
	CHECK_EQ(check(s), 0);
	{
		struct tl_walk w = {s, &dom, 1, 0, 0};
		CHECK_EQ(dma_for_each_map(s, tl_walk_map, &w), 0);
		CHECK_EQ(w.bad, 0);
	}

	/* Unmap releases the new frames and what is left of the old block. */
	test_con_reset();
	CHECK_EQ(dma_unmap(s, G1, M2, NULL), 0);
	CHECK(strstr(test_con_buf, "unpin") == NULL);
	CHECK_EQ(owner_pinned(s), 0);
	CHECK_EQ(tl_mem().pinned, m0.pinned);
	for (uint64_t o = 0; o < M2; o += K4)
		CHECK_EQ(frame_get(blk + o)->pins, 0);
	for (uint64_t o = 0; o < 4 * K4; o += K4)
		CHECK_EQ(frame_get(nu + o)->pins, 0);
	CHECK_EQ(frame_free(nu, 2), 0);
	free_rest(blk, M2);
	CHECK_EQ(tl_mem().free, m0.free);
	rm(s);
}

static int first_map(const struct dma_map_info *x, void *arg)
{
	*(struct dma_map_info *)arg = *x;
	return 1;
}

/* A domain built after a rebind is replayed from the new segments. */
TEST(rebind_then_replay_into_a_new_domain)
{
	struct dma_space *s = mk_guest();
	struct iommu_unit *u2 = tl_unit(PGSIZE_4K);
	struct dma_group g2;
	struct iommu_domain *dd[2];
	uint64_t blk = guest_block(FRAME_ORDER_2M), nu = guest_block(0), hpa;
	int bad;

	CHECK_EQ(dma_map(s, 0, M2, DMA_SRC_HPA, blk, RW, &hpa), 0);
	CHECK_EQ(dma_hint(s, 0, K4), 0);
	CHECK_EQ(frame_free_range(blk, FRAME_ORDER_2M, blk, K4), 0);
	CHECK_EQ(dma_hint_rebind(s, 0, K4, nu), 0);
	CHECK_EQ(dma_unhint(s, 0, K4), 0);
	tl_group(&g2, u2, 3);
	CHECK_EQ(dma_attach(s, &g2), 0);
	dd[0] = dom;
	dd[1] = fake_iommu_rid_domain(u2, 3);
	(void)tl_digest(&s, 1, (struct iommu_domain * *[]){dd}, (unsigned[]){2}, &bad);
	CHECK_EQ(bad, 0);
	{
		uint64_t t;
		unsigned lv, pr;
		CHECK_EQ(dd[1]->unit->ops->iova_to_phys(dd[1], 0, &t, &lv, &pr), 0);
		CHECK_EQ(t, nu);
	}
	/* dma list: the first byte's frame, two physical segments. */
	struct dma_map_info mi;
	CHECK_EQ(dma_for_each_map(s, first_map, &mi), 1);
	CHECK_EQ(mi.hpa, nu);
	CHECK_EQ(mi.nsegs, 2);
	CHECK_EQ(dma_detach(s, &g2), 0);
	rm(s);
	CHECK_EQ(frame_get(nu)->pins, 0);
	CHECK_EQ(frame_free(nu, 0), 0);
	free_rest(blk, M2);
	fake_iommu_unit_free(u2);
}

TEST(rebind_refusals_say_why)
{
	struct dma_space *s = mk_guest();
	uint64_t b1 = guest_block(4), b2 = guest_block(4), nu = guest_block(4), hpa, h0;
	const struct dma_why *w = dma_space_why(s);

	/* [0x10000, 0x20000) and [0x20000, 0x30000) adjacent, an alloc one. */
	CHECK_EQ(dma_map(s, 0x10000, 0x10000, DMA_SRC_HPA, b1, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0x20000, 0x10000, DMA_SRC_HPA, b2, RW, &hpa), 0);
	CHECK_EQ(dma_map(s, 0x40000, 0x10000, DMA_SRC_ALLOC, 0, RW, &hpa), 0);
	CHECK_EQ(dma_map_hyp(s, 0x60000, K4, RW, &hpa), 0);
	CHECK_EQ(dma_hint(s, 0x14000, 2 * K4), 0); /* [0x14000, 0x16000) */
	CHECK_EQ(dma_hint(s, 0x1f000, 2 * K4), 0); /* across the boundary */
	CHECK_EQ(dma_hint(s, 0x40000, K4), 0);
	CHECK_EQ(dma_hint(s, 0x60000, K4), 0);
	h0 = digest(s);

	CHECK_EQ(dma_hint_rebind(s, 0x14000, 0, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_ZERO_SIZE);
	CHECK_EQ(dma_hint_rebind(s, 0x14800, K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_IOVA_ALIGN);
	CHECK_EQ(dma_hint_rebind(s, 0x14000, 0x800, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_SIZE_ALIGN);
	CHECK_EQ(dma_hint_rebind(s, 0x14000, K4, nu + 0x800), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_HPA_ALIGN);
	CHECK_EQ(dma_hint_rebind(s, UINT64_MAX - K4 + 1, 2 * K4, nu), -EOVERFLOW);
	CHECK_EQ(w->kind, DMA_WHY_IOVA_WRAPS);
	CHECK_EQ(dma_hint_rebind(s, 0x14000, 2 * K4, UINT64_MAX - K4 + 1), -EOVERFLOW);
	CHECK_EQ(w->kind, DMA_WHY_HPA_WRAPS);
	/* Nothing mapped there. */
	CHECK_EQ(dma_hint_rebind(s, 0x30000, K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_GAP);
	CHECK_EQ(w->a, 0x30000);
	/* Not hinted; partly hinted (either end). */
	CHECK_EQ(dma_hint_rebind(s, 0x11000, K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_NOT_HINTED);
	CHECK_EQ(w->a, 0x11000);
	CHECK_EQ(w->map_iova, 0x10000);
	CHECK_EQ(w->map_size, 0x10000);
	CHECK_EQ(dma_hint_rebind(s, 0x14000, 3 * K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_NOT_HINTED);
	CHECK_EQ(w->a, 0x16000);
	CHECK_EQ(dma_hint_rebind(s, 0x13000, 2 * K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_NOT_HINTED);
	CHECK_EQ(w->a, 0x13000);
	/* Hinted in two mappings: one mapping at a time. */
	CHECK_EQ(dma_hint_rebind(s, 0x1f000, 2 * K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_SPANS_MAPPINGS);
	CHECK_EQ(w->a, 0x20000);
	CHECK_EQ(w->map_iova, 0x10000);
	/* Past the end of a mapping into nothing. */
	CHECK_EQ(dma_unmap(s, 0x20000, 0x10000, NULL), 0);
	h0 = digest(s);
	CHECK_EQ(dma_hint_rebind(s, 0x1f000, 2 * K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_SPANS_MAPPINGS);
	CHECK_EQ(w->a, 0x20000);
	/* Memory the dma layer allocated, or sluice's own mapping. */
	CHECK_EQ(dma_hint_rebind(s, 0x40000, K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_MAPPING_KIND);
	CHECK_EQ(w->a, DMA_SRC_ALLOC);
	CHECK_EQ(w->b, 0);
	CHECK_EQ(w->c, 0);
	CHECK_EQ(w->map_iova, 0x40000);
	CHECK_EQ(dma_hint_rebind(s, 0x60000, K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_MAPPING_KIND);
	CHECK_EQ(w->c, 1);
	CHECK_EQ(digest(s), h0);

	/* The part inside one mapping works. */
	CHECK_EQ(dma_hint_rebind(s, 0x1f000, K4, nu), 0);
	CHECK_EQ(w->kind, DMA_WHY_NONE);
	CHECK_EQ(dma_unhint(s, 0x1f000, K4), 0);
	CHECK_EQ(xlate(s, 0x1f000), nu);
	rm(s);
	CHECK_EQ(frame_free(b1, 4), 0);
	CHECK_EQ(frame_free(b2, 4), 0);
	CHECK_EQ(frame_free(nu, 4), 0);
}

/* A mapping inside a pre-registration keeps its frames pinned while
 * hinted: they cannot be given back, so it cannot be rebound. */
TEST(rebind_registered_refused)
{
	struct dma_space *s = NULL;
	uint64_t pa = tl_user(4), nu = tl_user(0), hpa;
	const struct dma_why *w;

	tl_setup();
	fake_iommu_reset();
	CHECK_EQ(dma_space_create(NULL, &s), 0);
	w = dma_space_why(s);
	CHECK_EQ(dma_pin_register(s, pa, 16 * K4), 0);
	CHECK_EQ(dma_map(s, 0x100000, 16 * K4, DMA_SRC_HPA, pa, RW, &hpa), 0);
	CHECK_EQ(dma_hint(s, 0x104000, K4), 0);
	CHECK_EQ(dma_hint_rebind(s, 0x104000, K4, nu), -EINVAL);
	CHECK_EQ(w->kind, DMA_WHY_MAPPING_KIND);
	CHECK_EQ(w->a, DMA_SRC_HPA);
	CHECK_EQ(w->b, 1);
	CHECK_EQ(frame_get(nu)->pins, 0);
	CHECK_EQ(dma_space_destroy(s), 0);
	tl_user_free(pa, 4);
	tl_user_free(nu, 0);
}

/* Unhint checks the new memory like any source: another guest's RAM or
 * sluice's own is refused (EPERM), nothing changes, and a rebind to
 * memory the guest owns then works. */
TEST(rebind_to_foreign_memory_unhint_eperm)
{
	struct dma_space *s = mk_guest();
	uint64_t blk = guest_block(4), other = frame_alloc(0, FRAME_GUEST);
	uint64_t slu = frame_alloc(0, FRAME_SLUICE), nu = guest_block(0), hpa, h0;
	const struct dma_why *w = dma_space_why(s);

	frame_set_holder(other, 0, GUEST + 1);
	CHECK_EQ(dma_map(s, 0x10000, 16 * K4, DMA_SRC_HPA, blk, RW, &hpa), 0);
	CHECK_EQ(dma_hint(s, 0x12000, K4), 0);
	CHECK_EQ(frame_free_range(blk, 4, blk + 2 * K4, K4), 0);
	CHECK_EQ(dma_hint_rebind(s, 0x12000, K4, other), 0); /* rebind does not judge */
	h0 = digest(s);
	CHECK_EQ(dma_unhint(s, 0x12000, K4), -EPERM);
	CHECK_EQ(w->kind, DMA_WHY_OTHER_OWNER);
	CHECK_EQ(w->a, other);
	CHECK_EQ(w->b, GUEST + 1);
	CHECK_EQ(digest(s), h0);
	CHECK_EQ(frame_get(other)->pins, 0);
	CHECK_EQ(dma_hint_rebind(s, 0x12000, K4, slu), 0);
	CHECK_EQ(dma_unhint(s, 0x12000, K4), -EPERM);
	CHECK_EQ(w->kind, DMA_WHY_NOT_DMA_MEMORY);
	CHECK_EQ(w->a, slu);
	/* Even the old frames, now free, are refused. */
	CHECK_EQ(dma_hint_rebind(s, 0x12000, K4, blk + 2 * K4), 0);
	CHECK_EQ(dma_unhint(s, 0x12000, K4), -EPERM);
	CHECK_EQ(w->kind, DMA_WHY_NOT_DMA_MEMORY);
	CHECK_EQ(dma_hint_rebind(s, 0x12000, K4, nu), 0);
	CHECK_EQ(dma_unhint(s, 0x12000, K4), 0);
	CHECK_EQ(xlate(s, 0x12000), nu);
	CHECK_EQ(check(s), 0);
	rm(s);
	CHECK_EQ(frame_free(other, 0), 0);
	CHECK_EQ(frame_free(slu, 0), 0);
	CHECK_EQ(frame_free(nu, 0), 0);
	free_rest(blk, 16 * K4);
}

/* Every other 4K page of a 2M mapping rebound to its own scattered frame:
 * the segment list grows to 511; unhint maps each where it belongs;
 * unmap with half of them hinted again releases exactly the live frames.
 * Rebinding back to the old frames merges the list to one segment. */
TEST(rebind_many_pieces)
{
	struct dma_space *s = mk_guest();
	struct tl_mem m0 = tl_mem();
	uint64_t blk = guest_block(FRAME_ORDER_2M), hpa, nu[256];
	struct dma_mapping *m;

	CHECK_EQ(dma_map(s, G1, M2, DMA_SRC_HPA, blk, RW, &hpa), 0);
	m = mapping_at(s, G1);
	for (unsigned i = 0; i < 256; i++)
		CHECK_EQ(dma_hint(s, G1 + (2 * i + 1) * K4, K4), 0);
	/* Scattered frames: every other one of a larger block. */
	uint64_t pool = guest_block(10);
	for (unsigned i = 0; i < 256; i++) {
		nu[i] = pool + (uint64_t)(255 - i) * 2 * K4;
		CHECK_EQ(dma_hint_rebind(s, G1 + (2 * i + 1) * K4, K4, nu[i]), 0);
	}
	CHECK_EQ(m->nseg, 512);
	CHECK_EQ(check(s), 0);
	CHECK_EQ(dma_unhint(s, G1, M2), 0);
	for (unsigned i = 0; i < 256; i++) {
		CHECK_EQ(xlate(s, G1 + 2 * i * K4), blk + 2 * i * K4);
		CHECK_EQ(xlate(s, G1 + (2 * i + 1) * K4), nu[i]);
		CHECK_EQ(frame_get(nu[i])->pins, 1);
		CHECK_EQ(frame_get(nu[i] + K4)->pins, 0);
		CHECK_EQ(frame_get(blk + (2 * i + 1) * K4)->pins, 0);
	}
	CHECK_EQ(owner_pinned(s), M2);
	CHECK_EQ(check(s), 0);

	/* Hint the first half again and put the old frames back under it:
	 * contiguous again, the segments merge. */
	CHECK_EQ(dma_hint(s, G1, M2 / 2), 0);
	for (unsigned i = 0; i < 128; i++)
		CHECK_EQ(dma_hint_rebind(s, G1 + (2 * i + 1) * K4, K4, blk + (2 * i + 1) * K4), 0);
	/* [0, 1M + 4K) is blk again (page 256 always was), then 255 alternating. */
	CHECK_EQ(m->nseg, 256);
	CHECK_EQ(dma_hint_rebind(s, G1, M2 / 2, blk), 0); /* the whole hinted half at once */
	CHECK_EQ(m->nseg, 256);
	CHECK_EQ(check(s), 0);

	/* Unmap with the first half hinted: only live frames are released. */
	test_con_reset();
	CHECK_EQ(dma_unmap(s, G1, M2, NULL), 0);
	CHECK(strstr(test_con_buf, "unpin") == NULL);
	CHECK_EQ(owner_pinned(s), 0);
	CHECK_EQ(tl_mem().pinned, m0.pinned);
	for (unsigned i = 0; i < 256; i++)
		CHECK_EQ(frame_get(nu[i])->pins, 0);
	CHECK_EQ(frame_free(pool, 10), 0);
	CHECK_EQ(frame_free(blk, FRAME_ORDER_2M), 0);

	/* Rebound back to its own frames, the list is seg0 again. */
	blk = guest_block(FRAME_ORDER_2M);
	CHECK_EQ(dma_map(s, G1, M2, DMA_SRC_HPA, blk, RW, &hpa), 0);
	m = mapping_at(s, G1);
	CHECK_EQ(dma_hint(s, G1 + K4, K4), 0);
	CHECK_EQ(dma_hint_rebind(s, G1 + K4, K4, pool), 0);
	CHECK_EQ(m->nseg, 3);
	CHECK_EQ(dma_hint_rebind(s, G1 + K4, K4, blk + K4), 0);
	CHECK_EQ(m->nseg, 1);
	CHECK(m->segs == &m->seg0);
	CHECK_EQ(dma_unhint(s, G1 + K4, K4), 0);
	CHECK_EQ(xlate(s, G1 + K4), blk + K4);
	rm(s);
	CHECK_EQ(frame_free(blk, FRAME_ORDER_2M), 0);
	CHECK_EQ(tl_mem().free, m0.free);
}

/* The segment array is the one allocation: failing it changes nothing. */
TEST(rebind_out_of_memory_changes_nothing)
{
	struct dma_space *s = mk_guest();
	uint64_t blk = guest_block(FRAME_ORDER_2M), nu = guest_block(1), hpa, h0, pa;
	const struct dma_why *w = dma_space_why(s);
	bool hinted;

	CHECK_EQ(dma_map(s, 0, M2, DMA_SRC_HPA, blk, RW, &hpa), 0);
	CHECK_EQ(dma_hint(s, 4 * K4, 2 * K4), 0);
	CHECK_EQ(frame_free_range(blk, FRAME_ORDER_2M, blk + 4 * K4, 2 * K4), 0);
	h0 = digest(s);
	for (unsigned long n = 1;; n++) {
		int err;

		dma_test_fail_nth(n);
		err = dma_hint_rebind(s, 4 * K4, 2 * K4, nu);
		dma_test_fail_nth(0);
		if (!err)
			break;
		CHECK_EQ(err, -ENOMEM);
		CHECK_EQ(w->kind, DMA_WHY_NO_MEMORY);
		CHECK_EQ(w->b, DMA_MEM_TRACKING);
		CHECK_EQ(digest(s), h0);
		CHECK_EQ(dma_lookup(s, 4 * K4, &pa, &hinted), 0);
		CHECK_EQ(pa, blk + 4 * K4);
		CHECK_EQ(mapping_at(s, 0)->nseg, 1);
		CHECK(n < 5);
		if (n >= 5)
			break;
	}
	CHECK_EQ(mapping_at(s, 0)->nseg, 3);
	CHECK_EQ(dma_lookup(s, 4 * K4, &pa, &hinted), 0);
	CHECK_EQ(pa, nu);
	CHECK_EQ(dma_unhint(s, 4 * K4, 2 * K4), 0);
	CHECK_EQ(xlate(s, 5 * K4), nu + K4);
	rm(s);
	CHECK_EQ(frame_free(nu, 1), 0);
	free_rest(blk, M2);
}
