/*
 * dma/hint.c — free-page hinting: hint unmaps the live pieces of a range
 * from every domain, flushes, then unpins them; unhint re-pins the same
 * frames and maps them back; rebind points a hinted range of an hpa
 * mapping at new memory before its unhint (see docs/dma.md, "Hinting").
 */
#include <stdlib.h>
#include <string.h>

#include "dma/dma_priv.h"
#include "kernel/log.h"

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
			return why(s, -EINVAL, DMA_WHY_GAP, cur, 0);
		cur = x->last + 1;
		cnt++;
		if (x->last >= last)
			break;
	}
	if (!cnt || (x ? x->last < last : cur <= last))
		return why(s, -EINVAL, DMA_WHY_GAP, cur, 0);
	v = dma_zalloc(cnt * sizeof(*v));
	if (!v)
		return why_nomem(s, cnt * sizeof(*v), DMA_MEM_TRACKING);
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
	uint64_t count; /* pieces processed */
	uint64_t limit; /* stop after this many (restore) */
	uint64_t charge;
	uint64_t bad, bad_len; /* the host run that failed (pin_ctx) */
	bool stuck;	       /* an unwinding unmap failed: d may still map a piece */
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
		if (mc.stop > a && c->d->unit->ops->unmap(c->d, a, mc.stop - a, c->g)) {
			klog("dma: unwinding unhint left a range mapped");
			c->stuck = true;
		}
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
	/* An unwind's unmap that fails leaves the piece mapped: noted, and the
	 * other pieces are still unmapped. */
	if (c->d->unit->ops->unmap(c->d, a, b - a, c->g))
		c->stuck = true;
	return 0;
}

/* Unhint re-checks the source: hinted memory is unpinned, so its owner may
 * have freed it meanwhile; a device must never be pointed at it again. */
static int count_run_src(uint64_t iova, uint64_t pa, uint64_t len, void *arg)
{
	struct pin_ctx *c = arg;

	if (!src_ok(c->o, pa, len, &c->bad))
		return -EPERM;
	return count_run(iova, pa, len, arg);
}

/* A registration keeps its frames pinned and charged: its pieces only
 * change in the page tables (piece_count, piece_pin, piece_unpin_n). */
static int piece_count(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	struct pin_ctx p = {.o = map_owner(c->s, m)};
	int err;

	if (m->reg)
		return 0;
	err = walk_runs(m, a, b, count_run_src, &p);
	if (!m->hyp) /* the limit is the space's owner's */
		c->charge += p.bytes;
	c->bad = p.bad;
	c->bad_len = p.bad_len;
	return err;
}

static int piece_pin(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	struct pin_ctx p = {.o = map_owner(c->s, m), .stop = a};
	int err;

	if (m->reg)
		return 0;
	err = walk_runs(m, a, b, get_run, &p);
	if (err) {
		struct pin_ctx u = {.o = p.o};
		if (p.stop > a)
			(void)walk_runs(m, a, p.stop, put_run, &u);
		c->bad = p.bad;
		c->bad_len = p.bad_len;
		return err;
	}
	c->count++;
	return 0;
}

static int piece_unpin_n(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg)
{
	struct hint_ctx *c = arg;
	struct pin_ctx u = {.o = map_owner(c->s, m)};

	if (m->reg)
		return 0;
	if (c->count >= c->limit)
		return 1;
	c->count++;
	return walk_runs(m, a, b, put_run, &u);
}

/* ------------------------------------------------------------- the plan */

/* What one hint or unhint works on, all allocated before anything changes:
 * the spans of the range (clipped to each mapping) and each mapping's new
 * hint set. */
struct hint_plan {
	struct span *v;
	size_t n;
	struct ivl **nh; /* per span: the new hint set, its length, its bytes */
	uint32_t *nn;
	uint64_t *nb;
};

static void plan_free(struct hint_plan *p)
{
	if (p->nh)
		for (size_t i = 0; i < p->n; i++)
			free(p->nh[i]);
	free(p->nh);
	free(p->nn);
	free(p->nb);
	free(p->v);
}

static int plan_make(struct dma_space *s, uint64_t iova, uint64_t size, bool add,
		     struct hint_plan *p)
{
	uint64_t pg = pgsize_of(space_pgsizes(s)), last;
	int err;

	memset(p, 0, sizeof(*p));
	why_clear(s);
	err = range_check(s, iova, size, pg, &last);
	if (err)
		return err;
	err = collect_covered(s, iova, last, &p->v, &p->n);
	if (err)
		return err;
	p->nh = dma_zalloc(p->n * sizeof(*p->nh));
	p->nn = dma_zalloc(p->n * sizeof(*p->nn));
	p->nb = dma_zalloc(p->n * sizeof(*p->nb));
	if (!p->nh || !p->nn || !p->nb)
		err = why_nomem(s, p->n * sizeof(*p->nh), DMA_MEM_TRACKING);
	for (size_t i = 0; i < p->n && !err; i++)
		if (hint_edit(p->v[i].m, p->v[i].a, p->v[i].b, add, &p->nh[i], &p->nn[i],
			      &p->nb[i]))
			err = why_nomem(s, (p->v[i].m->nhint + 2) * sizeof(struct ivl),
					DMA_MEM_TRACKING);
	if (err)
		plan_free(p);
	return err;
}

static void plan_commit(struct dma_space *s, struct hint_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct dma_mapping *m = p->v[i].m;
		s->hinted += p->nb[i] - m->hinted;
		free(m->hint);
		m->hint = p->nh[i];
		m->nhint = p->nn[i];
		m->hinted = p->nb[i];
		p->nh[i] = NULL;
	}
}

/* How far a walk over the plan got: every span before span, and pieces
 * pieces of span. */
struct mark {
	size_t span;
	uint64_t pieces;
};

/* Runs fn over the live (or hinted) pieces of every span; *at says how far
 * it got (fn counts the pieces it completed in c->count). */
static int plan_do(const struct hint_plan *p, bool live, ivl_fn fn, struct hint_ctx *c,
		   struct mark *at)
{
	size_t i;
	int err = 0;

	for (i = 0; i < p->n && !err; i++) {
		c->count = 0;
		err = walk_pieces(p->v[i].m, p->v[i].a, p->v[i].b, live, fn, c);
	}
	at->span = err ? i - 1 : p->n;
	at->pieces = err ? c->count : 0;
	return err;
}

/* Undoes what plan_do did up to *at with undo, which stops once c->count
 * reaches c->limit. */
static void plan_undo(const struct hint_plan *p, bool live, ivl_fn undo, struct hint_ctx *c,
		      const struct mark *at)
{
	for (size_t j = 0; j <= at->span && j < p->n; j++) {
		c->count = 0;
		c->limit = j < at->span ? UINT64_MAX : at->pieces;
		(void)walk_pieces(p->v[j].m, p->v[j].a, p->v[j].b, live, undo, c);
	}
}

static const struct mark all_spans = {SIZE_MAX, 0};

/* ----------------------------------------------------------------- hint */

/* Unmaps the live pieces from every domain, then flushes each.  On failure
 * every domain gets back what it lost before this returns: the pages are
 * still pinned and the records unchanged, so the translations are the same
 * ones devices had, and stale IOTLB entries are harmless. */
static int hint_unmap_doms(struct dma_space *s, const struct hint_plan *p)
{
	struct dma_dom *d, *failed = NULL;
	struct mark at;
	int err = 0;

	for (d = s->doms; d && !err; d = d->next) {
		struct hint_ctx c = {.s = s, .d = d->hw, .g = &d->gat};
		iommu_gather_init(&d->gat);
		err = plan_do(p, true, piece_unmap, &c, &at);
		if (err) {
			why_iommu(s, err, d->hw->unit, DMA_OP_UNMAP, p->v[at.span].a);
			/* This domain lost the pieces before the failed one. */
			plan_undo(p, true, piece_remap, &c, &at);
			if (dom_flush(d->hw, &d->gat))
				klog("dma: flush failed restoring a hint");
			failed = d;
		}
	}
	if (!err) {
		for (d = s->doms; d; d = d->next) {
			int e = dom_flush(d->hw, &d->gat);
			if (e && !err)
				err = why_iommu(s, e, d->hw->unit, DMA_OP_FLUSH, p->v[0].a);
		}
		if (!err)
			return 0;
		/* A flush failed: a device may still hold IOTLB entries for the
		 * pieces, so their pins must stay: every domain gets them back. */
		failed = NULL; /* every domain lost every piece */
	}
	for (d = s->doms; d != failed; d = d->next) {
		struct hint_ctx r = {.s = s, .d = d->hw, .g = &d->gat};
		plan_undo(p, true, piece_remap, &r, &all_spans);
		if (dom_flush(d->hw, &d->gat))
			klog("dma: flush failed restoring a hint");
	}
	return err;
}

/* Hint: out of every domain, flushed, and only then unpinned, so no device
 * can reach a page any more when its pin drops. */
static int hint_add(struct dma_space *s, const struct hint_plan *p)
{
	struct hint_ctx u = {.s = s};
	int err = hint_unmap_doms(s, p);

	if (err)
		return err;
	plan_undo(p, true, piece_unpin_n, &u, &all_spans);
	return 0;
}

/* --------------------------------------------------------------- unhint */

/* The charge the hinted pieces would add must fit the owner's limit; the
 * memory must still be user, DMA or guest memory (count_run_src). */
static int unhint_check(struct dma_space *s, const struct hint_plan *p)
{
	struct hint_ctx c = {.s = s};
	struct mark at;
	int err = plan_do(p, false, piece_count, &c, &at);

	if (err)
		return why_acct(s, err, c.bad, c.bad_len);
	if (over_limit(s->owner, c.charge))
		return why_pin_limit(s, s->owner, c.charge);
	return 0;
}

/* Maps the hinted pieces into every domain, then flushes each.  On failure
 * every domain is unmapped and flushed again before this returns, so the
 * caller may unpin; *stuck says an unwinding unmap (the domain is then
 * dirty) or flush failed, and then a device may still reach the pages: they
 * must stay pinned. */
static int unhint_map_doms(struct dma_space *s, const struct hint_plan *p, bool *stuck)
{
	struct dma_dom *d, *failed = NULL;
	struct mark at;
	int err = 0;

	*stuck = false;
	for (d = s->doms; d && !err; d = d->next) {
		struct hint_ctx c = {.s = s, .d = d->hw, .g = &d->gat};
		iommu_gather_init(&d->gat);
		err = plan_do(p, false, piece_map, &c, &at);
		if (err) {
			why_iommu(s, err, d->hw->unit, DMA_OP_MAP, p->v[at.span].a);
			/* This domain got the pieces before the failed one (which
			 * unwound itself, piece_map). */
			plan_undo(p, false, piece_unmap_n, &c, &at);
			failed = d;
			if (c.stuck) {
				dom_dirty(d, p->v[0].a, p->v[p->n - 1].b - p->v[0].a);
				*stuck = true;
			}
		}
	}
	if (!err) {
		for (d = s->doms; d && !err; d = d->next)
			if ((err = dom_flush(d->hw, &d->gat)))
				why_iommu(s, err, d->hw->unit, DMA_OP_FLUSH, p->v[0].a);
		if (!err)
			return 0;
		failed = NULL; /* every domain holds every piece */
	}
	/* Devices may already use the new entries: unmap, then flush, before
	 * the caller drops the pins. */
	for (d = s->doms; d; d = d->next) {
		struct hint_ctx r = {.s = s, .d = d->hw, .g = &d->gat};
		if (d != failed)
			plan_undo(p, false, piece_unmap_n, &r, &all_spans);
		if (r.stuck) {
			dom_dirty(d, p->v[0].a, p->v[p->n - 1].b - p->v[0].a);
			*stuck = true;
		}
		if (dom_flush(d->hw, &d->gat))
			*stuck = true;
		if (d == failed)
			break;
	}
	return err;
}

/* Unhint: pinned and charged first, then mapped everywhere, so a device
 * never reaches a page that is not pinned. */
static int hint_remove(struct dma_space *s, const struct hint_plan *p, uint64_t size)
{
	struct hint_ctx c = {.s = s};
	struct mark at;
	bool stuck;
	int err = unhint_check(s, p);

	if (err)
		return err;
	err = plan_do(p, false, piece_pin, &c, &at);
	if (err) {
		why_acct(s, err, c.bad, c.bad_len);
	} else {
		err = unhint_map_doms(s, p, &stuck);
		if (!err)
			return 0;
		if (stuck) {
			/* A device may still reach the pieces through a stale
			 * IOTLB entry: they stay pinned and charged for ever
			 * (quarantined), though the records call them hinted. */
			klog("dma: unwinding unhint failed; memory stays pinned");
			quarantined += size;
			return err;
		}
		at = all_spans;
	}
	/* Out of every domain again (or never in one): the pins may go. */
	plan_undo(p, false, piece_unpin_n, &c, &at);
	return err;
}

int dma_hint(struct dma_space *s, uint64_t iova, uint64_t size)
{
	struct hint_plan p;
	int err = plan_make(s, iova, size, true, &p);

	if (err)
		return err;
	err = hint_add(s, &p);
	if (!err)
		plan_commit(s, &p);
	plan_free(&p);
	return err;
}

int dma_unhint(struct dma_space *s, uint64_t iova, uint64_t size)
{
	struct hint_plan p;
	int err = plan_make(s, iova, size, false, &p);

	if (err)
		return err;
	err = hint_remove(s, &p, size);
	if (!err)
		plan_commit(s, &p);
	plan_free(&p);
	return err;
}

/* ---------------------------------------------------------------- rebind */

/* The mapping that holds all of [iova, last] with its source the caller's
 * own hpa memory, [iova, last] entirely hinted in it; -EINVAL with the
 * reason otherwise. */
static int rebind_target(struct dma_space *s, uint64_t iova, uint64_t last,
			 struct dma_mapping **out)
{
	struct itree_node *x = itree_first(&s->maps, iova, iova);
	struct dma_mapping *m;
	uint64_t cur = iova;

	if (!x)
		return why(s, -EINVAL, DMA_WHY_GAP, iova, 0);
	m = MAP_OF(x);
	if (x->last < last)
		return why_map(s, -EINVAL, DMA_WHY_SPANS_MAPPINGS, x, x->last + 1, 0, -1);
	if (m->src != DMA_SRC_HPA || m->reg || m->hyp) {
		why_map(s, -EINVAL, DMA_WHY_MAPPING_KIND, x, m->src, m->reg != NULL, -1);
		s->why.c = m->hyp;
		return -EINVAL;
	}
	/* Hinted intervals are disjoint and never adjacent: one holds it all. */
	for (uint32_t i = 0; i < m->nhint && cur <= last; i++)
		if (m->hint[i].s <= cur && m->hint[i].e > cur)
			cur = m->hint[i].e;
	if (cur <= last)
		return why_map(s, -EINVAL, DMA_WHY_NOT_HINTED, x, cur, 0, -1);
	*out = m;
	return 0;
}

/* Appends sg to v[*n], merged with the segment before it when the two are
 * physically contiguous (walk_runs would join them anyway). */
static void seg_push(struct seg *v, uint32_t *n, struct seg sg)
{
	struct seg *p = *n ? &v[*n - 1] : NULL;

	if (!sg.size)
		return;
	if (p && p->pa + p->size == sg.pa) {
		p->size += sg.size;
		return;
	}
	v[(*n)++] = sg;
}

/* m's segments with offsets [a, b) backed by pa instead: at most two more
 * than before (the segments the edges cut in two). */
static void seg_replace(const struct dma_mapping *m, uint64_t a, uint64_t b, uint64_t pa,
			struct seg *v, uint32_t *n)
{
	bool placed = false;

	*n = 0;
	for (uint32_t i = 0; i < m->nseg; i++) {
		struct seg sg = m->segs[i];
		uint64_t e = sg.off + sg.size;

		if (e <= a || sg.off >= b) {
			if (sg.off >= b && !placed) {
				seg_push(v, n, (struct seg){a, pa, b - a});
				placed = true;
			}
			seg_push(v, n, sg);
			continue;
		}
		if (sg.off < a)
			seg_push(v, n, (struct seg){sg.off, sg.pa, a - sg.off});
		if (!placed) {
			seg_push(v, n, (struct seg){a, pa, b - a});
			placed = true;
		}
		if (e > b)
			seg_push(v, n, (struct seg){b, sg.pa + (b - sg.off), e - b});
	}
}

int dma_hint_rebind(struct dma_space *s, uint64_t iova, uint64_t size, uint64_t hpa)
{
	uint64_t pg = pgsize_of(space_pgsizes(s)), last, hlast;
	struct dma_mapping *m = NULL;
	struct seg *v;
	uint32_t n;
	int err;

	why_clear(s);
	err = range_check(s, iova, size, pg, &last);
	if (err)
		return err;
	if (!last_of(hpa, size, &hlast))
		return why(s, -EOVERFLOW, DMA_WHY_HPA_WRAPS, hpa, size);
	if (hpa & (pg - 1))
		return why(s, -EINVAL, DMA_WHY_HPA_ALIGN, hpa, pg);
	err = rebind_target(s, iova, last, &m);
	if (err)
		return err;
	v = dma_zalloc((m->nseg + 2) * sizeof(*v));
	if (!v)
		return why_nomem(s, (m->nseg + 2) * sizeof(*v), DMA_MEM_TRACKING);
	seg_replace(m, iova - m_start(m), last + 1 - m_start(m), hpa, v, &n);
	/* Hinted memory is in no domain and holds no pin: only the record
	 * changes.  One segment again (rebound to the old memory) is seg0. */
	if (m->segs != &m->seg0)
		free(m->segs);
	if (n == 1) {
		m->seg0 = v[0];
		m->segs = &m->seg0;
		free(v);
	} else {
		m->segs = v;
	}
	m->nseg = n;
	return 0;
}
