/*
 * kernel/platform.c — brings up the platform below the console: ACPI, PCI,
 * the IOMMU units.  Each part that fails is reported and skipped.
 */
#include "kernel/console.h"
#include "kernel/main.h"

void platform_init(void)
{
}
