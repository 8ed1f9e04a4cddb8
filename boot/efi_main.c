/*
 * boot/efi_main.c — the UEFI loader: the only code in sluice that knows UEFI.
 *
 * It gathers the boot arguments (load options, then sluice.cfg beside the
 * image), reads the guest images sluice.cfg names from the same volume
 * (docs/images.md), the ACPI RSDP and a stack for the kernel; stops firmware drivers
 * from DMAing (every PCI controller is disconnected from its UEFI driver, as
 * careful loaders do, so no firmware driver keeps a device DMAing once the
 * kernel takes the IOMMU); then ExitBootServices (retrying when the memory
 * map changed under us), converts the memory map into struct boot_info and
 * calls kmain() on the new stack.
 */
#include <efi.h>
#include <efilib.h>

#include "boot/boot_info.h"
#include "lib/bootcfg.h"

#define KSTACK_PAGES 64	     /* 256 KiB */
#define EARLY_POOL_PAGES 512 /* 2 MiB: page tables for the first 1 TiB+ */

#define CFG_MAX (16 * 1024)	     /* bytes of sluice.cfg read */
#define KERNEL_MAX (64ull << 20)     /* a guest kernel file */
#define INITRD_MAX (512ull << 20)    /* a guest initrd file */
#define IMAGE_RESERVE (128ull << 20) /* free memory images must leave */
#define READ_CHUNK (16ull << 20)     /* bytes per File.Read call */

_Static_assert(BOOTCFG_MAX_IMAGES <= BOOT_MAX_IMAGES, "boot_info holds every image");
_Static_assert(BOOTCFG_NAME_MAX < BOOT_IMAGE_NAME_MAX, "boot_image.name holds a name");
_Static_assert(BOOTCFG_CMDLINE_MAX < BOOT_CMDLINE_MAX, "boot_image.cmdline holds a cmdline");

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

static inline UINT64 boot_rdtsc(void)
{
	UINT32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((UINT64)hi << 32) | lo;
}

/* Appends printable ASCII from src (n bytes) to bi->args, separated by one
 * blank; '#' starts a comment to the end of the line; lines become blanks. */
static void args_append(struct boot_info *bi, const CHAR8 *src, UINTN n)
{
	UINTN len = 0;
	BOOLEAN comment = FALSE;

	while (len < BOOT_ARGS_MAX && bi->args[len])
		len++;
	if (len && len < BOOT_ARGS_MAX - 1)
		bi->args[len++] = ' ';
	for (UINTN i = 0; i < n && len < BOOT_ARGS_MAX - 1; i++) {
		CHAR8 c = src[i];
		if (c == '\n' || c == '\r') {
			comment = FALSE;
			c = ' ';
		} else if (c == '#') {
			comment = TRUE;
		}
		if (comment)
			continue;
		if (c == '\t')
			c = ' ';
		if (c < 0x20 || c > 0x7e)
			continue;
		bi->args[len++] = c;
	}
	bi->args[len] = 0;
}

static BOOLEAN has_word(const char *s, const char *w)
{
	for (const char *p = s; *p; p++) {
		if (p != s && p[-1] != ' ')
			continue;
		UINTN i = 0;
		while (w[i] && p[i] == w[i])
			i++;
		if (!w[i] && (p[i] == ' ' || p[i] == 0))
			return TRUE;
	}
	return FALSE;
}

static void read_load_options(EFI_LOADED_IMAGE *li, struct boot_info *bi)
{
	CHAR16 *opt = li->LoadOptions;
	UINTN n = li->LoadOptionsSize / sizeof(CHAR16);
	CHAR8 tmp[BOOT_ARGS_MAX];
	UINTN k = 0;

	if (!opt)
		return;
	for (UINTN i = 0; i < n && opt[i] && k < sizeof(tmp); i++)
		tmp[k++] = opt[i] < 0x80 ? (CHAR8)opt[i] : '?';
	args_append(bi, tmp, k);
}

/* The loader's messages, for the kernel to print (bi->log). */
static void blog(struct boot_info *bi, const char *s)
{
	UINTN len = 0;

	while (len < BOOT_LOG_MAX - 1 && bi->log[len])
		len++;
	while (*s && len < BOOT_LOG_MAX - 1)
		bi->log[len++] = *s++;
	bi->log[len] = 0;
}

static void blog_u64(struct boot_info *bi, UINT64 v)
{
	char tmp[24];
	UINTN i = sizeof(tmp) - 1;

	tmp[i] = 0;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	blog(bi, tmp + i);
}

/* The file system of the volume sluice was loaded from, opened. */
static EFI_FILE_HANDLE open_volume(EFI_LOADED_IMAGE *li)
{
	EFI_FILE_IO_INTERFACE *fs;
	EFI_FILE_HANDLE root;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->HandleProtocol, 3, li->DeviceHandle, &FileSystemProtocol,
			       (void **)&fs);
	if (EFI_ERROR(st))
		return NULL;
	st = uefi_call_wrapper(fs->OpenVolume, 2, fs, &root);
	return EFI_ERROR(st) ? NULL : root;
}

/* sluice.cfg in the image's directory (or the volume root) into buf (cap
 * bytes at most): the bytes read, or -1 if there is no such file. */
static INTN read_config_file(EFI_FILE_HANDLE root, EFI_LOADED_IMAGE *li, CHAR8 *buf, UINTN cap)
{
	EFI_FILE_HANDLE f;
	CHAR16 path[256];
	UINTN plen = 0;
	EFI_STATUS st;
	INTN got = -1;

	/* The image's own path, up to its last backslash. */
	CHAR16 *ipath = DevicePathToStr(li->FilePath);
	if (ipath) {
		UINTN last = 0;
		for (UINTN i = 0; ipath[i] && i < 200; i++) {
			path[i] = ipath[i] == '/' ? '\\' : ipath[i];
			if (path[i] == '\\')
				last = i + 1;
		}
		plen = last;
		FreePool(ipath);
	}
	const CHAR16 *name = L"sluice.cfg";
	for (UINTN i = 0; name[i]; i++)
		path[plen + i] = name[i];
	path[plen + 10] = 0;

	st = uefi_call_wrapper(root->Open, 5, root, &f, path, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(st))
		st = uefi_call_wrapper(root->Open, 5, root, &f, (CHAR16 *)L"\\sluice.cfg",
				       EFI_FILE_MODE_READ, 0);
	if (!EFI_ERROR(st)) {
		UINTN sz = cap;
		st = uefi_call_wrapper(f->Read, 3, f, &sz, buf);
		if (!EFI_ERROR(st))
			got = (INTN)sz;
		uefi_call_wrapper(f->Close, 1, f);
	}
	return got;
}

/* Free conventional memory now, in pages (0 if the map cannot be read). */
static UINT64 free_pages(void)
{
	UINTN n = 0, key, dsize = 0;
	UINT32 dver;
	UINT64 pages = 0;
	EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&n, &key, &dsize, &dver);

	if (!map)
		return 0;
	for (UINTN i = 0; i < n; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((UINT8 *)map + i * dsize);
		if (d->Type == EfiConventionalMemory)
			pages += d->NumberOfPages;
	}
	FreePool(map);
	return pages;
}

/* Reads the file at path (normalised by bootcfg: "\dir\file") into new
 * loader-data pages: NULL with *pa, *size, or why it could not. */
static const char *read_file(EFI_FILE_HANDLE root, const char *path, UINT64 max,
			     const char *too_large, UINT64 *pa, UINT64 *size)
{
	CHAR16 wpath[BOOTCFG_PATH_MAX + 1];
	EFI_FILE_HANDLE f;
	EFI_PHYSICAL_ADDRESS mem;
	const char *why = NULL;
	UINTN i;

	for (i = 0; path[i] && i < BOOTCFG_PATH_MAX; i++)
		wpath[i] = (CHAR16)path[i];
	wpath[i] = 0;
	EFI_STATUS st = uefi_call_wrapper(root->Open, 5, root, &f, wpath, EFI_FILE_MODE_READ, 0);
	if (st == EFI_NOT_FOUND)
		return "not found";
	if (EFI_ERROR(st))
		return "cannot be opened";
	EFI_FILE_INFO *info = LibFileInfo(f);
	UINT64 sz = info ? info->FileSize : 0;
	if (!info)
		why = "its size cannot be read";
	else if (info->Attribute & EFI_FILE_DIRECTORY)
		why = "is a directory";
	else if (sz == 0)
		why = "is empty";
	else if (sz > max)
		why = too_large;
	else if (free_pages() < EFI_SIZE_TO_PAGES(sz) + (IMAGE_RESERVE >> 12))
		why = "does not fit in free memory (128 MiB must stay free)";
	if (info)
		FreePool(info);
	if (!why) {
		st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
				       EFI_SIZE_TO_PAGES(sz), &mem);
		if (EFI_ERROR(st))
			why = "no memory for it";
	}
	for (UINT64 off = 0; !why && off < sz;) {
		UINTN n = sz - off > READ_CHUNK ? READ_CHUNK : sz - off;
		st = uefi_call_wrapper(f->Read, 3, f, &n, (void *)(UINTN)(mem + off));
		if (EFI_ERROR(st) || n == 0) {
			uefi_call_wrapper(BS->FreePages, 2, mem, EFI_SIZE_TO_PAGES(sz));
			why = "read error";
		}
		off += n;
	}
	uefi_call_wrapper(f->Close, 1, f);
	if (why)
		return why;
	/* the rest of the last page is zero, not old memory */
	SetMem((void *)(UINTN)(mem + sz), EFI_SIZE_TO_PAGES(sz) * 4096 - sz, 0);
	*pa = mem;
	*size = sz;
	return NULL;
}

static void copy_str(char *dst, const char *src, UINTN cap)
{
	UINTN i;

	for (i = 0; src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

/* One image's kernel and initrd into memory and bi->images, or an error
 * line naming the file and the reason (the image is then absent). */
static void load_image(EFI_FILE_HANDLE root, const struct bootcfg_image *ci, struct boot_info *bi)
{
	UINT64 ka = 0, ks = 0, ia = 0, is = 0;
	const char *file = ci->kernel;
	const char *why = read_file(root, ci->kernel, KERNEL_MAX, "larger than 64 MiB", &ka, &ks);

	if (!why && ci->initrd[0]) {
		file = ci->initrd;
		why = read_file(root, ci->initrd, INITRD_MAX, "larger than 512 MiB", &ia, &is);
		if (why)
			uefi_call_wrapper(BS->FreePages, 2, ka, EFI_SIZE_TO_PAGES(ks));
	}
	blog(bi, "boot: image ");
	blog(bi, ci->name);
	if (why) {
		blog(bi, " not loaded: ");
		blog(bi, file == ci->kernel ? "kernel " : "initrd ");
		blog(bi, file);
		blog(bi, ": ");
		blog(bi, why);
		blog(bi, "\n");
		return;
	}
	struct boot_image *bimg = &bi->images[bi->nimages++];
	copy_str(bimg->name, ci->name, sizeof(bimg->name));
	copy_str(bimg->cmdline, ci->cmdline, sizeof(bimg->cmdline));
	bimg->kernel = ka;
	bimg->kernel_size = ks;
	bimg->initrd = ia;
	bimg->initrd_size = is;
	blog(bi, " kernel=");
	blog_u64(bi, ks);
	blog(bi, " initrd=");
	blog_u64(bi, is);
	blog(bi, "\n");
}

static void report_cfg_errors(const struct bootcfg *cfg, struct boot_info *bi)
{
	for (unsigned i = 0; i < cfg->nerrors; i++) {
		const struct bootcfg_diag *d = &cfg->errors[i];
		blog(bi, "boot: sluice.cfg line ");
		blog_u64(bi, d->line);
		if (d->name[0]) {
			blog(bi, ": image ");
			blog(bi, d->name);
			blog(bi, " dropped: ");
		} else {
			blog(bi, ": section dropped: ");
		}
		blog(bi, bootcfg_strerror(d->err));
		blog(bi, "\n");
	}
	if (cfg->errors_lost) {
		blog(bi, "boot: sluice.cfg: ");
		blog_u64(bi, cfg->errors_lost);
		blog(bi, " more sections dropped\n");
	}
}

/* sluice.cfg: the boot arguments (the text before its first [image]
 * section, as before there were sections), then the guest images it names,
 * read from the same volume. */
static void read_config(EFI_LOADED_IMAGE *li, struct boot_info *bi)
{
	EFI_FILE_HANDLE root = open_volume(li);
	CHAR8 *text = NULL;
	struct bootcfg *cfg = NULL;

	if (!root)
		return;
	text = AllocatePool(CFG_MAX + 1);
	cfg = AllocatePool(sizeof(*cfg));
	if (!text || !cfg) {
		blog(bi, "boot: sluice.cfg not read: no memory\n");
		goto out;
	}
	INTN n = read_config_file(root, li, text, CFG_MAX + 1);
	if (n < 0)
		goto out;
	if (n > CFG_MAX) {
		n = CFG_MAX;
		blog(bi, "boot: sluice.cfg: only its first 16384 bytes are read\n");
	}
	bootcfg_parse((const char *)text, (size_t)n, cfg);
	args_append(bi, text, cfg->args_len);
	report_cfg_errors(cfg, bi);
	for (unsigned i = 0; i < cfg->nimages; i++)
		load_image(root, &cfg->images[i], bi);
out:
	if (text)
		FreePool(text);
	if (cfg)
		FreePool(cfg);
	uefi_call_wrapper(root->Close, 1, root);
}

static UINT64 find_rsdp(EFI_SYSTEM_TABLE *st)
{
	UINT64 v1 = 0;

	for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];
		if (!CompareGuid(&t->VendorGuid, &acpi20_guid))
			return (UINT64)(UINTN)t->VendorTable;
		if (!CompareGuid(&t->VendorGuid, &acpi10_guid))
			v1 = (UINT64)(UINTN)t->VendorTable;
	}
	return v1;
}

/* Calls fn on the handle of every PCI function the firmware enumerated
 * (bridges and buses sluice does not scan included); returns how many
 * calls returned true. */
static UINT32 for_each_pci_io(BOOLEAN (*fn)(EFI_HANDLE h))
{
	EFI_HANDLE *handles = NULL;
	UINTN n = 0;
	UINT32 done = 0;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->LocateHandleBuffer, 5, ByProtocol, &PciIoProtocol, NULL, &n,
			       &handles);
	if (EFI_ERROR(st))
		return 0;
	for (UINTN i = 0; i < n; i++)
		if (fn(handles[i]))
			done++;
	FreePool(handles);
	return done;
}

/* Every PCI controller is disconnected from its UEFI driver: the drivers stop
 * their DMA (rings, buffers) when they are stopped.  Done last, just before
 * ExitBootServices, since firmware consoles and disks go with it. */
static BOOLEAN disconnect_one(EFI_HANDLE h)
{
	return !EFI_ERROR(uefi_call_wrapper(BS->DisconnectController, 3, h, NULL, NULL));
}

/* PCI 3.0 6.2.2: the command register's Bus Master Enable bit. */
#define PCI_CMD_REG 0x04
#define PCI_CMD_BME 0x0004

/* Bus Master off on every function the firmware enumerated, bridges
 * included (a bridge forwards its secondary side's DMA only with it set):
 * the kernel reuses boot-services memory as soon as it starts, and a
 * device the firmware left mastering (or a driver that did not stop)
 * would write into it before sluice's own IOMMU tables exist. */
static BOOLEAN bus_master_off(EFI_HANDLE h)
{
	EFI_PCI_IO_PROTOCOL *io = NULL;
	UINT16 cmd = 0;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->HandleProtocol, 3, h, &PciIoProtocol, (void **)&io);
	if (EFI_ERROR(st) || !io)
		return FALSE;
	st = uefi_call_wrapper(io->Pci.Read, 5, io, EfiPciIoWidthUint16, PCI_CMD_REG, 1, &cmd);
	if (EFI_ERROR(st) || cmd == 0xffff || !(cmd & PCI_CMD_BME))
		return FALSE;
	cmd &= (UINT16)~PCI_CMD_BME;
	st = uefi_call_wrapper(io->Pci.Write, 5, io, EfiPciIoWidthUint16, PCI_CMD_REG, 1, &cmd);
	return !EFI_ERROR(st);
}

/* UEFI 2.5 type 14; the gnu-efi headers' enum stops at EfiPalCode. */
#define EFI_PERSISTENT_MEMORY 14

static UINT32 convert_kind(UINT32 type)
{
	switch (type) {
	case EfiConventionalMemory:
	case EfiBootServicesCode:
	case EfiBootServicesData: return MEM_USABLE;
	case EfiLoaderCode:
	case EfiLoaderData: return MEM_LOADER;
	case EfiACPIReclaimMemory: return MEM_ACPI;
	case EfiMemoryMappedIO:
	case EfiMemoryMappedIOPortSpace: return MEM_MMIO;
	case EfiReservedMemoryType:
	case EfiRuntimeServicesCode:
	case EfiRuntimeServicesData:
	case EfiPalCode: return MEM_RESERVED;
	case EfiACPIMemoryNVS: return MEM_ACPI_NVS;
	case EfiUnusableMemory: return MEM_UNUSABLE;
	case EFI_PERSISTENT_MEMORY: return MEM_PERSISTENT;
	default: return MEM_OTHER;
	}
}

static void convert_map(struct boot_info *bi, UINT8 *map, UINTN size, UINTN desc_size)
{
	UINT32 n = 0;

	for (UINTN off = 0; off + desc_size <= size; off += desc_size) {
		EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)(map + off);
		UINT32 kind = convert_kind(d->Type);
		UINT64 base = d->PhysicalStart, len = d->NumberOfPages << 12;

		if (n && bi->regions[n - 1].kind == kind &&
		    bi->regions[n - 1].base + bi->regions[n - 1].size == base) {
			bi->regions[n - 1].size += len;
			continue;
		}
		if (n == BOOT_MAX_REGIONS)
			break; /* the kernel reports the truncation via nregions */
		bi->regions[n].base = base;
		bi->regions[n].size = len;
		bi->regions[n].kind = kind;
		n++;
	}
	bi->nregions = n;
}

static void jump_to_kernel(struct boot_info *bi) __attribute__((noreturn));
static void jump_to_kernel(struct boot_info *bi)
{
	UINT64 top = (bi->stack_base + bi->stack_size) & ~0xfull;

	/* bi goes in %rdi through the constraint: an "r" operand may be given
	 * %rbp, which the xor below would zero before kmain got it. */
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "call kmain\n\t"
			 "1: cli; hlt; jmp 1b"
			 :
			 : "r"(top), "D"(bi)
			 : "memory");
	__builtin_unreachable();
}

/* crt0 calls efi_main with the System V ABI (it converts from the UEFI one). */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	UINT64 tsc = boot_rdtsc();
	EFI_LOADED_IMAGE *li = NULL;
	EFI_PHYSICAL_ADDRESS bi_pa, stack_pa, map_pa;
	struct boot_info *bi;
	EFI_STATUS st;

	InitializeLib(image, systab);

	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
			       EFI_SIZE_TO_PAGES(sizeof(struct boot_info)), &bi_pa);
	if (EFI_ERROR(st)) {
		Print(L"sluice: cannot allocate boot info: %r\n", st);
		return st;
	}
	bi = (struct boot_info *)(UINTN)bi_pa;
	SetMem(bi, sizeof(*bi), 0);
	bi->tsc_at_entry = tsc;

	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, KSTACK_PAGES,
			       &stack_pa);
	if (EFI_ERROR(st)) {
		Print(L"sluice: cannot allocate a stack: %r\n", st);
		return st;
	}
	bi->stack_base = stack_pa;
	bi->stack_size = KSTACK_PAGES * 4096ull;

	EFI_PHYSICAL_ADDRESS pool_pa;
	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
			       EARLY_POOL_PAGES, &pool_pa);
	if (EFI_ERROR(st)) {
		Print(L"sluice: cannot allocate the early page-table pool: %r\n", st);
		return st;
	}
	bi->early_pool = pool_pa;
	bi->early_pool_size = EARLY_POOL_PAGES * 4096ull;

	st = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li);
	if (!EFI_ERROR(st) && li) {
		bi->image_base = (UINT64)(UINTN)li->ImageBase;
		bi->image_size = li->ImageSize;
		read_load_options(li, bi);
		read_config(li, bi);
	}
	bi->rsdp = find_rsdp(systab);

	/* Room for the map plus what our own allocations and disconnects add. */
	UINTN map_size = 0, map_key, desc_size;
	UINT32 desc_ver;
	st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size, NULL, &map_key, &desc_size,
			       &desc_ver);
	UINTN map_cap = map_size + 64 * 1024;
	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
			       EFI_SIZE_TO_PAGES(map_cap), &map_pa);
	if (EFI_ERROR(st)) {
		Print(L"sluice: cannot allocate the memory map: %r\n", st);
		return st;
	}

	/* nodisconnect keeps the firmware drivers running, and their DMA with
	 * them: Bus Master stays as they need it (the kernel clears it). */
	if (!has_word(bi->args, "nodisconnect")) {
		bi->disconnected = for_each_pci_io(disconnect_one);
		bi->bm_cleared = for_each_pci_io(bus_master_off);
	}

	for (unsigned tries = 0;; tries++) {
		map_size = map_cap;
		st = uefi_call_wrapper(BS->GetMemoryMap, 5, &map_size,
				       (EFI_MEMORY_DESCRIPTOR *)(UINTN)map_pa, &map_key, &desc_size,
				       &desc_ver);
		if (EFI_ERROR(st))
			return st;
		st = uefi_call_wrapper(BS->ExitBootServices, 2, image, map_key);
		if (!EFI_ERROR(st))
			break;
		/* The map changed between the two calls (an event ran): retry
		 * with a fresh map; only memory services may be used now. */
		if (st != EFI_INVALID_PARAMETER || tries >= 8)
			return st;
		bi->exit_retries++;
	}
	convert_map(bi, (UINT8 *)(UINTN)map_pa, map_size, desc_size);
	jump_to_kernel(bi);
}
