/* kernel/heap.h — the block newlib's malloc grows into (see syscalls.c). */
#ifndef SLUICE_KERNEL_HEAP_H
#define SLUICE_KERNEL_HEAP_H

#include <stdint.h>

void heap_init(uint64_t base, uint64_t size);
uint64_t heap_used(void);
uint64_t heap_size(void);

#endif
