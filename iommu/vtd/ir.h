/*
 * iommu/vtd/ir.h — VT-d interrupt remapping (VT-d spec chapter 5, IRTE
 * format 9.10): one interrupt remapping table per unit, an IRTE allocator,
 * IRTE updates that hardware never sees half-written, and a registry of the
 * remapped interrupt sources the `irq` command lists.
 *
 * Bring-up, per unit, after vtd_unit_init() turned QI on:
 *
 *     struct ir_cfg cfg;
 *     ir_cfg_from_boot(&cfg, dmar->flags);   // ir_entries=, x2APIC mode
 *     if (ir_enable(u, &cfg) == 0) ...        // sets u->iu.intr_remap
 *
 * Routing an interrupt: ir_alloc() an index (or a 2^n block for multi-vector
 * MSI), ir_set() the entry with a route (vector, destination, trigger and
 * the source-id check), program the device in remappable format
 * (drivers/msi.h, drivers/ioapic.h), ir_source_register() so `irq` lists it.
 * Tear-down: ir_clear()/ir_free() leave every entry not present.
 *
 * docs/ir.md explains the rules and cites the spec.
 */
#ifndef SLUICE_IOMMU_VTD_IR_H
#define SLUICE_IOMMU_VTD_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/irq.h"
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

/* Source validation type (9.10 SVT). */
#define IR_SVT_NONE 0 /* refused: every sluice entry validates its source */
#define IR_SVT_SID 1  /* SID and SQ: requester id must match */
#define IR_SVT_BUS 2  /* SID[15:8] start bus, SID[7:0] end bus */
/* Source-id qualifier for SVT=1: which low SID bits are ignored. */
#define IR_SQ_ALL 0 /* compare all 16 bits */

/* Delivery modes (9.10 DLM). */
#define IR_DLM_FIXED 0
#define IR_DLM_LOWPRI 1

/* ---- IRTA (11.4.9.2) ----------------------------------------------------- */
#define VTD_IRTA_EIME (1ull << 11)
#define VTD_IRTA_S_MASK 0xfull /* 2^(S+1) entries */

/* ---- remappable MSI address / data (5.1.2.2) ----------------------------- */
#define IR_MSI_ADDR_BASE 0xfee00000u
#define IR_MSI_ADDR_IF (1u << 4)   /* interrupt format: 1 = remappable */
#define IR_MSI_ADDR_SHV (1u << 3)  /* subhandle valid */
#define IR_MSI_ADDR_H15 (1u << 2)  /* handle[15] */
#define IR_MSI_ADDR_HANDLE_SHIFT 5 /* handle[14:0] in bits 19:5 */

/* What a unit's bring-up needs from the platform. */
struct ir_cfg {
	unsigned entries;   /* 0 = IR_DEFAULT_ENTRIES; rounded up to a power of
	                     two, clamped to [IR_MIN_ENTRIES, IR_MAX_ENTRIES] */
	bool x2apic;	    /* the CPU's LAPIC runs in x2APIC mode */
	uint8_t dmar_flags; /* DMAR header flags: INTR_REMAP is required,
	                       X2APIC_OPT_OUT honoured */
};

/* One interrupt's route: what the IRTE says. */
struct ir_route {
	uint8_t vector;
	uint32_t dest; /* APIC id (8 bits unless the unit runs with EIME) */
	bool level;    /* trigger mode (must match the IOAPIC RTE) */
	bool logical;  /* destination mode; sluice uses physical */
	uint8_t dlm;   /* IR_DLM_* */
	bool rh;
	bool fpd;     /* fault processing disable */
	uint8_t svt;  /* IR_SVT_SID or IR_SVT_BUS (NONE is refused) */
	uint8_t sq;   /* with SVT=1 */
	uint16_t sid; /* requester id, or start<<8|end bus with SVT=2 */
};

/* Fills cfg: entries from the boot argument `ir_entries`, x2apic from the
 * LAPIC's mode, and the DMAR flags given. */
void ir_cfg_from_boot(struct ir_cfg *cfg, uint8_t dmar_flags);

/* Whether a unit uses IRTA.EIME (x2APIC destinations).  -ENOTSUP when the
 * CPU runs x2APIC and the unit lacks ECAP.EIM (and the firmware did not opt
 * out); with X2APIC_OPT_OUT the unit runs xAPIC-format (EIME=0), which only
 * works while dest_apic_id fits 8 bits (-ERANGE otherwise).  Pure. */
int ir_choose_eime(bool cpu_x2apic, uint64_t ecap, uint8_t dmar_flags, uint32_t dest_apic_id,
		   bool *eime) MUST_CHECK;

/* Turns interrupt remapping on for u: table, IRTA (+EIME), SIRTP, global IEC
 * invalidation (unless CAP.ESIRTPS), compatibility-format interrupts blocked
 * (GCMD.CFI clear; a warning where hardware cannot block them), IRE.  QI must
 * be on.  Sets u->iu.intr_remap.  -ENOTSUP: no ECAP.IR / no DMAR INTR_REMAP /
 * no EIM where needed; -EINVAL: QI off; -EBUSY: already on; -ENOMEM;
 * -ETIMEDOUT: hardware did not follow (then IR is left off). */
int ir_enable(struct vtd_unit *u, const struct ir_cfg *cfg) MUST_CHECK;
/* IRE off, IRTA.EIME cleared, table freed.  -EBUSY while entries are
 * allocated; -ENOENT if IR is not on; -ETIMEDOUT (table kept). */
int ir_disable(struct vtd_unit *u) MUST_CHECK;
bool ir_enabled(const struct vtd_unit *u);
unsigned ir_entries(const struct vtd_unit *u); /* 0 if IR is off */
bool ir_eime(const struct vtd_unit *u);

/* Encodes a route as an IRTE (present).  -EINVAL for a vector < 16, a
 * reserved delivery mode, SVT none/reserved, SQ with SVT!=1; -ERANGE for a
 * destination that does not fit (xAPIC: 8 bits).  Pure. */
int ir_irte_encode(const struct ir_route *r, bool eime, uint64_t *lo, uint64_t *hi) MUST_CHECK;
/* The source check for a PCI function with requester id rid whose DMA
 * reaches the IOMMU as alias (struct pci_dev.alias_rid):
 *  - alias == rid: SVT=1, SQ=0, SID=rid;
 *  - takeover (alias is (secondary bus, 0, 0) of a PCIe-to-PCI bridge): the
 *    bridge may forward with that id or, in PCI-X mode, with the original
 *    one, so only the bus is checked: SVT=2 over [alias bus, rid bus]
 *    (9.10 SVT=10b);
 *  - otherwise (a conventional bridge forwards with its own id): SVT=1 with
 *    SID=alias.  Pure. */
void ir_route_source(struct ir_route *r, uint16_t rid, uint16_t alias, bool takeover);

/* IRTE allocation: count (1..32 for MSI, any power of two up to the table)
 * is rounded up to a power of two; the block is naturally aligned (multi-
 * vector MSI adds the message number to the handle).  -EINVAL (count 0 or
 * more than the table), -ENOENT (IR off), -ENOSPC. */
int ir_alloc(struct vtd_unit *u, unsigned count, unsigned *index) MUST_CHECK;
/* Clears (not present) and frees the block ir_alloc gave. */
/* Leaves the entries not present, invalidates them in the IEC and frees
 * them; if the invalidation fails they stay allocated (error returned). */
int ir_free(struct vtd_unit *u, unsigned index, unsigned count);
/* Writes entry index (which must be allocated: -EINVAL otherwise), then
 * flushes the line (non-coherent units), invalidates the IEC for that index
 * and reads a register to drain (6.5.5). */
int ir_set(struct vtd_unit *u, unsigned index, const struct ir_route *r) MUST_CHECK;
/* Present bit off (the rest kept so ir_set_present can put it back). */
int ir_clear(struct vtd_unit *u, unsigned index) MUST_CHECK;
int ir_set_present(struct vtd_unit *u, unsigned index, bool present) MUST_CHECK;
/* The entry as stored (tests, console).  -EINVAL out of range. */
int ir_get(const struct vtd_unit *u, unsigned index, uint64_t *lo, uint64_t *hi) MUST_CHECK;

/* Remappable-format MSI address and data for handle (5.1.2.2): SHV=1 so
 * the device's message number (data) is added to the handle. */
uint32_t ir_msi_addr(unsigned handle);
uint32_t ir_msi_data(unsigned subhandle);

/* ---- remapped sources (the `irq` command) ------------------------------- */
enum ir_source_kind { IR_SRC_MSI = 0, IR_SRC_MSIX = 1, IR_SRC_IOAPIC = 2 };

struct ir_source {
	struct vtd_unit *u;
	unsigned index;	 /* IRTE */
	unsigned count;	 /* IRTEs in the block (1 for what sluice programs) */
	unsigned vector; /* 0 when none is held */
	struct ir_route route;
	bool present;
	enum ir_source_kind kind;
	uint16_t seg, bdf; /* the device (MSI) or the IOAPIC's source-id */
	unsigned gsi;	   /* IOAPIC: the GSI; MSI-X: the table entry */
	irq_handler_fn fn;
	void *ctx;
	/* Called by ir_source_retarget after the IRTE carries the new vector
	 * (the IOAPIC must repeat the vector in its RTE for EOI). */
	int (*on_retarget)(struct ir_source *s, unsigned new_vector);
	void *owner; /* the driver's (struct pci_dev *, ioapic pin) */
	struct ir_source *next;
};

/* The life of a source, shared by MSI, MSI-X and the IOAPIC:
 * ir_source_new() takes a vector (handler fn/ctx) and one IRTE on u and
 * fills the route's fixed part (vector, this CPU, fixed delivery); the
 * caller sets kind/seg/bdf/owner and the route's trigger and source
 * validation, then ir_source_commit() writes the IRTE (present).
 * ir_source_destroy() unregisters it, leaves the IRTE not present and
 * frees it, then the vector.  -ENODEV when u does not remap interrupts. */
int ir_source_new(struct vtd_unit *u, irq_handler_fn fn, void *ctx,
		  struct ir_source **out) MUST_CHECK;
int ir_source_commit(struct ir_source *s) MUST_CHECK;
void ir_source_destroy(struct ir_source *s);
void ir_source_register(struct ir_source *s);
void ir_source_unregister(struct ir_source *s);
struct ir_source *ir_sources(void); /* list head, registration order */
/* The source using IRTE index on any unit: -ENOENT none, -EINVAL if the index
 * is used on several units and unit < 0 (give the unit then). */
int ir_source_find(int unit, unsigned index, struct ir_source **out) MUST_CHECK;

/* Moves s to a fresh vector: allocates it, rewrites the IRTE, calls
 * on_retarget, frees the old vector.  The new vector in *new_vector. */
int ir_source_retarget(struct ir_source *s, unsigned *new_vector) MUST_CHECK;
int ir_source_set_present(struct ir_source *s, bool present) MUST_CHECK;
/* Source-id check against sid (SVT=1, SQ=0): a wrong one drops the
 * interrupt (tests prove it). */
int ir_source_set_sid(struct ir_source *s, uint16_t sid) MUST_CHECK;

#endif
