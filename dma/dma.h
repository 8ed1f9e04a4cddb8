/*
 * dma/dma.h — the DMA memory manager: address spaces (the truth about what
 * is mapped, an interval tree of mappings), hardware domains derived from
 * them (replayed on attach), pinning and per-owner charging, SPAPR-style
 * pre-registration and free-page hinting.  Semantics follow VFIO type1 v2
 * with the differences listed in docs/dma.md.  All functions return 0 or a
 * negative errno, and record why in the space (dma_space_why); the console
 * (console/cmd_dma.c) prints both.
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

/* x86 interrupt address range, reserved in every space (VT-d 3.15: DMA
 * writes here are interrupt requests, never translated). */
#define DMA_MSI_START 0xFEE00000ull
#define DMA_MSI_LAST 0xFEEFFFFFull

/* Default per-space mapping count limit (VFIO's is 65535). */
#define DMA_DEFAULT_MAP_LIMIT (1u << 22)
#define DMA_GROUP_MAX_RIDS 8
#define DMA_GROUP_MAX_RESV 4

struct dma_group;
/* Called by dma_detach (so also by dma_space_destroy) once the group has
 * left its space: the device glue tears down what it set up for the
 * members (interrupt routes).  The dma layer knows no devices. */
typedef void (*dma_release_fn)(struct dma_group *g, void *arg);
/* Stops the group's DMA (the device glue: Bus Master off, FLR); 0 once the
 * members are quiet, else a negative errno (see dma_group_on_quiesce). */
typedef int (*dma_quiesce_fn)(struct dma_group *g, void *arg);

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
	dma_release_fn release; /* dma_group_on_release */
	void *release_arg;
	dma_quiesce_fn quiesce; /* dma_group_on_quiesce */
	void *quiesce_arg;
	/* In a space since it was last quiesced: set by dma_attach, cleared by
	 * a quiesce that succeeded.  While set and the group is in no space,
	 * attach retries the quiesce and is refused if it fails again. */
	bool unquiesced;
	struct dma_group *next; /* the dma layer's (space's group list) */
};

/* Registers (replaces; NULL removes) the release callback of g. */
void dma_group_on_release(struct dma_group *g, dma_release_fn fn, void *arg);
/* Registers (replaces; NULL removes) the quiesce callback of g: run when the
 * group leaves a space (dma_detach, after its requester IDs are blocked;
 * dma_space_destroy, before the space's pages are unpinned) and again on the
 * next dma_attach while it has not succeeded.  A group without one counts
 * as quiet (the dma layer knows no devices). */
void dma_group_on_quiesce(struct dma_group *g, dma_quiesce_fn fn, void *arg);

/* Why the last call on a space failed, recorded where the check failed, so
 * that the caller can say exactly what was wrong (dma_space_why).  Every
 * call that takes a space clears it first.  What a, b, c, id and the
 * mapping mean, per kind (and the errno that goes with it): */
enum dma_why_kind {
	DMA_WHY_NONE = 0,
	DMA_WHY_ZERO_SIZE,	   /* EINVAL */
	DMA_WHY_BAD_ARG,	   /* EINVAL: a, b the values refused (map: prot, src;
				    * set_map_limit: limit, mappings; add_reserved: start, last) */
	DMA_WHY_IOVA_WRAPS,	   /* EOVERFLOW: a = iova, b = size */
	DMA_WHY_HPA_WRAPS,	   /* EOVERFLOW (map), EINVAL (register): a = hpa, b = size */
	DMA_WHY_IOVA_ALIGN,	   /* EINVAL: a = iova, b = the alignment needed */
	DMA_WHY_SIZE_ALIGN,	   /* EINVAL: a = size, b = the alignment needed */
	DMA_WHY_HPA_ALIGN,	   /* EINVAL: a = hpa, b = the alignment needed */
	DMA_WHY_APERTURE,	   /* EINVAL: a = the last IOVA asked for, b = the last valid
				    * one; attach: the mapping above it, id = unit index */
	DMA_WHY_RESERVED,	   /* EINVAL: [a, b] a reserved range, id = the group whose RMRR
				    * it is (-1: the space's own, e.g. the MSI window); attach and
				    * add_reserved: the mapping it would cover */
	DMA_WHY_QUARANTINED,	   /* EINVAL: [a, b] is quarantined: unwinding a failed map could
				    * not unmap it from a domain (marked dirty), so the range
				    * stays taken and its memory pinned */
	DMA_WHY_PGSIZE,		   /* EINVAL attach: the mapping is not aligned to b, the page
				    * size with unit id (b = 0: no page size in common); a = the
				    * misaligned value (iova, size, hpa or a hinted edge) */
	DMA_WHY_OVERLAP,	   /* EEXIST: the mapping in the way */
	DMA_WHY_BISECT,		   /* EINVAL unmap: the mapping the range would split */
	DMA_WHY_GAP,		   /* EINVAL hint/unhint: a = the first IOVA of the range that no
				    * mapping covers */
	DMA_WHY_MAP_LIMIT,	   /* ENOSPC: a = mappings, b = the space's limit */
	DMA_WHY_PIN_LIMIT,	   /* ENOMEM: a = pinned, b = limit, c = bytes more the call
				    * needs, id = owner */
	DMA_WHY_NO_MEMORY,	   /* ENOMEM: a = bytes asked for, b = enum dma_why_mem */
	DMA_WHY_NOT_DMA_MEMORY,	   /* EPERM: a = the first frame that is not user, DMA or guest
				    * memory, b = its enum frame_tag or DMA_WHY_UNMANAGED */
	DMA_WHY_OTHER_OWNER,	   /* EPERM: a = the first frame that belongs to someone else,
				    * b = its holder (the owner id an alloc block is for, the
				    * guest id of guest RAM), c = its enum frame_tag, id = the
				    * space's owner */
	DMA_WHY_NOT_RAM,	   /* EFAULT: [a, a + b) holds a frame that is free or unmanaged */
	DMA_WHY_UNSAFE_INTERRUPTS, /* EPERM attach: id = the unit, which does not isolate
				    * interrupts; a = 1 it remaps them but cannot block
				    * compatibility format, 0 it does not remap them */
	DMA_WHY_BAD_GROUP,	   /* EINVAL attach: the group has no unit or no requester ID */
	DMA_WHY_GROUP_BUSY,	   /* EBUSY attach: id = the space the group is in */
	DMA_WHY_NOT_ATTACHED,	   /* ENOENT detach */
	DMA_WHY_NOT_QUIESCED,	   /* EBUSY attach: the group left a space and its DMA could
				    * not be stopped (retried now, failed again); a = the
				    * quiesce's -errno, id = the group */
	DMA_WHY_REG_OVERLAP,	   /* EINVAL register: a, b = hpa, size of the registration in
				    * the way */
	DMA_WHY_REG_EXISTS,	   /* EBUSY register: exactly this range is registered */
	DMA_WHY_REG_NONE,	   /* ENOENT unregister: no registration of exactly the range */
	DMA_WHY_REG_IN_USE,	   /* EBUSY unregister: a = mappings backed by it */
	DMA_WHY_NO_DOMAIN,	   /* ENOENT translate */
	DMA_WHY_NO_IOVA,	   /* ENOSPC free_iova: no free range of a bytes aligned to b */
	DMA_WHY_IOMMU,		   /* the driver refused (err is its errno): a = enum dma_why_op,
				    * b = the IOVA (map, unmap, flush) or requester ID (attach,
				    * detach), id = unit index */
	DMA_WHY_NOT_HINTED,	   /* EINVAL hint_rebind: a = the first IOVA of the range that is
				    * not hinted, in the mapping involved */
	DMA_WHY_SPANS_MAPPINGS,	   /* EINVAL hint_rebind: the range runs past the end of the
				    * mapping involved (where it starts); a = its first IOVA
				    * outside it */
	DMA_WHY_MAPPING_KIND,	   /* EINVAL hint_rebind: the mapping involved is not the caller's
				    * own hpa memory: a = its enum dma_src, b = 1 backed by a
				    * pre-registration, c = 1 the hypervisor's (dma_map_hyp) */
};
#define DMA_WHY_UNMANAGED 0xffu

enum dma_why_mem {
	DMA_MEM_RECORD,	  /* a mapping, registration, domain or reserved-range record */
	DMA_MEM_BACKING,  /* the memory of an alloc mapping */
	DMA_MEM_TRACKING, /* segment lists, hint sets, lists of mappings, charge records */
};

enum dma_why_op {
	DMA_OP_MAP,
	DMA_OP_UNMAP,
	DMA_OP_FLUSH,
	DMA_OP_ATTACH,
	DMA_OP_DETACH,
	DMA_OP_DOMAIN_ALLOC,
};

struct dma_why {
	enum dma_why_kind kind;
	int err;		     /* what the call returned */
	uint64_t a, b, c;	     /* per kind */
	uint64_t map_iova, map_size; /* the mapping involved, per kind; size 0: none */
	int id;			     /* unit index, group, owner or space, per kind; -1: none */
};
const struct dma_why *dma_space_why(const struct dma_space *s);

/* Boot argument allow_unsafe_interrupts. */
extern bool dma_allow_unsafe_interrupts;

/* Spaces.  share_with NULL: the new space is its own accounting owner. */
int dma_space_create(struct dma_space *share_with, struct dma_space **out) MUST_CHECK;
/* A space with its own owner that belongs to guest (non-zero): guest RAM
 * (FRAME_GUEST frames whose holder is guest) maps only into such spaces. */
int dma_space_create_guest(uint16_t guest, struct dma_space **out) MUST_CHECK;
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
	unsigned guest; /* the guest the owner belongs to, 0 = none */
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
/* A mapping of sluice's own in s (edu's bounce page): fresh zeroed memory
 * like DMA_SRC_ALLOC, but charged to the hypervisor's owner, not to the
 * space's (whose pin limit it does not count against), and outside the
 * space's mapping limit.  Otherwise an ordinary mapping: dma_unmap removes
 * it (flushed before its memory is freed). */
int dma_map_hyp(struct dma_space *s, uint64_t iova, uint64_t size, unsigned prot,
		uint64_t *first_hpa) MUST_CHECK;
int dma_unmap(struct dma_space *s, uint64_t iova, uint64_t size, uint64_t *unmapped) MUST_CHECK;
int dma_unmap_all(struct dma_space *s, uint64_t *unmapped) MUST_CHECK;
/* A search for free IOVA (dma_free_iova). */
struct dma_iova_req {
	uint64_t size, align;	    /* align: a power of two */
	uint64_t lo, last;	    /* the range must lie in [lo, last] */
	uint64_t avoid, avoid_last; /* and miss [avoid, avoid_last] (avoid_last < avoid: none) */
};
/* The lowest IOVA >= lo, aligned to align, where size bytes fit in s: in
 * no mapping, no reserved range (the MSI window, every attached group's
 * RMRRs), no quarantined range and not in the avoided range, ending at or below last and the
 * last IOVA of every domain's aperture.  -EINVAL bad size or align,
 * -ENOSPC none. */
int dma_free_iova(struct dma_space *s, const struct dma_iova_req *r, uint64_t *out) MUST_CHECK;
/* Walks the first domain's hardware table (ops->iova_to_phys).  -ENOENT if
 * not mapped or the space has no domain. */
int dma_translate(struct dma_space *s, uint64_t iova, uint64_t *hpa, unsigned *level,
		  unsigned *prot) MUST_CHECK;

/* Free-page hinting: [iova, iova+size) aligned to the space's page size and
 * covered by mappings (it may bisect them). */
int dma_hint(struct dma_space *s, uint64_t iova, uint64_t size) MUST_CHECK;
int dma_unhint(struct dma_space *s, uint64_t iova, uint64_t size) MUST_CHECK;
/* The owner of hinted hpa memory gave it back (a VM frees a guest's hinted
 * frames) and has new memory for it: [iova, iova+size), aligned to the
 * space's page size and entirely hinted, inside one mapping whose source is
 * DMA_SRC_HPA (not backed by a pre-registration, not dma_map_hyp's), is
 * backed from now on by [hpa, hpa+size) (contiguous, aligned alike): the
 * mapping's segments are edited, and nothing else.  No domain changes (the
 * range is in none while hinted) and nothing is pinned or charged: a later
 * dma_unhint checks, pins, charges and maps the new memory as usual (EPERM
 * if the space's owner may not map it), and dma_unmap releases the new
 * frames of what is live.  -EINVAL (why GAP: nothing mapped at iova;
 * NOT_HINTED; SPANS_MAPPINGS; MAPPING_KIND; the alignment kinds),
 * -EOVERFLOW (IOVA_WRAPS, HPA_WRAPS), -ENOMEM (the segment list) with
 * nothing changed. */
int dma_hint_rebind(struct dma_space *s, uint64_t iova, uint64_t size, uint64_t hpa) MUST_CHECK;

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
	uint64_t quarantined;	 /* bytes kept pinned after a failed unwinding flush or unmap */
	uint64_t leaked_domains; /* domains not freed after a failed flush */
	uint64_t deferred_free;	 /* alloc blocks waiting for foreign pins to drop */
	uint64_t side_entries;	 /* extra (frame, owner) charge records */
	uint64_t hyp_pinned;	 /* bytes charged to the hypervisor (dma_map_hyp) */
};
void dma_stats(struct dma_stats *out);

/* Fault injection (tests): the n-th allocation (heap or frame) from now
 * fails (1 = the next); 0 disarms.  Returns how many remain armed (0 when
 * the failure fired or nothing is armed). */
void dma_test_fail_nth(unsigned long n);
unsigned long dma_test_fail_pending(void);

#endif
