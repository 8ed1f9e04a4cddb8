/*
 * iommu/iommu.c — the registry of IOMMU units declared at the end of
 * iommu/iommu.h: drivers register their units at bring-up, the dma layer
 * and the console look them up.  Units are kept in registration order.
 */
#include "iommu/iommu.h"

#include <stddef.h>

#define IOMMU_MAX_UNITS 64

static struct iommu_unit *reg_units[IOMMU_MAX_UNITS];
static unsigned reg_count;
static bool (*scope_fn)(struct iommu_unit *u, uint16_t seg, uint16_t rid);

int iommu_register_unit(struct iommu_unit *u)
{
	if (!u || !u->ops)
		return -EINVAL;
	for (unsigned i = 0; i < reg_count; i++)
		if (reg_units[i] == u)
			return -EEXIST;
	if (reg_count == IOMMU_MAX_UNITS)
		return -ENOSPC;
	reg_units[reg_count++] = u;
	return 0;
}

/* Not yet in iommu.h (declared in iommu/vtd/vtd.h meanwhile). */
void iommu_unregister_unit(struct iommu_unit *u);
void iommu_unregister_unit(struct iommu_unit *u)
{
	for (unsigned i = 0; i < reg_count; i++)
		if (reg_units[i] == u) {
			for (unsigned j = i + 1; j < reg_count; j++)
				reg_units[j - 1] = reg_units[j];
			reg_count--;
			return;
		}
}

unsigned iommu_unit_count(void) { return reg_count; }

struct iommu_unit *iommu_unit_at(unsigned index)
{
	return index < reg_count ? reg_units[index] : NULL;
}

struct iommu_unit *iommu_unit_for(uint16_t seg, uint16_t rid)
{
	if (!scope_fn)
		return NULL; /* without DMAR scope information nothing is known translated */
	for (unsigned i = 0; i < reg_count; i++)
		if (reg_units[i]->segment == seg && scope_fn(reg_units[i], seg, rid))
			return reg_units[i];
	return NULL;
}

void iommu_set_scope_fn(bool (*in_scope)(struct iommu_unit *u, uint16_t seg, uint16_t rid))
{
	scope_fn = in_scope;
}
