/*
 * console/cmd_irq.c — the `irq` console commands (shared/CONSOLE.md):
 *   irq                      one record per interrupt route (iommu/iommu.h)
 *   irq retarget <irte>      moves the source to a new vector
 *   irq mask <irte>          clears the IRTE's present bit (drops it)
 *   irq unmask <irte>        sets it again
 *   irq sid <irte> <bdf>     source-id check against another requester id
 * <irte> is an index, or <unit>:<index> when several units use the index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/irq.h"
#include "console/console.h"
#include "iommu/iommu.h"
#include "lib/bdf.h"
#include "lib/parse.h"

static const char *kind_name(enum iommu_irq_kind k)
{
	return k == IOMMU_IRQ_MSI ? "msi" : k == IOMMU_IRQ_MSIX ? "msix" : "ioapic";
}

static int cmd_irq(int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(
			-EINVAL,
			"usage: irq | irq retarget|mask|unmask <irte> | irq sid <irte> <bdf>");
	for (struct iommu_irq_route *r = iommu_irq_routes(); r; r = r->next) {
		char bdf[24];

		bdf_format_rid(bdf, sizeof(bdf), r->seg, r->bdf);
		con_printf("bdf=%s irte=%u vector=%u dest=%u count=%llu kind=%s unit=%u present=%u "
			   "svt=%u sid=0x%04x",
			   bdf, r->index, r->vector, (unsigned)r->entry.dest,
			   (unsigned long long)irq_count(r->vector), kind_name(r->kind),
			   r->unit->index, r->present ? 1u : 0u, r->entry.src_check, r->entry.sid);
		if (r->kind == IOMMU_IRQ_IOAPIC)
			con_printf(" gsi=%u", r->gsi);
		else if (r->kind == IOMMU_IRQ_MSIX)
			con_printf(" entry=%u", r->gsi);
		con_printf("\n");
	}
	return 0;
}
COMMAND(irq, "irq",
	"irq                        remapped interrupt sources: bdf irte vector dest count",
	cmd_irq);

/* argv[2] = "<irte>" or "<unit>:<irte>" → the route. */
static int find_route(const char *arg, struct iommu_irq_route **out)
{
	char buf[32];
	const char *idx = arg;
	int unit = -1;
	uint64_t v;

	if (strlen(arg) >= sizeof(buf))
		return cmd_fail(-EINVAL, "bad irte '%.20s...'", arg);
	strcpy(buf, arg);
	char *colon = strchr(buf, ':');
	if (colon) {
		*colon = 0;
		if (parse_u64_max(buf, 255, &v))
			return cmd_fail(-EINVAL, "bad unit '%s' in '%s'", buf, arg);
		unit = (int)v;
		idx = colon + 1;
	}
	if (parse_u64_max(idx, IOMMU_IRQ_MAX_ENTRIES - 1, &v))
		return cmd_fail(-EINVAL, "bad irte '%s' (an index below %u, or <unit>:<index>)",
				arg, IOMMU_IRQ_MAX_ENTRIES);
	int rc = iommu_irq_route_find(unit, (unsigned)v, out);
	if (rc == -ENOENT)
		return cmd_fail(rc, "no remapped source uses irte %s (see `irq`)", arg);
	if (rc)
		return cmd_fail(rc, "irte %s is used on several units; say <unit>:<irte>", arg);
	return 0;
}

static int cmd_irq_retarget(int argc, char **argv)
{
	struct iommu_irq_route *r;
	unsigned old, nv;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: irq retarget <irte>");
	rc = find_route(argv[2], &r);
	if (rc)
		return rc;
	old = r->vector;
	rc = iommu_irq_route_retarget(r, &nv);
	if (rc)
		return cmd_fail(rc, "retarget of irte %u failed", r->index);
	con_printf("irte=%u vector=%u old=%u\n", r->index, nv, old);
	return 0;
}
COMMAND(irq_retarget, "irq retarget", "irq retarget <irte>        a new vector for that source",
	cmd_irq_retarget);

static int mask_common(int argc, char **argv, bool present)
{
	struct iommu_irq_route *r;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: irq %s <irte>", present ? "unmask" : "mask");
	rc = find_route(argv[2], &r);
	if (rc)
		return rc;
	rc = iommu_irq_route_set_present(r, present);
	if (rc)
		return cmd_fail(rc, "irte %u could not be changed", r->index);
	con_printf("irte=%u present=%u\n", r->index, present ? 1u : 0u);
	return 0;
}

static int cmd_irq_mask(int argc, char **argv) { return mask_common(argc, argv, false); }
static int cmd_irq_unmask(int argc, char **argv) { return mask_common(argc, argv, true); }
COMMAND(irq_mask, "irq mask",
	"irq mask <irte>            IRTE not present: the interrupt is dropped", cmd_irq_mask);
COMMAND(irq_unmask, "irq unmask", "irq unmask <irte>          IRTE present again", cmd_irq_unmask);

static int cmd_irq_sid(int argc, char **argv)
{
	struct iommu_irq_route *r;
	uint16_t rid;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: irq sid <irte> <bb:dd.f>");
	rc = find_route(argv[2], &r);
	if (rc)
		return rc;
	uint16_t seg;
	uint8_t bus, dev, fn;
	if (pci_parse_bdf(argv[3], &seg, &bus, &dev, &fn) || seg != r->seg)
		return cmd_fail(-EINVAL, "bad bdf '%s' (bb:dd.f on the source's segment)", argv[3]);
	rid = pci_make_rid(bus, dev, fn);
	rc = iommu_irq_route_set_sid(r, rid);
	if (rc)
		return cmd_fail(rc, "irte %u could not be changed", r->index);
	con_printf("irte=%u svt=1 sid=0x%04x\n", r->index, rid);
	return 0;
}
COMMAND(irq_sid, "irq sid", "irq sid <irte> <bdf>       the IRTE accepts that requester id instead",
	cmd_irq_sid);
