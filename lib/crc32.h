/*
 * lib/crc32.h — CRC-32/ISO-HDLC (the zlib, Ethernet and gzip CRC):
 * reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF.
 * crc32_update(0, buf, len) equals zlib's crc32(0, buf, len); the check
 * value of "123456789" is 0xCBF43926.
 */
#ifndef SLUICE_LIB_CRC32_H
#define SLUICE_LIB_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc (0 to start, or a previous result) over buf[0..len). */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

/* The CRC of one buffer. */
static inline uint32_t crc32(const void *buf, size_t len) { return crc32_update(0, buf, len); }

#endif
