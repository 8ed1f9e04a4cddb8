/*
 * drivers/pci_regs.h — PCI / PCIe configuration-space constants, named as
 * in the PCI Local Bus Spec 3.0, the PCI-to-PCI Bridge Spec 1.2 and the
 * PCI Express Base Spec (the same names Linux's pci_regs.h uses).
 * Only what sluice uses lives here.
 */
#ifndef SLUICE_DRIVERS_PCI_REGS_H
#define SLUICE_DRIVERS_PCI_REGS_H

#define PCI_CFG_SPACE_SIZE 256u	     /* conventional space */
#define PCI_CFG_SPACE_EXP_SIZE 4096u /* PCIe extended space (ECAM) */

/* Common header (type 0 and 1) */
#define PCI_VENDOR_ID 0x00 /* 16 bits; 0xffff = no function */
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04	    /* 16 bits */
#define PCI_COMMAND_IO 0x0001u	    /* I/O space decode */
#define PCI_COMMAND_MEMORY 0x0002u  /* memory space decode */
#define PCI_COMMAND_MASTER 0x0004u  /* Bus Master Enable */
#define PCI_STATUS 0x06		    /* 16 bits, error bits RW1C */
#define PCI_STATUS_CAP_LIST 0x0010u /* capability list at PCI_CAPABILITY_LIST */
#define PCI_CLASS_REVISION 0x08	    /* revision 7:0, class code 31:8 */
#define PCI_HEADER_TYPE 0x0e	    /* 8 bits */
#define PCI_HEADER_TYPE_MASK 0x7fu
#define PCI_HEADER_TYPE_NORMAL 0
#define PCI_HEADER_TYPE_BRIDGE 1
#define PCI_HEADER_TYPE_CARDBUS 2
#define PCI_HEADER_TYPE_MFD 0x80u /* multi-function device (on function 0) */

#define PCI_BASE_ADDRESS_0 0x10
#define PCI_STD_NUM_BARS 6    /* type 0 */
#define PCI_BRIDGE_NUM_BARS 2 /* type 1 */
#define PCI_BASE_ADDRESS_SPACE_IO 0x01u
#define PCI_BASE_ADDRESS_MEM_TYPE_MASK 0x06u
#define PCI_BASE_ADDRESS_MEM_TYPE_32 0x00u
#define PCI_BASE_ADDRESS_MEM_TYPE_1M 0x02u /* legacy "below 1M", treat as 32 */
#define PCI_BASE_ADDRESS_MEM_TYPE_64 0x04u
#define PCI_BASE_ADDRESS_MEM_PREFETCH 0x08u
#define PCI_BASE_ADDRESS_MEM_MASK (~0x0fu)
#define PCI_BASE_ADDRESS_IO_MASK (~0x03u)

#define PCI_CAPABILITY_LIST 0x34 /* type 0 and 1: first capability pointer */
#define PCI_INTERRUPT_LINE 0x3c	 /* 8 bits */

/* Type 1 (PCI-to-PCI bridge) header */
#define PCI_PRIMARY_BUS 0x18
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBORDINATE_BUS 0x1a

/* Capability IDs (PCI Code and ID Assignment Spec) */
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_EXP 0x10 /* PCI Express */
#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_AF 0x13 /* PCI Advanced Features (conventional FLR) */
#define PCI_CAP_LIST_ID 0   /* offset of the ID byte */
#define PCI_CAP_LIST_NEXT 1 /* offset of the next pointer */
#define PCI_FIND_CAP_TTL 48 /* bound on the list walk (as Linux) */

/* PCI Express capability */
#define PCI_EXP_FLAGS 0x02	   /* 16 bits */
#define PCI_EXP_FLAGS_TYPE 0x00f0u /* Device/Port Type */
#define PCI_EXP_TYPE_ENDPOINT 0x0
#define PCI_EXP_TYPE_LEG_END 0x1 /* legacy endpoint */
#define PCI_EXP_TYPE_ROOT_PORT 0x4
#define PCI_EXP_TYPE_UPSTREAM 0x5
#define PCI_EXP_TYPE_DOWNSTREAM 0x6
#define PCI_EXP_TYPE_PCI_BRIDGE 0x7  /* PCIe-to-PCI/PCI-X bridge */
#define PCI_EXP_TYPE_PCIE_BRIDGE 0x8 /* PCI/PCI-X-to-PCIe bridge */
#define PCI_EXP_TYPE_RC_END 0x9	     /* root-complex integrated endpoint */
#define PCI_EXP_TYPE_RC_EC 0xa	     /* root-complex event collector */
#define PCI_EXP_DEVCAP 0x04		   /* 32 bits */
#define PCI_EXP_DEVCAP_FLR 0x10000000u	   /* Function Level Reset Capability */
#define PCI_EXP_DEVCTL 0x08		   /* 16 bits */
#define PCI_EXP_DEVCTL_BCR_FLR 0x8000u	   /* Initiate Function Level Reset (reads 0) */
#define PCI_EXP_DEVSTA 0x0a		   /* 16 bits */
#define PCI_EXP_DEVSTA_TRPND 0x0020u	   /* Transactions Pending */

/* Advanced Features capability (PCI AF ECN): 8-bit registers */
#define PCI_AF_CAP 3
#define PCI_AF_CAP_TP 0x01u /* Transactions Pending bit supported */
#define PCI_AF_CAP_FLR 0x02u
#define PCI_AF_CTRL 4
#define PCI_AF_CTRL_FLR 0x01u /* Initiate FLR */
#define PCI_AF_STATUS 5
#define PCI_AF_STATUS_TP 0x01u

/* Extended capabilities (PCIe Base Spec 7.6): header dword at 0x100 */
#define PCI_EXT_CAP_START 0x100
#define PCI_EXT_CAP_ID(h) ((h)&0xffffu)
#define PCI_EXT_CAP_NEXT(h) (((h) >> 20) & 0xffcu)
#define PCI_EXT_CAP_ID_ACS 0x000d
#define PCI_EXT_CAP_ID_ATS 0x000f
#define PCI_EXT_CAP_ID_PRI 0x0013
#define PCI_EXT_CAP_ID_PASID 0x001b
/* ACS extended capability (PCIe Base Spec 7.7.11): 16-bit registers */
#define PCI_ACS_CAP 0x04   /* ACS Capability Register */
#define PCI_ACS_CTRL 0x06  /* ACS Control Register */
#define PCI_ACS_SV 0x0001u /* Source Validation */
#define PCI_ACS_TB 0x0002u /* Translation Blocking */
#define PCI_ACS_RR 0x0004u /* P2P Request Redirect */
#define PCI_ACS_CR 0x0008u /* P2P Completion Redirect */
#define PCI_ACS_UF 0x0010u /* Upstream Forwarding */
#define PCI_ACS_EC 0x0020u /* P2P Egress Control */
#define PCI_ACS_DT 0x0040u /* Direct Translated P2P */
/* (4096 - 256) / 8: the most headers the extended space can hold */
#define PCI_EXT_CAP_TTL 480

/* ECAM (PCIe Base Spec 7.2.2): 4 KiB per function, 1 MiB per bus. */
#define PCI_ECAM_BUS_SHIFT 20
#define PCI_ECAM_DEV_SHIFT 15
#define PCI_ECAM_FN_SHIFT 12

#define PCI_MAX_DEV 32
#define PCI_MAX_FN 8

#endif
