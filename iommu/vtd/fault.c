/*
 * iommu/vtd/fault.c — reading VT-d fault records (7.2.1, 11.4.14) into the
 * IOMMU core's fault log, rate-limited console events and fault-storm
 * quenching.
 *
 * Registers: FSTS.PPF says records are pending, FSTS.FRI where to start;
 * CAP.NFR+1 records of 128 bits at CAP.FRO*16, walked circularly from FRI
 * until one has F=0 (Linux dmar_fault).  Each F (RW1C) is cleared with a
 * 32-bit write of bit 31 at +0xC, which QEMU 7.2 also takes to recompute
 * PPF, and only then FSTS.PFO, so new faults are recorded again (7.2.1).
 * The high qword is read first (F, T, FR, SID), then the address.
 */
#include "iommu/vtd/fault.h"

#include "drivers/pci.h"
#include "hw/hw.h"
#include "iommu/iommu.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd_priv.h"
#include "kernel/log.h"
#include "kernel/time.h"
#include "lib/bdf.h"

/* rate limiter */
static uint64_t window_start;
static bool window_valid;
static unsigned window_events;
static uint64_t suppressed;

unsigned vtd_fault_storm_threshold = VTD_FAULT_STORM_THRESHOLD;
uint64_t vtd_fault_storm_halflife_ns = VTD_FAULT_STORM_HALFLIFE_NS;

/* storm counters per source */
#define STORM_SLOTS 32
static struct storm {
	bool used, quenched;
	uint16_t seg, sid;
	uint64_t count, last_ns;
} storms[STORM_SLOTS];

static const char *const dma_reasons[] = {
	[0x1] = "root-not-present", [0x2] = "context-not-present", [0x3] = "context-invalid",
	[0x4] = "beyond-mgaw",	    [0x5] = "write-denied",	   [0x6] = "read-denied",
	[0x7] = "pte-access-error", [0x8] = "root-access-error",   [0x9] = "context-access-error",
	[0xa] = "root-reserved",    [0xb] = "context-reserved",	   [0xc] = "pte-reserved",
	[0xd] = "tt-blocked",	    [0xe] = "interrupt-range",
};
static const char *const ir_reasons[] = {
	[0x0] = "ir-request-reserved", [0x1] = "ir-index-too-large", [0x2] = "irte-not-present",
	[0x3] = "irt-access-error",    [0x4] = "irte-reserved",	     [0x5] = "compat-blocked",
	[0x6] = "sid-mismatch",
};

const char *vtd_fault_reason_name(uint8_t r)
{
	if (r < sizeof(dma_reasons) / sizeof(dma_reasons[0]) && dma_reasons[r])
		return dma_reasons[r];
	if (r >= 0x20 && r - 0x20 < (int)(sizeof(ir_reasons) / sizeof(ir_reasons[0])))
		return ir_reasons[r - 0x20];
	return "unknown";
}

/* Returns true if the event may be printed now. */
static bool rate_ok(uint64_t now)
{
	if (!window_valid || now - window_start >= 1000000000ull) {
		if (suppressed)
			kevent("fault-suppressed count=%llu", (unsigned long long)suppressed);
		window_valid = true;
		window_start = now;
		window_events = 0;
		suppressed = 0;
	}
	if (window_events < VTD_FAULT_EVENTS_PER_SEC) {
		window_events++;
		return true;
	}
	suppressed++;
	return false;
}

/* Bus Master off for the source and, when sid is an alias (a bridge's
 * requester ID), for every function whose DMA carries it: nothing in the
 * remapping unit stops a device's DMA, its command register does. */
static void quench(struct vtd_unit *u, uint16_t seg, uint16_t sid)
{
	char bdf[24];
	unsigned n = 0;
	struct pci_dev *d = pci_find(seg, bdf_bus(sid), bdf_dev(sid), bdf_fn(sid));

	if (d) {
		pci_set_bus_master(d, false);
		n++;
	}
	for (unsigned i = 0; i < pci_count(); i++) {
		struct pci_dev *p = pci_at(i);

		if (p && p != d && p->seg == seg && p->alias_rid == sid) {
			pci_set_bus_master(p, false);
			n++;
		}
	}
	bdf_format_rid(bdf, sizeof(bdf), seg, sid);
	kevent("fault-storm unit=%u bdf=%s action=%s devices=%u", u->iu.index, bdf,
	       n ? "bus-master-off" : "none", n);
}

static void storm_account(struct vtd_unit *u, uint16_t seg, uint16_t sid, uint64_t now)
{
	struct storm *s = NULL, *victim = &storms[0];

	for (unsigned i = 0; i < STORM_SLOTS; i++) {
		if (storms[i].used && storms[i].seg == seg && storms[i].sid == sid) {
			s = &storms[i];
			break;
		}
		if (!storms[i].used)
			victim = &storms[i];
		else if (victim->used && storms[i].last_ns < victim->last_ns)
			victim = &storms[i];
	}
	if (!s) {
		s = victim;
		*s = (struct storm){.used = true, .seg = seg, .sid = sid, .last_ns = now};
	}
	/* Xen pci_check_disable_device: a counter that decays with time. */
	uint64_t halves = (now - s->last_ns) / vtd_fault_storm_halflife_ns;
	s->count = halves >= 64 ? 0 : s->count >> halves;
	s->last_ns = now;
	if (s->quenched && s->count == 0)
		s->quenched = false; /* calm again: a new storm is quenched again */
	if (++s->count >= vtd_fault_storm_threshold && !s->quenched) {
		s->quenched = true;
		quench(u, seg, sid);
	}
}

/* One fault record (11.4.14) into the IOMMU core's log, an event, storm
 * accounting. */
static void record(struct vtd_unit *u, uint64_t hi, uint64_t lo)
{
	uint8_t reason = VTD_FRCD_HI_FR(hi);
	bool ir = vtd_fault_reason_is_ir(reason);
	struct iommu_fault f = {
		.time_ns = time_ns(),
		/* IR faults carry the interrupt index in FI[63:48] (11.4.14). */
		.addr = ir ? lo >> 48 : lo & VTD_PAGE_MASK,
		.unit = u->iu.index,
		.seg = u->iu.segment,
		.rid = VTD_FRCD_HI_SID(hi),
		.kind = ir ? IOMMU_FAULT_IR : IOMMU_FAULT_DMA,
		.is_read = hi & VTD_FRCD_HI_T,
		.reason = reason,
		.reason_name = vtd_fault_reason_name(reason),
	};
	char bdf[24];

	iommu_fault_add(&f);
	if (rate_ok(f.time_ns)) {
		bdf_format_rid(bdf, sizeof(bdf), f.seg, f.rid);
		kevent("fault unit=%u kind=%s bdf=%s addr=0x%llx reason=0x%x access=%s name=%s",
		       f.unit, ir ? "ir" : "dma", bdf, (unsigned long long)f.addr, reason,
		       f.is_read ? "r" : "w", f.reason_name);
	}
	storm_account(u, f.seg, f.rid, f.time_ns);
}

unsigned vtd_fault_process(struct vtd_unit *u)
{
	uint32_t fsts = mmio_read32(u->base + VTD_FSTS_REG);
	unsigned n = 0;

	if ((fsts & VTD_FSTS_PPF) && u->nfr) {
		unsigned idx = VTD_FSTS_FRI(fsts) % u->nfr;

		for (unsigned i = 0; i < u->nfr; i++, idx = (idx + 1) % u->nfr) {
			uint64_t off = u->base + u->fro + idx * 16u;
			uint64_t hi = mmio_read64(off + 8);

			if (!(hi & VTD_FRCD_HI_F))
				break;
			uint64_t lo = mmio_read64(off);
			mmio_write32(off + VTD_FRCD_F_DWORD, VTD_FRCD_F_DWORD_BIT);
			record(u, hi, lo);
			n++;
		}
	}
	if (fsts & VTD_FSTS_PFO)
		mmio_write32(u->base + VTD_FSTS_REG, VTD_FSTS_PFO);
	return n;
}

void vtd_fault_irq(unsigned vector, void *ctx) { vtd_fault_process(ctx); }

void vtd_fault_reset(void)
{
	iommu_fault_reset();
	window_valid = false;
	window_events = 0;
	suppressed = 0;
	for (unsigned i = 0; i < STORM_SLOTS; i++)
		storms[i].used = false;
}
