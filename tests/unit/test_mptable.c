// SOURCES: vm/mptable.c
/*
 * tests/unit/test_mptable.c — the guest MP table (Intel MP spec 1.4): both
 * checksums, the signatures, the floating pointer's physptr, the entry
 * count and kinds, the bootstrap-processor flag on CPU 0 only, the local
 * APIC address, and the size limits (-ENOSPC, -EINVAL).
 */
#include <string.h>

#include "test.h"
#include "vm/mptable.h"

#define GPA 0x9fc00u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* The configuration table of a floating pointer built at GPA in buf. */
static const uint8_t *config_of(const uint8_t *buf) { return buf + (rd32(buf + 4) - GPA); }

TEST(floating_pointer)
{
	uint8_t buf[1024];
	size_t used = 0;

	memset(buf, 0xa5, sizeof(buf));
	CHECK_EQ(mptable_build(buf, sizeof(buf), GPA, 2, &used), 0);
	CHECK(memcmp(buf, "_MP_", 4) == 0);
	CHECK_EQ(rd32(buf + 4), GPA + 16); /* physptr: the table right after */
	CHECK_EQ(buf[8], 1);		   /* length in 16-byte units */
	CHECK_EQ(buf[9], 4);		   /* spec 1.4 */
	CHECK_EQ(sum(buf, 16), 0);
	CHECK_EQ(buf[11], 0); /* feature 1: a configuration table follows */
	CHECK_EQ(buf[12], 0); /* feature 2: no IMCR */
	CHECK_EQ(buf[13] | buf[14] | buf[15], 0);
	CHECK_EQ(used, mptable_size(2));
	CHECK_EQ(used, 16 + 44 + 2 * 20 + 8);
	CHECK_EQ(buf[used], 0xa5); /* nothing written past used */
}

TEST(config_table)
{
	uint8_t buf[1024];
	size_t used = 0;
	const uint8_t *c, *e;

	CHECK_EQ(mptable_build(buf, sizeof(buf), GPA, 4, &used), 0);
	c = config_of(buf);
	CHECK(memcmp(c, "PCMP", 4) == 0);
	CHECK_EQ(rd16(c + 4), used - 16); /* base table length */
	CHECK_EQ(c[6], 4);
	CHECK_EQ(sum(c, rd16(c + 4)), 0);
	CHECK(memcmp(c + 8, "SLUICE  ", 8) == 0);
	CHECK_EQ(rd32(c + 28), 0);	    /* no OEM table */
	CHECK_EQ(rd16(c + 34), 4 + 1);	    /* 4 processors + the ISA bus */
	CHECK_EQ(rd32(c + 36), 0xfee00000); /* local APIC */
	CHECK_EQ(rd16(c + 40), 0);	    /* no extended table */
	e = c + 44;
	for (unsigned i = 0; i < 4; i++, e += 20) {
		CHECK_EQ(e[0], 0);		/* processor */
		CHECK_EQ(e[1], i);		/* APIC ID */
		CHECK_EQ(e[2] & 0xf0, 0x10);	/* integrated APIC */
		CHECK_EQ(e[3], i == 0 ? 3 : 1); /* EN, and BP on CPU 0 only */
	}
	CHECK_EQ(e[0], 1); /* bus */
	CHECK_EQ(e[1], 0);
	CHECK(memcmp(e + 2, "ISA   ", 6) == 0);
	/* No I/O APIC (type 2) or interrupt entries (3, 4) anywhere. */
	CHECK_EQ(e + 8 - buf, used);
}

TEST(one_cpu_and_most_cpus)
{
	uint8_t buf[1024];
	size_t used;

	CHECK_EQ(mptable_build(buf, sizeof(buf), GPA, 1, &used), 0);
	CHECK_EQ(sum(buf, 16), 0);
	CHECK_EQ(sum(config_of(buf), used - 16), 0);
	CHECK_EQ(config_of(buf)[44 + 3], 3);
	/* 1 KiB (the EBDA) holds 47 CPUs, not 48. */
	CHECK_EQ(mptable_build(buf, sizeof(buf), GPA, 47, &used), 0);
	CHECK(used <= sizeof(buf));
	CHECK_EQ(sum(config_of(buf), used - 16), 0);
	CHECK_EQ(mptable_build(buf, sizeof(buf), GPA, 48, &used), -ENOSPC);
}

TEST(does_not_fit)
{
	uint8_t buf[2048];
	size_t need = mptable_size(3), used = 0;

	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(mptable_build(buf, need - 1, GPA, 3, &used), -ENOSPC);
	CHECK_EQ(used, 0);
	CHECK_EQ(buf[0], 0x5a); /* nothing written on failure */
	CHECK_EQ(mptable_build(buf, need, GPA, 3, &used), 0);
	CHECK_EQ(used, need);
	CHECK_EQ(mptable_build(buf, 0, GPA, 1, NULL), -ENOSPC);
}

TEST(bad_arguments)
{
	uint8_t buf[2048];

	CHECK_EQ(mptable_build(buf, sizeof(buf), GPA, 0, NULL), -EINVAL);
	CHECK_EQ(mptable_build(buf, sizeof(buf), GPA, 256, NULL), -EINVAL);
	CHECK_EQ(mptable_build(buf, sizeof(buf), GPA + 8, 1, NULL), -EINVAL); /* unaligned */
	CHECK_EQ(mptable_build(buf, sizeof(buf), 0x100000000ull, 1, NULL), -EINVAL);
	CHECK_EQ(mptable_build(buf, sizeof(buf), 0xfffffff0ull, 1, NULL), -EINVAL); /* crosses 4G */
	CHECK_EQ(mptable_build(buf, sizeof(buf), 0xfffffffffffffff0ull, 1, NULL), -EINVAL);
	CHECK_EQ(mptable_build(buf, sizeof(buf), 0xf0000, 1, NULL), 0); /* BIOS area works too */
}
