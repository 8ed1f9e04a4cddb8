// SOURCES: vm/linux.c
/*
 * tests/unit/test_linux.c — the Linux boot protocol builders on a synthetic
 * bzImage made here from the documented header offsets (boot.rst,
 * zero-page.rst; the values of Debian's 6.1 kernel): every rejection of
 * linux_parse, linux_layout's RAM and initrd rules and e820 map, and what
 * linux_build writes (the zero page byte for byte, the command line, the
 * identity page tables, the GDT descriptors' bits, the kernel copy, the
 * entry state).  A real /boot/vmlinuz-* is parsed too when one exists.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vm/linux.h"

#define PM_OFF 1024 /* setup_sects 1 */
#define PM_SIZE 8192
#define IMG_SIZE (PM_OFF + PM_SIZE)
#define HDR_END 0x26c /* protocol 2.15: ends after kernel_info_offset */
#define INIT_SIZE 0x3f98000u
#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define NEED (16 * MIB + INIT_SIZE) /* decompressor at 16 MiB, init_size */
#define GUEST_SIZE (2 * MIB)

static uint8_t img[IMG_SIZE];

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)v);
	wr16(p + 2, (uint16_t)(v >> 16));
}
static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

/* A bzImage header as Debian's 6.1 kernel has it, a boot sector and setup
 * code of 0xCC around it, and a patterned protected-mode part. */
static void make_image(uint8_t *b)
{
	memset(b, 0xcc, PM_OFF);
	for (size_t i = 0x1f1; i < HDR_END; i++)
		b[i] = 0;
	b[0x1f1] = 1;		 /* setup_sects */
	wr16(b + 0x1f2, 1);	 /* root_flags */
	wr32(b + 0x1f4, 0x7e32); /* syssize */
	wr16(b + 0x1fa, 0xffff); /* vid_mode */
	wr16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = HDR_END - 0x202;
	memcpy(b + 0x202, "HdrS", 4);
	wr16(b + 0x206, 0x020f);
	wr16(b + 0x20e, 0x3a40); /* kernel_version pointer */
	b[0x211] = 0x01;	 /* LOADED_HIGH */
	wr32(b + 0x214, 0x100000);
	wr32(b + 0x22c, 0x7fffffff);
	wr32(b + 0x230, 0x200000);
	b[0x234] = 1;
	b[0x235] = 21;
	wr16(b + 0x236, 0x7f);
	wr32(b + 0x238, 0x7ff);
	wr32(b + 0x248, 0x3b5); /* payload_offset */
	wr64(b + 0x258, 0x1000000);
	wr32(b + 0x260, INIT_SIZE);
	wr32(b + 0x264, 0x190); /* handover_offset */
	for (size_t i = 0; i < PM_SIZE; i++)
		b[PM_OFF + i] = (uint8_t)(i * 7 + 3);
}

static int parse(const uint8_t *b, size_t size, struct linux_kernel *k, const char **why)
{
	*why = NULL;
	return linux_parse(b, size, k, why);
}

TEST(parse_accepts_the_debian_header)
{
	struct linux_kernel k;
	const char *why;

	make_image(img);
	CHECK_EQ(parse(img, IMG_SIZE, &k, &why), 0);
	CHECK(k.image == img);
	CHECK_EQ(k.size, IMG_SIZE);
	CHECK_EQ(k.setup_sects, 1);
	CHECK_EQ(k.hdr_end, HDR_END);
	CHECK_EQ(k.pm_offset, PM_OFF);
	CHECK_EQ(k.pm_size, PM_SIZE);
	CHECK_EQ(k.version, 0x020f);
	CHECK_EQ(k.xloadflags, 0x7f);
	CHECK_EQ(k.kernel_alignment, 0x200000);
	CHECK_EQ(k.relocatable, 1);
	CHECK_EQ(k.init_size, INIT_SIZE);
	CHECK_EQ(k.cmdline_size, 0x7ff);
	CHECK_EQ(k.initrd_addr_max, 0x7fffffff);
	CHECK_EQ(k.pref_address, 0x1000000);
}

TEST(parse_setup_sects_zero_means_four)
{
	static uint8_t b[5 * 512 + 0x400];
	struct linux_kernel k;
	const char *why;

	make_image(img);
	memcpy(b, img, PM_OFF);
	b[0x1f1] = 0;
	CHECK_EQ(parse(b, sizeof(b), &k, &why), 0);
	CHECK_EQ(k.setup_sects, 4);
	CHECK_EQ(k.pm_offset, 5 * 512);
	CHECK_EQ(k.pm_size, 0x400);
	/* With 4 setup sectors the part is 0x200 bytes: too short. */
	CHECK_EQ(parse(b, 5 * 512 + 0x200, &k, &why), -EINVAL);
}

/* One mutation of the good image per rule; each must fail with its own reason. */
struct bad {
	size_t off, width; /* width 0: truncate the file to off bytes */
	uint64_t val;
};

static const struct bad bads[] = {
	{0x267, 0, 0},		 /* shorter than the 2.12 header */
	{0x1fe, 2, 0x55aa},	 /* boot_flag */
	{0x202, 4, 0x53726449},	 /* "HdrS" */
	{0x206, 2, 0x020b},	 /* version 2.11 */
	{0x201, 1, 0x65},	 /* header ends at 0x267 */
	{0x236, 2, 0x7e},	 /* no XLF_KERNEL_64 */
	{0x211, 1, 0x00},	 /* not LOADED_HIGH */
	{0x1f1, 1, 60},		 /* protected-mode part beyond EOF */
	{PM_OFF + 0x200, 0, 0},	 /* too short for the entry */
	{0x230, 4, 0x300000},	 /* alignment not a power of two */
	{0x258, 8, 0x80000},	 /* pref_address below 1 MiB */
	{0x258, 8, 0x1100000},	 /* pref_address misaligned */
	{0x260, 4, PM_SIZE - 1}, /* init_size below the part */
	{0x260, 4, 0xff000001u}, /* decompressor area above 4 GiB */
	{0x238, 4, 0},		 /* cmdline_size */
	{0x22c, 4, 0xfffff},	 /* initrd_addr_max */
};
#define NBADS (sizeof(bads) / sizeof(bads[0]))

static void mutate(uint8_t *b, const struct bad *m)
{
	for (size_t i = 0; i < m->width; i++)
		b[m->off + i] = (uint8_t)(m->val >> (8 * i));
}

TEST(parse_rejects_each_rule_with_its_reason)
{
	static uint8_t b[IMG_SIZE];
	const char *whys[NBADS];
	struct linux_kernel k;

	for (size_t i = 0; i < NBADS; i++) {
		size_t size = bads[i].width ? IMG_SIZE : bads[i].off;
		make_image(b);
		mutate(b, &bads[i]);
		CHECK_EQ(parse(b, size, &k, &whys[i]), -EINVAL);
		CHECK(whys[i] != NULL);
		for (size_t j = 0; j < i; j++)
			if (whys[i] && whys[j] && strcmp(whys[i], whys[j]) == 0)
				CHECK(!"two rules share a reason");
	}
	/* The other side of some rules. */
	{
		const char *why;
		make_image(b);
		b[0x201] = 0x8f; /* header would end past 0x290 */
		CHECK_EQ(parse(b, IMG_SIZE, &k, &why), -EINVAL);
		CHECK(why && strcmp(why, whys[4]) == 0);
		make_image(b);
		wr32(b + 0x230, 0);
		CHECK_EQ(parse(b, IMG_SIZE, &k, &why), -EINVAL);
		CHECK(why && strcmp(why, whys[9]) == 0);
		wr32(b + 0x230, 0x80000000u); /* 2 GiB */
		CHECK_EQ(parse(b, IMG_SIZE, &k, &why), -EINVAL);
		make_image(b);
		wr64(b + 0x258, 1ull << 32);
		CHECK_EQ(parse(b, IMG_SIZE, &k, &why), -EINVAL);
		CHECK(why && strcmp(why, whys[13]) == 0);
		CHECK_EQ(parse(NULL, 0, &k, &why), -EINVAL);
		CHECK_EQ(parse(img, 0, &k, &why), -EINVAL);
		make_image(b);
		CHECK_EQ(linux_parse(b, IMG_SIZE, &k, NULL), 0); /* why may be NULL */
		b[0x211] = 0;
		CHECK_EQ(linux_parse(b, IMG_SIZE, &k, NULL), -EINVAL);
	}
}

static void good_kernel(struct linux_kernel *k)
{
	const char *why;

	make_image(img);
	CHECK_EQ(parse(img, IMG_SIZE, k, &why), 0);
}

static int layout(const struct linux_kernel *k, uint64_t ram, uint64_t initrd, size_t clen,
		  struct linux_layout *l, const char **why)
{
	*why = NULL;
	return linux_layout(k, ram, initrd, clen, l, why);
}

TEST(layout_fixed_areas)
{
	struct linux_kernel k;
	struct linux_layout l;
	const char *why;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, 0, 10, &l, &why), 0);
	CHECK_EQ(l.ram, 96 * MIB);
	CHECK_EQ(l.gdt, 0x500);
	CHECK_EQ(l.zero_page, 0x7000);
	CHECK_EQ(l.stack_top, 0x8ff0);
	CHECK_EQ(l.pgtable, 0x9000);
	CHECK_EQ(l.cmdline, 0x20000);
	CHECK_EQ(l.cmdline_max, 0x800);
	CHECK_EQ(l.mptable, 0x9fc00);
	CHECK_EQ(l.mptable_size, 0x400);
	CHECK_EQ(l.kernel, 0x100000);
	CHECK_EQ(l.kernel_size, PM_SIZE);
	CHECK_EQ(l.run, 16 * MIB); /* max(align_up(1 MiB, 2 MiB), pref_address) */
	CHECK_EQ(l.run_size, INIT_SIZE);
	CHECK_EQ(l.initrd, 0);
	CHECK_EQ(l.initrd_size, 0);
	/* The boot areas do not overlap each other. */
	uint64_t a[][2] = {{l.gdt, 32},
			   {l.zero_page, 4096},
			   {0x8000, 0x1000},
			   {l.pgtable, 0x6000},
			   {l.cmdline, l.cmdline_max},
			   {l.mptable, 0x400},
			   {l.kernel, l.kernel_size}};
	for (size_t i = 0; i < 7; i++)
		for (size_t j = i + 1; j < 7; j++)
			CHECK(a[i][0] + a[i][1] <= a[j][0] || a[j][0] + a[j][1] <= a[i][0]);
	CHECK(l.stack_top > 0x8000 && l.stack_top <= 0x9000 && (l.stack_top & 15) == 0);
}

TEST(layout_ram_too_small)
{
	struct linux_kernel k;
	struct linux_layout l;
	const char *why;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 64 * MIB, 0, 0, &l, &why), -ENOMEM);
	CHECK(why != NULL);
	CHECK_EQ(layout(&k, NEED - 1, 0, 0, &l, &why), -ENOMEM);
	CHECK_EQ(layout(&k, NEED, 0, 0, &l, &why), 0);
	CHECK_EQ(layout(&k, 0, 0, 0, &l, &why), -ENOMEM);
	/* A non-relocatable kernel runs at pref_address: 32 MiB needs more. */
	make_image(img);
	img[0x234] = 0;
	wr64(img + 0x258, 32 * MIB);
	CHECK_EQ(parse(img, IMG_SIZE, &k, &why), 0);
	CHECK_EQ(layout(&k, NEED, 0, 0, &l, &why), -ENOMEM);
	CHECK_EQ(layout(&k, 32 * MIB + INIT_SIZE, 0, 0, &l, &why), 0);
	CHECK_EQ(l.run, 32 * MIB);
}

TEST(layout_cmdline_limit)
{
	struct linux_kernel k;
	struct linux_layout l;
	const char *why;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, 0, 0x7ff, &l, &why), 0);
	CHECK_EQ(layout(&k, 96 * MIB, 0, 0x800, &l, &why), -E2BIG);
	CHECK(why != NULL);
	/* A huge cmdline_size is capped by the area below the MP table. */
	k.cmdline_size = 0xffffffff;
	CHECK_EQ(layout(&k, 96 * MIB, 0, 0x80000, &l, &why), -E2BIG);
	CHECK_EQ(layout(&k, 96 * MIB, 0, 0x100, &l, &why), 0);
	CHECK(l.cmdline + l.cmdline_max <= l.mptable);
}

static void check_initrd_rules(const struct linux_kernel *k, const struct linux_layout *l)
{
	CHECK_EQ(l->initrd & 0xfff, 0);
	CHECK(l->initrd >= 1 * MIB);
	CHECK(l->initrd + l->initrd_size <= l->ram);
	CHECK(l->initrd + l->initrd_size - 1 <= k->initrd_addr_max);
	CHECK(l->initrd >= l->run + l->run_size || l->initrd + l->initrd_size <= l->run);
	CHECK(l->initrd >= l->kernel + l->kernel_size);
}

TEST(layout_initrd_at_the_top)
{
	struct linux_kernel k;
	struct linux_layout l;
	const char *why;
	uint64_t sz = 2 * MIB + 123;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, sz, 0, &l, &why), 0);
	CHECK_EQ(l.initrd, (96 * MIB - sz) & ~0xfffull);
	CHECK_EQ(l.initrd_size, sz);
	check_initrd_rules(&k, &l);
	/* 3 GiB of RAM: the top is initrd_addr_max (2 GiB - 1). */
	CHECK_EQ(layout(&k, 3 * GIB, sz, 0, &l, &why), 0);
	CHECK_EQ(l.initrd, (2 * GIB - sz) & ~0xfffull);
	check_initrd_rules(&k, &l);
	/* 6 GiB with XLF_CAN_BE_LOADED_ABOVE_4G: still below initrd_addr_max. */
	CHECK_EQ(layout(&k, 6 * GIB, sz, 0, &l, &why), 0);
	CHECK_EQ(l.initrd, (2 * GIB - sz) & ~0xfffull);
	/* Exactly enough above the decompressor's area. */
	CHECK_EQ(layout(&k, NEED + 2 * MIB, 2 * MIB, 0, &l, &why), 0);
	CHECK_EQ(l.initrd, NEED);
	check_initrd_rules(&k, &l);
}

TEST(layout_initrd_below_the_decompressor)
{
	struct linux_kernel k;
	struct linux_layout l;
	const char *why;

	good_kernel(&k);
	/* No room above [16 MiB, 16 MiB + init_size): just below 16 MiB. */
	CHECK_EQ(layout(&k, NEED + MIB, 4 * MIB, 0, &l, &why), 0);
	CHECK_EQ(l.initrd, 12 * MIB);
	check_initrd_rules(&k, &l);
	/* initrd_addr_max inside the area forces the same. */
	k.initrd_addr_max = 0x2ffffff;
	CHECK_EQ(layout(&k, 96 * MIB, 3 * MIB, 0, &l, &why), 0);
	CHECK_EQ(l.initrd, 13 * MIB);
	check_initrd_rules(&k, &l);
	k.initrd_addr_max = 0x7fffffff;
	/* Too big for either side: between kernel end and 16 MiB is < 15 MiB. */
	CHECK_EQ(layout(&k, NEED + MIB, 15 * MIB, 0, &l, &why), -ENOMEM);
	CHECK(why != NULL);
	CHECK_EQ(layout(&k, NEED + MIB, 14 * MIB, 0, &l, &why), 0);
	check_initrd_rules(&k, &l);
	/* Larger than everything below initrd_addr_max. */
	CHECK_EQ(layout(&k, 3 * GIB, 2 * GIB + 1, 0, &l, &why), -ENOMEM);
}

static void check_e820(const struct linux_layout *l, unsigned i, uint64_t addr, uint64_t size,
		       uint32_t type)
{
	CHECK(i < l->e820_entries);
	CHECK_EQ(l->e820[i].addr, addr);
	CHECK_EQ(l->e820[i].size, size);
	CHECK_EQ(l->e820[i].type, type);
}

TEST(layout_e820)
{
	struct linux_kernel k;
	struct linux_layout l;
	const char *why;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, MIB, 0, &l, &why), 0);
	CHECK_EQ(l.e820_entries, 3);
	check_e820(&l, 0, 0, 0x9fc00, 1);
	check_e820(&l, 1, 0x9fc00, 0x100000 - 0x9fc00, 2);
	check_e820(&l, 2, 0x100000, 95 * MIB, 1);
	/* The MP table sits in the reserved range, the rest of the low areas in RAM. */
	CHECK(l.mptable >= 0x9fc00 && l.mptable + l.mptable_size <= 0x100000);
	CHECK(l.cmdline + l.cmdline_max <= 0x9fc00);
	/* RAM reaching past the interrupt window: the window is cut out, and
	 * nothing above RAM is listed. */
	CHECK_EQ(layout(&k, 6 * GIB, 0, 0, &l, &why), 0);
	CHECK_EQ(l.e820_entries, 4);
	check_e820(&l, 2, 0x100000, 0xfee00000 - 0x100000, 1);
	check_e820(&l, 3, 0xfef00000, 6 * GIB - 0xfef00000, 1);
	/* RAM ending inside the window. */
	CHECK_EQ(layout(&k, 0xfee80000, 0, 0, &l, &why), 0);
	CHECK_EQ(l.e820_entries, 3);
	check_e820(&l, 2, 0x100000, 0xfee00000 - 0x100000, 1);
}

/* A guest RAM buffer of GUEST_SIZE bytes at guest-physical 0. */
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

static struct guest guest_new(void)
{
	struct guest g = {malloc(GUEST_SIZE), GUEST_SIZE};

	memset(g.mem, 0xee, GUEST_SIZE);
	return g;
}

static int build(const struct linux_kernel *k, const struct linux_layout *l, const char *cmd,
		 uint64_t igpa, uint64_t isize, struct guest *g, struct linux_entry *e,
		 const char **why)
{
	*why = NULL;
	return linux_build(k, l, cmd, igpa, isize, gpa_ptr, g, e, why);
}

/* The zero page as the boot protocol wants it, from the offsets in
 * zero-page.rst, independent of vm/linux.c. */
static void expected_zero_page(uint8_t *zp, const struct linux_layout *l, uint64_t igpa,
			       uint64_t isize)
{
	memset(zp, 0, 4096);
	memcpy(zp + 0x1f1, img + 0x1f1, HDR_END - 0x1f1);
	zp[0x210] = 0xff;			  /* type_of_loader */
	wr32(zp + 0x214, 0x100000);		  /* code32_start */
	wr32(zp + 0x218, (uint32_t)igpa);	  /* ramdisk_image */
	wr32(zp + 0x21c, (uint32_t)isize);	  /* ramdisk_size */
	wr32(zp + 0x0c0, (uint32_t)(igpa >> 32)); /* ext_ramdisk_image */
	wr32(zp + 0x0c4, (uint32_t)(isize >> 32));
	wr32(zp + 0x228, 0x20000); /* cmd_line_ptr */
	zp[0x1e8] = (uint8_t)l->e820_entries;
	for (unsigned i = 0; i < l->e820_entries; i++) {
		wr64(zp + 0x2d0 + 20 * i, l->e820[i].addr);
		wr64(zp + 0x2d0 + 20 * i + 8, l->e820[i].size);
		wr32(zp + 0x2d0 + 20 * i + 16, l->e820[i].type);
	}
}

TEST(build_zero_page)
{
	struct linux_kernel k;
	struct linux_layout l;
	struct linux_entry e;
	struct guest g = guest_new();
	uint8_t want[4096];
	const char *why;
	const uint8_t *zp = g.mem + 0x7000;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, 2 * MIB, 20, &l, &why), 0);
	CHECK_EQ(build(&k, &l, "console=ttyS0 quiet", l.initrd, l.initrd_size, &g, &e, &why), 0);
	expected_zero_page(want, &l, l.initrd, l.initrd_size);
	CHECK(memcmp(zp, want, 4096) == 0);
	for (size_t i = 0; i < 4096; i++)
		if (zp[i] != want[i]) {
			CHECK_EQ(i, ~0ull); /* names the first differing offset */
			break;
		}
	/* Spot checks at the documented offsets. */
	CHECK_EQ(zp[0x210], 0xff);
	CHECK_EQ(rd32(zp + 0x228), 0x20000);
	CHECK_EQ(rd32(zp + 0x218), l.initrd);
	CHECK_EQ(rd32(zp + 0x21c), 2 * MIB);
	CHECK_EQ(zp[0x1e8], 3);
	CHECK_EQ(rd64(zp + 0x2d0 + 40), 0x100000);
	CHECK_EQ(rd32(zp + 0x2d0 + 56), 1);
	CHECK_EQ(zp[0x1ef], 0); /* sentinel */
	CHECK_EQ(rd64(zp + 0x070), 0);
	CHECK_EQ(rd16(zp + 0x1fe), 0xaa55);
	CHECK(memcmp(zp + 0x202, "HdrS", 4) == 0);
	CHECK_EQ(rd32(zp + 0x260), INIT_SIZE);
	CHECK_EQ(zp[HDR_END], 0); /* the setup code after the header is not copied */
	CHECK_EQ(zp[0x1f0], 0);	  /* nor the boot sector */
	free(g.mem);
}

TEST(build_overwrites_loader_fields_and_sets_ext_above_4g)
{
	struct linux_kernel k;
	struct linux_layout l;
	struct linux_entry e;
	struct guest g = guest_new();
	const char *why;
	const uint8_t *zp = g.mem + 0x7000;
	uint64_t igpa = 5 * GIB + 0x3000;

	make_image(img);
	wr32(img + 0x23c, 3);	       /* hardware_subarch from the file */
	wr64(img + 0x250, 0x12345678); /* setup_data from the file */
	img[0x210] = 0x21;
	CHECK_EQ(parse(img, IMG_SIZE, &k, &why), 0);
	CHECK_EQ(layout(&k, 6 * GIB, 0, 0, &l, &why), 0);
	CHECK_EQ(build(&k, &l, "", igpa, GIB - 0x2000, &g, &e, &why), -EINVAL); /* past RAM */
	CHECK_EQ(build(&k, &l, "", igpa, GIB - 0x3000, &g, &e, &why), 0);
	CHECK_EQ(rd32(zp + 0x23c), 0);
	CHECK_EQ(rd64(zp + 0x250), 0);
	CHECK_EQ(zp[0x210], 0xff);
	CHECK_EQ(rd32(zp + 0x218), 0x40003000u);
	CHECK_EQ(rd32(zp + 0x0c0), 1);
	CHECK_EQ(rd32(zp + 0x21c), GIB - 0x3000);
	CHECK_EQ(rd32(zp + 0x0c4), 0);
	CHECK_EQ(rd32(zp + 0x0c8), 0); /* cmdline below 4 GiB */
	CHECK_EQ(zp[0x1e8], 4);
	/* Without XLF_CAN_BE_LOADED_ABOVE_4G initrd_addr_max holds. */
	k.xloadflags &= (uint16_t)~2;
	CHECK_EQ(build(&k, &l, "", igpa, GIB - 0x3000, &g, &e, &why), -EINVAL);
	CHECK(why != NULL);
	free(g.mem);
}

TEST(build_initrd_checks)
{
	struct linux_kernel k;
	struct linux_layout l;
	struct linux_entry e;
	struct guest g = guest_new();
	const char *why, *seen[4];
	int n = 0;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, MIB, 0, &l, &why), 0);
	CHECK_EQ(build(&k, &l, "", l.initrd + 1, MIB, &g, &e, &why), -EINVAL);
	seen[n++] = why;
	CHECK_EQ(build(&k, &l, "", 96 * MIB, MIB, &g, &e, &why), -EINVAL); /* past RAM */
	seen[n++] = why;
	CHECK_EQ(build(&k, &l, "", 0x80000, 0x1000, &g, &e, &why), -EINVAL); /* low 1 MiB */
	CHECK(why == seen[1]);
	CHECK_EQ(build(&k, &l, "", 20 * MIB, MIB, &g, &e, &why), -EINVAL); /* decompressor */
	seen[n++] = why;
	CHECK_EQ(build(&k, &l, "", 0x100000, 0x1000, &g, &e, &why), -EINVAL); /* kernel */
	CHECK(why == seen[2]);
	CHECK_EQ(build(&k, &l, "", 0xffff000, 0x2000, &g, &e, &why), -EINVAL); /* above RAM */
	for (int i = 0; i < n; i++)
		CHECK(seen[i] != NULL);
	CHECK(seen[0] != seen[1] && seen[1] != seen[2]);
	/* No initrd: any gpa is ignored and the fields are zero. */
	CHECK_EQ(build(&k, &l, "", 12345, 0, &g, &e, &why), 0);
	CHECK_EQ(rd32(g.mem + 0x7000 + 0x218), 0);
	CHECK_EQ(rd32(g.mem + 0x7000 + 0x21c), 0);
	free(g.mem);
}

TEST(build_cmdline)
{
	struct linux_kernel k;
	struct linux_layout l;
	struct linux_entry e;
	struct guest g = guest_new();
	static char cmd[0x802];
	const char *why;
	const char *rec = "console=ttyS0 earlyprintk=serial,ttyS0,115200 acpi=off pci=conf1 "
			  "nokaslr no5lvl tsc=reliable";

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, 0, strlen(rec), &l, &why), 0);
	CHECK_EQ(build(&k, &l, rec, 0, 0, &g, &e, &why), 0);
	CHECK(strcmp((char *)g.mem + 0x20000, rec) == 0);
	CHECK_EQ(g.mem[0x20000 + strlen(rec) + 1], 0xee); /* nothing past the NUL */
	/* cmdline_size characters fit, one more does not. */
	memset(cmd, 'a', 0x7ff);
	cmd[0x7ff] = 0;
	CHECK_EQ(build(&k, &l, cmd, 0, 0, &g, &e, &why), 0);
	CHECK_EQ(g.mem[0x20000 + 0x7fe], 'a');
	CHECK_EQ(g.mem[0x20000 + 0x7ff], 0);
	cmd[0x7ff] = 'a';
	cmd[0x800] = 0;
	CHECK_EQ(build(&k, &l, cmd, 0, 0, &g, &e, &why), -E2BIG);
	CHECK(why != NULL);
	/* A NULL command line is the empty one. */
	CHECK_EQ(build(&k, &l, NULL, 0, 0, &g, &e, &why), 0);
	CHECK_EQ(g.mem[0x20000], 0);
	free(g.mem);
}

/* Walks the guest's 4-level tables from cr3 like the MMU (2 MiB leaves). */
static int walk(const struct guest *g, uint64_t cr3, uint64_t va, uint64_t *pa)
{
	uint64_t e = rd64(g->mem + cr3 + 8 * ((va >> 39) & 511));

	if (!(e & 1) || !(e & 2))
		return -1;
	e = rd64(g->mem + (e & 0xffffffffff000ull) + 8 * ((va >> 30) & 511));
	if (!(e & 1) || !(e & 2) || (e & 0x80))
		return -1;
	e = rd64(g->mem + (e & 0xffffffffff000ull) + 8 * ((va >> 21) & 511));
	if (!(e & 1) || !(e & 2) || !(e & 0x80))
		return -1;
	*pa = (e & 0xfffffffe00000ull) | (va & 0x1fffff);
	return 0;
}

TEST(build_identity_map_0_4g_2m_pages)
{
	struct linux_kernel k;
	struct linux_layout l;
	struct linux_entry e;
	struct guest g = guest_new();
	const char *why;
	uint64_t pa;
	int bad = 0;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, 0, 0, &l, &why), 0);
	CHECK_EQ(build(&k, &l, "", 0, 0, &g, &e, &why), 0);
	CHECK_EQ(e.cr3, 0x9000);
	for (uint64_t va = 0; va < 4 * GIB; va += 2 * MIB) {
		if (walk(&g, e.cr3, va + 0x1234, &pa) || pa != va + 0x1234)
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(walk(&g, e.cr3, 4 * GIB, &pa), -1); /* nothing above 4 GiB */
	CHECK_EQ(walk(&g, e.cr3, 1ull << 39, &pa), -1);
	/* The tables live in the 6 pages the layout gives them. */
	CHECK_EQ(rd64(g.mem + 0x9000), 0xa000 | 3);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(rd64(g.mem + 0xa000 + 8 * i), (0xb000 + 0x1000 * i) | 3);
	CHECK_EQ(rd64(g.mem + 0xa000 + 8 * 4), 0);
	CHECK_EQ(rd64(g.mem + 0xb000 + 8 * 5), (5 * 2 * MIB) | 0x83);
	CHECK_EQ(rd64(g.mem + 0xefff - 7), (4 * GIB - 2 * MIB) | 0x83);
	CHECK_EQ(g.mem[0xf000], 0xee); /* nothing past them */
	free(g.mem);
}

static unsigned bits(uint64_t v, unsigned lo, unsigned n)
{
	return (unsigned)(v >> lo) & ((1u << n) - 1);
}

static void check_flat(uint64_t d)
{
	CHECK_EQ(bits(d, 0, 16) | bits(d, 48, 4) << 16, 0xfffff); /* limit */
	CHECK_EQ(bits(d, 16, 24) | bits(d, 56, 8) << 24, 0);	  /* base */
	CHECK_EQ(bits(d, 44, 1), 1);				  /* S: code/data */
	CHECK_EQ(bits(d, 45, 2), 0);				  /* DPL 0 */
	CHECK_EQ(bits(d, 47, 1), 1);				  /* P */
	CHECK_EQ(bits(d, 55, 1), 1);				  /* G: 4 KiB units */
}

TEST(build_gdt_and_entry_state)
{
	struct linux_kernel k;
	struct linux_layout l;
	struct linux_entry e;
	struct guest g = guest_new();
	const char *why;
	uint64_t cs, ds;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, 0, 0, &l, &why), 0);
	CHECK_EQ(build(&k, &l, "", 0, 0, &g, &e, &why), 0);
	CHECK_EQ(e.gdt_base, 0x500);
	CHECK_EQ(e.gdt_limit, 31);
	CHECK_EQ(rd64(g.mem + 0x500), 0);
	CHECK_EQ(rd64(g.mem + 0x508), 0);
	cs = rd64(g.mem + 0x500 + 0x10);
	ds = rd64(g.mem + 0x500 + 0x18);
	CHECK_EQ(g.mem[0x520], 0xee);
	check_flat(cs);
	check_flat(ds);
	CHECK_EQ(bits(cs, 40, 4), 0xb); /* code, execute/read, accessed */
	CHECK_EQ(bits(cs, 53, 1), 1);	/* L: 64-bit */
	CHECK_EQ(bits(cs, 54, 1), 0);	/* D must be 0 with L */
	CHECK_EQ(bits(ds, 40, 4), 0x3); /* data, read/write, accessed */
	CHECK_EQ(bits(ds, 54, 1), 1);	/* B: 32-bit stack */
	CHECK_EQ(bits(ds, 53, 1), 0);
	CHECK_EQ(e.cs_desc, cs);
	CHECK_EQ(e.ds_desc, ds);
	CHECK_EQ(e.cs, 0x10);
	CHECK_EQ(e.ds, 0x18);
	CHECK_EQ(e.rip, 0x100200);
	CHECK_EQ(e.rsi, 0x7000);
	CHECK_EQ(e.rsp, 0x8ff0);
	CHECK_EQ(e.rflags, 2); /* interrupts off */
	CHECK_EQ(e.cr0 & 0x80000001u, 0x80000001u);
	CHECK_EQ(e.cr4 & 0x20, 0x20);
	CHECK_EQ(e.cr4 & 0x1000, 0); /* no LA57 */
	CHECK_EQ(e.efer, 0x500);
	CHECK_EQ(e.cr3, 0x9000);
	free(g.mem);
}

TEST(build_copies_the_protected_mode_part)
{
	struct linux_kernel k;
	struct linux_layout l;
	struct linux_entry e;
	struct guest g = guest_new();
	const char *why;

	good_kernel(&k);
	CHECK_EQ(layout(&k, 96 * MIB, 0, 0, &l, &why), 0);
	CHECK_EQ(build(&k, &l, "", 0, 0, &g, &e, &why), 0);
	CHECK(memcmp(g.mem + 0x100000, img + PM_OFF, PM_SIZE) == 0);
	CHECK_EQ(g.mem[0x100000 + PM_SIZE], 0xee);
	CHECK_EQ(g.mem[0xfffff], 0xee);
	/* A guest buffer that ends inside the kernel: -EFAULT, nothing written. */
	g.size = 0x100000 + PM_SIZE - 1;
	memset(g.mem, 0xee, GUEST_SIZE);
	CHECK_EQ(build(&k, &l, "", 0, 0, &g, &e, &why), -EFAULT);
	CHECK(why != NULL);
	CHECK_EQ(g.mem[0x7000 + 0x210], 0xee);
	/* A layout made for another kernel. */
	g.size = GUEST_SIZE;
	l.kernel_size++;
	CHECK_EQ(build(&k, &l, "", 0, 0, &g, &e, &why), -EINVAL);
	free(g.mem);
}

/* A real kernel, if this machine has one: parse and lay it out. */
TEST(real_vmlinuz_if_present)
{
	DIR *d = opendir("/boot");
	struct dirent *de;
	int tried = 0;

	while (d && (de = readdir(d))) {
		char path[512];
		FILE *f;
		long n;
		uint8_t *b;
		struct linux_kernel k;
		struct linux_layout l;
		const char *why;

		if (strncmp(de->d_name, "vmlinuz-", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "/boot/%s", de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		b = malloc((size_t)n);
		if (b && fread(b, 1, (size_t)n, f) == (size_t)n) {
			tried++;
			CHECK_EQ(parse(b, (size_t)n, &k, &why), 0);
			if (why)
				printf("%s: %s\n", path, why);
			CHECK_EQ(layout(&k, 256 * MIB, 4 * MIB, 80, &l, &why), 0);
		}
		free(b);
		fclose(f);
	}
	if (d)
		closedir(d);
	if (!tried)
		printf("real_vmlinuz_if_present: no /boot/vmlinuz-*, skipped\n");
}
