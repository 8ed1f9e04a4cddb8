/*
 * vm/kvmclock.h — the KVM paravirtual clock a Linux guest uses as its time
 * source (Linux Documentation/virt/kvm/x86/msr.rst, cpuid.rst): the
 * per-vCPU pvclock_vcpu_time_info the guest registers with
 * MSR_KVM_SYSTEM_TIME_NEW, the wall clock it asks for with
 * MSR_KVM_WALL_CLOCK_NEW, and the KVM CPUID leaves that make the guest
 * look for them.
 *
 * The guest computes, from a consistent snapshot (version even and
 * unchanged around the read):
 *     delta = rdtsc() - tsc_timestamp
 *     delta = tsc_shift >= 0 ? delta << tsc_shift : delta >> -tsc_shift
 *     ns    = system_time + ((delta * tsc_to_system_mul) >> 32)   (128-bit product)
 *
 * Pure code: it writes the structures into memory the caller points at
 * (the guest's RAM); tests/unit/test_kvmclock.c checks the arithmetic.
 */
#ifndef SLUICE_VM_KVMCLOCK_H
#define SLUICE_VM_KVMCLOCK_H

#include <stdint.h>

#include "lib/err.h"

#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_SYSTEM_TIME_ENABLE 1ull /* bit 0 of the MSR; bits 63:1 the GPA */

#define PVCLOCK_TSC_STABLE_BIT (1u << 0)

/* CPUID leaves (cpuid.rst). */
#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_NOP_IO_DELAY (1u << 1)
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)

#define PVCLOCK_VCPU_TIME_INFO_SIZE 32
#define PVCLOCK_WALL_CLOCK_SIZE 12

/* struct pvclock_vcpu_time_info (msr.rst), little-endian, 32 bytes. */
struct pvclock_vcpu_time_info {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((packed));

/* struct pvclock_wall_clock: the wall-clock time at system_time 0. */
struct pvclock_wall_clock {
	uint32_t version;
	uint32_t sec;
	uint32_t nsec;
} __attribute__((packed));

/* The scaling for a TSC of tsc_hz (> 0): ns = ((tsc shifted) * mul) >> 32,
 * with mul in [2^31, 2^32) for the most precision.  tsc_hz 0 gives 0, 0. */
void kvmclock_params(uint64_t tsc_hz, uint32_t *mul, int8_t *shift);

/* Writes a pvclock_vcpu_time_info at pvti: at TSC tsc_now the guest's
 * clock reads system_ns.  The version goes odd while the fields change and
 * ends as the next even number after `version` (the value the structure
 * held), so a guest reading concurrently retries. */
void kvmclock_fill(void *pvti, uint64_t tsc_now, uint64_t system_ns, uint64_t tsc_hz,
		   uint32_t version);

/* Writes a pvclock_wall_clock at wc: wall_ns_at_zero is the time since
 * the epoch (ns) at which the guest's system_time was 0; version as above. */
void kvmclock_wall_fill(void *wc, uint64_t wall_ns_at_zero, uint32_t version);

/* The KVM CPUID leaves sluice offers (signature, features): 0 and
 * out = {eax, ebx, ecx, edx}; -ENOENT for any other leaf. */
MUST_CHECK int kvmclock_cpuid(uint32_t leaf, uint32_t out[4]);

#endif
