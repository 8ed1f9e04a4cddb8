// SOURCES: kernel/images.c kernel/memmap.c
/* tests/unit/test_images.c — the guest-image registry bring-up fills from
 * boot_info: lookups, and the records it refuses (memory that is not
 * loader memory, inconsistent records, repeated names). */
#include <string.h>

#include "kernel/images.h"
#include "test.h"

static struct boot_image imgs[BOOT_MAX_IMAGES + 2];
static uint8_t loader_mem[3][8192];
static struct mem_region map[3];

static void setup(void)
{
	memset(imgs, 0, sizeof(imgs));
	for (int i = 0; i < 3; i++) {
		map[i].base = (uint64_t)(uintptr_t)loader_mem[i];
		map[i].size = sizeof(loader_mem[i]);
		map[i].kind = MEM_LOADER;
	}
	map[2].kind = MEM_USABLE; /* loader_mem[2] is free RAM */
}

static void set(struct boot_image *b, const char *name, const void *k, uint64_t ks, const void *i,
		uint64_t is, const char *cmdline)
{
	strcpy(b->name, name);
	strcpy(b->cmdline, cmdline);
	b->kernel = (uint64_t)(uintptr_t)k;
	b->kernel_size = ks;
	b->initrd = (uint64_t)(uintptr_t)i;
	b->initrd_size = is;
}

TEST(images_registry_lookups)
{
	setup();
	set(&imgs[0], "linux", loader_mem[0], 5000, loader_mem[1], 8192, "console=ttyS0 quiet");
	set(&imgs[1], "tiny", loader_mem[0] + 5000, 100, NULL, 0, "");
	CHECK_EQ(guest_img_init(imgs, 2, map, 3), 2);
	CHECK_EQ(guest_img_count(), 2);
	const struct guest_img *g = guest_img_find("linux");
	CHECK(g && g == guest_img_at(0));
	if (!g)
		return;
	CHECK(!strcmp(g->name, "linux"));
	CHECK(g->kernel == loader_mem[0] && g->kernel_size == 5000);
	CHECK_EQ(g->kernel_hpa, (uintptr_t)loader_mem[0]);
	CHECK(g->initrd == loader_mem[1] && g->initrd_size == 8192);
	CHECK(!strcmp(g->cmdline, "console=ttyS0 quiet"));
	g = guest_img_at(1);
	CHECK(g && !strcmp(g->name, "tiny") && g->initrd == NULL && g->initrd_size == 0);
	CHECK(guest_img_at(2) == NULL);
	CHECK(guest_img_find("linu") == NULL);
	CHECK(guest_img_find("") == NULL);
	/* init again replaces the registry */
	CHECK_EQ(guest_img_init(imgs + 1, 1, map, 3), 1);
	CHECK(guest_img_find("linux") == NULL && guest_img_find("tiny"));
	CHECK_EQ(guest_img_init(imgs, 0, map, 3), 0);
	CHECK(guest_img_at(0) == NULL);
}

TEST(images_outside_loader_memory_dropped)
{
	setup();
	set(&imgs[0], "free", loader_mem[2], 100, NULL, 0, "");		    /* usable RAM */
	set(&imgs[1], "straddle", loader_mem[1] + 8000, 8192, NULL, 0, ""); /* into [2] */
	set(&imgs[2], "initrd", loader_mem[0], 10, loader_mem[2] + 4096, 1, "");
	set(&imgs[3], "hole", (void *)(uintptr_t)0x1000, 4096, NULL, 0, "");
	set(&imgs[4], "ok", loader_mem[1], 8192, loader_mem[0], 8192, "");
	set(&imgs[5], "wrap", (void *)(uintptr_t)~0ull, 2, NULL, 0, "");
	test_con_reset();
	CHECK_EQ(guest_img_init(imgs, 6, map, 3), 1);
	CHECK(guest_img_find("ok") && !guest_img_find("free") && !guest_img_find("straddle"));
	CHECK(strstr(test_con_buf, "boot: image free dropped: its kernel at 0x"));
	CHECK(strstr(test_con_buf, "is usable RAM, not loader memory"));
	CHECK(strstr(test_con_buf, "boot: image initrd dropped: its initrd at"));
	CHECK(strstr(test_con_buf, "boot: image hole dropped"));
	CHECK(strstr(test_con_buf,
		     "boot: image wrap dropped: its kernel at 0xffffffffffffffff wraps"));
}

TEST(images_bad_records_dropped)
{
	setup();
	set(&imgs[0], "nokernel", NULL, 10, NULL, 0, "");
	set(&imgs[1], "empty", loader_mem[0], 0, NULL, 0, "");
	set(&imgs[2], "halfinitrd", loader_mem[0], 10, loader_mem[1], 0, "");
	set(&imgs[3], "", loader_mem[0], 10, NULL, 0, "");
	set(&imgs[4], "a", loader_mem[0], 10, NULL, 0, "");
	set(&imgs[5], "a", loader_mem[1], 10, NULL, 0, ""); /* repeated name */
	set(&imgs[6], "b", loader_mem[1], 10, NULL, 0, "");
	memset(imgs[6].cmdline, 'x', sizeof(imgs[6].cmdline)); /* not terminated */
	set(&imgs[7], "c", loader_mem[1], 10, NULL, 0, "");
	memset(imgs[7].name, 'c', sizeof(imgs[7].name));
	set(&imgs[8], "past", loader_mem[1], 10, NULL, 0, ""); /* beyond BOOT_MAX_IMAGES */
	test_con_reset();
	CHECK_EQ(guest_img_init(imgs, 9, map, 3), 1);
	CHECK(guest_img_find("a") && guest_img_find("a")->kernel == loader_mem[0]);
	CHECK(!guest_img_find("past"));
	CHECK(strstr(test_con_buf, "boot: image a dropped: an earlier image has this name"));
	CHECK(strstr(test_con_buf, "boot: image nokernel dropped"));
	CHECK(strstr(test_con_buf, "boot: image halfinitrd dropped"));
}
