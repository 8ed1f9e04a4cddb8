/*
 * kernel/platform.h — what platform bring-up found: the parsed DMAR, which
 * VT-d unit translates a requester ID, the PCI callbacks DMAR scopes need.
 */
#ifndef SLUICE_KERNEL_PLATFORM_H
#define SLUICE_KERNEL_PLATFORM_H

#include <stdint.h>

#include "iommu/vtd/dmar.h"

struct vtd_unit;

const struct dmar_info *platform_dmar(void); /* NULL without a usable DMAR */
extern const struct dmar_pci_ops platform_dmar_pci_ops;
/* The unit that translates requester rid on seg (NULL: untranslated). */
struct vtd_unit *platform_unit_for(uint16_t seg, uint16_t rid);
/* The unit brought up for DRHD index i of the DMAR (NULL if it failed). */
struct vtd_unit *platform_drhd_unit(int drhd);

#endif
