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

#include "arch/x86/irq.h"
#include "lib/err.h"

#define IOMMU_READ 0x1u
#define IOMMU_WRITE 0x2u

#define PGSIZE_4K (1ull << 12)
#define PGSIZE_2M (1ull << 21)
#define PGSIZE_1G (1ull << 30)

struct iommu_ops;
struct iommu_irq_ops;
struct iommu_domain;
struct iommu_line;

/* One hardware unit (a VT-d DRHD, later an SMMU).  The driver embeds it. */
struct iommu_unit {
	const struct iommu_ops *ops;
	unsigned index;	       /* unit number as the console shows it */
	uint16_t segment;      /* PCI segment it serves */
	uint64_t pgsizes;      /* leaf sizes every domain on it can use */
	uint64_t aperture_end; /* last IOVA a domain on it can translate */
	bool snoop_control;    /* can force snooping (VT-d ECAP.SC) */
	bool intr_remap;       /* interrupts from its devices are remapped */
	bool intr_isolated;    /* remapped, and compatibility-format ones blocked */
	unsigned ndomains;     /* domains alive on this unit */
	/* Interrupt routes (last section below); NULL: it remaps none. */
	const struct iommu_irq_ops *irq_ops;
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
	/* What the console shows of a unit (optional, NULL = not offered;
	 * see "Describe, fault log and self-test" below). */
	/* Writes u's `iommu` record word by word (iommu_line_word/_field). */
	void (*describe)(struct iommu_unit *u, struct iommu_line *l);
	/* Moves the fault records u holds into the fault log (iommu_fault_add);
	 * called with interrupts off, for faults whose interrupt was lost. */
	void (*fault_poll)(struct iommu_unit *u);
	/* Proves a hardware mechanism on u (VT-d: queued-invalidation error
	 * recovery) and writes its result words to l.  0 passed, -ENODEV
	 * nothing to test on this unit (l says why), -EIO failed. */
	int (*selftest)(struct iommu_unit *u, struct iommu_line *l) MUST_CHECK;
	int (*domain_alloc)(struct iommu_unit *u, struct iommu_domain **out) MUST_CHECK;
	/* Only for a domain with no devices; unmaps nothing (caller did). */
	void (*domain_free)(struct iommu_domain *d);
	/* Points requester ID rid (bus<<8|devfn) at d.  A rid attached to
	 * another domain is switched (old domain id invalidated); -EBUSY if it
	 * belongs to an identity (RMRR) domain and the policy forbids it. */
	int (*attach)(struct iommu_domain *d, uint16_t rid) MUST_CHECK;
	/* Removes rid's context: its DMA is blocked again (default deny).  If
	 * the context-cache invalidation fails, rid stays blocked and counted
	 * on d until a retried detach (or attach) completes it. */
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
/* Removes a unit from the registry (driver shutdown, tests). */
void iommu_unregister_unit(struct iommu_unit *u);

/* ===================================================================
 * Describe, fault log and self-test: what the console shows of units,
 * without knowing which driver runs them.
 * =================================================================== */

/* A console record being written: "key=value" words separated by one
 * blank, no newline.  Drivers add words; the core owns the buffer. */
struct iommu_line {
	struct iommu_unit *unit;
	char *buf;
	size_t len, used;
	bool truncated; /* a word did not fit (it was dropped whole) */
};

/* Fields every unit has, formatted by the core from struct iommu_unit. */
enum iommu_field {
	IOMMU_FIELD_INDEX,   /* unit=<index> */
	IOMMU_FIELD_SEGMENT, /* seg=<segment> */
	IOMMU_FIELD_PGSIZES, /* sps=4K,2M,1G (the unit's pgsizes; "-" if none) */
	IOMMU_FIELD_DOMAINS, /* domains=<ndomains> */
	IOMMU_FIELD_KIND,    /* kind=<the driver's ops name: vtd, smmuv3> */
};

/* Appends key=<value formatted by fmt>. */
void iommu_line_word(struct iommu_line *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends one of the generic fields of l->unit. */
void iommu_line_field(struct iommu_line *l, enum iommu_field f);

/* u's record for the `iommu` command, from its driver's describe op.
 * -ENOTSUP: the driver has none; -ENOSPC: it did not fit in len. */
int iommu_describe(struct iommu_unit *u, char *buf, size_t len) MUST_CHECK;
/* Runs u's selftest op, its result words in buf: the op's result, or
 * -ENOTSUP when the driver has none. */
int iommu_selftest(struct iommu_unit *u, char *buf, size_t len) MUST_CHECK;

/* ---- the fault log: every unit's DMA and interrupt-remapping faults --- */
enum iommu_fault_kind { IOMMU_FAULT_DMA = 0, IOMMU_FAULT_IR = 1 };

struct iommu_fault {
	uint64_t seq; /* 1, 2, ...: iommu_fault_total() right after it was logged */
	uint64_t time_ns;
	uint64_t addr; /* DMA: the faulting page; IR: the interrupt index */
	unsigned unit; /* iommu_unit.index */
	uint16_t seg, rid;
	uint8_t kind; /* enum iommu_fault_kind */
	bool is_read;
	unsigned reason;	 /* the driver's reason code (VT-d: Appendix A) */
	const char *reason_name; /* the driver's name for it: static, no blanks */
};

#define IOMMU_FAULT_LOG_SIZE 64 /* records kept (the oldest is dropped) */

/* Driver side, from its fault handler (interrupts off): logs *f and sets
 * f->seq. */
void iommu_fault_add(struct iommu_fault *f);
/* Every unit's fault_poll op, interrupts off: nothing is lost to a lost
 * interrupt (the console's idle loop, `iommu faults`, edu commands). */
void iommu_fault_poll(void);
/* Faults logged so far (monotonic, not reset by a clear), and whether one
 * from rid on seg was logged after the total was mark. */
uint64_t iommu_fault_total(void);
bool iommu_fault_seen_since(uint64_t mark, uint16_t seg, uint16_t rid);
/* Copies up to max records, oldest first (interrupts off meanwhile: the
 * fault interrupt rewrites the log).  Returns how many. */
unsigned iommu_fault_snapshot(struct iommu_fault *out, unsigned max);
/* `iommu faults clear`: empties the log. */
void iommu_fault_clear(void);
/* Faults since the last clear (the console's total=). */
uint64_t iommu_fault_total_since_clear(void);
/* Tests: forget the log and the totals. */
void iommu_fault_reset(void);

/* ==========================================================================
 * Interrupt routes (iommu/irq_route.c).
 *
 * A route is what an interrupt-remapping unit holds for one interrupt
 * source: the vector and CPU it is delivered to and the requester id(s)
 * allowed to send it (VT-d: one IRTE).  The core owns the registry the
 * `irq` command lists and the vector and handler of each route; a driver
 * fills struct iommu_irq_ops (VT-d: iommu/vtd/ir.c) for entry allocation,
 * encoding, write order and invalidation.  MSI/MSI-X (drivers/msi.c) and
 * the IOAPIC (drivers/ioapic.c) reach the hardware only through this.
 *
 *     struct iommu_irq_source src = {.kind = IOMMU_IRQ_MSI, ...};
 *     iommu_irq_route_alloc(u, &src, fn, ctx, &r);   // entry written, present
 *     iommu_irq_route_msi(r, &msg);                  // program the device
 *     iommu_irq_route_register(r);                   // `irq` lists it
 *     ...
 *     iommu_irq_route_free(r);                       // not present, freed
 * ========================================================================== */

/* Route indices are 16-bit handles (VT-d 5.1.2.2); the console's limit. */
#define IOMMU_IRQ_MAX_ENTRIES 65536u

enum iommu_irq_kind { IOMMU_IRQ_MSI = 0, IOMMU_IRQ_MSIX = 1, IOMMU_IRQ_IOAPIC = 2 };

/* Who may raise a route's interrupt (`irq` prints the value as svt=). */
#define IOMMU_IRQ_SRC_NONE 0 /* refused: every route validates its source */
#define IOMMU_IRQ_SRC_RID 1  /* requester id == sid (src_qual: low bits ignored) */
#define IOMMU_IRQ_SRC_BUS 2  /* any requester on buses sid>>8 .. sid&0xff */

/* x86 delivery modes (SDM 10.11.2). */
#define IOMMU_IRQ_DLM_FIXED 0
#define IOMMU_IRQ_DLM_LOWPRI 1

/* What one route delivers and whom it accepts (VT-d: the IRTE's fields). */
struct iommu_irq_entry {
	uint8_t vector;
	uint32_t dest;	   /* APIC id (8 bits unless the unit takes x2APIC ids) */
	bool level;	   /* trigger mode (must match the IOAPIC RTE) */
	bool logical;	   /* destination mode; sluice uses physical */
	uint8_t dlm;	   /* IOMMU_IRQ_DLM_* or another x86 delivery mode */
	bool rh;	   /* redirection hint */
	bool fpd;	   /* faults for this entry not reported */
	uint8_t src_check; /* IOMMU_IRQ_SRC_RID or _BUS (NONE is refused) */
	uint8_t src_qual;  /* with _RID: VT-d 9.10 SQ; 0 = all 16 bits compared */
	uint16_t sid;	   /* requester id, or start<<8|end bus with _BUS */
};

/* An MSI/MSI-X message (address and data the device writes). */
struct iommu_msi_msg {
	uint32_t addr_lo, addr_hi, data;
};

struct iommu_irq_route;

/* What allocating a route needs to know about the source. */
struct iommu_irq_source {
	enum iommu_irq_kind kind;
	uint16_t seg;
	uint16_t rid;	/* the function's requester id, or the IOAPIC's source-id */
	uint16_t alias; /* the requester id its messages reach the unit with */
	bool takeover;	/* alias is (secondary bus, 0, 0) of a PCIe-to-PCI bridge */
	unsigned gsi;	/* IOAPIC: the GSI; MSI-X: the table entry */
	bool level;	/* trigger mode */
	void *owner;	/* the driver's (struct pci_dev *, struct ioapic *) */
	/* Called by iommu_irq_route_retarget after the entry carries the new
	 * vector (the IOAPIC repeats the vector in its RTE for EOI). */
	int (*on_retarget)(struct iommu_irq_route *r, unsigned new_vector);
};

/* One route in the registry. */
struct iommu_irq_route {
	struct iommu_unit *unit;
	unsigned index;	 /* the unit's entry (VT-d: IRTE index) */
	unsigned count;	 /* entries in the block (1 for what sluice programs) */
	unsigned vector; /* the vector held, 0 when none */
	struct iommu_irq_entry entry;
	bool present;
	enum iommu_irq_kind kind;
	uint16_t seg, bdf; /* the device (MSI) or the IOAPIC's source-id */
	unsigned gsi;	   /* IOAPIC: the GSI; MSI-X: the table entry */
	irq_handler_fn fn;
	void *ctx;
	int (*on_retarget)(struct iommu_irq_route *r, unsigned new_vector);
	void *owner;
	struct iommu_irq_route *next;
};

/* What an interrupt-remapping driver does per unit. */
struct iommu_irq_ops {
	/* A naturally aligned block of count entries (rounded up to a power of
	 * two).  -EINVAL (count 0 or above the table), -ENOSPC, -ENOENT (off). */
	int (*alloc)(struct iommu_unit *u, unsigned count, unsigned *index) MUST_CHECK;
	/* Leaves the block not present, invalidates cached copies, then frees
	 * it; if the invalidation fails the entries stay allocated (error). */
	int (*free)(struct iommu_unit *u, unsigned index, unsigned count) MUST_CHECK;
	/* Writes allocated entry index (present or not) so the hardware never
	 * sees half of it, and invalidates cached copies before returning.
	 * -EINVAL: not allocated or a bad entry; -ERANGE: dest does not fit. */
	int (*write)(struct iommu_unit *u, unsigned index, const struct iommu_irq_entry *e,
		     bool present) MUST_CHECK;
	/* The message that raises message sub of the block at index. */
	void (*compose_msi)(const struct iommu_unit *u, unsigned index, unsigned sub,
			    struct iommu_msi_msg *msg);
	/* The IOAPIC RTE that raises entry index (e's vector and trigger). */
	uint64_t (*compose_ioapic_rte)(const struct iommu_unit *u, unsigned index,
				       const struct iommu_irq_entry *e, bool active_low,
				       bool masked);
};

/* Whether routes can be allocated on u (its driver turned remapping on). */
static inline bool iommu_irq_remapping(const struct iommu_unit *u)
{
	return u && u->intr_remap && u->irq_ops;
}

/* The source check for a PCI function with requester id rid whose messages
 * reach the unit as alias (struct pci_dev.alias_rid); the IOAPIC passes its
 * source-id as both.  Pure:
 *  - alias == rid: _RID, all bits, sid = rid;
 *  - takeover: the bridge forwards with (secondary bus, 0, 0) or, in PCI-X
 *    mode, the original id, so only the bus is checked: _BUS over
 *    [alias bus, rid bus];
 *  - otherwise (a conventional bridge forwards with its own id): _RID with
 *    sid = alias. */
void iommu_irq_source_check(struct iommu_irq_entry *e, uint16_t rid, uint16_t alias, bool takeover);

/* Takes a vector (handler fn/ctx) and one entry on u and writes it present:
 * the vector, this CPU, fixed delivery, src's trigger and source check.
 * Not listed until iommu_irq_route_register().  -ENODEV: u does not remap
 * interrupts; -ENOSPC (no vector or entry), -ENOMEM, or the write's error
 * (then the entry and vector stay held if the entry could not be
 * invalidated: a stale cached entry must not reach the vector's next owner). */
int iommu_irq_route_alloc(struct iommu_unit *u, const struct iommu_irq_source *src,
			  irq_handler_fn fn, void *ctx, struct iommu_irq_route **out) MUST_CHECK;
/* Unregisters r, leaves its entries not present and frees them, then the
 * vector (kept if the entries could not be invalidated), then r. */
void iommu_irq_route_free(struct iommu_irq_route *r);
void iommu_irq_route_register(struct iommu_irq_route *r);
void iommu_irq_route_unregister(struct iommu_irq_route *r);
struct iommu_irq_route *iommu_irq_routes(void); /* list head, registration order */
/* The route using entry index on any unit: -ENOENT none, -EINVAL if the index
 * is used on several units and unit < 0 (give the unit then). */
int iommu_irq_route_find(int unit, unsigned index, struct iommu_irq_route **out) MUST_CHECK;

/* The message a device sends for r (message 0). */
void iommu_irq_route_msi(const struct iommu_irq_route *r, struct iommu_msi_msg *msg);
/* The IOAPIC RTE for r: its vector and trigger, polarity as given. */
uint64_t iommu_irq_route_ioapic_rte(const struct iommu_irq_route *r, bool active_low, bool masked);

/* Rewrites r's entry with vector, dest and trigger (present bit kept).  The
 * vector held is not changed: iommu_irq_route_retarget does that. */
int iommu_irq_route_set_target(struct iommu_irq_route *r, uint8_t vector, uint32_t dest,
			       bool level) MUST_CHECK;
/* Moves r to a fresh vector: allocates it, rewrites the entry, calls
 * on_retarget, frees the old vector.  The new vector in *new_vector. */
int iommu_irq_route_retarget(struct iommu_irq_route *r, unsigned *new_vector) MUST_CHECK;
int iommu_irq_route_set_present(struct iommu_irq_route *r, bool present) MUST_CHECK;
/* Source check against sid alone (_RID, all bits): a wrong one drops the
 * interrupt (tests prove it). */
int iommu_irq_route_set_sid(struct iommu_irq_route *r, uint16_t sid) MUST_CHECK;

#endif
