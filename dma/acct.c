/*
 * dma/acct.c — accounting owners, per-(owner, frame) charges and the
 * fault-injecting allocation wrappers of the dma layer; see acct.h.
 */
#include <stdlib.h>
#include <string.h>

#include "dma/acct.h"
#include "dma/dma.h"
#include "kernel/frame.h"

/* ---------------------------------------------------------- allocation */

static unsigned long fail_nth;

void dma_test_fail_nth(unsigned long n) { fail_nth = n; }

unsigned long dma_test_fail_pending(void) { return fail_nth; }

static int should_fail(void) { return fail_nth && --fail_nth == 0; }

void *dma_zalloc(uint64_t size)
{
	if (should_fail())
		return NULL;
	return calloc(1, size);
}

void *dma_realloc(void *p, uint64_t size)
{
	if (should_fail())
		return NULL;
	return realloc(p, size);
}

uint64_t dma_frame_alloc(unsigned order, uint16_t holder)
{
	uint64_t pa;

	if (should_fail())
		return 0;
	pa = frame_alloc_zeroed(order, FRAME_DMA);
	if (pa)
		frame_set_holder(pa, order, holder);
	return pa;
}

/* -------------------------------------------------------------- owners */

static struct dma_owner *owners;
static struct dma_owner hyp_owner = {.id = ACCT_HYP_ID, .refs = 1, .limit = UINT64_MAX};

struct dma_owner *acct_hyp_owner(void) { return &hyp_owner; }

int acct_owner_new(struct dma_owner **out)
{
	struct dma_owner *o, *p;
	uint16_t id = 1;

	/* Owners are few: the lowest free id, list kept sorted by id. */
	for (p = owners; p && p->id == id; p = p->next)
		id++;
	if (id == 0 || id == ACCT_HYP_ID)
		return -ENOSPC;
	o = dma_zalloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->id = id;
	o->refs = 1;
	o->limit = UINT64_MAX;
	if (!owners || owners->id > id) {
		o->next = owners;
		owners = o;
	} else {
		for (p = owners; p->next && p->next->id < id; p = p->next)
			;
		o->next = p->next;
		p->next = o;
	}
	*out = o;
	return 0;
}

void acct_owner_put(struct dma_owner *o)
{
	struct dma_owner **pp;

	if (--o->refs)
		return;
	for (pp = &owners; *pp != o; pp = &(*pp)->next)
		;
	*pp = o->next;
	free(o);
}

/* ----------------------------------------------------------- side table */

struct side {
	uint64_t pfn;
	uint16_t owner;
	uint32_t count;
	struct side *next;
};

#define SIDE_BUCKETS 1024
static struct side *side_tab[SIDE_BUCKETS];
static uint64_t side_n;

uint64_t acct_side_entries(void) { return side_n; }

static struct side **side_bucket(uint64_t pfn)
{
	return &side_tab[(pfn * 0x9e3779b97f4a7c15ull) >> 54];
}

static struct side *side_find(uint64_t pfn, uint16_t owner)
{
	struct side *e;

	if (!side_n)
		return NULL;
	for (e = *side_bucket(pfn); e; e = e->next)
		if (e->pfn == pfn && e->owner == owner)
			return e;
	return NULL;
}

static uint64_t side_sum(uint64_t pfn)
{
	struct side *e;
	uint64_t s = 0;

	if (!side_n)
		return 0;
	for (e = *side_bucket(pfn); e; e = e->next)
		if (e->pfn == pfn)
			s += e->count;
	return s;
}

static void side_remove(struct side *x)
{
	struct side **pp = side_bucket(x->pfn);

	while (*pp != x)
		pp = &(*pp)->next;
	*pp = x->next;
	free(x);
	side_n--;
}

/* Any side record of pfn (for promotion to primary owner). */
static struct side *side_any(uint64_t pfn)
{
	struct side *e;

	if (!side_n)
		return NULL;
	for (e = *side_bucket(pfn); e; e = e->next)
		if (e->pfn == pfn)
			return e;
	return NULL;
}

uint32_t acct_holds(const struct dma_owner *o, uint64_t pa)
{
	struct frame *f = frame_get(pa);
	uint64_t pfn = pa >> FRAME_SHIFT;
	struct side *e;

	if (!f || !f->pins)
		return 0;
	if (f->owner == o->id)
		return f->pins - (uint32_t)side_sum(pfn);
	e = side_find(pfn, o->id);
	return e ? e->count : 0;
}

/* ------------------------------------------------------------- charging */

/*
 * Every charging loop walks [pa, pa+len) as runs of frame records
 * (frame_run: one range lookup per managed range crossed, then a pointer
 * walk), and adds to o->pinned once per call.  The common case, no side
 * records anywhere, is one branch-light pass; a frame with another primary
 * owner takes the per-frame side-table path.
 */

/* Frames of [pa, pa+len): len rounded up to whole frames. */
static uint64_t frames_of(uint64_t len) { return (len + FRAME_SIZE - 1) >> FRAME_SHIFT; }

int acct_new_bytes(struct dma_owner *o, uint64_t pa, uint64_t len, uint64_t *bytes)
{
	uint64_t pfn = pa >> FRAME_SHIFT, left = frames_of(len), n = 0;
	uint16_t id = o->id;

	while (left) {
		uint64_t cnt;
		struct frame *f = frame_run(pfn << FRAME_SHIFT, &cnt);

		if (!f)
			return -EPERM;
		if (cnt > left)
			cnt = left;
		if (!side_n) {
			for (uint64_t i = 0; i < cnt; i++)
				n += f[i].pins == 0 || f[i].owner != id;
		} else {
			for (uint64_t i = 0; i < cnt; i++)
				if (f[i].pins == 0 || (f[i].owner != id && !side_find(pfn + i, id)))
					n++;
		}
		pfn += cnt;
		left -= cnt;
	}
	*bytes = n << FRAME_SHIFT;
	return 0;
}

/* The frame (just pinned for o) has another primary owner: o's hold goes
 * into a side record, charged if it is o's first. */
static int charge_side(struct dma_owner *o, uint64_t pfn)
{
	struct side *e = side_find(pfn, o->id);

	if (e) {
		e->count++;
		return 0;
	}
	e = dma_zalloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->pfn = pfn;
	e->owner = o->id;
	e->count = 1;
	e->next = *side_bucket(pfn);
	*side_bucket(pfn) = e;
	side_n++;
	o->pinned += FRAME_SIZE;
	return 0;
}

/* Before frame f (pfn) is unpinned for o: uncharge o if this is its last
 * hold.  Returns the frames uncharged from the implicit (primary) count, for
 * the caller to sum; side-record uncharges go to o->pinned directly. */
static uint64_t uncharge_frame(struct dma_owner *o, struct frame *f, uint64_t pfn)
{
	struct side *e;

	if (f->owner == o->id) {
		if (!side_n) {
			if (f->pins > 1)
				return 0;
			f->owner = 0;
			return 1;
		}
		if (f->pins - side_sum(pfn) > 1)
			return 0;
		/* Promote another owner: its count becomes the implicit one. */
		e = side_any(pfn);
		if (e) {
			f->owner = e->owner;
			side_remove(e);
		} else {
			f->owner = 0;
		}
		return 1;
	}
	e = side_find(pfn, o->id);
	if (!e)
		return 0; /* cannot happen: every hold was charged */
	if (--e->count == 0) {
		side_remove(e);
		o->pinned -= FRAME_SIZE;
	}
	return 0;
}

/* Uncharges o's holds on the first nframes frames from pfn (all managed). */
static void uncharge_frames(struct dma_owner *o, uint64_t pfn, uint64_t left)
{
	uint64_t gone = 0;

	while (left) {
		uint64_t cnt;
		struct frame *f = frame_run(pfn << FRAME_SHIFT, &cnt);

		if (!f)
			break; /* cannot happen: the frames are pinned */
		if (cnt > left)
			cnt = left;
		for (uint64_t i = 0; i < cnt; i++)
			gone += uncharge_frame(o, &f[i], pfn + i);
		pfn += cnt;
		left -= cnt;
	}
	o->pinned -= gone << FRAME_SHIFT;
}

int acct_get(struct dma_owner *o, uint64_t pa, uint64_t len)
{
	uint64_t pfn0 = pa >> FRAME_SHIFT, pfn = pfn0, left = frames_of(len), newly = 0;
	uint16_t id = o->id;
	int err = frame_pin(pa, len);

	if (err)
		return err;
	while (left && !err) {
		uint64_t cnt, i;
		struct frame *f = frame_run(pfn << FRAME_SHIFT, &cnt);

		if (cnt > left)
			cnt = left;
		for (i = 0; i < cnt; i++) {
			/* o's first hold when nobody else holds the frame. */
			if (f[i].pins == 1 || f[i].owner == 0) {
				f[i].owner = id;
				newly++;
			} else if (f[i].owner != id && (err = charge_side(o, pfn + i))) {
				break;
			}
		}
		pfn += i;
		left -= i;
	}
	o->pinned += newly << FRAME_SHIFT;
	if (!err)
		return 0;
	/* All or nothing: frames before pfn were charged, pfn's was not. */
	uncharge_frames(o, pfn0, pfn - pfn0);
	frame_unpin(pa, len);
	return err;
}

void acct_put(struct dma_owner *o, uint64_t pa, uint64_t len)
{
	uncharge_frames(o, pa >> FRAME_SHIFT, frames_of(len));
	frame_unpin(pa, len);
}
