/*
 * drivers/ioapic.c — I/O APICs: masked at boot, ISA interrupts routed
 * through the IOMMU core's interrupt routes.  Owns the IOAPIC list and the
 * RTEs; the routes' entries belong to the unit's driver.
 */
#include "drivers/ioapic.h"

#include <stdlib.h>

#include "drivers/acpi.h"
#include "hw/hw.h"
#include "iommu/iommu.h"
#include "kernel/log.h"

static struct ioapic *ioapics;
static unsigned nioapics;

unsigned ioapic_count(void) { return nioapics; }
const struct ioapic *ioapic_at(unsigned i) { return i < nioapics ? &ioapics[i] : NULL; }

void ioapic_reset(void)
{
	free(ioapics);
	ioapics = NULL;
	nioapics = 0;
}

static uint32_t io_read(const struct ioapic *io, unsigned reg)
{
	mmio_write32(io->base + IOAPIC_IOREGSEL, reg);
	return mmio_read32(io->base + IOAPIC_IOWIN);
}

static void io_write(const struct ioapic *io, unsigned reg, uint32_t v)
{
	mmio_write32(io->base + IOAPIC_IOREGSEL, reg);
	mmio_write32(io->base + IOAPIC_IOWIN, v);
}

uint64_t ioapic_read_rte(const struct ioapic *io, unsigned pin)
{
	uint64_t lo = io_read(io, IOAPIC_REG_RTE(pin));
	return lo | (uint64_t)io_read(io, IOAPIC_REG_RTE(pin) + 1) << 32;
}

/* An RTE changes only while masked: mask (low dword), high dword, then the
 * low dword as wanted, so the IOAPIC never sends with half an entry. */
static void write_rte(const struct ioapic *io, unsigned pin, uint64_t rte)
{
	io_write(io, IOAPIC_REG_RTE(pin), (uint32_t)(rte | IOAPIC_RTE_MASKED));
	io_write(io, IOAPIC_REG_RTE(pin) + 1, (uint32_t)(rte >> 32));
	io_write(io, IOAPIC_REG_RTE(pin), (uint32_t)rte);
}

int ioapic_init(void)
{
	const struct acpi_madt_info *m = acpi_madt();

	ioapic_reset();
	if (!m || !m->n_ioapic)
		return -ENODEV;
	ioapics = calloc(m->n_ioapic, sizeof(*ioapics));
	if (!ioapics)
		return -ENOMEM;
	for (unsigned i = 0; i < m->n_ioapic; i++) {
		struct ioapic *io = &ioapics[nioapics];

		io->id = m->ioapics[i].id;
		io->base = m->ioapics[i].addr;
		io->gsi_base = m->ioapics[i].gsi_base;
		uint32_t ver = io_read(io, IOAPIC_REG_VER);
		if (ver == ~0u) {
			klog("ioapic %u: nothing at 0x%llx, skipped", io->id,
			     (unsigned long long)io->base);
			continue;
		}
		io->npins = ((ver >> 16) & 0xff) + 1;
		/* Firmware may have left entries unmasked in compatibility
		 * format; nothing may fire until we route it. */
		for (unsigned p = 0; p < io->npins; p++) {
			io_write(io, IOAPIC_REG_RTE(p), (uint32_t)IOAPIC_RTE_MASKED);
			io_write(io, IOAPIC_REG_RTE(p) + 1, 0);
		}
		klog("ioapic %u: base=0x%llx gsi=%u..%u masked", io->id,
		     (unsigned long long)io->base, io->gsi_base, io->gsi_base + io->npins - 1);
		nioapics++;
	}
	return nioapics ? (int)nioapics : -ENODEV;
}

int ioapic_set_sid(uint8_t id, uint16_t sid)
{
	for (unsigned i = 0; i < nioapics; i++)
		if (ioapics[i].id == id) {
			ioapics[i].sid = sid;
			ioapics[i].sid_known = true;
			return 0;
		}
	return -ENOENT;
}

static bool pin_routed(const struct ioapic *io, unsigned pin)
{
	for (struct iommu_irq_route *r = iommu_irq_routes(); r; r = r->next)
		if (r->kind == IOMMU_IRQ_IOAPIC && r->gsi == io->gsi_base + pin)
			return true;
	return false;
}

static struct ioapic *ioapic_for_gsi(uint32_t gsi, unsigned *pin)
{
	for (unsigned i = 0; i < nioapics; i++)
		if (gsi >= ioapics[i].gsi_base && gsi - ioapics[i].gsi_base < ioapics[i].npins) {
			*pin = gsi - ioapics[i].gsi_base;
			return &ioapics[i];
		}
	return NULL;
}

static int retarget_rte(struct iommu_irq_route *r, unsigned new_vector)
{
	unsigned pin;
	struct ioapic *io = ioapic_for_gsi(r->gsi, &pin);

	if (!io)
		return -ENOENT;
	uint64_t rte = ioapic_read_rte(io, pin);
	rte = (rte & ~(IOAPIC_RTE_VECTOR_MASK | IOAPIC_RTE_REMOTE_IRR | (1ull << 12))) | new_vector;
	write_rte(io, pin, rte);
	return 0;
}

int ioapic_route_isa_remapped(unsigned isa_irq, struct iommu_unit *u, irq_handler_fn fn, void *ctx,
			      struct iommu_irq_route **out)
{
	uint16_t flags = 0;
	unsigned pin;
	struct ioapic *io;
	struct iommu_irq_route *r;
	int rc;

	if (isa_irq > 15)
		return -EINVAL;
	uint32_t gsi = acpi_isa_irq_to_gsi((uint8_t)isa_irq, &flags);
	io = ioapic_for_gsi(gsi, &pin);
	if (!io)
		return -ENOENT;
	if (!io->sid_known) {
		klog("ioapic %u: no DMAR IOAPIC scope gives its source-id; not remapping irq %u",
		     io->id, isa_irq);
		return -ENODEV;
	}
	if (!iommu_irq_remapping(u))
		return -ENODEV;
	if (pin_routed(io, pin))
		return -EBUSY;
	/* MPS INTI flags (ACPI 5.2.12.5): 00 = conforming to the bus, which
	 * for ISA is active-high, edge. */
	bool active_low = (flags & ACPI_MADT_POLARITY_MASK) == ACPI_MADT_POLARITY_LOW;
	bool level = (flags & ACPI_MADT_TRIGGER_MASK) == ACPI_MADT_TRIGGER_LEVEL;
	/* VT-d 9.10 SVT=1 with the DMAR scope's source-id: real hardware checks it (QEMU skips). */
	struct iommu_irq_source src = {
		.kind = IOMMU_IRQ_IOAPIC,
		.seg = u->segment,
		.rid = io->sid,
		.alias = io->sid,
		.gsi = gsi,
		.level = level, /* VT-d 5.1.5.1: the entry's trigger must match the RTE's */
		.owner = io,
		.on_retarget = retarget_rte,
	};

	rc = iommu_irq_route_alloc(u, &src, fn, ctx, &r);
	if (rc)
		return rc;
	write_rte(io, pin, iommu_irq_route_ioapic_rte(r, active_low, false));
	iommu_irq_route_register(r);
	*out = r;
	return 0;
}

void ioapic_unroute(struct iommu_irq_route *r)
{
	unsigned pin;
	struct ioapic *io = ioapic_for_gsi(r->gsi, &pin);

	if (io) {
		io_write(io, IOAPIC_REG_RTE(pin), (uint32_t)IOAPIC_RTE_MASKED);
		io_write(io, IOAPIC_REG_RTE(pin) + 1, 0);
	}
	iommu_irq_route_free(r);
}
