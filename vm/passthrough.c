/*
 * vm/passthrough.c — passing a PCI device (its whole isolation group)
 * through to a VM.
 *
 * Assign: the group is quiesced (Bus Master off, function-level reset
 * where offered) and attached to the VM's DMA space, whose IOVA space is
 * the guest-physical space with all of guest RAM mapped (vm.c): the device
 * reaches the guest's RAM and nothing else.  Each member appears on the
 * guest's PCI bus (vm/vpci.c).  The guest's BARs are backed by the real
 * BARs through the NPT; the guest's MSI is a remapped, source-validated
 * entry delivering to sluice, which injects the guest's vector.
 * Unassign: BARs unmapped, MSI off and its entry freed, Bus Master off,
 * detached (the dma layer quiesces the group again and blocks it).
 */
#include <string.h>

#include "dma/devices.h"
#include "drivers/msi.h"
#include "drivers/pci_regs.h"
#include "kernel/log.h"
#include "vm/vm_priv.h"

static uint32_t phys_read(void *phys, unsigned off, unsigned size)
{
	return pci_read(phys, off, size);
}

static void phys_write(void *phys, unsigned off, unsigned size, uint32_t val)
{
	pci_write(phys, off, size, val);
}

static const struct vpci_phys_ops phys_ops = {.read = phys_read, .write = phys_write};

static int bar_map(void *ctx, struct vpci_dev *v, unsigned bar, uint64_t gpa, uint64_t hpa,
		   uint64_t size)
{
	struct vm_dev *vd = ctx;
	struct vm *vm = vd->vm;
	int rc;

	/* A BAR over the guest's own RAM would shadow it. */
	if (gpa < vm->mem)
		return -EINVAL;
	rc = npt_map(&vm->npt, gpa, hpa, size, NPT_R | NPT_W | NPT_MMIO);
	(void)v;
	(void)bar;
	return rc;
}

static int bar_unmap(void *ctx, struct vpci_dev *v, unsigned bar, uint64_t gpa, uint64_t size)
{
	struct vm_dev *vd = ctx;
	int rc = npt_unmap(&vd->vm->npt, gpa, size);

	vcpu_flush_npt(vd->vm->vcpu);
	(void)v;
	(void)bar;
	return rc;
}

/* A device interrupt (host interrupt context): the guest's vector, per the
 * guest's current MSI message, becomes pending. */
static void msi_isr(unsigned vector, void *ctx)
{
	struct vm_dev *vd = ctx;
	uint8_t gv;
	uint32_t dest;

	(void)vector;
	if (vpci_msi_target(&vd->v, &gv, &dest) == 0 && dest == 0)
		vm_raise_irq(vd->vm, gv);
	else
		vd->vm->msi_lost++;
}

static int msi_hook(void *ctx, struct vpci_dev *v, bool on)
{
	struct vm_dev *vd = ctx;
	int rc;

	(void)v;
	if (!on) {
		if (vd->route)
			msi_disable_remapped(vd->route);
		vd->route = NULL;
		return 0;
	}
	if (vd->route)
		return 0;
	rc = msi_enable_remapped(vd->pci, vd->group->unit, msi_isr, vd, &vd->route);
	if (rc)
		vd->route = NULL;
	return rc;
}

static void bus_master_hook(void *ctx, struct vpci_dev *v, bool on)
{
	struct vm_dev *vd = ctx;

	(void)v;
	pci_set_bus_master(vd->pci, on);
	/* A bridge forwards its secondary side's requests upstream only with
	 * its own Bus Master Enable set (PCI-to-PCI Bridge spec 3.2.2.3.1). */
	if (on)
		for (struct pci_dev *p = vd->pci->parent; p; p = p->parent)
			pci_set_bus_master(p, true);
}

static const struct vpci_hooks hooks = {
	.bar_map = bar_map,
	.bar_unmap = bar_unmap,
	.msi = msi_hook,
	.bus_master = bus_master_hook,
};

static struct vm_dev *find_dev(struct vm *vm, struct pci_dev *d)
{
	for (unsigned i = 0; i < VM_MAX_DEVS; i++)
		if (vm->devs[i].used && vm->devs[i].pci == d)
			return &vm->devs[i];
	return NULL;
}

static struct vm *owner_of(struct dma_group *g)
{
	for (struct vm *v = vm_next(NULL); v; v = vm_next(v))
		if (g->space == v->as)
			return v;
	return NULL;
}

/* The physical command register while assigned: memory decoding on (the
 * guest reaches the BARs through the NPT), INTx off (sluice offers MSI
 * only), Bus Master as the guest sets it (off until then). */
static void phys_setup(struct pci_dev *d)
{
	pci_command_update(d, PCI_COMMAND_MASTER | PCI_COMMAND_IO,
			   PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
}

static void dev_release(struct vm_dev *vd)
{
	vpci_dev_reset(&vd->v);
	vpci_bus_remove(&vd->vm->bus, &vd->v);
	if (vd->route)
		msi_disable_remapped(vd->route);
	pci_set_bus_master(vd->pci, false);
	memset(vd, 0, sizeof(*vd));
}

static int add_member(struct vm *vm, struct pci_dev *m, struct dma_group *g)
{
	struct vm_dev *vd = NULL;
	int rc;

	for (unsigned i = 0; i < VM_MAX_DEVS && !vd; i++)
		if (!vm->devs[i].used)
			vd = &vm->devs[i];
	if (!vd)
		return -ENOSPC;
	memset(vd, 0, sizeof(*vd));
	vd->vm = vm;
	vd->pci = m;
	vd->group = g;
	vd->v.phys = m;
	vd->v.ops = &phys_ops;
	vd->v.hooks = &hooks;
	vd->v.ctx = vd;
	vd->v.cap_msi = m->cap_msi;
	for (unsigned b = 0; b < 6; b++)
		vd->v.bar[b] = (struct vpci_bar_info){.hpa = m->bar[b].base,
						      .size = m->bar[b].size,
						      .io = m->bar[b].io,
						      .mem64 = m->bar[b].mem64,
						      .prefetch = m->bar[b].prefetch};
	if ((rc = vpci_dev_init(&vd->v)))
		return rc;
	rc = vpci_bus_add(&vm->bus, &vd->v); /* the slot, or -errno */
	if (rc < 0)
		return rc;
	phys_setup(m);
	vd->used = true;
	return 0;
}

int vm_assign(struct vm *vm, struct pci_dev *d)
{
	struct pci_dev *m[VM_MAX_DEVS];
	struct dma_group *g;
	char bdf[16];
	int n, rc;

	pci_format_bdf(bdf, sizeof(bdf), d->seg, d->bus, d->dev, d->fn);
	if (vm->state == VM_RUNNING) {
		vm_why_set("vm%u is running: stop it first", vm->id);
		return -EBUSY;
	}
	if ((rc = dev_group_get(d, &g))) {
		vm_why_set("%s: %s", bdf,
			   rc == -ENODEV ? "no IOMMU unit translates it"
					 : "its group cannot be isolated by one unit");
		return rc;
	}
	if (g->space) {
		struct vm *o = owner_of(g);
		if (o)
			vm_why_set("%s (group %d) is assigned to vm%u", bdf, g->id, o->id);
		else
			vm_why_set("%s (group %d) is in use: attached to as=%u", bdf, g->id,
				   dma_space_id(g->space));
		return -EBUSY;
	}
	n = pci_group_members(g->id, m, VM_MAX_DEVS);
	if (n <= 0 || n > VM_MAX_DEVS) {
		vm_why_set("%s: group %d has %d members (at most %u)", bdf, g->id, n, VM_MAX_DEVS);
		return n <= 0 ? -ENODEV : -E2BIG;
	}
	for (int i = 0; i < n; i++)
		if (m[i]->is_bridge || m[i]->hdr_type != 0) {
			vm_why_set("%s: group %d holds a bridge (%02x:%02x.%x): bridges are not "
				   "passed through",
				   bdf, g->id, m[i]->bus, m[i]->dev, m[i]->fn);
			return -EINVAL;
		}
	/* Whatever its last owner left running stops before it sees this VM's
	 * memory. */
	if ((rc = dev_quiesce_members(m, (unsigned)n))) {
		vm_why_set("%s: could not be quiesced (%s)", bdf, err_name(rc));
		return rc;
	}
	rc = dma_attach(vm->as, g);
	if (rc) {
		const struct dma_why *w = dma_space_why(vm->as);
		if (w->kind == DMA_WHY_UNSAFE_INTERRUPTS)
			vm_why_set("%s: unit %d %s: interrupts from it are not isolated (boot with "
				   "allow_unsafe_interrupts to pass it through anyway)",
				   bdf, w->id,
				   w->a ? "cannot block compatibility-format interrupts"
					: "does not remap interrupts");
		else
			vm_why_set("%s: attach to the VM's DMA space failed (%s)", bdf,
				   err_name(rc));
		return rc;
	}
	for (int i = 0; i < n; i++) {
		if ((rc = add_member(vm, m[i], g))) {
			vm_why_set("%s: no virtual slot (%s)", bdf, err_name(rc));
			for (unsigned k = 0; k < VM_MAX_DEVS; k++)
				if (vm->devs[k].used && vm->devs[k].group == g)
					dev_release(&vm->devs[k]);
			if (dma_detach(vm->as, g))
				klog("vm: vm%u: detach of group %d after a failed assign failed",
				     vm->id, g->id);
			return rc;
		}
	}
	return 0;
}

static int unassign_group(struct vm *vm, struct dma_group *g)
{
	int rc;

	for (unsigned k = 0; k < VM_MAX_DEVS; k++)
		if (vm->devs[k].used && vm->devs[k].group == g)
			dev_release(&vm->devs[k]);
	rc = dma_detach(vm->as, g);
	if (rc)
		klog("vm: vm%u: detach of group %d failed (%s)", vm->id, g->id, err_name(rc));
	return rc;
}

int vm_unassign(struct vm *vm, struct pci_dev *d)
{
	struct vm_dev *vd = find_dev(vm, d);

	if (!vd) {
		vm_why_set("%02x:%02x.%x is not assigned to vm%u", d->bus, d->dev, d->fn, vm->id);
		return -ENOENT;
	}
	if (vm->state == VM_RUNNING) {
		vm_why_set("vm%u is running: stop it first", vm->id);
		return -EBUSY;
	}
	int rc = unassign_group(vm, vd->group);
	if (rc)
		vm_why_set("detach failed (%s): the group stays blocked", err_name(rc));
	return rc;
}

void vm_unassign_all(struct vm *vm)
{
	for (unsigned k = 0; k < VM_MAX_DEVS; k++)
		if (vm->devs[k].used)
			(void)unassign_group(vm, vm->devs[k].group);
}
