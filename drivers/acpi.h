/*
 * drivers/acpi.h — ACPI static tables: RSDP/XSDT/RSDT walk, the table list,
 * and the few tables sluice needs (MADT, MCFG, FADT + the DSDT's \_S5_).
 *
 * Everything read from firmware is validated before use (lengths, bounds,
 * checksums); a malformed table is logged ("acpi: ...") and skipped, never
 * trusted.  docs/acpi.md lists what is parsed and every message.
 *
 * Parsing is pure over memory: tables are reached through acpi_map(), which
 * is phys_to_virt() in sluice, and a bounded window over a buffer in host
 * tests and fuzzers (acpi_set_window()).
 */
#ifndef SLUICE_DRIVERS_ACPI_H
#define SLUICE_DRIVERS_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Tables longer than this are treated as malformed (the largest real DSDTs
 * are around 1 MiB; this bounds what a corrupt length can make us read). */
#define ACPI_MAX_TABLE_LEN (16u << 20)

struct acpi_table_ref {
	char sig[5];   /* NUL-terminated signature */
	uint64_t addr; /* physical address of the header */
	uint32_t len;  /* header length field */
	bool valid;    /* length sane and checksum correct */
};

/* Reads the RSDP at rsdp_pa and records every table the XSDT (or RSDT)
 * names, plus the DSDT named by the FADT, then parses MADT, MCFG and FADT.
 * Replaces any earlier state.  -ENOENT: no RSDP (rsdp_pa 0 or unreadable)
 * or no usable root table; -EINVAL: RSDP signature or checksum wrong. */
int acpi_init(uint64_t rsdp_pa) MUST_CHECK;

unsigned acpi_table_count(void);
const struct acpi_table_ref *acpi_table_at(unsigned i); /* NULL if out of range */
/* First valid table with this signature; its length in *len (len may be NULL). */
const void *acpi_find(const char sig[4], uint32_t *len);

/* ---- MADT (ACPI 6.5 5.2.12) */
struct acpi_ioapic {
	uint8_t id;
	uint32_t addr;
	uint32_t gsi_base;
};

/* MPS INTI flags (ACPI 6.5 Table 5.26). */
#define ACPI_MADT_POLARITY_MASK 0x3u
#define ACPI_MADT_POLARITY_HIGH 0x1u
#define ACPI_MADT_POLARITY_LOW 0x3u
#define ACPI_MADT_TRIGGER_MASK 0xcu
#define ACPI_MADT_TRIGGER_EDGE 0x4u
#define ACPI_MADT_TRIGGER_LEVEL 0xcu

struct acpi_iso { /* Interrupt Source Override */
	uint8_t bus;
	uint8_t irq; /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags; /* polarity bits 1:0, trigger mode bits 3:2 */
};

struct acpi_madt_info {
	uint64_t lapic_addr; /* after any Local APIC Address Override */
	uint32_t flags;	     /* PCAT_COMPAT bit 0 */
	unsigned n_lapic;    /* enabled Processor Local APIC entries */
	uint32_t *lapic_ids;
	unsigned n_x2apic; /* enabled Processor Local x2APIC entries */
	uint32_t *x2apic_ids;
	unsigned n_ioapic;
	struct acpi_ioapic *ioapics;
	unsigned n_iso;
	struct acpi_iso *isos;
};
/* NULL when there is no valid MADT. */
const struct acpi_madt_info *acpi_madt(void);
/* GSI for an ISA IRQ after overrides (identity when none); flags in *flags
 * (0 = conforming to the bus) if flags is not NULL. */
uint32_t acpi_isa_irq_to_gsi(uint8_t irq, uint16_t *flags);

/* ---- MCFG (PCI Firmware spec 3.2 4.1.2) */
struct acpi_mcfg_segment {
	uint64_t base; /* ECAM base address for bus 0 of the segment */
	uint16_t segment;
	uint8_t start_bus, end_bus;
};
struct acpi_mcfg_info {
	unsigned n;
	struct acpi_mcfg_segment *seg;
};
const struct acpi_mcfg_info *acpi_mcfg(void); /* NULL if none */

/* ---- FADT (ACPI 6.5 5.2.9) */
struct acpi_gas {	  /* Generic Address Structure (5.2.3.2) */
	uint8_t space_id; /* ACPI_GAS_* */
	uint8_t bit_width, bit_offset, access_size;
	uint64_t addr;
};
#define ACPI_GAS_MEMORY 0
#define ACPI_GAS_IO 1
#define ACPI_GAS_PCI_CONFIG 2

struct acpi_fadt_info {
	uint32_t flags;
	uint16_t pm1a_cnt, pm1b_cnt; /* I/O ports; 0 = absent */
	uint16_t pm_tmr;	     /* PM timer port; 0 = absent */
	bool pm_tmr_32bit;	     /* flags.TMR_VAL_EXT */
	bool reset_supported;	     /* flags.RESET_REG_SUP and a usable register */
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint64_t dsdt; /* X_DSDT when non-zero, else DSDT */
	bool s5_valid; /* \_S5_ found in a valid DSDT */
	uint8_t slp_typa, slp_typb;
};
const struct acpi_fadt_info *acpi_fadt(void); /* NULL if no valid FADT */

/* Looks for Name(_S5_, Package(){a, b, ...}) in AML (a DSDT or SSDT body)
 * and returns 0 with the two SLP_TYP values, or -ENOENT.  Pure. */
int acpi_aml_find_s5(const uint8_t *aml, size_t len, uint8_t *typa, uint8_t *typb) MUST_CHECK;

/* Writes SLP_TYPx|SLP_EN to PM1a (and PM1b) control: returns only on
 * failure (-ENOENT: no FADT or no \_S5_; -EIO if the machine stayed on,
 * which only host tests see). */
int acpi_poweroff(void) MUST_CHECK;
/* Writes the FADT reset value to the reset register.  -ENOTSUP if the FADT
 * has none (the caller falls back to port 0xCF9). */
int acpi_reset(void) MUST_CHECK;

/* Address translation for tables.  Default: phys_to_virt(), no bounds.
 * With a window set, physical address pa means buf + pa and any read that
 * is not wholly inside [0, len) is a malformed table.  Host tests and
 * fuzzers only; buf NULL restores the default. */
void acpi_set_window(const void *buf, uint64_t len);
/* The pointer for [pa, pa + len) or NULL if it is not readable. */
const void *acpi_map(uint64_t pa, uint64_t len);

#endif
