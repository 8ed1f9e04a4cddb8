/*
 * guests/edu-test/main.c — a guest that drives a passed-through QEMU edu
 * device (1234:11e8) and checks what sluice promises about it: the virtual
 * PCI view, DMA confined to the guest's RAM, MSI injected once, and
 * free-page hints blocking DMA.  One `result=pass|fail check=<name>` line
 * per check, then `result=done passed=<n> failed=<n>`; exit code = failed.
 *
 * Buffers sit in guest RAM right after the image (page aligned):
 *   A (pattern source), B (DMA copy), D (outside-check source), C (64 KiB,
 *   the hinted buffer).
 * Pattern P: byte i = (uint8_t)(i * 7 + 3), i = 0..2047, in A; after the
 * run A, B and C[0..2047] all hold P (a test can `vm mem crc` them).
 * Pattern Q (outside check): byte i = (uint8_t)(i * 13 + 91), i = 0..1023.
 */
#include <stdbool.h>

#include "guests/lib/edu.h"
#include "guests/lib/pci.h"
#include "guests/lib/rt.h"

#define BAR_GPA 0xe0000000ull	  /* outside RAM, below the 0xFEE00000 window */
#define OUTSIDE_GPA 0x70000000ull /* DMA target outside RAM and the BAR */
#define MSI_ADDR 0xfee00000u	  /* compatibility format, destination APIC 0 */
#define MSI_VECTOR 0x41
#define IRQ_RAISE_BITS 0x1

#define PAGE 0x1000ull
#define PAT_LEN 2048u
#define Q_LEN 1024u
#define Q_DEV_OFF 0x800u    /* Q lives at EDU_BUF + 0x800, P at EDU_BUF */
#define Q_SCAN 64u	    /* bytes of Q compared at each page of RAM */
#define HINT_LEN 0x10000ull /* buffer C */
#define FILL_B 0xee
#define FILL_C 0x5a

/* Bounds only there so a dead device cannot hang the guest. */
#define MSI_WAIT_HLTS 100000u
#define MSI_SETTLE_SPINS 2000000u

static unsigned passed, failed;
static uint64_t bar;
static volatile unsigned msi_count;
static volatile uint32_t msi_status;

static uint8_t pat_p(unsigned i) { return (uint8_t)(i * 7 + 3); }

static uint8_t pat_q(unsigned i) { return (uint8_t)(i * 13 + 91); }

static uint8_t *gpa_ptr(uint64_t gpa) { return (uint8_t *)(uintptr_t)gpa; }

static void pass(const char *check)
{
	passed++;
	rt_printf("result=pass check=%s\n", check);
}

static void fail(const char *check, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const char *check, const char *fmt, ...)
{
	va_list ap;

	failed++;
	rt_printf("result=fail check=%s ", check);
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
	rt_printf("\n");
}

/* One edu DMA between guest-physical gpa and the device buffer at dev_off;
 * waits for the start bit to clear.  0, -1 (refused: would abort QEMU) or
 * -2 (timed out). */
static int dma(uint64_t gpa, unsigned dev_off, unsigned len, bool to_ram)
{
	return edu_dma(bar, gpa, dev_off, len, to_ram);
}

static const char *dma_err(int r) { return r == -2 ? "dma timeout" : "dma refused"; }

/* BAR0 by the sizing protocol (PCI Local Bus 3.0 6.2.5.1), placed at
 * BAR_GPA, then Memory Space and Bus Master on. */
static bool check_bar(struct pci_fn f, uint64_t ram)
{
	uint32_t lo = pci_read32(f, PCI_BAR0);
	bool is64 = (lo & PCI_BAR_TYPE_MASK) == PCI_BAR_TYPE_64;
	uint32_t mask_hi = 0xffffffffu;

	if (lo & PCI_BAR_IO) {
		fail("bar", "bar0 is an I/O BAR (0x%x)", lo);
		return false;
	}
	pci_write32(f, PCI_BAR0, 0xffffffffu);
	uint32_t mask_lo = pci_read32(f, PCI_BAR0) & PCI_BAR_MEM_MASK;
	if (is64) {
		pci_write32(f, PCI_BAR0 + 4, 0xffffffffu);
		mask_hi = pci_read32(f, PCI_BAR0 + 4);
	}
	uint64_t size = ~((uint64_t)mask_hi << 32 | mask_lo) + 1;

	rt_printf("edu-test: bar0 gpa=0x%llx size=0x%llx%s\n", BAR_GPA, (unsigned long long)size,
		  is64 ? " 64-bit" : "");
	if (mask_lo == 0 || size < PAGE || (size & (size - 1)) || (BAR_GPA & (size - 1)) ||
	    BAR_GPA < ram || BAR_GPA + size > MSI_ADDR) {
		fail("bar", "bad size mask=0x%x size=0x%llx ram=0x%llx", mask_lo,
		     (unsigned long long)size, (unsigned long long)ram);
		return false;
	}
	pci_write32(f, PCI_BAR0, (uint32_t)BAR_GPA);
	if (is64)
		pci_write32(f, PCI_BAR0 + 4, (uint32_t)(BAR_GPA >> 32));
	uint32_t back = pci_read32(f, PCI_BAR0);
	if ((back & PCI_BAR_MEM_MASK) != (uint32_t)BAR_GPA) {
		fail("bar", "bar0 reads 0x%x after writing 0x%llx", back, BAR_GPA);
		return false;
	}
	uint16_t cmd = pci_read16(f, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	pci_write16(f, PCI_COMMAND, cmd);
	cmd = pci_read16(f, PCI_COMMAND);
	if ((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) !=
	    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) {
		fail("bar", "command reads 0x%x", cmd);
		return false;
	}
	bar = BAR_GPA;
	pass("bar");
	return true;
}

static bool check_liveness(void)
{
	static const uint32_t probes[] = {0x12345678u, 0xa5a55a5au};
	uint32_t id = mmio_read32(bar + EDU_ID);

	if (id != EDU_ID_VALUE) {
		fail("liveness", "id=0x%x", id);
		return false;
	}
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		mmio_write32(bar + EDU_LIVENESS, probes[i]);
		uint32_t v = mmio_read32(bar + EDU_LIVENESS);

		if (v != ~probes[i]) {
			fail("liveness", "wrote 0x%x read 0x%x", probes[i], v);
			return false;
		}
	}
	pass("liveness");
	return true;
}

/* A -> edu buffer -> B; B must equal A. */
static void check_dma(uint64_t a, uint64_t b)
{
	uint8_t *pa = gpa_ptr(a), *pb = gpa_ptr(b);
	int r;

	for (unsigned i = 0; i < PAT_LEN; i++)
		pa[i] = pat_p(i);
	memset(pb, FILL_B, PAT_LEN);
	rt_printf("edu-test: pattern gpa=0x%llx len=%u\n", (unsigned long long)a, PAT_LEN);
	rt_printf("edu-test: copy gpa=0x%llx len=%u\n", (unsigned long long)b, PAT_LEN);
	r = dma(a, 0, PAT_LEN, false);
	if (r == 0)
		r = dma(b, 0, PAT_LEN, true);
	if (r) {
		fail("dma", "%s", dma_err(r));
		return;
	}
	for (unsigned i = 0; i < PAT_LEN; i++) {
		if (pb[i] != pa[i]) {
			fail("dma", "mismatch at %u: 0x%x != 0x%x", i, pb[i], pa[i]);
			return;
		}
	}
	pass("dma");
}

static void edu_irq(struct trap_frame *f)
{
	(void)f;
	uint32_t st = mmio_read32(bar + EDU_IRQ_STATUS);

	mmio_write32(bar + EDU_IRQ_ACK, st);
	msi_status = st;
	msi_count++;
}

/* Programs the MSI capability (32- or 64-bit layout), returns false with
 * the check failed if it is missing or does not take the enable bit. */
static bool msi_enable(struct pci_fn f)
{
	unsigned cap = pci_find_cap(f, PCI_CAP_ID_MSI);

	if (!cap) {
		fail("msi", "no MSI capability");
		return false;
	}
	uint16_t ctrl = pci_read16(f, cap + PCI_MSI_FLAGS);
	bool is64 = ctrl & PCI_MSI_FLAGS_64BIT;

	pci_write32(f, cap + PCI_MSI_ADDRESS_LO, MSI_ADDR);
	if (is64)
		pci_write32(f, cap + PCI_MSI_ADDRESS_HI, 0);
	pci_write16(f, cap + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32), MSI_VECTOR);
	if (ctrl & PCI_MSI_FLAGS_MASKBIT)
		pci_write32(f, cap + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32), 0);
	/* One message: Multiple Message Enable 0. */
	ctrl = (uint16_t)((ctrl & ~PCI_MSI_FLAGS_QSIZE) | PCI_MSI_FLAGS_ENABLE);
	pci_write16(f, cap + PCI_MSI_FLAGS, ctrl);
	ctrl = pci_read16(f, cap + PCI_MSI_FLAGS);
	rt_printf("edu-test: msi cap=0x%x %s vector=0x%x ctrl=0x%x\n", cap,
		  is64 ? "64-bit" : "32-bit", MSI_VECTOR, ctrl);
	if (!(ctrl & PCI_MSI_FLAGS_ENABLE)) {
		fail("msi", "enable bit does not stick (ctrl=0x%x)", ctrl);
		return false;
	}
	return true;
}

/* edu raise -> MSI -> injected MSI_VECTOR, exactly once, acked in the
 * handler. */
static void check_msi(struct pci_fn f)
{
	if (!msi_enable(f))
		return;
	rt_set_handler(MSI_VECTOR, edu_irq);
	msi_count = 0;
	mmio_write32(bar + EDU_IRQ_RAISE, IRQ_RAISE_BITS);
	for (unsigned i = 0; i < MSI_WAIT_HLTS && msi_count == 0; i++)
		irq_wait();
	/* A second delivery would arrive here. */
	irq_enable();
	for (unsigned i = 0; i < MSI_SETTLE_SPINS; i++)
		cpu_relax();
	irq_disable();
	uint32_t st = mmio_read32(bar + EDU_IRQ_STATUS);

	if (msi_count != 1 || msi_status != IRQ_RAISE_BITS || st != 0) {
		fail("msi", "count=%u status_seen=0x%x status_now=0x%x", msi_count, msi_status, st);
		return;
	}
	pass("msi");
}

/* The first page of [0, ram) that starts with Q, or ~0 if none. */
static uint64_t find_q(uint64_t ram)
{
	for (uint64_t pg = 0; pg + PAGE <= ram; pg += PAGE) {
		const volatile uint8_t *p = gpa_ptr(pg);
		unsigned i = 0;

		while (i < Q_SCAN && p[i] == pat_q(i))
			i++;
		if (i == Q_SCAN)
			return pg;
	}
	return ~0ull;
}

static uint64_t outside_gpa(uint64_t ram)
{
	if (ram <= OUTSIDE_GPA)
		return OUTSIDE_GPA;
	uint64_t g = (ram + 0x1fffff) & ~0x1fffffull;

	return g + PAGE <= BAR_GPA ? g : 0;
}

/* Q (from D) into the edu buffer, then edu -> a GPA outside RAM: the DMA
 * completes (edu ignores translation faults) but Q must appear nowhere in
 * RAM and B must still hold P. */
static void check_outside(uint64_t ram, uint64_t b, uint64_t d)
{
	uint64_t out = outside_gpa(ram);
	uint8_t *pd = gpa_ptr(d);
	int r;

	if (!out) {
		fail("outside", "no GPA outside RAM (ram=0x%llx)", (unsigned long long)ram);
		return;
	}
	rt_printf("edu-test: outside gpa=0x%llx len=%u\n", (unsigned long long)out, Q_LEN);
	for (unsigned i = 0; i < Q_LEN; i++)
		pd[i] = pat_q(i);
	r = dma(d, Q_DEV_OFF, Q_LEN, false);
	memset(pd, 0, Q_LEN);
	if (r == 0)
		r = dma(out, Q_DEV_OFF, Q_LEN, true);
	if (r) {
		fail("outside", "%s", dma_err(r));
		return;
	}
	uint64_t hit = find_q(ram);

	if (hit != ~0ull) {
		fail("outside", "landed in RAM at gpa=0x%llx", (unsigned long long)hit);
		return;
	}
	const uint8_t *pb = gpa_ptr(b);

	for (unsigned i = 0; i < PAT_LEN; i++) {
		if (pb[i] != pat_p(i)) {
			fail("outside", "buffer B changed at %u", i);
			return;
		}
	}
	pass("outside");
}

static bool hc_check(const char *check, int64_t r)
{
	if (r == 0) {
		pass(check);
		return true;
	}
	fail(check, "errno=%lld%s", (long long)-r, r == -HC_ENOSYS ? " (ENOSYS)" : "");
	return false;
}

/* The first offset in [0, len) where p is not P, or len. */
static unsigned diff_p(const uint8_t *p, unsigned len)
{
	unsigned i = 0;

	while (i < len && p[i] == pat_p(i))
		i++;
	return i;
}

/* The first nonzero offset in [0, len), or len. */
static uint64_t nonzero_at(const uint8_t *p, uint64_t len)
{
	uint64_t i = 0;

	while (i < len && p[i] == 0)
		i++;
	return i;
}

/* After the blocked DMA and HC_UNHINT: no P in C, and C all zeros. */
static void check_hinted_contents(const uint8_t *pc)
{
	uint64_t nz = nonzero_at(pc, HINT_LEN);

	if (diff_p(pc, PAT_LEN) == PAT_LEN)
		fail("hint-dma-blocked", "the DMA landed in hinted memory");
	else
		pass("hint-dma-blocked");
	if (nz != HINT_LEN)
		fail("hint-zeroed", "byte %llu reads 0x%x", (unsigned long long)nz, pc[nz]);
	else
		pass("hint-zeroed");
}

/* HC_HINT C; a DMA into it must be blocked; HC_UNHINT gives it back fresh
 * and zeroed; then a DMA into it lands.  The CPU does not touch C while it
 * is hinted (a touch would fault it back in and hide a missed block). */
static void check_hint(uint64_t c)
{
	uint8_t *pc = gpa_ptr(c);
	int r;

	rt_printf("edu-test: hint gpa=0x%llx len=0x%llx\n", (unsigned long long)c, HINT_LEN);
	memset(pc, FILL_C, HINT_LEN);
	barrier();
	if (!hc_check("hint", hc_hint(c, HINT_LEN))) {
		fail("unhint", "skipped: hint failed");
		fail("hint-dma-blocked", "skipped: hint failed");
		fail("hint-zeroed", "skipped: hint failed");
	} else {
		r = dma(c, 0, PAT_LEN, true);
		bool back = hc_check("unhint", hc_unhint(c, HINT_LEN));

		barrier();
		if (r) {
			fail("hint-dma-blocked", "%s", dma_err(r));
			fail("hint-zeroed", "skipped: dma failed");
		} else if (!back) {
			fail("hint-dma-blocked", "skipped: unhint failed");
			fail("hint-zeroed", "skipped: unhint failed");
		} else {
			check_hinted_contents(pc);
		}
	}
	r = dma(c, 0, PAT_LEN, true);
	if (r) {
		fail("unhint-dma", "%s", dma_err(r));
		return;
	}
	unsigned at = diff_p(pc, PAT_LEN);

	if (at != PAT_LEN)
		fail("unhint-dma", "mismatch at %u: 0x%x != 0x%x", at, pc[at], pat_p(at));
	else
		pass("unhint-dma");
}

static int done(void)
{
	rt_printf("result=done passed=%u failed=%u\n", passed, failed);
	return (int)failed;
}

/* Page-aligned buffers after the image: A, B, D one page each, then C. */
struct buffers {
	uint64_t a, b, d, c, end;
};

static struct buffers place_buffers(void)
{
	uint64_t base = ((uintptr_t)__image_end + PAGE - 1) & ~(PAGE - 1);

	return (struct buffers){
		.a = base,
		.b = base + PAGE,
		.d = base + 2 * PAGE,
		.c = base + 3 * PAGE,
		.end = base + 3 * PAGE + HINT_LEN,
	};
}

int main(uint64_t ram_bytes)
{
	struct buffers buf = place_buffers();
	struct pci_fn f;

	rt_printf("edu-test: ram=0x%llx\n", (unsigned long long)ram_bytes);
	if (buf.end > ram_bytes) {
		fail("setup", "ram 0x%llx too small for buffers up to 0x%llx",
		     (unsigned long long)ram_bytes, (unsigned long long)buf.end);
		return done();
	}
	if (pci_find(EDU_VENDOR, EDU_DEVICE, &f)) {
		fail("find", "no %04x:%04x on bus 0", EDU_VENDOR, EDU_DEVICE);
		return done();
	}
	rt_printf("edu-test: found %04x:%04x at %02x:%02x.%x\n", EDU_VENDOR, EDU_DEVICE, f.bus,
		  f.dev, f.fn);
	pass("find");
	/* Without the BAR or a live device nothing below can run. */
	if (!check_bar(f, ram_bytes) || !check_liveness())
		return done();
	check_dma(buf.a, buf.b);
	check_msi(f);
	check_outside(ram_bytes, buf.b, buf.d);
	check_hint(buf.c);
	return done();
}
