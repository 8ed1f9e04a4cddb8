/*
 * vm/linux.h — the Linux x86 boot protocol (Documentation/x86/boot.rst,
 * zero-page.rst), 64-bit entry, as pure builders over memory buffers:
 *
 *   linux_parse   checks a bzImage's setup header and records what the
 *                 loader needs from it;
 *   linux_layout  decides where everything goes in guest-physical memory
 *                 and the e820 map the guest is given;
 *   linux_build   writes the zero page, the command line, the GDT, the
 *                 identity page tables and the protected-mode kernel into
 *                 guest memory (through a gpa -> pointer callback) and says
 *                 what the vCPU must hold at entry.
 *
 * The caller copies the initrd to the layout's initrd address and builds
 * the MP table (vm/mptable.h) at the layout's mptable address: neither is
 * done by linux_build (it knows neither the initrd's bytes nor the CPU
 * count).  docs/linux.md has the layout and the entry state.
 *
 * Every failure returns a negative errno and, when `why` is not NULL, a
 * static string saying which rule failed (for the console's ERR line).
 * Nothing here depends on anything but lib/: host tests run it unchanged.
 */
#ifndef SLUICE_VM_LINUX_H
#define SLUICE_VM_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Guest-physical layout (the Firecracker / cloud-hypervisor convention). */
#define LINUX_GDT 0x500ull
#define LINUX_ZERO_PAGE 0x7000ull
#define LINUX_STACK_TOP 0x8ff0ull
#define LINUX_PGTABLE 0x9000ull /* PML4, PDPT, 4 PDs: 6 pages */
#define LINUX_PGTABLE_SIZE 0x6000ull
#define LINUX_CMDLINE 0x20000ull
#define LINUX_MPTABLE 0x9fc00ull /* the EBDA: last KiB below 640 KiB */
#define LINUX_MPTABLE_SIZE 0x400ull
#define LINUX_LOW_RAM_END 0x9fc00ull
#define LINUX_KERNEL 0x100000ull       /* code32_start: the protected-mode part */
#define LINUX_IRQ_WINDOW 0xfee00000ull /* kept out of the e820 RAM */
#define LINUX_IRQ_WINDOW_END 0xfef00000ull
#define LINUX_IDMAP_END (4ull << 30)

/* The selectors the 64-bit entry wants (boot.rst: __BOOT_CS, __BOOT_DS). */
#define LINUX_BOOT_CS 0x10
#define LINUX_BOOT_DS 0x18

#define LINUX_E820_RAM 1
#define LINUX_E820_RESERVED 2
#define LINUX_E820_MAX 8 /* what we emit; the zero page holds 128 */

/* What linux_parse found in the setup header. */
struct linux_kernel {
	const uint8_t *image; /* the whole bzImage (not copied) */
	size_t size;
	unsigned setup_sects; /* 0 in the file already turned into 4 */
	size_t hdr_end;	      /* 0x202 + byte[0x201]: setup header copy end */
	size_t pm_offset;     /* (setup_sects + 1) * 512 */
	size_t pm_size;	      /* protected-mode part: pm_offset .. EOF */
	uint16_t version;
	uint8_t loadflags;
	uint8_t relocatable;
	uint16_t xloadflags;
	uint32_t kernel_alignment;
	uint32_t init_size;
	uint32_t cmdline_size;	  /* longest command line, NUL excluded */
	uint32_t initrd_addr_max; /* highest byte the initrd may occupy */
	uint64_t pref_address;
};

struct linux_e820 {
	uint64_t addr, size;
	uint32_t type;
};

/* Where everything goes (guest-physical addresses, sizes in bytes). */
struct linux_layout {
	uint64_t ram;
	uint64_t gdt, zero_page, stack_top, pgtable;
	uint64_t cmdline, cmdline_max; /* buffer size, NUL included */
	uint64_t mptable, mptable_size;
	uint64_t kernel, kernel_size; /* the protected-mode part as loaded */
	uint64_t run, run_size;	      /* where the decompressor works: init_size */
	uint64_t initrd, initrd_size; /* page-aligned; 0, 0 without an initrd */
	unsigned e820_entries;
	struct linux_e820 e820[LINUX_E820_MAX];
};

/* The vCPU state at the 64-bit entry (boot.rst "64-bit Boot Protocol"). */
struct linux_entry {
	uint64_t rip, rsi, rsp, rflags;
	uint64_t cr0, cr3, cr4, efer; /* EFER without SVME: the VM adds it */
	uint16_t cs, ds;	      /* ds also for ES, SS, FS, GS */
	uint64_t cs_desc, ds_desc;    /* their GDT descriptors */
	uint64_t gdt_base;
	uint16_t gdt_limit;
};

/* Checks the setup header of a bzImage of `size` bytes.  -EINVAL (why says
 * which check) for anything the 64-bit entry cannot boot. */
int linux_parse(const void *bzimage, size_t size, struct linux_kernel *out,
		const char **why) MUST_CHECK;

/* Places kernel, initrd (initrd_size bytes, 0 for none) and a command line
 * of cmdline_len characters (NUL excluded) in ram_bytes of guest RAM
 * [0, ram_bytes).  -ENOMEM when the RAM is too small for the decompressor
 * or the initrd, -E2BIG when the command line is too long. */
int linux_layout(const struct linux_kernel *k, uint64_t ram_bytes, uint64_t initrd_size,
		 size_t cmdline_len, struct linux_layout *out, const char **why) MUST_CHECK;

/* Writes the boot state for layout l into guest memory.  gpa_ptr returns a
 * host pointer to [gpa, gpa + len) or NULL (then -EFAULT).  The initrd is
 * the caller's to copy: initrd_gpa/initrd_size (normally l->initrd,
 * l->initrd_size) only go into the zero page, after checks (-EINVAL).
 * -E2BIG when cmdline is longer than the layout or the kernel allows. */
int linux_build(const struct linux_kernel *k, const struct linux_layout *l, const char *cmdline,
		uint64_t initrd_gpa, uint64_t initrd_size,
		void *(*gpa_ptr)(void *ctx, uint64_t gpa, size_t len), void *ctx,
		struct linux_entry *entry, const char **why) MUST_CHECK;

#endif
