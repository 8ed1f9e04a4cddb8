// SOURCES: vm/mem.c arch/x86/npt.c lib/pgtable.c dma/space.c dma/walk.c dma/map.c dma/hint.c dma/attach.c dma/prereg.c dma/acct.c lib/itree.c kernel/frame.c tests/unit/fake_iommu.c
/*
 * tests/unit/test_vm_mem.c — a VM's guest RAM (vm/mem.c): blocks as large
 * as they fit, mapped once in the NPT and once in the VM's DMA space
 * (IOVA = gpa), and free-page hinting: a hint takes the range out of the
 * NPT and every IOMMU domain and gives the frames back; an unhint brings
 * fresh zeroed frames in at the same address in both; a failure leaves the
 * range as it was.  On the fake IOMMU with frames from host memory (the
 * frames' physical address is their host address, so vm_gpa_ptr is usable).
 */
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>

#include "tests/unit/dma_testlib.h"
#include "vm/vm_priv.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define G1 0x40000000ull
#define RWX (NPT_R | NPT_W | NPT_X)
#define VMID 7

/* ---- what vm/mem.c calls outside the linked files ---- */
static char vcpu_dummy;
#define VCPU ((struct vcpu *)(void *)&vcpu_dummy)
static unsigned npt_flushes;
void vcpu_flush_npt(struct vcpu *v)
{
	CHECK(v == VCPU);
	npt_flushes++;
}

static char why[256];
void vm_why_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

/* ---- a VM built by hand, as vm.c builds one ---- */
static struct iommu_unit *unit;
static struct dma_group grp;
static struct iommu_domain *dom;
static uint64_t free0, pinned0; /* before the VM existed */

static struct vm *mk_vm(uint64_t mem)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	tl_setup();
	fake_iommu_reset();
	npt_flushes = 0;
	free0 = tl_mem().free;
	pinned0 = tl_mem().pinned;
	if (!vm)
		abort();
	vm->id = VMID;
	vm->mem = mem;
	vm->vcpu = VCPU;
	CHECK_EQ(dma_space_create_guest(VMID, &vm->as), 0);
	CHECK_EQ(dma_owner_set_limit(vm->as, mem), 0);
	/* A passed-through device's group: a hardware domain exists. */
	unit = tl_unit(PGSIZE_4K | PGSIZE_2M | PGSIZE_1G);
	tl_group(&grp, unit, 1);
	CHECK_EQ(dma_attach(vm->as, &grp), 0);
	dom = fake_iommu_rid_domain(unit, 1);
	CHECK(dom != NULL);
	CHECK_EQ(vm_mem_init(vm), 0);
	CHECK_EQ(vm_mem_map(vm), 0);
	return vm;
}

/* vm.c's order: the DMA space, then the NPT, then the RAM. */
static void rm_vm(struct vm *vm)
{
	CHECK_EQ(dma_space_destroy(vm->as), 0);
	npt_destroy(&vm->npt);
	vm_mem_free(vm);
	CHECK_EQ(fake_iommu_stats.violations, 0);
	fake_iommu_unit_free(unit);
	CHECK_EQ(tl_mem().free, free0);
	CHECK_EQ(tl_mem().pinned, pinned0);
	free(vm);
}

static uint64_t owner_pinned(struct vm *vm)
{
	struct dma_owner_stat os;

	dma_owner_stat(vm->as, &os);
	return os.pinned;
}

/* Bits of what is wrong with a page that should be the guest's (at hpa
 * want, 0 = anywhere) with an NPT leaf of level lvl (0 = any). */
enum {
	B_NPT = 1,
	B_NPT_HPA = 2,
	B_NPT_PROT = 4,
	B_NPT_LVL = 8,
	B_DOM = 0x10,
	B_DOM_HPA = 0x20,
	B_PTR = 0x40,
	B_HINTED = 0x80,
	B_LOOKUP = 0x100,
	B_TAG = 0x200,
	B_PINS = 0x400,
};

static unsigned live_bad(struct vm *vm, uint64_t gpa, uint64_t want, unsigned lvl)
{
	uint64_t hpa = 0, dh = 0, lh = 0;
	unsigned l = 0, p = 0, dl, dp, bad = 0;
	bool hinted = true;

	if (npt_walk(&vm->npt, gpa, &hpa, &l, &p))
		return B_NPT;
	if (want && hpa != want)
		bad |= B_NPT_HPA;
	if (p != RWX)
		bad |= B_NPT_PROT;
	if (lvl && l != lvl)
		bad |= B_NPT_LVL;
	if (dom->unit->ops->iova_to_phys(dom, gpa, &dh, &dl, &dp))
		bad |= B_DOM;
	else if (dh != hpa || dp != (DMA_PROT_R | DMA_PROT_W))
		bad |= B_DOM_HPA;
	if (vm_gpa_ptr(vm, gpa, NULL) != (void *)(uintptr_t)hpa)
		bad |= B_PTR;
	if (vm_gpa_hinted(vm, gpa))
		bad |= B_HINTED;
	if (dma_lookup(vm->as, gpa, &lh, &hinted) || hinted || lh != hpa)
		bad |= B_LOOKUP;
	struct frame *f = frame_get(hpa);
	if (!f || f->tag != FRAME_GUEST || f->holder != VMID)
		bad |= B_TAG;
	if (!f || f->pins != 1)
		bad |= B_PINS;
	return bad;
}

static unsigned hinted_bad(struct vm *vm, uint64_t gpa)
{
	uint64_t hpa;
	unsigned bad = 0;
	bool hinted = false;

	if (npt_walk(&vm->npt, gpa, NULL, NULL, NULL) != -ENOENT)
		bad |= B_NPT;
	if (dom->unit->ops->iova_to_phys(dom, gpa, &hpa, NULL, NULL) != -ENOENT)
		bad |= B_DOM;
	if (vm_gpa_ptr(vm, gpa, NULL))
		bad |= B_PTR;
	if (!vm_gpa_hinted(vm, gpa))
		bad |= B_HINTED;
	if (dma_lookup(vm->as, gpa, &hpa, &hinted) || !hinted)
		bad |= B_LOOKUP;
	return bad;
}

/* Every page of the VM consistent (hinted or live); *nhinted = hinted bytes. */
static unsigned all_bad(struct vm *vm, uint64_t *nhinted)
{
	unsigned bad = 0;
	uint64_t h = 0;

	for (uint64_t g = 0; g < vm->mem; g += K4) {
		if (vm_gpa_hinted(vm, g)) {
			h += K4;
			bad |= hinted_bad(vm, g);
		} else {
			bad |= live_bad(vm, g, 0, 0);
		}
	}
	if (owner_pinned(vm) != vm->mem - h)
		bad |= 0x10000;
	if (fake_iommu_mapped_bytes(dom) != vm->mem - h)
		bad |= 0x20000;
	if (tl_check_space(vm->as, &dom, 1))
		bad |= 0x40000;
	if (nhinted)
		*nhinted = h;
	return bad;
}

static bool zero(const void *p, uint64_t len)
{
	const uint64_t *q = p;

	for (uint64_t i = 0; i < len / 8; i++)
		if (q[i])
			return false;
	return true;
}

/* Everything observable: the space, the domain, frames free and pinned,
 * the NPT, the extents.  (Not the hpa the DMA space records for hinted
 * pages: those frames are gone either way, and a failed unhint may leave
 * the range rebound to other gone frames.) */
static uint64_t state(struct vm *vm)
{
	struct dma_space_info si;
	struct tl_mem m = tl_mem();

	CHECK_EQ(tl_check_space(vm->as, &dom, 1), 0);
	tl_h = 0xcbf29ce484222325ull;
	dma_space_info(vm->as, &si);
	tl_mix(si.nmaps);
	tl_mix(si.hinted);
	tl_mix(si.ndomains);
	tl_mix(owner_pinned(vm));
	tl_mix(fake_iommu_mapped_bytes(dom));
	tl_mix(m.free);
	tl_mix(m.pinned);
	tl_mix(vm->npt.table_pages);
	tl_mix(vm->ext.count);
	for (uint64_t g = 0; g < vm->mem; g += K4) {
		uint64_t hpa = 0, dh = 0;
		unsigned l = 0;
		bool hinted = vm_gpa_hinted(vm, g);
		tl_mix(npt_walk(&vm->npt, g, &hpa, &l, NULL) == 0);
		tl_mix(hpa);
		tl_mix(l);
		tl_mix(hinted);
		tl_mix(dom->unit->ops->iova_to_phys(dom, g, &dh, NULL, NULL) == 0);
		tl_mix(dh);
		if (!hinted && !dma_lookup(vm->as, g, &dh, &hinted))
			tl_mix(dh);
	}
	return tl_h;
}

/* ---- frames taken away from everyone (exhaustion) ---- */
#define CARVED 0x100u /* ord flag: part of the block went back */
struct hog {
	uint64_t *pa;
	unsigned *ord;
	unsigned n, cap;
};

static void hog_put(struct hog *h, uint64_t pa, unsigned o)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->pa = realloc(h->pa, h->cap * sizeof(*h->pa));
		h->ord = realloc(h->ord, h->cap * sizeof(*h->ord));
		if (!h->pa || !h->ord)
			abort();
	}
	h->pa[h->n] = pa;
	h->ord[h->n++] = o;
}

/* Allocates every free frame, then gives back exactly `leave` 4K frames
 * (none of them forming a 2 MiB block when leave < 512). */
static void hog_all(struct hog *h, uint64_t leave)
{
	memset(h, 0, sizeof(*h));
	for (int o = FRAME_MAX_ORDER; o >= 0; o--)
		for (uint64_t pa; (pa = frame_alloc((unsigned)o, FRAME_USER));)
			hog_put(h, pa, (unsigned)o);
	CHECK_EQ(tl_mem().free, 0);
	/* Parts of hogged blocks go back (frame_free_range), never a whole
	 * 2 MiB region, so the frames left free make no 2 MiB block. */
	for (unsigned i = h->n; leave && i-- > 0;) {
		uint64_t base = h->pa[i], sz = K4 << h->ord[i];
		uint64_t step = sz < M2 ? sz : M2;
		if (h->ord[i] == 0) {
			CHECK_EQ(frame_free(base, 0), 0);
			h->ord[i] = UINT_MAX; /* gone */
			leave--;
			continue;
		}
		h->ord[i] |= CARVED;
		for (uint64_t r = base; leave && r < base + sz; r += step) {
			uint64_t give = step / K4 - 1, b;
			unsigned o;
			if (give > leave)
				give = leave;
			CHECK_EQ(frame_block_of(r, &b, &o), 0);
			CHECK_EQ(frame_free_range(b, o, r, give * K4), 0);
			leave -= give;
		}
	}
	if (leave)
		abort();
}

/* Frees what the hog still holds (a carved block's pieces that are still
 * FRAME_USER: what went back may be someone else's now). */
static void hog_free(struct hog *h)
{
	for (unsigned i = 0; i < h->n; i++) {
		if (h->ord[i] == UINT_MAX)
			continue;
		if (!(h->ord[i] & CARVED)) {
			CHECK_EQ(frame_free(h->pa[i], h->ord[i]), 0);
			continue;
		}
		uint64_t end = h->pa[i] + (K4 << (h->ord[i] & ~CARVED));
		for (uint64_t p = h->pa[i], b; p < end;) {
			unsigned o;
			if (frame_block_of(p, &b, &o)) {
				p += K4;
				continue;
			}
			if (frame_get(b)->tag == FRAME_USER)
				CHECK_EQ(frame_free(b, o), 0);
			p = b + (K4 << o);
		}
	}
	free(h->pa);
	free(h->ord);
	memset(h, 0, sizeof(*h));
}

/* ================================ 1. init/map ================================ */

static void check_blocks(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nblocks; i++) {
		const struct vm_block *b = &vm->blocks[i];
		uint64_t sz = K4 << b->order;
		unsigned lvl = b->order == FRAME_ORDER_1G ? 3 : b->order == FRAME_ORDER_2M ? 2 : 1;
		for (uint64_t o = 0; o < sz; o += (o + K4 < sz ? sz / 8 : K4)) {
			uint64_t hpa = 0;
			unsigned dl = 0;
			CHECK_EQ(live_bad(vm, b->gpa + o, b->hpa + o, lvl), 0);
			CHECK_EQ(dom->unit->ops->iova_to_phys(dom, b->gpa + o, &hpa, &dl, NULL), 0);
			CHECK_EQ(dl, lvl);
		}
		uint64_t n = 0;
		for (uint64_t o = 0; o < sz; o += K4) {
			struct frame *f = frame_get(b->hpa + o);
			n += f->tag == FRAME_GUEST && f->holder == VMID && f->pins == 1;
		}
		CHECK_EQ(n, sz / K4);
	}
	CHECK_EQ(owner_pinned(vm), vm->mem);
	CHECK_EQ(fake_iommu_mapped_bytes(dom), vm->mem);
	CHECK_EQ(tl_check_space(vm->as, &dom, 1), 0);
}

TEST(init_map_8m_in_2m_blocks)
{
	struct vm *vm = mk_vm(8 << 20);

	CHECK_EQ(vm->nblocks, 4);
	for (unsigned i = 0; i < vm->nblocks && i < 4; i++) {
		CHECK_EQ(vm->blocks[i].gpa, i * M2);
		CHECK_EQ(vm->blocks[i].order, FRAME_ORDER_2M);
		CHECK_EQ(vm->blocks[i].hpa & (M2 - 1), 0);
	}
	check_blocks(vm);
	CHECK_EQ(tl_mem().free, free0 - vm->mem - vm->npt.table_pages * K4);
	CHECK_EQ(npt_walk(&vm->npt, vm->mem, NULL, NULL, NULL), -ENOENT);
	rm_vm(vm);
}

TEST(init_map_1g_plus_4m)
{
	struct vm *vm = mk_vm(G1 + 4 * M2);

	CHECK_EQ(vm->nblocks, 5);
	if (vm->nblocks == 5) {
		CHECK_EQ(vm->blocks[0].order, FRAME_ORDER_1G);
		CHECK_EQ(vm->blocks[0].hpa & (G1 - 1), 0);
		for (unsigned i = 1; i < 5; i++) {
			CHECK_EQ(vm->blocks[i].order, FRAME_ORDER_2M);
			CHECK_EQ(vm->blocks[i].gpa, G1 + (i - 1) * M2);
		}
	}
	check_blocks(vm);

	/* A 4K hint inside the 1 GiB block splits the NPT down to 4K (two
	 * tables) and carves the 1 GiB frame; the unhint fills it again. */
	uint64_t g = G1 / 2 + 3 * K4, old = vm->blocks[0].hpa + g;
	struct tl_mem m0 = tl_mem();
	uint64_t tp0 = vm->npt.table_pages;
	CHECK_EQ(vm_mem_hint(vm, g, K4), 0);
	CHECK_EQ(hinted_bad(vm, g), 0);
	CHECK_EQ(live_bad(vm, g - K4, old - K4, 1), 0);
	CHECK_EQ(live_bad(vm, g + K4, old + K4, 1), 0);
	CHECK_EQ(live_bad(vm, 0, vm->blocks[0].hpa, 2), 0);
	CHECK_EQ(live_bad(vm, G1 - K4, vm->blocks[0].hpa + G1 - K4, 2), 0);
	CHECK_EQ(vm->npt.table_pages, tp0 + 2);
	CHECK_EQ(tl_mem().free, m0.free + K4 - 2 * K4);
	CHECK_EQ(frame_get(old)->tag, FRAME_FREE);
	CHECK_EQ(owner_pinned(vm), vm->mem - K4);
	/* A whole 2 MiB inside the 1 GiB block. */
	CHECK_EQ(vm_mem_hint(vm, 5 * M2, M2), 0);
	CHECK_EQ(hinted_bad(vm, 5 * M2), 0);
	CHECK_EQ(hinted_bad(vm, 6 * M2 - K4), 0);
	CHECK_EQ(live_bad(vm, 6 * M2, vm->blocks[0].hpa + 6 * M2, 2), 0);
	CHECK_EQ(owner_pinned(vm), vm->mem - K4 - M2);
	CHECK_EQ(vm_mem_unhint(vm, 0, vm->mem), 0);
	CHECK_EQ(live_bad(vm, 5 * M2, 0, 2), 0);
	CHECK_EQ(live_bad(vm, g, 0, 1), 0);
	CHECK_EQ(owner_pinned(vm), vm->mem);
	CHECK_EQ(all_bad(vm, NULL), 0);

	/* The whole first GiB, now the rest of the original block and fresh
	 * frames: all of it goes back, then comes in again as 2M frames. */
	m0 = tl_mem();
	tp0 = vm->npt.table_pages;
	CHECK_EQ(vm_mem_hint(vm, 0, G1), 0);
	CHECK_EQ(hinted_bad(vm, 0), 0);
	CHECK_EQ(hinted_bad(vm, g), 0);
	CHECK_EQ(hinted_bad(vm, G1 - K4), 0);
	CHECK_EQ(live_bad(vm, G1, vm->blocks[1].hpa, 2), 0);
	CHECK_EQ(owner_pinned(vm), vm->mem - G1);
	CHECK_EQ(tl_mem().free, m0.free + G1 + (tp0 - vm->npt.table_pages) * K4);
	CHECK_EQ(frame_get(vm->blocks[0].hpa)->tag, FRAME_FREE);
	CHECK_EQ(vm_mem_unhint(vm, 0, G1), 0);
	CHECK_EQ(live_bad(vm, 0, 0, 2), 0);
	CHECK_EQ(live_bad(vm, G1 - K4, 0, 2), 0);
	CHECK_EQ(owner_pinned(vm), vm->mem);
	CHECK_EQ(all_bad(vm, NULL), 0);
	rm_vm(vm);
}

/* ============================ 2./3. one 4K page ============================ */

TEST(hint_one_page_in_a_2m_block)
{
	struct vm *vm = mk_vm(8 << 20);
	const struct vm_block b = vm->blocks[1];
	uint64_t g = b.gpa + 5 * K4, old = b.hpa + 5 * K4, hpa;
	bool hinted = false;

	memset(vm_gpa_ptr(vm, g, NULL), 0xAA, K4);
	struct tl_mem m0 = tl_mem();
	uint64_t tp0 = vm->npt.table_pages;
	unsigned fl0 = npt_flushes;

	CHECK_EQ(vm_mem_hint(vm, g, K4), 0);
	CHECK_EQ(npt_walk(&vm->npt, g, NULL, NULL, NULL), -ENOENT);
	CHECK_EQ(hinted_bad(vm, g), 0);
	CHECK_EQ(live_bad(vm, g - K4, old - K4, 1), 0);
	CHECK_EQ(live_bad(vm, g + K4, old + K4, 1), 0);
	for (uint64_t o = 0; o < M2; o += K4)
		if (b.gpa + o != g)
			CHECK_EQ(live_bad(vm, b.gpa + o, b.hpa + o, 1), 0);
	for (unsigned i = 0; i < vm->nblocks; i++)
		if (i != 1)
			CHECK_EQ(live_bad(vm, vm->blocks[i].gpa, vm->blocks[i].hpa, 2), 0);
	CHECK_EQ(dma_lookup(vm->as, g, &hpa, &hinted), 0);
	CHECK(hinted);
	CHECK_EQ(frame_get(old)->tag, FRAME_FREE);
	CHECK_EQ(frame_get(old)->pins, 0);
	/* One table page for the split; the page itself back in the allocator. */
	CHECK_EQ(vm->npt.table_pages, tp0 + 1);
	CHECK_EQ(tl_mem().free, m0.free + K4 - (vm->npt.table_pages - tp0) * K4);
	CHECK_EQ(tl_mem().pinned, m0.pinned - K4);
	CHECK_EQ(owner_pinned(vm), vm->mem - K4);
	CHECK(vm_gpa_hinted(vm, g));
	CHECK(vm_gpa_ptr(vm, g, NULL) == NULL);
	CHECK(npt_flushes > fl0);
	/* Host-contiguous bytes from a gpa on end at the hinted page. */
	uint64_t avail = 0;
	CHECK(vm_gpa_ptr(vm, b.gpa, &avail) == (void *)(uintptr_t)b.hpa);
	CHECK_EQ(avail, 5 * K4);
	CHECK(vm_gpa_ptr(vm, g + K4, &avail) == (void *)(uintptr_t)(old + K4));
	CHECK_EQ(avail, M2 - 6 * K4);
	CHECK(vm_gpa_ptr(vm, vm->mem, &avail) == NULL);
	CHECK(!vm_gpa_hinted(vm, vm->mem));
	uint64_t nh = 0;
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, K4);
	rm_vm(vm);
}

TEST(unhint_one_page_gets_a_fresh_zeroed_frame)
{
	struct vm *vm = mk_vm(8 << 20);
	const struct vm_block b = vm->blocks[1];
	uint64_t g = b.gpa + 5 * K4, old = b.hpa + 5 * K4, nh = 0;

	memset(vm_gpa_ptr(vm, g, NULL), 0xAA, K4);
	memset(vm_gpa_ptr(vm, g - K4, NULL), 0x55, K4);
	struct tl_mem m0 = tl_mem();
	uint64_t tp0 = vm->npt.table_pages;

	CHECK_EQ(vm_mem_hint(vm, g, K4), 0);
	CHECK_EQ(vm_mem_unhint(vm, g, K4), 0);
	uint64_t nu = 0, dh = 0;
	unsigned l = 0;
	CHECK_EQ(npt_walk(&vm->npt, g, &nu, &l, NULL), 0);
	CHECK_EQ(l, 1);
	CHECK_EQ(dom->unit->ops->iova_to_phys(dom, g, &dh, NULL, NULL), 0);
	CHECK_EQ(dh, nu);
	CHECK(vm_gpa_ptr(vm, g, NULL) == (void *)(uintptr_t)nu);
	CHECK_EQ(live_bad(vm, g, nu, 1), 0);
	CHECK_EQ(frame_get(nu)->tag, FRAME_GUEST);
	CHECK_EQ(frame_get(nu)->holder, VMID);
	CHECK_EQ(frame_get(nu)->pins, 1);
	CHECK(nu != 0 && zero((void *)(uintptr_t)nu, K4));
	/* The neighbours kept their frames and contents. */
	CHECK_EQ(live_bad(vm, g - K4, old - K4, 1), 0);
	CHECK_EQ(*(uint8_t *)vm_gpa_ptr(vm, g - K4, NULL), 0x55);
	CHECK_EQ(live_bad(vm, g + K4, old + K4, 1), 0);
	CHECK_EQ(owner_pinned(vm), vm->mem);
	CHECK_EQ(tl_mem().pinned, m0.pinned);
	CHECK_EQ(tl_mem().free, m0.free - (vm->npt.table_pages - tp0) * K4);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	rm_vm(vm);
}

/* ================================ 4. ranges ================================ */

TEST(hint_unhint_across_two_blocks)
{
	struct vm *vm = mk_vm(8 << 20);
	uint64_t g = M2 - 2 * K4, nh = 0;
	struct tl_mem m0 = tl_mem();
	uint64_t tp0 = vm->npt.table_pages;

	CHECK_EQ(vm_mem_hint(vm, g, 4 * K4), 0);
	for (uint64_t o = 0; o < 4 * K4; o += K4)
		CHECK_EQ(hinted_bad(vm, g + o), 0);
	CHECK_EQ(live_bad(vm, g - K4, vm->blocks[0].hpa + M2 - 3 * K4, 1), 0);
	CHECK_EQ(live_bad(vm, M2 + 2 * K4, vm->blocks[1].hpa + 2 * K4, 1), 0);
	CHECK_EQ(frame_get(vm->blocks[0].hpa + M2 - K4)->tag, FRAME_FREE);
	CHECK_EQ(frame_get(vm->blocks[1].hpa)->tag, FRAME_FREE);
	CHECK_EQ(owner_pinned(vm), vm->mem - 4 * K4);
	CHECK_EQ(tl_mem().free, m0.free + 4 * K4 - (vm->npt.table_pages - tp0) * K4);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 4 * K4);

	CHECK_EQ(vm_mem_unhint(vm, g, 4 * K4), 0);
	for (uint64_t o = 0; o < 4 * K4; o += K4)
		CHECK_EQ(live_bad(vm, g + o, 0, 1), 0);
	CHECK_EQ(owner_pinned(vm), vm->mem);
	CHECK_EQ(tl_mem().free, m0.free - (vm->npt.table_pages - tp0) * K4);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	rm_vm(vm);
}

TEST(hint_whole_block_unhint_gets_a_2m_frame)
{
	struct vm *vm = mk_vm(8 << 20);
	const struct vm_block b = vm->blocks[2];
	uint64_t nh = 0, nu = 0;
	unsigned l = 0, dl = 0;
	struct tl_mem m0 = tl_mem();
	uint64_t tp0 = vm->npt.table_pages;

	memset(vm_gpa_ptr(vm, b.gpa, NULL), 0xAA, M2);
	CHECK_EQ(vm_mem_hint(vm, b.gpa, M2), 0);
	for (uint64_t o = 0; o < M2; o += K4)
		CHECK_EQ(hinted_bad(vm, b.gpa + o), 0);
	CHECK_EQ(frame_get(b.hpa)->tag, FRAME_FREE);
	CHECK_EQ(vm->npt.table_pages, tp0); /* a whole leaf: no split */
	CHECK_EQ(tl_mem().free, m0.free + M2);
	CHECK_EQ(owner_pinned(vm), vm->mem - M2);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, M2);

	CHECK_EQ(vm_mem_unhint(vm, b.gpa, M2), 0);
	CHECK_EQ(npt_walk(&vm->npt, b.gpa, &nu, &l, NULL), 0);
	CHECK_EQ(l, 2);
	CHECK_EQ(nu & (M2 - 1), 0);
	CHECK_EQ(live_bad(vm, b.gpa, nu, 2), 0);
	CHECK_EQ(live_bad(vm, b.gpa + M2 - K4, nu + M2 - K4, 2), 0);
	CHECK_EQ(dom->unit->ops->iova_to_phys(dom, b.gpa, &nu, &dl, NULL), 0);
	CHECK_EQ(dl, 2);
	CHECK(zero(vm_gpa_ptr(vm, b.gpa, NULL), M2));
	CHECK_EQ(tl_mem().free, m0.free);
	CHECK_EQ(vm->npt.table_pages, tp0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);

	/* Two blocks hinted, one 4K unhinted inside, then the 2 MiB-aligned
	 * rest: 4K where the range is not aligned, 2M where it is. */
	CHECK_EQ(vm_mem_hint(vm, M2, 2 * M2), 0);
	CHECK_EQ(vm_mem_unhint(vm, M2 + 7 * K4, K4), 0);
	CHECK_EQ(live_bad(vm, M2 + 7 * K4, 0, 1), 0);
	CHECK_EQ(hinted_bad(vm, M2 + 6 * K4), 0);
	CHECK_EQ(vm_mem_unhint(vm, M2, 2 * M2), 0);
	CHECK_EQ(live_bad(vm, M2, 0, 1), 0);
	CHECK_EQ(live_bad(vm, 2 * M2, 0, 2), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	rm_vm(vm);
}

/* No 2 MiB frame free: the unhint falls back to 4 KiB frames. */
TEST(unhint_without_a_2m_frame_uses_4k_frames)
{
	struct vm *vm = mk_vm(8 << 20);
	const struct vm_block b = vm->blocks[3];
	struct hog h;
	uint64_t nh = 0;

	CHECK_EQ(vm_mem_hint(vm, b.gpa, M2), 0);
	hog_all(&h, 600); /* 512 frames and a table page fit; no 2 MiB block */
	CHECK_EQ(vm_mem_unhint(vm, b.gpa, M2), 0);
	CHECK_EQ(live_bad(vm, b.gpa, 0, 1), 0);
	CHECK_EQ(live_bad(vm, b.gpa + M2 - K4, 0, 1), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	CHECK(zero(vm_gpa_ptr(vm, b.gpa, NULL), K4));
	CHECK_EQ(tl_mem().free, 600 * K4 - M2 - K4);
	hog_free(&h);
	rm_vm(vm);
}

TEST(hint_and_unhint_are_idempotent)
{
	struct vm *vm = mk_vm(8 << 20);
	uint64_t g = 3 * M2 + 9 * K4, s0, s1;

	/* Unhint of memory that is not hinted: nothing changes. */
	s0 = state(vm);
	CHECK_EQ(vm_mem_unhint(vm, g, K4), 0);
	CHECK_EQ(vm_mem_unhint(vm, 0, vm->mem), 0);
	CHECK_EQ(state(vm), s0);
	/* A guest repeating no-op unhints leaves no extents behind. */
	size_t n0 = vm->ext.count;
	for (uint64_t a = K4; a < vm->mem; a += 13 * K4)
		CHECK_EQ(vm_mem_unhint(vm, a, K4), 0);
	CHECK_EQ(vm->ext.count, n0);
	CHECK_EQ(n0, vm->nblocks);

	CHECK_EQ(vm_mem_hint(vm, g, K4), 0);
	s1 = state(vm);
	CHECK_EQ(vm_mem_hint(vm, g, K4), 0);
	CHECK_EQ(state(vm), s1);
	CHECK_EQ(hinted_bad(vm, g), 0);
	/* A hint over a range part of which is hinted already. */
	CHECK_EQ(vm_mem_hint(vm, g - K4, 3 * K4), 0);
	for (uint64_t o = 0; o < 3 * K4; o += K4)
		CHECK_EQ(hinted_bad(vm, g - K4 + o), 0);
	CHECK_EQ(owner_pinned(vm), vm->mem - 3 * K4);
	CHECK_EQ(vm_mem_unhint(vm, g - K4, 3 * K4), 0);
	s1 = state(vm);
	CHECK_EQ(vm_mem_unhint(vm, g - K4, 3 * K4), 0);
	CHECK_EQ(state(vm), s1);
	CHECK_EQ(all_bad(vm, NULL), 0);
	rm_vm(vm);
}

TEST(scattered_hints_then_unhint_all)
{
	struct vm *vm = mk_vm(8 << 20);
	uint64_t n = 0, nh = 0, tp0 = vm->npt.table_pages;
	struct tl_mem m0 = tl_mem();

	for (uint64_t g = K4; g < vm->mem; g += 7 * K4) {
		memset(vm_gpa_ptr(vm, g, NULL), 0xAA, K4);
		CHECK_EQ(vm_mem_hint(vm, g, K4), 0);
		n++;
	}
	/* Adjacent hints merge with what is hinted around them. */
	CHECK_EQ(vm_mem_hint(vm, 2 * K4, 2 * K4), 0);
	n += 2;
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, n * K4);
	CHECK_EQ(owner_pinned(vm), vm->mem - n * K4);
	CHECK_EQ(vm_mem_unhint(vm, 0, vm->mem), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	for (uint64_t g = K4; g < vm->mem; g += 7 * K4)
		CHECK(zero(vm_gpa_ptr(vm, g, NULL), K4));
	CHECK_EQ(owner_pinned(vm), vm->mem);
	CHECK_EQ(tl_mem().pinned, m0.pinned);
	CHECK_EQ(tl_mem().free, m0.free - (vm->npt.table_pages - tp0) * K4);
	rm_vm(vm);
}

/* ============================== 5. bad arguments ============================== */

TEST(bad_arguments_change_nothing)
{
	struct vm *vm = mk_vm(8 << 20);
	uint64_t mem = vm->mem, top = ~0ull & ~(K4 - 1);
	static const struct {
		uint64_t gpa, size;
		int rc;
	} bad[] = {
		{1, K4, -EINVAL},
		{K4, K4 + 1, -EINVAL},
		{K4, 0, -EINVAL},
		{0, 0, -EINVAL},
		{8 << 20, K4, -EFAULT},
		{(8 << 20) - K4, 2 * K4, -EFAULT},
		{K4, 0xfffffffffffff000ull, -EFAULT}, /* wraps */
		{0xfffffffffffff000ull, 2 * K4, -EFAULT},
		{0, (8 << 20) + K4, -EFAULT},
	};

	CHECK_EQ(vm_mem_hint(vm, 2 * K4, K4), 0); /* something hinted, too */
	uint64_t s0 = state(vm);
	unsigned fl0 = npt_flushes;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(vm_mem_hint(vm, bad[i].gpa, bad[i].size), bad[i].rc);
		CHECK_EQ(vm_mem_unhint(vm, bad[i].gpa, bad[i].size), bad[i].rc);
	}
	CHECK_EQ(vm_mem_hint(vm, top, K4), -EFAULT);
	CHECK_EQ(vm_mem_unhint(vm, mem, mem), -EFAULT);
	CHECK_EQ(state(vm), s0);
	CHECK_EQ(npt_flushes, fl0);
	CHECK_EQ(all_bad(vm, NULL), 0);
	rm_vm(vm);
}

/* ================================ 6. failures ================================ */

/* Pages hinted for the failure tests: three 4K pages in different blocks
 * and a whole block. */
static void hint_some(struct vm *vm)
{
	CHECK_EQ(vm_mem_hint(vm, 3 * K4, K4), 0);
	CHECK_EQ(vm_mem_hint(vm, M2 + 4 * K4, K4), 0);
	CHECK_EQ(vm_mem_hint(vm, 3 * M2 + 8 * K4, K4), 0);
	CHECK_EQ(vm_mem_hint(vm, 2 * M2, M2), 0);
}

static unsigned some_hinted_bad(struct vm *vm)
{
	return hinted_bad(vm, 3 * K4) | hinted_bad(vm, M2 + 4 * K4) |
	       hinted_bad(vm, 3 * M2 + 8 * K4) | hinted_bad(vm, 2 * M2) |
	       hinted_bad(vm, 3 * M2 - K4);
}

TEST(unhint_out_of_frames_leaves_it_hinted)
{
	struct vm *vm = mk_vm(8 << 20);
	struct hog h;
	uint64_t nh = 0;

	hint_some(vm);
	/* Frames left: 0 none fits; 1, 2: the first pages fit, not the rest;
	 * 3: the two pages and the hinted block's new NPT table fit, its 4K
	 * frames (no 2 MiB block is free) do not; 300: it fails half way
	 * through the block.  Every refill so far must be undone. */
	static const uint64_t leave[] = {0, 1, 2, 3, 300};
	for (unsigned i = 0; i < sizeof(leave) / sizeof(leave[0]); i++) {
		hog_all(&h, leave[i]);
		uint64_t s0 = state(vm);
		struct tl_mem m0 = tl_mem();
		CHECK_EQ(vm_mem_unhint(vm, 0, vm->mem), -ENOMEM);
		CHECK_EQ(tl_mem().free, m0.free);
		CHECK_EQ(tl_mem().pinned, m0.pinned);
		CHECK_EQ(state(vm), s0);
		CHECK_EQ(some_hinted_bad(vm), 0);
		CHECK_EQ(all_bad(vm, &nh), 0);
		CHECK_EQ(nh, 3 * K4 + M2);
		hog_free(&h);
	}
	CHECK_EQ(vm_mem_unhint(vm, 0, vm->mem), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	rm_vm(vm);
}

TEST(unhint_heap_failures_leave_it_hinted)
{
	struct vm *vm = mk_vm(8 << 20);
	uint64_t nh = 0;
	unsigned failed = 0;

	hint_some(vm);
	for (unsigned long n = 1; n < 1000; n++) {
		uint64_t s0 = state(vm);
		struct tl_mem m0 = tl_mem();
		dma_test_fail_nth(n);
		int rc = vm_mem_unhint(vm, 0, vm->mem);
		unsigned long left = dma_test_fail_pending();
		dma_test_fail_nth(0);
		if (!rc) {
			CHECK(left != 0); /* no allocation failure swallowed */
			break;
		}
		failed++;
		CHECK_EQ(rc, -ENOMEM);
		CHECK_EQ(tl_mem().free, m0.free);
		CHECK_EQ(tl_mem().pinned, m0.pinned);
		CHECK_EQ(state(vm), s0);
		CHECK_EQ(some_hinted_bad(vm), 0);
	}
	CHECK(failed > 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	rm_vm(vm);
}

TEST(unhint_iommu_map_failure_leaves_it_hinted)
{
	struct vm *vm = mk_vm(8 << 20);
	uint64_t nh = 0;

	hint_some(vm);
	for (unsigned long n = 1; n <= 4; n++) {
		uint64_t s0 = state(vm);
		fake_iommu_fail(FAKE_MAP, n, -ENOMEM);
		int rc = vm_mem_unhint(vm, 0, vm->mem);
		fake_iommu_fail(FAKE_MAP, 0, 0);
		if (!rc)
			break;
		CHECK_EQ(rc, -ENOMEM);
		CHECK_EQ(state(vm), s0);
		CHECK_EQ(some_hinted_bad(vm), 0);
	}
	CHECK_EQ(vm_mem_unhint(vm, 0, vm->mem), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	CHECK_EQ(fake_iommu_stats.violations, 0);
	rm_vm(vm);
}

/* The NPT cannot split its 2M leaf: the page stays the guest's. */
TEST(hint_npt_split_failure_keeps_the_memory)
{
	struct vm *vm = mk_vm(8 << 20);
	const struct vm_block b = vm->blocks[1];
	uint64_t g = b.gpa + 5 * K4, nh = 0;
	struct hog h;

	memset(vm_gpa_ptr(vm, g, NULL), 0xAA, K4);
	hog_all(&h, 0);
	struct tl_mem m0 = tl_mem();
	CHECK_EQ(vm_mem_hint(vm, g, K4), -ENOMEM);
	CHECK_EQ(live_bad(vm, g, b.hpa + 5 * K4, 2), 0);
	CHECK_EQ(*(uint8_t *)vm_gpa_ptr(vm, g, NULL), 0xAA);
	CHECK_EQ(owner_pinned(vm), vm->mem);
	CHECK_EQ(tl_mem().free, m0.free);
	CHECK_EQ(tl_mem().pinned, m0.pinned);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	hog_free(&h);
	CHECK_EQ(vm_mem_hint(vm, g, K4), 0);
	CHECK_EQ(hinted_bad(vm, g), 0);
	rm_vm(vm);
}

/* Allocation failures in the dma layer and driver failures during a hint:
 * the memory stays the guest's. */
TEST(hint_failures_keep_the_memory)
{
	struct vm *vm = mk_vm(8 << 20);
	uint64_t g = M2 - 2 * K4, nh = 0;
	unsigned failed = 0;

	for (unsigned long n = 1; n < 1000; n++) {
		struct tl_mem m0 = tl_mem();
		dma_test_fail_nth(n);
		int rc = vm_mem_hint(vm, g, 4 * K4);
		unsigned long left = dma_test_fail_pending();
		dma_test_fail_nth(0);
		if (!rc) {
			CHECK(left != 0);
			break;
		}
		failed++;
		CHECK_EQ(rc, -ENOMEM);
		CHECK_EQ(tl_mem().free, m0.free);
		CHECK_EQ(tl_mem().pinned, m0.pinned);
		CHECK_EQ(all_bad(vm, &nh), 0);
		CHECK_EQ(nh, 0);
	}
	CHECK(failed > 0);
	CHECK_EQ(vm_mem_unhint(vm, g, 4 * K4), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	/* The driver cannot unmap: dma_hint fails, the page stays mapped. */
	size_t n0 = vm->ext.count;
	fake_iommu_fail(FAKE_UNMAP, 1, -EIO);
	CHECK_EQ(vm_mem_hint(vm, 3 * M2 + 4 * K4, K4), -EIO);
	fake_iommu_fail(FAKE_UNMAP, 0, 0);
	CHECK_EQ(live_bad(vm, 3 * M2 + 4 * K4, vm->blocks[3].hpa + 4 * K4, 2), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	CHECK_EQ(vm->ext.count, n0);
	rm_vm(vm);
}

/* ============================== 7. vm_mem_free ============================== */

TEST(free_after_hints_and_unhints_returns_every_frame)
{
	struct vm *vm = mk_vm(8 << 20);
	struct tl_mem before = {free0, pinned0};

	hint_some(vm);
	CHECK_EQ(vm_mem_unhint(vm, M2 + 4 * K4, K4), 0);	/* a fresh 4K frame */
	CHECK_EQ(vm_mem_unhint(vm, 2 * M2, M2), 0);		/* a fresh 2M frame */
	CHECK_EQ(vm_mem_hint(vm, 2 * M2 + 16 * K4, 2 * K4), 0); /* carved from it */
	CHECK_EQ(vm_mem_hint(vm, 0, 2 * K4), 0);
	CHECK_EQ(vm_mem_unhint(vm, K4, K4), 0);
	CHECK_EQ(all_bad(vm, NULL), 0);
	rm_vm(vm); /* checks free and pinned against before vm_mem_init */
	CHECK_EQ(tl_mem().free, before.free);
	CHECK_EQ(tl_mem().pinned, before.pinned);

	/* And with nothing hinted at all, or everything. */
	vm = mk_vm(4 << 20);
	rm_vm(vm);
	vm = mk_vm(4 << 20);
	CHECK_EQ(vm_mem_hint(vm, 0, vm->mem), 0);
	CHECK_EQ(owner_pinned(vm), 0);
	rm_vm(vm);
}

/* A failed unhint left the range rebound to frames it gave back, which
 * now belong to someone else: destroying the VM must not touch them. */
TEST(free_after_a_failed_unhint_leaves_others_frames_alone)
{
	struct vm *vm = mk_vm(8 << 20);
	struct hog h, h2;

	hint_some(vm);
	hog_all(&h, 300);
	CHECK_EQ(vm_mem_unhint(vm, 0, vm->mem), -ENOMEM);
	hog_all(&h2, 0); /* the frames the unhint tried are someone else's now */
	CHECK(h2.n > 0);
	CHECK_EQ(dma_space_destroy(vm->as), 0);
	npt_destroy(&vm->npt);
	vm_mem_free(vm);
	uint64_t bad = 0;
	for (unsigned i = 0; i < h2.n; i++)
		for (uint64_t o = 0; o < (K4 << h2.ord[i]); o += K4) {
			struct frame *f = frame_get(h2.pa[i] + o);
			bad += f->tag != FRAME_USER || f->pins || f->owner;
		}
	CHECK_EQ(bad, 0);
	hog_free(&h2);
	hog_free(&h);
	CHECK_EQ(fake_iommu_stats.violations, 0);
	fake_iommu_unit_free(unit);
	CHECK_EQ(tl_mem().free, free0);
	CHECK_EQ(tl_mem().pinned, pinned0);
	free(vm);
}

/* The undo of a failed unhint takes back only what that call brought in,
 * even when the call counter has come round to the number of an earlier
 * unhint whose frames are still in the range (2^32 calls later). */
TEST(failed_unhint_undoes_only_its_own_frames)
{
	struct vm *vm = mk_vm(8 << 20);
	uint64_t a = M2 + 4 * K4, nh = 0, nu = 0;
	struct hog h;

	/* Hinted on both sides, so a's fresh frame is an extent of its own. */
	CHECK_EQ(vm_mem_hint(vm, a - K4, 3 * K4), 0);
	uint32_t g = vm->unhint_gen;
	CHECK_EQ(vm_mem_unhint(vm, a, K4), 0); /* a: a fresh frame */
	CHECK_EQ(npt_walk(&vm->npt, a, &nu, NULL, NULL), 0);
	memset(vm_gpa_ptr(vm, a, NULL), 0x5A, K4);
	vm->unhint_gen = g; /* the next call gets the number a's unhint had */
	hog_all(&h, 0);
	CHECK_EQ(vm_mem_unhint(vm, a - K4, 3 * K4), -ENOMEM);
	hog_free(&h);
	CHECK_EQ(live_bad(vm, a, nu, 1), 0);
	CHECK_EQ(*(uint8_t *)vm_gpa_ptr(vm, a, NULL), 0x5A);
	CHECK_EQ(hinted_bad(vm, a - K4), 0);
	CHECK_EQ(hinted_bad(vm, a + K4), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 2 * K4);
	rm_vm(vm);
}

/* No 2 MiB block free: the RAM is built of 4 KiB blocks, and hinting works
 * on them as on the large ones. */
TEST(init_falls_back_to_4k_blocks)
{
	struct hog h;
	uint64_t nh = 0;

	tl_setup();
	hog_all(&h, 1000);
	struct vm *vm = mk_vm(M2);
	CHECK_EQ(vm->nblocks, 512);
	for (unsigned i = 0; i < vm->nblocks; i++)
		CHECK_EQ(vm->blocks[i].order, 0);
	check_blocks(vm);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(vm_mem_hint(vm, 0, M2), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, M2);
	CHECK_EQ(vm_mem_unhint(vm, 0, M2), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 0);
	CHECK_EQ(vm_mem_hint(vm, 5 * K4, 3 * K4), 0);
	CHECK_EQ(all_bad(vm, &nh), 0);
	CHECK_EQ(nh, 3 * K4);
	rm_vm(vm);
	hog_free(&h);
}
