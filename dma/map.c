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
static int alloc_backing(struct dma_mapping *m, uint64_t iova, uint64_t size, unsigned min_order,
			 uint16_t holder, enum dma_why_mem *what)
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
			*what = DMA_MEM_TRACKING;
			if (!ns)
				goto fail;
			m->segs = ns;
			cap = nc;
		}
		for (;;) {
			pa = dma_frame_alloc(k, holder);
			if (pa || k <= min_order)
				break;
			k--;
		}
		*what = DMA_MEM_BACKING;
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
	struct dma_dom *d, *failed = NULL;
	size_t done = 0;
	int err = 0;

	for (d = s->doms; d && !err; d = d->next) {
		iommu_gather_init(&d->gat);
		for (done = 0; done < n; done++) {
			err = d->hw->unit->ops->unmap(d->hw, v[done].a, v[done].b - v[done].a,
						      &d->gat);
			if (err) {
				why_iommu(s, err, d->hw->unit, DMA_OP_UNMAP, v[done].a);
				failed = d;
				break;
			}
		}
	}
	if (err) {
		/* Put back what each domain lost (domains before the failed one
		 * every span, the failed one its first done), so devices keep
		 * every translation they had: the records never changed and the
		 * pages are still pinned, so the translations are the same. */
		for (d = s->doms; d; d = d->next) {
			remap_spans(d->hw, v, d == failed ? done : n, &d->gat);
			if (dom_flush(d->hw, &d->gat))
				klog("dma: flush failed while restoring an unmap");
			if (d == failed)
				break;
		}
		return err;
	}
	for (d = s->doms; d; d = d->next) {
		int e = dom_flush(d->hw, &d->gat);
		if (e && !err)
			err = why_iommu(s, e, d->hw->unit, DMA_OP_FLUSH, v[0].a);
	}
	if (!err)
		return 0;
	/* A flush failed: a device may still hold the old translations, so
	 * nothing may be released.  The mappings go back into every domain
	 * (same translations), and the call fails as a whole. */
	for (d = s->doms; d; d = d->next) {
		remap_spans(d->hw, v, n, &d->gat);
		if (dom_flush(d->hw, &d->gat))
			klog("dma: flush failed while restoring an unmap");
	}
	return err;
}

/* A map request; map_check validates it before anything is allocated. */
struct map_req {
	uint64_t iova, size, last, hpa;
	enum dma_src src;
	unsigned prot;
	uint64_t pg;	     /* the space's page size */
	bool hyp;	     /* the hypervisor's (dma_map_hyp) */
	struct dma_reg *reg; /* the registration holding the whole hpa source */
};

/* The range checks every call over [iova, iova + size) makes: not empty,
 * no wrap, aligned to the page size pg. */
int range_check(struct dma_space *s, uint64_t iova, uint64_t size, uint64_t pg, uint64_t *last)
{
	if (size == 0)
		return why(s, -EINVAL, DMA_WHY_ZERO_SIZE, 0, 0);
	if (!last_of(iova, size, last))
		return why(s, -EOVERFLOW, DMA_WHY_IOVA_WRAPS, iova, size);
	if (iova & (pg - 1))
		return why(s, -EINVAL, DMA_WHY_IOVA_ALIGN, iova, pg);
	if (size & (pg - 1))
		return why(s, -EINVAL, DMA_WHY_SIZE_ALIGN, size, pg);
	return 0;
}

static int map_check(struct dma_space *s, struct map_req *r)
{
	uint64_t hlast = 0, bad;
	bool hpa_src = r->src == DMA_SRC_HPA;
	struct itree_node *x;
	int err;

	if (!(r->prot & (DMA_PROT_R | DMA_PROT_W)) || (r->prot & ~(DMA_PROT_R | DMA_PROT_W)) ||
	    (!hpa_src && r->src != DMA_SRC_ALLOC))
		return why(s, -EINVAL, DMA_WHY_BAD_ARG, r->prot, r->src);
	if (r->size && !last_of(r->iova, r->size, &r->last))
		return why(s, -EOVERFLOW, DMA_WHY_IOVA_WRAPS, r->iova, r->size);
	if (r->size && hpa_src && !last_of(r->hpa, r->size, &hlast))
		return why(s, -EOVERFLOW, DMA_WHY_HPA_WRAPS, r->hpa, r->size);
	if (!r->pg)
		return why(s, -EINVAL, DMA_WHY_PGSIZE, r->iova, 0);
	if ((err = range_check(s, r->iova, r->size, r->pg, &r->last)))
		return err;
	if (hpa_src && (r->hpa & (r->pg - 1)))
		return why(s, -EINVAL, DMA_WHY_HPA_ALIGN, r->hpa, r->pg);
	if ((err = iova_check(s, r->iova, r->last)))
		return err;
	x = itree_first(&s->maps, r->iova, r->last);
	if (x)
		return why_map(s, -EEXIST, DMA_WHY_OVERLAP, x, 0, 0, -1);
	/* The limit is the user's (VFIO's dma_entry_limit); sluice's own
	 * mappings are not the user's to pay for. */
	if (!r->hyp && user_maps(s) >= s->map_limit)
		return why(s, -ENOSPC, DMA_WHY_MAP_LIMIT, user_maps(s), s->map_limit);
	if (hpa_src) {
		/* A device may never be pointed at sluice itself. */
		if (!src_ok(s->owner, r->hpa, r->size, &bad))
			return why_not_dma(s, bad);
		struct itree_node *rn = itree_first(&s->regs, r->hpa, hlast);
		if (rn && rn->start <= r->hpa && rn->last >= hlast)
			r->reg = REG_OF(rn);
	}
	return 0;
}

/* The record of r and its backing: the hpa source as one segment, or
 * fresh blocks. */
static int map_record(struct dma_space *s, const struct map_req *r, struct dma_mapping **out)
{
	struct dma_mapping *m = dma_zalloc(sizeof(*m));
	enum dma_why_mem what;

	if (!m)
		return why_nomem(s, sizeof(*m), DMA_MEM_RECORD);
	m->node.start = r->iova;
	m->node.last = r->last;
	m->prot = r->prot;
	m->src = (uint8_t)r->src;
	m->hyp = r->hyp;
	m->reg = r->reg;
	if (r->src == DMA_SRC_HPA) {
		m->seg0.off = 0;
		m->seg0.pa = r->hpa;
		m->seg0.size = r->size;
		m->segs = &m->seg0;
		m->nseg = 1;
	} else if (alloc_backing(m, r->iova, r->size, order_of(r->pg), map_owner(s, m)->id,
				 &what)) {
		free(m);
		return why_nomem(s, what == DMA_MEM_BACKING ? r->size : 0, what);
	}
	*out = m;
	return 0;
}

/* Checks the owner's limit for the whole call first, then pins and
 * charges (nothing to do inside a registration). */
static int map_charge(struct dma_space *s, struct dma_mapping *m)
{
	struct pin_ctx c = {.o = map_owner(s, m)};
	int err;

	if (m->reg)
		return 0;
	err = walk_runs(m, m_start(m), m_end(m), count_run, &c);
	if (err)
		return why_acct(s, err, c.bad, c.bad_len);
	if (over_limit(c.o, c.bytes))
		return why_pin_limit(s, c.o, c.bytes);
	return pin_range(s, m, m_start(m), m_end(m));
}

/* How an unwound map left the hardware (map_domains). */
enum stuck {
	STUCK_NONE = 0,
	STUCK_FLUSH = 1,  /* an unwinding flush failed: stale IOTLB entries */
	STUCK_MAPPED = 2, /* an unwinding unmap failed: a domain still maps it */
};

/* Maps m into every domain, then flushes each.  On failure every domain
 * is unmapped and flushed again before this returns, so the caller may
 * unpin; *stuck says an unwinding unmap or flush failed, and then a device
 * may still reach the pages: they must stay pinned. */
static int map_domains(struct dma_space *s, struct dma_mapping *m, unsigned *stuck)
{
	uint64_t a = m_start(m), size = m_size(m);
	struct dma_dom *d, *failed = NULL;
	bool left = false;
	int err = 0;

	*stuck = STUCK_NONE;
	for (d = s->doms; d && !err; d = d->next) {
		iommu_gather_init(&d->gat);
		if ((err = dom_map_unwind(d->hw, m, a, a + size, &d->gat, &left))) {
			why_iommu(s, err, d->hw->unit, DMA_OP_MAP, a);
			failed = d;
			if (left) {
				dom_dirty(d, a, size);
				*stuck |= STUCK_MAPPED;
			}
		}
	}
	if (!err) {
		for (d = s->doms; d && !err; d = d->next)
			if ((err = dom_flush(d->hw, &d->gat)))
				why_iommu(s, err, d->hw->unit, DMA_OP_FLUSH, a);
		if (!err)
			return 0;
		failed = NULL; /* every domain holds the mapping */
	}
	/* Devices may already be using the new translations (a present entry
	 * is live before any flush).  Each domain before the failed one holds
	 * the whole mapping, the failed one unwound its part itself (dom_map):
	 * unmap, then flush, so no IOTLB entry survives when the caller
	 * unpins and the pages may be reused. */
	for (d = s->doms; d; d = d->next) {
		if (d != failed && d->hw->unit->ops->unmap(d->hw, a, size, &d->gat)) {
			dom_dirty(d, a, size);
			*stuck |= STUCK_MAPPED;
		}
		if (dom_flush(d->hw, &d->gat))
			*stuck |= STUCK_FLUSH;
		if (d == failed)
			break;
	}
	return err;
}

/* A device may still reach m's memory through a stale IOTLB entry, or
 * through a domain whose unwinding unmap failed (mapped): keep it pinned
 * and charged for ever rather than free it; if mapped, its IOVA also stays
 * taken in the space (s->quar), so nothing new is placed over it. */
static void quarantine(struct dma_space *s, struct dma_mapping *m, bool mapped)
{
	if (mapped)
		itree_insert(&s->quar, &m->node);
	/* Its owner's id may be reused once the owner is gone: the alloc
	 * blocks belong to nobody, so no later owner may map them (src_ok). */
	if (m->src == DMA_SRC_ALLOC)
		for (uint32_t i = 0; i < m->nseg; i++)
			frame_set_holder(m->segs[i].pa, order_of(m->segs[i].size), 0);
	quarantined += m_size(m);
	m->qnext = quarantine_list;
	quarantine_list = m;
	klog("dma: %s unwinding map %#llx+%#llx; memory stays pinned",
	     mapped ? "unmap failed" : "flush failed", (unsigned long long)m_start(m),
	     (unsigned long long)m_size(m));
}

static int map_common(struct dma_space *s, struct map_req *r, uint64_t *first_hpa)
{
	struct dma_mapping *m = NULL;
	unsigned stuck;
	int err;

	why_clear(s);
	r->pg = pgsize_of(space_pgsizes(s));
	err = map_check(s, r);
	if (err)
		return err;
	err = map_record(s, r, &m);
	if (err)
		return err;
	err = map_charge(s, m);
	if (err)
		goto out_free;
	err = map_domains(s, m, &stuck);
	if (err && stuck) {
		quarantine(s, m, stuck & STUCK_MAPPED);
		return err;
	}
	if (err) {
		/* Unmapped and flushed everywhere: the pins may go. */
		unpin_range(s, m, m_start(m), m_end(m));
		goto out_free;
	}
	itree_insert(&s->maps, &m->node);
	s->bytes += r->size;
	s->nhyp += m->hyp;
	if (m->reg)
		m->reg->users++;
	if (first_hpa)
		*first_hpa = m->segs[0].pa;
	return 0;

out_free:
	mapping_free(m);
	release_deferred();
	return err;
}

int dma_map(struct dma_space *s, uint64_t iova, uint64_t size, enum dma_src src, uint64_t hpa,
	    unsigned prot, uint64_t *first_hpa)
{
	struct map_req r = {.iova = iova, .size = size, .hpa = hpa, .src = src, .prot = prot};

	return map_common(s, &r, first_hpa);
}

int dma_map_hyp(struct dma_space *s, uint64_t iova, uint64_t size, unsigned prot,
		uint64_t *first_hpa)
{
	struct map_req r = {
		.iova = iova, .size = size, .src = DMA_SRC_ALLOC, .prot = prot, .hyp = true};

	return map_common(s, &r, first_hpa);
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
		/* VFIO type1 v2: an unmap never splits a mapping (-EINVAL). */
		if (x->start < iova || x->last > last)
			return why_map(s, -EINVAL, DMA_WHY_BISECT, x, 0, 0, -1);
		cnt++;
	}
	if (!cnt)
		return 0;
	v = dma_zalloc(cnt * sizeof(*v));
	if (!v)
		return why_nomem(s, cnt * sizeof(*v), DMA_MEM_TRACKING);
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
		s->nhyp -= m->hyp;
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
	int err;

	why_clear(s);
	if (unmapped)
		*unmapped = 0;
	err = range_check(s, iova, size, pg, &last);
	if (err)
		return err;
	return unmap_range(s, iova, last, unmapped);
}

int dma_unmap_all(struct dma_space *s, uint64_t *unmapped)
{
	why_clear(s);
	return unmap_range(s, 0, UINT64_MAX, unmapped);
}

int dma_translate(struct dma_space *s, uint64_t iova, uint64_t *hpa, unsigned *level,
		  unsigned *prot)
{
	struct iommu_domain *d;
	unsigned lv = 0, pr = 0;
	int err;

	why_clear(s);
	if (!s->doms)
		return why(s, -ENOENT, DMA_WHY_NO_DOMAIN, 0, 0);
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
	out->hyp_pinned = acct_hyp_owner()->pinned;
}
