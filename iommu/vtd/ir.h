/*
 * iommu/vtd/ir.h — VT-d interrupt remapping (VT-d spec chapter 5, IRTE
 * format 9.10): one interrupt remapping table per unit, an IRTE allocator
 * and IRTE updates that hardware never sees half-written, offered to the
 * IOMMU core as the unit's struct iommu_irq_ops (iommu/iommu.h, "Interrupt
 * routes"), through which drivers route interrupts.
 *
 * Bring-up (kernel/platform.c), per unit, after vtd_unit_init() turned QI on:
 *
 *     struct ir_cfg cfg = {entries, x2apic, dmar->flags};
 *     if (ir_enable(u, &cfg) == 0) ...   // sets u->iu.intr_remap, intr_isolated, irq_ops
 *
 * The rest of this header is the driver's own view of its IRTEs (encoding,
 * allocation, writes), used by its ops and by the unit tests.
 *
 * docs/ir.md explains the rules and cites the spec.
 */
#ifndef SLUICE_IOMMU_VTD_IR_H
#define SLUICE_IOMMU_VTD_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "lib/err.h"

struct vtd_unit;

#define IR_DEFAULT_ENTRIES 4096u
#define IR_MIN_ENTRIES 256u   /* one 4 KiB page of 16-byte entries */
#define IR_MAX_ENTRIES 65536u /* IRTA.S = 15 (11.4.9.2) */

/* ---- IRTE (9.10, remapped format), bit positions ---------------------- */
#define IRTE_LO_P (1ull << 0)
#define IRTE_LO_FPD (1ull << 1)
#define IRTE_LO_DM (1ull << 2)	   /* destination mode: 1 = logical */
#define IRTE_LO_RH (1ull << 3)	   /* redirection hint */
#define IRTE_LO_TM (1ull << 4)	   /* trigger mode: 1 = level */
#define IRTE_LO_DLM_SHIFT 5	   /* delivery mode, bits 7:5 */
#define IRTE_LO_IM (1ull << 15)	   /* IRTE mode: 1 = posted (never used) */
#define IRTE_LO_V_SHIFT 16	   /* vector, bits 23:16 */
#define IRTE_LO_DST_SHIFT 32	   /* destination id, bits 63:32 */
#define IRTE_LO_DST_XAPIC_SHIFT 40 /* xAPIC: APIC id in bits 47:40 */
/* Reserved (must be 0): bits 14:12 and 31:24 (and in xAPIC mode 39:32 and
 * 63:48); hi bits 63:20 (IRTE bits 127:84). */
#define IRTE_LO_RSVD 0x00000000ff007000ull
#define IRTE_LO_RSVD_XAPIC 0xffff00ff00000000ull
#define IRTE_HI_SID_MASK 0xffffull
#define IRTE_HI_SQ_SHIFT 16  /* bits 81:80 */
#define IRTE_HI_SVT_SHIFT 18 /* bits 83:82 */
#define IRTE_HI_RSVD (~0xfffffull)

/* Source validation type (9.10 SVT): the core's IOMMU_IRQ_SRC_* values. */
#define IR_SVT_NONE IOMMU_IRQ_SRC_NONE /* refused: every entry validates its source */
#define IR_SVT_SID IOMMU_IRQ_SRC_RID   /* SID and SQ: requester id must match */
#define IR_SVT_BUS IOMMU_IRQ_SRC_BUS   /* SID[15:8] start bus, SID[7:0] end bus */
/* Source-id qualifier for SVT=1: which low SID bits are ignored. */
#define IR_SQ_ALL 0 /* compare all 16 bits */

/* ---- IRTA (11.4.9.2) ----------------------------------------------------- */
#define VTD_IRTA_EIME (1ull << 11)
#define VTD_IRTA_S_MASK 0xfull /* 2^(S+1) entries */

/* ---- remappable MSI address / data (5.1.2.2) ----------------------------- */
#define IR_MSI_ADDR_BASE 0xfee00000u
#define IR_MSI_ADDR_IF (1u << 4)   /* interrupt format: 1 = remappable */
#define IR_MSI_ADDR_SHV (1u << 3)  /* subhandle valid */
#define IR_MSI_ADDR_H15 (1u << 2)  /* handle[15] */
#define IR_MSI_ADDR_HANDLE_SHIFT 5 /* handle[14:0] in bits 19:5 */

/* ---- remappable IOAPIC RTE (5.1.5.1) ------------------------------------- */
#define IR_RTE_INDEX15 (1ull << 11) /* interrupt index[15] */
#define IR_RTE_FORMAT (1ull << 48)  /* 1 = remappable */
#define IR_RTE_INDEX_SHIFT 49	    /* index[14:0] in 63:49 */

/* What a unit's bring-up needs from the platform. */
struct ir_cfg {
	uint64_t entries;   /* boot argument ir_entries; 0 = IR_DEFAULT_ENTRIES;
	                       rounded up to a power of two, clamped to
	                       [IR_MIN_ENTRIES, IR_MAX_ENTRIES] (logged) */
	bool x2apic;	    /* the CPU's LAPIC runs in x2APIC mode */
	uint8_t dmar_flags; /* DMAR header flags: INTR_REMAP is required,
	                       X2APIC_OPT_OUT honoured */
};

/* Whether a unit uses IRTA.EIME (x2APIC destinations).  -ENOTSUP when the
 * CPU runs x2APIC and the unit lacks ECAP.EIM (and the firmware did not opt
 * out); with X2APIC_OPT_OUT the unit runs xAPIC-format (EIME=0), which only
 * works while dest_apic_id fits 8 bits (-ERANGE otherwise).  Pure. */
int ir_choose_eime(bool cpu_x2apic, uint64_t ecap, uint8_t dmar_flags, uint32_t dest_apic_id,
		   bool *eime) MUST_CHECK;

/* Turns interrupt remapping on for u: table, IRTA (+EIME), SIRTP, global IEC
 * invalidation (unless CAP.ESIRTPS), compatibility-format interrupts blocked
 * (GCMD.CFI probed and cleared, with EIME=0 or 1; a warning where hardware
 * cannot block them), IRE.  QI must be on.  Sets u->iu.intr_remap and
 * u->iu.irq_ops (the core's way to the IRTEs), and u->iu.intr_isolated only
 * where the probe showed GCMD.CFI working and GSTS.CFIS reads clear after
 * IRE (otherwise the unit remaps but does not isolate interrupts).  -ENOTSUP: no ECAP.IR / no DMAR INTR_REMAP / no EIM where needed;
 * -EINVAL: QI off; -EBUSY: already on; -ENOMEM; -ETIMEDOUT: hardware did not
 * follow (then IR is left off).  The table size in cfg->entries is adjusted
 * (and logged) if it is not a power of two in range. */
int ir_enable(struct vtd_unit *u, const struct ir_cfg *cfg) MUST_CHECK;
/* IRE off, IRTA.EIME cleared, table freed, irq_ops, intr_remap and
 * intr_isolated cleared.  -EBUSY while entries are allocated; -ENOENT if IR
 * is not on; -ETIMEDOUT (table kept). */
int ir_disable(struct vtd_unit *u) MUST_CHECK;
bool ir_enabled(const struct vtd_unit *u);
unsigned ir_entries(const struct vtd_unit *u); /* 0 if IR is off */
bool ir_eime(const struct vtd_unit *u);

/* Encodes an entry as an IRTE (present).  -EINVAL for a vector < 16, a
 * reserved delivery mode, SVT none/reserved, SQ with SVT!=1; -ERANGE for a
 * destination that does not fit (xAPIC: 8 bits).  Pure. */
int ir_irte_encode(const struct iommu_irq_entry *e, bool eime, uint64_t *lo,
		   uint64_t *hi) MUST_CHECK;

/* IRTE allocation: count (1..32 for MSI, any power of two up to the table)
 * is rounded up to a power of two; the block is naturally aligned (multi-
 * vector MSI adds the message number to the handle).  -EINVAL (count 0 or
 * more than the table), -ENOENT (IR off), -ENOSPC. */
int ir_alloc(struct vtd_unit *u, unsigned count, unsigned *index) MUST_CHECK;
/* Leaves the entries not present, invalidates them in the IEC and frees
 * them; if the invalidation fails they stay allocated (error returned). */
int ir_free(struct vtd_unit *u, unsigned index, unsigned count);
/* Writes entry index (which must be allocated: -EINVAL otherwise), then
 * flushes the line (non-coherent units), invalidates the IEC for that index
 * and reads a register to drain. */
int ir_set(struct vtd_unit *u, unsigned index, const struct iommu_irq_entry *e) MUST_CHECK;
/* Present bit off (the rest kept so ir_set_present can put it back). */
int ir_clear(struct vtd_unit *u, unsigned index) MUST_CHECK;
int ir_set_present(struct vtd_unit *u, unsigned index, bool present) MUST_CHECK;
/* The entry as stored (tests, console).  -EINVAL out of range. */
int ir_get(const struct vtd_unit *u, unsigned index, uint64_t *lo, uint64_t *hi) MUST_CHECK;

/* Remappable-format MSI address and data for handle (5.1.2.2): SHV=1 so
 * the device's message number (data) is added to the handle. */
uint32_t ir_msi_addr(unsigned handle);
uint32_t ir_msi_data(unsigned subhandle);
/* Remappable-format IOAPIC RTE (5.1.5.1) for IRTE index: trigger and
 * polarity (which must match the IRTE), vector = the IRTE's vector (the
 * IOAPIC matches EOIs of level-triggered interrupts against it).  Pure. */
uint64_t ir_ioapic_rte(unsigned index, bool level, bool active_low, uint8_t vector, bool masked);

#endif
