/*
 * boot/boot_info.h — everything the UEFI loader hands to the kernel.
 * Nothing outside boot/ knows about UEFI; this struct is the whole hand-off.
 */
#ifndef SLUICE_BOOT_BOOT_INFO_H
#define SLUICE_BOOT_BOOT_INFO_H

#include <stdint.h>

/* RMRR and DRHD checks (kernel/memmap.h) tell NVS, unusable, persistent and
 * unknown memory apart from reserved: only reserved and NVS may hold an RMRR. */
enum mem_kind {
	MEM_USABLE = 1,	    /* free RAM after ExitBootServices (incl. boot services) */
	MEM_LOADER = 2,	    /* sluice's image, stack, boot_info (RAM, not free) */
	MEM_RESERVED = 3,   /* firmware reserved, runtime services, PAL code */
	MEM_ACPI = 4,	    /* ACPI tables (reclaimable, but we keep them) */
	MEM_MMIO = 5,	    /* MMIO and MMIO port space */
	MEM_ACPI_NVS = 6,   /* ACPI NVS */
	MEM_UNUSABLE = 7,   /* RAM with errors */
	MEM_PERSISTENT = 8, /* persistent memory */
	MEM_OTHER = 9,	    /* a UEFI type sluice does not know (OEM, OS, newer) */
};

struct mem_region {
	uint64_t base, size;
	uint32_t kind; /* enum mem_kind */
	uint32_t pad;
};

#define BOOT_MAX_REGIONS 512
#define BOOT_ARGS_MAX 1024
#define BOOT_MAX_IMAGES 8
#define BOOT_IMAGE_NAME_MAX 32 /* with the NUL */
#define BOOT_CMDLINE_MAX 1024  /* with the NUL */
#define BOOT_LOG_MAX 4096

/* A guest image the loader read from the boot volume (the [image <name>]
 * sections of sluice.cfg): kernel and initrd in loader-data pages, which the
 * memory map reports as MEM_LOADER, so they are never free memory. */
struct boot_image {
	char name[BOOT_IMAGE_NAME_MAX];
	uint64_t kernel, kernel_size; /* physical address, bytes */
	uint64_t initrd, initrd_size; /* 0, 0 when the image has none */
	char cmdline[BOOT_CMDLINE_MAX];
};

struct boot_info {
	uint64_t rsdp;	     /* physical address of the ACPI RSDP, 0 if none */
	uint64_t image_base; /* where UEFI loaded sluice */
	uint64_t image_size;
	uint64_t stack_base; /* the kernel stack (allocated by the loader) */
	uint64_t stack_size;
	uint64_t early_pool;	  /* pages for sluice's first page tables: the */
	uint64_t early_pool_size; /* firmware's tables live in memory we reuse */
	uint64_t tsc_at_entry;	  /* rdtsc at efi_main, for the boot-time figure */
	uint32_t nregions;
	uint32_t disconnected; /* PCI controllers whose firmware drivers were stopped */
	uint32_t exit_retries; /* ExitBootServices retries (map key changed) */
	/* PCI functions (bridges included) whose Bus Master Enable the loader
	 * cleared right after the disconnect, before ExitBootServices. */
	uint32_t bm_cleared;
	/* Boot arguments: the load options, then sluice.cfg (lines joined with
	 * blanks; '#' comments dropped), NUL-terminated. */
	char args[BOOT_ARGS_MAX];
	struct mem_region regions[BOOT_MAX_REGIONS];
	uint32_t nimages;
	uint32_t pad;
	struct boot_image images[BOOT_MAX_IMAGES];
	/* What the loader has to say (images loaded, sluice.cfg errors, files
	 * not loaded): lines ended by '\n', NUL-terminated; the kernel prints
	 * them once its console is up. */
	char log[BOOT_LOG_MAX];
};

/* The kernel's entry point: called once, on the loader-provided stack,
 * after ExitBootServices, interrupts off. Never returns. */
void kmain(struct boot_info *bi) __attribute__((noreturn));

#endif
