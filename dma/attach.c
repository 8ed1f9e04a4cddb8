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

/* Points every requester ID of g at d; all or nothing. */
static int attach_rids(struct dma_space *s, struct iommu_domain *d, struct dma_group *g)
{
	unsigned i;
	int err = 0;

	for (i = 0; i < g->nrids; i++)
		if ((err = d->unit->ops->attach(d, g->rids[i])))
			break;
	if (!err)
		return 0;
	why_iommu(s, err, d->unit, DMA_OP_ATTACH, g->rids[i]);
	/* The rids switched so far go back to blocked (detach), where the
	 * group was before: it was in no space. */
	while (i--)
		if (d->unit->ops->detach(d, g->rids[i]))
			klog("dma: detaching rid %#x while unwinding failed", g->rids[i]);
	return err;
}

/* Unmaps every mapping from d, flushes and frees it (devices detached).
 * A failed flush leaks the domain (its tables may still be cached).  The
 * reason is recorded only when record (not while unwinding another error). */
static int dom_destroy(struct dma_space *s, struct iommu_domain *d, bool record)
{
	struct iommu_gather g;
	int err = 0;

	iommu_gather_init(&g);
	/* Teardown should not fail: whole mappings need no split, and a
	 * failing call is retried once before the domain is given up. */
	for (struct itree_node *x = itree_min(&s->maps); x; x = itree_succ(&s->maps, x)) {
		uint64_t len = x->last - x->start + 1;
		if (d->unit->ops->unmap(d, x->start, len, &g) &&
		    (err = d->unit->ops->unmap(d, x->start, len, &g))) {
			if (record)
				why_iommu(s, err, d->unit, DMA_OP_UNMAP, x->start);
			break;
		}
	}
	if (!err && (err = dom_unmap_quarantined(s, d, &g)) && record)
		why_iommu(s, err, d->unit, DMA_OP_UNMAP, 0);
	if (!err && (err = dom_flush(d, &g)) && record)
		why_iommu(s, err, d->unit, DMA_OP_FLUSH, 0);
	if (err) {
		leaked_domains++;
		klog("dma: domain teardown failed (%s); domain leaked", err_name(err));
		return err;
	}
	d->unit->ops->domain_free(d);
	return 0;
}

int group_quiesce(struct dma_group *g)
{
	int err = g->quiesce ? g->quiesce(g, g->quiesce_arg) : 0;

	g->unquiesced = err != 0;
	return err;
}

static int attach_check(struct dma_space *s, struct dma_group *g)
{
	if (!g->unit || g->nrids == 0 || g->nrids > DMA_GROUP_MAX_RIDS)
		return why(s, -EINVAL, DMA_WHY_BAD_GROUP, g->nrids, 0);
	if (g->space)
		return why_id(s, -EBUSY, DMA_WHY_GROUP_BUSY, (int)g->space->id);
	/* A group whose DMA could not be stopped when it left its last space
	 * could still write into this one's pages: retried, then refused. */
	if (g->unquiesced) {
		int err = group_quiesce(g);
		if (err) {
			why_id(s, -EBUSY, DMA_WHY_NOT_QUIESCED, g->id);
			s->why.a = (uint64_t)-err;
			return -EBUSY;
		}
	}
	/* Without interrupt isolation a device could forge any interrupt (an
	 * MSI is a DMA write): remapping alone is not enough where the unit
	 * passes compatibility-format messages through (VT-d 5.1.2.1).  So
	 * attach is refused unless the boot argument accepts that, as VFIO
	 * type1 does (allow_unsafe_interrupts).  why.a = 1: remapped, not
	 * isolated. */
	if (!(g->unit->intr_remap && g->unit->intr_isolated) && !dma_allow_unsafe_interrupts) {
		why_id(s, -EPERM, DMA_WHY_UNSAFE_INTERRUPTS, (int)g->unit->index);
		s->why.a = g->unit->intr_remap;
		return -EPERM;
	}
	return 0;
}

/* The group's reserved regions (RMRRs) join the space; none may cover an
 * existing mapping.  All or nothing. */
static int resv_add_group(struct dma_space *s, struct dma_group *g)
{
	for (unsigned i = 0; i < g->nresv && i < DMA_GROUP_MAX_RESV; i++) {
		int err = resv_add(s, g->resv[i].start, g->resv[i].last, g);
		if (err) {
			resv_drop_group(s, g);
			return err;
		}
	}
	return 0;
}

/* A new domain on u must hold every mapping: each must lie inside u's
 * aperture and be aligned (IOVA, size, segments, hinted edges) to the page
 * size the space would then have. */
static int replay_fits(struct dma_space *s, const struct iommu_unit *u)
{
	uint64_t pg = pgsize_of(space_pgsizes(s) & u->pgsizes);
	int id = (int)u->index;

	if (!pg)
		return why_id(s, -EINVAL, DMA_WHY_PGSIZE, id);
	for (struct itree_node *x = itree_min(&s->maps); x; x = itree_succ(&s->maps, x)) {
		struct dma_mapping *m = MAP_OF(x);
		if (x->last > u->aperture_end)
			return why_map(s, -EINVAL, DMA_WHY_APERTURE, x, x->last, u->aperture_end,
				       id);
		if ((x->start | m_size(m)) & (pg - 1))
			return why_map(s, -EINVAL, DMA_WHY_PGSIZE, x, x->start | m_size(m), pg, id);
		for (uint32_t i = 0; i < m->nseg; i++)
			if ((m->segs[i].pa | m->segs[i].size) & (pg - 1))
				return why_map(s, -EINVAL, DMA_WHY_PGSIZE, x, m->segs[i].pa, pg,
					       id);
		for (uint32_t i = 0; i < m->nhint; i++)
			if ((m->hint[i].s | m->hint[i].e) & (pg - 1))
				return why_map(s, -EINVAL, DMA_WHY_PGSIZE, x, m->hint[i].s, pg, id);
	}
	return 0;
}

/* A new domain on u with every mapping's live runs replayed (nothing
 * pinned or charged again: the records already hold the pages) and
 * flushed, not yet linked into the space and with no device on it. */
static int dom_build(struct dma_space *s, struct iommu_unit *u, struct dma_dom **out)
{
	struct dma_dom *dd = dma_zalloc(sizeof(*dd));
	int err;

	if (!dd)
		return why_nomem(s, sizeof(*dd), DMA_MEM_RECORD);
	err = u->ops->domain_alloc(u, &dd->hw);
	if (err) {
		free(dd);
		return why_iommu(s, err, u, DMA_OP_DOMAIN_ALLOC, 0);
	}
	iommu_gather_init(&dd->gat);
	for (struct itree_node *x = itree_min(&s->maps); x && !err; x = itree_succ(&s->maps, x))
		if ((err = dom_map(dd->hw, MAP_OF(x), x->start, x->last + 1, &dd->gat)))
			why_iommu(s, err, u, DMA_OP_MAP, x->start);
	if (!err && (err = dom_flush(dd->hw, &dd->gat)))
		why_iommu(s, err, u, DMA_OP_FLUSH, 0);
	if (err) {
		/* No requester ID points at it yet, so no device ever saw it. */
		if (dom_destroy(s, dd->hw, false))
			klog("dma: could not free a half-built domain");
		free(dd);
		return err;
	}
	*out = dd;
	return 0;
}

/* Appends: the first domain stays the one dma_translate walks. */
static void dom_link(struct dma_space *s, struct dma_dom *dd)
{
	struct dma_dom **pp = &s->doms;

	while (*pp)
		pp = &(*pp)->next;
	*pp = dd;
}

static void group_link(struct dma_space *s, struct dma_group *g)
{
	struct dma_group **pp = &s->groups;

	g->space = s;
	g->unquiesced = true; /* from now on it may DMA */
	g->irq_remapped = g->unit->intr_remap;
	g->next = NULL;
	while (*pp)
		pp = &(*pp)->next;
	*pp = g;
}

int dma_attach(struct dma_space *s, struct dma_group *g)
{
	struct iommu_unit *u = g->unit;
	struct dma_dom *dd;
	int err;

	why_clear(s);
	err = attach_check(s, g);
	if (err)
		return err;
	err = resv_add_group(s, g);
	if (err)
		return err;
	dd = dom_for(s, u);
	if (dd) {
		/* A compatible domain already holds every mapping. */
		err = attach_rids(s, dd->hw, g);
		if (err)
			goto out_resv;
		dd->ngroups++;
		group_link(s, g);
		return 0;
	}
	err = replay_fits(s, u);
	if (!err)
		err = dom_build(s, u, &dd);
	if (err)
		goto out_resv;
	/* Only now, with everything replayed and flushed, are the rids
	 * switched to the domain: a device never sees it half-built. */
	err = attach_rids(s, dd->hw, g);
	if (err) {
		/* The rids are back where they were, off this domain. */
		if (dom_destroy(s, dd->hw, false))
			klog("dma: could not free a half-built domain");
		free(dd);
		goto out_resv;
	}
	dd->ngroups = 1;
	dom_link(s, dd);
	group_link(s, g);
	return 0;

out_resv:
	resv_drop_group(s, g);
	return err;
}

int dma_detach(struct dma_space *s, struct dma_group *g)
{
	struct dma_dom *dd, **pp;
	unsigned i;
	int err = 0;

	why_clear(s);
	if (g->space != s)
		return why(s, -ENOENT, DMA_WHY_NOT_ATTACHED, 0, 0);
	dd = dom_for(s, g->unit);
	if (!dd)
		return why(s, -ENOENT, DMA_WHY_NOT_ATTACHED, 0, 0);
	for (i = 0; i < g->nrids; i++)
		if ((err = dd->hw->unit->ops->detach(dd->hw, g->rids[i])))
			break;
	if (err) {
		why_iommu(s, err, dd->hw->unit, DMA_OP_DETACH, g->rids[i]);
		/* Put the detached rids back on the same domain (whose
		 * translations never changed): the group stays attached, as the
		 * error says, and its devices keep what they could reach. */
		while (i--)
			if (dd->hw->unit->ops->attach(dd->hw, g->rids[i]))
				klog("dma: re-attaching rid %#x failed", g->rids[i]);
		return err;
	}
	/* The rids are blocked now (the unit cleared and invalidated them).
	 * The device is stopped after that, not before: a failed detach leaves
	 * the group with its owner untouched.  Order inside the quiesce: Bus
	 * Master off, pending transactions drained, then FLR; what is still
	 * in flight meanwhile is blocked by the IOMMU, and the space's pages
	 * stay pinned until the domain is flushed below (destroy quiesces
	 * before it unpins anything).  A group that cannot be quiesced still
	 * leaves, but no space takes it until a retry succeeds. */
	if (g->unquiesced && group_quiesce(g))
		klog("dma: group %d left as=%u but could not be quiesced; it joins no space "
		     "until it is",
		     g->id, s->id);
	for (struct dma_group **gp = &s->groups; *gp; gp = &(*gp)->next)
		if (*gp == g) {
			*gp = g->next;
			break;
		}
	g->space = NULL;
	g->next = NULL;
	resv_drop_group(s, g);
	if (--dd->ngroups == 0) {
		/* Last group: the domain goes; the mappings stay in the space.
		 * Its rids are already off it (blocked), so no device walks the
		 * tables while dom_destroy unmaps and flushes them. */
		for (pp = &s->doms; *pp != dd; pp = &(*pp)->next)
			;
		*pp = dd->next;
		err = dom_destroy(s, dd->hw, true);
		free(dd);
	}
	/* The group has left (even if its old domain could not be freed):
	 * what the device glue set up for it goes too. */
	if (g->release)
		g->release(g, g->release_arg);
	return err;
}

void dma_group_on_release(struct dma_group *g, dma_release_fn fn, void *arg)
{
	g->release = fn;
	g->release_arg = arg;
}

void dma_group_on_quiesce(struct dma_group *g, dma_quiesce_fn fn, void *arg)
{
	g->quiesce = fn;
	g->quiesce_arg = arg;
}
