/*
 * console/cmd_irq.c — the `irq` console commands (shared/CONSOLE.md):
 *   irq                      one record per remapped interrupt source
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
#include "iommu/vtd/ir.h"
#include "iommu/vtd/vtd.h"
#include "console/console.h"
#include "lib/bdf.h"
#include "lib/parse.h"

static const char *kind_name(enum ir_source_kind k)
{
	return k == IR_SRC_MSI ? "msi" : k == IR_SRC_MSIX ? "msix" : "ioapic";
}

static int cmd_irq(int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(
			-EINVAL,
			"usage: irq | irq retarget|mask|unmask <irte> | irq sid <irte> <bdf>");
	for (struct ir_source *s = ir_sources(); s; s = s->next) {
		char bdf[24];

		bdf_format_rid(bdf, sizeof(bdf), s->seg, s->bdf);
		con_printf("bdf=%s irte=%u vector=%u dest=%u count=%llu kind=%s unit=%u present=%u "
			   "svt=%u sid=0x%04x",
			   bdf, s->index, s->vector, (unsigned)s->route.dest,
			   (unsigned long long)irq_count(s->vector), kind_name(s->kind),
			   vtd_iommu_unit(s->u)->index, s->present ? 1u : 0u, s->route.svt, s->route.sid);
		if (s->kind == IR_SRC_IOAPIC)
			con_printf(" gsi=%u", s->gsi);
		else if (s->kind == IR_SRC_MSIX)
			con_printf(" entry=%u", s->gsi);
		con_printf("\n");
	}
	return 0;
}
COMMAND(irq, "irq",
	"irq                        remapped interrupt sources: bdf irte vector dest count",
	cmd_irq);

/* argv[2] = "<irte>" or "<unit>:<irte>" → the source. */
static int find_source(const char *arg, struct ir_source **out)
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
	if (parse_u64_max(idx, IR_MAX_ENTRIES - 1, &v))
		return cmd_fail(-EINVAL, "bad irte '%s' (an index below %u, or <unit>:<index>)",
				arg, IR_MAX_ENTRIES);
	int rc = ir_source_find(unit, (unsigned)v, out);
	if (rc == -ENOENT)
		return cmd_fail(rc, "no remapped source uses irte %s (see `irq`)", arg);
	if (rc)
		return cmd_fail(rc, "irte %s is used on several units; say <unit>:<irte>", arg);
	return 0;
}

static int cmd_irq_retarget(int argc, char **argv)
{
	struct ir_source *s;
	unsigned old, nv;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: irq retarget <irte>");
	rc = find_source(argv[2], &s);
	if (rc)
		return rc;
	old = s->vector;
	rc = ir_source_retarget(s, &nv);
	if (rc)
		return cmd_fail(rc, "retarget of irte %u failed", s->index);
	con_printf("irte=%u vector=%u old=%u\n", s->index, nv, old);
	return 0;
}
COMMAND(irq_retarget, "irq retarget", "irq retarget <irte>        a new vector for that source",
	cmd_irq_retarget);

static int mask_common(int argc, char **argv, bool present)
{
	struct ir_source *s;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: irq %s <irte>", present ? "unmask" : "mask");
	rc = find_source(argv[2], &s);
	if (rc)
		return rc;
	rc = ir_source_set_present(s, present);
	if (rc)
		return cmd_fail(rc, "irte %u could not be changed", s->index);
	con_printf("irte=%u present=%u\n", s->index, present ? 1u : 0u);
	return 0;
}

static int cmd_irq_mask(int argc, char **argv) { return mask_common(argc, argv, false); }
static int cmd_irq_unmask(int argc, char **argv) { return mask_common(argc, argv, true); }
COMMAND(irq_mask, "irq mask",
	"irq mask <irte>            IRTE not present: the interrupt is dropped", cmd_irq_mask);
COMMAND(irq_unmask, "irq unmask", "irq unmask <irte>          IRTE present again", cmd_irq_unmask);

static int cmd_irq_sid(int argc, char **argv)
{
	struct ir_source *s;
	uint16_t rid;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: irq sid <irte> <bb:dd.f>");
	rc = find_source(argv[2], &s);
	if (rc)
		return rc;
	uint16_t seg;
	uint8_t bus, dev, fn;
	if (pci_parse_bdf(argv[3], &seg, &bus, &dev, &fn) || seg != s->seg)
		return cmd_fail(-EINVAL, "bad bdf '%s' (bb:dd.f on the source's segment)", argv[3]);
	rid = pci_make_rid(bus, dev, fn);
	rc = ir_source_set_sid(s, rid);
	if (rc)
		return cmd_fail(rc, "irte %u could not be changed", s->index);
	con_printf("irte=%u svt=1 sid=0x%04x\n", s->index, rid);
	return 0;
}
COMMAND(irq_sid, "irq sid", "irq sid <irte> <bdf>       the IRTE accepts that requester id instead",
	cmd_irq_sid);
