/*
 * drivers/msi.h — MSI and MSI-X for sluice's own devices, always through an
 * interrupt route of the IOMMU core (iommu/iommu.h): one vector, one entry
 * with source validation, the device's capability programmed with the
 * message the unit composes for it (VT-d: remappable format), then enabled.
 * Compatibility format is never written here (only the IOMMU's own fault
 * event uses it, vtd.c).
 */
#ifndef SLUICE_DRIVERS_MSI_H
#define SLUICE_DRIVERS_MSI_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "lib/err.h"

struct pci_dev;

/* MSI capability (PCI Local Bus 3.0 6.8.1), offsets from cap_msi. */
#define PCI_MSI_FLAGS 0x02 /* Message Control, 16 bits */
#define PCI_MSI_FLAGS_ENABLE 0x0001u
#define PCI_MSI_FLAGS_QMASK 0x000eu /* Multiple Message Capable */
#define PCI_MSI_FLAGS_QSIZE 0x0070u /* Multiple Message Enable */
#define PCI_MSI_FLAGS_64BIT 0x0080u
#define PCI_MSI_FLAGS_MASKBIT 0x0100u /* per-vector masking */
#define PCI_MSI_ADDRESS_LO 0x04
#define PCI_MSI_ADDRESS_HI 0x08 /* 64-bit form */
#define PCI_MSI_DATA_32 0x08
#define PCI_MSI_DATA_64 0x0c
#define PCI_MSI_MASK_32 0x0c
#define PCI_MSI_MASK_64 0x10
/* MSI-X capability (6.8.2) */
#define PCI_MSIX_FLAGS 0x02
#define PCI_MSIX_FLAGS_QSIZE 0x07ffu /* table size - 1 */
#define PCI_MSIX_FLAGS_MASKALL 0x4000u
#define PCI_MSIX_FLAGS_ENABLE 0x8000u
#define PCI_MSIX_TABLE 0x04 /* BIR in 2:0, offset in 31:3 */
#define PCI_MSIX_TABLE_BIR 0x7u
#define PCI_MSIX_ENTRY_SIZE 16
#define PCI_MSIX_ENTRY_ADDR_LO 0x0
#define PCI_MSIX_ENTRY_ADDR_HI 0x4
#define PCI_MSIX_ENTRY_DATA 0x8
#define PCI_MSIX_ENTRY_CTRL 0xc
#define PCI_MSIX_ENTRY_CTRL_MASKBIT 0x1u
#define PCI_COMMAND_INTX_DISABLE 0x0400u

/* Allocates a route on u (a vector with handler fn(vector, ctx), an entry:
 * this CPU, fixed, edge, source check from the device's requester id /
 * bridge alias), programs d's MSI capability with the route's message (64-
 * or 32-bit address form, per-vector mask bits if present: all but message
 * 0 masked, Multiple Message Enable = 0, i.e. one message), turns INTx off
 * and enables MSI.  *out is the registered route (listed by `irq`).
 * -ENOTSUP: no MSI capability; -ENODEV: u does not remap interrupts;
 * -EBUSY: MSI or MSI-X already enabled; -ENOSPC / -ENOMEM. */
int msi_enable_remapped(struct pci_dev *d, struct iommu_unit *u, irq_handler_fn fn, void *ctx,
			struct iommu_irq_route **out) MUST_CHECK;
/* Disables MSI (masking every vector first where it can), leaves the
 * route's entry not present and frees it, the vector and the route. */
void msi_disable_remapped(struct iommu_irq_route *r);

/* MSI-X: table entry `entry` of d gets its own route (vector and entry).
 * The table's BAR must be a memory BAR with decode on.  -EINVAL: entry
 * beyond the table or a bad BAR; -EBUSY: MSI is enabled, or that entry is
 * in use. */
int msix_enable_remapped(struct pci_dev *d, struct iommu_unit *u, unsigned entry, irq_handler_fn fn,
			 void *ctx, struct iommu_irq_route **out) MUST_CHECK;
/* Masks the entry, frees its route; MSI-X is turned off with the device's
 * last entry. */
void msix_disable_remapped(struct iommu_irq_route *r);

#endif
