// SOURCES: drivers/acpi.c console/cmd_acpi.c tests/unit/acpi_build.c
/* tests/unit/test_acpi.c — ACPI table walk, MADT/MCFG/FADT/\_S5_ parsing,
 * poweroff/reset register writes and the `acpi` command, over a synthetic
 * "physical memory" image seen through acpi_set_window(). */
#include <stdlib.h>
#include <string.h>

#include "acpi_build.h"
#include "drivers/acpi.h"
#include "fake_hw.h"
#include "console/console.h"
#include "test.h"

#define RSDP_AT 0x10

static bool logged(const char *s) { return strstr(test_con_buf, s) != NULL; }

struct world {
	struct abuf mem;
	uint64_t xsdt, rsdt, fadt, madt, mcfg, dsdt, dmar;
};

static uint64_t place(struct abuf *mem, struct abuf *t)
{
	uint64_t off;

	ab_align(mem, 16);
	off = mem->len;
	ab_bytes(mem, t->p, t->len);
	ab_free(t);
	return off;
}

static void madt_table(struct abuf *t)
{
	size_t s = ab_table_begin(t, "APIC", 5);

	ab_u32(t, 0xfee00000u);
	ab_u32(t, 1);
	/* LAPIC: type, len, proc id, apic id, flags */
	ab_bytes(t, (const uint8_t[]){0, 8, 0, 0, 1, 0, 0, 0}, 8);
	ab_bytes(t, (const uint8_t[]){0, 8, 1, 1, 1, 0, 0, 0}, 8);
	ab_bytes(t, (const uint8_t[]){0, 8, 2, 2, 0, 0, 0, 0}, 8); /* disabled */
	/* IOAPIC id 0 at 0xfec00000, GSI base 0 */
	ab_bytes(t, (const uint8_t[]){1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0}, 12);
	/* ISO: IRQ0 -> GSI2; IRQ9 -> GSI9 level/high */
	ab_bytes(t, (const uint8_t[]){2, 10, 0, 0, 2, 0, 0, 0, 0, 0}, 10);
	ab_bytes(t, (const uint8_t[]){2, 10, 0, 9, 9, 0, 0, 0, 0xd, 0}, 10);
	/* x2APIC id 0x100 enabled, id 0x101 disabled */
	ab_bytes(t, (const uint8_t[]){9, 16, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0}, 16);
	ab_bytes(t, (const uint8_t[]){9, 16, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0}, 16);
	/* an unknown entry type is skipped */
	ab_bytes(t, (const uint8_t[]){0x7f, 4, 0, 0}, 4);
	ab_table_end(t, s);
}

static void mcfg_table(struct abuf *t)
{
	size_t s = ab_table_begin(t, "MCFG", 1);

	ab_zero(t, 8);
	ab_u64(t, 0xb0000000ull);
	ab_u16(t, 0);
	ab_u8(t, 0);
	ab_u8(t, 0xff);
	ab_u32(t, 0);
	ab_table_end(t, s);
}

static void dsdt_table(struct abuf *t, bool with_s5)
{
	size_t s = ab_table_begin(t, "DSDT", 2);

	/* Some unrelated AML, including "_S5_" bytes that are not a Name. */
	ab_bytes(t,
		 (const uint8_t[]){0x10, 0x05, '_', 'S', '5', '_', 0x08, '_', 'S', '4', '_', 0x12,
				   0x04, 0x01, 0x0a, 0x03},
		 16);
	if (with_s5)
		ab_aml_s5(t, 5, 7, 1);
	ab_table_end(t, s);
}

static void fadt_table(struct abuf *t, uint64_t dsdt, uint32_t flags)
{
	size_t s = ab_table_begin(t, "FACP", 6);

	ab_zero(t, 276 - 36);
	ab_set32(t, s + 40, (uint32_t)dsdt);
	ab_set32(t, s + 64, 0x604); /* PM1a_CNT_BLK */
	ab_set32(t, s + 76, 0x608); /* PM_TMR_BLK */
	ab_set32(t, s + 112, flags);
	t->p[s + 116] = 1; /* RESET_REG: I/O */
	t->p[s + 117] = 8;
	ab_set64(t, s + 120, 0xcf9);
	t->p[s + 128] = 6;	    /* RESET_VALUE */
	ab_set64(t, s + 140, dsdt); /* X_DSDT */
	ab_table_end(t, s);
}

#define FLAGS_DEFAULT ((1u << 8) | (1u << 10)) /* TMR_VAL_EXT, RESET_REG_SUP */

/* Builds memory: 16 zero bytes, RSDP at 0x10, then DSDT, FADT, MADT, MCFG,
 * DMAR, XSDT and RSDT; the window is set over it. */
static void build(struct world *w, uint8_t rsdp_rev)
{
	struct abuf t, rsdp;
	uint64_t ents[4];

	ab_free(&w->mem);
	memset(w, 0, sizeof(*w));
	ab_zero(&w->mem, RSDP_AT + 48);
	ab_init(&t);
	dsdt_table(&t, true);
	w->dsdt = place(&w->mem, &t);
	fadt_table(&t, w->dsdt, FLAGS_DEFAULT);
	w->fadt = place(&w->mem, &t);
	madt_table(&t);
	w->madt = place(&w->mem, &t);
	mcfg_table(&t);
	w->mcfg = place(&w->mem, &t);
	ab_qemu_dmar(&t);
	w->dmar = place(&w->mem, &t);
	ents[0] = w->fadt;
	ents[1] = w->madt;
	ents[2] = w->mcfg;
	ents[3] = w->dmar;
	size_t s = ab_table_begin(&t, "XSDT", 1);
	for (int i = 0; i < 4; i++)
		ab_u64(&t, ents[i]);
	ab_table_end(&t, s);
	w->xsdt = place(&w->mem, &t);
	s = ab_table_begin(&t, "RSDT", 1);
	for (int i = 0; i < 4; i++)
		ab_u32(&t, (uint32_t)ents[i]);
	ab_table_end(&t, s);
	w->rsdt = place(&w->mem, &t);
	ab_init(&rsdp);
	ab_rsdp(&rsdp, rsdp_rev, (uint32_t)w->rsdt, w->xsdt);
	memcpy(w->mem.p + RSDP_AT, rsdp.p, rsdp.len);
	ab_free(&rsdp);
	acpi_set_window(w->mem.p, w->mem.len);
}

static void done(struct world *w)
{
	acpi_set_window(NULL, 0);
	ab_free(&w->mem);
}

static int init(struct world *w)
{
	/* The window may have moved while the test edited memory. */
	acpi_set_window(w->mem.p, w->mem.len);
	test_con_reset();
	return acpi_init(RSDP_AT);
}

static void check_full_parse(struct world *w)
{
	const struct acpi_madt_info *m = acpi_madt();
	const struct acpi_mcfg_info *c = acpi_mcfg();
	const struct acpi_fadt_info *f = acpi_fadt();
	uint32_t len = 0;
	uint16_t fl = 0xffff;

	CHECK_EQ(acpi_table_count(), 5);
	CHECK(acpi_table_at(0) && !strcmp(acpi_table_at(0)->sig, "FACP"));
	CHECK_EQ(acpi_table_at(0)->addr, w->fadt);
	CHECK_EQ(acpi_table_at(0)->len, 276);
	CHECK(acpi_table_at(0)->valid);
	CHECK(!strcmp(acpi_table_at(4)->sig, "DSDT"));
	CHECK_EQ(acpi_table_at(4)->addr, w->dsdt);
	CHECK(acpi_table_at(5) == NULL);
	CHECK(acpi_find("DMAR", &len) == w->mem.p + w->dmar);
	CHECK_EQ(len, 48 + 16 + 4 * 8);
	CHECK(acpi_find("SSDT", &len) == NULL);

	CHECK(m != NULL);
	if (m) {
		CHECK_EQ(m->lapic_addr, 0xfee00000u);
		CHECK_EQ(m->flags, 1);
		CHECK_EQ(m->n_lapic, 2);
		CHECK_EQ(m->lapic_ids[1], 1);
		CHECK_EQ(m->n_x2apic, 1);
		CHECK_EQ(m->x2apic_ids[0], 0x100);
		CHECK_EQ(m->n_ioapic, 1);
		CHECK_EQ(m->ioapics[0].addr, 0xfec00000u);
		CHECK_EQ(m->ioapics[0].gsi_base, 0);
		CHECK_EQ(m->n_iso, 2);
	}
	CHECK_EQ(acpi_isa_irq_to_gsi(0, &fl), 2);
	CHECK_EQ(fl, 0);
	CHECK_EQ(acpi_isa_irq_to_gsi(9, &fl), 9);
	CHECK_EQ(fl & ACPI_MADT_TRIGGER_MASK, ACPI_MADT_TRIGGER_LEVEL);
	CHECK_EQ(fl & ACPI_MADT_POLARITY_MASK, ACPI_MADT_POLARITY_HIGH);
	CHECK_EQ(acpi_isa_irq_to_gsi(4, NULL), 4);

	CHECK(c != NULL);
	if (c) {
		CHECK_EQ(c->n, 1);
		CHECK_EQ(c->seg[0].base, 0xb0000000ull);
		CHECK_EQ(c->seg[0].end_bus, 0xff);
	}
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ(f->pm1a_cnt, 0x604);
		CHECK_EQ(f->pm1b_cnt, 0);
		CHECK_EQ(f->pm_tmr, 0x608);
		CHECK(f->pm_tmr_32bit);
		CHECK(f->reset_supported);
		CHECK_EQ(f->reset_reg.space_id, ACPI_GAS_IO);
		CHECK_EQ(f->reset_reg.addr, 0xcf9);
		CHECK_EQ(f->reset_value, 6);
		CHECK_EQ(f->dsdt, w->dsdt);
		CHECK(f->s5_valid);
		CHECK_EQ(f->slp_typa, 5);
		CHECK_EQ(f->slp_typb, 7);
	}
}

TEST(acpi_v2_xsdt)
{
	struct world w = {0};

	build(&w, 2);
	CHECK_EQ(init(&w), 0);
	CHECK_EQ(test_con_len, 0); /* nothing to complain about */
	check_full_parse(&w);
	done(&w);
}

TEST(acpi_v1_rsdt)
{
	struct world w = {0};

	build(&w, 0);
	/* Break the XSDT: a v1 RSDP must not even look at it. */
	w.mem.p[w.xsdt + 9] ^= 0x55;
	CHECK_EQ(init(&w), 0);
	CHECK_EQ(test_con_len, 0);
	check_full_parse(&w);
	done(&w);
}

TEST(acpi_bad_rsdp)
{
	struct world w = {0};

	build(&w, 2);
	w.mem.p[RSDP_AT] = 'X';
	CHECK_EQ(init(&w), -EINVAL);
	CHECK(logged("acpi: RSDP at 0x10: bad signature, no ACPI"));
	CHECK_EQ(acpi_table_count(), 0);
	w.mem.p[RSDP_AT] = 'R';
	w.mem.p[RSDP_AT + 8] ^= 1; /* v1 checksum */
	CHECK_EQ(init(&w), -EINVAL);
	CHECK(logged("acpi: RSDP: bad checksum, no ACPI"));
	CHECK(acpi_madt() == NULL && acpi_fadt() == NULL && acpi_mcfg() == NULL);
	/* Outside the window. */
	test_con_reset();
	CHECK_EQ(acpi_init(w.mem.len - 4), -ENOENT);
	CHECK(logged("not readable"));
	done(&w);
}

TEST(acpi_bad_extended_checksum_uses_rsdt)
{
	struct world w = {0};

	build(&w, 2);
	w.mem.p[RSDP_AT + 32] ^= 1;
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: RSDP: bad extended checksum, XSDT not used"));
	check_full_parse(&w);
	/* A v2 length field that is nonsense. */
	build(&w, 2);
	ab_set32(&w.mem, RSDP_AT + 20, 10);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: RSDP: revision 2 with bad length 10, XSDT not used"));
	check_full_parse(&w);
	done(&w);
}

TEST(acpi_bad_xsdt_falls_back)
{
	struct world w = {0};

	build(&w, 2);
	w.mem.p[w.xsdt + 36] ^= 1; /* an entry byte: checksum now wrong */
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: XSDT XSDT at"));
	CHECK(logged("bad checksum, skipped"));
	CHECK(logged("acpi: XSDT unusable, falling back to the RSDT"));
	check_full_parse(&w);
	/* XSDT pointer outside memory. */
	build(&w, 2);
	ab_set64(&w.mem, RSDP_AT + 24, 0x100000);
	w.mem.p[RSDP_AT + 32] = 0;
	w.mem.p[RSDP_AT + 32] = (uint8_t) - ({
					uint8_t s = 0;
					for (int i = 0; i < 36; i++)
						s = (uint8_t)(s + w.mem.p[RSDP_AT + i]);
					s;
				});
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: XSDT at 0x100000: header not readable, skipped"));
	check_full_parse(&w);
	/* Both unusable. */
	build(&w, 2);
	w.mem.p[w.xsdt + 36] ^= 1;
	memcpy(w.mem.p + w.rsdt, "XXXX", 4);
	ab_fix_checksum(&w.mem, w.rsdt);
	CHECK_EQ(init(&w), -ENOENT);
	CHECK(logged("acpi: RSDT at 0x"));
	CHECK(logged("has signature XXXX, skipped"));
	CHECK(logged("acpi: no usable XSDT or RSDT, no ACPI tables"));
	CHECK_EQ(acpi_table_count(), 0);
	CHECK(acpi_find("APIC", NULL) == NULL);
	done(&w);
}

TEST(acpi_table_bad_checksum_recorded_invalid)
{
	struct world w = {0};
	char msg[128];

	build(&w, 2);
	w.mem.p[w.madt + 40] ^= 1;
	CHECK_EQ(init(&w), 0);
	snprintf(msg, sizeof(msg), "acpi: XSDT entry 1 APIC at 0x%llx: bad checksum, skipped",
		 (unsigned long long)w.madt);
	CHECK(logged(msg));
	CHECK_EQ(acpi_table_count(), 5);
	CHECK(!acpi_table_at(1)->valid);
	CHECK(!strcmp(acpi_table_at(1)->sig, "APIC"));
	CHECK(acpi_find("APIC", NULL) == NULL);
	CHECK(acpi_madt() == NULL);
	CHECK(acpi_fadt() != NULL); /* the others are still there */
	CHECK(acpi_mcfg() != NULL);
	done(&w);
}

/* Appends table t at the end of memory and points XSDT slot xsdt_slot at it. */
static void replace_table(struct world *w, unsigned xsdt_slot, struct abuf *t, uint64_t *where)
{
	*where = place(&w->mem, t);
	ab_set64(&w->mem, w->xsdt + 36 + 8 * xsdt_slot, *where);
	ab_fix_checksum(&w->mem, w->xsdt);
}

TEST(acpi_truncated_tables)
{
	struct world w = {0};

	/* MCFG length runs past memory. */
	build(&w, 2);
	ab_set32(&w.mem, w.mcfg + 4, 0x100000);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: XSDT entry 2 MCFG at"));
	CHECK(logged("length 1048576 runs past readable memory, skipped"));
	CHECK(acpi_mcfg() == NULL);
	CHECK(!acpi_table_at(2)->valid);
	CHECK_EQ(acpi_table_at(2)->len, 0x100000);
	/* Length shorter than a header. */
	build(&w, 2);
	ab_set32(&w.mem, w.mcfg + 4, 20);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("length 20 shorter than its header, skipped"));
	CHECK(acpi_mcfg() == NULL);
	/* Absurd length. */
	build(&w, 2);
	ab_set32(&w.mem, w.mcfg + 4, 0xfffffff0u);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("over the 16777216 byte limit, skipped"));
	/* Entry pointing outside memory, and a null entry. */
	build(&w, 2);
	ab_set64(&w.mem, w.xsdt + 36 + 16, 0x7ffff000);
	ab_set64(&w.mem, w.xsdt + 36 + 24, 0);
	ab_fix_checksum(&w.mem, w.xsdt);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: XSDT entry 2 at 0x7ffff000: header not readable, skipped"));
	CHECK(logged("acpi: XSDT entry 3 is a null pointer, skipped"));
	CHECK_EQ(acpi_table_count(), 3); /* FACP, APIC, DSDT */
	CHECK(acpi_madt() != NULL && acpi_fadt() != NULL);
	/* XSDT length that leaves half an entry. */
	build(&w, 2);
	ab_set32(&w.mem, w.xsdt + 4, 36 + 8 + 4);
	ab_fix_checksum(&w.mem, w.xsdt);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: XSDT: length 48 leaves a partial entry, ignored"));
	CHECK_EQ(acpi_table_count(), 2); /* FACP + its DSDT */
	/* A table cut off by the end of memory. */
	build(&w, 2);
	{
		struct abuf t;

		ab_init(&t);
		mcfg_table(&t);
		replace_table(&w, 2, &t, &w.mcfg);
		w.mem.len = w.mcfg + 40; /* memory ends inside the MCFG */
	}
	CHECK_EQ(init(&w), 0);
	CHECK(acpi_mcfg() == NULL);
	CHECK(logged("MCFG at"));
	CHECK(logged("length 60 runs past readable memory, skipped"));
	done(&w);
}

TEST(acpi_madt_malformed_entries)
{
	struct world w = {0};
	struct abuf t;
	size_t s;

	build(&w, 2);
	ab_init(&t);
	s = ab_table_begin(&t, "APIC", 5);
	ab_u32(&t, 0xfee00000u);
	ab_u32(&t, 0);
	ab_bytes(&t, (const uint8_t[]){0, 8, 0, 3, 1, 0, 0, 0}, 8);
	ab_bytes(&t, (const uint8_t[]){1, 6, 0, 0, 0, 0}, 6); /* IOAPIC too short */
	ab_bytes(&t, (const uint8_t[]){5, 12, 0, 0, 0, 0, 0xe0, 0xfe, 0, 0, 0, 0}, 12);
	ab_bytes(&t, (const uint8_t[]){0, 0, 0, 4, 1, 0, 0, 0}, 8); /* length 0 */
	ab_bytes(&t, (const uint8_t[]){0, 8, 0, 5, 1, 0, 0, 0}, 8); /* never reached */
	ab_table_end(&t, s);
	replace_table(&w, 1, &t, &w.madt);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: MADT: type 1 entry at offset 52 has length 6, too short, ignored"));
	CHECK(logged("acpi: MADT: entry at offset 70 has length 0 (table 86), rest ignored"));
	CHECK(acpi_madt() != NULL);
	if (acpi_madt()) {
		CHECK_EQ(acpi_madt()->n_lapic, 1);
		CHECK_EQ(acpi_madt()->lapic_ids[0], 3);
		CHECK_EQ(acpi_madt()->n_ioapic, 0);
		CHECK_EQ(acpi_madt()->lapic_addr, 0xfee00000ull); /* the override said the same */
	}
	/* A lone byte after the last entry. */
	ab_init(&t);
	s = ab_table_begin(&t, "APIC", 5);
	ab_u32(&t, 0xfee00000u);
	ab_u32(&t, 0);
	ab_bytes(&t, (const uint8_t[]){0, 8, 0, 3, 1, 0, 0, 0}, 8);
	ab_u8(&t, 0);
	ab_table_end(&t, s);
	replace_table(&w, 1, &t, &w.madt);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: MADT: truncated entry at offset 52, ignored"));
	CHECK_EQ(acpi_madt()->n_lapic, 1);
	/* Entry running past the table, and a too-short MADT. */
	ab_init(&t);
	s = ab_table_begin(&t, "APIC", 5);
	ab_u32(&t, 0xfee00000u);
	ab_u32(&t, 0);
	ab_bytes(&t, (const uint8_t[]){0, 8, 0, 3, 1, 0, 0, 0}, 8);
	ab_bytes(&t, (const uint8_t[]){1, 40, 0, 0}, 4);
	ab_u8(&t, 0); /* a lone byte at the end */
	ab_table_end(&t, s);
	replace_table(&w, 1, &t, &w.madt);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: MADT: entry at offset 52 has length 40 (table 57), rest ignored"));
	CHECK_EQ(acpi_madt()->n_lapic, 1);
	ab_init(&t);
	s = ab_table_begin(&t, "APIC", 5);
	ab_u32(&t, 0);
	ab_table_end(&t, s);
	replace_table(&w, 1, &t, &w.madt);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: MADT: length 40 too short for its fixed fields, skipped"));
	CHECK(acpi_madt() == NULL);
	CHECK_EQ(acpi_isa_irq_to_gsi(0, NULL), 0);
	done(&w);
}

TEST(acpi_madt_lapic_override)
{
	struct world w = {0};
	struct abuf t;
	size_t s;

	build(&w, 2);
	ab_init(&t);
	s = ab_table_begin(&t, "APIC", 5);
	ab_u32(&t, 0xfee00000u);
	ab_u32(&t, 0);
	ab_bytes(&t, (const uint8_t[]){5, 12, 0, 0, 0, 0, 0xd0, 0xfe, 1, 0, 0, 0}, 12);
	ab_bytes(&t, (const uint8_t[]){2, 10, 0, 7, 0x17, 0, 0, 0, 0xf, 0}, 10); /* IRQ7->GSI23 */
	ab_bytes(&t, (const uint8_t[]){2, 10, 1, 5, 0x15, 0, 0, 0, 0xf, 0},
		 10); /* bus 1: not ISA */
	ab_table_end(&t, s);
	replace_table(&w, 1, &t, &w.madt);
	CHECK_EQ(init(&w), 0);
	CHECK_EQ(test_con_len, 0);
	CHECK_EQ(acpi_madt()->lapic_addr, 0x1fed00000ull);
	CHECK_EQ(acpi_isa_irq_to_gsi(7, NULL), 23);
	CHECK_EQ(acpi_isa_irq_to_gsi(5, NULL), 5);
	done(&w);
}

TEST(acpi_mcfg_malformed)
{
	struct world w = {0};
	struct abuf t;
	size_t s;

	build(&w, 2);
	ab_init(&t);
	s = ab_table_begin(&t, "MCFG", 1);
	ab_zero(&t, 8);
	ab_u64(&t, 0xb0000000ull); /* end < start */
	ab_bytes(&t, (const uint8_t[]){0, 0, 0x10, 0x0f, 0, 0, 0, 0}, 8);
	ab_u64(&t, 0xb0080000ull); /* not 1 MiB aligned */
	ab_bytes(&t, (const uint8_t[]){0, 0, 0, 0xff, 0, 0, 0, 0}, 8);
	ab_u64(&t, 0xe0000000ull); /* good, segment 1 */
	ab_bytes(&t, (const uint8_t[]){1, 0, 0, 0x3f, 0, 0, 0, 0}, 8);
	ab_zero(&t, 5); /* partial entry */
	ab_table_end(&t, s);
	replace_table(&w, 2, &t, &w.mcfg);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: MCFG: entry 0: end bus 0x0f below start bus 0x10, skipped"));
	CHECK(logged(
		"acpi: MCFG: entry 1: ECAM base 0xb0080000 is zero or not 1 MiB aligned, skipped"));
	CHECK(logged("acpi: MCFG: length 97 leaves a partial entry, ignored"));
	CHECK_EQ(acpi_mcfg()->n, 1);
	CHECK_EQ(acpi_mcfg()->seg[0].segment, 1);
	CHECK_EQ(acpi_mcfg()->seg[0].base, 0xe0000000ull);
	CHECK_EQ(acpi_mcfg()->seg[0].end_bus, 0x3f);
	/* Too short. */
	ab_init(&t);
	s = ab_table_begin(&t, "MCFG", 1);
	ab_table_end(&t, s);
	replace_table(&w, 2, &t, &w.mcfg);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: MCFG: length 36 too short for its fixed fields, skipped"));
	CHECK(acpi_mcfg() == NULL);
	done(&w);
}

/* ---- FADT, DSDT, poweroff, reset */

struct pio_log {
	unsigned n;
	struct {
		uint16_t port;
		uint32_t val;
		unsigned size;
	} out[8];
};
static uint32_t pio_in(void *ctx, uint16_t port, unsigned size)
{
	return port == 0x604 || port == 0x704 ? 1 : 0; /* SCI_EN set */
}
static void pio_out(void *ctx, uint16_t port, uint32_t val, unsigned size)
{
	struct pio_log *l = ctx;

	if (l->n < 8) {
		l->out[l->n].port = port;
		l->out[l->n].val = val;
		l->out[l->n].size = size;
	}
	l->n++;
}

static void replace_fadt(struct world *w, uint64_t dsdt, uint32_t flags, uint32_t len,
			 void (*edit)(struct abuf *t))
{
	struct abuf t;

	ab_init(&t);
	fadt_table(&t, dsdt, flags);
	if (len)
		t.len = len;
	if (edit)
		edit(&t);
	ab_table_end(&t, 0);
	replace_table(w, 0, &t, &w->fadt);
}

TEST(acpi_poweroff_and_reset_writes)
{
	struct world w = {0};
	struct pio_log log = {0};
	struct fake_pio pio = {pio_in, pio_out, &log};

	build(&w, 2);
	CHECK_EQ(init(&w), 0);
	fake_pio_set(&pio);
	CHECK_EQ(acpi_poweroff(), -EIO);
	CHECK_EQ(log.n, 1);
	CHECK_EQ(log.out[0].port, 0x604);
	CHECK_EQ(log.out[0].size, 2);
	CHECK_EQ(log.out[0].val, 1u | 5u << 10 | 1u << 13);
	log.n = 0;
	CHECK_EQ(acpi_reset(), -EIO);
	CHECK_EQ(log.n, 1);
	CHECK_EQ(log.out[0].port, 0xcf9);
	CHECK_EQ(log.out[0].size, 1);
	CHECK_EQ(log.out[0].val, 6);
	fake_pio_set(&(struct fake_pio){0});
	done(&w);
}

static void add_pm1b(struct abuf *t) { ab_set32(t, 68, 0x704); }

TEST(acpi_poweroff_pm1b)
{
	struct world w = {0};
	struct pio_log log = {0};
	struct fake_pio pio = {pio_in, pio_out, &log};

	build(&w, 2);
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 0, add_pm1b);
	CHECK_EQ(init(&w), 0);
	fake_pio_set(&pio);
	CHECK_EQ(acpi_poweroff(), -EIO);
	CHECK_EQ(log.n, 2);
	CHECK_EQ(log.out[0].port, 0x704);
	CHECK_EQ(log.out[0].val, 1u | 7u << 10 | 1u << 13);
	CHECK_EQ(log.out[1].port, 0x604);
	CHECK_EQ(log.out[1].val, 1u | 5u << 10 | 1u << 13);
	fake_pio_set(&(struct fake_pio){0});
	done(&w);
}

static volatile uint8_t reset_byte;
static void mem_reset(struct abuf *t)
{
	t->p[116] = ACPI_GAS_MEMORY;
	ab_set64(t, 120, (uint64_t)(uintptr_t)&reset_byte);
}
static void bad_reset_space(struct abuf *t) { t->p[116] = ACPI_GAS_PCI_CONFIG; }

TEST(acpi_reset_memory_and_unsupported)
{
	struct world w = {0};

	build(&w, 2);
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 0, mem_reset);
	CHECK_EQ(init(&w), 0);
	reset_byte = 0;
	CHECK_EQ(acpi_reset(), -EIO);
	CHECK_EQ(reset_byte, 6);
	/* RESET_REG_SUP clear. */
	replace_fadt(&w, w.dsdt, 1u << 8, 0, NULL);
	CHECK_EQ(init(&w), 0);
	CHECK(!acpi_fadt()->reset_supported);
	CHECK_EQ(acpi_reset(), -ENOTSUP);
	/* A register in a space we cannot write. */
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 0, bad_reset_space);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: FADT: reset register (space 2, 0xcf9) unusable, ignored"));
	CHECK_EQ(acpi_reset(), -ENOTSUP);
	/* A v1 FADT (116 bytes): no reset register, no X_DSDT. */
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 116, NULL);
	CHECK_EQ(init(&w), 0);
	CHECK(acpi_fadt() != NULL);
	CHECK_EQ(acpi_reset(), -ENOTSUP);
	CHECK(acpi_fadt()->s5_valid);
	/* Too short to hold the flags. */
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 100, NULL);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: FADT: length 100 too short for its fixed fields, skipped"));
	CHECK(acpi_fadt() == NULL);
	CHECK_EQ(acpi_reset(), -ENOTSUP);
	CHECK_EQ(acpi_poweroff(), -ENOENT);
	done(&w);
}

static uint64_t bogus_dsdt;
static void x_dsdt_only(struct abuf *t) { ab_set32(t, 40, (uint32_t)bogus_dsdt); }
static void x_pm1a(struct abuf *t)
{
	ab_set32(t, 64, 0);
	t->p[172] = ACPI_GAS_IO;
	ab_set64(t, 176, 0x404);
}
static void far_pm1a(struct abuf *t)
{
	ab_set32(t, 64, 0);
	t->p[172] = ACPI_GAS_IO;
	ab_set64(t, 176, 0x10004);
}
static void mem_pm1a(struct abuf *t)
{
	ab_set32(t, 64, 0);
	t->p[172] = ACPI_GAS_MEMORY;
	ab_set64(t, 176, 0xfed80000);
}

TEST(acpi_fadt_x_fields)
{
	struct world w = {0};

	build(&w, 2);
	/* The 32-bit DSDT field points at junk; X_DSDT is right and wins. */
	bogus_dsdt = w.mcfg;
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 0, x_dsdt_only);
	CHECK_EQ(init(&w), 0);
	CHECK_EQ(acpi_fadt()->dsdt, w.dsdt);
	CHECK(acpi_fadt()->s5_valid);
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 0, x_pm1a);
	CHECK_EQ(init(&w), 0);
	CHECK_EQ(acpi_fadt()->pm1a_cnt, 0x404);
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 0, far_pm1a);
	CHECK_EQ(init(&w), 0);
	CHECK_EQ(acpi_fadt()->pm1a_cnt, 0);
	CHECK(logged("acpi: FADT: PM1a_CNT_BLK port 0x10004 out of I/O range, ignored"));
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 0, mem_pm1a);
	CHECK_EQ(init(&w), 0);
	CHECK_EQ(acpi_fadt()->pm1a_cnt, 0);
	CHECK(logged("acpi: FADT: PM1a_CNT_BLK is in address space 0, not I/O, ignored"));
	CHECK_EQ(acpi_poweroff(), -ENOENT);
	/* DSDT pointer at a table that is not a DSDT. */
	replace_fadt(&w, w.mcfg, FLAGS_DEFAULT, 0, NULL);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("signature MCFG, not DSDT, skipped"));
	CHECK(!acpi_fadt()->s5_valid);
	CHECK_EQ(acpi_poweroff(), -ENOENT);
	/* No DSDT at all. */
	replace_fadt(&w, 0, FLAGS_DEFAULT, 0, NULL);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: FADT: no DSDT address, no \\_S5_"));
	CHECK_EQ(acpi_poweroff(), -ENOENT);
	done(&w);
}

TEST(acpi_dsdt_without_s5_or_bad)
{
	struct world w = {0};
	struct abuf t;

	build(&w, 2);
	ab_init(&t);
	dsdt_table(&t, false);
	w.dsdt = place(&w.mem, &t);
	replace_fadt(&w, w.dsdt, FLAGS_DEFAULT, 0, NULL);
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: DSDT: no \\_S5_ package, ACPI poweroff unavailable"));
	CHECK(acpi_fadt() && !acpi_fadt()->s5_valid);
	CHECK_EQ(acpi_poweroff(), -ENOENT);
	/* A DSDT with a bad checksum is recorded invalid and not scanned. */
	build(&w, 2);
	w.mem.p[w.dsdt + 40] ^= 1;
	CHECK_EQ(init(&w), 0);
	CHECK(logged("acpi: DSDT DSDT at"));
	CHECK(acpi_table_count() == 5 && !acpi_table_at(4)->valid);
	CHECK(!acpi_fadt()->s5_valid);
	CHECK_EQ(acpi_poweroff(), -ENOENT);
	done(&w);
}

TEST(acpi_no_fadt)
{
	struct world w = {0};

	build(&w, 2);
	ab_set64(&w.mem, w.xsdt + 36, w.mcfg); /* FACP slot now names MCFG */
	ab_fix_checksum(&w.mem, w.xsdt);
	CHECK_EQ(init(&w), 0);
	CHECK(acpi_fadt() == NULL);
	CHECK_EQ(acpi_poweroff(), -ENOENT);
	CHECK_EQ(acpi_reset(), -ENOTSUP);
	CHECK_EQ(acpi_table_count(), 4);
	done(&w);
}

/* ---- the \_S5_ scan on raw AML */

TEST(acpi_aml_s5_forms)
{
	uint8_t a = 0xee, b = 0xee;
	struct abuf t;

	ab_init(&t);
	ab_aml_s5(&t, 5, 5, 0);
	CHECK_EQ(acpi_aml_find_s5(t.p, t.len, &a, &b), 0);
	CHECK_EQ(a, 5);
	CHECK_EQ(b, 5);
	/* Every truncation: no read past the end, found only when whole
	 * enough to hold both values. */
	for (size_t n = 0; n < t.len; n++) {
		uint8_t *c = malloc(n ? n : 1);
		memcpy(c, t.p, n);
		int r = acpi_aml_find_s5(c, n, &a, &b);
		CHECK(n >= 10 ? r == 0 : r == -ENOENT); /* 10: typa only */
		free(c);
	}
	ab_free(&t);
	/* Bare Zero/One constants (QEMU: Package(4){Zero, Zero, Zero, Zero}). */
	static const uint8_t zero_one[] = {0x08, '_',  'S',  '5',  '_',	 0x12,
					   0x06, 0x04, 0x01, 0x00, 0x00, 0x00};
	CHECK_EQ(acpi_aml_find_s5(zero_one, sizeof(zero_one), &a, &b), 0);
	CHECK_EQ(a, 1);
	CHECK_EQ(b, 0);
	/* Two-byte PkgLength (lead byte 0x4n), word constants. */
	static const uint8_t pkg2[] = {0x08, '\\', '_',	 'S',  '5',  '_',  0x12, 0x4a,
				       0x00, 0x02, 0x0b, 0x06, 0x00, 0x0a, 0x03};
	CHECK_EQ(acpi_aml_find_s5(pkg2, sizeof(pkg2), &a, &b), 0);
	CHECK_EQ(a, 6);
	CHECK_EQ(b, 3);
	/* A single element: SLP_TYPb taken as 0. */
	static const uint8_t one[] = {0x08, '_', 'S', '5', '_', 0x12, 0x03, 0x01, 0x0a, 0x07};
	CHECK_EQ(acpi_aml_find_s5(one, sizeof(one), &a, &b), 0);
	CHECK_EQ(a, 7);
	CHECK_EQ(b, 0);
	/* Not a Name, not a Package, element not a constant. */
	static const uint8_t notname[] = {0x10, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x01, 0x00};
	static const uint8_t notpkg[] = {0x08, '_', 'S', '5', '_', 0x0a, 0x05};
	static const uint8_t notconst[] = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x70, 0x00};
	static const uint8_t at0[] = {'_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x01, 0x01};
	CHECK_EQ(acpi_aml_find_s5(notname, sizeof(notname), &a, &b), -ENOENT);
	CHECK_EQ(acpi_aml_find_s5(notpkg, sizeof(notpkg), &a, &b), -ENOENT);
	CHECK_EQ(acpi_aml_find_s5(notconst, sizeof(notconst), &a, &b), -ENOENT);
	CHECK_EQ(acpi_aml_find_s5(at0, sizeof(at0), &a, &b), -ENOENT);
	CHECK_EQ(acpi_aml_find_s5(NULL, 0, &a, &b), -ENOENT);
	/* PkgLength with three following bytes that end the buffer. */
	static const uint8_t longpkg[] = {0x08, '_', 'S', '5', '_', 0x12, 0xc0, 0x00, 0x00, 0x00};
	CHECK_EQ(acpi_aml_find_s5(longpkg, sizeof(longpkg), &a, &b), -ENOENT);
}

/* ---- the console command, found through the command table */

extern const struct command __start_sluice_cmds[], __stop_sluice_cmds[];

static const struct command *find_cmd(const char *name)
{
	for (const struct command *c = __start_sluice_cmds; c < __stop_sluice_cmds; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

TEST(acpi_command)
{
	const struct command *c = find_cmd("acpi");
	struct world w = {0};
	char expect[256];
	char *argv[] = {"acpi", "extra", NULL};

	CHECK(c != NULL);
	if (!c)
		return;
	build(&w, 2);
	w.mem.p[w.mcfg + 40] ^= 1;
	CHECK_EQ(init(&w), 0);
	test_con_reset();
	CHECK_EQ(c->fn(1, argv), 0);
	snprintf(expect, sizeof(expect),
		 "sig=FACP addr=0x%llx len=276\n"
		 "sig=APIC addr=0x%llx len=%u\n"
		 "sig=MCFG addr=0x%llx len=60 valid=0\n"
		 "sig=DMAR addr=0x%llx len=96\n"
		 "sig=DSDT addr=0x%llx len=%u\n",
		 (unsigned long long)w.fadt, (unsigned long long)w.madt, acpi_table_at(1)->len,
		 (unsigned long long)w.mcfg, (unsigned long long)w.dmar, (unsigned long long)w.dsdt,
		 acpi_table_at(4)->len);
	CHECK(!strcmp(test_con_buf, expect));
	if (strcmp(test_con_buf, expect))
		fprintf(stderr, "got:\n%swant:\n%s", test_con_buf, expect);
	test_con_reset();
	CHECK_EQ(c->fn(2, argv), -EINVAL);
	CHECK_EQ(test_con_len, 0);
	CHECK(strstr(test_cmd_msg, "no arguments") != NULL);
	/* No ACPI: no records, still OK. */
	test_con_reset();
	CHECK_EQ(acpi_init(0x7fffffff), -ENOENT);
	test_con_reset();
	CHECK_EQ(c->fn(1, argv), 0);
	CHECK_EQ(test_con_len, 0);
	done(&w);
}
