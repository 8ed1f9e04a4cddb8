// SOURCES: kernel/memmap.c kernel/frame.c iommu/vtd/dmar.c tests/unit/acpi_build.c
/*
 * tests/unit/test_memmap.c — the boot-memory-map checks bring-up applies to
 * the DMAR (kernel/memmap.c): an RMRR is accepted only if every byte lies in
 * reserved or ACPI NVS regions, a DRHD only if its register set touches no
 * RAM; by range intersection (a huge RMRR is as fast as a small one).
 * QEMU's DMAR has no RMRR, so these host tests are the proof of the policy.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "acpi_build.h"
#include "hw/hw.h"
#include "iommu/vtd/dmar.h"
#include "kernel/frame.h"
#include "kernel/memmap.h"
#include "test.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* A firmware-like map, deliberately out of order:
 *   [0, 640K) usable, [640K, 1M) reserved, [1M, 16M) usable,
 *   [16M, 18M) loader, [18M, 2G) usable, [2G, 2G+1M) reserved,
 *   [2G+1M, 2G+2M) NVS (adjacent), [2G+2M, 2G+3M) ACPI tables,
 *   hole [2G+3M, 3G), [3G, 3G+16M) boot-services data (usable),
 *   [0xfed00000, +1M) reserved, [0xfee00000, +1M) MMIO,
 *   [0xff000000, +16M) unusable, [4G, 8G) usable. */
static const struct mem_region map[] = {
	{2 * GiB + 2 * MiB, 1 * MiB, MEM_ACPI, 0},
	{0, 640 * KiB, MEM_USABLE, 0},
	{640 * KiB, 384 * KiB, MEM_RESERVED, 0},
	{1 * MiB, 15 * MiB, MEM_USABLE, 0},
	{2 * GiB + 1 * MiB, 1 * MiB, MEM_ACPI_NVS, 0},
	{16 * MiB, 2 * MiB, MEM_LOADER, 0},
	{18 * MiB, 2 * GiB - 18 * MiB, MEM_USABLE, 0},
	{2 * GiB, 1 * MiB, MEM_RESERVED, 0},
	{3 * GiB, 16 * MiB, MEM_USABLE, 0},
	{0xfed00000, 1 * MiB, MEM_RESERVED, 0},
	{0xfee00000, 1 * MiB, MEM_MMIO, 0},
	{0xff000000, 16 * MiB, MEM_UNUSABLE, 0},
	{4 * GiB, 4 * GiB, MEM_USABLE, 0},
};
#define NMAP (sizeof(map) / sizeof(map[0]))

static int rmrr(uint64_t base, uint64_t last, uint64_t *at, uint32_t *kind)
{
	*at = 0x1234;
	*kind = 0xdead;
	return memmap_rmrr_check(map, NMAP, base, last, at, kind);
}

static int drhd(uint64_t base, uint64_t size, uint64_t *at, uint32_t *kind)
{
	*at = 0x1234;
	*kind = 0xdead;
	return memmap_drhd_check(map, NMAP, base, size, at, kind);
}

TEST(rmrr_inside_one_reserved_region_is_accepted)
{
	uint64_t at;
	uint32_t kind;

	CHECK_EQ(rmrr(0xe0000, 0xeffff, &at, &kind), 0);
	CHECK_EQ(rmrr(640 * KiB, 1 * MiB - 1, &at, &kind), 0); /* exactly the region */
	CHECK_EQ(rmrr(2 * GiB + 1 * MiB, 2 * GiB + 2 * MiB - 1, &at, &kind), 0); /* NVS alone */
}

TEST(rmrr_spanning_adjacent_reserved_and_nvs_is_accepted)
{
	uint64_t at;
	uint32_t kind;

	CHECK_EQ(rmrr(2 * GiB + 512 * KiB, 2 * GiB + 1 * MiB + 4095, &at, &kind), 0);
	CHECK_EQ(rmrr(2 * GiB, 2 * GiB + 2 * MiB - 1, &at, &kind), 0);
}

TEST(rmrr_touching_usable_ram_is_refused_at_the_first_ram_byte)
{
	uint64_t at;
	uint32_t kind;

	/* Last page of the reserved low region plus the first MiB page. */
	CHECK_EQ(rmrr(1 * MiB - 4096, 1 * MiB + 4095, &at, &kind), -EPERM);
	CHECK_EQ(at, 1 * MiB);
	CHECK_EQ(kind, MEM_USABLE);
	/* Low memory (below 1 MiB, which the frame database never holds). */
	CHECK_EQ(rmrr(0x9f000, 0x9ffff, &at, &kind), -EPERM);
	CHECK_EQ(at, 0x9f000);
	CHECK_EQ(kind, MEM_USABLE);
	/* Reserved then NVS then one page of ACPI tables. */
	CHECK_EQ(rmrr(2 * GiB, 2 * GiB + 2 * MiB + 4095, &at, &kind), -EPERM);
	CHECK_EQ(at, 2 * GiB + 2 * MiB);
	CHECK_EQ(kind, MEM_ACPI);
	CHECK(strcmp(mem_kind_name(MEM_USABLE), "usable RAM") == 0);
}

TEST(rmrr_over_loader_or_boot_services_memory_is_refused)
{
	uint64_t at;
	uint32_t kind;

	CHECK_EQ(rmrr(16 * MiB, 18 * MiB - 1, &at, &kind), -EPERM); /* sluice's image etc. */
	CHECK_EQ(at, 16 * MiB);
	CHECK_EQ(kind, MEM_LOADER);
	CHECK_EQ(rmrr(3 * GiB + 4096, 3 * GiB + 8191, &at, &kind), -EPERM);
	CHECK_EQ(kind, MEM_USABLE);
	CHECK_EQ(rmrr(0xfee00000, 0xfee00fff, &at, &kind), -EPERM); /* MMIO */
	CHECK_EQ(kind, MEM_MMIO);
	CHECK_EQ(rmrr(0xff000000, 0xff000fff, &at, &kind), -EPERM);
	CHECK_EQ(kind, MEM_UNUSABLE);
}

TEST(rmrr_in_a_hole_of_the_map_is_refused)
{
	uint64_t at;
	uint32_t kind;

	CHECK_EQ(rmrr(2 * GiB + 3 * MiB, 2 * GiB + 4 * MiB - 1, &at, &kind), -EPERM);
	CHECK_EQ(at, 2 * GiB + 3 * MiB);
	CHECK_EQ(kind, MEMMAP_HOLE);
	/* From the end of the ACPI tables up to 3 GiB: all hole. */
	CHECK_EQ(rmrr(2 * GiB + 2 * MiB + 1 * MiB, 3 * GiB - 1, &at, &kind), -EPERM);
	CHECK_EQ(kind, MEMMAP_HOLE);
	/* No map at all: nothing is reserved. */
	CHECK_EQ(memmap_rmrr_check(map, 0, 640 * KiB, 1 * MiB - 1, &at, &kind), -EPERM);
	CHECK_EQ(kind, MEMMAP_HOLE);
}

TEST(rmrr_partly_covered_by_an_overlapping_ram_region_is_refused)
{
	/* A broken map: a usable region overlaps the reserved one. */
	static const struct mem_region bad[] = {
		{0x100000, 0x100000, MEM_RESERVED, 0},
		{0x180000, 0x1000, MEM_USABLE, 0},
	};
	uint64_t at = 0;
	uint32_t kind = 0;

	CHECK_EQ(memmap_rmrr_check(bad, 2, 0x100000, 0x1fffff, &at, &kind), -EPERM);
	CHECK_EQ(at, 0x180000);
	CHECK_EQ(kind, MEM_USABLE);
	CHECK_EQ(memmap_rmrr_check(bad, 2, 0x100000, 0x17ffff, &at, &kind), 0);
}

static double secs(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

TEST(huge_rmrr_is_decided_without_walking_pages)
{
	static const struct mem_region big[] = {
		{0, 1 * GiB, MEM_USABLE, 0},
		{1ull << 40, 1ull << 62, MEM_RESERVED, 0},
		{(1ull << 40) + (1ull << 62), 1ull << 62, MEM_ACPI_NVS, 0},
	};
	uint64_t at = 0;
	uint32_t kind = 0;
	double t0 = secs();

	/* Above RAM, in no region: 2^51 pages, refused at once. */
	CHECK_EQ(memmap_rmrr_check(big, 3, 1ull << 36, (1ull << 63) - 1, &at, &kind), -EPERM);
	CHECK_EQ(at, 1ull << 36);
	CHECK_EQ(kind, MEMMAP_HOLE);
	/* 2^51 pages of reserved + NVS: accepted just as fast. */
	CHECK_EQ(memmap_rmrr_check(big, 3, 1ull << 40, (1ull << 40) + (1ull << 63) - 1, &at, &kind),
		 0);
	/* Up to the top of the address space: a region that would wrap. */
	static const struct mem_region top[] = {{1ull << 63, UINT64_MAX, MEM_RESERVED, 0}};
	CHECK_EQ(memmap_rmrr_check(top, 1, 1ull << 63, UINT64_MAX - 4096, &at, &kind), 0);
	CHECK(secs() - t0 < 0.5);
}

TEST(drhd_in_ram_is_refused_in_mmio_reserved_or_hole_accepted)
{
	uint64_t at;
	uint32_t kind;

	CHECK_EQ(drhd(0xfed90000, 4096, &at, &kind), 0);	/* reserved */
	CHECK_EQ(drhd(0xfee10000, 4096, &at, &kind), 0);	/* MMIO */
	CHECK_EQ(drhd(2 * GiB + 3 * MiB, 8192, &at, &kind), 0); /* hole */
	CHECK_EQ(drhd(16 * MiB, 4096, &at, &kind), -EPERM);	/* loader */
	CHECK_EQ(at, 16 * MiB);
	CHECK_EQ(kind, MEM_LOADER);
	CHECK_EQ(drhd(5 * GiB, 4096, &at, &kind), -EPERM);
	CHECK_EQ(kind, MEM_USABLE);
	CHECK_EQ(drhd(2 * GiB + 1 * MiB, 4096, &at, &kind), -EPERM); /* NVS is RAM */
	CHECK_EQ(kind, MEM_ACPI_NVS);
	CHECK_EQ(drhd(2 * GiB + 2 * MiB, 4096, &at, &kind), -EPERM); /* ACPI tables */
	CHECK_EQ(kind, MEM_ACPI);
	/* The second page of a two-page register set reaches usable RAM. */
	CHECK_EQ(drhd(1 * MiB - 4096, 8192, &at, &kind), -EPERM);
	CHECK_EQ(at, 1 * MiB);
	/* An unknown UEFI type counts as RAM. */
	static const struct mem_region odd[] = {{0x10000000, 0x1000, MEM_OTHER, 0},
						{0x10001000, 0x1000, 200, 0}};
	CHECK_EQ(memmap_drhd_check(odd, 2, 0x10000000, 4096, &at, &kind), -EPERM);
	CHECK_EQ(memmap_drhd_check(odd, 2, 0x10001000, 4096, &at, &kind), -EPERM);
	CHECK_EQ(kind, 200);
	CHECK(strstr(mem_kind_name(200), "does not know") != NULL);
}

/* The parsed DMAR's inclusive RMRR limit and 2^Size-page DRHD register set
 * feed the checks as they are: limits at a region's last byte pass, one
 * page more does not. */
TEST(parsed_dmar_entries_against_the_map)
{
	struct abuf b;
	struct dmar_info *info = NULL;
	uint64_t at;
	uint32_t kind;

	ab_init(&b);
	size_t t = ab_dmar_begin(&b, 38, 1);
	size_t d = ab_drhd_begin(&b, 1, 0, 0, 0xfed90000ull);
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, 0, 1, 0, 1 * MiB - 4096); /* Size 1: two pages */
	ab_scope(&b, 1, 0, 0, 1, (const uint8_t[]){2, 0});
	ab_struct_end(&b, d);
	d = ab_rmrr_begin(&b, 0, 640 * KiB, 1 * MiB - 1);
	ab_scope(&b, 1, 0, 0, 1, (const uint8_t[]){0x1d, 0});
	ab_struct_end(&b, d);
	d = ab_rmrr_begin(&b, 0, 640 * KiB, 1 * MiB + 4095);
	ab_scope(&b, 1, 0, 0, 1, (const uint8_t[]){0x14, 0});
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	CHECK_EQ(dmar_parse(b.p, (uint32_t)b.len, &info), 0);
	CHECK(info && info->ndrhd == 2 && info->nrmrr == 2);
	if (info && info->ndrhd == 2 && info->nrmrr == 2) {
		CHECK_EQ(drhd(info->drhd[0].base, info->drhd[0].reg_size, &at, &kind), 0);
		CHECK_EQ(drhd(info->drhd[1].base, info->drhd[1].reg_size, &at, &kind), -EPERM);
		CHECK_EQ(at, 1 * MiB);
		CHECK_EQ(rmrr(info->rmrr[0].base, info->rmrr[0].limit, &at, &kind), 0);
		CHECK_EQ(rmrr(info->rmrr[1].base, info->rmrr[1].limit, &at, &kind), -EPERM);
		CHECK_EQ(at, 1 * MiB);
	}
	dmar_free(info);
	ab_free(&b);
}

/* The check bring-up used before: "does any page of the RMRR belong to the
 * frame database".  The database holds only usable RAM above 1 MiB, so an
 * RMRR over sluice's image (loader memory) passed it; the map check refuses. */
static bool old_rmrr_hits_managed_ram(uint64_t base, uint64_t last)
{
	for (uint64_t a = base; a <= last; a += FRAME_SIZE) {
		uint64_t n;
		if (frame_run(a, &n))
			return true;
	}
	return false;
}

TEST(rmrr_over_loader_memory_passed_the_old_frame_check)
{
	void *p = mmap(NULL, 8 * MiB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(p != MAP_FAILED);
	if (p == MAP_FAILED)
		return;
	uint64_t a = ((uint64_t)(uintptr_t)p + 2 * MiB - 1) & ~(2 * MiB - 1);
	/* [a, a+2M) usable (in the frame database), [a+2M, a+4M) loader. */
	const struct mem_region m[] = {{a, 2 * MiB, MEM_USABLE, 0},
				       {a + 2 * MiB, 2 * MiB, MEM_LOADER, 0}};
	uint64_t at = 0;
	uint32_t kind = 0;

	frame_init();
	CHECK_EQ(frame_add_range(a, 2 * MiB), 0);
	CHECK(old_rmrr_hits_managed_ram(a, a + 4095));			 /* usable: caught */
	CHECK(!old_rmrr_hits_managed_ram(a + 2 * MiB, a + 4 * MiB - 1)); /* loader: missed */
	CHECK_EQ(memmap_rmrr_check(m, 2, a + 2 * MiB, a + 4 * MiB - 1, &at, &kind), -EPERM);
	CHECK_EQ(kind, MEM_LOADER);
	CHECK_EQ(memmap_rmrr_check(m, 2, a, a + 4095, &at, &kind), -EPERM);
	CHECK_EQ(kind, MEM_USABLE);
	frame_init();
	munmap(p, 8 * MiB);
}
