/*
 * dma/acct.h — accounting owners and the pin/charge primitives of the dma
 * layer (internal to dma/).  A frame is pinned once per holder (a mapping
 * record or a registration); the holder's owner is charged FRAME_SIZE the
 * first time it holds the frame and uncharged when its last hold drops.
 *
 * Per-(owner, frame) tracking: struct frame.owner names the primary owner,
 * whose hold count is implicit: frame->pins minus the counts of the side
 * table.  The side table (hash by frame number) holds (frame, owner, count)
 * only for the rare extra owners of a frame.  The dma layer is the only
 * caller of frame_pin/frame_unpin, so pins == sum of all owners' holds.
 */
#ifndef SLUICE_DMA_ACCT_H
#define SLUICE_DMA_ACCT_H

#include <stdint.h>

#include "lib/err.h"

struct dma_owner {
	uint16_t id;
	/* The guest whose spaces these are, 0: the console user's.  Guest RAM
	 * (FRAME_GUEST, holder = guest id) maps only into its guest's spaces
	 * (dma_space_create_guest). */
	uint16_t guest;
	unsigned refs;	     /* spaces using it */
	uint64_t limit;	     /* bytes; UINT64_MAX = unlimited */
	uint64_t pinned;     /* bytes charged */
	uint64_t registered; /* bytes pre-registered */
	struct dma_owner *next;
};

int acct_owner_new(struct dma_owner **out) MUST_CHECK;
/* The hypervisor's own owner (id ACCT_HYP_ID, no limit, in no space): it
 * holds what sluice itself maps into a device's space (dma_map_hyp). */
#define ACCT_HYP_ID 0xffffu
struct dma_owner *acct_hyp_owner(void);
void acct_owner_put(struct dma_owner *o);

/* Bytes o would be newly charged by holding [pa, pa+len); -EPERM if a frame
 * is unmanaged. */
int acct_new_bytes(struct dma_owner *o, uint64_t pa, uint64_t len, uint64_t *bytes) MUST_CHECK;
/* Pins [pa, pa+len) once and charges o where needed; all or nothing
 * (-EFAULT unmanaged/free frames, -ENOMEM no memory for a side record).
 * The limit is the caller's to check (acct_new_bytes) before. */
int acct_get(struct dma_owner *o, uint64_t pa, uint64_t len) MUST_CHECK;
/* Undoes one acct_get of the same range. */
void acct_put(struct dma_owner *o, uint64_t pa, uint64_t len);
/* Hold count of o on the frame at pa (for tests). */
uint32_t acct_holds(const struct dma_owner *o, uint64_t pa);
uint64_t acct_side_entries(void);

/* Allocation with fault injection (dma_test_fail_nth). */
void *dma_zalloc(uint64_t size);
void *dma_realloc(void *p, uint64_t size);
/* A zeroed FRAME_DMA block held for owner id holder (struct frame.holder). */
uint64_t dma_frame_alloc(unsigned order, uint16_t holder);

#endif
