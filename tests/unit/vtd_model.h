/*
 * tests/unit/vtd_model.h — a register model of one VT-d unit that behaves
 * like QEMU 7.2's intel-iommu (hw/i386/intel_iommu.c):
 *  - VER/CAP/ECAP configurable (defaults CAP 0x00d2008c22260206,
 *    ECAP 0xf00f4a);
 *  - GCMD -> GSTS: TE/QIE/IRE act on a change, SRTP/SIRTP whenever set
 *    (RTPS/IRTPS stay set), WBF/SFL ignored;
 *  - abort() on a 64-bit access to a 32-bit register, and on a wait
 *    descriptor with SW and IF (as QEMU does);
 *  - queued invalidation processed synchronously in the IQT write, with
 *    QEMU's reserved-bit checks; IQE leaves IQH at the bad descriptor;
 *  - register-based invalidation, ignored while QIE (ICC/IVT stay set);
 *  - fault recording registers the test fills with vtd_model_inject_fault.
 * Knobs let a test make the hardware misbehave (stuck GSTS bits, a queue
 * that never advances or stops at a context-cache descriptor, an ITE).
 */
#ifndef SLUICE_TESTS_UNIT_VTD_MODEL_H
#define SLUICE_TESTS_UNIT_VTD_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define VTD_MODEL_DEFAULT_CAP 0x00d2008c22260206ull
#define VTD_MODEL_DEFAULT_ECAP 0x0000000000f00f4aull
#define VTD_MODEL_MAX_FRCD 8
#define VTD_MODEL_LOG 1024

struct vtd_model_access {
	uint32_t off;
	uint8_t size;
	bool write;
	uint64_t val;
};

struct vtd_model {
	uint64_t base;
	uint32_t ver;
	uint64_t cap, ecap;
	uint32_t gsts;
	uint64_t rtaddr, rtaddr_latched;
	uint64_t ccmd, iotlb, iva;
	uint32_t fsts, fectl, fedata, feaddr, feuaddr;
	uint32_t pmen, plmbase, plmlimit;
	uint64_t phmbase, phmlimit;
	uint64_t iqh, iqt, iqa, iqercd;
	uint32_t ics, iectl, iedata, ieaddr, ieuaddr;
	uint64_t irta, irta_latched;
	uint64_t frcd_lo[VTD_MODEL_MAX_FRCD], frcd_hi[VTD_MODEL_MAX_FRCD];
	unsigned frcd_next;

	/* knobs */
	uint32_t gsts_stuck; /* GSTS bits that never follow a command */
	bool qi_hang;	     /* IQT writes are recorded but never processed */
	bool cc_hang;	     /* the queue stops at a context-cache descriptor (IQH stays) */
	bool qie_off_pending; /* GCMD.QIE=0 takes effect with IQH != IQT (QEMU refuses) */
	bool reg_inv_hang;   /* ICC/IVT never clear */
	bool pmr_stuck;	     /* PMEN.PRS never clears */
	unsigned ite_once;   /* the next N SW waits are aborted with ITE */

	/* what happened */
	uint32_t gcmd_log[64], gcmd_gsts_before[64];
	unsigned ngcmd;
	unsigned gcmd_multibit; /* GCMD writes that changed more than one bit */
	unsigned srtp, sirtp, wbf, te_on_count;
	uint64_t rtaddr_at_te; /* latched root when TE went on */
	bool qie_before_te;
	struct vtd_model_access log[VTD_MODEL_LOG];
	unsigned nlog;
	struct {
		uint64_t lo, hi;
	} desc[VTD_MODEL_LOG];
	unsigned ndesc;
	unsigned iqt_writes;
	unsigned cc_global, cc_domain, cc_device;
	unsigned iotlb_global, iotlb_dsi, iotlb_psi;
	unsigned devtlb, iec, waits, iqe;
	unsigned reg_cc, reg_iotlb, reg_ignored;
	unsigned fault_events;	 /* fault-event MSIs that would fire */
	unsigned faults_dropped; /* compressed (same SID) or overflowed */
};

/* Sets the QEMU reset state (FECTL.IM=1, IECTL.IM=1) and default ids. */
void vtd_model_init(struct vtd_model *m, uint64_t base);
/* Installs m as the MMIO model for [base, base+0x1000) and makes it the
 * model vtd_model_inject_fault() acts on. */
void vtd_model_install(struct vtd_model *m);
/* What the unit does with a DMA request from rid to iova, walking the root
 * table it latched (SRTP) and the tables below as the hardware would: 0 and
 * *pa if translation is on and the request (a write if write) is allowed,
 * -1 if it faults. */
int vtd_model_translate(const struct vtd_model *m, uint16_t rid, uint64_t iova, bool write,
			uint64_t *pa);
/* Records a DMA (or IR, reason >= 0x20) fault as QEMU's vtd_record_frcd. */
void vtd_model_inject_fault(uint16_t sid, uint64_t addr, uint8_t reason, bool is_read);
void vtd_model_inject_fault_on(struct vtd_model *m, uint16_t sid, uint64_t addr, uint8_t reason,
			       bool is_read);
/* Index in m->log of the first write to off after index from, or -1. */
int vtd_model_find_write(const struct vtd_model *m, uint32_t off, unsigned from);

#endif

/* ---- test harness shared by test_vtd*.c and test_qi.c ----------------
 * Stubs for arch/x86/irq.h and drivers/pci.h (only what the VT-d driver
 * calls), frame memory for kernel/frame.c, and bring-up helpers. */
#include "drivers/pci.h"
#include "iommu/vtd/vtd_priv.h"

#define VTD_TEST_BASE 0xfed90000ull
#define VTD_TEST_NPCI 8
extern struct pci_dev vtd_test_pci[VTD_TEST_NPCI];
extern bool vtd_test_bm_off[VTD_TEST_NPCI]; /* pci_set_bus_master(dev, false) seen */
extern unsigned vtd_test_npci;
extern int vtd_test_irq_result; /* < 0: irq_alloc_vector fails with it */
extern void (*vtd_test_irq_fn)(unsigned, void *);
extern void *vtd_test_irq_ctx;
extern unsigned vtd_test_irq_freed;

/* frame allocator over 64 MiB of host memory (once), fresh state each call */
void vtd_test_frames(void);
/* bytes of FRAME_IOPT memory currently allocated */
uint64_t vtd_test_iopt_bytes(void);
/* clears MMIO models, installs m at VTD_TEST_BASE (after vtd_model_init)
 * and brings the unit up; returns vtd_unit_init's result */
int vtd_test_bringup(struct vtd_model *m, const struct vtd_unit_cfg *cfg, struct vtd_unit **u);
/* shuts every unit down, resets faults, stats and stubs */
void vtd_test_teardown(void);
/* runs a console command through the registered COMMAND table */
