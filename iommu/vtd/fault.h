/*
 * iommu/vtd/fault.h — the VT-d fault-storm policy bring-up sets from boot
 * arguments.  The fault handling itself (iommu/vtd/fault.c: the
 * fault-event interrupt and polling read the fault-recording registers,
 * VT-d 7.2 and 11.4.14, into the IOMMU core's fault log, print rate-limited
 * `! fault ...` events and cut the Bus Master of a device that storms) is
 * reached through the IOMMU core.
 */
#ifndef SLUICE_IOMMU_VTD_FAULT_H
#define SLUICE_IOMMU_VTD_FAULT_H

#include <stdint.h>

#define VTD_FAULT_STORM_THRESHOLD 16			  /* decayed faults before Bus Master off */
#define VTD_FAULT_STORM_HALFLIFE_NS (10ull * 1000 * 1000) /* counter halves every 10 ms */

/* The storm policy in force (boot arguments fault_storm_threshold= and
 * fault_storm_halflife_ms= change it; defaults above).  A source whose
 * decaying fault counter reaches the threshold has Bus Master cut. */
extern unsigned vtd_fault_storm_threshold;
extern uint64_t vtd_fault_storm_halflife_ns;

#endif
