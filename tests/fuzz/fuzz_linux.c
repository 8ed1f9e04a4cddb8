// SOURCES: vm/linux.c vm/mptable.c
/* tests/fuzz/fuzz_linux.c — random bytes as a bzImage through linux_parse,
 * linux_layout and linux_build into a scratch guest buffer (1 MiB of low
 * memory plus room for the kernel, allocated to size so ASan sees any write
 * outside it), then the MP table into the layout's EBDA slot.
 *
 * Input: a 16-byte prefix of loader choices, then the bzImage:
 *   0-1 RAM in MiB, 2 RAM's extra 4 KiB pages (x16), 3 CPU count,
 *   4-7 initrd size, 8-9 command line length, 10 flags (bit 0: use the
 *   initrd address in 12-15 << 12 instead of the layout's), 11 unused.
 * Invariants: a refusal always has a reason; a layout keeps its areas
 * apart, inside RAM and out of the interrupt window, and its e820 sorted;
 * a build leaves the entry state the protocol wants.  Seeds are in
 * tests/fuzz/corpus/linux (the Debian 6.1 header shape). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/linux.h"
#include "vm/mptable.h"

#define ASSERT(c)                         \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

#define PREFIX 16
#define MIB (1ull << 20)

struct guest {
	uint8_t *mem;
	size_t size;
};

static void *gpa_ptr(void *ctx, uint64_t gpa, size_t len)
{
	struct guest *g = ctx;

	if (gpa > g->size || len > g->size - gpa)
		return NULL;
	return g->mem + gpa;
}

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static int apart(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a + alen <= b || b + blen <= a;
}

static void check_layout(const struct linux_kernel *k, const struct linux_layout *l)
{
	uint64_t end = 0;

	ASSERT(l->run + l->run_size <= l->ram && l->kernel + l->kernel_size <= l->ram);
	ASSERT(l->run + l->run_size <= LINUX_IDMAP_END);
	ASSERT(l->cmdline_max <= (uint64_t)k->cmdline_size + 1);
	ASSERT(l->cmdline + l->cmdline_max <= l->mptable);
	if (l->initrd_size) {
		ASSERT((l->initrd & 0xfff) == 0 && l->initrd >= MIB);
		ASSERT(l->initrd + l->initrd_size <= l->ram);
		ASSERT(l->initrd + l->initrd_size - 1 <= k->initrd_addr_max);
		ASSERT(apart(l->initrd, l->initrd_size, l->kernel, l->kernel_size));
		ASSERT(apart(l->initrd, l->initrd_size, l->run, l->run_size));
		ASSERT(apart(l->initrd, l->initrd_size, LINUX_IRQ_WINDOW, MIB));
	}
	ASSERT(l->e820_entries >= 3 && l->e820_entries <= LINUX_E820_MAX);
	for (unsigned i = 0; i < l->e820_entries; i++) {
		const struct linux_e820 *e = &l->e820[i];
		ASSERT(e->addr >= end && e->size > 0);
		end = e->addr + e->size;
		ASSERT(end <= l->ram);
		if (e->type == LINUX_E820_RAM)
			ASSERT(apart(e->addr, e->size, LINUX_IRQ_WINDOW, MIB));
	}
}

static void check_entry(const struct linux_layout *l, const struct linux_entry *e,
			const struct guest *g, size_t clen)
{
	ASSERT(e->rip == l->kernel + 0x200 && e->rsi == l->zero_page && e->cr3 == l->pgtable);
	ASSERT(e->cs == LINUX_BOOT_CS && e->ds == LINUX_BOOT_DS && e->rflags == 2);
	ASSERT(g->mem[l->cmdline + clen] == 0);
	ASSERT(g->mem[l->zero_page + 0x210] == 0xff && g->mem[l->zero_page + 0x1ef] == 0);
}

static void build(const uint8_t *p, const struct linux_kernel *k, const struct linux_layout *l,
		  size_t clen, struct guest *g)
{
	static char cmd[0x10000];
	uint64_t igpa = (p[10] & 1) ? (uint64_t)rd32(p + 12) << 12 : l->initrd;
	struct linux_entry e;
	const char *why = NULL;
	size_t used = 0;
	int err;

	memset(cmd, 'x', clen);
	cmd[clen] = 0;
	err = linux_build(k, l, cmd, igpa, l->initrd_size, gpa_ptr, g, &e, &why);
	ASSERT(err == 0 || why != NULL);
	if (!(p[10] & 1))
		ASSERT(err == 0 || err == -EFAULT);
	if (err)
		return;
	check_entry(l, &e, g, clen);
	err = mptable_build(g->mem + l->mptable, l->mptable_size, l->mptable, p[3], &used);
	ASSERT(err == 0 || err == -EINVAL || err == -ENOSPC);
	ASSERT(err || used <= l->mptable_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linux_kernel k;
	struct linux_layout l;
	struct guest g;
	const char *why = NULL;
	uint64_t ram;
	size_t clen;
	int err;

	if (size < PREFIX || size > (1u << 20))
		return 0;
	err = linux_parse(data + PREFIX, size - PREFIX, &k, &why);
	ASSERT(err == 0 || (err == -EINVAL && why));
	if (err)
		return 0;
	ram = (uint64_t)(data[0] | data[1] << 8) * MIB + (uint64_t)data[2] * 16 * 4096;
	clen = (size_t)(data[8] | data[9] << 8);
	why = NULL;
	err = linux_layout(&k, ram, rd32(data + 4), clen, &l, &why);
	ASSERT(err == 0 || ((err == -ENOMEM || err == -E2BIG) && why));
	if (err)
		return 0;
	check_layout(&k, &l);
	g.size = LINUX_KERNEL + k.pm_size;
	g.mem = malloc(g.size);
	if (!g.mem)
		return 0;
	memset(g.mem, 0, g.size);
	build(data, &k, &l, clen, &g);
	free(g.mem);
	return 0;
}
