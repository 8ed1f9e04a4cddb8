/* guests/lib/edu.c — see edu.h. */
#include "guests/lib/edu.h"
#include "guests/lib/rt.h"

int edu_dma(uint64_t bar, uint64_t gpa, unsigned dev_off, unsigned len, bool to_ram)
{
	if (len == 0 || len > EDU_BUF_SIZE - 1 || dev_off + len >= EDU_BUF_SIZE)
		return -1;
	barrier();
	mmio_write64(bar + EDU_DMA_SRC, to_ram ? EDU_BUF + dev_off : gpa);
	mmio_write64(bar + EDU_DMA_DST, to_ram ? gpa : EDU_BUF + dev_off);
	mmio_write64(bar + EDU_DMA_COUNT, len);
	mmio_write64(bar + EDU_DMA_CMD, EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0));
	for (unsigned i = 0; i < EDU_DMA_POLLS; i++) {
		if (!(mmio_read64(bar + EDU_DMA_CMD) & EDU_DMA_START)) {
			barrier();
			return 0;
		}
		cpu_relax();
	}
	return -2;
}
