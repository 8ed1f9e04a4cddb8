/*
 * dma/attach.c — groups joining and leaving a space: a compatible domain
 * is reused; otherwise a new one gets every mapping replayed and flushed
 * before the group's requester IDs are pointed at it.
 */
#include <stdlib.h>

#include "dma/dma_priv.h"
#include "kernel/log.h"

bool dma_allow_unsafe_interrupts;

static struct dma_dom *dom_for(struct dma_space *s, struct iommu_unit *u)
{
	for (struct dma_dom *d = s->doms; d; d = d->next)
		if (d->hw->unit == u && d->hw->snoop == u->snoop_control &&
		    d->hw->pgsizes == u->pgsizes)
			return d;
	return NULL;
}

static int attach_rids(struct iommu_domain *d, struct dma_group *g)
{
	unsigned i;
	int err = 0;

	for (i = 0; i < g->nrids; i++)
		if ((err = d->unit->ops->attach(d, g->rids[i])))
			break;
	if (!err)
		return 0;
	while (i--)
		if (d->unit->ops->detach(d, g->rids[i]))
			klog("dma: detaching rid %#x while unwinding failed", g->rids[i]);
	return err;
}

/* Unmaps every mapping from d, flushes and frees it (devices detached).
 * A failed flush leaks the domain (its tables may still be cached). */
static int dom_destroy(struct dma_space *s, struct iommu_domain *d)
{
	struct iommu_gather g;
	int err = 0;

	iommu_gather_init(&g);
	/* Teardown should not fail: whole mappings need no split, and a
	 * failing call is retried once before the domain is given up. */
	for (struct itree_node *x = itree_min(&s->maps); x; x = itree_succ(&s->maps, x)) {
		uint64_t len = x->last - x->start + 1;
		if (d->unit->ops->unmap(d, x->start, len, &g) &&
		    (err = d->unit->ops->unmap(d, x->start, len, &g)))
			break;
	}
	if (!err)
		err = dom_flush(d, &g);
	if (err) {
		leaked_domains++;
		klog("dma: domain teardown failed (%s); domain leaked", err_name(err));
		return err;
	}
	d->unit->ops->domain_free(d);
	return 0;
}

int dma_attach(struct dma_space *s, struct dma_group *g)
{
	struct iommu_unit *u = g->unit;
	struct dma_dom *dd;
	struct iommu_domain *hw = NULL;
	struct iommu_gather gat;
	uint64_t pg, resv_done = 0;
	int err;

	if (!u || g->nrids == 0 || g->nrids > DMA_GROUP_MAX_RIDS)
		return -EINVAL;
	if (g->space)
		return -EBUSY;
	if (!u->intr_remap && !dma_allow_unsafe_interrupts)
		return -EPERM;
	/* The group's reserved regions must not cover existing mappings. */
	for (unsigned i = 0; i < g->nresv && i < DMA_GROUP_MAX_RESV; i++) {
		err = resv_add(s, g->resv[i].start, g->resv[i].last, g);
		if (err)
			goto out_resv;
		resv_done++;
	}
	dd = dom_for(s, u);
	if (dd) {
		err = attach_rids(dd->hw, g);
		if (err)
			goto out_resv;
		dd->ngroups++;
		goto linked;
	}
	/* New domain: the aperture and page sizes must suit every mapping. */
	pg = pgsize_of(space_pgsizes(s) & u->pgsizes);
	err = -EINVAL;
	if (!pg)
		goto out_resv;
	for (struct itree_node *x = itree_min(&s->maps); x; x = itree_succ(&s->maps, x)) {
		struct dma_mapping *m = MAP_OF(x);
		if (x->last > u->aperture_end || (x->start & (pg - 1)) || (m_size(m) & (pg - 1)))
			goto out_resv;
		for (uint32_t i = 0; i < m->nseg; i++)
			if ((m->segs[i].pa | m->segs[i].size) & (pg - 1))
				goto out_resv;
		for (uint32_t i = 0; i < m->nhint; i++)
			if ((m->hint[i].s | m->hint[i].e) & (pg - 1))
				goto out_resv;
	}
	dd = dma_zalloc(sizeof(*dd));
	if (!dd) {
		err = -ENOMEM;
		goto out_resv;
	}
	err = u->ops->domain_alloc(u, &hw);
	if (err)
		goto out_dd;
	/* Replay: every mapping's live runs, nothing pinned or charged again. */
	iommu_gather_init(&gat);
	for (struct itree_node *x = itree_min(&s->maps); x; x = itree_succ(&s->maps, x)) {
		err = dom_map(hw, MAP_OF(x), x->start, x->last + 1, &gat);
		if (err)
			goto out_hw;
	}
	err = dom_flush(hw, &gat);
	if (err)
		goto out_hw;
	err = attach_rids(hw, g);
	if (err)
		goto out_hw;
	dd->hw = hw;
	dd->ngroups = 1;
	/* Append: the first domain stays the one dma_translate walks. */
	{
		struct dma_dom **pp = &s->doms;
		while (*pp)
			pp = &(*pp)->next;
		*pp = dd;
	}
linked:
	g->space = s;
	g->irq_remapped = u->intr_remap;
	g->next = NULL;
	{
		struct dma_group **pp = &s->groups;
		while (*pp)
			pp = &(*pp)->next;
		*pp = g;
	}
	return 0;

out_hw:
	if (dom_destroy(s, hw))
		klog("dma: could not free a half-built domain");
out_dd:
	free(dd);
out_resv:
	if (resv_done)
		resv_drop_group(s, g);
	return err;
}

int dma_detach(struct dma_space *s, struct dma_group *g)
{
	struct dma_dom *dd, **pp;
	unsigned i;
	int err = 0;

	if (g->space != s)
		return -ENOENT;
	dd = dom_for(s, g->unit);
	if (!dd)
		return -ENOENT;
	for (i = 0; i < g->nrids; i++)
		if ((err = dd->hw->unit->ops->detach(dd->hw, g->rids[i])))
			break;
	if (err) {
		/* Put the detached rids back: the group stays attached. */
		while (i--)
			if (dd->hw->unit->ops->attach(dd->hw, g->rids[i]))
				klog("dma: re-attaching rid %#x failed", g->rids[i]);
		return err;
	}
	for (struct dma_group **gp = &s->groups; *gp; gp = &(*gp)->next)
		if (*gp == g) {
			*gp = g->next;
			break;
		}
	g->space = NULL;
	g->next = NULL;
	resv_drop_group(s, g);
	if (--dd->ngroups)
		return 0;
	/* Last group: the domain goes; the mappings stay in the space. */
	for (pp = &s->doms; *pp != dd; pp = &(*pp)->next)
		;
	*pp = dd->next;
	err = dom_destroy(s, dd->hw);
	free(dd);
	return err;
}
