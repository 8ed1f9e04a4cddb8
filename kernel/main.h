/* kernel/main.h — boot state shared by the kernel's init and commands. */
#ifndef SLUICE_KERNEL_MAIN_H
#define SLUICE_KERNEL_MAIN_H

#include <stdint.h>

#include "boot/boot_info.h"

struct boot_state {
	struct boot_info *bi;
	uint64_t boot_ms; /* efi_main to prompt, TSC-derived */
	unsigned unisolated; /* IOMMU units that failed bring-up and do not block DMA */
};
extern struct boot_state boot_state;

/* ACPI, PCI, IOMMU bring-up (kernel/platform.c). */
void platform_init(void);

#endif
