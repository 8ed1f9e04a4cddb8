// SOURCES: iommu/vtd/dmar.c tests/unit/acpi_build.c
/* tests/unit/test_dmar.c — DMAR parsing, validation and device lookups. */
#include <stdlib.h>
#include <string.h>

#include "acpi_build.h"
#include "iommu/vtd/dmar.h"
#include "test.h"

#define DEVFN(d, f) ((uint8_t)((d) << 3 | (f)))

static bool logged(const char *s) { return strstr(test_con_buf, s) != NULL; }

/* Parses b (a complete DMAR), with the console log reset first. */
static struct dmar_info *parse(struct abuf *b)
{
	struct dmar_info *info = NULL;
	int err;

	test_con_reset();
	err = dmar_parse(b->p, (uint32_t)b->len, &info);
	CHECK_EQ(err, 0);
	CHECK(info != NULL);
	return info;
}

/* A fake PCI hierarchy: bridges with secondary/subordinate bus numbers. */
struct fake_bridge {
	uint16_t seg;
	uint8_t bus, dev, fn, sec, sub;
};
struct fake_pci {
	const struct fake_bridge *br;
	unsigned n;
	int calls;
};

static const struct fake_bridge *find_br(struct fake_pci *p, uint16_t seg, uint8_t bus, uint8_t dev,
					 uint8_t fn)
{
	p->calls++;
	for (unsigned i = 0; i < p->n; i++)
		if (p->br[i].seg == seg && p->br[i].bus == bus && p->br[i].dev == dev &&
		    p->br[i].fn == fn)
			return &p->br[i];
	return NULL;
}
static int fake_sec(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	const struct fake_bridge *b = find_br(ctx, seg, bus, dev, fn);
	return b ? b->sec : -ENODEV;
}
static int fake_sub(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	const struct fake_bridge *b = find_br(ctx, seg, bus, dev, fn);
	return b ? b->sub : -ENODEV;
}
static const struct dmar_pci_ops fake_ops = {.secondary_bus = fake_sec,
					     .subordinate_bus = fake_sub};

TEST(dmar_qemu_table)
{
	struct abuf b;
	struct dmar_info *info;
	uint16_t sid = 0;

	ab_init(&b);
	ab_qemu_dmar(&b);
	info = parse(&b);
	CHECK_EQ(test_con_len, 0); /* a good table logs nothing */
	CHECK_EQ(info->haw, 39);
	CHECK(info->intr_remap);
	CHECK(!info->x2apic_opt_out);
	CHECK_EQ(info->ndrhd, 1);
	CHECK_EQ(info->drhd[0].base, 0xfed90000ull);
	CHECK_EQ(info->drhd[0].reg_size, 0x1000);
	CHECK(!info->drhd[0].include_all);
	CHECK_EQ(info->drhd[0].nscope, 4);
	CHECK_EQ(info->drhd[0].scope[0].type, DMAR_SCOPE_IOAPIC);
	CHECK_EQ(info->drhd[0].scope[0].start_bus, 0xff);
	CHECK_EQ(info->drhd[0].scope[3].path[0].dev, 3);
	CHECK_EQ(info->dropped, 0);
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(2, 0), NULL, NULL), 0);
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(4, 0), NULL, NULL), -ENODEV);
	CHECK_EQ(dmar_unit_for(info, 1, 0, DEVFN(2, 0), NULL, NULL), -ENODEV);
	CHECK_EQ(dmar_unit_for_special(info, DMAR_SCOPE_IOAPIC, 0, NULL, NULL, &sid), 0);
	CHECK_EQ(sid, 0xff00);
	CHECK_EQ(dmar_unit_for_special(info, DMAR_SCOPE_IOAPIC, 1, NULL, NULL, &sid), -ENODEV);
	CHECK_EQ(dmar_unit_for_special(info, DMAR_SCOPE_HPET, 0, NULL, NULL, &sid), -ENODEV);
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_header_flags)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 47,
			  DMAR_FLAG_INTR_REMAP | DMAR_FLAG_X2APIC_OPT_OUT |
				  DMAR_FLAG_DMA_CTRL_PLATFORM_OPT_IN);
	d = ab_drhd_begin(&b, 1, 2, 0, 0xfed90000ull);
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->haw, 48);
	CHECK(info->intr_remap && info->x2apic_opt_out && info->dma_ctrl_opt_in);
	CHECK_EQ(info->drhd[0].reg_size, 0x4000); /* Size 2: 2^2 pages */
	CHECK(info->drhd[0].include_all);
	CHECK_EQ(info->drhd[0].nscope, 0);
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_bad_header)
{
	struct abuf b;
	struct dmar_info *info = (struct dmar_info *)1;

	ab_init(&b);
	ab_qemu_dmar(&b);
	test_con_reset();
	CHECK_EQ(dmar_parse(b.p, 47, &info), -EINVAL);
	CHECK(info == NULL);
	CHECK(logged("dmar: table shorter"));
	/* Header length beyond what the caller says is readable. */
	test_con_reset();
	CHECK_EQ(dmar_parse(b.p, (uint32_t)b.len - 1, &info), -EINVAL);
	CHECK(logged("dmar: header length"));
	b.p[0] = 'X';
	test_con_reset();
	CHECK_EQ(dmar_parse(b.p, (uint32_t)b.len, &info), -EINVAL);
	CHECK(logged("dmar: signature is not DMAR"));
	CHECK_EQ(dmar_parse(NULL, 100, &info), -EINVAL);
	ab_free(&b);
}

/* Endpoint 02:00.0 named through the root port 00:1c.0 (secondary bus 2). */
TEST(dmar_multi_hop_scope)
{
	static const struct fake_bridge br[] = {{0, 0, 0x1c, 0, 2, 4}, {0, 2, 0, 0, 3, 3}};
	struct fake_pci pci = {br, 2, 0};
	struct abuf b;
	struct dmar_info *info;
	uint8_t bus = 0, devfn = 0;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed90000ull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 2, (const uint8_t[]){0x1c, 0, 0, 0});
	/* Three hops: 00:1c.0 -> 02:00.0 (a PCIe-PCI bridge) -> 03:05.1 */
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 3, (const uint8_t[]){0x1c, 0, 0, 0, 5, 1});
	/* Through an absent bridge 00:1d.0. */
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 2, (const uint8_t[]){0x1d, 0, 0, 0});
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->drhd[0].nscope, 3);
	CHECK_EQ(dmar_scope_resolve(&info->drhd[0].scope[0], 0, fake_sec, &pci, &bus, &devfn), 0);
	CHECK_EQ(bus, 2);
	CHECK_EQ(devfn, DEVFN(0, 0));
	CHECK_EQ(dmar_scope_resolve(&info->drhd[0].scope[1], 0, fake_sec, &pci, &bus, &devfn), 0);
	CHECK_EQ(bus, 3);
	CHECK_EQ(devfn, DEVFN(5, 1));
	CHECK_EQ(dmar_scope_resolve(&info->drhd[0].scope[2], 0, fake_sec, &pci, &bus, &devfn),
		 -ENODEV);
	/* Without a callback a multi-hop path cannot be walked. */
	CHECK_EQ(dmar_scope_resolve(&info->drhd[0].scope[0], 0, NULL, NULL, &bus, &devfn), -EINVAL);
	/* Wrong segment: the bridge is not there. */
	CHECK_EQ(dmar_scope_resolve(&info->drhd[0].scope[0], 1, fake_sec, &pci, &bus, &devfn),
		 -ENODEV);
	CHECK_EQ(dmar_unit_for(info, 0, 3, DEVFN(5, 1), &fake_ops, &pci), 0);
	CHECK_EQ(dmar_unit_for(info, 0, 2, DEVFN(0, 0), &fake_ops, &pci), 0);
	CHECK_EQ(dmar_unit_for(info, 0, 3, DEVFN(5, 0), &fake_ops, &pci), -ENODEV);
	test_con_reset();
	CHECK_EQ(dmar_log_absent(info, &fake_ops, &pci), 1);
	CHECK(logged("dmar: DRHD 0 scope 2 names absent device"));
	dmar_free(info);
	ab_free(&b);
}

static bool only_bus0(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn)
{
	return bus == 0 && devfn != DEVFN(9, 0);
}

TEST(dmar_absent_leaf_device)
{
	struct dmar_pci_ops ops = {.present = only_bus0};
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed90000ull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){9, 0});
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){8, 0});
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	test_con_reset();
	CHECK_EQ(dmar_log_absent(info, &ops, NULL), 1);
	CHECK(logged("dmar: DRHD 0 scope 0 names absent device"));
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(9, 0), &ops, NULL), -ENODEV);
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(8, 0), &ops, NULL), 0);
	dmar_free(info);
	ab_free(&b);
}

/* A bridge scope covers the bridge and its secondary..subordinate buses;
 * everything else on the segment goes to the INCLUDE_PCI_ALL unit. */
TEST(dmar_bridge_scope_and_include_all)
{
	static const struct fake_bridge br[] = {{0, 0, 0x1c, 0, 2, 4}};
	struct fake_pci pci = {br, 1, 0};
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed91000ull);
	ab_scope(&b, DMAR_SCOPE_BRIDGE, 0, 0, 1, (const uint8_t[]){0x1c, 0});
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed90000ull);
	ab_scope(&b, DMAR_SCOPE_IOAPIC, 2, 0xf0, 1, (const uint8_t[]){0x1f, 0});
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(test_con_len, 0);
	CHECK_EQ(info->ndrhd, 2);
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(0x1c, 0), &fake_ops, &pci), 0);
	CHECK_EQ(dmar_unit_for(info, 0, 2, DEVFN(0, 0), &fake_ops, &pci), 0);
	CHECK_EQ(dmar_unit_for(info, 0, 4, DEVFN(31, 7), &fake_ops, &pci), 0);
	CHECK_EQ(dmar_unit_for(info, 0, 5, DEVFN(0, 0), &fake_ops, &pci), 1);
	CHECK_EQ(dmar_unit_for(info, 0, 1, DEVFN(0, 0), &fake_ops, &pci), 1);
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(0x1c, 1), &fake_ops, &pci), 1);
	/* Without subordinate information only the bridge itself matches. */
	CHECK_EQ(dmar_unit_for(info, 0, 3, DEVFN(0, 0), NULL, NULL), 1);
	CHECK_EQ(dmar_unit_for(info, 1, 0, DEVFN(0, 0), &fake_ops, &pci), -ENODEV);
	uint16_t sid = 0;
	CHECK_EQ(dmar_unit_for_special(info, DMAR_SCOPE_IOAPIC, 2, NULL, NULL, &sid), 1);
	CHECK_EQ(sid, 0xf0f8);
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_include_all_not_last)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed90000ull);
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed91000ull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){2, 0});
	ab_struct_end(&b, d);
	/* Another segment's unit after it does not count. */
	d = ab_drhd_begin(&b, 0, 0, 1, 0xfed92000ull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){3, 0});
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->ndrhd, 3);
	CHECK(logged(
		"dmar: DRHD at 0xfed90000: INCLUDE_PCI_ALL but not the last DRHD of segment 0"));
	CHECK_EQ(info->dropped, 0);
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(2, 0), NULL, NULL), 1);
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(3, 0), NULL, NULL), 0);
	CHECK_EQ(dmar_unit_for(info, 1, 0, DEVFN(3, 0), NULL, NULL), 2);
	CHECK_EQ(dmar_unit_for(info, 1, 0, DEVFN(2, 0), NULL, NULL), -ENODEV);
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_two_segments)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 1, 0xfed91000ull);
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed90000ull);
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(test_con_len, 0);
	CHECK_EQ(info->ndrhd, 2);
	CHECK_EQ(dmar_unit_for(info, 0, 7, DEVFN(1, 0), NULL, NULL), 1);
	CHECK_EQ(dmar_unit_for(info, 1, 7, DEVFN(1, 0), NULL, NULL), 0);
	CHECK_EQ(dmar_unit_for(info, 2, 7, DEVFN(1, 0), NULL, NULL), -ENODEV);
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_second_include_all_dropped)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed90000ull);
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed91000ull);
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->ndrhd, 1);
	CHECK_EQ(info->drhd[0].base, 0xfed90000ull);
	CHECK(logged(
		"dmar: DRHD 1 (offset 0x40): second INCLUDE_PCI_ALL unit for segment 0, dropped"));
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_rmrr)
{
	static const struct fake_bridge br[] = {{0, 0, 0x1e, 0, 5, 6}};
	struct fake_pci pci = {br, 1, 0};
	struct abuf b;
	struct dmar_info *info;
	unsigned idx[4] = {99, 99, 99, 99};
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed90000ull);
	ab_struct_end(&b, d);
	d = ab_rmrr_begin(&b, 0, 0x7d000000ull, 0x7d0fffffull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x14, 0});
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x1a, 0});
	ab_struct_end(&b, d);
	d = ab_rmrr_begin(&b, 0, 0x7e000000ull, 0x7e000fffull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x14, 0});
	ab_struct_end(&b, d);
	d = ab_rmrr_begin(&b, 0, 0x7f000000ull, 0x7f000fffull);
	ab_scope(&b, DMAR_SCOPE_BRIDGE, 0, 0, 1, (const uint8_t[]){0x1e, 0});
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(test_con_len, 0);
	CHECK_EQ(info->nrmrr, 3);
	CHECK_EQ(info->rmrr[0].base, 0x7d000000ull);
	CHECK_EQ(info->rmrr[0].limit, 0x7d0fffffull);
	CHECK_EQ(info->rmrr[0].nscope, 2);
	CHECK_EQ(dmar_rmrr_for(info, 0, 0, DEVFN(0x14, 0), NULL, NULL, idx, 4), 2);
	CHECK_EQ(idx[0], 0);
	CHECK_EQ(idx[1], 1);
	CHECK_EQ(dmar_rmrr_for(info, 0, 0, DEVFN(0x14, 0), NULL, NULL, idx, 1), 2);
	CHECK_EQ(dmar_rmrr_for(info, 0, 0, DEVFN(0x1a, 0), NULL, NULL, idx, 4), 1);
	CHECK_EQ(idx[0], 0);
	CHECK_EQ(dmar_rmrr_for(info, 0, 0, DEVFN(0x1b, 0), NULL, NULL, idx, 4), 0);
	CHECK_EQ(dmar_rmrr_for(info, 1, 0, DEVFN(0x14, 0), NULL, NULL, idx, 4), 0);
	CHECK_EQ(dmar_rmrr_for(info, 0, 6, DEVFN(0, 0), &fake_ops, &pci, idx, 4), 1);
	CHECK_EQ(idx[0], 2);
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_other_structures)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed90000ull);
	ab_struct_end(&b, d);
	d = ab_atsr_begin(&b, DMAR_ATSR_ALL_PORTS, 0);
	ab_struct_end(&b, d);
	d = ab_atsr_begin(&b, 0, 1);
	ab_scope(&b, DMAR_SCOPE_BRIDGE, 0, 0, 1, (const uint8_t[]){1, 0});
	ab_struct_end(&b, d);
	ab_rhsa(&b, 0xfed90000ull, 3);
	ab_andd(&b, 1, "\\_SB.PCI0.HPET");
	d = ab_satc_begin(&b, 1, 0);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){2, 0});
	ab_struct_end(&b, d);
	/* A structure type from a later spec: skipped, not fatal. */
	d = b.len;
	ab_u16(&b, 9);
	ab_u16(&b, 8);
	ab_u32(&b, 0);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->natsr, 2);
	CHECK_EQ(info->atsr[0].flags, DMAR_ATSR_ALL_PORTS);
	CHECK_EQ(info->atsr[1].segment, 1);
	CHECK_EQ(info->atsr[1].nscope, 1);
	CHECK_EQ(info->nrhsa, 1);
	CHECK_EQ(info->rhsa[0].base, 0xfed90000ull);
	CHECK_EQ(info->rhsa[0].proximity_domain, 3);
	CHECK_EQ(info->nsatc, 1);
	CHECK_EQ(info->satc[0].flags, 1);
	CHECK_EQ(info->satc[0].scope[0].path[0].dev, 2);
	CHECK(logged("dmar: structure type 9 at offset"));
	CHECK_EQ(info->dropped, 0);
	dmar_free(info);
	ab_free(&b);
}

/* ACRN #8639: a fixed scope array overflowed on a big QEMU machine. */
TEST(dmar_many_scopes_and_long_path)
{
	struct abuf b;
	struct dmar_info *info;
	uint8_t path[2 * 100];
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed90000ull);
	for (unsigned i = 0; i < 200; i++)
		ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, (uint8_t)(i / 8), 1,
			 (const uint8_t[]){(uint8_t)(i % 32), (uint8_t)(i % 8)});
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed91000ull);
	for (unsigned i = 0; i < 100; i++) {
		path[2 * i] = (uint8_t)(i % 32);
		path[2 * i + 1] = 0;
	}
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 100, path);
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->ndrhd, 2);
	CHECK_EQ(info->drhd[0].nscope, 200);
	CHECK_EQ(info->drhd[0].scope[199].start_bus, 24);
	CHECK_EQ(info->drhd[1].scope[0].npath, 100);
	CHECK_EQ(info->drhd[1].scope[0].path[99].dev, 99 % 32);
	dmar_free(info);
	ab_free(&b);
}

/* One DRHD with a bad base between two good ones. */
static void check_bad_base(uint64_t bad, const char *msg)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed90000ull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){1, 0});
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, 0, 0, 0, bad);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){2, 0});
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed92000ull);
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->ndrhd, 2);
	CHECK_EQ(info->drhd[0].base, 0xfed90000ull);
	CHECK_EQ(info->drhd[1].base, 0xfed92000ull);
	CHECK_EQ(info->dropped, 1);
	if (!logged(msg)) {
		fprintf(stderr, "  expected '%s' in log:\n%s", msg, test_con_buf);
		CHECK(logged(msg));
	}
	/* Its device falls to the catch-all. */
	CHECK_EQ(dmar_unit_for(info, 0, 0, DEVFN(2, 0), NULL, NULL), 1);
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_bad_register_base)
{
	check_bad_base(0, "dmar: DRHD 1 (offset 0x48): register base is 0, dropped");
	check_bad_base(0xfffffffffffff000ull,
		       "dmar: DRHD 1 (offset 0x48): register base is all ones, dropped");
	check_bad_base(~0ull, "dmar: DRHD 1 (offset 0x48): register base is all ones, dropped");
	check_bad_base(0xfed93100ull,
		       "dmar: DRHD 1 (offset 0x48): register base not 4 KiB aligned, dropped");
	check_bad_base(
		0xfed90000ull,
		"dmar: DRHD 1 (offset 0x48): register base 0xfed90000 overlaps DRHD at 0xfed90000, dropped");
}

TEST(dmar_overlap_by_size_field)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 1, 0, 0xfed90000ull); /* two pages */
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, 0, 0, 1, 0xfed91000ull); /* inside them */
	ab_struct_end(&b, d);
	d = ab_drhd_begin(&b, 0, 0, 1, 0xfed92000ull); /* just after: fine */
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->ndrhd, 2);
	CHECK_EQ(info->drhd[1].base, 0xfed92000ull);
	CHECK(logged("register base 0xfed91000 overlaps DRHD at 0xfed90000, dropped"));
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_register_range_wraps)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 1, 0, 0xffffffffffffe000ull); /* two pages to 2^64 */
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->ndrhd, 0);
	CHECK(logged("dmar: DRHD 0 (offset 0x30): register range wraps, dropped"));
	dmar_free(info);
	ab_free(&b);
}

static void check_bad_rmrr(uint64_t base, uint64_t limit, const char *msg)
{
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_rmrr_begin(&b, 0, base, limit);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x14, 0});
	ab_struct_end(&b, d);
	d = ab_rmrr_begin(&b, 0, 0x7e000000ull, 0x7e000fffull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x14, 0});
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->nrmrr, 1);
	CHECK_EQ(info->rmrr[0].base, 0x7e000000ull);
	CHECK_EQ(info->dropped, 1);
	if (!logged(msg)) {
		fprintf(stderr, "  expected '%s' in log:\n%s", msg, test_con_buf);
		CHECK(logged(msg));
	}
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_bad_rmrr)
{
	check_bad_rmrr(0x7d000000ull, 0x7cffffffull,
		       "dmar: RMRR 0 (offset 0x30): end 0x7cffffff below base 0x7d000000, dropped");
	check_bad_rmrr(
		0x7d000800ull, 0x7d000fffull,
		"dmar: RMRR 0 (offset 0x30): range 0x7d000800-0x7d000fff not 4 KiB aligned, dropped");
	check_bad_rmrr(
		0x7d000000ull, 0x7d000ffeull,
		"dmar: RMRR 0 (offset 0x30): range 0x7d000000-0x7d000ffe not 4 KiB aligned, dropped");
	check_bad_rmrr(0x7d000000ull, ~0ull, "not 4 KiB aligned, dropped");
	/* Too short for base and limit. */
	struct abuf b;
	struct dmar_info *info;
	size_t t, d;
	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = b.len;
	ab_u16(&b, DMAR_TYPE_RMRR);
	ab_u16(&b, 16);
	ab_zero(&b, 12);
	(void)d;
	ab_table_end(&b, t);
	info = parse(&b);
	CHECK_EQ(info->nrmrr, 0);
	CHECK(logged("dmar: RMRR 0 (offset 0x30): too short, dropped"));
	dmar_free(info);
	ab_free(&b);
}

/* Builds: good DRHD A, then the broken bytes from fn, then an
 * INCLUDE_PCI_ALL DRHD B (if the walk survives to it). */
static struct dmar_info *with_struct(void (*fn)(struct abuf *))
{
	static struct abuf b;
	size_t t, d;

	ab_free(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed90000ull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){1, 0});
	ab_struct_end(&b, d);
	fn(&b);
	d = ab_drhd_begin(&b, DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed92000ull);
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	return parse(&b);
}

static void zero_len_struct(struct abuf *b)
{
	ab_u16(b, DMAR_TYPE_RMRR);
	ab_u16(b, 0);
	ab_zero(b, 20);
}
static void struct_past_table(struct abuf *b)
{
	ab_u16(b, DMAR_TYPE_ATSR);
	ab_u16(b, 0x400);
	ab_zero(b, 4);
}
static void three_bytes(struct abuf *b) { ab_bytes(b, (const uint8_t[]){0, 0, 8}, 3); }
static void short_drhd(struct abuf *b)
{
	ab_u16(b, DMAR_TYPE_DRHD);
	ab_u16(b, 12);
	ab_zero(b, 8);
}

TEST(dmar_bad_structure_lengths)
{
	struct dmar_info *info = with_struct(zero_len_struct);

	/* A zero length cannot be stepped over: the walk stops, A survives. */
	CHECK_EQ(info->ndrhd, 1);
	CHECK(logged("dmar: structure type 1 at offset 0x48 has length 0, rest of table ignored"));
	dmar_free(info);

	info = with_struct(struct_past_table);
	CHECK_EQ(info->ndrhd, 1);
	CHECK_EQ(info->natsr, 0);
	CHECK(logged("dmar: structure type 2 at offset 0x48 length 1024 runs past the table"));
	dmar_free(info);

	info = with_struct(three_bytes);
	/* Three bytes are not a structure header; they misalign the rest. */
	CHECK_EQ(info->ndrhd, 1);
	CHECK(logged("dmar: DRHD 1 (offset 0x48): too short, dropped"));
	CHECK(logged("dmar: structure type 0 at offset 0x50 has length 0, rest of table ignored"));
	dmar_free(info);

	info = with_struct(short_drhd);
	CHECK_EQ(info->ndrhd, 2); /* A and B, the short one dropped */
	CHECK(logged("dmar: DRHD 1 (offset 0x48): too short, dropped"));
	CHECK_EQ(info->drhd[1].base, 0xfed92000ull);
	dmar_free(info);
}

/* One DRHD with a good scope, the broken scope bytes, then maybe more. */
static struct dmar_info *with_scope(const uint8_t *bytes, size_t n, bool good_after)
{
	static struct abuf b;
	size_t t, d;

	ab_free(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed90000ull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){1, 0});
	ab_bytes(&b, bytes, n);
	if (good_after)
		ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){3, 0});
	ab_struct_end(&b, d);
	ab_table_end(&b, t);
	return parse(&b);
}

TEST(dmar_bad_scopes)
{
	struct dmar_info *info;

	/* Length 4 (< 6): dropped, the list goes on. */
	info = with_scope((const uint8_t[]){1, 4, 0, 0}, 4, true);
	CHECK_EQ(info->drhd[0].nscope, 2);
	CHECK_EQ(info->drhd[0].scope[1].path[0].dev, 3);
	CHECK(logged(
		"dmar: DRHD 0 (offset 0x30): scope 1 length 4 (needs 6 + 2 per path entry, at least one), dropped"));
	dmar_free(info);
	/* Odd path bytes. */
	info = with_scope((const uint8_t[]){1, 9, 0, 0, 0, 0, 2, 0, 7}, 9, true);
	CHECK_EQ(info->drhd[0].nscope, 2);
	CHECK(logged("scope 1 length 9 (needs 6 + 2 per path entry, at least one), dropped"));
	dmar_free(info);
	/* Empty path. */
	info = with_scope((const uint8_t[]){1, 6, 0, 0, 0, 0}, 6, true);
	CHECK_EQ(info->drhd[0].nscope, 2);
	CHECK(logged("scope 1 length 6"));
	dmar_free(info);
	/* Length 0: the rest of the list cannot be found. */
	info = with_scope((const uint8_t[]){1, 0, 0, 0, 0, 0, 2, 0}, 8, true);
	CHECK_EQ(info->drhd[0].nscope, 1);
	CHECK(logged("dmar: DRHD 0 (offset 0x30): scope 1 has length 0, rest of scopes ignored"));
	dmar_free(info);
	/* Longer than the structure. */
	info = with_scope((const uint8_t[]){1, 40, 0, 0, 0, 0, 2, 0}, 8, false);
	CHECK_EQ(info->drhd[0].nscope, 1);
	CHECK(logged("scope 1 length 40 runs past the structure, rest of scopes ignored"));
	dmar_free(info);
	/* One byte left over. */
	info = with_scope((const uint8_t[]){1}, 1, false);
	CHECK_EQ(info->drhd[0].nscope, 1);
	CHECK(logged("scope 1 truncated, ignored"));
	dmar_free(info);
	/* Unknown type. */
	info = with_scope((const uint8_t[]){9, 8, 0, 0, 0, 0, 2, 0}, 8, true);
	CHECK_EQ(info->drhd[0].nscope, 2);
	CHECK(logged("scope 1 has unknown type 9, dropped"));
	dmar_free(info);
	/* Device number out of range. */
	info = with_scope((const uint8_t[]){1, 10, 0, 0, 0, 0, 2, 0, 0x20, 0}, 10, true);
	CHECK_EQ(info->drhd[0].nscope, 2);
	CHECK(logged("scope 1 path entry 1 is 20.0, not a device, dropped"));
	CHECK_EQ(info->dropped, 1);
	dmar_free(info);
}

/* Every truncation of a table with every structure kind: parsed without
 * a fault (ASan watches), whatever is kept is within the table. */
TEST(dmar_every_truncation)
{
	struct abuf b;
	size_t t, d;

	ab_init(&b);
	t = ab_dmar_begin(&b, 38, 1);
	d = ab_drhd_begin(&b, 0, 0, 0, 0xfed90000ull);
	ab_scope(&b, DMAR_SCOPE_IOAPIC, 0, 0xff, 1, (const uint8_t[]){0, 0});
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 2, (const uint8_t[]){0x1c, 0, 0, 0});
	ab_struct_end(&b, d);
	d = ab_rmrr_begin(&b, 0, 0x7d000000ull, 0x7d0fffffull);
	ab_scope(&b, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x14, 0});
	ab_struct_end(&b, d);
	d = ab_atsr_begin(&b, 0, 0);
	ab_scope(&b, DMAR_SCOPE_BRIDGE, 0, 0, 1, (const uint8_t[]){1, 0});
	ab_struct_end(&b, d);
	ab_rhsa(&b, 0xfed90000ull, 0);
	ab_table_end(&b, t);
	for (uint32_t n = 48; n <= b.len; n++) {
		uint8_t *copy = malloc(n);
		struct dmar_info *info = NULL;

		memcpy(copy, b.p, n);
		copy[4] = (uint8_t)n; /* header length = the cut */
		copy[5] = (uint8_t)(n >> 8);
		test_con_reset();
		CHECK_EQ(dmar_parse(copy, n, &info), 0);
		if (info) {
			CHECK(info->ndrhd <= 1);
			if (n == b.len)
				CHECK(info->ndrhd == 1 && info->nrmrr == 1 && info->natsr == 1 &&
				      info->nrhsa == 1 && info->dropped == 0);
			else if (n > 48)
				CHECK(test_con_len > 0 || info->dropped == 0);
		}
		dmar_free(info);
		free(copy);
	}
	ab_free(&b);
}

TEST(dmar_trailing_bytes)
{
	struct abuf b;
	struct dmar_info *info;

	ab_init(&b);
	ab_qemu_dmar(&b);
	ab_bytes(&b, (const uint8_t[]){0, 0, 0}, 3);
	ab_table_end(&b, 0);
	info = parse(&b);
	CHECK_EQ(info->ndrhd, 1);
	CHECK_EQ(info->drhd[0].nscope, 4);
	CHECK(logged("dmar: 3 trailing bytes at offset 0x60, ignored"));
	dmar_free(info);
	ab_free(&b);
}

TEST(dmar_free_null) { dmar_free(NULL); }
