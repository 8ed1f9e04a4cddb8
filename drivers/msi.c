/*
 * drivers/msi.c — MSI / MSI-X capability programming for sluice's own
 * devices, with the messages of the IOMMU core's interrupt routes.  Owns
 * nothing but the routes it allocates; their entries belong to the unit's
 * driver.
 */
#include "drivers/msi.h"

#include <stdlib.h>

#include "drivers/pci.h"
#include "drivers/pci_regs.h"
#include "hw/hw.h"
#include "iommu/iommu.h"
#include "kernel/log.h"

/* Is d's alias the (secondary bus, 0, 0) of a PCIe-to-PCI bridge above it
 * (the rule drivers/pci.c dma_alias() encodes)? */
static bool alias_takeover(const struct pci_dev *d)
{
	for (const struct pci_dev *br = d->parent; br; br = br->parent)
		if (br->is_pcie && br->pcie_type == PCI_EXP_TYPE_PCI_BRIDGE &&
		    d->alias_rid == pci_make_rid(br->secondary, 0, 0))
			return true;
	return false;
}

/* Vector + entry + route for d; the caller programs the device. */
static int route_new(struct pci_dev *d, struct iommu_unit *u, irq_handler_fn fn, void *ctx,
		     enum iommu_irq_kind kind, unsigned entry, struct iommu_irq_route **out)
{
	struct iommu_irq_source src = {
		.kind = kind,
		.seg = d->seg,
		.rid = pci_dev_rid(d),
		.alias = d->alias_rid,
		.takeover = alias_takeover(d),
		.gsi = entry,
		.level = false, /* MSIs are edge (PCI 3.0 6.8) */
		.owner = d,
	};

	return iommu_irq_route_alloc(u, &src, fn, ctx, out);
}

static void intx_off(struct pci_dev *d) { pci_command_update(d, 0, PCI_COMMAND_INTX_DISABLE); }

/* ------------------------------------------------------------ MSI */

int msi_enable_remapped(struct pci_dev *d, struct iommu_unit *u, irq_handler_fn fn, void *ctx,
			struct iommu_irq_route **out)
{
	unsigned c = d->cap_msi;
	struct iommu_irq_route *r;
	struct iommu_msi_msg msg;
	uint32_t ctrl;
	int rc;

	if (!c)
		return -ENOTSUP;
	ctrl = pci_read(d, c + PCI_MSI_FLAGS, 2);
	if (ctrl & PCI_MSI_FLAGS_ENABLE)
		return -EBUSY;
	/* PCI 3.0 6.8: MSI and MSI-X must not be enabled together. */
	if (d->cap_msix && (pci_read(d, d->cap_msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE))
		return -EBUSY;
	rc = route_new(d, u, fn, ctx, IOMMU_IRQ_MSI, 0, &r);
	if (rc)
		return rc;

	bool is64 = ctrl & PCI_MSI_FLAGS_64BIT, maskbit = ctrl & PCI_MSI_FLAGS_MASKBIT;
	iommu_irq_route_msi(r, &msg);
	pci_write(d, c + PCI_MSI_ADDRESS_LO, 4, msg.addr_lo);
	if (is64) {
		pci_write(d, c + PCI_MSI_ADDRESS_HI, 4, msg.addr_hi);
		pci_write(d, c + PCI_MSI_DATA_64, 2, msg.data);
	} else {
		pci_write(d, c + PCI_MSI_DATA_32, 2, msg.data);
	}
	/* Only message 0 exists for us: mask the others where we can. */
	if (maskbit)
		pci_write(d, c + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32), 4, ~1u);
	intx_off(d);
	/* Multiple Message Enable 000b: one message; then enable. */
	ctrl = (ctrl & ~PCI_MSI_FLAGS_QSIZE) | PCI_MSI_FLAGS_ENABLE;
	pci_write(d, c + PCI_MSI_FLAGS, 2, ctrl);
	iommu_irq_route_register(r);
	*out = r;
	return 0;
}

void msi_disable_remapped(struct iommu_irq_route *r)
{
	struct pci_dev *d = r->owner;
	unsigned c = d->cap_msi;
	uint32_t ctrl = pci_read(d, c + PCI_MSI_FLAGS, 2);

	if (ctrl & PCI_MSI_FLAGS_MASKBIT)
		pci_write(d, c + ((ctrl & PCI_MSI_FLAGS_64BIT) ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32),
			  4, ~0u);
	pci_write(d, c + PCI_MSI_FLAGS, 2, ctrl & ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE));
	iommu_irq_route_free(r);
}

/* ------------------------------------------------------------ MSI-X */

static int msix_entry_addr(struct pci_dev *d, unsigned entry, uint64_t *addr)
{
	unsigned c = d->cap_msix;
	uint32_t tbl = pci_read(d, c + PCI_MSIX_TABLE, 4);
	unsigned n = (pci_read(d, c + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
	unsigned bir = tbl & PCI_MSIX_TABLE_BIR;
	uint64_t off = tbl & ~PCI_MSIX_TABLE_BIR;

	if (entry >= n || bir >= 6)
		return -EINVAL;
	const struct pci_bar *b = &d->bar[bir];
	if (!b->size || b->io || off + (uint64_t)n * PCI_MSIX_ENTRY_SIZE > b->size || !b->base)
		return -EINVAL;
	*addr = b->base + off + (uint64_t)entry * PCI_MSIX_ENTRY_SIZE;
	return 0;
}

static unsigned msix_users(const struct pci_dev *d, const struct iommu_irq_route *except)
{
	unsigned n = 0;

	for (struct iommu_irq_route *r = iommu_irq_routes(); r; r = r->next)
		if (r != except && r->kind == IOMMU_IRQ_MSIX && r->owner == d)
			n++;
	return n;
}

int msix_enable_remapped(struct pci_dev *d, struct iommu_unit *u, unsigned entry, irq_handler_fn fn,
			 void *ctx, struct iommu_irq_route **out)
{
	unsigned c = d->cap_msix;
	struct iommu_irq_route *r;
	struct iommu_msi_msg msg;
	uint64_t ea;
	int rc;

	if (!c)
		return -ENOTSUP;
	rc = msix_entry_addr(d, entry, &ea);
	if (rc)
		return rc;
	if (d->cap_msi && (pci_read(d, d->cap_msi + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE))
		return -EBUSY;
	for (struct iommu_irq_route *o = iommu_irq_routes(); o; o = o->next)
		if (o->kind == IOMMU_IRQ_MSIX && o->owner == d && o->gsi == entry)
			return -EBUSY;
	rc = route_new(d, u, fn, ctx, IOMMU_IRQ_MSIX, entry, &r);
	if (rc)
		return rc;

	uint32_t ctrl = pci_read(d, c + PCI_MSIX_FLAGS, 2);
	if (!(ctrl & PCI_MSIX_FLAGS_ENABLE)) {
		/* Enable with the function masked so no entry fires while the
		 * table is written (PCI 3.0 6.8.2.3); mask every entry first:
		 * their reset state is masked, but firmware may have left any. */
		pci_write(d, c + PCI_MSIX_FLAGS, 2, ctrl | PCI_MSIX_FLAGS_MASKALL);
		unsigned n = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
		uint64_t e0 = ea - (uint64_t)entry * PCI_MSIX_ENTRY_SIZE;
		for (unsigned i = 0; i < n; i++)
			mmio_write32(e0 + i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_CTRL,
				     PCI_MSIX_ENTRY_CTRL_MASKBIT);
		intx_off(d);
		pci_write(d, c + PCI_MSIX_FLAGS, 2,
			  ctrl | PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE);
	}
	/* An entry is written only while masked (6.8.2.9). */
	mmio_write32(ea + PCI_MSIX_ENTRY_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	iommu_irq_route_msi(r, &msg);
	mmio_write32(ea + PCI_MSIX_ENTRY_ADDR_LO, msg.addr_lo);
	mmio_write32(ea + PCI_MSIX_ENTRY_ADDR_HI, msg.addr_hi);
	mmio_write32(ea + PCI_MSIX_ENTRY_DATA, msg.data);
	mmio_write32(ea + PCI_MSIX_ENTRY_CTRL, 0);
	ctrl = pci_read(d, c + PCI_MSIX_FLAGS, 2);
	pci_write(d, c + PCI_MSIX_FLAGS, 2,
		  (ctrl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
	iommu_irq_route_register(r);
	*out = r;
	return 0;
}

void msix_disable_remapped(struct iommu_irq_route *r)
{
	struct pci_dev *d = r->owner;
	uint64_t ea;

	if (msix_entry_addr(d, r->gsi, &ea) == 0)
		mmio_write32(ea + PCI_MSIX_ENTRY_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	if (!msix_users(d, r)) {
		uint32_t ctrl = pci_read(d, d->cap_msix + PCI_MSIX_FLAGS, 2);
		pci_write(d, d->cap_msix + PCI_MSIX_FLAGS, 2, ctrl & ~PCI_MSIX_FLAGS_ENABLE);
	}
	iommu_irq_route_free(r);
}
