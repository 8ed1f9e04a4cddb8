/*
 * iommu/vtd/dmar.h — the ACPI DMAR table (VT-d spec 4.x, chapter 8): which
 * remapping units exist, which devices each one translates, the reserved
 * memory regions (RMRR) devices need identity-mapped.
 *
 * dmar_parse() is pure over a buffer and never trusts it: malformed
 * structures are logged ("dmar: ...") and dropped, the rest kept
 * (docs/acpi.md lists every message).  Everything is sized dynamically.
 */
#ifndef SLUICE_IOMMU_VTD_DMAR_H
#define SLUICE_IOMMU_VTD_DMAR_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* DMAR header flags (8.1) */
#define DMAR_FLAG_INTR_REMAP (1u << 0)
#define DMAR_FLAG_X2APIC_OPT_OUT (1u << 1)
#define DMAR_FLAG_DMA_CTRL_PLATFORM_OPT_IN (1u << 2)

/* Remapping structure types (8.2) */
#define DMAR_TYPE_DRHD 0
#define DMAR_TYPE_RMRR 1
#define DMAR_TYPE_ATSR 2
#define DMAR_TYPE_RHSA 3
#define DMAR_TYPE_ANDD 4
#define DMAR_TYPE_SATC 5

/* Device scope types (8.3.1) */
#define DMAR_SCOPE_ENDPOINT 1
#define DMAR_SCOPE_BRIDGE 2
#define DMAR_SCOPE_IOAPIC 3
#define DMAR_SCOPE_HPET 4
#define DMAR_SCOPE_ACPI 5

#define DMAR_DRHD_INCLUDE_PCI_ALL (1u << 0)
#define DMAR_ATSR_ALL_PORTS (1u << 0)

struct dmar_path {
	uint8_t dev, fn;
};

struct dmar_scope {
	uint8_t type;
	uint8_t enum_id; /* IOAPIC id, HPET number, ACPI device number */
	uint8_t start_bus;
	uint8_t npath; /* >= 1 */
	struct dmar_path *path;
};

struct dmar_drhd {
	uint8_t flags;
	bool include_all; /* flags.INCLUDE_PCI_ALL */
	uint16_t segment;
	uint64_t base;	   /* register base, 4 KiB aligned */
	uint64_t reg_size; /* bytes: 2^Size pages (8.3, Size field; 0 = one page) */
	unsigned nscope;
	struct dmar_scope *scope;
};

struct dmar_rmrr {
	uint16_t segment;
	uint64_t base, limit; /* limit inclusive; base and limit+1 4 KiB aligned */
	unsigned nscope;
	struct dmar_scope *scope;
};

struct dmar_atsr {
	uint8_t flags; /* ALL_PORTS bit 0 */
	uint16_t segment;
	unsigned nscope;
	struct dmar_scope *scope;
};

struct dmar_rhsa {
	uint64_t base; /* register base of the DRHD it describes */
	uint32_t proximity_domain;
};

struct dmar_satc {
	uint8_t flags; /* ATC_REQUIRED bit 0 */
	uint16_t segment;
	unsigned nscope;
	struct dmar_scope *scope;
};

struct dmar_info {
	uint8_t haw; /* host address width in bits (the field + 1) */
	uint8_t flags;
	bool intr_remap, x2apic_opt_out, dma_ctrl_opt_in;
	unsigned ndrhd, nrmrr, natsr, nrhsa, nsatc;
	struct dmar_drhd *drhd; /* in table order, dropped ones removed */
	struct dmar_rmrr *rmrr;
	struct dmar_atsr *atsr;
	struct dmar_rhsa *rhsa;
	struct dmar_satc *satc;
	unsigned dropped; /* structures and scopes dropped as malformed */
};

/* Parses the DMAR table in [table, table + len) (len: the bytes readable;
 * the header's length must fit in it).  0 and *out allocated, or -EINVAL
 * (not a DMAR / header unusable) or -ENOMEM.  Checksums are the ACPI
 * layer's job (acpi_find only returns tables whose checksum is right). */
int dmar_parse(const void *table, uint32_t len, struct dmar_info **out) MUST_CHECK;
void dmar_free(struct dmar_info *info);

/* What scope resolution needs to know about the PCI hierarchy.  Each
 * returns the bridge's secondary (subordinate) bus number, or a negative
 * errno if no bridge is present at seg:bus:dev.fn. */
struct dmar_pci_ops {
	int (*secondary_bus)(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn);
	int (*subordinate_bus)(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn);
	/* Optional: is a function present at seg:bus:devfn?  Without it the
	 * final device of a path is assumed present. */
	bool (*present)(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn);
};

/* Walks a scope path from its start bus through bridges (8.3.1.1): every hop
 * but the last is a bridge whose secondary bus the next hop is on.  Gives the
 * final bus and devfn.  -ENODEV if a bridge on the path is absent (the
 * caller logs "scope names absent device"), -EINVAL for a multi-hop path
 * without a callback. */
int dmar_scope_resolve(const struct dmar_scope *s, uint16_t seg,
		       int (*secondary_bus)(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev,
					    uint8_t fn),
		       void *ctx, uint8_t *bus, uint8_t *devfn) MUST_CHECK;

/* Does scope s (of a structure for segment seg) name seg:bus:devfn?  The
 * caller matches the segment.  An
 * endpoint, IOAPIC, HPET or ACPI scope names exactly the resolved function;
 * a bridge scope names the bridge and every bus from its secondary to its
 * subordinate bus.  Absent devices are covered by nothing. */
bool dmar_scope_covers(const struct dmar_scope *s, uint16_t seg, uint8_t bus, uint8_t devfn,
		       const struct dmar_pci_ops *ops, void *ctx);

/* The DRHD (index into info->drhd) translating seg:bus:devfn: the first DRHD
 * of that segment whose scope covers it, else the segment's INCLUDE_PCI_ALL
 * DRHD, else -ENODEV (untranslated). */
int dmar_unit_for(const struct dmar_info *info, uint16_t seg, uint8_t bus, uint8_t devfn,
		  const struct dmar_pci_ops *ops, void *ctx);

/* The DRHD whose scope lists the IOAPIC (type DMAR_SCOPE_IOAPIC) or HPET
 * (DMAR_SCOPE_HPET) with this enumeration id; its source-id (bus << 8 |
 * devfn) in *sid.  -ENODEV if no DRHD lists it or its path is absent. */
int dmar_unit_for_special(const struct dmar_info *info, uint8_t type, uint8_t enum_id,
			  const struct dmar_pci_ops *ops, void *ctx, uint16_t *sid);

/* The RMRRs whose scope covers seg:bus:devfn: writes up to max indexes into
 * idx and returns how many there are in all (may exceed max). */
unsigned dmar_rmrr_for(const struct dmar_info *info, uint16_t seg, uint8_t bus, uint8_t devfn,
		       const struct dmar_pci_ops *ops, void *ctx, unsigned *idx, unsigned max);

/* Logs "dmar: <DRHD|RMRR|ATSR|SATC> <i> scope <j> names absent device ..."
 * for every scope whose path does not resolve; returns how many. */
unsigned dmar_log_absent(const struct dmar_info *info, const struct dmar_pci_ops *ops, void *ctx);

#endif
