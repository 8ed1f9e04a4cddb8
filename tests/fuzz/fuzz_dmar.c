// SOURCES: iommu/vtd/dmar.c
/* tests/fuzz/fuzz_dmar.c — arbitrary bytes into dmar_parse(), then every
 * lookup over the result with a fake PCI hierarchy derived from the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/vtd/dmar.h"

struct fctx {
	const uint8_t *d;
	size_t n;
};

/* Bridges: a deterministic function of the input bytes, sometimes absent. */
static int sec_bus(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	struct fctx *c = ctx;
	uint8_t v = c->n ? c->d[(bus * 256u + dev * 8u + fn) % c->n] : 0;

	return (v & 0x80) ? -ENODEV : (uint8_t)(bus + 1 + (v & 0x3f));
}
static int sub_bus(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	int s = sec_bus(ctx, seg, bus, dev, fn);

	return s < 0 ? s : (s + 3 > 255 ? 255 : s + 3);
}
static bool present(void *ctx, uint16_t seg, uint8_t bus, uint8_t devfn)
{
	return (bus ^ devfn) & 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmar_info *info = NULL;
	struct fctx c = {data, size};
	struct dmar_pci_ops ops = {sec_bus, sub_bus, present};
	uint8_t *copy;

	if (size > 0x20000)
		return 0;
	/* An exact-size heap copy so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (dmar_parse(copy, (uint32_t)size, &info) == 0) {
		unsigned idx[4];
		uint16_t sid;

		for (unsigned i = 0; i < 8; i++) {
			uint8_t bus = size ? data[i % size] : 0;
			uint8_t devfn = (uint8_t)(i * 37);

			(void)dmar_unit_for(info, 0, bus, devfn, &ops, &c);
			(void)dmar_unit_for(info, (uint16_t)i, bus, devfn, NULL, NULL);
			(void)dmar_rmrr_for(info, 0, bus, devfn, &ops, &c, idx, 4);
			(void)dmar_unit_for_special(info, DMAR_SCOPE_IOAPIC, (uint8_t)i, &ops, &c,
						    &sid);
		}
		(void)dmar_log_absent(info, &ops, &c);
		dmar_free(info);
	}
	free(copy);
	return 0;
}
