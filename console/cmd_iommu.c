/*
 * console/cmd_iommu.c — the `iommu` console commands (shared/CONSOLE.md):
 *   iommu                 one record per VT-d unit
 *   iommu faults          the fault log, then total=<n>
 *   iommu faults clear    empties the log
 */
#include <string.h>

#include "hw/hw.h"
#include "iommu/vtd/fault.h"
#include "iommu/vtd/qi.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd.h"
#include "console/console.h"
#include "lib/bdf.h"

static void sps_string(uint64_t sizes, char *buf, size_t len)
{
	static const struct {
		uint64_t size;
		const char *name;
	} names[] = {{PGSIZE_4K, "4K"}, {PGSIZE_2M, "2M"}, {PGSIZE_1G, "1G"}};
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < 3; i++) {
		if (!(sizes & names[i].size))
			continue;
		size_t l = strlen(names[i].name);
		if (n + l + 2 > len)
			break;
		if (n)
			buf[n++] = ',';
		memcpy(buf + n, names[i].name, l + 1);
		n += l;
	}
	if (!n && len > 1) {
		buf[0] = '-';
		buf[1] = 0;
	}
}

static void show_units(void)
{
	for (struct vtd_unit *u = vtd_units(); u; u = u->next) {
		uint32_t gsts = mmio_read32(u->base + VTD_GSTS_REG);
		char sps[16];

		sps_string(u->iu.pgsizes, sps, sizeof(sps));
		con_printf(
			"unit=%u base=0x%llx ver=%u.%u aw=%u levels=%u sps=%s qi=%s ir=%s dmar=%s cm=%d "
			"sc=%d domains=%u cap=0x%llx ecap=0x%llx nd=%u c=%d seg=%u\n",
			u->iu.index, (unsigned long long)u->base, VTD_VER_MAJOR(u->ver),
			VTD_VER_MINOR(u->ver), u->mgaw, u->levels, sps,
			(gsts & VTD_GSTS_QIES) ? "on" : "off",
			(gsts & VTD_GSTS_IRES) ? "on" : "off", (gsts & VTD_GSTS_TES) ? "on" : "off",
			u->cm, u->sc, u->iu.ndomains, (unsigned long long)u->cap,
			(unsigned long long)u->ecap, u->nd_bits, u->coherent, u->iu.segment);
	}
}

static void show_faults(void)
{
	static struct vtd_fault_rec snap[VTD_FAULT_LOG_SIZE];
	unsigned n;

	vtd_fault_poll(); /* pick up anything whose interrupt was lost */
	n = vtd_fault_log_snapshot(snap, VTD_FAULT_LOG_SIZE);
	for (unsigned i = 0; i < n; i++) {
		const struct vtd_fault_rec *r = &snap[i];

		char bdf[20];

		con_printf("unit=%u kind=%s bdf=%s", r->unit,
			   r->kind == VTD_FAULT_IR ? "ir" : "dma",
			   bdf_format_rid(bdf, sizeof(bdf), r->seg, r->sid));
		con_printf(" addr=0x%llx reason=0x%x access=%s name=%s\n",
			   (unsigned long long)r->addr, r->reason, r->is_read ? "r" : "w",
			   vtd_fault_reason_name(r->reason));
	}
	con_printf("total=%llu\n", (unsigned long long)vtd_fault_log_total());
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
		vtd_fault_poll();
		vtd_fault_log_clear();
		return 0;
	}
	return cmd_fail(-EINVAL, "usage: iommu faults [clear]");
}

COMMAND(iommu, "iommu", "iommu | iommu faults | iommu faults clear   units; the DMA/IR fault log",
	cmd_iommu);

/* Proves the invalidation queue's error recovery on the real unit: a batch
 * whose first descriptor has reserved bits set must come back -EIO
 * (FSTS.IQE seen, the bad descriptor replaced, IQE cleared, the ring
 * drained), and the next batch must complete normally. */
static int cmd_iommu_qitest(int argc, char **argv)
{
	int n = 0;

	if (argc != 2)
		return cmd_fail(-EINVAL, "usage: iommu qitest");
	for (struct vtd_unit *u = vtd_units(); u; u = u->next) {
		if (!u->qi_on) {
			con_printf("unit=%u qi=off\n", u->iu.index);
			continue;
		}
		struct qi_desc bad[2] = {qi_iotlb_global(false, false), qi_cc_global()};
		bad[0].lo |= 0xffull << 8; /* reserved bits 15:8 of an IOTLB descriptor */
		uint64_t errs = vtd_stats.qi_errors;
		int rc_bad = qi_submit(u, bad, 2);
		struct qi_desc good[2] = {qi_cc_global(), qi_iotlb_global(false, false)};
		int rc_good = qi_submit(u, good, 2);
		con_printf("unit=%u bad_batch=%s qi_errors=%llu next_batch=%s\n", u->iu.index,
			   rc_bad ? err_name(rc_bad) : "ok",
			   (unsigned long long)(vtd_stats.qi_errors - errs),
			   rc_good ? err_name(rc_good) : "ok");
		if (rc_bad != -EIO || rc_good)
			return cmd_fail(-EIO, "unit %u: queue error not detected or not recovered",
					u->iu.index);
		n++;
	}
	return n ? 0 : cmd_fail(-ENODEV, "no unit with queued invalidation");
}
COMMAND(iommu_qitest, "iommu qitest",
	"iommu qitest               prove queued-invalidation error recovery (IQE)",
	cmd_iommu_qitest);
