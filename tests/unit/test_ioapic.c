// SOURCES: drivers/ioapic.c iommu/irq_route.c iommu/vtd/ir.c iommu/vtd/vtd.c iommu/vtd/qi.c iommu/vtd/fault.c iommu/iommu.c iommu/pgtable_vtd.c lib/pgtable.c kernel/frame.c console/cmd_iommu.c lib/parse.c tests/unit/vtd_model.c lib/bdf.c
/* tests/unit/test_ioapic.c — drivers/ioapic.c against a fake IOAPIC
 * (IOREGSEL at +0, IOWIN at +0x10) and the VT-d register model: masking at
 * boot, remappable RTE encoding, ISA routing through overrides, the
 * interrupt route and the IRTE it gets, retarget, tear-down and every
 * refusal. */
#include <stdlib.h>
#include <string.h>

#include "drivers/acpi.h"
#include "drivers/ioapic.h"
#include "fake_hw.h"
#include "iommu/vtd/dmar.h"
#include "iommu/vtd/ir.h"
#include "test.h"
#include "vtd_model.h"

uint64_t irq_count(unsigned vector) { return 0; }
uint32_t irq_dest_apic_id(void) { return 1; }

/* ---- MADT stub: one IOAPIC (id 0, 24 pins) at 0xfec00000, a second
 * address where nothing answers, ISA overrides as QEMU's q35 has them. */
#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_ABSENT 0xfec10000ull
static struct acpi_ioapic madt_ioapics[2] = {{0, (uint32_t)IOAPIC_BASE, 0},
					     {1, (uint32_t)IOAPIC_ABSENT, 24}};
static struct acpi_iso madt_isos[2] = {
	{0, 0, 2, 0},						     /* IRQ0 → GSI2 */
	{0, 9, 9, ACPI_MADT_POLARITY_LOW | ACPI_MADT_TRIGGER_LEVEL}, /* SCI */
};
static struct acpi_madt_info madt = {
	.n_ioapic = 2, .ioapics = madt_ioapics, .n_iso = 2, .isos = madt_isos};
static bool no_madt;
const struct acpi_madt_info *acpi_madt(void) { return no_madt ? NULL : &madt; }
uint32_t acpi_isa_irq_to_gsi(uint8_t irq, uint16_t *flags)
{
	for (unsigned i = 0; i < madt.n_iso; i++)
		if (madt.isos[i].irq == irq) {
			if (flags)
				*flags = madt.isos[i].flags;
			return madt.isos[i].gsi;
		}
	if (flags)
		*flags = 0;
	return irq;
}

/* ---- fake IOAPIC */
static struct {
	uint32_t sel;
	uint32_t rte[48];
	uint32_t log_reg[512], log_val[512]; /* IOWIN writes */
	unsigned nlog;
} ioa;

static uint64_t ioa_read(void *ctx, uint64_t off, unsigned size)
{
	if (off == IOAPIC_IOREGSEL)
		return ioa.sel;
	if (off == IOAPIC_IOWIN) {
		if (ioa.sel == IOAPIC_REG_VER)
			return 0x00170020; /* 24 entries */
		if (ioa.sel >= 0x10 && ioa.sel < 0x10 + 48)
			return ioa.rte[ioa.sel - 0x10];
	}
	return 0;
}
static void ioa_write(void *ctx, uint64_t off, uint64_t val, unsigned size)
{
	if (size != 4)
		abort(); /* 32-bit registers only */
	if (off == IOAPIC_IOREGSEL)
		ioa.sel = (uint32_t)val;
	else if (off == IOAPIC_IOWIN) {
		if (ioa.nlog < 512) {
			ioa.log_reg[ioa.nlog] = ioa.sel;
			ioa.log_val[ioa.nlog++] = (uint32_t)val;
		}
		if (ioa.sel >= 0x10 && ioa.sel < 0x10 + 48)
			ioa.rte[ioa.sel - 0x10] = (uint32_t)val;
	}
}
static uint64_t absent_read(void *ctx, uint64_t off, unsigned size) { return ~0ull; }
static void absent_write(void *ctx, uint64_t off, uint64_t val, unsigned size) {}

static struct vtd_model m;
static struct vtd_unit *u;

static uint64_t rte(unsigned pin)
{
	return ioa.rte[2 * pin] | (uint64_t)ioa.rte[2 * pin + 1] << 32;
}

static void setup(bool with_ir)
{
	struct vtd_unit_cfg vc = {.no_fault_irq = true};

	vtd_test_teardown();
	vtd_test_frames();
	ioapic_reset();
	fake_tsc_step = 1000;
	vtd_model_init(&m, VTD_TEST_BASE);
	CHECK_EQ(vtd_test_bringup(&m, &vc, &u), 0);
	struct fake_mmio f = {IOAPIC_BASE, 0x20, ioa_read, ioa_write, NULL};
	struct fake_mmio g = {IOAPIC_ABSENT, 0x20, absent_read, absent_write, NULL};
	fake_mmio_add(&f);
	fake_mmio_add(&g);
	memset(&ioa, 0, sizeof(ioa));
	for (unsigned p = 0; p < 24; p++)
		ioa.rte[2 * p] = 0x30 + p; /* firmware: unmasked, compatibility format */
	no_madt = false;
	if (with_ir) {
		struct ir_cfg c = {256, false, DMAR_FLAG_INTR_REMAP};
		CHECK_EQ(ir_enable(u, &c), 0);
	}
}

static void teardown(void)
{
	CHECK(iommu_irq_routes() == NULL);
	if (ir_enabled(u))
		CHECK_EQ(ir_disable(u), 0);
	ioapic_reset();
	vtd_test_teardown();
	fake_tsc_step = 1;
}

static void h(unsigned v, void *ctx) {}

TEST(init_masks_everything)
{
	setup(false);
	CHECK_EQ(ioapic_init(), 1); /* the absent one is skipped */
	CHECK_EQ(ioapic_count(), 1);
	const struct ioapic *io = ioapic_at(0);
	CHECK(io && io->npins == 24 && io->gsi_base == 0 && io->base == IOAPIC_BASE);
	CHECK(ioapic_at(1) == NULL);
	for (unsigned p = 0; p < 24; p++) {
		CHECK(rte(p) & IOAPIC_RTE_MASKED);
		CHECK_EQ(rte(p) >> 32, 0);
	}
	CHECK_EQ(ioapic_set_sid(7, 0xff00), -ENOENT);
	CHECK_EQ(ioapic_set_sid(0, 0xff00), 0);
	CHECK(ioapic_at(0)->sid_known);
	no_madt = true;
	CHECK_EQ(ioapic_init(), -ENODEV);
	CHECK_EQ(ioapic_count(), 0);
	teardown();
}

TEST(rte_remappable_encoding)
{
	uint64_t r = ir_ioapic_rte(0x8005, true, true, 0x41, false);

	CHECK_EQ(r & 0xff, 0x41);		/* vector = IRTE vector */
	CHECK_EQ((r >> 8) & 7, 0);		/* bits 10:8 zero */
	CHECK_EQ((r >> 11) & 1, 1);		/* index[15] */
	CHECK_EQ((r >> 13) & 1, 1);		/* active low */
	CHECK_EQ((r >> 15) & 1, 1);		/* level */
	CHECK_EQ((r >> 16) & 1, 0);		/* unmasked */
	CHECK_EQ((r >> 17) & 0x7fffffffull, 0); /* reserved 47:17 */
	CHECK_EQ((r >> 48) & 1, 1);		/* remappable format */
	CHECK_EQ(r >> 49, 5);			/* index[14:0] */
	r = ir_ioapic_rte(3, false, false, 0x22, true);
	CHECK_EQ(r, 0x22ull | IOAPIC_RTE_MASKED | 1ull << 48 | 3ull << 49);
}

TEST(route_isa4_edge_through_irte)
{
	struct iommu_irq_route *s;
	uint64_t lo, hi;

	setup(true);
	CHECK_EQ(ioapic_init(), 1);
	CHECK_EQ(ioapic_set_sid(0, 0xff00), 0);
	ioa.nlog = 0;
	CHECK_EQ(ioapic_route_isa_remapped(4, &u->iu, h, NULL, &s), 0);
	CHECK_EQ(s->kind, IOMMU_IRQ_IOAPIC);
	CHECK_EQ(s->gsi, 4);
	CHECK_EQ(s->bdf, 0xff00);
	CHECK(iommu_irq_routes() == s);
	uint64_t r = rte(4);
	CHECK_EQ(r, ir_ioapic_rte(s->index, false, false, (uint8_t)s->vector, false));
	CHECK_EQ(ir_get(u, s->index, &lo, &hi), 0);
	CHECK_EQ(lo, 1ull | (uint64_t)s->vector << 16 | 1ull << 40); /* edge, dest 1 */
	CHECK_EQ(hi, 0xff00ull | 1ull << 18);			     /* SVT=1, IOAPIC SID */
	/* the RTE was written masked first: low(masked), high, low */
	CHECK_EQ(ioa.nlog, 3);
	CHECK_EQ(ioa.log_reg[0], IOAPIC_REG_RTE(4));
	CHECK(ioa.log_val[0] & IOAPIC_RTE_MASKED);
	CHECK_EQ(ioa.log_reg[1], IOAPIC_REG_RTE(4) + 1);
	CHECK_EQ(ioa.log_reg[2], IOAPIC_REG_RTE(4));
	CHECK_EQ(ioa.log_val[2] & IOAPIC_RTE_MASKED, 0);

	/* retarget: IRTE and the RTE's vector follow */
	vtd_test_irq_result = 0x66;
	unsigned nv;
	CHECK_EQ(iommu_irq_route_retarget(s, &nv), 0);
	CHECK_EQ(nv, 0x66);
	CHECK_EQ(rte(4) & 0xff, 0x66);
	CHECK_EQ(rte(4) & IOAPIC_RTE_MASKED, 0);
	CHECK_EQ(ir_get(u, s->index, &lo, &hi), 0);
	CHECK_EQ((lo >> 16) & 0xff, 0x66);

	CHECK_EQ(ioapic_route_isa_remapped(4, &u->iu, h, NULL, &s), -EBUSY);
	unsigned idx = s->index;
	ioapic_unroute(s);
	CHECK(rte(4) & IOAPIC_RTE_MASKED);
	CHECK_EQ(ir_get(u, idx, &lo, &hi), 0);
	CHECK_EQ(lo, 0);
	teardown();
}

TEST(route_uses_overrides)
{
	struct iommu_irq_route *s9, *s0;
	uint64_t lo, hi;

	setup(true);
	CHECK_EQ(ioapic_init(), 1);
	CHECK_EQ(ioapic_set_sid(0, 0xf0f8), 0);
	CHECK_EQ(ioapic_route_isa_remapped(9, &u->iu, h, NULL, &s9), 0);
	CHECK(rte(9) & IOAPIC_RTE_LEVEL);
	CHECK(rte(9) & IOAPIC_RTE_POLARITY_LOW);
	CHECK_EQ(ir_get(u, s9->index, &lo, &hi), 0);
	CHECK(lo & IRTE_LO_TM); /* trigger matches the RTE */
	CHECK_EQ(hi & 0xffff, 0xf0f8);
	CHECK_EQ(ioapic_route_isa_remapped(0, &u->iu, h, NULL, &s0), 0);
	CHECK_EQ(s0->gsi, 2);
	CHECK(rte(2) & IR_RTE_FORMAT);
	CHECK(rte(0) & IOAPIC_RTE_MASKED); /* pin 0 untouched */
	ioapic_unroute(s9);
	ioapic_unroute(s0);
	teardown();
}

TEST(route_refusals)
{
	struct iommu_irq_route *s;

	setup(true);
	CHECK_EQ(ioapic_init(), 1);
	CHECK_EQ(ioapic_route_isa_remapped(16, &u->iu, h, NULL, &s), -EINVAL);
	CHECK_EQ(ioapic_route_isa_remapped(4, &u->iu, h, NULL, &s), -ENODEV); /* no SID yet */
	CHECK(strstr(test_con_buf, "no DMAR IOAPIC scope"));
	CHECK(rte(4) & IOAPIC_RTE_MASKED);
	CHECK_EQ(ioapic_set_sid(0, 0xff00), 0);
	madt_isos[0].gsi = 40; /* IRQ0 → a GSI nobody has */
	CHECK_EQ(ioapic_route_isa_remapped(0, &u->iu, h, NULL, &s), -ENOENT);
	madt_isos[0].gsi = 2;
	vtd_test_irq_result = -ENOSPC;
	CHECK_EQ(ioapic_route_isa_remapped(4, &u->iu, h, NULL, &s), -ENOSPC);
	vtd_test_irq_result = 0x40;
	unsigned freed = vtd_test_irq_freed;
	m.qi_hang = true; /* IEC never completes: the IRTE (not present) and
			     the vector stay held until it can be invalidated */
	CHECK_EQ(ioapic_route_isa_remapped(4, &u->iu, h, NULL, &s), -ETIMEDOUT);
	m.qi_hang = false;
	CHECK_EQ(vtd_test_irq_freed, freed);
	CHECK_EQ(ir_free(u, 0, 1), 0);
	CHECK(rte(4) & IOAPIC_RTE_MASKED);
	CHECK(iommu_irq_routes() == NULL);
	CHECK_EQ(ir_disable(u), 0);
	CHECK_EQ(ioapic_route_isa_remapped(4, &u->iu, h, NULL, &s), -ENODEV); /* IR off */
	teardown();
}
