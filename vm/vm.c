/*
 * vm/vm.c — VM objects: guest RAM in large blocks, its nested page table,
 * its DMA address space (IOVA = guest-physical), the built-in guest's
 * image and page tables, the vCPU, and the state machine.  See vm/vm.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guests/abi.h"
#include "kernel/frame.h"
#include "kernel/log.h"
#include "lib/crc32.h"
#include "vm/vm_priv.h"

static struct vm *vms; /* sorted by id */
static char why_buf[160];

const char *vm_why(void) { return why_buf; }

void vm_why_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
}

const char *vm_state_name(enum vm_state s)
{
	switch (s) {
	case VM_CREATED: return "created";
	case VM_RUNNING: return "running";
	case VM_STOPPED: return "stopped";
	case VM_EXITED: return "exited";
	}
	return "?";
}

void vm_set_state(struct vm *vm, enum vm_state s, const char *reason_fmt, ...)
{
	va_list ap;

	va_start(ap, reason_fmt);
	vsnprintf(vm->reason, sizeof(vm->reason), reason_fmt, ap);
	va_end(ap);
	vm->state = s;
	kevent("vm vm=%u state=%s reason=%s", vm->id, vm_state_name(s), vm->reason);
}

struct vm *vm_get(unsigned id)
{
	for (struct vm *v = vms; v; v = v->next)
		if (v->id == id)
			return v;
	return NULL;
}

struct vm *vm_next(struct vm *prev) { return prev ? prev->next : vms; }

/* ------------------------------------------------------------ RAM */

/* The identity map of the first 4 GiB with 2 MiB pages (guests/abi.h). */
static void build_guest_tables(struct vm *vm)
{
	uint64_t *pml4 = vm_gpa_ptr(vm, GUEST_PT_BASE, NULL);
	uint64_t *pdpt = vm_gpa_ptr(vm, GUEST_PT_BASE + 0x1000, NULL);
	const uint64_t p_rw = 0x3, ps = 0x80;

	pml4[0] = (GUEST_PT_BASE + 0x1000) | p_rw;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t pd_gpa = GUEST_PT_BASE + 0x2000 + i * 0x1000ull;
		uint64_t *pd = vm_gpa_ptr(vm, pd_gpa, NULL);
		pdpt[i] = pd_gpa | p_rw;
		for (unsigned j = 0; j < 512; j++)
			pd[j] = ((uint64_t)i << 30) | ((uint64_t)j << 21) | p_rw | ps;
	}
}

static int load_image(struct vm *vm)
{
	uint64_t left = vm->img->size, gpa = GUEST_LOAD;
	const uint8_t *src = vm->img->data;

	while (left) {
		uint64_t avail;
		void *dst = vm_gpa_ptr(vm, gpa, &avail);
		uint64_t n = left < avail ? left : avail;
		if (!dst)
			return -EINVAL;
		memcpy(dst, src, n);
		src += n;
		gpa += n;
		left -= n;
	}
	return 0;
}

static void vm_free(struct vm *vm)
{
	vm_unassign_all(vm);
	if (vm->vcpu)
		vcpu_destroy(vm->vcpu);
	if (vm->as) {
		int rc = dma_space_destroy(vm->as);
		if (rc)
			klog("vm: vm%u DMA space %u not destroyed (%s): its RAM stays pinned",
			     vm->id, dma_space_id(vm->as), err_name(rc));
	}
	if (vm->npt.root)
		npt_destroy(&vm->npt);
	vm_mem_free(vm);
	free(vm);
}

static int vm_id_alloc(void)
{
	unsigned id = 1, n = 0;

	for (struct vm *v = vms; v; v = v->next, n++)
		if (v->id == id)
			id++;
	return n >= VM_MAX ? -ENOSPC : (int)id;
}

static void vm_link(struct vm *vm)
{
	struct vm **pp = &vms;

	while (*pp && (*pp)->id < vm->id)
		pp = &(*pp)->next;
	vm->next = *pp;
	*pp = vm;
}

int vm_create(uint64_t mem, const char *guest, struct vm **out)
{
	const struct guest_image *img = guest_image_find(guest);
	struct vm *vm;
	int id, rc;

	if (!img) {
		vm_why_set("no built-in guest '%.32s' (vm guests lists them)", guest);
		return -ENOENT;
	}
	if (mem < GUEST_MIN_RAM || mem > VM_MEM_MAX || (mem & ((2ull << 20) - 1))) {
		vm_why_set("mem=%llu: a multiple of 2M from %lluM to %lluM",
			   (unsigned long long)mem, (unsigned long long)(GUEST_MIN_RAM >> 20),
			   (unsigned long long)(VM_MEM_MAX >> 20));
		return -EINVAL;
	}
	if (!vcpu_available()) {
		vm_why_set("this CPU cannot run guests (no SVM with nested paging)");
		return -ENOTSUP;
	}
	id = vm_id_alloc();
	if (id < 0) {
		vm_why_set("%u VMs exist already", VM_MAX);
		return id;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		vm_why_set("no memory for the VM record");
		return -ENOMEM;
	}
	vm->id = (unsigned)id;
	vm->img = img;
	vm->mem = mem;
	vpci_bus_init(&vm->bus);
	rc = dma_space_create_guest((uint16_t)id, &vm->as);
	if (rc) {
		vm_why_set("no DMA space for the VM (%s)", err_name(rc));
		vm->as = NULL;
		goto fail;
	}
	/* The VM pins at most its own RAM. */
	if ((rc = dma_owner_set_limit(vm->as, mem)) || (rc = vm_mem_init(vm)) ||
	    (rc = vm_mem_map(vm)))
		goto fail;
	build_guest_tables(vm);
	if ((rc = load_image(vm))) {
		vm_why_set("guest image does not fit");
		goto fail;
	}
	struct vcpu_config cfg = {
		.npt_root = vm->npt.root,
		.cr3 = GUEST_PT_BASE,
		.rip = GUEST_LOAD,
		.rsp = GUEST_STACK_TOP,
		.rdi = mem,
	};
	rc = vcpu_create(&cfg, &vm->vcpu);
	if (rc) {
		vm_why_set("no vCPU (%s)", err_name(rc));
		vm->vcpu = NULL;
		goto fail;
	}
	vm_link(vm);
	vm_set_state(vm, VM_CREATED, "create");
	*out = vm;
	return 0;
fail:
	vm_free(vm);
	return rc;
}

int vm_destroy(struct vm *vm)
{
	struct vm **pp = &vms;

	vm_flush_line(vm);
	while (*pp && *pp != vm)
		pp = &(*pp)->next;
	if (*pp)
		*pp = vm->next;
	kevent("vm vm=%u state=destroyed reason=destroy", vm->id);
	vm_free(vm);
	return 0;
}

int vm_start(struct vm *vm)
{
	if (vm->state == VM_RUNNING) {
		vm_why_set("vm%u is running already", vm->id);
		return -EBUSY;
	}
	if (vm->state == VM_EXITED) {
		vm_why_set("vm%u has exited (%s): destroy it and create a new one", vm->id,
			   vm->reason);
		return -EINVAL;
	}
	vm_set_state(vm, VM_RUNNING, "start");
	return 0;
}

int vm_stop(struct vm *vm)
{
	if (vm->state != VM_RUNNING) {
		vm_why_set("vm%u is not running (state %s)", vm->id, vm_state_name(vm->state));
		return -EINVAL;
	}
	vm_flush_line(vm);
	vm_set_state(vm, VM_STOPPED, "stop");
	return 0;
}

void vm_info(struct vm *vm, struct vm_info *out)
{
	unsigned used = 0;

	memset(out, 0, sizeof(*out));
	out->id = vm->id;
	out->state = vm->state;
	out->mem = vm->mem;
	out->exits = vm->exits;
	out->guest = vm->img->name;
	out->as_id = dma_space_id(vm->as);
	out->msi_injected = vm->msi_injected;
	out->msi_lost = vm->msi_lost;
	out->faulted_in = vm->faulted_in;
	out->first_output_tsc = vm->first_output_tsc;
	snprintf(out->reason, sizeof(out->reason), "%s", vm->reason[0] ? vm->reason : "-");
	for (unsigned i = 0; i < VM_MAX_DEVS; i++) {
		struct pci_dev *d = vm->devs[i].pci;
		if (!vm->devs[i].used)
			continue;
		int n = snprintf(out->devices + used, sizeof(out->devices) - used, "%s%02x:%02x.%x",
				 used ? "," : "", d->bus, d->dev, d->fn);
		if (n < 0 || (unsigned)n >= sizeof(out->devices) - used)
			break;
		used += (unsigned)n;
	}
	if (!used)
		snprintf(out->devices, sizeof(out->devices), "-");
}

int vm_mem_crc(struct vm *vm, uint64_t gpa, uint64_t len, uint32_t *crc)
{
	uint32_t c = 0;

	if (!len) {
		vm_why_set("length 0");
		return -EINVAL;
	}
	if (gpa >= vm->mem || len > vm->mem - gpa) {
		vm_why_set("[0x%llx, +0x%llx) is outside vm%u's RAM [0, 0x%llx)",
			   (unsigned long long)gpa, (unsigned long long)len, vm->id,
			   (unsigned long long)vm->mem);
		return -EFAULT;
	}
	while (len) {
		uint64_t avail;
		const void *p = vm_gpa_ptr(vm, gpa, &avail);
		if (!p) {
			vm_why_set("gpa 0x%llx is hinted: the guest gave it back",
				   (unsigned long long)gpa);
			return -EFAULT;
		}
		uint64_t n = len < avail ? len : avail;
		c = crc32_update(c, p, (size_t)n);
		gpa += n;
		len -= n;
	}
	*crc = c;
	return 0;
}

int vm_console_input(struct vm *vm, const char *text)
{
	size_t n = strlen(text);

	if (n + 1 > VM_RX_LEN - (vm->rx_tail - vm->rx_head)) {
		vm_why_set("vm%u's serial input is full (%u bytes)", vm->id, VM_RX_LEN);
		return -ENOSPC;
	}
	for (size_t i = 0; i <= n; i++)
		vm->rx[vm->rx_tail++ % VM_RX_LEN] = i < n ? text[i] : '\n';
	return 0;
}
