/*
 * dma/dma.h — the DMA memory manager: address spaces (the truth about what
 * is mapped, an interval tree of mappings), hardware domains derived from
 * them (replayed on attach), pinning and per-owner charging, SPAPR-style
 * pre-registration and free-page hinting.  Semantics follow VFIO type1 v2
 * with the differences listed in docs/dma.md.  All functions return 0 or a
 * negative errno; the console (console/cmd_dma.c) prints them.
 *
 * Single-threaded: every call runs to completion on the console CPU.
 */
#ifndef SLUICE_DMA_DMA_H
#define SLUICE_DMA_DMA_H

#include <stdbool.h>
#include <stdint.h>

#include "iommu/iommu.h"
#include "lib/err.h"

struct dma_space;

/* Where the memory of a mapping comes from. */
enum dma_src {
	DMA_SRC_HPA = 0,   /* caller's memory (FRAME_USER / FRAME_DMA / FRAME_GUEST) */
	DMA_SRC_ALLOC = 1, /* fresh zeroed FRAME_DMA memory, freed at unmap */
};

#define DMA_PROT_R IOMMU_READ
#define DMA_PROT_W IOMMU_WRITE

/* Default per-space mapping count limit (VFIO's is 65535). */
#define DMA_DEFAULT_MAP_LIMIT (1u << 22)
#define DMA_GROUP_MAX_RIDS 8
#define DMA_GROUP_MAX_RESV 4

/* A device group: requester IDs on one unit that are isolated together.
 * Filled by the caller (PCI / console); space is set by dma_attach.
 * irq_remapped is an output: dma_attach sets it from unit->intr_remap. */
struct dma_group {
	int id;
	struct iommu_unit *unit;
	uint16_t seg;
	unsigned nrids;
	uint16_t rids[DMA_GROUP_MAX_RIDS];
	bool irq_remapped;
	struct dma_space *space;
	/* Reserved IOVA regions the group brings (RMRRs): [start, last]. */
	unsigned nresv;
	struct {
		uint64_t start, last;
	} resv[DMA_GROUP_MAX_RESV];
	struct dma_group *next; /* the dma layer's (space's group list) */
};

/* Boot argument allow_unsafe_interrupts. */
extern bool dma_allow_unsafe_interrupts;

/* Spaces.  share_with NULL: the new space is its own accounting owner. */
int dma_space_create(struct dma_space *share_with, struct dma_space **out) MUST_CHECK;
/* Unmaps and unpins everything, detaches every group, drops registrations. */
int dma_space_destroy(struct dma_space *s) MUST_CHECK;
struct dma_space *dma_space_get(unsigned id);
/* Iteration in id order: dma_space_next(NULL) is the first. */
struct dma_space *dma_space_next(struct dma_space *prev);
unsigned dma_space_id(const struct dma_space *s);
/* Group i of the space (attach order), NULL past the end. */
struct dma_group *dma_space_group_at(struct dma_space *s, unsigned i);

struct dma_space_info {
	unsigned id, owner;
	uint64_t nmaps, bytes; /* mappings and their total size */
	uint64_t map_limit;
	unsigned ndomains, ngroups, nregs;
	uint64_t pgsize;    /* alignment required by map (smallest page size) */
	uint64_t iova_last; /* last IOVA of the aperture intersection */
	uint64_t hinted;    /* bytes currently hinted away */
};
void dma_space_info(struct dma_space *s, struct dma_space_info *out);
/* Count limit for mappings; -EINVAL below the current count or 0. */
int dma_space_set_map_limit(struct dma_space *s, uint64_t limit) MUST_CHECK;
/* Adds a reserved IOVA region [start, last]; -EINVAL if a mapping is there. */
int dma_space_add_reserved(struct dma_space *s, uint64_t start, uint64_t last) MUST_CHECK;

int dma_attach(struct dma_space *s, struct dma_group *g) MUST_CHECK;
int dma_detach(struct dma_space *s, struct dma_group *g) MUST_CHECK;

int dma_map(struct dma_space *s, uint64_t iova, uint64_t size, enum dma_src src, uint64_t hpa,
	    unsigned prot, uint64_t *first_hpa) MUST_CHECK;
int dma_unmap(struct dma_space *s, uint64_t iova, uint64_t size, uint64_t *unmapped) MUST_CHECK;
int dma_unmap_all(struct dma_space *s, uint64_t *unmapped) MUST_CHECK;
/* Walks the first domain's hardware table (ops->iova_to_phys).  -ENOENT if
 * not mapped or the space has no domain. */
int dma_translate(struct dma_space *s, uint64_t iova, uint64_t *hpa, unsigned *level,
		  unsigned *prot) MUST_CHECK;

/* Free-page hinting: [iova, iova+size) aligned to the space's page size and
 * covered by mappings (it may bisect them). */
int dma_hint(struct dma_space *s, uint64_t iova, uint64_t size) MUST_CHECK;
int dma_unhint(struct dma_space *s, uint64_t iova, uint64_t size) MUST_CHECK;

/* Pre-registration of host memory [hpa, hpa+size). */
int dma_pin_register(struct dma_space *s, uint64_t hpa, uint64_t size) MUST_CHECK;
int dma_pin_unregister(struct dma_space *s, uint64_t hpa, uint64_t size) MUST_CHECK;

struct dma_owner_stat {
	unsigned id;
	uint64_t pinned;     /* bytes charged (each frame once) */
	uint64_t registered; /* bytes pre-registered */
	uint64_t limit;	     /* UINT64_MAX = unlimited */
	unsigned nspaces;
};
void dma_owner_stat(struct dma_space *s, struct dma_owner_stat *out);
int dma_owner_set_limit(struct dma_space *s, uint64_t limit) MUST_CHECK;

struct dma_map_info {
	uint64_t iova, size, hpa; /* hpa: first byte's */
	unsigned prot;
	enum dma_src src;
	uint64_t hinted; /* bytes hinted away */
	bool registered; /* backed by a pre-registration */
	unsigned nsegs;	 /* physical segments (alloc) */
};
/* Calls fn for each mapping in IOVA order; stops at fn's first non-zero. */
int dma_for_each_map(struct dma_space *s, int (*fn)(const struct dma_map_info *mi, void *arg),
		     void *arg);
/* Physical address backing iova per the space's records (not the hardware). */
int dma_lookup(struct dma_space *s, uint64_t iova, uint64_t *hpa, bool *hinted) MUST_CHECK;

/* Global counters. */
struct dma_stats {
	uint64_t quarantined;	 /* bytes kept pinned after a failed flush */
	uint64_t leaked_domains; /* domains not freed after a failed flush */
	uint64_t deferred_free;	 /* alloc blocks waiting for foreign pins to drop */
	uint64_t side_entries;	 /* extra (frame, owner) charge records */
};
void dma_stats(struct dma_stats *out);

/* Fault injection (tests): the n-th allocation (heap or frame) from now
 * fails (1 = the next); 0 disarms.  Returns how many remain armed (0 when
 * the failure fired or nothing is armed). */
void dma_test_fail_nth(unsigned long n);
unsigned long dma_test_fail_pending(void);

#endif
