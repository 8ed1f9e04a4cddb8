// SOURCES: dma/space.c dma/walk.c dma/map.c dma/hint.c dma/attach.c dma/prereg.c dma/acct.c lib/itree.c kernel/frame.c tests/unit/fake_iommu.c iommu/pgtable_vtd.c lib/pgtable.c
/*
 * bench/host_dma.c — host-native figures for the dma layer, one JSON object
 * per line, on two drivers: the fake IOMMU (tests/unit/fake_iommu.c; leaves
 * in an interval tree) and a bench-local driver around the real VT-d page
 * table code (iommu/pgtable_vtd.c; tables in host memory, no invalidation
 * hardware: flush only frees gathered table pages).
 *
 * Figures: 4K map+unmap pairs per second; time to map (and unmap) GIB GiB
 * (default 16, env DMA_BENCH_GIB) of 2M-contiguous memory (2M mappings),
 * of 1 GiB blocks (one mapping each) and of 4K-scattered
 * memory (4K mappings, physical order shuffled); replay of the 2M case into
 * a new domain; heap per mapping and bytes of metadata per GiB mapped.
 * Linux VFIO for comparison (16 GiB, one MAP_DMA): 0.03 s huge, 0.28 s 4K.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "dma/dma.h"
#include "iommu/pgtable_vtd.h"
#include "kernel/frame.h"
#include "tests/unit/fake_iommu.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define G1 0x40000000ull

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t heap(void) { return mallinfo2().uordblks; }

/* ---------------------------------------------- bench-local VT-d driver */

struct bdom {
	struct iommu_domain d;
	struct vtd_pt pt;
};

static uint64_t pt_alloc(void *ctx)
{
	(void)ctx;
	return frame_alloc_zeroed(0, FRAME_IOPT);
}

static void pt_free(void *ctx, uint64_t pa)
{
	(void)ctx;
	if (frame_free(pa, 0))
		abort();
}

static const struct vtd_pt_alloc pt_allocator = {pt_alloc, pt_free, NULL};

static int v_domain_alloc(struct iommu_unit *u, struct iommu_domain **out)
{
	struct bdom *b = calloc(1, sizeof(*b));
	int e;

	if (!b)
		return -ENOMEM;
	e = vtd_pt_init(&b->pt, 4, u->pgsizes, true, u->snoop_control, &pt_allocator);
	if (e) {
		free(b);
		return e;
	}
	b->d.unit = u;
	b->d.pgsizes = u->pgsizes;
	b->d.aperture_end = vtd_pt_aperture_end(&b->pt);
	b->d.snoop = u->snoop_control;
	b->d.priv = b;
	u->ndomains++;
	*out = &b->d;
	return 0;
}

static void v_domain_free(struct iommu_domain *d)
{
	struct bdom *b = d->priv;

	vtd_pt_destroy(&b->pt);
	d->unit->ndomains--;
	free(b);
}

static int v_attach(struct iommu_domain *d, uint16_t rid)
{
	d->ndevices++;
	return 0;
}

static int v_detach(struct iommu_domain *d, uint16_t rid)
{
	d->ndevices--;
	return 0;
}

static int v_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
		 struct iommu_gather *g)
{
	return vtd_pt_map(&((struct bdom *)d->priv)->pt, iova, pa, size, prot, g);
}

static int v_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size, struct iommu_gather *g)
{
	return vtd_pt_unmap(&((struct bdom *)d->priv)->pt, iova, size, g);
}

static int v_flush(struct iommu_domain *d, struct iommu_gather *g)
{
	vtd_pt_free_gathered(&((struct bdom *)d->priv)->pt, g);
	iommu_gather_init(g);
	return 0;
}

static int v_walk(struct iommu_domain *d, uint64_t iova, uint64_t *pa, unsigned *level,
		  unsigned *prot)
{
	return vtd_pt_walk(&((struct bdom *)d->priv)->pt, iova, pa, level, prot);
}

static const struct iommu_ops vtd_bench_ops = {
	.name = "vtd-pgtable",
	.domain_alloc = v_domain_alloc,
	.domain_free = v_domain_free,
	.attach = v_attach,
	.detach = v_detach,
	.map = v_map,
	.unmap = v_unmap,
	.flush = v_flush,
	.iova_to_phys = v_walk,
};

static struct iommu_unit *unit_new(bool vtd, uint64_t pgsizes)
{
	struct iommu_unit *u;

	if (!vtd)
		return fake_iommu_unit_new(pgsizes, (1ull << 48) - 1, true, true);
	u = calloc(1, sizeof(*u));
	u->ops = &vtd_bench_ops;
	u->pgsizes = pgsizes;
	u->aperture_end = (1ull << 48) - 1;
	u->snoop_control = true;
	u->intr_remap = true;
	u->intr_isolated = true;
	return u;
}

static void unit_free(bool vtd, struct iommu_unit *u)
{
	if (vtd)
		free(u);
	else
		fake_iommu_unit_free(u);
}

static uint64_t iopt_bytes(void)
{
	struct frame_stats st;

	frame_stats(&st);
	return st.iopt;
}

/* ------------------------------------------------------------- figures */

static const char *drv;
static uint64_t user_blk[64];

/* Address of byte off of the user memory (made of 1 GiB blocks). */
static uint64_t user_at(uint64_t off) { return user_blk[off / G1] + off % G1; }

static void emit(const char *fig, double v, const char *unit, const char *extra)
{
	printf("{\"bench\":\"host_dma\",\"driver\":\"%s\",\"figure\":\"%s\",\"value\":%.6g,"
	       "\"unit\":\"%s\"%s%s}\n",
	       drv, fig, v, unit, extra ? "," : "", extra ? extra : "");
	fflush(stdout);
}

static void must(int e, const char *what)
{
	if (e) {
		fprintf(stderr, "host_dma: %s failed: %s\n", what, err_name(e));
		exit(1);
	}
}

static void space_with_device(bool vtd, uint64_t pgsizes, struct dma_space **s,
			      struct iommu_unit **u, struct dma_group *g)
{
	must(dma_space_create(NULL, s), "space create");
	*u = unit_new(vtd, pgsizes);
	memset(g, 0, sizeof(*g));
	g->unit = *u;
	g->nrids = 1;
	g->rids[0] = 0x10;
	must(dma_attach(*s, g), "attach");
}

static void teardown(bool vtd, struct dma_space *s, struct iommu_unit *u, struct dma_group *g)
{
	must(dma_detach(s, g), "detach");
	must(dma_space_destroy(s), "destroy");
	unit_free(vtd, u);
}

static void bench_pairs(bool vtd, uint64_t user)
{
	struct dma_space *s;
	struct iommu_unit *u;
	struct dma_group g;
	const int n = 200000;
	uint64_t h, un;
	double t0, t;

	space_with_device(vtd, PGSIZE_4K | PGSIZE_2M | PGSIZE_1G, &s, &u, &g);
	t0 = now();
	for (int i = 0; i < n; i++) {
		must(dma_map(s, 0x100000 + (i & 255) * K4, K4, DMA_SRC_HPA, user + (i & 255) * K4,
			     DMA_PROT_R | DMA_PROT_W, &h),
		     "map");
		must(dma_unmap(s, 0x100000 + (i & 255) * K4, K4, &un), "unmap");
	}
	t = now() - t0;
	emit("map_unmap_4k_pairs_per_s", n / t, "1/s", NULL);
	emit("map_unmap_4k_pair_ns", t / n * 1e9, "ns", NULL);
	teardown(vtd, s, u, &g);
}

/* Maps gib GiB from user memory [user, +gib GiB) as mappings of chunk
 * bytes (order shuffled when scatter), times map, replay and unmap. */
static void bench_big(bool vtd, unsigned gib, uint64_t chunk, bool scatter, const char *name,
		      bool replay)
{
	struct dma_space *s;
	struct iommu_unit *u, *u2 = NULL;
	struct dma_group g, g2;
	uint64_t total = (uint64_t)gib * G1, n = total / chunk, h, un;
	uint64_t heap0, iopt0, *perm = NULL;
	char fig[96], extra[160];
	double t0, t;

	space_with_device(vtd, PGSIZE_4K | PGSIZE_2M | PGSIZE_1G, &s, &u, &g);
	if (scatter) {
		perm = malloc(n * sizeof(*perm));
		for (uint64_t i = 0; i < n; i++)
			perm[i] = i;
		srand(1);
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = ((uint64_t)rand() << 31 ^ (uint64_t)rand()) % (i + 1),
				 x = perm[i];
			perm[i] = perm[j];
			perm[j] = x;
		}
	}
	must(dma_space_set_map_limit(s, n + 1), "limit");
	heap0 = heap();
	iopt0 = iopt_bytes();
	t0 = now();
	for (uint64_t i = 0; i < n; i++)
		must(dma_map(s, 4 * G1 + i * chunk, chunk, DMA_SRC_HPA,
			     user_at((perm ? perm[i] : i) * chunk), DMA_PROT_R | DMA_PROT_W, &h),
		     "map");
	t = now() - t0;
	snprintf(extra, sizeof(extra), "\"gib\":%u,\"mappings\":%llu,\"vfio_16g_s\":%s", gib,
		 (unsigned long long)n, chunk == K4 ? "0.28" : "0.03");
	snprintf(fig, sizeof(fig), "map_%s_s", name);
	emit(fig, t, "s", extra);
	snprintf(fig, sizeof(fig), "map_%s_s_per_16gib", name);
	emit(fig, t * 16 / gib, "s", extra);
	uint64_t dheap = heap() - heap0, diopt = iopt_bytes() - iopt0;
	snprintf(fig, sizeof(fig), "heap_per_mapping_%s", name);
	emit(fig, (double)dheap / n, "B", NULL);
	snprintf(fig, sizeof(fig), "metadata_per_gib_%s", name);
	snprintf(extra, sizeof(extra), "\"heap_per_gib\":%.0f,\"tables_per_gib\":%.0f",
		 (double)dheap / gib, (double)diopt / gib);
	emit(fig, (double)(dheap + diopt) / gib, "B", extra);
	if (replay) {
		u2 = unit_new(vtd, PGSIZE_4K | PGSIZE_2M);
		memset(&g2, 0, sizeof(g2));
		g2.unit = u2;
		g2.nrids = 1;
		g2.rids[0] = 0x20;
		t0 = now();
		must(dma_attach(s, &g2), "replay attach");
		t = now() - t0;
		snprintf(fig, sizeof(fig), "replay_%s_s", name);
		snprintf(extra, sizeof(extra), "\"gib\":%u", gib);
		emit(fig, t, "s", extra);
		must(dma_detach(s, &g2), "detach");
		unit_free(vtd, u2);
	}
	t0 = now();
	must(dma_unmap_all(s, &un), "unmap");
	t = now() - t0;
	snprintf(fig, sizeof(fig), "unmap_%s_s", name);
	snprintf(extra, sizeof(extra), "\"gib\":%u", gib);
	emit(fig, t, "s", extra);
	free(perm);
	teardown(vtd, s, u, &g);
}

int main(void)
{
	const char *env = getenv("DMA_BENCH_GIB");
	unsigned gib = env ? (unsigned)atoi(env) : 16;
	uint64_t ram = (uint64_t)(gib + 2) * G1, base;
	void *p;

	p = mmap(NULL, ram + G1, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED || gib == 0 || gib > 64) {
		fprintf(stderr, "host_dma: cannot reserve %u GiB\n", gib + 2);
		return 1;
	}
	base = ((uint64_t)p + G1 - 1) & ~(G1 - 1);
	frame_init();
	must(frame_add_range(base, ram), "frame_add_range");
	/* gib contiguous GiB of user memory (1 GiB blocks come out in order). */
	for (unsigned i = 0; i < gib; i++) {
		user_blk[i] = frame_alloc(FRAME_ORDER_1G, FRAME_USER);
		if (!user_blk[i]) {
			fprintf(stderr, "host_dma: no 1 GiB block\n");
			return 1;
		}
	}
	for (int v = 0; v < 2; v++) {
		bool vtd = v == 1;
		drv = vtd ? "vtd-pgtable" : "fake";
		bench_pairs(vtd, user_blk[0]);
		bench_big(vtd, gib, M2, false, "2m_contig", true);
		bench_big(vtd, gib, G1, false, "1g_blocks", false);
		bench_big(vtd, gib, K4, true, "4k_scattered", false);
	}
	return 0;
}
