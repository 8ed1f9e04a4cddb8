/*
 * kernel/images.h — the guest images the loader read from the boot volume
 * (the [image <name>] sections of sluice.cfg, docs/images.md): a read-only
 * registry the VM layer and the console query.  Bring-up fills it once from
 * struct boot_info; the bytes stay where the loader put them, in loader
 * memory the frame allocator never hands out.
 */
#ifndef SLUICE_KERNEL_IMAGES_H
#define SLUICE_KERNEL_IMAGES_H

#include <stdint.h>

#include "boot/boot_info.h"

struct guest_img {
	const char *name;    /* 1..31 of A-Z a-z 0-9 . _ - */
	const void *kernel;  /* the kernel file's bytes */
	uint64_t kernel_hpa; /* where they are */
	uint64_t kernel_size;
	const void *initrd; /* NULL, and size 0, without an initrd */
	uint64_t initrd_hpa;
	uint64_t initrd_size;
	const char *cmdline; /* the default command line ("" if none) */
};

/* Registers the loader's images (bring-up, once; replaces what was there).
 * An image whose record is inconsistent (name or command line not
 * terminated, a zero-sized kernel, a name seen before) or whose memory does
 * not lie wholly in MEM_LOADER regions of map is dropped with a log line
 * saying why: the frame allocator could hand such memory out.  Returns the
 * number kept.  imgs must stay valid (boot_info does). */
unsigned guest_img_init(const struct boot_image *imgs, unsigned n, const struct mem_region *map,
			unsigned nregions);
unsigned guest_img_count(void);
/* The i-th image in sluice.cfg order; NULL past the end. */
const struct guest_img *guest_img_at(unsigned i);
/* The image of that name; NULL if there is none. */
const struct guest_img *guest_img_find(const char *name);

#endif
