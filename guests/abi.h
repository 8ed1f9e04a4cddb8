/*
 * guests/abi.h — what a built-in guest and sluice agree on (docs/guests.md):
 * the entry state, the memory layout, the hypercall ABI.  Shared by the
 * freestanding guests (guests/<name>/) and the VM code (vm/); only
 * <stdint.h> types, no sluice headers.
 *
 * Entry: 64-bit long mode, paging on with the identity map of the first
 * 4 GiB in 2 MiB pages that sluice builds at GUEST_PT_BASE; flat 64-bit CS,
 * flat data segments (the guest loads its own GDT and IDT before it takes
 * an interrupt); RFLAGS = 0x2 (interrupts off); RIP = GUEST_LOAD (the first
 * byte of the image); RSP = GUEST_STACK_TOP; RDI = bytes of guest RAM
 * (guest-physical [0, RDI), minus nothing); RSI = 0.
 *
 * Devices: COM1 at 0x3F8 (THR writes print, a '\n' ends a `[vm<id>] ...`
 * line; LSR at 0x3FD reads THRE|TEMT), PCI configuration mechanism 1 at
 * 0xCF8/0xCFC over bus 0 (the passed-through devices; vm/vpci.h), and
 * injected interrupts: the vector the guest wrote in a device's MSI data,
 * delivered through the guest's IDT, edge, no EOI needed (a write to the
 * x2APIC EOI MSR 0x80B is accepted and ignored).
 *
 * Hypercalls: VMMCALL with the number in RAX and arguments in RDI, RSI,
 * RDX; the result (0 or a negative errno) comes back in RAX.
 */
#ifndef SLUICE_GUESTS_ABI_H
#define SLUICE_GUESTS_ABI_H

#define GUEST_PT_BASE 0x1000ull	 /* PML4; PDPT at +0x1000; 4 PDs at +0x2000.. */
#define GUEST_PT_END 0x7000ull
#define GUEST_STACK_TOP 0x80000ull
#define GUEST_LOAD 0x100000ull	 /* image load address = entry point */
#define GUEST_IMAGE_MAX 0x100000ull /* 1 MiB */
#define GUEST_MIN_RAM 0x400000ull  /* 4 MiB */

/* Hypercall numbers (RAX). */
#define HC_PRINT 0  /* (gpa, len): one line of output, len <= 256; no '\n' needed */
#define HC_EXIT 1   /* (code): the VM exits, reason exit:<code> */
#define HC_HINT 2   /* (gpa, size): free-page hint, page aligned; a CPU access
		     * to hinted memory brings it back fresh and zeroed, a device
		     * access is blocked */
#define HC_UNHINT 3 /* (gpa, size): take hinted memory back: fresh, zeroed */

/* Errno values in RAX (negated). */
#define HC_EINVAL 22
#define HC_ENOSYS 38
#define HC_EFAULT 14
#define HC_ENOMEM 12

#endif
