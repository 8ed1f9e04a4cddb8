/*
 * guests/lib/edu.h — QEMU's edu device (1234:11e8) as a guest drives it:
 * its registers (QEMU docs/specs/edu.txt) and its DMA engine.
 */
#ifndef SLUICE_GUESTS_LIB_EDU_H
#define SLUICE_GUESTS_LIB_EDU_H

#include <stdbool.h>
#include <stdint.h>

#include "guests/lib/pci.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

#define EDU_ID 0x00
#define EDU_ID_VALUE 0x010000edu
#define EDU_LIVENESS 0x04 /* reads back the inverse of what was written */
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_START 0x1 /* stays set while the transfer runs */
#define EDU_DMA_TO_RAM 0x2
/* The device-side buffer.  QEMU 7.2's range check rejects a transfer whose
 * end reaches 0x41000 (and a count of 0) with hw_error(), which aborts
 * QEMU: at most 4095 bytes, ending below EDU_BUF + EDU_BUF_SIZE. */
#define EDU_BUF 0x40000u
#define EDU_BUF_SIZE 0x1000u

/* A DMA takes 100 ms of QEMU's virtual clock (edu's DMA timer); the bound
 * is a generous multiple, only there so a dead device cannot hang a guest. */
#define EDU_DMA_POLLS 20000000u

/* One DMA between guest-physical gpa and the device buffer at dev_off:
 * 0 done, -1 refused (length or range QEMU would abort on), -2 timeout. */
int edu_dma(uint64_t bar, uint64_t gpa, unsigned dev_off, unsigned len, bool to_ram);

#endif
