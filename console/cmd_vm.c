/*
 * console/cmd_vm.c — `vm ...`: virtual machines, built-in guests and
 * passed-through devices (../shared/CONSOLE.md "Guests"; docs/vm.md).
 */
#include <stdio.h>
#include <string.h>

#include "console/console.h"
#include "dma/devices.h"
#include "guests/guests.h"
#include "kernel/images.h"
#include "lib/crc32.h"
#include "lib/parse.h"
#include "vm/vm.h"

typedef unsigned long long ull;

#define U_VM_CREATE "vm create mem=<size> [guest=<name>]"
#define U_VM_ID "<vm>"

static int get_vm(const char *w, struct vm **out)
{
	uint64_t id;

	if (parse_u64_max(w, 0xffff, &id))
		return cmd_fail(-EINVAL, "bad vm id '%.40s' (a number from vm create)", w);
	*out = vm_get((unsigned)id);
	if (!*out)
		return cmd_fail(-ENOENT, "no vm %llu (vm list shows them)", (ull)id);
	return 0;
}

static int vm_fail(int rc) { return cmd_fail(rc, "%s", vm_why()); }

static int cmd_vm(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_fail(-EINVAL, "usage: vm create|guests|images|assign|unassign|start|stop|"
				 "destroy|list|mem|console ... (help lists them)");
}

static int cmd_vm_create(int argc, char **argv)
{
	uint64_t mem = 0;
	const char *guest = NULL;
	struct vm *vm;
	int rc;

	for (int i = 2; i < argc; i++) {
		if (!strncmp(argv[i], "mem=", 4)) {
			if (parse_size(argv[i] + 4, &mem))
				return cmd_fail(-EINVAL, "bad size '%.40s' (e.g. mem=32M)",
						argv[i] + 4);
		} else if (!strncmp(argv[i], "guest=", 6)) {
			guest = argv[i] + 6;
		} else if (!strncmp(argv[i], "image=", 6)) {
			if (!guest_img_find(argv[i] + 6))
				return cmd_fail(-ENOENT, "no guest image '%.40s' (vm images lists them)",
						argv[i] + 6);
			return cmd_fail(-ENOTSUP, "image %.40s is loaded, but booting Linux images "
					"is not implemented yet (built-in guests: vm guests)",
					argv[i] + 6);
		} else {
			return cmd_fail(-EINVAL, "unknown option '%.40s' (usage: " U_VM_CREATE ")",
					argv[i]);
		}
	}
	if (!mem)
		return cmd_fail(-EINVAL, "mem= is required (usage: " U_VM_CREATE ")");
	if (!guest)
		return cmd_fail(-EINVAL, "guest= is required (vm guests lists them)");
	if ((rc = vm_create(mem, guest, &vm)))
		return vm_fail(rc);
	struct vm_info vi;
	vm_info(vm, &vi);
	con_printf("vm=%u as=%u\n", vi.id, vi.as_id);
	return 0;
}

static int cmd_vm_guests(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		return cmd_fail(-EINVAL, "usage: vm guests");
	for (unsigned i = 0; i < guest_image_count(); i++) {
		const struct guest_image *g = guest_image_at(i);
		con_printf("guest=%s size=%llu\n", g->name, (ull)g->size);
	}
	return 0;
}

/* vm images [crc]: one record per image loaded from the boot volume.  The
 * command line has blanks, which a record cannot hold: its length only. */
static int cmd_vm_images(int argc, char **argv)
{
	bool crc = argc == 3 && !strcmp(argv[2], "crc");

	if (argc != 2 && !crc)
		return cmd_fail(-EINVAL, "usage: vm images [crc]");
	for (unsigned i = 0; i < guest_img_count(); i++) {
		const struct guest_img *g = guest_img_at(i);
		char hpa[24] = "-", sums[64] = "";
		if (g->initrd_size)
			snprintf(hpa, sizeof(hpa), "0x%llx", (ull)g->initrd_hpa);
		if (crc && g->initrd_size)
			snprintf(sums, sizeof(sums), " kernel_crc32=0x%08x initrd_crc32=0x%08x",
				 crc32(g->kernel, g->kernel_size),
				 crc32(g->initrd, g->initrd_size));
		else if (crc)
			snprintf(sums, sizeof(sums), " kernel_crc32=0x%08x initrd_crc32=-",
				 crc32(g->kernel, g->kernel_size));
		con_printf("image=%s kernel=%llu initrd=%llu cmdline_len=%zu kernel_hpa=0x%llx "
			   "initrd_hpa=%s%s\n",
			   g->name, (ull)g->kernel_size, (ull)g->initrd_size, strlen(g->cmdline),
			   (ull)g->kernel_hpa, hpa, sums);
	}
	return 0;
}

/* vm assign|unassign <vm> <bdf> */
static int vm_dev_cmd(int argc, char **argv, bool assign)
{
	struct vm *vm;
	struct pci_dev *d;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: vm %s <vm> <bdf>", assign ? "assign" : "unassign");
	if ((rc = get_vm(argv[2], &vm)) || (rc = cmd_get_dev(argv[3], &d)))
		return rc;
	rc = assign ? vm_assign(vm, d) : vm_unassign(vm, d);
	return rc ? vm_fail(rc) : 0;
}

static int cmd_vm_assign(int argc, char **argv) { return vm_dev_cmd(argc, argv, true); }
static int cmd_vm_unassign(int argc, char **argv) { return vm_dev_cmd(argc, argv, false); }

/* vm start|stop|destroy <vm> */
static int vm_one(int argc, char **argv, int (*fn)(struct vm *))
{
	struct vm *vm;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: vm %s <vm>", argv[1]);
	if ((rc = get_vm(argv[2], &vm)))
		return rc;
	rc = fn(vm);
	return rc ? vm_fail(rc) : 0;
}

static int cmd_vm_start(int argc, char **argv) { return vm_one(argc, argv, vm_start); }
static int cmd_vm_stop(int argc, char **argv) { return vm_one(argc, argv, vm_stop); }
static int cmd_vm_destroy(int argc, char **argv) { return vm_one(argc, argv, vm_destroy); }

static int cmd_vm_list(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		return cmd_fail(-EINVAL, "usage: vm list");
	for (struct vm *vm = vm_next(NULL); vm; vm = vm_next(vm)) {
		struct vm_info vi;
		vm_info(vm, &vi);
		con_printf("vm=%u state=%s mem=%llu devices=%s exits=%llu reason=%s guest=%s as=%u "
			   "msi=%llu msi_lost=%llu\n",
			   vi.id, vm_state_name(vi.state), (ull)vi.mem, vi.devices, (ull)vi.exits,
			   vi.reason, vi.guest, vi.as_id, (ull)vi.msi_injected, (ull)vi.msi_lost);
	}
	return 0;
}

static int cmd_vm_mem(int argc, char **argv)
{
	struct vm *vm;
	uint64_t gpa, len;
	uint32_t crc;
	int rc;

	if (argc != 6 || strcmp(argv[2], "crc"))
		return cmd_fail(-EINVAL, "usage: vm mem crc <vm> <gpa> <len>");
	if ((rc = get_vm(argv[3], &vm)))
		return rc;
	if (parse_u64(argv[4], &gpa))
		return cmd_fail(-EINVAL, "bad gpa '%.40s'", argv[4]);
	if (parse_size(argv[5], &len))
		return cmd_fail(-EINVAL, "bad length '%.40s'", argv[5]);
	if ((rc = vm_mem_crc(vm, gpa, len, &crc)))
		return vm_fail(rc);
	con_printf("crc32=0x%08x\n", crc);
	return 0;
}

static int cmd_vm_console(int argc, char **argv)
{
	struct vm *vm;
	char text[256];
	unsigned used = 0;
	int rc;

	if (argc < 3)
		return cmd_fail(-EINVAL, "usage: vm console <vm> <text>");
	if ((rc = get_vm(argv[2], &vm)))
		return rc;
	text[0] = 0;
	/* The rest of the line, its words joined by one blank. */
	for (int i = 3; i < argc; i++) {
		int n = snprintf(text + used, sizeof(text) - used, "%s%s", i > 3 ? " " : "",
				 argv[i]);
		if (n < 0 || (unsigned)n >= sizeof(text) - used)
			return cmd_fail(-E2BIG, "text longer than %zu bytes", sizeof(text) - 1);
		used += (unsigned)n;
	}
	if ((rc = vm_console_input(vm, text)))
		return vm_fail(rc);
	return 0;
}

COMMAND(vm, "vm", "vm create|guests|images|assign|unassign|start|stop|destroy|list|mem|console",
	cmd_vm);
COMMAND(vm_create, "vm create", U_VM_CREATE "   vm=<id>: a VM running a built-in guest",
	cmd_vm_create);
COMMAND(vm_guests, "vm guests", "vm guests   the built-in guests", cmd_vm_guests);
COMMAND(vm_images, "vm images", "vm images   guest images from the boot volume", cmd_vm_images);
COMMAND(vm_assign, "vm assign", "vm assign <vm> <bdf>   pass the device's group through",
	cmd_vm_assign);
COMMAND(vm_unassign, "vm unassign", "vm unassign <vm> <bdf>   give it back (quiesced, blocked)",
	cmd_vm_unassign);
COMMAND(vm_start, "vm start", "vm start <vm>", cmd_vm_start);
COMMAND(vm_stop, "vm stop", "vm stop <vm>", cmd_vm_stop);
COMMAND(vm_destroy, "vm destroy", "vm destroy <vm>   stop, unassign, free everything",
	cmd_vm_destroy);
COMMAND(vm_list, "vm list", "vm list   vm= state= mem= devices= exits= reason=", cmd_vm_list);
COMMAND(vm_mem, "vm mem crc", "vm mem crc <vm> <gpa> <len>   crc32= of guest memory", cmd_vm_mem);
COMMAND(vm_console, "vm console", "vm console <vm> <text>   to the guest's serial input",
	cmd_vm_console);
