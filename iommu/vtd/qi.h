/*
 * iommu/vtd/qi.h — VT-d invalidation: the queued-invalidation ring (VT-d
 * 6.5.2) with one wait descriptor per submission, descriptor builders, and
 * the register-based fallback (6.5.1) for units without ECAP.QI.
 *
 * Callers build a small array of descriptors and call vtd_invalidate():
 * with QI on it becomes one batch + one wait descriptor; with QI off each
 * context-cache/IOTLB descriptor is carried out through CCMD/IOTLB registers.
 *
 * Private to iommu/vtd/ (and host tests).
 */
#ifndef SLUICE_IOMMU_VTD_QI_H
#define SLUICE_IOMMU_VTD_QI_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

struct vtd_unit;

struct qi_desc {
	uint64_t lo, hi;
};

#define QI_RING_SIZE 256u		/* descriptors: one 4 KiB page, IQA.QS = 0 */
#define QI_MAX_BATCH (QI_RING_SIZE - 2) /* + 1 wait + 1 gap */

/* Descriptor builders (6.5.2.1 – 6.5.2.8). */
struct qi_desc qi_cc_global(void);
struct qi_desc qi_cc_domain(uint16_t did);
struct qi_desc qi_cc_device(uint16_t did, uint16_t sid, unsigned fm);
struct qi_desc qi_iotlb_global(bool dr, bool dw);
struct qi_desc qi_iotlb_domain(uint16_t did, bool dr, bool dw);
/* addr must be aligned to 2^(12+am). ih: only leaves changed. */
struct qi_desc qi_iotlb_page(uint16_t did, uint64_t addr, unsigned am, bool ih, bool dr, bool dw);
struct qi_desc qi_iec_global(void);
/* Invalidates 2^im interrupt entries starting at idx (aligned). */
struct qi_desc qi_iec_index(uint16_t idx, unsigned im);
struct qi_desc qi_dev_iotlb(uint16_t sid, uint16_t pfsid, unsigned qdep, uint64_t addr, bool size);
/* Status write of data to status_pa (SW=1, FN=1; never IF, see qi.c). */
struct qi_desc qi_wait(uint64_t status_pa, uint32_t data);

/* Allocates the ring and the status-word page (FRAME_IOPT), programs IQA,
 * IQT=0 and sets GCMD.QIE. */
int qi_enable(struct vtd_unit *u) MUST_CHECK;
/* Waits (bounded) for IQH == IQT, clears GCMD.QIE.  Leaves the ring
 * allocated (freed by qi_free); if the queue did not drain, marks ring and
 * status page as kept (u->qi_kept). */
int qi_disable(struct vtd_unit *u) MUST_CHECK;
/* Frees the ring and the status page, unless a drain timed out: then both
 * are kept (leaked, with a log line), as the unit may still write them. */
void qi_free(struct vtd_unit *u);

/* Appends n descriptors and one wait descriptor, writes IQT and waits for
 * the wait's status write, bounded.  -EIO on an invalidation-queue error
 * (the bad descriptor is replaced and the ring drained), -ETIMEDOUT when the
 * hardware never answers, -E2BIG if n > QI_MAX_BATCH. */
int qi_submit(struct vtd_unit *u, const struct qi_desc *descs, unsigned n) MUST_CHECK;

/* Carries out n descriptors with whatever the unit has on: QI, or the
 * register interface (context-cache and IOTLB kinds only, -ENOTSUP else). */
int vtd_invalidate(struct vtd_unit *u, const struct qi_desc *descs, unsigned n) MUST_CHECK;

/* Proves the queue's error recovery on the real unit: a batch whose first
 * descriptor has reserved bits set must come back -EIO (FSTS.IQE seen, the
 * bad descriptor replaced, IQE cleared, the ring drained) and the next
 * batch must complete.  0 if so, -EIO if not, -ENODEV if QI is off. */
struct vtd_qi_selftest {
	int bad_batch;	    /* qi_submit() of the bad batch: -EIO expected */
	uint64_t qi_errors; /* queue errors it caused: 1 expected */
	int next_batch;	    /* qi_submit() of a good batch after it: 0 expected */
};
int vtd_qi_selftest(struct vtd_unit *u, struct vtd_qi_selftest *r) MUST_CHECK;

#endif
