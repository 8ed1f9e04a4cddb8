// SOURCES: vm/kvmclock.c
/* tests/unit/test_kvmclock.c — vm/kvmclock.c: the pvclock scaling applied
 * with the guest's own formula (Linux pvclock_scale_delta) stays within
 * 1 ppm of tsc / tsc_hz over rates from 1 MHz to 5 GHz and large TSC
 * values; the structures' layout, flags and version protocol; the wall
 * clock; the KVM CPUID leaves. */
#include <string.h>

#include "test.h"
#include "vm/kvmclock.h"

static const uint64_t rates[] = {
	1000000ull,    3579545ull,    33333333ull,   999999999ull,  1000000000ull,
	1000000001ull, 2000000000ull, 2445404000ull, 2500000000ull, 3000000000ull,
	4294967296ull, 4999999999ull, 5000000000ull,
};
#define NRATES (sizeof(rates) / sizeof(rates[0]))

struct snap {
	uint32_t version, mul;
	uint64_t tsc_timestamp, system_time;
	int8_t shift;
	uint8_t flags;
};

/* Reads the structure field by field at the offsets msr.rst gives. */
static struct snap read_pvti(const uint8_t *p)
{
	struct snap s;

	memcpy(&s.version, p + 0, 4);
	memcpy(&s.tsc_timestamp, p + 8, 8);
	memcpy(&s.system_time, p + 16, 8);
	memcpy(&s.mul, p + 24, 4);
	memcpy(&s.shift, p + 28, 1);
	memcpy(&s.flags, p + 29, 1);
	return s;
}

/* The guest's computation (Linux arch/x86/include/asm/pvclock.h). */
static uint64_t guest_ns(const struct snap *s, uint64_t tsc)
{
	uint64_t delta = tsc - s->tsc_timestamp;

	if (s->shift < 0)
		delta >>= -s->shift;
	else
		delta <<= s->shift;
	return s->system_time + (uint64_t)(((unsigned __int128)delta * s->mul) >> 32);
}

/* |got - want| <= want / 1e6, plus 1 ns for the truncations. */
static bool within_ppm(uint64_t got, uint64_t want)
{
	uint64_t diff = got > want ? got - want : want - got;

	return diff <= want / 1000000 + 1;
}

TEST(params_known_values)
{
	uint32_t mul;
	int8_t shift;

	kvmclock_params(1000000000ull, &mul, &shift); /* 1 ns: (tsc << 1) * 0.5 */
	CHECK_EQ(mul, 1u << 31);
	CHECK_EQ(shift, 1);
	kvmclock_params(2500000000ull, &mul, &shift); /* 0.4 ns: (tsc >> 1) * 0.8 */
	CHECK_EQ(mul, 3435973836u);
	CHECK_EQ(shift, -1);
	kvmclock_params(2000000000ull, &mul, &shift);
	CHECK_EQ(mul, 1u << 31);
	CHECK_EQ(shift, 0);
	kvmclock_params(1000000ull, &mul, &shift); /* 1000 ns: (tsc << 10) * 0.977 */
	CHECK_EQ(shift, 10);
	CHECK(mul >= 1u << 31);
	kvmclock_params(0, &mul, &shift);
	CHECK_EQ(mul, 0);
	CHECK_EQ(shift, 0);
}

TEST(params_precision)
{
	for (unsigned i = 0; i < NRATES; i++) {
		uint32_t mul;
		int8_t shift;

		kvmclock_params(rates[i], &mul, &shift);
		CHECK(mul >= 1u << 31); /* the most precise choice */
		/* Linux pvclock_tsc_khz: the guest's view of the rate */
		uint64_t khz = (1000000ull << 32) / mul;

		khz = shift < 0 ? khz << -shift : khz >> shift;
		CHECK(within_ppm(khz, rates[i] / 1000));
	}
}

TEST(scaling_within_1ppm)
{
	static const uint64_t bases[] = {0, 123456789ull, 1ull << 40, 1ull << 62,
					 0xfffffff000000000ull};
	uint8_t buf[PVCLOCK_VCPU_TIME_INFO_SIZE];

	for (unsigned i = 0; i < NRATES; i++) {
		for (unsigned b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
			uint64_t hz = rates[i], t0 = bases[b], sys = 5000000000ull;
			/* deltas: a tick, a ms, a second, an hour, a day, 2^40 ticks */
			const uint64_t deltas[] = {1,	      hz / 1000,  hz,
						   hz * 3600, hz * 86400, 1ull << 40};

			kvmclock_fill(buf, t0, sys, hz, 0);
			struct snap s = read_pvti(buf);

			CHECK_EQ(s.tsc_timestamp, t0);
			CHECK_EQ(s.system_time, sys);
			CHECK_EQ(guest_ns(&s, t0), sys);
			for (unsigned d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
				uint64_t want = (uint64_t)((unsigned __int128)deltas[d] *
							   1000000000ull / hz);
				uint64_t got = guest_ns(&s, t0 + deltas[d]) - sys;

				if (!within_ppm(got, want)) {
					printf("  hz %" PRIu64 " tsc %" PRIx64 " delta %" PRIu64
					       ": %" PRIu64 " ns, want %" PRIu64 "\n",
					       hz, t0, deltas[d], got, want);
					CHECK(within_ppm(got, want));
				}
			}
		}
	}
}

TEST(fill_layout_flags_version)
{
	uint8_t buf[PVCLOCK_VCPU_TIME_INFO_SIZE + 9];

	/* at an odd address, guard bytes around it */
	memset(buf, 0xa5, sizeof(buf));
	kvmclock_fill(buf + 1, 1000, 2000, 3000000000ull, 0);
	CHECK_EQ(buf[0], 0xa5);
	for (unsigned i = 1 + PVCLOCK_VCPU_TIME_INFO_SIZE; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0xa5);
	struct snap s = read_pvti(buf + 1);

	CHECK_EQ(s.version, 2);
	CHECK_EQ(s.flags, PVCLOCK_TSC_STABLE_BIT);
	CHECK_EQ(buf[1 + 4] | buf[1 + 5] | buf[1 + 6] | buf[1 + 7], 0); /* pad0 */
	CHECK_EQ(buf[1 + 30] | buf[1 + 31], 0);				/* pad */
	CHECK_EQ(sizeof(struct pvclock_vcpu_time_info), PVCLOCK_VCPU_TIME_INFO_SIZE);
	CHECK_EQ(sizeof(struct pvclock_wall_clock), PVCLOCK_WALL_CLOCK_SIZE);

	/* even after every fill, moving on from what the structure held */
	kvmclock_fill(buf + 1, 1000, 2000, 3000000000ull, 2);
	CHECK_EQ(read_pvti(buf + 1).version, 4);
	kvmclock_fill(buf + 1, 1000, 2000, 3000000000ull, 7);
	CHECK_EQ(read_pvti(buf + 1).version, 8);
	kvmclock_fill(buf + 1, 1000, 2000, 3000000000ull, 0xfffffffeu);
	CHECK_EQ(read_pvti(buf + 1).version, 0);
}

TEST(wall_clock)
{
	uint8_t buf[PVCLOCK_WALL_CLOCK_SIZE + 1];
	uint32_t v, sec, nsec;

	memset(buf, 0xa5, sizeof(buf));
	kvmclock_wall_fill(buf, 1796000000123456789ull, 0);
	memcpy(&v, buf, 4);
	memcpy(&sec, buf + 4, 4);
	memcpy(&nsec, buf + 8, 4);
	CHECK_EQ(v, 2);
	CHECK_EQ(sec, 1796000000u);
	CHECK_EQ(nsec, 123456789u);
	CHECK_EQ(buf[12], 0xa5);
	kvmclock_wall_fill(buf, 0, 2);
	memcpy(&v, buf, 4);
	memcpy(&sec, buf + 4, 4);
	CHECK_EQ(v, 4);
	CHECK_EQ(sec, 0);
}

TEST(cpuid_leaves)
{
	uint32_t r[4] = {0};

	CHECK_EQ(kvmclock_cpuid(KVM_CPUID_SIGNATURE, r), 0);
	CHECK_EQ(r[0], KVM_CPUID_FEATURES);
	CHECK(memcmp(&r[1], "KVMKVMKVM\0\0\0", 12) == 0);
	CHECK_EQ(kvmclock_cpuid(KVM_CPUID_FEATURES, r), 0);
	CHECK_EQ(r[0], (1u << 3) | (1u << 1) | (1u << 24));
	CHECK_EQ(r[1] | r[2] | r[3], 0);
	CHECK_EQ(kvmclock_cpuid(0x40000002, r), -ENOENT);
	CHECK_EQ(kvmclock_cpuid(0x40000010, r), -ENOENT);
}
