/*
 * guests/lib/pci.h — PCI configuration mechanism 1 (0xCF8/0xCFC) for the
 * built-in guests: bus 0 as sluice's virtual PCI presents it.
 */
#ifndef SLUICE_GUESTS_LIB_PCI_H
#define SLUICE_GUESTS_LIB_PCI_H

#include <stdint.h>

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_BAR0 0x10
#define PCI_CAPABILITY_LIST 0x34

#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_BAR_IO 0x1
#define PCI_BAR_TYPE_MASK 0x6
#define PCI_BAR_TYPE_64 0x4
#define PCI_BAR_MEM_MASK 0xfffffff0u

#define PCI_CAP_ID_MSI 0x05
#define PCI_MSI_FLAGS 0x02 /* Message Control */
#define PCI_MSI_ADDRESS_LO 0x04
#define PCI_MSI_ADDRESS_HI 0x08 /* 64-bit layout only */
#define PCI_MSI_DATA_32 0x08
#define PCI_MSI_DATA_64 0x0c
#define PCI_MSI_MASK_32 0x0c
#define PCI_MSI_MASK_64 0x10
#define PCI_MSI_FLAGS_ENABLE 0x0001
#define PCI_MSI_FLAGS_QSIZE 0x0070 /* Multiple Message Enable */
#define PCI_MSI_FLAGS_64BIT 0x0080
#define PCI_MSI_FLAGS_MASKBIT 0x0100

struct pci_fn {
	uint8_t bus, dev, fn;
};

uint32_t pci_read32(struct pci_fn f, unsigned off);
uint16_t pci_read16(struct pci_fn f, unsigned off);
uint8_t pci_read8(struct pci_fn f, unsigned off);
void pci_write32(struct pci_fn f, unsigned off, uint32_t v);
void pci_write16(struct pci_fn f, unsigned off, uint16_t v);

/* The first function on bus 0 with vendor:device: 0, or -1 if none. */
int pci_find(uint16_t vendor, uint16_t device, struct pci_fn *out);
/* Offset of capability id in the capability list, 0 if absent. */
unsigned pci_find_cap(struct pci_fn f, uint8_t id);

#endif
