/*
 * dma/prereg.c — pre-registration (SPAPR TCE v2 style): host memory pinned
 * and charged once, so that maps inside it pin and charge nothing more.
 */
#include <stdlib.h>

#include "dma/dma_priv.h"

/* [hpa, hpa + size) is not empty, frame-aligned and does not wrap. */
static int hpa_check(struct dma_space *s, uint64_t hpa, uint64_t size, uint64_t *last)
{
	if (size == 0)
		return why(s, -EINVAL, DMA_WHY_ZERO_SIZE, 0, 0);
	if (hpa & (FRAME_SIZE - 1))
		return why(s, -EINVAL, DMA_WHY_HPA_ALIGN, hpa, FRAME_SIZE);
	if (size & (FRAME_SIZE - 1))
		return why(s, -EINVAL, DMA_WHY_SIZE_ALIGN, size, FRAME_SIZE);
	if (!last_of(hpa, size, last))
		return why(s, -EINVAL, DMA_WHY_HPA_WRAPS, hpa, size);
	return 0;
}

/* The checked range [hpa, *last] and the first registration overlapping
 * it (*x, NULL if none); the reason record is cleared first. */
static int reg_lookup(struct dma_space *s, uint64_t hpa, uint64_t size, uint64_t *last,
		      struct itree_node **x)
{
	int err;

	why_clear(s);
	err = hpa_check(s, hpa, size, last);
	if (err)
		return err;
	*x = itree_first(&s->regs, hpa, *last);
	return 0;
}

int dma_pin_register(struct dma_space *s, uint64_t hpa, uint64_t size)
{
	struct itree_node *x;
	struct dma_reg *r;
	uint64_t last, need, bad;
	int err;

	err = reg_lookup(s, hpa, size, &last, &x);
	if (err)
		return err;
	/* One registration per range: a second one is EBUSY, not a second
	 * reference (docs/dma.md, "Pre-registration"). */
	if (x && x->start == hpa && x->last == last)
		return why(s, -EBUSY, DMA_WHY_REG_EXISTS, hpa, size);
	if (x)
		return why(s, -EINVAL, DMA_WHY_REG_OVERLAP, x->start, x->last - x->start + 1);
	if (!src_ok(s->owner, hpa, size, &bad))
		return why_not_dma(s, bad);
	err = acct_new_bytes(s->owner, hpa, size, &need);
	if (err)
		return why_acct(s, err, hpa, size);
	if (over_limit(s->owner, need))
		return why_pin_limit(s, s->owner, need);
	r = dma_zalloc(sizeof(*r));
	if (!r)
		return why_nomem(s, sizeof(*r), DMA_MEM_RECORD);
	err = acct_get(s->owner, hpa, size);
	if (err) {
		free(r);
		return why_acct(s, err, hpa, size);
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
	int err;

	err = reg_lookup(s, hpa, size, &last, &x);
	if (err)
		return err;
	if (!x || x->start != hpa || x->last != last)
		return why(s, -ENOENT, DMA_WHY_REG_NONE, hpa, size);
	r = REG_OF(x);
	/* Mappings point at their registration and count in users, which only
	 * this single-threaded path changes: no window where a map can slip in
	 * between this check and the release. */
	if (r->users)
		return why(s, -EBUSY, DMA_WHY_REG_IN_USE, r->users, 0);
	itree_remove(&s->regs, x);
	acct_put(s->owner, hpa, size);
	s->owner->registered -= size;
	free(r);
	release_deferred();
	return 0;
}
