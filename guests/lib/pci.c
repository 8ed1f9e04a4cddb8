/*
 * guests/lib/pci.c — configuration mechanism 1 (PCI Local Bus 3.0 3.2.2.3.2):
 * CONFIG_ADDRESS at 0xCF8 (32-bit writes only), data at 0xCFC..0xCFF.
 */
#include "guests/lib/pci.h"
#include "guests/lib/rt.h"

#define PCI_CONF_ADDR 0xcf8
#define PCI_CONF_DATA 0xcfc
#define PCI_CONF_ENABLE 0x80000000u
#define PCI_SLOTS 32
/* A well-formed list has at most (256 - 64) / 4 entries; more is a loop. */
#define PCI_CAP_MAX 48

static void select_reg(struct pci_fn f, unsigned off)
{
	outl(PCI_CONF_ADDR, PCI_CONF_ENABLE | (uint32_t)f.bus << 16 | (uint32_t)f.dev << 11 |
				    (uint32_t)f.fn << 8 | (off & 0xfc));
}

uint32_t pci_read32(struct pci_fn f, unsigned off)
{
	select_reg(f, off);
	return inl(PCI_CONF_DATA);
}

uint16_t pci_read16(struct pci_fn f, unsigned off)
{
	select_reg(f, off);
	return inw((uint16_t)(PCI_CONF_DATA + (off & 2)));
}

uint8_t pci_read8(struct pci_fn f, unsigned off)
{
	select_reg(f, off);
	return inb((uint16_t)(PCI_CONF_DATA + (off & 3)));
}

void pci_write32(struct pci_fn f, unsigned off, uint32_t v)
{
	select_reg(f, off);
	outl(PCI_CONF_DATA, v);
}

void pci_write16(struct pci_fn f, unsigned off, uint16_t v)
{
	select_reg(f, off);
	outw((uint16_t)(PCI_CONF_DATA + (off & 2)), v);
}

int pci_find(uint16_t vendor, uint16_t device, struct pci_fn *out)
{
	/* sluice's bus 0 has single-function slots only (function 0). */
	for (uint8_t dev = 0; dev < PCI_SLOTS; dev++) {
		struct pci_fn f = {.bus = 0, .dev = dev, .fn = 0};
		uint32_t id = pci_read32(f, PCI_VENDOR_ID);

		if ((id & 0xffff) == vendor && (id >> 16) == device) {
			*out = f;
			return 0;
		}
	}
	return -1;
}

unsigned pci_find_cap(struct pci_fn f, uint8_t id)
{
	if (!(pci_read16(f, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	unsigned ptr = pci_read8(f, PCI_CAPABILITY_LIST) & 0xfc;

	for (unsigned n = 0; ptr >= 0x40 && n < PCI_CAP_MAX; n++) {
		if (pci_read8(f, ptr) == id)
			return ptr;
		ptr = pci_read8(f, ptr + 1) & 0xfc;
	}
	return 0;
}
