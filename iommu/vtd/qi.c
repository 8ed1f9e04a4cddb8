/*
 * iommu/vtd/qi.c — VT-d invalidation.
 *
 * Queued invalidation (VT-d 6.5.2): a ring of QI_RING_SIZE 128-bit
 * descriptors in one page.  Every submission is a batch followed by exactly
 * one Invalidation Wait descriptor with SW=1 and FN=1 whose status word
 * (*u->qi_status, reset before the submission) we poll, bounded.  Never SW
 * and IF together: 6.5.2.8 allows it, but QEMU 7.2 aborts on it; IF alone
 * would need the completion-event interrupt, which we do not use.  The
 * status words live in a page of their own (FRAME_IOPT), never in the heap.
 *
 * If the queue does not drain when QI goes off (qi_disable), the unit may
 * still fetch the ring and write the status words later: both are then
 * kept for good (qi_free leaks them with a log line) rather than freed.
 *
 * Error recovery while waiting (6.5.2.10, Linux qi_check_fault):
 *  - IQE: the descriptor at IQH is bad.  We log it and overwrite it with a
 *    harmless wait descriptor that writes to a sink word (never to the
 *    batch's own status word, so completion is not reported early), clear
 *    IQE, and write IQT again with the same value: real hardware resumes
 *    when IQE is cleared (6.5.2.10), QEMU 7.2 only re-fetches from IQH on
 *    the next IQT write, and the rewrite is harmless on both.  The rest of the batch
 *    and its wait then complete, the ring is drained, and the call returns
 *    -EIO because the bad descriptor's invalidation did not happen.
 *  - ITE: a device-TLB invalidation timed out and hardware aborted the
 *    pending waits: clear ITE and submit the batch again (twice at most).
 *  - ICE: clear it and keep waiting.
 *
 * Register-based invalidation (6.5.1) through CCMD and the IOTLB registers
 * at ECAP.IRO, only when QI is off (6.5.2: with QIE=1 software must use the
 * queue; QEMU 7.2 ignores these writes then and leaves ICC/IVT set, so a
 * poll would hang).
 */
#include "iommu/vtd/qi.h"

#include "hw/hw.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd_priv.h"
#include "kernel/log.h"
#include "kernel/frame.h"
#include "kernel/time.h"

/* ---------------------------------------------------------------- builders */

struct qi_desc qi_cc_global(void) { return (struct qi_desc){VTD_INV_CC | VTD_INV_G_GLOBAL, 0}; }

struct qi_desc qi_cc_domain(uint16_t did)
{
	return (struct qi_desc){
		VTD_INV_CC | VTD_INV_G_DOMAIN | ((uint64_t)did << VTD_INV_DID_SHIFT), 0};
}

struct qi_desc qi_cc_device(uint16_t did, uint16_t sid, unsigned fm)
{
	return (struct qi_desc){VTD_INV_CC | VTD_INV_G_DEVICE |
					((uint64_t)did << VTD_INV_DID_SHIFT) |
					((uint64_t)sid << VTD_INV_CC_SID_SHIFT) |
					((uint64_t)(fm & 3) << VTD_INV_CC_FM_SHIFT),
				0};
}

static uint64_t drdw(bool dr, bool dw)
{
	return (dr ? VTD_INV_IOTLB_DR : 0) | (dw ? VTD_INV_IOTLB_DW : 0);
}

struct qi_desc qi_iotlb_global(bool dr, bool dw)
{
	return (struct qi_desc){VTD_INV_IOTLB | VTD_INV_G_GLOBAL | drdw(dr, dw), 0};
}

struct qi_desc qi_iotlb_domain(uint16_t did, bool dr, bool dw)
{
	return (struct qi_desc){VTD_INV_IOTLB | VTD_INV_G_DOMAIN | drdw(dr, dw) |
					((uint64_t)did << VTD_INV_DID_SHIFT),
				0};
}

struct qi_desc qi_iotlb_page(uint16_t did, uint64_t addr, unsigned am, bool ih, bool dr, bool dw)
{
	return (struct qi_desc){VTD_INV_IOTLB | VTD_INV_G_PAGE | drdw(dr, dw) |
					((uint64_t)did << VTD_INV_DID_SHIFT),
				(addr & VTD_PAGE_MASK) | (ih ? VTD_INV_IOTLB_IH : 0) | (am & 0x3f)};
}

struct qi_desc qi_iec_global(void) { return (struct qi_desc){VTD_INV_IEC, 0}; }

struct qi_desc qi_iec_index(uint16_t idx, unsigned im)
{
	return (struct qi_desc){VTD_INV_IEC | VTD_INV_IEC_G_INDEX |
					((uint64_t)(im & 0x1f) << VTD_INV_IEC_IM_SHIFT) |
					((uint64_t)idx << VTD_INV_IEC_IIDX_SHIFT),
				0};
}

struct qi_desc qi_dev_iotlb(uint16_t sid, uint16_t pfsid, unsigned qdep, uint64_t addr, bool size)
{
	/* PFSID[3:0] at lo[15:12], PFSID[15:4] at lo[63:52] (6.5.2.5). */
	return (struct qi_desc){VTD_INV_DEVTLB | ((uint64_t)(pfsid & 0xf) << 12) |
					((uint64_t)(qdep & 0x1f) << VTD_INV_DEVTLB_QDEP_SHIFT) |
					((uint64_t)sid << VTD_INV_DEVTLB_SID_SHIFT) |
					((uint64_t)(pfsid >> 4) << 52),
				(addr & VTD_PAGE_MASK) | (size ? VTD_INV_DEVTLB_S : 0)};
}

struct qi_desc qi_wait(uint64_t status_pa, uint32_t data)
{
	return (struct qi_desc){VTD_INV_WAIT | VTD_INV_WAIT_SW | VTD_INV_WAIT_FN |
					((uint64_t)data << VTD_INV_WAIT_DATA_SHIFT),
				status_pa & ~3ull};
}

/* ---------------------------------------------------------------- ring */

static uint32_t rd32(struct vtd_unit *u, unsigned off) { return mmio_read32(u->base + off); }
static void wr32(struct vtd_unit *u, unsigned off, uint32_t v) { mmio_write32(u->base + off, v); }

static unsigned qi_head(struct vtd_unit *u)
{
	return (unsigned)((mmio_read64(u->base + VTD_IQH_REG) & VTD_IQ_INDEX_MASK) >>
			  VTD_IQ_INDEX_SHIFT) %
	       u->qi_size;
}

/* The ring and the page holding the status words the unit writes: both
 * IOMMU-owned frames, so no other data ever shares memory the unit writes. */
static int qi_alloc(struct vtd_unit *u)
{
	uint64_t ring = frame_alloc_zeroed(0, FRAME_IOPT);
	uint64_t status = ring ? frame_alloc_zeroed(0, FRAME_IOPT) : 0;

	if (!status) {
		if (ring && frame_free(ring, 0))
			klog("vtd%u: could not free the invalidation queue", u->iu.index);
		return -ENOMEM;
	}
	u->qi_pa = ring;
	u->qi_ring = phys_to_virt(ring);
	u->qi_size = QI_RING_SIZE;
	u->qi_status_pa = status;
	u->qi_status = phys_to_virt(status);
	u->qi_sink = u->qi_status + 1;
	return 0;
}

int qi_enable(struct vtd_unit *u)
{
	if (!u->qi_ring) {
		int rc = qi_alloc(u);

		if (rc)
			return rc;
	}
	/* 6.5.2: IQT and IQA are programmed while QIE=0; hardware resets IQH
	 * to 0 when QIE goes 0 -> 1. */
	u->qi_tail = 0;
	mmio_write64(u->base + VTD_IQT_REG, 0);
	mmio_write64(u->base + VTD_IQA_REG, u->qi_pa /* QS=0: 256 descriptors */);
	int rc = vtd_gcmd(u, VTD_GCMD_QIE, true);
	if (rc)
		return rc;
	u->qi_on = true;
	return 0;
}

int qi_disable(struct vtd_unit *u)
{
	/* 6.5.2 / Linux dmar_disable_qi: give the pending requests a chance
	 * to complete (IQH == IQT) before turning QI off. */
	if (poll_until((mmio_read64(u->base + VTD_IQH_REG) & VTD_IQ_INDEX_MASK) ==
			       (mmio_read64(u->base + VTD_IQT_REG) & VTD_IQ_INDEX_MASK),
		       u->timeout_ns)) {
		klog("vtd%u: queue did not drain (IQH != IQT), disabling QI anyway", u->iu.index);
		/* The unit may still fetch our descriptors and write their
		 * status words: never free them (qi_free keeps them). */
		if (u->qi_ring)
			u->qi_kept = true;
	}
	int rc = vtd_gcmd(u, VTD_GCMD_QIE, false);
	if (rc)
		return rc;
	u->qi_on = false;
	return 0;
}

void qi_free(struct vtd_unit *u)
{
	if (u->qi_ring && u->qi_kept) {
		klog("vtd%u: queue did not drain: invalidation queue at 0x%llx and status page at "
		     "0x%llx kept (leaked)",
		     u->iu.index, (unsigned long long)u->qi_pa, (unsigned long long)u->qi_status_pa);
	} else if (u->qi_ring) {
		if (frame_free(u->qi_pa, 0))
			klog("vtd%u: could not free the invalidation queue", u->iu.index);
		if (frame_free(u->qi_status_pa, 0))
			klog("vtd%u: could not free the invalidation status page", u->iu.index);
	}
	u->qi_ring = NULL;
	u->qi_pa = 0;
	u->qi_status = u->qi_sink = NULL;
	u->qi_status_pa = 0;
}

static unsigned ring_used(struct vtd_unit *u, unsigned head)
{
	return (u->qi_tail + u->qi_size - head) % u->qi_size;
}

/* Waits until n slots (+ the gap that keeps tail from reaching head) are free. */
static int qi_wait_space(struct vtd_unit *u, unsigned n)
{
	if (poll_until(u->qi_size - ring_used(u, qi_head(u)) >= n + 1, u->timeout_ns)) {
		klog("vtd%u: invalidation queue full (head=%u tail=%u)", u->iu.index, qi_head(u),
		     u->qi_tail);
		return -ETIMEDOUT;
	}
	return 0;
}

static void qi_kick(struct vtd_unit *u)
{
	/* Descriptors must be in memory before the tail moves (6.5.2). */
	cpu_mfence();
	mmio_write64(u->base + VTD_IQT_REG, (uint64_t)u->qi_tail << VTD_IQ_INDEX_SHIFT);
}

/* Overwrites the bad descriptor at IQH with a harmless wait (see header). */
static void qi_fix_bad(struct vtd_unit *u)
{
	unsigned head = qi_head(u);
	struct qi_desc *d = &u->qi_ring[head];

	klog("vtd%u: invalidation queue error at %u: desc=0x%016llx:%016llx", u->iu.index, head,
	     (unsigned long long)d->hi, (unsigned long long)d->lo);
	vtd_stats.qi_errors++;
	*d = qi_wait(virt_to_phys((const void *)u->qi_sink), 1);
	cpu_mfence();
	wr32(u, VTD_FSTS_REG, VTD_FSTS_IQE);
	qi_kick(u);
}

/* A wait for the status write of one submission (qi_poll). */
struct qi_wait_state {
	uint32_t seq;	   /* what the batch's wait descriptor writes */
	unsigned wait_idx; /* its slot */
	unsigned fixes;	   /* bad descriptors replaced so far */
	int err;	   /* -EIO once one was replaced */
	int rc;		   /* the result once the wait is over */
};

/* One look at the queue while waiting (6.5.2.10 errors handled here): true
 * when the wait is over, with the result in w->rc. */
static bool qi_wait_over(struct vtd_unit *u, struct qi_wait_state *w)
{
	if (*u->qi_status == w->seq) {
		w->rc = w->err;
		return true;
	}
	uint32_t fsts = rd32(u, VTD_FSTS_REG);

	if (fsts & VTD_FSTS_IQE) {
		bool was_wait = qi_head(u) == w->wait_idx;

		qi_fix_bad(u);
		w->err = -EIO;
		/* Our own wait was rejected: nothing will write the status. */
		if (was_wait || ++w->fixes > u->qi_size) {
			w->rc = -EIO;
			return true;
		}
		return false;
	}
	if (fsts & VTD_FSTS_ITE) {
		/* 6.5.2.10: pending waits were aborted; the status word of
		 * this batch will never be written.  Clear and resubmit. */
		wr32(u, VTD_FSTS_REG, VTD_FSTS_ITE);
		vtd_stats.qi_errors++;
		klog("vtd%u: device-TLB invalidation timed out (ITE), resubmitting", u->iu.index);
		w->rc = -EAGAIN;
		return true;
	}
	if (fsts & VTD_FSTS_ICE)
		wr32(u, VTD_FSTS_REG, VTD_FSTS_ICE);
	return false;
}

/* 0 done, -EAGAIN resubmit (ITE), -EIO bad descriptor, -ETIMEDOUT. */
static int qi_poll(struct vtd_unit *u, uint32_t seq, unsigned wait_idx)
{
	struct qi_wait_state w = {.seq = seq, .wait_idx = wait_idx};

	if (poll_until(qi_wait_over(u, &w), u->timeout_ns)) {
		klog("vtd%u: invalidation wait timed out (head=%u tail=%u)", u->iu.index,
		     qi_head(u), u->qi_tail);
		return -ETIMEDOUT;
	}
	return w.rc;
}

int qi_submit(struct vtd_unit *u, const struct qi_desc *descs, unsigned n)
{
	if (!u->qi_on)
		return -ENODEV;
	if (n > QI_MAX_BATCH)
		return -E2BIG;
	for (int attempt = 0; attempt < 3; attempt++) {
		int rc = qi_wait_space(u, n + 1);

		if (rc)
			return rc;
		uint32_t seq = ++u->qi_seq;
		if (!seq)
			seq = u->qi_seq = 1;
		*u->qi_status = 0;
		for (unsigned i = 0; i < n; i++) {
			u->qi_ring[u->qi_tail] = descs[i];
			u->qi_tail = (u->qi_tail + 1) % u->qi_size;
		}
		unsigned wait_idx = u->qi_tail;
		u->qi_ring[wait_idx] = qi_wait(virt_to_phys((const void *)u->qi_status), seq);
		u->qi_tail = (u->qi_tail + 1) % u->qi_size;
		vtd_stats.waits++;
		qi_kick(u);
		rc = qi_poll(u, seq, wait_idx);
		if (rc != -EAGAIN)
			return rc;
	}
	return -ETIMEDOUT;
}

/* ---------------------------------------------------------------- registers */

static int reg_poll64(struct vtd_unit *u, unsigned off, uint64_t bit, const char *what)
{
	if (poll_until(!(mmio_read64(u->base + off) & bit), u->timeout_ns)) {
		klog("vtd%u: %s invalidation timed out", u->iu.index, what);
		return -ETIMEDOUT;
	}
	return 0;
}

/* 6.5.1.1 / 11.4.6: CCMD takes the granularity, DID, SID and FM of the
 * descriptor; completion is ICC going back to 0.  A register invalidation
 * also drains the write buffer (6.8), so no WBF is needed around it. */
static int reg_cc(struct vtd_unit *u, const struct qi_desc *d)
{
	uint64_t g = VTD_INV_G(d->lo);
	uint64_t v = VTD_CCMD_ICC | (g << VTD_CCMD_CIRG_SHIFT) |
		     (((d->lo >> VTD_INV_CC_FM_SHIFT) & 3) << VTD_CCMD_FM_SHIFT) |
		     (((d->lo >> VTD_INV_CC_SID_SHIFT) & 0xffff) << VTD_CCMD_SID_SHIFT) |
		     ((d->lo >> VTD_INV_DID_SHIFT) & 0xffff);

	mmio_write64(u->base + VTD_CCMD_REG, v);
	return reg_poll64(u, VTD_CCMD_REG, VTD_CCMD_ICC, "context-cache");
}

/* 6.5.1.2 / 11.4.8: IVA first (page-selective only), then the IOTLB
 * register with IVT; completion is IVT going back to 0. */
static int reg_iotlb(struct vtd_unit *u, const struct qi_desc *d)
{
	uint64_t g = VTD_INV_G(d->lo);
	uint64_t v = VTD_IOTLB_IVT | (g << VTD_IOTLB_IIRG_SHIFT) |
		     (((d->lo >> VTD_INV_DID_SHIFT) & 0xffff) << VTD_IOTLB_DID_SHIFT) |
		     ((d->lo & VTD_INV_IOTLB_DR) ? VTD_IOTLB_DR : 0) |
		     ((d->lo & VTD_INV_IOTLB_DW) ? VTD_IOTLB_DW : 0);

	if (g == 3)
		mmio_write64(u->base + u->iro, d->hi);
	mmio_write64(u->base + u->iro + 8, v);
	return reg_poll64(u, u->iro + 8, VTD_IOTLB_IVT, "IOTLB");
}

static void count(const struct qi_desc *d)
{
	unsigned g = (unsigned)VTD_INV_G(d->lo);

	vtd_stats.descs++;
	switch (VTD_INV_TYPE(d->lo)) {
	case VTD_INV_CC:
		if (g == 1)
			vtd_stats.cc_global++;
		else if (g == 2)
			vtd_stats.cc_domain++;
		else
			vtd_stats.cc_device++;
		break;
	case VTD_INV_IOTLB:
		if (g == 1)
			vtd_stats.iotlb_global++;
		else if (g == 2)
			vtd_stats.iotlb_dsi++;
		else
			vtd_stats.iotlb_psi++;
		break;
	case VTD_INV_IEC: vtd_stats.iec++; break;
	default: break;
	}
}

int vtd_invalidate(struct vtd_unit *u, const struct qi_desc *descs, unsigned n)
{
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		count(&descs[i]);
	if (u->qi_on)
		return qi_submit(u, descs, n);
	for (unsigned i = 0; i < n; i++) {
		int rc;

		switch (VTD_INV_TYPE(descs[i].lo)) {
		case VTD_INV_CC: rc = reg_cc(u, &descs[i]); break;
		case VTD_INV_IOTLB: rc = reg_iotlb(u, &descs[i]); break;
		case VTD_INV_WAIT: rc = 0; break;
		default:
			/* IEC and device-TLB invalidation exist only as descriptors. */
			rc = -ENOTSUP;
			break;
		}
		if (rc)
			return rc;
	}
	vtd_stats.waits++;
	return 0;
}

/* ---------------------------------------------------------------- self-test */

int vtd_qi_selftest(struct vtd_unit *u, struct vtd_qi_selftest *r)
{
	*r = (struct vtd_qi_selftest){0};
	if (!u->qi_on)
		return -ENODEV;
	/* 6.5.2.3, 6.5.2.10: reserved bits 15:8 of an IOTLB descriptor stop the queue with IQE. */
	struct qi_desc bad[2] = {qi_iotlb_global(false, false), qi_cc_global()};
	bad[0].lo |= 0xffull << 8;
	uint64_t errs = vtd_stats.qi_errors;

	r->bad_batch = qi_submit(u, bad, 2);
	r->qi_errors = vtd_stats.qi_errors - errs;
	struct qi_desc good[2] = {qi_cc_global(), qi_iotlb_global(false, false)};
	r->next_batch = qi_submit(u, good, 2);
	return r->bad_batch == -EIO && !r->next_batch ? 0 : -EIO;
}
