// SOURCES: vm/vpci.c
/* tests/unit/test_vpci.c — vm/vpci.c against a fake function: a 4 KiB
 * configuration array (BARs holding their host addresses, a hidden PM
 * capability before MSI and a hidden MSI-X one after it, MSI in 32- and
 * 64-bit/mask forms), the fake counting every physical write (there must be
 * none), and hooks that record each call and can be told to fail. */
#include <string.h>

#include "drivers/msi.h"
#include "drivers/pci_regs.h"
#include "test.h"
#include "vm/vpci.h"

#define MSI_CAP 0x50

/* ---- the fake function */
struct fake {
	uint8_t cfg[4096];
	unsigned writes;
};

static uint32_t fake_read(void *p, unsigned off, unsigned size)
{
	struct fake *f = p;
	uint32_t v = 0;

	for (unsigned i = 0; i < size && off + i < sizeof(f->cfg); i++)
		v |= (uint32_t)f->cfg[off + i] << (8 * i);
	return v;
}
static void fake_write(void *p, unsigned off, unsigned size, uint32_t val)
{
	((struct fake *)p)->writes++;
}
static void put(struct fake *f, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		f->cfg[off + i] = (uint8_t)(v >> (8 * i));
}
static const struct vpci_phys_ops fake_ops = {fake_read, fake_write};

/* ---- recording hooks */
enum { EV_MAP = 1, EV_UNMAP, EV_MSI, EV_BM };
struct ev {
	int kind;
	unsigned bar;
	uint64_t gpa, hpa, size;
	bool on;
};
struct rec {
	struct ev ev[64];
	unsigned n;
	int fail_map, fail_unmap, fail_msi; /* errno to return */
	bool mem_on_at_map;		    /* Memory Space was on at every bar_map */
};

static void push(struct rec *r, struct ev e)
{
	if (r->n < 64)
		r->ev[r->n] = e;
	r->n++;
}
static int h_map(void *ctx, struct vpci_dev *d, unsigned bar, uint64_t gpa, uint64_t hpa,
		 uint64_t size)
{
	struct rec *r = ctx;

	if (!(d->cmd & PCI_COMMAND_MEMORY))
		r->mem_on_at_map = false;
	push(r, (struct ev){EV_MAP, bar, gpa, hpa, size, true});
	return r->fail_map;
}
static int h_unmap(void *ctx, struct vpci_dev *d, unsigned bar, uint64_t gpa, uint64_t size)
{
	struct rec *r = ctx;

	push(r, (struct ev){EV_UNMAP, bar, gpa, 0, size, false});
	return r->fail_unmap;
}
static int h_msi(void *ctx, struct vpci_dev *d, bool on)
{
	struct rec *r = ctx;

	push(r, (struct ev){EV_MSI, 0, 0, 0, 0, on});
	return on ? r->fail_msi : 0;
}
static void h_bm(void *ctx, struct vpci_dev *d, bool on)
{
	push(ctx, (struct ev){EV_BM, 0, 0, 0, 0, on});
}
static const struct vpci_hooks hooks = {h_map, h_unmap, h_msi, h_bm};

/* ---- fixture */
struct fx {
	struct fake f;
	struct rec r;
	struct vpci_dev d;
};

#define BAR0_HPA 0xfe000000ull	/* 32-bit, 1 MiB */
#define BAR2_HPA 0x800000000ull /* 64-bit prefetchable, 16 KiB (BAR2+BAR3) */
#define BAR4_HPA 0xfebf1000ull	/* 32-bit, 256 bytes: never mapped */

/* MSI control as the device has it: Multiple Message Capable 8 (3 << 1). */
static void fake_device(struct fake *f, bool msi64, bool pvm)
{
	memset(f, 0, sizeof(*f));
	put(f, PCI_VENDOR_ID, 4, 0x11e81234);
	put(f, PCI_COMMAND, 2, 0x0007); /* sluice's: I/O, memory, master on */
	put(f, PCI_STATUS, 2, 0x2210);	/* received master abort, devsel, cap list */
	put(f, PCI_CLASS_REVISION, 4, 0x00ff0010);
	put(f, 0x0c, 4, 0x80802010); /* BIST capable, multi-function, lat 0x20, cls 0x10 */
	put(f, 0x10, 4, (uint32_t)BAR0_HPA);
	put(f, 0x14, 4, 0xc001); /* I/O */
	put(f, 0x18, 4, (uint32_t)BAR2_HPA | 0xc);
	put(f, 0x1c, 4, (uint32_t)(BAR2_HPA >> 32));
	put(f, 0x20, 4, (uint32_t)BAR4_HPA);
	put(f, 0x28, 4, 0x12345678); /* CardBus CIS */
	put(f, 0x2c, 4, 0xabcd1af4);
	put(f, 0x30, 4, 0xfeb00001); /* expansion ROM, enabled */
	put(f, PCI_CAPABILITY_LIST, 1, 0x40);
	put(f, 0x3c, 4, 0x0302010b); /* max_lat 3, min_gnt 2, pin A, line 11 */
	put(f, 0x40, 4, 0x00035001); /* PM, next = MSI */
	put(f, 0x44, 4, 0x00000008);
	put(f, MSI_CAP, 2, 0x6005); /* MSI, next = MSI-X */
	put(f, MSI_CAP + PCI_MSI_FLAGS, 2,
	    0x0006 | (msi64 ? PCI_MSI_FLAGS_64BIT : 0) | (pvm ? PCI_MSI_FLAGS_MASKBIT : 0));
	for (unsigned o = 4; o < 0x18; o++)
		f->cfg[MSI_CAP + o] = 0xa5; /* physical address/data/mask: sluice's */
	put(f, 0x68, 4, 0x00070011);	    /* MSI-X, next 0 */
	put(f, 0x100, 4, 0x0001000d);	    /* ACS extended cap */
}

static void fake_bars(struct vpci_dev *d)
{
	d->bar[0] = (struct vpci_bar_info){BAR0_HPA, 1u << 20, false, false, false};
	d->bar[1] = (struct vpci_bar_info){0xc000, 0x20, true, false, false};
	d->bar[2] = (struct vpci_bar_info){BAR2_HPA, 16384, false, true, true};
	d->bar[4] = (struct vpci_bar_info){BAR4_HPA, 256, false, false, false};
}

static int fx_init_caps(struct fx *x, bool msi64, bool pvm, bool with_msi)
{
	memset(x, 0, sizeof(*x));
	fake_device(&x->f, msi64, pvm);
	x->r.mem_on_at_map = true;
	x->d.phys = &x->f;
	x->d.ops = &fake_ops;
	x->d.hooks = &hooks;
	x->d.ctx = &x->r;
	fake_bars(&x->d);
	x->d.cap_msi = with_msi ? MSI_CAP : 0;
	return vpci_dev_init(&x->d);
}

static void fx_init(struct fx *x, bool msi64, bool pvm)
{
	CHECK_EQ(fx_init_caps(x, msi64, pvm, true), 0);
}

static uint32_t rd(struct fx *x, unsigned off, unsigned size)
{
	return vpci_cfg_read(&x->d, off, size);
}
static void wr(struct fx *x, unsigned off, unsigned size, uint32_t v)
{
	vpci_cfg_write(&x->d, off, size, v);
}
static bool ev_is(const struct rec *r, unsigned i, int kind, unsigned bar, uint64_t gpa)
{
	return i < r->n && r->ev[i].kind == kind && r->ev[i].bar == bar && r->ev[i].gpa == gpa;
}

/* ------------------------------------------------------------ init */

TEST(init_rejects_bad_devices)
{
	struct fx x;

	CHECK_EQ(fx_init_caps(&x, false, false, true), 0);

	fx_init_caps(&x, false, false, true);
	memset(x.f.cfg, 0xff, sizeof(x.f.cfg));
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL); /* absent: all ones */

	fx_init_caps(&x, false, false, true);
	x.f.cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);
	x.f.cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_MFD | PCI_HEADER_TYPE_CARDBUS;
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);
	x.f.cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_MFD; /* type 0, MF: accepted */
	CHECK_EQ(vpci_dev_init(&x.d), 0);

	fx_init_caps(&x, false, false, true);
	x.d.bar[0].size = 3u << 20; /* not a power of two */
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);
	fx_init_caps(&x, false, false, true);
	x.d.bar[0].hpa = BAR0_HPA + 4096; /* not aligned to its size */
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);
	fx_init_caps(&x, false, false, true);
	x.d.bar[5] = (struct vpci_bar_info){0x10000000, 4096, false, true, false};
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL); /* 64-bit in the last slot */
	fx_init_caps(&x, false, false, true);
	x.d.bar[3] = (struct vpci_bar_info){0x10000000, 4096, false, false, false};
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL); /* the upper half is not empty */

	fx_init_caps(&x, false, false, true);
	x.d.cap_msi = 0x40; /* that is the PM capability */
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);
	x.d.cap_msi = 0x30;
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);
	x.d.cap_msi = 0x52;
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);
	fx_init_caps(&x, true, true, true);
	put(&x.f, 0xf0, 2, 0x0005);
	put(&x.f, 0xf2, 2, 0x0180);
	x.d.cap_msi = 0xf0; /* 24 bytes do not fit below 0x100 */
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);

	fx_init_caps(&x, false, false, true);
	x.d.hooks = NULL;
	CHECK_EQ(vpci_dev_init(&x.d), -EINVAL);
	CHECK_EQ(x.f.writes, 0);
}

/* ------------------------------------------------------------ header */

TEST(header_from_device_and_shadowed)
{
	struct fx x;

	fx_init(&x, false, false);
	CHECK_EQ(rd(&x, 0, 4), 0x11e81234);
	CHECK_EQ(rd(&x, 2, 2), 0x11e8);
	CHECK_EQ(rd(&x, 8, 4), 0x00ff0010);
	CHECK_EQ(rd(&x, 0x2c, 4), 0xabcd1af4);
	/* read through ops, not captured */
	put(&x.f, 0x2c, 2, 0x8086);
	CHECK_EQ(rd(&x, 0x2c, 2), 0x8086);

	/* cache line / latency shadowed; header type 0 without MFD; BIST 0 */
	CHECK_EQ(rd(&x, 0x0c, 4), 0);
	wr(&x, 0x0c, 4, 0xffff4020);
	CHECK_EQ(rd(&x, 0x0c, 4), 0x4020);
	CHECK_EQ(rd(&x, PCI_HEADER_TYPE, 1), 0);
	CHECK_EQ(rd(&x, 0x0f, 1), 0);
	wr(&x, 0x0d, 1, 0x99);
	CHECK_EQ(rd(&x, 0x0c, 4), 0x9920);

	/* interrupt line shadowed, pin/min_gnt/max_lat the device's */
	CHECK_EQ(rd(&x, 0x3c, 4), 0x03020100);
	wr(&x, 0x3c, 4, 0xffffff0a);
	CHECK_EQ(rd(&x, 0x3c, 4), 0x0302010a);
	CHECK_EQ(rd(&x, 0x3d, 1), 1);
	CHECK_EQ(x.f.cfg[0x3c], 0x0b);

	/* CardBus CIS, expansion ROM, reserved: 0, not writable */
	CHECK_EQ(rd(&x, 0x28, 4), 0);
	CHECK_EQ(rd(&x, 0x30, 4), 0);
	wr(&x, 0x30, 4, 0xffffffff);
	CHECK_EQ(rd(&x, 0x30, 4), 0);
	CHECK_EQ(rd(&x, 0x38, 4), 0);

	/* read-only registers ignore writes */
	wr(&x, 0, 4, 0);
	wr(&x, 8, 4, 0);
	CHECK_EQ(rd(&x, 0, 4), 0x11e81234);
	CHECK_EQ(rd(&x, 8, 4), 0x00ff0010);
	CHECK_EQ(x.f.writes, 0);
	CHECK_EQ(x.r.n, 0);
}

TEST(bad_access_shapes)
{
	struct fx x;

	fx_init(&x, false, false);
	CHECK_EQ(rd(&x, 1, 2), 0xe812); /* inside one dword: bytes 1-2 */
	CHECK_EQ(rd(&x, 3, 1), 0x11);
	CHECK_EQ(rd(&x, 3, 2), 0xffff); /* crosses the dword */
	CHECK_EQ(rd(&x, 2, 4), 0xffffffff);
	CHECK_EQ(rd(&x, 0, 3), 0xffffffff);
	CHECK_EQ(rd(&x, 4096, 4), 0xffffffff);
	wr(&x, 3, 2, 0xffff); /* would set Memory Space in byte 4 */
	wr(&x, 4, 3, 0xffffff);
	CHECK_EQ(rd(&x, 4, 2), 0);
	CHECK_EQ(x.r.n, 0);
}

/* -------------------------------------------------------------- BARs */

TEST(bar_sizing_protocol)
{
	struct fx x;

	fx_init(&x, false, false);
	/* initial view: address 0, the device's flags */
	CHECK_EQ(rd(&x, 0x10, 4), 0);
	CHECK_EQ(rd(&x, 0x18, 4), 0xc); /* 64-bit, prefetchable */
	CHECK_EQ(rd(&x, 0x1c, 4), 0);

	for (unsigned r = 0x10; r < 0x28; r += 4)
		wr(&x, r, 4, 0xffffffff);
	CHECK_EQ(rd(&x, 0x10, 4), 0xfff00000); /* 1 MiB */
	CHECK_EQ(rd(&x, 0x14, 4), 0);	       /* I/O: not offered */
	CHECK_EQ(rd(&x, 0x18, 4), 0xffffc00c); /* 16 KiB | 64-bit | prefetch */
	CHECK_EQ(rd(&x, 0x1c, 4), 0xffffffff); /* upper half: all address */
	CHECK_EQ(rd(&x, 0x20, 4), 0xffffff00); /* 256 bytes */
	CHECK_EQ(rd(&x, 0x24, 4), 0);	       /* unimplemented */

	/* restore, as Linux does */
	wr(&x, 0x10, 4, 0);
	wr(&x, 0x18, 4, 0);
	wr(&x, 0x1c, 4, 0);
	CHECK_EQ(rd(&x, 0x10, 4), 0);
	CHECK_EQ(rd(&x, 0x18, 4), 0xc);

	/* low bits are hardwired, sub-dword writes merge */
	wr(&x, 0x10, 4, 0xc00ffff7);
	CHECK_EQ(rd(&x, 0x10, 4), 0xc0000000);
	wr(&x, 0x13, 1, 0xd0);
	CHECK_EQ(rd(&x, 0x10, 4), 0xd0000000);
	wr(&x, 0x12, 2, 0x1234);
	CHECK_EQ(rd(&x, 0x10, 4), 0x12300000);
	CHECK_EQ(x.d.bar_gpa[0], 0x12300000);
	wr(&x, 0x1c, 4, 0x5);
	wr(&x, 0x18, 4, 0x80004000);
	CHECK_EQ(x.d.bar_gpa[2], 0x580004000ull);
	CHECK_EQ(rd(&x, 0x18, 4), 0x8000400c);

	/* the physical BARs never moved */
	CHECK_EQ(x.f.writes, 0);
	CHECK_EQ(fake_read(&x.f, 0x10, 4), (uint32_t)BAR0_HPA);
	CHECK_EQ(x.r.n, 0); /* Memory Space off: nothing mapped */
}

TEST(bar_sizing_above_4g)
{
	struct fx x;

	memset(&x, 0, sizeof(x));
	fake_device(&x.f, false, false);
	x.d.phys = &x.f;
	x.d.ops = &fake_ops;
	x.d.hooks = &hooks;
	x.d.ctx = &x.r;
	x.d.bar[2] = (struct vpci_bar_info){0x800000000ull, 8ull << 30, false, true, false};
	CHECK_EQ(vpci_dev_init(&x.d), 0);
	wr(&x, 0x18, 4, 0xffffffff);
	wr(&x, 0x1c, 4, 0xffffffff);
	CHECK_EQ(rd(&x, 0x18, 4), 0x4);
	CHECK_EQ(rd(&x, 0x1c, 4), 0xfffffffe); /* 8 GiB */
	CHECK_EQ(rd(&x, 0x10, 4), 0);	       /* no BAR0 in this one */
}

TEST(bar_mapped_while_memory_space_on)
{
	struct fx x;

	fx_init(&x, false, false);
	wr(&x, 0x10, 4, 0xc0000000);
	wr(&x, 0x18, 4, 0x00000000);
	wr(&x, 0x1c, 4, 0x1);
	wr(&x, 0x20, 4, 0xc0100000); /* 256 bytes: never mapped */
	CHECK_EQ(x.r.n, 0);

	wr(&x, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(x.r.n, 2);
	CHECK(ev_is(&x.r, 0, EV_MAP, 0, 0xc0000000));
	CHECK_EQ(x.r.ev[0].hpa, BAR0_HPA);
	CHECK_EQ(x.r.ev[0].size, 1u << 20);
	CHECK(ev_is(&x.r, 1, EV_MAP, 2, 0x100000000ull));
	CHECK_EQ(x.r.ev[1].hpa, BAR2_HPA);
	CHECK_EQ(x.r.ev[1].size, 16384);
	CHECK(x.d.bar_mapped[0] && x.d.bar_mapped[2] && !x.d.bar_mapped[4]);

	/* moving a mapped BAR: the old range first */
	wr(&x, 0x10, 4, 0xc0200000);
	CHECK_EQ(x.r.n, 4);
	CHECK(ev_is(&x.r, 2, EV_UNMAP, 0, 0xc0000000));
	CHECK(ev_is(&x.r, 3, EV_MAP, 0, 0xc0200000));
	/* the same address again: nothing */
	wr(&x, 0x10, 4, 0xc0200000);
	CHECK_EQ(x.r.n, 4);
	/* the upper half of a 64-bit BAR moves it too */
	wr(&x, 0x1c, 4, 0x2);
	CHECK_EQ(x.r.n, 6);
	CHECK(ev_is(&x.r, 4, EV_UNMAP, 2, 0x100000000ull));
	CHECK(ev_is(&x.r, 5, EV_MAP, 2, 0x200000000ull));
	/* address 0: unmapped, not mapped again */
	wr(&x, 0x10, 4, 0);
	CHECK_EQ(x.r.n, 7);
	CHECK(ev_is(&x.r, 6, EV_UNMAP, 0, 0xc0200000));
	CHECK(!x.d.bar_mapped[0]);

	/* Memory Space off: everything mapped goes */
	wr(&x, 0x10, 4, 0xc0000000);
	CHECK_EQ(x.r.n, 8);
	wr(&x, PCI_COMMAND, 2, 0);
	CHECK_EQ(x.r.n, 10);
	CHECK(ev_is(&x.r, 8, EV_UNMAP, 0, 0xc0000000));
	CHECK(ev_is(&x.r, 9, EV_UNMAP, 2, 0x200000000ull));
	CHECK(!x.d.bar_mapped[0] && !x.d.bar_mapped[2]);
	/* moving while off maps nothing */
	wr(&x, 0x10, 4, 0xd0000000);
	CHECK_EQ(x.r.n, 10);
	CHECK(x.r.mem_on_at_map);
	CHECK_EQ(x.d.errors, 0);
	CHECK_EQ(x.f.writes, 0);
}

TEST(bar_not_mapped_where_it_cannot_be)
{
	struct fx x;

	fx_init(&x, false, false);
	wr(&x, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(x.r.n, 0);	     /* all at 0 */
	wr(&x, 0x10, 4, 0xfee00000); /* the interrupt window */
	wr(&x, 0x10, 4, 0xfef00000); /* just past it */
	CHECK_EQ(x.r.n, 1);
	CHECK(ev_is(&x.r, 0, EV_MAP, 0, 0xfef00000));
	wr(&x, 0x10, 4, 0xfed00000); /* ends just below it */
	CHECK_EQ(x.r.n, 3);
	CHECK(ev_is(&x.r, 2, EV_MAP, 0, 0xfed00000));

	/* 64-bit: the range must end at or below 2^48 */
	wr(&x, 0x18, 4, 0xffffc000);
	wr(&x, 0x1c, 4, 0x0000ffff); /* ends exactly at 2^48 */
	CHECK(x.d.bar_mapped[2]);
	CHECK_EQ(x.d.bar_gpa[2], (1ull << 48) - 16384);
	unsigned n = x.r.n;
	wr(&x, 0x1c, 4, 0x00010000); /* starts above */
	CHECK(!x.d.bar_mapped[2]);
	CHECK_EQ(x.r.n, n + 1);
	CHECK(ev_is(&x.r, n, EV_UNMAP, 2, (1ull << 48) - 16384));
	/* low half in the interrupt window, then the upper half to 0 */
	wr(&x, 0x18, 4, 0xfee0c000);
	wr(&x, 0x1c, 4, 0);
	CHECK_EQ(x.d.bar_gpa[2], 0xfee0c000);
	CHECK(!x.d.bar_mapped[2]);
	CHECK_EQ(x.r.n, n + 1);

	/* the 256-byte BAR is never mapped, whatever its address */
	wr(&x, 0x20, 4, 0xc0000000);
	CHECK(!x.d.bar_mapped[4]);
	CHECK_EQ(x.r.n, n + 1);
	CHECK_EQ(x.f.writes, 0);
}

TEST(bar_page_size_boundary)
{
	static const uint64_t sizes[] = {2048, 4096};
	struct fx x;

	for (unsigned k = 0; k < 2; k++) {
		memset(&x, 0, sizeof(x));
		fake_device(&x.f, false, false);
		x.d.phys = &x.f;
		x.d.ops = &fake_ops;
		x.d.hooks = &hooks;
		x.d.ctx = &x.r;
		x.d.bar[4] =
			(struct vpci_bar_info){BAR4_HPA & ~0xfffull, sizes[k], false, false, false};
		CHECK_EQ(vpci_dev_init(&x.d), 0);
		wr(&x, 0x20, 4, 0xc0001000);
		wr(&x, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
		CHECK_EQ(rd(&x, 0x20, 4), 0xc0001000);
		CHECK_EQ(x.d.bar_mapped[4], k == 1); /* 4 KiB is the smallest mapped */
		CHECK_EQ(x.r.n, k);
	}
}

TEST(bar_hook_failures)
{
	struct fx x;

	fx_init(&x, false, false);
	wr(&x, 0x10, 4, 0xc0000000);
	x.r.fail_map = -ENOMEM;
	wr(&x, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(x.r.n, 1);
	CHECK(!x.d.bar_mapped[0]);
	CHECK_EQ(x.d.errors, 1);
	CHECK_EQ(rd(&x, 0x10, 4), 0xc0000000); /* the guest still reads its address */
	wr(&x, PCI_COMMAND, 2, 0);
	CHECK_EQ(x.r.n, 1); /* nothing to unmap */

	/* a failed map is retried on the next change */
	x.r.fail_map = 0;
	wr(&x, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK(x.d.bar_mapped[0]);
	CHECK_EQ(x.r.n, 2);

	/* a failed unmap is counted; the BAR is no longer ours to unmap */
	x.r.fail_unmap = -EIO;
	wr(&x, PCI_COMMAND, 2, 0);
	CHECK(!x.d.bar_mapped[0]);
	CHECK_EQ(x.d.errors, 2);
	CHECK_EQ(x.r.n, 3);
	CHECK_EQ(x.f.writes, 0);
}

/* ----------------------------------------------------- command/status */

TEST(command_filtered)
{
	struct fx x;

	fx_init(&x, false, false);
	CHECK_EQ(rd(&x, PCI_COMMAND, 2), 0); /* not the device's 0x0007 */
	wr(&x, PCI_COMMAND, 2, 0xffff);
	CHECK_EQ(rd(&x, PCI_COMMAND, 2),
		 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	CHECK_EQ(x.r.n, 1);
	CHECK(x.r.ev[0].kind == EV_BM && x.r.ev[0].on);
	wr(&x, PCI_COMMAND, 1, PCI_COMMAND_MASTER | PCI_COMMAND_IO); /* byte 0 only */
	CHECK_EQ(rd(&x, PCI_COMMAND, 2), PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	CHECK_EQ(x.r.n, 1); /* Bus Master unchanged; no BAR had an address */
	wr(&x, PCI_COMMAND + 1, 1, 0);
	CHECK_EQ(rd(&x, PCI_COMMAND, 2), PCI_COMMAND_MASTER);
	wr(&x, PCI_COMMAND, 4, 0xffff0000); /* all off, status bits "cleared" */
	CHECK_EQ(rd(&x, PCI_COMMAND, 2), 0);
	CHECK_EQ(x.r.n, 2);
	CHECK(x.r.ev[1].kind == EV_BM && !x.r.ev[1].on);
	wr(&x, PCI_COMMAND, 2, PCI_COMMAND_IO);
	CHECK_EQ(rd(&x, PCI_COMMAND, 2), 0);
	CHECK_EQ(x.r.n, 2);
	CHECK_EQ(x.f.writes, 0);
	CHECK_EQ(fake_read(&x.f, PCI_COMMAND, 2), 0x0007);
}

TEST(status_device_cap_list_only_if_shown)
{
	struct fx x;

	fx_init(&x, false, false);
	CHECK_EQ(rd(&x, PCI_STATUS, 2), 0x2210);
	CHECK_EQ(rd(&x, PCI_COMMAND, 4), 0x22100000);
	put(&x.f, PCI_STATUS, 2, 0x0200); /* read through ops */
	CHECK_EQ(rd(&x, PCI_STATUS, 2), 0x0210);
	put(&x.f, PCI_STATUS, 2, 0x2210);
	wr(&x, PCI_STATUS, 2, 0xffff); /* RW1C: not passed on */
	CHECK_EQ(rd(&x, PCI_STATUS, 2), 0x2210);
	CHECK_EQ(x.f.writes, 0);

	CHECK_EQ(fx_init_caps(&x, false, false, false), 0); /* no MSI: nothing shown */
	CHECK_EQ(rd(&x, PCI_STATUS, 2), 0x2200);
	CHECK_EQ(rd(&x, PCI_CAPABILITY_LIST, 1), 0);
	for (unsigned r = 0x40; r < 0x100; r += 4)
		CHECK_EQ(rd(&x, r, 4), 0);
}

/* ------------------------------------------------------ capabilities */

TEST(capability_list_only_msi)
{
	struct fx x;

	fx_init(&x, true, true);
	CHECK_EQ(rd(&x, PCI_CAPABILITY_LIST, 4), MSI_CAP);
	CHECK_EQ(rd(&x, MSI_CAP, 1), PCI_CAP_ID_MSI);
	CHECK_EQ(rd(&x, MSI_CAP + 1, 1), 0); /* next: the end */
	for (unsigned r = 0x40; r < MSI_CAP; r += 4)
		CHECK_EQ(rd(&x, r, 4), 0); /* PM hidden */
	for (unsigned r = MSI_CAP + 0x18; r < 0x100; r += 4)
		CHECK_EQ(rd(&x, r, 4), 0); /* MSI-X hidden */
	wr(&x, 0x40, 4, 0xffffffff);
	wr(&x, 0x68, 4, 0xffffffff);
	CHECK_EQ(rd(&x, 0x40, 4), 0);
	CHECK_EQ(rd(&x, 0x68, 4), 0);
	CHECK_EQ(rd(&x, 0x100, 4), 0); /* extended space */
	CHECK_EQ(rd(&x, 0xffc, 4), 0);
	wr(&x, MSI_CAP, 2, 0xffff); /* ID and next are read-only */
	CHECK_EQ(rd(&x, MSI_CAP, 2), PCI_CAP_ID_MSI);
	CHECK_EQ(x.f.writes, 0);
	CHECK_EQ(x.r.n, 0);
}

/* --------------------------------------------------------------- MSI */

TEST(msi_32bit_shadow_and_edges)
{
	struct fx x;
	uint8_t vec = 0;
	uint32_t dest = 0;

	fx_init(&x, false, false);
	CHECK_EQ(rd(&x, MSI_CAP + PCI_MSI_FLAGS, 2), 0); /* MMC reads 0 */
	CHECK_EQ(rd(&x, MSI_CAP + 4, 4), 0);		 /* not the device's */
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -ENOENT);

	wr(&x, MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee03003); /* low bits reserved */
	CHECK_EQ(rd(&x, MSI_CAP + 4, 4), 0xfee03000);
	wr(&x, MSI_CAP + PCI_MSI_DATA_32, 4, 0xffff0041);
	CHECK_EQ(rd(&x, MSI_CAP + 8, 4), 0x41);
	CHECK_EQ(rd(&x, MSI_CAP + 0xc, 4), 0); /* past the 10-byte capability */
	wr(&x, MSI_CAP + 0xc, 4, 1);
	CHECK_EQ(x.d.msi.mask, 0); /* no per-vector masking */
	CHECK_EQ(x.r.n, 0);

	wr(&x, MSI_CAP + PCI_MSI_FLAGS, 2, 0x0071); /* MME 8 + ENABLE */
	CHECK_EQ(rd(&x, MSI_CAP + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_ENABLE);
	CHECK_EQ(x.r.n, 1);
	CHECK(x.r.ev[0].kind == EV_MSI && x.r.ev[0].on);
	CHECK(x.d.msi.enabled);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), 0);
	CHECK_EQ(vec, 0x41);
	CHECK_EQ(dest, 3);

	/* enable again: no edge; affinity change while on: shadow only */
	wr(&x, MSI_CAP, 4, 0x00015005);
	wr(&x, MSI_CAP + 4, 4, 0xfee07000);
	wr(&x, MSI_CAP + 8, 2, 0x0052);
	CHECK_EQ(x.r.n, 1);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), 0);
	CHECK_EQ(vec, 0x52);
	CHECK_EQ(dest, 7);

	/* a byte write of the ID leaves control alone */
	wr(&x, MSI_CAP, 1, 0);
	CHECK(x.d.msi.enabled);

	wr(&x, MSI_CAP + 2, 1, 0); /* 1 -> 0 */
	CHECK_EQ(x.r.n, 2);
	CHECK(x.r.ev[1].kind == EV_MSI && !x.r.ev[1].on);
	CHECK(!x.d.msi.enabled);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -ENOENT);
	CHECK_EQ(x.f.writes, 0);
}

TEST(msi_64bit_mask_layout)
{
	struct fx x;
	uint8_t vec;
	uint32_t dest;

	fx_init(&x, true, true);
	CHECK_EQ(rd(&x, MSI_CAP + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	wr(&x, MSI_CAP + PCI_MSI_FLAGS, 2, 0xffff & ~PCI_MSI_FLAGS_ENABLE);
	CHECK_EQ(rd(&x, MSI_CAP + PCI_MSI_FLAGS, 2), PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	wr(&x, MSI_CAP + 4, 4, 0xfee00000);
	wr(&x, MSI_CAP + 8, 4, 0x12345678);
	wr(&x, MSI_CAP + 0xc, 4, 0x00004021);
	wr(&x, MSI_CAP + 0x10, 4, 0xffffffff);
	wr(&x, MSI_CAP + 0x14, 4, 0xffffffff);
	CHECK_EQ(rd(&x, MSI_CAP + 8, 4), 0x12345678);
	CHECK_EQ(rd(&x, MSI_CAP + 0xc, 4), 0x4021);
	CHECK_EQ(rd(&x, MSI_CAP + 0x10, 4), 1); /* one vector */
	CHECK_EQ(rd(&x, MSI_CAP + 0x14, 4), 0); /* pending */
	CHECK_EQ(rd(&x, MSI_CAP + 0x18, 4), 0);

	wr(&x, MSI_CAP + 2, 2, PCI_MSI_FLAGS_ENABLE);
	CHECK(x.d.msi.enabled);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -ENOENT); /* masked */
	wr(&x, MSI_CAP + 0x10, 1, 0);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -EINVAL); /* address above 4G */
	wr(&x, MSI_CAP + 8, 4, 0);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), 0);
	CHECK_EQ(vec, 0x21);
	CHECK_EQ(dest, 0);

	/* undeliverable messages */
	wr(&x, MSI_CAP + 4, 4, 0xfed00000);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -EINVAL);
	wr(&x, MSI_CAP + 4, 4, 0xfee01004); /* logical destination */
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -EINVAL);
	wr(&x, MSI_CAP + 4, 4, 0xfee01008); /* RH, physical: fine */
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), 0);
	CHECK_EQ(dest, 1);
	wr(&x, MSI_CAP + 0xc, 2, 0x0121); /* lowest priority */
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -EINVAL);
	wr(&x, MSI_CAP + 0xc, 2, 0x000f); /* reserved vector */
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -EINVAL);
	CHECK_EQ(x.r.n, 1);
	CHECK_EQ(x.f.writes, 0);
}

TEST(msi_32bit_mask_layout)
{
	struct fx x;

	fx_init(&x, false, true);
	wr(&x, MSI_CAP + 8, 4, 0x0031); /* data */
	wr(&x, MSI_CAP + 0xc, 4, 0xff); /* mask */
	CHECK_EQ(rd(&x, MSI_CAP + 8, 4), 0x31);
	CHECK_EQ(rd(&x, MSI_CAP + 0xc, 4), 1);
	CHECK_EQ(x.d.msi.addr_hi, 0);
	CHECK_EQ(rd(&x, MSI_CAP + 0x10, 4), 0);
	CHECK_EQ(rd(&x, MSI_CAP + 0x14, 4), 0); /* past the 20-byte capability */
}

TEST(msi_hook_failure)
{
	struct fx x;
	uint8_t vec;
	uint32_t dest;

	fx_init(&x, false, false);
	wr(&x, MSI_CAP + 4, 4, 0xfee00000);
	wr(&x, MSI_CAP + 8, 2, 0x30);
	x.r.fail_msi = -ENOSPC;
	wr(&x, MSI_CAP + 2, 2, PCI_MSI_FLAGS_ENABLE);
	CHECK(!x.d.msi.enabled);
	CHECK_EQ(x.d.errors, 1);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), -ENOENT);
	wr(&x, MSI_CAP + 2, 2, 0); /* no off for an on that failed */
	CHECK_EQ(x.r.n, 1);
	x.r.fail_msi = 0;
	wr(&x, MSI_CAP + 2, 2, PCI_MSI_FLAGS_ENABLE);
	CHECK(x.d.msi.enabled);
	CHECK_EQ(x.r.n, 2);
	CHECK_EQ(vpci_msi_target(&x.d, &vec, &dest), 0);
}

/* -------------------------------------------------------------- reset */

TEST(reset_undoes_everything)
{
	struct fx x;

	fx_init(&x, true, true);
	wr(&x, 0x10, 4, 0xc0000000);
	wr(&x, 0x18, 4, 0xc0100000);
	wr(&x, MSI_CAP + 2, 2, PCI_MSI_FLAGS_ENABLE);
	wr(&x, MSI_CAP + 0x10, 4, 1);
	wr(&x, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	wr(&x, 0x3c, 1, 5);
	CHECK_EQ(x.r.n, 4); /* msi on, bus master on, two maps */
	x.r.n = 0;
	vpci_dev_reset(&x.d);
	CHECK_EQ(x.r.n, 4);
	CHECK(ev_is(&x.r, 0, EV_UNMAP, 0, 0xc0000000));
	CHECK(ev_is(&x.r, 1, EV_UNMAP, 2, 0xc0100000));
	CHECK(x.r.ev[2].kind == EV_MSI && !x.r.ev[2].on);
	CHECK(x.r.ev[3].kind == EV_BM && !x.r.ev[3].on);
	CHECK(!x.d.bar_mapped[0] && !x.d.bar_mapped[2] && !x.d.msi.enabled);
	CHECK_EQ(rd(&x, PCI_COMMAND, 2), 0);
	CHECK_EQ(rd(&x, 0x10, 4), 0);
	CHECK_EQ(rd(&x, 0x18, 4), 0xc);
	CHECK_EQ(rd(&x, 0x3c, 1), 0);
	CHECK_EQ(rd(&x, MSI_CAP + 2, 2), PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	CHECK_EQ(rd(&x, MSI_CAP + 0x10, 4), 0);
	/* a second reset has nothing to undo */
	vpci_dev_reset(&x.d);
	CHECK_EQ(x.r.n, 4);
	CHECK_EQ(x.f.writes, 0);
}

/* ---------------------------------------------------------------- bus */

static uint32_t io_in(struct vpci_bus *b, uint16_t port, unsigned size)
{
	uint32_t v = 0x5a5a5a5a;

	CHECK(vpci_io(b, port, size, true, &v));
	return v;
}
static void io_out(struct vpci_bus *b, uint16_t port, unsigned size, uint32_t v)
{
	CHECK(vpci_io(b, port, size, false, &v));
}
static uint32_t cf8(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg;
}

TEST(bus_slots)
{
	static struct vpci_dev devs[VPCI_SLOTS + 1];
	struct vpci_bus b;

	vpci_bus_init(&b);
	for (int i = 1; i < VPCI_SLOTS; i++)
		CHECK_EQ(vpci_bus_add(&b, &devs[i]), i);
	CHECK_EQ(vpci_bus_add(&b, &devs[VPCI_SLOTS]), -ENOSPC);
	CHECK_EQ(vpci_bus_add(&b, &devs[3]), -EEXIST);
	CHECK(b.slot[0] == NULL);
	vpci_bus_remove(&b, &devs[5]);
	CHECK(b.slot[5] == NULL);
	CHECK_EQ(vpci_bus_add(&b, &devs[0]), 5);
	vpci_bus_remove(&b, &devs[VPCI_SLOTS]); /* not on the bus: nothing */
	CHECK(b.slot[5] == &devs[0]);
}

TEST(conf1_address_register)
{
	struct vpci_bus b;
	uint32_t v = 0;

	vpci_bus_init(&b);
	CHECK_EQ(io_in(&b, VPCI_CONF_ADDR, 4), 0);
	io_out(&b, VPCI_CONF_ADDR, 4, 0xffffffff);
	CHECK_EQ(io_in(&b, VPCI_CONF_ADDR, 4), 0x80fffffc); /* reserved bits 0 */
	/* Linux's type-1 probe: a byte to 0xCFB, then CONFIG_ADDRESS as a dword */
	CHECK(!vpci_io(&b, 0xcfb, 1, false, &v));
	CHECK(!vpci_io(&b, VPCI_CONF_ADDR, 1, false, &v));
	CHECK(!vpci_io(&b, VPCI_CONF_ADDR, 2, true, &v));
	CHECK(!vpci_io(&b, 0xcf9, 1, false, &v));
	CHECK(!vpci_io(&b, 0xcfa, 2, true, &v));
	CHECK(!vpci_io(&b, 0xcf7, 1, true, &v));
	CHECK(!vpci_io(&b, 0xd00, 4, true, &v));
	CHECK(!vpci_io(&b, 0x80, 1, false, &v));
	CHECK_EQ(io_in(&b, VPCI_CONF_ADDR, 4), 0x80fffffc);
	io_out(&b, VPCI_CONF_ADDR, 4, 0x80000000);
	CHECK_EQ(io_in(&b, VPCI_CONF_ADDR, 4), 0x80000000);
}

TEST(conf1_data_every_size_and_offset)
{
	struct vpci_bus b;
	struct fx x;
	const uint8_t id[4] = {0x34, 0x12, 0xe8, 0x11};

	fx_init(&x, false, false);
	vpci_bus_init(&b);
	CHECK_EQ(vpci_bus_add(&b, &x.d), 1);
	io_out(&b, VPCI_CONF_ADDR, 4, cf8(0, 1, 0, 0));
	for (unsigned o = 0; o < 4; o++) {
		CHECK_EQ(io_in(&b, VPCI_CONF_DATA + o, 1), id[o]);
		if (o + 2 <= 4)
			CHECK_EQ(io_in(&b, VPCI_CONF_DATA + o, 2), id[o] | id[o + 1] << 8);
		else
			CHECK_EQ(io_in(&b, VPCI_CONF_DATA + o, 2), 0xffff);
		if (o == 0)
			CHECK_EQ(io_in(&b, VPCI_CONF_DATA, 4), 0x11e81234);
		else
			CHECK_EQ(io_in(&b, VPCI_CONF_DATA + o, 4), 0xffffffff);
	}
	/* the register number comes from CONFIG_ADDRESS, the byte from the port */
	io_out(&b, VPCI_CONF_ADDR, 4, cf8(0, 1, 0, 0x3c));
	CHECK_EQ(io_in(&b, VPCI_CONF_DATA + 1, 1), 1); /* interrupt pin */
	io_out(&b, VPCI_CONF_DATA, 1, 0x0e);
	CHECK_EQ(x.d.int_line, 0x0e);
	io_out(&b, VPCI_CONF_ADDR, 4, cf8(0, 1, 0, 0x10));
	io_out(&b, VPCI_CONF_DATA + 2, 2, 0xc010);
	CHECK_EQ(io_in(&b, VPCI_CONF_DATA, 4), 0xc0100000);
	io_out(&b, VPCI_CONF_DATA + 3, 1, 0xd0);
	CHECK_EQ(io_in(&b, VPCI_CONF_DATA, 4), 0xd0100000);
	io_out(&b, VPCI_CONF_DATA + 1, 4, 0); /* crossing the dword: dropped */
	io_out(&b, VPCI_CONF_DATA + 3, 2, 0);
	CHECK_EQ(io_in(&b, VPCI_CONF_DATA, 4), 0xd0100000);
	io_out(&b, VPCI_CONF_DATA, 4, 0xffffffff);
	CHECK_EQ(io_in(&b, VPCI_CONF_DATA, 4), 0xfff00000);
	/* command through byte 1: INTx Disable */
	io_out(&b, VPCI_CONF_ADDR, 4, cf8(0, 1, 0, 4));
	io_out(&b, VPCI_CONF_DATA + 1, 1, 0x04);
	CHECK_EQ(x.d.cmd, PCI_COMMAND_INTX_DISABLE);
	io_out(&b, VPCI_CONF_DATA + 2, 2, 0xffff); /* status: dropped */
	CHECK_EQ(io_in(&b, VPCI_CONF_DATA + 2, 2), 0x2210);
	CHECK_EQ(x.f.writes, 0);
}

TEST(conf1_absent_reads_all_ones)
{
	struct vpci_bus b;
	struct fx x;
	const uint32_t absent[] = {
		cf8(0, 1, 0, 0) & ~0x80000000u, /* enable clear */
		cf8(1, 1, 0, 0),		/* bus 1 */
		cf8(0, 1, 1, 0),		/* function 1 */
		cf8(0, 1, 7, 0),
		cf8(0, 2, 0, 0), /* empty slot */
		cf8(0, 0, 0, 0), /* slot 0 */
		cf8(0, 31, 0, 0),
	};

	fx_init(&x, false, false);
	vpci_bus_init(&b);
	CHECK_EQ(vpci_bus_add(&b, &x.d), 1);
	for (unsigned i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		io_out(&b, VPCI_CONF_ADDR, 4, absent[i]);
		CHECK_EQ(io_in(&b, VPCI_CONF_DATA, 4), 0xffffffff);
		CHECK_EQ(io_in(&b, VPCI_CONF_DATA + 2, 2), 0xffff);
		CHECK_EQ(io_in(&b, VPCI_CONF_DATA + 3, 1), 0xff);
		/* writes there never reach slot 1 */
		io_out(&b, VPCI_CONF_ADDR, 4, absent[i] | 0x04);
		io_out(&b, VPCI_CONF_DATA, 2, 0xffff);
		io_out(&b, VPCI_CONF_ADDR, 4, absent[i] | 0x10);
		io_out(&b, VPCI_CONF_DATA, 4, 0xc0000000);
	}
	CHECK_EQ(x.d.cmd, 0);
	CHECK_EQ(x.d.bar_lo_shadow[0], 0);
	CHECK_EQ(x.r.n, 0);

	/* removed: absent again */
	io_out(&b, VPCI_CONF_ADDR, 4, cf8(0, 1, 0, 0));
	CHECK_EQ(io_in(&b, VPCI_CONF_DATA, 4), 0x11e81234);
	vpci_bus_remove(&b, &x.d);
	CHECK_EQ(io_in(&b, VPCI_CONF_DATA, 4), 0xffffffff);
	CHECK_EQ(x.f.writes, 0);
}
