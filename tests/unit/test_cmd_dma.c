// SOURCES: console/cmd_dma.c dma/devices.c dma/space.c dma/walk.c dma/map.c dma/hint.c dma/attach.c dma/prereg.c dma/acct.c lib/itree.c kernel/frame.c lib/parse.c drivers/pci.c iommu/iommu.c tests/unit/fake_iommu.c tests/unit/fake_pci.c lib/bdf.c
/*
 * tests/unit/test_cmd_dma.c — the `as`, `dma`, `pin` and `bench dma`
 * console commands (console/cmd_dma.c) and the device/group glue
 * (dma/devices.c), driven through the command table with argv arrays
 * against the fake IOMMU driver, a fake ECAM and frames from host memory.
 *
 * PCI: 00:00.0 host bridge, 00:03.0 edu, 00:04.0 endpoint no unit
 * translates, 00:05.0 PCIe-to-PCI bridge -> 02:01.0, 02:02.0 (alias 02:00.0).
 * Unit A (intr_remap) translates everything on segment 0 but 00:04.0.
 */
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "drivers/pci.h"
#include "drivers/pci_regs.h"
#include "console/console.h"
#include "dma/devices.h"
#include "tests/unit/dma_testlib.h"
#include "tests/unit/fake_pci.h"

#define K4 0x1000ull
#define ECAM 0xb0000000ull

static struct iommu_unit *unit_a;
static struct iommu_unit *(*const keep_tl_unit)(uint64_t) __attribute__((unused)) = tl_unit;
static bool unit_remaps = true;

static bool scope(struct iommu_unit *u, uint16_t seg, uint16_t rid)
{
	return u == unit_a && seg == 0 && rid != pci_make_rid(0, 4, 0);
}

static void world(void)
{
	static bool done;
	struct fake_pci_fn *f;
	struct fake_pci *p;
	static const struct pci_ecam win = {ECAM, 0, 0, 0x3f};

	tl_setup();
	fake_iommu_reset();
	if (done)
		return;
	done = true;
	fake_pci_reset();
	p = fake_pci_create(ECAM, 0, 0, 0x3f);
	fake_pci_add(p, 0, 0, 0, 0x8086, 0x29c0, 0x060000, 0);
	f = fake_pci_add(p, 0, 3, 0, 0x1234, 0x11e8, 0x00ff00, 0);
	fake_pci_bar32(f, 0, 0xfe000000, 0x100000, false);
	fake_pci_add(p, 0, 4, 0, 0x1234, 0x0004, 0x020000, 0);
	f = fake_pci_add(p, 0, 5, 0, 0x1b36, 0x000e, 0x060400, 1);
	fake_pci_bridge_buses(f, 0, 2, 2);
	fake_pci_cap_pcie(f, 0x48, PCI_EXP_TYPE_PCI_BRIDGE);
	fake_pci_add(p, 2, 1, 0, 0x1234, 0x0001, 0x020000, 0);
	fake_pci_add(p, 2, 2, 0, 0x1234, 0x0002, 0x020000, 0);
	if (pci_init(&win, 1))
		abort();
	unit_a = fake_iommu_unit_new(PGSIZE_4K | PGSIZE_2M | PGSIZE_1G, (1ull << 39) - 1, true,
				     true);
	if (iommu_register_unit(unit_a))
		abort();
	iommu_set_scope_fn(scope);
}

static bool out_has(const char *s) { return strstr(test_con_buf, s) != NULL; }
static bool msg_has(const char *s) { return strstr(test_cmd_msg, s) != NULL; }

static unsigned mk(void)
{
	unsigned id = 0;

	world();
	CHECK_EQ(test_cmd("as create"), 0);
	CHECK(sscanf(test_con_buf, "as=%u\n", &id) == 1);
	return id;
}

static void rm(unsigned id)
{
	char l[64];

	snprintf(l, sizeof(l), "as destroy %u", id);
	CHECK_EQ(test_cmd(l), 0);
	CHECK_EQ(fake_iommu_stats.violations, 0);
}

TEST(as_create_list_destroy)
{
	unsigned a = mk(), b;
	char want[128];

	CHECK_EQ(test_cmd("as create share=%u", a), 0);
	CHECK(sscanf(test_con_buf, "as=%u", &b) == 1);
	CHECK(b != a);
	CHECK_EQ(test_cmd("as list"), 0);
	snprintf(want, sizeof(want), "as=%u devices=- mappings=0 bytes=0 domains=0 owner=%u ", a,
		 a);
	CHECK(out_has(want));
	/* b is charged to a's owner */
	snprintf(want, sizeof(want), "as=%u devices=- mappings=0 bytes=0 domains=0 owner=%u ", b,
		 a);
	CHECK(out_has(want));
	CHECK_EQ(test_cmd("as create share=999"), -ENOENT);
	CHECK(msg_has("no address space 999"));
	CHECK_EQ(test_cmd("as create share=zz"), -EINVAL);
	CHECK_EQ(test_cmd("as create sharing=1"), -EINVAL);
	CHECK(msg_has("unknown option"));
	CHECK_EQ(test_cmd("as create share=1 x"), -EINVAL);
	CHECK(msg_has("usage: as create"));
	CHECK_EQ(test_cmd("as list x"), -EINVAL);
	CHECK_EQ(test_cmd("as destroy"), -EINVAL);
	CHECK_EQ(test_cmd("as destroy 4294967296"), -EOVERFLOW);
	CHECK_EQ(test_cmd("as destroy 0x"), -EINVAL);
	CHECK_EQ(test_cmd("as destroy 999"), -ENOENT);
	CHECK_EQ(test_cmd("as"), -EINVAL);
	CHECK(msg_has("usage: as"));
	rm(b);
	rm(a);
	CHECK_EQ(test_cmd("as destroy %u", a), -ENOENT);
	CHECK_EQ(test_cmd("as list"), 0);
	snprintf(want, sizeof(want), "as=%u ", a);
	CHECK(!out_has(want));
}

TEST(dma_map_list_unmap)
{
	unsigned a = mk();
	uint64_t pa = tl_user(2), hpa = 0, iova = 0, sz = 0;
	char want[512];
	struct tl_mem m0 = tl_mem();

	CHECK_EQ(test_cmd("dma map %u 0x10000 16K hpa:0x%llx", a, (unsigned long long)pa), 0);
	snprintf(want, sizeof(want), "iova=0x10000 size=16384 hpa=0x%llx\n",
		 (unsigned long long)pa);
	CHECK(!strcmp(test_con_buf, want));
	CHECK_EQ(test_cmd("dma map %u 0x100000 8K alloc r", a), 0);
	CHECK(sscanf(test_con_buf, "iova=0x%" SCNx64 " size=%" SCNu64 " hpa=0x%" SCNx64, &iova, &sz,
		     &hpa) == 3);
	CHECK_EQ(iova, 0x100000);
	CHECK_EQ(sz, 8192);
	CHECK(frame_get(hpa) && frame_get(hpa)->tag == FRAME_DMA && frame_get(hpa)->pins == 1);
	CHECK_EQ(test_cmd("dma map %u 0x200000 4K hpa:0x%llx w", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("dma list %u", a), 0);
	snprintf(want, sizeof(want),
		 "iova=0x10000 size=16384 hpa=0x%llx prot=rw src=hpa hinted=0 registered=0\n"
		 "iova=0x100000 size=8192 hpa=0x%llx prot=r src=alloc hinted=0 registered=0\n"
		 "iova=0x200000 size=4096 hpa=0x%llx prot=w src=hpa hinted=0 registered=0\n",
		 (unsigned long long)pa, (unsigned long long)hpa, (unsigned long long)pa);
	CHECK(!strcmp(test_con_buf, want));
	CHECK_EQ(test_cmd("as list"), 0);
	snprintf(want, sizeof(want), "as=%u devices=- mappings=3 bytes=28672 domains=0", a);
	CHECK(out_has(want));
	CHECK_EQ(frame_get(pa)->pins, 2);

	/* unmap: exact, nothing there, split refused, all */
	CHECK_EQ(test_cmd("dma unmap %u 0x100000 8K", a), 0);
	CHECK(!strcmp(test_con_buf, "unmapped=8192\n"));
	CHECK_EQ(test_cmd("dma unmap %u 0x100000 8K", a), 0);
	CHECK(!strcmp(test_con_buf, "unmapped=0\n"));
	CHECK_EQ(test_cmd("dma unmap %u 0x11000 4K", a), -EINVAL);
	CHECK(msg_has("would split mapping at iova=0x10000 size=16384"));
	CHECK_EQ(test_cmd("dma unmap %u 0x0 0x11000", a), -EINVAL);
	CHECK(msg_has("would split mapping at iova=0x10000"));
	CHECK_EQ(test_cmd("dma unmap %u 0x10800 4K", a), -EINVAL);
	CHECK(msg_has("iova 0x10800 is not aligned to 4096"));
	CHECK_EQ(test_cmd("dma unmap %u 0x10000 0", a), -EINVAL);
	CHECK(msg_has("size is zero"));
	CHECK_EQ(test_cmd("dma unmap %u 0xfffffffffffff000 8K", a), -EOVERFLOW);
	CHECK(msg_has("wraps"));
	CHECK_EQ(test_cmd("dma unmap %u 0x10000", a), -EINVAL);
	CHECK(msg_has("usage: dma unmap"));
	CHECK_EQ(test_cmd("dma unmap %u everything", a), -EINVAL);
	CHECK_EQ(test_cmd("dma unmap %u zz 4K", a), -EINVAL);
	CHECK(msg_has("bad iova"));
	CHECK_EQ(test_cmd("dma unmap %u 0 4Q", a), -EINVAL);
	CHECK(msg_has("bad size"));
	CHECK_EQ(test_cmd("dma unmap 77 all"), -ENOENT);
	CHECK_EQ(test_cmd("dma unmap %u all", a), 0);
	CHECK(!strcmp(test_con_buf, "unmapped=20480\n"));
	CHECK_EQ(test_cmd("dma list %u", a), 0);
	CHECK_EQ(test_con_len, 0);
	CHECK_EQ(test_cmd("dma list 77"), -ENOENT);
	CHECK_EQ(test_cmd("dma list"), -EINVAL);
	struct tl_mem m1 = tl_mem();
	CHECK_EQ(m1.pinned, m0.pinned);
	CHECK_EQ(m1.free, m0.free);
	rm(a);
	tl_user_free(pa, 2);
}

TEST(dma_map_errors)
{
	unsigned a = mk();
	uint64_t pa = tl_user(1), own = frame_alloc(0, FRAME_SLUICE);
	struct dma_space *s = dma_space_get(a);

	CHECK_EQ(test_cmd("dma map %u 0x10000 8K hpa:0x%llx", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("dma map %u 0x11000 4K alloc", a), -EEXIST);
	CHECK(msg_has("overlaps mapping at iova=0x10000 size=8192"));
	CHECK_EQ(test_cmd("dma map %u 0xf000 8K alloc", a), -EEXIST);
	CHECK(msg_has("overlaps mapping at iova=0x10000"));
	CHECK_EQ(test_cmd("dma map %u 0x1234 4K alloc", a), -EINVAL);
	CHECK(msg_has("iova 0x1234 is not aligned to 4096"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 100 alloc", a), -EINVAL);
	CHECK(msg_has("size 100 is not a multiple of 4096"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 0 alloc", a), -EINVAL);
	CHECK(msg_has("size is zero"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 4K hpa:0x%llx", a, (unsigned long long)pa + 0x10),
		 -EINVAL);
	CHECK(msg_has("is not aligned to 4096"));
	CHECK(msg_has("hpa"));
	CHECK_EQ(test_cmd("dma map %u 0xfffffffffffff000 8K alloc", a), -EOVERFLOW);
	CHECK(msg_has("wraps"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 8K hpa:0xfffffffffffff000", a), -EOVERFLOW);
	CHECK(msg_has("hpa 0xfffffffffffff000"));
	CHECK_EQ(test_cmd("dma map %u 0xfee00000 4K alloc", a), -EINVAL);
	CHECK(msg_has("reserved region"));
	CHECK(msg_has("reserved region 0xfee00000-0xfeefffff (the MSI window)"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 4K hpa:0x%llx", a, (unsigned long long)own), -EPERM);
	CHECK(msg_has("not memory from mem alloc"));
	CHECK(msg_has("is sluice's own memory"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 4K heap", a), -EINVAL);
	CHECK(msg_has("bad source"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 4K hpa:zz", a), -EINVAL);
	CHECK(msg_has("bad hpa"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 4K alloc x", a), -EINVAL);
	CHECK(msg_has("bad access 'x'"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 4K", a), -EINVAL);
	CHECK(msg_has("usage: dma map"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 99999999999999999999 alloc", a), -EOVERFLOW);
	CHECK_EQ(test_cmd("dma map 77 0x20000 4K alloc"), -ENOENT);
	/* mapping count limit */
	CHECK_EQ(dma_space_set_map_limit(s, 1), 0);
	CHECK_EQ(test_cmd("dma map %u 0x20000 4K alloc", a), -ENOSPC);
	CHECK(msg_has("limit of 1 mappings"));
	CHECK_EQ(dma_space_set_map_limit(s, DMA_DEFAULT_MAP_LIMIT), 0);
	/* pin limit */
	CHECK_EQ(test_cmd("pin limit %u 12K", a), 0);
	CHECK_EQ(test_cmd("dma map %u 0x20000 8K alloc", a), -ENOMEM);
	CHECK(msg_has("pin limit: owner"));
	CHECK(msg_has("pinned=8192 limit=12288"));
	CHECK(msg_has("needs 8192 more"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 4K alloc", a), 0);
	CHECK_EQ(test_cmd("pin limit %u unlimited", a), 0);
	CHECK_EQ(test_cmd("pin stat %u", a), 0);
	CHECK(out_has("pinned=12288 registered=0 limit=18446744073709551615"));
	CHECK_EQ(test_cmd("dma"), -EINVAL);
	rm(a);
	tl_user_free(pa, 1);
	CHECK_EQ(frame_free(own, 0), 0);
}

/* hpa: of a block another owner alloc'd: EPERM, named in words; a space
 * made with share= (the same owner) maps it. */
TEST(dma_map_other_owners_memory)
{
	unsigned a = mk(), b = mk(), c = 0;
	uint64_t hpa = 0;
	char want[96];

	CHECK_EQ(test_cmd("as create share=%u", a), 0);
	CHECK(sscanf(test_con_buf, "as=%u\n", &c) == 1);
	CHECK_EQ(test_cmd("dma map %u 0x10000 4K alloc", a), 0);
	CHECK_EQ(dma_lookup(dma_space_get(a), 0x10000, &hpa, NULL), 0);
	CHECK_EQ(test_cmd("dma map %u 0x10000 4K hpa:0x%llx", b, (unsigned long long)hpa), -EPERM);
	snprintf(want, sizeof(want), "hpa 0x%llx belongs to another owner", (unsigned long long)hpa);
	CHECK(msg_has(want));
	CHECK(msg_has("allocated for owner"));
	snprintf(want, sizeof(want), "as=%u's owner is", b);
	CHECK(msg_has(want));
	CHECK_EQ(test_cmd("dma map %u 0x10000 4K hpa:0x%llx", c, (unsigned long long)hpa), 0);
	CHECK_EQ(test_cmd("dma unmap %u 0x10000 4K", c), 0);
	rm(c);
	rm(b);
	rm(a);
}

/* A map whose unwinding unmap failed leaves its range quarantined: a later
 * map into it says so. */
TEST(dma_map_into_quarantined_range)
{
	unsigned a = mk();
	struct iommu_unit *u2 = tl_unit(PGSIZE_4K);
	struct dma_group g2;

	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), 0);
	tl_group(&g2, u2, 1);
	CHECK_EQ(dma_attach(dma_space_get(a), &g2), 0); /* a second domain */
	fake_iommu_fail(FAKE_MAP, 2, -EIO);		 /* the second domain's map */
	fake_iommu_fail(FAKE_UNMAP, 1, -EIO);		 /* and the first one's unwind */
	CHECK_EQ(test_cmd("dma map %u 0x10000 8K alloc", a), -EIO);
	fake_iommu_reset();
	CHECK_EQ(test_cmd("dma map %u 0x11000 4K alloc", a), -EINVAL);
	CHECK(msg_has("touches the quarantined range 0x10000-0x11fff"));
	CHECK_EQ(test_cmd("dma map %u 0x12000 4K alloc", a), 0);
	rm(a);
	fake_iommu_unit_free(u2);
}

TEST(attach_detach_translate)
{
	unsigned a = mk(), b = mk();
	uint64_t pa = tl_user(9);
	char want[160];

	CHECK_EQ(test_cmd("dma map %u 0x200000 2M hpa:0x%llx", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("dma translate %u 0x200000", a), -ENOENT);
	CHECK(msg_has("no hardware domain"));
	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), 0);
	CHECK_EQ(fake_iommu_rid_domain(unit_a, pci_make_rid(0, 3, 0)) != NULL, 1);
	CHECK_EQ(test_cmd("as list"), 0);
	snprintf(want, sizeof(want), "as=%u devices=00:03.0 mappings=1 bytes=2097152 domains=1", a);
	CHECK(out_has(want));
	CHECK_EQ(test_cmd("dma translate %u 0x201234", a), 0);
	snprintf(want, sizeof(want), "iova=0x201234 hpa=0x%llx level=2 prot=rw\n",
		 (unsigned long long)pa + 0x1234);
	CHECK(!strcmp(test_con_buf, want));
	CHECK_EQ(test_cmd("dma translate %u 0x400000", a), -ENOENT);
	CHECK(msg_has("not mapped"));
	CHECK_EQ(test_cmd("dma translate %u", a), -EINVAL);
	CHECK_EQ(test_cmd("dma translate %u qq", a), -EINVAL);

	/* the whole group follows: 02:01.0 brings 02:02.0 and the alias */
	CHECK_EQ(test_cmd("as attach %u 02:02.0", b), 0);
	CHECK(fake_iommu_rid_domain(unit_a, 0x0200) != NULL);
	CHECK(fake_iommu_rid_domain(unit_a, pci_make_rid(2, 1, 0)) != NULL);
	CHECK(fake_iommu_rid_domain(unit_a, pci_make_rid(2, 2, 0)) != NULL);
	CHECK_EQ(test_cmd("as list"), 0);
	snprintf(want, sizeof(want), "as=%u devices=02:01.0,02:02.0 ", b);
	CHECK(out_has(want));

	/* errors */
	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), -EBUSY);
	CHECK(msg_has("already attached"));
	CHECK_EQ(test_cmd("as attach %u 00:03.0", b), -EBUSY);
	CHECK(msg_has("detach it first"));
	CHECK_EQ(test_cmd("as attach %u 00:04.0", a), -ENODEV);
	CHECK(msg_has("no IOMMU unit translates 00:04.0"));
	CHECK_EQ(test_cmd("as attach %u 00:1f.0", a), -ENODEV);
	CHECK(msg_has("no PCI device 00:1f.0"));
	CHECK_EQ(test_cmd("as attach %u 0:3", a), -EINVAL);
	CHECK(msg_has("bad bdf"));
	CHECK_EQ(test_cmd("as attach %u", a), -EINVAL);
	CHECK_EQ(test_cmd("as attach 77 00:03.0"), -ENOENT);
	CHECK_EQ(test_cmd("as detach %u 00:03.0", b), -ENOENT);
	CHECK(msg_has("is not attached to"));
	CHECK_EQ(test_cmd("as detach %u 00:04.0", a), -ENOENT);
	CHECK_EQ(test_cmd("as detach %u 00:1f.0", a), -ENODEV);
	CHECK_EQ(test_cmd("as detach %u", a), -EINVAL);

	CHECK_EQ(test_cmd("as detach %u 00:03.0", a), 0);
	CHECK(fake_iommu_rid_domain(unit_a, pci_make_rid(0, 3, 0)) == NULL);
	/* unit without interrupt remapping */
	unit_a->intr_remap = false;
	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), -EPERM);
	CHECK(msg_has("allow_unsafe_interrupts"));
	CHECK(msg_has("does not remap interrupts"));
	unit_a->intr_remap = true;
	/* remapping but compatibility format open: the reason is named */
	unit_a->intr_isolated = false;
	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), -EPERM);
	CHECK(msg_has("compatibility-format interrupts cannot be blocked on IOMMU unit"));
	CHECK(msg_has("allow_unsafe_interrupts"));
	unit_a->intr_isolated = true;
	/* an existing mapping above the unit's aperture */
	uint64_t ap = unit_a->aperture_end;
	unit_a->aperture_end = 0x1fffff;
	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), -EINVAL);
	CHECK(msg_has("outside what unit"));
	CHECK(msg_has("iova=0x200000 size=2097152 ends above its last iova 0x1fffff"));
	unit_a->aperture_end = ap;
	(void)unit_remaps;
	rm(b);
	CHECK(fake_iommu_rid_domain(unit_a, 0x0200) == NULL);
	rm(a);
	tl_user_free(pa, 9);
}

TEST(hint_unhint)
{
	unsigned a = mk();
	uint64_t pa = tl_user(2);

	CHECK_EQ(test_cmd("dma map %u 0x10000 16K hpa:0x%llx", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("dma hint %u 0x11000 8K", a), 0);
	CHECK_EQ(frame_get(pa + K4)->pins, 0);
	CHECK_EQ(frame_get(pa)->pins, 1);
	CHECK_EQ(test_cmd("dma list %u", a), 0);
	CHECK(out_has("hinted=8192"));
	CHECK_EQ(test_cmd("dma unhint %u 0x11000 8K", a), 0);
	CHECK_EQ(frame_get(pa + K4)->pins, 1);
	CHECK_EQ(test_cmd("dma hint %u 0x20000 4K", a), -EINVAL);
	CHECK(msg_has("not covered by mappings"));
	CHECK(msg_has("nothing is mapped at 0x20000"));
	CHECK_EQ(test_cmd("dma hint %u 0x13000 8K", a), -EINVAL);
	CHECK(msg_has("nothing is mapped at 0x14000"));
	CHECK_EQ(test_cmd("dma hint %u 0x10800 4K", a), -EINVAL);
	CHECK(msg_has("not aligned to 4096"));
	CHECK_EQ(test_cmd("dma hint %u 0x10000 0", a), -EINVAL);
	CHECK(msg_has("size is zero"));
	CHECK_EQ(test_cmd("dma unhint %u 0xfffffffffffff000 8K", a), -EOVERFLOW);
	CHECK_EQ(test_cmd("dma hint %u 0x10000", a), -EINVAL);
	CHECK(msg_has("usage: dma hint"));
	CHECK_EQ(test_cmd("dma unhint %u 0x10000", a), -EINVAL);
	CHECK(msg_has("usage: dma unhint"));
	CHECK_EQ(test_cmd("dma hint 77 0x10000 4K"), -ENOENT);
	rm(a);
	tl_user_free(pa, 2);
}

TEST(pin_commands)
{
	unsigned a = mk();
	uint64_t pa = tl_user(2), own = frame_alloc(0, FRAME_SLUICE);

	CHECK_EQ(test_cmd("pin register %u 0x%llx 16K", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("pin stat %u", a), 0);
	CHECK(out_has("pinned=16384 registered=16384 limit="));
	CHECK_EQ(test_cmd("pin register %u 0x%llx 16K", a, (unsigned long long)pa), -EBUSY);
	CHECK(msg_has("already registered"));
	CHECK_EQ(test_cmd("pin register %u 0x%llx 4K", a, (unsigned long long)pa + K4), -EINVAL);
	CHECK(msg_has("different registration"));
	char reg[64];
	snprintf(reg, sizeof(reg), "hpa=0x%llx size=16384", (unsigned long long)pa);
	CHECK(msg_has(reg));
	CHECK_EQ(test_cmd("pin register %u 0x%llx 4K", a, (unsigned long long)pa + 1), -EINVAL);
	CHECK(msg_has("multiples of 4096"));
	CHECK_EQ(test_cmd("pin register %u 0x%llx 0", a, (unsigned long long)pa), -EINVAL);
	CHECK(msg_has("size is zero"));
	CHECK_EQ(test_cmd("pin register %u 0xfffffffffffff000 8K", a), -EINVAL);
	CHECK(msg_has("wraps"));
	CHECK_EQ(test_cmd("pin register %u 0x%llx 4K", a, (unsigned long long)own), -EPERM);
	CHECK_EQ(test_cmd("dma map %u 0x10000 4K hpa:0x%llx", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("pin stat %u", a), 0);
	CHECK(out_has("pinned=16384 registered=16384")); /* charged once */
	CHECK_EQ(test_cmd("pin unregister %u 0x%llx 16K", a, (unsigned long long)pa), -EBUSY);
	CHECK(msg_has("mappings still use"));
	CHECK_EQ(test_cmd("pin unregister %u 0x%llx 8K", a, (unsigned long long)pa), -ENOENT);
	CHECK(msg_has("no registration of exactly"));
	CHECK_EQ(test_cmd("dma unmap %u all", a), 0);
	CHECK_EQ(test_cmd("pin unregister %u 0x%llx 16K", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("pin stat %u", a), 0);
	CHECK(out_has("pinned=0 registered=0"));
	CHECK_EQ(test_cmd("pin limit %u 4K", a), 0);
	CHECK_EQ(test_cmd("pin register %u 0x%llx 8K", a, (unsigned long long)pa), -ENOMEM);
	CHECK(msg_has("pin limit"));
	CHECK_EQ(test_cmd("pin limit %u", a), -EINVAL);
	CHECK_EQ(test_cmd("pin limit %u lots", a), -EINVAL);
	CHECK_EQ(test_cmd("pin stat %u x", a), -EINVAL);
	CHECK_EQ(test_cmd("pin stat 77"), -ENOENT);
	CHECK_EQ(test_cmd("pin register %u 0x1000", a), -EINVAL);
	CHECK(msg_has("usage: pin register"));
	CHECK_EQ(test_cmd("pin unregister %u 0x1000", a), -EINVAL);
	CHECK(msg_has("usage: pin unregister"));
	CHECK_EQ(test_cmd("pin unregister %u zz 4K", a), -EINVAL);
	CHECK_EQ(test_cmd("pin"), -EINVAL);
	rm(a);
	tl_user_free(pa, 2);
	CHECK_EQ(frame_free(own, 0), 0);
}

TEST(bench_dma)
{
	unsigned a = mk();
	uint64_t n = 0, sz = 0, mn = 0, un = 0, ms = 0, iova = 0;
	struct tl_mem m0;
	uint64_t maps0;

	CHECK_EQ(test_cmd("bench dma %u 4K 3", a), -EINVAL);
	CHECK(msg_has("attach a device first"));
	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), 0);
	CHECK_EQ(test_cmd("dma map %u 0 2M alloc", a), 0);
	m0 = tl_mem();
	maps0 = fake_iommu_stats.calls[FAKE_MAP];
	CHECK_EQ(test_cmd("bench dma %u 2M 5", a), 0);
	CHECK(sscanf(test_con_buf,
		     "count=%" SCNu64 " size=%" SCNu64 " map_ns=%" SCNu64 " unmap_ns=%" SCNu64
		     " total_ms=%" SCNu64 " iova=0x%" SCNx64,
		     &n, &sz, &mn, &un, &ms, &iova) == 6);
	CHECK_EQ(n, 5);
	CHECK_EQ(sz, 2 << 20);
	CHECK_EQ(iova, 2 << 20); /* the free aligned range above the mapping */
	CHECK_EQ(fake_iommu_stats.calls[FAKE_MAP] - maps0, 6); /* warm-up + 5 */
	CHECK_EQ(fake_iommu_stats.leaves[1] >= 6, 1);	       /* 2M leaves used */
	struct tl_mem m1 = tl_mem();
	CHECK_EQ(m1.free, m0.free); /* the block was freed again */
	CHECK_EQ(m1.pinned, m0.pinned);
	CHECK_EQ(test_cmd("dma list %u", a), 0);
	CHECK(!strstr(test_con_buf, "iova=0x200000"));
	CHECK_EQ(test_cmd("bench dma %u 4K 0", a), -EINVAL);
	CHECK(msg_has("count is zero"));
	CHECK_EQ(test_cmd("bench dma %u 4K 2000000", a), -EOVERFLOW);
	CHECK_EQ(test_cmd("bench dma %u 100 1", a), -EINVAL);
	CHECK_EQ(test_cmd("bench dma %u 2G 1", a), -EINVAL);
	CHECK_EQ(test_cmd("bench dma %u 4K", a), -EINVAL);
	CHECK(msg_has("usage: bench dma"));
	CHECK_EQ(test_cmd("pin limit %u 2M", a), 0);
	CHECK_EQ(test_cmd("bench dma %u 4K 1", a), -ENOMEM);
	CHECK_EQ(tl_mem().free, m0.free);
	CHECK_EQ(test_cmd("pin limit %u unlimited", a), 0);
	rm(a);
}

/* ENOMEM is either the pin limit or memory, and the message says which
 * exactly: a call that needs no new charge cannot be over the limit, even
 * with the limit at the charge (where a guess from the size would say so). */
/* bench dma hands a device fresh frames: they are zeroed first, so no
 * earlier holder's data is visible.  A dirtied free block whose buddy is
 * held is the next one of its order the allocator hands out. */
TEST(bench_dma_memory_zeroed)
{
	unsigned a = mk();
	uint64_t b[4], x = 0, keep = 0, hpa = 0;
	const char *p;
	const unsigned char *m;
	bool clean = true;

	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), 0);
	for (int i = 0; i < 4; i++)
		CHECK((b[i] = frame_alloc(FRAME_ORDER_2M, FRAME_USER)) != 0);
	for (int i = 0; i < 4 && !x; i++)
		for (int j = 0; j < 4; j++)
			if (b[j] == (b[i] ^ (2ull << 20))) {
				x = b[i];
				keep = b[j];
			}
	CHECK(x != 0);
	for (int i = 0; i < 4; i++)
		if (b[i] != x && b[i] != keep)
			CHECK_EQ(frame_free(b[i], FRAME_ORDER_2M), 0);
	memset(phys_to_virt(x), 0xa5, 2u << 20);
	CHECK_EQ(frame_free(x, FRAME_ORDER_2M), 0);
	CHECK_EQ(test_cmd("bench dma %u 2M 1", a), 0);
	p = strstr(test_con_buf, " hpa=0x");
	CHECK(p && sscanf(p, " hpa=0x%" SCNx64, &hpa) == 1);
	CHECK_EQ(hpa, x);
	/* past the free list's link at the start of the (freed again) block */
	m = phys_to_virt(x);
	for (uint64_t i = 64; i < (2u << 20); i++)
		clean &= m[i] == 0;
	CHECK(clean);
	CHECK_EQ(frame_free(keep, FRAME_ORDER_2M), 0);
	rm(a);
}

TEST(pin_limit_or_memory_exact)
{
	unsigned a = mk();
	uint64_t pa = tl_user(2);

	CHECK_EQ(test_cmd("dma map %u 0x10000 16K hpa:0x%llx", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("pin limit %u 16K", a), 0);
	/* the same frames again: no new charge, so no pin limit */
	dma_test_fail_nth(1);
	CHECK_EQ(test_cmd("dma map %u 0x20000 16K hpa:0x%llx", a, (unsigned long long)pa), -ENOMEM);
	dma_test_fail_nth(0);
	CHECK(msg_has("out of memory"));
	CHECK(!msg_has("pin limit"));
	CHECK_EQ(test_cmd("dma map %u 0x20000 16K hpa:0x%llx", a, (unsigned long long)pa), 0);
	/* fresh memory: over the limit, by exactly what it needs */
	CHECK_EQ(test_cmd("dma map %u 0x40000 8K alloc", a), -ENOMEM);
	CHECK(msg_has("pin limit: owner"));
	CHECK(msg_has("pinned=16384 limit=16384 and needs 8192 more"));
	/* an alloc mapping whose memory runs out, with no limit */
	CHECK_EQ(test_cmd("pin limit %u unlimited", a), 0);
	dma_test_fail_nth(2);
	CHECK_EQ(test_cmd("dma map %u 0x40000 8K alloc", a), -ENOMEM);
	dma_test_fail_nth(0);
	CHECK(msg_has("out of memory"));
	CHECK(!msg_has("pin limit"));
	/* pin register: the limit, then memory */
	CHECK_EQ(test_cmd("dma unmap %u all", a), 0);
	CHECK_EQ(test_cmd("pin limit %u 8K", a), 0);
	CHECK_EQ(test_cmd("pin register %u 0x%llx 16K", a, (unsigned long long)pa), -ENOMEM);
	CHECK(msg_has("pin limit: owner"));
	CHECK(msg_has("pinned=0 limit=8192 and needs 16384 more"));
	CHECK_EQ(test_cmd("pin limit %u unlimited", a), 0);
	dma_test_fail_nth(1);
	CHECK_EQ(test_cmd("pin register %u 0x%llx 16K", a, (unsigned long long)pa), -ENOMEM);
	dma_test_fail_nth(0);
	CHECK(msg_has("out of memory"));
	CHECK(!msg_has("pin limit"));
	/* unhint: re-pinning over the limit, or out of memory */
	CHECK_EQ(test_cmd("dma map %u 0x10000 16K hpa:0x%llx", a, (unsigned long long)pa), 0);
	CHECK_EQ(test_cmd("dma hint %u 0x11000 8K", a), 0);
	CHECK_EQ(test_cmd("pin limit %u 8K", a), 0);
	CHECK_EQ(test_cmd("dma unhint %u 0x11000 8K", a), -ENOMEM);
	CHECK(msg_has("pin limit: owner"));
	CHECK(msg_has("pinned=8192 limit=8192 and needs 8192 more"));
	CHECK_EQ(test_cmd("pin limit %u unlimited", a), 0);
	dma_test_fail_nth(1);
	CHECK_EQ(test_cmd("dma unhint %u 0x11000 8K", a), -ENOMEM);
	dma_test_fail_nth(0);
	CHECK(msg_has("out of memory"));
	CHECK(!msg_has("pin limit"));
	/* unmap needs a list of the mappings it removes */
	dma_test_fail_nth(1);
	CHECK_EQ(test_cmd("dma unmap %u 0x10000 16K", a), -ENOMEM);
	dma_test_fail_nth(0);
	CHECK(msg_has("out of memory"));
	CHECK(msg_has("nothing was unmapped"));
	CHECK_EQ(test_cmd("dma unhint %u 0x11000 8K", a), 0);
	rm(a);
	tl_user_free(pa, 2);
}

/* The driver refusing: which unit, which call, where; and what is left. */
TEST(iommu_refusals_named)
{
	unsigned a = mk();

	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), 0);
	fake_iommu_fail_any(1);
	CHECK_EQ(test_cmd("dma map %u 0x10000 4K alloc", a), -EIO);
	fake_iommu_fail_any(0);
	CHECK(msg_has("IOMMU unit 0 refused the map at 0x10000 (EIO); nothing was mapped"));
	CHECK_EQ(test_cmd("dma map %u 0x10000 4K alloc", a), 0);
	fake_iommu_fail_any(1);
	CHECK_EQ(test_cmd("dma unmap %u 0x10000 4K", a), -EIO);
	fake_iommu_fail_any(0);
	CHECK(msg_has("IOMMU unit 0 refused the unmap at 0x10000 (EIO); nothing was unmapped"));
	fake_iommu_fail_any(1);
	CHECK_EQ(test_cmd("as detach %u 00:03.0", a), -EIO);
	fake_iommu_fail_any(0);
	CHECK(msg_has("IOMMU unit 0 refused the detach of 00:03.0 (EIO); it stays attached"));
	rm(a);
}

/* ---- devices.c */

TEST(dev_lookup_and_group)
{
	struct pci_dev *d = NULL;
	struct dma_group *g;
	char b[64];

	world();
	CHECK_EQ(dev_lookup("00:03.0", &d), 0);
	CHECK(d && d->dev == 3);
	CHECK_EQ(dev_lookup("0000:02:01.0", &d), 0);
	CHECK_EQ(dev_lookup("00:03.9", &d), -EINVAL);
	CHECK_EQ(dev_lookup(NULL, &d), -EINVAL);
	CHECK_EQ(dev_lookup("07:00.0", &d), -ENODEV);
	CHECK_EQ(dev_lookup("02:01.0", &d), 0);
	g = dev_group(d);
	CHECK(g != NULL);
	if (!g)
		return;
	CHECK_EQ(g->id, d->group);
	CHECK(g->unit == unit_a);
	CHECK_EQ(g->nrids, 3);
	CHECK_EQ(g->rids[0], 0x0200);
	CHECK_EQ(g->rids[1], pci_make_rid(2, 1, 0));
	CHECK_EQ(g->rids[2], pci_make_rid(2, 2, 0));
	CHECK(dev_group(d) == g); /* persistent */
	CHECK(dev_group_find(d->group) == g);
	CHECK(!strcmp(dev_group_bdfs(g, b, sizeof(b)), "02:01.0,02:02.0"));
	CHECK(!strcmp(dev_group_bdfs(g, b, 10), "02:01.0"));
	CHECK_EQ(dev_lookup("00:04.0", &d), 0);
	CHECK(dev_group(d) == NULL);
	CHECK_EQ(dev_group_get(d, &g), -ENODEV);
	CHECK(dev_group_find(d->group) == NULL);
	dev_reset();
}

TEST(dev_collect_rids_pure)
{
	struct pci_dev devs[6];
	struct pci_dev *m[6];
	uint16_t rids[DMA_GROUP_MAX_RIDS];

	memset(devs, 0, sizeof(devs));
	for (int i = 0; i < 6; i++) {
		devs[i].bus = 5;
		devs[i].dev = (uint8_t)i;
		devs[i].alias_rid = 0x0500;
		m[i] = &devs[i];
	}
	/* alias 05:00.0 equals device 0's own rid: 6 distinct */
	CHECK_EQ(dev_collect_rids(m, 6, rids, DMA_GROUP_MAX_RIDS), 6);
	CHECK_EQ(rids[0], 0x0500);
	CHECK_EQ(rids[5], pci_make_rid(5, 5, 0));
	for (int i = 0; i < 6; i++)
		devs[i].alias_rid = (uint16_t)(0x0600 + i);
	CHECK_EQ(dev_collect_rids(m, 6, rids, DMA_GROUP_MAX_RIDS), -E2BIG);
	CHECK_EQ(dev_collect_rids(m, 4, rids, DMA_GROUP_MAX_RIDS), 8);
}

/* An RMRR naming 02:01.0 at [0x9000000, 0x90fffff]: the whole group (its
 * bridge alias and 02:02.0 too) carries the range as reserved IOVA. */
static unsigned fake_rmrr(uint16_t seg, uint8_t bus, uint8_t devfn, uint64_t *start, uint64_t *last,
			  unsigned max)
{
	if (seg != 0 || bus != 2 || devfn != (1 << 3))
		return 0;
	if (max) {
		start[0] = 0x9000000;
		last[0] = 0x90fffff;
	}
	return 1;
}

TEST(rmrr_ranges_are_reserved)
{
	unsigned a = mk(), b = mk();

	dev_set_rmrr_query(fake_rmrr);
	/* a mapping already over the RMRR: the group cannot join this space */
	CHECK_EQ(test_cmd("dma map %u 0x9080000 4096 alloc", a), 0);
	CHECK_EQ(test_cmd("as attach %u 02:02.0", a), -EINVAL);
	CHECK(msg_has("mapping iova=0x9080000 size=4096"));
	CHECK(msg_has("reserved region 0x9000000-0x90fffff of the group"));
	CHECK_EQ(test_cmd("as list"), 0);
	CHECK(!out_has("02:02.0"));
	/* a clean space takes it; then nothing may be mapped over the RMRR */
	CHECK_EQ(test_cmd("as attach %u 02:02.0", b), 0);
	CHECK_EQ(test_cmd("dma map %u 0x9000000 4096 alloc", b), -EINVAL);
	CHECK(msg_has("reserved"));
	CHECK(msg_has("reserved region 0x9000000-0x90fffff (an RMRR of group"));
	CHECK(msg_has("02:01.0,02:02.0)"));
	CHECK_EQ(test_cmd("dma map %u 0x8fff000 8192 alloc", b), -EINVAL);
	CHECK_EQ(test_cmd("dma map %u 0x9100000 4096 alloc", b), 0);
	/* detaching drops the reservation with the group */
	CHECK_EQ(test_cmd("as detach %u 02:02.0", b), 0);
	CHECK_EQ(test_cmd("dma map %u 0x9000000 4096 alloc", b), 0);
	dev_set_rmrr_query(NULL);
	rm(a);
	rm(b);
}

/* A group that left a space and could not be quiesced: `as detach` succeeds
 * (it has left), `as attach` refuses it with EBUSY "not quiesced" until the
 * quiesce works. */
static int quiesce_rc;
static int fake_quiesce(struct dma_group *g, void *arg)
{
	(void)g;
	(void)arg;
	return quiesce_rc;
}

TEST(attach_refused_not_quiesced)
{
	unsigned a = mk(), b = mk();
	struct pci_dev *d;
	struct dma_group *g;

	CHECK_EQ(dev_lookup("00:03.0", &d), 0);
	CHECK((g = dev_group(d)) != NULL);
	dma_quiesce_fn glue = g->quiesce;
	void *glue_arg = g->quiesce_arg;

	CHECK(glue != NULL); /* the device glue registers one */
	CHECK_EQ(test_cmd("as attach %u 00:03.0", a), 0);
	dma_group_on_quiesce(g, fake_quiesce, NULL);
	quiesce_rc = -ETIMEDOUT;
	CHECK_EQ(test_cmd("as detach %u 00:03.0", a), 0);
	CHECK_EQ(test_cmd("as attach %u 00:03.0", b), -EBUSY);
	CHECK(msg_has("not quiesced"));
	CHECK(msg_has("ETIMEDOUT"));
	CHECK(msg_has("00:03.0"));
	quiesce_rc = 0;
	CHECK_EQ(test_cmd("as attach %u 00:03.0", b), 0);
	CHECK_EQ(test_cmd("as detach %u 00:03.0", b), 0);
	dma_group_on_quiesce(g, glue, glue_arg);
	rm(a);
	rm(b);
}
