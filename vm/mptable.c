/*
 * vm/mptable.c — the guest's MP table (Intel MultiProcessor Specification
 * 1.4, chapter 4).  See vm/mptable.h.
 */
#include <string.h>

#include "vm/mptable.h"

/* MP spec 4.1: the floating pointer structure, 16 bytes. */
#define MPF_SIZE 16
#define MPF_PHYSPTR 4
#define MPF_LENGTH 8 /* in 16-byte units */
#define MPF_SPEC_REV 9
#define MPF_CHECKSUM 10
#define MPF_FEATURE1 11 /* 0: a configuration table is present */
#define MPF_FEATURE2 12 /* bit 7 IMCRP: 0, no IMCR */

/* MP spec 4.2: the configuration table header, 44 bytes. */
#define MPC_HDR_SIZE 44
#define MPC_LENGTH 4
#define MPC_SPEC_REV 6
#define MPC_CHECKSUM 7
#define MPC_OEM_ID 8	  /* 8 bytes */
#define MPC_PRODUCT_ID 16 /* 12 bytes */
#define MPC_ENTRY_COUNT 34
#define MPC_LAPIC 36

/* MP spec 4.3.1: processor entry, 20 bytes. */
#define MPC_CPU_SIZE 20
#define MPC_CPU_TYPE 0
#define CPU_EN 0x01
#define CPU_BP 0x02
#define LAPIC_VERSION 0x14  /* integrated APIC (Linux APIC_INTEGRATED: high nibble) */
#define CPU_SIGNATURE 0x600 /* family 6: informational only */
#define CPU_FEATURES 0x201  /* FPU (bit 0), APIC (bit 9) */

/* MP spec 4.3.2: bus entry, 8 bytes. */
#define MPC_BUS_SIZE 8
#define MPC_BUS_TYPE 1

#define SPEC_REV_1_4 4

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)v);
	wr16(p + 2, (uint16_t)(v >> 16));
}

/* MP spec 4.1/4.2: the bytes of a structure add up to zero. */
static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

size_t mptable_size(unsigned ncpus)
{
	return MPF_SIZE + MPC_HDR_SIZE + (size_t)ncpus * MPC_CPU_SIZE + MPC_BUS_SIZE;
}

static void cpu_entry(uint8_t *e, unsigned id)
{
	e[MPC_CPU_TYPE] = 0;
	e[1] = (uint8_t)id;
	e[2] = LAPIC_VERSION;
	e[3] = CPU_EN | (id == 0 ? CPU_BP : 0);
	wr32(e + 4, CPU_SIGNATURE);
	wr32(e + 8, CPU_FEATURES);
}

static void bus_entry(uint8_t *e)
{
	e[0] = MPC_BUS_TYPE;
	e[1] = 0; /* bus id */
	memcpy(e + 2, "ISA   ", 6);
}

int mptable_build(void *buf, size_t len, uint64_t gpa, unsigned ncpus, size_t *used)
{
	uint8_t *mpf = buf, *mpc = mpf + MPF_SIZE, *e;
	size_t size = mptable_size(ncpus), mpc_len = size - MPF_SIZE;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	if ((gpa & (MPF_SIZE - 1)) || gpa > (1ull << 32) - size)
		return -EINVAL;
	if (!buf || size > len)
		return -ENOSPC;
	memset(buf, 0, size);

	memcpy(mpc, "PCMP", 4);
	wr16(mpc + MPC_LENGTH, (uint16_t)mpc_len);
	mpc[MPC_SPEC_REV] = SPEC_REV_1_4;
	memcpy(mpc + MPC_OEM_ID, "SLUICE  ", 8);
	memcpy(mpc + MPC_PRODUCT_ID, "SLUICE-VM   ", 12);
	wr16(mpc + MPC_ENTRY_COUNT, (uint16_t)(ncpus + 1));
	wr32(mpc + MPC_LAPIC, MPTABLE_LAPIC_ADDR);
	e = mpc + MPC_HDR_SIZE;
	for (unsigned i = 0; i < ncpus; i++, e += MPC_CPU_SIZE)
		cpu_entry(e, i);
	bus_entry(e);
	mpc[MPC_CHECKSUM] = checksum(mpc, mpc_len);

	memcpy(mpf, "_MP_", 4);
	wr32(mpf + MPF_PHYSPTR, (uint32_t)(gpa + MPF_SIZE));
	mpf[MPF_LENGTH] = 1;
	mpf[MPF_SPEC_REV] = SPEC_REV_1_4;
	mpf[MPF_FEATURE1] = 0;
	mpf[MPF_FEATURE2] = 0;
	mpf[MPF_CHECKSUM] = checksum(mpf, MPF_SIZE);
	if (used)
		*used = size;
	return 0;
}
