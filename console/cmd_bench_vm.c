/*
 * console/cmd_bench_vm.c — `bench vm ...`: guest figures timed inside
 * sluice with the TSC (docs/bench.md).  Each creates a VM running a
 * built-in bench guest, runs it to its exit right here (no other VM may be
 * running), and destroys it.
 *   bench vm exit        vmcall-bench: the VMMCALL exit round trip, and
 *                        vm create + start to the guest's first output
 *   bench vm dma <bdf>   edu-bench with <bdf> assigned: guest-driven edu DMA
 */
#include <stdio.h>
#include <string.h>

#include "console/console.h"
#include "hw/hw.h"
#include "kernel/time.h"
#include "vm/vm.h"

typedef unsigned long long ull;

#define BENCH_VM_TIMEOUT_NS (120ull * 1000000000ull)

static bool any_running(void)
{
	for (struct vm *v = vm_next(NULL); v; v = vm_next(v)) {
		struct vm_info vi;
		vm_info(v, &vi);
		if (vi.state == VM_RUNNING)
			return true;
	}
	return false;
}

/* Runs vm until it is no longer running; -ETIMEDOUT after the bound. */
static int run_to_exit(struct vm *vm, struct vm_info *vi)
{
	uint64_t end = rdtsc() + BENCH_VM_TIMEOUT_NS / 1000000000ull * tsc_hz;

	for (;;) {
		vm_info(vm, vi);
		if (vi->state != VM_RUNNING)
			return 0;
		if (rdtsc() > end)
			return -ETIMEDOUT;
		if (!vm_run_slice())
			__asm__ volatile("sti; hlt" ::: "memory");
	}
}

static int bench_guest(const char *guest, uint64_t mem, struct pci_dev *d, struct vm_info *vi,
		       uint64_t *t_start, uint64_t *t_end)
{
	struct vm *vm;
	int rc;

	if (any_running())
		return cmd_fail(-EBUSY, "a VM is running: stop it first (the bench needs the CPU)");
	*t_start = rdtsc();
	if ((rc = vm_create(mem, guest, &vm)))
		return cmd_fail(rc, "%s", vm_why());
	if (d && (rc = vm_assign(vm, d))) {
		cmd_fail(rc, "%s", vm_why());
		goto out;
	}
	if ((rc = vm_start(vm))) {
		cmd_fail(rc, "%s", vm_why());
		goto out;
	}
	rc = run_to_exit(vm, vi);
	*t_end = rdtsc();
	if (rc)
		cmd_fail(rc, "%s did not exit within %llu s", guest,
			 (ull)(BENCH_VM_TIMEOUT_NS / 1000000000ull));
	else if (vi->state != VM_EXITED || strcmp(vi->reason, "exit:0"))
		rc = cmd_fail(-EIO, "%s ended %s reason=%s", guest, vm_state_name(vi->state),
			      vi->reason);
out:
	if (vm_destroy(vm))
		con_printf("! bench: vm destroy failed\n");
	return rc;
}

static int cmd_bench_vm_exit(int argc, char **argv)
{
	struct vm_info vi;
	uint64_t t0, t1;
	int rc;

	(void)argv;
	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: bench vm exit");
	if ((rc = bench_guest("vmcall-bench", 8ull << 20, NULL, &vi, &t0, &t1)))
		return rc;
	uint64_t ns = tsc_to_ns(t1 - t0);
	con_printf("exits=%llu total_ms=%llu exit_ns=%llu first_output_us=%llu\n", (ull)vi.exits,
		   (ull)(ns / 1000000), (ull)(vi.exits ? ns / vi.exits : 0),
		   (ull)(vi.first_output_tsc ? tsc_to_ns(vi.first_output_tsc - t0) / 1000 : 0));
	return 0;
}

static int cmd_bench_vm_dma(int argc, char **argv)
{
	struct vm_info vi;
	struct pci_dev *d;
	uint64_t t0, t1;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: bench vm dma <bdf>");
	if ((rc = cmd_get_dev(argv[3], &d)))
		return rc;
	if ((rc = bench_guest("edu-bench", 32ull << 20, d, &vi, &t0, &t1)))
		return rc;
	uint64_t ns = tsc_to_ns(t1 - t0);
	const uint64_t bytes = 10 * 2048; /* guests/edu-bench: 10 DMAs of 2 KiB */
	con_printf("dmas=10 bytes=%llu total_ms=%llu bytes_per_s=%llu\n", (ull)bytes,
		   (ull)(ns / 1000000), (ull)(ns ? bytes * 1000000000ull / ns : 0));
	return 0;
}

COMMAND(bench_vm_exit, "bench vm exit",
	"bench vm exit   VMMCALL round trip and create+start to first output", cmd_bench_vm_exit);
COMMAND(bench_vm_dma, "bench vm dma", "bench vm dma <bdf>   guest-driven edu DMA through the IOMMU",
	cmd_bench_vm_dma);
