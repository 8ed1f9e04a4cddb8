/*
 * vm/vm_priv.h — what vm/vm.c (objects, memory), vm/run.c (the run loop
 * and exits) and vm/passthrough.c (devices) share.  Private to vm/.
 */
#ifndef SLUICE_VM_VM_PRIV_H
#define SLUICE_VM_VM_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/npt.h"
#include "arch/x86/vcpu.h"
#include "dma/dma.h"
#include "lib/itree.h"
#include "guests/guests.h"
#include "vm/vm.h"
#include "vm/vpci.h"

/* One naturally aligned block of guest RAM: [gpa, gpa + 4K << order). */
struct vm_block {
	uint64_t gpa, hpa;
	unsigned order;
};

struct vm_dev {
	struct vm *vm;
	struct pci_dev *pci;
	struct dma_group *group;
	struct vpci_dev v;
	struct iommu_irq_route *route; /* the remapped MSI, while the guest enables it */
	bool used;
};

#define VM_RX_LEN 256
#define VM_LINE_MAX 160

struct vm {
	unsigned id;
	enum vm_state state;
	char reason[VM_REASON_MAX];
	const struct guest_image *img;
	uint64_t mem;
	struct vm_block *blocks; /* RAM as first allocated (one DMA mapping each) */
	unsigned nblocks;
	struct itree ext; /* what backs each range now (vm/mem.c) */
	uint32_t unhint_gen;
	struct npt npt;
	struct vcpu *vcpu;
	struct dma_space *as;
	struct vpci_bus bus;
	struct vm_dev devs[VM_MAX_DEVS];
	bool halted; /* in HLT with interrupts on: waits for an interrupt */
	uint64_t halted_at; /* TSC when it halted */
	/* Guest vectors raised by device interrupts (host interrupt context),
	 * moved into the vCPU before each run. */
	volatile uint64_t irq_pending[4];
	uint64_t exits, msi_injected, msi_lost, faulted_in;
	uint64_t first_output_tsc; /* TSC of the guest's first COM1 byte, 0 = none yet */
	/* COM1 */
	char line[VM_LINE_MAX];
	unsigned linelen;
	char rx[VM_RX_LEN];
	unsigned rx_head, rx_tail;
	uint8_t uart_regs[8]; /* scratch values of the registers we do not model */
	struct vm *next;
};

/* mem.c.  Host pointer to guest RAM at gpa, NULL outside RAM or hinted;
 * *avail = bytes from gpa on that are contiguous in host memory. */
void *vm_gpa_ptr(struct vm *vm, uint64_t gpa, uint64_t *avail);
bool vm_gpa_hinted(struct vm *vm, uint64_t gpa);
/* Allocates the RAM (vm->mem bytes) in blocks; vm_mem_free gives back
 * whatever backs it now. */
int vm_mem_init(struct vm *vm) MUST_CHECK;
void vm_mem_free(struct vm *vm);
/* Sets up the NPT and maps every block in it (RWX) and in vm->as (RW,
 * IOVA = gpa): one entry per block, leaves as large as the blocks. */
int vm_mem_map(struct vm *vm) MUST_CHECK;
/* Free-page hinting, page aligned: 0, -EINVAL alignment or size 0,
 * -EFAULT outside RAM, -ENOMEM, or what dma_hint/dma_unhint return. */
int vm_mem_hint(struct vm *vm, uint64_t gpa, uint64_t size) MUST_CHECK;
int vm_mem_unhint(struct vm *vm, uint64_t gpa, uint64_t size) MUST_CHECK;
/* Sets the state, the reason, and prints the event line. */
void vm_set_state(struct vm *vm, enum vm_state s, const char *reason_fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vm_why_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* run.c */
void vm_flush_line(struct vm *vm);
/* passthrough.c */
void vm_unassign_all(struct vm *vm);
/* The device interrupt path: raise guest vector (any context). */
void vm_raise_irq(struct vm *vm, unsigned vector);

#endif
