/*
 * vm/linux.c — bzImage parsing, guest-physical layout and the boot state of
 * the Linux x86 64-bit boot protocol (boot.rst "64-bit Boot Protocol",
 * zero-page.rst).  Pure code over buffers: see vm/linux.h.
 */
#include <string.h>

#include "vm/linux.h"

/* Setup header fields, offsets in the file and in the zero page (boot.rst
 * "The real-mode kernel header"). */
#define HDR_START 0x1f1
#define HDR_SETUP_SECTS 0x1f1
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP_LEN 0x201 /* header ends at 0x202 + this byte */
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_HARDWARE_SUBARCH 0x23c
#define HDR_HARDWARE_SUBARCH_DATA 0x240
#define HDR_SETUP_DATA 0x250
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_MIN_END 0x268 /* protocol 2.12 ends after handover_offset */
#define HDR_MAX_END 0x290 /* zero-page.rst: edd_mbr_sig_buffer follows */

/* Zero page fields outside the setup header (zero-page.rst). */
#define ZP_SIZE 0x1000
#define ZP_ACPI_RSDP_ADDR 0x070
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_SENTINEL 0x1ef
#define ZP_E820_TABLE 0x2d0
#define ZP_E820_ENTRY_SIZE 20

#define BOOT_FLAG 0xaa55
#define HDRS_MAGIC 0x53726448 /* "HdrS" little-endian */
#define MIN_VERSION 0x020c    /* xloadflags (64-bit entry) since 2.12 */
#define LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x01
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02
#define TYPE_OF_LOADER_UNDEFINED 0xff
#define ENTRY_64 0x200 /* boot.rst: 64-bit entry at load + 0x200 */
#define SECTOR 512
#define PAGE 0x1000ull
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define CMDLINE_AREA_END LINUX_MPTABLE

/* Long-mode page table bits (AMD APM vol. 2, 5.3). */
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull
#define PD_COUNT 4 /* 4 PDs of 512 2 MiB pages: 0-4 GiB */

/* Flat descriptors: 64-bit code exec/read (L=1, D=0) and data read/write,
 * base 0, limit 0xfffff pages, present, DPL 0, accessed (AMD APM vol. 2, 4.8). */
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA 0x00cf93000000ffffull
#define GDT_ENTRIES 4

#define CR0_PE 0x1ull
#define CR0_ET 0x10ull
#define CR0_PG 0x80000000ull
#define CR4_PAE 0x20ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull
#define RFLAGS_FIXED 0x2ull /* bit 1 reads as one; IF=0 as boot.rst wants */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

static int fail(const char **why, int err, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Where the decompressor runs (arch/x86/boot/compressed/head_64.S): the
 * load address aligned up to kernel_alignment, at least LOAD_PHYSICAL_ADDR
 * (= pref_address) for a relocatable kernel; pref_address otherwise. */
static uint64_t run_address(const struct linux_kernel *k)
{
	uint64_t a = align_up(LINUX_KERNEL, k->kernel_alignment);

	if (!k->relocatable)
		return k->pref_address;
	return a > k->pref_address ? a : k->pref_address;
}

static void read_fields(const uint8_t *b, size_t size, struct linux_kernel *k)
{
	memset(k, 0, sizeof(*k));
	k->image = b;
	k->size = size;
	k->setup_sects = b[HDR_SETUP_SECTS] ? b[HDR_SETUP_SECTS] : 4; /* boot.rst: 0 means 4 */
	k->hdr_end = 0x202 + (size_t)b[HDR_JUMP_LEN];
	k->pm_offset = ((size_t)k->setup_sects + 1) * SECTOR;
	k->pm_size = k->pm_offset < size ? size - k->pm_offset : 0;
	k->version = rd16(b + HDR_VERSION);
	k->loadflags = b[HDR_LOADFLAGS];
	k->relocatable = b[HDR_RELOCATABLE] != 0;
	k->xloadflags = rd16(b + HDR_XLOADFLAGS);
	k->kernel_alignment = rd32(b + HDR_KERNEL_ALIGNMENT);
	k->init_size = rd32(b + HDR_INIT_SIZE);
	k->cmdline_size = rd32(b + HDR_CMDLINE_SIZE);
	k->initrd_addr_max = rd32(b + HDR_INITRD_ADDR_MAX);
	k->pref_address = rd64(b + HDR_PREF_ADDRESS);
}

/* The header's identity and the file's shape. */
static int check_header(const uint8_t *b, const struct linux_kernel *k, const char **why)
{
	if (rd16(b + HDR_BOOT_FLAG) != BOOT_FLAG)
		return fail(why, -EINVAL, "no boot_flag 0xAA55 at 0x1FE");
	if (rd32(b + HDR_MAGIC) != HDRS_MAGIC)
		return fail(why, -EINVAL, "no \"HdrS\" at 0x202: not a bzImage");
	if (k->version < MIN_VERSION)
		return fail(why, -EINVAL, "boot protocol older than 2.12");
	if (k->hdr_end < HDR_MIN_END || k->hdr_end > HDR_MAX_END || k->hdr_end > k->size)
		return fail(why, -EINVAL, "setup header length (byte 0x201) out of range");
	if (!(k->xloadflags & XLF_KERNEL_64))
		return fail(why, -EINVAL, "no 64-bit entry (xloadflags XLF_KERNEL_64 clear)");
	if (!(k->loadflags & LOADED_HIGH))
		return fail(why, -EINVAL, "not a bzImage (loadflags LOADED_HIGH clear)");
	if (k->pm_offset >= k->size)
		return fail(why, -EINVAL, "protected-mode part starts beyond the end of the file");
	if (k->pm_size <= ENTRY_64)
		return fail(why, -EINVAL, "protected-mode part too short for the entry at +0x200");
	return 0;
}

/* The fields that decide where the kernel runs and what it accepts. */
static int check_fields(const struct linux_kernel *k, const char **why)
{
	uint32_t a = k->kernel_alignment;

	if (a == 0 || (a & (a - 1)) || a > GIB)
		return fail(why, -EINVAL, "kernel_alignment not a power of two up to 1 GiB");
	if (k->pref_address < MIB)
		return fail(why, -EINVAL, "pref_address below 1 MiB");
	if (k->pref_address & (a - 1))
		return fail(why, -EINVAL, "pref_address not a multiple of kernel_alignment");
	if (k->init_size < k->pm_size)
		return fail(why, -EINVAL, "init_size smaller than the protected-mode part");
	if (k->pref_address >= LINUX_IDMAP_END || run_address(k) + k->init_size > LINUX_IDMAP_END)
		return fail(why, -EINVAL,
			    "decompression area (pref_address + init_size) above 4 GiB");
	if (k->cmdline_size == 0)
		return fail(why, -EINVAL, "cmdline_size is 0");
	if (k->initrd_addr_max < MIB)
		return fail(why, -EINVAL, "initrd_addr_max below 1 MiB");
	return 0;
}

int linux_parse(const void *bzimage, size_t size, struct linux_kernel *out, const char **why)
{
	const uint8_t *b = bzimage;
	int err;

	memset(out, 0, sizeof(*out));
	if (!b || size < HDR_MIN_END)
		return fail(why, -EINVAL, "file shorter than the setup header");
	read_fields(b, size, out);
	err = check_header(b, out, why);
	if (!err)
		err = check_fields(out, why);
	return err;
}

static void e820_add(struct linux_layout *l, uint64_t addr, uint64_t end, uint32_t type)
{
	struct linux_e820 *e = &l->e820[l->e820_entries++];

	e->addr = addr;
	e->size = end - addr;
	e->type = type;
}

/* Low RAM, the EBDA/VGA/BIOS hole, RAM from 1 MiB with the interrupt
 * window cut out (VT-d 3.15: DMA there is an interrupt request). */
static void e820_fill(struct linux_layout *l, uint64_t ram)
{
	l->e820_entries = 0;
	e820_add(l, 0, LINUX_LOW_RAM_END, LINUX_E820_RAM);
	e820_add(l, LINUX_LOW_RAM_END, LINUX_KERNEL, LINUX_E820_RESERVED);
	e820_add(l, LINUX_KERNEL, ram < LINUX_IRQ_WINDOW ? ram : LINUX_IRQ_WINDOW, LINUX_E820_RAM);
	if (ram > LINUX_IRQ_WINDOW_END)
		e820_add(l, LINUX_IRQ_WINDOW_END, ram, LINUX_E820_RAM);
}

/* The initrd goes page-aligned at the top of RAM below initrd_addr_max (and
 * 4 GiB), clear of the kernel as loaded and of the decompressor's area; if
 * the top is inside that area, just below it. */
static int place_initrd(const struct linux_kernel *k, struct linux_layout *l, uint64_t size,
			const char **why)
{
	uint64_t top = (uint64_t)k->initrd_addr_max + 1,
		 low = align_up(l->kernel + l->kernel_size, PAGE);
	uint64_t base;

	if (top > l->ram)
		top = l->ram;
	if (top > LINUX_IRQ_WINDOW)
		top = LINUX_IRQ_WINDOW;
	if (size > top)
		return fail(why, -ENOMEM, "initrd larger than the RAM below initrd_addr_max");
	base = align_down(top - size, PAGE);
	if (overlaps(base, size, l->run, l->run_size)) {
		if (l->run < size)
			return fail(why, -ENOMEM,
				    "no room for the initrd outside the kernel's areas");
		base = align_down(l->run - size, PAGE);
	}
	if (base < low || overlaps(base, size, l->run, l->run_size))
		return fail(why, -ENOMEM, "no room for the initrd outside the kernel's areas");
	l->initrd = base;
	l->initrd_size = size;
	return 0;
}

int linux_layout(const struct linux_kernel *k, uint64_t ram_bytes, uint64_t initrd_size,
		 size_t cmdline_len, struct linux_layout *out, const char **why)
{
	uint64_t cmax = k->cmdline_size, need;

	memset(out, 0, sizeof(*out));
	if (cmax > CMDLINE_AREA_END - LINUX_CMDLINE - 1)
		cmax = CMDLINE_AREA_END - LINUX_CMDLINE - 1;
	if (cmdline_len > cmax)
		return fail(why, -E2BIG, "command line longer than the kernel's cmdline_size");
	out->ram = ram_bytes;
	out->gdt = LINUX_GDT;
	out->zero_page = LINUX_ZERO_PAGE;
	out->stack_top = LINUX_STACK_TOP;
	out->pgtable = LINUX_PGTABLE;
	out->cmdline = LINUX_CMDLINE;
	out->cmdline_max = cmax + 1;
	out->mptable = LINUX_MPTABLE;
	out->mptable_size = LINUX_MPTABLE_SIZE;
	out->kernel = LINUX_KERNEL;
	out->kernel_size = k->pm_size;
	out->run = run_address(k);
	out->run_size = k->init_size;
	need = out->run + out->run_size;
	if (out->kernel + out->kernel_size > need)
		need = out->kernel + out->kernel_size;
	/* The decompressor works in RAM: the window must not cut it. */
	if (ram_bytes < need || need > LINUX_IRQ_WINDOW)
		return fail(why, -ENOMEM, "RAM smaller than the kernel's decompression area");
	if (initrd_size) {
		int err = place_initrd(k, out, initrd_size, why);
		if (err)
			return err;
	}
	e820_fill(out, ram_bytes);
	return 0;
}

/* [gpa, gpa + len) as a host pointer, or NULL. */
typedef void *(*gpa_ptr_fn)(void *ctx, uint64_t gpa, size_t len);

static int in_e820_ram(const struct linux_layout *l, uint64_t gpa, uint64_t size)
{
	for (unsigned i = 0; i < l->e820_entries; i++) {
		const struct linux_e820 *e = &l->e820[i];
		if (e->type == LINUX_E820_RAM && gpa >= e->addr && size <= e->size &&
		    gpa - e->addr <= e->size - size)
			return 1;
	}
	return 0;
}

static int check_initrd(const struct linux_kernel *k, const struct linux_layout *l, uint64_t gpa,
			uint64_t size, const char **why)
{
	if (!size)
		return 0;
	if (gpa & (PAGE - 1))
		return fail(why, -EINVAL, "initrd not page-aligned");
	if (gpa < MIB || !in_e820_ram(l, gpa, size))
		return fail(why, -EINVAL, "initrd outside the guest's RAM above 1 MiB");
	if (overlaps(gpa, size, l->kernel, l->kernel_size) ||
	    overlaps(gpa, size, l->run, l->run_size))
		return fail(why, -EINVAL, "initrd overlaps the kernel or its decompression area");
	/* boot.rst: XLF_CAN_BE_LOADED_ABOVE_4G lifts initrd_addr_max. */
	if (gpa + size - 1 > k->initrd_addr_max && !(k->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G))
		return fail(why, -EINVAL, "initrd above initrd_addr_max");
	return 0;
}

static void zero_page_fill(uint8_t *zp, const struct linux_kernel *k, const struct linux_layout *l,
			   uint64_t initrd_gpa, uint64_t initrd_size)
{
	memset(zp, 0, ZP_SIZE);
	/* boot.rst "Details of header fields": the header is copied as is. */
	memcpy(zp + HDR_START, k->image + HDR_START, k->hdr_end - HDR_START);
	zp[HDR_TYPE_OF_LOADER] = TYPE_OF_LOADER_UNDEFINED;
	wr32(zp + HDR_CODE32_START, (uint32_t)l->kernel);
	wr32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	wr32(zp + HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
	wr32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_gpa >> 32));
	wr32(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));
	wr32(zp + HDR_CMD_LINE_PTR, (uint32_t)l->cmdline);
	wr32(zp + ZP_EXT_CMD_LINE_PTR, (uint32_t)(l->cmdline >> 32));
	/* PC subarchitecture, no setup_data chain, no ACPI (MP table only). */
	wr32(zp + HDR_HARDWARE_SUBARCH, 0);
	wr64(zp + HDR_HARDWARE_SUBARCH_DATA, 0);
	wr64(zp + HDR_SETUP_DATA, 0);
	wr64(zp + ZP_ACPI_RSDP_ADDR, 0);
	/* zero-page.rst: a nonzero sentinel makes the kernel zap the header. */
	zp[ZP_SENTINEL] = 0;
	zp[ZP_E820_ENTRIES] = (uint8_t)l->e820_entries;
	for (unsigned i = 0; i < l->e820_entries; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + i * ZP_E820_ENTRY_SIZE;
		wr64(e, l->e820[i].addr);
		wr64(e + 8, l->e820[i].size);
		wr32(e + 16, l->e820[i].type);
	}
}

/* PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs of 2 MiB pages: 0-4 GiB identity. */
static void pgtable_fill(uint8_t *pt, uint64_t base)
{
	memset(pt, 0, LINUX_PGTABLE_SIZE);
	wr64(pt, (base + PAGE) | PTE_P | PTE_RW);
	for (unsigned i = 0; i < PD_COUNT; i++) {
		uint64_t pd = base + (2 + i) * PAGE;
		wr64(pt + PAGE + 8 * i, pd | PTE_P | PTE_RW);
		for (unsigned j = 0; j < 512; j++)
			wr64(pt + (2 + i) * PAGE + 8 * j,
			     ((uint64_t)i * GIB + (uint64_t)j * (2 * MIB)) | PTE_P | PTE_RW |
				     PTE_PS);
	}
}

static void gdt_fill(uint8_t *gdt)
{
	memset(gdt, 0, GDT_ENTRIES * 8);
	wr64(gdt + LINUX_BOOT_CS, GDT_CODE64);
	wr64(gdt + LINUX_BOOT_DS, GDT_DATA);
}

static void entry_fill(const struct linux_layout *l, struct linux_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->rip = l->kernel + ENTRY_64;
	e->rsi = l->zero_page;
	/* Not required by boot.rst (startup_64 sets its own stack before any
	 * push); a valid one costs nothing. */
	e->rsp = l->stack_top;
	e->rflags = RFLAGS_FIXED;
	e->cr0 = CR0_PE | CR0_ET | CR0_PG;
	e->cr3 = l->pgtable;
	e->cr4 = CR4_PAE;
	e->efer = EFER_LME | EFER_LMA;
	e->cs = LINUX_BOOT_CS;
	e->ds = LINUX_BOOT_DS;
	e->cs_desc = GDT_CODE64;
	e->ds_desc = GDT_DATA;
	e->gdt_base = l->gdt;
	e->gdt_limit = GDT_ENTRIES * 8 - 1;
}

static int write_cmdline(const struct linux_kernel *k, const struct linux_layout *l,
			 const char *cmdline, gpa_ptr_fn gpa_ptr, void *ctx, const char **why)
{
	size_t len = cmdline ? strlen(cmdline) : 0;
	char *p;

	if (len > k->cmdline_size || len + 1 > l->cmdline_max)
		return fail(why, -E2BIG, "command line longer than the kernel's cmdline_size");
	p = gpa_ptr(ctx, l->cmdline, len + 1);
	if (!p)
		return fail(why, -EFAULT, "command line outside guest RAM");
	if (len)
		memcpy(p, cmdline, len);
	p[len] = 0;
	return 0;
}

int linux_build(const struct linux_kernel *k, const struct linux_layout *l, const char *cmdline,
		uint64_t initrd_gpa, uint64_t initrd_size, gpa_ptr_fn gpa_ptr, void *ctx,
		struct linux_entry *entry, const char **why)
{
	uint8_t *zp, *gdt, *pt, *kern;
	int err;

	if (l->e820_entries > LINUX_E820_MAX || l->kernel_size != k->pm_size)
		return fail(why, -EINVAL, "layout does not belong to this kernel");
	err = check_initrd(k, l, initrd_gpa, initrd_size, why);
	if (err)
		return err;
	zp = gpa_ptr(ctx, l->zero_page, ZP_SIZE);
	gdt = gpa_ptr(ctx, l->gdt, GDT_ENTRIES * 8);
	pt = gpa_ptr(ctx, l->pgtable, LINUX_PGTABLE_SIZE);
	kern = gpa_ptr(ctx, l->kernel, k->pm_size);
	if (!zp || !gdt || !pt || !kern)
		return fail(why, -EFAULT, "boot area outside guest RAM");
	err = write_cmdline(k, l, cmdline, gpa_ptr, ctx, why);
	if (err)
		return err;
	zero_page_fill(zp, k, l, initrd_size ? initrd_gpa : 0, initrd_size);
	gdt_fill(gdt);
	pgtable_fill(pt, l->pgtable);
	memcpy(kern, k->image + k->pm_offset, k->pm_size);
	entry_fill(l, entry);
	return 0;
}
