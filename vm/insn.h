/*
 * vm/insn.h — the x86 instruction subset a guest uses for MMIO, decoded
 * from the bytes at the faulting RIP.  A nested page fault gives only the
 * guest-physical address (no decode assist, no next RIP under TCG SVM), so
 * sluice fetches up to 15 bytes at RIP, decodes the access here, emulates
 * it and advances RIP by the decoded length (docs/mmio.md).
 *
 * The subset is the MOV family a driver's readb/w/l/q and writeb/w/l/q
 * compile to (Linux: movl r32,m32 / movl m32,r32), plus the immediate and
 * zero-extending forms:
 *     88/89 MOV m,r   8A/8B MOV r,m   C6 /0, C7 /0 MOV m,imm
 *     A0-A3 MOV AL/eAX <-> moffs      0F B6 / 0F B7 MOVZX r,m8/m16
 * with prefixes 0x66 (operand size), 0x67 (address size), segment overrides
 * (the exit already gives the address) and REX immediately before the
 * opcode (64-bit mode only).  Anything else is -ENOTSUP: the VM is stopped
 * with a reason rather than emulated wrongly.
 *
 * Pure code (host unit tests: tests/unit/test_insn.c; fuzzed by
 * tests/fuzz/fuzz_insn.c).
 */
#ifndef SLUICE_VM_INSN_H
#define SLUICE_VM_INSN_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/vcpu.h"
#include "lib/err.h"

#define INSN_MAX_LEN 15 /* Intel SDM 2.3.11: longer is #GP */

/* Register numbers: 0-15 in the SDM's encoding order (RAX, RCX, RDX, RBX,
 * RSP, RBP, RSI, RDI, R8-R15); the byte registers AH, CH, DH, BH (ModRM.reg
 * 4-7 of a byte operation without REX, SDM 3.7.2.1) are 16-19. */
enum {
	INSN_RAX = 0, INSN_RCX, INSN_RDX, INSN_RBX, INSN_RSP, INSN_RBP, INSN_RSI, INSN_RDI,
	INSN_R8, INSN_R9, INSN_R10, INSN_R11, INSN_R12, INSN_R13, INSN_R14, INSN_R15,
	INSN_AH, INSN_CH, INSN_DH, INSN_BH,
	INSN_NREGS
};

struct insn_mmio {
	uint8_t len;	 /* instruction length, 1..15: RIP advances by it */
	bool write;	 /* store to memory (else load) */
	uint8_t size;	 /* bytes accessed in memory: 1, 2, 4, 8 */
	/* write: the value is imm (C6/C7) or register reg's low size bytes */
	bool imm_src;
	uint64_t imm;	 /* already truncated or sign-extended to size bytes */
	/* write source or read destination register (INSN_RAX..INSN_BH) */
	uint8_t reg;
	/* read: bytes of reg written (SDM 3.4.1.1: 4 zero-extends to 64 bits;
	 * 1 and 2 merge into the old value; 8 replaces) */
	uint8_t dst_size;
	bool zext;	 /* MOVZX: dst_size >= size, the value zero-extended */
};

/* Decodes the instruction in bytes[0..avail).  long_mode_64: the guest is in
 * 64-bit mode (CS.L=1; REX exists, moffs is 8 bytes); otherwise a 32-bit
 * code segment (CS.D=1).  0 and *out; -EFAULT if avail ends before the
 * instruction does (fetch more, or fault); -ENOTSUP for anything outside
 * the subset (including a register operand, LOCK/REP prefixes, and more
 * than 15 bytes).  Never reads bytes[avail] or beyond. */
int insn_decode_mmio(const uint8_t *bytes, unsigned avail, bool long_mode_64,
		     struct insn_mmio *out) MUST_CHECK;

/* Register n's value (AH..BH: the byte, zero-extended); 0 for n >= INSN_NREGS. */
uint64_t insn_reg_get(const struct vcpu_regs *r, unsigned n);
/* Writes val's low size bytes into register n with the SDM 3.4.1.1 rule: 8
 * replaces, 4 zero-extends to 64 bits, 2 and 1 merge (AH..BH: bits 15:8).
 * Ignores n >= INSN_NREGS, sizes other than 1/2/4/8, and AH..BH with size
 * other than 1. */
void insn_reg_set(struct vcpu_regs *r, unsigned n, unsigned size, uint64_t val);

/* The value a decoded write stores (size bytes, zero-extended). */
uint64_t insn_mmio_value(const struct vcpu_regs *r, const struct insn_mmio *in);
/* Completes a decoded read: val (the size bytes read) into the register. */
void insn_mmio_complete(struct vcpu_regs *r, const struct insn_mmio *in, uint64_t val);

#endif
