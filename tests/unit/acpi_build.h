/*
 * tests/unit/acpi_build.h — builds synthetic ACPI tables (RSDP, XSDT, RSDT,
 * MADT, MCFG, FADT, DSDT, DMAR) in growable byte buffers for the ACPI and
 * DMAR unit tests.  Little-endian, as ACPI is.
 */
#ifndef SLUICE_TESTS_UNIT_ACPI_BUILD_H
#define SLUICE_TESTS_UNIT_ACPI_BUILD_H

#include <stddef.h>
#include <stdint.h>

struct abuf {
	uint8_t *p;
	size_t len, cap;
};

void ab_init(struct abuf *b);
void ab_free(struct abuf *b);
void ab_u8(struct abuf *b, uint8_t v);
void ab_u16(struct abuf *b, uint16_t v);
void ab_u32(struct abuf *b, uint32_t v);
void ab_u64(struct abuf *b, uint64_t v);
void ab_bytes(struct abuf *b, const void *p, size_t n);
void ab_zero(struct abuf *b, size_t n);
void ab_align(struct abuf *b, size_t a);
void ab_set16(struct abuf *b, size_t off, uint16_t v);
void ab_set32(struct abuf *b, size_t off, uint32_t v);
void ab_set64(struct abuf *b, size_t off, uint64_t v);

/* ACPI table: a 36-byte header; end() fills length and checksum. */
size_t ab_table_begin(struct abuf *b, const char sig[4], uint8_t rev);
void ab_table_end(struct abuf *b, size_t start);
/* Recomputes the checksum of the table at start (after a test edits it). */
void ab_fix_checksum(struct abuf *b, size_t start);

/* RSDP (36 bytes for rev >= 2, 20 for rev 0) with correct checksums. */
void ab_rsdp(struct abuf *b, uint8_t rev, uint32_t rsdt, uint64_t xsdt);

/* DMAR (VT-d 8.1).  Structures: begin, add scopes, end (sets Length). */
size_t ab_dmar_begin(struct abuf *b, uint8_t haw_field, uint8_t flags);
size_t ab_drhd_begin(struct abuf *b, uint8_t flags, uint8_t size, uint16_t seg, uint64_t base);
size_t ab_rmrr_begin(struct abuf *b, uint16_t seg, uint64_t base, uint64_t limit);
size_t ab_atsr_begin(struct abuf *b, uint8_t flags, uint16_t seg);
size_t ab_satc_begin(struct abuf *b, uint8_t flags, uint16_t seg);
void ab_rhsa(struct abuf *b, uint64_t base, uint32_t prox);
void ab_andd(struct abuf *b, uint8_t acpi_dev, const char *name);
void ab_struct_end(struct abuf *b, size_t start);
/* Device scope with npath (dev, fn) pairs from path[2*npath]. */
void ab_scope(struct abuf *b, uint8_t type, uint8_t enum_id, uint8_t start_bus, unsigned npath,
	      const uint8_t *path);

/* The DMAR QEMU 7.2 q35 builds (build_dmar_q35): HAW 39 (field 38),
 * INTR_REMAP, one DRHD at 0xFED90000 (not INCLUDE_PCI_ALL) with the IOAPIC
 * scope (id 0, FF:00.0) and endpoint scopes 00:01.0, 00:02.0, 00:03.0. */
void ab_qemu_dmar(struct abuf *b);

/* Minimal "Name(_S5_, Package(){a, b, 0, 0})" AML; root: with a leading '\'. */
void ab_aml_s5(struct abuf *b, uint8_t typa, uint8_t typb, int root);

#endif
