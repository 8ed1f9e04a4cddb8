/*
 * iommu/vtd/vtd_priv.h — the VT-d driver's own view: struct vtd_unit and
 * struct vtd_domain, the unit list, the calls its files (vtd.c, qi.c,
 * fault.c, ir.c) make of each other, and counters.  Included only by the
 * .c files of iommu/vtd/ and by host tests; everyone else goes through the
 * IOMMU core (iommu/iommu.h) or, for bring-up, iommu/vtd/vtd.h.
 */
#ifndef SLUICE_IOMMU_VTD_VTD_PRIV_H
#define SLUICE_IOMMU_VTD_VTD_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "iommu/vtd/vtd.h"
#include "lib/err.h"

struct qi_desc;
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
	bool root_set; /* RTADDR was given root_pa: the hardware may hold it */
	bool root_ok;  /* ... latched by SRTP and the caches invalidated (6.6) */
	uint64_t root_pa;	     /* root table (one page, 256 x 128-bit) */
	uint64_t *did_map;	     /* bitmap of allocated domain ids */
	struct vtd_domain *domains;  /* list of live domains (RMRR identity ones too) */
	struct vtd_rmrr *rmrrs;	     /* (rid, RMRR) pairs identity-mapped, with their domain */
	/* Per bus, allocated with its context table: per devfn the DID whose
	 * context entry was cleared but whose invalidation has not completed
	 * (0 = none).  Such a rid stays counted on that domain (vtd.c). */
	uint16_t *ctx_pending[256];

	/* queued invalidation (qi.c) */
	struct qi_desc *qi_ring;
	uint64_t qi_pa;
	unsigned qi_size;	      /* descriptors in the ring */
	unsigned qi_tail;	      /* next free slot (software copy of IQT) */
	uint64_t qi_status_pa;	      /* FRAME_IOPT page holding the two status words */
	volatile uint32_t *qi_status; /* wait-descriptor status word (in that page) */
	uint32_t qi_seq;	      /* data the next wait descriptor writes */
	volatile uint32_t *qi_sink;   /* status word for replaced bad descriptors */
	bool qi_kept; /* a drain timed out: ring and status page are never freed */

	/* faults (fault.c) */
	int fault_vector; /* < 0: none */

	struct vtd_unit *next;
};

/* A domain: one domain id on one unit and its second-level page table. */
struct vtd_domain {
	struct iommu_domain dom; /* first member */
	struct vtd_unit *unit;
	uint16_t did;
	bool identity; /* an RMRR identity domain ... */
	int rmrr_key;  /* ... of this RMRR group (vtd_rmrr_identity) */
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

/* ---- vtd.c ---------------------------------------------------------- */

/* Brings up the unit whose registers are at reg_base (what vtd_init_all
 * does per DRHD).  On failure the unit is left with translation off and
 * nothing is registered. */
int vtd_unit_init(uint64_t reg_base, uint16_t segment, unsigned index,
		  const struct vtd_unit_cfg *cfg, struct vtd_unit **out) MUST_CHECK;
/* After every unit: applies the superpage sizes common to all units.
 * -ENODEV if no unit came up. */
int vtd_finish_init(void) MUST_CHECK;
/* Turns translation, QI and the fault vector off and frees the unit's
 * tables (tests and error paths).  Domains must be freed first. */
void vtd_unit_shutdown(struct vtd_unit *u);
/* Tests: forget every unit (after vtd_unit_shutdown). */
void vtd_reset_all(void);

/* All units brought up, in order (linked through next). */
struct vtd_unit *vtd_units(void);
unsigned vtd_unit_count(void);
/* Leaf sizes every unit supports (4K|2M|1G), as applied by vtd_finish_init. */
uint64_t vtd_common_pgsizes(void);

/* One GCMD command: changes exactly one bit (set or clear) and waits,
 * bounded, for GSTS to follow.  One-shot bits (SRTP, SIRTP, WBF, SFL) are
 * passed with set=true.  -ETIMEDOUT (and a klog line) if GSTS never follows.
 * Used by qi.c for QIE and by ir.c for SIRTP/IRE/CFI. */
int vtd_gcmd(struct vtd_unit *u, uint32_t bit, bool set) MUST_CHECK;
/* Clean the cache lines of [p, p+len) if the unit's table walks are not
 * coherent (ECAP.C=0); a barrier either way. */
void vtd_sync(const struct vtd_unit *u, const void *p, uint64_t len);

/* True if rid on seg has an RMRR (it sits in an identity domain). */
bool vtd_rid_has_rmrr(uint16_t seg, uint16_t rid);

/* The domain id of a domain (tests). */
static inline uint16_t vtd_domain_did(const struct iommu_domain *d)
{
	return ((const struct vtd_domain *)d->priv)->did;
}

/* ---- fault.c -------------------------------------------------------- */

#define VTD_FAULT_EVENTS_PER_SEC 10 /* `! fault` events per second */

/* The fault-event interrupt handler (ctx = struct vtd_unit *). */
void vtd_fault_irq(unsigned vector, void *ctx);
/* Reads and clears every pending fault record of u into the IOMMU core's
 * fault log, then FSTS.PFO.  Returns the number of records read. */
unsigned vtd_fault_process(struct vtd_unit *u);
/* "context-not-present", ... (no blanks); "unknown" for other values. */
const char *vtd_fault_reason_name(uint8_t reason);
/* Interrupt-remapping reasons are 0x20..0x2f. */
static inline bool vtd_fault_reason_is_ir(uint8_t reason)
{
	return reason >= 0x20 && reason < 0x30;
}
/* Tests: forget the rate limiter and storm counters (and the core's log). */
void vtd_fault_reset(void);

#endif
