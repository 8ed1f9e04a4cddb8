// SOURCES: drivers/pci.c console/cmd_pci.c lib/parse.c tests/unit/fake_pci.c lib/bdf.c
/*
 * tests/unit/test_pci.c — drivers/pci.c and console/cmd_pci.c against a fake
 * ECAM (tests/unit/fake_pci.c) holding this topology:
 *
 * segment 0, ECAM 0xb0000000, buses 0x00-0x3f
 *   00:00.0 host bridge                 00:01.0 edu-like endpoint, MSI, BAR0 1M
 *   00:02.0/.1/.3 multi-function (fn2 absent), 64-bit/IO/prefetch BARs
 *   00:03.0 fn0 without the MF bit (its fn1 must not be found)
 *   00:04.0 PCIe root port -> 01:00.0 PCIe endpoint (ATS, PASID, PRI)
 *   00:05.0 PCIe-to-PCI bridge (type 7) -> bus 2: 02:01.0, 02:02.0 and the
 *           conventional bridge 02:03.0 -> 03:00.0   (all alias 02:00.0)
 *   00:06.0 conventional PCI-PCI bridge -> 04:01.0, 04:02.0 (alias 00:06.0)
 *   00:07.0 bridge, secondary 0 (not above its bus)     -> skipped
 *   00:08.0 bridge, secondary 0x50 (outside the window) -> skipped
 *   00:09.0 bridge, secondary 1 (already scanned)       -> skipped
 *   00:0a.0 looping capability list    00:0b.0 cap pointer 0x22
 *   00:0c.0 unaligned first pointer    00:0d.0 looping extended list
 *   00:0e.0 no CAP_LIST bit; 64-bit BAR in the last slot
 *   00:10.0 root port -> 05:00.0 switch up -> 06:00.0 down -> 07:00.0
 *                                          -> 06:01.0 down -> 08:00.0
 *           PCIe-to-PCI (sec 9) -> 09:01.0 PCI bridge -> 0a:02.0, and
 *           0a:03.0 bridge with buses outside its parent's range -> skipped
 * segment 1, ECAM 0xc0000000, buses 0-0xf: 00:01.0 (same RID as seg 0's)
 * segment 2, ECAM 0xd0000000, buses 0x20-0x21: 20:00.0 (window not at bus 0)
 */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/irq.h"
#include "drivers/pci.h"
#include "drivers/pci_regs.h"
#include "fake_hw.h"
#include "fake_pci.h"
#include "test.h"

int pci_cmd_lspci(int argc, char **argv);
int pci_cmd_read(int argc, char **argv);
int pci_cmd_write(int argc, char **argv);

#define SEG0_BASE 0xb0000000ull
#define SEG1_BASE 0xc0000000ull
#define SEG2_BASE 0xd0000000ull
#define NFUNCS 35

static struct fake_pci *f0, *f1, *f2;
static const struct pci_ecam wins[3] = {
	{SEG0_BASE, 0, 0x00, 0x3f},
	{SEG1_BASE, 1, 0x00, 0x0f},
	{SEG2_BASE, 2, 0x20, 0x21},
};

static struct fake_pci_fn *bridge(struct fake_pci *p, uint8_t bus, uint8_t dev, uint16_t devid,
				  uint8_t sec, uint8_t sub)
{
	struct fake_pci_fn *f = fake_pci_add(p, bus, dev, 0, 0x1b36, devid, 0x060400, 1);

	fake_pci_bridge_buses(f, bus, sec, sub);
	return f;
}

static void build(void)
{
	struct fake_pci_fn *f;

	fake_pci_reset();
	f0 = fake_pci_create(SEG0_BASE, 0, 0x00, 0x3f);
	f1 = fake_pci_create(SEG1_BASE, 1, 0x00, 0x0f);
	f2 = fake_pci_create(SEG2_BASE, 2, 0x20, 0x21);

	f = fake_pci_add(f0, 0, 0, 0, 0x8086, 0x29c0, 0x060000, 0);
	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_MEMORY);
	fake_pci_bar32(f, 0, 0xe0000000, 0x1000, false);

	f = fake_pci_add(f0, 0, 1, 0, 0x1234, 0x11e8, 0x00ff00, 0);
	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_set16(f, PCI_STATUS, 0xa000); /* RW1C: master abort, parity error */
	fake_pci_bar32(f, 0, 0xfe000000, 0x100000, false);
	fake_pci_cap(f, 0x40, PCI_CAP_ID_MSI);

	f = fake_pci_add(f0, 0, 2, 0, 0x8086, 0x10d3, 0x020000, 0);
	fake_pci_multifunction(f);
	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_MEMORY);
	fake_pci_bar64(f, 0, 0x800000000ull, 0x400000000ull, true);
	fake_pci_bar_io(f, 2, 0xc000, 0x20, true);
	fake_pci_bar32(f, 3, 0xfebf0000, 0x1000, true);
	fake_pci_add(f0, 0, 2, 1, 0x8086, 0x10d4, 0x0c0330, 0);
	f = fake_pci_add(f0, 0, 2, 3, 0x8086, 0x10d5, 0x010601, 0);
	fake_pci_bar_io(f, 4, 0x1000f000, 0x100, false);

	fake_pci_add(f0, 0, 3, 0, 0x8086, 0x2000, 0x088000, 0);
	fake_pci_add(f0, 0, 3, 1, 0x8086, 0x2001, 0x088000, 0); /* hidden: no MF bit */

	f = bridge(f0, 0, 4, 0x000c, 1, 1); /* root port */
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_ROOT_PORT);
	fake_pci_cap(f, 0x50, PCI_CAP_ID_MSIX);
	fake_pci_ecap(f, 0x100, PCI_EXT_CAP_ID_ACS);
	fake_pci_ecap(f, 0x148, 0x0001); /* AER */
	fake_pci_bar32(f, 0, 0xfea00000, 0x1000, false);
	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_MEMORY);
	f = fake_pci_add(f0, 1, 0, 0, 0x1af4, 0x1041, 0x020000, 0);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_ENDPOINT);
	fake_pci_cap(f, 0x60, PCI_CAP_ID_MSIX);
	fake_pci_cap(f, 0x70, PCI_CAP_ID_MSI);
	fake_pci_ecap(f, 0x100, PCI_EXT_CAP_ID_ATS);
	fake_pci_ecap(f, 0x110, PCI_EXT_CAP_ID_PASID);
	fake_pci_ecap(f, 0x120, PCI_EXT_CAP_ID_PRI);
	fake_pci_bar64(f, 1, 0xfe800000, 0x4000, false);

	f = bridge(f0, 0, 5, 0x000e, 2, 3); /* PCIe-to-PCI */
	fake_pci_cap_pcie(f, 0x48, PCI_EXP_TYPE_PCI_BRIDGE);
	f = fake_pci_add(f0, 2, 1, 0, 0x1234, 0x0001, 0x020000, 0);
	fake_pci_set32(f, 0x100, 0x0001000f); /* junk that looks like ATS: not PCIe */
	fake_pci_add(f0, 2, 2, 0, 0x1234, 0x0002, 0x020000, 0);
	f = bridge(f0, 2, 3, 0x0001, 3, 3); /* conventional, nested */
	fake_pci_cap(f, 0x40, PCI_CAP_ID_MSI);
	fake_pci_add(f0, 3, 0, 0, 0x1234, 0x0003, 0x020000, 0);

	f = bridge(f0, 0, 6, 0x0001, 4, 4); /* conventional PCI-PCI */
	fake_pci_cap(f, 0x4c, PCI_CAP_ID_MSI);
	fake_pci_add(f0, 4, 1, 0, 0x1234, 0x0004, 0x020000, 0);
	fake_pci_add(f0, 4, 2, 0, 0x1234, 0x0005, 0x020000, 0);

	bridge(f0, 0, 7, 0x0001, 0, 0);
	bridge(f0, 0, 8, 0x0001, 0x50, 0x50);
	bridge(f0, 0, 9, 0x0001, 1, 1);

	f = fake_pci_add(f0, 0, 0xa, 0, 0x1234, 0x000a, 0xff0000, 0);
	fake_pci_cap(f, 0x40, PCI_CAP_ID_MSI);
	fake_pci_cap(f, 0x50, PCI_CAP_ID_MSIX);
	fake_pci_set8(f, 0x51, 0x40); /* 0x50 -> 0x40: a loop */

	f = fake_pci_add(f0, 0, 0xb, 0, 0x1234, 0x000b, 0xff0000, 0);
	fake_pci_cap(f, 0x40, PCI_CAP_ID_MSI);
	fake_pci_set8(f, 0x41, 0x22);

	f = fake_pci_add(f0, 0, 0xc, 0, 0x1234, 0x000c, 0xff0000, 0);
	fake_pci_cap(f, 0x44, PCI_CAP_ID_MSI);
	fake_pci_set8(f, PCI_CAPABILITY_LIST, 0x45);

	f = fake_pci_add(f0, 0, 0xd, 0, 0x1234, 0x000d, 0xff0000, 0);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_RC_END);
	fake_pci_ecap(f, 0x100, PCI_EXT_CAP_ID_ATS);
	fake_pci_ecap(f, 0x140, PCI_EXT_CAP_ID_ACS);
	fake_pci_set32(f, 0x140, fake_pci_get32(f, 0x140) | 0x100u << 20); /* back to 0x100 */

	f = fake_pci_add(f0, 0, 0xe, 0, 0x1234, 0x000e, 0xff0000, 0);
	fake_pci_cap(f, 0x40, PCI_CAP_ID_MSI);
	fake_pci_set8(f, PCI_STATUS, 0); /* CAP_LIST off: 0x34 means nothing */
	fake_pci_bar64(f, 5, 0xf0000000, 0x1000, false);

	f = bridge(f0, 0, 0x10, 0x000c, 5, 0xa);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_ROOT_PORT);
	f = fake_pci_add(f0, 5, 0, 0, 0x10b5, 0x8796, 0x060400, 1);
	fake_pci_bridge_buses(f, 5, 6, 0xa);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_UPSTREAM);
	f = fake_pci_add(f0, 6, 0, 0, 0x10b5, 0x8796, 0x060400, 1);
	fake_pci_bridge_buses(f, 6, 7, 7);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_DOWNSTREAM);
	fake_pci_ecap(f, 0x100, PCI_EXT_CAP_ID_ACS);
	fake_pci_set32(f, 0x100, fake_pci_get32(f, 0x100) | 0x0c0u << 20); /* bad next */
	f = fake_pci_add(f0, 6, 1, 0, 0x10b5, 0x8796, 0x060400, 1);
	fake_pci_bridge_buses(f, 6, 8, 0xa);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_DOWNSTREAM);
	f = fake_pci_add(f0, 7, 0, 0, 0x8086, 0x0953, 0x010802, 0);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_ENDPOINT);
	fake_pci_ecap(f, 0x100, PCI_EXT_CAP_ID_PASID);
	fake_pci_set32(f, 0x100, fake_pci_get32(f, 0x100) | 0x200u << 20);
	fake_pci_set32(f, 0x200, 0xffffffffu);
	f = bridge(f0, 8, 0, 0x000e, 9, 0xa);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_PCI_BRIDGE);
	bridge(f0, 9, 1, 0x0001, 0xa, 0xa);
	fake_pci_add(f0, 0xa, 2, 0, 0x1234, 0x0006, 0x020000, 0);
	bridge(f0, 0xa, 3, 0x0001, 0xb, 0xb);
	fake_pci_add(f0, 0xb, 0, 0, 0x1234, 0x0007, 0x020000, 0); /* unreachable */

	fake_pci_add(f1, 0, 1, 0, 0x1234, 0x11e8, 0x00ff00, 0);
	fake_pci_add(f2, 0x20, 0, 0, 0x1234, 0x0020, 0x020000, 0);
}

static void setup(void)
{
	build();
	test_con_reset();
	CHECK_EQ(pci_init(wins, 3), 0);
}

static struct pci_dev *dev_at(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	struct pci_dev *d = pci_find(seg, bus, dev, fn);

	CHECK(d != NULL);
	if (!d) {
		fprintf(stderr, "  missing %x:%02x:%02x.%x\n", seg, bus, dev, fn);
		abort();
	}
	return d;
}

TEST(enumerates_every_function_once)
{
	static const uint8_t bdfs[][3] = {
		{0, 0, 0},   {0, 1, 0},	  {0, 2, 0},   {0, 2, 1},   {0, 2, 3},	 {0, 3, 0},
		{0, 4, 0},   {0, 5, 0},	  {0, 6, 0},   {0, 7, 0},   {0, 8, 0},	 {0, 9, 0},
		{0, 0xa, 0}, {0, 0xb, 0}, {0, 0xc, 0}, {0, 0xd, 0}, {0, 0xe, 0}, {0, 0x10, 0},
		{1, 0, 0},   {2, 1, 0},	  {2, 2, 0},   {2, 3, 0},   {3, 0, 0},	 {4, 1, 0},
		{4, 2, 0},   {5, 0, 0},	  {6, 0, 0},   {6, 1, 0},   {7, 0, 0},	 {8, 0, 0},
		{9, 1, 0},   {0xa, 2, 0}, {0xa, 3, 0},
	};

	setup();
	CHECK_EQ(pci_count(), NFUNCS);
	/* order: a bus, then what is below its bridges; segments in order */
	for (unsigned i = 0; i < sizeof(bdfs) / sizeof(bdfs[0]); i++) {
		struct pci_dev *d = pci_at(i);

		CHECK_EQ(d->seg, 0);
		CHECK_EQ(d->bus, bdfs[i][0]);
		CHECK_EQ(d->dev, bdfs[i][1]);
		CHECK_EQ(d->fn, bdfs[i][2]);
		CHECK_EQ(d->unit, -1);
		CHECK(pci_find(0, d->bus, d->dev, d->fn) == d);
	}
	CHECK_EQ(pci_at(33)->seg, 1);
	CHECK_EQ(pci_at(34)->seg, 2);
	CHECK_EQ(pci_at(34)->bus, 0x20);
	CHECK(pci_at(NFUNCS) == NULL);
	CHECK(pci_find(0, 0, 2, 2) == NULL);   /* gap in a multi-function device */
	CHECK(pci_find(0, 0, 3, 1) == NULL);   /* fn0 without the MF bit */
	CHECK(pci_find(0, 0xb, 0, 0) == NULL); /* behind a skipped bridge */
	CHECK(pci_find(3, 0, 1, 0) == NULL);
	CHECK(strstr(test_con_buf, "pci: 35 functions, 21 groups") != NULL);
}

TEST(ids_class_header_and_parents)
{
	setup();
	struct pci_dev *d = dev_at(0, 0, 1, 0);

	CHECK_EQ(d->vendor, 0x1234);
	CHECK_EQ(d->device, 0x11e8);
	CHECK_EQ(d->class, 0x00ff00);
	CHECK_EQ(d->hdr_type, 0);
	CHECK(!d->is_bridge && !d->is_pcie);
	CHECK(d->parent == NULL);
	CHECK_EQ(dev_at(0, 0, 2, 3)->class, 0x010601);
	CHECK_EQ(dev_at(0, 0, 2, 1)->device, 0x10d4);

	struct pci_dev *rp = dev_at(0, 0, 4, 0);
	CHECK(rp->is_bridge && rp->is_pcie);
	CHECK_EQ(rp->hdr_type, 1);
	CHECK_EQ(rp->pcie_type, PCI_EXP_TYPE_ROOT_PORT);
	CHECK_EQ(rp->secondary, 1);
	CHECK_EQ(rp->subordinate, 1);
	CHECK(dev_at(0, 1, 0, 0)->parent == rp);
	CHECK_EQ(dev_at(0, 1, 0, 0)->pcie_type, PCI_EXP_TYPE_ENDPOINT);

	struct pci_dev *p2p = dev_at(0, 0, 5, 0), *inner = dev_at(0, 2, 3, 0),
		       *leaf = dev_at(0, 3, 0, 0);
	CHECK_EQ(p2p->pcie_type, PCI_EXP_TYPE_PCI_BRIDGE);
	CHECK_EQ(p2p->secondary, 2);
	CHECK_EQ(p2p->subordinate, 3);
	CHECK(inner->is_bridge && !inner->is_pcie);
	CHECK(leaf->parent == inner && inner->parent == p2p && p2p->parent == NULL);

	CHECK_EQ(dev_at(0, 5, 0, 0)->pcie_type, PCI_EXP_TYPE_UPSTREAM);
	CHECK_EQ(dev_at(0, 6, 1, 0)->pcie_type, PCI_EXP_TYPE_DOWNSTREAM);
	CHECK(dev_at(0, 0xa, 2, 0)->parent == dev_at(0, 9, 1, 0));
	CHECK(dev_at(0, 9, 1, 0)->parent == dev_at(0, 8, 0, 0));
	CHECK_EQ(dev_at(2, 0x20, 0, 0)->device, 0x0020);
}

TEST(bogus_bridges_logged_and_skipped)
{
	setup();
	CHECK(strstr(test_con_buf,
		     "pci: 00:07.0 bridge secondary bus 0x00 is not above its own bus") != NULL);
	CHECK(strstr(test_con_buf,
		     "pci: 00:08.0 bridge secondary bus 0x50 is outside the segment's ECAM range") !=
	      NULL);
	CHECK(strstr(test_con_buf, "pci: 00:09.0 bridge secondary bus 0x01 was already scanned") !=
	      NULL);
	CHECK(strstr(test_con_buf,
		     "pci: 0a:03.0 bridge secondary bus 0x0b is outside its parent") != NULL);
	CHECK(dev_at(0, 0, 7, 0)->is_bridge);
	/* firmware's numbers are left alone */
	CHECK_EQ(fake_pci_get8(fake_pci_fn_at(f0, 0, 7, 0), PCI_SECONDARY_BUS), 0);
	CHECK_EQ(fake_pci_get8(fake_pci_fn_at(f0, 0, 0x10, 0), PCI_SUBORDINATE_BUS), 0xa);
}

TEST(subordinate_below_secondary_skipped)
{
	build();
	fake_pci_bridge_buses(fake_pci_fn_at(f0, 0, 6, 0), 0, 4, 3);
	test_con_reset();
	CHECK_EQ(pci_init(wins, 3), 0);
	CHECK(strstr(test_con_buf,
		     "00:06.0 bridge secondary bus 0x04 is above its subordinate bus") != NULL);
	CHECK(pci_find(0, 4, 1, 0) == NULL);
	CHECK_EQ(pci_count(), NFUNCS - 2);
}

TEST(bars_sized)
{
	setup();
	struct pci_dev *d = dev_at(0, 0, 1, 0);
	CHECK_EQ(d->bar[0].base, 0xfe000000);
	CHECK_EQ(d->bar[0].size, 0x100000);
	CHECK(!d->bar[0].io && !d->bar[0].mem64 && !d->bar[0].prefetch);
	for (int i = 1; i < 6; i++)
		CHECK_EQ(d->bar[i].size, 0);

	d = dev_at(0, 0, 2, 0);
	CHECK_EQ(d->bar[0].base, 0x800000000ull);
	CHECK_EQ(d->bar[0].size, 0x400000000ull);
	CHECK(d->bar[0].mem64 && d->bar[0].prefetch && !d->bar[0].io);
	CHECK_EQ(d->bar[1].size, 0); /* upper half */
	CHECK_EQ(d->bar[2].base, 0xc000);
	CHECK_EQ(d->bar[2].size, 0x20);
	CHECK(d->bar[2].io && !d->bar[2].mem64);
	CHECK_EQ(d->bar[3].base, 0xfebf0000);
	CHECK_EQ(d->bar[3].size, 0x1000);
	CHECK(d->bar[3].prefetch && !d->bar[3].mem64);
	CHECK_EQ(d->bar[4].size, 0);

	d = dev_at(0, 0, 2, 3); /* 32-bit I/O decoder */
	CHECK_EQ(d->bar[4].base, 0x1000f000);
	CHECK_EQ(d->bar[4].size, 0x100);
	CHECK(d->bar[4].io);

	d = dev_at(0, 1, 0, 0); /* 64-bit in slots 1-2 */
	CHECK_EQ(d->bar[0].size, 0);
	CHECK_EQ(d->bar[1].base, 0xfe800000);
	CHECK_EQ(d->bar[1].size, 0x4000);
	CHECK(d->bar[1].mem64 && !d->bar[1].prefetch);
	CHECK_EQ(d->bar[2].size, 0);

	d = dev_at(0, 0, 4, 0); /* bridge: two BARs only */
	CHECK_EQ(d->bar[0].base, 0xfea00000);
	CHECK_EQ(d->bar[0].size, 0x1000);

	d = dev_at(0, 0, 0xe, 0); /* 64-bit BAR in the last slot */
	CHECK_EQ(d->bar[5].size, 0);
	CHECK(strstr(test_con_buf, "00:0e.0 64-bit BAR5 has no upper half") != NULL);
}

TEST(bar_sizing_restores_and_disables_decode)
{
	setup();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 0, 1, 0);

	/* BARs and command restored, decode was off while all-ones sat in a BAR */
	CHECK_EQ(fake_pci_get32(f, 0x10), 0xfe000000);
	CHECK_EQ(fake_pci_get32(f, 0x14), 0);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND),
		 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CHECK_EQ(f->bar_allones, 6);
	CHECK_EQ(f->sized_decode_on, 0);
	CHECK_EQ(f->cmd_writes, 2);
	/* the RW1C status bits survived the 16-bit command writes */
	CHECK_EQ(fake_pci_get16(f, PCI_STATUS) & 0xf900, 0xa000);

	f = fake_pci_fn_at(f0, 0, 2, 0);
	CHECK_EQ(fake_pci_get32(f, 0x10), 0x0000000c);
	CHECK_EQ(fake_pci_get32(f, 0x14), 0x8);
	CHECK_EQ(fake_pci_get32(f, 0x18), 0xc001);
	CHECK_EQ(f->sized_decode_on, 0);

	f = fake_pci_fn_at(f0, 0, 4, 0); /* bridge: 2 BARs, bus numbers untouched */
	CHECK_EQ(f->bar_allones, 2);
	CHECK_EQ(fake_pci_get8(f, PCI_SECONDARY_BUS), 1);
	CHECK_EQ(f->sized_decode_on, 0);

	/* host bridge keeps decoding (never toggled) */
	f = fake_pci_fn_at(f0, 0, 0, 0);
	CHECK_EQ(f->cmd_writes, 0);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
	CHECK_EQ(dev_at(0, 0, 0, 0)->bar[0].size, 0x1000);

	/* decode already off: command never written */
	CHECK_EQ(fake_pci_fn_at(f0, 0, 2, 1)->cmd_writes, 0);
}

TEST(capabilities)
{
	setup();
	struct pci_dev *d = dev_at(0, 0, 1, 0);
	CHECK_EQ(d->cap_msi, 0x40);
	CHECK_EQ(d->cap_msix, 0);
	CHECK_EQ(d->cap_pcie, 0);
	CHECK_EQ(d->ecap_ats | d->ecap_pasid | d->ecap_pri | d->ecap_acs, 0);

	d = dev_at(0, 0, 4, 0);
	CHECK_EQ(d->cap_pcie, 0x40);
	CHECK_EQ(d->cap_msix, 0x50);
	CHECK_EQ(d->cap_msi, 0);
	CHECK_EQ(d->ecap_acs, 0x100);
	CHECK_EQ(d->ecap_ats, 0);

	d = dev_at(0, 1, 0, 0);
	CHECK_EQ(d->cap_pcie, 0x40);
	CHECK_EQ(d->cap_msix, 0x60);
	CHECK_EQ(d->cap_msi, 0x70);
	CHECK_EQ(d->ecap_ats, 0x100);
	CHECK_EQ(d->ecap_pasid, 0x110);
	CHECK_EQ(d->ecap_pri, 0x120);
	CHECK_EQ(d->ecap_acs, 0);

	d = dev_at(0, 2, 1, 0); /* conventional: extended space not walked */
	CHECK(!d->is_pcie);
	CHECK_EQ(d->ecap_ats, 0);

	CHECK_EQ(dev_at(0, 0, 6, 0)->cap_msi, 0x4c);
	CHECK(!dev_at(0, 0, 6, 0)->is_pcie);
}

TEST(capability_walks_bounded)
{
	setup();
	struct pci_dev *d = dev_at(0, 0, 0xa, 0); /* 0x40 -> 0x50 -> 0x40 ... */
	CHECK_EQ(d->cap_msi, 0x40);
	CHECK_EQ(d->cap_msix, 0x50);
	CHECK(strstr(test_con_buf, "00:0a.0 capability list longer than 48 entries") != NULL);

	d = dev_at(0, 0, 0xb, 0);
	CHECK_EQ(d->cap_msi, 0x40);
	CHECK(strstr(test_con_buf, "00:0b.0 bad capability pointer 0x22") != NULL);

	d = dev_at(0, 0, 0xc, 0);
	CHECK_EQ(d->cap_msi, 0);
	CHECK(strstr(test_con_buf, "00:0c.0 bad capability pointer 0x45") != NULL);

	d = dev_at(0, 0, 0xd, 0);
	CHECK(d->is_pcie);
	CHECK_EQ(d->pcie_type, PCI_EXP_TYPE_RC_END);
	CHECK_EQ(d->ecap_ats, 0x100);
	CHECK_EQ(d->ecap_acs, 0x140);
	CHECK(strstr(test_con_buf, "00:0d.0 extended capability list loops at 0x100") != NULL);

	d = dev_at(0, 0, 0xe, 0);
	CHECK_EQ(d->cap_msi, 0);

	d = dev_at(0, 6, 0, 0);
	CHECK_EQ(d->ecap_acs, 0x100);
	CHECK(strstr(test_con_buf, "06:00.0 bad extended capability pointer 0xc0") != NULL);

	d = dev_at(0, 7, 0, 0); /* ends at an all-ones header */
	CHECK_EQ(d->ecap_pasid, 0x100);
	CHECK_EQ(d->ecap_ats, 0);
}

TEST(aliases)
{
	setup();
	CHECK_EQ(dev_at(0, 0, 1, 0)->alias_rid, 0x0008);
	CHECK_EQ(dev_at(0, 1, 0, 0)->alias_rid, 0x0100); /* below a root port: own */
	CHECK_EQ(dev_at(0, 0, 5, 0)->alias_rid, 0x0028); /* the bridge itself: own */
	/* below the PCIe-to-PCI bridge: (secondary bus, 0, 0) */
	CHECK_EQ(dev_at(0, 2, 1, 0)->alias_rid, 0x0200);
	CHECK_EQ(dev_at(0, 2, 2, 0)->alias_rid, 0x0200);
	CHECK_EQ(dev_at(0, 2, 3, 0)->alias_rid, 0x0200);
	/* nested conventional bridge: the outermost alias wins over 02:03.0 */
	CHECK_EQ(dev_at(0, 3, 0, 0)->alias_rid, 0x0200);
	/* below a conventional PCI-PCI bridge: the bridge's own RID */
	CHECK_EQ(dev_at(0, 0, 6, 0)->alias_rid, 0x0030);
	CHECK_EQ(dev_at(0, 4, 1, 0)->alias_rid, 0x0030);
	CHECK_EQ(dev_at(0, 4, 2, 0)->alias_rid, 0x0030);
	/* through a switch: PCIe all the way down to 08:00.0 */
	CHECK_EQ(dev_at(0, 7, 0, 0)->alias_rid, 0x0700);
	CHECK_EQ(dev_at(0, 8, 0, 0)->alias_rid, 0x0800);
	CHECK_EQ(dev_at(0, 9, 1, 0)->alias_rid, 0x0900);
	CHECK_EQ(dev_at(0, 0xa, 2, 0)->alias_rid, 0x0900);
	CHECK_EQ(dev_at(0, 0xa, 3, 0)->alias_rid, 0x0900);
	CHECK_EQ(pci_dev_rid(dev_at(0, 0xa, 2, 0)), 0x0a10);
}

TEST(groups)
{
	struct pci_dev *m[8];

	setup();
	/* enumeration order from 0 */
	CHECK_EQ(dev_at(0, 0, 0, 0)->group, 0);
	CHECK_EQ(dev_at(0, 0, 1, 0)->group, 1);
	CHECK_EQ(dev_at(0, 0, 2, 0)->group, 2);
	/* conventional functions of one device: one group (no ACS inside) */
	CHECK_EQ(dev_at(0, 0, 2, 1)->group, 2);
	CHECK_EQ(dev_at(0, 0, 2, 3)->group, 2);
	CHECK_EQ(dev_at(0, 0, 3, 0)->group, 3);
	/* below a root port with ACS (hard-wired: no controls listed): own */
	CHECK_EQ(dev_at(0, 1, 0, 0)->group, 16);
	CHECK(dev_at(0, 0, 4, 0)->group != 16);
	int g = dev_at(0, 2, 1, 0)->group;
	CHECK_EQ(g, 17);
	CHECK(dev_at(0, 0, 5, 0)->group != g);
	CHECK_EQ(pci_group_members(g, m, 8), 4);
	CHECK(m[0] == dev_at(0, 2, 1, 0) && m[1] == dev_at(0, 2, 2, 0));
	CHECK(m[2] == dev_at(0, 2, 3, 0) && m[3] == dev_at(0, 3, 0, 0));
	/* the conventional bridge shares its children's group */
	g = dev_at(0, 0, 6, 0)->group;
	CHECK_EQ(g, 6);
	CHECK_EQ(pci_group_members(g, m, 8), 3);
	CHECK(m[0] == dev_at(0, 0, 6, 0) && m[2] == dev_at(0, 4, 2, 0));
	/* fewer slots than members: fills what fits, returns the count */
	m[1] = NULL;
	CHECK_EQ(pci_group_members(g, m, 1), 3);
	CHECK(m[1] == NULL);
	CHECK_EQ(pci_group_members(g, NULL, 0), 3);
	/* below the root port 00:10.0 without ACS: everything, ports too, but
	 * not the root port itself */
	g = dev_at(0, 9, 1, 0)->group;
	CHECK_EQ(g, 18);
	CHECK_EQ(pci_group_members(g, m, 8), 8);
	CHECK(m[0] == dev_at(0, 5, 0, 0) && m[3] == dev_at(0, 7, 0, 0));
	CHECK(m[4] == dev_at(0, 8, 0, 0) && m[7] == dev_at(0, 0xa, 3, 0));
	CHECK(dev_at(0, 0, 0x10, 0)->group != g);
	CHECK_EQ(pci_group_members(-1, m, 8), 0);
	CHECK_EQ(pci_group_members(pci_group_count(), m, 8), 0);
	CHECK_EQ(pci_group_count(), 21);
	/* the same RID on another segment is another group */
	CHECK(dev_at(1, 0, 1, 0)->group != dev_at(0, 0, 1, 0)->group);
	CHECK_EQ(dev_at(1, 0, 1, 0)->group, 19);
	CHECK_EQ(dev_at(2, 0x20, 0, 0)->group, 20);
	/* every group number below the count is used */
	for (int i = 0; i < pci_group_count(); i++)
		CHECK(pci_group_members(i, NULL, 0) > 0);
}

/*
 * ACS topology (segment 0, ECAM 0xb0000000, buses 0x00-0x1f).  "ACS" = an
 * ACS capability listing SV|RR|CR|UF (plus TB and EC, which must stay off)
 * with a writable Control Register, as the driver leaves it:
 *   00:01.0/.1 PCIe endpoints, no ACS          -> one group
 *   00:02.0/.1 PCIe endpoints, ACS              -> two groups
 *   00:03.0 ACS, 00:03.1 no ACS                 -> one group
 *   00:04.0 root port, ACS -> 01:00.0           -> own group
 *   00:05.0 root port, ACS capability whose control is read-only (never on)
 *           -> 02:00.0 up -> 03:00.0 dn ACS -> 04:00.0
 *                         -> 03:01.0 dn ACS -> 05:00.0   (all one group)
 *   00:06.0 root port, ACS -> 06:00.0 up -> 07:00.0 dn ACS -> 08:00.0
 *                                        -> 07:01.0 dn ACS -> 09:00.0
 *   00:07.0 root port, ACS -> 0a:00.0 up -> 0b:00.0 dn no ACS -> 0c:00.0
 *                                        -> 0b:01.0 dn ACS    -> 0d:00.0
 *   00:08.0 root port, no ACS -> 0e:00.0, 0e:01.0
 *   00:09.0 root-complex integrated endpoint
 */
#define ACS_ALL (PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_EC)
#define ACS_ON (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)

static struct fake_pci_fn *pcie_fn(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t type, bool acs)
{
	struct fake_pci_fn *f = fake_pci_add(f0, bus, dev, fn, 0x1234, 0x100, 0x020000, 0);

	fake_pci_cap_pcie(f, 0x40, type);
	if (acs)
		fake_pci_ecap_acs(f, 0x100, ACS_ALL, 0x007f);
	return f;
}

static struct fake_pci_fn *pcie_port(uint8_t bus, uint8_t dev, uint8_t type, uint8_t sec,
				     uint8_t sub, bool acs)
{
	struct fake_pci_fn *f = bridge(f0, bus, dev, 0x000c, sec, sub);

	fake_pci_cap_pcie(f, 0x40, type);
	if (acs)
		fake_pci_ecap_acs(f, 0x100, ACS_ALL, 0x007f);
	return f;
}

static void switch_below(uint8_t up_bus, bool acs0, bool acs1)
{
	/* up_bus: the upstream port; +1 its bus; +2/+3 the endpoints' buses */
	pcie_port(up_bus, 0, PCI_EXP_TYPE_UPSTREAM, up_bus + 1, up_bus + 3, false);
	pcie_port(up_bus + 1, 0, PCI_EXP_TYPE_DOWNSTREAM, up_bus + 2, up_bus + 2, acs0);
	pcie_port(up_bus + 1, 1, PCI_EXP_TYPE_DOWNSTREAM, up_bus + 3, up_bus + 3, acs1);
	pcie_fn(up_bus + 2, 0, 0, PCI_EXP_TYPE_ENDPOINT, false);
	pcie_fn(up_bus + 3, 0, 0, PCI_EXP_TYPE_ENDPOINT, false);
}

static void build_acs(void)
{
	static const struct pci_ecam w = {SEG0_BASE, 0, 0x00, 0x1f};
	struct fake_pci_fn *f;

	fake_pci_reset();
	f0 = fake_pci_create(SEG0_BASE, 0, 0x00, 0x1f);
	fake_pci_multifunction(pcie_fn(0, 1, 0, PCI_EXP_TYPE_ENDPOINT, false));
	pcie_fn(0, 1, 1, PCI_EXP_TYPE_ENDPOINT, false);
	fake_pci_multifunction(pcie_fn(0, 2, 0, PCI_EXP_TYPE_ENDPOINT, true));
	pcie_fn(0, 2, 1, PCI_EXP_TYPE_ENDPOINT, true);
	fake_pci_multifunction(pcie_fn(0, 3, 0, PCI_EXP_TYPE_ENDPOINT, true));
	pcie_fn(0, 3, 1, PCI_EXP_TYPE_ENDPOINT, false);
	pcie_port(0, 4, PCI_EXP_TYPE_ROOT_PORT, 1, 1, true);
	pcie_fn(1, 0, 0, PCI_EXP_TYPE_ENDPOINT, false);
	f = pcie_port(0, 5, PCI_EXP_TYPE_ROOT_PORT, 2, 5, false);
	fake_pci_ecap_acs(f, 0x100, PCI_ACS_RR, 0); /* control stuck at 0 */
	switch_below(2, true, true);
	pcie_port(0, 6, PCI_EXP_TYPE_ROOT_PORT, 6, 9, true);
	switch_below(6, true, true);
	pcie_port(0, 7, PCI_EXP_TYPE_ROOT_PORT, 0xa, 0xd, true);
	switch_below(0xa, false, true);
	pcie_port(0, 8, PCI_EXP_TYPE_ROOT_PORT, 0xe, 0xe, false);
	pcie_fn(0xe, 0, 0, PCI_EXP_TYPE_ENDPOINT, false);
	pcie_fn(0xe, 1, 0, PCI_EXP_TYPE_ENDPOINT, false);
	pcie_fn(0, 9, 0, PCI_EXP_TYPE_RC_END, false);
	test_con_reset();
	CHECK_EQ(pci_init(&w, 1), 0);
}

static int grp(uint8_t bus, uint8_t dev, uint8_t fn) { return dev_at(0, bus, dev, fn)->group; }

static uint16_t acs_ctrl(uint8_t bus, uint8_t dev, uint8_t fn)
{
	return fake_pci_get16(fake_pci_fn_at(f0, bus, dev, fn), 0x100 + PCI_ACS_CTRL);
}

TEST(acs_enabled_on_ports_and_functions)
{
	build_acs();
	/* exactly SV|RR|CR|UF: Translation Blocking and Egress Control stay off */
	CHECK_EQ(acs_ctrl(0, 4, 0), ACS_ON);
	CHECK_EQ(acs_ctrl(0, 6, 0), ACS_ON);
	CHECK_EQ(acs_ctrl(7, 0, 0), ACS_ON);
	CHECK_EQ(acs_ctrl(7, 1, 0), ACS_ON);
	CHECK_EQ(acs_ctrl(0xb, 1, 0), ACS_ON);
	CHECK_EQ(acs_ctrl(0, 2, 0), ACS_ON);
	CHECK_EQ(acs_ctrl(0, 2, 1), ACS_ON);
	CHECK_EQ(acs_ctrl(0, 5, 0), 0); /* read-only: the write did not stick */
	/* only what the capability lists: a port listing RR alone gets RR */
	build();
	struct fake_pci_fn *rp = fake_pci_fn_at(f0, 0, 4, 0);

	fake_pci_set16(rp, 0x100 + PCI_ACS_CAP, PCI_ACS_RR | PCI_ACS_EC);
	rp->wmask[0x100 + PCI_ACS_CTRL] = 0x7f;
	CHECK_EQ(pci_init(wins, 3), 0);
	CHECK_EQ(fake_pci_get16(rp, 0x100 + PCI_ACS_CTRL), PCI_ACS_RR);
}

TEST(acs_groups_multifunction)
{
	build_acs();
	CHECK_EQ(grp(0, 1, 0), grp(0, 1, 1)); /* no ACS: the functions talk */
	CHECK(grp(0, 2, 0) != grp(0, 2, 1));  /* both isolated */
	CHECK_EQ(grp(0, 3, 0), grp(0, 3, 1)); /* one isolated is not enough */
	CHECK(grp(0, 1, 0) != grp(0, 2, 0) && grp(0, 2, 0) != grp(0, 3, 0));
	/* the root-complex integrated endpoint is alone */
	struct pci_dev *m[4];

	CHECK_EQ(pci_group_members(grp(0, 9, 0), m, 4), 1);
}

TEST(acs_groups_ports_and_switches)
{
	struct pci_dev *m[8];

	build_acs();
	/* root port with ACS on: the endpoint apart from everything */
	CHECK_EQ(pci_group_members(grp(1, 0, 0), m, 8), 1);
	/* root port whose ACS never came on: its whole subtree, ports too */
	CHECK_EQ(pci_group_members(grp(4, 0, 0), m, 8), 5);
	CHECK(m[0] == dev_at(0, 2, 0, 0) && m[4] == dev_at(0, 5, 0, 0));
	CHECK(grp(0, 5, 0) != grp(4, 0, 0));
	/* switch with ACS on both downstream ports: all apart */
	CHECK(grp(8, 0, 0) != grp(9, 0, 0));
	CHECK_EQ(pci_group_members(grp(8, 0, 0), m, 8), 1);
	CHECK_EQ(pci_group_members(grp(9, 0, 0), m, 8), 1);
	CHECK_EQ(pci_group_members(grp(7, 0, 0), m, 8), 1);
	CHECK_EQ(pci_group_members(grp(6, 0, 0), m, 8), 1);
	/* one downstream port without ACS: everything below the upstream port
	 * (the port with ACS too: the other one's traffic reaches it) */
	CHECK_EQ(grp(0xc, 0, 0), grp(0xd, 0, 0));
	CHECK_EQ(pci_group_members(grp(0xc, 0, 0), m, 8), 4);
	CHECK(m[0] == dev_at(0, 0xb, 0, 0) && m[1] == dev_at(0, 0xb, 1, 0));
	CHECK(grp(0xa, 0, 0) != grp(0xc, 0, 0));
	/* root port without ACS: the devices below it together, the port not */
	CHECK_EQ(grp(0xe, 0, 0), grp(0xe, 1, 0));
	CHECK_EQ(pci_group_members(grp(0xe, 0, 0), m, 8), 2);
	CHECK(grp(0, 8, 0) != grp(0xe, 0, 0));
	for (int i = 0; i < pci_group_count(); i++)
		CHECK(pci_group_members(i, NULL, 0) > 0);
}

TEST(init_errors)
{
	struct pci_ecam bad[2] = {{SEG0_BASE, 0, 0x10, 0x0f}, {0, 0, 0, 0}};
	struct pci_ecam overlap[2] = {{SEG0_BASE, 0, 0x00, 0x3f}, {SEG1_BASE, 0, 0x3f, 0x40}};
	struct pci_ecam other[2] = {{SEG0_BASE, 0, 0x00, 0x3f}, {SEG1_BASE, 1, 0x00, 0x0f}};

	build();
	CHECK_EQ(pci_init(bad, 1), -EINVAL);
	CHECK_EQ(pci_count(), 0);
	CHECK_EQ(pci_init(overlap, 2), -EINVAL);
	CHECK_EQ(pci_init(NULL, 1), -EINVAL);
	CHECK_EQ(pci_init(NULL, 0), 0);
	CHECK_EQ(pci_count(), 0);
	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 0, 4), 0xffffffffu); /* no windows now */
	/* disjoint windows of other segments are fine; re-init replaces */
	CHECK_EQ(pci_init(other, 2), 0);
	CHECK_EQ(pci_count(), NFUNCS - 1);
	CHECK_EQ(pci_init(wins, 3), 0);
	CHECK_EQ(pci_count(), NFUNCS);
}

TEST(cfg_access)
{
	setup();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 0, 1, 0);

	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 0, 4), 0x11e81234);
	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 2, 2), 0x11e8);
	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 1, 1), 0x12);
	CHECK_EQ(pci_cfg_read(0, 0, 0x1f, 7, 0, 4), 0xffffffffu); /* absent */
	CHECK_EQ(pci_cfg_read(1, 0, 1, 0, 0, 4), 0x11e81234);
	CHECK_EQ(pci_cfg_read(2, 0x20, 0, 0, 2, 2), 0x0020);
	/* refused: misaligned, beyond 4095, bad size, no window, bad dev/fn */
	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 2, 4), 0xffffffffu);
	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 1, 2), 0xffff);
	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 4096, 1), 0xff);
	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 0, 3), 0xffffffffu);
	CHECK_EQ(pci_cfg_read(0, 0x40, 0, 0, 0, 4), 0xffffffffu);
	CHECK_EQ(pci_cfg_read(3, 0, 0, 0, 0, 4), 0xffffffffu);
	CHECK_EQ(pci_cfg_read(2, 0x1f, 0, 0, 0, 4), 0xffffffffu);
	CHECK_EQ(pci_cfg_read(0, 0, 32, 0, 0, 4), 0xffffffffu);
	CHECK_EQ(pci_cfg_read(0, 0, 1, 8, 0, 4), 0xffffffffu);
	CHECK_EQ(pci_cfg_check(0, 0, 4092, 4), 0);
	CHECK_EQ(pci_cfg_check(0, 0, 4094, 4), -EINVAL);
	CHECK_EQ(pci_cfg_check(0, 0, 0, 8), -EINVAL);
	CHECK_EQ(pci_cfg_check(0, 0x40, 0, 4), -ENODEV);
	CHECK_EQ(pci_cfg_check(5, 0, 0, 4), -ENODEV);

	unsigned before = f->dword_writes + f->word_writes + f->byte_writes;
	pci_cfg_write(0, 0, 1, 0, 0x3d, 2, 0xffff); /* misaligned: dropped */
	pci_cfg_write(0, 0, 1, 0, 4096, 4, 0);
	pci_cfg_write(0, 0x40, 1, 0, 0x3c, 1, 0);
	CHECK_EQ(f->dword_writes + f->word_writes + f->byte_writes, before);

	pci_cfg_write(0, 0, 1, 0, 0x3c, 1, 0x0b);
	CHECK_EQ(fake_pci_get8(f, 0x3c), 0x0b);
	CHECK_EQ(f->byte_writes, 1);
	pci_cfg_write(0, 0, 1, 0, 0xc2, 2, 0xbeef);
	CHECK_EQ(fake_pci_get16(f, 0xc2), 0xbeef);
	CHECK_EQ(fake_pci_get16(f, 0xc0), 0);
	pci_cfg_write(0, 0, 1, 0, 0x800, 4, 0x12345678); /* extended space */
	CHECK_EQ(pci_cfg_read(0, 0, 1, 0, 0x800, 4), 0x12345678);
	CHECK_EQ(pci_read(dev_at(0, 0, 1, 0), 0x801, 1), 0x56);
	pci_write(dev_at(0, 0, 1, 0), 0x802, 2, 0xabcd);
	CHECK_EQ(fake_pci_get32(f, 0x800), 0xabcd5678);
	/* sized write to status clears only the bit written (RW1C) */
	pci_cfg_write(0, 0, 1, 0, PCI_STATUS, 2, 0x2000);
	CHECK_EQ(fake_pci_get16(f, PCI_STATUS) & 0xf900, 0x8000);
}

TEST(bus_master)
{
	setup();
	struct pci_dev *d = dev_at(0, 0, 1, 0);
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 0, 1, 0);

	pci_set_bus_master(d, false);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK_EQ(fake_pci_get16(f, PCI_STATUS) & 0xf900, 0xa000);
	pci_set_bus_master(d, true);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND),
		 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CHECK_EQ(fake_pci_get16(f, PCI_STATUS) & 0xf900, 0xa000);
	unsigned w = f->cmd_writes;
	pci_set_bus_master(d, true); /* already on: no write */
	CHECK_EQ(f->cmd_writes, w);
	CHECK_EQ(f->dword_writes, 12); /* only BAR sizing used dwords */
}

TEST(parse_bdf)
{
	uint16_t s = 0x7777;
	uint8_t b = 0x77, d = 0x77, f = 0x77;
	static const char *bad[] = {
		"",	      "00",	   "00:03",    "00:03.",    "00:03.8",	"00:20.0",
		"00:03.0 ",   " 00:03.0",  "00:03.0x", "0x00:03.0", "-1:03.0",	"00:03:0",
		"0:0:0:03.0", "00.03.0",   ":03.0",    "00:.0",	    "00:03.00", "10000:00:03.0",
		"g0:03.0",    "000:03.0",  "00:003.0", "+0:03.0",   "00:03.-1", "00::03.0",
		"00:03..0",   "ff:1f.7\n",
	};

	CHECK_EQ(pci_parse_bdf("00:03.0", &s, &b, &d, &f), 0);
	CHECK(s == 0 && b == 0 && d == 3 && f == 0);
	CHECK_EQ(pci_parse_bdf("0001:a0:1f.7", &s, &b, &d, &f), 0);
	CHECK(s == 1 && b == 0xa0 && d == 0x1f && f == 7);
	CHECK_EQ(pci_parse_bdf("FFFF:FF:1F.7", &s, &b, &d, &f), 0);
	CHECK(s == 0xffff && b == 0xff && d == 0x1f && f == 7);
	CHECK_EQ(pci_parse_bdf("1:2.3", &s, &b, &d, &f), 0);
	CHECK(s == 0 && b == 1 && d == 2 && f == 3);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = 0x7777;
		b = d = f = 0x77;
		if (pci_parse_bdf(bad[i], &s, &b, &d, &f) != -EINVAL) {
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
			CHECK(0);
		}
		CHECK(s == 0x7777 && b == 0x77 && d == 0x77 && f == 0x77);
	}
	CHECK_EQ(pci_parse_bdf(NULL, &s, &b, &d, &f), -EINVAL);

	char buf[16];
	CHECK(!strcmp(pci_format_bdf(buf, sizeof(buf), 0, 0, 3, 0), "00:03.0"));
	CHECK(!strcmp(pci_format_bdf(buf, sizeof(buf), 0x1a, 0xfe, 0x1f, 7), "001a:fe:1f.7"));
	CHECK(!strcmp(pci_format_bdf(buf, 5, 0, 0xab, 1, 2), "ab:0"));
}

static int run(int (*fn)(int, char **), const char *line)
{
	char copy[256], *argv[16];
	int argc = 0;

	snprintf(copy, sizeof(copy), "%s", line);
	for (char *t = strtok(copy, " "); t && argc < 16; t = strtok(NULL, " "))
		argv[argc++] = t;
	test_con_reset();
	return fn(argc, argv);
}

TEST(cmd_lspci)
{
	setup();
	CHECK_EQ(run(pci_cmd_lspci, "lspci"), 0);
	CHECK(!strncmp(
		test_con_buf,
		"bdf=00:00.0 id=8086:29c0 class=060000 unit=- group=0 alias=00:00.0 caps=-\n"
		"bdf=00:01.0 id=1234:11e8 class=00ff00 unit=- group=1 alias=00:01.0 caps=msi\n",
		strlen("bdf=00:00.0 id=8086:29c0 class=060000 unit=- group=0 alias=00:00.0 caps=-\n"
		       "bdf=00:01.0 id=1234:11e8 class=00ff00 unit=- group=1 alias=00:01.0 caps=msi\n")));
	CHECK(strstr(test_con_buf,
		     "bdf=01:00.0 id=1af4:1041 class=020000 unit=- group=16 alias=01:00.0 "
		     "caps=msi,msix,pcie,ats,pasid,pri\n") != NULL);
	CHECK(strstr(test_con_buf,
		     "bdf=03:00.0 id=1234:0003 class=020000 unit=- group=17 alias=02:00.0 caps=-\n") !=
	      NULL);
	CHECK(strstr(test_con_buf,
		     "bdf=00:04.0 id=1b36:000c class=060400 unit=- group=4 alias=00:04.0 "
		     "caps=msix,pcie,acs\n") != NULL);
	CHECK(strstr(test_con_buf,
		     "bdf=0001:00:01.0 id=1234:11e8 class=00ff00 unit=- group=19 alias=00:01.0") !=
	      NULL);
	CHECK(strstr(test_con_buf, "bdf=0002:20:00.0 ") != NULL);
	unsigned lines = 0;
	for (const char *p = test_con_buf; *p; p++)
		lines += *p == '\n';
	CHECK_EQ(lines, NFUNCS);

	dev_at(0, 0, 1, 0)->unit = 0;
	dev_at(0, 1, 0, 0)->unit = 12;
	CHECK_EQ(run(pci_cmd_lspci, "lspci"), 0);
	CHECK(strstr(test_con_buf, "bdf=00:01.0 id=1234:11e8 class=00ff00 unit=0 group=1 ") !=
	      NULL);
	CHECK(strstr(test_con_buf, "bdf=01:00.0 id=1af4:1041 class=020000 unit=12 group=16 ") !=
	      NULL);

	CHECK_EQ(run(pci_cmd_lspci, "lspci -v"), -EINVAL);
	CHECK(strstr(test_cmd_msg, "usage") != NULL);
	CHECK_EQ(test_con_len, 0);

	CHECK_EQ(pci_init(NULL, 0), 0);
	CHECK_EQ(run(pci_cmd_lspci, "lspci"), 0);
	CHECK_EQ(test_con_len, 0);
}

TEST(cmd_pci_read)
{
	setup();
	CHECK_EQ(run(pci_cmd_read, "pci read 00:01.0 0 4"), 0);
	CHECK(!strcmp(test_con_buf, "value=0x11e81234\n"));
	CHECK_EQ(run(pci_cmd_read, "pci read 0000:00:01.0 0x4 2"), 0);
	CHECK(!strcmp(test_con_buf, "value=0x0007\n"));
	CHECK_EQ(run(pci_cmd_read, "pci read 00:01.0 0xe 1"), 0);
	CHECK(!strcmp(test_con_buf, "value=0x00\n"));
	CHECK_EQ(run(pci_cmd_read, "pci read 01:00.0 256 4"), 0);
	CHECK(!strcmp(test_con_buf, "value=0x1101000f\n"));
	CHECK_EQ(run(pci_cmd_read, "pci read 0002:20:00.0 0 2"), 0);
	CHECK(!strcmp(test_con_buf, "value=0x1234\n"));
	CHECK_EQ(run(pci_cmd_read, "pci read 00:01.0 4095 1"), 0);

	static const struct {
		const char *line, *msg;
		int err;
	} bad[] = {
		{"pci read 00:01.0 0", "usage", -EINVAL},
		{"pci read 00:01.0 0 4 4", "usage", -EINVAL},
		{"pci read", "usage", -EINVAL},
		{"pci read 00:01 0 4", "bad bdf", -EINVAL},
		{"pci read 00:01.8 0 4", "bad bdf", -EINVAL},
		{"pci read 00:1f.0 0 4", "no PCI function at 00:1f.0", -ENODEV},
		{"pci read 0003:00:01.0 0 4", "no PCI function", -ENODEV},
		{"pci read 00:03.1 0 4", "no PCI function", -ENODEV},
		{"pci read 00:01.0 4096 1", "beyond 4095", -EINVAL},
		{"pci read 00:01.0 0x1000 4", "beyond 4095", -EINVAL},
		{"pci read 00:01.0 0xffffffffffffffff 4", "beyond 4095", -EINVAL},
		{"pci read 00:01.0 99999999999999999999 4", "bad offset", -EINVAL},
		{"pci read 00:01.0 zz 4", "bad offset", -EINVAL},
		{"pci read 00:01.0 0x 4", "bad offset", -EINVAL},
		{"pci read 00:01.0 -4 4", "bad offset", -EINVAL},
		{"pci read 00:01.0 12abc 4", "bad offset", -EINVAL},
		{"pci read 00:01.0 0 3", "must be 1, 2 or 4", -EINVAL},
		{"pci read 00:01.0 0 8", "must be 1, 2 or 4", -EINVAL},
		{"pci read 00:01.0 0 x", "must be 1, 2 or 4", -EINVAL},
		{"pci read 00:01.0 2 4", "not aligned to size 4", -EINVAL},
		{"pci read 00:01.0 1 2", "not aligned to size 2", -EINVAL},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = run(pci_cmd_read, bad[i].line);

		if (r != bad[i].err || !strstr(test_cmd_msg, bad[i].msg) || test_con_len) {
			fprintf(stderr, "  '%s' -> %d '%s'\n", bad[i].line, r, test_cmd_msg);
			CHECK(0);
		}
	}
}

TEST(cmd_pci_write)
{
	setup();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 0, 1, 0);

	CHECK_EQ(run(pci_cmd_write, "pci write 00:01.0 0x3c 1 0x0b"), 0);
	CHECK_EQ(test_con_len, 0);
	CHECK_EQ(fake_pci_get8(f, 0x3c), 0x0b);
	CHECK_EQ(run(pci_cmd_write, "pci write 00:01.0 4 2 3"), 0);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), 3);
	CHECK_EQ(fake_pci_get16(f, PCI_STATUS) & 0xf900, 0xa000); /* sized: RW1C kept */
	CHECK_EQ(run(pci_cmd_write, "pci write 00:01.0 0xc4 4 0xffffffff"), 0);
	CHECK_EQ(fake_pci_get32(f, 0xc4), 0xffffffffu);
	CHECK_EQ(run(pci_cmd_write, "pci write 00:01.0 0xffc 4 4660"), 0);
	CHECK_EQ(fake_pci_get32(f, 0xffc), 4660);
	CHECK_EQ(run(pci_cmd_read, "pci read 00:01.0 0xffc 4"), 0);
	CHECK(!strcmp(test_con_buf, "value=0x00001234\n"));
	CHECK_EQ(run(pci_cmd_write, "pci write 0001:00:01.0 0xc0 1 0x5a"), 0);
	CHECK_EQ(fake_pci_get8(fake_pci_fn_at(f1, 0, 1, 0), 0xc0), 0x5a);
	CHECK_EQ(fake_pci_get8(f, 0xc0), 0);

	static const struct {
		const char *line, *msg;
		int err;
	} bad[] = {
		{"pci write 00:01.0 0x3c 1", "usage", -EINVAL},
		{"pci write 00:01.0 0x3c 1 1 1", "usage", -EINVAL},
		{"pci write 00:01.0 0x3c 1 0x100", "too wide for 1 byte", -EINVAL},
		{"pci write 00:01.0 0x3c 2 0x10000", "too wide for 2 byte", -EINVAL},
		{"pci write 00:01.0 0x3c 4 0x100000000", "too wide for 4 byte", -EINVAL},
		{"pci write 00:01.0 0x3c 4 0x1ffffffffffffffff", "bad value", -EINVAL},
		{"pci write 00:01.0 0x3c 1 ten", "bad value", -EINVAL},
		{"pci write 00:01.0 0x3c 1 -1", "bad value", -EINVAL},
		{"pci write 00:01.0 0x3d 2 0", "not aligned to size 2", -EINVAL},
		{"pci write 00:01.0 4096 1 0", "beyond 4095", -EINVAL},
		{"pci write 00:01.0 0x3c 5 0", "must be 1, 2 or 4", -EINVAL},
		{"pci write 0:1:2:3 0x3c 1 0", "bad bdf", -EINVAL},
		{"pci write 00:11.0 0x3c 1 0", "no PCI function", -ENODEV},
	};
	unsigned before = f->dword_writes + f->word_writes + f->byte_writes;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = run(pci_cmd_write, bad[i].line);

		if (r != bad[i].err || !strstr(test_cmd_msg, bad[i].msg) || test_con_len) {
			fprintf(stderr, "  '%s' -> %d '%s'\n", bad[i].line, r, test_cmd_msg);
			CHECK(0);
		}
	}
	CHECK_EQ(f->dword_writes + f->word_writes + f->byte_writes, before);
	CHECK_EQ(fake_pci_get8(f, 0x3c), 0x0b);
}

/* Quiesce (docs/pci.md "Quiesce on detach"): a conventional function without
 * AF gets Bus Master off and nothing else; the status register's RW1C bits
 * survive (a 16-bit write). */
TEST(quiesce_conventional)
{
	setup();
	struct pci_dev *d = dev_at(0, 0, 1, 0);
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 0, 1, 0);
	bool did_flr = true;

	CHECK_EQ(pci_flr_kind(d), PCI_FLR_NONE);
	CHECK_EQ(pci_quiesce(d, &did_flr), 0);
	CHECK(!did_flr);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK_EQ(fake_pci_get16(f, PCI_STATUS) & 0xf900, 0xa000);
	CHECK_EQ(f->flrs, 0);
	/* a PCIe function without FLR: Bus Master off, pending drained, no reset */
	struct pci_dev *e = dev_at(0, 1, 0, 0);
	struct fake_pci_fn *g = fake_pci_fn_at(f0, 1, 0, 0);

	fake_pci_set16(g, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	g->pending_reads = 3;
	CHECK_EQ(pci_flr_kind(e), PCI_FLR_NONE);
	CHECK_EQ(pci_quiesce(e, &did_flr), 0);
	CHECK(!did_flr);
	CHECK_EQ(g->pending_reads, 0);
	CHECK_EQ(fake_pci_get16(g, PCI_COMMAND), PCI_COMMAND_MEMORY);
	CHECK_EQ(g->flrs, 0);
}

/* PCIe FLR: Bus Master off, then Transactions Pending waited out, then the
 * reset, then BARs (64-bit too), interrupt line, Device Control and the
 * command register (without Bus Master) restored; the device's own state
 * (scratch) is back to its reset value. */
TEST(quiesce_pcie_flr)
{
	build();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 1, 0, 0);

	fake_pci_flr_pcie(f);
	CHECK_EQ(pci_init(wins, 3), 0);
	struct pci_dev *d = dev_at(0, 1, 0, 0);
	bool did_flr = false;

	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_set8(f, PCI_INTERRUPT_LINE, 0x0b);
	fake_pci_set16(f, 0x40 + PCI_EXP_DEVCTL, 0x2810);
	fake_pci_set8(f, 0xc0, 0x5a);
	f->pending_reads = 5;
	CHECK_EQ(pci_flr_kind(d), PCI_FLR_PCIE);
	CHECK_EQ(pci_quiesce(d, &did_flr), 0);
	CHECK(did_flr);
	CHECK_EQ(f->flrs, 1);
	CHECK_EQ(f->flr_master_on, 0);
	CHECK_EQ(f->flr_pending, 0);
	CHECK_EQ(fake_pci_get8(f, 0xc0), 0); /* reset happened */
	CHECK_EQ(fake_pci_get32(f, 0x14) & ~0xfu, 0xfe800000);
	CHECK_EQ(fake_pci_get32(f, 0x18), 0);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
	CHECK_EQ(fake_pci_get8(f, PCI_INTERRUPT_LINE), 0x0b);
	CHECK_EQ(fake_pci_get16(f, 0x40 + PCI_EXP_DEVCTL), 0x2810);
	CHECK_EQ(d->bar[1].base, 0xfe800000);
}

/* Transactions that never drain: bounded, -ETIMEDOUT, no FLR, Bus Master
 * stays off; once they drain, the next attempt resets. */
TEST(quiesce_pending_timeout)
{
	build();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 1, 0, 0);

	fake_pci_flr_pcie(f);
	CHECK_EQ(pci_init(wins, 3), 0);
	struct pci_dev *d = dev_at(0, 1, 0, 0);
	bool did_flr = true;
	uint64_t t0 = fake_tsc;

	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_set16(f, 0x40 + PCI_EXP_DEVSTA, PCI_EXP_DEVSTA_TRPND);
	CHECK_EQ(pci_quiesce(d, &did_flr), -ETIMEDOUT);
	CHECK(!did_flr);
	CHECK(fake_tsc - t0 >= PCI_PENDING_TIMEOUT_NS);
	CHECK(fake_tsc - t0 < 2 * PCI_PENDING_TIMEOUT_NS);
	CHECK_EQ(f->flrs, 0);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
	fake_pci_set16(f, 0x40 + PCI_EXP_DEVSTA, 0);
	CHECK_EQ(pci_quiesce(d, &did_flr), 0);
	CHECK(did_flr);
	CHECK_EQ(f->flrs, 1);
	CHECK_EQ(f->flr_pending, 0);
}

/* A conventional function with the Advanced Features capability (TP and
 * FLR): its status waited on and its control register resets it. */
TEST(quiesce_af_flr)
{
	build();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 2, 1, 0);

	fake_pci_cap_af(f, 0x50);
	fake_pci_bar32(f, 0, 0xfd000000, 0x1000, false);
	CHECK_EQ(pci_init(wins, 3), 0);
	struct pci_dev *d = dev_at(0, 2, 1, 0);
	bool did_flr = false;

	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_set8(f, 0xc0, 0x77);
	f->pending_reads = 2;
	CHECK_EQ(pci_flr_kind(d), PCI_FLR_AF);
	CHECK_EQ(pci_quiesce(d, &did_flr), 0);
	CHECK(did_flr);
	CHECK_EQ(f->flrs, 1);
	CHECK_EQ(f->flr_master_on, 0);
	CHECK_EQ(f->flr_pending, 0);
	CHECK_EQ(fake_pci_get8(f, 0xc0), 0);
	CHECK_EQ(fake_pci_get32(f, PCI_BASE_ADDRESS_0), 0xfd000000);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
	/* AF without the TP bit: no FLR offered (idle cannot be known) */
	build();
	f = fake_pci_fn_at(f0, 2, 1, 0);
	fake_pci_cap_af(f, 0x50);
	fake_pci_set8(f, 0x50 + PCI_AF_CAP, PCI_AF_CAP_FLR);
	CHECK_EQ(pci_init(wins, 3), 0);
	CHECK_EQ(pci_flr_kind(dev_at(0, 2, 1, 0)), PCI_FLR_NONE);
}

/* ------------------------------------------- command register vs. storm */

#define INTX_DISABLE 0x0400u /* command register bit 10 (PCI 3.0 6.2.2) */

/* What the fault-storm handler does to a function from interrupt context. */
static void storm(void *ctx) { pci_set_bus_master(ctx, false); }

/* Before the function is a struct pci_dev: the same clear, by raw access
 * (nothing interrupts an interrupt handler's read-modify-write). */
static void storm_raw_01(void *ctx)
{
	uint32_t cmd = pci_cfg_read(0, 0, 1, 0, PCI_COMMAND, 2);

	pci_cfg_write(0, 0, 1, 0, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MASTER);
}

/* The helper: the storm interrupt raised by its read waits until the write
 * is done (interrupts are off in between), then runs: its Bus Master clear
 * survives, the helper's INTx Disable too; interrupts are back on after. */
TEST(command_update_masks_interrupts)
{
	build();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 0, 1, 0);

	f->wmask[PCI_COMMAND + 1] = INTX_DISABLE >> 8;
	CHECK_EQ(pci_init(wins, 3), 0);
	struct pci_dev *d = dev_at(0, 0, 1, 0);

	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_irq_on_cmd_read(f, storm, d);
	CHECK(fake_irq_enabled);
	pci_command_update(d, 0, INTX_DISABLE);
	CHECK_EQ(f->cmd_irq_masked, 1);
	CHECK_EQ(f->cmd_irq_taken, 0);
	CHECK(fake_irq_enabled);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_MEMORY | INTX_DISABLE);
	/* clear and set: the bits named change, the others stay */
	pci_command_update(d, INTX_DISABLE, PCI_COMMAND_IO);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	/* nothing to change: no write */
	unsigned w = f->cmd_writes;
	pci_command_update(d, PCI_COMMAND_MASTER, PCI_COMMAND_IO);
	CHECK_EQ(f->cmd_writes, w);
	/* called with interrupts already off (from a handler): they stay off */
	bool was = irq_save_disable();
	pci_set_bus_master(d, true);
	CHECK(!fake_irq_enabled);
	irq_restore(was);
	CHECK(fake_irq_enabled);
}

/* BAR sizing's decode-off/decode-back pair at enumeration: a storm clear
 * that arrives after its read of the command register stays (the restore
 * puts back only the decode bits). */
TEST(size_bars_keeps_storm_bus_master_clear)
{
	build();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 0, 1, 0);

	fake_pci_irq_on_cmd_read(f, storm_raw_01, NULL);
	CHECK_EQ(pci_init(wins, 3), 0);
	CHECK_EQ(f->cmd_irq_taken + f->cmd_irq_masked, 1);
	CHECK(fake_irq_enabled);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK_EQ(dev_at(0, 0, 1, 0)->bar[0].size, 0x100000);
}

/* The restore after an FLR writes the saved command whole, but never with
 * Bus Master: a storm clear arriving during the quiesce stays, whether it
 * interrupts the Bus Master clear (held back until its write is done) or
 * cfg_save's read (the saved value then holds Bus Master). */
TEST(quiesce_restore_keeps_storm_bus_master_clear)
{
	build();
	struct fake_pci_fn *f = fake_pci_fn_at(f0, 1, 0, 0);

	fake_pci_flr_pcie(f);
	CHECK_EQ(pci_init(wins, 3), 0);
	struct pci_dev *d = dev_at(0, 1, 0, 0);
	bool did_flr = false;

	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_irq_on_cmd_read(f, storm, d);
	CHECK_EQ(pci_quiesce(d, &did_flr), 0);
	CHECK(did_flr);
	CHECK_EQ(f->cmd_irq_masked, 1);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	/* at cfg_save's read (the second), with the restore still to come */
	fake_pci_set16(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_irq_on_cmd_read(f, storm, d);
	f->cmd_irq_skip = 1;
	CHECK_EQ(pci_quiesce(d, &did_flr), 0);
	CHECK_EQ(f->cmd_irq_masked + f->cmd_irq_taken, 2);
	CHECK_EQ(f->flr_master_on, 0);
	CHECK_EQ(fake_pci_get16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
	CHECK(fake_irq_enabled);
}
