/*
 * kernel/main.c — kmain: brings sluice up in layer order and hands over to
 * the console.  Each step that can fail says so on the console and sluice
 * goes on without that part where it safely can.
 */
#include <stdio.h>
#include <string.h>

#include "arch/x86/apic.h"
#include "arch/x86/arch.h"
#include "arch/x86/cpu.h"
#include "arch/x86/irq.h"
#include "arch/x86/paging.h"
#include "arch/x86/vcpu.h"
#include "boot/boot_info.h"
#include "drivers/uart.h"
#include "hw/hw.h"
#include "kernel/bootargs.h"
#include "console/console.h"
#include "kernel/log.h"
#include "kernel/frame.h"
#include "kernel/heap.h"
#include "kernel/images.h"
#include "kernel/main.h"
#include "kernel/panic.h"
#include "kernel/time.h"
#include "vm/vm.h"

struct boot_state boot_state;

#define LOW_MEMORY (1ull << 20) /* below 1 MiB stays untouched (legacy, APs) */

static void add_memory(const struct boot_info *bi)
{
	uint64_t added = 0;

	frame_init();
	for (uint32_t i = 0; i < bi->nregions; i++) {
		const struct mem_region *r = &bi->regions[i];
		uint64_t base = r->base, end = r->base + r->size;
		if (r->kind != MEM_USABLE)
			continue;
		if (base < LOW_MEMORY)
			base = LOW_MEMORY;
		if (end <= base)
			continue;
		int rc = frame_add_range(base, end - base);
		if (rc) {
			klog("mem: range 0x%llx-0x%llx not added (%s)", (unsigned long long)base,
			     (unsigned long long)end, err_name(rc));
			continue;
		}
		added += end - base;
	}
	if (bi->nregions == BOOT_MAX_REGIONS)
		klog("mem: memory map truncated at %u regions", BOOT_MAX_REGIONS);
	if (!added)
		panic("no usable memory in the UEFI memory map");
}

/* newlib's malloc grows into one block: 1/16 of RAM, 16..256 MiB. */
static void setup_heap(void)
{
	struct frame_stats st;
	unsigned order = 12; /* 16 MiB */

	frame_stats(&st);
	while (order < 16 && (FRAME_SIZE << (order + 1)) <= st.free / 16)
		order++;
	order = (unsigned)bootarg_u64("heap_order", order);
	for (; order >= 8; order--) {
		uint64_t pa = frame_alloc(order, FRAME_SLUICE);
		if (pa) {
			heap_init(pa, FRAME_SIZE << order);
			return;
		}
	}
	panic("cannot allocate the heap");
}

/* A 100 Hz tick wakes the console from HLT: the CPU sleeps while idle
 * (and a QEMU running sluice uses no host CPU at the prompt). */
static void tick(unsigned vector, void *ctx)
{
	(void)vector;
	(void)ctx;
}

static void start_tick(void)
{
	int v = irq_alloc_vector(tick, NULL);
	int rc = v < 0 ? v : apic_timer_start(100, (unsigned)v);

	if (rc) {
		klog("apic: no timer tick (%s): the console polls without sleeping", err_name(rc));
		if (v >= 0)
			irq_free_vector((unsigned)v);
	}
}

/* The loader's lines (guest images loaded or not, sluice.cfg errors). */
static void print_loader_log(const struct boot_info *bi)
{
	const char *p = bi->log, *end = memchr(bi->log, 0, sizeof(bi->log));

	if (!end)
		end = bi->log + sizeof(bi->log);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		if (stop > p)
			klog("%.*s", (int)(stop - p), p);
		p = stop + 1;
	}
}

void kmain(struct boot_info *bi)
{
	/* Firmware page tables may map boot-services memory read-only (UEFI
	 * memory protection); it is ours now.  Ring-0 writes ignore R/W until
	 * paging_init() installs sluice's tables and sets CR0.WP again. */
	write_cr0(read_cr0() & ~CR0_WP);
	boot_state.bi = bi;
	uart_init();
	log_set_sink(&console_log_sink);
	uart_puts_raw("\nsluice " SLUICE_VERSION " (" SLUICE_COMMIT ") starting\n");
	arch_init();
	bootargs_set(bi->args);
	int rc = paging_init(bi);
	if (rc)
		panic("page tables: %s", err_name(rc));
	add_memory(bi);
	setup_heap();
	time_init();
	apic_init();
	cpu_sti();
	start_tick();

	klog("boot: args=\"%s\" regions=%u disconnected=%u exit_retries=%u", bi->args, bi->nregions,
	     bi->disconnected, bi->exit_retries);
	print_loader_log(bi);
	guest_img_init(bi->images, bi->nimages, bi->regions, bi->nregions);
	klog("cpu: vendor=%s tsc_hz=%llu x2apic=%d nx=%d 1g=%d svm=%d phys_bits=%u",
	     cpu_feat.vendor, (unsigned long long)tsc_hz, apic_x2apic_mode(), cpu_feat.nx,
	     cpu_feat.pdpe1gb, cpu_feat.svm, cpu_feat.phys_bits);

	platform_init();

	/* Guests run in the console's idle time (vm/run.c). */
	rc = vcpu_init();
	if (rc)
		klog("vcpu: no guests: %s", err_name(rc));
	else
		klog("vcpu: backend=%s", vcpu_backend());
	console_set_runner(vm_run_slice);

	boot_state.boot_ms = tsc_to_ns(rdtsc() - bi->tsc_at_entry) / 1000000;
	klog("boot: efi_to_prompt_ms=%llu", (unsigned long long)boot_state.boot_ms);
	console_run();
}
