/*
 * tests/unit/fake_iommu.h — a fake IOMMU driver implementing iommu/iommu.h
 * ops for host tests and benches.  Domains keep their leaves (4K/2M/1G, as
 * a real driver would choose them from alignment) in an interval tree; unmap
 * splits straddling leaves; every call is counted; any call kind can be made
 * to fail on its n-th invocation; contract violations are counted.
 */
#ifndef SLUICE_TESTS_UNIT_FAKE_IOMMU_H
#define SLUICE_TESTS_UNIT_FAKE_IOMMU_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"

enum fake_op {
	FAKE_DOMAIN_ALLOC,
	FAKE_ATTACH,
	FAKE_DETACH,
	FAKE_MAP,
	FAKE_UNMAP,
	FAKE_FLUSH,
	FAKE_NOPS
};

struct fake_iommu_stats {
	uint64_t calls[FAKE_NOPS];
	uint64_t domain_free;
	uint64_t leaves[3];  /* leaves written: 4K, 2M, 1G */
	uint64_t splits;     /* leaves split by unmap */
	uint64_t violations; /* contract violations seen (must stay 0) */
};
extern struct fake_iommu_stats fake_iommu_stats;

/* A unit with these properties (registered nowhere; ops = fake ops). */
struct iommu_unit *fake_iommu_unit_new(uint64_t pgsizes, uint64_t aperture_end, bool snoop,
				       bool intr_remap);
void fake_iommu_unit_free(struct iommu_unit *u);

/* Fail the n-th call (1 = the next one) of op with err; n = 0 disarms. */
void fake_iommu_fail(enum fake_op op, unsigned long n, int err);
/* Fail the n-th call of op and every later one with err, until disarmed
 * (fake_iommu_fail(op, 0, 0) or reset): a retry fails too. */
void fake_iommu_fail_from(enum fake_op op, unsigned long n, int err);
/* Fail the n-th driver call of any kind (1 = next) with -EIO; 0 disarms. */
void fake_iommu_fail_any(unsigned long n);
/* Calls left before the armed fail_any fires (0: fired or unarmed). */
unsigned long fake_iommu_fail_any_pending(void);
/* Disarm everything and zero the stats. */
void fake_iommu_reset(void);

/* Called at flush for every physical range unmapped since the last flush of
 * that domain: returns false if the range was released too early (e.g. its
 * frames are no longer pinned).  NULL = no check. */
extern bool (*fake_iommu_release_check)(uint64_t pa, uint64_t size);

/* Inspection. */
uint64_t fake_iommu_mapped_bytes(struct iommu_domain *d);
uint64_t fake_iommu_nleaves(struct iommu_domain *d);
uint64_t fake_iommu_flushes(struct iommu_domain *d);
uint64_t fake_iommu_unflushed(struct iommu_domain *d); /* ranges awaiting flush */
/* Domain the rid on unit u is attached to, or NULL. */
struct iommu_domain *fake_iommu_rid_domain(struct iommu_unit *u, uint16_t rid);
unsigned fake_iommu_live_domains(void);
/* Bytes of heap the fake holds for d's leaves (for overhead figures). */
uint64_t fake_iommu_heap_bytes(struct iommu_domain *d);

#endif
