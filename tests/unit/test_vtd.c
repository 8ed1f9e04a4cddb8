// SOURCES: iommu/vtd/vtd.c iommu/vtd/qi.c iommu/vtd/fault.c iommu/iommu.c iommu/pgtable_vtd.c lib/pgtable.c kernel/frame.c console/cmd_iommu.c tests/unit/vtd_model.c lib/bdf.c
/* tests/unit/test_vtd.c — VT-d bring-up, take-over, capabilities, domain
 * ids, context entries, caching mode, RMRR and the `iommu` command, against
 * the QEMU-like register model (vtd_model.c). */
#include <stdlib.h>
#include <string.h>

#include "fake_hw.h"
#include "hw/hw.h"
#include "iommu/pgtable_vtd.h"
#include "iommu/vtd/qi.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd_priv.h"
#include "test.h"
#include "vtd_model.h"

static struct vtd_model m;

static struct vtd_unit *up(void)
{
	struct vtd_unit *u = NULL;

	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), 0);
	CHECK_EQ(vtd_finish_init(), 0);
	return u;
}

static int gcmd_index(uint32_t bit, bool set, unsigned from)
{
	for (unsigned i = from; i < m.ngcmd; i++)
		if (set ? (m.gcmd_log[i] & bit) && !(m.gcmd_gsts_before[i] & bit)
			: !(m.gcmd_log[i] & bit) && (m.gcmd_gsts_before[i] & bit))
			return (int)i;
	return -1;
}

TEST(bringup_order)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	test_con_reset();
	struct vtd_unit *u = up();

	CHECK(u != NULL);
	CHECK_EQ(m.gcmd_multibit, 0);
	/* every write changed exactly one bit against GSTS minus one-shots */
	for (unsigned i = 0; i < m.ngcmd; i++) {
		uint32_t diff = (m.gcmd_log[i] & ~VTD_GCMD_ONESHOT) ^
				(m.gcmd_gsts_before[i] & ~VTD_GCMD_ONESHOT);
		CHECK_EQ(__builtin_popcount(diff) +
				 __builtin_popcount(m.gcmd_log[i] & VTD_GCMD_ONESHOT),
			 1);
	}
	int qie = gcmd_index(VTD_GCMD_QIE, true, 0);
	int srtp = -1;
	for (unsigned i = 0; i < m.ngcmd; i++)
		if (m.gcmd_log[i] & VTD_GCMD_SRTP)
			srtp = (int)i;
	int te = gcmd_index(VTD_GCMD_TE, true, 0);
	CHECK(qie >= 0 && srtp > qie && te > srtp);
	CHECK(m.qie_before_te);
	CHECK_EQ(m.rtaddr_at_te, u->root_pa);
	CHECK_EQ(m.srtp, 1);
	CHECK(m.gsts & VTD_GSTS_TES);
	CHECK(m.gsts & VTD_GSTS_QIES);
	/* global context then global IOTLB after SRTP, through the queue */
	CHECK_EQ(m.cc_global, 1);
	CHECK_EQ(m.iotlb_global, 1);
	CHECK(m.ndesc >= 3);
	CHECK_EQ(m.desc[0].lo & 0xf, 1);
	CHECK_EQ(m.desc[1].lo & 0xf, 2);
	CHECK_EQ(m.desc[2].lo & 0xf, 5);
	CHECK_EQ(m.iqa & ~0xfffull, u->qi_pa);
	/* fault MSI: IM set, read back, data/address, unmask */
	int im = vtd_model_find_write(&m, VTD_FECTL_REG, 0);
	CHECK(im >= 0 && m.log[im].val == VTD_FECTL_IM);
	int data = vtd_model_find_write(&m, VTD_FEDATA_REG, (unsigned)im);
	int addr = vtd_model_find_write(&m, VTD_FEADDR_REG, (unsigned)im);
	int unmask = vtd_model_find_write(&m, VTD_FECTL_REG, (unsigned)im + 1);
	CHECK(data > im && addr > im && unmask > data && unmask > addr);
	CHECK(!m.log[im + 1].write && m.log[im + 1].off == VTD_FECTL_REG); /* read back */
	CHECK_EQ(m.fectl & VTD_FECTL_IM, 0);
	CHECK_EQ(m.fedata, 0x40);
	CHECK_EQ(m.feaddr, 0xfee00000u);
	CHECK(vtd_test_irq_fn != NULL);
	/* QIE before the SRTP, and fault setup before QIE */
	CHECK(unmask < vtd_model_find_write(&m, VTD_IQA_REG, 0));
	CHECK_EQ(iommu_unit_count(), 1);
	CHECK(iommu_unit_at(0) == &u->iu);
	vtd_test_teardown();
	CHECK_EQ(iommu_unit_count(), 0);
	CHECK_EQ(vtd_test_iopt_bytes(), 0);
	CHECK_EQ(m.gsts & (VTD_GSTS_TES | VTD_GSTS_QIES), 0);
}

TEST(takeover_from_firmware)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.gsts = VTD_GSTS_TES | VTD_GSTS_QIES | VTD_GSTS_IRES | VTD_GSTS_RTPS;
	m.irta = 0x1234000ull | (1ull << 11) | 7;
	m.frcd_hi[0] = VTD_FRCD_HI_F | (2ull << 32) | 0x10;
	m.fsts = VTD_FSTS_PPF | VTD_FSTS_PFO;
	test_con_reset();
	struct vtd_unit *u = up();

	CHECK(u != NULL);
	int ire_off = gcmd_index(VTD_GCMD_IRE, false, 0);
	int qie_off = gcmd_index(VTD_GCMD_QIE, false, 0);
	CHECK(ire_off == 0 && qie_off > ire_off);
	/* TE never off: every GCMD write keeps it, the root switches under it */
	CHECK_EQ(gcmd_index(VTD_GCMD_TE, false, 0), -1);
	for (unsigned i = 0; i < m.ngcmd; i++)
		CHECK(m.gcmd_log[i] & VTD_GCMD_TE);
	int srtp = -1;
	for (unsigned i = 0; i < m.ngcmd && srtp < 0; i++)
		if (m.gcmd_log[i] & VTD_GCMD_SRTP)
			srtp = (int)i;
	int qie_on = gcmd_index(VTD_GCMD_QIE, true, 0);
	CHECK(srtp > qie_off && qie_on > srtp); /* firmware's queue off, ours after */
	CHECK_EQ(m.srtp, 1);
	CHECK_EQ(m.rtaddr_latched, u->root_pa);
	CHECK(m.reg_cc >= 1 && m.reg_iotlb >= 1); /* 6.6, by registers: no queue yet */
	CHECK(strstr(test_con_buf, "translation was on, kept on") != NULL);
	CHECK_EQ(m.gcmd_multibit, 0);
	CHECK_EQ(m.irta & (1ull << 11), 0); /* EIME cleared with IR off */
	CHECK_EQ(m.frcd_hi[0] & VTD_FRCD_HI_F, 0);
	CHECK_EQ(m.fsts & (VTD_FSTS_PFO | VTD_FSTS_PPF), 0);
	CHECK(m.gsts & VTD_GSTS_TES);
	CHECK_EQ(m.gsts & VTD_GSTS_IRES, 0);
	CHECK(strstr(test_con_buf, "interrupt remapping was on") != NULL);
	vtd_test_teardown();
}

TEST(gsts_timeouts)
{
	static const uint32_t stuck[] = {VTD_GCMD_TE, VTD_GCMD_QIE, VTD_GCMD_SRTP};

	for (unsigned k = 0; k < 3; k++) {
		struct vtd_unit *u = (void *)1;
		unsigned freed = vtd_test_irq_freed;
		vtd_model_init(&m, VTD_TEST_BASE);
		m.gsts_stuck = stuck[k];
		test_con_reset();
		vtd_test_frames();
		CHECK_EQ(vtd_test_bringup(&m, NULL, &u), -ETIMEDOUT);
		CHECK(u == (void *)1);
		CHECK(strstr(test_con_buf, "timed out") != NULL);
		CHECK_EQ(iommu_unit_count(), 0); /* never registered: nothing attaches */
		CHECK_EQ(vtd_unit_count(), 0);
		CHECK_EQ(m.gsts & VTD_GSTS_QIES, 0);
		CHECK_EQ(vtd_failed_count(), 1);
		CHECK_EQ(vtd_failed_at(0)->rc, -ETIMEDOUT);
		if (stuck[k] == VTD_GCMD_QIE) {
			/* fail closed: TE on with the blocking root, by register invalidation */
			CHECK(m.gsts & VTD_GSTS_TES);
			CHECK(m.rtaddr_latched != 0);
			CHECK_EQ(m.rtaddr_at_te, m.rtaddr_latched);
			CHECK(vtd_failed_at(0)->blocking);
			CHECK(strstr(test_con_buf, "left blocking") != NULL);
		} else {
			/* TE or SRTP cannot be driven: said loudly, not isolated */
			CHECK(!vtd_failed_at(0)->blocking);
			CHECK(strstr(test_con_buf, "! vtd0: bring-up failed") != NULL);
			CHECK(strstr(test_con_buf, "NOT isolated") != NULL);
		}
		CHECK_EQ(vtd_test_irq_freed, freed + 1);
		CHECK_EQ(vtd_finish_init(), -ENODEV);
		vtd_test_teardown();
		CHECK_EQ(vtd_test_iopt_bytes(), 0); /* what the failed unit kept is released */
	}
}

/* Fail closed: a queue that never completes the post-SRTP invalidation is
 * turned off and the blocking root is set up by registers, TE on; if the
 * queue cannot even be turned off the unit is reported not isolated. */
TEST(qi_failure_leaves_unit_blocking)
{
	struct vtd_unit *u = NULL;

	vtd_model_init(&m, VTD_TEST_BASE);
	m.qi_hang = true;
	m.qie_off_pending = true;
	test_con_reset();
	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), -ETIMEDOUT);
	CHECK(u == NULL);
	CHECK_EQ(iommu_unit_count(), 0);
	CHECK_EQ(m.gsts & VTD_GSTS_QIES, 0);
	CHECK(m.gsts & VTD_GSTS_TES);
	CHECK(m.rtaddr_latched != 0);
	CHECK_EQ(m.rtaddr_at_te, m.rtaddr_latched);
	CHECK(m.reg_cc >= 1 && m.reg_iotlb >= 1);
	CHECK_EQ(vtd_failed_count(), 1);
	CHECK(vtd_failed_at(0)->blocking);
	CHECK(strstr(test_con_buf, "left blocking") != NULL);
	CHECK(strstr(test_con_buf, "NOT isolated") == NULL);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE);
	m.qi_hang = true; /* and QIE cannot be turned off with the queue busy */
	test_con_reset();
	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), -ETIMEDOUT);
	CHECK_EQ(m.gsts & VTD_GSTS_TES, 0);
	CHECK_EQ(vtd_failed_count(), 1);
	CHECK(!vtd_failed_at(0)->blocking);
	CHECK(strstr(test_con_buf, "! vtd0: bring-up failed") != NULL);
	CHECK_EQ(iommu_unit_count(), 0);
	vtd_test_teardown();
}

TEST(pmr_disabled_after_te)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap |= VTD_CAP_PLMR;
	m.pmen = VTD_PMEN_EPM | VTD_PMEN_PRS;
	struct vtd_unit *u = up();
	CHECK(u != NULL);
	CHECK_EQ(m.pmen, 0);
	int te = gcmd_index(VTD_GCMD_TE, true, 0);
	CHECK(te >= 0);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap |= VTD_CAP_PHMR;
	m.pmen = VTD_PMEN_EPM | VTD_PMEN_PRS;
	m.pmr_stuck = true;
	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), -ETIMEDOUT);
	CHECK(m.gsts & VTD_GSTS_TES); /* fail closed: left blocking */
	CHECK_EQ(vtd_failed_count(), 1);
	CHECK(vtd_failed_at(0)->blocking);
	CHECK_EQ(iommu_unit_count(), 0);
	vtd_test_teardown();
}

TEST(cap_decoding)
{
	struct vtd_unit *u;

	vtd_model_init(&m, VTD_TEST_BASE); /* aw-bits=39 */
	u = up();
	CHECK_EQ(u->levels, 3);
	CHECK_EQ(u->mgaw, 39);
	CHECK_EQ(u->agaw, 1);
	CHECK_EQ(u->nd_bits, 16);
	CHECK_EQ(u->sps, PGSIZE_4K | PGSIZE_2M | PGSIZE_1G);
	CHECK_EQ(u->fro, 0x220);
	CHECK_EQ(u->nfr, 1);
	CHECK_EQ(u->iro, 0xf0);
	CHECK_EQ(u->mamv, 18);
	CHECK(u->psi && u->drd && u->dwd);
	CHECK(!u->cm && !u->coherent && !u->sc && !u->rwbf);
	CHECK_EQ(u->iu.aperture_end, (1ull << 39) - 1);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE); /* aw-bits=48 */
	m.cap = 0x00d2008c222f0606ull;
	u = up();
	CHECK_EQ(u->levels, 4);
	CHECK_EQ(u->agaw, 2);
	CHECK_EQ(u->mgaw, 48);
	CHECK_EQ(u->iu.aperture_end, (1ull << 48) - 1);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE); /* only 4 levels offered, 39-bit MGAW */
	m.cap = (VTD_MODEL_DEFAULT_CAP & ~0x1f00ull) | (4ull << 8);
	u = up();
	CHECK_EQ(u->levels, 4);
	CHECK_EQ(u->iu.aperture_end, (1ull << 39) - 1);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE); /* 48-bit MGAW, 3 levels only */
	m.cap = (0x00d2008c222f0606ull & ~0x1f00ull) | (2ull << 8);
	u = up();
	CHECK_EQ(u->levels, 3);
	CHECK_EQ(u->iu.aperture_end, (1ull << 39) - 1);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE); /* 5-level only: unsupported */
	m.cap = (VTD_MODEL_DEFAULT_CAP & ~0x1f00ull) | (8ull << 8);
	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), -ENODEV);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE); /* all ones: nothing there */
	m.cap = ~0ull;
	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), -ENODEV);
	CHECK_EQ(m.ngcmd, 0);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE); /* ND=0, CM, RWBF, C, SC, 2M only */
	m.cap = (VTD_MODEL_DEFAULT_CAP & ~(7ull | (0xfull << 34))) | VTD_CAP_CM | VTD_CAP_RWBF |
		(1ull << 34);
	m.ecap |= VTD_ECAP_C | VTD_ECAP_SC;
	u = up();
	CHECK_EQ(u->nd_bits, 4);
	CHECK_EQ(u->ndids, 16);
	CHECK(u->cm && u->rwbf && u->coherent && u->sc);
	CHECK_EQ(u->sps, PGSIZE_4K | PGSIZE_2M);
	CHECK(u->iu.snoop_control);
	vtd_test_teardown();

	vtd_model_init(&m, VTD_TEST_BASE);
	CHECK_EQ(vtd_unit_init(0, 0, 0, NULL, &u), -EINVAL);
	CHECK_EQ(vtd_unit_init(VTD_TEST_BASE + 8, 0, 0, NULL, &u), -EINVAL);
	vtd_test_teardown();
}

static struct vtd_model m2;

TEST(two_units_sps_intersection)
{
	struct vtd_unit *a, *b;

	vtd_test_frames();
	vtd_model_init(&m, VTD_TEST_BASE);
	vtd_model_init(&m2, VTD_TEST_BASE + 0x1000);
	m2.cap &= ~(2ull << 34); /* no 1G */
	fake_mmio_clear();
	vtd_model_install(&m);
	vtd_model_install(&m2);
	CHECK_EQ(vtd_unit_init(m.base, 0, 0, NULL, &a), 0);
	CHECK_EQ(a->iu.pgsizes, PGSIZE_4K | PGSIZE_2M | PGSIZE_1G);
	CHECK_EQ(vtd_unit_init(m2.base, 1, 1, NULL, &b), 0);
	CHECK_EQ(vtd_finish_init(), 0);
	CHECK_EQ(vtd_common_pgsizes(), PGSIZE_4K | PGSIZE_2M);
	CHECK_EQ(a->iu.pgsizes, PGSIZE_4K | PGSIZE_2M);
	CHECK_EQ(b->iu.pgsizes, PGSIZE_4K | PGSIZE_2M);
	CHECK_EQ(vtd_unit_count(), 2);
	CHECK(vtd_units() == a && a->next == b);
	CHECK_EQ(b->iu.segment, 1);
	CHECK_EQ(iommu_unit_count(), 2);
	vtd_test_teardown();

	/* vtd_init_all: a bad DRHD is skipped, the good one comes up */
	vtd_test_frames();
	vtd_model_init(&m, VTD_TEST_BASE);
	fake_mmio_clear();
	vtd_model_install(&m);
	struct vtd_drhd_info d[2] = {{0, 0}, {VTD_TEST_BASE, 0}};
	struct vtd_unit *out[2] = {(struct vtd_unit *)1, NULL};
	CHECK_EQ(vtd_init_all(d, 2, NULL, out), 1);
	CHECK_EQ(vtd_unit_count(), 1);
	CHECK_EQ(vtd_units()->iu.index, 1);
	CHECK(out[0] == NULL && out[1] == vtd_units());
	CHECK(vtd_iommu_unit(out[1]) == iommu_unit_at(0));
	vtd_test_teardown();
	CHECK_EQ(vtd_init_all(d, 1, NULL, NULL), -ENODEV);
	vtd_test_teardown();
}

TEST(did_allocation)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap &= ~7ull; /* ND=0: 16 ids, 15 usable */
	struct vtd_unit *u = up();
	struct iommu_domain *d[16];

	for (unsigned i = 0; i < 15; i++) {
		CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d[i]), 0);
		CHECK(vtd_domain_did(d[i]) != 0);
		for (unsigned j = 0; j < i; j++)
			CHECK(vtd_domain_did(d[i]) != vtd_domain_did(d[j]));
	}
	CHECK_EQ(u->iu.ndomains, 15);
	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d[15]), -ENOSPC);
	uint16_t freed = vtd_domain_did(d[4]);
	u->iu.ops->domain_free(d[4]);
	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d[4]), 0);
	CHECK_EQ(vtd_domain_did(d[4]), freed);
	CHECK_EQ(d[4]->aperture_end, (1ull << 39) - 1);
	CHECK_EQ(d[4]->pgsizes, PGSIZE_4K | PGSIZE_2M | PGSIZE_1G);
	for (unsigned i = 0; i < 15; i++)
		u->iu.ops->domain_free(d[i]);
	CHECK_EQ(u->iu.ndomains, 0);
	vtd_test_teardown();
	CHECK_EQ(vtd_test_iopt_bytes(), 0);
}

static struct ctx_entry_view {
	uint64_t lo, hi;
} * ctx_of(struct vtd_unit *u, uint16_t rid)
{
	uint64_t *root = phys_to_virt(u->root_pa);
	uint64_t re = root[(rid >> 8) * 2];
	if (!(re & 1))
		return NULL;
	return (struct ctx_entry_view *)phys_to_virt(re & ~0xfffull) + (rid & 0xff);
}

TEST(context_entries_and_switch)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	struct iommu_domain *a, *b;
	uint16_t rid = 0x0010; /* 00:02.0 */

	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	CHECK_EQ(ops->domain_alloc(&u->iu, &b), 0);
	CHECK(ctx_of(u, rid) == NULL); /* default deny: no context */
	CHECK_EQ(ops->attach(a, rid), 0);
	struct ctx_entry_view *ce = ctx_of(u, rid);
	struct vtd_pt *pta = ((struct vtd_domain *)a->priv)->pt;
	CHECK(ce != NULL);
	CHECK_EQ(ce->lo, pta->root | 1);
	CHECK_EQ(ce->hi, 1 | ((uint64_t)vtd_domain_did(a) << 8));
	CHECK_EQ(a->ndevices, 1);
	/* non-coherent unit: the entry and the root entry were flushed */
	CHECK(fake_flushed(ce));
	CHECK(fake_flushed(phys_to_virt(u->root_pa)));
	/* attaching again is a no-op */
	unsigned nd = m.ndesc;
	CHECK_EQ(ops->attach(a, rid), 0);
	CHECK_EQ(a->ndevices, 1);
	CHECK_EQ(m.ndesc, nd);

	/* switch: old DID invalidated (device context + domain IOTLB) */
	CHECK_EQ(ops->attach(b, rid), 0);
	CHECK(m.ndesc >= nd + 3);
	uint64_t cc = m.desc[nd].lo, io = m.desc[nd + 1].lo;
	CHECK_EQ(cc & 0x3f, 0x31); /* context, device-selective */
	CHECK_EQ((cc >> 16) & 0xffff, vtd_domain_did(a));
	CHECK_EQ((cc >> 32) & 0xffff, rid);
	CHECK_EQ(io & 0x3f, 0x22); /* IOTLB, domain-selective */
	CHECK_EQ((io >> 16) & 0xffff, vtd_domain_did(a));
	CHECK_EQ(m.desc[nd + 2].lo & 0xf, 5);
	CHECK_EQ(ce->hi >> 8, vtd_domain_did(b));
	CHECK_EQ(a->ndevices, 0);
	CHECK_EQ(b->ndevices, 1);
	/* not CM, not RWBF: no invalidation for the new entry */
	CHECK_EQ(m.ndesc, nd + 3);
	CHECK_EQ(m.wbf, 0);

	CHECK_EQ(ops->detach(a, rid), -ENOENT);
	nd = m.ndesc;
	CHECK_EQ(ops->detach(b, 0x0018), 0); /* never attached: already blocked */
	CHECK_EQ(m.ndesc, nd);		     /* and nothing to invalidate */
	nd = m.ndesc;
	CHECK_EQ(ops->detach(b, rid), 0);
	CHECK_EQ(ce->lo, 0);
	CHECK_EQ(ce->hi, 0);
	CHECK_EQ((m.desc[nd].lo >> 16) & 0xffff, vtd_domain_did(b));
	CHECK_EQ(b->ndevices, 0);
	ops->domain_free(a);
	ops->domain_free(b);
	vtd_test_teardown();
	CHECK_EQ(vtd_test_iopt_bytes(), 0);
}

TEST(caching_mode_and_rwbf)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap |= VTD_CAP_CM;
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	struct iommu_domain *a;
	struct iommu_gather g;

	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	unsigned nd = m.ndesc;
	CHECK_EQ(ops->attach(a, 0x0100), 0);
	/* not-present -> present under CM: device context with DID 0 */
	CHECK_EQ(m.desc[nd].lo & 0x3f, 0x31);
	CHECK_EQ((m.desc[nd].lo >> 16) & 0xffff, 0);
	CHECK_EQ((m.desc[nd].lo >> 32) & 0xffff, 0x0100);
	CHECK_EQ(m.desc[nd + 1].lo & 0x3f, 0x22);
	CHECK_EQ((m.desc[nd + 1].lo >> 16) & 0xffff, vtd_domain_did(a));
	/* a map is invalidated page-selectively in caching mode */
	iommu_gather_init(&g);
	void *page = aligned_alloc(4096, 4096);
	CHECK_EQ(ops->map(a, 0x5000, (uint64_t)(uintptr_t)page, 4096, IOMMU_READ, &g), 0);
	unsigned psi = m.iotlb_psi;
	CHECK_EQ(ops->flush(a, &g), 0);
	CHECK_EQ(m.iotlb_psi, psi + 1);
	CHECK_EQ(m.desc[m.ndesc - 2].hi & ~0xfffull, 0x5000);
	CHECK_EQ(ops->detach(a, 0x0100), 0);
	iommu_gather_init(&g);
	CHECK_EQ(ops->unmap(a, 0x5000, 4096, &g), 0);
	CHECK_EQ(ops->flush(a, &g), 0);
	ops->domain_free(a);
	vtd_test_teardown();

	/* RWBF without CM: write-buffer flush after a map, nothing queued */
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap |= VTD_CAP_RWBF;
	u = up();
	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	unsigned wbf = m.wbf;
	CHECK_EQ(ops->attach(a, 0x0100), 0);
	CHECK_EQ(m.wbf, wbf + 1);
	iommu_gather_init(&g);
	CHECK_EQ(ops->map(a, 0x5000, (uint64_t)(uintptr_t)page, 4096, IOMMU_READ, &g), 0);
	nd = m.ndesc;
	CHECK_EQ(ops->flush(a, &g), 0);
	CHECK_EQ(m.ndesc, nd);
	CHECK_EQ(m.wbf, wbf + 2);
	CHECK_EQ(m.gcmd_multibit, 0);
	/* a WBF that never completes */
	m.gsts_stuck = VTD_GCMD_WBF;
	iommu_gather_init(&g);
	CHECK_EQ(ops->map(a, 0x7000, (uint64_t)(uintptr_t)page, 4096, IOMMU_READ, &g), 0);
	CHECK_EQ(ops->flush(a, &g), -ETIMEDOUT);
	m.gsts_stuck = 0;
	m.gsts &= ~VTD_GSTS_WBFS;
	CHECK_EQ(ops->detach(a, 0x0100), 0);
	ops->domain_free(a);
	vtd_test_teardown();

	/* neither: a map needs no flush at all */
	vtd_model_init(&m, VTD_TEST_BASE);
	u = up();
	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	iommu_gather_init(&g);
	CHECK_EQ(ops->map(a, 0x5000, (uint64_t)(uintptr_t)page, 4096, IOMMU_READ, &g), 0);
	nd = m.ndesc;
	CHECK_EQ(ops->flush(a, &g), 0);
	CHECK_EQ(m.ndesc, nd);
	CHECK_EQ(m.wbf, 0);
	ops->domain_free(a);
	vtd_test_teardown();
	free(page);
}

TEST(coherent_unit_does_not_flush)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.ecap |= VTD_ECAP_C;
	fake_flush_reset();
	struct vtd_unit *u = up();
	struct iommu_domain *a;

	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &a), 0);
	CHECK_EQ(u->iu.ops->attach(a, 0x0010), 0);
	CHECK_EQ(fake_clflush_lines, 0);
	CHECK_EQ(u->iu.ops->detach(a, 0x0010), 0);
	u->iu.ops->domain_free(a);
	vtd_test_teardown();

	/* non-coherent: fresh table pages are flushed whole */
	vtd_model_init(&m, VTD_TEST_BASE);
	fake_flush_reset();
	u = up();
	uint8_t *root = phys_to_virt(u->root_pa);
	CHECK(fake_flushed(root) && fake_flushed(root + 4095));
	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &a), 0);
	struct vtd_pt *pt = ((struct vtd_domain *)a->priv)->pt;
	CHECK(fake_flushed(phys_to_virt(pt->root)));
	CHECK(fake_flushed((uint8_t *)phys_to_virt(pt->root) + 4095));
	u->iu.ops->domain_free(a);
	vtd_test_teardown();
}

/* The domain rid's context entry points at (its DID), NULL if none. */
static struct vtd_domain *ctx_domain(struct vtd_unit *u, uint16_t rid)
{
	struct ctx_entry_view *ce = ctx_of(u, rid);

	if (!ce || !(ce->lo & 1))
		return NULL;
	for (struct vtd_domain *d = u->domains; d; d = d->next)
		if (d->did == (uint16_t)(ce->hi >> 8))
			return d;
	return NULL;
}

/* Does a DMA from rid to addr reach addr 1:1 (the model's table walk)? */
static bool reaches(uint16_t rid, uint64_t addr)
{
	uint64_t pa = 0;

	return vtd_model_translate(&m, rid, addr, true, &pa) == 0 && pa == addr;
}

TEST(rmrr_identity)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	struct iommu_domain *d;
	uint64_t pa;
	unsigned level, prot;

	test_con_reset();
	CHECK_EQ(vtd_rmrr_identity(u, 0x00a0, 3, 0x100000, 0x10ffff), 0);
	CHECK(vtd_rid_has_rmrr(0, 0x00a0));
	CHECK(!vtd_rid_has_rmrr(0, 0x00a1));
	CHECK(!vtd_rid_has_rmrr(1, 0x00a0));
	struct vtd_domain *id = ctx_domain(u, 0x00a0);
	CHECK(id != NULL && id->identity);
	CHECK_EQ(ops->iova_to_phys(&id->dom, 0x10f000, &pa, &level, &prot), 0);
	CHECK_EQ(pa, 0x10f000);
	CHECK(reaches(0x00a0, 0x10f000));
	/* a second device of the same group sharing the RMRR joins its domain */
	CHECK_EQ(vtd_rmrr_identity(u, 0x00a1, 3, 0x100000, 0x10ffff), 0);
	CHECK(ctx_domain(u, 0x00a1) == id);
	CHECK_EQ(id->dom.ndevices, 2);
	CHECK_EQ(u->iu.ndomains, 1);
	/* bad ranges */
	CHECK_EQ(vtd_rmrr_identity(u, 0x00a2, 4, 0x100800, 0x10ffff), -EINVAL);
	CHECK_EQ(vtd_rmrr_identity(u, 0x00a2, 4, 0x200000, 0x1fffff), -EINVAL);
	CHECK_EQ(vtd_rmrr_identity(u, 0x00a2, 4, 0x108000, 0x117fff),
		 -EINVAL); /* partial overlap */
	CHECK(ctx_domain(u, 0x00a2) == NULL);
	/* attaching elsewhere is refused ... */
	CHECK_EQ(ops->domain_alloc(&u->iu, &d), 0);
	CHECK_EQ(ops->attach(d, 0x00a0), -EBUSY);
	CHECK(ctx_domain(u, 0x00a0) == id);
	CHECK(strstr(test_con_buf, "allow_rmrr_reassign") != NULL);
	/* ... unless the boot argument allows it, loudly */
	vtd_set_allow_rmrr_reassign(true);
	test_con_reset();
	CHECK_EQ(ops->attach(d, 0x00a0), 0);
	CHECK(strstr(test_con_buf, "WARNING") != NULL);
	CHECK_EQ(ctx_of(u, 0x00a0)->hi >> 8, vtd_domain_did(d));
	CHECK_EQ(ops->detach(d, 0x00a0), 0);
	ops->domain_free(d);
	vtd_test_teardown();
}

/* Two RMRRs naming two devices of different groups on one unit: each
 * device's context entry points at an identity domain of its own that maps
 * its own RMRR only; neither reaches the other's region, and a device no
 * RMRR names has no context entry at all. */
TEST(rmrr_identity_domain_per_group)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	uint64_t pa;
	unsigned level, prot;

	CHECK_EQ(vtd_rmrr_identity(u, 0x00a0, 1, 0x100000, 0x10ffff), 0);
	CHECK_EQ(vtd_rmrr_identity(u, 0x00f8, 2, 0x200000, 0x203fff), 0);
	struct vtd_domain *a = ctx_domain(u, 0x00a0), *b = ctx_domain(u, 0x00f8);
	CHECK(a && b && a != b && a->identity && b->identity);
	CHECK(a->did != b->did);
	CHECK_EQ(u->iu.ndomains, 2);
	CHECK(reaches(0x00a0, 0x100000) && reaches(0x00a0, 0x10ffff & ~0xfffull));
	CHECK(reaches(0x00f8, 0x200000) && reaches(0x00f8, 0x203000));
	CHECK(!reaches(0x00a0, 0x200000));
	CHECK(!reaches(0x00a0, 0x203000));
	CHECK(!reaches(0x00f8, 0x100000));
	CHECK(!reaches(0x00f8, 0x10f000));
	CHECK(ops->iova_to_phys(&a->dom, 0x200000, &pa, &level, &prot) != 0);
	CHECK(ops->iova_to_phys(&b->dom, 0x100000, &pa, &level, &prot) != 0);
	CHECK(ctx_of(u, 0x00a8) == NULL || !(ctx_of(u, 0x00a8)->lo & 1));
	CHECK(!reaches(0x00a8, 0x100000) && !reaches(0x00a8, 0x200000));
	/* a rid of no known group is a group of its own */
	CHECK_EQ(vtd_rmrr_identity(u, 0x00b0, -1, 0x300000, 0x300fff), 0);
	CHECK_EQ(vtd_rmrr_identity(u, 0x00b1, -1, 0x300000, 0x300fff), 0);
	CHECK(ctx_domain(u, 0x00b0) != ctx_domain(u, 0x00b1));
	CHECK(reaches(0x00b0, 0x300000) && reaches(0x00b1, 0x300000));
	CHECK(!reaches(0x00b0, 0x100000) && !reaches(0x00b1, 0x200000));
	CHECK_EQ(u->iu.ndomains, 4);
	vtd_test_teardown();
}

/* One RMRR naming two devices of different groups: both reach it, each
 * through its own group's domain; a second RMRR of one of them stays that
 * group's alone, and a device of the same group shares the group's domain
 * (both RMRRs). */
TEST(rmrr_shared_by_two_groups)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();

	CHECK_EQ(vtd_rmrr_identity(u, 0x00a0, 1, 0x100000, 0x10ffff), 0);
	CHECK_EQ(vtd_rmrr_identity(u, 0x00f8, 2, 0x100000, 0x10ffff), 0);
	CHECK(ctx_domain(u, 0x00a0) != ctx_domain(u, 0x00f8));
	CHECK(reaches(0x00a0, 0x100000) && reaches(0x00f8, 0x100000));
	CHECK(reaches(0x00a0, 0x108000) && reaches(0x00f8, 0x108000));
	CHECK_EQ(vtd_rmrr_identity(u, 0x00f8, 2, 0x400000, 0x400fff), 0);
	CHECK(reaches(0x00f8, 0x400000));
	CHECK(!reaches(0x00a0, 0x400000));
	CHECK_EQ(vtd_rmrr_identity(u, 0x00f9, 2, 0x400000, 0x400fff), 0);
	CHECK(ctx_domain(u, 0x00f9) == ctx_domain(u, 0x00f8));
	CHECK_EQ(ctx_domain(u, 0x00f8)->dom.ndevices, 2);
	CHECK(reaches(0x00f9, 0x100000) && reaches(0x00f9, 0x400000));
	CHECK_EQ(u->iu.ndomains, 2);
	vtd_test_teardown();
}

TEST(iommu_command)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap = 0x00d2008c222f0606ull;
	struct vtd_unit *u = up();
	struct iommu_domain *d;

	CHECK_EQ(u->iu.ops->domain_alloc(&u->iu, &d), 0);
	test_con_reset();
	CHECK_EQ(test_cmd("iommu"), 0);
	CHECK(!strcmp(test_con_buf,
		      "unit=0 base=0xfed90000 ver=1.0 aw=48 levels=4 sps=4K,2M,1G qi=on ir=off "
		      "dmar=on cm=0 sc=0 domains=1 cap=0xd2008c222f0606 ecap=0xf00f4a nd=16 c=0 "
		      "seg=0 cfi=open mode=legacy kind=vtd\n"));
	CHECK_EQ(test_cmd("iommu bogus"), -EINVAL);
	CHECK(test_cmd_msg[0] != 0);
	CHECK_EQ(test_cmd("iommu faults clear extra"), -EINVAL);
	CHECK_EQ(test_cmd("iommu faults bogus"), -EINVAL);
	u->iu.ops->domain_free(d);
	vtd_test_teardown();
}

/* Caching mode: a map that links new tables must not carry IH (the unit
 * may have cached their non-present state in its paging-structure caches). */
TEST(cm_map_flush_without_ih)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap |= VTD_CAP_CM;
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	struct iommu_domain *a;
	struct iommu_gather g;
	void *page = aligned_alloc(4096, 4096);

	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	iommu_gather_init(&g);
	CHECK_EQ(ops->map(a, 0x5000, (uint64_t)(uintptr_t)page, 4096, IOMMU_READ, &g), 0);
	CHECK_EQ(ops->flush(a, &g), 0);
	CHECK_EQ(m.desc[m.ndesc - 2].lo & 0xf, 2);	/* an IOTLB invalidation */
	CHECK_EQ((m.desc[m.ndesc - 2].hi >> 6) & 1, 0); /* without IH */
	iommu_gather_init(&g);
	CHECK_EQ(ops->unmap(a, 0x5000, 4096, &g), 0);
	CHECK_EQ(ops->flush(a, &g), 0);
	ops->domain_free(a);
	vtd_test_teardown();
	free(page);
}

/* A domain whose final invalidation fails is kept: its DID is not handed
 * out again (something may still be cached under it). */
TEST(domain_free_failed_invalidation_keeps_did)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	struct iommu_domain *a, *b;

	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	uint16_t did = vtd_domain_did(a);
	m.qi_hang = true;
	ops->domain_free(a);
	m.qi_hang = false;
	CHECK_EQ(u->iu.ndomains, 1);
	CHECK_EQ(ops->domain_alloc(&u->iu, &b), 0);
	CHECK(vtd_domain_did(b) != did);
	ops->domain_free(b);
	vtd_test_teardown();
}

/* The last context-cache descriptor the model saw from index from on, or -1. */
static int last_cc_desc(unsigned from)
{
	int last = -1;

	for (unsigned i = from; i < m.ndesc; i++)
		if ((m.desc[i].lo & 0xf) == 1)
			last = (int)i;
	return last;
}

/* A detach whose context-cache invalidation hangs leaves the rid blocked and
 * still counted (pending); a retry re-issues the invalidation under the DID
 * the entry had, and only then does the count drop. */
TEST(detach_failed_context_invalidation_is_reissued)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	struct iommu_domain *a, *b;
	uint16_t rid = 0x0010;

	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	uint16_t did = vtd_domain_did(a);
	CHECK_EQ(ops->attach(a, rid), 0);
	m.cc_hang = true;
	CHECK_EQ(ops->detach(a, rid), -ETIMEDOUT);
	CHECK_EQ(ctx_of(u, rid)->lo, 0);	   /* blocked */
	CHECK_EQ(a->ndevices, 1);		   /* but not detached: still counted */
	CHECK_EQ(ops->detach(a, rid), -ETIMEDOUT); /* a retry while it hangs */
	CHECK_EQ(a->ndevices, 1);
	/* the domain (and its DID) is not free while the rid is pending */
	ops->domain_free(a);
	CHECK_EQ(u->iu.ndomains, 1);
	m.cc_hang = false;
	CHECK_EQ(ops->domain_alloc(&u->iu, &b), 0);
	CHECK(vtd_domain_did(b) != did);
	unsigned cc = m.cc_device, nd = m.ndesc;
	CHECK_EQ(ops->detach(a, rid), 0);
	int i = last_cc_desc(nd);
	CHECK(i >= 0);
	uint64_t cc_lo = i >= 0 ? m.desc[i].lo : 0;
	CHECK_EQ(cc_lo & 0x3f, 0x31); /* re-issued: device-selective */
	CHECK_EQ((cc_lo >> 16) & 0xffff, did);
	CHECK_EQ((cc_lo >> 32) & 0xffff, rid);
	CHECK(m.cc_device > cc);
	CHECK_EQ(a->ndevices, 0);
	/* settled: a further detach invalidates nothing */
	nd = m.ndesc;
	CHECK_EQ(ops->detach(a, rid), 0);
	CHECK_EQ(m.ndesc, nd);
	ops->domain_free(a);
	ops->domain_free(b);
	CHECK_EQ(u->iu.ndomains, 0);
	vtd_test_teardown();
	CHECK_EQ(vtd_test_iopt_bytes(), 0);
}

/* Attaching a rid whose invalidation is pending first completes it (the
 * unit may still hold the old entry); a switch whose invalidation of the
 * old entry fails leaves the rid pending on the old domain. */
TEST(attach_completes_pending_context_invalidation)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	struct iommu_domain *a, *b;
	uint16_t rid = 0x0010;

	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	CHECK_EQ(ops->domain_alloc(&u->iu, &b), 0);
	CHECK_EQ(ops->attach(a, rid), 0);
	m.cc_hang = true;
	CHECK_EQ(ops->attach(b, rid), -ETIMEDOUT); /* the switch's invalidation hangs */
	CHECK_EQ(ctx_of(u, rid)->lo, 0);
	CHECK_EQ(a->ndevices, 1); /* pending on a */
	CHECK_EQ(b->ndevices, 0);
	CHECK_EQ(ops->attach(b, rid), -ETIMEDOUT); /* still pending: no new entry */
	CHECK_EQ(ctx_of(u, rid)->lo, 0);
	m.cc_hang = false;
	unsigned nd = m.ndesc;
	CHECK_EQ(ops->attach(b, rid), 0);
	int i = last_cc_desc(nd);
	CHECK(i >= 0);
	CHECK_EQ(((i >= 0 ? m.desc[i].lo : 0) >> 16) & 0xffff, vtd_domain_did(a));
	CHECK_EQ(ctx_of(u, rid)->hi >> 8, vtd_domain_did(b));
	CHECK_EQ(a->ndevices, 0);
	CHECK_EQ(b->ndevices, 1);
	CHECK_EQ(ops->detach(b, rid), 0);
	ops->domain_free(a);
	ops->domain_free(b);
	CHECK_EQ(u->iu.ndomains, 0);
	vtd_test_teardown();
}

/* Domain free invalidates the context cache for the DID (then the IOTLB)
 * before the DID is handed out again; if that fails the DID is kept. */
TEST(domain_free_invalidates_context_cache)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();
	const struct iommu_ops *ops = u->iu.ops;
	struct iommu_domain *a, *b;

	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	uint16_t did = vtd_domain_did(a);
	unsigned nd = m.ndesc;
	ops->domain_free(a);
	CHECK_EQ(m.ndesc, nd + 3);
	CHECK_EQ(m.desc[nd].lo & 0x3f, 0x21); /* context, domain-selective */
	CHECK_EQ((m.desc[nd].lo >> 16) & 0xffff, did);
	CHECK_EQ(m.desc[nd + 1].lo & 0x3f, 0x22); /* IOTLB, domain-selective */
	CHECK_EQ((m.desc[nd + 1].lo >> 16) & 0xffff, did);

	CHECK_EQ(ops->domain_alloc(&u->iu, &a), 0);
	did = vtd_domain_did(a);
	m.cc_hang = true; /* only the context-cache invalidation fails */
	ops->domain_free(a);
	m.cc_hang = false;
	CHECK_EQ(u->iu.ndomains, 1);
	CHECK_EQ(ops->domain_alloc(&u->iu, &b), 0);
	CHECK(vtd_domain_did(b) != did);
	ops->domain_free(b);
	CHECK_EQ(u->iu.ndomains, 1); /* the failed one stays, for good */
	vtd_test_teardown();
}
