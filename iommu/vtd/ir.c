/*
 * iommu/vtd/ir.c — VT-d interrupt remapping: owns each unit's interrupt
 * remapping table (IRT), its bring-up (IRTA, SIRTP, IEC, CFI, IRE), the IRTE
 * allocator and IRTE writes, and offers them to the IOMMU core as the unit's
 * struct iommu_irq_ops (the core keeps the registry of routes).
 *
 * Spec references are to the Intel VT-d Architecture Specification (rev.
 * 4.x): 5.1 interrupt remapping, 9.10 IRTE format, 11.4.4/11.4.5 GCMD/GSTS,
 * 11.4.9.2 IRTA, 6.5.2.7 IEC invalidation.  docs/ir.md has the rules.
 *
 * The per-unit state lives here (struct ir_unit, found by unit pointer) so
 * the VT-d driver's struct vtd_unit needs no IR fields.
 */
#include "iommu/vtd/ir.h"

#include <stdlib.h>
#include <string.h>

#include "drivers/ioapic.h"
#include "hw/hw.h"
#include "iommu/vtd/dmar.h"
#include "iommu/vtd/qi.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd_priv.h"
#include "kernel/log.h"
#include "kernel/frame.h"
#include "kernel/time.h"

/* CFI probe bound: hardware shows GSTS.CFIS (VT-d 11.4.5) in microseconds; QEMU 7.2 never. */
#define IR_CFI_PROBE_NS (1000ull * 1000)

struct ir_unit {
	struct vtd_unit *u;
	volatile uint64_t *table; /* 2 qwords per entry: lo, hi */
	uint64_t table_pa;
	unsigned order; /* frame order of the table */
	unsigned entries;
	uint64_t *used; /* allocation bitmap */
	unsigned nused;
	bool eime;
	struct ir_unit *next;
};

static struct ir_unit *ir_units;
static bool cfi_warned;

static struct ir_unit *unit_of(const struct vtd_unit *u)
{
	for (struct ir_unit *iu = ir_units; iu; iu = iu->next)
		if (iu->u == u)
			return iu;
	return NULL;
}

bool ir_enabled(const struct vtd_unit *u) { return unit_of(u) != NULL; }

unsigned ir_entries(const struct vtd_unit *u)
{
	struct ir_unit *iu = unit_of(u);
	return iu ? iu->entries : 0;
}

bool ir_eime(const struct vtd_unit *u)
{
	struct ir_unit *iu = unit_of(u);
	return iu && iu->eime;
}

static unsigned log2_ceil(unsigned n)
{
	unsigned l = 0;
	while ((1u << l) < n)
		l++;
	return l;
}

/* ------------------------------------------------------------ pure parts */

int ir_choose_eime(bool cpu_x2apic, uint64_t ecap, uint8_t dmar_flags, uint32_t dest_apic_id,
		   bool *eime)
{
	if (!cpu_x2apic) {
		/* VT-d 9.10: EIME=1 destinations are x2APIC ids, which xAPIC LAPICs cannot take. */
		*eime = false;
		return 0;
	}
	if (dmar_flags & DMAR_FLAG_X2APIC_OPT_OUT) {
		/* DMAR 8.1: firmware asks the OS not to use x2APIC with IR.  We
		 * cannot leave x2APIC mode here, so run the table in xAPIC
		 * format, which delivers correctly to a physical x2APIC id that
		 * fits 8 bits. */
		if (dest_apic_id > 0xff)
			return -ERANGE;
		*eime = false;
		return 0;
	}
	/* 5.1.4: x2APIC destinations (32 bits) need Extended Interrupt Mode. */
	if (!(ecap & VTD_ECAP_EIM))
		return -ENOTSUP;
	*eime = true;
	return 0;
}

int ir_irte_encode(const struct iommu_irq_entry *r, bool eime, uint64_t *lo, uint64_t *hi)
{
	uint64_t l, h;

	/* Vectors 0..15 are reserved by the architecture (SDM 6.2); an IRTE
	 * naming one is a programming error. */
	if (r->vector < 16)
		return -EINVAL;
	switch (r->dlm) {
	case 0:
	case 1:
	case 2:
	case 4:
	case 5:
	case 7: /* 9.10 DLM encodings */ break;
	default: return -EINVAL;
	}
	/* VT-d 9.10: SVT=0 would accept any requester, so every IRTE validates its source. */
	if (r->src_check == IR_SVT_SID) {
		if (r->src_qual > 3)
			return -EINVAL;
	} else if (r->src_check == IR_SVT_BUS) {
		if (r->src_qual || (r->sid >> 8) > (r->sid & 0xff))
			return -EINVAL; /* start bus above end bus */
	} else {
		return -EINVAL;
	}
	l = IRTE_LO_P | (r->fpd ? IRTE_LO_FPD : 0) | (r->logical ? IRTE_LO_DM : 0) |
	    (r->rh ? IRTE_LO_RH : 0) | (r->level ? IRTE_LO_TM : 0) |
	    ((uint64_t)r->dlm << IRTE_LO_DLM_SHIFT) | ((uint64_t)r->vector << IRTE_LO_V_SHIFT);
	if (eime) {
		l |= (uint64_t)r->dest << IRTE_LO_DST_SHIFT;
	} else {
		/* 9.10: with IRTA.EIME=0 the xAPIC id sits in DST[15:8]
		 * (bits 47:40); the rest of DST is reserved. */
		if (r->dest > 0xff)
			return -ERANGE;
		l |= (uint64_t)r->dest << IRTE_LO_DST_XAPIC_SHIFT;
	}
	h = (uint64_t)r->sid | ((uint64_t)r->src_qual << IRTE_HI_SQ_SHIFT) |
	    ((uint64_t)r->src_check << IRTE_HI_SVT_SHIFT);
	*lo = l;
	*hi = h;
	return 0;
}

uint32_t ir_msi_addr(unsigned handle)
{
	/* 5.1.2.2 (remappable MSI address): 0xFEE in 31:20, handle[14:0] in 19:5, IF=1 in
	 * bit 4, SHV in bit 3, handle[15] in bit 2. */
	return IR_MSI_ADDR_BASE | ((handle & 0x7fffu) << IR_MSI_ADDR_HANDLE_SHIFT) |
	       IR_MSI_ADDR_IF | IR_MSI_ADDR_SHV | (((handle >> 15) & 1u) ? IR_MSI_ADDR_H15 : 0);
}

uint32_t ir_msi_data(unsigned subhandle) { return subhandle & 0xffffu; }

uint64_t ir_ioapic_rte(unsigned index, bool level, bool active_low, uint8_t vector, bool masked)
{
	/* 5.1.5.1: format bit 48 = 1, index[14:0] in 63:49, index[15] in bit
	 * 11, bits 10:8 zero, trigger (15) and polarity (13) as the pin
	 * needs, vector = the IRTE's (EOI matching of level interrupts). */
	return ((uint64_t)(index & 0x7fff) << IR_RTE_INDEX_SHIFT) | IR_RTE_FORMAT |
	       ((index >> 15) & 1 ? IR_RTE_INDEX15 : 0) | (level ? IOAPIC_RTE_LEVEL : 0) |
	       (active_low ? IOAPIC_RTE_POLARITY_LOW : 0) | (masked ? IOAPIC_RTE_MASKED : 0) |
	       vector;
}

/* ------------------------------------------------------------ entries */

/* 128-bit compare-and-exchange (lock cmpxchg16b, 16-byte aligned p). */
static bool cas128(volatile uint64_t *p, uint64_t olo, uint64_t ohi, uint64_t nlo, uint64_t nhi)
{
	bool ok;

	__asm__ volatile("lock cmpxchg16b %1"
			 : "=@ccz"(ok), "+m"(*(volatile unsigned __int128 *)p), "+a"(olo), "+d"(ohi)
			 : "b"(nlo), "c"(nhi)
			 : "memory");
	return ok;
}

/*
 * Stores one IRTE so that hardware, which fetches the 128-bit entry as one
 * unit, never sees half an update (VT-d 9.10 and 9.11 ask for 128-bit
 * atomic updates of present entries):
 *  - not present now: high qword first, compiler barrier (x86 keeps stores
 *    in order), then the low qword holding P;
 *  - present and only one qword changes: that single aligned 64-bit store is
 *    atomic for the hardware's fetch;
 *  - present and both change (e.g. vector and source-id at once): lock
 *    cmpxchg16b, never "clear P first", which would drop (and on real
 *    hardware record a 0x22 fault for) interrupts arriving in between.
 * Then the line is written back if the unit does not snoop (ECAP.C=0).
 */
static void irte_store(struct ir_unit *iu, unsigned idx, uint64_t lo, uint64_t hi)
{
	volatile uint64_t *e = iu->table + 2 * idx;
	uint64_t olo = e[0], ohi = e[1];

	if (!(olo & IRTE_LO_P)) {
		e[1] = hi;
		barrier();
		e[0] = lo;
	} else if (ohi == hi) {
		e[0] = lo;
	} else if (olo == lo) {
		e[1] = hi;
	} else {
		while (!cas128(e, olo, ohi, lo, hi)) {
			olo = e[0];
			ohi = e[1];
		}
	}
	vtd_sync(iu->u, (const void *)e, 16);
}

/* VT-d 6.5.2.7: invalidate cached entries [idx, idx + 2^im); a register read then drains
 * interrupts already remapped with the old entry. */
static int iec_flush(struct ir_unit *iu, unsigned idx, unsigned im)
{
	struct qi_desc d = qi_iec_index((uint16_t)idx, im);
	int rc = vtd_invalidate(iu->u, &d, 1);

	(void)mmio_read64(iu->u->base + VTD_CAP_REG);
	if (rc)
		klog("vtd%u: IEC invalidation of irte %u failed: %s", iu->u->iu.index, idx,
		     err_name(rc));
	return rc;
}

static bool is_used(const struct ir_unit *iu, unsigned i)
{
	return iu->used[i / 64] & (1ull << (i % 64));
}

static int entry_update(struct vtd_unit *u, unsigned index, const struct iommu_irq_entry *r,
			bool present)
{
	struct ir_unit *iu = unit_of(u);
	uint64_t lo, hi;
	int rc;

	if (!iu)
		return -ENOENT;
	if (index >= iu->entries || !is_used(iu, index))
		return -EINVAL;
	rc = ir_irte_encode(r, iu->eime, &lo, &hi);
	if (rc)
		return rc;
	if (!present)
		lo &= ~IRTE_LO_P;
	irte_store(iu, index, lo, hi);
	return iec_flush(iu, index, 0);
}

int ir_set(struct vtd_unit *u, unsigned index, const struct iommu_irq_entry *e)
{
	return entry_update(u, index, e, true);
}

int ir_set_present(struct vtd_unit *u, unsigned index, bool present)
{
	struct ir_unit *iu = unit_of(u);

	if (!iu)
		return -ENOENT;
	if (index >= iu->entries || !is_used(iu, index))
		return -EINVAL;
	uint64_t lo = iu->table[2 * index], hi = iu->table[2 * index + 1];
	/* An entry never written has SVT=0: making it present would accept
	 * any source, so refuse. */
	if (present && !((hi >> IRTE_HI_SVT_SHIFT) & 3))
		return -EINVAL;
	lo = present ? lo | IRTE_LO_P : lo & ~IRTE_LO_P;
	irte_store(iu, index, lo, hi);
	return iec_flush(iu, index, 0);
}

int ir_clear(struct vtd_unit *u, unsigned index) { return ir_set_present(u, index, false); }

int ir_get(const struct vtd_unit *u, unsigned index, uint64_t *lo, uint64_t *hi)
{
	struct ir_unit *iu = unit_of(u);

	if (!iu)
		return -ENOENT;
	if (index >= iu->entries)
		return -EINVAL;
	*lo = iu->table[2 * index];
	*hi = iu->table[2 * index + 1];
	return 0;
}

/* ------------------------------------------------------------ allocator */

int ir_alloc(struct vtd_unit *u, unsigned count, unsigned *index)
{
	struct ir_unit *iu = unit_of(u);

	if (!iu)
		return -ENOENT;
	if (!count || count > iu->entries)
		return -EINVAL;
	unsigned n = 1u << log2_ceil(count);
	/* Naturally aligned blocks: a multi-vector MSI's messages are
	 * handle + message number (5.1.2.2 with SHV), and an aligned block
	 * can be invalidated with one IEC descriptor (6.5.2.7 IM). */
	for (unsigned start = 0; start + n <= iu->entries; start += n) {
		unsigned i;

		for (i = 0; i < n && !is_used(iu, start + i); i++)
			;
		if (i < n)
			continue;
		for (i = 0; i < n; i++)
			iu->used[(start + i) / 64] |= 1ull << ((start + i) % 64);
		iu->nused += n;
		*index = start;
		return 0;
	}
	return -ENOSPC;
}

int ir_free(struct vtd_unit *u, unsigned index, unsigned count)
{
	struct ir_unit *iu = unit_of(u);
	int rc;

	if (!iu || !count || index >= iu->entries)
		return -EINVAL;
	unsigned n = 1u << log2_ceil(count);
	if (index % n || index + n > iu->entries) {
		klog("vtd%u: ir_free of a block it never gave (%u, %u)", u->iu.index, index, count);
		return -EINVAL;
	}
	for (unsigned i = index; i < index + n; i++) {
		if (!is_used(iu, i))
			continue;
		/* Not present, and zeroed so nothing stale can come back. */
		irte_store(iu, i, 0, iu->table[2 * i + 1]);
		iu->table[2 * i + 1] = 0;
		vtd_sync(u, (const void *)(iu->table + 2 * i), 16);
	}
	/* Only once the interrupt-entry cache forgot them may the entries be
	 * handed out again (and the caller reuse their vector); if the flush
	 * fails they stay allocated, not present. */
	rc = iec_flush(iu, index, log2_ceil(n));
	if (rc) {
		klog("vtd%u: IEC flush of IRTEs %u..%u failed (%s): entries kept", u->iu.index,
		     index, index + n - 1, err_name(rc));
		return rc;
	}
	for (unsigned i = index; i < index + n; i++) {
		if (is_used(iu, i)) {
			iu->used[i / 64] &= ~(1ull << (i % 64));
			iu->nused--;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ core ops */

/* struct iommu_unit is the first member of struct vtd_unit. */
static struct vtd_unit *vtd_of(const struct iommu_unit *iu) { return (struct vtd_unit *)iu; }

static int op_alloc(struct iommu_unit *iu, unsigned count, unsigned *index)
{
	return ir_alloc(vtd_of(iu), count, index);
}

static int op_free(struct iommu_unit *iu, unsigned index, unsigned count)
{
	return ir_free(vtd_of(iu), index, count);
}

static int op_write(struct iommu_unit *iu, unsigned index, const struct iommu_irq_entry *e,
		    bool present)
{
	return entry_update(vtd_of(iu), index, e, present);
}

static void op_compose_msi(const struct iommu_unit *iu, unsigned index, unsigned sub,
			   struct iommu_msi_msg *msg)
{
	/* VT-d 5.1.2.2: handle in the address, subhandle in the data; upper address 0 (0xFEEx_xxxx). */
	msg->addr_lo = ir_msi_addr(index);
	msg->addr_hi = 0;
	msg->data = ir_msi_data(sub);
}

static uint64_t op_compose_ioapic_rte(const struct iommu_unit *iu, unsigned index,
				      const struct iommu_irq_entry *e, bool active_low, bool masked)
{
	return ir_ioapic_rte(index, e->level, active_low, e->vector, masked);
}

static const struct iommu_irq_ops vtd_irq_ops = {
	.alloc = op_alloc,
	.free = op_free,
	.write = op_write,
	.compose_msi = op_compose_msi,
	.compose_ioapic_rte = op_compose_ioapic_rte,
};

/* ------------------------------------------------------------ bring-up */

static uint32_t gsts(const struct vtd_unit *u) { return mmio_read32(u->base + VTD_GSTS_REG); }

/*
 * Compatibility-format interrupts bypass the IRT entirely, so a device could
 * inject any vector (or NMI/INIT) with them (VT-d 5.1.2.1).  5.1.4: with IR
 * on they are blocked while GSTS.CFIS is clear or IRTA.EIME=1.  That is
 * believed only where the unit shows it implements the control: GCMD.CFI is
 * probed by setting it (harmless: IRE is still off, so every interrupt is
 * compatibility format anyway), waiting for GSTS.CFIS, then cleared; firmware
 * may also have left it set.  A unit that never shows CFIS (QEMU 7.2, which
 * also ignores EIME for them) cannot block them: *blocked stays false and the
 * unit remaps but does not isolate interrupts.
 */
static int cfi_block(struct ir_unit *iu, bool *blocked)
{
	struct vtd_unit *u = iu->u;
	uint32_t sts = gsts(u);
	int rc;

	*blocked = false;
	if (!(sts & VTD_GSTS_CFIS)) {
		mmio_write32(u->base + VTD_GCMD_REG, (sts & ~VTD_GCMD_ONESHOT) | VTD_GCMD_CFI);
		if (poll_until(gsts(u) & VTD_GSTS_CFIS, IR_CFI_PROBE_NS)) {
			if (!cfi_warned)
				klog("vtd%u: warning: hardware cannot block compatibility-format interrupts "
				     "(GCMD.CFI not implemented); a device can inject vectors around interrupt "
				     "remapping, so devices on it are attached only with "
				     "allow_unsafe_interrupts",
				     u->iu.index);
			cfi_warned = true;
			return 0;
		}
	}
	rc = vtd_gcmd(u, VTD_GCMD_CFI, false);
	*blocked = rc == 0;
	return rc;
}

static void unit_free(struct ir_unit *iu)
{
	if (iu->table_pa && frame_free(iu->table_pa, iu->order))
		klog("vtd%u: IRT 0x%llx could not be freed", iu->u->iu.index,
		     (unsigned long long)iu->table_pa);
	free(iu->used);
	free(iu);
}

int ir_enable(struct vtd_unit *u, const struct ir_cfg *cfg)
{
	struct ir_unit *iu;
	uint64_t asked = cfg->entries ? cfg->entries : IR_DEFAULT_ENTRIES;
	unsigned want;
	bool eime, blocked;
	int rc;

	if (unit_of(u))
		return -EBUSY;
	if (!(u->ecap & VTD_ECAP_IR)) {
		klog("vtd%u: no interrupt remapping (ECAP.IR=0)", u->iu.index);
		return -ENOTSUP;
	}
	if (!(cfg->dmar_flags & DMAR_FLAG_INTR_REMAP)) {
		klog("vtd%u: DMAR does not declare interrupt remapping (INTR_REMAP flag clear)",
		     u->iu.index);
		return -ENOTSUP;
	}
	/* VT-d 6.5.2.7: the IEC is invalidated only through the queue, so IR needs QI. */
	if (!u->qi_on) {
		klog("vtd%u: interrupt remapping needs queued invalidation, which is off",
		     u->iu.index);
		return -EINVAL;
	}
	rc = ir_choose_eime(cfg->x2apic, u->ecap, cfg->dmar_flags, irq_dest_apic_id(), &eime);
	if (rc) {
		klog("vtd%u: %s", u->iu.index,
		     rc == -ENOTSUP
			     ? "CPU runs x2APIC but the unit has no ECAP.EIM: interrupt remapping refused"
			     : "DMAR X2APIC_OPT_OUT with an APIC id above 255: interrupt remapping refused");
		return rc;
	}
	if (cfg->dmar_flags & DMAR_FLAG_X2APIC_OPT_OUT && cfg->x2apic)
		klog("vtd%u: DMAR X2APIC_OPT_OUT: IRT in xAPIC format (EIME=0)", u->iu.index);

	/* 11.4.9.2: IRTA.S gives 2^(S+1) entries, S <= 15. */
	want = asked > IR_MAX_ENTRIES	? IR_MAX_ENTRIES
	       : asked < IR_MIN_ENTRIES ? IR_MIN_ENTRIES
					: 1u << log2_ceil((unsigned)asked);
	if (want != asked)
		klog("vtd%u: ir_entries=%llu adjusted to %u", u->iu.index,
		     (unsigned long long)asked, want);

	/* Take-over left IR off (vtd.c takeover); if not, do it here. */
	if (gsts(u) & VTD_GSTS_IRES) {
		rc = vtd_gcmd(u, VTD_GCMD_IRE, false);
		if (rc)
			return rc;
	}

	iu = calloc(1, sizeof(*iu));
	if (!iu)
		return -ENOMEM;
	iu->u = u;
	iu->entries = want;
	iu->eime = eime;
	iu->order = log2_ceil(want * 16u / (unsigned)FRAME_SIZE);
	iu->used = calloc((want + 63) / 64, sizeof(uint64_t));
	iu->table_pa = frame_alloc_zeroed(iu->order, FRAME_IOPT);
	if (!iu->used || !iu->table_pa) {
		unit_free(iu);
		return -ENOMEM;
	}
	iu->table = phys_to_virt(iu->table_pa);
	/* The zeroed table (every entry not present) must be in memory before
	 * hardware may fetch from it. */
	vtd_sync(u, (const void *)iu->table, (uint64_t)want * 16);

	/* 11.4.9.2: IRTA = table | EIME | S, 2^(S+1) entries; a 64-bit
	 * register.  Latched by GCMD.SIRTP (11.4.4). */
	mmio_write64(u->base + VTD_IRTA_REG,
		     iu->table_pa | (eime ? VTD_IRTA_EIME : 0) | (uint64_t)(log2_ceil(want) - 1));
	rc = vtd_gcmd(u, VTD_GCMD_SIRTP, true);
	if (rc)
		goto fail;
	/* VT-d 11.4.4 SIRTP: the IEC may hold old-table entries; flush it unless CAP.ESIRTPS did. */
	if (!(u->cap & VTD_CAP_ESIRTPS)) {
		struct qi_desc d = qi_iec_global();

		rc = vtd_invalidate(u, &d, 1);
		if (rc)
			goto fail;
	}
	/* Probed with EIME=1 too: EIME's blocking is believed only on a unit
	 * that implements the CFI control (QEMU 7.2 implements neither). */
	rc = cfi_block(iu, &blocked);
	if (rc)
		goto fail;
	rc = vtd_gcmd(u, VTD_GCMD_IRE, true);
	if (rc) {
		/* It may have taken effect late: make sure it is off before
		 * the table goes; if that fails too, leak it. */
		if (vtd_gcmd(u, VTD_GCMD_IRE, false)) {
			klog("vtd%u: IRE stuck; the IRT stays allocated", u->iu.index);
			free(iu->used);
			free(iu);
			return rc;
		}
		goto fail;
	}
	iu->next = ir_units;
	ir_units = iu;
	u->iu.irq_ops = &vtd_irq_ops;
	u->iu.intr_remap = true;
	/* IRE was written with CFI as left: it must still read blocked. */
	u->iu.intr_isolated = blocked && !(gsts(u) & VTD_GSTS_CFIS);
	klog("vtd%u: interrupt remapping on: entries=%u eime=%u irt=0x%llx cfi=%s", u->iu.index,
	     want, eime, (unsigned long long)iu->table_pa,
	     u->iu.intr_isolated ? "blocked" : "open");
	return 0;

fail:
	klog("vtd%u: interrupt remapping bring-up failed: %s", u->iu.index, err_name(rc));
	mmio_write64(u->base + VTD_IRTA_REG, 0);
	unit_free(iu);
	return rc;
}

int ir_disable(struct vtd_unit *u)
{
	struct ir_unit *iu = unit_of(u);
	int rc;

	if (!iu)
		return -ENOENT;
	if (iu->nused)
		return -EBUSY;
	rc = vtd_gcmd(u, VTD_GCMD_IRE, false);
	if (rc)
		return rc;
	u->iu.intr_remap = false;
	u->iu.intr_isolated = false;
	u->iu.irq_ops = NULL;
	/* VT-d 11.4.9.2: EIME cleared so a later xAPIC owner gets no x2APIC-format deliveries. */
	mmio_write64(u->base + VTD_IRTA_REG, mmio_read64(u->base + VTD_IRTA_REG) & ~VTD_IRTA_EIME);
	for (struct ir_unit **pp = &ir_units; *pp; pp = &(*pp)->next)
		if (*pp == iu) {
			*pp = iu->next;
			break;
		}
	unit_free(iu);
	return 0;
}
