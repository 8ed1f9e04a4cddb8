/*
 * iommu/iommu.h — the IOMMU core: the ops table every IOMMU driver fills
 * (VT-d in iommu/vtd/, a fake one in host tests) and the calls the dma layer
 * makes.  The dma layer never sees a hardware bit; it sees units, domains,
 * page sizes, apertures and requester IDs.
 *
 * Rules every driver keeps:
 *  - map() maps all of [iova, iova+size) or nothing (it unwinds itself),
 *    choosing the largest leaf that alignment of iova and pa, the remaining
 *    size and dom->pgsizes allow.  A range that is already mapped: -EEXIST.
 *  - unmap() clears [iova, iova+size), splitting a larger leaf that straddles
 *    an edge so the part outside stays mapped without a window where it is
 *    not (the split can fail with -ENOMEM; then nothing changed).  It records
 *    what must be invalidated and which table pages became free in the gather.
 *  - flush() issues the invalidations gathered (one batch, one wait) and only
 *    after the wait completes frees the table pages gathered.  Memory that
 *    was unmapped may be unpinned and reused only after flush() returned 0.
 *  - map() also gathers: where hardware caches non-present entries
 *    (VT-d caching mode) or needs a write-buffer flush, flush() does it.
 */
#ifndef SLUICE_IOMMU_IOMMU_H
#define SLUICE_IOMMU_IOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define IOMMU_READ 0x1u
#define IOMMU_WRITE 0x2u

#define PGSIZE_4K (1ull << 12)
#define PGSIZE_2M (1ull << 21)
#define PGSIZE_1G (1ull << 30)

struct iommu_ops;
struct iommu_domain;

/* One hardware unit (a VT-d DRHD, later an SMMU).  The driver embeds it. */
struct iommu_unit {
	const struct iommu_ops *ops;
	unsigned index;	       /* unit number as the console shows it */
	uint16_t segment;      /* PCI segment it serves */
	uint64_t pgsizes;      /* leaf sizes every domain on it can use */
	uint64_t aperture_end; /* last IOVA a domain on it can translate */
	bool snoop_control;    /* can force snooping (VT-d ECAP.SC) */
	bool intr_remap;       /* interrupts from its devices are remapped */
	unsigned ndomains;     /* domains alive on this unit */
};

/* A hardware translation context (VT-d: one domain id + one page table). */
struct iommu_domain {
	struct iommu_unit *unit;
	uint64_t pgsizes;      /* leaf sizes this domain uses */
	uint64_t aperture_end; /* last valid IOVA (first is 0) */
	bool snoop;	       /* enforces snooping */
	unsigned ndevices;     /* requester IDs attached */
	void *priv;	       /* the driver's */
};

/* What an unmap/map run changed, for one flush at the end. */
struct iommu_gather {
	uint64_t start, end; /* IOVA range touched, [start, end); end 0 = none */
	bool leaf_only;	     /* only leaves changed (invalidation hint allowed) */
	bool need_flush;     /* something is cached that must be invalidated */
	uint64_t freelist;   /* table pages to free after the flush, linked
	                        through their first 8 bytes (physical addrs) */
	unsigned nfree;
};

static inline void iommu_gather_init(struct iommu_gather *g)
{
	g->start = 0;
	g->end = 0;
	g->leaf_only = true;
	g->need_flush = false;
	g->freelist = 0;
	g->nfree = 0;
}

struct iommu_ops {
	const char *name;
	int (*domain_alloc)(struct iommu_unit *u, struct iommu_domain **out) MUST_CHECK;
	/* Only for a domain with no devices; unmaps nothing (caller did). */
	void (*domain_free)(struct iommu_domain *d);
	/* Points requester ID rid (bus<<8|devfn) at d.  A rid attached to
	 * another domain is switched (old domain id invalidated); -EBUSY if it
	 * belongs to an identity (RMRR) domain and the policy forbids it. */
	int (*attach)(struct iommu_domain *d, uint16_t rid) MUST_CHECK;
	/* Removes rid's context: its DMA is blocked again (default deny). */
	int (*detach)(struct iommu_domain *d, uint16_t rid) MUST_CHECK;
	int (*map)(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
		   struct iommu_gather *g) MUST_CHECK;
	int (*unmap)(struct iommu_domain *d, uint64_t iova, uint64_t size,
		     struct iommu_gather *g) MUST_CHECK;
	int (*flush)(struct iommu_domain *d, struct iommu_gather *g) MUST_CHECK;
	/* Walks the table the hardware walks.  level: 1 = 4K leaf, 2 = 2M, 3 = 1G.
	 * -ENOENT if not mapped. */
	int (*iova_to_phys)(struct iommu_domain *d, uint64_t iova, uint64_t *pa, unsigned *level,
			    unsigned *prot) MUST_CHECK;
};

/* Registry of units (the drivers register them at bring-up). */
int iommu_register_unit(struct iommu_unit *u) MUST_CHECK;
unsigned iommu_unit_count(void);
struct iommu_unit *iommu_unit_at(unsigned index);
/* The unit translating requester rid on segment seg, or NULL (untranslated). */
struct iommu_unit *iommu_unit_for(uint16_t seg, uint16_t rid);
/* Drivers supply the scope test used by iommu_unit_for. */
void iommu_set_scope_fn(bool (*in_scope)(struct iommu_unit *u, uint16_t seg, uint16_t rid));

#endif
