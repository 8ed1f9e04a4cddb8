/*
 * iommu/vtd/vtd.c — VT-d DMA remapping: unit bring-up and take-over, the
 * root and context tables (legacy mode), domain ids, domains over
 * iommu/pgtable_vtd.c, the flush policy, RMRR identity domains, and the
 * iommu_ops the IOMMU core calls.  docs/vtd.md explains the order and the
 * rules; the VT-d spec sections are cited where a rule is encoded.
 *
 * Invalidations go through vtd_invalidate() (qi.c): one batch and one wait
 * per call.  Fault handling is in fault.c.
 */
#include "iommu/vtd/vtd.h"

#include <stdlib.h>
#include <string.h>

#include "arch/x86/irq.h"
#include "hw/hw.h"
#include "iommu/pgtable_vtd.h"
#include "iommu/vtd/fault.h"
#include "iommu/vtd/qi.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd_priv.h"
#include "kernel/frame.h"
#include "kernel/log.h"
#include "kernel/time.h"
#include "lib/bdf.h"

#define VTD_DEFAULT_TIMEOUT_NS (100ull * 1000 * 1000)

struct vtd_stats vtd_stats;
static const struct iommu_ops vtd_iommu_ops;

static struct vtd_unit *units;
static unsigned nunits;
/* 11.4.2 CAP.SLLPS of every unit: an address space on several units uses one leaf size. */
static uint64_t common_sps = PGSIZE_4K | PGSIZE_2M | PGSIZE_1G;
static bool allow_rmrr_reassign;

struct vtd_rmrr {
	uint16_t rid;
	uint64_t base, end;
	struct vtd_domain *dom; /* the rid's RMRR group's identity domain */
	struct vtd_rmrr *next;
};

struct ctx_entry {
	uint64_t lo, hi;
};

static uint32_t rd32(const struct vtd_unit *u, unsigned off) { return mmio_read32(u->base + off); }
static void wr32(const struct vtd_unit *u, unsigned off, uint32_t v)
{
	mmio_write32(u->base + off, v);
}

struct vtd_unit *vtd_units(void) { return units; }
struct iommu_unit *vtd_iommu_unit(struct vtd_unit *u) { return &u->iu; }
unsigned vtd_unit_count(void) { return nunits; }
uint64_t vtd_common_pgsizes(void) { return common_sps; }
void vtd_set_allow_rmrr_reassign(bool allow) { allow_rmrr_reassign = allow; }

void vtd_sync(const struct vtd_unit *u, const void *p, uint64_t len)
{
	/* VT-d 6.1 / 11.4.3 ECAP.C=0: the remapping hardware reads paging
	 * structures from memory without snooping; write them back. */
	if (!u->coherent)
		cpu_clflush_range(p, (size_t)len);
	else
		barrier();
}

/* ------------------------------------------------------------ GCMD */

/* Has GSTS followed a GCMD write that changed bit (11.4.5)?  *sts gets GSTS. */
static bool gcmd_done(const struct vtd_unit *u, uint32_t bit, bool set, uint32_t *sts)
{
	*sts = rd32(u, VTD_GSTS_REG);
	switch (bit) {
	case VTD_GCMD_WBF: return !(*sts & VTD_GSTS_WBFS); /* WBFS clears on completion */
	case VTD_GCMD_SRTP:
	case VTD_GCMD_SIRTP:
	case VTD_GCMD_SFL: return *sts & bit;		 /* RTPS/IRTPS/FLS set on completion */
	default: return (*sts & bit) == (set ? bit : 0); /* persistent: status follows */
	}
}

int vtd_gcmd(struct vtd_unit *u, uint32_t bit, bool set)
{
	/* 11.4.4: GCMD is write-only; build it from GSTS, drop the one-shot
	 * bits, change exactly one bit.  The caller gives one bit only. */
	uint32_t sts = rd32(u, VTD_GSTS_REG);
	uint32_t cmd = sts & ~VTD_GCMD_ONESHOT;

	if (!bit || (bit & (bit - 1)))
		return -EINVAL;
	cmd = set ? cmd | bit : cmd & ~bit;
	wr32(u, VTD_GCMD_REG, cmd);
	if (poll_until(gcmd_done(u, bit, set, &sts), u->timeout_ns) == 0)
		return 0;
	klog("vtd%u: GCMD 0x%08x (bit 0x%08x %s) timed out, GSTS=0x%08x", u->iu.index, cmd, bit,
	     set ? "on" : "off", sts);
	return -ETIMEDOUT;
}

static int vtd_wbf(struct vtd_unit *u)
{
	if (!u->rwbf)
		return 0;
	vtd_stats.wbf++;
	return vtd_gcmd(u, VTD_GCMD_WBF, true);
}

/* ------------------------------------------------------------ tables */

static uint64_t table_alloc(void *ctx)
{
	struct vtd_unit *u = ctx;
	uint64_t pa = frame_alloc_zeroed(0, FRAME_IOPT);

	/* A fresh zeroed page must reach memory before hardware can walk it. */
	if (pa)
		vtd_sync(u, phys_to_virt(pa), FRAME_SIZE);
	return pa;
}

static void table_free(void *ctx, uint64_t pa)
{
	struct vtd_unit *u = ctx;

	if (frame_free(pa, 0))
		klog("vtd%u: table page 0x%llx could not be freed", u->iu.index,
		     (unsigned long long)pa);
}

/* ------------------------------------------------------------ capabilities */

static int decode_caps(struct vtd_unit *u)
{
	uint64_t cap = u->cap, ecap = u->ecap;
	unsigned sagaw = VTD_CAP_SAGAW(cap);

	u->mgaw = VTD_CAP_MGAW(cap);
	/* Levels (9.3 context AW, 11.4.2 SAGAW): the smallest supported level
	 * count whose width covers MGAW; if none covers it, the largest
	 * supported (the aperture is then the table's).  3 and 4 levels only. */
	u->levels = 0;
	if ((sagaw & 2) && u->mgaw <= 39)
		u->levels = 3;
	else if (sagaw & 4)
		u->levels = 4;
	else if (sagaw & 2)
		u->levels = 3;
	if (!u->levels) {
		klog("vtd%u: no supported page-table depth (SAGAW=0x%x)", u->iu.index, sagaw);
		return -ENODEV;
	}
	u->agaw = u->levels - 2;
	u->nd_bits = 4 + 2 * VTD_CAP_ND(cap);
	if (u->nd_bits > 16)
		u->nd_bits = 16;
	u->ndids = 1u << u->nd_bits;
	u->sps = PGSIZE_4K;
	if (VTD_CAP_SLLPS(cap) & 1)
		u->sps |= PGSIZE_2M;
	if (VTD_CAP_SLLPS(cap) & 2)
		u->sps |= PGSIZE_1G;
	u->coherent = ecap & VTD_ECAP_C;
	u->cm = cap & VTD_CAP_CM;
	u->rwbf = u->rwbf || (cap & VTD_CAP_RWBF);
	u->sc = ecap & VTD_ECAP_SC;
	u->psi = cap & VTD_CAP_PSI;
	u->mamv = VTD_CAP_MAMV(cap);
	u->drd = cap & VTD_CAP_DRD;
	u->dwd = cap & VTD_CAP_DWD;
	u->fro = VTD_CAP_FRO(cap);
	u->nfr = VTD_CAP_NFR(cap);
	u->iro = VTD_ECAP_IRO(ecap);
	if (u->fro + u->nfr * 16 > VTD_REG_SIZE || u->iro + 16 > VTD_REG_SIZE) {
		klog("vtd%u: register offsets out of range (FRO=0x%x NFR=%u IRO=0x%x)", u->iu.index,
		     u->fro, u->nfr, u->iro);
		return -ENODEV;
	}
	return 0;
}

static uint64_t unit_aperture_end(const struct vtd_unit *u)
{
	unsigned bits = 12 + 9 * u->levels;

	if (u->mgaw < bits)
		bits = u->mgaw;
	return (bits >= 64) ? ~0ull : (1ull << bits) - 1;
}

/* ------------------------------------------------------------ take-over */

static void clear_fault_records(struct vtd_unit *u)
{
	for (unsigned i = 0; i < u->nfr; i++)
		wr32(u, u->fro + i * 16 + VTD_FRCD_F_DWORD, VTD_FRCD_F_DWORD_BIT);
	wr32(u, VTD_FSTS_REG,
	     VTD_FSTS_PFO | VTD_FSTS_AFO | VTD_FSTS_APF | VTD_FSTS_IQE | VTD_FSTS_ICE |
		     VTD_FSTS_ITE);
}

/* RTADDR = sluice's root table (every context entry not present: every
 * device blocked), SRTP, then (6.6, unless CAP.ESRTPS) global context-cache
 * and IOTLB invalidation, through QI when it is on, registers otherwise. */
static int set_root(struct vtd_unit *u)
{
	int rc;

	mmio_write64(u->base + VTD_RTADDR_REG, u->root_pa /* TTM=00: legacy */);
	u->root_set = true; /* hardware may hold it from now on: never freed */
	u->root_ok = false;
	rc = vtd_gcmd(u, VTD_GCMD_SRTP, true);
	if (rc)
		return rc;
	if (!(u->cap & VTD_CAP_ESRTPS)) {
		struct qi_desc d[2] = {qi_cc_global(), qi_iotlb_global(u->drd, u->dwd)};

		rc = vtd_invalidate(u, d, 2);
		if (rc)
			return rc;
	}
	u->root_ok = true;
	return 0;
}

/* 11.4.4: firmware may leave IR, QI, TE on; IR goes first (it needs QI), then
 * QI.  TE stays on: the blocking root table replaces firmware's while the unit
 * translates, so no DMA passes untranslated during the switch. */
static int takeover(struct vtd_unit *u)
{
	uint32_t sts = rd32(u, VTD_GSTS_REG);
	int rc;

	if (sts & VTD_GSTS_IRES) {
		klog("vtd%u: interrupt remapping was on, turning it off", u->iu.index);
		rc = vtd_gcmd(u, VTD_GCMD_IRE, false);
		if (rc)
			return rc;
		/* 5.1.4: clear IRTA.EIME too, or an xAPIC owner gets x2APIC-format interrupts. */
		mmio_write64(u->base + VTD_IRTA_REG,
			     mmio_read64(u->base + VTD_IRTA_REG) & ~(1ull << 11));
	}
	if (sts & VTD_GSTS_QIES) {
		klog("vtd%u: queued invalidation was on, turning it off", u->iu.index);
		rc = qi_disable(u);
		if (rc)
			return rc;
	}
	if (sts & VTD_GSTS_TES) {
		klog("vtd%u: translation was on, kept on: firmware's root table replaced by a "
		     "blocking one", u->iu.index);
		rc = set_root(u);
		if (rc)
			return rc;
		u->te_on = true;
	}
	clear_fault_records(u);
	return 0;
}

/* ------------------------------------------------------------ bring-up */

static void fault_msi_setup(struct vtd_unit *u, bool want_irq)
{
	/* 11.4.7.2: mask (read back), 32-bit data/address writes, unmask, read missed faults. */
	wr32(u, VTD_FECTL_REG, VTD_FECTL_IM);
	(void)rd32(u, VTD_FECTL_REG);
	(void)rd32(u, VTD_FSTS_REG);
	u->fault_vector = -1;
	if (want_irq) {
		int v = irq_alloc_vector(vtd_fault_irq, u);

		if (v < 0) {
			klog("vtd%u: no vector for fault events (%s), polling only", u->iu.index,
			     err_name(v));
		} else {
			uint64_t addr = irq_msi_compat_addr();

			u->fault_vector = v;
			wr32(u, VTD_FEDATA_REG, irq_msi_compat_data((unsigned)v));
			wr32(u, VTD_FEADDR_REG, (uint32_t)addr);
			wr32(u, VTD_FEUADDR_REG, (uint32_t)(addr >> 32));
			wr32(u, VTD_FECTL_REG, 0);
		}
	}
	vtd_fault_process(u);
}

static int pmr_off(struct vtd_unit *u)
{
	/* 11.4.13: PMRs left on by firmware block DMA whatever the tables say; TE protects now. */
	if (!(u->cap & (VTD_CAP_PLMR | VTD_CAP_PHMR)))
		return 0;
	if (!(rd32(u, VTD_PMEN_REG) & (VTD_PMEN_EPM | VTD_PMEN_PRS)))
		return 0;
	wr32(u, VTD_PMEN_REG, 0);
	if (poll_until(!(rd32(u, VTD_PMEN_REG) & VTD_PMEN_PRS), u->timeout_ns)) {
		klog("vtd%u: PMEN.PRS stayed set", u->iu.index);
		return -ETIMEDOUT;
	}
	return 0;
}

static void unit_free(struct vtd_unit *u)
{
	if (u->fault_vector >= 0)
		irq_free_vector((unsigned)u->fault_vector);
	qi_free(u);
	if (u->root_pa) {
		struct ctx_entry *root = phys_to_virt(u->root_pa);

		for (unsigned b = 0; b < 256; b++)
			if (root[b].lo & VTD_ROOT_P)
				table_free(u, root[b].lo & VTD_PAGE_MASK);
		table_free(u, u->root_pa);
	}
	for (unsigned b = 0; b < 256; b++)
		free(u->ctx_pending[b]);
	while (u->rmrrs) {
		struct vtd_rmrr *r = u->rmrrs;
		u->rmrrs = r->next;
		free(r);
	}
	free(u->did_map);
	free(u);
}

static struct vtd_failed_unit failed[VTD_MAX_FAILED];
static struct vtd_unit *failed_kept[VTD_MAX_FAILED]; /* memory the hardware may hold */
static unsigned nfailed;

void vtd_failed_reset(void)
{
	for (unsigned i = 0; i < nfailed; i++)
		if (failed_kept[i])
			unit_free(failed_kept[i]);
	memset(failed_kept, 0, sizeof(failed_kept));
	nfailed = 0;
}

unsigned vtd_failed_count(void) { return nfailed; }
const struct vtd_failed_unit *vtd_failed_at(unsigned i) { return i < nfailed ? &failed[i] : NULL; }

static void record_failed(const struct vtd_unit *u, int why, bool blocking)
{
	if (nfailed < VTD_MAX_FAILED)
		failed[nfailed++] = (struct vtd_failed_unit){
			.index = u->iu.index, .base = u->base, .rc = why, .blocking = blocking};
}

/* TE on with the blocking root table, whatever state bring-up stopped in. */
static int block_all(struct vtd_unit *u)
{
	int rc;

	if (u->te_on && u->root_ok)
		return 0; /* already blocking: the failure came later */
	if (!u->root_pa)
		u->root_pa = table_alloc(u);
	if (!u->root_pa)
		return -ENOMEM;
	/* A queue that failed cannot carry the invalidations: registers then. */
	if (u->qi_on && qi_disable(u))
		return -EIO;
	rc = set_root(u);
	if (rc)
		return rc;
	if (!u->te_on) {
		rc = vtd_gcmd(u, VTD_GCMD_TE, true);
		if (rc)
			return rc;
		u->te_on = true;
	}
	return 0;
}

/* A unit whose bring-up failed is left blocking every device where it can be
 * driven at all; otherwise its devices are not isolated, and said so.  It is
 * never registered, so none of its devices can be attached.  Its memory stays
 * allocated: the hardware may point at it. */
static void fail_closed(struct vtd_unit *u, int why)
{
	int rc = block_all(u);

	wr32(u, VTD_FECTL_REG, VTD_FECTL_IM);
	if (u->fault_vector >= 0) {
		irq_free_vector((unsigned)u->fault_vector);
		u->fault_vector = -1;
	}
	record_failed(u, why, rc == 0);
	if (rc == 0 || u->root_set || u->te_on || u->qi_on) {
		/* Hardware still points at our memory: kept rather than freed. */
		if (nfailed && nfailed <= VTD_MAX_FAILED)
			failed_kept[nfailed - 1] = u;
	}
	if (rc == 0) {
		klog("vtd%u: bring-up failed (%s): left blocking: its devices cannot do DMA and "
		     "cannot be assigned",
		     u->iu.index, err_name(why));
		return;
	}
	kevent("vtd%u: bring-up failed (%s) and the unit cannot be made blocking (%s): its "
	       "devices are NOT isolated (DMA unchecked) and cannot be assigned",
	       u->iu.index, err_name(why), err_name(rc));
	if (!u->root_set && !u->te_on && !u->qi_on)
		unit_free(u);
}

int vtd_unit_init(uint64_t reg_base, uint16_t segment, unsigned index,
		  const struct vtd_unit_cfg *cfg, struct vtd_unit **out)
{
	static const struct vtd_unit_cfg defaults;
	struct vtd_unit *u;
	int rc;

	if (!cfg)
		cfg = &defaults;
	if (!reg_base || (reg_base & 0xfff)) {
		klog("vtd%u: bad register base 0x%llx", index, (unsigned long long)reg_base);
		return -EINVAL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->base = reg_base;
	u->fault_vector = -1;
	u->iu.index = index;
	u->iu.segment = segment;
	u->iu.ops = &vtd_iommu_ops;
	u->timeout_ns = cfg->timeout_ns ? cfg->timeout_ns : VTD_DEFAULT_TIMEOUT_NS;
	u->rwbf = cfg->force_rwbf;

	u->ver = rd32(u, VTD_VER_REG);
	u->cap = mmio_read64(reg_base + VTD_CAP_REG);
	u->ecap = mmio_read64(reg_base + VTD_ECAP_REG);
	/* All-ones registers: no unit there (L warn_invalid_dmar). */
	if (u->cap == ~0ull || u->ecap == ~0ull || (!u->cap && !u->ecap)) {
		klog("vtd%u: no remapping unit at 0x%llx (CAP=0x%llx)", index,
		     (unsigned long long)reg_base, (unsigned long long)u->cap);
		rc = -ENODEV;
		goto fail;
	}
	rc = decode_caps(u);
	if (rc)
		goto fail;
	/* Root table (9.1) before anything is written: take-over switches to it. */
	u->root_pa = table_alloc(u);
	u->did_map = calloc(u->ndids / 64 + 1, sizeof(uint64_t));
	if (!u->did_map || !u->root_pa) {
		rc = -ENOMEM;
		goto fail_off;
	}
	/* 6.1: caching mode caches non-present entries under DID 0: never handed out, any unit. */
	u->did_map[0] = 1;
	rc = takeover(u);
	if (rc)
		goto fail_off;

	fault_msi_setup(u, !cfg->no_fault_irq);

	/* 6.5.2: QI on before the first invalidation, so every one goes through the queue. */
	if ((u->ecap & VTD_ECAP_QI) && !cfg->no_qi) {
		rc = qi_enable(u);
		if (rc)
			goto fail_off;
	}

	/* Translation off until now (take-over keeps it on): SRTP (10.4.6 /
	 * 11.4.5 RTPS) with the blocking root table, invalidate, then TE. */
	if (!u->te_on) {
		rc = set_root(u);
		if (rc)
			goto fail_off;
		rc = vtd_gcmd(u, VTD_GCMD_TE, true);
		if (rc)
			goto fail_off;
		u->te_on = true;
	}
	rc = pmr_off(u);
	if (rc)
		goto fail_off;

	u->iu.pgsizes = u->sps & common_sps;
	u->iu.aperture_end = unit_aperture_end(u);
	u->iu.snoop_control = u->sc;
	u->iu.intr_remap = false;
	rc = iommu_register_unit(&u->iu);
	if (rc)
		goto fail_off;
	common_sps &= u->sps;

	struct vtd_unit **pp = &units;
	while (*pp)
		pp = &(*pp)->next;
	*pp = u;
	nunits++;
	klog("vtd%u: base=0x%llx ver=%u.%u cap=0x%llx ecap=0x%llx levels=%u qi=%s", index,
	     (unsigned long long)reg_base, VTD_VER_MAJOR(u->ver), VTD_VER_MINOR(u->ver),
	     (unsigned long long)u->cap, (unsigned long long)u->ecap, u->levels,
	     u->qi_on ? "on" : "off");
	if (out)
		*out = u;
	return 0;

fail_off:
	fail_closed(u, rc);
	return rc;
fail:
	/* Nothing was written to a unit that is absent or cannot be decoded. */
	record_failed(u, rc, false);
	kevent("vtd%u: bring-up failed (%s): its devices are NOT isolated (DMA unchecked) and "
	       "cannot be assigned",
	       index, err_name(rc));
	unit_free(u);
	return rc;
}

int vtd_finish_init(void)
{
	if (!units)
		return -ENODEV;
	for (struct vtd_unit *u = units; u; u = u->next)
		u->iu.pgsizes = u->sps & common_sps;
	return 0;
}

int vtd_init_all(const struct vtd_drhd_info *drhds, unsigned n, const struct vtd_unit_cfg *cfg,
		 struct vtd_unit **out)
{
	unsigned up = 0;

	for (unsigned i = 0; i < n; i++) {
		struct vtd_unit *u = NULL;

		if (vtd_unit_init(drhds[i].base, drhds[i].segment, i, cfg, &u) == 0)
			up++;
		if (out)
			out[i] = u;
	}
	int rc = vtd_finish_init();
	return rc ? rc : (int)up;
}

void vtd_unit_shutdown(struct vtd_unit *u)
{
	struct vtd_unit **pp = &units;

	while (*pp && *pp != u)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = u->next;
		nunits--;
	}
	if (u->te_on && vtd_gcmd(u, VTD_GCMD_TE, false) == 0)
		u->te_on = false;
	if (u->qi_on && qi_disable(u) == 0)
		u->qi_on = false;
	wr32(u, VTD_FECTL_REG, VTD_FECTL_IM);
	iommu_unregister_unit(&u->iu);
	if (u->te_on || u->qi_on) {
		klog("vtd%u: could not be turned off; its tables stay allocated", u->iu.index);
		return;
	}
	while (u->domains) {
		struct vtd_domain *d = u->domains;
		u->domains = d->next;
		vtd_pt_destroy(d->pt);
		free(d->pt);
		free(d);
	}
	unit_free(u);
}

void vtd_reset_all(void)
{
	while (units)
		vtd_unit_shutdown(units);
	common_sps = PGSIZE_4K | PGSIZE_2M | PGSIZE_1G;
	allow_rmrr_reassign = false;
}

/* ------------------------------------------------------------ domain ids */

static int did_alloc(struct vtd_unit *u)
{
	for (uint32_t i = 1; i < u->ndids; i++)
		if (!(u->did_map[i / 64] & (1ull << (i % 64)))) {
			u->did_map[i / 64] |= 1ull << (i % 64);
			return (int)i;
		}
	return -ENOSPC;
}

static void did_free(struct vtd_unit *u, uint16_t did)
{
	if (did)
		u->did_map[did / 64] &= ~(1ull << (did % 64));
}

static struct vtd_domain *domain_by_did(struct vtd_unit *u, uint16_t did)
{
	for (struct vtd_domain *d = u->domains; d; d = d->next)
		if (d->did == did)
			return d;
	return NULL;
}

/* ------------------------------------------------------------ domains */

static struct vtd_unit *unit_of(struct iommu_unit *iu) { return (struct vtd_unit *)iu; }
static struct vtd_domain *vdom(struct iommu_domain *d) { return d->priv; }

static int vtd_domain_alloc(struct iommu_unit *iu, struct iommu_domain **out)
{
	struct vtd_unit *u = unit_of(iu);
	struct vtd_domain *vd;
	struct vtd_pt *pt;
	int did = did_alloc(u);
	int rc;

	if (did < 0)
		return did;
	vd = calloc(1, sizeof(*vd));
	pt = calloc(1, sizeof(*pt));
	if (!vd || !pt) {
		rc = -ENOMEM;
		goto fail;
	}
	struct vtd_pt_alloc a = {table_alloc, table_free, u};
	rc = vtd_pt_init(pt, u->levels, iu->pgsizes ? iu->pgsizes : PGSIZE_4K, u->coherent, u->sc,
			 &a);
	if (rc)
		goto fail;
	pt->stash_max = VTD_PT_STASH; /* emptied tables reused, see pgtable_vtd.h */
	vd->unit = u;
	vd->did = (uint16_t)did;
	vd->pt = pt;
	vd->dom.unit = iu;
	vd->dom.pgsizes = pt->pgsizes;
	vd->dom.aperture_end = vtd_pt_aperture_end(pt);
	if (vd->dom.aperture_end > iu->aperture_end)
		vd->dom.aperture_end = iu->aperture_end;
	vd->dom.snoop = u->sc;
	vd->dom.priv = vd;
	vd->next = u->domains;
	u->domains = vd;
	iu->ndomains++;
	*out = &vd->dom;
	return 0;
fail:
	free(pt);
	free(vd);
	did_free(u, (uint16_t)did);
	return rc;
}

static void vtd_domain_free(struct iommu_domain *d)
{
	struct vtd_domain *vd = vdom(d);
	struct vtd_unit *u = vd->unit;

	if (d->ndevices) {
		/* Counted rids include those whose context-cache invalidation is
		 * still pending: the unit may still walk these tables. */
		klog("vtd%u: domain did=%u freed with %u devices attached or pending: kept",
		     u->iu.index, vd->did, d->ndevices);
		return;
	}
	/* 6.2.1: context and IOTLB entries are tagged with the DID, which will
	 * be handed out again: a domain-selective context-cache invalidation,
	 * then a domain-selective IOTLB one (the order of 6.5.3.3).  If it
	 * fails, the domain (its DID and its tables, which the unit may still
	 * walk) is kept for good rather than reused. */
	struct qi_desc inv[2] = {qi_cc_domain(vd->did), qi_iotlb_domain(vd->did, u->drd, u->dwd)};
	if (vtd_invalidate(u, inv, 2)) {
		klog("vtd%u: invalidation of freed did=%u failed: domain and did kept (leaked)",
		     u->iu.index, vd->did);
		return;
	}
	for (struct vtd_domain **pp = &u->domains; *pp; pp = &(*pp)->next)
		if (*pp == vd) {
			*pp = vd->next;
			break;
		}
	vtd_pt_destroy(vd->pt);
	free(vd->pt);
	did_free(u, vd->did);
	u->iu.ndomains--;
	free(vd);
}

static int vtd_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
		   struct iommu_gather *g)
{
	return vtd_pt_map(vdom(d)->pt, iova, pa, size, prot, g);
}

static int vtd_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size, struct iommu_gather *g)
{
	return vtd_pt_unmap(vdom(d)->pt, iova, size, g);
}

static int vtd_iova_to_phys(struct iommu_domain *d, uint64_t iova, uint64_t *pa, unsigned *level,
			    unsigned *prot)
{
	return vtd_pt_walk(vdom(d)->pt, iova, pa, level, prot);
}

static unsigned fls64(uint64_t x) { return x ? 64 - (unsigned)__builtin_clzll(x) : 0; }

/* One IOTLB descriptor covering [start, end) for did (6.5.2.3: a page-selective
 * one covers 2^AM naturally aligned pages): page-selective when CAP.PSI and
 * the aligned mask fits CAP.MAMV; the mask
 * is widened until the naturally aligned block covers the range (Linux
 * calculate_psi_aligned_address); else domain-selective. */
static struct qi_desc iotlb_desc(const struct vtd_unit *u, uint16_t did, uint64_t start,
				 uint64_t end, bool ih)
{
	uint64_t first = start >> 12, last = (end - 1) >> 12;
	uint64_t pages = last - first + 1;
	unsigned mask = fls64(pages - 1); /* log2 of pages rounded up */
	uint64_t aligned = first & ~((1ull << mask) - 1);

	if (aligned + (1ull << mask) - 1 < last) {
		/* Straddles a 2^mask boundary: the block that contains both
		 * ends is the one above the highest bit where they differ. */
		mask = fls64(first ^ last);
		aligned = first & ~((1ull << mask) - 1);
	}
	if (u->psi && mask <= u->mamv && mask < 52)
		return qi_iotlb_page(did, aligned << 12, mask, ih, u->drd, u->dwd);
	return qi_iotlb_domain(did, u->drd, u->dwd);
}

static int vtd_flush(struct iommu_domain *d, struct iommu_gather *g)
{
	struct vtd_domain *vd = vdom(d);
	struct vtd_unit *u = vd->unit;
	bool changed = g->end > g->start;
	int rc = 0;

	if (g->need_flush || (changed && u->cm)) {
		/* Removed/changed entries (need_flush), or in caching mode new
		 * entries whose non-present state may be cached (6.1).  IH only
		 * if no table page went away. */
		struct qi_desc inv;
		/* IH (keep paging-structure caches) only for an unmap that
		 * changed leaves alone: a map may have linked new tables whose
		 * non-present state caching mode let the unit cache. */
		bool ih = g->need_flush && g->leaf_only && !g->nfree;

		if (changed)
			inv = iotlb_desc(u, vd->did, g->start, g->end, ih);
		else
			inv = qi_iotlb_domain(vd->did, u->drd, u->dwd);
		vtd_stats.flushes++;
		rc = vtd_invalidate(u, &inv, 1);
	} else if (changed) {
		/* 6.8: non-present -> present needs only a write-buffer flush (CAP.RWBF). */
		rc = vtd_wbf(u);
	}
	if (rc)
		return rc; /* the gathered pages stay allocated: never reuse them unflushed */
	vtd_pt_free_gathered(vd->pt, g);
	iommu_gather_init(g);
	return 0;
}

/* ------------------------------------------------------------ context entries */

static struct ctx_entry *ctx_entry(struct vtd_unit *u, uint16_t rid, bool alloc, int *err)
{
	struct ctx_entry *root = phys_to_virt(u->root_pa);
	struct ctx_entry *re = &root[bdf_bus(rid)];

	*err = 0;
	if (!(re->lo & VTD_ROOT_P)) {
		if (!alloc)
			return NULL;
		/* The bus's pending-invalidation record comes with its table,
		 * so a failing invalidation never needs memory to be recorded. */
		if (!u->ctx_pending[bdf_bus(rid)])
			u->ctx_pending[bdf_bus(rid)] = calloc(256, sizeof(uint16_t));
		uint64_t ct = u->ctx_pending[bdf_bus(rid)] ? table_alloc(u) : 0;
		if (!ct) {
			*err = -ENOMEM;
			return NULL;
		}
		/* 9.1: hi is reserved (0); P in lo written last. */
		re->hi = 0;
		barrier();
		re->lo = ct | VTD_ROOT_P;
		vtd_sync(u, re, sizeof(*re));
	}
	return (struct ctx_entry *)phys_to_virt(re->lo & VTD_PAGE_MASK) + bdf_devfn(rid);
}

static void ctx_clear(struct vtd_unit *u, struct ctx_entry *ce)
{
	/* 9.3: P (in lo) goes first, so hardware never sees a present half entry. */
	ce->lo = 0;
	barrier();
	ce->hi = 0;
	vtd_sync(u, ce, sizeof(*ce));
}

/* 6.5.3.3: a present context entry went away: device-selective CC, domain IOTLB, old DID. */
static int ctx_zap(struct vtd_unit *u, uint16_t rid, uint16_t old_did)
{
	struct qi_desc d[2] = {qi_cc_device(old_did, rid, 0),
			       qi_iotlb_domain(old_did, u->drd, u->dwd)};

	return vtd_invalidate(u, d, 2);
}

/* The DID whose invalidation for rid's cleared context entry is pending
 * (0 = none); NULL if rid's bus has no context table. */
static uint16_t *ctx_pending(struct vtd_unit *u, uint16_t rid)
{
	uint16_t *bus = u->ctx_pending[bdf_bus(rid)];

	return bus ? &bus[bdf_devfn(rid)] : NULL;
}

/* Completes a pending invalidation of rid (re-issued under the DID the
 * entry had).  Only once it has completed does the rid leave that domain:
 * until then the unit may still use the cached entry (6.5.3.3), so the
 * domain keeps counting it and its DID and tables are not released. */
static int ctx_settle(struct vtd_unit *u, uint16_t rid)
{
	uint16_t *pend = ctx_pending(u, rid);

	if (!pend || !*pend)
		return 0;
	int rc = ctx_zap(u, rid, *pend);
	if (rc) {
		char bdf[24];

		klog("vtd%u: context invalidation of %s (did=%u) failed (%s): blocked, still pending",
		     u->iu.index, bdf_format_rid(bdf, sizeof(bdf), u->iu.segment, rid), *pend,
		     err_name(rc));
		return rc;
	}
	struct vtd_domain *vd = domain_by_did(u, *pend);
	if (vd && vd->dom.ndevices)
		vd->dom.ndevices--;
	*pend = 0;
	return 0;
}

/* Clears rid's present entry, which points at did, and invalidates it
 * (ctx_settle); on failure rid stays blocked and pending on did. */
static int ctx_block(struct vtd_unit *u, struct ctx_entry *ce, uint16_t rid, uint16_t did)
{
	ctx_clear(u, ce);
	*ctx_pending(u, rid) = did;
	return ctx_settle(u, rid);
}

static int ctx_set(struct vtd_unit *u, struct ctx_entry *ce, struct vtd_domain *vd, uint16_t rid)
{
	struct vtd_pt *pt = vd->pt;

	/* 9.3: hi (DID, AW) first, then lo with P, so the hardware never sees a
	 * present half entry. TT=00b, FPD=0: faults are recorded. */
	ce->hi = VTD_CTX_HI_AW(u->agaw) | ((uint64_t)vd->did << VTD_CTX_HI_DID_SHIFT);
	barrier();
	ce->lo = (pt->root & VTD_PAGE_MASK) | VTD_CTX_LO_P;
	vtd_sync(u, ce, sizeof(*ce));
	if (u->cm) {
		/* 6.1: in caching mode the not-present entry may be cached under DID 0. */
		struct qi_desc d[2] = {qi_cc_device(0, rid, 0),
				       qi_iotlb_domain(vd->did, u->drd, u->dwd)};
		return vtd_invalidate(u, d, 2);
	}
	return vtd_wbf(u);
}

static int vtd_attach(struct iommu_domain *d, uint16_t rid)
{
	struct vtd_domain *vd = vdom(d);
	struct vtd_unit *u = vd->unit;
	int rc;
	struct ctx_entry *ce = ctx_entry(u, rid, true, &rc);

	if (!ce)
		return rc;
	/* 6.5.3.3: no new entry while the unit may still hold the old one. */
	rc = ctx_settle(u, rid);
	if (rc)
		return rc;
	if (ce->lo & VTD_CTX_LO_P) {
		uint16_t old_did = (uint16_t)(ce->hi >> VTD_CTX_HI_DID_SHIFT);
		struct vtd_domain *old = domain_by_did(u, old_did);

		if (old == vd)
			return 0;
		if (old && old->identity && vtd_rid_has_rmrr(u->iu.segment, rid)) {
			char bdf[24];

			bdf_format_rid(bdf, sizeof(bdf), u->iu.segment, rid);
			if (!allow_rmrr_reassign) {
				klog("vtd%u: %s has an RMRR; not moved (boot argument "
				     "allow_rmrr_reassign overrides)",
				     u->iu.index, bdf);
				return -EBUSY;
			}
			klog("vtd%u: WARNING: allow_rmrr_reassign: %s leaves its RMRR identity "
			     "map; firmware DMA to it will fault",
			     u->iu.index, bdf);
		}
		rc = ctx_block(u, ce, rid, old_did);
		if (rc)
			return rc; /* blocked, pending on the old domain: the safe state */
	}
	d->ndevices++;
	rc = ctx_set(u, ce, vd, rid);
	if (rc) {
		/* Not attached after all: blocked is the safe state.  The
		 * caller's unwind does not count this rid, but until the
		 * invalidation completes the domain does (pending). */
		(void)ctx_block(u, ce, rid, vd->did);
		return rc;
	}
	return 0;
}

static int vtd_detach(struct iommu_domain *d, uint16_t rid)
{
	struct vtd_domain *vd = vdom(d);
	struct vtd_unit *u = vd->unit;
	int rc;
	struct ctx_entry *ce = ctx_entry(u, rid, false, &rc);

	if (!ce)
		return 0; /* never attached: blocked */
	if (!(ce->lo & VTD_CTX_LO_P))
		return ctx_settle(u, rid); /* blocked; a failed invalidation is re-issued */
	if ((uint16_t)(ce->hi >> VTD_CTX_HI_DID_SHIFT) != vd->did)
		return -ENOENT;
	return ctx_block(u, ce, rid, vd->did);
}

/* ------------------------------------------------------------ console */

static const char *on_off(bool on) { return on ? "on" : "off"; }

/* The `iommu` record (docs/console.md): qi/ir/dmar are what GSTS says now. */
static void vtd_describe(struct iommu_unit *iu, struct iommu_line *l)
{
	struct vtd_unit *u = unit_of(iu);
	uint32_t gsts = rd32(u, VTD_GSTS_REG);

	iommu_line_field(l, IOMMU_FIELD_INDEX);
	iommu_line_word(l, "base", "0x%llx", (unsigned long long)u->base);
	iommu_line_word(l, "ver", "%u.%u", VTD_VER_MAJOR(u->ver), VTD_VER_MINOR(u->ver));
	iommu_line_word(l, "aw", "%u", u->mgaw);
	iommu_line_word(l, "levels", "%u", u->levels);
	iommu_line_field(l, IOMMU_FIELD_PGSIZES);
	iommu_line_word(l, "qi", "%s", on_off(gsts & VTD_GSTS_QIES));
	iommu_line_word(l, "ir", "%s", on_off(gsts & VTD_GSTS_IRES));
	iommu_line_word(l, "dmar", "%s", on_off(gsts & VTD_GSTS_TES));
	iommu_line_word(l, "cm", "%d", u->cm);
	iommu_line_word(l, "sc", "%d", u->sc);
	iommu_line_field(l, IOMMU_FIELD_DOMAINS);
	iommu_line_word(l, "cap", "0x%llx", (unsigned long long)u->cap);
	iommu_line_word(l, "ecap", "0x%llx", (unsigned long long)u->ecap);
	iommu_line_word(l, "nd", "%u", u->nd_bits);
	iommu_line_word(l, "c", "%d", u->coherent);
	iommu_line_field(l, IOMMU_FIELD_SEGMENT);
	iommu_line_word(l, "cfi", "%s", iu->intr_isolated ? "blocked" : "open");
	/* Root and context tables in legacy format (RTADDR.TTM=00b, VT-d 10.4.6). */
	iommu_line_word(l, "mode", "legacy");
	iommu_line_field(l, IOMMU_FIELD_KIND);
}

static void vtd_fault_poll(struct iommu_unit *iu) { vtd_fault_process(unit_of(iu)); }

/* `iommu qitest`: the queue's error recovery (qi.c) on this unit. */
static int vtd_selftest(struct iommu_unit *iu, struct iommu_line *l)
{
	struct vtd_qi_selftest r;
	int rc = vtd_qi_selftest(unit_of(iu), &r);

	iommu_line_field(l, IOMMU_FIELD_INDEX);
	if (rc == -ENODEV) {
		iommu_line_word(l, "qi", "off");
		return rc;
	}
	iommu_line_word(l, "bad_batch", "%s", r.bad_batch ? err_name(r.bad_batch) : "ok");
	iommu_line_word(l, "qi_errors", "%llu", (unsigned long long)r.qi_errors);
	iommu_line_word(l, "next_batch", "%s", r.next_batch ? err_name(r.next_batch) : "ok");
	return rc;
}

static const struct iommu_ops vtd_iommu_ops = {
	.name = "vtd",
	.describe = vtd_describe,
	.fault_poll = vtd_fault_poll,
	.selftest = vtd_selftest,
	.domain_alloc = vtd_domain_alloc,
	.domain_free = vtd_domain_free,
	.attach = vtd_attach,
	.detach = vtd_detach,
	.map = vtd_map,
	.unmap = vtd_unmap,
	.flush = vtd_flush,
	.iova_to_phys = vtd_iova_to_phys,
};

/* ------------------------------------------------------------ RMRR */

bool vtd_rid_has_rmrr(uint16_t seg, uint16_t rid)
{
	for (struct vtd_unit *u = units; u; u = u->next) {
		if (u->iu.segment != seg)
			continue;
		for (struct vtd_rmrr *r = u->rmrrs; r; r = r->next)
			if (r->rid == rid)
				return true;
	}
	return false;
}

/* The identity domain of the RMRR group key names, NULL if none yet. */
static struct vtd_domain *identity_of(struct vtd_unit *u, int key)
{
	for (struct vtd_domain *d = u->domains; d; d = d->next)
		if (d->identity && d->rmrr_key == key)
			return d;
	return NULL;
}

/* Is [base, end] already in vd's identity map? -EINVAL if it partially
 * overlaps an RMRR already accepted on u (for any group): the 1:1 maps of
 * two such RMRRs would disagree on the shared pages' owner. */
static int rmrr_mapped(const struct vtd_unit *u, const struct vtd_domain *vd, uint64_t base,
		       uint64_t end, bool *mapped)
{
	*mapped = false;
	for (const struct vtd_rmrr *r = u->rmrrs; r; r = r->next) {
		if (r->base == base && r->end == end)
			*mapped |= r->dom == vd; /* shared RMRR: already in this map */
		else if (base <= r->end && r->base <= end)
			return -EINVAL;
	}
	return 0;
}

int vtd_rmrr_identity(struct vtd_unit *u, uint16_t rid, int group, uint64_t base, uint64_t end)
{
	/* Devices of one isolation group reach each other anyway; a rid of
	 * no group is a group of its own (keys below 0, never a group's). */
	int key = group >= 0 ? group : -1 - (int)rid;
	struct vtd_domain *vd = identity_of(u, key);
	struct iommu_gather g;
	bool mapped;
	int rc;

	/* 8.4: an RMRR is 4 KiB aligned with an inclusive limit; refuse anything else. */
	if ((base & 0xfff) || ((end + 1) & 0xfff) || end < base || end > u->iu.aperture_end) {
		klog("vtd%u: bad RMRR [0x%llx, 0x%llx]", u->iu.index, (unsigned long long)base,
		     (unsigned long long)end);
		return -EINVAL;
	}
	rc = rmrr_mapped(u, vd, base, end, &mapped);
	if (rc)
		return rc;
	if (!vd) {
		struct iommu_domain *d;

		rc = vtd_domain_alloc(&u->iu, &d);
		if (rc)
			return rc;
		vd = vdom(d);
		vd->identity = true;
		vd->rmrr_key = key;
	}
	struct vtd_rmrr *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	if (!mapped) {
		iommu_gather_init(&g);
		rc = vtd_pt_map(vd->pt, base, base, end - base + 1, IOMMU_READ | IOMMU_WRITE, &g);
		if (!rc)
			rc = vtd_flush(&vd->dom, &g);
		if (rc) {
			free(rec);
			return rc;
		}
	}
	rc = vtd_attach(&vd->dom, rid);
	if (rc) {
		free(rec);
		return rc;
	}
	rec->rid = rid;
	rec->base = base;
	rec->end = end;
	rec->dom = vd;
	rec->next = u->rmrrs;
	u->rmrrs = rec;
	char bdf[24];
	klog("vtd%u: RMRR [0x%llx, 0x%llx] identity-mapped for %s", u->iu.index,
	     (unsigned long long)base, (unsigned long long)end,
	     bdf_format_rid(bdf, sizeof(bdf), u->iu.segment, rid));
	return 0;
}
