/*
 * console/cmd_general.c — general console commands: version, boot, cpu, mem
 * (and mem alloc/free/fill/crc).
 */
#include <string.h>

#include "arch/x86/apic.h"
#include "arch/x86/arch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "hw/hw.h"
#include "kernel/bootargs.h"
#include "console/console.h"
#include "kernel/frame.h"
#include "kernel/heap.h"
#include "kernel/main.h"
#include "kernel/mem_user.h"
#include "kernel/time.h"
#include "lib/crc32.h"
#include "lib/parse.h"

static int cmd_version(int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(-EINVAL, "usage: version");
	con_printf("name=sluice version=%s commit=%s\n", SLUICE_VERSION, SLUICE_COMMIT);
	return 0;
}
COMMAND(version, "version", "version                    name= version= commit=", cmd_version);

static int cmd_boot(int argc, char **argv)
{
	const struct boot_info *bi = boot_state.bi;

	if (argc != 1)
		return cmd_fail(-EINVAL, "usage: boot");
	con_printf("boot_ms=%llu regions=%u disconnected=%u exit_retries=%u tsc_hz=%llu "
		   "bm_cleared=%u unisolated_units=%u\n",
		   (unsigned long long)boot_state.boot_ms, bi->nregions, bi->disconnected,
		   bi->exit_retries, (unsigned long long)tsc_hz, bi->bm_cleared,
		   boot_state.unisolated);
	/* one record per boot argument (values have no blanks) */
	for (const char *a = bi->args; *a;) {
		size_t n = strcspn(a, " ");
		if (n)
			con_printf("arg=%.*s\n", (int)n, a);
		a += n;
		while (*a == ' ')
			a++;
	}
	return 0;
}
COMMAND(boot, "boot", "boot                       boot time, memory map size, boot arguments",
	cmd_boot);

static int cmd_cpu(int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(-EINVAL, "usage: cpu | cpu selftest");
	con_printf(
		"vendor=%s apic_id=%u x2apic=%d nx=%d pdpe1gb=%d svm=%d phys_bits=%u tsc_hz=%llu\n",
		cpu_feat.vendor, apic_id(), apic_x2apic_mode(), cpu_feat.nx, cpu_feat.pdpe1gb,
		cpu_feat.svm, cpu_feat.phys_bits, (unsigned long long)tsc_hz);
	return 0;
}
COMMAND(cpu, "cpu", "cpu                        CPU features sluice uses", cmd_cpu);

/* Proves the page protections for real: a write into sluice's own text must
 * fault (#PF, CR0.WP + read-only text) and executing a RET placed in data
 * must fault (NX). */
static int cmd_cpu_selftest(int argc, char **argv)
{
	static volatile uint8_t data_ret[16] = {0xc3};
	uint64_t ts, te;
	unsigned vec = 0;
	int text_rc, exec_rc;

	if (argc != 2)
		return cmd_fail(-EINVAL, "usage: cpu selftest");
	paging_text_range(&ts, &te);
	text_rc = arch_probe_write(ts + 0x10, 0xcc, &vec);
	unsigned text_vec = vec;
	vec = 0;
	exec_rc = arch_probe_exec((uint64_t)(uintptr_t)data_ret, &vec);
	con_printf("text_wp=%s text_vector=%u nx=%s nx_vector=%u text=0x%llx-0x%llx\n",
		   text_rc ? "ok" : "broken", text_rc ? text_vec : 0, exec_rc ? "ok" : "broken",
		   exec_rc ? vec : 0, (unsigned long long)ts, (unsigned long long)te);
	if (!text_rc || !exec_rc)
		return cmd_fail(-EIO, "page protection not enforced");
	return 0;
}
COMMAND(cpu_selftest, "cpu selftest",
	"cpu selftest               prove text is read-only and data not executable",
	cmd_cpu_selftest);

static int cmd_mem(int argc, char **argv)
{
	struct frame_stats st;

	if (argc != 1)
		return cmd_fail(-EINVAL, "usage: mem");
	frame_stats(&st);
	con_printf("total=%llu free=%llu pinned=%llu pt=%llu heap_used=%llu heap_size=%llu\n",
		   (unsigned long long)st.total, (unsigned long long)st.free,
		   (unsigned long long)st.pinned, (unsigned long long)st.iopt,
		   (unsigned long long)heap_used(), (unsigned long long)heap_size());
	return 0;
}
COMMAND(mem, "mem", "mem                        total=, free=, pinned=, pt= bytes", cmd_mem);

static int parse_range(char **argv, uint64_t *hpa, uint64_t *len)
{
	int rc = parse_u64(argv[0], hpa);

	if (rc)
		return cmd_fail(rc, "bad address '%.40s'", argv[0]);
	rc = parse_size(argv[1], len);
	if (rc)
		return cmd_fail(rc, "bad length '%.40s'", argv[1]);
	if (*len == 0)
		return cmd_fail(-EINVAL, "length is zero");
	if (*hpa + *len < *hpa)
		return cmd_fail(-EOVERFLOW, "range wraps around");
	return 0;
}

static int cmd_mem_alloc(int argc, char **argv)
{
	uint64_t size, hpa;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: mem alloc <size>");
	rc = parse_size(argv[2], &size);
	if (rc)
		return cmd_fail(rc, "bad size '%.40s'", argv[2]);
	rc = mem_user_alloc(size, &hpa);
	if (rc == -EINVAL)
		return cmd_fail(rc, "size must be 1..1G");
	if (rc)
		return cmd_fail(rc, "no free block of %llu bytes", (unsigned long long)size);
	con_printf("hpa=0x%llx size=%llu\n", (unsigned long long)hpa, (unsigned long long)size);
	return 0;
}
COMMAND(mem_alloc, "mem alloc",
	"mem alloc <size>           memory for DMA tests (naturally aligned, unpinned)",
	cmd_mem_alloc);

static int cmd_mem_free(int argc, char **argv)
{
	uint64_t hpa, size;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: mem free <hpa> <size>");
	rc = parse_range(argv + 2, &hpa, &size);
	if (rc)
		return rc;
	rc = mem_user_free(hpa, size);
	if (rc == -EBUSY)
		return cmd_fail(rc, "memory is pinned for DMA (unmap it first)");
	if (rc)
		return cmd_fail(rc, "no mem alloc block at 0x%llx of %llu bytes",
				(unsigned long long)hpa, (unsigned long long)size);
	return 0;
}
COMMAND(mem_free, "mem free", "mem free <hpa> <size>      return memory from mem alloc",
	cmd_mem_free);

static int cmd_mem_fill(int argc, char **argv)
{
	uint64_t hpa, len, byte;
	int rc;

	if (argc != 5)
		return cmd_fail(-EINVAL, "usage: mem fill <hpa> <len> <byte>");
	rc = parse_range(argv + 2, &hpa, &len);
	if (rc)
		return rc;
	rc = parse_u64_max(argv[4], 255, &byte);
	if (rc)
		return cmd_fail(rc, "bad byte '%.40s' (0..255)", argv[4]);
	if (!mem_user_writable(hpa, len))
		return cmd_fail(-EPERM, "not memory from mem alloc or a DMA mapping");
	memset(phys_to_virt(hpa), (int)byte, len);
	return 0;
}
COMMAND(mem_fill, "mem fill", "mem fill <hpa> <len> <byte> fill memory from mem alloc / dma map",
	cmd_mem_fill);

static int cmd_mem_crc(int argc, char **argv)
{
	uint64_t hpa, len;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: mem crc <hpa> <len>");
	rc = parse_range(argv + 2, &hpa, &len);
	if (rc)
		return rc;
	if (!mem_user_readable(hpa, len))
		return cmd_fail(-EFAULT, "not RAM managed by sluice");
	con_printf("crc32=0x%08x\n", crc32(phys_to_virt(hpa), len));
	return 0;
}
COMMAND(mem_crc, "mem crc", "mem crc <hpa> <len>        CRC-32 (zlib) of memory", cmd_mem_crc);

/* Raises a real CPU exception on purpose, to check on a lab machine (and in
 * tests) that an exception prints its register dump and stops sluice
 * cleanly.  There is no status line: sluice halts. */
static int cmd_cpu_crash(int argc, char **argv)
{
	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: cpu crash <ud|pf|gp|de>");
	if (!strcmp(argv[2], "ud")) {
		__asm__ volatile("ud2");
	} else if (!strcmp(argv[2], "pf")) {
		/* beyond the identity map: not present */
		*(volatile uint64_t *)(uintptr_t)(paging_top() + 0x1000) = 1;
	} else if (!strcmp(argv[2], "gp")) {
		uint64_t bad = 0x8000000000000000ull; /* non-canonical */
		*(volatile uint64_t *)(uintptr_t)bad = 1;
	} else if (!strcmp(argv[2], "de")) {
		volatile unsigned zero = 0;
		// cppcheck-suppress zerodiv ; raising #DE is the point
		con_printf("%u\n", 1u / zero);
	} else {
		return cmd_fail(-EINVAL, "unknown kind '%.20s' (ud, pf, gp or de)", argv[2]);
	}
	return cmd_fail(-EIO, "no exception was raised");
}
COMMAND(cpu_crash, "cpu crash",
	"cpu crash <ud|pf|gp|de>    raise a CPU exception: register dump, then halt",
	cmd_cpu_crash);
