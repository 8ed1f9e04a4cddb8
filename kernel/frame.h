/*
 * kernel/frame.h — physical frame allocator and frame database.
 *
 * Memory is handed out in naturally aligned power-of-two blocks of 4 KiB
 * frames (order 0 = 4 KiB, 9 = 2 MiB, 18 = 1 GiB).  Every frame of usable
 * RAM has a small record (struct frame) saying who holds it and how many
 * DMA pins it carries; no path frees or reuses a frame whose pin count is
 * not zero.
 *
 * The code is pure: it works on whatever ranges frame_add_range() gives it.
 * In sluice those come from the UEFI memory map (identity mapped); in host
 * tests from memory the test reserved (physical address == host address).
 */
#ifndef SLUICE_KERNEL_FRAME_H
#define SLUICE_KERNEL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define FRAME_SHIFT 12
#define FRAME_SIZE (1ull << FRAME_SHIFT)
#define FRAME_ORDER_2M 9
#define FRAME_ORDER_1G 18
#define FRAME_MAX_ORDER FRAME_ORDER_1G

/* Who holds a frame (struct frame.tag). */
enum frame_tag {
	FRAME_FREE = 0,	    /* in the allocator */
	FRAME_SLUICE = 1,   /* the hypervisor's own: heap, stacks, CPU tables */
	FRAME_IOPT = 2,	    /* IOMMU tables (root/context/page tables, queues, IRT) */
	FRAME_USER = 3,	    /* handed to the console user by `mem alloc` */
	FRAME_DMA = 4,	    /* allocated by the dma layer for `dma map ... alloc` */
	FRAME_GUEST = 5,    /* guest RAM */
	FRAME_RESERVED = 6, /* RAM not in the allocator's ranges (never handed out) */
};

struct frame {
	uint32_t pins;	/* DMA pins: > 0 means a device may reach this frame */
	uint8_t tag;	/* enum frame_tag */
	uint8_t order;	/* order of the allocated block, valid on its first frame */
	uint16_t owner; /* accounting owner id of the charge (dma layer), 0 = none */
	/* Whom the block was handed to, per tag (frame_set_holder): FRAME_DMA
	 * the accounting owner id it was allocated for, FRAME_GUEST the guest
	 * id; 0 = nobody in particular (FRAME_USER: the console user). */
	uint16_t holder;
};

struct frame_stats {
	uint64_t total;	 /* bytes of RAM managed */
	uint64_t free;	 /* bytes free */
	uint64_t pinned; /* bytes of frames with pins > 0 */
	uint64_t iopt;	 /* bytes tagged FRAME_IOPT */
};

/* Sets up empty state.  meta_alloc provides memory for the frame records
 * (called once per range, before the range is added); it may return memory
 * inside the range itself (that part is then tagged FRAME_SLUICE). */
void frame_init(void);
/* Adds usable RAM [base, base+size); unaligned edges are trimmed.  Ranges may
 * come in any order and must not overlap (-EINVAL).  Frame records for the
 * range are carved out of the range itself. -ENOSPC past the range table. */
int frame_add_range(uint64_t base, uint64_t size) MUST_CHECK;

/* A naturally aligned block of 2^order frames, tagged; 0 when none is free
 * (physical address 0 is never handed out). */
uint64_t frame_alloc(unsigned order, enum frame_tag tag) MUST_CHECK;
/* Same, zero-filled. */
uint64_t frame_alloc_zeroed(unsigned order, enum frame_tag tag) MUST_CHECK;
/* Names the holder (struct frame.holder) of every frame of the allocated
 * block [pa, pa + 2^order frames). */
void frame_set_holder(uint64_t pa, unsigned order, uint16_t holder);
/* Returns a block; -EINVAL if pa is not the start of an allocated block of
 * that order, -EBUSY (and nothing freed) if any frame in it is pinned. */
int frame_free(uint64_t pa, unsigned order) MUST_CHECK;

/* Returns part of an allocated block: [pa, pa+size) (page aligned, not
 * empty, inside the block [block, block + 2^order frames)) goes back to the
 * allocator; the rest of the block stays allocated, with its tag, holders,
 * charge owners and pins, as naturally aligned blocks as large as their
 * alignment allows (so each can be freed with frame_free, or found with
 * frame_block_of).  -EINVAL if block is not the start of an allocated
 * block of that order or the range is not inside it; -EBUSY (and nothing
 * changed) if a frame of the range is pinned. */
int frame_free_range(uint64_t block, unsigned order, uint64_t pa, uint64_t size) MUST_CHECK;
/* The allocated block holding pa: its first address and order.  -EINVAL
 * if pa is free, unmanaged or one of the allocator's own record frames. */
int frame_block_of(uint64_t pa, uint64_t *block, unsigned *order) MUST_CHECK;

/* The record of the frame holding pa, or NULL if pa is not managed RAM. */
struct frame *frame_get(uint64_t pa);

/* Adds one pin to every frame of [pa, pa+size) (page aligned), or none:
 * -EFAULT if any frame is unmanaged or free. */
int frame_pin(uint64_t pa, uint64_t size) MUST_CHECK;
/* Drops one pin from every frame (which must be pinned). */
void frame_unpin(uint64_t pa, uint64_t size);

/* Run API: the records of one managed range are one array, so a caller can
 * walk [pa, ...) by pointer instead of one frame_get() (a binary search) per
 * frame.  Returns the record of pa's frame and sets *n to the number of
 * records from it to the end of its range (>= 1); NULL and *n = 0 if pa is
 * not managed RAM.  The next range (if pa + *n frames is managed) is a new
 * call. */
struct frame *frame_run(uint64_t pa, uint64_t *n);

/* True when every frame of [pa, pa+size) is managed and carries tag. */
bool frame_range_tagged(uint64_t pa, uint64_t size, enum frame_tag tag);

void frame_stats(struct frame_stats *out);

#endif
