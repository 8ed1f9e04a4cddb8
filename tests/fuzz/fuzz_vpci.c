// SOURCES: vm/vpci.c
/* tests/fuzz/fuzz_vpci.c — random conf1 port accesses (and direct config
 * accesses) on a virtual bus holding one fake function in slot 1, with hook
 * failures injected from the input.  Invariants checked after every access:
 * the physical configuration space is never written; a BAR is mapped only
 * while Memory Space is on, only where it may be (whole pages, below 2^48,
 * clear of the interrupt window), and exactly as the hooks were told; the
 * hooks see balanced map/unmap and MSI on/off; absent functions read all
 * ones; hardwired registers stay hardwired.
 *
 * Input: byte 0 picks the device (MSI form, BAR sizes), then 7-byte
 * records: op, 16-bit argument, 32-bit value (little-endian). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/msi.h"
#include "drivers/pci_regs.h"
#include "vm/vpci.h"

#define MSI_CAP 0x50
#define GUEST_CMD (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

#define ASSERT(c)                         \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

struct fake {
	uint8_t cfg[4096];
	unsigned writes;
};

struct track {
	bool mapped[6];
	uint64_t gpa[6], size[6];
	bool msi, bm;
	int fail_map, fail_unmap, fail_msi;
};

static uint32_t f_read(void *p, unsigned off, unsigned size)
{
	struct fake *f = p;
	uint32_t v = 0;

	ASSERT(size == 1 || size == 2 || size == 4);
	ASSERT(off + size <= sizeof(f->cfg));
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)f->cfg[off + i] << (8 * i);
	return v;
}
static void f_write(void *p, unsigned off, unsigned size, uint32_t val)
{
	((struct fake *)p)->writes++;
}
static const struct vpci_phys_ops f_ops = {f_read, f_write};

static bool in_window(uint64_t gpa, uint64_t size)
{
	return gpa <= 0xfeefffffull && gpa + size - 1 >= 0xfee00000ull;
}

static int h_map(void *ctx, struct vpci_dev *d, unsigned bar, uint64_t gpa, uint64_t hpa,
		 uint64_t size)
{
	struct track *t = ctx;

	ASSERT(bar < 6 && !t->mapped[bar]);
	ASSERT(d->cmd & PCI_COMMAND_MEMORY);
	ASSERT(hpa == d->bar[bar].hpa && size == d->bar[bar].size && !d->bar[bar].io);
	ASSERT(size >= 4096 && gpa && !(gpa & (size - 1)));
	ASSERT(gpa < (1ull << 48) && size <= (1ull << 48) - gpa && !in_window(gpa, size));
	if (t->fail_map)
		return t->fail_map;
	t->mapped[bar] = true;
	t->gpa[bar] = gpa;
	t->size[bar] = size;
	return 0;
}
static int h_unmap(void *ctx, struct vpci_dev *d, unsigned bar, uint64_t gpa, uint64_t size)
{
	struct track *t = ctx;

	ASSERT(bar < 6 && t->mapped[bar] && t->gpa[bar] == gpa && t->size[bar] == size);
	t->mapped[bar] = false; /* gone from vpci's view even if the hook fails */
	return t->fail_unmap;
}
static int h_msi(void *ctx, struct vpci_dev *d, bool on)
{
	struct track *t = ctx;

	ASSERT(t->msi != on);
	if (on && t->fail_msi)
		return t->fail_msi;
	t->msi = on;
	return 0;
}
static void h_bm(void *ctx, struct vpci_dev *d, bool on)
{
	struct track *t = ctx;

	ASSERT(t->bm != on);
	t->bm = on;
}
static const struct vpci_hooks f_hooks = {h_map, h_unmap, h_msi, h_bm};

static void put(struct fake *f, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		f->cfg[off + i] = (uint8_t)(v >> (8 * i));
}

/* A function like test_vpci.c's: PM before MSI, MSI-X after it (hidden). */
static void make_dev(struct fake *f, struct vpci_dev *d, uint8_t sel)
{
	static const uint64_t sizes[4] = {4096, 1u << 20, 256, 1ull << 32};

	memset(f, 0xa5, sizeof(f->cfg));
	put(f, PCI_VENDOR_ID, 4, 0x11e81234);
	put(f, PCI_COMMAND, 4, 0x22100007);
	put(f, PCI_CLASS_REVISION, 4, 0x00ff0010);
	put(f, 0x0c, 4, 0x80800010);
	put(f, PCI_CAPABILITY_LIST, 1, 0x40);
	put(f, 0x40, 2, 0x5001);
	put(f, MSI_CAP, 2, 0x6005);
	put(f, MSI_CAP + PCI_MSI_FLAGS, 2,
	    0x000e | (sel & 1 ? PCI_MSI_FLAGS_64BIT : 0) | (sel & 2 ? PCI_MSI_FLAGS_MASKBIT : 0));
	put(f, 0x68, 2, 0x0011);
	f->writes = 0;

	memset(d, 0, sizeof(*d));
	d->phys = f;
	d->ops = &f_ops;
	d->hooks = &f_hooks;
	d->cap_msi = (sel & 4) ? 0 : MSI_CAP;
	d->bar[0] = (struct vpci_bar_info){0xfe000000ull, sizes[(sel >> 3) & 1 ? 1 : 0], false,
					   false, false};
	d->bar[1] = (struct vpci_bar_info){0xc000, 0x20, true, false, false};
	d->bar[2] = (struct vpci_bar_info){0x800000000ull, (sel & 0x10) ? sizes[3] : 16384, false,
					   true, (sel & 0x20) != 0};
	d->bar[4] = (struct vpci_bar_info){0xfebf0000ull, sizes[(sel >> 6) & 1 ? 2 : 0], false,
					   false, false};
}

static bool bar_mem(const struct vpci_dev *d, unsigned i)
{
	return d->bar[i].size && !d->bar[i].io;
}

static void check(struct vpci_dev *d, const struct fake *f, const struct track *t)
{
	uint8_t vec;
	uint32_t dest;

	ASSERT(f->writes == 0);
	ASSERT(!(d->cmd & ~GUEST_CMD));
	ASSERT(t->bm == !!(d->cmd & PCI_COMMAND_MASTER));
	ASSERT(t->msi == d->msi.enabled);
	ASSERT(!d->msi.enabled || (d->msi.ctrl & PCI_MSI_FLAGS_ENABLE));
	for (unsigned i = 0; i < 6; i++) {
		ASSERT(t->mapped[i] == d->bar_mapped[i]);
		if (d->bar_mapped[i])
			ASSERT((d->cmd & PCI_COMMAND_MEMORY) && t->gpa[i] == d->bar_gpa[i]);
		if (!bar_mem(d, i) && !(i && bar_mem(d, i - 1) && d->bar[i - 1].mem64))
			ASSERT(vpci_cfg_read(d, PCI_BASE_ADDRESS_0 + 4 * i, 4) == 0);
		if (bar_mem(d, i)) {
			uint32_t lo = vpci_cfg_read(d, PCI_BASE_ADDRESS_0 + 4 * i, 4);

			/* PCI 3.0 6.2.5.1: flags as the device's, bits below the size 0 */
			ASSERT((lo & 0xf) ==
			       ((d->bar[i].mem64 ? 4u : 0u) | (d->bar[i].prefetch ? 8u : 0u)));
			ASSERT(!(lo & (uint32_t)(d->bar[i].size - 1) & ~0xfu));
		}
	}
	ASSERT(vpci_cfg_read(d, PCI_HEADER_TYPE, 2) == 0); /* header type, BIST */
	ASSERT(vpci_cfg_read(d, 0x30, 4) == 0);
	ASSERT(vpci_cfg_read(d, 0x40, 4) == 0 && vpci_cfg_read(d, 0x68, 4) == 0);
	ASSERT(vpci_cfg_read(d, 0x100, 4) == 0);
	if (d->cap_msi) {
		ASSERT(vpci_cfg_read(d, PCI_CAPABILITY_LIST, 1) == MSI_CAP);
		ASSERT(vpci_cfg_read(d, MSI_CAP, 2) == PCI_CAP_ID_MSI);
		ASSERT(!(vpci_cfg_read(d, MSI_CAP + 2, 2) &
			 (PCI_MSI_FLAGS_QMASK | PCI_MSI_FLAGS_QSIZE)));
	} else {
		ASSERT(vpci_cfg_read(d, PCI_CAPABILITY_LIST, 1) == 0);
		ASSERT(!(vpci_cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST));
	}
	if (vpci_msi_target(d, &vec, &dest) == 0)
		ASSERT(vec >= 16 && dest < 256 && d->msi.enabled);
}

/* The function the current CONFIG_ADDRESS names, by the PCI 3.0 3.2.2.3.2
 * decoding done independently here. */
static bool targets_dev(uint32_t cf8)
{
	return (cf8 & 0x80000000u) && !((cf8 >> 16) & 0xff) && ((cf8 >> 11) & 0x1f) == 1 &&
	       !((cf8 >> 8) & 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t ports[8] = {0xcf8, 0xcfc, 0xcfd, 0xcfe, 0xcff, 0xcf9, 0xcfb, 0xcf8};
	static const unsigned sizes[4] = {1, 2, 4, 3};
	struct fake f;
	struct vpci_dev d;
	struct track t;
	struct vpci_bus b;

	if (size < 1 || size > 4096)
		return 0;
	memset(&t, 0, sizeof(t));
	make_dev(&f, &d, data[0]);
	d.ctx = &t;
	if (vpci_dev_init(&d))
		__builtin_trap(); /* every variant is a valid endpoint */
	vpci_bus_init(&b);
	if (vpci_bus_add(&b, &d) != 1)
		__builtin_trap();

	for (size_t p = 1; p + 7 <= size; p += 7) {
		uint8_t op = data[p];
		uint16_t arg = (uint16_t)(data[p + 1] | data[p + 2] << 8);
		uint32_t val = (uint32_t)data[p + 3] | (uint32_t)data[p + 4] << 8 |
			       (uint32_t)data[p + 5] << 16 | (uint32_t)data[p + 6] << 24;
		unsigned sz = sizes[(op >> 3) & 3];
		bool in = op & 0x20;
		uint32_t v = val;

		t.fail_map = (op & 0xc0) == 0x40 ? -ENOMEM : 0;
		t.fail_unmap = (op & 0xc0) == 0x80 ? -EIO : 0;
		t.fail_msi = (op & 0xc0) == 0xc0 ? -ENOSPC : 0;
		switch (op & 7) {
		case 7: /* a CONFIG_ADDRESS aimed at slot 1 (or nearby) */
			v = 0x80000000u | (arg & 0x3f) << 8 | (val & 0xfc);
			if (!(arg & 0x40))
				v = (v & ~0xff00u) | 1u << 11;
			ASSERT(vpci_io(&b, 0xcf8, 4, false, &v));
			break;
		case 6: /* direct access, any offset and size */
			if (in)
				(void)vpci_cfg_read(&d, arg & 0x1fff, sz);
			else
				vpci_cfg_write(&d, arg & 0x1fff, sz, val);
			break;
		case 5:
			if (arg & 1) {
				vpci_dev_reset(&d);
				ASSERT(!t.msi && !t.bm);
			}
			break;
		default: {
			uint16_t port = (arg & 0x100) ? ports[(op & 7) + 3] : ports[op & 7];
			bool dev = targets_dev(b.cf8);
			bool ours = port >= 0xcfc || (port == 0xcf8 && sz == 4);

			ASSERT(vpci_io(&b, port, sz, in, &v) == ours);
			if (ours && in && port >= 0xcfc &&
			    (!dev || (port - 0xcfc) + sz > 4 || sz == 3))
				ASSERT(v == (sz == 1 ? 0xffu : sz == 2 ? 0xffffu : 0xffffffffu));
			if (ours && in && port == 0xcf8)
				ASSERT(!(v & 0x7f000003u));
			break;
		}
		}
		check(&d, &f, &t);
	}
	t.fail_map = t.fail_unmap = t.fail_msi = 0;
	vpci_dev_reset(&d);
	check(&d, &f, &t);
	for (unsigned i = 0; i < 6; i++)
		ASSERT(!t.mapped[i]);
	ASSERT(!t.msi && !t.bm && d.cmd == 0);
	vpci_bus_remove(&b, &d);
	b.cf8 = 0x80000800u;
	uint32_t v = 0;
	ASSERT(vpci_io(&b, 0xcfc, 4, true, &v) && v == 0xffffffffu);
	return 0;
}
