/*
 * console/cmd_edu.c — the `edu` console commands (shared/CONSOLE.md, "The
 * edu test device"): DMA between an IOVA of the device's address space and
 * the device's buffer, with status=fault taken from the VT-d fault log, and
 * the device's MSI.
 *
 * edu's buffer is reachable only by DMA (hw/misc/edu.c has no MMIO window
 * onto it), so the bytes the device received are read back, and the byte to
 * write is put in, through a bounce page: a fresh page the dma layer
 * allocates and maps in the device's own address space for the duration of
 * the command, at a free IOVA that does not intersect the user's range,
 * device-writable only for `read` and device-readable only for `write`.
 * It goes through the ordinary dma_map/dma_unmap path (page tables,
 * invalidation before the page is freed), is charged to the hypervisor, not
 * to the space's owner (dma_map_hyp: the user's pin limit and mapping limit
 * do not count it) and is gone when the command ends.  No memory of the user outside
 * the mappings the user made is ever touched.  docs/console.md ("The edu device") has the
 * full reasoning.
 */
#include <stdio.h>
#include <string.h>

#include "dma/dma.h"
#include "drivers/edu.h"
#include "drivers/msi.h"
#include "hw/hw.h"
#include "kernel/time.h"
#include "iommu/iommu.h"
#include "console/console.h"
#include "dma/devices.h"
#include "lib/crc32.h"
#include "lib/parse.h"

typedef unsigned long long ull;

#define U_EDU                                                                          \
	"edu <bdf> read <iova> <len> | edu <bdf> write <iova> <len> <byte> | edu <bdf> irq " \
	"[compat]"

/* edu ANDs DMA addresses with its dma_mask, 28 bits by default: the bounce
 * page must lie below it or the device would reach a different IOVA. */
#define EDU_DEFAULT_DMA_LAST 0x0fffffffull

struct bounce {
	struct dma_space *s;
	uint64_t iova, size, hpa;
	bool mapped;
};

static void bounce_put(struct bounce *b)
{
	uint64_t un = 0;

	if (!b->mapped)
		return;
	if (dma_unmap(b->s, b->iova, b->size, &un))
		klog("edu: bounce page iova 0x%llx could not be unmapped", (ull)b->iova);
	b->mapped = false;
}

/* The bounce page is sluice's, not the user's: dma_map_hyp charges it to
 * the hypervisor and leaves the user's pin and mapping limits alone. */
static int bounce_get(struct dma_space *s, unsigned prot, uint64_t avoid, uint64_t avoid_last,
		      struct bounce *b)
{
	struct dma_space_info si;
	struct dma_iova_req q;
	uint64_t last;
	int rc;

	memset(b, 0, sizeof(*b));
	dma_space_info(s, &si);
	b->s = s;
	b->size = si.pgsize > EDU_XFER_MAX ? si.pgsize : EDU_XFER_MAX;
	last = si.iova_last < EDU_DEFAULT_DMA_LAST ? si.iova_last : EDU_DEFAULT_DMA_LAST;
	q = (struct dma_iova_req){.size = b->size,
				  .align = b->size,
				  .last = last,
				  .avoid = avoid,
				  .avoid_last = avoid_last};
	rc = dma_free_iova(s, &q, &b->iova);
	if (!rc)
		rc = dma_map_hyp(s, b->iova, b->size, prot, &b->hpa);
	if (rc == -ENOMEM)
		return cmd_fail(rc, "out of memory for the bounce page");
	if (rc)
		return cmd_fail(
			-ENOSPC,
			"no free IOVA below 0x%llx in as=%u for the bounce page that carries "
			"the device's buffer",
			(ull)(last + 1), si.id);
	b->mapped = true;
	return 0;
}

/* The group of an edu left its space (dma_detach, as destroy): the MSI
 * sluice routed for its members goes with it (IRTE left not present and
 * freed, vector freed); the next `edu irq` sets it up afresh. */
static void release_edu_irqs(struct dma_group *g, void *arg)
{
	struct pci_dev *members[32];
	int n = pci_group_members(g->id, members, 32);

	(void)arg;
	for (int i = 0; i < n && i < 32; i++)
		edu_release_irq(members[i]);
}

/* One DMA, reporting whether the IOMMU recorded a fault for sid meanwhile. */
static int dma_once(struct edu *e, bool to_ram, uint64_t addr, uint32_t len, bool *fault)
{
	struct pci_dev *d = edu_pci(e);
	uint64_t mark = iommu_fault_total();
	int rc = edu_dma(e, to_ram, addr, 0, len);

	iommu_fault_poll();
	*fault = iommu_fault_seen_since(mark, d->seg, d->alias_rid);
	if (rc == -ETIMEDOUT)
		return cmd_fail(rc, "the device did not finish a %u-byte DMA within %llu ms", len,
				(ull)(EDU_DMA_TIMEOUT_NS / 1000000));
	if (rc)
		return cmd_fail(rc, "DMA of %u bytes refused by the driver", len);
	return 0;
}

static int do_read(struct edu *e, struct dma_group *g, uint64_t iova, uint32_t len)
{
	struct bounce b = {0};
	bool fault = false, f, bf;
	uint32_t xoff, clen, crc;
	unsigned n = edu_chunks(len, 0, &xoff, &clen);
	int rc = 0;

	if (g->space && (rc = bounce_get(g->space, DMA_PROT_W, iova, iova + len - 1, &b)))
		return rc;
	for (unsigned i = 0; i < n; i++) {
		(void)edu_chunks(len, i, &xoff, &clen);
		if ((rc = dma_once(e, false, iova + xoff, clen, &f)))
			goto out;
		fault |= f;
		if (!b.mapped)
			continue;
		if ((rc = dma_once(e, true, b.iova + xoff, clen, &bf)))
			goto out;
		if (bf) {
			rc = cmd_fail(
				-EIO,
				"reading the buffer back through the bounce page at iova 0x%llx faulted",
				(ull)b.iova);
			goto out;
		}
	}
	if (b.mapped) {
		crc = crc32(phys_to_virt(b.hpa), len);
		con_printf("status=%s crc32=0x%08x\n", fault ? "fault" : "ok", crc);
	} else if (fault) {
		/* In no space: no context entry, every access faulted, and edu
		 * receives zeros for a faulted read (QEMU memory core). */
		static const uint8_t zero[EDU_DMA_MAX];
		crc = 0;
		for (uint32_t o = 0; o < len; o += EDU_DMA_MAX)
			crc = crc32_update(crc, zero,
					   len - o < EDU_DMA_MAX ? len - o : EDU_DMA_MAX);
		con_printf("status=fault crc32=0x%08x readback=0\n", crc);
	} else {
		rc = cmd_fail(-EIO,
			      "the DMA was not blocked although the device is in no address space "
			      "(is DMA remapping off?); its buffer cannot be read back");
	}
out:
	bounce_put(&b);
	return rc;
}

static int do_write(struct edu *e, struct dma_group *g, uint64_t iova, uint32_t len, uint8_t byte)
{
	struct bounce b = {0};
	bool fault = false, f;
	uint32_t xoff, clen, fill = len < EDU_DMA_MAX ? len : EDU_DMA_MAX;
	unsigned n = edu_chunks(len, 0, &xoff, &clen);
	int rc = 0;

	if (g->space) {
		if ((rc = bounce_get(g->space, DMA_PROT_R, iova, iova + len - 1, &b)))
			return rc;
		memset(phys_to_virt(b.hpa), byte, fill);
		/* The same fill serves every chunk: each goes out of offset 0. */
		if ((rc = dma_once(e, false, b.iova, fill, &f)))
			goto out;
		bounce_put(&b);
		if (f)
			return cmd_fail(-EIO, "filling the buffer from the bounce page faulted");
	}
	for (unsigned i = 0; i < n; i++) {
		(void)edu_chunks(len, i, &xoff, &clen);
		if ((rc = dma_once(e, true, iova + xoff, clen, &f)))
			goto out;
		fault |= f;
	}
	if (!g->space && !fault)
		rc = cmd_fail(-EIO,
			      "the DMA was not blocked although the device is in no address space "
			      "(is DMA remapping off?)");
	else
		con_printf("status=%s\n", fault ? "fault" : "ok");
out:
	bounce_put(&b);
	return rc;
}

/* ------------------------------------------------ `edu <bdf> irq compat` */

/* A diagnostic: does the unit block compatibility-format interrupts (VT-d
 * 5.1.2.1, 5.1.4)?  The device sends a compatibility-format MSI for a fresh
 * vector that has a counting handler and no IRTE; delivered=1 means a device
 * can reach any vector around interrupt remapping. */
static volatile uint64_t compat_hits;

static void compat_isr(unsigned vector, void *ctx)
{
	(void)vector;
	(void)ctx;
	compat_hits++;
}

struct msi_saved {
	uint16_t flags, data;
	uint32_t addr_lo, addr_hi;
};

static unsigned msi_data_off(uint16_t flags)
{
	return flags & PCI_MSI_FLAGS_64BIT ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
}

/* Writes the message with MSI disabled meanwhile, then flags as given. */
static void msi_put(struct pci_dev *d, const struct msi_saved *m)
{
	unsigned cap = d->cap_msi;

	pci_write(d, cap + PCI_MSI_FLAGS, 2, m->flags & ~PCI_MSI_FLAGS_ENABLE);
	pci_write(d, cap + PCI_MSI_ADDRESS_LO, 4, m->addr_lo);
	if (m->flags & PCI_MSI_FLAGS_64BIT)
		pci_write(d, cap + PCI_MSI_ADDRESS_HI, 4, m->addr_hi);
	pci_write(d, cap + msi_data_off(m->flags), 2, m->data);
	pci_write(d, cap + PCI_MSI_FLAGS, 2, m->flags);
}

static int irq_compat(struct edu *e, const char *bdf)
{
	struct pci_dev *d = edu_pci(e);
	struct iommu_unit *u = iommu_unit_for(d->seg, d->alias_rid);
	unsigned cap = d->cap_msi;
	struct edu_irq_result r;
	struct msi_saved old, m;
	int v, rc;

	/* sluice's own MSI first, so that edu_irq below only raises it. */
	rc = edu_irq(e, u, EDU_IRQ_TIMEOUT_NS, &r);
	if (rc == -ENOTSUP)
		return cmd_fail(rc, "%.40s has no MSI capability", bdf);
	if (rc == -ENOSPC)
		return cmd_fail(rc, "no free interrupt vector");
	if (rc)
		return cmd_fail(rc, "cannot set up the MSI of %.40s", bdf);
	v = irq_alloc_vector(compat_isr, NULL);
	if (v < 0)
		return cmd_fail(v, "no free interrupt vector");
	old.flags = (uint16_t)pci_read(d, cap + PCI_MSI_FLAGS, 2);
	old.addr_lo = pci_read(d, cap + PCI_MSI_ADDRESS_LO, 4);
	old.addr_hi = old.flags & PCI_MSI_FLAGS_64BIT ? pci_read(d, cap + PCI_MSI_ADDRESS_HI, 4) : 0;
	old.data = (uint16_t)pci_read(d, cap + msi_data_off(old.flags), 2);
	/* 5.1.2.1: interrupt format bit 4 clear, this CPU, fixed, edge. */
	uint64_t addr = irq_msi_compat_addr();
	m = (struct msi_saved){.flags = old.flags,
			       .addr_lo = (uint32_t)addr,
			       .addr_hi = (uint32_t)(addr >> 32),
			       .data = (uint16_t)irq_msi_compat_data((unsigned)v)};
	compat_hits = 0;
	msi_put(d, &m);
	/* No wait here: edu's own handler is not the one that should run. */
	rc = edu_irq(e, u, 0, &r);
	bool hit = !rc && poll_until(compat_hits != 0, EDU_IRQ_TIMEOUT_NS) == 0;
	msi_put(d, &old);
	irq_free_vector((unsigned)v);
	if (rc)
		return cmd_fail(rc, "%.40s could not raise its MSI", bdf);
	con_printf("delivered=%d vector=%d irte=- addr=0x%08x data=0x%04x\n", hit ? 1 : 0, v,
		   m.addr_lo, m.data);
	return 0;
}

static int cmd_edu(int argc, char **argv)
{
	struct pci_dev *d;
	struct dma_group *g = NULL;
	struct edu *e;
	uint64_t iova = 0, len = 0, byte = 0;
	bool rd, wr, irq, compat = false;
	int rc;

	if (argc < 3)
		return cmd_fail(-EINVAL, "usage: " U_EDU);
	rd = !strcmp(argv[2], "read");
	wr = !strcmp(argv[2], "write");
	irq = !strcmp(argv[2], "irq");
	if (irq && argc == 4 && !strcmp(argv[3], "compat"))
		compat = true;
	if ((rd && argc != 5) || (wr && argc != 6) || (irq && argc != 3 && !compat) ||
	    !(rd || wr || irq))
		return cmd_fail(-EINVAL, "usage: " U_EDU);
	if (rd || wr) {
		if ((rc = parse_u64(argv[3], &iova)))
			return cmd_fail(rc, "bad iova '%.40s'", argv[3]);
		if ((rc = parse_size(argv[4], &len)))
			return cmd_fail(rc, "bad length '%.40s'", argv[4]);
		if (len == 0 || len > EDU_XFER_MAX)
			return cmd_fail(-EINVAL, "length %llu is not 1..%u", (ull)len,
					EDU_XFER_MAX);
		if (iova + len - 1 < iova)
			return cmd_fail(-EOVERFLOW, "iova 0x%llx + %llu wraps", (ull)iova,
					(ull)len);
		if (wr && (rc = parse_u64_max(argv[5], 255, &byte)))
			return cmd_fail(rc, "bad byte '%.40s' (0..255)", argv[5]);
	}
	rc = dev_lookup(argv[1], &d);
	if (rc == -EINVAL)
		return cmd_fail(rc, "bad bdf '%.40s' (bus:dev.fn in hex, e.g. 00:03.0)", argv[1]);
	if (rc)
		return cmd_fail(rc, "no PCI device %.40s (lspci lists them)", argv[1]);
	if (d->vendor != EDU_VENDOR || d->device != EDU_DEVICE)
		return cmd_fail(-ENODEV, "%.40s is %04x:%04x, not an edu device (%04x:%04x)",
				argv[1], d->vendor, d->device, EDU_VENDOR, EDU_DEVICE);
	if (rd || wr) {
		/* Untranslated DMA would reach physical memory unchecked. */
		rc = dev_group_get(d, &g);
		if (rc == -ENODEV)
			return cmd_fail(
				rc, "no IOMMU unit translates %.40s: its DMA would be unchecked",
				argv[1]);
		if (rc)
			return cmd_fail(rc, "cannot set up the group of %.40s", argv[1]);
	}
	rc = edu_get(d, &e);
	if (rc == -EIO)
		return cmd_fail(rc, "%.40s has no usable memory BAR0 or its id register is wrong",
				argv[1]);
	if (rc)
		return cmd_fail(rc, "cannot set up %.40s", argv[1]);
	if (rd)
		return do_read(e, g, iova, (uint32_t)len);
	if (wr)
		return do_write(e, g, iova, (uint32_t)len, (uint8_t)byte);

	/* The MSI set up now must go when the group leaves a space.  No group
	 * (no unit translates the device): it can join no space either. */
	if (!dev_group_get(d, &g))
		dma_group_on_release(g, release_edu_irqs, NULL);
	if (compat)
		return irq_compat(e, argv[1]);
	struct edu_irq_result r;
	rc = edu_irq(e, iommu_unit_for(edu_pci(e)->seg, edu_pci(e)->alias_rid), EDU_IRQ_TIMEOUT_NS,
		     &r);
	if (rc == -ENOTSUP)
		return cmd_fail(rc, "%.40s has no MSI capability", argv[1]);
	if (rc == -ENOSPC)
		return cmd_fail(rc, "no free interrupt vector");
	if (rc)
		return cmd_fail(rc, "cannot set up the MSI of %.40s", argv[1]);
	if (r.irte < 0)
		con_printf("delivered=%d vector=%u irte=-\n", r.delivered ? 1 : 0, r.vector);
	else
		con_printf("delivered=%d vector=%u irte=%d\n", r.delivered ? 1 : 0, r.vector,
			   r.irte);
	return 0;
}

COMMAND(edu, "edu", U_EDU, cmd_edu);
