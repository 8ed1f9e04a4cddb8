/*
 * kernel/mem_user.h — memory the console user owns (`mem alloc`): naturally
 * aligned blocks from the frame allocator tagged FRAME_USER, never pinned
 * by being allocated; only DMA mappings pin them.
 */
#ifndef SLUICE_KERNEL_MEM_USER_H
#define SLUICE_KERNEL_MEM_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* size 1..1 GiB, rounded up to a power-of-two number of frames. */
int mem_user_alloc(uint64_t size, uint64_t *hpa) MUST_CHECK;
/* hpa/size as given to (or returned by) mem_user_alloc; -ENOENT if no such
 * block, -EBUSY if any frame of it is pinned (nothing freed). */
int mem_user_free(uint64_t hpa, uint64_t size) MUST_CHECK;
/* Every frame is user, DMA or guest memory (may be written from the console). */
bool mem_user_writable(uint64_t hpa, uint64_t len);
/* Every frame is RAM managed by sluice. */
bool mem_user_readable(uint64_t hpa, uint64_t len);

#endif
