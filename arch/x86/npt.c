/*
 * arch/x86/npt.c — AMD nested page tables (APM vol. 2 §15.25): the x86-64
 * long-mode 4-level format (§5.3) for the page-table engine (lib/pgtable.c)
 * and the npt API on it.
 *
 * Entry bits we write (§5.3.3, §5.4): P, R/W, U/S, PWT/PCD on MMIO leaves,
 * PS on 2M/1G leaves, NX on non-executable leaves, address bits 51:12.
 * Every access of the nested table walk is a user access (§15.25, nested
 * table walk), so U/S=1 at every level or every guest access faults; non-leaf entries are P|R/W|U/S and the leaf alone
 * decides (the permissions of all levels combine).  NX is a valid bit only
 * with the host's EFER.NXE, which sluice sets (arch/x86/paging.c) before
 * any vCPU runs; otherwise bit 63 would be reserved.  We never set PAT
 * (bit 7 of a 4K entry, bit 12 of a large one), G or the ignored bits.
 *
 * The CPU's table walk is coherent with its caches: no clflush.  Emptied
 * tables are freed at once (npt.h: the caller flushes the guest TLB before
 * the guest runs again, and no guest runs while the table is edited).
 */
#include "arch/x86/npt.h"

#define NPT_P (1ull << 0)
#define NPT_RW (1ull << 1)
#define NPT_US (1ull << 2)
#define NPT_PWT (1ull << 3)
#define NPT_PCD (1ull << 4)
#define NPT_PS (1ull << 7)
#define NPT_NX (1ull << 63)
#define NPT_ADDR 0x000ffffffffff000ull /* bits 51:12 (MAXPHYADDR at most 52) */

#define NPT_LEVELS 4u /* 48-bit guest-physical space */

static const struct pgt_fmt npt_fmt = {
	.present = NPT_P,
	.table = NPT_P | NPT_RW | NPT_US,
	.ps = NPT_PS,
	.addr = NPT_ADDR,
	.attr = NPT_P | NPT_RW | NPT_US | NPT_PWT | NPT_PCD | NPT_NX,
	.leaf_levels = (1u << 1) | (1u << 2) | (1u << 3),
};

int npt_init(struct npt *n, uint64_t pgsizes, const struct npt_alloc *a)
{
	struct pgt_alloc pa;

	if (!a)
		return -EINVAL;
	pa.alloc_page = a->alloc_page;
	pa.free_page = a->free_page;
	pa.ctx = a->ctx;
	return pgt_init(&n->pgt, &npt_fmt, NPT_LEVELS, pgsizes, true, &pa);
}

void npt_destroy(struct npt *n) { pgt_destroy(&n->pgt); }

int npt_map(struct npt *n, uint64_t gpa, uint64_t hpa, uint64_t size, unsigned prot)
{
	uint64_t attr = NPT_P | NPT_US;

	if (!(prot & NPT_R) || (prot & ~(NPT_R | NPT_W | NPT_X | NPT_MMIO)))
		return -EINVAL;
	if (prot & NPT_W)
		attr |= NPT_RW;
	if (!(prot & NPT_X))
		attr |= NPT_NX;
	/* Device memory uncached whatever the guest's PAT says: PCD|PWT
	 * select host PAT entry 3 (UC from reset) as the nested type, and UC
	 * wins when it is combined with the guest's type (§15.25.8). */
	if (prot & NPT_MMIO)
		attr |= NPT_PCD | NPT_PWT;
	return pgt_map(&n->pgt, gpa, hpa, size, attr);
}

int npt_unmap(struct npt *n, uint64_t gpa, uint64_t size)
{
	struct pgt_gather g;
	int rc;

	pgt_gather_init(&g);
	rc = pgt_unmap(&n->pgt, gpa, size, &g);
	/* stash_max is 0: every emptied table goes back to the allocator. */
	pgt_free_gathered(&n->pgt, &g);
	return rc;
}

int npt_walk(const struct npt *n, uint64_t gpa, uint64_t *hpa, unsigned *level, unsigned *prot)
{
	uint64_t e;
	int rc = pgt_walk(&n->pgt, gpa, hpa, level, &e);

	if (rc == 0 && prot)
		*prot = NPT_R | ((e & NPT_RW) ? NPT_W : 0) | ((e & NPT_NX) ? 0 : NPT_X) |
			((e & NPT_PCD) ? NPT_MMIO : 0);
	return rc;
}
