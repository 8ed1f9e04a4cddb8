// SOURCES: iommu/vtd/vtd.c iommu/vtd/qi.c iommu/vtd/fault.c iommu/iommu.c iommu/pgtable_vtd.c lib/pgtable.c kernel/frame.c console/cmd_iommu.c tests/unit/vtd_model.c lib/bdf.c
/* tests/unit/test_vtd_fault.c — VT-d fault records: reading, clearing,
 * decoding, the log and `iommu faults`, rate limiting, storms (Bus Master
 * off through a pci stub), the interrupt path and PFO. */
#include <stdlib.h>
#include <string.h>

#include "fake_hw.h"
#include "hw/hw.h"
#include "iommu/vtd/fault.h"
#include "iommu/vtd/regs.h"
#include "iommu/vtd/vtd_priv.h"
#include "test.h"
#include "vtd_model.h"

static struct vtd_model m;

static struct vtd_unit *up(void)
{
	struct vtd_unit *u = NULL;

	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), 0);
	CHECK_EQ(vtd_finish_init(), 0);
	test_con_reset();
	fake_tsc += 10ull * 1000 * 1000 * 1000; /* a fresh rate-limit window */
	return u;
}

/* The core's log as the console sees it (a snapshot): how many records,
 * record i (oldest first) or NULL. */
static struct iommu_fault snap[IOMMU_FAULT_LOG_SIZE + 1];
static unsigned log_count(void) { return iommu_fault_snapshot(snap, IOMMU_FAULT_LOG_SIZE + 1); }
static const struct iommu_fault *log_at(unsigned i) { return i < log_count() ? &snap[i] : NULL; }

static unsigned count_str(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

TEST(fault_read_clear_decode)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();

	vtd_model_inject_fault(0x0010, 0x12345678, 6, true);
	CHECK(m.fsts & VTD_FSTS_PPF);
	CHECK_EQ(m.fault_events, 1); /* unmasked at bring-up: the MSI fires */
	uint64_t mark = iommu_fault_total();
	/* the interrupt handler the driver installed */
	CHECK(vtd_test_irq_fn != NULL);
	vtd_test_irq_fn(0x40, vtd_test_irq_ctx);
	CHECK_EQ(iommu_fault_total(), mark + 1);
	CHECK_EQ(m.frcd_hi[0] & VTD_FRCD_HI_F, 0);
	CHECK_EQ(m.fsts & VTD_FSTS_PPF, 0);
	CHECK(strstr(test_con_buf,
		     "! fault unit=0 kind=dma bdf=00:02.0 addr=0x12345000 reason=0x6 access=r "
		     "name=read-denied\n") != NULL);
	CHECK(iommu_fault_seen_since(mark, 0, 0x0010));
	CHECK(!iommu_fault_seen_since(mark, 0, 0x0018));
	CHECK(!iommu_fault_seen_since(mark + 1, 0, 0x0010));
	const struct iommu_fault *r = log_at(0);
	CHECK(r != NULL);
	CHECK_EQ(r->rid, 0x10);
	CHECK_EQ(r->reason, 6);
	CHECK_EQ(r->kind, IOMMU_FAULT_DMA);
	CHECK(r->is_read);
	CHECK_EQ(r->addr, 0x12345000);
	CHECK_EQ(r->unit, 0);
	CHECK_EQ(r->seg, 0);
	CHECK(!strcmp(r->reason_name, "read-denied"));

	/* write fault, then an IR fault (interrupt index in FI[63:48]) */
	vtd_model_inject_fault(0x0100, 0x2000, 5, false);
	iommu_fault_poll();
	vtd_model_inject_fault(0xff00, 0x0005ull << 48, 0x22, false);
	iommu_fault_poll();
	CHECK(strstr(test_con_buf,
		     "bdf=01:00.0 addr=0x2000 reason=0x5 access=w name=write-denied") != NULL);
	CHECK(strstr(test_con_buf,
		     "kind=ir bdf=ff:00.0 addr=0x5 reason=0x22 access=w name=irte-not-present") !=
	      NULL);
	CHECK_EQ(log_count(), 3);
	CHECK_EQ(log_at(2)->kind, IOMMU_FAULT_IR);

	/* nothing pending: nothing read */
	CHECK_EQ(vtd_fault_process(u), 0);

	/* `iommu faults`, `iommu faults clear` */
	test_con_reset();
	CHECK_EQ(test_cmd("iommu faults"), 0);
	CHECK(strstr(test_con_buf,
		     "unit=0 kind=dma bdf=00:02.0 addr=0x12345000 reason=0x6 access=r "
		     "name=read-denied\n") == test_con_buf);
	CHECK(strstr(test_con_buf, "unit=0 kind=ir bdf=ff:00.0") != NULL);
	CHECK(strstr(test_con_buf, "total=3\n") != NULL);
	CHECK_EQ(test_cmd("iommu faults clear"), 0);
	test_con_reset();
	CHECK_EQ(test_cmd("iommu faults"), 0);
	CHECK(strcmp(test_con_buf, "total=0\n") == 0);
	CHECK_EQ(iommu_fault_total(), 3); /* the monotonic counter stays */
	vtd_test_teardown();
}

TEST(reason_names)
{
	CHECK(!strcmp(vtd_fault_reason_name(1), "root-not-present"));
	CHECK(!strcmp(vtd_fault_reason_name(2), "context-not-present"));
	CHECK(!strcmp(vtd_fault_reason_name(0xc), "pte-reserved"));
	CHECK(!strcmp(vtd_fault_reason_name(0xe), "interrupt-range"));
	CHECK(!strcmp(vtd_fault_reason_name(0x20), "ir-request-reserved"));
	CHECK(!strcmp(vtd_fault_reason_name(0x26), "sid-mismatch"));
	CHECK(!strcmp(vtd_fault_reason_name(0), "unknown"));
	CHECK(!strcmp(vtd_fault_reason_name(0xf), "unknown"));
	CHECK(!strcmp(vtd_fault_reason_name(0x27), "unknown"));
	CHECK(!strcmp(vtd_fault_reason_name(0xff), "unknown"));
	CHECK(vtd_fault_reason_is_ir(0x25));
	CHECK(!vtd_fault_reason_is_ir(0xe));
}

TEST(circular_walk_from_fri_and_pfo)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	m.cap |= 3ull << 40; /* NFR=4 records */
	struct vtd_unit *u = up();

	CHECK_EQ(u->nfr, 4);
	/* advance the recording index so the walk has to wrap */
	vtd_model_inject_fault(0x0008, 0x1000, 2, true);
	vtd_model_inject_fault(0x0009, 0x2000, 2, true);
	vtd_model_inject_fault(0x000a, 0x3000, 2, true);
	CHECK_EQ(vtd_fault_process(u), 3);
	vtd_model_inject_fault(0x0010, 0x4000, 2, true); /* index 3 */
	vtd_model_inject_fault(0x0011, 0x5000, 2, true); /* index 0 */
	CHECK_EQ(VTD_FSTS_FRI(m.fsts), 3);
	CHECK_EQ(vtd_fault_process(u), 2);
	CHECK_EQ(log_at(3)->rid, 0x10);
	CHECK_EQ(log_at(4)->rid, 0x11);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(m.frcd_hi[i] & VTD_FRCD_HI_F, 0);

	/* overflow: PFO set by the model, cleared after the records */
	for (unsigned i = 0; i < 5; i++)
		vtd_model_inject_fault((uint16_t)(0x20 + i), 0x1000, 2, false);
	CHECK(m.fsts & VTD_FSTS_PFO);
	CHECK_EQ(vtd_fault_process(u), 4);
	CHECK_EQ(m.fsts & (VTD_FSTS_PFO | VTD_FSTS_PPF), 0);
	/* new faults are recorded again */
	vtd_model_inject_fault(0x30, 0x1000, 2, false);
	CHECK_EQ(vtd_fault_process(u), 1);
	vtd_test_teardown();
}

TEST(fault_rate_limit)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();

	for (unsigned i = 0; i < 15; i++) {
		vtd_model_inject_fault((uint16_t)(0x100 + i * 8), 0x1000, 6,
				       true); /* distinct sources */
		CHECK_EQ(vtd_fault_process(u), 1);
	}
	CHECK_EQ(count_str(test_con_buf, "! fault unit="), VTD_FAULT_EVENTS_PER_SEC);
	CHECK_EQ(log_count(), 15); /* everything is logged */
	fake_tsc += 2000000000ull; /* next window */
	vtd_model_inject_fault(0x0200, 0x1000, 6, true);
	CHECK_EQ(vtd_fault_process(u), 1);
	CHECK(strstr(test_con_buf, "! fault-suppressed count=5\n") != NULL);
	CHECK_EQ(count_str(test_con_buf, "! fault unit="), VTD_FAULT_EVENTS_PER_SEC + 1);
	vtd_test_teardown();
}

TEST(fault_log_ring_keeps_newest)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();

	for (unsigned i = 0; i < IOMMU_FAULT_LOG_SIZE + 10; i++) {
		vtd_model_inject_fault((uint16_t)i, 0x1000, 2, true);
		fake_tsc += VTD_FAULT_STORM_HALFLIFE_NS * 64; /* no storm */
		CHECK_EQ(vtd_fault_process(u), 1);
	}
	CHECK_EQ(log_count(), IOMMU_FAULT_LOG_SIZE);
	CHECK_EQ(log_at(0)->rid, 10);
	CHECK_EQ(log_at(IOMMU_FAULT_LOG_SIZE - 1)->rid, IOMMU_FAULT_LOG_SIZE + 9);
	CHECK(log_at(IOMMU_FAULT_LOG_SIZE) == NULL);
	CHECK_EQ(iommu_fault_total_since_clear(), IOMMU_FAULT_LOG_SIZE + 10);
	vtd_test_teardown();
}

TEST(fault_storm_cuts_bus_master)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	struct vtd_unit *u = up();

	/* 00:02.0 storms; 02:00.0 and 02:00.1 sit behind a PCIe-to-PCI bridge
	 * whose alias is 01:00.0 (0x0100); 00:03.0 is innocent. */
	vtd_test_npci = 4;
	memset(vtd_test_pci, 0, sizeof(vtd_test_pci));
	vtd_test_pci[0] = (struct pci_dev){.bus = 0, .dev = 2, .fn = 0, .alias_rid = 0x0010};
	vtd_test_pci[1] = (struct pci_dev){.bus = 2, .dev = 0, .fn = 0, .alias_rid = 0x0100};
	vtd_test_pci[2] = (struct pci_dev){.bus = 2, .dev = 0, .fn = 1, .alias_rid = 0x0100};
	vtd_test_pci[3] = (struct pci_dev){.bus = 0, .dev = 3, .fn = 0, .alias_rid = 0x0018};

	/* slow faults decay and never trip */
	for (unsigned i = 0; i < 3 * VTD_FAULT_STORM_THRESHOLD; i++) {
		vtd_model_inject_fault(0x0010, 0x1000, 5, false);
		fake_tsc += VTD_FAULT_STORM_HALFLIFE_NS * 2;
		iommu_fault_poll();
	}
	CHECK(!vtd_test_bm_off[0]);
	CHECK(strstr(test_con_buf, "fault-storm") == NULL);

	/* a burst trips at the threshold, once */
	for (unsigned i = 0; i < 2 * VTD_FAULT_STORM_THRESHOLD; i++) {
		vtd_model_inject_fault(0x0010, 0x1000, 5, false);
		iommu_fault_poll();
	}
	CHECK(vtd_test_bm_off[0]);
	CHECK(!vtd_test_bm_off[3]);
	CHECK_EQ(count_str(test_con_buf, "! fault-storm unit=0 bdf=00:02.0 action=bus-master-off"),
		 1);

	/* an alias SID: every function in the alias group */
	for (unsigned i = 0; i < VTD_FAULT_STORM_THRESHOLD; i++) {
		vtd_model_inject_fault(0x0100, 0x1000, 5, false);
		iommu_fault_poll();
	}
	CHECK(vtd_test_bm_off[1] && vtd_test_bm_off[2]);
	CHECK(!vtd_test_bm_off[3]);
	CHECK(strstr(test_con_buf,
		     "! fault-storm unit=0 bdf=01:00.0 action=bus-master-off devices=2") != NULL);

	/* a source with no PCI device: reported, nothing to cut */
	for (unsigned i = 0; i < VTD_FAULT_STORM_THRESHOLD; i++) {
		vtd_model_inject_fault(0x0300, 0x1000, 5, false);
		iommu_fault_poll();
	}
	CHECK(strstr(test_con_buf, "bdf=03:00.0 action=none devices=0") != NULL);
	(void)u;
	vtd_test_teardown();
}

TEST(no_vector_polls_only)
{
	vtd_model_init(&m, VTD_TEST_BASE);
	vtd_test_irq_result = -ENOSPC;
	test_con_reset();
	struct vtd_unit *u = NULL;
	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), 0);
	CHECK(strstr(test_con_buf, "polling only") != NULL);
	CHECK_EQ(u->fault_vector, -1);
	CHECK(m.fectl & VTD_FECTL_IM); /* stays masked */
	vtd_model_inject_fault(0x0010, 0x1000, 2, true);
	iommu_fault_poll();
	CHECK_EQ(log_count(), 1);
	vtd_test_teardown();

	/* a fault pending before the unmask is picked up at bring-up */
	vtd_model_init(&m, VTD_TEST_BASE);
	vtd_model_inject_fault_on(&m, 0x0010, 0x1000, 2, true);
	CHECK_EQ(log_count(), 0);
	/* take-over clears stale records: it does not log them */
	vtd_test_frames();
	CHECK_EQ(vtd_test_bringup(&m, NULL, &u), 0);
	CHECK_EQ(m.frcd_hi[0] & VTD_FRCD_HI_F, 0);
	vtd_test_teardown();
}
