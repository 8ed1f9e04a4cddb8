/* tests/unit/vtd_model.c — a QEMU-7.2-like VT-d register model (see .h). */
#include "vtd_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hw.h"
#include "hw/hw.h"
#include "iommu/vtd/regs.h"

static struct vtd_model *current;

void vtd_model_init(struct vtd_model *m, uint64_t base)
{
	memset(m, 0, sizeof(*m));
	m->base = base;
	m->ver = 0x10;
	m->cap = VTD_MODEL_DEFAULT_CAP;
	m->ecap = VTD_MODEL_DEFAULT_ECAP;
	m->fectl = VTD_FECTL_IM;
	m->iectl = 1u << 31;
}

static void die(const struct vtd_model *m, const char *what, uint64_t off, unsigned size)
{
	fprintf(stderr, "vtd_model: %s at offset 0x%llx size %u (QEMU would abort)\n", what,
		(unsigned long long)off, size);
	abort();
}

static unsigned nfr(const struct vtd_model *m)
{
	unsigned n = VTD_CAP_NFR(m->cap);
	return n > VTD_MODEL_MAX_FRCD ? VTD_MODEL_MAX_FRCD : n;
}

static void update_ppf(struct vtd_model *m)
{
	bool any = false;
	unsigned first = 0;

	for (unsigned k = 0; k < nfr(m); k++) {
		/* FRI: the oldest pending record, looking back from frcd_next */
		unsigned i = (m->frcd_next + k) % nfr(m);
		if (m->frcd_hi[i] & VTD_FRCD_HI_F) {
			if (!any)
				first = i;
			any = true;
		}
	}
	m->fsts &= ~(VTD_FSTS_PPF | (0xffu << 8));
	if (any)
		m->fsts |= VTD_FSTS_PPF | (first << 8);
}

/* Width of the register at off: 4, 8, or 0 = not a register. */
static unsigned reg_width(const struct vtd_model *m, uint64_t off)
{
	unsigned iro = VTD_ECAP_IRO(m->ecap), fro = VTD_CAP_FRO(m->cap);

	if (off >= fro && off < fro + 16 * nfr(m))
		return 8;
	if (off == iro || off == iro + 8)
		return 8;
	switch (off) {
	case VTD_CAP_REG:
	case VTD_ECAP_REG:
	case VTD_RTADDR_REG:
	case VTD_CCMD_REG:
	case 0x70: /* PHMBASE */
	case 0x78: /* PHMLIMIT */
	case VTD_IQH_REG:
	case VTD_IQT_REG:
	case VTD_IQA_REG:
	case 0xb0: /* IQERCD */
	case VTD_IRTA_REG: return 8;
	case VTD_VER_REG:
	case VTD_GCMD_REG:
	case VTD_GSTS_REG:
	case VTD_FSTS_REG:
	case VTD_FECTL_REG:
	case VTD_FEDATA_REG:
	case VTD_FEADDR_REG:
	case VTD_FEUADDR_REG:
	case VTD_PMEN_REG:
	case 0x68: /* PLMBASE */
	case 0x6c: /* PLMLIMIT */
	case VTD_ICS_REG:
	case VTD_IECTL_REG:
	case 0xa4:
	case 0xa8:
	case 0xac: return 4;
	default: return 0;
	}
}

static uint64_t *reg64(struct vtd_model *m, uint64_t off)
{
	unsigned iro = VTD_ECAP_IRO(m->ecap), fro = VTD_CAP_FRO(m->cap);

	if (off >= fro && off < fro + 16 * nfr(m))
		return ((off - fro) & 8) ? &m->frcd_hi[(off - fro) / 16]
					 : &m->frcd_lo[(off - fro) / 16];
	if (off == iro)
		return &m->iva;
	if (off == iro + 8)
		return &m->iotlb;
	switch (off) {
	default: return NULL;
	case VTD_CAP_REG: return &m->cap;
	case VTD_ECAP_REG: return &m->ecap;
	case VTD_RTADDR_REG: return &m->rtaddr;
	case VTD_CCMD_REG: return &m->ccmd;
	case 0x70: return &m->phmbase;
	case 0x78: return &m->phmlimit;
	case VTD_IQH_REG: return &m->iqh;
	case VTD_IQT_REG: return &m->iqt;
	case VTD_IQA_REG: return &m->iqa;
	case 0xb0: return &m->iqercd;
	case VTD_IRTA_REG: return &m->irta;
	}
	return NULL;
}

static uint32_t *reg32(struct vtd_model *m, uint64_t off)
{
	switch (off) {
	default: return NULL;
	case VTD_VER_REG: return &m->ver;
	case VTD_GSTS_REG: return &m->gsts;
	case VTD_FSTS_REG: return &m->fsts;
	case VTD_FECTL_REG: return &m->fectl;
	case VTD_FEDATA_REG: return &m->fedata;
	case VTD_FEADDR_REG: return &m->feaddr;
	case VTD_FEUADDR_REG: return &m->feuaddr;
	case VTD_PMEN_REG: return &m->pmen;
	case 0x68: return &m->plmbase;
	case 0x6c: return &m->plmlimit;
	case VTD_ICS_REG: return &m->ics;
	case VTD_IECTL_REG: return &m->iectl;
	case 0xa4: return &m->iedata;
	case 0xa8: return &m->ieaddr;
	case 0xac: return &m->ieuaddr;
	}
	return NULL;
}

static void logit(struct vtd_model *m, uint64_t off, unsigned size, bool write, uint64_t val)
{
	if (m->nlog < VTD_MODEL_LOG)
		m->log[m->nlog++] =
			(struct vtd_model_access){(uint32_t)off, (uint8_t)size, write, val};
}

int vtd_model_find_write(const struct vtd_model *m, uint32_t off, unsigned from)
{
	for (unsigned i = from; i < m->nlog; i++)
		if (m->log[i].write && m->log[i].off == off)
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------- QI */

static unsigned iq_size(const struct vtd_model *m) { return 256u << (m->iqa & 7); }

/* false: invalidation queue error */
static bool process_desc(struct vtd_model *m, uint64_t lo, uint64_t hi)
{
	unsigned g = (unsigned)((lo >> 4) & 3);

	if (m->ndesc < VTD_MODEL_LOG) {
		m->desc[m->ndesc].lo = lo;
		m->desc[m->ndesc].hi = hi;
		m->ndesc++;
	}
	switch (lo & 0xf) {
	case 1: /* context-cache */
		if ((lo & 0xffc0ull) || (lo & ~((1ull << 50) - 1)) || hi)
			return false;
		if (g == 1)
			m->cc_global++;
		else if (g == 2)
			m->cc_domain++;
		else if (g == 3)
			m->cc_device++;
		else
			return false;
		return true;
	case 2: /* IOTLB */
		if ((lo & 0xff00ull) || (lo >> 32) || (hi & 0xf80ull))
			return false;
		if (g == 1)
			m->iotlb_global++;
		else if (g == 2)
			m->iotlb_dsi++;
		else if (g == 3) {
			if ((hi & 0x3f) > VTD_CAP_MAMV(m->cap))
				return false;
			m->iotlb_psi++;
		} else
			return false;
		return true;
	case 3: m->devtlb++; return true;
	case 4: m->iec++; return true;
	case 5: {
		bool sw = lo & VTD_INV_WAIT_SW, iflag = lo & VTD_INV_WAIT_IF;

		if (sw && iflag) {
			fprintf(stderr,
				"vtd_model: wait descriptor with SW and IF (QEMU asserts)\n");
			abort();
		}
		if ((!sw && !iflag) || (lo & VTD_INV_WAIT_PD))
			return false;
		m->waits++;
		if (sw) {
			if (hi & 3)
				return false;
			if (m->ite_once) {
				m->ite_once--;
				m->fsts |= VTD_FSTS_ITE;
				return true;
			}
			*(volatile uint32_t *)(uintptr_t)hi = (uint32_t)(lo >> 32);
		}
		if (iflag)
			m->ics |= 1;
		return true;
	}
	case 6:
	case 7: return true;
	default: return false;
	}
}

static void fault_event(struct vtd_model *m, uint32_t fsts_before)
{
	if (!(fsts_before & (VTD_FSTS_PPF | VTD_FSTS_PFO | VTD_FSTS_IQE))) {
		if (m->fectl & VTD_FECTL_IM)
			m->fectl |= VTD_FECTL_IP;
		else
			m->fault_events++;
	}
}

static void run_queue(struct vtd_model *m)
{
	unsigned size = iq_size(m);
	unsigned tail = (unsigned)((m->iqt & VTD_IQ_INDEX_MASK) >> 4);

	if (!(m->gsts & VTD_GSTS_QIES) || m->qi_hang)
		return;
	if (tail >= size) {
		uint32_t before = m->fsts;
		m->fsts |= VTD_FSTS_IQE;
		m->iqe++;
		fault_event(m, before);
		return;
	}
	for (;;) {
		unsigned head = (unsigned)((m->iqh & VTD_IQ_INDEX_MASK) >> 4);
		if (head == tail)
			break;
		uint64_t *d = (uint64_t *)(uintptr_t)((m->iqa & ~0xfffull) + head * 16ull);
		if (m->cc_hang && (d[0] & 0xf) == 1)
			return; /* stuck at the context-cache descriptor */
		if (!process_desc(m, d[0], d[1])) {
			uint32_t before = m->fsts;
			m->fsts |= VTD_FSTS_IQE;
			m->iqe++;
			fault_event(m, before);
			return; /* IQH stays at the bad descriptor */
		}
		m->iqh = (uint64_t)((head + 1) % size) << 4;
	}
}

/* ---------------------------------------------------------------- registers */

static void gcmd_write(struct vtd_model *m, uint32_t val)
{
	uint32_t persist = m->gsts & ~VTD_GCMD_ONESHOT;
	uint32_t diff = (val & ~VTD_GCMD_ONESHOT) ^ persist;
	unsigned bits = (unsigned)__builtin_popcount(diff) +
			(unsigned)__builtin_popcount(val & VTD_GCMD_ONESHOT);

	if (m->ngcmd < 64) {
		m->gcmd_log[m->ngcmd] = val;
		m->gcmd_gsts_before[m->ngcmd] = m->gsts;
		m->ngcmd++;
	}
	if (bits != 1)
		m->gcmd_multibit++;
	uint32_t act = ~m->gsts_stuck;
	if ((val & VTD_GCMD_SRTP) && (act & VTD_GCMD_SRTP)) {
		m->rtaddr_latched = m->rtaddr;
		m->gsts |= VTD_GSTS_RTPS;
		m->srtp++;
	}
	if ((val & VTD_GCMD_SIRTP) && (act & VTD_GCMD_SIRTP)) {
		m->irta_latched = m->irta;
		m->gsts |= VTD_GSTS_IRTPS;
		m->sirtp++;
	}
	if (val & VTD_GCMD_WBF) {
		m->wbf++;
		if (m->gsts_stuck & VTD_GCMD_WBF)
			m->gsts |= VTD_GSTS_WBFS; /* never completes */
	}
	if (((val ^ m->gsts) & VTD_GCMD_TE) && (act & VTD_GCMD_TE)) {
		m->gsts ^= VTD_GSTS_TES;
		if (m->gsts & VTD_GSTS_TES) {
			m->te_on_count++;
			m->rtaddr_at_te = (m->gsts & VTD_GSTS_RTPS) ? m->rtaddr_latched : 0;
			m->qie_before_te = m->gsts & VTD_GSTS_QIES;
		}
	}
	if (((val ^ m->gsts) & VTD_GCMD_QIE) && (act & VTD_GCMD_QIE)) {
		if (val & VTD_GCMD_QIE) {
			m->iqh = 0;
			m->gsts |= VTD_GSTS_QIES;
		} else if ((m->iqh & VTD_IQ_INDEX_MASK) == (m->iqt & VTD_IQ_INDEX_MASK) ||
			   m->qie_off_pending) {
			m->gsts &= ~VTD_GSTS_QIES;
		}
	}
	if (((val ^ m->gsts) & VTD_GCMD_IRE) && (act & VTD_GCMD_IRE) && (m->ecap & VTD_ECAP_IR))
		m->gsts ^= VTD_GSTS_IRES;
}

static void ccmd_write(struct vtd_model *m)
{
	if (!(m->ccmd & VTD_CCMD_ICC))
		return;
	if (m->gsts & VTD_GSTS_QIES) {
		m->reg_ignored++;
		return;
	}
	if (m->reg_inv_hang)
		return;
	m->reg_cc++;
	unsigned g = (unsigned)((m->ccmd >> VTD_CCMD_CIRG_SHIFT) & 3);
	if (g == 1)
		m->cc_global++;
	else if (g == 2)
		m->cc_domain++;
	else if (g == 3)
		m->cc_device++;
	m->ccmd = (m->ccmd & ~VTD_CCMD_ICC) | ((uint64_t)g << VTD_CCMD_CAIG_SHIFT);
}

static void iotlb_write(struct vtd_model *m)
{
	if (!(m->iotlb & VTD_IOTLB_IVT))
		return;
	if (m->gsts & VTD_GSTS_QIES) {
		m->reg_ignored++;
		return;
	}
	if (m->reg_inv_hang)
		return;
	m->reg_iotlb++;
	unsigned g = (unsigned)((m->iotlb >> VTD_IOTLB_IIRG_SHIFT) & 3);
	if (g == 1)
		m->iotlb_global++;
	else if (g == 2)
		m->iotlb_dsi++;
	else if (g == 3)
		m->iotlb_psi++;
	m->iotlb = (m->iotlb & ~VTD_IOTLB_IVT) | ((uint64_t)g << VTD_IOTLB_IAIG_SHIFT);
}

static uint64_t model_read(void *ctx, uint64_t off, unsigned size)
{
	struct vtd_model *m = ctx;
	unsigned w = reg_width(m, off & ~7ull) == 8 ? 8 : reg_width(m, off);
	uint64_t v;

	if (off % size)
		die(m, "misaligned access", off, size);
	if (!w)
		die(m, "access to an unmodelled register", off, size);
	if (size == 8 && w == 4)
		die(m, "64-bit read of a 32-bit register", off, size);
	if (w == 8) {
		uint64_t *r = reg64(m, off & ~7ull);
		v = *r;
		if (off == VTD_ECAP_IRO(m->ecap)) /* IVA is write-only */
			v = 0;
		if (size == 4)
			v = (off & 4) ? v >> 32 : (uint32_t)v;
	} else {
		v = *reg32(m, off);
	}
	logit(m, off, size, false, v);
	return v;
}

static void model_write(void *ctx, uint64_t off, uint64_t val, unsigned size)
{
	struct vtd_model *m = ctx;
	unsigned w = reg_width(m, off & ~7ull) == 8 ? 8 : reg_width(m, off);
	unsigned fro = VTD_CAP_FRO(m->cap), iro = VTD_ECAP_IRO(m->ecap);

	if (off % size)
		die(m, "misaligned access", off, size);
	if (!w)
		die(m, "access to an unmodelled register", off, size);
	if (size == 8 && w == 4)
		die(m, "64-bit write to a 32-bit register", off, size);
	logit(m, off, size, true, val);

	if (off >= fro && off < fro + 16 * nfr(m)) {
		unsigned i = (unsigned)(off - fro) / 16, part = (unsigned)(off - fro) % 16;
		/* F is RW1C; 64-bit at +8 or 32-bit at +0xC recompute PPF. */
		if ((part == 8 && size == 8 && (val >> 63)) || (part == 12 && (val >> 31))) {
			m->frcd_hi[i] &= ~VTD_FRCD_HI_F;
			update_ppf(m);
		}
		return;
	}
	if (w == 8) {
		uint64_t *r = reg64(m, off & ~7ull);

		if (r == &m->cap || r == &m->ecap || r == &m->iqh)
			return; /* read-only */
		if (size == 4) {
			if (off & 4)
				*r = (*r & 0xffffffffull) | (val << 32);
			else
				*r = (*r & ~0xffffffffull) | (uint32_t)val;
		} else {
			*r = val;
		}
		if (r == &m->ccmd && (size == 8 || (off & 4)))
			ccmd_write(m);
		else if (off == iro + 8 || off == iro + 12)
			iotlb_write(m);
		else if (r == &m->iqt) {
			m->iqt &= VTD_IQ_INDEX_MASK;
			m->iqt_writes++;
			run_queue(m);
		}
		return;
	}
	switch (off) {
	case VTD_GCMD_REG: gcmd_write(m, (uint32_t)val); return;
	case VTD_VER_REG:
	case VTD_GSTS_REG: return;
	case VTD_FSTS_REG:
		m->fsts &= ~((uint32_t)val & (VTD_FSTS_PFO | VTD_FSTS_AFO | VTD_FSTS_APF |
					      VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE));
		return;
	case VTD_FECTL_REG:
		m->fectl = ((uint32_t)val & VTD_FECTL_IM) | (m->fectl & VTD_FECTL_IP);
		if (!(m->fectl & VTD_FECTL_IM) && (m->fectl & VTD_FECTL_IP)) {
			m->fectl &= ~VTD_FECTL_IP;
			m->fault_events++;
		}
		return;
	case VTD_PMEN_REG:
		m->pmen = (uint32_t)val & VTD_PMEN_EPM;
		if (m->pmen || m->pmr_stuck)
			m->pmen |= VTD_PMEN_PRS;
		return;
	default: *reg32(m, off) = (uint32_t)val; return;
	}
}

/* The legacy-mode walk (VT-d 3.4.2, 9.1, 9.3, 9.8): root entry by bus,
 * context entry by devfn (P, AW, SLPTPTR), then AW+2 levels of second-level
 * entries (R bit 0, W bit 1, PS bit 7 at levels 2 and 3). */
int vtd_model_translate(const struct vtd_model *m, uint16_t rid, uint64_t iova, bool write,
			uint64_t *pa)
{
	const uint64_t addr_mask = 0x000ffffffffff000ull;
	if (!(m->gsts & VTD_GSTS_TES) || !(m->rtaddr_latched & addr_mask))
		return -1;
	const uint64_t *root = phys_to_virt(m->rtaddr_latched & addr_mask);
	uint64_t re = root[(rid >> 8) * 2];

	if (!(re & 1))
		return -1;
	const uint64_t *ce = (const uint64_t *)phys_to_virt(re & addr_mask) + (rid & 0xff) * 2;
	if (!(ce[0] & 1))
		return -1;
	unsigned levels = (unsigned)(ce[1] & 7) + 2;
	uint64_t table = ce[0] & addr_mask;

	for (unsigned l = levels; l >= 1; l--) {
		unsigned shift = 12 + 9 * (l - 1);
		uint64_t e = ((const uint64_t *)phys_to_virt(table))[(iova >> shift) & 511];

		if (!(e & (write ? 2 : 1)))
			return -1;
		if (l == 1 || (e & 0x80)) {
			uint64_t page = (1ull << shift) - 1;

			*pa = (e & addr_mask & ~page) | (iova & page);
			return 0;
		}
		table = e & addr_mask;
	}
	return -1;
}

void vtd_model_install(struct vtd_model *m)
{
	struct fake_mmio f = {m->base, VTD_REG_SIZE, model_read, model_write, m};

	fake_mmio_add(&f);
	current = m;
}

void vtd_model_inject_fault_on(struct vtd_model *m, uint16_t sid, uint64_t addr, uint8_t reason,
			       bool is_read)
{
	unsigned i = m->frcd_next % nfr(m);
	uint32_t before = m->fsts;

	if (m->fsts & VTD_FSTS_PFO) {
		m->faults_dropped++;
		return;
	}
	if (m->frcd_hi[i] & VTD_FRCD_HI_F) {
		/* QEMU: same source while F=1 is compressed; another sets PFO */
		m->faults_dropped++;
		if (VTD_FRCD_HI_SID(m->frcd_hi[i]) != sid) {
			m->fsts |= VTD_FSTS_PFO;
			fault_event(m, before);
		}
		return;
	}
	m->frcd_lo[i] = reason >= 0x20 ? addr : addr & ~0xfffull;
	m->frcd_hi[i] =
		VTD_FRCD_HI_F | (is_read ? VTD_FRCD_HI_T : 0) | ((uint64_t)reason << 32) | sid;
	m->frcd_next = (i + 1) % nfr(m);
	update_ppf(m);
	fault_event(m, before);
}

void vtd_model_inject_fault(uint16_t sid, uint64_t addr, uint8_t reason, bool is_read)
{
	vtd_model_inject_fault_on(current, sid, addr, reason, is_read);
}

/* ---------------------------------------------------------------- harness */
#include "arch/x86/irq.h"
#include "drivers/pci.h"
#include "iommu/vtd/fault.h"
#include "console/console.h"
#include "kernel/frame.h"

struct pci_dev vtd_test_pci[VTD_TEST_NPCI];
bool vtd_test_bm_off[VTD_TEST_NPCI];
unsigned vtd_test_npci;
int vtd_test_irq_result = 0x40;
void (*vtd_test_irq_fn)(unsigned, void *);
void *vtd_test_irq_ctx;
unsigned vtd_test_irq_freed;

int irq_alloc_vector(irq_handler_fn fn, void *ctx)
{
	if (vtd_test_irq_result >= 0) {
		vtd_test_irq_fn = fn;
		vtd_test_irq_ctx = ctx;
	}
	return vtd_test_irq_result;
}
void irq_free_vector(unsigned vector) { vtd_test_irq_freed++; }
uint64_t irq_msi_compat_addr(void) { return 0xfee00000ull; }
uint32_t irq_msi_compat_data(unsigned vector) { return vector; }

unsigned pci_count(void) { return vtd_test_npci; }
struct pci_dev *pci_at(unsigned i) { return i < vtd_test_npci ? &vtd_test_pci[i] : NULL; }
struct pci_dev *pci_find(uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	for (unsigned i = 0; i < vtd_test_npci; i++) {
		struct pci_dev *d = &vtd_test_pci[i];
		if (d->seg == seg && d->bus == bus && d->dev == dev && d->fn == fn)
			return d;
	}
	return NULL;
}
void pci_set_bus_master(struct pci_dev *d, bool on) { vtd_test_bm_off[d - vtd_test_pci] = !on; }

#define FRAME_MEM (64ull << 20)
static void *frame_mem;

void vtd_test_frames(void)
{
	if (!frame_mem) {
		frame_mem = aligned_alloc(1 << 21, FRAME_MEM);
		if (!frame_mem)
			abort();
	}
	frame_init();
	if (frame_add_range((uint64_t)(uintptr_t)frame_mem, FRAME_MEM))
		abort();
}

uint64_t vtd_test_iopt_bytes(void)
{
	struct frame_stats s;
	frame_stats(&s);
	return s.iopt;
}

int vtd_test_bringup(struct vtd_model *m, const struct vtd_unit_cfg *cfg, struct vtd_unit **u)
{
	fake_mmio_clear();
	vtd_model_install(m);
	return vtd_unit_init(m->base, 0, 0, cfg, u);
}

void vtd_test_teardown(void)
{
	vtd_reset_all();
	vtd_failed_reset();
	vtd_fault_reset();
	memset(&vtd_stats, 0, sizeof(vtd_stats));
	memset(vtd_test_bm_off, 0, sizeof(vtd_test_bm_off));
	vtd_test_npci = 0;
	vtd_test_irq_result = 0x40;
	vtd_test_irq_fn = NULL;
	fake_mmio_clear();
}
