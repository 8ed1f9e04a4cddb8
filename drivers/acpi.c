/*
 * drivers/acpi.c — ACPI static tables: RSDP, XSDT/RSDT, MADT, MCFG, FADT and
 * the \_S5_ object of the DSDT; ACPI poweroff and reset.
 *
 * Firmware tables are input, not truth: every length is checked against its
 * parent before it is used, every read goes through acpi_map() (bounded in
 * tests and fuzzers), checksums are verified, and any problem is one
 * "acpi: <table>: <problem>" log line after which the table is skipped.
 * Spec references are ACPI 6.5.
 */
#include "drivers/acpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "kernel/log.h"

#define ACPI_HDR_LEN 36u
#define RSDP_V1_LEN 20u
#define RSDP_V2_MIN_LEN 36u
#define RSDP_MAX_LEN 4096u

/* FADT field offsets (5.2.9, Table 5.9). */
#define FADT_DSDT 40
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM1B_CNT_BLK 68
#define FADT_PM_TMR_BLK 76
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_DSDT 140
#define FADT_X_PM1A_CNT_BLK 172
#define FADT_X_PM1B_CNT_BLK 184
#define FADT_X_PM_TMR_BLK 208
#define FADT_FLAG_TMR_VAL_EXT (1u << 8)
#define FADT_FLAG_RESET_REG_SUP (1u << 10)

/* PM1 control register (4.8.3.2.1): SLP_TYP bits 12:10, SLP_EN bit 13. */
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_EN (1u << 13)

/* MADT (5.2.12) */
#define MADT_ENTRIES 44u
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_ADDR_OVR 5
#define MADT_X2APIC 9
#define MADT_LAPIC_ENABLED 1u

/* MCFG: header, 8 reserved bytes, then 16-byte allocation entries. */
#define MCFG_ENTRIES 44u
#define MCFG_ENTRY_LEN 16u

/* AML opcodes (20.2) used by the \_S5_ scan. */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_QWORD_PREFIX 0x0e
#define AML_PACKAGE_OP 0x12
#define AML_ROOT_CHAR 0x5c
#define AML_ONES_OP 0xff

static struct {
	const uint8_t *buf; /* NULL: identity map */
	uint64_t len;
} win;

static struct acpi_table_ref *tables;
static unsigned ntables, cap_tables;
static struct acpi_madt_info madt, *madt_ok;
static struct acpi_mcfg_info mcfg, *mcfg_ok;
static struct acpi_fadt_info fadt, *fadt_ok;

void acpi_set_window(const void *buf, uint64_t len)
{
	win.buf = buf;
	win.len = buf ? len : 0;
}

const void *acpi_map(uint64_t pa, uint64_t len)
{
	if (pa + len < pa)
		return NULL;
	if (win.buf) {
		if (pa > win.len || len > win.len - pa)
			return NULL;
		return win.buf + pa;
	}
	if (pa == 0)
		return NULL;
	return phys_to_virt(pa);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum8(const uint8_t *p, uint64_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Printable copy of a signature for log lines (firmware bytes may be junk). */
static void sig_str(char out[5], const uint8_t *sig)
{
	for (int i = 0; i < 4; i++)
		out[i] = (sig[i] > 0x20 && sig[i] < 0x7f) ? (char)sig[i] : '?';
	out[4] = 0;
}

static void free_state(void)
{
	free(tables);
	tables = NULL;
	ntables = cap_tables = 0;
	free(madt.lapic_ids);
	free(madt.x2apic_ids);
	free(madt.ioapics);
	free(madt.isos);
	memset(&madt, 0, sizeof(madt));
	madt_ok = NULL;
	free(mcfg.seg);
	memset(&mcfg, 0, sizeof(mcfg));
	mcfg_ok = NULL;
	memset(&fadt, 0, sizeof(fadt));
	fadt_ok = NULL;
}

static int add_table(const struct acpi_table_ref *t)
{
	if (ntables == cap_tables) {
		unsigned ncap = cap_tables ? cap_tables * 2 : 16;
		struct acpi_table_ref *n = realloc(tables, ncap * sizeof(*n));

		if (!n) {
			klog("acpi: out of memory recording table %s, skipped", t->sig);
			return -ENOMEM;
		}
		tables = n;
		cap_tables = ncap;
	}
	tables[ntables++] = *t;
	return 0;
}

/*
 * Checks the table at pa: readable header, 36 <= length <= ACPI_MAX_TABLE_LEN,
 * body readable, checksum zero.  Fills *ref (valid says whether it passed);
 * returns false when even the header could not be read (nothing to record).
 * what: the name used in log lines ("XSDT", "table 3 of the XSDT").
 */
static bool check_table(uint64_t pa, const char *what, struct acpi_table_ref *ref)
{
	const uint8_t *h = acpi_map(pa, ACPI_HDR_LEN);
	uint32_t len;

	memset(ref, 0, sizeof(*ref));
	if (!h) {
		klog("acpi: %s at 0x%llx: header not readable, skipped", what,
		     (unsigned long long)pa);
		return false;
	}
	sig_str(ref->sig, h);
	ref->addr = pa;
	len = ref->len = rd32(h + 4);
	if (len < ACPI_HDR_LEN) {
		klog("acpi: %s %s at 0x%llx: length %u shorter than its header, skipped", what,
		     ref->sig, (unsigned long long)pa, len);
		return true;
	}
	if (len > ACPI_MAX_TABLE_LEN) {
		klog("acpi: %s %s at 0x%llx: length %u over the %u byte limit, skipped", what,
		     ref->sig, (unsigned long long)pa, len, ACPI_MAX_TABLE_LEN);
		return true;
	}
	h = acpi_map(pa, len);
	if (!h) {
		klog("acpi: %s %s at 0x%llx: length %u runs past readable memory, skipped", what,
		     ref->sig, (unsigned long long)pa, len);
		return true;
	}
	if (sum8(h, len) != 0) {
		klog("acpi: %s %s at 0x%llx: bad checksum, skipped", what, ref->sig,
		     (unsigned long long)pa);
		return true;
	}
	ref->valid = true;
	return true;
}

/* Records every table listed by a root table (entry size 8: XSDT, 4: RSDT). */
static void walk_root(const uint8_t *root, uint32_t len, unsigned esize, const char *name)
{
	uint32_t n = (len - ACPI_HDR_LEN) / esize;
	char what[48];

	if ((len - ACPI_HDR_LEN) % esize)
		klog("acpi: %s: length %u leaves a partial entry, ignored", name, len);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = root + ACPI_HDR_LEN + (uint64_t)i * esize;
		uint64_t pa = esize == 8 ? rd64(e) : rd32(e);
		struct acpi_table_ref ref;

		snprintf(what, sizeof(what), "%s entry %u", name, i);
		if (pa == 0) {
			klog("acpi: %s is a null pointer, skipped", what);
			continue;
		}
		if (check_table(pa, what, &ref) && add_table(&ref))
			return;
	}
}

/* ---- MADT */

static void parse_madt(void)
{
	uint32_t len;
	const uint8_t *t = acpi_find("APIC", &len);
	unsigned nl = 0, nx = 0, nio = 0, niso = 0;

	if (!t)
		return;
	if (len < MADT_ENTRIES) {
		klog("acpi: MADT: length %u too short for its fixed fields, skipped", len);
		return;
	}
	/* Pass 1: validate entry lengths and count, so arrays fit exactly. */
	for (int pass = 0; pass < 2; pass++) {
		uint32_t off = MADT_ENTRIES;

		while (off < len) {
			const uint8_t *e = t + off;
			uint8_t type, elen;

			if (len - off < 2) {
				if (pass == 0)
					klog("acpi: MADT: truncated entry at offset %u, ignored",
					     off);
				break;
			}
			type = e[0];
			elen = e[1];
			if (elen < 2 || elen > len - off) {
				if (pass == 0)
					klog("acpi: MADT: entry at offset %u has length %u (table %u), rest ignored",
					     off, elen, len);
				break;
			}
			switch (type) {
			case MADT_LAPIC:
				if (elen < 8)
					goto short_entry;
				if (rd32(e + 4) & MADT_LAPIC_ENABLED) {
					if (pass)
						madt.lapic_ids[madt.n_lapic++] = e[3];
					else
						nl++;
				}
				break;
			case MADT_IOAPIC:
				if (elen < 12)
					goto short_entry;
				if (pass) {
					struct acpi_ioapic *io = &madt.ioapics[madt.n_ioapic++];
					io->id = e[2];
					io->addr = rd32(e + 4);
					io->gsi_base = rd32(e + 8);
				} else {
					nio++;
				}
				break;
			case MADT_ISO:
				if (elen < 10)
					goto short_entry;
				if (pass) {
					struct acpi_iso *s = &madt.isos[madt.n_iso++];
					s->bus = e[2];
					s->irq = e[3];
					s->gsi = rd32(e + 4);
					s->flags = rd16(e + 8);
				} else {
					niso++;
				}
				break;
			case MADT_LAPIC_ADDR_OVR:
				if (elen < 12)
					goto short_entry;
				if (pass)
					madt.lapic_addr = rd64(e + 4);
				break;
			case MADT_X2APIC:
				if (elen < 16)
					goto short_entry;
				if (rd32(e + 8) & MADT_LAPIC_ENABLED) {
					if (pass)
						madt.x2apic_ids[madt.n_x2apic++] = rd32(e + 4);
					else
						nx++;
				}
				break;
			default: break;
			}
			off += elen;
			continue;
		short_entry:
			if (pass == 0)
				klog("acpi: MADT: type %u entry at offset %u has length %u, too short, ignored",
				     type, off, elen);
			off += elen;
		}
		if (pass == 0) {
			madt.lapic_addr = rd32(t + 36);
			madt.flags = rd32(t + 40);
			/* +1: malloc(0) may return NULL. */
			madt.lapic_ids = malloc((nl + 1) * sizeof(uint32_t));
			madt.x2apic_ids = malloc((nx + 1) * sizeof(uint32_t));
			madt.ioapics = malloc((nio + 1) * sizeof(struct acpi_ioapic));
			madt.isos = malloc((niso + 1) * sizeof(struct acpi_iso));
			if (!madt.lapic_ids || !madt.x2apic_ids || !madt.ioapics || !madt.isos) {
				klog("acpi: MADT: out of memory, skipped");
				return;
			}
		}
	}
	madt_ok = &madt;
}

const struct acpi_madt_info *acpi_madt(void) { return madt_ok; }

uint32_t acpi_isa_irq_to_gsi(uint8_t irq, uint16_t *flags)
{
	if (flags)
		*flags = 0;
	if (madt_ok)
		for (unsigned i = 0; i < madt.n_iso; i++)
			if (madt.isos[i].bus == 0 && madt.isos[i].irq == irq) {
				if (flags)
					*flags = madt.isos[i].flags;
				return madt.isos[i].gsi;
			}
	return irq;
}

/* ---- MCFG */

static void parse_mcfg(void)
{
	uint32_t len, n;
	const uint8_t *t = acpi_find("MCFG", &len);

	if (!t)
		return;
	if (len < MCFG_ENTRIES) {
		klog("acpi: MCFG: length %u too short for its fixed fields, skipped", len);
		return;
	}
	if ((len - MCFG_ENTRIES) % MCFG_ENTRY_LEN)
		klog("acpi: MCFG: length %u leaves a partial entry, ignored", len);
	n = (len - MCFG_ENTRIES) / MCFG_ENTRY_LEN;
	mcfg.seg = malloc((n + 1) * sizeof(*mcfg.seg));
	if (!mcfg.seg) {
		klog("acpi: MCFG: out of memory, skipped");
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = t + MCFG_ENTRIES + i * MCFG_ENTRY_LEN;
		struct acpi_mcfg_segment s = {.base = rd64(e),
					      .segment = rd16(e + 8),
					      .start_bus = e[10],
					      .end_bus = e[11]};

		if (s.end_bus < s.start_bus) {
			klog("acpi: MCFG: entry %u: end bus 0x%02x below start bus 0x%02x, skipped",
			     i, s.end_bus, s.start_bus);
			continue;
		}
		if (s.base == 0 || (s.base & 0xfffff)) {
			/* ECAM windows are 1 MiB per bus, naturally aligned (PCIe 7.2.2). */
			klog("acpi: MCFG: entry %u: ECAM base 0x%llx is zero or not 1 MiB aligned, skipped",
			     i, (unsigned long long)s.base);
			continue;
		}
		mcfg.seg[mcfg.n++] = s;
	}
	mcfg_ok = &mcfg;
}

const struct acpi_mcfg_info *acpi_mcfg(void) { return mcfg_ok; }

/* ---- FADT and \_S5_ */

/* Reads one AML integer term that is a constant (Zero/One/Ones or a
 * Byte/Word/DWord/QWord const); its low 8 bits in *v.  Returns the bytes
 * consumed, 0 if the term is something else or truncated. */
static size_t aml_small_int(const uint8_t *p, size_t left, uint8_t *v)
{
	static const uint8_t sizes[] = {[AML_BYTE_PREFIX] = 1,
					[AML_WORD_PREFIX] = 2,
					[AML_DWORD_PREFIX] = 4,
					[AML_QWORD_PREFIX] = 8};

	if (left < 1)
		return 0;
	switch (p[0]) {
	case AML_ZERO_OP: *v = 0; return 1;
	case AML_ONE_OP: *v = 1; return 1;
	case AML_ONES_OP: *v = 0xff; return 1;
	case AML_BYTE_PREFIX:
	case AML_WORD_PREFIX:
	case AML_DWORD_PREFIX:
	case AML_QWORD_PREFIX:
		if (left < 1u + sizes[p[0]])
			return 0;
		*v = p[1];
		return 1u + sizes[p[0]];
	default: return 0;
	}
}

int acpi_aml_find_s5(const uint8_t *aml, size_t len, uint8_t *typa, uint8_t *typb)
{
	/* Name(_S5_, Package(){...}) encodes as NameOp [RootChar] "_S5_"
	 * PackageOp PkgLength NumElements elements... (20.2.5.1, 20.2.5.4). */
	for (size_t i = 1; i + 4 <= len; i++) {
		size_t p, nlen;
		uint8_t a, b;

		if (memcmp(aml + i, "_S5_", 4) != 0)
			continue;
		if (!(aml[i - 1] == AML_NAME_OP ||
		      (i >= 2 && aml[i - 1] == AML_ROOT_CHAR && aml[i - 2] == AML_NAME_OP)))
			continue;
		p = i + 4;
		if (p >= len || aml[p] != AML_PACKAGE_OP)
			continue;
		p++;
		if (p >= len)
			continue;
		/* PkgLength: bits 7:6 of the lead byte count the bytes that follow. */
		p += 1u + (aml[p] >> 6);
		p++; /* NumElements */
		if (p >= len)
			continue;
		nlen = aml_small_int(aml + p, len - p, &a);
		if (!nlen)
			continue;
		p += nlen;
		if (!aml_small_int(aml + p, len - p, &b))
			b = 0; /* some firmware gives one element; SLP_TYPb unused then */
		*typa = a;
		*typb = b;
		return 0;
	}
	return -ENOENT;
}

/* A FADT port field: the 32-bit block, or the X_ GAS when that is zero and
 * the GAS is an I/O port (5.2.9: X_ fields take precedence when non-zero). */
static uint16_t fadt_port(const uint8_t *t, uint32_t len, unsigned off32, unsigned offx,
			  const char *name)
{
	uint64_t port = len >= off32 + 4 ? rd32(t + off32) : 0;

	if (len >= offx + 12) {
		uint64_t xa = rd64(t + offx + 4);

		if (xa && t[offx] == ACPI_GAS_IO)
			port = xa;
		else if (xa && !port)
			klog("acpi: FADT: %s is in address space %u, not I/O, ignored", name,
			     t[offx]);
	}
	if (port > 0xffff) {
		klog("acpi: FADT: %s port 0x%llx out of I/O range, ignored", name,
		     (unsigned long long)port);
		return 0;
	}
	return (uint16_t)port;
}

static void parse_dsdt(void)
{
	struct acpi_table_ref ref;
	const uint8_t *t;

	if (!fadt.dsdt) {
		klog("acpi: FADT: no DSDT address, no \\_S5_");
		return;
	}
	if (!check_table(fadt.dsdt, "DSDT", &ref))
		return;
	if (memcmp(ref.sig, "DSDT", 4) != 0) {
		klog("acpi: DSDT at 0x%llx: signature %s, not DSDT, skipped",
		     (unsigned long long)fadt.dsdt, ref.sig);
		ref.valid = false;
	}
	if (add_table(&ref) || !ref.valid)
		return;
	t = acpi_map(ref.addr, ref.len);
	if (acpi_aml_find_s5(t + ACPI_HDR_LEN, ref.len - ACPI_HDR_LEN, &fadt.slp_typa,
			     &fadt.slp_typb) == 0)
		fadt.s5_valid = true;
	else
		klog("acpi: DSDT: no \\_S5_ package, ACPI poweroff unavailable");
}

static void parse_fadt(void)
{
	uint32_t len;
	const uint8_t *t = acpi_find("FACP", &len);

	if (!t)
		return;
	if (len < FADT_FLAGS + 4) {
		klog("acpi: FADT: length %u too short for its fixed fields, skipped", len);
		return;
	}
	fadt.flags = rd32(t + FADT_FLAGS);
	fadt.pm1a_cnt = fadt_port(t, len, FADT_PM1A_CNT_BLK, FADT_X_PM1A_CNT_BLK, "PM1a_CNT_BLK");
	fadt.pm1b_cnt = fadt_port(t, len, FADT_PM1B_CNT_BLK, FADT_X_PM1B_CNT_BLK, "PM1b_CNT_BLK");
	fadt.pm_tmr = fadt_port(t, len, FADT_PM_TMR_BLK, FADT_X_PM_TMR_BLK, "PM_TMR_BLK");
	fadt.pm_tmr_32bit = (fadt.flags & FADT_FLAG_TMR_VAL_EXT) != 0;
	if ((fadt.flags & FADT_FLAG_RESET_REG_SUP) && len >= FADT_RESET_VALUE + 1) {
		const uint8_t *g = t + FADT_RESET_REG;

		fadt.reset_reg.space_id = g[0];
		fadt.reset_reg.bit_width = g[1];
		fadt.reset_reg.bit_offset = g[2];
		fadt.reset_reg.access_size = g[3];
		fadt.reset_reg.addr = rd64(g + 4);
		fadt.reset_value = t[FADT_RESET_VALUE];
		if (fadt.reset_reg.addr == 0 ||
		    (fadt.reset_reg.space_id != ACPI_GAS_IO &&
		     fadt.reset_reg.space_id != ACPI_GAS_MEMORY) ||
		    (fadt.reset_reg.space_id == ACPI_GAS_IO && fadt.reset_reg.addr > 0xffff))
			klog("acpi: FADT: reset register (space %u, 0x%llx) unusable, ignored",
			     fadt.reset_reg.space_id, (unsigned long long)fadt.reset_reg.addr);
		else
			fadt.reset_supported = true;
	}
	fadt.dsdt = rd32(t + FADT_DSDT);
	if (len >= FADT_X_DSDT + 8 && rd64(t + FADT_X_DSDT))
		fadt.dsdt = rd64(t + FADT_X_DSDT);
	fadt_ok = &fadt;
	parse_dsdt();
}

const struct acpi_fadt_info *acpi_fadt(void) { return fadt_ok; }

int acpi_poweroff(void)
{
	if (!fadt_ok || !fadt.pm1a_cnt)
		return -ENOENT;
	if (!fadt.s5_valid)
		return -ENOENT;
	/* SLP_TYPx and SLP_EN in one write (4.8.3.2.1); PM1b only if present. */
	if (fadt.pm1b_cnt)
		outw(fadt.pm1b_cnt,
		     (uint16_t)((inw(fadt.pm1b_cnt) & ~(7u << PM1_CNT_SLP_TYP_SHIFT)) |
				(fadt.slp_typb & 7u) << PM1_CNT_SLP_TYP_SHIFT | PM1_CNT_SLP_EN));
	outw(fadt.pm1a_cnt,
	     (uint16_t)((inw(fadt.pm1a_cnt) & ~(7u << PM1_CNT_SLP_TYP_SHIFT)) |
			(fadt.slp_typa & 7u) << PM1_CNT_SLP_TYP_SHIFT | PM1_CNT_SLP_EN));
	return -EIO;
}

int acpi_reset(void)
{
	if (!fadt_ok || !fadt.reset_supported)
		return -ENOTSUP;
	if (fadt.reset_reg.space_id == ACPI_GAS_IO) {
		outb((uint16_t)fadt.reset_reg.addr, fadt.reset_value);
	} else {
		/* hw/hw.h has no 8-bit MMIO accessor; the reset register is
		 * 8 bits wide (5.2.9, RESET_REG), so write one byte. */
		*(volatile uint8_t *)phys_to_virt(fadt.reset_reg.addr) = fadt.reset_value;
	}
	return -EIO;
}

/* ---- RSDP and the table list */

/* Returns the root table (XSDT or RSDT) if it is valid, else NULL. */
static const uint8_t *root_table(uint64_t pa, const char *sig, uint32_t *len)
{
	struct acpi_table_ref ref;

	if (!check_table(pa, sig, &ref) || !ref.valid)
		return NULL;
	if (memcmp(ref.sig, sig, 4) != 0) {
		klog("acpi: %s at 0x%llx has signature %s, skipped", sig, (unsigned long long)pa,
		     ref.sig);
		return NULL;
	}
	*len = ref.len;
	return acpi_map(pa, ref.len);
}

int acpi_init(uint64_t rsdp_pa)
{
	const uint8_t *rsdp, *root = NULL;
	uint64_t xsdt = 0;
	uint32_t rsdt, len = 0;

	free_state();
	rsdp = acpi_map(rsdp_pa, RSDP_V1_LEN);
	if (!rsdp) {
		klog("acpi: RSDP at 0x%llx not readable, no ACPI", (unsigned long long)rsdp_pa);
		return -ENOENT;
	}
	if (memcmp(rsdp, "RSD PTR ", 8) != 0) {
		klog("acpi: RSDP at 0x%llx: bad signature, no ACPI", (unsigned long long)rsdp_pa);
		return -EINVAL;
	}
	/* 5.2.5.3: the first checksum covers the ACPI 1.0 part (20 bytes). */
	if (sum8(rsdp, RSDP_V1_LEN) != 0) {
		klog("acpi: RSDP: bad checksum, no ACPI");
		return -EINVAL;
	}
	rsdt = rd32(rsdp + 16);
	if (rsdp[15] >= 2) {
		const uint8_t *r2 = acpi_map(rsdp_pa, RSDP_V2_MIN_LEN);
		uint32_t rlen = r2 ? rd32(r2 + 20) : 0;

		if (!r2 || rlen < RSDP_V2_MIN_LEN || rlen > RSDP_MAX_LEN ||
		    !(r2 = acpi_map(rsdp_pa, rlen)))
			klog("acpi: RSDP: revision %u with bad length %u, XSDT not used", rsdp[15],
			     rlen);
		else if (sum8(r2, rlen) != 0)
			klog("acpi: RSDP: bad extended checksum, XSDT not used");
		else
			xsdt = rd64(r2 + 24);
	}
	if (xsdt) {
		root = root_table(xsdt, "XSDT", &len);
		if (root)
			walk_root(root, len, 8, "XSDT");
		else if (rsdt)
			klog("acpi: XSDT unusable, falling back to the RSDT");
	}
	if (!root && rsdt) {
		root = root_table(rsdt, "RSDT", &len);
		if (root)
			walk_root(root, len, 4, "RSDT");
	}
	if (!root) {
		klog("acpi: no usable XSDT or RSDT, no ACPI tables");
		return -ENOENT;
	}
	parse_madt();
	parse_mcfg();
	parse_fadt();
	return 0;
}

unsigned acpi_table_count(void) { return ntables; }

const struct acpi_table_ref *acpi_table_at(unsigned i) { return i < ntables ? &tables[i] : NULL; }

const void *acpi_find(const char sig[4], uint32_t *len)
{
	for (unsigned i = 0; i < ntables; i++)
		if (tables[i].valid && memcmp(tables[i].sig, sig, 4) == 0) {
			const void *p = acpi_map(tables[i].addr, tables[i].len);

			if (!p)
				continue;
			if (len)
				*len = tables[i].len;
			return p;
		}
	return NULL;
}
