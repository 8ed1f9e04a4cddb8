/*
 * kernel/frame.c — physical frame allocator and frame database.
 *
 * Owns every frame of usable RAM handed to frame_add_range(): a buddy
 * allocator over orders 0..FRAME_MAX_ORDER (4 KiB .. 1 GiB) plus one
 * struct frame record per 4 KiB frame (tag, order, pins, owner).
 *
 * Layout.  Each range keeps its records in an array carved from its own
 * first frames (tagged FRAME_SLUICE, never free).  Ranges live in a static
 * table sorted by base, so frame_get() is a binary search plus an index.
 *
 * Buddy state lives in the records and in the free blocks themselves:
 *  - a frame that starts a block (free or allocated) has order = the block's
 *    order; every other frame has order = ORDER_NONE (interior frames of a
 *    block, and the record frames themselves);
 *  - a free block is tagged FRAME_FREE and its first 16 bytes hold a
 *    doubly linked list node on free_list[order], so a buddy can be unlinked
 *    in O(1) while coalescing.
 * Blocks are naturally aligned in physical address and never cross a range
 * boundary (a buddy outside the range is never looked at).  Finding a block
 * is O(1) via a bitmap of non-empty lists, splitting and coalescing are
 * O(orders); tagging a block writes one record per frame (it must: every
 * frame's record carries its tag).
 *
 * Physical address 0 is never managed (so never returned): frame 0 is
 * trimmed off any range that contains it.
 *
 * Not thread safe: sluice runs the allocator on one CPU with interrupts
 * handled outside it.  See docs/memory.md.
 */
#include "kernel/frame.h"

#include <string.h>

#include "hw/hw.h"
#include "kernel/log.h"

#define MAX_RANGES 256
#define NR_ORDERS (FRAME_MAX_ORDER + 1)
/* order field of a frame that does not start a block. */
#define ORDER_NONE 0xffu
/* Records per frame of record storage. */
#define RECS_PER_FRAME (FRAME_SIZE / sizeof(struct frame))

/* 12 bytes per 4 KiB frame (0.3%): pins, tag, order, charge owner, holder. */
_Static_assert(sizeof(struct frame) == 12, "struct frame is 12 bytes");

struct range {
	uint64_t pfn;	    /* first frame */
	uint64_t npages;    /* frames in the range, records included */
	uint64_t nmeta;	    /* leading frames holding the records */
	struct frame *recs; /* records, recs[i] describes frame pfn + i */
};

struct free_node {
	struct free_node *next, *prev;
};

static struct range ranges[MAX_RANGES];
static unsigned nranges;
static struct free_node *free_list[NR_ORDERS];
static uint32_t free_mask; /* bit k set: free_list[k] not empty */
static struct frame_stats stats;

static inline uint64_t order_bytes(unsigned order) { return FRAME_SIZE << order; }

static inline uint64_t pfn_end(const struct range *r) { return r->pfn + r->npages; }

/* The range holding pfn, or NULL. */
static struct range *range_of(uint64_t pfn)
{
	unsigned lo = 0, hi = nranges;

	/* Find the last range whose start is <= pfn. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (ranges[mid].pfn <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (pfn >= pfn_end(&ranges[lo - 1]))
		return NULL;
	return &ranges[lo - 1];
}

static inline struct frame *rec_of(const struct range *r, uint64_t pfn)
{
	return &r->recs[pfn - r->pfn];
}

static void list_push(unsigned order, uint64_t pfn)
{
	struct free_node *n = phys_to_virt(pfn << FRAME_SHIFT);

	n->prev = NULL;
	n->next = free_list[order];
	if (n->next)
		n->next->prev = n;
	free_list[order] = n;
	free_mask |= 1u << order;
}

static void list_unlink(unsigned order, struct free_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		free_list[order] = n->next;
	if (n->next)
		n->next->prev = n->prev;
	if (!free_list[order])
		free_mask &= ~(1u << order);
}

/* Puts the free block [pfn, pfn + 2^order) of range r on its list,
 * merging it with free buddies.  Its records are FRAME_FREE, ORDER_NONE. */
static void free_block(struct range *r, uint64_t pfn, unsigned order)
{
	while (order < FRAME_MAX_ORDER) {
		uint64_t buddy = pfn ^ (1ull << order);
		struct frame *b;

		if (buddy < r->pfn || buddy >= pfn_end(r))
			break;
		b = rec_of(r, buddy);
		if (b->tag != FRAME_FREE || b->order != order)
			break;
		list_unlink(order, phys_to_virt(buddy << FRAME_SHIFT));
		b->order = ORDER_NONE;
		rec_of(r, pfn)->order = ORDER_NONE;
		pfn &= ~(1ull << order);
		order++;
	}
	rec_of(r, pfn)->order = (uint8_t)order;
	list_push(order, pfn);
}

/* The largest order of a naturally aligned block at pfn that ends at or
 * before end (pfn < end). */
static unsigned fit_order(uint64_t pfn, uint64_t end)
{
	unsigned order = FRAME_MAX_ORDER;

	while ((pfn & ((1ull << order) - 1)) || pfn + (1ull << order) > end)
		order--;
	return order;
}

void frame_init(void)
{
	nranges = 0;
	memset(ranges, 0, sizeof(ranges));
	memset(free_list, 0, sizeof(free_list));
	free_mask = 0;
	memset(&stats, 0, sizeof(stats));
}

int frame_add_range(uint64_t base, uint64_t size)
{
	uint64_t start, end, pfn, npages, nmeta, p;
	unsigned pos, order;
	struct range *r;

	if (size == 0)
		return 0;
	if (base + size < base)
		return -EINVAL;
	start = (base + FRAME_SIZE - 1) & ~(FRAME_SIZE - 1);
	end = (base + size) & ~(FRAME_SIZE - 1);
	if (start < base) /* rounding wrapped at the top */
		return 0;
	/* Keep physical address 0 out: a frame at 0 would read as "no frame"
	 * from frame_alloc() and as NULL through phys_to_virt(). */
	if (start == 0)
		start = FRAME_SIZE;
	if (end <= start)
		return 0;
	pfn = start >> FRAME_SHIFT;
	npages = (end - start) >> FRAME_SHIFT;

	/* Sorted position, then overlap with either neighbour. */
	for (pos = 0; pos < nranges && ranges[pos].pfn < pfn; pos++)
		;
	if (pos > 0 && pfn_end(&ranges[pos - 1]) > pfn)
		return -EINVAL;
	if (pos < nranges && ranges[pos].pfn < pfn + npages)
		return -EINVAL;

	nmeta = (npages + RECS_PER_FRAME - 1) / RECS_PER_FRAME;
	if (npages <= nmeta)
		return 0; /* too small to hold its own records and a frame */
	if (nranges == MAX_RANGES)
		return -ENOSPC;

	memmove(&ranges[pos + 1], &ranges[pos], (nranges - pos) * sizeof(ranges[0]));
	nranges++;
	r = &ranges[pos];
	r->pfn = pfn;
	r->npages = npages;
	r->nmeta = nmeta;
	r->recs = phys_to_virt(start);

	for (p = 0; p < npages; p++) {
		r->recs[p] = (struct frame){
			.pins = 0,
			.tag = p < nmeta ? FRAME_SLUICE : FRAME_FREE,
			.order = ORDER_NONE,
			.owner = 0,
		};
	}

	/* Greedy cover of the rest with the largest aligned blocks that fit;
	 * free_block() merges with nothing here (neighbours are not free
	 * buddies of the same order), but going through it keeps one path. */
	for (p = pfn + nmeta; p < pfn + npages; p += 1ull << order) {
		order = fit_order(p, pfn + npages);
		free_block(r, p, order);
	}

	stats.total += npages << FRAME_SHIFT;
	stats.free += (npages - nmeta) << FRAME_SHIFT;
	return 0;
}

uint64_t frame_alloc(unsigned order, enum frame_tag tag)
{
	uint32_t avail;
	unsigned k;
	uint64_t pfn, i;
	struct free_node *n;
	struct range *r;
	struct frame *f;

	if (order > FRAME_MAX_ORDER || tag == FRAME_FREE || tag > FRAME_RESERVED)
		return 0;
	avail = free_mask >> order;
	if (!avail)
		return 0;
	k = order + (unsigned)__builtin_ctz(avail);
	n = free_list[k];
	list_unlink(k, n);
	pfn = virt_to_phys(n) >> FRAME_SHIFT;
	r = range_of(pfn);

	/* Split: the upper halves go back on the lists. */
	while (k > order) {
		k--;
		rec_of(r, pfn + (1ull << k))->order = (uint8_t)k;
		list_push(k, pfn + (1ull << k));
	}

	/* Free frames carry no pins and no owner: whole-record stores. */
	f = rec_of(r, pfn);
	for (i = 0; i < (1ull << order); i++)
		f[i] = (struct frame){.tag = (uint8_t)tag, .order = ORDER_NONE};
	f[0].order = (uint8_t)order;

	stats.free -= order_bytes(order);
	if (tag == FRAME_IOPT)
		stats.iopt += order_bytes(order);
	return pfn << FRAME_SHIFT;
}

uint64_t frame_alloc_zeroed(unsigned order, enum frame_tag tag)
{
	uint64_t pa = frame_alloc(order, tag);

	if (pa)
		memset(phys_to_virt(pa), 0, order_bytes(order));
	return pa;
}

void frame_set_holder(uint64_t pa, unsigned order, uint16_t holder)
{
	struct frame *f = frame_get(pa);

	for (uint64_t i = 0; f && i < (1ull << order); i++)
		f[i].holder = holder;
}

int frame_free(uint64_t pa, unsigned order)
{
	uint64_t pfn = pa >> FRAME_SHIFT, i;
	struct range *r;
	struct frame *f;

	if (order > FRAME_MAX_ORDER || (pa & (FRAME_SIZE - 1)))
		return -EINVAL;
	r = range_of(pfn);
	if (!r)
		return -EINVAL;
	f = rec_of(r, pfn);
	/* Only the first frame of an allocated block carries its order. */
	if (f->order != order || f->tag == FRAME_FREE)
		return -EINVAL;
	for (i = 0; i < (1ull << order); i++)
		if (f[i].pins)
			return -EBUSY;

	if (f->tag == FRAME_IOPT)
		stats.iopt -= order_bytes(order);
	stats.free += order_bytes(order);
	for (i = 0; i < (1ull << order); i++)
		f[i] = (struct frame){.tag = FRAME_FREE, .order = ORDER_NONE};
	free_block(r, pfn, order);
	return 0;
}

struct frame *frame_get(uint64_t pa)
{
	uint64_t pfn = pa >> FRAME_SHIFT;
	struct range *r = range_of(pfn);

	return r ? rec_of(r, pfn) : NULL;
}

/*
 * Calls fn(rec, n, arg) for each run of records covering frames
 * [pfn, pfn + count) (one run per range crossed).  Stops at the first
 * non-zero result; an unmanaged frame gives -EFAULT.
 */
static int for_each_run(uint64_t pfn, uint64_t count,
			int (*fn)(struct frame *f, uint64_t n, void *arg), void *arg)
{
	while (count) {
		struct range *r = range_of(pfn);
		uint64_t n;
		int err;

		if (!r)
			return -EFAULT;
		n = pfn_end(r) - pfn;
		if (n > count)
			n = count;
		err = fn(rec_of(r, pfn), n, arg);
		if (err)
			return err;
		pfn += n;
		count -= n;
	}
	return 0;
}

/* Page-aligned [pa, pa+size) as frames; false if unaligned or wrapping. */
static bool frame_span(uint64_t pa, uint64_t size, uint64_t *pfn, uint64_t *count)
{
	if ((pa | size) & (FRAME_SIZE - 1))
		return false;
	if (pa + size < pa)
		return false;
	*pfn = pa >> FRAME_SHIFT;
	*count = size >> FRAME_SHIFT;
	return true;
}

struct frame *frame_run(uint64_t pa, uint64_t *n)
{
	uint64_t pfn = pa >> FRAME_SHIFT;
	struct range *r = range_of(pfn);

	if (!r) {
		*n = 0;
		return NULL;
	}
	*n = pfn_end(r) - pfn;
	return rec_of(r, pfn);
}

/* Adds delta (+1 or -1) to the pins of [pfn, pfn + count), all managed:
 * the rollback of a partly done pin or unpin (stats untouched). */
/* What a pin or unpin pass did, for its rollback and the running total. */
struct pin_walk {
	uint64_t done;	  /* frames changed so far */
	uint64_t crossed; /* frames whose count left zero (pin) or reached it (unpin) */
};

/* One run of frame_pin: +1 on each frame until one cannot take a pin. */
static int pin_run(struct frame *f, uint64_t n, void *arg)
{
	struct pin_walk *w = arg;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t p = f[i].pins;

		if (f[i].tag == FRAME_FREE || p == UINT32_MAX) {
			w->done += i;
			return f[i].tag == FRAME_FREE ? -EFAULT : -EOVERFLOW;
		}
		w->crossed += p == 0;
		f[i].pins = p + 1;
	}
	w->done += n;
	return 0;
}

/* One run of frame_unpin: -1 on each frame until one is not pinned. */
static int unpin_run(struct frame *f, uint64_t n, void *arg)
{
	struct pin_walk *w = arg;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t p = f[i].pins;

		if (p == 0) {
			w->done += i;
			return -EINVAL;
		}
		w->crossed += p == 1;
		f[i].pins = p - 1;
	}
	w->done += n;
	return 0;
}

/* Rollback of a partial pass: delta (+1 or -1 as uint32_t) on every frame. */
static int add_run(struct frame *f, uint64_t n, void *arg)
{
	uint32_t delta = *(const uint32_t *)arg;

	for (uint64_t i = 0; i < n; i++)
		f[i].pins += delta;
	return 0;
}

static void pins_add(uint64_t pfn, uint64_t count, uint32_t delta)
{
	/* Only frames a pass just changed: they are managed, this cannot fail. */
	(void)for_each_run(pfn, count, add_run, &delta);
}

/*
 * Pin and unpin are one pass over the records of each range crossed (one
 * range lookup per range, not per frame), with a rollback of the frames
 * already done when a bad frame turns up: failures are rare (caller bugs
 * or a refused source), so the common case touches each record once.
 * The running total is updated once per call.
 */
int frame_pin(uint64_t pa, uint64_t size)
{
	struct pin_walk w = {0, 0};
	uint64_t pfn, count;
	int err;

	if (!frame_span(pa, size, &pfn, &count))
		return -EINVAL;
	err = for_each_run(pfn, count, pin_run, &w);
	if (err) {
		/* All or nothing: take back the pins already added. */
		pins_add(pfn, w.done, (uint32_t)-1);
		return err;
	}
	stats.pinned += w.crossed << FRAME_SHIFT;
	return 0;
}

void frame_unpin(uint64_t pa, uint64_t size)
{
	struct pin_walk w = {0, 0};
	uint64_t pfn = 0, count = 0;

	if (!frame_span(pa, size, &pfn, &count) || for_each_run(pfn, count, unpin_run, &w)) {
		/* A caller bug: say so and change nothing rather than let a
		 * pin count wrap and free a frame a device can still reach. */
		if (w.done)
			pins_add(pfn, w.done, 1);
		klog("frame: unpin of unpinned or unmanaged range %#llx+%#llx ignored",
		     (unsigned long long)pa, (unsigned long long)size);
		return;
	}
	stats.pinned -= w.crossed << FRAME_SHIFT;
}

static int tag_check(struct frame *f, uint64_t n, void *arg)
{
	uint8_t tag = *(const uint8_t *)arg;

	for (uint64_t i = 0; i < n; i++)
		if (f[i].tag != tag)
			return -EPERM;
	return 0;
}

bool frame_range_tagged(uint64_t pa, uint64_t size, enum frame_tag tag)
{
	uint64_t first, last;
	uint8_t t = (uint8_t)tag;

	/* Every frame touched by a byte of the range; empty is not tagged. */
	if (size == 0 || pa + size < pa)
		return false;
	first = pa >> FRAME_SHIFT;
	last = (pa + size - 1) >> FRAME_SHIFT;
	return for_each_run(first, last - first + 1, tag_check, &t) == 0;
}

/* Makes [pfn, end) of range r, interior frames of one allocated block,
 * allocated blocks of their own: the largest naturally aligned ones that
 * fit, so each keeps the biggest page a later map may use.  Only the order
 * fields change; tag, holder, charge owner and pins stay per frame. */
static void carve(struct range *r, uint64_t pfn, uint64_t end)
{
	for (uint64_t p = pfn; p < end; p += 1ull << rec_of(r, p)->order)
		rec_of(r, p)->order = (uint8_t)fit_order(p, end);
}

int frame_free_range(uint64_t block, unsigned order, uint64_t pa, uint64_t size)
{
	uint64_t bpfn = block >> FRAME_SHIFT, bend, pfn, count, end, i;
	struct range *r;
	struct frame *f;
	unsigned k;
	uint8_t tag;

	if (order > FRAME_MAX_ORDER || (block & (FRAME_SIZE - 1)) || size == 0 ||
	    !frame_span(pa, size, &pfn, &count))
		return -EINVAL;
	r = range_of(bpfn);
	if (!r)
		return -EINVAL;
	f = rec_of(r, bpfn);
	/* Only the first frame of an allocated block carries its order. */
	if (f->order != order || f->tag == FRAME_FREE)
		return -EINVAL;
	bend = bpfn + (1ull << order);
	end = pfn + count;
	if (pfn < bpfn || end > bend)
		return -EINVAL;
	for (i = pfn; i < end; i++)
		if (f[i - bpfn].pins)
			return -EBUSY;

	tag = f->tag;
	f->order = ORDER_NONE;
	carve(r, bpfn, pfn);
	carve(r, end, bend);
	for (i = pfn; i < end; i++)
		f[i - bpfn] = (struct frame){.tag = FRAME_FREE, .order = ORDER_NONE};
	/* The freed part as aligned blocks; free_block merges them with free
	 * buddies (outside the old block only when all of it was freed). */
	for (i = pfn; i < end; i += 1ull << k) {
		k = fit_order(i, end);
		free_block(r, i, k);
	}
	if (tag == FRAME_IOPT)
		stats.iopt -= size;
	stats.free += size;
	return 0;
}

int frame_block_of(uint64_t pa, uint64_t *block, unsigned *order)
{
	uint64_t pfn = pa >> FRAME_SHIFT;
	struct range *r = range_of(pfn);

	if (!r || rec_of(r, pfn)->tag == FRAME_FREE)
		return -EINVAL;
	/* Blocks are naturally aligned: the head of the one holding pfn is pfn
	 * rounded down to its order, the one k whose head says order k (a
	 * smaller k's candidate is an interior frame or a head of another order). */
	for (unsigned k = 0; k <= FRAME_MAX_ORDER; k++) {
		uint64_t head = pfn & ~((1ull << k) - 1);

		if (head < r->pfn)
			break;
		if (rec_of(r, head)->order == k) {
			*block = head << FRAME_SHIFT;
			*order = k;
			return 0;
		}
	}
	return -EINVAL; /* record frames belong to no block */
}

void frame_stats(struct frame_stats *out) { *out = stats; }
