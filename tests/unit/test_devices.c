// SOURCES: console/cmd_edu.c drivers/edu.c dma/devices.c dma/space.c dma/walk.c dma/map.c dma/hint.c dma/attach.c dma/prereg.c dma/acct.c lib/itree.c kernel/frame.c lib/parse.c lib/crc32.c drivers/pci.c iommu/iommu.c tests/unit/fake_iommu.c tests/unit/fake_pci.c lib/bdf.c
#include <stddef.h>

#include "drivers/msi.h"

/* No unit in this test remaps interrupts (the fake units have no irq_ops):
 * edu's MSI takes the compatibility path (the remapped path is proved in
 * QEMU, tests/qemu/test_irq.py). */
int msi_enable_remapped(struct pci_dev *d, struct iommu_unit *u, irq_handler_fn fn, void *ctx,
			struct iommu_irq_route **out)
{
	(void)d;
	(void)u;
	(void)fn;
	(void)ctx;
	(void)out;
	return -ENOTSUP;
}

void msi_disable_remapped(struct iommu_irq_route *r) { (void)r; }

/*
 * tests/unit/test_devices.c — the edu driver (drivers/edu.c) and the `edu`
 * commands (console/cmd_edu.c) against a register model of QEMU 7.2's edu
 * that performs each DMA at once through the fake IOMMU's tables, records a
 * "VT-d fault" for every access the tables refuse, and fails the test for
 * any transfer QEMU 7.2 would abort on (0 bytes, or end >= 0x41000).
 * Also the pure transfer splitting and every argument error.
 *
 * PCI: 00:03.0 edu (BAR0 0xfe000000, MSI at 0x40), 00:04.0 a non-edu
 * endpoint, 00:05.0 an edu without BAR0, 00:06.0 an edu no unit translates,
 * 00:07.0 a PCIe endpoint with FLR (quiesce on detach).
 */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/irq.h"
#include "drivers/edu.h"
#include "drivers/pci.h"
#include "drivers/pci_regs.h"
#include "hw/hw.h"
#include "console/console.h"
#include "dma/devices.h"
#include "lib/crc32.h"
#include "tests/unit/dma_testlib.h"
#include "tests/unit/fake_hw.h"
#include "tests/unit/fake_pci.h"

#define K4 0x1000ull
#define ECAM 0xb0000000ull
#define BAR 0xfe000000ull

static struct iommu_unit *unit_a;
static struct iommu_unit *(*const keep_tl_unit)(uint64_t) __attribute__((unused)) = tl_unit;

/* ---- stubs: interrupt vectors */
static uint64_t faults; /* faults the edu model logged */
/* Vectors 0x41, 0x42, ...: the lowest free one, while vectors_left allows. */
#define NVEC 4
static irq_handler_fn isrs[NVEC];
static void *isr_ctxs[NVEC];
#define isr isrs[0]
static int vectors_left = 1;
int irq_alloc_vector(irq_handler_fn fn, void *ctx)
{
	if (!vectors_left)
		return -ENOSPC;
	for (unsigned i = 0; i < NVEC; i++) {
		if (isrs[i])
			continue;
		vectors_left--;
		isrs[i] = fn;
		isr_ctxs[i] = ctx;
		return 0x41 + (int)i;
	}
	return -ENOSPC;
}
void irq_free_vector(unsigned vector)
{
	vectors_left++;
	isrs[vector - 0x41] = NULL;
}
uint64_t irq_msi_compat_addr(void) { return 0xfee00000ull; }
uint32_t irq_msi_compat_data(unsigned vector) { return vector; }

/* ---- the edu model */
static struct {
	uint64_t src, dst, cnt, cmd;
	uint32_t irq_status;
	uint8_t buf[EDU_BUF_SIZE];
	unsigned dmas, bad, acks;
	bool hang, deliver;
	uint16_t sid;
	uint32_t last_addr; /* MSI address of the last delivery */
} ed;

static bool xlate(uint64_t iova, unsigned need, uint64_t *pa)
{
	struct iommu_domain *d = fake_iommu_rid_domain(unit_a, ed.sid);
	unsigned lv, prot;

	if (!d || d->unit->ops->iova_to_phys(d, iova, pa, &lv, &prot) || !(prot & need)) {
		/* as a driver's fault handler does: into the IOMMU core's log */
		struct iommu_fault f = {.addr = iova & ~0xfffull,
					.unit = unit_a->index,
					.rid = ed.sid,
					.is_read = need == IOMMU_READ,
					.reason = need == IOMMU_READ ? 6 : 5,
					.reason_name = "denied"};

		iommu_fault_add(&f);
		faults++;
		return false;
	}
	return true;
}

static void run_dma(void)
{
	bool to_ram = ed.cmd & EDU_DMA_CMD_TO_RAM;
	uint64_t dev = to_ram ? ed.src : ed.dst, ram = to_ram ? ed.dst : ed.src;
	bool faulted = false;

	ed.dmas++;
	/* QEMU 7.2 edu_check_range: hw_error (abort) otherwise */
	if (ed.cnt == 0 || dev < EDU_BUF_ADDR || dev + ed.cnt >= EDU_BUF_ADDR + EDU_BUF_SIZE) {
		ed.bad++;
		return;
	}
	for (uint64_t i = 0; i < ed.cnt; i++) {
		uint64_t pa;
		uint8_t *b = &ed.buf[dev - EDU_BUF_ADDR + i];
		bool ok = !faulted && xlate(ram + i, to_ram ? IOMMU_WRITE : IOMMU_READ, &pa);
		faulted |= !ok; /* one record per DMA, as the single FRCD */
		if (to_ram) {
			if (ok)
				*(uint8_t *)(uintptr_t)pa = *b;
		} else {
			*b = ok ? *(uint8_t *)(uintptr_t)pa : 0;
		}
	}
}

static struct fake_pci_fn *edu_fn, *flr_fn;

/* The message edu's MSI capability (0x40, 32-bit form) holds, delivered to
 * the vector in its data when ed.deliver (no IOMMU here: compatibility
 * format, as the stubs compose it). */
static void msi_send(void)
{
	unsigned v = fake_pci_get16(edu_fn, 0x48) & 0xff;

	if (!ed.deliver || !(fake_pci_get16(edu_fn, 0x42) & 1) || v < 0x41 || v >= 0x41 + NVEC)
		return;
	ed.last_addr = fake_pci_get32(edu_fn, 0x44);
	if (isrs[v - 0x41])
		isrs[v - 0x41](v, isr_ctxs[v - 0x41]);
}

static uint64_t ed_read(void *ctx, uint64_t off, unsigned size)
{
	(void)ctx;
	if (off < 0x80 && size != 4)
		return ~0ull;
	switch (off) {
	case EDU_REG_ID: return EDU_ID_VALUE;
	case EDU_REG_IRQ_STATUS: return ed.irq_status;
	case EDU_REG_DMA_CMD: return ed.cmd;
	default: return 0;
	}
}

static void ed_write(void *ctx, uint64_t off, uint64_t val, unsigned size)
{
	(void)ctx;
	if (off < 0x80 && size != 4)
		return;
	if (off >= 0x80 && (ed.cmd & EDU_DMA_CMD_START))
		return; /* ignored while a DMA runs */
	switch (off) {
	case EDU_REG_IRQ_RAISE:
		ed.irq_status |= (uint32_t)val;
		msi_send();
		break;
	case EDU_REG_IRQ_ACK:
		ed.irq_status &= ~(uint32_t)val;
		ed.acks++;
		break;
	case EDU_REG_DMA_SRC: ed.src = val; break;
	case EDU_REG_DMA_DST: ed.dst = val; break;
	case EDU_REG_DMA_CNT: ed.cnt = val; break;
	case EDU_REG_DMA_CMD:
		if (!(val & EDU_DMA_CMD_START))
			break;
		ed.cmd = val;
		if (!ed.hang) {
			run_dma();
			ed.cmd &= ~(uint64_t)EDU_DMA_CMD_START;
		}
		break;
	}
}

static void world(void)
{
	static bool done;
	struct fake_pci *p;
	struct fake_pci_fn *f;
	static const struct pci_ecam win = {ECAM, 0, 0, 0x3f};
	static const struct fake_mmio m = {BAR, 0x100000, ed_read, ed_write, NULL};
	static const struct fake_mmio m2 = {0xfd000000, 0x100000, ed_read, ed_write, NULL};

	tl_setup();
	fake_iommu_reset();
	fake_tsc_step = 1000;
	memset(&ed, 0, sizeof(ed));
	ed.sid = pci_make_rid(0, 3, 0);
	if (done)
		return;
	done = true;
	fake_pci_reset();
	p = fake_pci_create(ECAM, 0, 0, 0x3f);
	fake_pci_add(p, 0, 0, 0, 0x8086, 0x29c0, 0x060000, 0);
	edu_fn = f = fake_pci_add(p, 0, 3, 0, EDU_VENDOR, EDU_DEVICE, 0x00ff00, 0);
	fake_pci_bar32(f, 0, (uint32_t)BAR, 0x100000, false);
	fake_pci_cap(f, 0x40, PCI_CAP_ID_MSI);
	memset(f->wmask + 0x42, 0xff, 8); /* flags, address, data (32-bit form) */
	fake_pci_add(p, 0, 4, 0, 0x1234, 0x0004, 0x020000, 0);
	fake_pci_add(p, 0, 5, 0, EDU_VENDOR, EDU_DEVICE, 0x00ff00, 0);
	f = fake_pci_add(p, 0, 6, 0, EDU_VENDOR, EDU_DEVICE, 0x00ff00, 0);
	fake_pci_bar32(f, 0, 0xfd000000, 0x100000, false);
	flr_fn = f = fake_pci_add(p, 0, 7, 0, 0x8086, 0x10d3, 0x020000, 0);
	fake_pci_cap_pcie(f, 0x40, PCI_EXP_TYPE_ENDPOINT);
	fake_pci_flr_pcie(f);
	fake_pci_bar32(f, 0, 0xfc000000, 0x20000, false);
	if (pci_init(&win, 1))
		abort();
	fake_mmio_add(&m);
	fake_mmio_add(&m2);
	unit_a = fake_iommu_unit_new(PGSIZE_4K | PGSIZE_2M, (1ull << 39) - 1, true, true);
	if (iommu_register_unit(unit_a))
		abort();
	iommu_set_scope_fn(NULL);
}

static bool scope(struct iommu_unit *u, uint16_t seg, uint16_t rid)
{
	return u == unit_a && seg == 0 && rid != pci_make_rid(0, 6, 0);
}

static bool msg_has(const char *s) { return strstr(test_cmd_msg, s) != NULL; }

static struct dma_space *space(void)
{
	struct dma_space *s = NULL;
	struct pci_dev *d;

	iommu_set_scope_fn(scope);
	CHECK_EQ(dma_space_create(NULL, &s), 0);
	CHECK_EQ(dev_lookup("00:03.0", &d), 0);
	CHECK_EQ(dma_attach(s, dev_group(d)), 0);
	return s;
}

/* ---- pure logic */

TEST(edu_dma_limits)
{
	CHECK(edu_dma_ok(0, 1));
	CHECK(edu_dma_ok(0, EDU_DMA_MAX));
	CHECK(!edu_dma_ok(0, 0));
	CHECK(!edu_dma_ok(0, EDU_DMA_MAX + 1));
	CHECK(edu_dma_ok(0x800, 0x7ff));  /* ends at 0x40fff */
	CHECK(!edu_dma_ok(0x800, 0x800)); /* ends at 0x41000: QEMU 7.2 aborts */
	CHECK(!edu_dma_ok(0xfff, 1));
	CHECK(!edu_dma_ok(0xffffffffu, 2));
}

TEST(edu_chunking)
{
	uint32_t off = 99, len = 99;

	CHECK_EQ(edu_chunks(0, 0, &off, &len), 0);
	CHECK_EQ(edu_chunks(4097, 0, &off, &len), 0);
	CHECK_EQ(edu_chunks(1, 0, &off, &len), 1);
	CHECK_EQ(off, 0);
	CHECK_EQ(len, 1);
	CHECK_EQ(edu_chunks(2048, 0, &off, &len), 1);
	CHECK_EQ(len, 2048);
	CHECK_EQ(edu_chunks(2049, 1, &off, &len), 2);
	CHECK_EQ(off, 2048);
	CHECK_EQ(len, 1);
	CHECK_EQ(edu_chunks(4096, 1, &off, &len), 2);
	CHECK_EQ(off, 2048);
	CHECK_EQ(len, 2048);
	/* every chunk of every length is a DMA QEMU 7.2 accepts */
	for (uint32_t l = 1; l <= EDU_XFER_MAX; l++) {
		uint32_t sum = 0;
		unsigned n = edu_chunks(l, 0, &off, &len);
		for (unsigned i = 0; i < n; i++) {
			CHECK_EQ(edu_chunks(l, i, &off, &len), n);
			CHECK(edu_dma_ok(0, len));
			CHECK_EQ(off, sum);
			sum += len;
		}
		CHECK_EQ(sum, l);
	}
}

/* ---- commands */

TEST(edu_read_ok_and_fault)
{
	struct dma_space *s;
	uint64_t pa, iova;
	uint8_t *p;
	char want[64];
	struct tl_mem m0;

	world();
	s = space();
	pa = tl_user(1);
	p = phys_to_virt(pa);
	for (int i = 0; i < 8192; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ(dma_map(s, 0x10000, 2 * K4, DMA_SRC_HPA, pa, DMA_PROT_R | DMA_PROT_W, &iova), 0);
	m0 = tl_mem();
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x10000 4096"), 0);
	snprintf(want, sizeof(want), "status=ok crc32=0x%08x\n", crc32(p, 4096));
	CHECK(!strcmp(test_con_buf, want));
	CHECK_EQ(ed.bad, 0);
	CHECK_EQ(ed.dmas, 4); /* 2 x (2048 in, 2048 back out) */
	CHECK_EQ(memcmp(ed.buf, p + 2048, 2048), 0);
	/* odd length across the two pages */
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x10ffd 7"), 0);
	snprintf(want, sizeof(want), "status=ok crc32=0x%08x\n", crc32(p + 0xffd, 7));
	CHECK(!strcmp(test_con_buf, want));
	/* the bounce page is gone, charged nothing, leaked nothing */
	struct dma_space_info si;
	dma_space_info(s, &si);
	CHECK_EQ(si.nmaps, 1);
	CHECK_EQ(tl_mem().free, m0.free);
	CHECK_EQ(tl_mem().pinned, m0.pinned);

	/* half of the range unmapped: fault, zeros received for that part */
	uint8_t exp[4096] = {0};
	memcpy(exp, p + 4096, 4096);
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x11000 4096"), 0);
	CHECK_EQ(faults, 0);
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x11800 4096"), 0);
	memset(exp, 0, sizeof(exp));
	memcpy(exp, p + 4096 + 2048, 2048);
	snprintf(want, sizeof(want), "status=fault crc32=0x%08x\n", crc32(exp, 4096));
	CHECK(!strcmp(test_con_buf, want));
	CHECK(faults > 0);
	CHECK_EQ(iommu_fault_total(), faults); /* what `iommu faults` lists */
	CHECK_EQ(ed.bad, 0);
	/* pin limit at the current charge: the bounce still works (charged to the
	 * hypervisor, dma_map_hyp), the limits untouched */
	struct dma_owner_stat os;
	CHECK_EQ(dma_owner_set_limit(s, 2 * K4), 0);
	CHECK_EQ(dma_space_set_map_limit(s, 1), 0);
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x10000 16"), 0);
	dma_owner_stat(s, &os);
	CHECK_EQ(os.limit, 2 * K4);
	CHECK_EQ(os.pinned, 2 * K4); /* the bounce was the hypervisor's, and is gone */
	struct dma_stats st;
	dma_stats(&st);
	CHECK_EQ(st.hyp_pinned, 0);
	dma_space_info(s, &si);
	CHECK_EQ(si.map_limit, 1);
	CHECK_EQ(dma_owner_set_limit(s, UINT64_MAX), 0);
	CHECK_EQ(dma_space_set_map_limit(s, DMA_DEFAULT_MAP_LIMIT), 0);
	CHECK_EQ(dma_space_destroy(s), 0);
	tl_user_free(pa, 1);
}

TEST(edu_write_ok_and_fault)
{
	struct dma_space *s;
	uint64_t pa, first;
	uint8_t *p;

	world();
	s = space();
	pa = tl_user(1);
	p = phys_to_virt(pa);
	memset(p, 0x11, 8192);
	CHECK_EQ(dma_map(s, 0x20000, 2 * K4, DMA_SRC_HPA, pa, DMA_PROT_W, &first), 0);
	CHECK_EQ(test_cmd("edu 00:03.0 write 0x20000 4096 0xab"), 0);
	CHECK(!strcmp(test_con_buf, "status=ok\n"));
	for (int i = 0; i < 4096; i++)
		if (p[i] != 0xab) {
			CHECK(!"byte not written");
			break;
		}
	CHECK_EQ(p[4096], 0x11);
	CHECK_EQ(ed.dmas, 3); /* one fill, two out */
	CHECK_EQ(ed.bad, 0);
	CHECK_EQ(test_cmd("edu 00:03.0 write 0x21ffe 3 7"), 0);
	CHECK(!strcmp(test_con_buf, "status=fault\n"));
	CHECK_EQ(p[8190], 7);
	CHECK_EQ(p[8191], 7);
	/* read from a write-only mapping faults, zeros received */
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x20000 8"), 0);
	char want[64];
	uint8_t z[8] = {0};
	snprintf(want, sizeof(want), "status=fault crc32=0x%08x\n", crc32(z, 8));
	CHECK(!strcmp(test_con_buf, want));
	CHECK_EQ(dma_space_destroy(s), 0);
	tl_user_free(pa, 1);
}

TEST(edu_not_attached)
{
	char want[64];
	uint8_t z[100] = {0};

	world();
	iommu_set_scope_fn(scope);
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x1000 100"), 0);
	snprintf(want, sizeof(want), "status=fault crc32=0x%08x readback=0\n", crc32(z, 100));
	CHECK(!strcmp(test_con_buf, want));
	CHECK_EQ(test_cmd("edu 00:03.0 write 0x1000 100 1"), 0);
	CHECK(!strcmp(test_con_buf, "status=fault\n"));
}

TEST(edu_irq_cmd)
{
	world();
	ed.deliver = true;
	CHECK_EQ(test_cmd("edu 00:03.0 irq"), 0);
	CHECK(!strcmp(test_con_buf, "delivered=1 vector=65 irte=-\n"));
	CHECK_EQ(ed.irq_status, 0); /* acknowledged by the handler */
	CHECK(fake_pci_get16(edu_fn, 0x42) & 1); /* MSI enabled */
	ed.deliver = false;
	CHECK_EQ(test_cmd("edu 00:03.0 irq"), 0);
	CHECK(!strcmp(test_con_buf, "delivered=0 vector=65 irte=-\n"));
	CHECK_EQ(ed.irq_status, 0);
	CHECK_EQ(test_cmd("edu 00:03.0 irq x"), -EINVAL);
}

/* `edu irq compat`: sluice's own MSI first, then a compatibility-format
 * message for a second vector (no route), raised, and the capability put
 * back with the vector freed. */
TEST(edu_irq_compat_cmd)
{
	world();
	ed.deliver = true;
	int held = vectors_left;
	vectors_left++; /* room for the probe vector */
	CHECK_EQ(test_cmd("edu 00:03.0 irq compat"), 0);
	int spare = vectors_left; /* edu's own vector taken now, if it was not */
	CHECK(!strcmp(test_con_buf, "delivered=1 vector=66 irte=- addr=0xfee00000 data=0x0042\n"));
	CHECK_EQ(ed.last_addr & 0x10, 0); /* compatibility format */
	CHECK_EQ(fake_pci_get16(edu_fn, 0x48), 0x41); /* sluice's own message back */
	CHECK_EQ(fake_pci_get32(edu_fn, 0x44), 0xfee00000u);
	CHECK(fake_pci_get16(edu_fn, 0x42) & 1);
	CHECK(isrs[1] == NULL); /* the probe vector freed */
	CHECK(spare >= 1);
	CHECK_EQ(test_cmd("edu 00:03.0 irq"), 0);
	CHECK(!strcmp(test_con_buf, "delivered=1 vector=65 irte=-\n"));
	/* a unit that blocks them: nothing arrives */
	ed.deliver = false;
	CHECK_EQ(test_cmd("edu 00:03.0 irq compat"), 0);
	CHECK(!strncmp(test_con_buf, "delivered=0 vector=66 irte=-", 28));
	CHECK_EQ(vectors_left, spare);
	/* no second vector */
	vectors_left = 0;
	CHECK_EQ(test_cmd("edu 00:03.0 irq compat"), -ENOSPC);
	CHECK_EQ(fake_pci_get16(edu_fn, 0x48), 0x41);
	vectors_left = spare - 1; /* as before, less edu's own vector if it took one now */
	CHECK(vectors_left <= held);
	CHECK_EQ(test_cmd("edu 00:03.0 irq compat x"), -EINVAL);
	CHECK_EQ(test_cmd("edu 00:03.0 irq other"), -EINVAL);
}

TEST(edu_errors)
{
	world();
	iommu_set_scope_fn(scope);
	CHECK_EQ(test_cmd("edu"), -EINVAL);
	CHECK(msg_has("usage: edu"));
	CHECK_EQ(test_cmd("edu 00:03.0"), -EINVAL);
	CHECK_EQ(test_cmd("edu 00:03.0 poke"), -EINVAL);
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x1000"), -EINVAL);
	CHECK_EQ(test_cmd("edu 00:03.0 write 0x1000 4"), -EINVAL);
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x1000 0"), -EINVAL);
	CHECK(msg_has("not 1..4096"));
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x1000 4097"), -EINVAL);
	CHECK_EQ(test_cmd("edu 00:03.0 write 0x1000 5K 1"), -EINVAL);
	CHECK_EQ(test_cmd("edu 00:03.0 read zz 4"), -EINVAL);
	CHECK(msg_has("bad iova"));
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x1000 4x"), -EINVAL);
	CHECK(msg_has("bad length"));
	CHECK_EQ(test_cmd("edu 00:03.0 read 0xffffffffffffffff 2"), -EOVERFLOW);
	CHECK_EQ(test_cmd("edu 00:03.0 write 0x1000 4 256"), -EOVERFLOW);
	CHECK(msg_has("bad byte"));
	CHECK_EQ(test_cmd("edu 00:03.0 write 0x1000 4 q"), -EINVAL);
	CHECK_EQ(test_cmd("edu 3 read 0x1000 4"), -EINVAL);
	CHECK(msg_has("bad bdf"));
	CHECK_EQ(test_cmd("edu 00:1e.0 read 0x1000 4"), -ENODEV);
	CHECK(msg_has("no PCI device"));
	CHECK_EQ(test_cmd("edu 00:04.0 read 0x1000 4"), -ENODEV);
	CHECK(msg_has("not an edu device"));
	CHECK_EQ(test_cmd("edu 00:04.0 irq"), -ENODEV);
	CHECK_EQ(test_cmd("edu 00:05.0 irq"), -EIO);
	CHECK(msg_has("BAR0"));
	CHECK_EQ(test_cmd("edu 00:06.0 read 0x1000 4"), -ENODEV);
	CHECK(msg_has("no IOMMU unit translates 00:06.0"));
	/* a device that never finishes */
	struct dma_space *s = space();
	uint64_t first;
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_ALLOC, 0, DMA_PROT_R | DMA_PROT_W, &first), 0);
	ed.hang = true;
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x10000 4"), -ETIMEDOUT);
	CHECK(msg_has("did not finish"));
	struct dma_space_info si;
	dma_space_info(s, &si);
	CHECK_EQ(si.nmaps, 1); /* bounce page removed on the error path */
	CHECK_EQ(edu_dma(NULL, false, 0, 0, 0), -EINVAL);
	ed.hang = false;
	ed.cmd = 0;
	/* no free vector */
	CHECK_EQ(dma_space_destroy(s), 0);
}

TEST(edu_irq_no_vector)
{
	/* runs after edu_irq_cmd took the only vector only if 00:03.0 had none;
	 * use the untranslated edu (its own driver state, no vector yet) */
	world();
	vectors_left = 0;
	CHECK_EQ(test_cmd("edu 00:06.0 irq"), -ENOTSUP); /* no MSI capability */
	CHECK(msg_has("no MSI capability"));
	vectors_left = 1;
}

/* The MSI sluice set up for edu goes when its group leaves a space: the
 * release callback cmd_edu.c registers on the group runs on detach and on
 * as destroy (the vector freed once each time), and the next `edu irq`
 * sets the MSI up afresh. */
TEST(edu_irq_released_with_the_group)
{
	struct dma_space *s;
	struct pci_dev *d;
	int held;

	world();
	ed.deliver = true;
	CHECK_EQ(test_cmd("edu 00:03.0 irq"), 0);
	CHECK(isr != NULL);
	held = vectors_left;
	s = space();
	CHECK_EQ(dma_space_destroy(s), 0);
	CHECK_EQ(vectors_left, held + 1);
	CHECK(isr == NULL);
	CHECK_EQ(test_cmd("edu 00:03.0 irq"), 0);
	CHECK(!strcmp(test_con_buf, "delivered=1 vector=65 irte=-\n"));
	CHECK_EQ(vectors_left, held);
	s = space();
	CHECK_EQ(dev_lookup("00:03.0", &d), 0);
	CHECK_EQ(dma_detach(s, dev_group(d)), 0);
	CHECK_EQ(vectors_left, held + 1);
	CHECK_EQ(dma_space_destroy(s), 0);
	CHECK_EQ(vectors_left, held + 1); /* not released twice */
	CHECK_EQ(test_cmd("edu 00:03.0 irq"), 0);
	CHECK_EQ(vectors_left, held);
	ed.deliver = false;
}

static bool master_on(const struct fake_pci_fn *f)
{
	return fake_pci_get16(f, PCI_COMMAND) & PCI_COMMAND_MASTER;
}

/* A group leaving a space is quiesced: edu (conventional, no FLR) has Bus
 * Master off right after detach and after as destroy; the next edu command
 * turns it back on and DMAs through the new space. */
TEST(quiesce_edu_on_detach)
{
	struct dma_space *s;
	struct pci_dev *d;
	uint64_t iova;

	uint64_t faults0;

	world();
	faults0 = faults;
	s = space();
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, tl_user(1), DMA_PROT_R | DMA_PROT_W, &iova),
		 0);
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x10000 16"), 0);
	CHECK(master_on(edu_fn));
	CHECK_EQ(dev_lookup("00:03.0", &d), 0);
	CHECK_EQ(dma_detach(s, dev_group(d)), 0);
	CHECK(!master_on(edu_fn));
	CHECK(fake_pci_get16(edu_fn, PCI_COMMAND) & PCI_COMMAND_MEMORY);
	CHECK(!dev_group(d)->unquiesced);
	CHECK_EQ(dma_space_destroy(s), 0);
	s = space();
	CHECK_EQ(dma_map(s, 0x10000, K4, DMA_SRC_HPA, tl_user(1), DMA_PROT_R | DMA_PROT_W, &iova),
		 0);
	CHECK_EQ(test_cmd("edu 00:03.0 read 0x10000 16"), 0);
	CHECK(master_on(edu_fn));
	CHECK(strstr(test_con_buf, "status=ok") != NULL);
	CHECK_EQ(faults, faults0);
	CHECK_EQ(dma_space_destroy(s), 0);
	CHECK(!master_on(edu_fn));
}

/* FLR on detach; a group whose transactions never drain leaves its space
 * but no other space takes it (EBUSY, not quiesced) until a retry works. */
TEST(quiesce_flr_and_blocked_group)
{
	struct dma_space *s, *t;
	struct pci_dev *d;
	struct dma_group *g;
	unsigned flrs;

	world();
	iommu_set_scope_fn(scope);
	CHECK_EQ(dev_lookup("00:07.0", &d), 0);
	CHECK((g = dev_group(d)) != NULL);
	CHECK_EQ(dma_space_create(NULL, &s), 0);
	CHECK_EQ(dma_space_create(NULL, &t), 0);
	flrs = flr_fn->flrs;
	CHECK_EQ(dma_attach(s, g), 0);
	fake_pci_set16(flr_fn, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_set8(flr_fn, 0xc0, 0x5a);
	CHECK_EQ(dma_detach(s, g), 0);
	CHECK_EQ(flr_fn->flrs, flrs + 1);
	CHECK_EQ(flr_fn->flr_master_on, 0);
	CHECK_EQ(fake_pci_get8(flr_fn, 0xc0), 0);
	CHECK_EQ(fake_pci_get16(flr_fn, PCI_COMMAND), PCI_COMMAND_MEMORY);
	CHECK_EQ(fake_pci_get32(flr_fn, PCI_BASE_ADDRESS_0), 0xfc000000);

	/* stuck transactions: detach still completes, the group is blocked */
	CHECK_EQ(dma_attach(s, g), 0);
	fake_pci_set16(flr_fn, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	fake_pci_set16(flr_fn, 0x40 + PCI_EXP_DEVSTA, PCI_EXP_DEVSTA_TRPND);
	CHECK_EQ(dma_detach(s, g), 0);
	CHECK(g->space == NULL);
	CHECK(fake_iommu_rid_domain(unit_a, pci_make_rid(0, 7, 0)) == NULL);
	CHECK(!master_on(flr_fn));
	CHECK_EQ(flr_fn->flrs, flrs + 1);
	CHECK(g->unquiesced);
	CHECK_EQ(dma_attach(t, g), -EBUSY);
	CHECK_EQ(dma_space_why(t)->kind, DMA_WHY_NOT_QUIESCED);
	CHECK_EQ(dma_space_why(t)->a, ETIMEDOUT);
	CHECK_EQ(dma_space_why(t)->id, g->id);
	CHECK(g->space == NULL);
	CHECK(fake_iommu_rid_domain(unit_a, pci_make_rid(0, 7, 0)) == NULL);
	/* drained: the retry on the next attach quiesces (FLR) and lets it in */
	fake_pci_set16(flr_fn, 0x40 + PCI_EXP_DEVSTA, 0);
	CHECK_EQ(dma_attach(t, g), 0);
	CHECK_EQ(flr_fn->flrs, flrs + 2);
	CHECK(fake_iommu_rid_domain(unit_a, pci_make_rid(0, 7, 0)) != NULL);
	/* as destroy quiesces too (once: not again in its detach) */
	CHECK_EQ(dma_space_destroy(t), 0);
	CHECK_EQ(flr_fn->flrs, flrs + 3);
	CHECK(!g->unquiesced);
	CHECK_EQ(dma_space_destroy(s), 0);
}
