/*
 * lib/bdf.h — PCI bus/device/function text (see bdf.c).
 */
#ifndef SLUICE_LIB_BDF_H
#define SLUICE_LIB_BDF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* "00:03.0" or "0000:00:03.0"; hex fields, dev <= 0x1f, fn <= 7, nothing
 * trailing; otherwise -EINVAL (outputs untouched). */
int pci_parse_bdf(const char *s, uint16_t *seg, uint8_t *bus, uint8_t *dev, uint8_t *fn) MUST_CHECK;
/* "bb:dd.f" on segment 0, "ssss:bb:dd.f" otherwise; buf of >= 16 bytes. */
char *pci_format_bdf(char *buf, size_t len, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn);
/* The same for a requester id (bus << 8 | dev << 3 | fn). */
char *bdf_format_rid(char *buf, size_t len, uint16_t seg, uint16_t rid);
static inline uint16_t pci_make_rid(uint8_t bus, uint8_t dev, uint8_t fn)
{
	return (uint16_t)(bus << 8 | (dev & 0x1f) << 3 | (fn & 7));
}

/* The parts of a requester id: bus, devfn (dev << 3 | fn), dev, fn. */
static inline uint8_t bdf_bus(uint16_t rid) { return (uint8_t)(rid >> 8); }
static inline uint8_t bdf_devfn(uint16_t rid) { return (uint8_t)(rid & 0xff); }
static inline uint8_t bdf_dev(uint16_t rid) { return (uint8_t)((rid >> 3) & 0x1f); }
static inline uint8_t bdf_fn(uint16_t rid) { return (uint8_t)(rid & 7); }

#endif
