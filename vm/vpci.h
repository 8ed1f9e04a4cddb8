/*
 * vm/vpci.h — the virtual PCI bus a guest sees: configuration mechanism 1
 * (ports 0xCF8/0xCFC-0xCFF) over bus 0, one slot per passed-through
 * function, each function's configuration space virtualized:
 *
 *  - vendor, device, revision, class, subsystem: the device's own;
 *  - header type 0, single function (the multi-function bit is cleared);
 *  - BARs shadowed (the sizing protocol works: all-ones reads back the size
 *    mask; the guest chooses the address; the physical BAR never moves);
 *    memory BARs are mapped guest-physical -> host-physical by the VM
 *    (vpci_hooks.bar_map / bar_unmap) while the guest's Memory Space bit is
 *    on; I/O BARs and the expansion ROM read as 0 (not offered);
 *  - the command register filtered: the guest sees and sets Memory Space,
 *    Bus Master and INTx Disable; I/O Space reads 0; Bus Master is passed
 *    to the device (vpci_hooks.bus_master), the rest stays sluice's;
 *  - status: the device's, with Capabilities List set only if a capability
 *    is shown;
 *  - the capability list: only what sluice virtualizes is shown (MSI), the
 *    next pointers rewritten; everything else in 0x40..0xff reads 0;
 *  - the MSI capability shadowed: the guest's address, data, mask and
 *    enable are recorded (one message: Multiple Message Capable reads 0);
 *    enable and disable go to vpci_hooks.msi, which programs the device
 *    through a remapped interrupt route; vpci_msi_target() tells the VM
 *    which guest vector to inject;
 *  - extended configuration space (0x100..) reads 0.
 * Reads of absent slots and functions give all ones; writes are dropped.
 *
 * Pure code over vpci_phys_ops: host unit tests run it against a fake
 * device (tests/unit/test_vpci.c).
 */
#ifndef SLUICE_VM_VPCI_H
#define SLUICE_VM_VPCI_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

#define VPCI_SLOTS 32
#define VPCI_CONF_ADDR 0xcf8
#define VPCI_CONF_DATA 0xcfc

/* The real function's configuration space (sized accesses). */
struct vpci_phys_ops {
	uint32_t (*read)(void *phys, unsigned off, unsigned size);
	void (*write)(void *phys, unsigned off, unsigned size, uint32_t val);
};

struct vpci_dev;

/* What the VM does when the guest's view changes.  Each returns 0 or a
 * negative errno; on error vpci keeps the guest's previous view (the BAR
 * unmapped, MSI off) and counts it in vpci_dev.errors. */
struct vpci_hooks {
	/* Map [gpa, gpa+size) to the BAR's host-physical range (hpa). */
	int (*bar_map)(void *ctx, struct vpci_dev *d, unsigned bar, uint64_t gpa, uint64_t hpa,
		       uint64_t size);
	int (*bar_unmap)(void *ctx, struct vpci_dev *d, unsigned bar, uint64_t gpa,
			 uint64_t size);
	/* The guest set (on) or cleared the MSI enable bit; off only follows a
	 * successful on (the hook sees balanced pairs). */
	int (*msi)(void *ctx, struct vpci_dev *d, bool on);
	void (*bus_master)(void *ctx, struct vpci_dev *d, bool on);
};

struct vpci_bar_info { /* the physical BARs, as enumeration found them */
	uint64_t hpa, size; /* size 0: not implemented */
	bool io, mem64, prefetch;
};

struct vpci_dev {
	/* set by the caller before vpci_dev_init */
	void *phys;
	const struct vpci_phys_ops *ops;
	const struct vpci_hooks *hooks;
	void *ctx;
	struct vpci_bar_info bar[6];
	uint8_t cap_msi; /* physical offset of the MSI capability, 0 = none */

	/* the guest's view (private to vpci.c; read-only for others) */
	uint16_t cmd;
	uint8_t cache_line, latency, int_line; /* shadowed; never reach the device */
	uint64_t bar_gpa[6];  /* guest-programmed address of each memory BAR */
	bool bar_mapped[6];   /* mapped in the NPT at bar_gpa */
	uint32_t bar_lo_shadow[6]; /* raw dwords the guest sees */
	struct {
		uint16_t ctrl; /* guest's: ENABLE, 64-bit, mask capability */
		uint32_t addr_lo, addr_hi;
		uint16_t data;
		uint32_t mask;
		bool enabled; /* hooks->msi(on) succeeded */
	} msi;
	uint64_t errors; /* hook failures */
	uint64_t msi_lost; /* interrupts the guest's MSI setup could not take */
};

/* Reads what the device offers (header, BAR sizes from bar[], caps) and
 * sets the initial guest view: BARs 0, command 0, MSI off.  -EINVAL if the
 * device reads all ones or is not a header-type-0 endpoint. */
int vpci_dev_init(struct vpci_dev *d) MUST_CHECK;
/* Unmaps mapped BARs and turns MSI off through the hooks (for unassign). */
void vpci_dev_reset(struct vpci_dev *d);

/* Configuration access at off (0..4095), size 1, 2, 4, inside one dword
 * (0xCFD as a word is bytes 1-2); anything else reads all ones and a write
 * is dropped. */
uint32_t vpci_cfg_read(struct vpci_dev *d, unsigned off, unsigned size);
void vpci_cfg_write(struct vpci_dev *d, unsigned off, unsigned size, uint32_t val);

/* The guest's MSI message, decoded: 0 and the vector and destination APIC
 * id, or -ENOENT if MSI is off or masked, -EINVAL if the address is not
 * 0xFEExxxxx or the delivery mode is not fixed (the interrupt is then
 * dropped and counted in msi_lost by the caller). */
int vpci_msi_target(const struct vpci_dev *d, uint8_t *vector, uint32_t *dest) MUST_CHECK;

/* Bus 0 of the guest: slots and the CONFIG_ADDRESS latch. */
struct vpci_bus {
	struct vpci_dev *slot[VPCI_SLOTS];
	uint32_t cf8;
};
void vpci_bus_init(struct vpci_bus *b);
/* A free slot (from 1; slot 0 stays empty) or -ENOSPC; -EEXIST if d is
 * already on the bus. */
int vpci_bus_add(struct vpci_bus *b, struct vpci_dev *d) MUST_CHECK;
void vpci_bus_remove(struct vpci_bus *b, struct vpci_dev *d);
/* True if port is 0xCF8 (size 4) or in 0xCFC..0xCFF: the access was
 * emulated (*val filled for a read: all ones for absent functions). */
bool vpci_io(struct vpci_bus *b, uint16_t port, unsigned size, bool in, uint32_t *val);

#endif
