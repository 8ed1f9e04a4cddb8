/*
 * boot/efi_main.c — the UEFI loader: the only code in sluice that knows UEFI.
 *
 * It gathers the boot arguments (load options, then sluice.cfg beside the
 * image), the ACPI RSDP and a stack for the kernel; stops firmware drivers
 * from DMAing (every PCI controller is disconnected from its UEFI driver, as
 * careful loaders do, so no firmware driver keeps a device DMAing once the
 * kernel takes the IOMMU); then ExitBootServices (retrying when the memory
 * map changed under us), converts the memory map into struct boot_info and
 * calls kmain() on the new stack.
 */
#include <efi.h>
#include <efilib.h>

#include "boot/boot_info.h"

#define KSTACK_PAGES 64	     /* 256 KiB */
#define EARLY_POOL_PAGES 512 /* 2 MiB: page tables for the first 1 TiB+ */

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

/* sluice.cfg in the image's directory (or the volume root). */
static void read_config_file(EFI_HANDLE image, EFI_LOADED_IMAGE *li, struct boot_info *bi)
{
	EFI_FILE_IO_INTERFACE *fs;
	EFI_FILE_HANDLE root, f;
	CHAR16 path[256];
	UINTN plen = 0;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->HandleProtocol, 3, li->DeviceHandle, &FileSystemProtocol,
			       (void **)&fs);
	if (EFI_ERROR(st))
		return;
	st = uefi_call_wrapper(fs->OpenVolume, 2, fs, &root);
	if (EFI_ERROR(st))
		return;

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
		CHAR8 buf[BOOT_ARGS_MAX];
		UINTN sz = sizeof(buf);
		st = uefi_call_wrapper(f->Read, 3, f, &sz, buf);
		if (!EFI_ERROR(st))
			args_append(bi, buf, sz);
		uefi_call_wrapper(f->Close, 1, f);
	}
	uefi_call_wrapper(root->Close, 1, root);
	(void)image;
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
		read_config_file(image, li, bi);
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
