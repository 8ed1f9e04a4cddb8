/*
 * guests/edu-bench/main.c — guest-driven edu DMA: EDU_BENCH_DMAS transfers
 * of EDU_BENCH_LEN bytes, alternately guest RAM -> device and device ->
 * guest RAM, through sluice's VT-d domain; `bench vm dma` times it from
 * outside.  edu itself takes 100 ms of QEMU's virtual clock per DMA, which
 * bounds the figure.
 */
#include "guests/lib/edu.h"
#include "guests/lib/rt.h"

#define EDU_BENCH_DMAS 10u
#define EDU_BENCH_LEN 2048u
#define BAR_GPA 0xe0000000ull

int main(uint64_t ram_bytes)
{
	struct pci_fn f;
	uint64_t buf = ram_bytes / 2;

	if (pci_find(EDU_VENDOR, EDU_DEVICE, &f)) {
		rt_printf("edu-bench: no edu\n");
		return 1;
	}
	pci_write32(f, PCI_BAR0, (uint32_t)BAR_GPA);
	pci_write32(f, PCI_BAR0 + 4, 0);
	pci_write16(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	for (unsigned i = 0; i < EDU_BENCH_DMAS; i++) {
		int r = edu_dma(BAR_GPA, buf, 0, EDU_BENCH_LEN, i & 1);
		if (r) {
			rt_printf("edu-bench: dma %u failed %d\n", i, r);
			return 2;
		}
	}
	rt_printf("edu-bench: done dmas=%u bytes=%u\n", EDU_BENCH_DMAS,
		  EDU_BENCH_DMAS * EDU_BENCH_LEN);
	return 0;
}
