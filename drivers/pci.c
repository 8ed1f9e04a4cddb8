/*
 * drivers/pci.c — PCI configuration access through ECAM, enumeration of
 * every function behind the firmware-numbered bridges, BAR sizing,
 * capability lists, ACS enabling, DMA requester-ID aliases and isolation
 * groups.
 *
 * Owns the device list (struct pci_dev records); the IOMMU bring-up fills
 * in pci_dev.unit, nothing else writes to the records after pci_init().
 * Rules and references: docs/pci.md.
 */
#include "drivers/pci.h"

#include <stdlib.h>
#include <string.h>

#include "arch/x86/irq.h"
#include "drivers/pci_regs.h"
#include "hw/hw.h"
#include "kernel/log.h"
#include "kernel/time.h"

/* One ECAM window plus the buses enumeration has visited in it. */
struct window {
	struct pci_ecam e;
	uint32_t visited[256 / 32];
};

static struct window *wins;
static unsigned nwins;
static struct pci_dev **devs;
static unsigned ndevs, devs_cap;
static int ngroups;

/* ------------------------------------------------------------ raw access */

#ifndef HOST_TEST
/* hw/hw.h has only 32/64-bit MMIO; config writes of 1 or 2 bytes must be
 * real sized accesses: a read-modify-write of the dword would write back
 * the RW1C bits of the status register (PCI 3.0 §6.2.3) and clear them. */
static inline uint32_t cfg_mmio_read(uint64_t a, unsigned size)
{
	switch (size) {
	case 1: return *(volatile uint8_t *)(uintptr_t)a;
	case 2: return *(volatile uint16_t *)(uintptr_t)a;
	default: return mmio_read32(a);
	}
}

static inline void cfg_mmio_write(uint64_t a, unsigned size, uint32_t v)
{
	switch (size) {
	case 1: *(volatile uint8_t *)(uintptr_t)a = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)(uintptr_t)a = (uint16_t)v; break;
	default: mmio_write32(a, v); break;
	}
}
#else
/* Weak defaults so that any host test can link pci.c; tests/unit/fake_pci.c
 * overrides them with real sized accesses to its model. */
__attribute__((weak)) uint32_t pci_host_mmio_read(uint64_t addr, unsigned size)
{
	uint32_t v = mmio_read32(addr & ~3ull) >> ((addr & 3) * 8);
	return size == 1 ? (v & 0xff) : (v & 0xffff);
}

__attribute__((weak)) void pci_host_mmio_write(uint64_t addr, unsigned size, uint32_t val)
{
	uint64_t a = addr & ~3ull;
	unsigned sh = (unsigned)(addr & 3) * 8;
	uint32_t mask = (size == 1 ? 0xffu : 0xffffu) << sh;
	uint32_t v = mmio_read32(a);

	mmio_write32(a, (v & ~mask) | ((val << sh) & mask));
}

static inline uint32_t cfg_mmio_read(uint64_t a, unsigned size)
{
	return size == 4 ? mmio_read32(a) : pci_host_mmio_read(a, size);
}

static inline void cfg_mmio_write(uint64_t a, unsigned size, uint32_t v)
{
	if (size == 4)
		mmio_write32(a, v);
	else
		pci_host_mmio_write(a, size, v);
}
#endif

static struct window *win_find(uint16_t seg, unsigned bus)
{
	for (unsigned i = 0; i < nwins; i++)
		if (wins[i].e.seg == seg && bus >= wins[i].e.bus_start && bus <= wins[i].e.bus_end)
			return &wins[i];
	return NULL;
}

int pci_cfg_check(uint16_t seg, uint8_t bus, unsigned off, unsigned size)
{
	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	if (off >= PCI_CFG_SPACE_EXP_SIZE || (off & (size - 1)))
		return -EINVAL;
	if (!win_find(seg, bus))
		return -ENODEV;
	return 0;
}

/* ECAM address (PCIe Base Spec 7.2.2): base is bus 0's (see pci.h). */
static uint64_t ecam_addr(const struct window *w, uint8_t bus, uint8_t dev, uint8_t fn,
			  unsigned off)
{
	return w->e.base + ((uint64_t)bus << PCI_ECAM_BUS_SHIFT) +
	       ((uint64_t)(dev & 0x1f) << PCI_ECAM_DEV_SHIFT) +
	       ((uint64_t)(fn & 7) << PCI_ECAM_FN_SHIFT) + off;
}

uint32_t pci_cfg_read(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, unsigned off,
		      unsigned size)
{
	if (pci_cfg_check(seg, bus, off, size) || dev >= PCI_MAX_DEV || fn >= PCI_MAX_FN)
		return size == 1 ? 0xffu : size == 2 ? 0xffffu : 0xffffffffu;
	return cfg_mmio_read(ecam_addr(win_find(seg, bus), bus, dev, fn, off), size);
}

void pci_cfg_write(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn, unsigned off, unsigned size,
		   uint32_t val)
{
	if (pci_cfg_check(seg, bus, off, size) || dev >= PCI_MAX_DEV || fn >= PCI_MAX_FN)
		return;
	cfg_mmio_write(ecam_addr(win_find(seg, bus), bus, dev, fn, off), size, val);
}

uint32_t pci_read(const struct pci_dev *d, unsigned off, unsigned size)
{
	return pci_cfg_read(d->seg, d->bus, d->dev, d->fn, off, size);
}

void pci_write(struct pci_dev *d, unsigned off, unsigned size, uint32_t val)
{
	pci_cfg_write(d->seg, d->bus, d->dev, d->fn, off, size, val);
}

static const char *dname(const struct pci_dev *d, char *buf)
{
	return pci_format_bdf(buf, 16, d->seg, d->bus, d->dev, d->fn);
}

/* ------------------------------------------------------------ probing */

/* Capability list (PCI 3.0 §6.7).  Bounded: at most PCI_FIND_CAP_TTL entries
 * (a looping list ends there); a pointer into the header (< 0x40) or not
 * dword-aligned ends the walk (bits 1:0 are reserved and must be 0). */
static void walk_caps(struct pci_dev *d)
{
	char b[16];
	unsigned pos;

	if (d->hdr_type != PCI_HEADER_TYPE_NORMAL && d->hdr_type != PCI_HEADER_TYPE_BRIDGE)
		return;
	if (!(pci_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return;
	pos = pci_read(d, PCI_CAPABILITY_LIST, 1);
	for (unsigned ttl = PCI_FIND_CAP_TTL; pos; ttl--) {
		if (!ttl) {
			klog("pci: %s capability list longer than %u entries (loop?), walk stopped",
			     dname(d, b), PCI_FIND_CAP_TTL);
			return;
		}
		if (pos < 0x40 || (pos & 3)) {
			klog("pci: %s bad capability pointer 0x%x, walk stopped", dname(d, b), pos);
			return;
		}
		uint32_t hdr = pci_read(d, pos, 2);
		uint8_t id = hdr & 0xff;

		if (id == 0xff) /* all ones: the function went away */
			return;
		if (id == PCI_CAP_ID_MSI && !d->cap_msi)
			d->cap_msi = (uint8_t)pos;
		else if (id == PCI_CAP_ID_MSIX && !d->cap_msix)
			d->cap_msix = (uint8_t)pos;
		else if (id == PCI_CAP_ID_EXP && !d->cap_pcie)
			d->cap_pcie = (uint8_t)pos;
		pos = hdr >> 8;
	}
}

/* Extended capabilities (PCIe Base Spec 7.6.3), from 0x100.  Ends on a 0 or
 * all-ones header, a next pointer of 0 or below 0x100, or a header seen
 * before (a loop). */
static void walk_ext_caps(struct pci_dev *d)
{
	uint32_t seen[PCI_CFG_SPACE_EXP_SIZE / 4 / 32] = {0};
	unsigned pos = PCI_EXT_CAP_START;
	char b[16];

	for (unsigned ttl = PCI_EXT_CAP_TTL; ttl; ttl--) {
		uint32_t hdr = pci_read(d, pos, 4);

		if (hdr == 0 || hdr == 0xffffffffu)
			return;
		seen[pos / 4 / 32] |= 1u << (pos / 4 % 32);
		switch (PCI_EXT_CAP_ID(hdr)) {
		case PCI_EXT_CAP_ID_ATS:
			if (!d->ecap_ats)
				d->ecap_ats = (uint16_t)pos;
			break;
		case PCI_EXT_CAP_ID_PASID:
			if (!d->ecap_pasid)
				d->ecap_pasid = (uint16_t)pos;
			break;
		case PCI_EXT_CAP_ID_PRI:
			if (!d->ecap_pri)
				d->ecap_pri = (uint16_t)pos;
			break;
		case PCI_EXT_CAP_ID_ACS:
			if (!d->ecap_acs)
				d->ecap_acs = (uint16_t)pos;
			break;
		default: break;
		}
		pos = PCI_EXT_CAP_NEXT(hdr);
		if (!pos)
			return;
		if (pos < PCI_EXT_CAP_START) {
			klog("pci: %s bad extended capability pointer 0x%x, walk stopped",
			     dname(d, b), pos);
			return;
		}
		if (seen[pos / 4 / 32] & (1u << (pos / 4 % 32))) {
			klog("pci: %s extended capability list loops at 0x%x, walk stopped",
			     dname(d, b), pos);
			return;
		}
	}
}

/* Lowest writable address bit = size (PCI 3.0 §6.2.5.1). */
static uint64_t lowest_bit(uint64_t m) { return m & (~m + 1); }

/* BAR sizing (PCI 3.0 §6.2.5.1): write all ones, read back, restore.  Memory
 * and I/O decode are off meanwhile so the half-programmed BAR never claims
 * an address; host bridges keep decode on (what Linux calls mmio_always_on:
 * turning them off can cut the CPU from RAM or the console). */
static void size_bars(struct pci_dev *d)
{
	unsigned nbars = d->hdr_type == PCI_HEADER_TYPE_NORMAL	 ? PCI_STD_NUM_BARS
			 : d->hdr_type == PCI_HEADER_TYPE_BRIDGE ? PCI_BRIDGE_NUM_BARS
								 : 0;
	uint16_t cmd = (uint16_t)pci_read(d, PCI_COMMAND, 2);
	bool host = (d->class >> 8) == 0x0600;
	bool off = !host && (cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	char b[16];

	if (!nbars)
		return;
	if (off)
		pci_command_update(d, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 0);
	for (unsigned i = 0; i < nbars; i++) {
		unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;
		uint32_t orig = pci_read(d, reg, 4), sz;
		struct pci_bar *bar = &d->bar[i];

		pci_write(d, reg, 4, 0xffffffffu);
		sz = pci_read(d, reg, 4);
		pci_write(d, reg, 4, orig);
		if (sz == 0 || sz == 0xffffffffu)
			continue; /* not implemented */
		if (orig & PCI_BASE_ADDRESS_SPACE_IO) {
			/* I/O BARs may decode only 16 bits: upper bits read 0 */
			bar->io = true;
			bar->base = orig & PCI_BASE_ADDRESS_IO_MASK;
			bar->size = lowest_bit(sz & PCI_BASE_ADDRESS_IO_MASK);
			continue;
		}
		uint64_t mask = sz & PCI_BASE_ADDRESS_MEM_MASK;
		uint64_t base = orig & PCI_BASE_ADDRESS_MEM_MASK;

		bar->prefetch = orig & PCI_BASE_ADDRESS_MEM_PREFETCH;
		if ((orig & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64) {
			if (i + 1 >= nbars) {
				klog("pci: %s 64-bit BAR%u has no upper half, ignored", dname(d, b),
				     i);
				bar->prefetch = false;
				continue;
			}
			uint32_t ohi = pci_read(d, reg + 4, 4), shi;

			pci_write(d, reg + 4, 4, 0xffffffffu);
			shi = pci_read(d, reg + 4, 4);
			pci_write(d, reg + 4, 4, ohi);
			mask |= (uint64_t)shi << 32;
			base |= (uint64_t)ohi << 32;
			bar->mem64 = true;
			i++; /* the upper half is this BAR's, slot i+1 stays empty */
		}
		bar->base = base;
		bar->size = lowest_bit(mask);
	}
	/* Decode back as it was; Bus Master is not part of the restore, so a
	 * concurrent clear of it stays. */
	if (off)
		pci_command_update(d, 0, cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
}

static bool makes_conventional_bus(const struct pci_dev *br)
{
	/* Below a bridge without a PCIe capability, or below a PCIe-to-PCI/
	 * PCI-X bridge, the bus is conventional PCI: requests carry no
	 * reliable requester ID of their own. */
	return !br->is_pcie || br->pcie_type == PCI_EXP_TYPE_PCI_BRIDGE;
}

/*
 * The requester ID the IOMMU sees for d's DMA.  Encodes QEMU 7.2's
 * pci_device_iommu_address_space() (hw/pci/pci.c), which follows the
 * PCIe-to-PCI/X Bridge Spec 1.0 §2.3 and Linux's pci_for_each_dma_alias():
 * walking up, for every conventional bus on the way,
 *  - a PCIe-to-PCI bridge (PCIe type 7) takes ownership with
 *    (secondary bus, dev 0, fn 0);
 *  - any other (conventional) bridge forwards with its own requester ID.
 * Each higher level overrides the lower, so the outermost alias wins.
 */
static uint16_t dma_alias(const struct pci_dev *d)
{
	uint16_t rid = pci_dev_rid(d);

	for (const struct pci_dev *br = d->parent; br; br = br->parent) {
		if (!makes_conventional_bus(br))
			continue;
		if (br->is_pcie && br->pcie_type == PCI_EXP_TYPE_PCI_BRIDGE)
			rid = pci_make_rid(br->secondary, 0, 0);
		else
			rid = pci_dev_rid(br);
	}
	return rid;
}

/* ------------------------------------------------------------ ACS, groups */

/* The ACS controls that keep peer-to-peer traffic on its way to the IOMMU
 * (PCIe 6.12): Source Validation (no forged requester IDs), P2P Request and
 * Completion Redirect (peer traffic goes upstream), Upstream Forwarding. */
#define ACS_REQ_FLAGS (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)

/* PCIe 6.12.1: ACS is not applicable to PCIe-to-PCI bridges (either way)
 * nor to event collectors; their ACS capability, if any, is ignored. */
static bool acs_applicable(const struct pci_dev *d)
{
	return d->is_pcie && d->pcie_type != PCI_EXP_TYPE_PCI_BRIDGE &&
	       d->pcie_type != PCI_EXP_TYPE_PCIE_BRIDGE && d->pcie_type != PCI_EXP_TYPE_RC_EC;
}

/* Turns on every isolation control the function implements (PCIe 7.7.11.3);
 * the other control bits (Egress Control, Translation Blocking) are kept. */
static void enable_acs(struct pci_dev *d)
{
	uint16_t cap, ctrl;

	if (!d->ecap_acs || !acs_applicable(d))
		return;
	cap = (uint16_t)pci_read(d, d->ecap_acs + PCI_ACS_CAP, 2);
	ctrl = (uint16_t)pci_read(d, d->ecap_acs + PCI_ACS_CTRL, 2);
	if ((ctrl | (cap & ACS_REQ_FLAGS)) != ctrl)
		pci_write(d, d->ecap_acs + PCI_ACS_CTRL, 2, ctrl | (cap & ACS_REQ_FLAGS));
}

/* Whether the function's ACS isolates what enters it: every control it
 * implements is on (read back, so a control that did not stick counts as
 * off).  A control the capability does not list is taken as hard-wired: a
 * port without P2P Request Redirect does not forward peer traffic at all
 * (PCIe 6.12.1.1 requires the control of every port that can). */
static bool acs_enabled(const struct pci_dev *d)
{
	uint16_t want, ctrl;

	if (!d->ecap_acs || !acs_applicable(d))
		return false;
	want = (uint16_t)pci_read(d, d->ecap_acs + PCI_ACS_CAP, 2) & ACS_REQ_FLAGS;
	ctrl = (uint16_t)pci_read(d, d->ecap_acs + PCI_ACS_CTRL, 2);
	return (ctrl & want) == want;
}

/*
 * Walking up from a function, the bridge whose whole subtree its DMA can
 * reach without passing the IOMMU, given one bridge on the way:
 *  - a conventional bridge or a PCIe-to-PCI bridge: its secondary bus is a
 *    shared PCI bus, where any master can target any other;
 *  - a root port without ACS: its subtree (whether a root complex routes
 *    between root ports is not known; PCIe 6.12.1.1 asks ACS of those that do);
 *  - a switch downstream port without ACS: the switch routes the request to
 *    any sibling port (PCIe 6.12.1.1), so the subtree of its upstream port.
 * NULL: the bridge sends everything upstream (ACS on, or an upstream port,
 * which forwards all it gets from the downstream ports it serves).
 */
static const struct pci_dev *p2p_reach_at(const struct pci_dev *br)
{
	if (!br->is_pcie || br->pcie_type == PCI_EXP_TYPE_PCI_BRIDGE ||
	    br->pcie_type == PCI_EXP_TYPE_PCIE_BRIDGE)
		return br;
	if (br->pcie_type == PCI_EXP_TYPE_ROOT_PORT)
		return acs_enabled(br) ? NULL : br;
	if (br->pcie_type == PCI_EXP_TYPE_DOWNSTREAM && !acs_enabled(br))
		return br->parent ? br->parent : br;
	return NULL;
}

/* The highest such bridge on the way to the root bus (NULL: none). */
static const struct pci_dev *p2p_reach(const struct pci_dev *d)
{
	const struct pci_dev *top = NULL;

	for (const struct pci_dev *br = d->parent; br; br = br->parent) {
		const struct pci_dev *r = p2p_reach_at(br);

		if (r)
			top = r;
	}
	return top;
}

static bool is_below(const struct pci_dev *d, const struct pci_dev *br)
{
	for (const struct pci_dev *p = d->parent; p; p = p->parent)
		if (p == br)
			return true;
	return false;
}

/* A function of a multi-function device reaches its sibling functions
 * inside the device unless its own ACS redirects that traffic (PCIe
 * 6.12.1.2); a conventional function never can.  Two functions are apart
 * only when both are isolated: one that is not can reach the other. */
static bool fn_isolated(const struct pci_dev *d) { return acs_enabled(d); }

static bool same_slot(const struct pci_dev *a, const struct pci_dev *b)
{
	return a->seg == b->seg && a->bus == b->bus && a->dev == b->dev;
}

/* Union-find over device indices, the lower index as the root. */
static unsigned uf_find(unsigned *up, unsigned i)
{
	while (up[i] != i)
		i = up[i] = up[up[i]];
	return i;
}

static void uf_join(unsigned *up, unsigned a, unsigned b)
{
	a = uf_find(up, a);
	b = uf_find(up, b);
	if (a < b)
		up[b] = a;
	else
		up[a] = b;
}

/* Joins d (index i) with every function it cannot be isolated from. */
static void join_peers(unsigned *up, unsigned i)
{
	const struct pci_dev *d = devs[i], *reach = p2p_reach(d);

	for (unsigned j = 0; j < ndevs; j++) {
		const struct pci_dev *e = devs[j];

		if (j == i || e->seg != d->seg)
			continue;
		/* one requester ID: the IOMMU cannot tell the two apart */
		if (e->alias_rid == d->alias_rid)
			uf_join(up, i, j);
		else if (same_slot(d, e) && !(fn_isolated(d) && fn_isolated(e)))
			uf_join(up, i, j);
		else if (reach && is_below(e, reach))
			uf_join(up, i, j);
	}
}

/* Groups (docs/pci.md): numbered from 0 in the enumeration order of their
 * first member. */
static int assign_groups(void)
{
	unsigned *up = calloc(ndevs ? ndevs : 1, sizeof(*up));
	int *num = calloc(ndevs ? ndevs : 1, sizeof(*num));

	if (!up || !num) {
		free(up);
		free(num);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < ndevs; i++) {
		up[i] = i;
		num[i] = -1;
	}
	for (unsigned i = 0; i < ndevs; i++)
		join_peers(up, i);
	ngroups = 0;
	for (unsigned i = 0; i < ndevs; i++) {
		unsigned r = uf_find(up, i);

		if (num[r] < 0)
			num[r] = ngroups++;
		devs[i]->group = num[r];
	}
	free(up);
	free(num);
	return 0;
}

static int add_dev(struct pci_dev *d)
{
	if (ndevs == devs_cap) {
		unsigned ncap = devs_cap ? devs_cap * 2 : 32;
		struct pci_dev **n = realloc(devs, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		devs = n;
		devs_cap = ncap;
	}
	devs[ndevs++] = d;
	return 0;
}

static int probe_fn(const struct window *w, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t vendor,
		    struct pci_dev *parent)
{
	struct pci_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->seg = w->e.seg;
	d->bus = bus;
	d->dev = dev;
	d->fn = fn;
	d->vendor = vendor;
	d->device = (uint16_t)pci_read(d, PCI_DEVICE_ID, 2);
	d->class = pci_read(d, PCI_CLASS_REVISION, 4) >> 8;
	d->hdr_type = pci_read(d, PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MASK;
	d->is_bridge = d->hdr_type == PCI_HEADER_TYPE_BRIDGE;
	d->parent = parent;
	d->unit = -1;
	walk_caps(d);
	if (d->cap_pcie) {
		d->is_pcie = true;
		d->pcie_type =
			(pci_read(d, d->cap_pcie + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_TYPE) >> 4;
		/* Only PCIe functions have an extended space; a conventional
		 * one reads 0 or garbage there. */
		walk_ext_caps(d);
		/* before the grouping reads the controls back */
		enable_acs(d);
	}
	if (d->is_bridge) {
		d->secondary = (uint8_t)pci_read(d, PCI_SECONDARY_BUS, 1);
		d->subordinate = (uint8_t)pci_read(d, PCI_SUBORDINATE_BUS, 1);
	}
	size_bars(d);
	d->alias_rid = dma_alias(d);
	d->group = -1; /* assign_groups(), once every function is known */
	if (add_dev(d)) {
		free(d);
		return -ENOMEM;
	}
	return 0;
}

static bool visited(const struct window *w, unsigned bus)
{
	return w->visited[bus / 32] & (1u << (bus % 32));
}

static int scan_bus(struct window *w, uint8_t bus, struct pci_dev *parent);

/* Firmware numbered the buses; we follow its numbers and never renumber.
 * A bridge whose numbers cannot be right is recorded but not followed. */
static int scan_bridge(struct pci_dev *br)
{
	struct window *w = win_find(br->seg, br->secondary);
	const char *why = NULL;
	char b[16];

	if (br->secondary <= br->bus)
		why = "is not above its own bus";
	else if (!w)
		why = "is outside the segment's ECAM range";
	else if (br->subordinate < br->secondary)
		why = "is above its subordinate bus";
	else if (br->parent && (br->secondary <= br->parent->secondary ||
				br->subordinate > br->parent->subordinate))
		why = "is outside its parent bridge's bus range";
	else if (visited(w, br->secondary))
		why = "was already scanned (loop or overlap)";
	if (why) {
		klog("pci: %s bridge secondary bus 0x%02x %s, not scanned", dname(br, b),
		     br->secondary, why);
		return 0;
	}
	return scan_bus(w, br->secondary, br);
}

static int scan_bus(struct window *w, uint8_t bus, struct pci_dev *parent)
{
	unsigned first = ndevs, last;
	int err;

	w->visited[bus / 32] |= 1u << (bus % 32);
	for (uint8_t dev = 0; dev < PCI_MAX_DEV; dev++) {
		for (uint8_t fn = 0; fn < PCI_MAX_FN; fn++) {
			uint16_t vendor =
				(uint16_t)pci_cfg_read(w->e.seg, bus, dev, fn, PCI_VENDOR_ID, 2);

			if (vendor == 0xffff || vendor == 0) {
				if (fn == 0)
					break; /* no function 0: no device */
				continue;
			}
			err = probe_fn(w, bus, dev, fn, vendor, parent);
			if (err)
				return err;
			/* Header Type bit 7 on function 0 says functions 1-7 may exist. */
			if (fn == 0 && !(pci_cfg_read(w->e.seg, bus, dev, 0, PCI_HEADER_TYPE, 1) &
					 PCI_HEADER_TYPE_MFD))
				break;
		}
	}
	/* The whole bus first, then what is below its bridges: the list comes
	 * out in bus order. Depth is bounded: every level's bus is higher. */
	last = ndevs;
	for (unsigned i = first; i < last; i++) {
		if (devs[i]->is_bridge) {
			err = scan_bridge(devs[i]);
			if (err)
				return err;
		}
	}
	return 0;
}

static void free_all(void)
{
	for (unsigned i = 0; i < ndevs; i++)
		free(devs[i]);
	free(devs);
	free(wins);
	devs = NULL;
	wins = NULL;
	ndevs = devs_cap = nwins = 0;
	ngroups = 0;
}

int pci_init(const struct pci_ecam *segs, unsigned nsegs)
{
	int err = 0;

	free_all();
	if (nsegs && !segs)
		return -EINVAL;
	for (unsigned i = 0; i < nsegs; i++) {
		if (segs[i].bus_end < segs[i].bus_start)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (segs[j].seg == segs[i].seg && segs[j].bus_start <= segs[i].bus_end &&
			    segs[i].bus_start <= segs[j].bus_end)
				return -EINVAL;
	}
	if (nsegs) {
		wins = calloc(nsegs, sizeof(*wins));
		if (!wins)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < nsegs; i++)
		wins[i].e = segs[i];
	nwins = nsegs;
	for (unsigned i = 0; i < nwins && !err; i++)
		if (!visited(&wins[i], wins[i].e.bus_start))
			err = scan_bus(&wins[i], wins[i].e.bus_start, NULL);
	/* also after a failed scan: the functions kept get their groups */
	int gerr = assign_groups();

	if (!err)
		err = gerr;
	if (err) {
		klog("pci: enumeration failed (%s), %u functions kept", err_name(err), ndevs);
		return err;
	}
	klog("pci: %u functions, %d groups", ndevs, ngroups);
	return 0;
}

/* ------------------------------------------------------------ queries */

unsigned pci_count(void) { return ndevs; }

struct pci_dev *pci_at(unsigned i) { return i < ndevs ? devs[i] : NULL; }

struct pci_dev *pci_find(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	for (unsigned i = 0; i < ndevs; i++) {
		struct pci_dev *d = devs[i];

		if (d->seg == seg && d->bus == bus && d->dev == dev && d->fn == fn)
			return d;
	}
	return NULL;
}

int pci_group_count(void) { return ngroups; }

int pci_group_members(int group, struct pci_dev **out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ndevs; i++) {
		if (devs[i]->group != group)
			continue;
		if (out && n < max)
			out[n] = devs[i];
		n++;
	}
	return (int)n;
}

void pci_command_update(struct pci_dev *d, uint16_t clear, uint16_t set)
{
	/* Interrupts off between the read and the write: the fault-storm
	 * handler clears Bus Master from interrupt context, and a write of a
	 * value read before it would turn Bus Master back on. */
	bool was = irq_save_disable();
	uint16_t cmd = (uint16_t)pci_read(d, PCI_COMMAND, 2);
	uint16_t n = (uint16_t)((cmd & ~clear) | set);

	/* A 16-bit write: the status register beside it has RW1C bits. */
	if (n != cmd)
		pci_write(d, PCI_COMMAND, 2, n);
	irq_restore(was);
}

void pci_set_bus_master(struct pci_dev *d, bool on)
{
	if (on)
		pci_command_update(d, 0, PCI_COMMAND_MASTER);
	else
		pci_command_update(d, PCI_COMMAND_MASTER, 0);
}

/* ------------------------------------------------------------ quiesce */

/* The first capability with this ID (PCI 3.0 §6.7), 0 if none; bounded as
 * walk_caps. */
static unsigned cap_find(const struct pci_dev *d, uint8_t want)
{
	unsigned pos;

	if (d->hdr_type != PCI_HEADER_TYPE_NORMAL && d->hdr_type != PCI_HEADER_TYPE_BRIDGE)
		return 0;
	if (!(pci_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	pos = pci_read(d, PCI_CAPABILITY_LIST, 1);
	for (unsigned ttl = PCI_FIND_CAP_TTL; pos && ttl; ttl--) {
		if (pos < 0x40 || (pos & 3))
			return 0;
		uint32_t hdr = pci_read(d, pos, 2);
		if ((hdr & 0xff) == want)
			return pos;
		if ((hdr & 0xff) == 0xff)
			return 0;
		pos = hdr >> 8;
	}
	return 0;
}

enum pci_flr pci_flr_kind(const struct pci_dev *d)
{
	unsigned af;

	if (d->cap_pcie && (pci_read(d, d->cap_pcie + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR))
		return PCI_FLR_PCIE;
	/* AF FLR needs the Transactions Pending bit too: without it there is
	 * no way to know the function is idle before resetting it. */
	af = cap_find(d, PCI_CAP_ID_AF);
	if (af && (pci_read(d, af + PCI_AF_CAP, 1) & (PCI_AF_CAP_TP | PCI_AF_CAP_FLR)) ==
			  (PCI_AF_CAP_TP | PCI_AF_CAP_FLR))
		return PCI_FLR_AF;
	return PCI_FLR_NONE;
}

static bool tx_pending(const struct pci_dev *d, unsigned af)
{
	if (af)
		return pci_read(d, af + PCI_AF_STATUS, 1) & PCI_AF_STATUS_TP;
	if (d->cap_pcie)
		return pci_read(d, d->cap_pcie + PCI_EXP_DEVSTA, 2) & PCI_EXP_DEVSTA_TRPND;
	return false; /* conventional without AF: nothing to ask */
}

/* What an FLR resets and nothing else re-programs (the drivers set up MSI,
 * decoding and Bus Master themselves when they use the function). */
struct cfg_saved {
	uint32_t bar[PCI_STD_NUM_BARS];
	unsigned nbars;
	uint16_t cmd, devctl;
	uint8_t intline;
};

static void cfg_save(const struct pci_dev *d, struct cfg_saved *sv)
{
	sv->nbars = d->hdr_type == PCI_HEADER_TYPE_BRIDGE ? PCI_BRIDGE_NUM_BARS : PCI_STD_NUM_BARS;
	for (unsigned i = 0; i < sv->nbars; i++)
		sv->bar[i] = pci_read(d, PCI_BASE_ADDRESS_0 + 4 * i, 4);
	sv->cmd = (uint16_t)pci_read(d, PCI_COMMAND, 2);
	sv->intline = (uint8_t)pci_read(d, PCI_INTERRUPT_LINE, 1);
	sv->devctl = d->cap_pcie ? (uint16_t)pci_read(d, d->cap_pcie + PCI_EXP_DEVCTL, 2) : 0;
}

/* BARs before the command register: decoding comes back on only once the
 * addresses are valid again.  The saved command is written whole but with
 * Bus Master off (the next owner's driver turns it on), through
 * pci_command_update: a restore never sets Bus Master, so it cannot undo a
 * fault-storm clear that arrived since cfg_save. */
static void cfg_restore(struct pci_dev *d, const struct cfg_saved *sv)
{
	for (unsigned i = 0; i < sv->nbars; i++)
		pci_write(d, PCI_BASE_ADDRESS_0 + 4 * i, 4, sv->bar[i]);
	pci_write(d, PCI_INTERRUPT_LINE, 1, sv->intline);
	if (d->cap_pcie)
		pci_write(d, d->cap_pcie + PCI_EXP_DEVCTL, 2, sv->devctl & ~PCI_EXP_DEVCTL_BCR_FLR);
	pci_command_update(d, 0xffff, sv->cmd & ~PCI_COMMAND_MASTER);
}

static bool cfg_answers(const struct pci_dev *d)
{
	/* 0x0001: a Configuration Request Retry Status the root port turned
	 * into a vendor ID (PCIe 7.5.3.5 CRS Software Visibility). */
	uint32_t v = pci_read(d, PCI_VENDOR_ID, 2);
	return v != 0xffff && v != 0x0001;
}

static int flr(struct pci_dev *d, enum pci_flr kind, unsigned af)
{
	struct cfg_saved sv;

	cfg_save(d, &sv);
	if (kind == PCI_FLR_AF)
		pci_write(d, af + PCI_AF_CTRL, 1, PCI_AF_CTRL_FLR);
	else
		pci_write(d, d->cap_pcie + PCI_EXP_DEVCTL, 2, sv.devctl | PCI_EXP_DEVCTL_BCR_FLR);
	/* PCIe 6.6.2: no configuration request for 100 ms after an FLR. */
	udelay(PCI_FLR_WAIT_US);
	if (poll_until(cfg_answers(d), PCI_FLR_READY_TIMEOUT_NS))
		return -ETIMEDOUT;
	cfg_restore(d, &sv);
	return 0;
}

int pci_quiesce(struct pci_dev *d, bool *did_flr)
{
	enum pci_flr kind = pci_flr_kind(d);
	unsigned af = kind == PCI_FLR_AF ? cap_find(d, PCI_CAP_ID_AF) : 0;
	char b[16];
	int err;

	*did_flr = false;
	if (pci_read(d, PCI_VENDOR_ID, 2) == 0xffff)
		return -ENODEV;
	/* Bus Master off first: the function issues no new request (PCI 3.0
	 * §6.2.2); then the ones already issued drain: an FLR with requests
	 * outstanding may leave their completions to arrive after the reset
	 * (PCIe 6.6.2), and without an FLR that wait is all that says the
	 * function has gone quiet. */
	pci_set_bus_master(d, false);
	if (poll_until(!tx_pending(d, af), PCI_PENDING_TIMEOUT_NS)) {
		klog("pci: %s transactions still pending with Bus Master off", dname(d, b));
		return -ETIMEDOUT;
	}
	if (kind == PCI_FLR_NONE)
		return 0;
	err = flr(d, kind, af);
	if (err) {
		klog("pci: %s does not answer after FLR", dname(d, b));
		return err;
	}
	*did_flr = true;
	return 0;
}
