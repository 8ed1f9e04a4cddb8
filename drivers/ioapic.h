/*
 * drivers/ioapic.h — the I/O APICs named by the MADT: every redirection
 * entry masked at boot, and ISA interrupts routed through an interrupt
 * route (iommu/iommu.h) on the unit whose DMAR scope lists the IOAPIC, with
 * the RTE the unit composes for it (VT-d: remappable format, 5.1.5.1).
 * Compatibility-format RTEs are never written.
 */
#ifndef SLUICE_DRIVERS_IOAPIC_H
#define SLUICE_DRIVERS_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "lib/err.h"

/* MMIO window (82093AA datasheet 3.1): IOREGSEL at +0, IOWIN at +0x10. */
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01		       /* max redirection entry in bits 23:16 */
#define IOAPIC_REG_RTE(pin) (0x10 + 2 * (pin)) /* low dword; high at +1 */
#define IOAPIC_MAX_PINS 240

/* Redirection entry bits (82093AA 3.2.4). */
#define IOAPIC_RTE_VECTOR_MASK 0xffull
#define IOAPIC_RTE_POLARITY_LOW (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_MASKED (1ull << 16)

struct ioapic {
	uint8_t id;
	uint64_t base;
	uint32_t gsi_base;
	unsigned npins;
	bool sid_known;
	uint16_t sid; /* source-id from the DMAR IOAPIC scope */
};

/* Reads the MADT (acpi_madt()), reads each IOAPIC's pin count and masks
 * every redirection entry.  Returns the number of IOAPICs, -ENODEV if the
 * MADT names none, -ENOMEM. */
int ioapic_init(void) MUST_CHECK;
unsigned ioapic_count(void);
const struct ioapic *ioapic_at(unsigned i);
/* The IOAPIC's source-id, from dmar_unit_for_special(DMAR_SCOPE_IOAPIC,
 * id): F0:1F.0 on many Intel boards, FF:00.0 under QEMU.  -ENOENT: no such
 * IOAPIC. */
int ioapic_set_sid(uint8_t id, uint16_t sid) MUST_CHECK;

uint64_t ioapic_read_rte(const struct ioapic *io, unsigned pin);

/* ISA IRQ isa_irq → GSI through the interrupt source overrides (polarity
 * and trigger from the override; ISA default active-high edge), a route on
 * u (source check: the IOAPIC's source-id), the RTE the unit composes for
 * it, then unmasked.  -EINVAL: isa_irq > 15; -ENOENT: no IOAPIC has the
 * GSI; -ENODEV: the IOAPIC's source-id is unknown (VT-d 8.3.1: only a DMAR
 * IOAPIC scope gives it, and without it the route cannot validate) or u does
 * not remap interrupts; -EBUSY: pin routed. */
int ioapic_route_isa_remapped(unsigned isa_irq, struct iommu_unit *u, irq_handler_fn fn, void *ctx,
			      struct iommu_irq_route **out) MUST_CHECK;
/* Masks the pin, leaves the route's entry not present and frees it and the
 * vector. */
void ioapic_unroute(struct iommu_irq_route *r);

/* Tests: forget every IOAPIC (frees the table). */
void ioapic_reset(void);

#endif
