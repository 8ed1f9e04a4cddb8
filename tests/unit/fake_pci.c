/* tests/unit/fake_pci.c — a fake ECAM configuration space (see fake_pci.h). */
#include "fake_pci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/pci.h"
#include "drivers/pci_regs.h"
#include "fake_hw.h"

#define MAX_FAKES 4

struct fake_pci {
	uint64_t base;
	uint16_t seg;
	uint8_t bus_start, bus_end;
	struct fake_pci_fn *fns[256][32][8];
};

static struct fake_pci *fakes[MAX_FAKES];
static unsigned nfakes;

void fake_pci_set8(struct fake_pci_fn *f, unsigned off, uint8_t v) { f->cfg[off] = v; }
void fake_pci_set16(struct fake_pci_fn *f, unsigned off, uint16_t v)
{
	f->cfg[off] = (uint8_t)v;
	f->cfg[off + 1] = (uint8_t)(v >> 8);
}
void fake_pci_set32(struct fake_pci_fn *f, unsigned off, uint32_t v)
{
	fake_pci_set16(f, off, (uint16_t)v);
	fake_pci_set16(f, off + 2, (uint16_t)(v >> 16));
}
uint8_t fake_pci_get8(const struct fake_pci_fn *f, unsigned off) { return f->cfg[off]; }
uint16_t fake_pci_get16(const struct fake_pci_fn *f, unsigned off)
{
	return (uint16_t)(f->cfg[off] | f->cfg[off + 1] << 8);
}
uint32_t fake_pci_get32(const struct fake_pci_fn *f, unsigned off)
{
	return fake_pci_get16(f, off) | (uint32_t)fake_pci_get16(f, off + 2) << 16;
}

static void mask32(uint8_t *m, unsigned off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		m[off + i] = (uint8_t)(v >> (8 * i));
}

/* Locates the function behind an ECAM offset inside fake p. */
static struct fake_pci_fn *decode(struct fake_pci *p, uint64_t addr, unsigned *reg)
{
	uint64_t off = addr - p->base;
	unsigned bus = (unsigned)(off >> PCI_ECAM_BUS_SHIFT);

	*reg = (unsigned)(off & 0xfff);
	if (bus > 255)
		return NULL;
	return p->fns[bus][(off >> PCI_ECAM_DEV_SHIFT) & 31][(off >> PCI_ECAM_FN_SHIFT) & 7];
}

/* Transactions Pending, read while f->pending_reads lasts (each read of
 * the status byte holding it uses one up). */
static uint32_t pending_bit(struct fake_pci_fn *f, unsigned reg, unsigned size)
{
	unsigned at = f->pcie ? f->pcie + PCI_EXP_DEVSTA : f->af ? f->af + PCI_AF_STATUS : 0;
	uint32_t bit = f->pcie ? PCI_EXP_DEVSTA_TRPND : PCI_AF_STATUS_TP;

	if (!at || !f->pending_reads || reg > at || reg + size <= at)
		return 0;
	f->pending_reads--;
	return bit << (8 * (at - reg));
}

static uint32_t cfg_read(struct fake_pci *p, uint64_t addr, unsigned size)
{
	unsigned reg;
	struct fake_pci_fn *f = decode(p, addr, &reg);
	uint32_t v = 0;

	if ((reg & (size - 1)) != 0) {
		fprintf(stderr, "fake_pci: misaligned %u-byte read at 0x%x\n", size, reg);
		abort();
	}
	if (!f)
		return size == 4 ? 0xffffffffu : size == 2 ? 0xffff : 0xff;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)f->cfg[reg + i] << (8 * i);
	v |= pending_bit(f, reg, size);
	if (f->cmd_irq_fn && reg <= PCI_COMMAND + 1 && reg + size > PCI_COMMAND &&
	    !(f->cmd_irq_skip && f->cmd_irq_skip--)) {
		void (*fn)(void *) = f->cmd_irq_fn;

		f->cmd_irq_fn = NULL;
		if (fake_irq_raise(fn, f->cmd_irq_ctx))
			f->cmd_irq_taken++;
		else
			f->cmd_irq_masked++;
	}
	return v;
}

void fake_pci_irq_on_cmd_read(struct fake_pci_fn *f, void (*fn)(void *), void *ctx)
{
	f->cmd_irq_fn = fn;
	f->cmd_irq_ctx = ctx;
	f->cmd_irq_skip = 0;
}

static bool in_bar(const struct fake_pci_fn *f, unsigned reg)
{
	unsigned hdr = f->cfg[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK;
	unsigned end = PCI_BASE_ADDRESS_0 + 4 * (hdr == 1 ? 2 : 6);

	return reg >= PCI_BASE_ADDRESS_0 && reg < end;
}

static bool pending(const struct fake_pci_fn *f)
{
	return (f->pcie && (fake_pci_get16(f, f->pcie + PCI_EXP_DEVSTA) & PCI_EXP_DEVSTA_TRPND)) ||
	       (f->af && (f->cfg[f->af + PCI_AF_STATUS] & PCI_AF_STATUS_TP));
}

static void do_flr(struct fake_pci_fn *f)
{
	f->flrs++;
	f->flr_master_on += (fake_pci_get16(f, PCI_COMMAND) & PCI_COMMAND_MASTER) != 0;
	f->flr_pending += pending(f) || f->pending_reads;
	for (unsigned r = PCI_BASE_ADDRESS_0; in_bar(f, r); r++)
		f->cfg[r] &= (uint8_t)~f->wmask[r];
	fake_pci_set16(f, PCI_COMMAND, 0);
	f->cfg[PCI_INTERRUPT_LINE] = 0;
	if (f->pcie)
		fake_pci_set16(f, f->pcie + PCI_EXP_DEVCTL, 0);
	if (f->af)
		f->cfg[f->af + PCI_AF_CTRL] = 0;
	memset(f->cfg + 0xc0, 0, 0x40);
}

/* Initiate FLR reads as 0: a write with it set resets the function. */
static void flr_check(struct fake_pci_fn *f, unsigned reg, unsigned size, uint32_t val)
{
	unsigned hi = f->pcie + PCI_EXP_DEVCTL + 1, ctl = f->af + PCI_AF_CTRL;

	if (f->pcie && (f->wmask[hi] & 0x80) && reg <= hi && reg + size > hi &&
	    ((val >> (8 * (hi - reg))) & 0x80))
		do_flr(f);
	else if (f->af && reg <= ctl && reg + size > ctl &&
		 ((val >> (8 * (ctl - reg))) & PCI_AF_CTRL_FLR))
		do_flr(f);
}

static void cfg_write(struct fake_pci *p, uint64_t addr, unsigned size, uint32_t val)
{
	unsigned reg;
	struct fake_pci_fn *f = decode(p, addr, &reg);

	if ((reg & (size - 1)) != 0) {
		fprintf(stderr, "fake_pci: misaligned %u-byte write at 0x%x\n", size, reg);
		abort();
	}
	if (!f)
		return;
	if (size == 4)
		f->dword_writes++;
	else if (size == 2)
		f->word_writes++;
	else
		f->byte_writes++;
	if (reg <= PCI_COMMAND + 1 && reg + size > PCI_COMMAND)
		f->cmd_writes++;
	if (size == 4 && val == 0xffffffffu && in_bar(f, reg)) {
		f->bar_allones++;
		if (fake_pci_get16(f, PCI_COMMAND) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY))
			f->sized_decode_on++;
	}
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i));
		unsigned r = reg + i;

		f->cfg[r] = (uint8_t)((f->cfg[r] & ~f->wmask[r]) | (b & f->wmask[r]));
		f->cfg[r] &= (uint8_t) ~(b & f->w1c[r]);
	}
	flr_check(f, reg, size, val);
}

static uint64_t mmio_rd(void *ctx, uint64_t off, unsigned size)
{
	struct fake_pci *p = ctx;

	if (size != 4) {
		fprintf(stderr, "fake_pci: %u-byte ECAM read\n", size);
		abort();
	}
	return cfg_read(p, p->base + ((uint64_t)p->bus_start << PCI_ECAM_BUS_SHIFT) + off, 4);
}

static void mmio_wr(void *ctx, uint64_t off, uint64_t val, unsigned size)
{
	struct fake_pci *p = ctx;

	if (size != 4) {
		fprintf(stderr, "fake_pci: %u-byte ECAM write\n", size);
		abort();
	}
	cfg_write(p, p->base + ((uint64_t)p->bus_start << PCI_ECAM_BUS_SHIFT) + off, 4,
		  (uint32_t)val);
}

static struct fake_pci *fake_for(uint64_t addr)
{
	for (unsigned i = 0; i < nfakes; i++) {
		struct fake_pci *p = fakes[i];
		uint64_t lo = p->base + ((uint64_t)p->bus_start << PCI_ECAM_BUS_SHIFT);
		uint64_t hi = p->base + ((uint64_t)(p->bus_end + 1) << PCI_ECAM_BUS_SHIFT);

		if (addr >= lo && addr < hi)
			return p;
	}
	fprintf(stderr, "fake_pci: sized access to 0x%llx outside every window\n",
		(unsigned long long)addr);
	abort();
}

/* Overrides the weak defaults in drivers/pci.c: real 8/16-bit accesses. */
uint32_t pci_host_mmio_read(uint64_t addr, unsigned size)
{
	return cfg_read(fake_for(addr), addr, size);
}

void pci_host_mmio_write(uint64_t addr, unsigned size, uint32_t val)
{
	cfg_write(fake_for(addr), addr, size, val);
}

struct fake_pci *fake_pci_create(uint64_t base, uint16_t seg, uint8_t bus_start, uint8_t bus_end)
{
	struct fake_pci *p = calloc(1, sizeof(*p));
	struct fake_mmio m;

	if (!p || nfakes == MAX_FAKES)
		abort();
	p->base = base;
	p->seg = seg;
	p->bus_start = bus_start;
	p->bus_end = bus_end;
	fakes[nfakes++] = p;
	m.base = base + ((uint64_t)bus_start << PCI_ECAM_BUS_SHIFT);
	m.size = (uint64_t)(bus_end - bus_start + 1) << PCI_ECAM_BUS_SHIFT;
	m.read = mmio_rd;
	m.write = mmio_wr;
	m.ctx = p;
	fake_mmio_add(&m);
	return p;
}

void fake_pci_reset(void)
{
	for (unsigned i = 0; i < nfakes; i++) {
		for (int b = 0; b < 256; b++)
			for (int d = 0; d < 32; d++)
				for (int f = 0; f < 8; f++)
					free(fakes[i]->fns[b][d][f]);
		free(fakes[i]);
	}
	nfakes = 0;
	fake_mmio_clear();
}

struct fake_pci_fn *fake_pci_fn_at(struct fake_pci *p, uint8_t bus, uint8_t dev, uint8_t fn)
{
	return p->fns[bus][dev][fn];
}

struct fake_pci_fn *fake_pci_add(struct fake_pci *p, uint8_t bus, uint8_t dev, uint8_t fn,
				 uint16_t vendor, uint16_t device, uint32_t class, uint8_t hdr)
{
	struct fake_pci_fn *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	p->fns[bus][dev][fn] = f;
	fake_pci_set16(f, PCI_VENDOR_ID, vendor);
	fake_pci_set16(f, PCI_DEVICE_ID, device);
	fake_pci_set32(f, PCI_CLASS_REVISION, class << 8 | 0x01);
	fake_pci_set8(f, PCI_HEADER_TYPE, hdr);
	f->wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	f->w1c[PCI_STATUS] = 0x00;     /* status 7:0 read-only */
	f->w1c[PCI_STATUS + 1] = 0xf9; /* 15:11 and 8 (Master Data Parity Error) */
	f->wmask[0x3c] = 0xff;	       /* Interrupt Line */
	/* Some scratch space in the device-specific area */
	for (unsigned i = 0xc0; i < 0x100; i++)
		f->wmask[i] = 0xff;
	for (unsigned i = 0x800; i < 0x1000; i++)
		f->wmask[i] = 0xff;
	if (hdr == PCI_HEADER_TYPE_BRIDGE) {
		f->wmask[PCI_PRIMARY_BUS] = 0xff;
		f->wmask[PCI_SECONDARY_BUS] = 0xff;
		f->wmask[PCI_SUBORDINATE_BUS] = 0xff;
	}
	return f;
}

void fake_pci_multifunction(struct fake_pci_fn *f)
{
	f->cfg[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MFD;
}

void fake_pci_bridge_buses(struct fake_pci_fn *f, uint8_t pri, uint8_t sec, uint8_t sub)
{
	f->cfg[PCI_PRIMARY_BUS] = pri;
	f->cfg[PCI_SECONDARY_BUS] = sec;
	f->cfg[PCI_SUBORDINATE_BUS] = sub;
}

void fake_pci_bar32(struct fake_pci_fn *f, unsigned idx, uint32_t base, uint32_t size,
		    bool prefetch)
{
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * idx;

	fake_pci_set32(f, off, base | (prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0));
	mask32(f->wmask, off, ~(size - 1));
}

void fake_pci_bar64(struct fake_pci_fn *f, unsigned idx, uint64_t base, uint64_t size,
		    bool prefetch)
{
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * idx;
	uint64_t m = ~(size - 1);

	fake_pci_set32(f, off,
		       (uint32_t)base | PCI_BASE_ADDRESS_MEM_TYPE_64 |
			       (prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0));
	mask32(f->wmask, off, (uint32_t)m & ~0xfu);
	unsigned nbars = (f->cfg[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK) == 1 ? 2 : 6;

	if (idx + 1 < nbars) {
		fake_pci_set32(f, off + 4, (uint32_t)(base >> 32));
		mask32(f->wmask, off + 4, (uint32_t)(m >> 32));
	}
}

void fake_pci_bar_io(struct fake_pci_fn *f, unsigned idx, uint32_t base, uint32_t size, bool io16)
{
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * idx;

	fake_pci_set32(f, off, base | PCI_BASE_ADDRESS_SPACE_IO);
	mask32(f->wmask, off, ~(size - 1) & ~3u & (io16 ? 0xffffu : 0xffffffffu));
}

void fake_pci_cap(struct fake_pci_fn *f, uint8_t pos, uint8_t id)
{
	f->cfg[pos] = id;
	f->cfg[pos + 1] = 0;
	if (!f->last_cap) {
		f->cfg[PCI_CAPABILITY_LIST] = pos;
		f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	} else {
		f->cfg[f->last_cap + 1] = pos;
	}
	f->last_cap = pos;
}

void fake_pci_cap_pcie(struct fake_pci_fn *f, uint8_t pos, uint8_t type)
{
	fake_pci_cap(f, pos, PCI_CAP_ID_EXP);
	fake_pci_set16(f, pos + PCI_EXP_FLAGS, (uint16_t)(2 | type << 4)); /* version 2 */
	f->pcie = pos;
	f->wmask[pos + PCI_EXP_DEVCTL] = 0xff; /* the rest of Device Control */
	f->wmask[pos + PCI_EXP_DEVCTL + 1] = 0x7f;
}

void fake_pci_flr_pcie(struct fake_pci_fn *f)
{
	fake_pci_set32(f, f->pcie + PCI_EXP_DEVCAP,
		       fake_pci_get32(f, f->pcie + PCI_EXP_DEVCAP) | PCI_EXP_DEVCAP_FLR);
	f->wmask[f->pcie + PCI_EXP_DEVCTL + 1] |= 0x80;
}

void fake_pci_cap_af(struct fake_pci_fn *f, uint8_t pos)
{
	fake_pci_cap(f, pos, PCI_CAP_ID_AF);
	f->cfg[pos + 2] = 6; /* length */
	f->cfg[pos + PCI_AF_CAP] = PCI_AF_CAP_TP | PCI_AF_CAP_FLR;
	f->wmask[pos + PCI_AF_CTRL] = PCI_AF_CTRL_FLR;
	f->af = pos;
}

void fake_pci_ecap(struct fake_pci_fn *f, uint16_t pos, uint16_t id)
{
	fake_pci_set32(f, pos, (uint32_t)id | 1u << 16);
	if (f->last_ecap)
		fake_pci_set32(f, f->last_ecap,
			       (fake_pci_get32(f, f->last_ecap) & 0xfffffu) | (uint32_t)pos << 20);
	f->last_ecap = pos;
}

void fake_pci_ecap_acs(struct fake_pci_fn *f, uint16_t pos, uint16_t cap, uint16_t ctrl_wmask)
{
	fake_pci_ecap(f, pos, PCI_EXT_CAP_ID_ACS);
	fake_pci_set16(f, pos + PCI_ACS_CAP, cap);
	fake_pci_set16(f, pos + PCI_ACS_CTRL, 0);
	f->wmask[pos + PCI_ACS_CTRL] = (uint8_t)ctrl_wmask;
	f->wmask[pos + PCI_ACS_CTRL + 1] = (uint8_t)(ctrl_wmask >> 8);
}
