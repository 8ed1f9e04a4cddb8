/*
 * vm/vmsix.h — the MSI-X table of a passed-through function, emulated over
 * a shadow (docs/mmio.md).  The table's page is left unmapped in the
 * nested page table; each guest access faults, is decoded (vm/insn.h) and
 * lands here.  The guest's address, data and mask bits live only in the
 * shadow: the device's real entries are sluice's (a remapped interrupt per
 * vector), programmed through the hooks when an entry becomes deliverable
 * and masked again when it stops being so.
 *
 * An entry is deliverable when the guest's MSI-X Enable is set, its
 * Function Mask is clear and the entry's Mask bit is clear (PCI 3.0
 * 6.8.2.3, 6.8.2.9).  Each transition calls one hook:
 *   vector_on(entry)      not deliverable -> deliverable
 *   vector_off(entry)     deliverable -> not (only after a successful on)
 *   vector_update(entry)  address or data rewritten while deliverable
 *                         (optional: the shadow already holds the new
 *                         message, vmsix_target reads it at delivery).
 *
 * Pure code over the hooks (tests/unit/test_vmsix.c).
 */
#ifndef SLUICE_VM_VMSIX_H
#define SLUICE_VM_VMSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

#define VMSIX_ENTRY_SIZE 16	   /* PCI 3.0 6.8.2: addr lo, addr hi, data, vector control */
#define VMSIX_MAX_ENTRIES 2048	   /* Table Size is 11 bits, N-1 encoded */
#define VMSIX_CTRL_ENABLE 0x8000u  /* Message Control bit 15 */
#define VMSIX_CTRL_MASKALL 0x4000u /* Message Control bit 14: Function Mask */
#define VMSIX_VCTRL_MASK 0x1u	   /* Vector Control bit 0 */

struct vmsix_entry {
	uint32_t addr_lo, addr_hi, data, vctrl; /* the guest's view */
	bool live;				/* vector_on succeeded and no vector_off since */
};

struct vmsix_hooks {
	/* 0 or a negative errno; on error the entry stays not live (counted
	 * in vmsix.errors) and the next write to the entry or to the control
	 * word tries again.  Linux masks an entry around every rewrite of its
	 * message, so off/on pairs are frequent: off should only mask. */
	int (*vector_on)(void *ctx, unsigned entry);
	void (*vector_off)(void *ctx, unsigned entry);
	void (*vector_update)(void *ctx, unsigned entry); /* may be NULL */
	/* The device's Pending Bit Array: size 4 or 8 at off (aligned). */
	uint64_t (*pba_read)(void *ctx, uint64_t off, unsigned size);
};

struct vmsix {
	const struct vmsix_hooks *hooks;
	void *ctx;
	struct vmsix_entry *table; /* nentries, the caller's storage */
	unsigned nentries;
	uint16_t ctrl;	 /* the guest's ENABLE | MASKALL */
	uint64_t errors; /* vector_on failures */
};

/* Shadow of nentries (1..2048) entries in table[]: every entry masked with
 * address and data 0 (PCI 3.0 6.8.2.9: Mask is set after reset), Enable and
 * Function Mask clear.  -EINVAL for a bad count or a missing hook (pba_read
 * may be NULL: the PBA then reads 0). */
int vmsix_init(struct vmsix *x, unsigned nentries, struct vmsix_entry *table,
	       const struct vmsix_hooks *hooks, void *ctx) MUST_CHECK;
/* Turns every live entry off and returns to the vmsix_init state. */
void vmsix_reset(struct vmsix *x);

/* Table accesses at off from the table's start: size 4 (dword aligned) or 8
 * (qword aligned), PCI 3.0 6.8.2.  -EINVAL for any other size or alignment
 * (the caller stops the VM), -ERANGE beyond the table. */
int vmsix_read(const struct vmsix *x, uint64_t off, unsigned size, uint64_t *val) MUST_CHECK;
int vmsix_write(struct vmsix *x, uint64_t off, unsigned size, uint64_t val) MUST_CHECK;

/* The Pending Bit Array (off from its start; one bit per entry in qwords):
 * reads come from the device (hooks.pba_read), same size/alignment rules;
 * writes are dropped (PCI 3.0 6.8.2.10: read-only). */
int vmsix_pba_read(const struct vmsix *x, uint64_t off, unsigned size, uint64_t *val) MUST_CHECK;
int vmsix_pba_write(const struct vmsix *x, uint64_t off, unsigned size) MUST_CHECK;
uint64_t vmsix_pba_size(const struct vmsix *x);

/* The guest's Message Control word: only ENABLE and MASKALL are kept (the
 * table size and BIR/offset are the device's, read elsewhere). */
void vmsix_ctrl_write(struct vmsix *x, uint16_t ctrl);
uint16_t vmsix_ctrl_read(const struct vmsix *x);

/* Whether the guest currently has entry deliverable. */
bool vmsix_deliverable(const struct vmsix *x, unsigned entry);

/* The guest's message of entry, decoded: 0 and the vector and destination
 * APIC id; -ENOENT if the entry is out of range or not deliverable (the
 * interrupt is dropped); -EINVAL if the address is not 0xFEExxxxx in
 * physical destination mode or the delivery mode is not fixed (dropped and
 * counted by the caller). */
int vmsix_target(const struct vmsix *x, unsigned entry, uint8_t *vector, uint32_t *dest) MUST_CHECK;

#endif
