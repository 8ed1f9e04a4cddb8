/*
 * dma/map.c — mappings: map (pin, charge, every domain), unmap (every
 * domain, one flush each, then release), translate and lookup; the alloc
 * blocks whose free waits for a foreign pin and the memory quarantined
 * after a failed flush.
 */
#include <stdlib.h>

#include "dma/dma_priv.h"
#include "kernel/log.h"

/* Alloc blocks whose frame_free was refused because another holder still
 * pins them; retried after every release. */
struct deferred {
	uint64_t pa;
	unsigned order;
	struct deferred *next;
};
static struct deferred *deferred;
static uint64_t n_deferred;
uint64_t quarantined, leaked_domains;
static struct dma_mapping *quarantine_list;

/* ----------------------------------------------------------- mappings */

void release_deferred(void)
{
	struct deferred **pp = &deferred;

	while (*pp) {
		struct deferred *x = *pp;
		if (frame_free(x->pa, x->order) == 0) {
			*pp = x->next;
			free(x);
			n_deferred--;
		} else {
			pp = &x->next;
		}
	}
}

/* Returns an alloc block; if a foreign holder still pins it, keeps it on the
 * deferred list until the pin drops. */
static void free_block(uint64_t pa, uint64_t size)
{
	unsigned order = order_of(size);
	struct deferred *x;

	if (frame_free(pa, order) == 0)
		return;
	x = calloc(1, sizeof(*x));
	if (!x) {
		klog("dma: lost block %#llx order %u", (unsigned long long)pa, order);
		return;
	}
	x->pa = pa;
	x->order = order;
	x->next = deferred;
	deferred = x;
	n_deferred++;
}

static void mapping_free(struct dma_mapping *m)
{
	if (m->src == DMA_SRC_ALLOC)
		for (uint32_t i = 0; i < m->nseg; i++)
			free_block(m->segs[i].pa, m->segs[i].size);
	if (m->segs != &m->seg0)
		free(m->segs);
	free(m->hint);
	free(m);
}

/* Releases a mapping's memory after its unmap was flushed everywhere. */
static void mapping_release(struct dma_space *s, struct dma_mapping *m)
{
	unpin_range(s, m, m_start(m), m_end(m));
	if (m->reg)
		m->reg->users--;
	mapping_free(m);
}

/* Allocates the backing of an alloc mapping in the largest naturally
 * aligned blocks that fit (IOVA alignment included, so leaves can be
 * large), falling back to smaller blocks when memory is fragmented. */
static int alloc_backing(struct dma_mapping *m, uint64_t iova, uint64_t size, unsigned min_order)
{
	uint64_t off = 0;
	uint32_t cap = 0;

	m->nseg = 0;
	m->segs = NULL;
	while (off < size) {
		uint64_t rem = size - off;
		unsigned k = FRAME_MAX_ORDER;
		unsigned ka = (unsigned)__builtin_ctzll((iova + off) | (1ull << 63)) - FRAME_SHIFT;
		unsigned kr = 63 - (unsigned)__builtin_clzll(rem) - FRAME_SHIFT;
		uint64_t pa = 0;

		if (ka < k)
			k = ka;
		if (kr < k)
			k = kr;
		if (m->nseg == cap) {
			uint32_t nc = cap ? cap * 2 : 4;
			struct seg *ns = dma_realloc(m->segs, nc * sizeof(*ns));
			if (!ns)
				goto fail;
			m->segs = ns;
			cap = nc;
		}
		for (;;) {
			pa = dma_frame_alloc(k);
			if (pa || k <= min_order)
				break;
			k--;
		}
		if (!pa)
			goto fail;
		m->segs[m->nseg].off = off;
		m->segs[m->nseg].pa = pa;
		m->segs[m->nseg].size = FRAME_SIZE << k;
		m->nseg++;
		off += FRAME_SIZE << k;
	}
	return 0;
fail:
	for (uint32_t i = 0; i < m->nseg; i++)
		if (frame_free(m->segs[i].pa, order_of(m->segs[i].size)))
			klog("dma: freeing a fresh block failed");
	free(m->segs);
	m->segs = NULL;
	m->nseg = 0;
	return -ENOMEM;
}

/* Maps the live runs of spans [0, cnt) back into d (restore after a failed
 * unmap; same translations, so stale IOTLB entries are harmless). */
static void remap_spans(struct iommu_domain *d, struct span *v, size_t cnt, struct iommu_gather *g)
{
	for (size_t j = 0; j < cnt; j++)
		if (dom_map(d, v[j].m, v[j].a, v[j].b, g))
			klog("dma: restoring %#llx after a failed unmap failed",
			     (unsigned long long)v[j].a);
}

/* Unmaps the spans from every domain and flushes each domain once.  On any
 * failure everything is mapped back and the error returned; 0 means the
 * memory may now be released. */
static int unmap_spans(struct dma_space *s, struct span *v, size_t n)
{
	unsigned di = 0, k;
	struct dma_dom *d;
	size_t done = 0;
	int err = 0;

	for (d = s->doms; d; d = d->next, di++) {
		iommu_gather_init(&d->gat);
		for (done = 0; done < n; done++) {
			err = d->hw->unit->ops->unmap(d->hw, v[done].a, v[done].b - v[done].a,
						      &d->gat);
			if (err)
				break;
		}
		if (err)
			break;
	}
	if (err) {
		/* Domains before di lost every span, domain di the first done. */
		for (k = 0, d = s->doms; d && k <= di; d = d->next, k++) {
			remap_spans(d->hw, v, k < di ? n : done, &d->gat);
			if (dom_flush(d->hw, &d->gat))
				klog("dma: flush failed while restoring an unmap");
		}
		return err;
	}
	for (di = 0, d = s->doms; d; d = d->next, di++) {
		int e = dom_flush(d->hw, &d->gat);
		if (e && !err)
			err = e;
	}
	if (!err)
		return 0;
	/* A flush failed: nothing may be released; put everything back. */
	for (k = 0, d = s->doms; d; d = d->next, k++) {
		remap_spans(d->hw, v, n, &d->gat);
		if (dom_flush(d->hw, &d->gat))
			klog("dma: flush failed while restoring an unmap");
	}
	return err;
}

int dma_map(struct dma_space *s, uint64_t iova, uint64_t size, enum dma_src src, uint64_t hpa,
	    unsigned prot, uint64_t *first_hpa)
{
	uint64_t pg = pgsize_of(space_pgsizes(s));
	uint64_t last, hlast = 0, need;
	struct dma_mapping *m;
	struct dma_reg *reg = NULL;
	unsigned nd = count_doms(s), di;
	struct dma_dom *d;
	int err;

	if (size == 0 || !(prot & (DMA_PROT_R | DMA_PROT_W)) ||
	    (prot & ~(DMA_PROT_R | DMA_PROT_W)) || (src != DMA_SRC_HPA && src != DMA_SRC_ALLOC))
		return -EINVAL;
	if (!last_of(iova, size, &last) || (src == DMA_SRC_HPA && !last_of(hpa, size, &hlast)))
		return -EOVERFLOW;
	if (!pg || ((iova | size) & (pg - 1)) || (src == DMA_SRC_HPA && (hpa & (pg - 1))))
		return -EINVAL;
	if (!iova_valid(s, iova, last))
		return -EINVAL;
	if (itree_first(&s->maps, iova, last))
		return -EEXIST;
	if (s->maps.count >= s->map_limit)
		return -ENOSPC;
	if (src == DMA_SRC_HPA) {
		/* A device may never be pointed at sluice itself. */
		if (!src_ok(hpa, size))
			return -EPERM;
		struct itree_node *rn = itree_first(&s->regs, hpa, hlast);
		if (rn && rn->start <= hpa && rn->last >= hlast)
			reg = REG_OF(rn);
	}

	m = dma_zalloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->node.start = iova;
	m->node.last = last;
	m->prot = prot;
	m->src = (uint8_t)src;
	m->reg = reg;
	if (src == DMA_SRC_HPA) {
		m->seg0.off = 0;
		m->seg0.pa = hpa;
		m->seg0.size = size;
		m->segs = &m->seg0;
		m->nseg = 1;
	} else {
		err = alloc_backing(m, iova, size, order_of(pg));
		if (err) {
			free(m);
			return err;
		}
	}

	/* Charge: check the limit for the whole call first. */
	if (!reg) {
		struct pin_ctx c = {s->owner, 0, 0, 0};
		err = walk_runs(m, iova, iova + size, count_run, &c);
		if (err)
			goto out_free;
		if (over_limit(s->owner, c.bytes)) {
			err = -ENOMEM;
			goto out_free;
		}
	}
	err = pin_range(s, m, iova, iova + size);
	if (err)
		goto out_free;

	di = 0;
	for (d = s->doms; d; d = d->next, di++) {
		iommu_gather_init(&d->gat);
		err = dom_map(d->hw, m, iova, iova + size, &d->gat);
		if (err)
			break;
	}
	if (!err) {
		for (di = 0, d = s->doms; d; d = d->next, di++)
			if ((err = dom_flush(d->hw, &d->gat)))
				break;
		if (!err)
			goto commit;
		di = nd; /* every domain holds the mapping */
	}
	/* Unwind: domains before di hold the mapping; domain di (if any)
	 * unwound itself into its gather.  Release only after every flush. */
	need = 0;
	{
		unsigned k = 0;
		for (d = s->doms; d && k <= di; d = d->next, k++) {
			if (k < di && d->hw->unit->ops->unmap(d->hw, iova, size, &d->gat))
				need = 1;
			if (dom_flush(d->hw, &d->gat))
				need = 1;
		}
	}
	if (need)
		goto quarantine;
	unpin_range(s, m, iova, iova + size);
	goto out_free;

commit:
	itree_insert(&s->maps, &m->node);
	s->bytes += size;
	if (reg)
		reg->users++;
	if (first_hpa)
		*first_hpa = m->segs[0].pa;
	return 0;

quarantine:
	/* A device may still reach the memory through a stale IOTLB entry:
	 * keep it pinned and charged rather than free it. */
	quarantined += size;
	m->qnext = quarantine_list;
	quarantine_list = m;
	klog("dma: flush failed unwinding map %#llx+%#llx; memory stays pinned",
	     (unsigned long long)iova, (unsigned long long)size);
	return err;

out_free:
	mapping_free(m);
	release_deferred();
	return err;
}

/* Collects the mappings of [iova, last] as spans; -EINVAL if one sticks out. */
static int collect(struct dma_space *s, uint64_t iova, uint64_t last, struct span **out, size_t *n)
{
	struct itree_node *x;
	size_t cnt = 0, i = 0;
	struct span *v;

	*out = NULL;
	*n = 0;
	for (x = itree_first(&s->maps, iova, last); x; x = itree_next(&s->maps, x, iova, last)) {
		if (x->start < iova || x->last > last)
			return -EINVAL; /* v2: never bisect a mapping */
		cnt++;
	}
	if (!cnt)
		return 0;
	v = dma_zalloc(cnt * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (x = itree_first(&s->maps, iova, last); x; x = itree_next(&s->maps, x, iova, last)) {
		v[i].m = MAP_OF(x);
		v[i].a = x->start;
		v[i].b = x->last + 1;
		i++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int unmap_range(struct dma_space *s, uint64_t iova, uint64_t last, uint64_t *unmapped)
{
	struct span *v;
	size_t n;
	uint64_t total = 0;
	int err = collect(s, iova, last, &v, &n);

	if (unmapped)
		*unmapped = 0;
	if (err || !n)
		return err;
	err = unmap_spans(s, v, n);
	if (err) {
		free(v);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		struct dma_mapping *m = v[i].m;
		itree_remove(&s->maps, &m->node);
		total += m_size(m);
		s->bytes -= m_size(m);
		s->hinted -= m->hinted;
		mapping_release(s, m);
	}
	free(v);
	release_deferred();
	if (unmapped)
		*unmapped = total;
	return 0;
}

int dma_unmap(struct dma_space *s, uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	uint64_t pg = pgsize_of(space_pgsizes(s)), last;

	if (unmapped)
		*unmapped = 0;
	if (size == 0)
		return -EINVAL;
	if (!last_of(iova, size, &last))
		return -EOVERFLOW;
	if ((iova | size) & (pg - 1))
		return -EINVAL;
	return unmap_range(s, iova, last, unmapped);
}

int dma_unmap_all(struct dma_space *s, uint64_t *unmapped)
{
	return unmap_range(s, 0, UINT64_MAX, unmapped);
}

int dma_translate(struct dma_space *s, uint64_t iova, uint64_t *hpa, unsigned *level,
		  unsigned *prot)
{
	struct iommu_domain *d;
	unsigned lv = 0, pr = 0;
	int err;

	if (!s->doms)
		return -ENOENT;
	d = s->doms->hw;
	err = d->unit->ops->iova_to_phys(d, iova, hpa, &lv, &pr);
	if (level)
		*level = lv;
	if (prot)
		*prot = pr;
	return err;
}

int dma_lookup(struct dma_space *s, uint64_t iova, uint64_t *hpa, bool *hinted)
{
	struct itree_node *x = itree_first(&s->maps, iova, iova);
	struct dma_mapping *m;
	uint32_t lo = 0, hi;

	if (!x)
		return -ENOENT;
	m = MAP_OF(x);
	hi = m->nseg;
	while (lo + 1 < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (m->segs[mid].off <= iova - x->start)
			lo = mid;
		else
			hi = mid;
	}
	*hpa = m->segs[lo].pa + (iova - x->start - m->segs[lo].off);
	if (hinted) {
		*hinted = false;
		for (uint32_t i = 0; i < m->nhint; i++)
			if (iova >= m->hint[i].s && iova < m->hint[i].e)
				*hinted = true;
	}
	return 0;
}

void dma_stats(struct dma_stats *out)
{
	out->quarantined = quarantined;
	out->leaked_domains = leaked_domains;
	out->deferred_free = n_deferred;
	out->side_entries = acct_side_entries();
}
