// SOURCES: iommu/vtd/vtd.c iommu/vtd/qi.c iommu/vtd/fault.c iommu/iommu.c iommu/pgtable_vtd.c lib/pgtable.c kernel/frame.c console/cmd_iommu.c tests/unit/vtd_model.c lib/bdf.c
/* tests/unit/test_qi.c — VT-d invalidation: descriptor builders, the QI
 * ring (one wait per submission, wraparound, batching, IQE/ITE recovery,
 * timeouts), the flush policy (PSI vs DSI, IH, DR/DW) and the
 * register-based path, against the QEMU-like model. */
#include <stdlib.h>
#include <string.h>

#include "fake_hw.h"
#include "hw/hw.h"
#include "iommu/pgtable_vtd.h"
#include "iommu/vtd/qi.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd_priv.h"
#include "kernel/frame.h"
#include "test.h"
#include "vtd_model.h"

static struct vtd_model m;
static uint8_t *mem; /* 4 MiB, 2 MiB aligned: what the tests map */

static struct vtd_unit *up_cfg(const struct vtd_unit_cfg *cfg)
{
	struct vtd_unit *u = NULL;

	if (!mem)
		mem = aligned_alloc(1 << 21, 4 << 20);
	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, cfg, &u), 0);
	CHECK_EQ(vtd_finish_init(), 0);
	return u;
}

static struct vtd_unit *up(void) { return up_cfg(NULL); }

TEST(builders)
{
	struct qi_desc d;

	d = qi_cc_global();
	CHECK_EQ(d.lo, 0x11);
	CHECK_EQ(d.hi, 0);
	d = qi_cc_domain(7);
	CHECK_EQ(d.lo, 0x21 | (7ull << 16));
	d = qi_cc_device(5, 0x0010, 0);
	CHECK_EQ(d.lo, 0x31 | (5ull << 16) | (0x10ull << 32));
	d = qi_iotlb_global(true, true);
	CHECK_EQ(d.lo, 0x12 | 0xc0);
	d = qi_iotlb_domain(9, false, false);
	CHECK_EQ(d.lo, 0x22 | (9ull << 16));
	d = qi_iotlb_page(3, 0x12345000, 4, true, false, true);
	CHECK_EQ(d.lo, 0x32 | 0x40 | (3ull << 16));
	CHECK_EQ(d.hi, 0x12345000 | 0x40 | 4);
	d = qi_iec_global();
	CHECK_EQ(d.lo, 0x4);
	d = qi_iec_index(0x20, 3);
	CHECK_EQ(d.lo, 0x14 | (3ull << 27) | (0x20ull << 32));
	d = qi_wait(0x1000, 0xabcd);
	CHECK_EQ(d.lo, 0x65 | (0xabcdull << 32)); /* SW|FN, never IF */
	CHECK_EQ(d.lo & VTD_INV_WAIT_IF, 0);
	CHECK_EQ(d.hi, 0x1000);
	d = qi_dev_iotlb(0x0010, 0x1234, 2, 0x5000, true);
	CHECK_EQ(d.lo & 0xf, 3);
	CHECK_EQ((d.lo >> 32) & 0xffff, 0x10);
	CHECK_EQ(((d.lo >> 52) << 4) | ((d.lo >> 12) & 0xf), 0x1234);
	CHECK_EQ(d.hi, 0x5001);
}

TEST(one_wait_per_submission_and_batching)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	struct qi_desc d[10];

	for (unsigned i = 0; i < 10; i++)
		d[i] = qi_iotlb_domain((uint16_t)(i + 1), false, false);
	unsigned w = m.waits, iqt = m.iqt_writes, nd = m.ndesc;
	CHECK_EQ(vtd_invalidate(u, d, 10), 0);
	CHECK_EQ(m.waits, w + 1);
	CHECK_EQ(m.iqt_writes, iqt + 1);
	CHECK_EQ(m.ndesc, nd + 11);
	CHECK_EQ(m.desc[nd + 10].lo & 0xf, 5);
	CHECK_EQ(*u->qi_status, u->qi_seq);
	CHECK_EQ(m.iqh, m.iqt);
	CHECK_EQ(vtd_invalidate(u, d, 0), 0);
	CHECK_EQ(m.iqt_writes, iqt + 1);
	/* too many for the ring */
	static struct qi_desc big[QI_MAX_BATCH + 1];
	for (unsigned i = 0; i <= QI_MAX_BATCH; i++)
		big[i] = qi_iotlb_global(false, false);
	CHECK_EQ(qi_submit(u, big, QI_MAX_BATCH + 1), -E2BIG);
	CHECK_EQ(qi_submit(u, big, QI_MAX_BATCH), 0);
	CHECK_EQ(m.iqh, m.iqt);
	vtd_test_teardown();
}

TEST(ring_wraparound)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	struct qi_desc d[3] = {qi_cc_global(), qi_iotlb_global(false, false), qi_iec_global()};
	unsigned wraps = 0, last = u->qi_tail;

	for (unsigned i = 0; i < 300; i++) {
		CHECK_EQ(vtd_invalidate(u, d, 3), 0);
		if (u->qi_tail < last)
			wraps++;
		last = u->qi_tail;
	}
	CHECK(wraps >= 4);
	CHECK_EQ(m.iqh, m.iqt);
	CHECK_EQ(m.iqe, 0);
	CHECK_EQ(m.iec, 300);
	vtd_test_teardown();
}

TEST(iqe_recovery)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	test_con_reset();
	struct vtd_unit *u = up();
	struct qi_desc d[3] = {qi_iotlb_domain(1, false, false),
			       {0x12 | (1ull << 40), 0} /* reserved bits */,
			       qi_iotlb_domain(2, false, false)};
	unsigned dsi = m.iotlb_dsi;

	CHECK_EQ(vtd_invalidate(u, d, 3), -EIO);
	CHECK_EQ(m.iqe, 1);
	CHECK_EQ(m.fsts & VTD_FSTS_IQE, 0);
	CHECK_EQ(m.iqh, m.iqt);		   /* drained */
	CHECK_EQ(m.iotlb_dsi, dsi + 2);	   /* the good ones ran */
	CHECK_EQ(*u->qi_status, u->qi_seq); /* our wait completed */
	CHECK(strstr(test_con_buf, "invalidation queue error") != NULL);
	CHECK_EQ(vtd_stats.qi_errors, 1);
	/* the queue works afterwards */
	CHECK_EQ(vtd_invalidate(u, d, 1), 0);
	/* a bad type is an error too */
	struct qi_desc bad = {0x8, 0};
	CHECK_EQ(vtd_invalidate(u, &bad, 1), -EIO);
	CHECK_EQ(vtd_invalidate(u, d, 1), 0);
	/* PSI with AM beyond MAMV: QEMU rejects it */
	struct qi_desc big = qi_iotlb_page(1, 0, 20, false, false, false);
	CHECK_EQ(vtd_invalidate(u, &big, 1), -EIO);
	vtd_test_teardown();
}

/* `iommu qitest`: the driver's self-test through the IOMMU core, on a unit
 * with QI, on one without, and on a queue whose wait never comes back. */
TEST(qitest_command)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();

	for (int i = 0; i < 2; i++) {
		unsigned iqe = m.iqe, cc = m.cc_global;

		test_con_reset();
		CHECK_EQ(test_cmd("iommu qitest"), 0);
		/* the record, after the driver's klog line about the bad descriptor */
		CHECK(strstr(test_con_buf, "vtd0: invalidation queue error at") == test_con_buf);
		CHECK(strstr(test_con_buf, "\nunit=0 bad_batch=EIO qi_errors=1 next_batch=ok\n") !=
		      NULL);
		CHECK_EQ(m.iqe, iqe + 1);
		CHECK_EQ(m.fsts & VTD_FSTS_IQE, 0);
		CHECK_EQ(m.iqh, m.iqt);
		CHECK_EQ(m.cc_global, cc + 2); /* the bad batch's second and the good one's */
	}
	CHECK_EQ(test_cmd("iommu qitest extra"), -EINVAL);
	/* the queue never answers: the good batch times out too */
	m.qi_hang = true;
	test_con_reset();
	CHECK_EQ(test_cmd("iommu qitest"), -EIO);
	CHECK(strstr(test_con_buf,
		     "\nunit=0 bad_batch=ETIMEDOUT qi_errors=0 next_batch=ETIMEDOUT\n") != NULL);
	CHECK(strstr(test_cmd_msg, "unit 0: queue error not detected or not recovered") != NULL);
	m.qi_hang = false;
	m.iqh = m.iqt; /* let it drain so shutdown can turn QI off */
	(void)u;
	vtd_test_teardown();

	/* register-based invalidation: nothing to test */
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit_cfg cfg = {.no_qi = true};
	up_cfg(&cfg);
	test_con_reset();
	CHECK_EQ(test_cmd("iommu qitest"), -ENODEV);
	CHECK(!strcmp(test_con_buf, "unit=0 qi=off\n"));
	CHECK(strstr(test_cmd_msg, "no unit with queued invalidation") != NULL);
	vtd_test_teardown();
}

TEST(ite_resubmits_then_gives_up)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	struct qi_desc d = qi_dev_iotlb(0x10, 0x10, 0, 0, false);

	m.ite_once = 1;
	unsigned w = m.waits;
	CHECK_EQ(vtd_invalidate(u, &d, 1), 0);
	CHECK_EQ(m.waits, w + 2); /* submitted twice */
	CHECK_EQ(m.fsts & VTD_FSTS_ITE, 0);
	m.ite_once = 10;
	CHECK_EQ(vtd_invalidate(u, &d, 1), -ETIMEDOUT);
	m.ite_once = 0;
	m.fsts = 0;
	CHECK_EQ(vtd_invalidate(u, &d, 1), 0);
	/* ICE is cleared and the wait still completes */
	m.fsts = VTD_FSTS_ICE;
	CHECK_EQ(vtd_invalidate(u, &d, 1), 0);
	vtd_test_teardown();
}

TEST(queue_that_never_answers)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	test_con_reset();
	struct vtd_unit *u = up();
	struct qi_desc d = qi_iotlb_global(false, false);

	m.qi_hang = true;
	CHECK_EQ(vtd_invalidate(u, &d, 1), -ETIMEDOUT);
	CHECK(strstr(test_con_buf, "invalidation wait timed out") != NULL);
	/* the ring now holds 2 unprocessed slots per call: it fills up */
	int rc = 0;
	for (unsigned i = 0; i < 200 && rc != -ETIMEDOUT; i++)
		rc = vtd_invalidate(u, &d, 1);
	CHECK_EQ(rc, -ETIMEDOUT);
	test_con_reset();
	for (unsigned i = 0; i < 200; i++)
		rc = vtd_invalidate(u, &d, 1);
	CHECK(strstr(test_con_buf, "invalidation queue full") != NULL);
	m.qi_hang = false;
	m.iqh = m.iqt; /* let it drain so shutdown can turn QI off */
	vtd_test_teardown();
}

/* A mapping kept at the top of the first 2 MiB, so unmaps below it
 * leave the leaf table in place (only leaves change: IH allowed). */
static void anchor(struct vtd_unit *u, struct iommu_domain *d)
{
	struct iommu_gather g;

	iommu_gather_init(&g);
	CHECK_EQ(u->iu.ops->map(d, 0x1ff000, (uint64_t)(uintptr_t)mem, 4096, IOMMU_READ, &g), 0);
	CHECK_EQ(u->iu.ops->flush(d, &g), 0);
}

static void map_and_unmap(struct vtd_unit *u, struct iommu_domain *d, uint64_t iova, uint64_t size)
{
	struct iommu_gather g;

	iommu_gather_init(&g);
	CHECK_EQ(u->iu.ops->map(d, iova, (uint64_t)(uintptr_t)mem, size, IOMMU_READ | IOMMU_WRITE,
				&g),
		 0);
	CHECK_EQ(u->iu.ops->flush(d, &g), 0);
	iommu_gather_init(&g);
	CHECK_EQ(u->iu.ops->unmap(d, iova, size, &g), 0);
	CHECK(g.need_flush);
	CHECK_EQ(u->iu.ops->flush(d, &g), 0);
}

static struct qi_desc last_iotlb(void)
{
	for (unsigned i = m.ndesc; i-- > 0;)
		if ((m.desc[i].lo & 0xf) == 2)
			return (struct qi_desc){m.desc[i].lo, m.desc[i].hi};
	return (struct qi_desc){0, 0};
}

TEST(flush_psi_dsi_decisions)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	struct iommu_domain *d;
	struct qi_desc q;

	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d), 0);
	uint16_t did = vtd_domain_did(d);
	anchor(u, d);

	/* 16 pages, 64 KiB aligned: PSI, AM=4, one wait */
	unsigned w = m.waits, psi = m.iotlb_psi;
	map_and_unmap(u, d, 0x100000, 16 * 4096);
	CHECK_EQ(m.waits, w + 1); /* map needs no flush, unmap one */
	CHECK_EQ(m.iotlb_psi, psi + 1);
	q = last_iotlb();
	CHECK_EQ(q.lo & 0x3f, 0x32);
	CHECK_EQ((q.lo >> 16) & 0xffff, did);
	CHECK_EQ(q.hi & ~0xfffull, 0x100000);
	CHECK_EQ(q.hi & 0x3f, 4);
	CHECK(q.hi & VTD_INV_IOTLB_IH); /* only leaves changed */
	CHECK_EQ(q.lo & 0xc0, 0xc0);	/* DR/DW: CAP.DRD/DWD set */

	/* 2 pages straddling a 8 KiB boundary: mask widened to cover both */
	map_and_unmap(u, d, 0x103000, 2 * 4096);
	q = last_iotlb();
	CHECK_EQ(q.lo & 0x3f, 0x32);
	CHECK_EQ(q.hi & 0x3f, 3);
	CHECK_EQ(q.hi & ~0xfffull, 0x100000);

	/* 3 pages at 0x101000: 4-page block at 0x100000 covers 0x101..0x103 */
	map_and_unmap(u, d, 0x101000, 3 * 4096);
	q = last_iotlb();
	CHECK_EQ(q.hi & 0x3f, 2);
	CHECK_EQ(q.hi & ~0xfffull, 0x100000);

	/* one page */
	map_and_unmap(u, d, 0x7000, 4096);
	q = last_iotlb();
	CHECK_EQ(q.hi & 0x3f, 0);
	CHECK_EQ(q.hi & ~0xfffull, 0x7000);

	/* a table page freed: no IH */
	struct iommu_gather g;
	iommu_gather_init(&g);
	CHECK_EQ(u->iu.ops->map(d, 0x40000000, (uint64_t)(uintptr_t)mem, 4096, IOMMU_READ, &g), 0);
	CHECK_EQ(u->iu.ops->flush(d, &g), 0);
	uint64_t before = vtd_test_iopt_bytes();
	struct vtd_pt *vpt = ((struct vtd_domain *)d->priv)->pt;
	unsigned stashed = vpt->nstash;
	iommu_gather_init(&g);
	CHECK_EQ(u->iu.ops->unmap(d, 0x40000000, 4096, &g), 0);
	if (g.nfree) {
		CHECK(g.freelist != 0); /* still held until the flush */
		CHECK_EQ(vpt->nstash, stashed);
		CHECK_EQ(u->iu.ops->flush(d, &g), 0);
		q = last_iotlb();
		CHECK_EQ(q.hi & VTD_INV_IOTLB_IH, 0);
		CHECK_EQ(g.freelist, 0);
		/* released after the wait: to the allocator or the reuse stash */
		CHECK(vtd_test_iopt_bytes() < before || vpt->nstash > stashed);
	} else {
		CHECK_EQ(u->iu.ops->flush(d, &g), 0);
	}
	CHECK_EQ(g.end, 0); /* gather reset */
	u->iu.ops->domain_free(d);
	vtd_test_teardown();

	/* MAMV small: a 16-page range falls back to domain-selective */
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap = (m.cap & ~(0x3full << 48)) | (2ull << 48);
	u = up();
	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d), 0);
	unsigned dsi = m.iotlb_dsi;
	map_and_unmap(u, d, 0x100000, 16 * 4096);
	CHECK_EQ(m.iotlb_dsi, dsi + 1);
	map_and_unmap(u, d, 0x100000, 4 * 4096);
	q = last_iotlb();
	CHECK_EQ(q.lo & 0x3f, 0x32);
	u->iu.ops->domain_free(d);
	vtd_test_teardown();

	/* no PSI, no DRD/DWD */
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap &= ~(VTD_CAP_PSI | VTD_CAP_DRD | VTD_CAP_DWD);
	u = up();
	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d), 0);
	dsi = m.iotlb_dsi;
	map_and_unmap(u, d, 0x7000, 4096);
	CHECK_EQ(m.iotlb_dsi, dsi + 1);
	q = last_iotlb();
	CHECK_EQ(q.lo & 0xc0, 0);
	u->iu.ops->domain_free(d);
	vtd_test_teardown();
}

TEST(flush_failure_keeps_pages)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	struct iommu_domain *d;
	struct iommu_gather g;

	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d), 0);
	iommu_gather_init(&g);
	CHECK_EQ(u->iu.ops->map(d, 0x40000000, (uint64_t)(uintptr_t)mem, 4096, IOMMU_READ, &g), 0);
	CHECK_EQ(u->iu.ops->flush(d, &g), 0);
	iommu_gather_init(&g);
	CHECK_EQ(u->iu.ops->unmap(d, 0x40000000, 4096, &g), 0);
	uint64_t before = vtd_test_iopt_bytes();
	unsigned nfree = g.nfree;
	m.qi_hang = true;
	CHECK_EQ(u->iu.ops->flush(d, &g), -ETIMEDOUT);
	CHECK_EQ(vtd_test_iopt_bytes(), before); /* nothing freed unflushed */
	CHECK_EQ(g.nfree, nfree);
	m.qi_hang = false;
	m.iqh = m.iqt; /* let the queue "complete" */
	CHECK_EQ(u->iu.ops->flush(d, &g), 0);
	CHECK_EQ(g.nfree, 0);
	u->iu.ops->domain_free(d);
	vtd_test_teardown();
}

TEST(register_based_invalidation)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.ecap &= ~VTD_ECAP_QI;
	struct vtd_unit *u = up();
	struct iommu_domain *d;

	CHECK(!u->qi_on);
	CHECK_EQ(vtd_model_find_write(&m, VTD_IQA_REG, 0), -1);
	CHECK_EQ(m.reg_cc, 1); /* global context after SRTP */
	CHECK_EQ(m.reg_iotlb, 1);
	CHECK_EQ(m.cc_global, 1);
	CHECK_EQ(m.iotlb_global, 1);
	CHECK_EQ(m.gsts & VTD_GSTS_QIES, 0);
	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d), 0);
	CHECK_EQ(u->iu.ops->attach(d, 0x0010), 0);
	anchor(u, d);
	unsigned psi = m.iotlb_psi;
	map_and_unmap(u, d, 0x100000, 16 * 4096);
	CHECK_EQ(m.iotlb_psi, psi + 1);
	CHECK_EQ(m.iva, 0x100000 | 0x40 | 4); /* IVA: addr | IH | AM */
	CHECK_EQ((m.iotlb >> 32) & 0xffff, vtd_domain_did(d));
	CHECK_EQ(m.iotlb & VTD_IOTLB_IVT, 0);
	CHECK_EQ(u->iu.ops->detach(d, 0x0010), 0);
	CHECK_EQ(m.cc_device, 1);
	CHECK_EQ((m.ccmd & 0xffff), vtd_domain_did(d));
	CHECK_EQ((m.ccmd >> 16) & 0xffff, 0x0010);
	/* IEC has no register interface */
	struct qi_desc iec = qi_iec_global();
	CHECK_EQ(vtd_invalidate(u, &iec, 1), -ENOTSUP);
	/* hardware that never clears IVT/ICC */
	m.reg_inv_hang = true;
	struct qi_desc io = qi_iotlb_global(false, false), cc = qi_cc_global();
	CHECK_EQ(vtd_invalidate(u, &io, 1), -ETIMEDOUT);
	CHECK_EQ(vtd_invalidate(u, &cc, 1), -ETIMEDOUT);
	m.reg_inv_hang = false;
	u->iu.ops->domain_free(d);
	vtd_test_teardown();

	/* cfg.no_qi forces the register path on a QI-capable unit */
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit_cfg cfg = {.no_qi = true};
	u = up_cfg(&cfg);
	CHECK(!u->qi_on);
	CHECK_EQ(m.reg_cc, 1);
	CHECK_EQ(m.reg_ignored, 0);
	vtd_test_teardown();
}

TEST(register_writes_ignored_while_qi_on)
{
	/* the model's QEMU behaviour that makes a register poll under QI hang */
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	CHECK(u->qi_on);
	mmio_write64(VTD_TEST_BASE + VTD_CCMD_REG, VTD_CCMD_ICC | (1ull << 61));
	CHECK_EQ(m.reg_ignored, 1);
	CHECK(mmio_read64(VTD_TEST_BASE + VTD_CCMD_REG) & VTD_CCMD_ICC);
	m.ccmd = 0;
	CHECK_EQ(m.reg_cc, 0);
	vtd_test_teardown();
}

/* A queue that does not drain when QI goes off (here QIE clears anyway, as
 * real hardware may): the unit may still fetch the ring and write the
 * status words, so both pages are kept, and the status words were never
 * heap memory but an IOMMU-owned page. */
TEST(drain_timeout_keeps_ring_and_status_page)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.qie_off_pending = true;
	test_con_reset();
	struct vtd_unit *u = up();
	struct qi_desc d = qi_iotlb_global(false, false);
	uint64_t ring = u->qi_pa;

	m.qi_hang = true;
	CHECK_EQ(vtd_invalidate(u, &d, 1), -ETIMEDOUT);
	/* the pending wait descriptor's status address */
	uint64_t status = u->qi_ring[(u->qi_tail + u->qi_size - 1) % u->qi_size].hi;
	CHECK(frame_range_tagged(status & ~0xfffull, 4096, FRAME_IOPT));
	CHECK((status & ~0xfffull) != ring);
	vtd_test_teardown(); /* TE off, the drain times out, QIE off */
	CHECK_EQ(m.gsts & (VTD_GSTS_TES | VTD_GSTS_QIES), 0);
	CHECK(strstr(test_con_buf, "queue did not drain (IQH != IQT)") != NULL);
	CHECK(strstr(test_con_buf, "status page at") != NULL);
	CHECK(frame_range_tagged(ring, 4096, FRAME_IOPT));
	CHECK(frame_range_tagged(status & ~0xfffull, 4096, FRAME_IOPT));
	CHECK_EQ(vtd_test_iopt_bytes(), 2 * 4096); /* those two, nothing else */
	m.qi_hang = false;
	m.qie_off_pending = false;
}
