// SOURCES: kernel/frame.c
/*
 * tests/unit/test_frame_carve.c — giving part of an allocated block back
 * (frame_free_range) and finding the block a frame belongs to
 * (frame_block_of): what is left stays allocated as naturally aligned
 * blocks with its tag, holder, charge owner and pins; the freed frames are
 * allocatable again and everything coalesces back once all is freed.
 *
 * Memory: a 2 GiB + 1 GiB window of host address space (MAP_NORESERVE;
 * the host address is the "physical" address), 1 GiB aligned; one range
 * [G - 4 MiB, 2G + 4 MiB) holding exactly one 1 GiB block, at G.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/hw.h"
#include "kernel/frame.h"
#include "rng.h"
#include "test.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define PG (4 * KiB)

static uint64_t arena; /* 1 GiB aligned, 3 GiB */

static struct frame_stats st(void)
{
	struct frame_stats s;

	frame_stats(&s);
	return s;
}

/* Fresh state: the one range; returns the address of the 1 GiB block. */
static uint64_t setup(void)
{
	if (!arena) {
		void *p = mmap(NULL, 4 * GiB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			exit(2);
		}
		arena = ((uint64_t)(uintptr_t)p + GiB - 1) & ~(GiB - 1);
	}
	madvise((void *)(uintptr_t)arena, 3 * GiB, MADV_DONTNEED);
	frame_init();
	CHECK_EQ(frame_add_range(arena + GiB - 4 * MiB, GiB + 8 * MiB), 0);
	return arena + GiB;
}

/* Every other free frame taken (order 0), so that the only free memory is
 * what the test gives back.  Returns how many; frames go into v. */
static size_t take_rest(uint64_t *v, size_t cap)
{
	size_t n = 0;
	uint64_t pa;

	while (n < cap && (pa = frame_alloc(0, FRAME_SLUICE)))
		v[n++] = pa;
	CHECK_EQ(st().free, 0);
	return n;
}

static void give_back(const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(frame_free(v[i], 0), 0);
}

/* Every frame of [pa, pa + size) says tag and holder. */
static bool all_held(uint64_t pa, uint64_t size, enum frame_tag tag, uint16_t holder)
{
	for (uint64_t p = pa; p < pa + size; p += PG) {
		const struct frame *f = frame_get(p);

		if (!f || f->tag != tag || f->holder != holder)
			return false;
	}
	return true;
}

/* One piece that must be an allocated block of its own. */
static void check_piece(uint64_t pa, unsigned order, uint16_t holder)
{
	uint64_t size = PG << order, b = 0;
	unsigned o = 99;

	CHECK_EQ(frame_get(pa)->order, order);
	CHECK(all_held(pa, size, FRAME_GUEST, holder));
	/* Found from its first and its last frame. */
	CHECK_EQ(frame_block_of(pa, &b, &o), 0);
	CHECK_EQ(b, pa);
	CHECK_EQ(o, order);
	CHECK_EQ(frame_block_of(pa + size - 1, &b, &o), 0);
	CHECK_EQ(b, pa);
	CHECK_EQ(o, order);
}

/* The pieces left of a hole at [off, off + size) in a block of 2^30 bytes,
 * from the rule rather than the code: on the left one block per set bit of
 * off, largest first; on the right one per set bit of 1 GiB - off - size,
 * smallest first (each edge is as aligned as its lowest set bit allows). */
static unsigned check_left_right(uint64_t blk, uint64_t off, uint64_t size, uint16_t holder)
{
	uint64_t p = blk, right = GiB - off - size;
	unsigned pieces = 0;

	for (int bit = 29; bit >= 12; bit--)
		if (off & (1ull << bit)) {
			check_piece(p, (unsigned)bit - 12, holder);
			p += 1ull << bit;
			pieces++;
		}
	CHECK_EQ(p, blk + off);
	p = blk + off + size;
	for (int bit = 12; bit <= 29; bit++)
		if (right & (1ull << bit)) {
			check_piece(p, (unsigned)bit - 12, holder);
			p += 1ull << bit;
			pieces++;
		}
	CHECK_EQ(p, blk + GiB);
	return pieces;
}

/* Frees whatever of [pa, pa + size) is still allocated, block by block. */
static unsigned free_left(uint64_t pa, uint64_t size)
{
	unsigned n = 0;

	for (uint64_t p = pa; p < pa + size;) {
		uint64_t b;
		unsigned o;

		if (frame_get(p)->tag == FRAME_FREE) {
			p += PG;
			continue;
		}
		CHECK_EQ(frame_block_of(p, &b, &o), 0);
		CHECK_EQ(b, p); /* a scan from a block's end meets the next head */
		CHECK_EQ(frame_free(b, o), 0);
		p = b + (PG << o);
		n++;
	}
	return n;
}

TEST(carve_every_edge)
{
	static const struct {
		uint64_t off, size;
	} cases[] = {
		{0, PG},		     /* first frame */
		{GiB - PG, PG},		     /* last frame */
		{512 * MiB, PG},	     /* middle, aligned */
		{2 * MiB - PG, PG},	     /* 4K below a 2M edge: 1M..4K, then 2M.. */
		{123 * PG, 7 * PG},	     /* odd middle */
		{0, 2 * MiB},		     /* a 2M page at the start */
		{3 * MiB, 5 * MiB + 3 * PG}, /* several pages */
		{PG, GiB - 2 * PG},	     /* all but the two edge frames */
		{GiB - 2 * MiB, 2 * MiB},    /* a 2M page at the end */
		{0, GiB},		     /* the whole block */
	};
	uint64_t *rest = malloc(sizeof(*rest) * 8192);

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t blk = setup(), off = cases[c].off, size = cases[c].size, pa = blk + off;
		struct frame_stats s0 = st(), s1;
		size_t nrest;
		unsigned pieces;

		CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), blk);
		frame_set_holder(blk, FRAME_ORDER_1G, 7);
		nrest = take_rest(rest, 4096);
		s1 = st();
		CHECK_EQ(frame_free_range(blk, FRAME_ORDER_1G, pa, size), 0);
		CHECK_EQ(st().free, s1.free + size);
		CHECK_EQ(st().total, s0.total);
		CHECK(frame_range_tagged(pa, size, FRAME_FREE));
		CHECK(all_held(pa, size, FRAME_FREE, 0));
		pieces = check_left_right(blk, off, size, 7);
		if (size == GiB)
			CHECK_EQ(pieces, 0);

		/* The freed frames, and only they, are allocatable again, in
		 * the largest blocks they hold (largest first, so only the first
		 * page of each is touched); freed, they coalesce back. */
		{
			uint64_t got = 0, pg;
			struct frame_stats s2 = st();
			size_t n = 0;
			unsigned o;

			for (int k = FRAME_MAX_ORDER; k >= 0; k--)
				while ((pg = frame_alloc((unsigned)k, FRAME_USER))) {
					CHECK(pg >= pa && pg + (PG << k) <= pa + size);
					got += PG << k;
					rest[nrest + n++] = pg;
				}
			CHECK_EQ(got, size);
			CHECK_EQ(st().free, 0);
			while (n--) {
				CHECK_EQ(frame_block_of(rest[nrest + n], &pg, &o), 0);
				CHECK_EQ(frame_free(pg, o), 0);
			}
			CHECK_EQ(st().free, s2.free);
		}

		/* The rest goes block by block; everything coalesces back. */
		CHECK_EQ(free_left(blk, GiB), pieces);
		give_back(rest, nrest);
		CHECK_EQ(st().free, s0.free);
		CHECK_EQ(st().pinned, 0);
		CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), blk);
	}
	free(rest);
}

/* The example of the interface: 4 KiB out of a 1 GiB block at 2M - 4K
 * leaves 1M, 512K, ... 4K below it and 2M, 4M, ... 512M above. */
TEST(carve_4k_out_of_1g_orders)
{
	uint64_t blk = setup(), hole = blk + 2 * MiB - PG, b;
	unsigned o, k;

	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), blk);
	frame_set_holder(blk, FRAME_ORDER_1G, 3);
	CHECK_EQ(frame_free_range(blk, FRAME_ORDER_1G, hole, PG), 0);
	for (k = 8, b = blk; b < hole; b += PG << k, k--)
		CHECK_EQ(frame_get(b)->order, k);
	CHECK_EQ(k, (unsigned)-1);
	for (k = 9, b = blk + 2 * MiB; b < blk + GiB; b += PG << k, k++)
		CHECK_EQ(frame_get(b)->order, k);
	CHECK_EQ(k, FRAME_ORDER_1G);
	CHECK_EQ(frame_block_of(hole, &b, &o), -EINVAL); /* free now */
	CHECK_EQ(frame_block_of(hole - 1, &b, &o), 0);
	CHECK_EQ(b, hole - PG);
	CHECK_EQ(o, 0);
	CHECK_EQ(frame_block_of(blk + 300 * MiB, &b, &o), 0);
	CHECK_EQ(b, blk + 256 * MiB);
	CHECK_EQ(o, 16);
}

/* Random holes of 4-32 KiB until 1/32 of the block is gone (each freed
 * page gets a free-list node written: the host memory the test touches), each found with
 * frame_block_of; a model of which frames are free checks every record. */
TEST(carve_random_holes)
{
	uint64_t blk = setup(), nfr = GiB / PG;
	uint8_t *gone = calloc(nfr, 1);
	struct frame_stats s0 = st(), s1;
	uint64_t freed = 0;

	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), blk);
	frame_set_holder(blk, FRAME_ORDER_1G, 9);
	s1 = st();
	while (freed < nfr / 32) {
		uint64_t i = rnd() % nfr, len = 1 + rnd() % 8, b;
		unsigned o;

		if (gone[i]) {
			CHECK_EQ(frame_block_of(blk + i * PG, &b, &o), -EINVAL);
			continue;
		}
		CHECK_EQ(frame_block_of(blk + i * PG, &b, &o), 0);
		/* Up to len frames, clipped to the block holding frame i. */
		if (i * PG + len * PG > b - blk + (PG << o))
			len = (b - blk + (PG << o)) / PG - i;
		CHECK_EQ(frame_free_range(b, o, blk + i * PG, len * PG), 0);
		for (uint64_t j = i; j < i + len; j++)
			gone[j] = 1;
		freed += len;
	}
	CHECK_EQ(st().free, s1.free + freed * PG);
	for (uint64_t i = 0; i < nfr; i++) {
		const struct frame *f = frame_get(blk + i * PG);
		CHECK_EQ(f->tag, gone[i] ? FRAME_FREE : FRAME_GUEST);
		CHECK_EQ(f->holder, gone[i] ? 0 : 9);
	}
	/* Every head left is aligned to its order and stays inside the block. */
	for (uint64_t i = 0; i < nfr; i++) {
		const struct frame *f = frame_get(blk + i * PG);
		if (f->tag == FRAME_GUEST && f->order != 0xff) {
			CHECK_EQ(i & ((1ull << f->order) - 1), 0);
			CHECK(i + (1ull << f->order) <= nfr);
		}
	}
	(void)free_left(blk, GiB);
	CHECK_EQ(st().free, s0.free);
	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), blk);
	free(gone);
}

TEST(carve_pinned_is_busy)
{
	uint64_t blk = setup(), pa = blk + 4 * MiB;
	size_t len = (GiB / PG) * sizeof(struct frame);
	struct frame_stats s0;
	void *before = malloc(len);

	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), blk);
	frame_set_holder(blk, FRAME_ORDER_1G, 2);
	CHECK_EQ(frame_pin(pa + 2 * MiB - PG, PG), 0); /* last frame of the range */
	CHECK_EQ(frame_pin(pa + 2 * MiB, PG), 0);      /* just after it */
	frame_get(pa + 2 * MiB)->owner = 5;	       /* a charge the dma layer made */
	s0 = st();
	memcpy(before, frame_get(blk), len);
	CHECK_EQ(frame_free_range(blk, FRAME_ORDER_1G, pa, 2 * MiB), -EBUSY);
	CHECK(memcmp(before, frame_get(blk), len) == 0);
	CHECK_EQ(st().free, s0.free);
	CHECK_EQ(st().pinned, s0.pinned);

	/* Pins outside the range stay with the piece that holds them. */
	frame_unpin(pa + 2 * MiB - PG, PG);
	CHECK_EQ(frame_free_range(blk, FRAME_ORDER_1G, pa, 2 * MiB), 0);
	CHECK_EQ(st().pinned, PG);
	CHECK_EQ(frame_get(pa + 2 * MiB)->pins, 1);
	CHECK_EQ(frame_get(pa + 2 * MiB)->owner, 5);
	CHECK_EQ(frame_get(blk)->order, 10);	     /* [0, 4M) */
	CHECK_EQ(frame_get(pa + 2 * MiB)->order, 9); /* [6M, 8M) */
	CHECK_EQ(frame_free(pa + 2 * MiB, 9), -EBUSY);
	CHECK_EQ(frame_free_range(pa + 2 * MiB, 9, pa + 2 * MiB, PG), -EBUSY);
	frame_unpin(pa + 2 * MiB, PG);
	CHECK_EQ(frame_free_range(pa + 2 * MiB, 9, pa + 2 * MiB, PG), 0);
	(void)free_left(blk, GiB);
	CHECK_EQ(st().pinned, 0);
	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), blk);
	free(before);
}

TEST(carve_bad_arguments)
{
	uint64_t blk = setup(), small, b = 1;
	size_t len = (GiB / PG) * sizeof(struct frame);
	void *before = malloc(len);
	struct frame_stats s0;
	unsigned o = 1;

	CHECK_EQ(frame_alloc(FRAME_ORDER_1G, FRAME_GUEST), blk);
	small = frame_alloc(3, FRAME_USER); /* 32 KiB outside the big block */
	CHECK(small != 0);
	s0 = st();
	memcpy(before, frame_get(blk), len);
	CHECK_EQ(frame_free_range(blk, 17, blk, PG), -EINVAL);		/* wrong order */
	CHECK_EQ(frame_free_range(blk, 19, blk, PG), -EINVAL);		/* bad order */
	CHECK_EQ(frame_free_range(blk + PG, 0, blk + PG, PG), -EINVAL); /* interior */
	CHECK_EQ(frame_free_range(blk + 2 * MiB, 9, blk + 2 * MiB, PG), -EINVAL);
	CHECK_EQ(frame_free_range(blk + 8, 18, blk + 8, PG), -EINVAL);	      /* unaligned block */
	CHECK_EQ(frame_free_range(blk, 18, blk + 8, PG), -EINVAL);	      /* unaligned pa */
	CHECK_EQ(frame_free_range(blk, 18, blk, PG + 8), -EINVAL);	      /* unaligned size */
	CHECK_EQ(frame_free_range(blk, 18, blk, 0), -EINVAL);		      /* empty */
	CHECK_EQ(frame_free_range(blk, 18, blk - PG, 2 * PG), -EINVAL);	      /* starts before */
	CHECK_EQ(frame_free_range(blk, 18, blk + GiB - PG, 2 * PG), -EINVAL); /* ends after */
	CHECK_EQ(frame_free_range(blk, 18, blk, GiB + PG), -EINVAL);
	CHECK_EQ(frame_free_range(blk, 18, blk + GiB, PG), -EINVAL);		   /* after */
	CHECK_EQ(frame_free_range(blk, 18, blk + PG, ~0ull & ~(PG - 1)), -EINVAL); /* wraps */
	CHECK_EQ(frame_free_range(small, 18, small, PG), -EINVAL); /* other block's order */
	CHECK_EQ(frame_free_range(small, 3, blk, PG), -EINVAL);	   /* not in that block */
	CHECK_EQ(frame_free_range(arena, 0, arena, PG), -EINVAL);  /* unmanaged */
	CHECK_EQ(frame_free_range(arena + GiB - 4 * MiB, 0, arena + GiB - 4 * MiB, PG),
		 -EINVAL); /* records */
	CHECK(memcmp(before, frame_get(blk), len) == 0);
	CHECK_EQ(st().free, s0.free);

	/* frame_block_of: free, unmanaged, record frames. */
	CHECK_EQ(frame_block_of(arena, &b, &o), -EINVAL);
	CHECK_EQ(frame_block_of(0, &b, &o), -EINVAL);
	CHECK_EQ(frame_block_of(arena + GiB - 4 * MiB, &b, &o), -EINVAL);
	CHECK_EQ(frame_free(small, 3), 0);
	CHECK_EQ(frame_block_of(small, &b, &o), -EINVAL);
	CHECK_EQ(frame_block_of(blk + GiB - 1, &b, &o), 0);
	CHECK_EQ(b, blk);
	CHECK_EQ(o, FRAME_ORDER_1G);
	free(before);
}

/* Table memory leaves the iopt count as it is freed; a 32 KiB block with
 * frame 5 freed is 16K + 4K below the hole and 8K above it. */
TEST(carve_small_block_and_iopt)
{
	uint64_t blk = setup(), pa, b;
	unsigned o;

	(void)blk;
	pa = frame_alloc(3, FRAME_IOPT);
	CHECK(pa != 0);
	CHECK_EQ(st().iopt, 32 * KiB);
	CHECK_EQ(frame_free_range(pa, 3, pa + 5 * PG, PG), 0);
	CHECK_EQ(st().iopt, 28 * KiB);
	CHECK_EQ(frame_get(pa)->order, 2);
	CHECK_EQ(frame_get(pa + 4 * PG)->order, 0);
	CHECK_EQ(frame_get(pa + 6 * PG)->order, 1);
	CHECK_EQ(frame_block_of(pa + 7 * PG, &b, &o), 0);
	CHECK_EQ(b, pa + 6 * PG);
	CHECK_EQ(o, 1);
	CHECK(frame_range_tagged(pa, 5 * PG, FRAME_IOPT));
	CHECK(frame_range_tagged(pa + 6 * PG, 2 * PG, FRAME_IOPT));
	CHECK_EQ(frame_free(pa, 2), 0);
	CHECK_EQ(frame_free(pa + 4 * PG, 0), 0);
	CHECK_EQ(frame_free(pa + 6 * PG, 1), 0);
	CHECK_EQ(st().iopt, 0);
	CHECK_EQ(frame_block_of(pa, &b, &o), -EINVAL);
}
