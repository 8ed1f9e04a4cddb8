// SOURCES: vm/insn.c
/* tests/fuzz/fuzz_insn.c — vm/insn.c over random bytes.  Invariants: the
 * result is 0, -EFAULT or -ENOTSUP; the decoder never reads past avail (the
 * bytes sit in a heap buffer of exactly avail bytes, ASan watches); a
 * decode is at most 15 bytes and self-consistent (sizes, registers, the
 * immediate within its size); the same bytes cut to the decoded length
 * decode the same, one byte shorter is -EFAULT; -EFAULT turns into
 * something else once 15 bytes are there; and the canonical encoding of
 * the decoded operation (MOV/MOVZX with a [rdi] operand) decodes to the
 * same operation.
 *
 * Input: byte 0 bit 0 = 64-bit mode, the rest is the instruction. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/insn.h"

#define ASSERT(c)                         \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static int decode_exact(const uint8_t *bytes, size_t n, bool lm64, struct insn_mmio *o)
{
	uint8_t *buf = malloc(n ? n : 1);
	int rc;

	if (n)
		memcpy(buf, bytes, n);
	rc = insn_decode_mmio(buf, (unsigned)n, lm64, o);
	free(buf);
	return rc;
}

static bool is_size(unsigned s) { return s == 1 || s == 2 || s == 4 || s == 8; }

static void check_fields(const struct insn_mmio *o, bool lm64)
{
	ASSERT(o->len >= 1 && o->len <= INSN_MAX_LEN);
	ASSERT(is_size(o->size));
	ASSERT(o->reg < INSN_NREGS);
	if (o->write) {
		ASSERT(o->dst_size == 0 && !o->zext);
	} else {
		ASSERT(!o->imm_src && o->imm == 0);
		ASSERT(is_size(o->dst_size));
		ASSERT(o->zext ? o->dst_size >= o->size : o->dst_size == o->size);
	}
	if (o->imm_src && o->size < 8)
		ASSERT((o->imm >> (8 * o->size)) == 0);
	if (o->reg >= INSN_AH)
		ASSERT(o->size == 1 && !o->zext);
	if (!lm64)
		ASSERT(o->size != 8 && o->dst_size != 8 && (o->reg < 8 || o->reg >= INSN_AH));
}

/* MOV/MOVZX with the same operation and a [rdi] (ModRM 0x07) operand. */
static size_t encode(const struct insn_mmio *o, uint8_t *b)
{
	unsigned opsz = o->zext ? o->dst_size : o->size;
	unsigned reg = o->reg >= INSN_AH ? o->reg - INSN_AH + 4 : o->reg;
	uint8_t rex = 0x40;
	size_t n = 0;

	if (opsz == 2)
		b[n++] = 0x66;
	if (opsz == 8)
		rex |= 0x8;
	if (!o->imm_src && reg >= 8)
		rex |= 0x4;
	if (rex != 0x40 || (o->size == 1 && !o->zext && o->reg >= 4 && o->reg < 8))
		b[n++] = rex;
	if (o->imm_src) {
		b[n++] = o->size == 1 ? 0xc6 : 0xc7;
		b[n++] = 0x07;
		for (unsigned i = 0; i < (o->size == 8 ? 4u : o->size); i++)
			b[n++] = (uint8_t)(o->imm >> (8 * i));
		return n;
	}
	if (o->zext) {
		b[n++] = 0x0f;
		b[n++] = o->size == 1 ? 0xb6 : 0xb7;
	} else {
		b[n++] = (uint8_t)((o->write ? 0x88 : 0x8a) | (o->size == 1 ? 0 : 1));
	}
	b[n++] = (uint8_t)(((reg & 7u) << 3) | 7u);
	return n;
}

static void check_reencode(const struct insn_mmio *o, bool lm64)
{
	uint8_t b[INSN_MAX_LEN];
	struct insn_mmio r;
	size_t n = encode(o, b);

	ASSERT(decode_exact(b, n, lm64, &r) == 0);
	ASSERT(r.len == n);
	ASSERT(r.write == o->write && r.size == o->size && r.imm_src == o->imm_src);
	ASSERT(r.imm == o->imm && r.dst_size == o->dst_size && r.zext == o->zext);
	ASSERT(o->imm_src || r.reg == o->reg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct insn_mmio o, again;
	uint8_t padded[INSN_MAX_LEN];
	bool lm64;
	int rc;

	if (size < 1)
		return 0;
	lm64 = data[0] & 1u;
	data++, size--;
	rc = decode_exact(data, size, lm64, &o);
	ASSERT(rc == 0 || rc == -EFAULT || rc == -ENOTSUP);
	if (rc == -EFAULT) {
		ASSERT(size < INSN_MAX_LEN);
		memset(padded, 0, sizeof(padded));
		memcpy(padded, data, size);
		ASSERT(insn_decode_mmio(padded, sizeof(padded), lm64, &again) != -EFAULT);
	}
	if (rc)
		return 0;
	check_fields(&o, lm64);
	ASSERT(o.len <= size);
	ASSERT(decode_exact(data, o.len, lm64, &again) == 0);
	ASSERT(memcmp(&o, &again, sizeof(o)) == 0);
	ASSERT(decode_exact(data, o.len - 1u, lm64, &again) == -EFAULT);
	check_reencode(&o, lm64);
	return 0;
}
