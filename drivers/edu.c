/*
 * drivers/edu.c — the edu test device's DMA engine and MSI (see edu.h).
 * Register layout: QEMU docs/specs/edu.txt and hw/misc/edu.c (7.2).
 */
#include "drivers/edu.h"

#include <stdlib.h>

#include "arch/x86/irq.h"
#include "drivers/msi.h"
#include "drivers/pci_regs.h"
#include "hw/hw.h"
#include "iommu/iommu.h"
#include "kernel/log.h"
#include "kernel/time.h"

/* MSI capability layout (PCI Local Bus 3.0 §6.8.1). */
#define MSI_FLAGS 2
#define MSI_FLAGS_ENABLE 0x0001u
#define MSI_FLAGS_QSIZE 0x0070u
#define MSI_FLAGS_64BIT 0x0080u
#define MSI_ADDR_LO 4
#define MSI_ADDR_HI 8
#define MSI_DATA_32 8
#define MSI_DATA_64 12

struct edu {
	struct pci_dev *pci;
	uint64_t mmio;
	int vector; /* -1 until the MSI is programmed (compatibility format) */
	int irte;
	struct iommu_irq_route *src; /* remapped MSI: entry and vector live here */
	volatile uint64_t irqs;
	struct edu *next;
};

static struct edu *edus;

struct pci_dev *edu_pci(const struct edu *e) { return e->pci; }

static void enable(struct pci_dev *d)
{
	pci_command_update(d, 0, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* A bridge forwards its secondary side's requests upstream only with
	 * its own Bus Master Enable set (PCI-to-PCI Bridge spec 3.2.2.3.1). */
	for (struct pci_dev *p = d->parent; p; p = p->parent)
		pci_set_bus_master(p, true);
}

int edu_get(struct pci_dev *d, struct edu **out)
{
	struct edu *e;
	uint32_t id;

	if (!d || d->vendor != EDU_VENDOR || d->device != EDU_DEVICE)
		return -ENODEV;
	for (e = edus; e; e = e->next)
		if (e->pci == d)
			break;
	if (!e) {
		if (d->bar[0].size == 0 || d->bar[0].io || d->bar[0].base == 0)
			return -EIO;
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->pci = d;
		e->mmio = d->bar[0].base;
		e->vector = -1;
		e->irte = -1;
		enable(d);
		id = mmio_read32(e->mmio + EDU_REG_ID);
		if (id != EDU_ID_VALUE) {
			klog("edu: %02x:%02x.%x id register reads 0x%08x, not 0x%08x", d->bus,
			     d->dev, d->fn, id, EDU_ID_VALUE);
			free(e);
			return -EIO;
		}
		e->next = edus;
		edus = e;
	} else {
		/* Someone (pci write, a fault storm) may have turned decoding or
		 * Bus Master off since: every command needs both. */
		enable(d);
	}
	*out = e;
	return 0;
}

bool edu_dma_ok(uint32_t off, uint32_t len)
{
	/* QEMU 7.2 edu_check_range: end must be strictly below 0x41000. */
	return len >= 1 && len <= EDU_DMA_MAX && off < EDU_BUF_SIZE && off + len < EDU_BUF_SIZE;
}

unsigned edu_chunks(uint32_t len, unsigned i, uint32_t *xoff, uint32_t *clen)
{
	unsigned n;

	if (len == 0 || len > EDU_XFER_MAX)
		return 0;
	n = (len + EDU_DMA_MAX - 1) / EDU_DMA_MAX;
	if (i < n) {
		*xoff = i * EDU_DMA_MAX;
		*clen = len - *xoff < EDU_DMA_MAX ? len - *xoff : EDU_DMA_MAX;
	}
	return n;
}

static int wait_idle(struct edu *e)
{
	return poll_until(!(mmio_read64(e->mmio + EDU_REG_DMA_CMD) & EDU_DMA_CMD_START),
			  EDU_DMA_TIMEOUT_NS);
}

int edu_dma(struct edu *e, bool to_ram, uint64_t addr, uint32_t off, uint32_t len)
{
	int err;

	if (!edu_dma_ok(off, len))
		return -EINVAL;
	/* Register writes are ignored while a DMA runs (edu dma_rw). */
	if ((err = wait_idle(e)))
		return err;
	mmio_write64(e->mmio + EDU_REG_DMA_SRC, to_ram ? EDU_BUF_ADDR + off : addr);
	mmio_write64(e->mmio + EDU_REG_DMA_DST, to_ram ? addr : EDU_BUF_ADDR + off);
	mmio_write64(e->mmio + EDU_REG_DMA_CNT, len);
	cpu_mfence();
	mmio_write64(e->mmio + EDU_REG_DMA_CMD,
		     EDU_DMA_CMD_START | (to_ram ? EDU_DMA_CMD_TO_RAM : 0));
	return wait_idle(e);
}

/* Interrupt context: acknowledge what the device raised (edu: INTx drops
 * when irq_status is 0; for MSI the ack only keeps the status clean). */
static void edu_isr(unsigned vector, void *ctx)
{
	struct edu *e = ctx;
	uint32_t st = mmio_read32(e->mmio + EDU_REG_IRQ_STATUS);

	(void)vector;
	if (st)
		mmio_write32(e->mmio + EDU_REG_IRQ_ACK, st);
	e->irqs++;
}

/* The one place that chooses the MSI format: through an interrupt route
 * with source validation whenever the unit translating edu remaps
 * interrupts; compatibility format only where there is none (noiommu). */
static int msi_setup(struct edu *e, struct iommu_unit *u)
{
	struct pci_dev *d = e->pci;
	unsigned cap = d->cap_msi;
	uint16_t flags;
	int v;

	if (!cap)
		return -ENOTSUP;
	if (iommu_irq_remapping(u)) {
		int rc = msi_enable_remapped(d, u, edu_isr, e, &e->src);
		if (rc)
			return rc;
		e->vector = (int)e->src->vector;
		e->irte = (int)e->src->index;
		return 0;
	}
	v = irq_alloc_vector(edu_isr, e);
	if (v < 0)
		return v;
	flags = (uint16_t)pci_read(d, cap + MSI_FLAGS, 2);
	/* Disable while the address/data change, one vector (MME = 0). */
	pci_write(d, cap + MSI_FLAGS, 2, flags & ~(MSI_FLAGS_ENABLE | MSI_FLAGS_QSIZE));
	uint64_t addr = irq_msi_compat_addr();
	pci_write(d, cap + MSI_ADDR_LO, 4, (uint32_t)addr);
	if (flags & MSI_FLAGS_64BIT) {
		pci_write(d, cap + MSI_ADDR_HI, 4, (uint32_t)(addr >> 32));
		pci_write(d, cap + MSI_DATA_64, 2, irq_msi_compat_data((unsigned)v));
	} else {
		pci_write(d, cap + MSI_DATA_32, 2, irq_msi_compat_data((unsigned)v));
	}
	pci_write(d, cap + MSI_FLAGS, 2, (flags & ~MSI_FLAGS_QSIZE) | MSI_FLAGS_ENABLE);
	e->vector = v;
	e->irte = -1;
	return 0;
}

int edu_irq(struct edu *e, struct iommu_unit *ir_unit, uint64_t timeout_ns,
	    struct edu_irq_result *r)
{
	uint64_t before;
	int err;

	if (e->vector < 0 && (err = msi_setup(e, ir_unit)))
		return err;
	before = e->irqs;
	/* With MSI enabled every write leaving irq_status != 0 sends one MSI. */
	mmio_write32(e->mmio + EDU_REG_IRQ_RAISE, 1);
	r->delivered = poll_until(e->irqs != before, timeout_ns) == 0;
	/* a retarget (irq retarget) moves the source to another vector */
	r->vector = e->src ? e->src->vector : (unsigned)e->vector;
	r->irte = e->irte;
	if (!r->delivered)
		mmio_write32(e->mmio + EDU_REG_IRQ_ACK, 1); /* leave the status clean */
	return 0;
}

void edu_release_irq(struct pci_dev *d)
{
	struct edu *e;

	for (e = edus; e && e->pci != d; e = e->next)
		;
	if (!e || e->vector < 0)
		return;
	if (e->src) {
		msi_disable_remapped(e->src); /* entry left not present, vector freed */
		e->src = NULL;
	} else {
		unsigned cap = d->cap_msi;
		uint16_t flags = (uint16_t)pci_read(d, cap + MSI_FLAGS, 2);
		pci_write(d, cap + MSI_FLAGS, 2, flags & ~MSI_FLAGS_ENABLE);
		irq_free_vector((unsigned)e->vector);
	}
	e->vector = -1;
	e->irte = -1;
}
