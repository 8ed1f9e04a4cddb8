/*
 * vm/kvmclock.c — the pvclock structures a KVM-aware guest reads its time
 * from (Linux Documentation/virt/kvm/x86/msr.rst).
 */
#include "vm/kvmclock.h"

#include <stddef.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000ull

/* ns per tick = 1e9 / hz = mul * 2^shift / 2^32 (mul < 2^32).  The
 * smallest shift with hz * 2^shift > 1e9 puts mul in [2^31, 2^32): its
 * rounding error is below 2^-31 of the rate. */
void kvmclock_params(uint64_t tsc_hz, uint32_t *mul, int8_t *shift)
{
	int s = 0;

	*mul = 0;
	*shift = 0;
	if (!tsc_hz)
		return;
	if (tsc_hz > NSEC_PER_SEC) /* while s - 1 still gives hz * 2^(s-1) > 1e9 */
		while ((unsigned __int128)tsc_hz > (unsigned __int128)NSEC_PER_SEC << (1 - s))
			s--;
	else
		while (((unsigned __int128)tsc_hz << s) <= NSEC_PER_SEC)
			s++;
	/* mul = 1e9 * 2^32 / (hz * 2^s) */
	unsigned __int128 num = (unsigned __int128)NSEC_PER_SEC << 32;

	*mul = (uint32_t)(s >= 0 ? num / ((unsigned __int128)tsc_hz << s) : (num << -s) / tsc_hz);
	*shift = (int8_t)s;
}

/* msr.rst: odd while the host updates, even when consistent. */
static uint32_t version_begin(uint32_t version) { return version | 1; }

static void store(void *base, size_t off, const void *v, size_t n)
{
	memcpy((char *)base + off, v, n); /* the guest may not align it */
}

static void publish(void *base, uint32_t v)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store(base, 0, &v, sizeof(v));
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void kvmclock_fill(void *pvti, uint64_t tsc_now, uint64_t system_ns, uint64_t tsc_hz,
		   uint32_t version)
{
	struct pvclock_vcpu_time_info t;
	uint32_t odd = version_begin(version), mul;
	int8_t shift;

	publish(pvti, odd);
	memset(&t, 0, sizeof(t));
	t.version = odd;
	t.tsc_timestamp = tsc_now;
	t.system_time = system_ns;
	kvmclock_params(tsc_hz, &mul, &shift);
	t.tsc_to_system_mul = mul;
	t.tsc_shift = shift;
	t.flags = PVCLOCK_TSC_STABLE_BIT; /* one vCPU, one TSC: never goes back */
	store(pvti, offsetof(struct pvclock_vcpu_time_info, pad0), &t.pad0,
	      sizeof(t) - offsetof(struct pvclock_vcpu_time_info, pad0));
	publish(pvti, odd + 1);
}

void kvmclock_wall_fill(void *wc, uint64_t wall_ns_at_zero, uint32_t version)
{
	uint32_t odd = version_begin(version);
	uint32_t sec = (uint32_t)(wall_ns_at_zero / NSEC_PER_SEC);
	uint32_t nsec = (uint32_t)(wall_ns_at_zero % NSEC_PER_SEC);

	publish(wc, odd);
	store(wc, offsetof(struct pvclock_wall_clock, sec), &sec, sizeof(sec));
	store(wc, offsetof(struct pvclock_wall_clock, nsec), &nsec, sizeof(nsec));
	publish(wc, odd + 1);
}

/* cpuid.rst: EAX of the signature leaf is the highest KVM leaf.  Only
 * what the guest needs is offered: the new kvmclock MSRs, its stable bit,
 * and no-op port 0x80 delays. */
int kvmclock_cpuid(uint32_t leaf, uint32_t out[4])
{
	switch (leaf) {
	case KVM_CPUID_SIGNATURE:
		out[0] = KVM_CPUID_FEATURES;
		memcpy(&out[1], "KVMKVMKVM\0\0\0", 12);
		return 0;
	case KVM_CPUID_FEATURES:
		out[0] = KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_NOP_IO_DELAY |
			 KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;
		out[1] = out[2] = out[3] = 0;
		return 0;
	}
	return -ENOENT;
}
