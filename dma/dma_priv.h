/*
 * dma/dma_priv.h — what the files of the dma layer share (nothing outside
 * dma/ includes it): the records of a space and the walkers over them.
 *
 *   space.c   spaces, their geometry, reserved IOVA, info and limits
 *   walk.c    runs/pieces walkers, pin/charge of ranges, domain map/flush
 *   map.c     map, unmap, translate, lookup; deferred frees, quarantine
 *   hint.c    free-page hinting
 *   attach.c  attach (replay into new domains), detach
 *   prereg.c  pre-registration
 *
 * Every operation validates first, then allocates everything it may need,
 * then changes hardware (unwinding on driver failure), and only then commits
 * to the records, so a failure anywhere leaves the space as it was.  Memory
 * is released (unpinned, uncharged, freed) only after every domain's flush
 * succeeded (iommu.h: "unpinned and reused only after flush() returned 0").
 */
#ifndef SLUICE_DMA_DMA_PRIV_H
#define SLUICE_DMA_DMA_PRIV_H

#include "dma/acct.h"
#include "dma/dma.h"
#include "kernel/frame.h"
#include "lib/itree.h"

/* A physical segment of a mapping, at IOVA offset off. */
struct seg {
	uint64_t off, pa, size;
};

/* A hinted IOVA interval [s, e). */
struct ivl {
	uint64_t s, e;
};

struct dma_reg {
	struct itree_node node; /* [hpa, hpa+size-1] */
	unsigned users;		/* mappings backed by it */
};

struct dma_mapping {
	struct itree_node node; /* [iova, iova+size-1] */
	unsigned prot;
	uint8_t src;
	uint8_t hyp;	     /* charged to the hypervisor (dma_map_hyp), not the space's owner */
	struct dma_reg *reg; /* pre-registration holding the pins, or NULL */
	uint32_t nseg;
	struct seg *segs; /* &seg0 for HPA mappings */
	struct seg seg0;
	uint32_t nhint;
	struct ivl *hint;	   /* sorted, disjoint, non-adjacent */
	uint64_t hinted;	   /* bytes */
	struct dma_mapping *qnext; /* quarantine list */
};

/* A mapping's sub-range [a, b). */
struct span {
	struct dma_mapping *m;
	uint64_t a, b;
};

struct dma_dom {
	struct iommu_domain *hw;
	unsigned ngroups;
	/* What the operation in progress changed in hw, for its one flush
	 * (operations run one at a time: dma.h). */
	struct iommu_gather gat;
	/* An unwind's unmap failed here: the tables may hold translations no
	 * record has (quarantined, dom_dirty). */
	bool dirty;
	struct dma_dom *next;
};

struct resv {
	struct itree_node node;
	struct dma_group *group; /* NULL: the space's own (MSI window) */
};

struct dma_space {
	unsigned id;
	struct dma_owner *owner;
	struct itree maps, regs, resv;
	/* Mappings whose unwind left them in a domain's tables: their IOVA stays
	 * taken and their pages pinned (map.c quarantine). */
	struct itree quar;
	uint64_t bytes, hinted, map_limit;
	uint64_t nhyp; /* mappings of the hypervisor's (outside map_limit) */
	struct dma_dom *doms;
	struct dma_group *groups;
	struct dma_why why; /* of the last call (dma_space_why) */
	struct dma_space *next;
};

#define MAP_OF(n) itree_entry(n, struct dma_mapping, node)
#define REG_OF(n) itree_entry(n, struct dma_reg, node)

static inline uint64_t m_start(const struct dma_mapping *m) { return m->node.start; }
static inline uint64_t m_end(const struct dma_mapping *m) { return m->node.last + 1; }
static inline uint64_t m_size(const struct dma_mapping *m)
{
	return m->node.last - m->node.start + 1;
}

static inline unsigned order_of(uint64_t size)
{
	return (unsigned)__builtin_ctzll(size) - FRAME_SHIFT;
}

/* Who m's pins are charged to. */
static inline struct dma_owner *map_owner(const struct dma_space *s, const struct dma_mapping *m)
{
	return m->hyp ? acct_hyp_owner() : s->owner;
}

/* Mappings of the space's user, the ones map_limit counts. */
static inline uint64_t user_maps(const struct dma_space *s) { return s->maps.count - s->nhyp; }

/* Overflow-checked last byte; false when [a, a+size) wraps. */
static inline bool last_of(uint64_t a, uint64_t size, uint64_t *last)
{
	*last = a + size - 1;
	return *last >= a;
}

/* Would charging bytes more take the owner past its limit?  A limit set
 * below what is already pinned refuses every new charge (no wrap-around). */
static inline bool over_limit(const struct dma_owner *o, uint64_t bytes)
{
	return o->pinned > o->limit || bytes > o->limit - o->pinned;
}

/* Global counters (dma_stats). */
extern uint64_t quarantined, leaked_domains;

/* ------------------------------------------------------------- space.c */

/* The reason record of the call in progress (dma_space_why): cleared when
 * a call starts, filled where a check fails.  Each returns err. */
void why_clear(struct dma_space *s);
int why(struct dma_space *s, int err, enum dma_why_kind kind, uint64_t a, uint64_t b);
/* With the mapping x involved and an id (unit, group: per kind). */
int why_map(struct dma_space *s, int err, enum dma_why_kind kind, const struct itree_node *x,
	    uint64_t a, uint64_t b, int id);
int why_id(struct dma_space *s, int err, enum dma_why_kind kind, int id);
/* Runs g's quiesce callback (attach.c); g->unquiesced stays set on error. */
int group_quiesce(struct dma_group *g) MUST_CHECK;
int why_nomem(struct dma_space *s, uint64_t bytes, enum dma_why_mem what);
int why_pin_limit(struct dma_space *s, const struct dma_owner *o, uint64_t need);
/* A driver call on unit u failed with err (where: IOVA or requester ID). */
int why_iommu(struct dma_space *s, int err, const struct iommu_unit *u, enum dma_why_op op,
	      uint64_t where);
/* An error of the pin/charge primitives (acct_new_bytes, acct_get) on the
 * host range [pa, pa + len). */
int why_acct(struct dma_space *s, int err, uint64_t pa, uint64_t len);

uint64_t space_pgsizes(const struct dma_space *s);
/* Smallest page size every domain supports, never below 4 KiB. */
uint64_t pgsize_of(uint64_t pgsizes);
uint64_t space_iova_last(const struct dma_space *s);
/* [iova, last] lies inside every domain's aperture and misses every
 * reserved range; -EINVAL (why: APERTURE, RESERVED) otherwise. */
int iova_check(struct dma_space *s, uint64_t iova, uint64_t last) MUST_CHECK;
/* Reserved IOVA [start, last] of group g (NULL: the space's own). */
int resv_add(struct dma_space *s, uint64_t start, uint64_t last, struct dma_group *g) MUST_CHECK;
void resv_drop_group(struct dma_space *s, struct dma_group *g);

/* -------------------------------------------------------------- walk.c */

typedef int (*run_fn)(uint64_t iova, uint64_t pa, uint64_t len, void *arg);
typedef int (*ivl_fn)(struct dma_mapping *m, uint64_t a, uint64_t b, void *arg);

/* Physical runs backing [a, b) of m (no hint filtering), in IOVA order;
 * adjacent segments that are physically contiguous form one run. */
int walk_runs(const struct dma_mapping *m, uint64_t a, uint64_t b, run_fn fn, void *arg);
/* Sub-ranges of [a, b) that are not hinted (live == true) or hinted. */
int walk_pieces(struct dma_mapping *m, uint64_t a, uint64_t b, bool live, ivl_fn fn, void *arg);
/* Runs of the live (not hinted) part of [a, b). */
int walk_live_runs(struct dma_mapping *m, uint64_t a, uint64_t b, run_fn fn, void *arg);

/* Run callbacks over an owner: count (new charge), get (pin + charge), put. */
struct pin_ctx {
	struct dma_owner *o;
	uint64_t bytes; /* counted / done */
	uint64_t stop;	/* IOVA reached */
	uint64_t bad;	/* host address of the run that failed, or of the frame refused */
	uint64_t bad_len;
};
int count_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg);
int get_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg);
int put_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg);

/* Pins and charges the live runs of m in [a, b); all or nothing.  Frames are
 * held once per mapping record (not per domain). */
int pin_range(struct dma_space *s, struct dma_mapping *m, uint64_t a, uint64_t b) MUST_CHECK;
void unpin_range(struct dma_space *s, struct dma_mapping *m, uint64_t a, uint64_t b);

/* Run callback mapping into one domain; stop is the IOVA reached. */
struct map_ctx {
	struct iommu_domain *d;
	unsigned prot;
	struct iommu_gather *g;
	uint64_t stop;
};
int map_run(uint64_t iova, uint64_t pa, uint64_t len, void *arg);
/* Maps the live part of [a, b) of m into d with one map call per
 * physically contiguous run, so the driver can choose 2M/1G leaves.  On
 * failure whatever was mapped is unmapped again (into g) before returning. */
int dom_map(struct iommu_domain *d, struct dma_mapping *m, uint64_t a, uint64_t b,
	    struct iommu_gather *g) MUST_CHECK;
/* Same, and *stuck (never cleared) says the unwind's unmap failed too: then
 * [a, reached) may still be mapped in d, and its pages must stay pinned. */
int dom_map_unwind(struct iommu_domain *d, struct dma_mapping *m, uint64_t a, uint64_t b,
		   struct iommu_gather *g, bool *stuck) MUST_CHECK;
/* Tries once more to unmap the quarantined ranges from d (its teardown: no
 * rid points at it any more); their pages stay pinned whatever happens. */
int dom_unmap_quarantined(struct dma_space *s, struct iommu_domain *d,
			  struct iommu_gather *g) MUST_CHECK;
/* An unwind could not unmap [a, a + len) from dd: marks it dirty, logs. */
void dom_dirty(struct dma_dom *dd, uint64_t a, uint64_t len);
/* Flush with one retry: a failed flush means memory must stay held. */
int dom_flush(struct iommu_domain *d, struct iommu_gather *g) MUST_CHECK;
unsigned count_doms(const struct dma_space *s);

/* Every frame of [pa, pa+size) is user, DMA or guest memory that o may
 * map (walk.c may_use: the console user's into the console user's spaces,
 * alloc blocks into their owner's, guest RAM into its guest's); otherwise
 * *bad is the first that is not. */
bool src_ok(const struct dma_owner *o, uint64_t pa, uint64_t size, uint64_t *bad);
/* -EPERM with why NOT_DMA_MEMORY, or OTHER_OWNER when the frame at bad is
 * DMA-able memory of someone else. */
int why_not_dma(struct dma_space *s, uint64_t bad);

/* --------------------------------------------------------------- map.c */

/* [iova, iova + size) is not empty, does not wrap and is aligned to pg;
 * -EINVAL / -EOVERFLOW with the reason recorded otherwise. */
int range_check(struct dma_space *s, uint64_t iova, uint64_t size, uint64_t pg,
		uint64_t *last) MUST_CHECK;

/* Retries the alloc blocks whose free was refused while a foreign holder
 * still pinned them. */
void release_deferred(void);

#endif
