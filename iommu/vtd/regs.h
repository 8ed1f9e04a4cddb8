/*
 * iommu/vtd/regs.h — Intel VT-d remapping-hardware registers and
 * memory-resident structure formats, named as in the VT-d specification
 * (rev. 4.x, chapter 11 "Register Descriptions" and chapter 9 "Translation
 * Structure Formats").  Only what sluice uses lives here.
 *
 * Access width matters: 11.2 has 32-bit registers accessed as aligned
 * doublewords (QEMU 7.2 aborts on a 64-bit access to one), so every
 * register below is marked with the width the driver must use.
 *
 * Private to iommu/vtd/ (and host tests).
 */
#ifndef SLUICE_IOMMU_VTD_REGS_H
#define SLUICE_IOMMU_VTD_REGS_H

#include <stdint.h>

/* ---- register offsets (11.4) ---------------------------------------- */
#define VTD_VER_REG 0x00     /* 32 */
#define VTD_CAP_REG 0x08     /* 64 */
#define VTD_ECAP_REG 0x10    /* 64 */
#define VTD_GCMD_REG 0x18    /* 32, write-only */
#define VTD_GSTS_REG 0x1c    /* 32 */
#define VTD_RTADDR_REG 0x20  /* 64 */
#define VTD_CCMD_REG 0x28    /* 64 */
#define VTD_FSTS_REG 0x34    /* 32 */
#define VTD_FECTL_REG 0x38   /* 32 */
#define VTD_FEDATA_REG 0x3c  /* 32 */
#define VTD_FEADDR_REG 0x40  /* 32 */
#define VTD_FEUADDR_REG 0x44 /* 32 */
#define VTD_PMEN_REG 0x64    /* 32 */
#define VTD_IQH_REG 0x80     /* 64 */
#define VTD_IQT_REG 0x88     /* 64 */
#define VTD_IQA_REG 0x90     /* 64 */
#define VTD_ICS_REG 0x9c     /* 32 */
#define VTD_IECTL_REG 0xa0   /* 32 */
#define VTD_IRTA_REG 0xb8    /* 64 */
#define VTD_REG_SIZE 0x1000

/* ---- VER (11.4.1) ---------------------------------------------------- */
#define VTD_VER_MAJOR(v) (((v) >> 4) & 0xf)
#define VTD_VER_MINOR(v) ((v)&0xf)

/* ---- CAP (11.4.2) ---------------------------------------------------- */
#define VTD_CAP_ND(c) ((unsigned)((c)&0x7)) /* 2^(4+2*ND) domains */
#define VTD_CAP_RWBF (1ull << 4)
#define VTD_CAP_PLMR (1ull << 5)
#define VTD_CAP_PHMR (1ull << 6)
#define VTD_CAP_CM (1ull << 7)
#define VTD_CAP_SAGAW(c) ((unsigned)(((c) >> 8) & 0x1f)) /* bit1 39b/3lvl, bit2 48b/4lvl */
#define VTD_CAP_MGAW(c) ((unsigned)(((c) >> 16) & 0x3f) + 1)
#define VTD_CAP_FRO(c) ((unsigned)(((c) >> 24) & 0x3ff) * 16)
#define VTD_CAP_SLLPS(c) ((unsigned)(((c) >> 34) & 0xf)) /* bit0 2M, bit1 1G */
#define VTD_CAP_PSI (1ull << 39)
#define VTD_CAP_NFR(c) ((unsigned)(((c) >> 40) & 0xff) + 1)
#define VTD_CAP_MAMV(c) ((unsigned)(((c) >> 48) & 0x3f))
#define VTD_CAP_DWD (1ull << 54)
#define VTD_CAP_DRD (1ull << 55)
#define VTD_CAP_ESIRTPS (1ull << 62)
#define VTD_CAP_ESRTPS (1ull << 63)

/* ---- ECAP (11.4.3) --------------------------------------------------- */
#define VTD_ECAP_C (1ull << 0)
#define VTD_ECAP_QI (1ull << 1)
#define VTD_ECAP_DT (1ull << 2)
#define VTD_ECAP_IR (1ull << 3)
#define VTD_ECAP_EIM (1ull << 4)
#define VTD_ECAP_PT (1ull << 6)
#define VTD_ECAP_SC (1ull << 7)
#define VTD_ECAP_IRO(e) ((unsigned)(((e) >> 8) & 0x3ff) * 16)

/* ---- GCMD / GSTS (11.4.4, 11.4.5): same bit positions ---------------- */
#define VTD_GCMD_TE (1u << 31)
#define VTD_GCMD_SRTP (1u << 30)
#define VTD_GCMD_SFL (1u << 29)
#define VTD_GCMD_EAFL (1u << 28)
#define VTD_GCMD_WBF (1u << 27)
#define VTD_GCMD_QIE (1u << 26)
#define VTD_GCMD_IRE (1u << 25)
#define VTD_GCMD_SIRTP (1u << 24)
#define VTD_GCMD_CFI (1u << 23)
#define VTD_GSTS_TES VTD_GCMD_TE
#define VTD_GSTS_RTPS VTD_GCMD_SRTP
#define VTD_GSTS_FLS VTD_GCMD_SFL
#define VTD_GSTS_AFLS VTD_GCMD_EAFL
#define VTD_GSTS_WBFS VTD_GCMD_WBF
#define VTD_GSTS_QIES VTD_GCMD_QIE
#define VTD_GSTS_IRES VTD_GCMD_IRE
#define VTD_GSTS_IRTPS VTD_GCMD_SIRTP
#define VTD_GSTS_CFIS VTD_GCMD_CFI
/* One-shot command bits: never carried over from GSTS into the next GCMD
 * write (11.4.4: "software must ... preserve the other bits"; the status
 * bits of one-shot commands do not mean "keep doing it"). */
#define VTD_GCMD_ONESHOT (VTD_GCMD_SRTP | VTD_GCMD_SFL | VTD_GCMD_WBF | VTD_GCMD_SIRTP)

/* ---- CCMD (11.4.6, 64-bit) ------------------------------------------- */
#define VTD_CCMD_ICC (1ull << 63)
#define VTD_CCMD_CIRG_SHIFT 61
#define VTD_CCMD_CAIG_SHIFT 59
#define VTD_CCMD_FM_SHIFT 32
#define VTD_CCMD_SID_SHIFT 16

/* ---- IOTLB register (11.4.8.1, at ECAP.IRO + 8) and IVA (at ECAP.IRO) -- */
#define VTD_IOTLB_IVT (1ull << 63)
#define VTD_IOTLB_IIRG_SHIFT 60
#define VTD_IOTLB_IAIG_SHIFT 57
#define VTD_IOTLB_DR (1ull << 49)
#define VTD_IOTLB_DW (1ull << 48)
#define VTD_IOTLB_DID_SHIFT 32
#define VTD_IVA_IH (1ull << 6)

/* ---- FSTS (11.4.7.1) ------------------------------------------------- */
#define VTD_FSTS_PFO (1u << 0)
#define VTD_FSTS_PPF (1u << 1)
#define VTD_FSTS_AFO (1u << 2)
#define VTD_FSTS_APF (1u << 3)
#define VTD_FSTS_IQE (1u << 4)
#define VTD_FSTS_ICE (1u << 5)
#define VTD_FSTS_ITE (1u << 6)
#define VTD_FSTS_FRI(f) (((f) >> 8) & 0xff)

/* ---- FECTL (11.4.7.2) ------------------------------------------------ */
#define VTD_FECTL_IM (1u << 31)
#define VTD_FECTL_IP (1u << 30)

/* ---- Fault recording register (11.4.14), 128 bits ------------------- */
/* low qword at +0: FI[63:12] (DMA) or interrupt index in [63:48] (IR) */
#define VTD_FRCD_HI_F (1ull << 63) /* high qword, at +8 */
#define VTD_FRCD_HI_T (1ull << 62) /* 1 = read request */
#define VTD_FRCD_HI_FR(h) ((uint8_t)((h) >> 32))
#define VTD_FRCD_HI_SID(h) ((uint16_t)(h))
#define VTD_FRCD_F_DWORD 0xc /* 32-bit RW1C access to F at +12 */
#define VTD_FRCD_F_DWORD_BIT 0x80000000u

/* ---- PMEN (11.4.13) -------------------------------------------------- */
#define VTD_PMEN_EPM (1u << 31)
#define VTD_PMEN_PRS (1u << 0)

/* ---- IQA (11.4.9.3) -------------------------------------------------- */
#define VTD_IQA_QS_MASK 0x7ull	     /* 2^QS pages of 256 descriptors */
#define VTD_IQ_INDEX_SHIFT 4	     /* IQH/IQT hold index << 4 (128-bit) */
#define VTD_IQ_INDEX_MASK 0x7fff0ull /* bits 18:4 */

/* ---- root / context entries (9.1, 9.3), legacy mode ------------------ */
#define VTD_ROOT_P 1ull
#define VTD_CTX_LO_P (1ull << 0)
#define VTD_CTX_LO_FPD (1ull << 1)
#define VTD_CTX_LO_TT_SHIFT 2		     /* 00b: untranslated only via SL tables */
#define VTD_CTX_HI_AW(aw) ((uint64_t)(aw)&7) /* 1: 39-bit 3 levels, 2: 48-bit 4 levels */
#define VTD_CTX_HI_DID_SHIFT 8
#define VTD_PAGE_MASK (~0xfffull)

/* ---- invalidation descriptors (6.5.2), 128-bit legacy format -------- */
#define VTD_INV_CC 0x1ull
#define VTD_INV_IOTLB 0x2ull
#define VTD_INV_DEVTLB 0x3ull
#define VTD_INV_IEC 0x4ull
#define VTD_INV_WAIT 0x5ull
#define VTD_INV_TYPE(lo) ((unsigned)((lo)&0xf))
/* granularity field at bits 5:4 for context-cache and IOTLB descriptors */
#define VTD_INV_G_GLOBAL (1ull << 4)
#define VTD_INV_G_DOMAIN (2ull << 4)
#define VTD_INV_G_DEVICE (3ull << 4) /* context: device; IOTLB: page */
#define VTD_INV_G_PAGE VTD_INV_G_DEVICE
#define VTD_INV_G(lo) (((lo) >> 4) & 3)
#define VTD_INV_DID_SHIFT 16
#define VTD_INV_CC_SID_SHIFT 32
#define VTD_INV_CC_FM_SHIFT 48
#define VTD_INV_IOTLB_DW (1ull << 6)
#define VTD_INV_IOTLB_DR (1ull << 7)
#define VTD_INV_IOTLB_IH (1ull << 6)	/* in hi */
#define VTD_INV_IEC_G_INDEX (1ull << 4) /* 0: global */
#define VTD_INV_IEC_IM_SHIFT 27
#define VTD_INV_IEC_IIDX_SHIFT 32
#define VTD_INV_DEVTLB_SID_SHIFT 32
#define VTD_INV_DEVTLB_QDEP_SHIFT 16
#define VTD_INV_DEVTLB_S 1ull /* in hi: size bit */
#define VTD_INV_WAIT_IF (1ull << 4)
#define VTD_INV_WAIT_SW (1ull << 5)
#define VTD_INV_WAIT_FN (1ull << 6)
#define VTD_INV_WAIT_PD (1ull << 7)
#define VTD_INV_WAIT_DATA_SHIFT 32

#endif
