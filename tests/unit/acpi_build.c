/* tests/unit/acpi_build.c — synthetic ACPI/DMAR tables for tests. */
#include "acpi_build.h"

#include <stdlib.h>
#include <string.h>

void ab_init(struct abuf *b) { memset(b, 0, sizeof(*b)); }
void ab_free(struct abuf *b)
{
	free(b->p);
	ab_init(b);
}

static uint8_t *room(struct abuf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t c = b->cap ? b->cap : 256;

		while (c < b->len + n)
			c *= 2;
		b->p = realloc(b->p, c);
		if (!b->p)
			abort();
		b->cap = c;
	}
	b->len += n;
	return b->p + b->len - n;
}

void ab_u8(struct abuf *b, uint8_t v) { *room(b, 1) = v; }
void ab_u16(struct abuf *b, uint16_t v)
{
	ab_u8(b, (uint8_t)v);
	ab_u8(b, (uint8_t)(v >> 8));
}
void ab_u32(struct abuf *b, uint32_t v)
{
	ab_u16(b, (uint16_t)v);
	ab_u16(b, (uint16_t)(v >> 16));
}
void ab_u64(struct abuf *b, uint64_t v)
{
	ab_u32(b, (uint32_t)v);
	ab_u32(b, (uint32_t)(v >> 32));
}
void ab_bytes(struct abuf *b, const void *p, size_t n) { memcpy(room(b, n), p, n); }
void ab_zero(struct abuf *b, size_t n) { memset(room(b, n), 0, n); }
void ab_align(struct abuf *b, size_t a)
{
	while (b->len % a)
		ab_u8(b, 0);
}
void ab_set16(struct abuf *b, size_t off, uint16_t v)
{
	b->p[off] = (uint8_t)v;
	b->p[off + 1] = (uint8_t)(v >> 8);
}
void ab_set32(struct abuf *b, size_t off, uint32_t v)
{
	ab_set16(b, off, (uint16_t)v);
	ab_set16(b, off + 2, (uint16_t)(v >> 16));
}
void ab_set64(struct abuf *b, size_t off, uint64_t v)
{
	ab_set32(b, off, (uint32_t)v);
	ab_set32(b, off + 4, (uint32_t)(v >> 32));
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

size_t ab_table_begin(struct abuf *b, const char sig[4], uint8_t rev)
{
	size_t start = b->len;

	ab_bytes(b, sig, 4);
	ab_u32(b, 0); /* length */
	ab_u8(b, rev);
	ab_u8(b, 0); /* checksum */
	ab_bytes(b, "SLUICE", 6);
	ab_bytes(b, "TESTTBL ", 8);
	ab_u32(b, 1);
	ab_bytes(b, "SLCT", 4);
	ab_u32(b, 1);
	return start;
}

void ab_fix_checksum(struct abuf *b, size_t start)
{
	uint32_t len = (uint32_t)(b->p[start + 4] | b->p[start + 5] << 8 | b->p[start + 6] << 16 |
				  (uint32_t)b->p[start + 7] << 24);

	b->p[start + 9] = 0;
	b->p[start + 9] = (uint8_t)-sum(b->p + start, len);
}

void ab_table_end(struct abuf *b, size_t start)
{
	ab_set32(b, start + 4, (uint32_t)(b->len - start));
	ab_fix_checksum(b, start);
}

void ab_rsdp(struct abuf *b, uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	size_t s = b->len;

	ab_bytes(b, "RSD PTR ", 8);
	ab_u8(b, 0);
	ab_bytes(b, "SLUICE", 6);
	ab_u8(b, rev);
	ab_u32(b, rsdt);
	if (rev >= 2) {
		ab_u32(b, 36);
		ab_u64(b, xsdt);
		ab_u8(b, 0);
		ab_zero(b, 3);
	}
	b->p[s + 8] = (uint8_t)-sum(b->p + s, 20);
	if (rev >= 2)
		b->p[s + 32] = (uint8_t)-sum(b->p + s, 36);
}

size_t ab_dmar_begin(struct abuf *b, uint8_t haw_field, uint8_t flags)
{
	size_t s = ab_table_begin(b, "DMAR", 1);

	ab_u8(b, haw_field);
	ab_u8(b, flags);
	ab_zero(b, 10);
	return s;
}

static size_t struct_begin(struct abuf *b, uint16_t type)
{
	size_t s = b->len;

	ab_u16(b, type);
	ab_u16(b, 0);
	return s;
}

size_t ab_drhd_begin(struct abuf *b, uint8_t flags, uint8_t size, uint16_t seg, uint64_t base)
{
	size_t s = struct_begin(b, 0);

	ab_u8(b, flags);
	ab_u8(b, size);
	ab_u16(b, seg);
	ab_u64(b, base);
	return s;
}

size_t ab_rmrr_begin(struct abuf *b, uint16_t seg, uint64_t base, uint64_t limit)
{
	size_t s = struct_begin(b, 1);

	ab_u16(b, 0);
	ab_u16(b, seg);
	ab_u64(b, base);
	ab_u64(b, limit);
	return s;
}

size_t ab_atsr_begin(struct abuf *b, uint8_t flags, uint16_t seg)
{
	size_t s = struct_begin(b, 2);

	ab_u8(b, flags);
	ab_u8(b, 0);
	ab_u16(b, seg);
	return s;
}

size_t ab_satc_begin(struct abuf *b, uint8_t flags, uint16_t seg)
{
	size_t s = struct_begin(b, 5);

	ab_u8(b, flags);
	ab_u8(b, 0);
	ab_u16(b, seg);
	return s;
}

void ab_rhsa(struct abuf *b, uint64_t base, uint32_t prox)
{
	size_t s = struct_begin(b, 3);

	ab_u32(b, 0);
	ab_u64(b, base);
	ab_u32(b, prox);
	ab_struct_end(b, s);
}

void ab_andd(struct abuf *b, uint8_t acpi_dev, const char *name)
{
	size_t s = struct_begin(b, 4);

	ab_zero(b, 3);
	ab_u8(b, acpi_dev);
	ab_bytes(b, name, strlen(name) + 1);
	ab_struct_end(b, s);
}

void ab_struct_end(struct abuf *b, size_t start)
{
	ab_set16(b, start + 2, (uint16_t)(b->len - start));
}

void ab_scope(struct abuf *b, uint8_t type, uint8_t enum_id, uint8_t start_bus, unsigned npath,
	      const uint8_t *path)
{
	ab_u8(b, type);
	ab_u8(b, (uint8_t)(6 + 2 * npath));
	ab_u16(b, 0);
	ab_u8(b, enum_id);
	ab_u8(b, start_bus);
	ab_bytes(b, path, 2 * npath);
}

void ab_qemu_dmar(struct abuf *b)
{
	size_t t = ab_dmar_begin(b, 38, 1);
	size_t d = ab_drhd_begin(b, 0, 0, 0, 0xfed90000ull);

	ab_scope(b, 3, 0, 0xff, 1, (const uint8_t[]){0, 0});
	ab_scope(b, 1, 0, 0, 1, (const uint8_t[]){1, 0});
	ab_scope(b, 1, 0, 0, 1, (const uint8_t[]){2, 0});
	ab_scope(b, 1, 0, 0, 1, (const uint8_t[]){3, 0});
	ab_struct_end(b, d);
	ab_table_end(b, t);
}

void ab_aml_s5(struct abuf *b, uint8_t typa, uint8_t typb, int root)
{
	ab_u8(b, 0x08); /* NameOp */
	if (root)
		ab_u8(b, '\\');
	ab_bytes(b, "_S5_", 4);
	ab_u8(b, 0x12); /* PackageOp */
	ab_u8(b, 0x0a); /* PkgLength: 10 bytes follow incl. itself */
	ab_u8(b, 4);	/* NumElements */
	ab_u8(b, 0x0a);
	ab_u8(b, typa);
	ab_u8(b, 0x0a);
	ab_u8(b, typb);
	ab_u8(b, 0x00);
	ab_u8(b, 0x00);
}
