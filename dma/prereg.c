/*
 * dma/prereg.c — pre-registration (SPAPR TCE v2 style): host memory pinned
 * and charged once, so that maps inside it pin and charge nothing more.
 */
#include <stdlib.h>

#include "dma/dma_priv.h"

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
