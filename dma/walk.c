/*
 * dma/walk.c — the walkers every dma operation is built from: physical runs
 * and hinted/live pieces of a mapping, pinning and charging of ranges, and
 * mapping/flushing one hardware domain (see dma_priv.h).
 */
#include "dma/dma_priv.h"
#include "kernel/log.h"

/* ------------------------------------------------------------ iterators */

/* Physical runs backing [a, b) of m (no hint filtering), in IOVA order;
 * adjacent segments that are physically contiguous form one run. */
int walk_runs(const struct dma_mapping *m, uint64_t a, uint64_t b, run_fn fn, void *arg)
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

/* Sub-ranges of [a, b) that are not hinted (live == true) or hinted. */
int walk_pieces(struct dma_mapping *m, uint64_t a, uint64_t b, bool live, ivl_fn fn, void *arg)
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

int walk_live_runs(struct dma_mapping *m, uint64_t a, uint64_t b, run_fn fn, void *arg)
{
	struct live_ctx c = {fn, arg};

	return walk_pieces(m, a, b, true, live_piece, &c);
}

/* ------------------------------------------------------- pin / charge */

int count_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	struct pin_ctx *c = arg;
	uint64_t n;
	int err = acct_new_bytes(c->o, pa, len, &n);

	if (err) {
		c->bad = pa;
		c->bad_len = len;
		return err;
	}
	c->bytes += n;
	return 0;
}

int get_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	struct pin_ctx *c = arg;
	int err = acct_get(c->o, pa, len);

	if (err) {
		c->bad = pa;
		c->bad_len = len;
		return err;
	}
	c->stop = iova + len;
	return 0;
}

int put_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	struct pin_ctx *c = arg;

	acct_put(c->o, pa, len);
	return 0;
}

/* Pins and charges the live runs of m in [a, b); all or nothing.  Frames are
 * held once per mapping record (not per domain). */
int pin_range(struct dma_space *s, struct dma_mapping *m, uint64_t a, uint64_t b)
{
	struct pin_ctx c = {.o = map_owner(s, m), .stop = a};
	int err;

	if (m->reg)
		return 0;
	err = walk_live_runs(m, a, b, get_run, &c);
	if (err) {
		struct pin_ctx u = {.o = c.o};
		if (c.stop > a)
			(void)walk_live_runs(m, a, c.stop, put_run, &u);
		return why_acct(s, err, c.bad, c.bad_len);
	}
	return 0;
}

void unpin_range(struct dma_space *s, struct dma_mapping *m, uint64_t a, uint64_t b)
{
	struct pin_ctx c = {.o = map_owner(s, m)};

	if (!m->reg)
		(void)walk_live_runs(m, a, b, put_run, &c);
}

/* ------------------------------------------------------------- domains */

int map_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
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
int dom_map_unwind(struct iommu_domain *d, struct dma_mapping *m, uint64_t a, uint64_t b,
		   struct iommu_gather *g, bool *stuck)
{
	struct map_ctx c = {d, m->prot, g, a};
	int err = walk_live_runs(m, a, b, map_run, &c);

	if (err && c.stop > a && d->unit->ops->unmap(d, a, c.stop - a, g)) {
		klog("dma: unwinding a failed map left %#llx+%#llx mapped", (unsigned long long)a,
		     (unsigned long long)(c.stop - a));
		*stuck = true;
	}
	return err;
}

int dom_map(struct iommu_domain *d, struct dma_mapping *m, uint64_t a, uint64_t b,
	    struct iommu_gather *g)
{
	bool stuck = false;

	return dom_map_unwind(d, m, a, b, g, &stuck);
}

int dom_unmap_quarantined(struct dma_space *s, struct iommu_domain *d, struct iommu_gather *g)
{
	for (struct itree_node *x = itree_min(&s->quar); x; x = itree_succ(&s->quar, x)) {
		int err = d->unit->ops->unmap(d, x->start, x->last - x->start + 1, g);
		if (err)
			return err;
	}
	return 0;
}

void dom_dirty(struct dma_dom *dd, uint64_t a, uint64_t len)
{
	dd->dirty = true;
	klog("dma: a domain on unit %u is dirty: unwinding could not unmap %#llx+%#llx; "
	     "quarantined",
	     dd->hw->unit->index, (unsigned long long)a, (unsigned long long)len);
}

/* Flush with one retry: a failed flush means memory must stay held. */
int dom_flush(struct iommu_domain *d, struct iommu_gather *g)
{
	int err;

	if (!g->need_flush && !g->nfree && g->end == 0)
		return 0;
	err = d->unit->ops->flush(d, g);
	if (err)
		err = d->unit->ops->flush(d, g);
	return err;
}

unsigned count_doms(const struct dma_space *s)
{
	unsigned n = 0;

	for (struct dma_dom *d = s->doms; d; d = d->next)
		n++;
	return n;
}

static bool dma_memory(const struct frame *f)
{
	return f->tag == FRAME_USER || f->tag == FRAME_DMA || f->tag == FRAME_GUEST;
}

/* May owner o point a device at frame f?  The console user's memory goes
 * only into the console user's spaces, an alloc block only into spaces of
 * the owner it was allocated for (spaces made with share= have one owner),
 * guest RAM only into that guest's spaces. */
static bool may_use(const struct dma_owner *o, const struct frame *f)
{
	switch (f->tag) {
	case FRAME_USER: return o->guest == 0;
	case FRAME_DMA: return f->holder == o->id;
	case FRAME_GUEST: return o->guest != 0 && f->holder == o->guest;
	default: return false;
	}
}

/* Every frame of [pa, pa+size) is user, DMA or guest memory that o may use.
 * Walked as runs of records (kernel/frame.h frame_run), not one lookup per
 * frame. */
bool src_ok(const struct dma_owner *o, uint64_t pa, uint64_t size, uint64_t *bad)
{
	uint64_t pfn = pa >> FRAME_SHIFT, left = (size + FRAME_SIZE - 1) >> FRAME_SHIFT;

	while (left) {
		uint64_t cnt, i;
		unsigned no = 0;
		struct frame *f = frame_run(pfn << FRAME_SHIFT, &cnt);

		if (!f) {
			*bad = pfn << FRAME_SHIFT;
			return false;
		}
		if (cnt > left)
			cnt = left;
		for (i = 0; i < cnt; i++)
			no |= !may_use(o, &f[i]);
		if (no) {
			/* Rare: find which (the loop above stays branch-free). */
			for (i = 0; may_use(o, &f[i]); i++)
				;
			*bad = (pfn + i) << FRAME_SHIFT;
			return false;
		}
		pfn += cnt;
		left -= cnt;
	}
	return true;
}

int why_not_dma(struct dma_space *s, uint64_t bad)
{
	const struct frame *f = frame_get(bad);

	if (!f || !dma_memory(f))
		return why(s, -EPERM, DMA_WHY_NOT_DMA_MEMORY, bad, f ? f->tag : DMA_WHY_UNMANAGED);
	why(s, -EPERM, DMA_WHY_OTHER_OWNER, bad, f->holder);
	s->why.c = f->tag;
	s->why.id = s->owner->id;
	return -EPERM;
}
