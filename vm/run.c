/*
 * vm/run.c — time slices and exits: the virtual platform of a built-in
 * guest (guests/abi.h).  A slice runs one VM until a host interrupt
 * arrives (the 100 Hz tick at the latest), so the console keeps answering
 * while guests spin; VMs take turns.  A guest that does something sluice
 * does not emulate (an unknown port, an NPF outside its RAM and BARs, an
 * unknown exit) is stopped with the reason; never the hypervisor.
 */
#include <stdio.h>
#include <string.h>

#include "arch/x86/cpu.h"
#include "guests/abi.h"
#include "kernel/log.h"
#include "hw/hw.h"
#include "kernel/time.h"
#include "vm/vm_priv.h"

#define COM1 0x3f8
#define UART_LSR 5
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define MSR_X2APIC_EOI 0x80b
#define HC_PRINT_MAX 256
/* Exits handled in one slice before the console gets the CPU back even
 * without an interrupt (a guest in a tight exit loop). */
#define SLICE_MAX_EXITS 20000

static struct vm_stats stats;
static unsigned rr_last; /* id of the VM that ran last */

void vm_stats(struct vm_stats *out) { *out = stats; }

void vm_raise_irq(struct vm *vm, unsigned vector)
{
	if (vector < 0x20 || vector > 0xff)
		return;
	__atomic_fetch_or(&vm->irq_pending[vector / 64], 1ull << (vector % 64), __ATOMIC_SEQ_CST);
}

/* Device interrupts raised since the last run become pending in the vCPU. */
static void deliver_irqs(struct vm *vm)
{
	for (unsigned w = 0; w < 4; w++) {
		uint64_t bits = __atomic_exchange_n(&vm->irq_pending[w], 0, __ATOMIC_SEQ_CST);
		while (bits) {
			unsigned b = (unsigned)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (vcpu_queue_irq(vm->vcpu, w * 64 + b) == 0)
				vm->msi_injected++;
			else
				vm->msi_lost++;
		}
	}
}

static bool irq_waiting(struct vm *vm)
{
	for (unsigned w = 0; w < 4; w++)
		if (vm->irq_pending[w])
			return true;
	return vcpu_irq_pending(vm->vcpu);
}

/* ------------------------------------------------------------ COM1 */

void vm_flush_line(struct vm *vm)
{
	if (!vm->linelen)
		return;
	vm->line[vm->linelen] = 0;
	kline("[vm%u] %s", vm->id, vm->line);
	vm->linelen = 0;
}

static void uart_putc(struct vm *vm, char c)
{
	if (!vm->first_output_tsc)
		vm->first_output_tsc = rdtsc();
	if (c == '\n') {
		if (!vm->linelen) {
			kline("[vm%u] ", vm->id);
			return;
		}
		vm_flush_line(vm);
		return;
	}
	if (c == '\r')
		return;
	/* Non-printing bytes are shown as '.' so a guest cannot send escape
	 * sequences to the operator's terminal. */
	if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
		c = '.';
	vm->line[vm->linelen++] = c;
	if (vm->linelen == VM_LINE_MAX - 1)
		vm_flush_line(vm);
}

static uint32_t uart_in(struct vm *vm, unsigned reg)
{
	bool rx = vm->rx_head != vm->rx_tail;

	switch (reg) {
	case 0: /* RBR (DLAB is not modelled) */
		return rx ? (uint8_t)vm->rx[vm->rx_head++ % VM_RX_LEN] : 0;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT | (rx ? UART_LSR_DR : 0);
	case 6: /* MSR: carrier, DSR, CTS */
		return 0xb0;
	default:
		return vm->uart_regs[reg];
	}
}

static void uart_out(struct vm *vm, unsigned reg, uint8_t val)
{
	if (reg == 0 && !(vm->uart_regs[3] & 0x80))
		uart_putc(vm, (char)val);
	else
		vm->uart_regs[reg] = val;
}

/* ------------------------------------------------------------ exits */

/* true: handled; false: the guest is stopped (state set). */
static bool exit_io(struct vm *vm, const struct vcpu_exit *ex, struct vcpu_regs *r)
{
	uint16_t port = ex->io.port;
	unsigned size = ex->io.size;
	uint32_t val = (uint32_t)r->rax;

	if (ex->io.string || ex->io.rep) {
		vm_set_state(vm, VM_STOPPED, "io-string:0x%x", port);
		return false;
	}
	if (size != 1 && size != 2 && size != 4) {
		vm_set_state(vm, VM_STOPPED, "io-size:0x%x", port);
		return false;
	}
	if (port >= COM1 && port < COM1 + 8 && size == 1) {
		if (ex->io.in)
			val = uart_in(vm, port - COM1);
		else
			uart_out(vm, port - COM1, (uint8_t)val);
	} else if (!vpci_io(&vm->bus, port, size, ex->io.in, &val)) {
		vm_set_state(vm, VM_STOPPED, "io-port:0x%x", port);
		return false;
	}
	if (ex->io.in) {
		uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (size * 8)) - 1;
		/* A 32-bit IN zero-extends into RAX; 8/16-bit ones merge. */
		r->rax = size == 4 ? val : (r->rax & ~mask) | (val & mask);
	}
	return true;
}

static void exit_cpuid(struct vcpu_regs *r)
{
	uint32_t leaf = (uint32_t)r->rax, sub = (uint32_t)r->rcx, a, b, c, d;

	if (leaf >= 0x40000000 && leaf <= 0x400000ff) {
		/* Hypervisor leaves: the KVM signature (what a stock Linux looks
		 * for; no paravirtual features offered yet). */
		a = b = c = d = 0;
		if (leaf == 0x40000000) {
			a = 0x40000001;
			memcpy(&b, "KVMK", 4);
			memcpy(&c, "VMKV", 4);
			memcpy(&d, "M\0\0\0", 4);
		}
	} else {
		cpuid(leaf, sub, &a, &b, &c, &d);
		if (leaf == 1)
			c |= 1u << 31; /* hypervisor present */
		if (leaf == 0x80000001)
			c &= ~(1u << 2); /* no SVM inside */
		if (leaf == 0x8000000a)
			a = b = c = d = 0;
		if (leaf == 7 && sub == 0)
			c &= ~(1u << 16); /* no LA57: 4-level paging only */
	}
	r->rax = a;
	r->rbx = b;
	r->rcx = c;
	r->rdx = d;
}

/* true: emulated (skip it); false: unknown, #GP(0) raised as hardware
 * does for an MSR it lacks (the guest's handler sees the RDMSR/WRMSR). */
static bool exit_msr(struct vm *vm, const struct vcpu_exit *ex)
{
	if (ex->msr.index == MSR_X2APIC_EOI && ex->msr.write)
		return true; /* injected interrupts need no EOI (guests/abi.h) */
	vcpu_inject_exception(vm->vcpu, 13, true, 0);
	return false;
}

static int64_t hc_print(struct vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t avail;
	const char *p = vm_gpa_ptr(vm, gpa, &avail);

	if (len > HC_PRINT_MAX)
		return -HC_EINVAL;
	if (!p || (len && (gpa + len > vm->mem || len > avail)))
		return -HC_EFAULT;
	vm_flush_line(vm);
	for (uint64_t i = 0; i < len; i++)
		uart_putc(vm, p[i] == '\n' ? ' ' : p[i]);
	vm_flush_line(vm);
	return 0;
}

static bool exit_hypercall(struct vm *vm, struct vcpu_regs *r)
{
	int64_t ret;

	switch (r->rax) {
	case HC_PRINT:
		ret = hc_print(vm, r->rdi, r->rsi);
		break;
	case HC_HINT:
		ret = vm_mem_hint(vm, r->rdi, r->rsi);
		break;
	case HC_UNHINT:
		ret = vm_mem_unhint(vm, r->rdi, r->rsi);
		break;
	case HC_EXIT:
		vm_flush_line(vm);
		vm_set_state(vm, VM_EXITED, "exit:%lld", (long long)(int64_t)r->rdi);
		return false;
	default:
		ret = -HC_ENOSYS;
		break;
	}
	r->rax = (uint64_t)ret;
	return true;
}

/* A guest access to hinted RAM brings fresh memory in (and the guest
 * retries the access); anything else outside RAM and BARs stops it. */
static bool exit_npf(struct vm *vm, const struct vcpu_exit *ex)
{
	uint64_t gpa = ex->npf.gpa;

	if (vm_gpa_hinted(vm, gpa)) {
		int rc = vm_mem_unhint(vm, gpa & ~0xfffull, 0x1000);
		if (!rc) {
			vm->faulted_in++;
			return true;
		}
		vm_flush_line(vm);
		vm_set_state(vm, VM_STOPPED, "fault-in:0x%llx:%s", (unsigned long long)gpa,
			     err_name(rc));
		return false;
	}
	vm_flush_line(vm);
	vm_set_state(vm, VM_STOPPED, "npf:0x%llx", (unsigned long long)gpa);
	return false;
}

/* Handles one exit: true to keep running the slice. */
static bool handle_exit(struct vm *vm, const struct vcpu_exit *ex)
{
	struct vcpu_regs r;
	bool skip = true, ok = true;

	vcpu_get_regs(vm->vcpu, &r);
	switch (ex->kind) {
	case VCPU_EXIT_IO:
		ok = exit_io(vm, ex, &r);
		break;
	case VCPU_EXIT_CPUID:
		exit_cpuid(&r);
		break;
	case VCPU_EXIT_MSR:
		if (!exit_msr(vm, ex))
			return true; /* #GP at the next run; RIP stays */
		break;
	case VCPU_EXIT_HLT:
		if (!(r.rflags & (1u << 9))) {
			vm_flush_line(vm);
			vm_set_state(vm, VM_EXITED, "halted");
			ok = false;
		} else {
			vm->halted = true;
			vm->halted_at = rdtsc();
		}
		break;
	case VCPU_EXIT_HYPERCALL:
		ok = exit_hypercall(vm, &r);
		break;
	case VCPU_EXIT_INTR:
	case VCPU_EXIT_VINTR:
		skip = false;
		break;
	case VCPU_EXIT_NPF:
		return exit_npf(vm, ex);
	case VCPU_EXIT_SHUTDOWN:
		vm_flush_line(vm);
		vm_set_state(vm, VM_EXITED, "shutdown");
		return false;
	case VCPU_EXIT_INVALID:
		vm_set_state(vm, VM_STOPPED, "invalid-state");
		return false;
	default:
		vm_flush_line(vm);
		vm_set_state(vm, VM_STOPPED, "unhandled-exit:0x%llx", (unsigned long long)ex->raw);
		return false;
	}
	if (ok) {
		vcpu_set_regs(vm->vcpu, &r);
		if (skip && ex->insn_len)
			vcpu_skip(vm->vcpu, ex);
	}
	return ok && vm->state == VM_RUNNING;
}

/* A halted guest waits for an interrupt; it also gets the CPU back after
 * HALT_WAKE_NS without one, as a timer tick would wake it, so a guest
 * waiting for an interrupt that never comes can time out and report it. */
#define HALT_WAKE_NS 10000000ull

static bool runnable(struct vm *vm)
{
	if (vm->state != VM_RUNNING)
		return false;
	if (vm->halted &&
	    (irq_waiting(vm) || tsc_to_ns(rdtsc() - vm->halted_at) >= HALT_WAKE_NS))
		vm->halted = false;
	return !vm->halted;
}

static struct vm *pick(void)
{
	struct vm *first = NULL;

	/* Round robin by id: the first runnable VM after the last one run. */
	for (struct vm *v = vm_next(NULL); v; v = vm_next(v)) {
		if (!runnable(v))
			continue;
		if (v->id > rr_last)
			return v;
		if (!first)
			first = v;
	}
	return first;
}

bool vm_run_slice(void)
{
	struct vm *vm = pick();
	struct vcpu_exit ex;

	if (!vm)
		return false;
	rr_last = vm->id;
	stats.slices++;
	for (unsigned n = 0; n < SLICE_MAX_EXITS; n++) {
		deliver_irqs(vm);
		int rc = vcpu_run(vm->vcpu, &ex);
		if (rc) {
			vm_set_state(vm, VM_STOPPED, "vmrun:%s", err_name(rc));
			break;
		}
		vm->exits++;
		stats.exits++;
		if (!handle_exit(vm, &ex) || ex.kind == VCPU_EXIT_INTR || vm->halted)
			break;
	}
	return true;
}
