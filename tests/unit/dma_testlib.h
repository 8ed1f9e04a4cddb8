/*
 * tests/unit/dma_testlib.h — shared helpers for the dma tests (header-only,
 * included by test_dma*.c): frame memory reserved from the host, fake
 * units, and a state digest / invariant check over spaces and domains.
 */
#ifndef SLUICE_TESTS_UNIT_DMA_TESTLIB_H
#define SLUICE_TESTS_UNIT_DMA_TESTLIB_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dma/dma.h"
#include "kernel/frame.h"
#include "tests/unit/fake_iommu.h"
#include "test.h"

#define TL_RAM (6ull << 30)

static uint64_t tl_base;

/* Frames may only be released once no flush is pending for them. */
static inline __attribute__((unused)) bool tl_release_check(uint64_t pa, uint64_t size)
{
	for (uint64_t o = 0; o < size; o += FRAME_SIZE) {
		struct frame *f = frame_get(pa + o);
		if (!f || f->pins == 0)
			return false;
	}
	return true;
}

static inline __attribute__((unused)) void tl_setup(void)
{
	void *p;
	uint64_t a;

	if (tl_base)
		return;
	p = mmap(NULL, TL_RAM + (1ull << 30), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		abort();
	a = ((uint64_t)p + (1ull << 30) - 1) & ~((1ull << 30) - 1);
	frame_init();
	if (frame_add_range(a, TL_RAM))
		abort();
	tl_base = a;
	fake_iommu_release_check = tl_release_check;
}

static inline __attribute__((unused)) uint64_t tl_user(unsigned order)
{
	uint64_t pa = frame_alloc(order, FRAME_USER);

	if (!pa)
		abort();
	return pa;
}

static inline __attribute__((unused)) void tl_user_free(uint64_t pa, unsigned order)
{
	if (frame_free(pa, order))
		CHECK(!"freeing user memory failed");
}

static struct iommu_unit *tl_unit(uint64_t pgsizes)
{
	return fake_iommu_unit_new(pgsizes, (1ull << 48) - 1, true, true);
}

static inline __attribute__((unused)) void tl_group(struct dma_group *g, struct iommu_unit *u,
						    uint16_t rid)
{
	memset(g, 0, sizeof(*g));
	g->unit = u;
	g->nrids = 1;
	g->rids[0] = rid;
}

/* Frames free + pinned, to prove an operation leaked nothing. */
struct tl_mem {
	uint64_t free, pinned;
};
static inline __attribute__((unused)) struct tl_mem tl_mem(void)
{
	struct frame_stats st;
	frame_stats(&st);
	return (struct tl_mem){st.free, st.pinned};
}

/* ---- a digest of everything observable, to prove "state unchanged" ---- */
static uint64_t tl_h;
static inline __attribute__((unused)) void tl_mix(uint64_t v)
{
	tl_h ^= v;
	tl_h *= 0x100000001b3ull;
}

struct tl_walk {
	struct dma_space *s;
	struct iommu_domain **doms;
	unsigned ndoms;
	uint64_t live; /* bytes not hinted */
	int bad;
};

static inline __attribute__((unused)) int tl_walk_map(const struct dma_map_info *mi, void *arg)
{
	struct tl_walk *w = arg;

	tl_mix(mi->iova);
	tl_mix(mi->size);
	tl_mix(mi->prot);
	tl_mix(mi->hinted);
	w->live += mi->size - mi->hinted;
	for (uint64_t o = 0; o < mi->size; o += FRAME_SIZE) {
		uint64_t pa = 0, hpa = 0;
		bool hinted = false;
		if (dma_lookup(w->s, mi->iova + o, &pa, &hinted)) {
			w->bad++;
			continue;
		}
		tl_mix(pa);
		tl_mix(hinted);
		struct frame *f = frame_get(pa);
		if (!f || (!hinted && f->pins == 0))
			w->bad++; /* live mapped memory must be pinned */
		for (unsigned d = 0; d < w->ndoms; d++) {
			unsigned lv, pr;
			int e = w->doms[d]->unit->ops->iova_to_phys(w->doms[d], mi->iova + o, &hpa,
								    &lv, &pr);
			if (hinted ? e != -ENOENT : (e || hpa != pa || pr != mi->prot))
				w->bad++;
		}
	}
	return 0;
}

/* Walks space s (whose domains are doms[]): every page's record, pins and
 * hardware translation; mixes it into the digest.  Returns mismatches. */
static inline __attribute__((unused)) int tl_check_space(struct dma_space *s,
							 struct iommu_domain **doms, unsigned ndoms)
{
	struct tl_walk w = {s, doms, ndoms, 0, 0};
	struct dma_owner_stat os;

	(void)dma_for_each_map(s, tl_walk_map, &w);
	for (unsigned d = 0; d < ndoms; d++) {
		if (fake_iommu_mapped_bytes(doms[d]) != w.live)
			w.bad++;
		if (fake_iommu_unflushed(doms[d]))
			w.bad++;
		tl_mix(fake_iommu_mapped_bytes(doms[d]));
	}
	dma_owner_stat(s, &os);
	tl_mix(os.pinned);
	tl_mix(os.registered);
	return w.bad;
}

static inline __attribute__((unused)) uint64_t tl_digest(struct dma_space **sp, unsigned ns,
							 struct iommu_domain ***doms,
							 unsigned *ndoms, int *bad)
{
	struct tl_mem m = tl_mem();

	tl_h = 0xcbf29ce484222325ull;
	*bad = 0;
	for (unsigned i = 0; i < ns; i++) {
		struct dma_space_info si;
		dma_space_info(sp[i], &si);
		tl_mix(si.nmaps);
		tl_mix(si.ndomains);
		tl_mix(si.ngroups);
		tl_mix(si.nregs);
		*bad += tl_check_space(sp[i], doms ? doms[i] : NULL, ndoms ? ndoms[i] : 0);
	}
	tl_mix(m.free);
	tl_mix(m.pinned);
	tl_mix(fake_iommu_live_domains());
	return tl_h;
}

#endif
