// SOURCES: lib/crc32.c
/*
 * tests/unit/test_crc32.c — CRC-32/ISO-HDLC against published vectors
 * (values from zlib's crc32()), a bit-at-a-time reference for every length
 * and alignment near the slice-by-8 edges, and incremental updates.
 */
#include <string.h>

#include "lib/crc32.h"
#include "test.h"

/* Bitwise reference straight from the definition (reflected 0x04C11DB7). */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	uint32_t c = ~crc;

	while (len--) {
		c ^= *p++;
		for (int i = 0; i < 8; i++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
	}
	return ~c;
}

TEST(known_vectors)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t zeros[32] = {0}, ones[32], seq[1027];

	memset(ones, 0xff, sizeof(ones));
	for (size_t i = 0; i < sizeof(seq); i++)
		seq[i] = i < 1024 ? (uint8_t)i : (uint8_t)("xyz"[i - 1024]);
	CHECK_EQ(crc32("123456789", 9), 0xCBF43926u);
	CHECK_EQ(crc32("", 0), 0);
	CHECK_EQ(crc32("a", 1), 0xE8B7BE43u);
	CHECK_EQ(crc32("abc", 3), 0x352441C2u);
	CHECK_EQ(crc32(fox, strlen(fox)), 0x414FA339u);
	CHECK_EQ(crc32(zeros, sizeof(zeros)), 0x190A55ADu);
	CHECK_EQ(crc32(ones, sizeof(ones)), 0xFF6CAB0Bu);
	CHECK_EQ(crc32(seq, sizeof(seq)), 0x1C505903u);
}

TEST(incremental_updates)
{
	CHECK_EQ(crc32_update(crc32_update(0, "123", 3), "456789", 6), 0xCBF43926u);
	/* Byte by byte, and an empty update changes nothing. */
	uint32_t c = 0;
	for (int i = 0; i < 9; i++) {
		c = crc32_update(c, "123456789" + i, 1);
		c = crc32_update(c, "", 0);
	}
	CHECK_EQ(c, 0xCBF43926u);
}

TEST(matches_reference_all_lengths_and_alignments)
{
	uint8_t buf[300];
	uint32_t x = 12345;
	int bad = 0;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= 200; len++) {
			uint32_t want = crc_ref(0, buf + off, len);

			if (crc32(buf + off, len) != want)
				bad++;
			/* Split anywhere: same result as one call. */
			size_t cut = len / 3;
			if (crc32_update(crc32_update(0, buf + off, cut), buf + off + cut,
					 len - cut) != want)
				bad++;
		}
	CHECK_EQ(bad, 0);
}
