/*
 * vm/vpci.c — the guest's PCI bus 0 and the configuration space of each
 * passed-through function (what the guest sees: vm/vpci.h, docs/vpci.md).
 *
 * Every access is decoded per aligned dword: a read builds the dword the
 * guest sees, a sub-dword write is merged into that dword first and then
 * handled as a dword write.  vpci never writes the physical configuration
 * space: every effect on the device or the NPT goes through vpci_hooks.
 */
#include "vm/vpci.h"

#include <string.h>

#include "drivers/msi.h"
#include "drivers/pci_regs.h"

#define CMD_GUEST (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)
/* PCI 3.0 3.2.2.3.2: CONFIG_ADDRESS bits 30:24 reserved and 1:0 read-only 0. */
#define CF8_ENABLE 0x80000000u
#define CF8_MASK 0x80fffffcu
/* The interrupt address window (Intel SDM 10.11.1): a BAR there would hide it. */
#define MSI_WIN_LO 0xfee00000ull
#define MSI_WIN_HI 0xfeefffffull
#define MSI_ADDR_DM_LOGICAL 0x4u      /* Destination Mode (bit 2) */
#define MSI_DATA_DELIVERY_MODE 0x700u /* 10:8, 000 = fixed */
#define GPA_LIMIT (1ull << 48)	      /* 4-level NPT reach */
#define PAGE_SIZE_4K 4096ull

static uint32_t ones(unsigned size)
{
	return size == 1 ? 0xffu : size == 2 ? 0xffffu : 0xffffffffu;
}

static uint32_t phys_rd(const struct vpci_dev *d, unsigned off, unsigned size)
{
	return d->ops->read(d->phys, off, size);
}

/* ---------------------------------------------------------------- BARs */

static bool bar_is_mem(const struct vpci_dev *d, unsigned i)
{
	return d->bar[i].size && !d->bar[i].io;
}

/* The upper dword of the 64-bit memory BAR below it (PCI 3.0 6.2.5.1). */
static bool bar_is_upper(const struct vpci_dev *d, unsigned i)
{
	return i > 0 && bar_is_mem(d, i - 1) && d->bar[i - 1].mem64;
}

static uint32_t bar_flags(const struct vpci_dev *d, unsigned i)
{
	return (d->bar[i].mem64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : PCI_BASE_ADDRESS_MEM_TYPE_32) |
	       (d->bar[i].prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
}

static uint64_t bar_guest_addr(const struct vpci_dev *d, unsigned i)
{
	uint64_t a = d->bar_lo_shadow[i] & PCI_BASE_ADDRESS_MEM_MASK;

	if (d->bar[i].mem64)
		a |= (uint64_t)d->bar_lo_shadow[i + 1] << 32;
	return a;
}

/* Mapped only where the NPT can hold it as whole pages and it cannot shadow
 * the interrupt window: a BAR smaller than 4 KiB shares its page with other
 * things in the guest's address space and is not mapped at all. */
static bool bar_mappable(const struct vpci_dev *d, unsigned i, uint64_t gpa)
{
	uint64_t size = d->bar[i].size;

	if (!gpa || size < PAGE_SIZE_4K || gpa >= GPA_LIMIT || size > GPA_LIMIT - gpa)
		return false;
	return gpa + size - 1 < MSI_WIN_LO || gpa > MSI_WIN_HI;
}

static void bar_unmap(struct vpci_dev *d, unsigned i)
{
	d->bar_mapped[i] = false;
	if (d->hooks->bar_unmap(d->ctx, d, i, d->bar_gpa[i], d->bar[i].size))
		d->errors++;
}

/* Brings the NPT in line with the guest's address and Memory Space bit:
 * an old mapping goes before a new one is made. */
static void bar_update(struct vpci_dev *d, unsigned i)
{
	uint64_t gpa = bar_guest_addr(d, i);
	bool want = (d->cmd & PCI_COMMAND_MEMORY) && bar_mappable(d, i, gpa);

	if (d->bar_mapped[i] && (!want || d->bar_gpa[i] != gpa))
		bar_unmap(d, i);
	d->bar_gpa[i] = gpa;
	if (want && !d->bar_mapped[i]) {
		if (d->hooks->bar_map(d->ctx, d, i, gpa, d->bar[i].hpa, d->bar[i].size))
			d->errors++;
		else
			d->bar_mapped[i] = true;
	}
}

/* PCI 3.0 6.2.5.1: the bits below the size are hardwired (0 for the
 * address, the flags for the low nibble); only the shadow changes. */
static void bar_write(struct vpci_dev *d, unsigned i, uint32_t val)
{
	if (bar_is_upper(d, i)) {
		uint64_t size = d->bar[i - 1].size;

		d->bar_lo_shadow[i] = val & (uint32_t)(~(size - 1) >> 32);
		bar_update(d, i - 1);
	} else if (bar_is_mem(d, i)) {
		uint64_t size = d->bar[i].size;

		d->bar_lo_shadow[i] = (val & (uint32_t) ~(size - 1) & PCI_BASE_ADDRESS_MEM_MASK) |
				      bar_flags(d, i);
		bar_update(d, i);
	}
	/* I/O and unimplemented BARs: hardwired 0 */
}

static void bars_update(struct vpci_dev *d)
{
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
		if (bar_is_mem(d, i))
			bar_update(d, i);
}

/* ------------------------------------------------------------- command */

static void cmd_write(struct vpci_dev *d, uint16_t val)
{
	uint16_t old = d->cmd;

	d->cmd = val & CMD_GUEST;
	if ((old ^ d->cmd) & PCI_COMMAND_MASTER)
		d->hooks->bus_master(d->ctx, d, d->cmd & PCI_COMMAND_MASTER);
	if ((old ^ d->cmd) & PCI_COMMAND_MEMORY)
		bars_update(d);
}

static uint16_t status_read(const struct vpci_dev *d)
{
	uint16_t st = (uint16_t)phys_rd(d, PCI_STATUS, 2) & ~PCI_STATUS_CAP_LIST;

	return d->cap_msi ? st | PCI_STATUS_CAP_LIST : st;
}

/* ----------------------------------------------------------------- MSI */

static bool msi_64(const struct vpci_dev *d) { return d->msi.ctrl & PCI_MSI_FLAGS_64BIT; }

static bool msi_pvm(const struct vpci_dev *d) { return d->msi.ctrl & PCI_MSI_FLAGS_MASKBIT; }

/* PCI 3.0 6.8.1: 10, 14, 20 or 24 bytes by the 64-bit and mask bits. */
static unsigned msi_size(const struct vpci_dev *d)
{
	return (msi_64(d) ? 14u : 10u) + (msi_pvm(d) ? 10u : 0u);
}

static unsigned msi_data_off(const struct vpci_dev *d)
{
	return msi_64(d) ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
}

static unsigned msi_mask_off(const struct vpci_dev *d)
{
	return msi_64(d) ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
}

static bool in_msi(const struct vpci_dev *d, unsigned reg)
{
	return d->cap_msi && reg >= d->cap_msi && reg < d->cap_msi + msi_size(d);
}

/* rel: dword offset inside the capability.  Pending bits read 0: the
 * device's own mask is sluice's, so it never holds a guest-masked message. */
static uint32_t msi_read(const struct vpci_dev *d, unsigned rel)
{
	if (rel == 0)
		return PCI_CAP_ID_MSI | (uint32_t)d->msi.ctrl << 16; /* next pointer 0 */
	if (rel == PCI_MSI_ADDRESS_LO)
		return d->msi.addr_lo;
	if (msi_64(d) && rel == PCI_MSI_ADDRESS_HI)
		return d->msi.addr_hi;
	if (rel == msi_data_off(d))
		return d->msi.data;
	if (msi_pvm(d) && rel == msi_mask_off(d))
		return d->msi.mask;
	return 0;
}

static void msi_set_enable(struct vpci_dev *d, bool on)
{
	if (on == !!(d->msi.ctrl & PCI_MSI_FLAGS_ENABLE))
		return;
	if (on) {
		d->msi.ctrl |= PCI_MSI_FLAGS_ENABLE;
		if (d->hooks->msi(d->ctx, d, true))
			d->errors++;
		else
			d->msi.enabled = true;
		return;
	}
	d->msi.ctrl &= ~PCI_MSI_FLAGS_ENABLE;
	if (d->msi.enabled) {
		d->msi.enabled = false;
		if (d->hooks->msi(d->ctx, d, false))
			d->errors++;
	}
}

/* Address and data are only recorded: the device keeps the remapped message
 * sluice programmed, vpci_msi_target() reads the shadow at delivery. */
static void msi_write(struct vpci_dev *d, unsigned rel, uint32_t val)
{
	if (rel == 0)
		msi_set_enable(d, (val >> 16) & PCI_MSI_FLAGS_ENABLE); /* MME stays 0 */
	else if (rel == PCI_MSI_ADDRESS_LO)
		d->msi.addr_lo = val & ~3u; /* 6.8.1.4: dword aligned */
	else if (msi_64(d) && rel == PCI_MSI_ADDRESS_HI)
		d->msi.addr_hi = val;
	else if (rel == msi_data_off(d))
		d->msi.data = (uint16_t)val; /* upper half reserved */
	else if (msi_pvm(d) && rel == msi_mask_off(d))
		d->msi.mask = val & 1u; /* one vector offered: other bits reserved */
}

int vpci_msi_target(const struct vpci_dev *d, uint8_t *vector, uint32_t *dest)
{
	uint8_t v = (uint8_t)d->msi.data;

	if (!d->msi.enabled || !(d->msi.ctrl & PCI_MSI_FLAGS_ENABLE))
		return -ENOENT;
	if (msi_pvm(d) && (d->msi.mask & 1u))
		return -ENOENT;
	if (d->msi.addr_hi || (d->msi.addr_lo & 0xfff00000u) != MSI_WIN_LO)
		return -EINVAL;
	/* Physical destination only: a logical one names the guest's LDR,
	 * which vpci does not know.  RH is meaningless in physical mode. */
	if (d->msi.addr_lo & MSI_ADDR_DM_LOGICAL)
		return -EINVAL;
	/* Fixed delivery only; vectors 0-15 are illegal (Intel SDM 10.5.2). */
	if ((d->msi.data & MSI_DATA_DELIVERY_MODE) || v < 16)
		return -EINVAL;
	*vector = v;
	*dest = (d->msi.addr_lo >> 12) & 0xffu;
	return 0;
}

/* ------------------------------------------------------ dword dispatch */

static uint32_t header_read(const struct vpci_dev *d, unsigned reg)
{
	switch (reg) {
	case PCI_VENDOR_ID:
	case PCI_CLASS_REVISION:
	case 0x2c: /* subsystem vendor / subsystem */ return phys_rd(d, reg, 4);
	case PCI_COMMAND: return d->cmd | (uint32_t)status_read(d) << 16;
	case 0x0c: /* header type 0 without the MFD bit, BIST 0 */
		return d->cache_line | (uint32_t)d->latency << 8;
	case PCI_CAPABILITY_LIST: return d->cap_msi;
	case PCI_INTERRUPT_LINE: /* pin, Min_Gnt, Max_Lat: the device's */
		return (phys_rd(d, PCI_INTERRUPT_LINE, 4) & ~0xffu) | d->int_line;
	default:
		if (reg >= PCI_BASE_ADDRESS_0 && reg < PCI_BASE_ADDRESS_0 + 4 * PCI_STD_NUM_BARS)
			return d->bar_lo_shadow[(reg - PCI_BASE_ADDRESS_0) / 4];
		return 0; /* CardBus CIS, expansion ROM, reserved */
	}
}

static uint32_t dword_read(const struct vpci_dev *d, unsigned reg)
{
	if (reg < 0x40)
		return header_read(d, reg);
	if (in_msi(d, reg))
		return msi_read(d, reg - d->cap_msi);
	return 0; /* hidden capabilities, extended space */
}

static bool writable(const struct vpci_dev *d, unsigned reg)
{
	return reg == PCI_COMMAND || reg == 0x0c || reg == PCI_INTERRUPT_LINE ||
	       (reg >= PCI_BASE_ADDRESS_0 && reg < PCI_BASE_ADDRESS_0 + 4 * PCI_STD_NUM_BARS) ||
	       in_msi(d, reg);
}

/* val is the whole dword the guest now holds (sub-dword writes merged). */
static void dword_write(struct vpci_dev *d, unsigned reg, uint32_t val)
{
	if (reg == PCI_COMMAND) {
		cmd_write(d, (uint16_t)val); /* status: RW1C bits are not passed on */
	} else if (reg == 0x0c) {
		d->cache_line = (uint8_t)val;
		d->latency = (uint8_t)(val >> 8);
	} else if (reg == PCI_INTERRUPT_LINE) {
		d->int_line = (uint8_t)val;
	} else if (reg < 0x40) {
		bar_write(d, (reg - PCI_BASE_ADDRESS_0) / 4, val);
	} else {
		msi_write(d, reg - d->cap_msi, val);
	}
}

static bool access_ok(unsigned off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && off < PCI_CFG_SPACE_EXP_SIZE &&
	       (off & 3) + size <= 4;
}

uint32_t vpci_cfg_read(struct vpci_dev *d, unsigned off, unsigned size)
{
	if (!access_ok(off, size))
		return ones(size);
	return (dword_read(d, off & ~3u) >> (8 * (off & 3))) & ones(size);
}

void vpci_cfg_write(struct vpci_dev *d, unsigned off, unsigned size, uint32_t val)
{
	unsigned reg = off & ~3u, shift = 8 * (off & 3);
	uint32_t m;

	if (!access_ok(off, size) || !writable(d, reg))
		return;
	m = ones(size) << shift;
	dword_write(d, reg, (dword_read(d, reg) & ~m) | ((val << shift) & m));
}

/* ------------------------------------------------------------- device */

/* The enumeration's BARs must describe real hardware: power-of-two sizes,
 * naturally aligned, a 64-bit BAR owning the empty slot above it. */
static int check_bars(const struct vpci_dev *d)
{
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
		const struct vpci_bar_info *b = &d->bar[i];

		if (!b->size || b->io)
			continue;
		if ((b->size & (b->size - 1)) || b->size < 16 || (b->hpa & (b->size - 1)))
			return -EINVAL;
		if (!b->mem64 && b->size > (1ull << 31))
			return -EINVAL;
		if (b->mem64 && (i + 1 >= PCI_STD_NUM_BARS || d->bar[i + 1].size))
			return -EINVAL;
		if (b->mem64)
			i++;
	}
	return 0;
}

/* PCI 3.0 6.7: a capability lives in 0x40..0xff, dword aligned. */
static int check_msi(struct vpci_dev *d, uint16_t *ctrl)
{
	unsigned size;

	*ctrl = 0;
	if (!d->cap_msi)
		return 0;
	if (d->cap_msi < 0x40 || (d->cap_msi & 3) ||
	    phys_rd(d, d->cap_msi + PCI_CAP_LIST_ID, 1) != PCI_CAP_ID_MSI)
		return -EINVAL;
	*ctrl = (uint16_t)phys_rd(d, d->cap_msi + PCI_MSI_FLAGS, 2) &
		(PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	size = (*ctrl & PCI_MSI_FLAGS_64BIT ? 14u : 10u) +
	       (*ctrl & PCI_MSI_FLAGS_MASKBIT ? 10u : 0u);
	return d->cap_msi + size <= PCI_CFG_SPACE_SIZE ? 0 : -EINVAL;
}

/* The view of a function just out of reset: decode off, BARs at 0. */
static void view_reset(struct vpci_dev *d, uint16_t msi_caps)
{
	d->cmd = 0;
	d->cache_line = d->latency = d->int_line = 0;
	memset(d->bar_gpa, 0, sizeof(d->bar_gpa));
	memset(d->bar_mapped, 0, sizeof(d->bar_mapped));
	memset(d->bar_lo_shadow, 0, sizeof(d->bar_lo_shadow));
	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
		if (bar_is_mem(d, i))
			d->bar_lo_shadow[i] = bar_flags(d, i);
	memset(&d->msi, 0, sizeof(d->msi));
	d->msi.ctrl = msi_caps;
}

int vpci_dev_init(struct vpci_dev *d)
{
	const struct vpci_hooks *h = d->hooks;
	uint16_t vendor, msi_caps = 0;
	int err;

	if (!d->ops || !d->ops->read || !h || !h->bar_map || !h->bar_unmap || !h->msi ||
	    !h->bus_master)
		return -EINVAL;
	vendor = (uint16_t)phys_rd(d, PCI_VENDOR_ID, 2);
	if (vendor == 0xffff || vendor == 0)
		return -EINVAL;
	if (phys_rd(d, PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MASK)
		return -EINVAL; /* bridges and CardBus: not an endpoint */
	err = check_bars(d);
	if (!err)
		err = check_msi(d, &msi_caps);
	if (err)
		return err;
	view_reset(d, msi_caps);
	d->errors = d->msi_lost = 0;
	return 0;
}

void vpci_dev_reset(struct vpci_dev *d)
{
	uint16_t msi_caps = d->msi.ctrl & (PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);

	for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++)
		if (d->bar_mapped[i])
			bar_unmap(d, i);
	msi_set_enable(d, false);
	if (d->cmd & PCI_COMMAND_MASTER)
		d->hooks->bus_master(d->ctx, d, false);
	view_reset(d, msi_caps);
}

/* ---------------------------------------------------------------- bus */

void vpci_bus_init(struct vpci_bus *b) { memset(b, 0, sizeof(*b)); }

int vpci_bus_add(struct vpci_bus *b, struct vpci_dev *d)
{
	int free_slot = -ENOSPC;

	for (int i = VPCI_SLOTS - 1; i >= 1; i--) {
		if (b->slot[i] == d)
			return -EEXIST;
		if (!b->slot[i])
			free_slot = i;
	}
	if (free_slot > 0)
		b->slot[free_slot] = d;
	return free_slot;
}

void vpci_bus_remove(struct vpci_bus *b, struct vpci_dev *d)
{
	for (unsigned i = 0; i < VPCI_SLOTS; i++)
		if (b->slot[i] == d)
			b->slot[i] = NULL;
}

/* Only bus 0, function 0 of a filled slot answers (single-function devices). */
static struct vpci_dev *conf1_dev(const struct vpci_bus *b)
{
	uint32_t a = b->cf8;

	if (!(a & CF8_ENABLE) || ((a >> 16) & 0xff) || ((a >> 8) & 7))
		return NULL;
	return b->slot[(a >> 11) & 0x1f];
}

/* 0xCF8 is CONFIG_ADDRESS only as a dword (PCI 3.0 3.2.2.3.2); byte and
 * word accesses to 0xCF8-0xCFB are other chipset registers (Linux's
 * type-1 probe writes a byte to 0xCFB, 0xCF9 is reset control): not ours. */
bool vpci_io(struct vpci_bus *b, uint16_t port, unsigned size, bool in, uint32_t *val)
{
	struct vpci_dev *d;
	unsigned off;

	if (port == VPCI_CONF_ADDR) {
		if (size != 4)
			return false;
		if (in)
			*val = b->cf8;
		else
			b->cf8 = *val & CF8_MASK;
		return true;
	}
	if (port < VPCI_CONF_DATA || port > VPCI_CONF_DATA + 3)
		return false;
	d = conf1_dev(b);
	off = (b->cf8 & 0xfcu) + (port - VPCI_CONF_DATA);
	if (in)
		*val = d ? vpci_cfg_read(d, off, size) : ones(size);
	else if (d)
		vpci_cfg_write(d, off, size, *val);
	return true;
}
