/*
 * iommu/vtd/vtd.h — the Intel VT-d DMA-remapping driver: one struct
 * vtd_unit per DRHD, its root/context tables, domains (domain id + second
 * level page table) and the iommu_ops the IOMMU core calls.
 *
 * Entry points for the integration (kernel bring-up):
 *
 *   for each DRHD parsed from the DMAR (iommu/vtd/dmar.*):
 *       vtd_unit_init(drhd->reg_base, drhd->segment, index++, &cfg, &unit);
 *       (a unit that fails is logged and left off; the others go on)
 *   vtd_finish_init();        // applies the superpage intersection, -ENODEV if none
 *   for each RMRR and each of its scope devices:
 *       vtd_rmrr_identity(unit, rid, rmrr->base, rmrr->end);
 *   console loop: vtd_fault_poll() (iommu/vtd/fault.h) now and then.
 *
 * Units are also registered with the IOMMU core (iommu_register_unit), which
 * the dma layer uses; a unit's scope (which requester IDs it translates) is
 * decided by the DMAR code through iommu_set_scope_fn().
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

struct qi_desc;

/* Bring-up options (all false/0 = the defaults). */
struct vtd_unit_cfg {
	bool no_qi;	     /* use register-based invalidation even if ECAP.QI */
	bool no_fault_irq;   /* do not allocate a fault-event vector (poll only) */
	bool force_rwbf;     /* write-buffer flush even if CAP.RWBF=0 (errata) */
	uint64_t timeout_ns; /* bound of every hardware wait; 0 = 100 ms */
};

struct vtd_domain;
struct vtd_rmrr;

struct vtd_unit {
	struct iommu_unit iu; /* what the IOMMU core sees (first member) */
	uint64_t base;	      /* register base (physical = virtual) */
	uint32_t ver;
	uint64_t cap, ecap;

	/* decoded capabilities */
	unsigned mgaw;	   /* CAP.MGAW: bits of IOVA the unit translates */
	unsigned levels;   /* page-table levels used (3 or 4) */
	unsigned agaw;	   /* context-entry AW field for `levels` */
	unsigned nd_bits;  /* domain-id width: 4 + 2*CAP.ND */
	uint32_t ndids;	   /* 1 << nd_bits; DID 0 is never handed out */
	uint64_t sps;	   /* leaf sizes this unit supports (4K|2M|1G) */
	bool coherent;	   /* ECAP.C */
	bool cm;	   /* CAP.CM: caching mode */
	bool rwbf;	   /* CAP.RWBF or cfg.force_rwbf */
	bool sc;	   /* ECAP.SC */
	bool psi;	   /* CAP.PSI */
	unsigned mamv;	   /* CAP.MAMV */
	bool drd, dwd;	   /* CAP.DRD / CAP.DWD */
	unsigned fro, nfr; /* fault-recording registers: offset, count */
	unsigned iro;	   /* IOTLB registers offset (ECAP.IRO * 16) */
	uint64_t timeout_ns;

	/* state */
	bool te_on, qi_on;
	uint64_t root_pa;	     /* root table (one page, 256 x 128-bit) */
	uint64_t *did_map;	     /* bitmap of allocated domain ids */
	struct vtd_domain *domains;  /* list of live domains */
	struct vtd_domain *identity; /* RMRR identity domain, if any */
	struct vtd_rmrr *rmrrs;

	/* queued invalidation (qi.c) */
	struct qi_desc *qi_ring;
	uint64_t qi_pa;
	unsigned qi_size;	     /* descriptors in the ring */
	unsigned qi_tail;	     /* next free slot (software copy of IQT) */
	volatile uint32_t qi_status; /* wait-descriptor status word */
	uint32_t qi_seq;	     /* data the next wait descriptor writes */
	volatile uint32_t qi_sink;   /* status word for replaced bad descriptors */

	/* faults (fault.c) */
	int fault_vector; /* < 0: none */

	struct vtd_unit *next;
};

/* A domain: one domain id on one unit and its second-level page table. */
struct vtd_domain {
	struct iommu_domain dom; /* first member */
	struct vtd_unit *unit;
	uint16_t did;
	bool identity; /* the RMRR identity domain */
	void *pt;      /* struct vtd_pt (iommu/pgtable_vtd.h) */
	struct vtd_domain *next;
};

/* Counters for tests and benches (descriptors per unmap, etc.). */
struct vtd_stats {
	uint64_t descs; /* invalidation descriptors submitted (waits excluded) */
	uint64_t waits; /* wait descriptors (QI) / register polls */
	uint64_t iotlb_psi, iotlb_dsi, iotlb_global;
	uint64_t cc_device, cc_domain, cc_global;
	uint64_t iec;
	uint64_t wbf;	    /* write-buffer flushes */
	uint64_t flushes;   /* flush() calls that invalidated something */
	uint64_t qi_errors; /* IQE/ITE seen */
};
extern struct vtd_stats vtd_stats;

extern const struct iommu_ops vtd_iommu_ops;

/* Brings up the unit whose registers are at reg_base: takes it over from
 * firmware, sets up faults, QI, root table and turns translation on with
 * every device blocked.  Registers it with the IOMMU core.  On failure the
 * unit is left with translation off and nothing is registered. */
int vtd_unit_init(uint64_t reg_base, uint16_t segment, unsigned index,
		  const struct vtd_unit_cfg *cfg, struct vtd_unit **out) MUST_CHECK;
/* Convenience for the integration: every DRHD in order (index = position),
 * failures logged and skipped, then vtd_finish_init().  Returns the number
 * of units up, or -ENODEV when none. */
struct vtd_drhd_info {
	uint64_t base;
	uint16_t segment;
};
int vtd_init_all(const struct vtd_drhd_info *drhds, unsigned n,
		 const struct vtd_unit_cfg *cfg) MUST_CHECK;
/* After every unit: applies the superpage sizes common to all units.
 * -ENODEV if no unit came up. */
int vtd_finish_init(void) MUST_CHECK;
/* Turns translation, QI and the fault vector off and frees the unit's
 * tables (used by tests and by error paths).  Domains must be freed first. */
void vtd_unit_shutdown(struct vtd_unit *u);

/* All units brought up, in order. */
struct vtd_unit *vtd_units(void);
unsigned vtd_unit_count(void);
/* Leaf sizes every unit supports (4K|2M|1G), as applied by vtd_finish_init. */
uint64_t vtd_common_pgsizes(void);

/* One GCMD command: changes exactly one bit (set or clear) and waits,
 * bounded, for GSTS to follow.  One-shot bits (SRTP, SIRTP, WBF, SFL) are
 * passed with set=true.  -ETIMEDOUT (and a klog line) if GSTS never follows.
 * Used by ir.c for SIRTP/IRE. */
int vtd_gcmd(struct vtd_unit *u, uint32_t bit, bool set) MUST_CHECK;
/* Clean the cache lines of [p, p+len) if the unit's table walks are not
 * coherent (ECAP.C=0); a barrier either way. */
void vtd_sync(const struct vtd_unit *u, const void *p, uint64_t len);

/* RMRR: put rid in the unit's identity domain with [base, end] (end
 * inclusive, as the DMAR states it) mapped 1:1.  Called for every RMRR scope
 * device before anything else attaches devices. */
int vtd_rmrr_identity(struct vtd_unit *u, uint16_t rid, uint64_t base, uint64_t end) MUST_CHECK;
/* True if rid on seg has an RMRR (it sits in an identity domain). */
bool vtd_rid_has_rmrr(uint16_t seg, uint16_t rid);
/* Boot argument allow_rmrr_reassign: attaching an RMRR device elsewhere is
 * then allowed (and logged loudly); otherwise attach gives -EBUSY. */
void vtd_set_allow_rmrr_reassign(bool allow);

/* The domain id of a domain (for tests and the console). */
static inline uint16_t vtd_domain_did(const struct iommu_domain *d)
{
	return ((const struct vtd_domain *)d->priv)->did;
}

/* iommu/iommu.c: removes a unit from the core registry (shutdown and
 * tests).  Belongs in iommu/iommu.h; declared here until it moves. */
void iommu_unregister_unit(struct iommu_unit *u);

/* Test helper: forget every unit (after vtd_unit_shutdown). */
void vtd_reset_all(void);

#endif
