/*
 * vm/vm.h — virtual machines: guest RAM owned by the VM (charged to it
 * through the dma layer), nested paging, one vCPU (arch/x86/vcpu.h),
 * the virtual platform a built-in guest sees (guests/abi.h: COM1, PCI
 * configuration mechanism 1, hypercalls), passed-through PCI devices
 * (vm/vpci.h) whose DMA the IOMMU confines to the guest's RAM and whose
 * MSIs arrive through remapped interrupt entries and are injected.
 * docs/vm.md says what a user sees; ../shared/CONSOLE.md "Guests" the wire
 * format of the `vm` commands.
 *
 * Single CPU: the console runs guests in time slices while it is idle
 * (vm_run_slice, installed by bring-up); every call here runs in console
 * context, never while a guest runs.
 */
#ifndef SLUICE_VM_VM_H
#define SLUICE_VM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci.h"
#include "lib/err.h"

#define VM_MAX 16
#define VM_MAX_DEVS 8
#define VM_MEM_MAX (2ull << 30) /* guest RAM below the guest's BAR window */
#define VM_REASON_MAX 48

enum vm_state { VM_CREATED, VM_RUNNING, VM_STOPPED, VM_EXITED };

struct vm;

/* What went wrong in the last failing vm_* call, for the console's ERR. */
const char *vm_why(void);

/* A VM with mem bytes of RAM (a multiple of 2 MiB, GUEST_MIN_RAM ..
 * VM_MEM_MAX) running the built-in guest image `guest`.
 *  -EINVAL bad size   -ENOENT no such guest   -ENOTSUP no vCPU support
 *  -ENOSPC too many VMs   -ENOMEM RAM or tables */
int vm_create(uint64_t mem, const char *guest, struct vm **out) MUST_CHECK;
/* Stops it, gives every device back (vm_unassign), frees everything. */
int vm_destroy(struct vm *vm) MUST_CHECK;
/* created or stopped -> running.  -EBUSY running, -EINVAL exited. */
int vm_start(struct vm *vm) MUST_CHECK;
/* running -> stopped.  -EINVAL not running. */
int vm_stop(struct vm *vm) MUST_CHECK;

/* Passes d's whole isolation group through (quiesced, attached to the VM's
 * DMA space, on the guest's PCI bus).  -EBUSY the VM runs or the group is
 * in use (another space, another VM); -EPERM its interrupts cannot be
 * remapped and isolated (unless allow_unsafe_interrupts); -ENODEV no IOMMU
 * translates it; -EINVAL a bridge; -ENOSPC no slot left. */
int vm_assign(struct vm *vm, struct pci_dev *d) MUST_CHECK;
/* Gives d's group back: Bus Master off, MSI off and its entry freed, BARs
 * unmapped, detached (quiesced, blocked).  -ENOENT not assigned to vm,
 * -EBUSY the VM runs. */
int vm_unassign(struct vm *vm, struct pci_dev *d) MUST_CHECK;

struct vm *vm_get(unsigned id);
struct vm *vm_next(struct vm *prev); /* in id order; NULL: the first */

struct vm_info {
	unsigned id;
	enum vm_state state;
	uint64_t mem, exits;
	const char *guest;
	char reason[VM_REASON_MAX]; /* "-" when none */
	char devices[96];	    /* "00:03.0,00:04.0" or "-" */
	unsigned as_id;
	uint64_t msi_injected, msi_lost, faulted_in;
	uint64_t first_output_tsc; /* TSC of the guest's first output byte, 0 = none */
};
void vm_info(struct vm *vm, struct vm_info *out);
const char *vm_state_name(enum vm_state s);

/* CRC-32 of guest RAM [gpa, gpa+len).  -EFAULT outside RAM, -EINVAL len 0. */
int vm_mem_crc(struct vm *vm, uint64_t gpa, uint64_t len, uint32_t *crc) MUST_CHECK;
/* Queues text and a newline on the guest's serial input.  -ENOSPC full. */
int vm_console_input(struct vm *vm, const char *text) MUST_CHECK;

/* One time slice of the next runnable VM (round robin): runs it until a
 * host interrupt, or until it stops, halts or exits.  false when no VM
 * wants the CPU. */
bool vm_run_slice(void);

/* Time of the last vm_run_slice round trips, for bench. */
struct vm_stats {
	uint64_t slices, exits;
};
void vm_stats(struct vm_stats *out);

#endif
