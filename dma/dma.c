/*
 * dma/dma.c — address spaces, mappings, domains, pre-registration and
 * hinting (see dma.h and docs/dma.md).  The space's interval tree of
 * mappings is the truth; every hardware domain is derived from it.
 *
 * Every operation validates first, then allocates everything it may need,
 * then changes hardware (unwinding on driver failure), and only then commits
 * to the records, so a failure anywhere leaves the space as it was.  Memory
 * is released (unpinned, uncharged, freed) only after every domain's flush
 * succeeded (iommu.h: "unpinned and reused only after flush() returned 0").
 */
#include <stdlib.h>
#include <string.h>

#include "dma/acct.h"
#include "dma/dma.h"
#include "kernel/log.h"
#include "kernel/frame.h"
#include "lib/itree.h"

bool dma_allow_unsafe_interrupts;

/* A physical segment of a mapping, at IOVA offset off. */
struct seg {
	uint64_t off, pa, size;
};

/* A hinted IOVA interval [s, e). */
struct ivl {
	uint64_t s, e;
};

struct dma_reg {
	struct itree_node node; /* [hpa, hpa+size-1] */
	unsigned users;		/* mappings backed by it */
};

struct dma_mapping {
	struct itree_node node; /* [iova, iova+size-1] */
	unsigned prot;
	uint8_t src;
	struct dma_reg *reg; /* pre-registration holding the pins, or NULL */
	uint32_t nseg;
	struct seg *segs; /* &seg0 for HPA mappings */
	struct seg seg0;
	uint32_t nhint;
	struct ivl *hint;	   /* sorted, disjoint, non-adjacent */
	uint64_t hinted;	   /* bytes */
	struct dma_mapping *qnext; /* quarantine list */
};

struct dma_dom {
	struct iommu_domain *hw;
	unsigned ngroups;
	struct dma_dom *next;
};

struct resv {
	struct itree_node node;
	struct dma_group *group; /* NULL: the space's own (MSI window) */
};

struct dma_space {
	unsigned id;
	struct dma_owner *owner;
	struct itree maps, regs, resv;
	uint64_t bytes, hinted, map_limit;
	struct dma_dom *doms;
	struct dma_group *groups;
	struct dma_space *next;
};

/* x86 interrupt address range (VT-d 3.15: DMA writes here are interrupt
 * requests, never translated). */
#define MSI_START 0xFEE00000ull
#define MSI_LAST 0xFEEFFFFFull

static struct dma_space *spaces;

/* Alloc blocks whose frame_free was refused because another holder still
 * pins them; retried after every release. */
struct deferred {
	uint64_t pa;
	unsigned order;
	struct deferred *next;
};
static struct deferred *deferred;
static uint64_t n_deferred, quarantined, leaked_domains;
static struct dma_mapping *quarantine_list;

#define MAP_OF(n) itree_entry(n, struct dma_mapping, node)
#define REG_OF(n) itree_entry(n, struct dma_reg, node)

static uint64_t m_start(const struct dma_mapping *m) { return m->node.start; }
static uint64_t m_end(const struct dma_mapping *m) { return m->node.last + 1; }
static uint64_t m_size(const struct dma_mapping *m) { return m->node.last - m->node.start + 1; }

static unsigned order_of(uint64_t size) { return (unsigned)__builtin_ctzll(size) - FRAME_SHIFT; }

/* ------------------------------------------------------ space geometry */

static uint64_t space_pgsizes(const struct dma_space *s)
{
	uint64_t p = ~(PGSIZE_4K - 1);

	for (struct dma_dom *d = s->doms; d; d = d->next)
		p &= d->hw->pgsizes;
	return p;
}

/* Smallest page size every domain supports, never below 4 KiB. */
static uint64_t pgsize_of(uint64_t pgsizes)
{
	pgsizes &= ~(PGSIZE_4K - 1);
	return pgsizes ? pgsizes & -pgsizes : 0;
}

static uint64_t space_iova_last(const struct dma_space *s)
{
	uint64_t l = UINT64_MAX;

	for (struct dma_dom *d = s->doms; d; d = d->next)
		if (d->hw->aperture_end < l)
			l = d->hw->aperture_end;
	return l;
}

static bool iova_valid(const struct dma_space *s, uint64_t iova, uint64_t last)
{
	return last <= space_iova_last(s) && !itree_first(&s->resv, iova, last);
}

/* ------------------------------------------------------------ iterators */

typedef int (*run_fn)(uint64_t iova, uint64_t pa, uint64_t len, void *arg);

/* Physical runs backing [a, b) of m (no hint filtering), in IOVA order;
 * adjacent segments that are physically contiguous form one run. */
static int walk_runs(const struct dma_mapping *m, uint64_t a, uint64_t b, run_fn fn, void *arg)
{
	uint64_t base = m_start(m);
	uint32_t i = 0, lo = 0, hi = m->nseg;

	/* Segment holding offset a - base (binary search). */
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (m->segs[mid].off + m->segs[mid].size <= a - base)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo;
	while (a < b) {
		const struct seg *sg = &m->segs[i];
		uint64_t o = a - base - sg->off;
		uint64_t pa = sg->pa + o;
		uint64_t len = sg->size - o;
		int err;

		while (a + len < b && i + 1 < m->nseg && m->segs[i + 1].pa == sg->pa + sg->size) {
			i++;
			sg = &m->segs[i];
			len += sg->size;
		}
		if (len > b - a)
			len = b - a;
		err = fn(a, pa, len, arg);
		if (err)
			return err;
		a += len;
		i++;
	}
	return 0;
}

typedef int (*ivl_fn)(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg);

/* Sub-ranges of [a, b) that are not hinted (live == true) or hinted. */
static int walk_pieces(struct dma_mapping *m, uint64_t a, uint64_t b, bool live, ivl_fn fn,
		       void *arg)
{
	uint64_t cur = a;
	int err;

	for (uint32_t i = 0; i < m->nhint && cur < b; i++) {
		uint64_t hs = m->hint[i].s, he = m->hint[i].e;

		if (he <= cur)
			continue;
		if (hs >= b)
			break;
		if (hs < cur)
			hs = cur;
		if (he > b)
			he = b;
		if (live && hs > cur && (err = fn(m, cur, hs, arg)))
			return err;
		if (!live && (err = fn(m, hs, he, arg)))
			return err;
		cur = he;
	}
	if (live && cur < b)
		return fn(m, cur, b, arg);
	return 0;
}

/* Runs of the live (not hinted) part of [a, b). */
struct live_ctx {
	run_fn fn;
	void *arg;
};

static int live_piece(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct live_ctx *c = arg;

	return walk_runs(m, a, b, c->fn, c->arg);
}

static int walk_live_runs(struct dma_mapping *m, uint64_t a, uint64_t b, run_fn fn, void *arg)
{
	struct live_ctx c = {fn, arg};

	return walk_pieces(m, a, b, true, live_piece, &c);
}

/* ------------------------------------------------------- pin / charge */

struct pin_ctx {
	struct dma_owner *o;
	uint64_t bytes; /* counted / done */
	uint64_t stop;	/* IOVA reached */
	int err;
};

static int count_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	struct pin_ctx *c = arg;
	uint64_t n;
	int err = acct_new_bytes(c->o, pa, len, &n);

	if (err)
		return err;
	c->bytes += n;
	return 0;
}

static int get_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	struct pin_ctx *c = arg;
	int err = acct_get(c->o, pa, len);

	if (err)
		return err;
	c->stop = iova + len;
	return 0;
}

static int put_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	struct pin_ctx *c = arg;

	acct_put(c->o, pa, len);
	return 0;
}

/* Pins and charges the live runs of m in [a, b); all or nothing.  Frames are
 * held once per mapping record (not per domain). */
static int pin_range(struct dma_space *s, struct dma_mapping *m, uint64_t a, uint64_t b)
{
	struct pin_ctx c = {s->owner, 0, a, 0};
	int err;

	if (m->reg)
		return 0;
	err = walk_live_runs(m, a, b, get_run, &c);
	if (err) {
		struct pin_ctx u = {s->owner, 0, 0, 0};
		if (c.stop > a)
			(void)walk_live_runs(m, a, c.stop, put_run, &u);
	}
	return err;
}

static void unpin_range(struct dma_space *s, struct dma_mapping *m, uint64_t a, uint64_t b)
{
	struct pin_ctx c = {s->owner, 0, 0, 0};

	if (!m->reg)
		(void)walk_live_runs(m, a, b, put_run, &c);
}

/* ------------------------------------------------------------- domains */

struct map_ctx {
	struct iommu_domain *d;
	unsigned prot;
	struct iommu_gather *g;
	uint64_t stop;
};

static int map_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	struct map_ctx *c = arg;
	int err = c->d->unit->ops->map(c->d, iova, pa, len, c->prot, c->g);

	if (err)
		return err;
	c->stop = iova + len;
	return 0;
}

/* Maps the live part of [a, b) of m into d with one map call per
 * physically contiguous run, so the driver can choose 2M/1G leaves.  On
 * failure whatever was mapped is unmapped again (into g) before returning. */
static int dom_map(struct iommu_domain *d, struct dma_mapping *m, uint64_t a, uint64_t b,
		   struct iommu_gather *g)
{
	struct map_ctx c = {d, m->prot, g, a};
	int err = walk_live_runs(m, a, b, map_run, &c);

	if (err && c.stop > a && d->unit->ops->unmap(d, a, c.stop - a, g))
		klog("dma: unwinding a failed map left %#llx+%#llx mapped", (unsigned long long)a,
		     (unsigned long long)(c.stop - a));
	return err;
}

/* Flush with one retry: a failed flush means memory must stay held. */
static int dom_flush(struct iommu_domain *d, struct iommu_gather *g)
{
	int err;

	if (!g->need_flush && !g->nfree && g->end == 0)
		return 0;
	err = d->unit->ops->flush(d, g);
	if (err)
		err = d->unit->ops->flush(d, g);
	return err;
}

static unsigned count_doms(const struct dma_space *s)
{
	unsigned n = 0;

	for (struct dma_dom *d = s->doms; d; d = d->next)
		n++;
	return n;
}

/* ----------------------------------------------------------- mappings */

static void release_deferred(void)
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

/* Every frame of [pa, pa+size) is user, DMA or guest memory.  Walked as
 * runs of records (kernel/frame.h frame_run), not one lookup per frame. */
static bool src_ok(uint64_t pa, uint64_t size)
{
	uint64_t pfn = pa >> FRAME_SHIFT, left = (size + FRAME_SIZE - 1) >> FRAME_SHIFT;

	while (left) {
		uint64_t cnt;
		unsigned bad = 0;
		struct frame *f = frame_run(pfn << FRAME_SHIFT, &cnt);

		if (!f)
			return false;
		if (cnt > left)
			cnt = left;
		for (uint64_t i = 0; i < cnt; i++)
			bad |= f[i].tag != FRAME_USER && f[i].tag != FRAME_DMA &&
			       f[i].tag != FRAME_GUEST;
		if (bad)
			return false;
		pfn += cnt;
		left -= cnt;
	}
	return true;
}

/* Overflow-checked last byte; false when [a, a+size) wraps. */
static bool last_of(uint64_t a, uint64_t size, uint64_t *last)
{
	*last = a + size - 1;
	return *last >= a;
}

/* A mapping's sub-range [a, b). */
struct span {
	struct dma_mapping *m;
	uint64_t a, b;
};

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
	unsigned nd = count_doms(s), di = 0, k;
	struct iommu_gather g[nd ? nd : 1];
	struct dma_dom *d;
	size_t done = 0;
	int err = 0;

	for (d = s->doms; d; d = d->next, di++) {
		iommu_gather_init(&g[di]);
		for (done = 0; done < n; done++) {
			err = d->hw->unit->ops->unmap(d->hw, v[done].a, v[done].b - v[done].a,
						      &g[di]);
			if (err)
				break;
		}
		if (err)
			break;
	}
	if (err) {
		/* Domains before di lost every span, domain di the first done. */
		for (k = 0, d = s->doms; d && k <= di; d = d->next, k++) {
			remap_spans(d->hw, v, k < di ? n : done, &g[k]);
			if (dom_flush(d->hw, &g[k]))
				klog("dma: flush failed while restoring an unmap");
		}
		return err;
	}
	for (di = 0, d = s->doms; d; d = d->next, di++) {
		int e = dom_flush(d->hw, &g[di]);
		if (e && !err)
			err = e;
	}
	if (!err)
		return 0;
	/* A flush failed: nothing may be released; put everything back. */
	for (k = 0, d = s->doms; d; d = d->next, k++) {
		remap_spans(d->hw, v, n, &g[k]);
		if (dom_flush(d->hw, &g[k]))
			klog("dma: flush failed while restoring an unmap");
	}
	return err;
}

/* Would charging bytes more take the owner past its limit?  A limit set
 * below what is already pinned refuses every new charge (no wrap-around). */
static bool over_limit(const struct dma_owner *o, uint64_t bytes)
{
	return o->pinned > o->limit || bytes > o->limit - o->pinned;
}

int dma_map(struct dma_space *s, uint64_t iova, uint64_t size, enum dma_src src, uint64_t hpa,
	    unsigned prot, uint64_t *first_hpa)
{
	uint64_t pg = pgsize_of(space_pgsizes(s));
	uint64_t last, hlast = 0, need;
	struct dma_mapping *m;
	struct dma_reg *reg = NULL;
	unsigned nd = count_doms(s), di;
	struct iommu_gather g[nd ? nd : 1];
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
		iommu_gather_init(&g[di]);
		err = dom_map(d->hw, m, iova, iova + size, &g[di]);
		if (err)
			break;
	}
	if (!err) {
		for (di = 0, d = s->doms; d; d = d->next, di++)
			if ((err = dom_flush(d->hw, &g[di])))
				break;
		if (!err)
			goto commit;
		di = nd; /* every domain holds the mapping */
	}
	/* Unwind: domains before di hold the mapping; domain di (if any)
	 * unwound itself into g[di].  Release only after every flush. */
	need = 0;
	{
		unsigned k = 0;
		for (d = s->doms; d && k <= di; d = d->next, k++) {
			if (k < di && d->hw->unit->ops->unmap(d->hw, iova, size, &g[k]))
				need = 1;
			if (dom_flush(d->hw, &g[k]))
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

/* -------------------------------------------------------------- hinting */

/* Checks [iova, last] is covered by mappings without gaps; returns spans
 * clipped to the range. */
static int collect_covered(struct dma_space *s, uint64_t iova, uint64_t last, struct span **out,
			   size_t *n)
{
	struct itree_node *x;
	uint64_t cur = iova;
	size_t cnt = 0, i = 0;
	struct span *v;

	for (x = itree_first(&s->maps, iova, last); x; x = itree_next(&s->maps, x, iova, last)) {
		if (x->start > cur)
			return -EINVAL;
		cur = x->last + 1;
		cnt++;
		if (x->last >= last)
			break;
	}
	if (!cnt || (x ? x->last < last : cur <= last))
		return -EINVAL;
	v = dma_zalloc(cnt * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (x = itree_first(&s->maps, iova, last); x && i < cnt;
	     x = itree_next(&s->maps, x, iova, last)) {
		v[i].m = MAP_OF(x);
		v[i].a = x->start > iova ? x->start : iova;
		v[i].b = x->last < last ? x->last + 1 : last + 1;
		i++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* New hinted set of m after adding (add) or removing [a, b). */
static int hint_edit(const struct dma_mapping *m, uint64_t a, uint64_t b, bool add,
		     struct ivl **out, uint32_t *nout, uint64_t *bytes)
{
	struct ivl *v = dma_zalloc((m->nhint + 2) * sizeof(*v));
	uint32_t n = 0;
	uint64_t tot = 0;

	if (!v)
		return -ENOMEM;
	if (add) {
		bool placed = false;
		for (uint32_t i = 0; i <= m->nhint; i++) {
			struct ivl cur;
			if (i < m->nhint && (placed || m->hint[i].s < a)) {
				cur = m->hint[i];
			} else if (!placed) {
				cur.s = a;
				cur.e = b;
				placed = true;
				i--; /* revisit hint[i] */
			} else {
				break;
			}
			if (n && v[n - 1].e >= cur.s) {
				if (cur.e > v[n - 1].e)
					v[n - 1].e = cur.e;
			} else {
				v[n++] = cur;
			}
		}
	} else {
		for (uint32_t i = 0; i < m->nhint; i++) {
			struct ivl h = m->hint[i];
			if (h.e <= a || h.s >= b) {
				v[n++] = h;
				continue;
			}
			if (h.s < a)
				v[n++] = (struct ivl){h.s, a};
			if (h.e > b)
				v[n++] = (struct ivl){b, h.e};
		}
	}
	for (uint32_t i = 0; i < n; i++)
		tot += v[i].e - v[i].s;
	*out = v;
	*nout = n;
	*bytes = tot;
	return 0;
}

struct hint_ctx {
	struct dma_space *s;
	struct iommu_domain *d;
	struct iommu_gather *g;
	int err;
	uint64_t count; /* pieces processed */
	uint64_t limit; /* stop after this many (restore) */
	uint64_t charge;
};

static int piece_unmap(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	int err = c->d->unit->ops->unmap(c->d, a, b - a, c->g);

	if (err)
		return err;
	c->count++;
	return 0;
}

static int piece_remap(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	struct map_ctx mc = {c->d, m->prot, c->g, a};

	if (c->count >= c->limit)
		return 1;
	c->count++;
	return walk_runs(m, a, b, map_run, &mc);
}

static int piece_map(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	struct map_ctx mc = {c->d, m->prot, c->g, a};
	int err = walk_runs(m, a, b, map_run, &mc);

	if (err) {
		if (mc.stop > a && c->d->unit->ops->unmap(c->d, a, mc.stop - a, c->g))
			klog("dma: unwinding unhint left a range mapped");
		return err;
	}
	c->count++;
	return 0;
}

static int piece_unmap_n(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;

	if (c->count >= c->limit)
		return 1;
	c->count++;
	return c->d->unit->ops->unmap(c->d, a, b - a, c->g);
}

/* Unhint re-checks the source: hinted memory is unpinned, so its owner may
 * have freed it meanwhile; a device must never be pointed at it again. */
static int count_run_src(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	if (!src_ok(pa, len))
		return -EPERM;
	return count_run(iova, pa, len, arg);
}

static int piece_count(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	struct pin_ctx p = {c->s->owner, 0, 0, 0};
	int err = walk_runs(m, a, b, count_run_src, &p);

	c->charge += p.bytes;
	return err;
}

static int piece_pin(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	struct pin_ctx p = {c->s->owner, 0, a, 0};
	int err = walk_runs(m, a, b, get_run, &p);

	if (err) {
		struct pin_ctx u = {c->s->owner, 0, 0, 0};
		if (p.stop > a)
			(void)walk_runs(m, a, p.stop, put_run, &u);
		return err;
	}
	c->count++;
	return 0;
}

static int piece_unpin_n(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	struct pin_ctx u = {c->s->owner, 0, 0, 0};

	if (c->count >= c->limit)
		return 1;
	c->count++;
	return walk_runs(m, a, b, put_run, &u);
}

static int hint_common(struct dma_space *s, uint64_t iova, uint64_t size, bool add)
{
	uint64_t pg = pgsize_of(space_pgsizes(s)), last;
	struct span *v;
	size_t n, i;
	struct ivl **nh;
	uint32_t *nn;
	uint64_t *nb;
	unsigned nd = count_doms(s), di;
	struct iommu_gather g[nd ? nd : 1];
	struct dma_dom *d;
	int err;

	if (size == 0)
		return -EINVAL;
	if (!last_of(iova, size, &last))
		return -EOVERFLOW;
	if ((iova | size) & (pg - 1))
		return -EINVAL;
	err = collect_covered(s, iova, last, &v, &n);
	if (err)
		return err;
	nh = dma_zalloc(n * sizeof(*nh));
	nn = dma_zalloc(n * sizeof(*nn));
	nb = dma_zalloc(n * sizeof(*nb));
	if (!nh || !nn || !nb) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((err = hint_edit(v[i].m, v[i].a, v[i].b, add, &nh[i], &nn[i], &nb[i])))
			goto out;

	if (add) {
		/* Hint: unmap the live pieces everywhere, flush, then unpin. */
		for (di = 0, d = s->doms; d; d = d->next, di++) {
			struct hint_ctx c = {s, d->hw, &g[di], 0, 0, 0, 0};
			iommu_gather_init(&g[di]);
			for (i = 0; i < n; i++) {
				c.count = 0;
				err = walk_pieces(v[i].m, v[i].a, v[i].b, true, piece_unmap, &c);
				if (err)
					break;
			}
			if (err) {
				/* Remap what this domain lost: spans < i whole, span i
				 * up to c.count pieces. */
				for (size_t j = 0; j <= i && j < n; j++) {
					struct hint_ctx r = {s, d->hw, &g[di],
							     0, 0,     j < i ? UINT64_MAX : c.count,
							     0};
					(void)walk_pieces(v[j].m, v[j].a, v[j].b, true, piece_remap,
							  &r);
				}
				if (dom_flush(d->hw, &g[di]))
					klog("dma: flush failed restoring a hint");
				break;
			}
		}
		if (!err) {
			for (di = 0, d = s->doms; d; d = d->next, di++) {
				int e = dom_flush(d->hw, &g[di]);
				if (e && !err)
					err = e;
			}
			if (err)
				di = nd;
		}
		if (err) {
			/* Domains before di lost every piece: map them back. */
			unsigned k = 0;
			for (d = s->doms; d && k < di; d = d->next, k++) {
				for (i = 0; i < n; i++) {
					struct hint_ctx r = {s, d->hw, &g[k], 0, 0, UINT64_MAX, 0};
					(void)walk_pieces(v[i].m, v[i].a, v[i].b, true, piece_remap,
							  &r);
				}
				if (dom_flush(d->hw, &g[k]))
					klog("dma: flush failed restoring a hint");
			}
			goto out;
		}
		for (i = 0; i < n; i++)
			if (!v[i].m->reg) {
				struct pin_ctx u = {s->owner, 0, 0, 0};
				struct live_ctx lc = {put_run, &u};
				(void)walk_pieces(v[i].m, v[i].a, v[i].b, true, live_piece, &lc);
			}
	} else {
		/* Unhint: pin and charge the hinted pieces, map them everywhere. */
		struct hint_ctx c = {s, NULL, NULL, 0, 0, 0, 0};
		size_t pinned_spans = 0;
		uint64_t pinned_pieces = 0;

		for (i = 0; i < n; i++)
			if (!v[i].m->reg &&
			    (err = walk_pieces(v[i].m, v[i].a, v[i].b, false, piece_count, &c)))
				goto out;
		if (over_limit(s->owner, c.charge)) {
			err = -ENOMEM;
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (v[i].m->reg)
				continue;
			c.count = 0;
			err = walk_pieces(v[i].m, v[i].a, v[i].b, false, piece_pin, &c);
			if (err)
				break;
		}
		pinned_spans = i;
		pinned_pieces = c.count;
		if (!err) {
			for (di = 0, d = s->doms; d; d = d->next, di++) {
				struct hint_ctx mc = {s, d->hw, &g[di], 0, 0, 0, 0};
				iommu_gather_init(&g[di]);
				for (i = 0; i < n; i++) {
					mc.count = 0;
					err = walk_pieces(v[i].m, v[i].a, v[i].b, false, piece_map,
							  &mc);
					if (err)
						break;
				}
				if (err) {
					for (size_t j = 0; j <= i && j < n; j++) {
						struct hint_ctx r = {
							s, d->hw, &g[di],
							0, 0,	  j < i ? UINT64_MAX : mc.count,
							0};
						(void)walk_pieces(v[j].m, v[j].a, v[j].b, false,
								  piece_unmap_n, &r);
					}
					break;
				}
			}
			if (!err) {
				for (di = 0, d = s->doms; d; d = d->next, di++)
					if ((err = dom_flush(d->hw, &g[di])))
						break;
				di = nd;
			}
			if (!err)
				goto commit;
			/* Unmap from domains [0, di) plus flush the failed one. */
			{
				unsigned k = 0;
				bool bad = false;
				for (d = s->doms; d; d = d->next, k++) {
					if (k < di)
						for (i = 0; i < n; i++) {
							struct hint_ctx r = {s, d->hw, &g[k],
									     0, 0,     UINT64_MAX,
									     0};
							(void)walk_pieces(v[i].m, v[i].a, v[i].b,
									  false, piece_unmap_n, &r);
						}
					if (k <= di && k < nd && dom_flush(d->hw, &g[k]))
						bad = true;
				}
				if (bad) {
					klog("dma: flush failed unwinding unhint; memory stays pinned");
					quarantined += size;
					goto out;
				}
			}
			pinned_spans = n;
		}
		/* Unpin what was pinned: spans before pinned_spans whole, span
		 * pinned_spans up to pinned_pieces. */
		for (i = 0; i <= pinned_spans && i < n; i++) {
			if (v[i].m->reg)
				continue;
			struct hint_ctx u = {s, NULL, NULL,
					     0, 0,    i < pinned_spans ? UINT64_MAX : pinned_pieces,
					     0};
			(void)walk_pieces(v[i].m, v[i].a, v[i].b, false, piece_unpin_n, &u);
		}
		goto out;
	}
commit:
	for (i = 0; i < n; i++) {
		struct dma_mapping *m = v[i].m;
		s->hinted += nb[i] - m->hinted;
		free(m->hint);
		m->hint = nh[i];
		m->nhint = nn[i];
		m->hinted = nb[i];
		nh[i] = NULL;
	}
	err = 0;
out:
	if (nh)
		for (i = 0; i < n; i++)
			free(nh[i]);
	free(nh);
	free(nn);
	free(nb);
	free(v);
	return err;
}

int dma_hint(struct dma_space *s, uint64_t iova, uint64_t size)
{
	return hint_common(s, iova, size, true);
}

int dma_unhint(struct dma_space *s, uint64_t iova, uint64_t size)
{
	return hint_common(s, iova, size, false);
}

/* ------------------------------------------------------ registration */

int dma_pin_register(struct dma_space *s, uint64_t hpa, uint64_t size)
{
	struct itree_node *x;
	struct dma_reg *r;
	uint64_t last, need;
	int err;

	if (size == 0 || ((hpa | size) & (FRAME_SIZE - 1)) || !last_of(hpa, size, &last))
		return -EINVAL;
	x = itree_first(&s->regs, hpa, last);
	if (x)
		return (x->start == hpa && x->last == last) ? -EBUSY : -EINVAL;
	if (!src_ok(hpa, size))
		return -EPERM;
	err = acct_new_bytes(s->owner, hpa, size, &need);
	if (err)
		return err;
	if (over_limit(s->owner, need))
		return -ENOMEM;
	r = dma_zalloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = acct_get(s->owner, hpa, size);
	if (err) {
		free(r);
		return err;
	}
	r->node.start = hpa;
	r->node.last = last;
	itree_insert(&s->regs, &r->node);
	s->owner->registered += size;
	return 0;
}

int dma_pin_unregister(struct dma_space *s, uint64_t hpa, uint64_t size)
{
	struct itree_node *x;
	struct dma_reg *r;
	uint64_t last;

	if (size == 0 || ((hpa | size) & (FRAME_SIZE - 1)) || !last_of(hpa, size, &last))
		return -EINVAL;
	x = itree_first(&s->regs, hpa, last);
	if (!x || x->start != hpa || x->last != last)
		return -ENOENT;
	r = REG_OF(x);
	/* Mappings point at their registration and count in users, which only
	 * this single-threaded path changes: no window where a map can slip in
	 * between this check and the release. */
	if (r->users)
		return -EBUSY;
	itree_remove(&s->regs, x);
	acct_put(s->owner, hpa, size);
	s->owner->registered -= size;
	free(r);
	release_deferred();
	return 0;
}

/* ------------------------------------------------------ attach/detach */

static struct dma_dom *dom_for(struct dma_space *s, struct iommu_unit *u)
{
	for (struct dma_dom *d = s->doms; d; d = d->next)
		if (d->hw->unit == u && d->hw->snoop == u->snoop_control &&
		    d->hw->pgsizes == u->pgsizes)
			return d;
	return NULL;
}

static void resv_drop_group(struct dma_space *s, struct dma_group *g)
{
	struct itree_node *x = itree_min(&s->resv), *nx;

	for (; x; x = nx) {
		nx = itree_succ(&s->resv, x);
		if (itree_entry(x, struct resv, node)->group == g) {
			itree_remove(&s->resv, x);
			free(itree_entry(x, struct resv, node));
		}
	}
}

static int resv_add(struct dma_space *s, uint64_t start, uint64_t last, struct dma_group *g)
{
	struct resv *r;

	if (last < start)
		return -EINVAL;
	if (itree_first(&s->maps, start, last))
		return -EINVAL;
	r = dma_zalloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->node.start = start;
	r->node.last = last;
	r->group = g;
	itree_insert(&s->resv, &r->node);
	return 0;
}

int dma_space_add_reserved(struct dma_space *s, uint64_t start, uint64_t last)
{
	return resv_add(s, start, last, NULL);
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

/* -------------------------------------------------------------- spaces */

int dma_space_create(struct dma_space *share_with, struct dma_space **out)
{
	struct dma_space *s, **pp;
	unsigned id = 1;
	int err;

	s = dma_zalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (share_with) {
		s->owner = share_with->owner;
		s->owner->refs++;
	} else if ((err = acct_owner_new(&s->owner))) {
		free(s);
		return err;
	}
	s->map_limit = DMA_DEFAULT_MAP_LIMIT;
	err = resv_add(s, MSI_START, MSI_LAST, NULL);
	if (err) {
		acct_owner_put(s->owner);
		free(s);
		return err;
	}
	/* Lowest free id; list sorted by id. */
	for (pp = &spaces; *pp && (*pp)->id == id; pp = &(*pp)->next)
		id++;
	s->id = id;
	s->next = *pp;
	*pp = s;
	*out = s;
	return 0;
}

int dma_space_destroy(struct dma_space *s)
{
	struct dma_space **pp;
	int err;

	err = dma_unmap_all(s, NULL);
	if (err)
		return err;
	while (s->groups) {
		err = dma_detach(s, s->groups);
		if (err && s->groups && s->groups->space == s)
			return err;
	}
	while (s->regs.root) {
		struct itree_node *x = s->regs.root;
		err = dma_pin_unregister(s, x->start, x->last - x->start + 1);
		if (err)
			return err;
	}
	while (s->resv.root) {
		struct itree_node *x = s->resv.root;
		itree_remove(&s->resv, x);
		free(itree_entry(x, struct resv, node));
	}
	for (pp = &spaces; *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	acct_owner_put(s->owner);
	free(s);
	return 0;
}

struct dma_space *dma_space_get(unsigned id)
{
	for (struct dma_space *s = spaces; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

struct dma_space *dma_space_next(struct dma_space *prev) { return prev ? prev->next : spaces; }

unsigned dma_space_id(const struct dma_space *s) { return s->id; }

struct dma_group *dma_space_group_at(struct dma_space *s, unsigned i)
{
	struct dma_group *g = s->groups;

	while (g && i--)
		g = g->next;
	return g;
}

void dma_space_info(struct dma_space *s, struct dma_space_info *out)
{
	memset(out, 0, sizeof(*out));
	out->id = s->id;
	out->owner = s->owner->id;
	out->nmaps = s->maps.count;
	out->bytes = s->bytes;
	out->map_limit = s->map_limit;
	out->ndomains = count_doms(s);
	for (struct dma_group *g = s->groups; g; g = g->next)
		out->ngroups++;
	out->nregs = (unsigned)s->regs.count;
	out->pgsize = pgsize_of(space_pgsizes(s));
	out->iova_last = space_iova_last(s);
	out->hinted = s->hinted;
}

int dma_space_set_map_limit(struct dma_space *s, uint64_t limit)
{
	if (limit == 0 || limit < s->maps.count)
		return -EINVAL;
	s->map_limit = limit;
	return 0;
}

void dma_owner_stat(struct dma_space *s, struct dma_owner_stat *out)
{
	out->id = s->owner->id;
	out->pinned = s->owner->pinned;
	out->registered = s->owner->registered;
	out->limit = s->owner->limit;
	out->nspaces = s->owner->refs;
}

int dma_owner_set_limit(struct dma_space *s, uint64_t limit)
{
	/* A limit below what is already pinned only refuses new charges. */
	s->owner->limit = limit;
	return 0;
}

int dma_for_each_map(struct dma_space *s, int (*fn)(const struct dma_map_info *mi, void *arg),
		     void *arg)
{
	for (struct itree_node *x = itree_min(&s->maps); x; x = itree_succ(&s->maps, x)) {
		struct dma_mapping *m = MAP_OF(x);
		struct dma_map_info mi = {
			.iova = x->start,
			.size = m_size(m),
			.hpa = m->segs[0].pa,
			.prot = m->prot,
			.src = (enum dma_src)m->src,
			.hinted = m->hinted,
			.registered = m->reg != NULL,
			.nsegs = m->nseg,
		};
		int err = fn(&mi, arg);
		if (err)
			return err;
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
