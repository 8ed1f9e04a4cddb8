/*
 * vm/mptable.h — an Intel MultiProcessor Specification 1.4 table for a
 * guest: the MP floating pointer structure ("_MP_") followed by the MP
 * configuration table ("PCMP") with one processor entry per vCPU (APIC IDs
 * 0..ncpus-1, CPU 0 the bootstrap processor), one ISA bus, no I/O APIC and
 * no interrupt assignment entries, the local APIC at 0xFEE00000 and IMCR
 * absent (feature byte 2 = 0, so the guest never touches ports 0x22/0x23).
 *
 * Linux finds it by scanning the last KiB below 640 KiB (or the BIOS area)
 * and then drives the local APIC in symmetric I/O mode with it; without an
 * MP table or an ACPI MADT it would fall back to virtual wire mode.
 * Pure code over a buffer: tests/unit/test_mptable.c.
 */
#ifndef SLUICE_VM_MPTABLE_H
#define SLUICE_VM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define MPTABLE_LAPIC_ADDR 0xfee00000u
#define MPTABLE_MAX_CPUS 255 /* APIC IDs are one byte; 0xFF is broadcast */

/* Bytes the table takes for ncpus processors. */
size_t mptable_size(unsigned ncpus);

/* Writes the floating pointer at buf (guest-physical gpa, 16-byte aligned,
 * below 4 GiB) and the configuration table right after it; *used gets the
 * bytes written.  -EINVAL bad ncpus (0 or above MPTABLE_MAX_CPUS) or gpa,
 * -ENOSPC when it does not fit in len bytes. */
int mptable_build(void *buf, size_t len, uint64_t gpa, unsigned ncpus, size_t *used) MUST_CHECK;

#endif
