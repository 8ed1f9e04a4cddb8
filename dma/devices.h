/*
 * dma/devices.h — glue from a PCI device (as the console names it, by
 * bdf) to the dma layer's struct dma_group: one persistent group per PCI
 * isolation group, created on first use, holding the IOMMU unit that
 * translates it and every requester ID its members' DMA can carry.
 */
#ifndef SLUICE_DMA_DEVICES_H
#define SLUICE_DMA_DEVICES_H

#include "dma/dma.h"
#include "drivers/pci.h"
#include "lib/err.h"

/* "00:03.0" → the device.  -EINVAL bad text, -ENODEV no such function. */
int dev_lookup(const char *bdf_text, struct pci_dev **out) MUST_CHECK;

/* The dma_group of d's PCI group (id = PCI group number), created on first
 * use.  While the group is attached to no space its unit and requester IDs
 * are recomputed on every call (IOMMU bring-up may have come later).
 *  -ENODEV  no IOMMU unit translates the group (alias rid of d)
 *  -ENOTSUP the members are translated by different units
 *  -E2BIG   more than DMA_GROUP_MAX_RIDS distinct requester IDs
 *  -ENOMEM */
int dev_group_get(struct pci_dev *d, struct dma_group **out) MUST_CHECK;
/* The same, NULL on any error. */
struct dma_group *dev_group(struct pci_dev *d);
/* The group with this PCI group number if it was created, else NULL. */
struct dma_group *dev_group_find(int id);

/* "00:03.0,00:03.1" — the group's members (at most len-1 chars; "-" if
 * none).  Returns buf. */
char *dev_group_bdfs(const struct dma_group *g, char *buf, unsigned len);

/* Requester IDs of the group, pure: the distinct alias_rid and own rid of
 * each of n members into rids[] (at most max); returns the count, or -E2BIG
 * when more than max are needed. */
int dev_collect_rids(struct pci_dev *const *members, unsigned n, uint16_t *rids,
		     unsigned max) MUST_CHECK;

/* Stops the DMA of n functions leaving an owner (each group's quiesce
 * callback, registered when the group is created): every non-bridge member
 * gets pci_quiesce (Bus Master off, pending transactions drained, FLR where
 * offered).  0, or the first member's error (the others are still tried). */
int dev_quiesce_members(struct pci_dev *const *m, unsigned n) MUST_CHECK;

/* Host tests: forget every group that is attached to no space. */
void dev_reset(void);

/* RMRR query: fills up to max [start, last] ranges of the RMRRs naming
 * seg:bus:devfn, returns how many there are.  Installed by the platform
 * code (kernel/platform.c); without one, groups carry no reserved ranges. */
typedef unsigned (*dev_rmrr_query_fn)(uint16_t seg, uint8_t bus, uint8_t devfn, uint64_t *start,
				      uint64_t *last, unsigned max);
void dev_set_rmrr_query(dev_rmrr_query_fn fn);

#endif
