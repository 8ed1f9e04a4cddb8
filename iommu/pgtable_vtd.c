/*
 * iommu/pgtable_vtd.c — VT-d second-level page tables (VT-d spec 9.8): the
 * entry format for the page-table engine (lib/pgtable.c) and the vtd_pt API
 * on it.  The engine does the building, editing, splitting and walking.
 *
 * An entry is present when R or W is set (second-level entries have no P
 * bit, 9.8); a non-leaf entry is R|W because hardware checks R/W at every
 * level of the walk.  PS is defined only at level 2 and 3 (9.8).
 *
 * The remapping hardware fetches each paging entry as one naturally aligned
 * 64-bit quantity (Linux relies on the same: it only guarantees 64-bit
 * atomic reads/writes of a dma_pte), which is what lets the engine change
 * an entry with one store.  Only the 128-bit context entries and IRTEs need
 * an ordered two-half write (9.3, 9.10: hardware fetches them whole);
 * nothing here spans two qwords.
 */
#include "iommu/pgtable_vtd.h"

static const struct pgt_fmt vtd_sl_fmt = {
	.present = VTD_SL_R | VTD_SL_W,
	.table = VTD_SL_R | VTD_SL_W,
	.ps = VTD_SL_PS,
	.addr = VTD_SL_ADDR,
	.attr = VTD_SL_R | VTD_SL_W | VTD_SL_SNP,
	.leaf_levels = (1u << 1) | (1u << 2) | (1u << 3),
};

static void gather_in(struct pgt_gather *p, const struct iommu_gather *g)
{
	p->start = g->start;
	p->end = g->end;
	p->leaf_only = g->leaf_only;
	p->need_flush = g->need_flush;
	p->freelist = g->freelist;
	p->nfree = g->nfree;
}

static void gather_out(struct iommu_gather *g, const struct pgt_gather *p)
{
	g->start = p->start;
	g->end = p->end;
	g->leaf_only = p->leaf_only;
	g->need_flush = p->need_flush;
	g->freelist = p->freelist;
	g->nfree = p->nfree;
}

uint64_t vtd_pt_aperture_end(const struct vtd_pt *pt) { return pgt_aperture_end(&pt->pgt); }

int vtd_pt_init(struct vtd_pt *pt, unsigned levels, uint64_t pgsizes, bool coherent, bool snoop,
		const struct vtd_pt_alloc *a)
{
	struct pgt_alloc pa;

	if (!a)
		return -EINVAL;
	pa.alloc_page = a->alloc_page;
	pa.free_page = a->free_page;
	pa.ctx = a->ctx;
	pt->snoop = snoop;
	return pgt_init(&pt->pgt, &vtd_sl_fmt, levels, pgsizes, coherent, &pa);
}

void vtd_pt_destroy(struct vtd_pt *pt) { pgt_destroy(&pt->pgt); }

void vtd_pt_free_gathered(struct vtd_pt *pt, struct iommu_gather *g)
{
	struct pgt_gather pg;

	gather_in(&pg, g);
	pgt_free_gathered(&pt->pgt, &pg);
	gather_out(g, &pg);
}

int vtd_pt_walk(const struct vtd_pt *pt, uint64_t iova, uint64_t *pa, unsigned *level,
		unsigned *prot)
{
	uint64_t e;
	int rc = pgt_walk(&pt->pgt, iova, pa, level, &e);

	if (rc == 0 && prot)
		*prot = ((e & VTD_SL_R) ? IOMMU_READ : 0) | ((e & VTD_SL_W) ? IOMMU_WRITE : 0);
	return rc;
}

int vtd_pt_map(struct vtd_pt *pt, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
	       struct iommu_gather *g)
{
	uint64_t attr = 0;
	int rc;

	if (!(prot & (IOMMU_READ | IOMMU_WRITE)) || (prot & ~(IOMMU_READ | IOMMU_WRITE)))
		return -EINVAL;
	if (prot & IOMMU_READ)
		attr |= VTD_SL_R;
	if (prot & IOMMU_WRITE)
		attr |= VTD_SL_W;
	/* SNP is legal only with ECAP.SC (9.8; QEMU treats it as reserved
	 * otherwise): the driver sets pt->snoop only then. */
	if (pt->snoop)
		attr |= VTD_SL_SNP;
	rc = pgt_map(&pt->pgt, iova, pa, size, attr);
	if (rc)
		return rc;
	/* Absent -> present needs no invalidation except in caching mode or
	 * with CAP.RWBF; the driver decides (need_flush left as it is). */
	pgt_range_add(&g->start, &g->end, iova, iova + size);
	return 0;
}

int vtd_pt_unmap(struct vtd_pt *pt, uint64_t iova, uint64_t size, struct iommu_gather *g)
{
	struct pgt_gather pg;
	int rc;

	gather_in(&pg, g);
	rc = pgt_unmap(&pt->pgt, iova, size, &pg);
	gather_out(g, &pg);
	return rc;
}
