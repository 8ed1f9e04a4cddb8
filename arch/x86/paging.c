/*
 * arch/x86/paging.c — builds the page tables sluice runs on (see paging.h).
 *
 * Below 4 GiB, 2 MiB pages: write-back where the UEFI map says RAM,
 * uncached (PCD|PWT) elsewhere, since MMIO lives there.  The 2 MiB pages
 * holding sluice's image are split into 4 KiB pages so the text can be
 * read-only and executable while everything else is NX.  Above 4 GiB, 1 GiB
 * pages (2 MiB if the CPU lacks them) up to the physical address width, so
 * 64-bit BARs are reachable; they rely on the firmware's MTRRs for caching.
 */
#include <string.h>

#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "hw/hw.h"
#include "kernel/log.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_NX (1ull << 63)
#define SZ_2M (1ull << 21)
#define SZ_1G (1ull << 30)
#define SZ_4G (1ull << 32)

extern char _text[], _etext[], ImageBase[], _image_end[];

static uint64_t top;
static uint64_t text_start, text_end;

/* Tables come from the loader's early pool: paging_init() runs before the
 * frame allocator may touch boot-services memory, which still holds the
 * firmware's page tables until CR3 is switched. */
static uint64_t pool_next, pool_end;

static uint64_t *new_table(void)
{
	uint64_t *t;

	if (pool_next + 4096 > pool_end)
		return NULL;
	t = phys_to_virt(pool_next);
	pool_next += 4096;
	memset(t, 0, 4096);
	return t;
}

static bool is_ram(const struct boot_info *bi, uint64_t base, uint64_t size)
{
	for (uint32_t i = 0; i < bi->nregions; i++) {
		const struct mem_region *r = &bi->regions[i];
		if (r->kind != MEM_USABLE && r->kind != MEM_LOADER && r->kind != MEM_ACPI)
			continue;
		if (base < r->base + r->size && r->base < base + size)
			return true;
	}
	return false;
}

static uint64_t nx_flag;

/* 4 KiB entries for a 2 MiB page that holds part of the image. */
static int fill_4k(uint64_t *pt, uint64_t base, uint64_t img_start, uint64_t img_end)
{
	for (unsigned i = 0; i < 512; i++) {
		uint64_t a = base + i * 4096ull;
		uint64_t e = a | PTE_P | PTE_W | nx_flag;
		if (a >= text_start && a < text_end)
			e = a | PTE_P; /* text: read-only, executable */
		(void)img_start;
		(void)img_end;
		pt[i] = e;
	}
	return 0;
}

int paging_init(const struct boot_info *bi)
{
	uint64_t img_start = bi->image_base, img_end = bi->image_base + bi->image_size;
	uint64_t *pml4;

	pool_next = bi->early_pool;
	pool_end = bi->early_pool + bi->early_pool_size;
	nx_flag = cpu_feat.nx ? PTE_NX : 0;
	text_start = (uint64_t)(uintptr_t)_text & ~0xfffull;
	text_end = ((uint64_t)(uintptr_t)_etext + 0xfff) & ~0xfffull;

	top = SZ_4G;
	for (uint32_t i = 0; i < bi->nregions; i++) {
		uint64_t end = bi->regions[i].base + bi->regions[i].size;
		if (end > top)
			top = end;
	}
	uint64_t phys_max = 1ull << (cpu_feat.phys_bits > 46 ? 46 : cpu_feat.phys_bits);
	if (cpu_feat.pdpe1gb && phys_max > top)
		top = phys_max;
	else if (top + 64 * SZ_1G <= phys_max)
		top += 64 * SZ_1G; /* room for 64-bit BARs above RAM */
	top = (top + SZ_1G - 1) & ~(SZ_1G - 1);

	pml4 = new_table();
	if (!pml4)
		return -ENOMEM;
	for (uint64_t a = 0; a < top; a += SZ_1G) {
		unsigned i4 = (unsigned)(a >> 39) & 511, i3 = (unsigned)(a >> 30) & 511;
		uint64_t *pdpt;
		if (!(pml4[i4] & PTE_P)) {
			pdpt = new_table();
			if (!pdpt)
				return -ENOMEM;
			pml4[i4] = virt_to_phys(pdpt) | PTE_P | PTE_W;
		}
		pdpt = phys_to_virt(pml4[i4] & ~0xfffull & ~PTE_NX);
		if (a >= SZ_4G && cpu_feat.pdpe1gb) {
			pdpt[i3] = a | PTE_P | PTE_W | PTE_PS | nx_flag;
			continue;
		}
		uint64_t *pd = new_table();
		if (!pd)
			return -ENOMEM;
		pdpt[i3] = virt_to_phys(pd) | PTE_P | PTE_W;
		for (unsigned i2 = 0; i2 < 512; i2++) {
			uint64_t b = a + i2 * SZ_2M;
			uint64_t cache =
				(b < SZ_4G && !is_ram(bi, b, SZ_2M)) ? PTE_PCD | PTE_PWT : 0;
			if (b < text_end && text_start < b + SZ_2M) {
				uint64_t *pt = new_table();
				if (!pt)
					return -ENOMEM;
				fill_4k(pt, b, img_start, img_end);
				pd[i2] = virt_to_phys(pt) | PTE_P | PTE_W;
			} else {
				pd[i2] = b | PTE_P | PTE_W | PTE_PS | cache | nx_flag;
			}
		}
	}

	if (cpu_feat.nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr3(virt_to_phys(pml4));
	write_cr0(read_cr0() | CR0_WP);
	return 0;
}

uint64_t paging_top(void) { return top; }

void paging_text_range(uint64_t *start, uint64_t *end)
{
	*start = text_start;
	*end = text_end;
}
