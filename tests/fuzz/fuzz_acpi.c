// SOURCES: drivers/acpi.c tests/unit/fake_hw.c
/* tests/fuzz/fuzz_acpi.c — the input is "physical memory": the RSDP at
 * offset 0, every table pointer an offset into the input; acpi_init()
 * walks it through a window bounded by the input's size.  Seeds are in
 * tests/fuzz/corpus/acpi.  Random mutations would almost never keep a
 * checksum right, so unless bit 0 of RSDP byte 9 (an OEMID byte) is set,
 * the harness first recomputes the checksums of the RSDP, the root tables,
 * the tables they list and the FADT's DSDT (the parser itself is not told). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/acpi.h"

static uint64_t rd(const uint8_t *m, size_t n, uint64_t off, unsigned bytes)
{
	uint64_t v = 0;

	if (off > n || bytes > n - off)
		return 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)m[off + i] << (8 * i);
	return v;
}

/* Makes the byte at pa + at the checksum of [pa, pa + len), if in bounds. */
static void fix(uint8_t *m, size_t n, uint64_t pa, uint64_t len, unsigned at)
{
	uint8_t s = 0;

	if (pa > n || len > n - pa || len <= at)
		return;
	m[pa + at] = 0;
	for (uint64_t i = 0; i < len; i++)
		s = (uint8_t)(s + m[pa + i]);
	m[pa + at] = (uint8_t)-s;
}

static void fix_table(uint8_t *m, size_t n, uint64_t pa) { fix(m, n, pa, rd(m, n, pa + 4, 4), 9); }

static void fix_root(uint8_t *m, size_t n, uint64_t root, unsigned esize)
{
	uint64_t len = rd(m, n, root + 4, 4);

	for (uint64_t o = 36; o + esize <= len && o < n; o += esize) {
		uint64_t t = rd(m, n, root + o, esize);

		if (rd(m, n, t, 4) == 0x50434146u) { /* "FACP": its DSDT first */
			uint64_t flen = rd(m, n, t + 4, 4);

			fix_table(m, n, rd(m, n, t + 40, 4));
			if (flen >= 148)
				fix_table(m, n, rd(m, n, t + 140, 8));
		}
		fix_table(m, n, t);
	}
	fix_table(m, n, root);
}

static void fix_checksums(uint8_t *m, size_t n)
{
	if (n < 20 || (m[9] & 1))
		return;
	if (m[15] >= 2) {
		fix_root(m, n, rd(m, n, 24, 8), 8);
		fix_root(m, n, rd(m, n, 16, 4), 4);
		fix(m, n, 0, 20, 8);
		fix(m, n, 0, rd(m, n, 20, 4), 32);
	} else {
		fix_root(m, n, rd(m, n, 16, 4), 4);
		fix(m, n, 0, 20, 8);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *mem;

	if (size > 0x40000)
		return 0;
	mem = malloc(size ? size : 1);
	if (!mem)
		return 0;
	memcpy(mem, data, size);
	fix_checksums(mem, size);
	acpi_set_window(mem, size);
	if (acpi_init(0) == 0) {
		const struct acpi_fadt_info *f = acpi_fadt();
		uint32_t len;

		for (unsigned i = 0; i < acpi_table_count(); i++)
			(void)acpi_table_at(i)->sig[0];
		(void)acpi_find("DMAR", &len);
		(void)acpi_isa_irq_to_gsi(9, NULL);
		/* Port writes go to fake_hw.c's no-op sinks.  acpi_reset() is
		 * not called: a memory-space reset register is a raw address. */
		if (f)
			(void)acpi_poweroff();
	}
	/* The \_S5_ scan on the raw bytes too. */
	{
		uint8_t a, b;
		(void)acpi_aml_find_s5(mem, size, &a, &b);
	}
	acpi_set_window(NULL, 0);
	free(mem);
	return 0;
}
