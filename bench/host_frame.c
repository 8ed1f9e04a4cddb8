// SOURCES: kernel/frame.c
/*
 * bench/host_frame.c — the frame allocator on a 64 GiB, ~200-range map.
 *
 * Reserves 64 GiB of host address space (MAP_NORESERVE, 1 GiB aligned) and
 * hands it to frame_add_range() as a fragmented map: 180 small unaligned
 * fragments in the first 4 GiB (like the holes below 4 GiB in a UEFI map)
 * and 20 large ranges with small holes over the remaining 60 GiB, added in
 * shuffled order.  Only the records (2 MiB per GiB, 128 MiB in all) and the
 * first bytes of free blocks become real memory.
 *
 * Prints one JSON object per figure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "kernel/frame.h"
#include "rng.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define SPACE (64 * GiB)
#define NSMALL 180
#define NLARGE 20
#define NRANGES (NSMALL + NLARGE)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void emit(const char *what, double value)
{
	printf("{\"bench\":\"frame\",\"what\":\"%s\",\"value\":%.1f}\n", what, value);
}

static void die(const char *what)
{
	fprintf(stderr, "host_frame: %s\n", what);
	exit(1);
}

int main(void)
{
	static uint64_t base[NRANGES], size[NRANGES];
	static unsigned order_idx[NRANGES];
	static uint64_t batch[65536];
	struct frame_stats s0, s;
	uint64_t a, p, t0, t1, sum = 0;
	void *m;
	unsigned n = 0;

	rng_seed(0x2545f4914f6cdd1dull); /* the seed the published figures used */

	m = mmap(NULL, SPACE + GiB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		die("cannot reserve 65 GiB of address space");
	a = ((uint64_t)(uintptr_t)m + GiB - 1) & ~(GiB - 1);

	/* Small fragments in [a, a + 4 GiB): random 64 KiB..16 MiB pieces at
	 * unaligned offsets with random holes. */
	p = a + 1 * MiB + 123;
	for (unsigned i = 0; i < NSMALL; i++) {
		base[n] = p;
		size[n] = 64 * KiB + rnd() % (16 * MiB) + rnd() % 4096;
		p += size[n] + 4 * KiB + rnd() % (4 * MiB);
		n++;
	}
	if (p > a + 4 * GiB)
		die("small fragments overflow 4 GiB");
	/* Large ranges over [a + 4 GiB, a + 64 GiB), 3 GiB each, with
	 * holes of up to 64 MiB at unaligned starts. */
	for (unsigned i = 0; i < NLARGE; i++) {
		uint64_t lo = a + 4 * GiB + i * 3 * GiB;
		uint64_t hole = (rnd() % (64 * MiB)) | 0x555;

		base[n] = lo + hole;
		size[n] = 3 * GiB - hole - rnd() % (8 * MiB);
		n++;
	}
	for (unsigned i = 0; i < n; i++)
		order_idx[i] = i;
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)(rnd() % i), t = order_idx[i - 1];
		order_idx[i - 1] = order_idx[j];
		order_idx[j] = t;
	}

	frame_init();
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		unsigned k = order_idx[i];
		if (frame_add_range(base[k], size[k]))
			die("frame_add_range failed");
	}
	t1 = now_ns();
	frame_stats(&s0);
	emit("ranges", n);
	emit("managed_gib", (double)s0.total / GiB);
	emit("add_ranges_total_ms", (t1 - t0) / 1e6);
	emit("add_range_ns_per_gib", (double)(t1 - t0) / ((double)s0.total / GiB));
	emit("meta_bytes_per_gib", (double)(s0.total - s0.free) / ((double)s0.total / GiB));

	/* 1M order-0 alloc+free pairs, back to back. */
	t0 = now_ns();
	for (unsigned i = 0; i < 1000000; i++) {
		uint64_t pa = frame_alloc(0, FRAME_SLUICE);
		if (!pa || frame_free(pa, 0))
			die("4k alloc/free failed");
		sum += pa;
	}
	t1 = now_ns();
	emit("alloc_free_4k_ns", (t1 - t0) / 1e6);

	/* 1M order-0 allocations in batches of 64K, each batch freed in
	 * allocation order (blocks split and coalesce for real).  One round
	 * first, untimed: it takes the host's page faults on the free-list
	 * nodes, which sluice (memory already mapped) does not have. */
	for (unsigned i = 0; i < 65536; i++)
		if (!(batch[i] = frame_alloc(0, FRAME_DMA)))
			die("4k batch alloc failed");
	for (unsigned i = 0; i < 65536; i++)
		if (frame_free(batch[i], 0))
			die("4k batch free failed");
	t0 = now_ns();
	for (unsigned round = 0; round < 16; round++) {
		for (unsigned i = 0; i < 65536; i++)
			if (!(batch[i] = frame_alloc(0, FRAME_DMA)))
				die("4k batch alloc failed");
		for (unsigned i = 0; i < 65536; i++)
			if (frame_free(batch[i], 0))
				die("4k batch free failed");
	}
	t1 = now_ns();
	emit("alloc_free_4k_batched_ns", (t1 - t0) / (16 * 65536.0));

	/* 2 MiB blocks: 1000 pairs (each tags 512 records twice). */
	t0 = now_ns();
	for (unsigned i = 0; i < 1000; i++) {
		uint64_t pa = frame_alloc(FRAME_ORDER_2M, FRAME_GUEST);
		if (!pa || (pa & (2 * MiB - 1)) || frame_free(pa, FRAME_ORDER_2M))
			die("2 MiB alloc/free failed");
	}
	t1 = now_ns();
	emit("alloc_free_2m_ns", (t1 - t0) / 1000.0);

	/* 1 GiB blocks: take every one there is, then give them back. */
	{
		static uint64_t g[64];
		unsigned ng = 0;

		t0 = now_ns();
		while (ng < 64 && (g[ng] = frame_alloc(FRAME_ORDER_1G, FRAME_GUEST)))
			ng++;
		t1 = now_ns();
		if (!ng)
			die("no 1 GiB block");
		emit("blocks_1g", ng);
		emit("alloc_1g_ns", (t1 - t0) / (double)ng);
		t0 = now_ns();
		for (unsigned i = 0; i < ng; i++)
			if (frame_free(g[i], FRAME_ORDER_1G))
				die("1 GiB free failed");
		t1 = now_ns();
		emit("free_1g_ns", (t1 - t0) / (double)ng);
	}

	/* frame_get on random managed addresses (binary search, ~200). */
	t0 = now_ns();
	for (unsigned i = 0; i < 1000000; i++) {
		unsigned k = (unsigned)(rnd() % n);
		uint64_t pa = base[k] + 4 * KiB + rnd() % (size[k] - 8 * KiB);
		struct frame *f = frame_get(pa);
		if (!f)
			die("frame_get lost a frame");
		sum += f->tag;
	}
	t1 = now_ns();
	emit("frame_get_ns", (t1 - t0) / 1e6);

	frame_stats(&s);
	if (s.free != s0.free || s.pinned || s.iopt)
		die("stats differ after the run");
	fprintf(stderr, "host_frame: checksum %" PRIx64 "\n", sum);
	return 0;
}
