/*
 * iommu/irq_route.c — the interrupt routes declared in the last section of
 * iommu/iommu.h: the registry `irq` lists, each route's vector and handler,
 * and the vendor-neutral parts (source check, retarget, mask, source-id).
 * The entries themselves belong to the unit's driver (u->irq_ops).
 */
#include "iommu/iommu.h"

#include <stdlib.h>

#include "kernel/log.h"

static struct iommu_irq_route *routes;

void iommu_irq_source_check(struct iommu_irq_entry *e, uint16_t rid, uint16_t alias, bool takeover)
{
	uint8_t bus = (uint8_t)(rid >> 8), abus = (uint8_t)(alias >> 8);

	e->src_qual = 0;
	if (alias != rid && takeover) {
		/* PCIe-to-PCI/X Bridge Spec 2.3: the bridge takes requests over
		 * with (secondary bus, 0, 0), or passes the original id through
		 * in PCI-X mode: check the bus range (VT-d 9.10 SVT=10b). */
		uint8_t lo = abus < bus ? abus : bus, hi = abus < bus ? bus : abus;

		e->src_check = IOMMU_IRQ_SRC_BUS;
		e->sid = (uint16_t)(lo << 8 | hi);
	} else {
		e->src_check = IOMMU_IRQ_SRC_RID;
		e->sid = alias;
	}
}

/* Writes e into r's entry with the given presence; r->entry follows only
 * when the unit took it. */
static int route_write(struct iommu_irq_route *r, const struct iommu_irq_entry *e, bool present)
{
	int rc;

	if (!r->unit->irq_ops)
		return -ENODEV;
	rc = r->unit->irq_ops->write(r->unit, r->index, e, present);
	if (rc)
		return rc;
	r->entry = *e;
	r->present = present;
	return 0;
}

/* Frees r's entries, then its vector, then r.  A stale cached entry could
 * still deliver the old vector: the vector (and its handler) is kept unless
 * the entries were really freed. */
static void route_release(struct iommu_irq_route *r)
{
	if (r->unit->irq_ops->free(r->unit, r->index, r->count) == 0 && r->vector)
		irq_free_vector(r->vector);
	free(r);
}

int iommu_irq_route_alloc(struct iommu_unit *u, const struct iommu_irq_source *src,
			  irq_handler_fn fn, void *ctx, struct iommu_irq_route **out)
{
	struct iommu_irq_route *r;
	struct iommu_irq_entry e = {0};
	int v, rc;

	if (!iommu_irq_remapping(u))
		return -ENODEV;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	v = irq_alloc_vector(fn, ctx);
	if (v < 0) {
		free(r);
		return v;
	}
	rc = u->irq_ops->alloc(u, 1, &r->index);
	if (rc) {
		irq_free_vector((unsigned)v);
		free(r);
		return rc;
	}
	r->unit = u;
	r->count = 1;
	r->vector = (unsigned)v;
	r->kind = src->kind;
	r->seg = src->seg;
	r->bdf = src->rid;
	r->gsi = src->gsi;
	r->fn = fn;
	r->ctx = ctx;
	r->on_retarget = src->on_retarget;
	r->owner = src->owner;
	e.vector = (uint8_t)v;
	e.dest = irq_dest_apic_id();
	e.dlm = IOMMU_IRQ_DLM_FIXED;
	e.level = src->level;
	iommu_irq_source_check(&e, src->rid, src->alias, src->takeover);
	rc = route_write(r, &e, true);
	if (rc) {
		route_release(r);
		return rc;
	}
	*out = r;
	return 0;
}

void iommu_irq_route_free(struct iommu_irq_route *r)
{
	iommu_irq_route_unregister(r);
	route_release(r);
}

void iommu_irq_route_register(struct iommu_irq_route *r)
{
	struct iommu_irq_route **pp = &routes;

	r->next = NULL;
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
}

void iommu_irq_route_unregister(struct iommu_irq_route *r)
{
	for (struct iommu_irq_route **pp = &routes; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			return;
		}
}

struct iommu_irq_route *iommu_irq_routes(void) { return routes; }

int iommu_irq_route_find(int unit, unsigned index, struct iommu_irq_route **out)
{
	struct iommu_irq_route *found = NULL;

	for (struct iommu_irq_route *r = routes; r; r = r->next) {
		if (index < r->index || index >= r->index + (r->count ? r->count : 1))
			continue;
		if (unit >= 0 && r->unit->index != (unsigned)unit)
			continue;
		if (found)
			return -EINVAL;
		found = r;
	}
	if (!found)
		return -ENOENT;
	*out = found;
	return 0;
}

void iommu_irq_route_msi(const struct iommu_irq_route *r, struct iommu_msi_msg *msg)
{
	r->unit->irq_ops->compose_msi(r->unit, r->index, 0, msg);
}

uint64_t iommu_irq_route_ioapic_rte(const struct iommu_irq_route *r, bool active_low, bool masked)
{
	return r->unit->irq_ops->compose_ioapic_rte(r->unit, r->index, &r->entry, active_low,
						    masked);
}

int iommu_irq_route_set_target(struct iommu_irq_route *r, uint8_t vector, uint32_t dest, bool level)
{
	struct iommu_irq_entry e = r->entry;

	e.vector = vector;
	e.dest = dest;
	e.level = level;
	return route_write(r, &e, r->present);
}

int iommu_irq_route_retarget(struct iommu_irq_route *r, unsigned *new_vector)
{
	struct iommu_irq_entry old = r->entry;
	int v = irq_alloc_vector(r->fn, r->ctx);
	int rc;

	if (v < 0)
		return v;
	rc = iommu_irq_route_set_target(r, (uint8_t)v, old.dest, old.level);
	if (rc)
		goto undo;
	if (r->on_retarget) {
		rc = r->on_retarget(r, (unsigned)v);
		if (rc) {
			/* Back to the old vector, which is still installed. */
			if (route_write(r, &old, r->present))
				klog("iommu%u: interrupt route %u could not be restored",
				     r->unit->index, r->index);
			goto undo;
		}
	}
	unsigned prev = r->vector;
	r->vector = (unsigned)v;
	/* The old vector keeps its handler until here, so an interrupt that
	 * was already in flight with it is still handled. */
	if (prev)
		irq_free_vector(prev);
	*new_vector = (unsigned)v;
	return 0;
undo:
	irq_free_vector((unsigned)v);
	return rc;
}

int iommu_irq_route_set_present(struct iommu_irq_route *r, bool present)
{
	return route_write(r, &r->entry, present);
}

int iommu_irq_route_set_sid(struct iommu_irq_route *r, uint16_t sid)
{
	struct iommu_irq_entry e = r->entry;

	e.src_check = IOMMU_IRQ_SRC_RID;
	e.src_qual = 0;
	e.sid = sid;
	return route_write(r, &e, r->present);
}
