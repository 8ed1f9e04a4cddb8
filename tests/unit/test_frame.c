// SOURCES: kernel/frame.c
/*
 * tests/unit/test_frame.c — the buddy allocator and frame database.
 *
 * Memory: one 4 GiB window of host address space, 1 GiB aligned, reserved
 * with MAP_NORESERVE; each test builds its own map of sub-ranges of it (the
 * host address is the "physical" address) and drops the pages it touched
 * afterwards.  Only records and the first bytes of free blocks get touched,
 * so the real footprint stays small.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/hw.h"
#include "kernel/frame.h"
#include "test.h"
#include "rng.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define ARENA_SIZE (4 * GiB)

static uint64_t arena; /* 1 GiB aligned */

static uint64_t arena_base(void)
{
	if (!arena) {
		void *p = mmap(NULL, ARENA_SIZE + GiB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			exit(2);
		}
		arena = ((uint64_t)(uintptr_t)p + GiB - 1) & ~(GiB - 1);
	}
	return arena;
}

/* Fresh allocator state and no touched pages left from an earlier test. */
static uint64_t fresh(void)
{
	uint64_t a = arena_base();

	madvise((void *)(uintptr_t)a, ARENA_SIZE, MADV_DONTNEED);
	frame_init();
	return a;
}

static void shuffle(uint64_t *v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd() % i;
		uint64_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static struct frame_stats st(void)
{
	struct frame_stats s;
	frame_stats(&s);
	return s;
}

/* Expected figures for one range, computed from the rules, not the code:
 * edges trimmed to 4 KiB, one 8-byte record per frame, records carved
 * from the start in whole frames. */
struct expect {
	uint64_t start, end, nmeta;
};

static struct expect expect_of(uint64_t base, uint64_t size)
{
	struct expect e;
	uint64_t n;

	e.start = (base + 4 * KiB - 1) / (4 * KiB) * (4 * KiB);
	e.end = (base + size) / (4 * KiB) * (4 * KiB);
	n = (e.end - e.start) / (4 * KiB);
	e.nmeta = (n + 4 * KiB / sizeof(struct frame) - 1) / (4 * KiB / sizeof(struct frame));
	return e;
}

/* A fragmented map: n unaligned ranges with gaps, added in shuffled order.
 * Fills out[] with the expectations in address order. */
static void add_fragmented(uint64_t a, unsigned n, struct expect *out, uint64_t *total,
			   uint64_t *nfree)
{
	uint64_t order_idx[256];
	uint64_t base[256], size[256];
	uint64_t p = a + 12345;

	*total = *nfree = 0;
	for (unsigned i = 0; i < n; i++) {
		base[i] = p;
		size[i] = 40 * KiB + rnd() % (3 * MiB) + 777;
		p += size[i] + 4 * KiB + rnd() % (256 * KiB);
		out[i] = expect_of(base[i], size[i]);
		*total += out[i].end - out[i].start;
		*nfree += out[i].end - out[i].start - out[i].nmeta * 4 * KiB;
		order_idx[i] = i;
	}
	shuffle(order_idx, n);
	for (unsigned i = 0; i < n; i++) {
		unsigned k = (unsigned)order_idx[i];
		CHECK_EQ(frame_add_range(base[k], size[k]), 0);
	}
}

TEST(fragmented_map_accounting)
{
	uint64_t a = fresh(), total, nfree;
	struct expect e[100];
	struct frame_stats s;

	add_fragmented(a, 100, e, &total, &nfree);
	s = st();
	CHECK_EQ(s.total, total);
	CHECK_EQ(s.free, nfree);
	CHECK_EQ(s.pinned, 0);
	CHECK_EQ(s.iopt, 0);
	for (unsigned i = 0; i < 100; i++) {
		struct frame *f = frame_get(e[i].start);

		/* Records sit at the start of their own range. */
		CHECK(f == phys_to_virt(e[i].start));
		CHECK(frame_range_tagged(e[i].start, e[i].nmeta * 4 * KiB, FRAME_SLUICE));
		CHECK(frame_range_tagged(e[i].start + e[i].nmeta * 4 * KiB,
					 e[i].end - e[i].start - e[i].nmeta * 4 * KiB, FRAME_FREE));
		CHECK(frame_get(e[i].end - 1) != NULL);
		CHECK(frame_get(e[i].end) == NULL);	  /* gap after */
		CHECK(frame_get(e[i].start - 1) == NULL); /* trimmed edge/gap */
		CHECK(frame_get(e[i].end - 1) == f + (e[i].end - 1 - e[i].start) / (4 * KiB));
	}
}

TEST(frame_get_unmanaged)
{
	uint64_t a = fresh();

	CHECK(frame_get(a) == NULL);
	CHECK_EQ(frame_add_range(a + 8 * MiB, 4 * MiB), 0);
	CHECK(frame_get(0) == NULL);
	CHECK(frame_get(a) == NULL);
	CHECK(frame_get(a + 8 * MiB - 1) == NULL);
	CHECK(frame_get(a + 8 * MiB) != NULL);
	CHECK(frame_get(a + 12 * MiB - 1) != NULL);
	CHECK(frame_get(a + 12 * MiB) == NULL);
	CHECK(frame_get(UINT64_MAX) == NULL);
}

TEST(every_order_aligned_and_tagged)
{
	uint64_t a = fresh();
	struct frame_stats s0;

	/* 3 GiB starting 4 MiB below a GiB boundary: room for every order. */
	CHECK_EQ(frame_add_range(a + GiB - 4 * MiB, 3 * GiB), 0);
	s0 = st();
	for (unsigned order = 0; order <= FRAME_MAX_ORDER; order++) {
		uint64_t sz = (4 * KiB) << order;
		uint64_t pa = frame_alloc(order, FRAME_USER);
		struct frame *f;

		CHECK(pa != 0);
		if (!pa)
			continue;
		CHECK_EQ(pa & (sz - 1), 0);
		CHECK_EQ(st().free, s0.free - sz);
		f = frame_get(pa);
		CHECK(f != NULL);
		CHECK_EQ(f->order, order);
		CHECK_EQ(f->pins, 0);
		CHECK(frame_range_tagged(pa, sz, FRAME_USER));
		/* The frame after the block is not part of it. */
		CHECK(!frame_range_tagged(pa, sz + 4 * KiB, FRAME_USER));
		CHECK_EQ(frame_free(pa, order), 0);
		CHECK_EQ(st().free, s0.free);
		CHECK(frame_range_tagged(pa, sz, FRAME_FREE));
	}
}

TEST(blocks_2m_1g_when_possible)
{
	uint64_t a = fresh();
	uint64_t pa, pa2;

	/* [G-4M, 2G+4M): exactly one 1 GiB block, at G. */
	CHECK_EQ(frame_add_range(a + GiB - 4 * MiB, GiB + 8 * MiB), 0);
	pa = frame_alloc(FRAME_ORDER_1G, FRAME_GUEST);
	CHECK_EQ(pa, a + GiB);
	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), 0);
	pa2 = frame_alloc(FRAME_ORDER_2M, FRAME_GUEST);
	CHECK(pa2 != 0);
	CHECK_EQ(pa2 & (2 * MiB - 1), 0);
	CHECK_EQ(frame_free(pa, FRAME_ORDER_1G), 0);
	CHECK_EQ(frame_free(pa2, FRAME_ORDER_2M), 0);

	/* A range of exactly 1 GiB, aligned: its records take the first
	 * frames, so no 1 GiB block, but 2 MiB blocks. */
	fresh();
	CHECK_EQ(frame_add_range(a + GiB, GiB), 0);
	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), 0);
	pa = frame_alloc(FRAME_ORDER_2M, FRAME_GUEST);
	CHECK(pa != 0);
	CHECK_EQ(pa & (2 * MiB - 1), 0);

	/* Two adjacent ranges that together cover an aligned 2 MiB: blocks
	 * never cross a range boundary, so no 2 MiB block. */
	fresh();
	CHECK_EQ(frame_add_range(a + 2 * MiB, MiB), 0);
	CHECK_EQ(frame_add_range(a + 3 * MiB, MiB), 0);
	CHECK_EQ(frame_alloc(FRAME_ORDER_2M, FRAME_GUEST), 0);
	CHECK_EQ(frame_alloc(8, FRAME_GUEST), 0); /* 1 MiB: records in each */
	CHECK(frame_alloc(7, FRAME_GUEST) != 0);

	/* Only small fragments: neither. */
	fresh();
	for (int i = 0; i < 20; i++)
		CHECK_EQ(frame_add_range(a + i * 4 * MiB + 4 * KiB, 3 * MiB), 0);
	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_DMA), 0);
	CHECK_EQ(frame_alloc(FRAME_ORDER_2M, FRAME_DMA), 0);
	CHECK(frame_alloc(FRAME_ORDER_2M - 1, FRAME_DMA) != 0);
}

/* Records of every range of a map, for comparing whole states. */
static void *snapshot(const struct expect *e, unsigned n, size_t *len)
{
	size_t total = 0, off = 0;
	char *buf;

	for (unsigned i = 0; i < n; i++)
		total += e[i].nmeta * 4 * KiB;
	buf = malloc(total);
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf + off, phys_to_virt(e[i].start), e[i].nmeta * 4 * KiB);
		off += e[i].nmeta * 4 * KiB;
	}
	*len = total;
	return buf;
}

struct blk {
	uint64_t pa;
	uint64_t order;
};

static int blk_cmp(const void *x, const void *y)
{
	const struct blk *a = x, *b = y;
	return a->pa < b->pa ? -1 : a->pa > b->pa;
}

TEST(random_alloc_free_coalesces_back)
{
	uint64_t a = fresh(), total, nfree, got = 0;
	struct expect e[40];
	struct blk *b = malloc(sizeof(*b) * 70000);
	uint64_t *idx = malloc(sizeof(*idx) * 70000);
	size_t n = 0, len0, len1;
	void *snap0, *snap1;
	struct frame_stats s0;

	add_fragmented(a, 40, e, &total, &nfree);
	s0 = st();
	snap0 = snapshot(e, 40, &len0);

	/* Random orders until nothing of any order is left. */
	for (;;) {
		unsigned order = (unsigned)(rnd() % 10);
		uint64_t pa = frame_alloc(order, FRAME_DMA);

		if (!pa) {
			pa = frame_alloc(0, FRAME_DMA);
			if (!pa)
				break;
			order = 0;
		}
		CHECK_EQ(pa & (((4 * KiB) << order) - 1), 0);
		b[n].pa = pa;
		b[n].order = order;
		idx[n] = n;
		n++;
		got += (4 * KiB) << order;
		if (n == 70000)
			break;
	}
	CHECK_EQ(got, nfree);
	CHECK_EQ(st().free, 0);
	for (size_t i = 0; i < n; i++)
		CHECK(frame_range_tagged(b[i].pa, (4 * KiB) << b[i].order, FRAME_DMA));

	/* No two blocks overlap. */
	qsort(b, n, sizeof(*b), blk_cmp);
	for (size_t i = 0; i + 1 < n; i++)
		CHECK(b[i].pa + ((4 * KiB) << b[i].order) <= b[i + 1].pa);

	shuffle(idx, n);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(frame_free(b[idx[i]].pa, (unsigned)b[idx[i]].order), 0);

	CHECK_EQ(st().free, s0.free);
	CHECK_EQ(st().total, s0.total);
	snap1 = snapshot(e, 40, &len1);
	CHECK_EQ(len0, len1);
	CHECK(memcmp(snap0, snap1, len0) == 0);
	free(snap0);
	free(snap1);
	free(b);
	free(idx);
}

TEST(exhaustion_and_back)
{
	uint64_t a = fresh();
	uint64_t *v = malloc(sizeof(*v) * 4096);
	size_t n = 0;
	struct frame_stats s0;

	CHECK_EQ(frame_add_range(a + 5 * KiB, 8 * MiB), 0);
	CHECK_EQ(frame_add_range(a + 20 * MiB, 3 * MiB + 100), 0);
	s0 = st();
	while (n < 4096) {
		uint64_t pa = frame_alloc(0, FRAME_SLUICE);
		if (!pa)
			break;
		CHECK(frame_get(pa) != NULL);
		v[n++] = pa;
	}
	CHECK_EQ(n * 4 * KiB, s0.free);
	CHECK_EQ(st().free, 0);
	for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++)
		CHECK_EQ(frame_alloc(o, FRAME_SLUICE), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(frame_free(v[i], 0), 0);
	CHECK_EQ(st().free, s0.free);
	/* Coalesced: the big blocks are back (4 MiB fits in [a, a+8 MiB)). */
	CHECK(frame_alloc(10, FRAME_SLUICE) != 0);
	free(v);
}

TEST(free_errors)
{
	uint64_t a = fresh(), pa;
	struct frame_stats s0;

	CHECK_EQ(frame_add_range(a + 4 * MiB, 16 * MiB), 0);
	pa = frame_alloc(3, FRAME_USER);
	CHECK(pa != 0);
	s0 = st();
	CHECK_EQ(frame_free(pa, 2), -EINVAL); /* wrong order */
	CHECK_EQ(frame_free(pa, 4), -EINVAL);
	CHECK_EQ(frame_free(pa, 19), -EINVAL); /* bad order */
	CHECK_EQ(frame_free(pa, 1000), -EINVAL);
	CHECK_EQ(frame_free(pa + 4 * KiB, 0), -EINVAL);	 /* interior */
	CHECK_EQ(frame_free(pa + 8, 3), -EINVAL);	 /* unaligned */
	CHECK_EQ(frame_free(a, 0), -EINVAL);		 /* unmanaged */
	CHECK_EQ(frame_free(a + 4 * MiB, 0), -EINVAL);	 /* records */
	CHECK_EQ(frame_free(pa + 64 * KiB, 0), -EINVAL); /* a free frame */
	CHECK_EQ(st().free, s0.free);
	CHECK(frame_range_tagged(pa, 32 * KiB, FRAME_USER));
	CHECK_EQ(frame_free(pa, 3), 0);
	CHECK_EQ(frame_free(pa, 3), -EINVAL); /* double free */
	CHECK_EQ(st().free, s0.free + 32 * KiB);
	/* Bad order or tag on alloc. */
	CHECK_EQ(frame_alloc(19, FRAME_USER), 0);
	CHECK_EQ(frame_alloc(0, FRAME_FREE), 0);
	CHECK_EQ(frame_alloc(0, (enum frame_tag)42), 0);
}

TEST(free_pinned_is_busy)
{
	uint64_t a = fresh(), pa;
	struct frame_stats s0;

	CHECK_EQ(frame_add_range(a + 4 * MiB, 16 * MiB), 0);
	pa = frame_alloc(4, FRAME_DMA);
	CHECK(pa != 0);
	CHECK_EQ(frame_pin(pa + 5 * 4 * KiB, 4 * KiB), 0);
	s0 = st();
	CHECK_EQ(s0.pinned, 4 * KiB);
	CHECK_EQ(frame_free(pa, 4), -EBUSY);
	CHECK_EQ(st().free, s0.free);
	CHECK_EQ(st().pinned, s0.pinned);
	CHECK(frame_range_tagged(pa, 64 * KiB, FRAME_DMA));
	CHECK_EQ(frame_get(pa)->order, 4);
	CHECK_EQ(frame_get(pa + 5 * 4 * KiB)->pins, 1);
	frame_unpin(pa + 5 * 4 * KiB, 4 * KiB);
	CHECK_EQ(st().pinned, 0);
	CHECK_EQ(frame_free(pa, 4), 0);
	CHECK_EQ(st().free, s0.free + 64 * KiB);
}

TEST(pin_unpin_all_or_nothing)
{
	uint64_t a = fresh(), b0, b1, r2;
	struct frame_stats s;

	/* Two adjacent ranges; allocate everything so both are in use. */
	CHECK_EQ(frame_add_range(a + 2 * MiB, 2 * MiB), 0);
	CHECK_EQ(frame_add_range(a + 4 * MiB, 2 * MiB), 0);
	while ((b0 = frame_alloc(0, FRAME_USER)) != 0)
		;
	/* Across the range boundary: records of range 2 are FRAME_SLUICE,
	 * managed and not free, so pinnable. */
	r2 = a + 4 * MiB;
	CHECK_EQ(frame_pin(r2 - 8 * KiB, 16 * KiB), 0);
	CHECK_EQ(st().pinned, 16 * KiB);
	CHECK_EQ(frame_get(r2 - 4 * KiB)->pins, 1);
	CHECK_EQ(frame_get(r2)->pins, 1);
	/* Pinning again adds a pin but no pinned bytes. */
	CHECK_EQ(frame_pin(r2 - 4 * KiB, 4 * KiB), 0);
	CHECK_EQ(frame_get(r2 - 4 * KiB)->pins, 2);
	CHECK_EQ(st().pinned, 16 * KiB);

	/* Partly unmanaged (runs past the end): -EFAULT, nothing pinned. */
	CHECK_EQ(frame_pin(a + 6 * MiB - 8 * KiB, 16 * KiB), -EFAULT);
	CHECK_EQ(frame_get(a + 6 * MiB - 8 * KiB)->pins, 0);
	CHECK_EQ(frame_get(a + 6 * MiB - 4 * KiB)->pins, 0);
	CHECK_EQ(frame_pin(a, 4 * KiB), -EFAULT); /* unmanaged */
	CHECK_EQ(frame_pin(a + 2 * MiB - 4 * KiB, 8 * KiB), -EFAULT);
	CHECK_EQ(frame_get(a + 2 * MiB)->pins, 0);
	CHECK_EQ(frame_pin(r2 + 1, 4 * KiB), -EINVAL); /* unaligned */
	CHECK_EQ(frame_pin(r2, 100), -EINVAL);
	CHECK_EQ(st().pinned, 16 * KiB);

	/* A free frame in the middle: -EFAULT, nothing pinned. */
	b1 = r2 + 1 * MiB;
	CHECK_EQ(frame_free(b1, 0), 0);
	CHECK_EQ(frame_pin(b1 - 8 * KiB, 24 * KiB), -EFAULT);
	CHECK_EQ(frame_get(b1 - 8 * KiB)->pins, 0);
	CHECK_EQ(frame_get(b1 - 4 * KiB)->pins, 0);
	CHECK_EQ(frame_get(b1 + 4 * KiB)->pins, 0);
	CHECK_EQ(st().pinned, 16 * KiB);

	/* Unpin of a range with an unpinned frame: nothing changes, and it
	 * is logged. */
	test_con_reset();
	frame_unpin(r2 - 8 * KiB, 20 * KiB);
	CHECK(strstr(test_con_buf, "unpin") != NULL);
	CHECK_EQ(frame_get(r2 - 8 * KiB)->pins, 1);
	CHECK_EQ(frame_get(r2 - 4 * KiB)->pins, 2);
	CHECK_EQ(frame_get(r2 + 4 * KiB)->pins, 1);
	CHECK_EQ(st().pinned, 16 * KiB);
	test_con_reset();
	frame_unpin(a, 4 * KiB); /* unmanaged */
	CHECK(strstr(test_con_buf, "unpin") != NULL);
	CHECK_EQ(st().pinned, 16 * KiB);

	frame_unpin(r2 - 8 * KiB, 16 * KiB);
	s = st();
	CHECK_EQ(s.pinned, 4 * KiB); /* r2 - 4K still has one pin */
	CHECK_EQ(frame_get(r2 - 4 * KiB)->pins, 1);
	frame_unpin(r2 - 4 * KiB, 4 * KiB);
	CHECK_EQ(st().pinned, 0);
	CHECK_EQ(frame_get(r2 - 4 * KiB)->pins, 0);
	/* A saturated pin count: -EOVERFLOW, and the neighbour is untouched. */
	frame_get(r2 + 4 * KiB)->pins = UINT32_MAX;
	CHECK_EQ(frame_pin(r2, 8 * KiB), -EOVERFLOW);
	CHECK_EQ(frame_get(r2)->pins, 0);
	CHECK_EQ(frame_get(r2 + 4 * KiB)->pins, UINT32_MAX);
	frame_get(r2 + 4 * KiB)->pins = 0;
	/* Unaligned unpin: refused and logged. */
	CHECK_EQ(frame_pin(r2, 4 * KiB), 0);
	test_con_reset();
	frame_unpin(r2, 4 * KiB - 1);
	CHECK(strstr(test_con_buf, "unpin") != NULL);
	CHECK_EQ(frame_get(r2)->pins, 1);
	frame_unpin(r2, 4 * KiB);
	CHECK_EQ(st().pinned, 0);
	/* Empty range: nothing to do. */
	CHECK_EQ(frame_pin(r2, 0), 0);
	CHECK_EQ(st().pinned, 0);
}

TEST(stats_iopt_and_pinned)
{
	uint64_t a = fresh(), p1, p2, p3;
	struct frame_stats s0, s;

	CHECK_EQ(frame_add_range(a + 2 * MiB, 30 * MiB), 0);
	s0 = st();
	p1 = frame_alloc(0, FRAME_IOPT);
	p2 = frame_alloc(9, FRAME_IOPT);
	p3 = frame_alloc(2, FRAME_GUEST);
	CHECK(p1 && p2 && p3);
	s = st();
	CHECK_EQ(s.iopt, 4 * KiB + 2 * MiB);
	CHECK_EQ(s.free, s0.free - 4 * KiB - 2 * MiB - 16 * KiB);
	CHECK_EQ(frame_pin(p2, 2 * MiB), 0);
	CHECK_EQ(frame_pin(p3 + 4 * KiB, 8 * KiB), 0);
	CHECK_EQ(st().pinned, 2 * MiB + 8 * KiB);
	frame_unpin(p2, 2 * MiB);
	CHECK_EQ(frame_free(p2, 9), 0);
	CHECK_EQ(st().iopt, 4 * KiB);
	CHECK_EQ(st().pinned, 8 * KiB);
	CHECK_EQ(frame_free(p1, 0), 0);
	CHECK_EQ(st().iopt, 0);
	frame_unpin(p3 + 4 * KiB, 8 * KiB);
	CHECK_EQ(frame_free(p3, 2), 0);
	s = st();
	CHECK_EQ(s.free, s0.free);
	CHECK_EQ(s.pinned, 0);
	CHECK_EQ(s.iopt, 0);
	CHECK_EQ(s.total, s0.total);
}

TEST(alloc_zeroed)
{
	uint64_t a = fresh(), pa, pb;

	CHECK_EQ(frame_add_range(a + 2 * MiB, 2 * MiB), 0);
	pa = frame_alloc(2, FRAME_SLUICE);
	CHECK(pa != 0);
	memset(phys_to_virt(pa), 0xa5, 16 * KiB);
	CHECK_EQ(frame_free(pa, 2), 0);
	pb = frame_alloc_zeroed(2, FRAME_SLUICE);
	CHECK_EQ(pb, pa); /* LIFO: the same block, dirty before */
	for (uint64_t i = 0; i < 16 * KiB; i++)
		if (((uint8_t *)phys_to_virt(pb))[i]) {
			CHECK(0 && "not zeroed");
			break;
		}
	CHECK(frame_range_tagged(pb, 16 * KiB, FRAME_SLUICE));
}

TEST(add_range_errors_and_edges)
{
	uint64_t a = fresh();
	struct frame_stats s0;
	int err = 0;
	unsigned added = 0;

	CHECK_EQ(frame_add_range(a + 10 * MiB, 4 * MiB), 0);
	s0 = st();
	/* Overlaps: inside, straddling either edge, covering. */
	CHECK_EQ(frame_add_range(a + 11 * MiB, MiB), -EINVAL);
	CHECK_EQ(frame_add_range(a + 9 * MiB, 2 * MiB), -EINVAL);
	CHECK_EQ(frame_add_range(a + 13 * MiB, 2 * MiB), -EINVAL);
	CHECK_EQ(frame_add_range(a + 8 * MiB, 8 * MiB), -EINVAL);
	CHECK_EQ(frame_add_range(a + 10 * MiB, 4 * MiB), -EINVAL);
	CHECK_EQ(frame_add_range(UINT64_MAX - 4095, 8192), -EINVAL); /* wraps */
	/* Rounding the start up wraps past the top: nothing usable. */
	CHECK_EQ(frame_add_range(UINT64_MAX - 100, 50), 0);
	CHECK_EQ(st().total, s0.total);
	CHECK_EQ(st().free, s0.free);
	/* Touching neighbours are fine; the unaligned edge is trimmed. */
	CHECK_EQ(frame_add_range(a + 14 * MiB, MiB + 100), 0);
	CHECK_EQ(st().total, s0.total + MiB);
	CHECK(frame_get(a + 15 * MiB) == NULL);
	/* Nothing usable: empty, sub-page, a single frame (its record would
	 * take it), frame 0 (never managed). */
	CHECK_EQ(frame_add_range(a + 20 * MiB, 0), 0);
	CHECK_EQ(frame_add_range(a + 20 * MiB + 1, 4 * KiB), 0);
	CHECK_EQ(frame_add_range(a + 20 * MiB, 4 * KiB), 0);
	CHECK_EQ(frame_add_range(0, 4 * KiB), 0);
	/* [0, 8 KiB) would be two frames, one of records at address 0 (a
	 * crash here if frame 0 were kept); without frame 0 one is left,
	 * too small to manage. */
	CHECK_EQ(frame_add_range(0, 8 * KiB), 0);
	CHECK(frame_get(0) == NULL);
	CHECK(frame_get(4 * KiB) == NULL);
	CHECK(frame_get(a + 20 * MiB) == NULL);
	CHECK_EQ(st().total, s0.total + MiB);

	/* The range table holds 256 ranges; the next is -ENOSPC. */
	fresh();
	for (unsigned i = 0; i < 300; i++) {
		err = frame_add_range(a + 100 * MiB - i * 64 * KiB, 32 * KiB);
		if (err)
			break;
		added++;
	}
	CHECK_EQ(added, 256);
	CHECK_EQ(err, -ENOSPC);
	CHECK_EQ(st().total, 256 * 32 * KiB);
	/* And all of them work (added in descending order). */
	for (unsigned i = 0; i < 256; i++)
		CHECK(frame_get(a + 100 * MiB - i * 64 * KiB + 4 * KiB) != NULL);
}

TEST(never_returns_zero)
{
	uint64_t a = fresh();
	uint64_t pa;
	unsigned n = 0;

	CHECK_EQ(frame_add_range(a + 4 * KiB, 64 * KiB), 0);
	while ((pa = frame_alloc(0, FRAME_USER)) != 0) {
		CHECK(pa >= a + 4 * KiB);
		n++;
	}
	CHECK_EQ(n, 15); /* 16 frames, one of records */
}

TEST(range_tagged)
{
	uint64_t a = fresh(), pa;

	CHECK_EQ(frame_add_range(a + 2 * MiB, 2 * MiB), 0);
	pa = frame_alloc(1, FRAME_IOPT);
	CHECK(frame_range_tagged(pa, 8 * KiB, FRAME_IOPT));
	CHECK(frame_range_tagged(pa + 100, 10, FRAME_IOPT));
	CHECK(!frame_range_tagged(pa, 8 * KiB, FRAME_DMA));
	CHECK(!frame_range_tagged(pa, 8 * KiB + 1, FRAME_IOPT));
	CHECK(!frame_range_tagged(pa, 0, FRAME_IOPT));
	CHECK(!frame_range_tagged(a, 4 * KiB, FRAME_FREE)); /* unmanaged */
	CHECK(!frame_range_tagged(UINT64_MAX - 10, 100, FRAME_FREE));
}
