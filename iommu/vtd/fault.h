/*
 * iommu/vtd/fault.h — VT-d fault handling: the fault-event interrupt and a
 * poll from the console loop read the fault-recording registers (VT-d 7.2,
 * 11.4.14), log each fault in a ring the console shows (`iommu faults`),
 * print rate-limited `! fault ...` events and cut the Bus Master of a
 * device that storms (a decaying per-source counter, as Xen does).
 */
#ifndef SLUICE_IOMMU_VTD_FAULT_H
#define SLUICE_IOMMU_VTD_FAULT_H

#include <stdbool.h>
#include <stdint.h>

struct vtd_unit;

enum vtd_fault_kind { VTD_FAULT_DMA = 0, VTD_FAULT_IR = 1 };

struct vtd_fault_rec {
	uint64_t seq; /* 1, 2, ...: the value of vtd_fault_total() after it */
	uint64_t time_ns;
	uint64_t addr; /* DMA: faulting page address; IR: interrupt index */
	unsigned unit;
	uint16_t seg, sid;
	uint8_t reason; /* VT-d fault reason (Appendix A) */
	uint8_t kind;	/* enum vtd_fault_kind */
	bool is_read;
};

#define VTD_FAULT_LOG_SIZE 64				  /* records kept (oldest dropped) */
#define VTD_FAULT_EVENTS_PER_SEC 10			  /* console events per second */
#define VTD_FAULT_STORM_THRESHOLD 16			  /* decayed faults before Bus Master off */
#define VTD_FAULT_STORM_HALFLIFE_NS (10ull * 1000 * 1000) /* counter halves every 10 ms */

/* The storm policy in force (boot arguments fault_storm_threshold= and
 * fault_storm_halflife_ms= change it; defaults above). */
extern unsigned vtd_fault_storm_threshold;
extern uint64_t vtd_fault_storm_halflife_ns;

/* The fault-event interrupt handler (ctx = struct vtd_unit *). */
void vtd_fault_irq(unsigned vector, void *ctx);
/* Reads and clears every pending fault record of u, then FSTS.PFO.
 * Returns the number of records read. */
unsigned vtd_fault_process(struct vtd_unit *u);
/* Every unit; call from the console loop so a lost interrupt loses nothing. */
void vtd_fault_poll(void);

/* For the edu driver and tests: faults seen so far (monotonic), and whether
 * one from (seg, sid) arrived after total was mark. */
uint64_t vtd_fault_total(void);
bool vtd_fault_seen_since(uint64_t mark, uint16_t seg, uint16_t sid);

/* The log, oldest first; `iommu faults clear` empties it. */
unsigned vtd_fault_log_count(void);
/* Record i (oldest first); only with interrupts off (tests): the fault
 * interrupt rewrites the ring.  The console uses the snapshot. */
const struct vtd_fault_rec *vtd_fault_log_at(unsigned i);
/* Copies up to max records, oldest first, with interrupts off. */
unsigned vtd_fault_log_snapshot(struct vtd_fault_rec *out, unsigned max);
void vtd_fault_log_clear(void);
/* Faults since the last clear (the console's total=). */
uint64_t vtd_fault_log_total(void);

/* "context-not-present", ... (no blanks); "unknown" for other values. */
const char *vtd_fault_reason_name(uint8_t reason);
/* Interrupt-remapping reasons are 0x20..0x2f. */
static inline bool vtd_fault_reason_is_ir(uint8_t reason)
{
	return reason >= 0x20 && reason < 0x30;
}

/* Tests: forget the log, the totals, the rate limiter and storm counters. */
void vtd_fault_reset(void);

#endif
