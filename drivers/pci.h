/*
 * drivers/pci.h — PCI: ECAM configuration access, enumeration of every
 * function on every segment (through the bridges firmware numbered), BARs,
 * capabilities, ACS (enabled on every function that has it), the requester ID
 * each function's DMA carries (its alias) and the isolation groups that follow
 * from aliases, multi-function devices and ACS.  docs/pci.md explains the rules.
 *
 * The device list is built once by pci_init() and never changes afterwards,
 * so struct pci_dev pointers stay valid (until a new pci_init(), which only
 * host tests do).
 */
#ifndef SLUICE_DRIVERS_PCI_H
#define SLUICE_DRIVERS_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/bdf.h"
#include "lib/err.h"

/* One ECAM window, from an ACPI MCFG allocation entry.  base is the address
 * of bus 0's configuration space even when bus_start > 0 (PCI Firmware Spec
 * 3.0 §4.1.2, MCFG table 4-3), so bus b lives at base + (b << 20). */
struct pci_ecam {
	uint64_t base;
	uint16_t seg;
	uint8_t bus_start, bus_end;
};

struct pci_bar {
	uint64_t base, size; /* size 0: BAR not implemented */
	bool io, mem64, prefetch;
};

struct pci_dev {
	uint16_t seg;
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint32_t class;	  /* class code, 24 bits: base<<16 | sub<<8 | progif */
	uint8_t hdr_type; /* 0 endpoint, 1 PCI-PCI bridge (bits 6:0 of 0x0e) */
	bool is_bridge, is_pcie;
	uint8_t pcie_type;		/* PCIe Device/Port Type when is_pcie */
	uint8_t secondary, subordinate; /* bridges */
	struct pci_dev *parent;		/* upstream bridge or NULL (root bus) */
	uint16_t alias_rid;		/* requester ID the IOMMU sees for its DMA */
	int group;			/* isolation group number, from 0 */
	int unit;			/* IOMMU unit index, -1 = none (IOMMU bring-up fills it) */
	uint8_t cap_msi, cap_msix, cap_pcie; /* config offsets, 0 = absent */
	uint16_t ecap_ats, ecap_pasid, ecap_pri, ecap_acs;
	struct pci_bar bar[6];
};

/* Enumerates every segment given (the array is copied).  Replaces any
 * earlier list.  -EINVAL for a bad window (bus_end < bus_start, segment twice),
 * -ENOMEM; bogus bridges are logged and skipped, not errors. */
int pci_init(const struct pci_ecam *segs, unsigned nsegs) MUST_CHECK;

unsigned pci_count(void);
struct pci_dev *pci_at(unsigned i); /* NULL past the end */
struct pci_dev *pci_find(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn);

/* bdf text (pci_parse_bdf, pci_format_bdf, pci_make_rid): lib/bdf.h */
static inline uint16_t pci_dev_rid(const struct pci_dev *d)
{
	return pci_make_rid(d->bus, d->dev, d->fn);
}

/* Configuration access through ECAM.  off must be aligned to size (1, 2, 4)
 * and < 4096, and the bus inside a known window; otherwise reads give all
 * ones (as a master abort would) and writes are dropped.  Sizes 1 and 2 are
 * real sized accesses, never a read-modify-write of the dword (that would
 * clear RW1C status bits). */
uint32_t pci_cfg_read(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, unsigned off,
		      unsigned size);
void pci_cfg_write(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, unsigned off, unsigned size,
		   uint32_t val);
/* The same, saying why an access is refused: -EINVAL (size, alignment,
 * offset), -ENODEV (no ECAM window covers seg:bus). */
int pci_cfg_check(uint16_t seg, uint8_t bus, unsigned off, unsigned size) MUST_CHECK;

uint32_t pci_read(const struct pci_dev *d, unsigned off, unsigned size);
void pci_write(struct pci_dev *d, unsigned off, unsigned size, uint32_t val);

/* Members of an isolation group in enumeration order: fills up to max
 * pointers and returns how many members there are (0 for an unknown group). */
int pci_group_members(int group, struct pci_dev **out, unsigned max);
int pci_group_count(void); /* groups are numbered 0 .. count-1 */

/* The one writer of the command register (PCI_COMMAND): new = (old &
 * ~clear) | set, read and written with interrupts off, so that the
 * fault-storm handler's Bus Master clear (interrupt context) is never lost
 * to a read-modify-write it interrupted.  No write when nothing changes. */
void pci_command_update(struct pci_dev *d, uint16_t clear, uint16_t set);
void pci_set_bus_master(struct pci_dev *d, bool on); /* pci_command_update */

/* Quiescing a function that leaves its owner (docs/pci.md "Quiesce on
 * detach"): the function-level reset it offers, if any. */
enum pci_flr {
	PCI_FLR_NONE,
	PCI_FLR_PCIE, /* PCIe DEVCAP.FLR */
	PCI_FLR_AF,   /* conventional: Advanced Features capability with TP and FLR */
};
enum pci_flr pci_flr_kind(const struct pci_dev *d);

#define PCI_PENDING_TIMEOUT_NS 1000000000ull   /* Transactions Pending to clear */
#define PCI_FLR_WAIT_US 100000u		       /* PCIe 6.6.2: 100 ms after FLR */
#define PCI_FLR_READY_TIMEOUT_NS 1000000000ull /* then config reads to answer */

/* Bus Master Enable off, the function's pending transactions drained
 * (bounded), then an FLR where offered and the configuration restored
 * (BARs, interrupt line, PCIe Device Control; command without Bus Master).
 * *did_flr says whether an FLR was done.  Bus Master stays off on error:
 *  -ENODEV    the function reads all ones
 *  -ETIMEDOUT transactions still pending, or no answer after the FLR */
int pci_quiesce(struct pci_dev *d, bool *did_flr) MUST_CHECK;

#ifdef HOST_TEST
/* Host tests route 8- and 16-bit config accesses here (hw/hw.h has only
 * 32/64-bit MMIO).  pci.c has weak defaults (aligned dword read; write as
 * read-modify-write); tests/unit/fake_pci.c gives real sized accesses. */
uint32_t pci_host_mmio_read(uint64_t addr, unsigned size);
void pci_host_mmio_write(uint64_t addr, unsigned size, uint32_t val);
#endif

#endif
