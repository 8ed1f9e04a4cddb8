/*
 * vm/mem.c — a VM's RAM: which host frames back each guest-physical range,
 * kept as extents in an interval tree, and free-page hinting.
 *
 * RAM starts as naturally aligned blocks (1 GiB, 2 MiB, else 4 KiB), each
 * mapped once in the NPT and once in the VM's DMA space (one mapping per
 * block, IOVA = gpa), so both use leaves as large as the blocks.
 *
 * A hint (hypercall HC_HINT) goes through the memory manager's ordinary
 * path: dma_hint unmaps the range from every IOMMU domain (splitting large
 * leaves), flushes, unpins and uncharges; then the NPT loses it, and only
 * then are the frames given back to the allocator (frame_free_range carves
 * them out of their blocks).  A device DMA into hinted memory faults in the
 * IOMMU; a guest CPU access faults in the NPT and brings fresh zeroed
 * frames in (vm_mem_unhint), as HC_UNHINT does: new frames, rebound in the
 * DMA space (dma_hint_rebind), re-pinned and mapped in the IOMMU by
 * dma_unhint and mapped in the NPT before the guest runs again.
 * docs/vm.md "Free-page hinting" has the rules.
 */
#include <stdlib.h>
#include <string.h>

#include "kernel/frame.h"
#include "kernel/log.h"
#include "vm/vm_priv.h"

struct vm_ext {
	struct itree_node node; /* [gpa, gpa + size - 1] */
	uint64_t hpa;		/* 0: hinted, given back */
	uint32_t gen;		/* the unhint under way that brought it in (its undo), 0 = none */
};

#define EXT_OF(n) itree_entry(n, struct vm_ext, node)
#define PAGE 4096ull

static uint64_t e_start(const struct vm_ext *e) { return e->node.start; }
static uint64_t e_end(const struct vm_ext *e) { return e->node.last + 1; }

static struct vm_ext *ext_at(struct vm *vm, uint64_t gpa)
{
	struct itree_node *n = itree_first(&vm->ext, gpa, gpa);
	return n ? EXT_OF(n) : NULL;
}

static int ext_add(struct vm *vm, uint64_t gpa, uint64_t size, uint64_t hpa)
{
	struct vm_ext *e = malloc(sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->node.start = gpa;
	e->node.last = gpa + size - 1;
	e->hpa = hpa;
	e->gen = 0;
	itree_insert(&vm->ext, &e->node);
	return 0;
}

/* An extent boundary at gpa (nothing to do at a boundary already). */
static int ext_split(struct vm *vm, uint64_t gpa)
{
	struct vm_ext *e = ext_at(vm, gpa);

	if (!e || e_start(e) == gpa)
		return 0;
	uint64_t end = e_end(e), hpa = e->hpa ? e->hpa + (gpa - e_start(e)) : 0;
	int rc = ext_add(vm, gpa, end - gpa, hpa);
	if (rc)
		return rc;
	/* The tree's augmentation needs a remove/insert to shrink a node. */
	itree_remove(&vm->ext, &e->node);
	e->node.last = gpa - 1;
	itree_insert(&vm->ext, &e->node);
	return 0;
}

/* The original block holding gpa (its DMA mapping), for chunk limits. */
static const struct vm_block *block_of(struct vm *vm, uint64_t gpa)
{
	unsigned lo = 0, hi = vm->nblocks;

	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;
		if (vm->blocks[mid].gpa <= gpa)
			lo = mid;
		else
			hi = mid;
	}
	return &vm->blocks[lo];
}

/* Whether extent b continues extent a: both hinted, or both live on one
 * host range inside one original block (so a no-op or failed call leaves
 * the extents as they were, and live ones never span two DMA mappings). */
static bool ext_joins(struct vm *vm, const struct vm_ext *a, const struct vm_ext *b)
{
	if (e_end(a) != e_start(b))
		return false;
	if (!a->hpa || !b->hpa)
		return !a->hpa && !b->hpa;
	return a->hpa + (e_end(a) - e_start(a)) == b->hpa &&
	       block_of(vm, e_start(a)) == block_of(vm, e_start(b));
}

/* Merges neighbours in [gpa, end] that continue each other, so the
 * boundaries a call made (hint storms, no-op or failed calls) do not stay
 * behind and the tree does not grow with every call. */
static void ext_merge(struct vm *vm, uint64_t gpa, uint64_t end)
{
	struct vm_ext *prev = NULL;
	uint64_t lo = gpa ? gpa - 1 : 0;

	for (struct itree_node *n = itree_first(&vm->ext, lo, end); n;) {
		struct vm_ext *e = EXT_OF(n);
		n = itree_next(&vm->ext, n, lo, end);
		if (prev && ext_joins(vm, prev, e)) {
			uint64_t last = e->node.last;
			itree_remove(&vm->ext, &e->node);
			free(e);
			itree_remove(&vm->ext, &prev->node);
			prev->node.last = last;
			itree_insert(&vm->ext, &prev->node);
			continue;
		}
		prev = e;
	}
}

void *vm_gpa_ptr(struct vm *vm, uint64_t gpa, uint64_t *avail)
{
	struct vm_ext *e = gpa < vm->mem ? ext_at(vm, gpa) : NULL;

	if (!e || !e->hpa)
		return NULL;
	if (avail)
		*avail = e_end(e) - gpa;
	return (void *)(uintptr_t)(e->hpa + (gpa - e_start(e)));
}

bool vm_gpa_hinted(struct vm *vm, uint64_t gpa)
{
	struct vm_ext *e = gpa < vm->mem ? ext_at(vm, gpa) : NULL;
	return e && !e->hpa;
}

/* Gives [pa, pa+len) back, block by block (the range may cover parts of
 * several blocks: originals carved before, fresh ones). */
static void give_back(struct vm *vm, uint64_t pa, uint64_t len)
{
	while (len) {
		uint64_t blk, chunk;
		unsigned ord;
		int rc = frame_block_of(pa, &blk, &ord);
		if (rc) {
			klog("vm: vm%u frame 0x%llx is not an allocated block (%s)", vm->id,
			     (unsigned long long)pa, err_name(rc));
			return;
		}
		chunk = blk + (FRAME_SIZE << ord) - pa;
		if (chunk > len)
			chunk = len;
		if (pa == blk && chunk == (FRAME_SIZE << ord)) {
			frame_set_holder(blk, ord, 0);
			rc = frame_free(blk, ord);
		} else {
			rc = frame_free_range(blk, ord, pa, chunk);
		}
		if (rc)
			klog("vm: vm%u RAM 0x%llx+0x%llx is still pinned: not given back (%s)",
			     vm->id, (unsigned long long)pa, (unsigned long long)chunk,
			     err_name(rc));
		pa += chunk;
		len -= chunk;
	}
}

int vm_mem_init(struct vm *vm)
{
	static const unsigned orders[] = {FRAME_ORDER_1G, FRAME_ORDER_2M, 0};
	unsigned cap = 0;

	for (uint64_t gpa = 0; gpa < vm->mem;) {
		uint64_t pa = 0;
		unsigned o = 0;
		if (vm->nblocks == cap) {
			unsigned ncap = cap ? cap * 2 : 16;
			struct vm_block *nb = realloc(vm->blocks, ncap * sizeof(*nb));
			if (!nb)
				return -ENOMEM;
			vm->blocks = nb;
			cap = ncap;
		}
		/* The largest block that fits at gpa. */
		for (unsigned i = 0; i < 3 && !pa; i++) {
			o = orders[i];
			uint64_t sz = FRAME_SIZE << o;
			if (!(gpa & (sz - 1)) && gpa + sz <= vm->mem)
				pa = frame_alloc_zeroed(o, FRAME_GUEST);
		}
		if (!pa) {
			vm_why_set("no memory for %llu bytes of guest RAM (at gpa 0x%llx)",
				   (unsigned long long)vm->mem, (unsigned long long)gpa);
			return -ENOMEM;
		}
		frame_set_holder(pa, o, (uint16_t)vm->id);
		if (ext_add(vm, gpa, FRAME_SIZE << o, pa)) {
			frame_set_holder(pa, o, 0);
			if (frame_free(pa, o))
				klog("vm: block 0x%llx not freed", (unsigned long long)pa);
			return -ENOMEM;
		}
		vm->blocks[vm->nblocks++] = (struct vm_block){.gpa = gpa, .hpa = pa, .order = o};
		gpa += FRAME_SIZE << o;
	}
	return 0;
}

void vm_mem_free(struct vm *vm)
{
	struct itree_node *n;

	while ((n = itree_min(&vm->ext))) {
		struct vm_ext *e = EXT_OF(n);
		if (e->hpa)
			give_back(vm, e->hpa, e_end(e) - e_start(e));
		itree_remove(&vm->ext, n);
		free(e);
	}
	free(vm->blocks);
	vm->blocks = NULL;
	vm->nblocks = 0;
}

static uint64_t npt_page(void *ctx)
{
	(void)ctx;
	return frame_alloc_zeroed(0, FRAME_SLUICE);
}

static void npt_page_free(void *ctx, uint64_t pa)
{
	(void)ctx;
	if (frame_free(pa, 0))
		klog("vm: NPT page 0x%llx not freed", (unsigned long long)pa);
}

/* Guest RAM into the NPT (RWX) and the DMA space (RW, IOVA = gpa), one
 * entry per block: leaves as large as the blocks. */
int vm_mem_map(struct vm *vm)
{
	static const struct npt_alloc na = {.alloc_page = npt_page, .free_page = npt_page_free};
	int rc = npt_init(&vm->npt, PGT_4K | PGT_2M | PGT_1G, &na);

	if (rc) {
		vm_why_set("no memory for the nested page table");
		return rc;
	}
	for (unsigned i = 0; i < vm->nblocks; i++) {
		const struct vm_block *b = &vm->blocks[i];
		uint64_t sz = FRAME_SIZE << b->order;
		rc = npt_map(&vm->npt, b->gpa, b->hpa, sz, NPT_R | NPT_W | NPT_X);
		if (rc) {
			vm_why_set("nested page table: %s at gpa 0x%llx", err_name(rc),
				   (unsigned long long)b->gpa);
			return rc;
		}
		rc = dma_map(vm->as, b->gpa, sz, DMA_SRC_HPA, b->hpa, DMA_PROT_R | DMA_PROT_W,
			     NULL);
		if (rc) {
			vm_why_set("DMA space: %s mapping gpa 0x%llx", err_name(rc),
				   (unsigned long long)b->gpa);
			return rc;
		}
	}
	return 0;
}

static int check_range(struct vm *vm, uint64_t gpa, uint64_t size)
{
	if (!size || (gpa | size) & (PAGE - 1))
		return -EINVAL;
	if (gpa >= vm->mem || size > vm->mem - gpa)
		return -EFAULT;
	return 0;
}

int vm_mem_hint(struct vm *vm, uint64_t gpa, uint64_t size)
{
	uint64_t end = gpa + size;
	int rc = check_range(vm, gpa, size);

	if (rc)
		return rc;
	/* Boundaries first: the only step here that can run out of memory
	 * before anything changed (ext_merge takes them out again). */
	if ((rc = ext_split(vm, gpa)) || (rc = ext_split(vm, end)))
		goto out;
	if ((rc = dma_hint(vm->as, gpa, size)))
		goto out;
	if ((rc = npt_unmap(&vm->npt, gpa, size))) {
		/* The NPT could not split a leaf: the memory stays the guest's. */
		if (dma_unhint(vm->as, gpa, size))
			klog("vm: vm%u: unhint after a failed NPT unmap failed", vm->id);
		goto out;
	}
	vcpu_flush_npt(vm->vcpu);
	for (struct itree_node *n = itree_first(&vm->ext, gpa, end - 1); n;
	     n = itree_next(&vm->ext, n, gpa, end - 1)) {
		struct vm_ext *e = EXT_OF(n);
		if (!e->hpa)
			continue;
		give_back(vm, e->hpa, e_end(e) - e_start(e));
		e->hpa = 0;
	}
out:
	ext_merge(vm, gpa, end);
	return rc;
}

/* Fresh zeroed frames for the hinted extent e's part [gpa, end): 2 MiB
 * where aligned, else 4 KiB, each rebound in the DMA space and mapped in
 * the NPT, each its own extent. */
static int refill(struct vm *vm, uint64_t gpa, uint64_t end)
{
	while (gpa < end) {
		const struct vm_block *b = block_of(vm, gpa);
		uint64_t bend = b->gpa + (FRAME_SIZE << b->order);
		unsigned o = (!(gpa & ((2ull << 20) - 1)) && gpa + (2ull << 20) <= end &&
			      gpa + (2ull << 20) <= bend)
				     ? FRAME_ORDER_2M
				     : 0;
		uint64_t len = FRAME_SIZE << o, pa = frame_alloc_zeroed(o, FRAME_GUEST);
		int rc;

		if (!pa && o) {
			o = 0;
			len = PAGE;
			pa = frame_alloc_zeroed(0, FRAME_GUEST);
		}
		if (!pa)
			return -ENOMEM;
		frame_set_holder(pa, o, (uint16_t)vm->id);
		if ((rc = ext_split(vm, gpa + len))) {
			give_back(vm, pa, len);
			return rc;
		}
		if ((rc = dma_hint_rebind(vm->as, gpa, len, pa)) ||
		    (rc = npt_map(&vm->npt, gpa, pa, len, NPT_R | NPT_W | NPT_X))) {
			give_back(vm, pa, len);
			return rc;
		}
		struct vm_ext *e = ext_at(vm, gpa);
		e->hpa = pa;
		e->gen = vm->unhint_gen;
		gpa += len;
	}
	return 0;
}

/* Undo of a failed unhint: what this unhint's refills brought in goes back. */
static void unrefill(struct vm *vm, uint64_t gpa, uint64_t end)
{
	for (struct itree_node *n = itree_first(&vm->ext, gpa, end - 1); n;
	     n = itree_next(&vm->ext, n, gpa, end - 1)) {
		struct vm_ext *e = EXT_OF(n);
		if (!e->hpa || e->gen != vm->unhint_gen)
			continue;
		if (npt_unmap(&vm->npt, e_start(e), e_end(e) - e_start(e)))
			klog("vm: vm%u: NPT unmap in an unwind failed", vm->id);
		give_back(vm, e->hpa, e_end(e) - e_start(e));
		e->hpa = 0;
	}
	vcpu_flush_npt(vm->vcpu);
}

int vm_mem_unhint(struct vm *vm, uint64_t gpa, uint64_t size)
{
	uint64_t end = gpa + size;
	int rc = check_range(vm, gpa, size);

	if (rc)
		return rc;
	if ((rc = ext_split(vm, gpa)) || (rc = ext_split(vm, end)))
		goto out;
	if (!++vm->unhint_gen)
		vm->unhint_gen = 1;
	for (struct itree_node *n = itree_first(&vm->ext, gpa, end - 1); n && !rc;) {
		struct vm_ext *e = EXT_OF(n);
		uint64_t s = e_start(e), t = e_end(e);
		n = itree_next(&vm->ext, n, gpa, end - 1);
		if (!e->hpa)
			rc = refill(vm, s, t);
	}
	if (!rc)
		rc = dma_unhint(vm->as, gpa, size);
	if (rc)
		unrefill(vm, gpa, end);
	/* Done: a later call whose counter comes round to this one's must not
	 * take these frames for its own. */
	for (struct itree_node *n = itree_first(&vm->ext, gpa, end - 1); n;
	     n = itree_next(&vm->ext, n, gpa, end - 1))
		EXT_OF(n)->gen = 0;
out:
	ext_merge(vm, gpa, end);
	return rc;
}
