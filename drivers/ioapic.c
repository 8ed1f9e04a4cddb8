/*
 * drivers/ioapic.c — I/O APICs: masked at boot, ISA interrupts routed in
 * remappable format (VT-d 5.1.5.1) through ir.c.  Owns the IOAPIC list and
 * the RTEs; the IRTEs belong to iommu/vtd/ir.c.
 */
#include "drivers/ioapic.h"

#include <stdlib.h>

#include "drivers/acpi.h"
#include "hw/hw.h"
#include "iommu/vtd/ir.h"
#include "iommu/vtd/vtd.h"
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

uint64_t ioapic_rte_remapped(unsigned index, bool level, bool active_low, uint8_t vector,
			     bool masked)
{
	/* 5.1.5.1: format bit 48 = 1, index[14:0] in 63:49, index[15] in bit
	 * 11, bits 10:8 zero, trigger (15) and polarity (13) as the pin
	 * needs, vector = the IRTE's (EOI matching of level interrupts). */
	return ((uint64_t)(index & 0x7fff) << IOAPIC_RTE_IR_INDEX_SHIFT) | IOAPIC_RTE_IR_FORMAT |
	       ((index >> 15) & 1 ? IOAPIC_RTE_IR_INDEX15 : 0) | (level ? IOAPIC_RTE_LEVEL : 0) |
	       (active_low ? IOAPIC_RTE_POLARITY_LOW : 0) | (masked ? IOAPIC_RTE_MASKED : 0) |
	       vector;
}

static bool pin_routed(const struct ioapic *io, unsigned pin)
{
	for (struct ir_source *s = ir_sources(); s; s = s->next)
		if (s->kind == IR_SRC_IOAPIC && s->gsi == io->gsi_base + pin)
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

static int retarget_rte(struct ir_source *s, unsigned new_vector)
{
	unsigned pin;
	struct ioapic *io = ioapic_for_gsi(s->gsi, &pin);

	if (!io)
		return -ENOENT;
	uint64_t rte = ioapic_read_rte(io, pin);
	rte = (rte & ~(IOAPIC_RTE_VECTOR_MASK | IOAPIC_RTE_REMOTE_IRR | (1ull << 12))) | new_vector;
	write_rte(io, pin, rte);
	return 0;
}

int ioapic_route_isa_remapped(unsigned isa_irq, struct vtd_unit *u, irq_handler_fn fn, void *ctx,
			      struct ir_source **out)
{
	uint16_t flags = 0;
	unsigned pin;
	struct ioapic *io;
	struct ir_source *s;
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
	if (!ir_enabled(u))
		return -ENODEV;
	if (pin_routed(io, pin))
		return -EBUSY;
	/* MPS INTI flags (ACPI 5.2.12.5): 00 = conforming to the bus, which
	 * for ISA is active-high, edge. */
	bool active_low = (flags & ACPI_MADT_POLARITY_MASK) == ACPI_MADT_POLARITY_LOW;
	bool level = (flags & ACPI_MADT_TRIGGER_MASK) == ACPI_MADT_TRIGGER_LEVEL;

	rc = ir_source_new(u, fn, ctx, &s);
	if (rc)
		return rc;
	s->kind = IR_SRC_IOAPIC;
	s->seg = vtd_iommu_unit(u)->segment;
	s->bdf = io->sid;
	s->gsi = gsi;
	s->owner = io;
	s->on_retarget = retarget_rte;
	s->route.level = level; /* 5.1.5.1: IRTE TM must match the RTE's */
	/* QEMU skips the IOAPIC's SID check (notes §1.5); real hardware
	 * does not, and the SID is what the DMAR scope says. */
	s->route.svt = IR_SVT_SID;
	s->route.sq = IR_SQ_ALL;
	s->route.sid = io->sid;
	rc = ir_source_commit(s);
	if (rc) {
		ir_source_destroy(s);
		return rc;
	}
	write_rte(io, pin,
		  ioapic_rte_remapped(s->index, level, active_low, (uint8_t)s->vector, false));
	ir_source_register(s);
	*out = s;
	return 0;
}

void ioapic_unroute(struct ir_source *s)
{
	unsigned pin;
	struct ioapic *io = ioapic_for_gsi(s->gsi, &pin);

	if (io) {
		io_write(io, IOAPIC_REG_RTE(pin), (uint32_t)IOAPIC_RTE_MASKED);
		io_write(io, IOAPIC_REG_RTE(pin) + 1, 0);
	}
	ir_source_destroy(s);
}
