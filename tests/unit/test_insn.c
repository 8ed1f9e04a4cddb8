// SOURCES: vm/insn.c
/* tests/unit/test_insn.c — vm/insn.c: every supported form with its exact
 * length and operands (byte sequences from the SDM opcode and ModRM/SIB
 * tables; each one cross-checked against `as` + `objdump -d`, whose
 * disassembly is the comment), Linux's readl/writel forms, every
 * truncation of every form (-EFAULT, never a read past avail: each buffer
 * is heap-allocated to its exact size for ASan), the refusals, and the
 * register helpers. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vm/insn.h"

#define W true
#define R false
#define NOIMM false, 0

struct form {
	const char *what;
	bool lm64;
	unsigned len;
	uint8_t bytes[INSN_MAX_LEN + 2];
	/* expected */
	bool write;
	uint8_t size, reg, dst_size;
	bool zext, imm_src;
	uint64_t imm;
};

#define F64(what, n, wr, sz, rg, dsz, zx, ...) \
	{what, true, n, {__VA_ARGS__}, wr, sz, rg, dsz, zx, NOIMM}
#define F32(what, n, wr, sz, rg, dsz, zx, ...) \
	{what, false, n, {__VA_ARGS__}, wr, sz, rg, dsz, zx, NOIMM}
#define I64(what, n, sz, imm, ...) {what, true, n, {__VA_ARGS__}, W, sz, 0, 0, false, true, imm}
#define M8 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11

static const struct form forms[] = {
	/* Linux writel/readl (movl r32,m32 / movl m32,r32) as gcc emits them */
	F64("mov %eax,(%rdi)", 2, W, 4, INSN_RAX, 0, false, 0x89, 0x07),
	F64("mov (%rdi),%eax", 2, R, 4, INSN_RAX, 4, false, 0x8b, 0x07),
	F64("mov %eax,(%r12)", 4, W, 4, INSN_RAX, 0, false, 0x41, 0x89, 0x04, 0x24),
	F64("mov %r13d,(%rax)", 3, W, 4, INSN_R13, 0, false, 0x44, 0x89, 0x28),
	F64("mov %edx,0xc(%rax)", 3, W, 4, INSN_RDX, 0, false, 0x89, 0x50, 0x0c),
	F64("mov %ecx,0xc(%rdx,%rax,1)", 4, W, 4, INSN_RCX, 0, false, 0x89, 0x4c, 0x02, 0x0c),
	F64("mov 0xc(%rbx),%eax", 3, R, 4, INSN_RAX, 4, false, 0x8b, 0x43, 0x0c),
	F64("mov 0xc(%r14),%r9d", 4, R, 4, INSN_R9, 4, false, 0x45, 0x8b, 0x4e, 0x0c),
	/* operand sizes */
	F64("mov %rax,(%rdi)", 3, W, 8, INSN_RAX, 0, false, 0x48, 0x89, 0x07),
	F64("mov %ax,(%rdi)", 3, W, 2, INSN_RAX, 0, false, 0x66, 0x89, 0x07),
	F64("data16 mov %rax,(%rdi) (REX.W wins)", 4, W, 8, INSN_RAX, 0, false, 0x66, 0x48, 0x89,
	    0x07),
	F64("mov (%rdi),%r15", 3, R, 8, INSN_R15, 8, false, 0x4c, 0x8b, 0x3f),
	F64("mov (%rdi),%si", 3, R, 2, INSN_RSI, 2, false, 0x66, 0x8b, 0x37),
	/* byte registers: AH..BH without REX, SPL..DIL with it */
	F64("mov %ah,(%rdi)", 2, W, 1, INSN_AH, 0, false, 0x88, 0x27),
	F64("mov %spl,(%rdi)", 3, W, 1, INSN_RSP, 0, false, 0x40, 0x88, 0x27),
	F64("mov (%rdi),%bh", 2, R, 1, INSN_BH, 1, false, 0x8a, 0x3f),
	F64("mov (%rdi),%dil", 3, R, 1, INSN_RDI, 1, false, 0x40, 0x8a, 0x3f),
	F64("mov (%rdi),%r10b", 3, R, 1, INSN_R10, 1, false, 0x44, 0x8a, 0x17),
	F64("mov %cl,(%rdi)", 2, W, 1, INSN_RCX, 0, false, 0x88, 0x0f),
	/* addressing: SIB, disp8/disp32, no base, RIP-relative, rbp/r13 */
	F64("mov 0x8(%rsp),%eax", 4, R, 4, INSN_RAX, 4, false, 0x8b, 0x44, 0x24, 0x08),
	F64("mov 0x1000,%eax (SIB, no base)", 7, R, 4, INSN_RAX, 4, false, 0x8b, 0x04, 0x25, 0x00,
	    0x10, 0x00, 0x00),
	F64("mov 0x100(%rax,%rcx,8),%eax", 7, R, 4, INSN_RAX, 4, false, 0x8b, 0x84, 0xc8, 0x00,
	    0x01, 0x00, 0x00),
	F64("mov 0x0(%rbp),%eax", 3, R, 4, INSN_RAX, 4, false, 0x8b, 0x45, 0x00),
	F64("mov 0x0(%r13),%eax", 4, R, 4, INSN_RAX, 4, false, 0x41, 0x8b, 0x45, 0x00),
	F64("mov 0x0(%r13,%rax,1),%eax (SIB base r13, mod 01)", 5, R, 4, INSN_RAX, 4, false, 0x41,
	    0x8b, 0x44, 0x05, 0x00),
	F64("mov 0x10(%rip),%edx", 6, R, 4, INSN_RDX, 4, false, 0x8b, 0x15, 0x10, 0x00, 0x00, 0x00),
	F64("mov %eax,0x12345678(%rdi)", 6, W, 4, INSN_RAX, 0, false, 0x89, 0x87, 0x78, 0x56, 0x34,
	    0x12),
	/* prefixes: segment (ignored), address size, REX not last (ignored) */
	F64("cs mov %eax,(%rdi)", 3, W, 4, INSN_RAX, 0, false, 0x2e, 0x89, 0x07),
	F64("mov %gs:0x28,%rax", 9, R, 8, INSN_RAX, 8, false, 0x65, 0x48, 0x8b, 0x04, 0x25, 0x28,
	    0x00, 0x00, 0x00),
	F64("mov %eax,(%edi)", 3, W, 4, INSN_RAX, 0, false, 0x67, 0x89, 0x07),
	F64("rex.W; mov %ax,(%rdi) (REX before 0x66 is ignored)", 4, W, 2, INSN_RAX, 0, false, 0x48,
	    0x66, 0x89, 0x07),
	F64("rex.B; mov %rax,(%rdi) (the last REX counts)", 4, W, 8, INSN_RAX, 0, false, 0x41, 0x48,
	    0x89, 0x07),
	F64("rex.R; ds; mov %eax,(%rdi) (REX before a segment is ignored)", 4, W, 4, INSN_RAX, 0,
	    false, 0x44, 0x3e, 0x89, 0x07),
	F64("15 bytes: 13 x 0x66, mov %ax,(%rdi)", 15, W, 2, INSN_RAX, 0, false, 0x66, 0x66, 0x66,
	    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x89, 0x07),
	/* moffs: 8 bytes in 64-bit mode, 4 with 0x67 */
	F64("movabs 0x1122334455667788,%eax", 9, R, 4, INSN_RAX, 4, false, 0xa1, M8),
	F64("movabs %rax,0x1122334455667788", 10, W, 8, INSN_RAX, 0, false, 0x48, 0xa3, M8),
	F64("movabs 0x1122334455667788,%al", 9, R, 1, INSN_RAX, 1, false, 0xa0, M8),
	F64("movabs %al,0x1122334455667788", 9, W, 1, INSN_RAX, 0, false, 0xa2, M8),
	F64("addr32 mov 0x11223344,%eax", 6, R, 4, INSN_RAX, 4, false, 0x67, 0xa1, 0x44, 0x33, 0x22,
	    0x11),
	F64("movabs %ax,0x1122334455667788", 10, W, 2, INSN_RAX, 0, false, 0x66, 0xa3, M8),
	/* MOVZX */
	F64("movzbl (%rdi),%eax", 3, R, 1, INSN_RAX, 4, true, 0x0f, 0xb6, 0x07),
	F64("movzwq (%rdi),%rax", 4, R, 2, INSN_RAX, 8, true, 0x48, 0x0f, 0xb7, 0x07),
	F64("movzbw (%rdi),%ax", 4, R, 1, INSN_RAX, 2, true, 0x66, 0x0f, 0xb6, 0x07),
	F64("movzww (%rdi),%ax (0x66 0F B7: a 16-bit move)", 4, R, 2, INSN_RAX, 2, true, 0x66, 0x0f,
	    0xb7, 0x07),
	F64("movzbl (%rdi),%r8d", 4, R, 1, INSN_R8, 4, true, 0x44, 0x0f, 0xb6, 0x07),
	F64("movzwl 0x2(%rsi),%esp", 4, R, 2, INSN_RSP, 4, true, 0x0f, 0xb7, 0x66, 0x02),
	/* immediates */
	I64("movb $0x5a,(%rdi)", 3, 1, 0x5a, 0xc6, 0x07, 0x5a),
	I64("movw $0x1234,(%rdi)", 5, 2, 0x1234, 0x66, 0xc7, 0x07, 0x34, 0x12),
	I64("movl $0x12345678,(%rdi)", 6, 4, 0x12345678, 0xc7, 0x07, 0x78, 0x56, 0x34, 0x12),
	I64("movl $0xfffffff0,(%rdi) (no sign extension at 4)", 6, 4, 0xfffffff0, 0xc7, 0x07, 0xf0,
	    0xff, 0xff, 0xff),
	I64("movq $0xfffffffffffffff0,(%rdi)", 7, 8, 0xfffffffffffffff0ull, 0x48, 0xc7, 0x07, 0xf0,
	    0xff, 0xff, 0xff),
	I64("movq $0x7fffffff,(%rdi)", 7, 8, 0x7fffffff, 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0x7f),
	I64("movl $0x1,0x10(%rax)", 7, 4, 1, 0xc7, 0x40, 0x10, 0x01, 0x00, 0x00, 0x00),
	I64("movl $0x11223344,0x100(%rip)", 10, 4, 0x11223344, 0xc7, 0x05, 0x00, 0x01, 0x00, 0x00,
	    0x44, 0x33, 0x22, 0x11),
	I64("movl $0x1,0xc(%rax,%rdx,1) (SIB disp8)", 8, 4, 1, 0xc7, 0x44, 0x10, 0x0c, 0x01, 0x00,
	    0x00, 0x00),
	I64("movb $0x1,0x1000(,%rax,1) (SIB no base)", 8, 1, 1, 0xc6, 0x04, 0x05, 0x00, 0x10, 0x00,
	    0x00, 0x01),
	/* 32-bit code segment: no REX, moffs of 4 (2 with 0x67), 16-bit ModRM */
	F32("mov %eax,(%edi)", 2, W, 4, INSN_RAX, 0, false, 0x89, 0x07),
	F32("mov 0x11223344,%eax", 5, R, 4, INSN_RAX, 4, false, 0xa1, 0x44, 0x33, 0x22, 0x11),
	F32("addr16 mov 0x1122,%eax", 4, R, 4, INSN_RAX, 4, false, 0x67, 0xa1, 0x22, 0x11),
	F32("mov %eax,(%bx)", 3, W, 4, INSN_RAX, 0, false, 0x67, 0x89, 0x07),
	F32("mov 0x10(%bp),%eax", 4, R, 4, INSN_RAX, 4, false, 0x67, 0x8b, 0x46, 0x10),
	F32("mov 0x1234,%eax (16-bit disp16)", 5, R, 4, INSN_RAX, 4, false, 0x67, 0x8b, 0x06, 0x34,
	    0x12),
	F32("mov 0x1234(%bp),%eax", 5, R, 4, INSN_RAX, 4, false, 0x67, 0x8b, 0x86, 0x34, 0x12),
	F32("mov 0x11223344(,%eax,4),%ecx", 7, R, 4, INSN_RCX, 4, false, 0x8b, 0x0c, 0x85, 0x44,
	    0x33, 0x22, 0x11),
	F32("mov 0x11223344,%edx (mod 00 rm 101: absolute)", 6, R, 4, INSN_RDX, 4, false, 0x8b,
	    0x15, 0x44, 0x33, 0x22, 0x11),
	F32("mov (%edi),%bh", 2, R, 1, INSN_BH, 1, false, 0x8a, 0x3f),
	F32("movzwl (%esi),%eax", 3, R, 2, INSN_RAX, 4, true, 0x0f, 0xb7, 0x06),
	{"movw $0x1234,(%edi)", false, 5, {0x66, 0xc7, 0x07, 0x34, 0x12}, W, 2, 0, 0, false, true,
	 0x1234},
};

static int decode_exact(const uint8_t *bytes, unsigned n, bool lm64, struct insn_mmio *o)
{
	/* exactly n bytes on the heap: ASan sees any read past avail */
	uint8_t *buf = malloc(n ? n : 1);
	int rc;

	memcpy(buf, bytes, n);
	rc = insn_decode_mmio(buf, n, lm64, o);
	free(buf);
	return rc;
}

static void check_form(const struct form *f)
{
	struct insn_mmio o;
	int rc = decode_exact(f->bytes, f->len, f->lm64, &o);

	if (rc) {
		printf("  %s: rc %d\n", f->what, rc);
		CHECK_EQ(rc, 0);
		return;
	}
	if (o.len != f->len || o.write != f->write || o.size != f->size || o.reg != f->reg ||
	    o.dst_size != f->dst_size || o.zext != f->zext || o.imm_src != f->imm_src ||
	    o.imm != f->imm)
		printf("  %s: len %u write %d size %u reg %u dst %u zext %d imm %d/%llx\n", f->what,
		       o.len, o.write, o.size, o.reg, o.dst_size, o.zext, o.imm_src,
		       (unsigned long long)o.imm);
	CHECK_EQ(o.len, f->len);
	CHECK_EQ(o.write, f->write);
	CHECK_EQ(o.size, f->size);
	CHECK_EQ(o.imm_src, f->imm_src);
	CHECK_EQ(o.imm, f->imm);
	if (!f->imm_src)
		CHECK_EQ(o.reg, f->reg);
	CHECK_EQ(o.dst_size, f->dst_size);
	CHECK_EQ(o.zext, f->zext);
}

TEST(every_form_decodes_with_its_length_and_operands)
{
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		check_form(&forms[i]);
}

TEST(trailing_bytes_do_not_change_the_decode)
{
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		uint8_t buf[INSN_MAX_LEN];
		struct insn_mmio o;

		memset(buf, 0xcc, sizeof(buf));
		memcpy(buf, forms[i].bytes, forms[i].len);
		CHECK_EQ(insn_decode_mmio(buf, sizeof(buf), forms[i].lm64, &o), 0);
		CHECK_EQ(o.len, forms[i].len);
	}
}

TEST(every_truncation_is_efault_and_reads_nothing_past_avail)
{
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		for (unsigned n = 0; n < forms[i].len; n++) {
			struct insn_mmio o = {.len = 99};
			int rc = decode_exact(forms[i].bytes, n, forms[i].lm64, &o);

			if (rc != -EFAULT)
				printf("  %s avail %u: rc %d\n", forms[i].what, n, rc);
			CHECK_EQ(rc, -EFAULT);
			CHECK_EQ(o.len, 99); /* *out untouched on failure */
		}
	}
}

struct refusal {
	const char *what;
	bool lm64;
	unsigned len;
	uint8_t bytes[INSN_MAX_LEN + 2];
};

static const struct refusal refusals[] = {
	{"mov %eax,%eax (mod 11)", true, 2, {0x89, 0xc0}},
	{"mov %ecx,%eax 8b (mod 11)", true, 2, {0x8b, 0xc1}},
	{"movl $1,%eax c7 c0 (mod 11)", true, 6, {0xc7, 0xc0, 1, 0, 0, 0}},
	{"movzbl %al,%eax (mod 11)", true, 3, {0x0f, 0xb6, 0xc0}},
	{"lock mov", true, 3, {0xf0, 0x89, 0x07}},
	{"rep movsl", true, 2, {0xf3, 0xa5}},
	{"repne prefix", true, 3, {0xf2, 0x89, 0x07}},
	{"c7 /1 (not MOV)", true, 6, {0xc7, 0x0f, 1, 0, 0, 0}},
	{"c6 /7 memory (not MOV)", true, 3, {0xc6, 0x38, 1}},
	{"xabort c6 f8", true, 3, {0xc6, 0xf8, 0x00}},
	{"0f b8 (popcnt without f3)", true, 3, {0x0f, 0xb8, 0x07}},
	{"0f be movsx", true, 3, {0x0f, 0xbe, 0x07}},
	{"lea", true, 2, {0x8d, 0x07}},
	{"incl (%rdi)", true, 2, {0xff, 0x07}},
	{"add %eax,(%rdi)", true, 2, {0x01, 0x07}},
	{"movsb a4", true, 1, {0xa4}},
	{"nop", true, 1, {0x90}},
	{"xchg %eax,(%rdi)", true, 2, {0x87, 0x07}},
	{"REX in 32-bit mode is INC", false, 3, {0x40, 0x89, 0x07}},
	{"16 bytes: 14 x 0x66 + mov", true, 16,
	 {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x89,
	  0x07}},
	{"15 prefixes and no opcode", true, 15,
	 {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e}},
	{"15 bytes then an immediate beyond", true, 16,
	 {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xc7, 0x07, 0x01,
	  0x00}},
};

TEST(everything_else_is_refused_enotsup)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		struct insn_mmio o = {.len = 99};
		int rc = decode_exact(refusals[i].bytes, refusals[i].len, refusals[i].lm64, &o);

		if (rc != -ENOTSUP)
			printf("  %s: rc %d\n", refusals[i].what, rc);
		CHECK_EQ(rc, -ENOTSUP);
		CHECK_EQ(o.len, 99);
	}
}

TEST(empty_input_is_efault)
{
	struct insn_mmio o;

	CHECK_EQ(insn_decode_mmio(NULL, 0, true, &o), -EFAULT);
	CHECK_EQ(decode_exact((const uint8_t[]){0x66, 0x48}, 2, true, &o), -EFAULT);
}

/* ---- registers */

static void fill(struct vcpu_regs *r)
{
	uint64_t *p = (uint64_t *)r;

	for (unsigned i = 0; i < sizeof(*r) / 8; i++)
		p[i] = 0x1111111111111111ull * (i + 1);
}

TEST(register_numbers_follow_the_sdm_order)
{
	struct vcpu_regs r;

	fill(&r);
	CHECK_EQ(insn_reg_get(&r, INSN_RAX), r.rax);
	CHECK_EQ(insn_reg_get(&r, INSN_RCX), r.rcx);
	CHECK_EQ(insn_reg_get(&r, INSN_RDX), r.rdx);
	CHECK_EQ(insn_reg_get(&r, INSN_RBX), r.rbx);
	CHECK_EQ(insn_reg_get(&r, INSN_RSP), r.rsp);
	CHECK_EQ(insn_reg_get(&r, INSN_RBP), r.rbp);
	CHECK_EQ(insn_reg_get(&r, INSN_RSI), r.rsi);
	CHECK_EQ(insn_reg_get(&r, INSN_RDI), r.rdi);
	CHECK_EQ(insn_reg_get(&r, 8), r.r8);
	CHECK_EQ(insn_reg_get(&r, 9), r.r9);
	CHECK_EQ(insn_reg_get(&r, 10), r.r10);
	CHECK_EQ(insn_reg_get(&r, 11), r.r11);
	CHECK_EQ(insn_reg_get(&r, 12), r.r12);
	CHECK_EQ(insn_reg_get(&r, 13), r.r13);
	CHECK_EQ(insn_reg_get(&r, 14), r.r14);
	CHECK_EQ(insn_reg_get(&r, 15), r.r15);
	r.rax = 0x1234, r.rcx = 0x5678, r.rdx = 0x9abc, r.rbx = 0xdef0;
	CHECK_EQ(insn_reg_get(&r, INSN_AH), 0x12);
	CHECK_EQ(insn_reg_get(&r, INSN_CH), 0x56);
	CHECK_EQ(insn_reg_get(&r, INSN_DH), 0x9a);
	CHECK_EQ(insn_reg_get(&r, INSN_BH), 0xde);
	CHECK_EQ(insn_reg_get(&r, INSN_NREGS), 0);
}

TEST(register_writes_zero_extend_at_4_and_merge_below)
{
	struct vcpu_regs r, before;

	fill(&r);
	before = r;
	insn_reg_set(&r, INSN_RDX, 4, 0xffffffffaabbccddull);
	CHECK_EQ(r.rdx, 0xaabbccdd);
	insn_reg_set(&r, INSN_RSI, 2, 0xbeef);
	CHECK_EQ(r.rsi, (before.rsi & ~0xffffull) | 0xbeef);
	insn_reg_set(&r, INSN_R12, 1, 0x1a5);
	CHECK_EQ(r.r12, (before.r12 & ~0xffull) | 0xa5);
	insn_reg_set(&r, INSN_R15, 8, 0x0123456789abcdefull);
	CHECK_EQ(r.r15, 0x0123456789abcdefull);
	insn_reg_set(&r, INSN_CH, 1, 0x77);
	CHECK_EQ(r.rcx, (before.rcx & ~0xff00ull) | 0x7700);
	/* refused shapes change nothing */
	fill(&r);
	before = r;
	insn_reg_set(&r, INSN_BH, 2, 0);
	insn_reg_set(&r, INSN_RAX, 3, 0);
	insn_reg_set(&r, INSN_NREGS, 4, 0);
	CHECK(memcmp(&r, &before, sizeof(r)) == 0);
	/* only the named register changes */
	insn_reg_set(&r, INSN_RBP, 4, 0);
	before.rbp = 0;
	CHECK(memcmp(&r, &before, sizeof(r)) == 0);
}

static struct insn_mmio dec(bool lm64, unsigned n, const uint8_t *b)
{
	struct insn_mmio o = {0};

	CHECK_EQ(insn_decode_mmio(b, n, lm64, &o), 0);
	return o;
}

TEST(write_values_and_read_completion_end_to_end)
{
	struct vcpu_regs r;
	struct insn_mmio o;

	fill(&r);
	r.r13 = 0xffffffff00c0ffeeull;
	o = dec(true, 3, (const uint8_t[]){0x44, 0x89, 0x28}); /* mov %r13d,(%rax) */
	CHECK_EQ(insn_mmio_value(&r, &o), 0x00c0ffee);
	r.rax = 0xabcd;
	o = dec(true, 2, (const uint8_t[]){0x88, 0x27}); /* mov %ah,(%rdi) */
	CHECK_EQ(insn_mmio_value(&r, &o), 0xab);
	o = dec(true, 7, (const uint8_t[]){0x48, 0xc7, 0x07, 0xf0, 0xff, 0xff, 0xff});
	CHECK_EQ(insn_mmio_value(&r, &o), 0xfffffffffffffff0ull);

	/* readl into %eax: the upper half cleared */
	r.rax = 0xdeadbeefdeadbeefull;
	o = dec(true, 2, (const uint8_t[]){0x8b, 0x07});
	insn_mmio_complete(&r, &o, 0x12345678);
	CHECK_EQ(r.rax, 0x12345678);
	/* mov (%rdi),%bh: only bits 15:8 of rbx */
	r.rbx = 0x1111111111111111ull;
	o = dec(true, 2, (const uint8_t[]){0x8a, 0x3f});
	insn_mmio_complete(&r, &o, 0xab);
	CHECK_EQ(r.rbx, 0x111111111111ab11ull);
	/* movzbw (%rdi),%ax: zero-extended into the low 16 bits, the rest kept */
	r.rax = 0x2222222222222222ull;
	o = dec(true, 4, (const uint8_t[]){0x66, 0x0f, 0xb6, 0x07});
	insn_mmio_complete(&r, &o, 0x1ff); /* a device value wider than size is cut */
	CHECK_EQ(r.rax, 0x22222222222200ffull);
	/* movzwq (%rdi),%rax */
	o = dec(true, 4, (const uint8_t[]){0x48, 0x0f, 0xb7, 0x07});
	insn_mmio_complete(&r, &o, 0xfffe);
	CHECK_EQ(r.rax, 0xfffe);
	/* mov (%rdi),%si merges */
	r.rsi = 0x3333333333333333ull;
	o = dec(true, 3, (const uint8_t[]){0x66, 0x8b, 0x37});
	insn_mmio_complete(&r, &o, 0x4444);
	CHECK_EQ(r.rsi, 0x3333333333334444ull);
}
