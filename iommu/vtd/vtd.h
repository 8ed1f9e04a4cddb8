/*
 * iommu/vtd/vtd.h — the Intel VT-d DMA-remapping driver, as bring-up sees
 * it (kernel/platform.c).  Everything else reaches VT-d units through the
 * IOMMU core (iommu/iommu.h): the driver registers every unit it brings up
 * there, with an ops table for domains, mappings, flushes, the console's
 * record (describe), fault polling and the queued-invalidation self-test.
 * struct vtd_unit is opaque here (iommu/vtd/vtd_priv.h has it).
 *
 * Bring-up:
 *
 *   vtd_init_all(drhds, n, &cfg, units);  every DRHD of the DMAR, in order
 *       (a unit that fails is logged and left off; the others go on)
 *   iommu_set_scope_fn(...)               which unit translates which rid
 *   for each RMRR and each of its scope devices:
 *       vtd_rmrr_identity(unit, rid, group, rmrr->base, rmrr->end);
 *   console loop: iommu_fault_poll() now and then.
 *
 * Devices not attached to any domain have no context entry: their DMA is
 * blocked and faults (default deny).
 */
#ifndef SLUICE_IOMMU_VTD_VTD_H
#define SLUICE_IOMMU_VTD_VTD_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "lib/err.h"

struct vtd_unit;

/* Bring-up options (all false/0 = the defaults). */
struct vtd_unit_cfg {
	bool no_qi;	     /* use register-based invalidation even if ECAP.QI */
	bool no_fault_irq;   /* do not allocate a fault-event vector (poll only) */
	bool force_rwbf;     /* write-buffer flush even if CAP.RWBF=0 (errata) */
	uint64_t timeout_ns; /* bound of every hardware wait; 0 = 100 ms */
};

/* One DRHD: where its registers are and which PCI segment it serves. */
struct vtd_drhd_info {
	uint64_t base;
	uint16_t segment;
};

/* Brings up every DRHD in order (unit index = position): takes each unit
 * over from firmware, sets up faults, QI and the root table, turns
 * translation on with every device blocked and registers the unit with
 * the IOMMU core; failures are logged and skipped.  Then applies the
 * superpage sizes common to all units.  units (n entries, may be NULL)
 * gets each DRHD's unit or NULL.  Returns the number of units up, or
 * -ENODEV when none. */
int vtd_init_all(const struct vtd_drhd_info *drhds, unsigned n, const struct vtd_unit_cfg *cfg,
		 struct vtd_unit **units) MUST_CHECK;

/* A unit whose bring-up failed (never registered: none of its devices can
 * be attached).  blocking: translation is on with a root table that blocks
 * every device; otherwise its devices' DMA is not isolated. */
struct vtd_failed_unit {
	unsigned index;
	uint64_t base;
	int rc; /* why bring-up failed */
	bool blocking;
};
#define VTD_MAX_FAILED 16
unsigned vtd_failed_count(void);
const struct vtd_failed_unit *vtd_failed_at(unsigned i); /* NULL beyond the count */
/* Forgets the failed units and frees what they kept (host tests: the model is reset). */
void vtd_failed_reset(void);

/* What the IOMMU core (and so the dma layer and the console) sees of u. */
struct iommu_unit *vtd_iommu_unit(struct vtd_unit *u);

/* RMRR: put rid in its RMRR group's identity domain with [base, end] (end
 * inclusive, as the DMAR states it) mapped 1:1.  The group is rid's PCI
 * isolation group (< 0: none known, the rid is a group of its own): one
 * identity domain per group on the unit, mapping only the RMRRs that name
 * the group's devices, so no RMRR device reaches another group's RMRR.
 * Called for every RMRR scope device before anything else attaches
 * devices. */
int vtd_rmrr_identity(struct vtd_unit *u, uint16_t rid, int group, uint64_t base,
		      uint64_t end) MUST_CHECK;
/* Boot argument allow_rmrr_reassign: attaching an RMRR device elsewhere is
 * then allowed (and logged loudly); otherwise attach gives -EBUSY. */
void vtd_set_allow_rmrr_reassign(bool allow);

#endif
