/*
 * tests/unit/fake_pci.h — a fake ECAM configuration space for host tests.
 *
 * Each fake covers one MCFG window (registered with fake_mmio_add, so any
 * access outside the window aborts the test).  A function is 4 KiB of
 * config bytes plus a per-bit write mask and a per-bit RW1C mask; absent
 * functions read all ones.  BARs are modelled by their write masks, so
 * sizing really responds to all-ones writes.  8/16-bit accesses arrive
 * through pci_host_mmio_read/write (overriding the weak defaults in
 * drivers/pci.c); 32-bit ones through the fake_mmio model.
 */
#ifndef SLUICE_TESTS_UNIT_FAKE_PCI_H
#define SLUICE_TESTS_UNIT_FAKE_PCI_H

#include <stdbool.h>
#include <stdint.h>

struct fake_pci_fn {
	uint8_t cfg[4096];
	uint8_t wmask[4096]; /* 1 = writable bit */
	uint8_t w1c[4096];   /* 1 = write-one-to-clear bit */
	uint8_t last_cap;    /* tail of the capability chain (for appending) */
	uint16_t last_ecap;  /* tail of the extended chain */
	/* What the driver did to it */
	unsigned cmd_writes;	  /* writes touching the command register */
	unsigned sized_decode_on; /* all-ones BAR writes while IO/MEM decode was on */
	unsigned bar_allones;	  /* all-ones BAR writes */
	unsigned dword_writes, word_writes, byte_writes;
	/* Function level reset (fake_pci_flr_pcie, fake_pci_cap_af) */
	uint8_t pcie, af;	/* capability offsets, 0 = absent */
	unsigned flrs;		/* FLRs done */
	unsigned flr_master_on; /* ... initiated with Bus Master Enable on */
	unsigned flr_pending;	/* ... initiated with Transactions Pending set */
	unsigned pending_reads; /* Transactions Pending reads set this many more times */
	/* An interrupt raised by the next read of the command register
	 * (fake_pci_irq_on_cmd_read) */
	void (*cmd_irq_fn)(void *);
	void *cmd_irq_ctx;
	unsigned cmd_irq_skip;	 /* ... not by the next this many reads, after them */
	unsigned cmd_irq_masked; /* ... raised while interrupts were off: held back */
	unsigned cmd_irq_taken;	 /* ... raised with interrupts on: ran at the read */
};

struct fake_pci;

/* A window for segment seg, buses bus_start..bus_end; base is bus 0's. */
struct fake_pci *fake_pci_create(uint64_t base, uint16_t seg, uint8_t bus_start, uint8_t bus_end);
/* Frees every fake and clears the fake_mmio models. */
void fake_pci_reset(void);

/* A function with its IDs, class (24 bits) and header type (0 or 1); the
 * command register's IO/MEM/MASTER bits are writable, status bits 15:11 and 8
 * are RW1C. */
struct fake_pci_fn *fake_pci_add(struct fake_pci *p, uint8_t bus, uint8_t dev, uint8_t fn,
				 uint16_t vendor, uint16_t device, uint32_t class, uint8_t hdr);
struct fake_pci_fn *fake_pci_fn_at(struct fake_pci *p, uint8_t bus, uint8_t dev, uint8_t fn);

void fake_pci_multifunction(struct fake_pci_fn *f);
void fake_pci_bridge_buses(struct fake_pci_fn *f, uint8_t pri, uint8_t sec, uint8_t sub);
/* BARs: size a power of two; io16 = I/O decoder of 16 bits only */
void fake_pci_bar32(struct fake_pci_fn *f, unsigned idx, uint32_t base, uint32_t size,
		    bool prefetch);
void fake_pci_bar64(struct fake_pci_fn *f, unsigned idx, uint64_t base, uint64_t size,
		    bool prefetch);
void fake_pci_bar_io(struct fake_pci_fn *f, unsigned idx, uint32_t base, uint32_t size, bool io16);

/* Appends a capability at pos to the chain (sets the status bit and 0x34
 * for the first); the PCIe capability also gets its Device/Port Type. */
void fake_pci_cap(struct fake_pci_fn *f, uint8_t pos, uint8_t id);
void fake_pci_cap_pcie(struct fake_pci_fn *f, uint8_t pos, uint8_t type);
/* FLR (reset: BARs' address bits, command, interrupt line, Device Control
 * and the device-specific scratch 0xc0-0xff back to 0), started by writing
 * Initiate FLR: in the PCIe capability's Device Control (the capability
 * must exist; DEVCAP.FLR is set), or in an Advanced Features capability
 * appended at pos (TP and FLR capable).  Transactions Pending (DEVSTA bit 5,
 * AF status bit 0) is read-only: set it with fake_pci_set8/16. */
void fake_pci_flr_pcie(struct fake_pci_fn *f);
void fake_pci_cap_af(struct fake_pci_fn *f, uint8_t pos);

/* Appends an extended capability (version 1) at pos. */
void fake_pci_ecap(struct fake_pci_fn *f, uint16_t pos, uint16_t id);
/* Appends an ACS capability at pos: Capability Register cap, the Control
 * Register's bits in ctrl_wmask writable. */
void fake_pci_ecap_acs(struct fake_pci_fn *f, uint16_t pos, uint16_t cap, uint16_t ctrl_wmask);

/* The next read touching f's command register raises fn(ctx) as an
 * interrupt (fake_irq_raise): it runs right after the read, before the
 * driver's next access, if interrupts are on, else when they come back on.
 * Once: the hook disarms itself. */
void fake_pci_irq_on_cmd_read(struct fake_pci_fn *f, void (*fn)(void *), void *ctx);

/* Raw access to the model, bypassing masks (tests set up and inspect). */
void fake_pci_set8(struct fake_pci_fn *f, unsigned off, uint8_t v);
void fake_pci_set16(struct fake_pci_fn *f, unsigned off, uint16_t v);
void fake_pci_set32(struct fake_pci_fn *f, unsigned off, uint32_t v);
uint8_t fake_pci_get8(const struct fake_pci_fn *f, unsigned off);
uint16_t fake_pci_get16(const struct fake_pci_fn *f, unsigned off);
uint32_t fake_pci_get32(const struct fake_pci_fn *f, unsigned off);

#endif
