// SOURCES: kernel/frame.c
/*
 * tests/unit/test_frame_run.c — the run API of the frame database
 * (frame_run) and the one-pass pin/unpin with rollback: all or nothing
 * across ranges, the first bad frame's error code, and pinned-bytes stats
 * counted once per frame that goes 0 -> 1 / 1 -> 0.
 *
 * Memory: a 64 MiB window of host address space (MAP_NORESERVE; the host
 * address is the "physical" address), split into two adjacent ranges and
 * one separate range with an unmanaged gap before it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/hw.h"
#include "kernel/frame.h"
#include "test.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)

static uint64_t arena; /* 2 MiB aligned, 64 MiB */

/* Ranges: A = [a+2M, a+18M), B = [a+18M, a+34M) adjacent to A,
 * gap [a+34M, a+36M), C = [a+36M, a+52M). */
static uint64_t setup(void)
{
	if (!arena) {
		void *p = mmap(NULL, 66 * MiB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			exit(2);
		}
		arena = ((uint64_t)(uintptr_t)p + 2 * MiB - 1) & ~(2 * MiB - 1);
	}
	madvise((void *)(uintptr_t)arena, 64 * MiB, MADV_DONTNEED);
	frame_init();
	CHECK_EQ(frame_add_range(arena + 2 * MiB, 16 * MiB), 0);
	CHECK_EQ(frame_add_range(arena + 18 * MiB, 16 * MiB), 0);
	CHECK_EQ(frame_add_range(arena + 36 * MiB, 16 * MiB), 0);
	return arena;
}

static uint64_t pinned(void)
{
	struct frame_stats s;

	frame_stats(&s);
	return s.pinned;
}

/* The last allocated order-9 block below limit (blocks come out of the
 * ranges in some order; the tests want one in a given range). */
static uint64_t alloc_in(uint64_t lo, uint64_t hi)
{
	uint64_t got[64], n = 0, pa = 0;

	while (n < 64) {
		uint64_t x = frame_alloc(9, FRAME_USER);
		if (!x)
			break;
		if (x >= lo && x + 2 * MiB <= hi) {
			pa = x;
			break;
		}
		got[n++] = x;
	}
	while (n--)
		CHECK_EQ(frame_free(got[n], 9), 0);
	return pa;
}

TEST(frame_run_walks_one_range)
{
	uint64_t a = setup(), n = 99, pa;
	struct frame *f;

	/* Unmanaged: the gap, below everything, frame 0. */
	CHECK(frame_run(a + 34 * MiB, &n) == NULL);
	CHECK_EQ(n, 0);
	n = 99;
	CHECK(frame_run(a, &n) == NULL);
	CHECK_EQ(n, 0);
	n = 99;
	CHECK(frame_run(0, &n) == NULL);
	CHECK_EQ(n, 0);

	/* Inside A: the record frame_get gives, and the frames to A's end. */
	pa = a + 5 * MiB + 12 * KiB;
	f = frame_run(pa, &n);
	CHECK(f == frame_get(pa));
	CHECK_EQ(n, (a + 18 * MiB - pa) / FRAME_SIZE);
	/* Records are contiguous: f[i] is the frame i pages on. */
	CHECK(&f[7] == frame_get(pa + 7 * FRAME_SIZE));
	CHECK(&f[n - 1] == frame_get(a + 18 * MiB - FRAME_SIZE));
	/* An unaligned address gives its frame's record. */
	CHECK(frame_run(pa + 123, &n) == f);

	/* The last frame of A is a run of one; B starts a new run even though
	 * it is adjacent. */
	f = frame_run(a + 18 * MiB - FRAME_SIZE, &n);
	CHECK(f != NULL);
	CHECK_EQ(n, 1);
	f = frame_run(a + 18 * MiB, &n);
	CHECK(f == frame_get(a + 18 * MiB));
	CHECK_EQ(n, 16 * MiB / FRAME_SIZE);
	/* The first frames of a range are its records (FRAME_SLUICE). */
	CHECK_EQ(f->tag, FRAME_SLUICE);
}

TEST(frame_pin_across_ranges_all_or_nothing)
{
	uint64_t a = setup(), pb, pc, endb = a + 34 * MiB, x;

	/* User blocks: the last one of B (next to the gap), one more in B,
	 * one in C. */
	x = alloc_in(endb - 2 * MiB, endb);
	CHECK_EQ(x, endb - 2 * MiB);
	pb = alloc_in(a + 18 * MiB, endb - 2 * MiB);
	pc = alloc_in(a + 36 * MiB, a + 52 * MiB);
	CHECK(pb && pc);

	/* Some frames already pinned: only 0 -> 1 transitions count. */
	CHECK_EQ(frame_pin(pb + 8 * KiB, 8 * KiB), 0);
	CHECK_EQ(pinned(), 8 * KiB);
	CHECK_EQ(frame_pin(pb, 2 * MiB), 0);
	CHECK_EQ(pinned(), 2 * MiB);
	CHECK_EQ(frame_get(pb)->pins, 1);
	CHECK_EQ(frame_get(pb + 8 * KiB)->pins, 2);
	CHECK_EQ(frame_get(pb + 12 * KiB)->pins, 2);

	/* A free frame right after the block: the rollback takes back every
	 * pin already added (the prefix), pins and stats as before. */
	CHECK_EQ(frame_free(pc, 9), 0);
	pc = 0;
	CHECK_EQ(frame_pin(pb, 2 * MiB + 4 * KiB), -EFAULT); /* runs into free */
	CHECK_EQ(frame_get(pb)->pins, 1);
	CHECK_EQ(frame_get(pb + 8 * KiB)->pins, 2);
	CHECK_EQ(frame_get(pb + 2 * MiB - 4 * KiB)->pins, 1);
	CHECK_EQ(pinned(), 2 * MiB);

	/* The first bad frame decides: saturated before free -> -EOVERFLOW
	 * (free before saturated was -EFAULT above).  Nothing changes. */
	frame_get(pb + 16 * KiB)->pins = UINT32_MAX;
	CHECK_EQ(frame_pin(pb, 2 * MiB + 4 * KiB), -EOVERFLOW);
	CHECK_EQ(frame_get(pb)->pins, 1);
	CHECK_EQ(frame_get(pb + 12 * KiB)->pins, 2);
	CHECK_EQ(frame_get(pb + 20 * KiB)->pins, 1);
	CHECK_EQ(pinned(), 2 * MiB);
	frame_get(pb + 16 * KiB)->pins = 1;

	/* Across the gap between B and C: -EFAULT at the unmanaged frame,
	 * after the whole end of B was pinned and is rolled back. */
	{
		uint64_t tail = endb - 64 * KiB;

		CHECK_EQ(frame_pin(tail, 128 * KiB), -EFAULT);
		CHECK_EQ(frame_get(tail)->pins, 0);
		CHECK_EQ(frame_get(endb - 4 * KiB)->pins, 0);
		CHECK_EQ(pinned(), 2 * MiB);
		/* Exactly to the end of B: fine, one run. */
		CHECK_EQ(frame_pin(tail, 64 * KiB), 0);
		CHECK_EQ(pinned(), 2 * MiB + 64 * KiB);
		frame_unpin(tail, 64 * KiB);
		CHECK_EQ(frame_get(tail)->pins, 0);
		CHECK_EQ(frame_free(x, 9), 0);
	}

	/* Unpin counts 1 -> 0 transitions only. */
	frame_unpin(pb, 2 * MiB);
	CHECK_EQ(pinned(), 8 * KiB);
	CHECK_EQ(frame_get(pb)->pins, 0);
	CHECK_EQ(frame_get(pb + 8 * KiB)->pins, 1);
	frame_unpin(pb + 8 * KiB, 8 * KiB);
	CHECK_EQ(pinned(), 0);
	CHECK_EQ(frame_free(pb, 9), 0);
}

TEST(frame_pin_spans_adjacent_ranges)
{
	uint64_t a = setup(), x, y, edge = a + 18 * MiB;

	/* The last block of A and the first user block of B touch only if B's
	 * records sit elsewhere; they do not (records are B's first frames),
	 * so a pin across the A|B edge reaches B's record frames, which are
	 * FRAME_SLUICE (not free): pinnable by the frame layer, which only
	 * refuses free frames.  That is a cross-range pin of two runs. */
	x = alloc_in(edge - 2 * MiB, edge);
	CHECK_EQ(x, edge - 2 * MiB);
	CHECK_EQ(frame_pin(edge - 8 * KiB, 16 * KiB), 0);
	CHECK_EQ(frame_get(edge - 4 * KiB)->pins, 1);
	CHECK_EQ(frame_get(edge)->pins, 1);
	CHECK_EQ(pinned(), 16 * KiB);

	/* Unpin across the edge with an unpinned frame in the second run:
	 * nothing changes (the first run's decrements are rolled back), and
	 * the refusal is logged. */
	test_con_reset();
	frame_unpin(edge - 8 * KiB, 24 * KiB);
	CHECK(strstr(test_con_buf, "unpin") != NULL);
	CHECK_EQ(frame_get(edge - 8 * KiB)->pins, 1);
	CHECK_EQ(frame_get(edge - 4 * KiB)->pins, 1);
	CHECK_EQ(frame_get(edge)->pins, 1);
	CHECK_EQ(frame_get(edge + 4 * KiB)->pins, 1);
	CHECK_EQ(pinned(), 16 * KiB);

	frame_unpin(edge - 8 * KiB, 16 * KiB);
	CHECK_EQ(pinned(), 0);
	CHECK_EQ(frame_get(edge)->pins, 0);
	/* Now the blocks can be freed again: no pin left behind. */
	CHECK_EQ(frame_free(x, 9), 0);
	y = frame_alloc(9, FRAME_USER);
	CHECK(y != 0);
	CHECK_EQ(frame_free(y, 9), 0);
}
