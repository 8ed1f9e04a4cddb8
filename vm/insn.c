/*
 * vm/insn.c — decoder of the MMIO instruction subset (vm/insn.h).
 *
 * The decode is a single forward pass over the bytes: legacy prefixes, an
 * optional REX, the opcode, ModRM (memory forms only), SIB and displacement
 * (skipped: the exit already gives the address), then the immediate.  Every
 * byte goes through next(), which refuses both the 15-byte limit and the
 * end of what the caller fetched.
 */
#include "vm/insn.h"

#include <stddef.h>

#define REX_W 0x8u
#define REX_R 0x4u

struct dec {
	const uint8_t *bytes;
	unsigned avail, pos;
	bool lm64;	/* 64-bit mode */
	bool opsz16;	/* 0x66 */
	bool adsz;	/* 0x67 */
	uint8_t rex;	/* 0 or 0x40-0x4f */
};

static int next(struct dec *d, uint8_t *b)
{
	if (d->pos >= INSN_MAX_LEN)
		return -ENOTSUP; /* SDM 2.3.11: #GP, nothing to emulate */
	if (d->pos >= d->avail)
		return -EFAULT;
	*b = d->bytes[d->pos++];
	return 0;
}

/* n little-endian bytes (n <= 8). */
static int next_le(struct dec *d, unsigned n, uint64_t *v)
{
	*v = 0;
	for (unsigned i = 0; i < n; i++) {
		uint8_t b;
		int rc = next(d, &b);

		if (rc)
			return rc;
		*v |= (uint64_t)b << (8 * i);
	}
	return 0;
}

static int skip(struct dec *d, unsigned n)
{
	uint64_t ignored;

	return next_le(d, n, &ignored);
}

/* Legacy prefixes and REX; returns the opcode byte.  SDM 2.2.1: a REX not
 * immediately before the opcode is ignored, so a later prefix drops it. */
static int prefixes(struct dec *d, uint8_t *op)
{
	for (;;) {
		uint8_t b;
		int rc = next(d, &b);

		if (rc)
			return rc;
		switch (b) {
		case 0x66: d->opsz16 = true; d->rex = 0; break;
		case 0x67: d->adsz = true; d->rex = 0; break;
		case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
			d->rex = 0; /* segment: the exit's address already has it */
			break;
		case 0xf0: case 0xf2: case 0xf3: return -ENOTSUP; /* LOCK, REP: not MOV's */
		default:
			if (d->lm64 && (b & 0xf0) == 0x40) {
				d->rex = b;
				break;
			}
			*op = b;
			return 0;
		}
	}
}

/* Operand size of a non-byte operation (SDM 3.6.1, table 3-4): REX.W wins
 * over 0x66. */
static uint8_t opsize(const struct dec *d)
{
	if (d->rex & REX_W)
		return 8;
	return d->opsz16 ? 2 : 4;
}

/* 16-bit addressing (SDM table 2-1): only in a 32-bit segment with 0x67. */
static int modrm16_tail(struct dec *d, unsigned mod, unsigned rm)
{
	if (mod == 1)
		return skip(d, 1);
	if (mod == 2 || (mod == 0 && rm == 6))
		return skip(d, 2);
	return 0;
}

/* 32/64-bit addressing (SDM tables 2-2, 2-3).  The special cases look at
 * the 3-bit fields only: REX.B does not change them (SDM table 2-5). */
static int modrm32_tail(struct dec *d, unsigned mod, unsigned rm)
{
	unsigned base = rm;

	if (rm == 4) {
		uint8_t sib;
		int rc = next(d, &sib);

		if (rc)
			return rc;
		base = sib & 7u;
	}
	if (mod == 1)
		return skip(d, 1);
	if (mod == 2)
		return skip(d, 4);
	/* mod 00: rm 101 is disp32 (RIP-relative in 64-bit mode), SIB base
	 * 101 is disp32 with no base */
	if (base == 5)
		return skip(d, 4);
	return 0;
}

/* ModRM of a memory operand; *reg gets ModRM.reg extended by REX.R. */
static int modrm(struct dec *d, unsigned *reg)
{
	uint8_t m;
	int rc = next(d, &m);
	unsigned mod = m >> 6, rm = m & 7u;

	if (rc)
		return rc;
	if (mod == 3)
		return -ENOTSUP; /* a register operand: no memory access */
	*reg = ((m >> 3) & 7u) | ((d->rex & REX_R) ? 8u : 0u);
	if (!d->lm64 && d->adsz)
		return modrm16_tail(d, mod, rm);
	return modrm32_tail(d, mod, rm);
}

/* A byte register in ModRM.reg: without REX, 4-7 are AH, CH, DH, BH
 * (SDM 3.7.2.1); with any REX they are SPL, BPL, SIL, DIL. */
static uint8_t byte_reg(const struct dec *d, unsigned reg)
{
	if (!d->rex && reg >= 4 && reg < 8)
		return (uint8_t)(INSN_AH + (reg - 4));
	return (uint8_t)reg;
}

static int mov_modrm(struct dec *d, struct insn_mmio *o, bool write, bool byte)
{
	unsigned reg;
	int rc = modrm(d, &reg);

	if (rc)
		return rc;
	o->write = write;
	o->size = byte ? 1 : opsize(d);
	o->reg = byte ? byte_reg(d, reg) : (uint8_t)reg;
	o->dst_size = write ? 0 : o->size;
	return 0;
}

static uint64_t sext32(uint64_t v)
{
	return (uint64_t)(int64_t)(int32_t)(uint32_t)v;
}

/* C6 /0 ib, C7 /0 iw/id (REX.W: id sign-extended to 64 bits, SDM MOV). */
static int mov_imm(struct dec *d, struct insn_mmio *o, bool byte)
{
	unsigned reg;
	int rc = modrm(d, &reg);

	if (rc)
		return rc;
	if (reg & 7u)
		return -ENOTSUP; /* /1../7: not MOV */
	o->write = true;
	o->imm_src = true;
	o->size = byte ? 1 : opsize(d);
	rc = next_le(d, o->size == 8 ? 4 : o->size, &o->imm);
	if (rc)
		return rc;
	if (o->size == 8)
		o->imm = sext32(o->imm);
	return 0;
}

/* A0-A3: the address is an immediate moffs of the address size. */
static int mov_moffs(struct dec *d, struct insn_mmio *o, uint8_t op)
{
	unsigned asize = d->lm64 ? (d->adsz ? 4 : 8) : (d->adsz ? 2 : 4);
	bool byte = !(op & 1u);
	int rc = skip(d, asize);

	if (rc)
		return rc;
	o->write = op >= 0xa2;
	o->size = byte ? 1 : opsize(d);
	o->reg = INSN_RAX;
	o->dst_size = o->write ? 0 : o->size;
	return 0;
}

/* 0F B6 / 0F B7: MOVZX r16/32/64, m8/m16. */
static int movzx(struct dec *d, struct insn_mmio *o)
{
	uint8_t op2;
	unsigned reg;
	int rc = next(d, &op2);

	if (rc)
		return rc;
	if (op2 != 0xb6 && op2 != 0xb7)
		return -ENOTSUP;
	rc = modrm(d, &reg);
	if (rc)
		return rc;
	o->size = op2 == 0xb6 ? 1 : 2;
	o->reg = (uint8_t)reg;
	o->dst_size = opsize(d);
	o->zext = true;
	return 0;
}

static int opcode(struct dec *d, struct insn_mmio *o, uint8_t op)
{
	switch (op) {
	case 0x88: return mov_modrm(d, o, true, true);
	case 0x89: return mov_modrm(d, o, true, false);
	case 0x8a: return mov_modrm(d, o, false, true);
	case 0x8b: return mov_modrm(d, o, false, false);
	case 0xc6: return mov_imm(d, o, true);
	case 0xc7: return mov_imm(d, o, false);
	case 0xa0: case 0xa1: case 0xa2: case 0xa3: return mov_moffs(d, o, op);
	case 0x0f: return movzx(d, o);
	default: return -ENOTSUP;
	}
}

int insn_decode_mmio(const uint8_t *bytes, unsigned avail, bool long_mode_64,
		     struct insn_mmio *out)
{
	struct dec d = {.bytes = bytes, .avail = avail, .lm64 = long_mode_64};
	struct insn_mmio o = {0};
	uint8_t op;
	int rc = prefixes(&d, &op);

	if (!rc)
		rc = opcode(&d, &o, op);
	if (rc)
		return rc;
	o.len = (uint8_t)d.pos;
	*out = o;
	return 0;
}

/* -------------------------------------------------------------- registers */

/* SDM table 3-1 order -> struct vcpu_regs fields */
static const size_t reg_off[16] = {
	offsetof(struct vcpu_regs, rax), offsetof(struct vcpu_regs, rcx),
	offsetof(struct vcpu_regs, rdx), offsetof(struct vcpu_regs, rbx),
	offsetof(struct vcpu_regs, rsp), offsetof(struct vcpu_regs, rbp),
	offsetof(struct vcpu_regs, rsi), offsetof(struct vcpu_regs, rdi),
	offsetof(struct vcpu_regs, r8),	 offsetof(struct vcpu_regs, r9),
	offsetof(struct vcpu_regs, r10), offsetof(struct vcpu_regs, r11),
	offsetof(struct vcpu_regs, r12), offsetof(struct vcpu_regs, r13),
	offsetof(struct vcpu_regs, r14), offsetof(struct vcpu_regs, r15),
};

static uint64_t *reg_slot(struct vcpu_regs *r, unsigned n)
{
	return (uint64_t *)((char *)r + reg_off[n & 15u]);
}

static const uint64_t *reg_cslot(const struct vcpu_regs *r, unsigned n)
{
	return (const uint64_t *)((const char *)r + reg_off[n & 15u]);
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

uint64_t insn_reg_get(const struct vcpu_regs *r, unsigned n)
{
	if (n >= INSN_NREGS)
		return 0;
	if (n >= INSN_AH)
		return (*reg_cslot(r, n - INSN_AH) >> 8) & 0xffu;
	return *reg_cslot(r, n);
}

void insn_reg_set(struct vcpu_regs *r, unsigned n, unsigned size, uint64_t val)
{
	uint64_t *p, m;

	if (n >= INSN_NREGS || (size != 1 && size != 2 && size != 4 && size != 8))
		return;
	if (n >= INSN_AH) {
		if (size != 1)
			return;
		p = reg_slot(r, n - INSN_AH);
		*p = (*p & ~0xff00ull) | (val & 0xffu) << 8;
		return;
	}
	p = reg_slot(r, n);
	m = size_mask(size);
	if (size >= 4)
		*p = val & m; /* SDM 3.4.1.1: a 32-bit result zero-extends */
	else
		*p = (*p & ~m) | (val & m);
}

uint64_t insn_mmio_value(const struct vcpu_regs *r, const struct insn_mmio *in)
{
	uint64_t v = in->imm_src ? in->imm : insn_reg_get(r, in->reg);

	return v & size_mask(in->size);
}

void insn_mmio_complete(struct vcpu_regs *r, const struct insn_mmio *in, uint64_t val)
{
	insn_reg_set(r, in->reg, in->dst_size, val & size_mask(in->size));
}
