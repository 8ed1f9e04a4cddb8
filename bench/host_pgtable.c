// SOURCES: iommu/pgtable_vtd.c lib/pgtable.c
/*
 * bench/host_pgtable.c — host-native figures for the VT-d second-level page
 * table code alone (no IOMMU, no invalidation): 4K map+unmap pairs per
 * second, time to map and unmap 1 GiB as 1G / 2M / 4K leaves, and the table
 * memory each needs.  One JSON object per line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hw/hw.h"
#include "iommu/pgtable_vtd.h"

#define GIB (1ull << 30)

/* Page source: freed pages are recycled (and zeroed on reuse), like a
 * frame allocator would, so malloc is not what is measured. */
static struct {
	void **stack;
	size_t n, cap;
} cache;

static uint64_t b_alloc(void *ctx)
{
	void *p;

	if (cache.n) {
		p = cache.stack[--cache.n];
	} else if (posix_memalign(&p, 4096, 4096)) {
		return 0;
	}
	memset(p, 0, 4096);
	return virt_to_phys(p);
}

static void b_free(void *ctx, uint64_t pa)
{
	if (cache.n == cache.cap) {
		cache.cap = cache.cap ? cache.cap * 2 : 1024;
		cache.stack = realloc(cache.stack, cache.cap * sizeof(void *));
		if (!cache.stack)
			abort();
	}
	cache.stack[cache.n++] = phys_to_virt(pa);
}

static const struct vtd_pt_alloc A = {b_alloc, b_free, NULL};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void emit(const char *what, double value)
{
	printf("{\"bench\":\"pgtable\",\"what\":\"%s\",\"value\":%.0f}\n", what, value);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "host_pgtable: %s failed: %d\n", what, rc);
	exit(1);
}

/* 4K map + unmap + free_gathered, cycling over one 2M table's slots.
 * keep_tables: a neighbour page stays mapped so the tables persist (the
 * steady state); otherwise every pair builds and frees 3 tables. */
static double pairs_per_s(bool keep_tables, long n)
{
	struct vtd_pt pt;
	struct iommu_gather g;
	int rc;
	double t0, t1;

	rc = vtd_pt_init(&pt, 4, PGSIZE_4K | PGSIZE_2M | PGSIZE_1G, true, false, &A);
	if (rc)
		die("init", rc);
	if (keep_tables) {
		iommu_gather_init(&g);
		rc = vtd_pt_map(&pt, 0x40000000ull + 511 * 4096ull, 0x1000, 4096, IOMMU_READ, &g);
		if (rc)
			die("map", rc);
	}
	t0 = now();
	for (long i = 0; i < n; i++) {
		uint64_t iova = 0x40000000ull + (uint64_t)(i % 511) * 4096;

		iommu_gather_init(&g);
		rc = vtd_pt_map(&pt, iova, 0x80000000ull + (uint64_t)i * 4096, 4096,
				IOMMU_READ | IOMMU_WRITE, &g);
		if (rc)
			die("map", rc);
		rc = vtd_pt_unmap(&pt, iova, 4096, &g);
		if (rc)
			die("unmap", rc);
		vtd_pt_free_gathered(&pt, &g);
	}
	t1 = now();
	vtd_pt_destroy(&pt);
	return (double)n / (t1 - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define REPS 7

/* Map 1 GiB restricted to one leaf size, then unmap it; median of REPS. */
static void gib(const char *name, uint64_t pgsizes, uint64_t pa, bool report)
{
	double tmap[REPS], tunmap[REPS];
	uint64_t pages = 0;
	char what[64];

	for (int r = 0; r < REPS; r++) {
		struct vtd_pt pt;
		struct iommu_gather g;
		double t0, t1, t2;
		int rc;

		rc = vtd_pt_init(&pt, 4, pgsizes, true, false, &A);
		if (rc)
			die("init", rc);
		iommu_gather_init(&g);
		t0 = now();
		rc = vtd_pt_map(&pt, 4 * GIB, pa, GIB, IOMMU_READ | IOMMU_WRITE, &g);
		t1 = now();
		if (rc)
			die("map", rc);
		pages = pt.table_pages;
		iommu_gather_init(&g);
		rc = vtd_pt_unmap(&pt, 4 * GIB, GIB, &g);
		vtd_pt_free_gathered(&pt, &g);
		t2 = now();
		if (rc)
			die("unmap", rc);
		vtd_pt_destroy(&pt);
		tmap[r] = t1 - t0;
		tunmap[r] = t2 - t1;
	}
	if (!report)
		return;
	qsort(tmap, REPS, sizeof(double), cmp_double);
	qsort(tunmap, REPS, sizeof(double), cmp_double);
	snprintf(what, sizeof(what), "map_1g_as_%s_ns", name);
	emit(what, tmap[REPS / 2] * 1e9);
	/* unmap includes vtd_pt_free_gathered (the tables go back). */
	snprintf(what, sizeof(what), "unmap_1g_as_%s_ns", name);
	emit(what, tunmap[REPS / 2] * 1e9);
	/* Root included: what a domain holding just this GiB costs. */
	snprintf(what, sizeof(what), "pt_bytes_per_gib_as_%s", name);
	emit(what, (double)pages * 4096);
}

int main(void)
{
	/* Warm the page cache so first-touch faults are not measured. */
	gib("4k", PGSIZE_4K, 8 * GIB, false);
	emit("map_unmap_4k_pairs_per_s", pairs_per_s(true, 2000000));
	emit("map_unmap_4k_pairs_cold_tables_per_s", pairs_per_s(false, 500000));
	gib("1g", PGSIZE_4K | PGSIZE_2M | PGSIZE_1G, 8 * GIB, true);
	gib("2m", PGSIZE_4K | PGSIZE_2M, 8 * GIB, true);
	gib("4k", PGSIZE_4K, 8 * GIB, true);
	return 0;
}
