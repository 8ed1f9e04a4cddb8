/*
 * console/cmd_iommu.c — the `iommu` console commands (shared/CONSOLE.md):
 *   iommu                 one record per IOMMU unit (its driver describes it)
 *   iommu faults          the fault log, then total=<n>
 *   iommu faults clear    empties the log
 *   iommu qitest          the units' self-test (VT-d: queued-invalidation
 *                         error recovery)
 * Everything goes through the IOMMU core (iommu/iommu.h).
 */
#include <string.h>

#include "console/console.h"
#include "iommu/iommu.h"
#include "lib/bdf.h"

#define RECORD_MAX 320

static void show_units(void)
{
	char line[RECORD_MAX];

	/* A record that did not fit is printed as far as it goes. */
	for (unsigned i = 0; i < iommu_unit_count(); i++)
		if (iommu_describe(iommu_unit_at(i), line, sizeof(line)) != -ENOTSUP)
			con_printf("%s\n", line);
}

static void show_faults(void)
{
	static struct iommu_fault snap[IOMMU_FAULT_LOG_SIZE];
	unsigned n;

	iommu_fault_poll(); /* pick up anything whose interrupt was lost */
	n = iommu_fault_snapshot(snap, IOMMU_FAULT_LOG_SIZE);
	for (unsigned i = 0; i < n; i++) {
		const struct iommu_fault *r = &snap[i];
		char bdf[20];

		con_printf("unit=%u kind=%s bdf=%s", r->unit,
			   r->kind == IOMMU_FAULT_IR ? "ir" : "dma",
			   bdf_format_rid(bdf, sizeof(bdf), r->seg, r->rid));
		con_printf(" addr=0x%llx reason=0x%x access=%s name=%s\n",
			   (unsigned long long)r->addr, r->reason, r->is_read ? "r" : "w",
			   r->reason_name);
	}
	con_printf("total=%llu\n", (unsigned long long)iommu_fault_total_since_clear());
}

static int cmd_iommu(int argc, char **argv)
{
	if (argc == 1) {
		show_units();
		return 0;
	}
	if (strcmp(argv[1], "faults"))
		return cmd_fail(-EINVAL, "unknown sub-command '%s' (iommu [faults [clear]])",
				argv[1]);
	if (argc == 2) {
		show_faults();
		return 0;
	}
	if (argc == 3 && !strcmp(argv[2], "clear")) {
		iommu_fault_poll();
		iommu_fault_clear();
		return 0;
	}
	return cmd_fail(-EINVAL, "usage: iommu faults [clear]");
}

COMMAND(iommu, "iommu", "iommu | iommu faults | iommu faults clear   units; the DMA/IR fault log",
	cmd_iommu);

/* Proves the invalidation queue's error recovery on every unit whose driver
 * offers a self-test: a batch whose first descriptor has reserved bits set
 * must come back -EIO (FSTS.IQE seen, the bad descriptor replaced, IQE
 * cleared, the ring drained), and the next batch must complete normally. */
static int cmd_iommu_qitest(int argc, char **argv)
{
	char line[RECORD_MAX];
	int n = 0;

	if (argc != 2)
		return cmd_fail(-EINVAL, "usage: iommu qitest");
	for (unsigned i = 0; i < iommu_unit_count(); i++) {
		struct iommu_unit *u = iommu_unit_at(i);
		int rc = iommu_selftest(u, line, sizeof(line));

		if (rc == -ENOTSUP)
			continue; /* the driver has no self-test */
		con_printf("%s\n", line);
		if (rc == -ENODEV)
			continue; /* nothing to test on this unit (the line says why) */
		if (rc)
			return cmd_fail(-EIO, "unit %u: queue error not detected or not recovered",
					u->index);
		n++;
	}
	return n ? 0 : cmd_fail(-ENODEV, "no unit with queued invalidation");
}
COMMAND(iommu_qitest, "iommu qitest",
	"iommu qitest               prove queued-invalidation error recovery (IQE)",
	cmd_iommu_qitest);
