/* kernel/images.c — see images.h. */
#include <stdbool.h>
#include <string.h>

#include "hw/hw.h"
#include "kernel/images.h"
#include "kernel/log.h"
#include "kernel/memmap.h"

static struct guest_img imgs_tab[BOOT_MAX_IMAGES];
static unsigned imgs_n;

static bool terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

/* True if [hpa, hpa + size) lies wholly in loader memory; else logs why. */
static bool in_loader_memory(const char *name, const char *what, uint64_t hpa, uint64_t size,
			     const struct mem_region *map, unsigned nregions)
{
	uint64_t at = 0;
	uint32_t kind = MEMMAP_HOLE;

	if (hpa + size < hpa) {
		klog("boot: image %s dropped: its %s at 0x%llx wraps around", name, what,
		     (unsigned long long)hpa);
		return false;
	}
	if (!memmap_first_outside(map, nregions, hpa, hpa + size - 1, MEMMAP_KIND(MEM_LOADER), &at,
				  &kind))
		return true;
	klog("boot: image %s dropped: its %s at 0x%llx is %s, not loader memory", name, what,
	     (unsigned long long)at, mem_kind_name(kind));
	return false;
}

static bool acceptable(const struct boot_image *b, const struct mem_region *map, unsigned nregions)
{
	if (!terminated(b->name, sizeof(b->name)) || !b->name[0] ||
	    !terminated(b->cmdline, sizeof(b->cmdline))) {
		klog("boot: an image record without a name or command line end: dropped");
		return false;
	}
	if (!b->kernel || !b->kernel_size || (!b->initrd) != (!b->initrd_size)) {
		klog("boot: image %s dropped: kernel or initrd without address or size", b->name);
		return false;
	}
	if (guest_img_find(b->name)) {
		klog("boot: image %s dropped: an earlier image has this name", b->name);
		return false;
	}
	if (!in_loader_memory(b->name, "kernel", b->kernel, b->kernel_size, map, nregions))
		return false;
	return !b->initrd_size ||
	       in_loader_memory(b->name, "initrd", b->initrd, b->initrd_size, map, nregions);
}

unsigned guest_img_init(const struct boot_image *imgs, unsigned n, const struct mem_region *map,
			unsigned nregions)
{
	imgs_n = 0;
	memset(imgs_tab, 0, sizeof(imgs_tab));
	if (n > BOOT_MAX_IMAGES)
		n = BOOT_MAX_IMAGES; /* boot_info holds no more */
	for (unsigned i = 0; i < n; i++) {
		const struct boot_image *b = &imgs[i];
		if (!acceptable(b, map, nregions))
			continue;
		struct guest_img *g = &imgs_tab[imgs_n++];
		g->name = b->name;
		g->kernel = phys_to_virt(b->kernel);
		g->kernel_hpa = b->kernel;
		g->kernel_size = b->kernel_size;
		g->initrd = b->initrd_size ? phys_to_virt(b->initrd) : NULL;
		g->initrd_hpa = b->initrd;
		g->initrd_size = b->initrd_size;
		g->cmdline = b->cmdline;
	}
	return imgs_n;
}

unsigned guest_img_count(void) { return imgs_n; }

const struct guest_img *guest_img_at(unsigned i) { return i < imgs_n ? &imgs_tab[i] : NULL; }

const struct guest_img *guest_img_find(const char *name)
{
	for (unsigned i = 0; i < imgs_n; i++)
		if (!strcmp(imgs_tab[i].name, name))
			return &imgs_tab[i];
	return NULL;
}
