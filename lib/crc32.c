/*
 * lib/crc32.c — CRC-32/ISO-HDLC, table driven, slice-by-8.
 *
 * Tables: t[0] is the classic byte table of the reflected polynomial;
 * t[k][b] is the CRC of byte b followed by k zero bytes, so eight input
 * bytes fold into the CRC with eight lookups and no carried dependency
 * between them (Intel's "slicing-by-8").  The 8 KiB of tables are built on
 * first use rather than stored as a literal.
 */
#include "lib/crc32.h"

#include <stdbool.h>

#define CRC32_POLY_REFLECTED 0xEDB88320u

static uint32_t t[8][256];
static bool t_ready;

static void crc32_tables(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;

		for (int i = 0; i < 8; i++)
			c = (c >> 1) ^ (CRC32_POLY_REFLECTED & (0u - (c & 1)));
		t[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int k = 1; k < 8; k++)
			t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
	t_ready = true;
}

/* Little-endian load, whatever the host order (x86 makes it one mov). */
static inline uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t crc32_update(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	if (!t_ready)
		crc32_tables();
	while (len >= 8) {
		uint32_t lo = c ^ load_le32(p);
		uint32_t hi = load_le32(p + 4);

		c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
		    t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		    t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
	return ~c;
}
