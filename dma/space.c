/*
 * dma/space.c — address spaces: creation and teardown, their geometry (the
 * page size and aperture every domain allows), reserved IOVA ranges, info
 * and limits.
 */
#include <stdlib.h>
#include <string.h>

#include "dma/dma_priv.h"
#include "kernel/log.h"

static struct dma_space *spaces;

/* ------------------------------------------------------ space geometry */

uint64_t space_pgsizes(const struct dma_space *s)
{
	uint64_t p = ~(PGSIZE_4K - 1);

	for (struct dma_dom *d = s->doms; d; d = d->next)
		p &= d->hw->pgsizes;
	return p;
}

/* Smallest page size every domain supports, never below 4 KiB. */
uint64_t pgsize_of(uint64_t pgsizes)
{
	pgsizes &= ~(PGSIZE_4K - 1);
	return pgsizes ? pgsizes & -pgsizes : 0;
}

uint64_t space_iova_last(const struct dma_space *s)
{
	uint64_t l = UINT64_MAX;

	for (struct dma_dom *d = s->doms; d; d = d->next)
		if (d->hw->aperture_end < l)
			l = d->hw->aperture_end;
	return l;
}

int iova_check(struct dma_space *s, uint64_t iova, uint64_t last)
{
	uint64_t top = space_iova_last(s);
	struct itree_node *x;

	if (last > top)
		return why(s, -EINVAL, DMA_WHY_APERTURE, last, top);
	x = itree_first(&s->quar, iova, last);
	if (x)
		return why(s, -EINVAL, DMA_WHY_QUARANTINED, x->start, x->last);
	x = itree_first(&s->resv, iova, last);
	if (x) {
		const struct resv *r = itree_entry(x, struct resv, node);
		why(s, -EINVAL, DMA_WHY_RESERVED, x->start, x->last);
		s->why.id = r->group ? r->group->id : -1;
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------- why */

const struct dma_why *dma_space_why(const struct dma_space *s) { return &s->why; }

void why_clear(struct dma_space *s) { s->why = (struct dma_why){.kind = DMA_WHY_NONE, .id = -1}; }

int why(struct dma_space *s, int err, enum dma_why_kind kind, uint64_t a, uint64_t b)
{
	s->why = (struct dma_why){.kind = kind, .err = err, .a = a, .b = b, .id = -1};
	return err;
}

int why_map(struct dma_space *s, int err, enum dma_why_kind kind, const struct itree_node *x,
	    uint64_t a, uint64_t b, int id)
{
	why(s, err, kind, a, b);
	s->why.map_iova = x->start;
	s->why.map_size = x->last - x->start + 1;
	s->why.id = id;
	return err;
}

int why_id(struct dma_space *s, int err, enum dma_why_kind kind, int id)
{
	why(s, err, kind, 0, 0);
	s->why.id = id;
	return err;
}

int why_nomem(struct dma_space *s, uint64_t bytes, enum dma_why_mem what)
{
	return why(s, -ENOMEM, DMA_WHY_NO_MEMORY, bytes, what);
}

int why_pin_limit(struct dma_space *s, const struct dma_owner *o, uint64_t need)
{
	why(s, -ENOMEM, DMA_WHY_PIN_LIMIT, o->pinned, o->limit);
	s->why.c = need;
	s->why.id = o->id;
	return -ENOMEM;
}

int why_iommu(struct dma_space *s, int err, const struct iommu_unit *u, enum dma_why_op op,
	      uint64_t where)
{
	why(s, err, DMA_WHY_IOMMU, op, where);
	s->why.id = (int)u->index;
	return err;
}

int why_acct(struct dma_space *s, int err, uint64_t pa, uint64_t len)
{
	if (err == -ENOMEM)
		return why_nomem(s, 0, DMA_MEM_TRACKING);
	if (err == -EPERM)
		return why_not_dma(s, pa);
	return why(s, err, DMA_WHY_NOT_RAM, pa, len);
}

/* -------------------------------------------------------- reserved IOVA */

void resv_drop_group(struct dma_space *s, struct dma_group *g)
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

int resv_add(struct dma_space *s, uint64_t start, uint64_t last, struct dma_group *g)
{
	struct resv *r;

	struct itree_node *x;

	if (last < start)
		return why(s, -EINVAL, DMA_WHY_BAD_ARG, start, last);
	x = itree_first(&s->maps, start, last);
	if (x)
		return why_map(s, -EINVAL, DMA_WHY_RESERVED, x, start, last, g ? g->id : -1);
	r = dma_zalloc(sizeof(*r));
	if (!r)
		return why_nomem(s, sizeof(*r), DMA_MEM_RECORD);
	r->node.start = start;
	r->node.last = last;
	r->group = g;
	itree_insert(&s->resv, &r->node);
	return 0;
}

int dma_space_add_reserved(struct dma_space *s, uint64_t start, uint64_t last)
{
	why_clear(s);
	return resv_add(s, start, last, NULL);
}

/* ----------------------------------------------------------- free IOVA */

static bool align_up(uint64_t v, uint64_t a, uint64_t *out)
{
	uint64_t r = (v + a - 1) & ~(a - 1);

	if (r < v)
		return false;
	*out = r;
	return true;
}

/* Does [c, end] meet a mapping, a reserved range or the avoided range?
 * *past is then the last byte of one it meets (the search goes on above). */
static bool iova_taken(const struct dma_space *s, const struct dma_iova_req *r, uint64_t c,
		       uint64_t end, uint64_t *past)
{
	const struct itree_node *x = itree_first(&s->maps, c, end);
	const struct itree_node *y = itree_first(&s->resv, c, end);
	const struct itree_node *q = itree_first(&s->quar, c, end);

	if (r->avoid <= r->avoid_last && c <= r->avoid_last && end >= r->avoid) {
		*past = r->avoid_last;
		return true;
	}
	if (q && (!x || q->last > x->last))
		x = q;
	if (x || y) {
		*past = x && (!y || x->last > y->last) ? x->last : y->last;
		return true;
	}
	return false;
}

int dma_free_iova(struct dma_space *s, const struct dma_iova_req *r, uint64_t *out)
{
	uint64_t top = space_iova_last(s), c, end, past;

	why_clear(s);
	if (!r->size || !r->align || (r->align & (r->align - 1)))
		return why(s, -EINVAL, DMA_WHY_BAD_ARG, r->size, r->align);
	if (r->last < top)
		top = r->last;
	/* Each step moves past one obstacle, so this ends. */
	for (bool ok = align_up(r->lo, r->align, &c); ok; ok = align_up(past + 1, r->align, &c)) {
		if (!last_of(c, r->size, &end) || end > top)
			break;
		if (!iova_taken(s, r, c, end, &past)) {
			*out = c;
			return 0;
		}
		if (past == UINT64_MAX)
			break;
	}
	return why(s, -ENOSPC, DMA_WHY_NO_IOVA, r->size, r->align);
}

int dma_space_create_guest(uint16_t guest, struct dma_space **out)
{
	if (!guest)
		return -EINVAL;
	int err = dma_space_create(NULL, out);
	if (!err)
		(*out)->owner->guest = guest;
	return err;
}

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
	why_clear(s);
	err = resv_add(s, DMA_MSI_START, DMA_MSI_LAST, NULL);
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

	/* Every group's DMA is stopped before any page is unpinned: the
	 * IOTLB flush protects the pages from a device that is still running,
	 * the quiesce makes it stop.  A failure is retried by the detach below
	 * and, if it fails again, by the group's next attach. */
	for (struct dma_group *g = s->groups; g; g = g->next)
		if (g->unquiesced && group_quiesce(g))
			klog("dma: group %d of as=%u could not be quiesced before teardown", g->id,
			     s->id);
	/* The steps record their own reasons (the first that fails stops). */
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
	out->guest = s->owner->guest;
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
	why_clear(s);
	if (limit == 0 || limit < user_maps(s))
		return why(s, -EINVAL, DMA_WHY_BAD_ARG, limit, user_maps(s));
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
