/*
 * dma/hint.c — free-page hinting: hint unmaps the live pieces of a range
 * from every domain, flushes, then unpins them; unhint re-pins the same
 * frames and maps them back (see docs/dma.md, "Hinting").
 */
#include <stdlib.h>

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
			struct hint_ctx c = {s, d->hw, &d->gat, 0, 0, 0, 0};
			iommu_gather_init(&d->gat);
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
					struct hint_ctx r = {s, d->hw, &d->gat,
							     0, 0,     j < i ? UINT64_MAX : c.count,
							     0};
					(void)walk_pieces(v[j].m, v[j].a, v[j].b, true, piece_remap,
							  &r);
				}
				if (dom_flush(d->hw, &d->gat))
					klog("dma: flush failed restoring a hint");
				break;
			}
		}
		if (!err) {
			for (di = 0, d = s->doms; d; d = d->next, di++) {
				int e = dom_flush(d->hw, &d->gat);
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
					struct hint_ctx r = {s, d->hw, &d->gat, 0, 0, UINT64_MAX, 0};
					(void)walk_pieces(v[i].m, v[i].a, v[i].b, true, piece_remap,
							  &r);
				}
				if (dom_flush(d->hw, &d->gat))
					klog("dma: flush failed restoring a hint");
			}
			goto out;
		}
		for (i = 0; i < n; i++)
			if (!v[i].m->reg) {
				struct pin_ctx u = {s->owner, 0, 0, 0};
				(void)walk_live_runs(v[i].m, v[i].a, v[i].b, put_run, &u);
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
				struct hint_ctx mc = {s, d->hw, &d->gat, 0, 0, 0, 0};
				iommu_gather_init(&d->gat);
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
							s, d->hw, &d->gat,
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
					if ((err = dom_flush(d->hw, &d->gat)))
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
							struct hint_ctx r = {s, d->hw, &d->gat,
									     0, 0,     UINT64_MAX,
									     0};
							(void)walk_pieces(v[i].m, v[i].a, v[i].b,
									  false, piece_unmap_n, &r);
						}
					if (k <= di && k < nd && dom_flush(d->hw, &d->gat))
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
