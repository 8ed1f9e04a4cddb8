// SOURCES: iommu/vtd/ir.c iommu/irq_route.c iommu/vtd/vtd.c iommu/vtd/qi.c iommu/vtd/fault.c iommu/iommu.c iommu/pgtable_vtd.c lib/pgtable.c kernel/frame.c console/cmd_iommu.c console/cmd_irq.c lib/parse.c tests/unit/vtd_model.c lib/bdf.c
/* tests/unit/test_ir.c — VT-d interrupt remapping (iommu/vtd/ir.c), the
 * IOMMU core's interrupt routes on top of it (iommu/irq_route.c) and the
 * `irq` command: IRTE encoding, the allocator, bring-up order against the
 * QEMU-like register model (vtd_model.c), IEC invalidation after every
 * change, present-entry updates, routes, retarget/mask/sid. */
#include <stdlib.h>
#include <string.h>

#include "fake_hw.h"
#include "hw/hw.h"
#include "iommu/vtd/dmar.h"
#include "iommu/vtd/ir.h"
#include "iommu/vtd/qi.h"
#include "iommu/vtd/regs.h"
#include "console/console.h"
#include "kernel/frame.h"
#include "test.h"
#include "vtd_model.h"

/* ---- stubs for arch/x86 (irq_alloc_vector & co are in vtd_model.c) */
static uint32_t apic_id_stub;
uint64_t irq_count(unsigned vector) { return vector * 10ull; }
uint32_t irq_dest_apic_id(void) { return apic_id_stub; }

static struct vtd_model m;
static struct vtd_unit *u;

static const struct ir_cfg cfg_default = {0, false, DMAR_FLAG_INTR_REMAP};

static void up(uint64_t cap_or, uint64_t ecap_or, uint64_t ecap_clear, bool no_qi)
{
	struct vtd_unit_cfg vc = {.no_qi = no_qi, .no_fault_irq = true};

	vtd_test_teardown();
	vtd_test_frames();
	fake_tsc_step = 1000; /* bounded polls end quickly */
	apic_id_stub = 0;
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap |= cap_or;
	m.ecap = (m.ecap | ecap_or) & ~ecap_clear;
	CHECK_EQ(vtd_test_bringup(&m, &vc, &u), 0);
	test_con_reset();
}

static void down(void)
{
	while (iommu_irq_routes())
		iommu_irq_route_unregister(iommu_irq_routes());
	if (u && ir_enabled(u)) {
		/* a failed test may leave entries: free them so IR goes off
		 * before the unit is freed */
		m.gsts_stuck = 0;
		m.qi_hang = false;
		for (unsigned i = 0; i < ir_entries(u); i++)
			ir_free(u, i, 1);
		CHECK_EQ(ir_disable(u), 0);
	}
	vtd_test_teardown();
	fake_tsc_step = 1;
	u = NULL;
}

static unsigned count_str(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* ------------------------------------------------------------ encoding */

TEST(irte_encode_xapic_every_field)
{
	struct iommu_irq_entry r = {.vector = 0x41,
				    .dest = 0xa5,
				    .level = true,
				    .logical = true,
				    .dlm = 1,
				    .rh = true,
				    .fpd = true,
				    .src_check = IR_SVT_SID,
				    .src_qual = 2,
				    .sid = 0x0310};
	uint64_t lo, hi;

	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 1);		   /* P */
	CHECK_EQ((lo >> 1) & 1, 1);	   /* FPD */
	CHECK_EQ((lo >> 2) & 1, 1);	   /* DM */
	CHECK_EQ((lo >> 3) & 1, 1);	   /* RH */
	CHECK_EQ((lo >> 4) & 1, 1);	   /* TM */
	CHECK_EQ((lo >> 5) & 7, 1);	   /* DLM */
	CHECK_EQ((lo >> 15) & 1, 0);	   /* IM: remapped, never posted */
	CHECK_EQ((lo >> 16) & 0xff, 0x41); /* V */
	CHECK_EQ((lo >> 40) & 0xff, 0xa5); /* xAPIC dest in 47:40 */
	CHECK_EQ(lo & (IRTE_LO_RSVD | IRTE_LO_RSVD_XAPIC), 0);
	CHECK_EQ(hi & 0xffff, 0x0310);
	CHECK_EQ((hi >> 16) & 3, 2); /* SQ */
	CHECK_EQ((hi >> 18) & 3, 1); /* SVT */
	CHECK_EQ(hi & IRTE_HI_RSVD, 0);

	r = (struct iommu_irq_entry){
		.vector = 0x20, .dest = 3, .src_check = IR_SVT_SID, .sid = 0x10};
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), 0);
	CHECK_EQ(lo, 1ull | 0x20ull << 16 | 3ull << 40); /* edge, fixed, physical */
	CHECK_EQ(hi, 0x10ull | 1ull << 18);
}

TEST(irte_encode_x2apic_dest)
{
	struct iommu_irq_entry r = {
		.vector = 0x30, .dest = 0x12345678, .src_check = IR_SVT_SID, .sid = 1};
	uint64_t lo, hi;

	CHECK_EQ(ir_irte_encode(&r, true, &lo, &hi), 0);
	CHECK_EQ(lo >> 32, 0x12345678);
	CHECK_EQ(lo & IRTE_LO_RSVD, 0);
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), -ERANGE); /* 8 bits only */
	r.dest = 0x100;
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), -ERANGE);
	r.dest = 0xff;
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), 0);
}

TEST(irte_encode_bus_range_and_refusals)
{
	struct iommu_irq_entry r = {.vector = 0x30, .src_check = IR_SVT_BUS, .sid = 0x0205};
	uint64_t lo = 7, hi = 7;

	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), 0);
	CHECK_EQ(hi, 0x0205ull | 2ull << 18);
	r.sid = 0x0502; /* start above end */
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), -EINVAL);
	r.sid = 0x0205;
	r.src_qual = 1; /* SQ means nothing with SVT=2 */
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), -EINVAL);
	r = (struct iommu_irq_entry){.vector = 0x30, .src_check = IR_SVT_NONE};
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), -EINVAL); /* no validation: refused */
	r.src_check = 3;
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), -EINVAL);
	r.src_check = IR_SVT_SID;
	r.src_qual = 4;
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), -EINVAL);
	r.src_qual = 0;
	r.vector = 15;
	CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), -EINVAL);
	r.vector = 16;
	for (unsigned d = 0; d < 8; d++) {
		r.dlm = (uint8_t)d;
		bool ok = d != 3 && d != 6;
		CHECK_EQ(ir_irte_encode(&r, false, &lo, &hi), ok ? 0 : -EINVAL);
	}
}

TEST(route_source_forms)
{
	struct iommu_irq_entry r = {.src_qual = 3};

	iommu_irq_source_check(&r, 0x0010, 0x0010, false); /* 00:02.0, no alias */
	CHECK_EQ(r.src_check, IR_SVT_SID);
	CHECK_EQ(r.src_qual, 0);
	CHECK_EQ(r.sid, 0x0010);
	/* 02:01.0 behind a PCIe-to-PCI bridge whose secondary bus is 2 */
	iommu_irq_source_check(&r, 0x0208, 0x0200, true);
	CHECK_EQ(r.src_check, IR_SVT_BUS);
	CHECK_EQ(r.sid, 0x0202);
	/* 03:01.0 one bridge further down */
	iommu_irq_source_check(&r, 0x0308, 0x0200, true);
	CHECK_EQ(r.src_check, IR_SVT_BUS);
	CHECK_EQ(r.sid, 0x0203);
	/* a conventional bridge 00:1e.0 forwards with its own id */
	iommu_irq_source_check(&r, 0x0508, 0x00f0, false);
	CHECK_EQ(r.src_check, IR_SVT_SID);
	CHECK_EQ(r.sid, 0x00f0);
	/* the IOAPIC: its DMAR source-id as both */
	iommu_irq_source_check(&r, 0xff00, 0xff00, false);
	CHECK_EQ(r.src_check, IR_SVT_SID);
	CHECK_EQ(r.sid, 0xff00);
	/* the core's values are what VT-d writes into SVT (and `irq` prints) */
	CHECK_EQ(IOMMU_IRQ_SRC_RID, 1);
	CHECK_EQ(IOMMU_IRQ_SRC_BUS, 2);
}

TEST(msi_address_format)
{
	CHECK_EQ(ir_msi_addr(0), 0xfee00018u);
	CHECK_EQ(ir_msi_addr(5), 0xfee00018u | 5u << 5);
	CHECK_EQ(ir_msi_addr(0x7fff), 0xfee00018u | 0x7fffu << 5);
	CHECK_EQ(ir_msi_addr(0x8001), 0xfee00018u | 1u << 5 | 1u << 2);
	CHECK_EQ(ir_msi_data(3), 3);
}

TEST(eime_decision)
{
	bool e = true;

	CHECK_EQ(ir_choose_eime(false, VTD_ECAP_EIM, 0, 7, &e), 0);
	CHECK(!e);
	CHECK_EQ(ir_choose_eime(true, VTD_ECAP_EIM, DMAR_FLAG_INTR_REMAP, 0x300, &e), 0);
	CHECK(e);
	CHECK_EQ(ir_choose_eime(true, 0, DMAR_FLAG_INTR_REMAP, 1, &e), -ENOTSUP);
	e = true;
	CHECK_EQ(ir_choose_eime(true, VTD_ECAP_EIM, DMAR_FLAG_X2APIC_OPT_OUT, 0xff, &e), 0);
	CHECK(!e);
	CHECK_EQ(ir_choose_eime(true, 0, DMAR_FLAG_X2APIC_OPT_OUT, 0x100, &e), -ERANGE);
}

/* ------------------------------------------------------------ bring-up */

static int gcmd_index(uint32_t bit, bool set)
{
	for (unsigned i = 0; i < m.ngcmd; i++)
		if (!!(m.gcmd_log[i] & bit) == set &&
		    (!!(m.gcmd_gsts_before[i] & bit) != set || (bit & VTD_GCMD_ONESHOT)))
			return (int)i;
	return -1;
}

TEST(enable_order_and_registers)
{
	up(0, 0, 0, false);
	unsigned ngcmd0 = m.ngcmd, multi0 = m.gcmd_multibit, iec0 = m.iec, ndesc0 = m.ndesc;
	m.nlog = 0;
	/* the CFI probe polls for 1 ms: keep the access log short */
	fake_tsc_step = 100000;
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	fake_tsc_step = 1000;
	CHECK(m.nlog < VTD_MODEL_LOG);
	CHECK(u->iu.intr_remap);
	CHECK(m.gsts & VTD_GSTS_IRES);
	CHECK(m.gsts & VTD_GSTS_QIES); /* QI was on before */
	CHECK_EQ(ir_entries(u), 4096);
	CHECK_EQ(m.irta_latched & 0xf, 11); /* 2^(11+1) = 4096 */
	CHECK_EQ(m.irta_latched & VTD_IRTA_EIME, 0);
	CHECK(frame_range_tagged(m.irta_latched & ~0xfffull, 4096 * 16, FRAME_IOPT));
	CHECK_EQ(m.gcmd_multibit, multi0); /* one bit per GCMD write */
	/* SIRTP, then a global IEC invalidation, then IRE. */
	int sirtp = vtd_model_find_write(&m, VTD_IRTA_REG, 0);
	CHECK(sirtp >= 0);
	int gcmd_sirtp = -1, iqt = -1, gcmd_ire = -1;
	for (unsigned i = 0; i < m.nlog; i++) {
		if (!m.log[i].write)
			continue;
		if (m.log[i].off == VTD_GCMD_REG && (m.log[i].val & VTD_GCMD_SIRTP) &&
		    gcmd_sirtp < 0)
			gcmd_sirtp = (int)i;
		if (m.log[i].off == VTD_IQT_REG && gcmd_sirtp >= 0 && iqt < 0)
			iqt = (int)i;
		if (m.log[i].off == VTD_GCMD_REG && (m.log[i].val & VTD_GCMD_IRE) && gcmd_ire < 0)
			gcmd_ire = (int)i;
	}
	CHECK(sirtp < gcmd_sirtp);
	CHECK(gcmd_sirtp < iqt);
	CHECK(iqt < gcmd_ire);
	CHECK_EQ(m.iec, iec0 + 1);
	CHECK_EQ(m.desc[ndesc0].lo, qi_iec_global().lo);
	CHECK(m.ngcmd > ngcmd0);
	/* QEMU-like hardware never shows CFIS: warned once, and the unit
	 * remaps but does not isolate interrupts (compatibility format open). */
	CHECK_EQ(count_str(test_con_buf, "cannot block compatibility-format"), 1);
	CHECK_EQ(m.gsts & VTD_GSTS_CFIS, 0);
	CHECK(!u->iu.intr_isolated);
	CHECK(strstr(test_con_buf, "vtd0: interrupt remapping on: entries=4096 eime=0 "));
	CHECK(strstr(test_con_buf, " cfi=open\n"));

	CHECK_EQ(ir_enable(u, &cfg_default), -EBUSY);
	CHECK_EQ(ir_disable(u), 0);
	CHECK(!u->iu.intr_remap);
	CHECK_EQ(m.gsts & VTD_GSTS_IRES, 0);
	CHECK_EQ(ir_disable(u), -ENOENT);
	/* again: no second warning */
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	CHECK_EQ(count_str(test_con_buf, "cannot block compatibility-format"), 1);
	CHECK(!u->iu.intr_isolated);
	CHECK_EQ(test_cmd("iommu"), 0);
	CHECK(strstr(test_con_buf, " ir=on "));
	CHECK(strstr(test_con_buf, " seg=0 cfi=open mode=legacy kind=vtd\n"));
	CHECK_EQ(ir_disable(u), 0);
	down();
}

TEST(enable_esirtps_skips_global_iec)
{
	up(VTD_CAP_ESIRTPS, 0, 0, false);
	unsigned iec0 = m.iec;
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	CHECK_EQ(m.iec, iec0);
	CHECK(m.gsts & VTD_GSTS_IRES);
	CHECK_EQ(ir_disable(u), 0);
	down();
}

TEST(enable_refusals)
{
	struct ir_cfg c = cfg_default;

	up(0, 0, 0, true); /* QI off */
	CHECK_EQ(ir_enable(u, &c), -EINVAL);
	CHECK_EQ(m.gsts & VTD_GSTS_IRES, 0);
	CHECK(!u->iu.intr_remap);
	down();

	up(0, 0, VTD_ECAP_IR, false);
	CHECK_EQ(ir_enable(u, &c), -ENOTSUP);
	down();

	up(0, 0, 0, false);
	c.dmar_flags = 0; /* DMAR without INTR_REMAP */
	CHECK_EQ(ir_enable(u, &c), -ENOTSUP);
	CHECK_EQ(m.gsts & VTD_GSTS_IRES, 0);
	c = cfg_default;
	c.x2apic = true; /* x2APIC CPU, unit without EIM */
	CHECK_EQ(ir_enable(u, &c), -ENOTSUP);
	CHECK_EQ(m.gsts & VTD_GSTS_IRES, 0);
	CHECK(!ir_enabled(u));
	down();
}

TEST(enable_x2apic_eime_and_opt_out)
{
	struct ir_cfg c = cfg_default;
	unsigned idx;

	up(0, VTD_ECAP_EIM, 0, false);
	c.x2apic = true;
	apic_id_stub = 0x1234;
	CHECK_EQ(ir_enable(u, &c), 0);
	CHECK(m.irta_latched & VTD_IRTA_EIME);
	CHECK(ir_eime(u));
	/* EIME=1 blocks compatibility format only on hardware that honours
	 * it; QEMU (like this model) does not, and has no CFI either: the
	 * probe runs with EIME=1 too and finds the unit open. */
	CHECK(gcmd_index(VTD_GCMD_CFI, true) >= 0);
	CHECK(u->iu.intr_remap);
	CHECK(!u->iu.intr_isolated);
	CHECK_EQ(ir_alloc(u, 1, &idx), 0);
	struct iommu_irq_entry r = {
		.vector = 0x50, .dest = 0x1234, .src_check = IR_SVT_SID, .sid = 0x10};
	CHECK_EQ(ir_set(u, idx, &r), 0);
	uint64_t lo, hi;
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(lo >> 32, 0x1234);
	ir_free(u, idx, 1);
	CHECK_EQ(ir_disable(u), 0);
	CHECK_EQ(m.irta & VTD_IRTA_EIME, 0); /* VT-d 11.4.9.2: cleared on disable */
	down();

	up(0, VTD_ECAP_EIM, 0, false);
	c.dmar_flags = DMAR_FLAG_INTR_REMAP | DMAR_FLAG_X2APIC_OPT_OUT;
	apic_id_stub = 0x1234;
	CHECK_EQ(ir_enable(u, &c), -ERANGE);
	apic_id_stub = 2;
	CHECK_EQ(ir_enable(u, &c), 0);
	CHECK_EQ(m.irta_latched & VTD_IRTA_EIME, 0);
	CHECK_EQ(ir_disable(u), 0);
	down();
}

TEST(enable_entries_rounding)
{
	/* the boot argument as parsed (any 64-bit number) reaches ir_enable,
	 * which alone rounds, clamps and logs it */
	static const struct {
		uint64_t in;
		unsigned out, s;
		const char *log;
	} cases[] = {
		{0, 4096, 11, NULL},
		{512, 512, 8, NULL},
		{1000, 1024, 9, "vtd0: ir_entries=1000 adjusted to 1024"},
		{70000, 65536, 15, "vtd0: ir_entries=70000 adjusted to 65536"},
		{10, 256, 7, "vtd0: ir_entries=10 adjusted to 256"},
		{256, 256, 7, NULL},
		{1ull << 32, 65536, 15, "vtd0: ir_entries=4294967296 adjusted to 65536"},
		{~0ull, 65536, 15, "vtd0: ir_entries=18446744073709551615 adjusted to 65536"},
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ir_cfg c = cfg_default;
		up(0, 0, 0, false);
		c.entries = cases[i].in;
		CHECK_EQ(ir_enable(u, &c), 0);
		CHECK_EQ(ir_entries(u), cases[i].out);
		CHECK_EQ(m.irta_latched & 0xf, cases[i].s);
		if (cases[i].log)
			CHECK(strstr(test_con_buf, cases[i].log));
		else
			CHECK(!strstr(test_con_buf, "adjusted"));
		CHECK_EQ(ir_disable(u), 0);
		down();
	}
}

TEST(enable_hardware_stuck)
{
	uint64_t before;

	up(0, 0, 0, false);
	before = vtd_test_iopt_bytes();
	m.gsts_stuck = VTD_GCMD_IRE;
	CHECK_EQ(ir_enable(u, &cfg_default), -ETIMEDOUT);
	CHECK(!u->iu.intr_remap);
	CHECK(!ir_enabled(u));
	CHECK_EQ(vtd_test_iopt_bytes(), before); /* IRE never came on: table freed */
	/* The model (like QEMU) leaves IRTPS set after a SIRTP; real hardware
	 * clears it while the command runs. */
	m.gsts &= ~VTD_GSTS_IRTPS;
	m.gsts_stuck = VTD_GCMD_SIRTP;
	CHECK_EQ(ir_enable(u, &cfg_default), -ETIMEDOUT);
	CHECK_EQ(vtd_test_iopt_bytes(), before);
	CHECK_EQ(m.gsts & VTD_GSTS_IRES, 0);
	m.gsts_stuck = 0;
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	m.gsts_stuck = VTD_GCMD_IRE;
	CHECK_EQ(ir_disable(u), -ETIMEDOUT);
	CHECK(ir_enabled(u));
	m.gsts_stuck = 0;
	CHECK_EQ(ir_disable(u), 0);
	down();
}

/* A GCMD/GSTS front for the model that implements CFI (the model, like
 * QEMU, ignores it).  It handles the commands ir.c issues after bring-up. */
static uint64_t cfi_read(void *ctx, uint64_t off, unsigned size) { return m.gsts; }
static void cfi_write(void *ctx, uint64_t off, uint64_t val, unsigned size)
{
	uint32_t v = (uint32_t)val;
	if (off != 0)
		return; /* GSTS is read-only */
	if (m.ngcmd < 64) {
		m.gcmd_log[m.ngcmd] = v;
		m.gcmd_gsts_before[m.ngcmd++] = m.gsts;
	}
	if (v & VTD_GCMD_SIRTP) {
		m.irta_latched = m.irta;
		m.gsts |= VTD_GSTS_IRTPS;
	}
	m.gsts = (m.gsts & ~(VTD_GSTS_IRES | VTD_GSTS_CFIS)) | (v & (VTD_GCMD_IRE | VTD_GCMD_CFI));
}

static void cfi_front(void)
{
	struct fake_mmio f = {VTD_TEST_BASE + VTD_GCMD_REG, 8, cfi_read, cfi_write, NULL};

	fake_mmio_clear();
	fake_mmio_add(&f);
	vtd_model_install(&m);
}

TEST(cfi_cleared_where_hardware_has_it)
{
	up(0, 0, 0, false);
	cfi_front();
	m.gsts |= VTD_GSTS_CFIS; /* firmware left compatibility format allowed */
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	CHECK_EQ(m.gsts & VTD_GSTS_CFIS, 0);
	CHECK(m.gsts & VTD_GSTS_IRES);
	CHECK_EQ(count_str(test_con_buf, "cannot block"), 0);
	CHECK(gcmd_index(VTD_GCMD_CFI, false) < gcmd_index(VTD_GCMD_IRE, true));
	CHECK(u->iu.intr_isolated); /* compatibility format blocked */
	CHECK_EQ(ir_disable(u), 0);
	CHECK(!u->iu.intr_isolated);
	/* Probed: set then cleared before IRE, no warning. */
	m.ngcmd = 0;
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	CHECK_EQ(m.gsts & VTD_GSTS_CFIS, 0);
	CHECK(gcmd_index(VTD_GCMD_CFI, true) >= 0);
	CHECK_EQ(count_str(test_con_buf, "cannot block"), 0);
	CHECK(u->iu.intr_isolated);
	CHECK(strstr(test_con_buf, " cfi=blocked\n"));
	test_con_reset();
	CHECK_EQ(test_cmd("iommu"), 0);
	CHECK(strstr(test_con_buf, " seg=0 cfi=blocked mode=legacy kind=vtd\n"));
	CHECK_EQ(ir_disable(u), 0);
	fake_mmio_clear();
	vtd_model_install(&m);
	down();

	/* EIME=1 on a unit with CFI: probed, cleared, isolated. */
	struct ir_cfg c = cfg_default;
	c.x2apic = true;
	up(0, VTD_ECAP_EIM, 0, false);
	apic_id_stub = 0x1234;
	cfi_front();
	m.ngcmd = 0;
	CHECK_EQ(ir_enable(u, &c), 0);
	CHECK(m.irta_latched & VTD_IRTA_EIME);
	CHECK(gcmd_index(VTD_GCMD_CFI, true) >= 0);
	CHECK_EQ(m.gsts & VTD_GSTS_CFIS, 0);
	CHECK(u->iu.intr_isolated);
	CHECK_EQ(ir_disable(u), 0);
	fake_mmio_clear(); /* the plain model again, so TE/QI can go off */
	vtd_model_install(&m);
	down();
}

/* ------------------------------------------------------------ allocator */

TEST(alloc_blocks_fragmentation_exhaustion)
{
	struct ir_cfg c = cfg_default;
	unsigned a, b, d, e, f, g;

	up(0, 0, 0, false);
	CHECK_EQ(ir_alloc(u, 1, &a), -ENOENT); /* IR off */
	c.entries = 256;
	CHECK_EQ(ir_enable(u, &c), 0);
	CHECK_EQ(ir_alloc(u, 1, &a), 0);
	CHECK_EQ(ir_alloc(u, 1, &b), 0);
	CHECK_EQ(ir_alloc(u, 1, &d), 0);
	CHECK_EQ(a, 0);
	CHECK_EQ(b, 1);
	CHECK_EQ(d, 2);
	CHECK_EQ(ir_alloc(u, 4, &e), 0);
	CHECK_EQ(e, 4); /* aligned, not 3 */
	ir_free(u, b, 1);
	CHECK_EQ(ir_alloc(u, 2, &f), 0);
	CHECK_EQ(f, 8);			 /* 0..1 not free as a pair */
	CHECK_EQ(ir_alloc(u, 3, &g), 0); /* rounded up to 4 */
	CHECK_EQ(g, 12);
	CHECK_EQ(ir_alloc(u, 1, &b), 0);
	CHECK_EQ(b, 1); /* the hole is reused */
	CHECK_EQ(ir_alloc(u, 32, &g), 0);
	CHECK_EQ(g % 32, 0);
	CHECK_EQ(ir_alloc(u, 0, &g), -EINVAL);
	CHECK_EQ(ir_alloc(u, 257, &g), -EINVAL);
	CHECK_EQ(ir_alloc(u, 256, &g), -ENOSPC);
	unsigned n = 0, idx;
	while (ir_alloc(u, 1, &idx) == 0)
		n++;
	/* used: 0-2, 4-7, 8-9, 12-15, 32-63 */
	CHECK_EQ(n, 256 - (3 + 4 + 2 + 4 + 32));
	CHECK_EQ(ir_alloc(u, 1, &idx), -ENOSPC);
	CHECK_EQ(ir_disable(u), -EBUSY);
	ir_free(u, 4, 4);
	CHECK_EQ(ir_alloc(u, 4, &idx), 0);
	CHECK_EQ(idx, 4);
	for (unsigned i = 0; i < 256; i++)
		ir_free(u, i, 1);
	CHECK_EQ(ir_disable(u), 0);
	down();
}

/* ------------------------------------------------------------ entries */

static int last_desc_is_iec(unsigned idx, unsigned im)
{
	return m.ndesc >= 2 && m.desc[m.ndesc - 2].lo == qi_iec_index((uint16_t)idx, im).lo &&
	       (m.desc[m.ndesc - 1].lo & 0xf) == VTD_INV_WAIT;
}

TEST(set_clear_iec_and_drain)
{
	unsigned idx, tmp;
	uint64_t lo, hi;

	up(0, 0, VTD_ECAP_C, false); /* non-coherent: lines must be flushed */
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	CHECK_EQ(ir_alloc(u, 8, &tmp), 0);
	CHECK_EQ(ir_alloc(u, 1, &idx), 0);
	CHECK_EQ(idx, 8);
	struct iommu_irq_entry r = {
		.vector = 0x44, .dest = 1, .src_check = IR_SVT_SID, .sid = 0x0010};

	CHECK_EQ(ir_set(u, 9, &r), -EINVAL); /* not allocated */
	CHECK_EQ(ir_set(u, 5000, &r), -EINVAL);
	unsigned iec0 = m.iec;
	fake_flush_reset();
	m.nlog = 0;
	CHECK_EQ(ir_set(u, idx, &r), 0);
	CHECK_EQ(m.iec, iec0 + 1);
	CHECK(last_desc_is_iec(idx, 0));
	/* a register read (drain) after the IQT write */
	int w = vtd_model_find_write(&m, VTD_IQT_REG, 0);
	CHECK(w >= 0);
	bool drained = false;
	for (unsigned i = (unsigned)w + 1; i < m.nlog; i++)
		if (!m.log[i].write && m.log[i].off == VTD_CAP_REG)
			drained = true;
	CHECK(drained);
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK(fake_flushed(phys_to_virt((m.irta_latched & ~0xfffull) + idx * 16)));
	CHECK_EQ(lo, 1ull | 0x44ull << 16 | 1ull << 40);
	CHECK_EQ(hi, 0x10ull | 1ull << 18);

	/* bad route: nothing written */
	struct iommu_irq_entry bad = r;
	bad.src_check = 0;
	CHECK_EQ(ir_set(u, idx, &bad), -EINVAL);
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(hi, 0x10ull | 1ull << 18);

	/* present → present, vector only; sid only; both (cmpxchg16b) */
	r.vector = 0x45;
	CHECK_EQ(ir_set(u, idx, &r), 0);
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ((lo >> 16) & 0xff, 0x45);
	r.sid = 0x0018;
	CHECK_EQ(ir_set(u, idx, &r), 0);
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(hi & 0xffff, 0x18);
	r.sid = 0x0020;
	r.vector = 0x46;
	r.level = true;
	iec0 = m.iec;
	CHECK_EQ(ir_set(u, idx, &r), 0);
	CHECK_EQ(m.iec, iec0 + 1);
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(lo, 1ull | 1ull << 4 | 0x46ull << 16 | 1ull << 40);
	CHECK_EQ(hi, 0x20ull | 1ull << 18);

	/* clear: P off, the rest kept; present again */
	CHECK_EQ(ir_clear(u, idx), 0);
	CHECK(last_desc_is_iec(idx, 0));
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 0);
	CHECK_EQ((lo >> 16) & 0xff, 0x46);
	CHECK_EQ(ir_set_present(u, idx, true), 0);
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 1);
	/* an entry never written cannot be made present (SVT=0) */
	CHECK_EQ(ir_set_present(u, 3, true), -EINVAL);
	CHECK_EQ(ir_set_present(u, 20, true), -EINVAL); /* not allocated */

	/* free: zeroed, not present, IEC over the whole block */
	ir_free(u, idx, 1);
	CHECK(last_desc_is_iec(idx, 0));
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(lo, 0);
	CHECK_EQ(hi, 0);
	ir_free(u, tmp, 8);
	CHECK(last_desc_is_iec(0, 3));
	CHECK_EQ(ir_get(u, 99999, &lo, &hi), -EINVAL);
	CHECK_EQ(ir_disable(u), 0);
	CHECK_EQ(ir_set(u, 0, &r), -ENOENT);
	CHECK_EQ(ir_clear(u, 0), -ENOENT);
	down();
}

TEST(iec_failure_reported)
{
	unsigned idx;

	up(0, 0, 0, false);
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	CHECK_EQ(ir_alloc(u, 1, &idx), 0);
	struct iommu_irq_entry r = {.vector = 0x44, .src_check = IR_SVT_SID, .sid = 0x10};
	m.qi_hang = true; /* the queue never completes */
	CHECK_EQ(ir_set(u, idx, &r), -ETIMEDOUT);
	m.qi_hang = false;
	down();
}

/* ------------------------------------------------------------ routes, irq */

static void handler(unsigned v, void *ctx) {}

/* A registered route on u with the given vector (vtd_model.c hands it out). */
static int route_make(struct iommu_irq_route **r, uint8_t vector, uint16_t bdf,
		      enum iommu_irq_kind kind, unsigned gsi,
		      int (*on_retarget)(struct iommu_irq_route *, unsigned))
{
	struct iommu_irq_source src = {
		.kind = kind, .rid = bdf, .alias = bdf, .gsi = gsi, .on_retarget = on_retarget};
	int rc;

	vtd_test_irq_result = vector;
	rc = iommu_irq_route_alloc(&u->iu, &src, handler, NULL, r);
	if (rc == 0)
		iommu_irq_route_register(*r);
	return rc;
}

TEST(route_alloc_compose_free)
{
	struct iommu_irq_route *r, *rb;
	struct iommu_msi_msg msg;
	uint64_t lo, hi;
	unsigned idx;

	up(0, 0, 0, false);
	struct iommu_irq_source src = {
		.kind = IOMMU_IRQ_MSI, .rid = 0x0208, .alias = 0x0200, .takeover = true};
	/* IR off: no routes on the unit */
	CHECK(!iommu_irq_remapping(&u->iu));
	CHECK_EQ(iommu_irq_route_alloc(&u->iu, &src, handler, NULL, &r), -ENODEV);
	CHECK_EQ(iommu_irq_route_alloc(NULL, &src, handler, NULL, &r), -ENODEV);
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	CHECK(iommu_irq_remapping(&u->iu));
	CHECK(u->iu.irq_ops != NULL);

	/* allocated, written present with this CPU, fixed, edge, bus range */
	apic_id_stub = 3;
	vtd_test_irq_result = 0x47;
	CHECK_EQ(ir_alloc(u, 1, &idx), 0); /* entry 0 taken: the route gets 1 */
	CHECK_EQ(iommu_irq_route_alloc(&u->iu, &src, handler, NULL, &r), 0);
	CHECK(iommu_irq_routes() == NULL); /* not listed until registered */
	CHECK_EQ(r->index, 1);
	CHECK_EQ(r->vector, 0x47);
	CHECK(r->present);
	CHECK_EQ(r->bdf, 0x0208);
	CHECK_EQ(ir_get(u, r->index, &lo, &hi), 0);
	CHECK_EQ(lo, 1ull | 0x47ull << 16 | 3ull << 40);
	CHECK_EQ(hi, 0x0202ull | 2ull << 18);
	CHECK(last_desc_is_iec(r->index, 0));

	/* the message and the RTE are the unit's remappable formats */
	iommu_irq_route_msi(r, &msg);
	CHECK_EQ(msg.addr_lo, ir_msi_addr(r->index));
	CHECK_EQ(msg.addr_hi, 0);
	CHECK_EQ(msg.data, ir_msi_data(0));
	CHECK_EQ(iommu_irq_route_ioapic_rte(r, true, false),
		 ir_ioapic_rte(r->index, false, true, 0x47, false));

	/* vector, destination and trigger rewritten; the held vector is not */
	CHECK_EQ(iommu_irq_route_set_target(r, 0x48, 2, true), 0);
	CHECK_EQ(ir_get(u, r->index, &lo, &hi), 0);
	CHECK_EQ(lo, 1ull | 1ull << 4 | 0x48ull << 16 | 2ull << 40);
	CHECK_EQ(r->vector, 0x47);
	CHECK_EQ(r->entry.vector, 0x48);
	CHECK_EQ(iommu_irq_route_set_target(r, 0x48, 0x100, true), -ERANGE); /* xAPIC */
	CHECK_EQ(r->entry.dest, 2);
	CHECK_EQ(iommu_irq_route_set_present(r, false), 0);
	CHECK_EQ(iommu_irq_route_set_target(r, 0x49, 2, false), 0); /* stays masked */
	CHECK_EQ(ir_get(u, r->index, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 0);
	CHECK_EQ((lo >> 16) & 0xff, 0x49);

	/* free: the route is unlisted, its entry zeroed and freed, the vector too */
	iommu_irq_route_register(r);
	idx = r->index;
	unsigned freed0 = vtd_test_irq_freed;
	iommu_irq_route_free(r);
	CHECK(iommu_irq_routes() == NULL);
	CHECK_EQ(vtd_test_irq_freed, freed0 + 1);
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(lo, 0);
	CHECK_EQ(hi, 0);
	CHECK(last_desc_is_iec(idx, 0));
	CHECK_EQ(ir_alloc(u, 1, &idx), 0);
	CHECK_EQ(idx, 1); /* free again */

	/* no vector, then no entry: nothing held afterwards */
	vtd_test_irq_result = -ENOSPC;
	CHECK_EQ(iommu_irq_route_alloc(&u->iu, &src, handler, NULL, &rb), -ENOSPC);
	vtd_test_irq_result = 0x50;
	while (ir_alloc(u, 1, &idx) == 0)
		;
	freed0 = vtd_test_irq_freed;
	CHECK_EQ(iommu_irq_route_alloc(&u->iu, &src, handler, NULL, &rb), -ENOSPC);
	CHECK_EQ(vtd_test_irq_freed, freed0 + 1);
	CHECK(iommu_irq_routes() == NULL);
	for (unsigned i = 0; i < ir_entries(u); i++)
		ir_free(u, i, 1);
	CHECK_EQ(ir_disable(u), 0); /* nothing left allocated */
	CHECK(!iommu_irq_remapping(&u->iu));
	CHECK(u->iu.irq_ops == NULL);
	down();
}

static int on_rt_calls, on_rt_result;
static unsigned on_rt_vector;
static int on_rt(struct iommu_irq_route *r, unsigned v)
{
	on_rt_calls++;
	on_rt_vector = v;
	return on_rt_result;
}

TEST(irq_command_list_retarget_mask_sid)
{
	struct iommu_irq_route *s1, *s2;
	unsigned i1, i2;
	uint64_t lo, hi;

	up(0, 0, 0, false);
	CHECK_EQ(ir_enable(u, &cfg_default), 0);
	CHECK_EQ(route_make(&s1, 0x40, 0x0010, IOMMU_IRQ_MSI, 0, NULL), 0);
	CHECK_EQ(route_make(&s2, 0x42, 0xff00, IOMMU_IRQ_IOAPIC, 4, on_rt), 0);
	i1 = s1->index;
	i2 = s2->index;

	CHECK_EQ(test_cmd("irq"), 0);
	CHECK(strstr(test_con_buf, "bdf=00:02.0 irte=0 vector=64 dest=0 count=640 kind=msi unit=0 "
				   "present=1 svt=1 sid=0x0010\n"));
	CHECK(strstr(test_con_buf, "bdf=ff:00.0 irte=1 vector=66 dest=0 count=660 kind=ioapic"));
	CHECK(strstr(test_con_buf, "gsi=4\n"));
	CHECK_EQ(test_cmd("irq extra"), -EINVAL);

	/* retarget: new vector in the IRTE, old one freed */
	vtd_test_irq_result = 0x51;
	unsigned freed0 = vtd_test_irq_freed;
	CHECK_EQ(test_cmd("irq retarget 0"), 0);
	CHECK(strstr(test_con_buf, "irte=0 vector=81 old=64\n"));
	CHECK_EQ(s1->vector, 0x51);
	CHECK_EQ(vtd_test_irq_freed, freed0 + 1);
	CHECK_EQ(ir_get(u, i1, &lo, &hi), 0);
	CHECK_EQ((lo >> 16) & 0xff, 0x51);
	CHECK(last_desc_is_iec(i1, 0));

	/* retarget with the hook (IOAPIC): hook sees the vector; failure undoes */
	vtd_test_irq_result = 0x52;
	CHECK_EQ(test_cmd("irq retarget 1"), 0);
	CHECK_EQ(on_rt_calls, 1);
	CHECK_EQ(on_rt_vector, 0x52);
	on_rt_result = -EIO;
	vtd_test_irq_result = 0x53;
	freed0 = vtd_test_irq_freed;
	CHECK_EQ(test_cmd("irq retarget 1"), -EIO);
	CHECK_EQ(s2->vector, 0x52);
	CHECK_EQ(s2->entry.vector, 0x52);
	CHECK_EQ(vtd_test_irq_freed, freed0 + 1); /* the new one */
	CHECK_EQ(ir_get(u, i2, &lo, &hi), 0);
	CHECK_EQ((lo >> 16) & 0xff, 0x52);
	on_rt_result = 0;
	/* no vector left */
	vtd_test_irq_result = -ENOSPC;
	CHECK_EQ(test_cmd("irq retarget 0"), -ENOSPC);
	CHECK_EQ(s1->vector, 0x51);
	vtd_test_irq_result = 0x40;

	/* mask / unmask */
	CHECK_EQ(test_cmd("irq mask 0"), 0);
	CHECK(strstr(test_con_buf, "irte=0 present=0\n"));
	CHECK_EQ(ir_get(u, i1, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 0);
	CHECK(!s1->present);
	/* a retarget while masked keeps it masked */
	vtd_test_irq_result = 0x54;
	CHECK_EQ(test_cmd("irq retarget 0"), 0);
	CHECK_EQ(ir_get(u, i1, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 0);
	CHECK_EQ((lo >> 16) & 0xff, 0x54);
	CHECK_EQ(test_cmd("irq unmask 0"), 0);
	CHECK_EQ(ir_get(u, i1, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 1);
	CHECK(strstr(test_con_buf, "present=1"));

	/* sid */
	CHECK_EQ(test_cmd("irq sid 0 00:03.0"), 0);
	CHECK(strstr(test_con_buf, "irte=0 svt=1 sid=0x0018\n"));
	CHECK_EQ(ir_get(u, i1, &lo, &hi), 0);
	CHECK_EQ(hi, 0x18ull | 1ull << 18);
	CHECK_EQ(s1->entry.sid, 0x18);

	/* bad arguments */
	CHECK_EQ(test_cmd("irq retarget"), -EINVAL);
	CHECK_EQ(test_cmd("irq retarget x"), -EINVAL);
	CHECK(strstr(test_cmd_msg, "bad irte"));
	CHECK_EQ(test_cmd("irq retarget 7"), -ENOENT);
	CHECK(strstr(test_cmd_msg, "no remapped source"));
	CHECK_EQ(test_cmd("irq retarget 99999999"), -EINVAL);
	CHECK_EQ(test_cmd("irq mask"), -EINVAL);
	CHECK_EQ(test_cmd("irq unmask 1 2"), -EINVAL);
	CHECK_EQ(test_cmd("irq sid 0"), -EINVAL);
	CHECK_EQ(test_cmd("irq sid 0 zz"), -EINVAL);
	CHECK_EQ(test_cmd("irq sid 0 00:20.0"), -EINVAL);
	CHECK_EQ(test_cmd("irq sid 0 00:03.8"), -EINVAL);
	CHECK_EQ(test_cmd("irq sid 5 00:03.0"), -ENOENT);
	CHECK_EQ(test_cmd("irq mask x:0"), -EINVAL);
	CHECK(strstr(test_cmd_msg, "bad unit"));

	/* the same index on two units: ambiguous unless the unit is given */
	struct vtd_unit other;
	struct iommu_irq_route s3 = *s1;
	memset(&other, 0, sizeof(other));
	other.iu.index = 1;
	s3.unit = &other.iu;
	iommu_irq_route_register(&s3);
	struct iommu_irq_route *f;
	CHECK_EQ(iommu_irq_route_find(-1, 0, &f), -EINVAL);
	CHECK_EQ(test_cmd("irq mask 0"), -EINVAL);
	CHECK(strstr(test_cmd_msg, "several units"));
	CHECK_EQ(iommu_irq_route_find(1, 0, &f), 0);
	CHECK(f == &s3);
	CHECK_EQ(test_cmd("irq mask 1:0"), -ENODEV); /* that unit remaps nothing */
	CHECK_EQ(test_cmd("irq mask 0:0"), 0);
	CHECK_EQ(ir_get(u, i1, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 0);
	iommu_irq_route_unregister(&s3);

	/* freeing the routes unlists them, zeroes and frees their IRTEs */
	freed0 = vtd_test_irq_freed;
	iommu_irq_route_free(s1);
	iommu_irq_route_free(s2);
	CHECK(iommu_irq_routes() == NULL);
	CHECK_EQ(vtd_test_irq_freed, freed0 + 2);
	CHECK_EQ(ir_get(u, i1, &lo, &hi), 0);
	CHECK_EQ(lo | hi, 0);
	CHECK_EQ(ir_get(u, i2, &lo, &hi), 0);
	CHECK_EQ(lo | hi, 0);
	CHECK_EQ(test_cmd("irq"), 0);
	CHECK_EQ(test_con_len, 0);
	CHECK_EQ(ir_disable(u), 0);
	down();
}
