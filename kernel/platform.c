/*
 * kernel/platform.c — brings up the platform below the console, in layer
 * order: ACPI tables, PCI enumeration (and quiescing of leftover DMA), the
 * DMAR table (its RMRRs and DRHDs checked against the boot memory map) and
 * every VT-d unit (translation on, every device blocked), RMRR identity
 * domains, then the idle-time fault polling.  A part that fails is
 * reported with a clear line and skipped; sluice keeps going.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dma/dma.h"
#include "drivers/acpi.h"
#include "drivers/pci.h"
#include "iommu/iommu.h"
#include "iommu/vtd/dmar.h"
#include "iommu/vtd/fault.h"
#include "iommu/vtd/ir.h"
#include "drivers/ioapic.h"
#include "drivers/uart.h"
#include "arch/x86/apic.h"
#include "arch/x86/irq.h"
#include "iommu/vtd/vtd.h"
#include "kernel/bootargs.h"
#include "console/console.h"
#include "kernel/log.h"
#include "dma/devices.h"
#include "kernel/main.h"
#include "kernel/memmap.h"
#include "kernel/platform.h"

static struct dmar_info *dmar;
/* The VT-d unit of each DRHD (NULL where bring-up failed or was refused). */
static struct vtd_unit **drhd_unit;
/* Per RMRR: accepted against the memory map (NULL: none accepted). */
static bool *rmrr_ok;

const struct dmar_info *platform_dmar(void) { return dmar; }

/* ---------------------------------------------------------------- PCI glue for DMAR scopes */
static int sec_bus(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	struct pci_dev *d = pci_find(seg, bus, dev, fn);

	(void)ctx;
	return d && d->is_bridge ? d->secondary : -ENODEV;
}

static int sub_bus(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	struct pci_dev *d = pci_find(seg, bus, dev, fn);

	(void)ctx;
	return d && d->is_bridge ? d->subordinate : -ENODEV;
}

static bool present(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn)
{
	(void)ctx;
	return pci_find(seg, bus, devfn >> 3, devfn & 7) != NULL;
}

const struct dmar_pci_ops platform_dmar_pci_ops = {
	.secondary_bus = sec_bus,
	.subordinate_bus = sub_bus,
	.present = present,
};

struct vtd_unit *platform_drhd_unit(int drhd)
{
	if (!dmar || !drhd_unit || drhd < 0 || (unsigned)drhd >= dmar->ndrhd)
		return NULL;
	return drhd_unit[drhd];
}

struct vtd_unit *platform_unit_for(uint16_t seg, uint16_t rid)
{
	if (!dmar)
		return NULL;
	return platform_drhd_unit(
		dmar_unit_for(dmar, seg, rid >> 8, rid & 0xff, &platform_dmar_pci_ops, NULL));
}

static bool in_scope(struct iommu_unit *u, uint16_t seg, uint16_t rid)
{
	struct vtd_unit *v = platform_unit_for(seg, rid);

	return v && vtd_iommu_unit(v) == u;
}

/* ---------------------------------------------------------------- steps */
static void acpi_step(void)
{
	int rc = acpi_init(boot_state.bi->rsdp);

	if (rc)
		klog("acpi: no usable tables (%s): no PCI, no IOMMU", err_name(rc));
}

static void pci_step(void)
{
	const struct acpi_mcfg_info *m = acpi_mcfg();
	struct pci_ecam *segs;
	int rc;

	if (!m || !m->n) {
		klog("pci: no MCFG table: PCI not enumerated");
		return;
	}
	segs = calloc(m->n, sizeof(*segs));
	if (!segs) {
		klog("pci: out of memory");
		return;
	}
	for (unsigned i = 0; i < m->n; i++) {
		segs[i].base = m->seg[i].base;
		segs[i].seg = m->seg[i].segment;
		segs[i].bus_start = m->seg[i].start_bus;
		segs[i].bus_end = m->seg[i].end_bus;
	}
	rc = pci_init(segs, m->n);
	free(segs);
	if (rc) {
		klog("pci: enumeration failed (%s)", err_name(rc));
		return;
	}
	/* The loader cleared Bus Master on every function right after the
	 * firmware drivers were disconnected; anything still mastering
	 * (nodisconnect, a function the loader did not see) is stopped here
	 * too, bridges included: a driver that owns a device turns it and its
	 * upstream bridges back on. */
	unsigned stopped = 0;
	for (unsigned i = 0; i < pci_count(); i++) {
		struct pci_dev *d = pci_at(i);
		if (pci_read(d, 0x04, 2) & 0x4) {
			pci_set_bus_master(d, false);
			stopped++;
		}
	}
	klog("pci: %u functions, %d groups, bus master cleared on %u", pci_count(),
	     pci_group_count(), stopped);
}

static unsigned rmrr_query(uint16_t seg, uint8_t bus, uint8_t devfn, uint64_t *start,
			   uint64_t *last, unsigned max)
{
	unsigned idx[8], out = 0;
	unsigned n =
		dmar ? dmar_rmrr_for(dmar, seg, bus, devfn, &platform_dmar_pci_ops, NULL, idx, 8)
		     : 0;

	/* A refused RMRR is no reserved range either: the device is treated as
	 * having no such RMRR.  Beyond 8 they count (the caller's -E2BIG). */
	for (unsigned i = 0; i < n && i < 8; i++) {
		if (!rmrr_ok || !rmrr_ok[idx[i]])
			continue;
		if (out < max) {
			start[out] = dmar->rmrr[idx[i]].base;
			last[out] = dmar->rmrr[idx[i]].limit;
		}
		out++;
	}
	return n > 8 ? out + (n - 8) : out;
}

/* ---------------------------------------------------------------- DMAR against the memory map */
static const struct mem_region *boot_map(unsigned *n)
{
	const struct boot_info *bi = boot_state.bi;

	*n = bi ? (bi->nregions < BOOT_MAX_REGIONS ? bi->nregions : BOOT_MAX_REGIONS) : 0;
	return bi ? bi->regions : NULL;
}

/* "00:1f.0,00:14.0": the present devices an RMRR names, for its log line. */
static void rmrr_devices(const struct dmar_rmrr *rm, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (unsigned s = 0; s < rm->nscope && at + 16 < len; s++) {
		uint8_t bus, devfn;
		if (dmar_scope_resolve(&rm->scope[s], rm->segment, sec_bus, NULL, &bus, &devfn))
			continue;
		at += (size_t)snprintf(buf + at, len - at, "%s%02x:%02x.%u", at ? "," : "", bus,
				       devfn >> 3, devfn & 7);
	}
	if (!at)
		snprintf(buf, len, "no present device");
}

/* VT-d 8.4: firmware reports RMRR memory as reserved in the system memory
 * map (Linux also takes ACPI NVS).  An RMRR over loader memory,
 * usable RAM, ACPI tables, MMIO or a hole of the map would identity-map it
 * read/write for the device: refused, the device behaves as if it had no
 * RMRR. */
static void rmrr_vet(void)
{
	unsigned n;
	const struct mem_region *map = boot_map(&n);

	rmrr_ok = calloc(dmar->nrmrr ? dmar->nrmrr : 1, sizeof(*rmrr_ok));
	if (!rmrr_ok) {
		klog("dmar: out of memory: every RMRR refused");
		return;
	}
	for (unsigned r = 0; r < dmar->nrmrr; r++) {
		const struct dmar_rmrr *rm = &dmar->rmrr[r];
		uint64_t at = 0;
		uint32_t kind = MEMMAP_HOLE;
		char devs[96];

		if (memmap_rmrr_check(map, n, rm->base, rm->limit, &at, &kind) == 0) {
			rmrr_ok[r] = true;
			continue;
		}
		rmrr_devices(rm, devs, sizeof(devs));
		klog("dmar: RMRR 0x%llx-0x%llx for %s refused: 0x%llx is %s, not reserved "
		     "(firmware table error: no identity map, the device is treated as having no RMRR)",
		     (unsigned long long)rm->base, (unsigned long long)rm->limit, devs,
		     (unsigned long long)at, mem_kind_name(kind));
	}
}

/* A DRHD whose register set lies in RAM would have sluice write "registers"
 * into memory: refused before anything touches it (false). */
static bool drhd_vet(const struct dmar_drhd *d)
{
	unsigned n;
	const struct mem_region *map = boot_map(&n);
	uint64_t at = 0;
	uint32_t kind = MEMMAP_HOLE;

	if (memmap_drhd_check(map, n, d->base, d->reg_size, &at, &kind) == 0)
		return true;
	klog("dmar: DRHD at 0x%llx (segment %u) refused: 0x%llx is %s, not reserved or MMIO "
	     "(firmware table error: its registers are never written, devices in its scope "
	     "stay untranslated and cannot be assigned)",
	     (unsigned long long)d->base, d->segment, (unsigned long long)at, mem_kind_name(kind));
	return false;
}

static void rmrr_step(void)
{
	dev_set_rmrr_query(rmrr_query);
	for (unsigned r = 0; r < dmar->nrmrr; r++) {
		const struct dmar_rmrr *rm = &dmar->rmrr[r];
		if (!rmrr_ok || !rmrr_ok[r])
			continue; /* refused by rmrr_vet */
		for (unsigned s = 0; s < rm->nscope; s++) {
			uint8_t bus, devfn;
			if (dmar_scope_resolve(&rm->scope[s], rm->segment, sec_bus, NULL, &bus,
					       &devfn))
				continue; /* absent device: logged by dmar_log_absent */
			uint16_t rid = (uint16_t)(bus << 8 | devfn);
			struct vtd_unit *u = platform_unit_for(rm->segment, rid);
			if (!u)
				continue;
			/* One identity domain per isolation group: an RMRR
			 * device reaches its own group's RMRRs only. */
			struct pci_dev *d = pci_find(rm->segment, bus, devfn >> 3, devfn & 7);
			int rc = vtd_rmrr_identity(u, rid, d ? d->group : -1, rm->base, rm->limit);
			klog("vtd: RMRR 0x%llx-0x%llx identity-mapped for %02x:%02x.%u: %s",
			     (unsigned long long)rm->base, (unsigned long long)rm->limit, bus,
			     devfn >> 3, devfn & 7, rc ? err_name(rc) : "ok");
		}
	}
}

/* The serial port's receive interrupt, through a remapped IOAPIC entry.
 * The console reads the UART itself; the handler only has to take the
 * interrupt (reading IIR acknowledges it) so the count shows it arrived. */
static void uart_rx_isr(unsigned vector, void *ctx)
{
	(void)vector;
	(void)ctx;
	uart_irq_ack();
}

/* Interrupt remapping on every unit (QI is on by now), then the IOAPIC in
 * remappable format with its DMAR source-id, then the UART's IRQ 4.  The
 * boot argument ir_entries is read here only; ir_enable() clamps it. */
static void ir_step(void)
{
	struct ir_cfg cfg = {
		.entries = bootarg_u64("ir_entries", 0),
		.x2apic = apic_x2apic_mode(),
		.dmar_flags = dmar->flags,
	};
	unsigned on = 0;
	int rc;

	for (unsigned i = 0; i < dmar->ndrhd; i++) {
		struct vtd_unit *u = drhd_unit[i];

		if (!u)
			continue;
		rc = ir_enable(u, &cfg);
		if (rc)
			klog("ir: unit %u: interrupt remapping not enabled (%s): devices on it cannot be "
			     "attached unless allow_unsafe_interrupts",
			     vtd_iommu_unit(u)->index, err_name(rc));
		else
			on++;
	}
	const struct acpi_madt_info *madt = acpi_madt();
	struct vtd_unit *uart_unit = NULL;
	for (unsigned i = 0; madt && i < madt->n_ioapic; i++) {
		uint16_t sid;
		int drhd = dmar_unit_for_special(dmar, DMAR_SCOPE_IOAPIC, madt->ioapics[i].id,
						 &platform_dmar_pci_ops, NULL, &sid);
		if (drhd < 0) {
			klog("ir: IOAPIC %u is in no DRHD scope: its interrupts cannot be remapped",
			     madt->ioapics[i].id);
			continue;
		}
		if (ioapic_set_sid(madt->ioapics[i].id, sid) == 0 && !uart_unit)
			uart_unit = platform_drhd_unit(drhd);
	}
	if (!on || !uart_unit || !iommu_irq_remapping(vtd_iommu_unit(uart_unit)))
		return;
	struct iommu_irq_route *src;
	rc = ioapic_route_isa_remapped(4, vtd_iommu_unit(uart_unit), uart_rx_isr, NULL, &src);
	if (rc) {
		klog("ir: serial IRQ 4 not routed (%s)", err_name(rc));
		return;
	}
	uart_rx_irq(true);
	klog("ir: serial IRQ 4 -> IRTE %u vector %u", src->index, src->vector);
}

static void iommu_step(void)
{
	uint32_t len;
	const void *t = acpi_find("DMAR", &len);
	struct vtd_drhd_info *drhds;
	struct vtd_unit **up;
	unsigned *which, nup = 0;
	struct vtd_unit_cfg cfg = {0};
	int rc;

	if (!t) {
		klog("vtd: no DMAR table: no IOMMU, devices cannot be assigned");
		return;
	}
	rc = dmar_parse(t, len, &dmar);
	if (rc) {
		klog("vtd: DMAR unusable (%s)", err_name(rc));
		dmar = NULL;
		return;
	}
	dmar_log_absent(dmar, &platform_dmar_pci_ops, NULL);
	if (!dmar->ndrhd) {
		klog("vtd: DMAR lists no usable remapping unit");
		return;
	}
	rmrr_vet();
	drhds = calloc(dmar->ndrhd, sizeof(*drhds));
	drhd_unit = calloc(dmar->ndrhd, sizeof(*drhd_unit));
	up = calloc(dmar->ndrhd, sizeof(*up));
	which = calloc(dmar->ndrhd, sizeof(*which));
	if (!drhds || !drhd_unit || !up || !which) {
		klog("vtd: out of memory");
		free(drhds);
		free(up);
		free(which);
		return;
	}
	/* Refused DRHDs keep their index (their scope stays theirs, so their
	 * devices stay untranslated); the units are numbered among the rest. */
	for (unsigned i = 0; i < dmar->ndrhd; i++) {
		if (!drhd_vet(&dmar->drhd[i]))
			continue;
		drhds[nup].base = dmar->drhd[i].base;
		drhds[nup].segment = dmar->drhd[i].segment;
		which[nup++] = i;
	}
	if (!nup) {
		klog("vtd: every DRHD refused: no IOMMU, devices cannot be assigned");
		free(drhds);
		free(up);
		free(which);
		return;
	}
	cfg.no_qi = bootarg_flag("vtd_no_qi");
	cfg.no_fault_irq = bootarg_flag("vtd_poll_faults");
	vtd_set_allow_rmrr_reassign(bootarg_flag("allow_rmrr_reassign"));
	vtd_fault_storm_threshold =
		(unsigned)bootarg_u64("fault_storm_threshold", VTD_FAULT_STORM_THRESHOLD);
	if (!vtd_fault_storm_threshold)
		vtd_fault_storm_threshold = 1;
	vtd_fault_storm_halflife_ns =
		bootarg_u64("fault_storm_halflife_ms", VTD_FAULT_STORM_HALFLIFE_NS / 1000000) *
		1000000;
	if (!vtd_fault_storm_halflife_ns)
		vtd_fault_storm_halflife_ns = 1000000;
	rc = vtd_init_all(drhds, nup, &cfg, up);
	for (unsigned k = 0; k < vtd_failed_count(); k++)
		if (!vtd_failed_at(k)->blocking)
			boot_state.unisolated++;
	for (unsigned k = 0; k < nup; k++)
		drhd_unit[which[k]] = up[k];
	free(drhds);
	free(up);
	free(which);
	if (rc < 0) {
		klog("vtd: no unit came up (%s)", err_name(rc));
		return;
	}
	iommu_set_scope_fn(in_scope);

	for (unsigned i = 0; i < pci_count(); i++) {
		struct pci_dev *d = pci_at(i);
		struct vtd_unit *u = platform_unit_for(d->seg, d->alias_rid);
		d->unit = u ? (int)vtd_iommu_unit(u)->index : -1;
	}
	rmrr_step();
	console_add_idle(iommu_fault_poll);
	ir_step();
}

void platform_init(void)
{
	dma_allow_unsafe_interrupts = bootarg_flag("allow_unsafe_interrupts");
	if (dma_allow_unsafe_interrupts)
		klog("dma: allow_unsafe_interrupts: devices may be attached without interrupt remapping");
	acpi_step();
	/* Every IOAPIC pin masked before anything else can fire. */
	int rc = ioapic_init();
	if (rc < 0)
		klog("ioapic: none usable (%s)", err_name(rc));
	pci_step();
	if (bootarg_flag("noiommu"))
		klog("vtd: noiommu given: IOMMU left off");
	else
		iommu_step();
}
