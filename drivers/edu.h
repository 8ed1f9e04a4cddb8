/*
 * drivers/edu.h — QEMU's edu test device (PCI 1234:11e8, hw/misc/edu.c):
 * its DMA engine and its MSI, for the console's `edu` commands.
 *
 * The DMA engine moves bytes between an IOVA and a 4 KiB buffer inside the
 * device at device address 0x40000.  QEMU 7.2 aborts the whole VM for a
 * transfer of 0 bytes or one whose end reaches 0x41000 (an off-by-one in
 * edu_check_range, fixed upstream in 2024), so every single DMA here is
 * 1..EDU_DMA_MAX bytes with end < 0x41000: edu_dma() refuses anything else.
 * The buffer is not visible over MMIO; only DMA fills or drains it.
 */
#ifndef SLUICE_DRIVERS_EDU_H
#define SLUICE_DRIVERS_EDU_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci.h"
#include "lib/err.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_ID_VALUE 0x010000edu /* register 0x00 */

/* BAR0 registers (edu.txt): 32-bit accesses below 0x80, 64-bit from 0x80. */
#define EDU_REG_ID 0x00
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_CNT 0x90
#define EDU_REG_DMA_CMD 0x98
#define EDU_DMA_CMD_START 0x1u
#define EDU_DMA_CMD_TO_RAM 0x2u /* direction: 1 = edu -> RAM */
#define EDU_DMA_CMD_IRQ 0x4u

#define EDU_BUF_ADDR 0x40000u /* device address of the buffer */
#define EDU_BUF_SIZE 0x1000u
#define EDU_DMA_MAX 2048u  /* bytes per DMA, so that end < 0x41000 is easy */
#define EDU_XFER_MAX 4096u /* bytes per console transfer */

#define EDU_DMA_TIMEOUT_NS (2ull * 1000 * 1000 * 1000) /* the engine starts after ~100 ms */
#define EDU_IRQ_TIMEOUT_NS (500ull * 1000 * 1000)

struct edu;

/* The driver state of d, set up on first use: MEM and Bus Master on in the
 * command register (Bus Master also on every upstream bridge, so the
 * device's requests are forwarded), BAR0 located and its id register
 * checked.  -ENODEV: not an edu; -EIO: no memory BAR0 or a wrong id. */
int edu_get(struct pci_dev *d, struct edu **out) MUST_CHECK;
struct pci_dev *edu_pci(const struct edu *e);

/* May one DMA move len bytes at buffer offset off?  (Pure: 1 <= len <=
 * EDU_DMA_MAX and EDU_BUF_ADDR + off + len < EDU_BUF_ADDR + EDU_BUF_SIZE.) */
bool edu_dma_ok(uint32_t off, uint32_t len);

/* Chunk i (0-based) of a transfer of len bytes: its byte offset in the
 * transfer and its length, each chunk going through buffer offset 0.
 * Returns the number of chunks (0 for len 0 or > EDU_XFER_MAX). */
unsigned edu_chunks(uint32_t len, unsigned i, uint32_t *xoff, uint32_t *clen);

/* One DMA between addr (an IOVA) and buffer offset off, len bytes;
 * to_ram: buffer -> addr.  Waits (bounded) until the engine is idle, starts
 * it and waits until it finishes.  -EINVAL if !edu_dma_ok, -ETIMEDOUT. */
int edu_dma(struct edu *e, bool to_ram, uint64_t addr, uint32_t off, uint32_t len) MUST_CHECK;

struct edu_irq_result {
	bool delivered;
	unsigned vector;
	int irte; /* the route's entry index, -1 = compatibility format */
};
struct iommu_unit;
/* Makes the device raise its MSI (programming it on first use) and waits
 * up to timeout_ns for the handler to run.  The MSI goes through an
 * interrupt route on ir_unit when ir_unit remaps interrupts; compatibility
 * format otherwise (no IOMMU).  -ENOTSUP: no MSI capability; -ENOSPC: no
 * free vector or remapping entry. */
int edu_irq(struct edu *e, struct iommu_unit *ir_unit, uint64_t timeout_ns,
	    struct edu_irq_result *r) MUST_CHECK;
/* Tears down the MSI sluice set up for d (if d is an edu): the route's
 * entry is left not present and freed, the vector freed.  The next edu_irq
 * sets it up again. */
void edu_release_irq(struct pci_dev *d);

#endif
