// SOURCES: drivers/msi.c iommu/irq_route.c iommu/vtd/ir.c drivers/pci.c tests/unit/fake_pci.c kernel/frame.c lib/parse.c lib/bdf.c
/* tests/unit/test_msi.c — drivers/msi.c against a fake PCI configuration
 * space (fake_pci.c): MSI in remappable format (64-bit and 32-bit forms,
 * mask bits, MME, INTx off), MSI-X entries, the interrupt route each gets
 * through the IOMMU core and the IRTE behind it (SVT forms, behind a
 * PCIe-to-PCI bridge), tear-down.  The VT-d driver's own registers are a
 * small model of the IR registers and stubs of vtd_gcmd/vtd_invalidate
 * (test_ir.c runs ir.c against the full register model). */
#include <stdlib.h>
#include <string.h>

#include "drivers/msi.h"
#include "drivers/pci.h"
#include "drivers/pci_regs.h"
#include "fake_hw.h"
#include "fake_pci.h"
#include "hw/hw.h"
#include "iommu/vtd/dmar.h"
#include "iommu/vtd/ir.h"
#include "iommu/vtd/qi.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd_priv.h"
#include "kernel/frame.h"
#include "test.h"

/* ---- a unit: GSTS/GCMD/IRTA/CAP and stubs of the VT-d driver */
#define UNIT_BASE 0xfed90000ull
static uint32_t gsts;
static uint64_t irta;
static unsigned iec_index_count, iec_last_idx, iec_last_im;
static int inval_result;

static uint64_t unit_read(void *ctx, uint64_t off, unsigned size)
{
	if (off == VTD_GSTS_REG)
		return gsts;
	if (off == VTD_IRTA_REG)
		return irta;
	return 0;
}
static void unit_write(void *ctx, uint64_t off, uint64_t val, unsigned size)
{
	if (off == VTD_IRTA_REG)
		irta = val;
	/* GCMD writes: CFI ignored, as QEMU does */
}

int vtd_gcmd(struct vtd_unit *u, uint32_t bit, bool set)
{
	if (bit == VTD_GCMD_SIRTP)
		gsts |= VTD_GSTS_IRTPS;
	else
		gsts = set ? gsts | bit : gsts & ~bit;
	return 0;
}
void vtd_sync(const struct vtd_unit *u, const void *p, uint64_t len) {}
struct qi_desc qi_iec_global(void) { return (struct qi_desc){VTD_INV_IEC, 0}; }
struct qi_desc qi_iec_index(uint16_t idx, unsigned im)
{
	return (struct qi_desc){
		VTD_INV_IEC | VTD_INV_IEC_G_INDEX | (uint64_t)im << 27 | (uint64_t)idx << 32, 0};
}
int vtd_invalidate(struct vtd_unit *u, const struct qi_desc *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (d[i].lo & VTD_INV_IEC_G_INDEX) {
			iec_index_count++;
			iec_last_idx = (unsigned)(d[i].lo >> 32);
			iec_last_im = (unsigned)(d[i].lo >> 27) & 0x1f;
		}
	return inval_result;
}

/* ---- arch stubs */
static int next_vector = 0x40, vec_fail;
static unsigned vec_freed;
int irq_alloc_vector(irq_handler_fn fn, void *ctx) { return vec_fail ? vec_fail : next_vector++; }
void irq_free_vector(unsigned v) { vec_freed++; }
uint64_t irq_count(unsigned v) { return 0; }
uint32_t irq_dest_apic_id(void) { return 2; }

/* ---- the PCI topology */
#define ECAM 0xb0000000ull
#define MSIX_BAR 0xfe100000ull
static struct vtd_unit unit;
static uint32_t msix_table[64]; /* 16 entries x 4 dwords */
static uint64_t msix_read(void *ctx, uint64_t off, unsigned size) { return msix_table[off / 4]; }
static void msix_write(void *ctx, uint64_t off, uint64_t val, unsigned size)
{
	msix_table[off / 4] = (uint32_t)val;
}

static struct fake_pci_fn *f_edu, *f_m32, *f_br, *f_old, *f_x;

static void wm(struct fake_pci_fn *f, unsigned off, unsigned len, uint32_t mask)
{
	for (unsigned i = 0; i < len; i++)
		f->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

static void msi_cap(struct fake_pci_fn *f, uint8_t pos, uint16_t ctrl)
{
	bool is64 = ctrl & PCI_MSI_FLAGS_64BIT, mask = ctrl & PCI_MSI_FLAGS_MASKBIT;

	fake_pci_cap(f, pos, PCI_CAP_ID_MSI);
	fake_pci_set16(f, pos + 2, ctrl);
	wm(f, pos + 2, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
	wm(f, pos + 4, 4, 0xfffffffc);
	if (is64) {
		wm(f, pos + 8, 4, ~0u);
		wm(f, pos + 12, 2, 0xffff);
		if (mask)
			wm(f, pos + 16, 4, ~0u);
	} else {
		wm(f, pos + 8, 2, 0xffff);
		if (mask)
			wm(f, pos + 12, 4, ~0u);
	}
}

static void setup(void)
{
	static void *mem;
	struct fake_pci *p;

	fake_pci_reset();
	p = fake_pci_create(ECAM, 0, 0, 0x3f);
	/* 00:02.0 edu: MSI at 0x40, one vector, 64-bit, no mask */
	f_edu = fake_pci_add(p, 0, 2, 0, 0x1234, 0x11e8, 0x00ff00, 0);
	wm(f_edu, PCI_COMMAND, 2, 0x0407);
	msi_cap(f_edu, 0x40, PCI_MSI_FLAGS_64BIT);
	/* 00:03.0: 32-bit MSI, 4 vectors capable, per-vector mask */
	f_m32 = fake_pci_add(p, 0, 3, 0, 0x8086, 0x1111, 0x020000, 0);
	wm(f_m32, PCI_COMMAND, 2, 0x0407);
	msi_cap(f_m32, 0x50, PCI_MSI_FLAGS_MASKBIT | 0x0004);
	/* 00:04.0 root port → 01:00.0 PCIe-to-PCI bridge → 02:01.0 */
	struct fake_pci_fn *rp = fake_pci_add(p, 0, 4, 0, 0x8086, 0x2222, 0x060400, 1);
	fake_pci_bridge_buses(rp, 0, 1, 2);
	fake_pci_cap_pcie(rp, 0x40, PCI_EXP_TYPE_ROOT_PORT);
	f_br = fake_pci_add(p, 1, 0, 0, 0x8086, 0x3333, 0x060400, 1);
	fake_pci_bridge_buses(f_br, 1, 2, 2);
	fake_pci_cap_pcie(f_br, 0x40, PCI_EXP_TYPE_PCI_BRIDGE);
	f_old = fake_pci_add(p, 2, 1, 0, 0x8086, 0x4444, 0x020000, 0);
	msi_cap(f_old, 0x60, PCI_MSI_FLAGS_64BIT);
	/* 00:05.0: MSI-X, 16 entries in BAR0 at offset 0x800, and MSI */
	f_x = fake_pci_add(p, 0, 5, 0, 0x8086, 0x5555, 0x020000, 0);
	wm(f_x, PCI_COMMAND, 2, 0x0407);
	fake_pci_set16(f_x, PCI_COMMAND, PCI_COMMAND_MEMORY);
	fake_pci_bar32(f_x, 0, (uint32_t)MSIX_BAR, 0x1000, false);
	msi_cap(f_x, 0x40, PCI_MSI_FLAGS_64BIT);
	fake_pci_cap(f_x, 0x70, PCI_CAP_ID_MSIX);
	fake_pci_set16(f_x, 0x72, 15);
	wm(f_x, 0x72, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	fake_pci_set32(f_x, 0x74, 0x800 | 0);

	struct pci_ecam w = {ECAM, 0, 0, 0x3f};
	CHECK_EQ(pci_init(&w, 1), 0);
	struct fake_mmio u = {UNIT_BASE, 0x1000, unit_read, unit_write, NULL};
	fake_mmio_add(&u);
	struct fake_mmio x = {MSIX_BAR + 0x800, 16 * 16, msix_read, msix_write, NULL};
	fake_mmio_add(&x);
	for (unsigned i = 0; i < 16; i++)
		msix_table[i * 4 + 3] = 0; /* firmware left them unmasked */

	if (!mem)
		mem = aligned_alloc(1 << 21, 8 << 20);
	frame_init();
	CHECK_EQ(frame_add_range((uint64_t)(uintptr_t)mem, 8 << 20), 0);

	memset(&unit, 0, sizeof(unit));
	unit.base = UNIT_BASE;
	unit.ecap = VTD_ECAP_IR | VTD_ECAP_QI;
	unit.qi_on = true;
	gsts = VTD_GSTS_QIES;
	next_vector = 0x40;
	vec_fail = 0;
	vec_freed = 0;
	inval_result = 0;
	struct ir_cfg c = {256, false, DMAR_FLAG_INTR_REMAP};
	CHECK_EQ(ir_enable(&unit, &c), 0);
}

static void teardown(void)
{
	CHECK(iommu_irq_routes() == NULL);
	CHECK_EQ(ir_disable(&unit), 0); /* -EBUSY if an IRTE leaked */
	fake_pci_reset();
}

static void h(unsigned v, void *ctx) {}

TEST(msi_64bit_edu_like)
{
	struct iommu_irq_route *s;
	uint64_t lo, hi;

	setup();
	struct pci_dev *d = pci_find(0, 0, 2, 0);
	CHECK(d && d->cap_msi == 0x40);
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s), 0);
	CHECK_EQ(s->vector, 0x40);
	CHECK_EQ(s->kind, IOMMU_IRQ_MSI);
	CHECK_EQ(s->bdf, 0x0010);
	CHECK(iommu_irq_routes() == s);
	/* capability: remappable address with the handle, data 0, enabled, MME 0 */
	CHECK_EQ(fake_pci_get32(f_edu, 0x44), ir_msi_addr(s->index));
	CHECK_EQ(fake_pci_get32(f_edu, 0x44) & 0xfff00000u, 0xfee00000u);
	CHECK(fake_pci_get32(f_edu, 0x44) & (1u << 4)); /* interrupt format */
	CHECK(fake_pci_get32(f_edu, 0x44) & (1u << 3)); /* SHV */
	CHECK_EQ((fake_pci_get32(f_edu, 0x44) >> 5) & 0x7fff, s->index);
	CHECK_EQ(fake_pci_get32(f_edu, 0x48), 0);
	CHECK_EQ(fake_pci_get16(f_edu, 0x4c), 0);
	CHECK_EQ(fake_pci_get16(f_edu, 0x42) & PCI_MSI_FLAGS_ENABLE, 1);
	CHECK_EQ(fake_pci_get16(f_edu, 0x42) & PCI_MSI_FLAGS_QSIZE, 0);
	CHECK(fake_pci_get16(f_edu, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
	/* the IRTE: present, vector, dest 2, edge, SVT=1 SID=00:02.0 */
	CHECK_EQ(ir_get(&unit, s->index, &lo, &hi), 0);
	CHECK_EQ(lo, 1ull | 0x40ull << 16 | 2ull << 40);
	CHECK_EQ(hi, 0x0010ull | 1ull << 18);
	CHECK_EQ(iec_last_idx, s->index);
	/* again while enabled */
	struct iommu_irq_route *s2;
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s2), -EBUSY);

	unsigned idx = s->index, iec0 = iec_index_count;
	msi_disable_remapped(s);
	CHECK_EQ(fake_pci_get16(f_edu, 0x42) & PCI_MSI_FLAGS_ENABLE, 0);
	CHECK_EQ(ir_get(&unit, idx, &lo, &hi), 0);
	CHECK_EQ(lo & 1, 0); /* not present */
	CHECK_EQ(lo, 0);
	CHECK(iec_index_count > iec0);
	CHECK_EQ(vec_freed, 1);
	teardown();
}

/* The fault-storm handler's Bus Master clear (interrupt context). */
static void storm(void *ctx) { pci_set_bus_master(ctx, false); }

/* A storm interrupt raised by the INTx-off read of the command register
 * waits until its write is done: the clear is not written back over. */
TEST(msi_intx_off_keeps_storm_bus_master_clear)
{
	struct iommu_irq_route *s;

	setup();
	struct pci_dev *d = pci_find(0, 0, 2, 0);

	fake_pci_set16(f_edu, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_irq_on_cmd_read(f_edu, storm, d);
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s), 0);
	CHECK_EQ(f_edu->cmd_irq_masked, 1);
	CHECK_EQ(f_edu->cmd_irq_taken, 0);
	CHECK(fake_irq_enabled);
	CHECK_EQ(fake_pci_get16(f_edu, PCI_COMMAND), PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	msi_disable_remapped(s);
	teardown();
}

TEST(msi_32bit_with_mask_bits)
{
	struct iommu_irq_route *s;

	setup();
	struct pci_dev *d = pci_find(0, 0, 3, 0);
	fake_pci_set16(f_m32, 0x52,
		       PCI_MSI_FLAGS_MASKBIT | 0x0004 | 0x0020); /* MME=2 from firmware */
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s), 0);
	CHECK_EQ(fake_pci_get32(f_m32, 0x54), ir_msi_addr(s->index));
	CHECK_EQ(fake_pci_get16(f_m32, 0x58), 0);   /* data at +8 in the 32-bit form */
	CHECK_EQ(fake_pci_get32(f_m32, 0x5c), ~1u); /* message 0 unmasked only */
	CHECK_EQ(fake_pci_get16(f_m32, 0x52) & PCI_MSI_FLAGS_QSIZE, 0);
	CHECK_EQ(fake_pci_get16(f_m32, 0x52) & PCI_MSI_FLAGS_ENABLE, 1);
	msi_disable_remapped(s);
	CHECK_EQ(fake_pci_get32(f_m32, 0x5c), ~0u); /* all masked */
	CHECK_EQ(fake_pci_get16(f_m32, 0x52) & PCI_MSI_FLAGS_ENABLE, 0);
	teardown();
}

TEST(msi_behind_pcie_to_pci_bridge_checks_bus_range)
{
	struct iommu_irq_route *s;
	uint64_t lo, hi;

	setup();
	struct pci_dev *d = pci_find(0, 2, 1, 0);
	CHECK(d);
	CHECK_EQ(d->alias_rid, 0x0200);
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s), 0);
	CHECK_EQ(ir_get(&unit, s->index, &lo, &hi), 0);
	CHECK_EQ((hi >> 18) & 3, IR_SVT_BUS);
	CHECK_EQ(hi & 0xffff, 0x0202);
	CHECK_EQ(s->entry.src_check, IR_SVT_BUS);
	msi_disable_remapped(s);
	teardown();
}

TEST(msi_errors_unwind)
{
	struct iommu_irq_route *s;
	uint64_t lo, hi;

	setup();
	struct pci_dev *br = pci_find(0, 1, 0, 0);
	CHECK_EQ(msi_enable_remapped(br, &unit.iu, h, NULL, &s), -ENOTSUP); /* no MSI cap */
	struct pci_dev *d = pci_find(0, 0, 2, 0);
	vec_fail = -ENOSPC;
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s), -ENOSPC);
	vec_fail = 0;
	CHECK_EQ(fake_pci_get16(f_edu, 0x42) & PCI_MSI_FLAGS_ENABLE, 0);
	/* IEC failure: device untouched, the IRTE left not present; while
	 * the IEC cannot be invalidated the entry and its vector stay held
	 * (a stale cached entry must not reach the vector's next owner) */
	inval_result = -ETIMEDOUT;
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s), -ETIMEDOUT);
	inval_result = 0;
	CHECK_EQ(vec_freed, 0);
	CHECK_EQ(fake_pci_get32(f_edu, 0x44), 0);
	CHECK_EQ(ir_get(&unit, 0, &lo, &hi), 0);
	CHECK_EQ(lo, 0);
	CHECK_EQ(ir_free(&unit, 0, 1), 0); /* the IEC works again: now it goes */
	/* IR off on the unit: never enabled, or turned off again */
	struct vtd_unit other;
	memset(&other, 0, sizeof(other));
	other.base = UNIT_BASE;
	other.ecap = unit.ecap;
	other.qi_on = true;
	CHECK_EQ(msi_enable_remapped(d, &other.iu, h, NULL, &s), -ENODEV);
	CHECK_EQ(msi_enable_remapped(d, NULL, h, NULL, &s), -ENODEV);
	CHECK_EQ(ir_disable(&unit), 0);
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s), -ENODEV);
	struct ir_cfg c = {256, false, DMAR_FLAG_INTR_REMAP};
	CHECK_EQ(ir_enable(&unit, &c), 0);
	CHECK_EQ(vec_freed, 0); /* refused before a vector was taken */
	CHECK_EQ(fake_pci_get16(f_edu, 0x42) & PCI_MSI_FLAGS_ENABLE, 0);
	/* table full */
	unsigned idx, n = 0;
	while (ir_alloc(&unit, 1, &idx) == 0)
		n++;
	CHECK_EQ(n, 256);
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &s), -ENOSPC);
	CHECK_EQ(vec_freed, 1);
	ir_free(&unit, 0, 256);
	/* MSI-X on: MSI refused */
	struct pci_dev *x = pci_find(0, 0, 5, 0);
	fake_pci_set16(f_x, 0x72, 15 | PCI_MSIX_FLAGS_ENABLE);
	CHECK_EQ(msi_enable_remapped(x, &unit.iu, h, NULL, &s), -EBUSY);
	fake_pci_set16(f_x, 0x72, 15);
	teardown();
}

TEST(msix_entries)
{
	struct iommu_irq_route *a, *b, *c;
	uint64_t lo, hi;

	setup();
	struct pci_dev *d = pci_find(0, 0, 5, 0);
	CHECK(d && d->cap_msix == 0x70);
	CHECK_EQ(msix_enable_remapped(d, &unit.iu, 16, h, NULL, &a), -EINVAL);
	CHECK_EQ(msix_enable_remapped(d, &unit.iu, 3, h, NULL, &a), 0);
	CHECK_EQ(a->kind, IOMMU_IRQ_MSIX);
	CHECK_EQ(msix_table[3 * 4 + 0], ir_msi_addr(a->index));
	CHECK_EQ(msix_table[3 * 4 + 1], 0);
	CHECK_EQ(msix_table[3 * 4 + 2], 0);
	CHECK_EQ(msix_table[3 * 4 + 3], 0); /* unmasked */
	CHECK_EQ(msix_table[5 * 4 + 3], 1); /* others masked */
	uint16_t ctrl = fake_pci_get16(f_x, 0x72);
	CHECK(ctrl & PCI_MSIX_FLAGS_ENABLE);
	CHECK(!(ctrl & PCI_MSIX_FLAGS_MASKALL));
	CHECK_EQ(msix_enable_remapped(d, &unit.iu, 3, h, NULL, &b), -EBUSY); /* entry in use */
	CHECK_EQ(msix_enable_remapped(d, &unit.iu, 5, h, NULL, &b), 0);
	CHECK(b->index != a->index); /* one IRTE per vector */
	CHECK(b->vector != a->vector);
	CHECK_EQ(msix_table[5 * 4 + 0], ir_msi_addr(b->index));
	CHECK_EQ(ir_get(&unit, b->index, &lo, &hi), 0);
	CHECK_EQ(hi, 0x0028ull | 1ull << 18);
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &c), -EBUSY); /* MSI-X on */
	msix_disable_remapped(a);
	CHECK_EQ(msix_table[3 * 4 + 3], 1);
	CHECK(fake_pci_get16(f_x, 0x72) & PCI_MSIX_FLAGS_ENABLE); /* b still uses it */
	msix_disable_remapped(b);
	CHECK_EQ(fake_pci_get16(f_x, 0x72) & PCI_MSIX_FLAGS_ENABLE, 0);
	/* MSI on: MSI-X refused */
	CHECK_EQ(msi_enable_remapped(d, &unit.iu, h, NULL, &c), 0);
	CHECK_EQ(msix_enable_remapped(d, &unit.iu, 0, h, NULL, &a), -EBUSY);
	msi_disable_remapped(c);
	teardown();
}
