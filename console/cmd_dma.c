/*
 * console/cmd_dma.c — the console commands of the DMA memory manager:
 * `as ...` (address spaces and the devices attached to them), `dma ...`
 * (mappings), `pin ...` (pre-registration and the owner's pin limit) and
 * `bench dma`.  Syntax, keys and errno names are the contract in
 * shared/CONSOLE.md ("DMA address spaces", "Benchmarks"); the rules behind
 * each errno are dma/dma.h's (docs/dma.md).  This file only parses, calls
 * the dma layer and turns its errno into a message a person can act on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma/dma.h"
#include "console/console.h"
#include "dma/devices.h"
#include "kernel/frame.h"
#include "kernel/time.h"
#include "lib/parse.h"

typedef unsigned long long ull;

#define U_AS_CREATE "as create [share=<as>]"
#define U_AS_DESTROY "as destroy <as>"
#define U_AS_ATTACH "as attach <as> <bdf>"
#define U_AS_DETACH "as detach <as> <bdf>"
#define U_AS_LIST "as list"
#define U_DMA_MAP "dma map <as> <iova> <size> <alloc|hpa:<addr>> [r|w|rw]"
#define U_DMA_UNMAP "dma unmap <as> <iova> <size> | dma unmap <as> all"
#define U_DMA_LIST "dma list <as>"
#define U_DMA_TRANSLATE "dma translate <as> <iova>"
#define U_DMA_HINT "dma hint <as> <iova> <size>"
#define U_DMA_UNHINT "dma unhint <as> <iova> <size>"
#define U_PIN_REG "pin register <as> <hpa> <size>"
#define U_PIN_UNREG "pin unregister <as> <hpa> <size>"
#define U_PIN_STAT "pin stat <as>"
#define U_PIN_LIMIT "pin limit <as> <bytes|unlimited>"
#define U_BENCH_DMA "bench dma <as> <size> <count>"

#define BENCH_MAX_COUNT 1000000ull

static const char *prot_name(unsigned prot)
{
	switch (prot & (DMA_PROT_R | DMA_PROT_W)) {
	case DMA_PROT_R: return "r";
	case DMA_PROT_W: return "w";
	case DMA_PROT_R | DMA_PROT_W: return "rw";
	default: return "-";
	}
}

/* ------------------------------------------------------------ parsing */

static int get_space(const char *w, struct dma_space **out)
{
	uint64_t id;
	int rc = parse_u64_max(w, 0xffffffffull, &id);

	if (rc)
		return cmd_fail(rc, "bad address space id '%.40s' (a number from as create)", w);
	*out = dma_space_get((unsigned)id);
	if (!*out)
		return cmd_fail(-ENOENT, "no address space %llu (as list shows them)", (ull)id);
	return 0;
}

static int get_num(const char *w, const char *what, uint64_t *v)
{
	int rc = parse_u64(w, v);

	if (rc)
		return cmd_fail(rc, "bad %s '%.40s' (decimal or 0x-hex)", what, w);
	return 0;
}

static int get_size(const char *w, const char *what, uint64_t *v)
{
	int rc = parse_size(w, v);

	if (rc)
		return cmd_fail(rc, "bad %s '%.40s' (number, K/M/G suffix allowed)", what, w);
	return 0;
}

static int get_dev(const char *w, struct pci_dev **d)
{
	int rc = dev_lookup(w, d);

	if (rc == -EINVAL)
		return cmd_fail(rc, "bad bdf '%.40s' (bus:dev.fn in hex, e.g. 00:03.0)", w);
	if (rc)
		return cmd_fail(rc, "no PCI device %.40s (lspci lists them)", w);
	return 0;
}

/* ------------------------------------------------------- state helpers */

struct find_overlap {
	uint64_t start, last;
	struct dma_map_info hit;
	bool found;
};

static int overlap_fn(const struct dma_map_info *mi, void *arg)
{
	struct find_overlap *f = arg;

	if (mi->iova <= f->last && mi->iova + mi->size - 1 >= f->start) {
		f->hit = *mi;
		f->found = true;
		return 1;
	}
	return 0;
}

/* The first mapping intersecting [start, last]. */
static bool first_overlap(struct dma_space *s, uint64_t start, uint64_t last,
			  struct dma_map_info *out)
{
	struct find_overlap f = {.start = start, .last = last};

	(void)dma_for_each_map(s, overlap_fn, &f);
	if (f.found)
		*out = f.hit;
	return f.found;
}

/* A mapping that [start, last] cuts through (starts inside or ends inside). */
static bool bisected(struct dma_space *s, uint64_t start, uint64_t last, struct dma_map_info *out)
{
	struct dma_map_info mi;

	if (first_overlap(s, start, start, &mi) && mi.iova != start) {
		*out = mi;
		return true;
	}
	if (first_overlap(s, last, last, &mi) && mi.iova + mi.size - 1 != last) {
		*out = mi;
		return true;
	}
	return false;
}

static bool wraps(uint64_t a, uint64_t size) { return size && a + (size - 1) < a; }

/* Message for a failed range check of iova/size (shared by map, unmap, hint). */
static int range_fail(struct dma_space *s, int err, uint64_t iova, uint64_t size)
{
	struct dma_space_info si;

	dma_space_info(s, &si);
	if (size == 0)
		return cmd_fail(-EINVAL, "size is zero");
	if (wraps(iova, size))
		return cmd_fail(-EOVERFLOW,
				"iova 0x%llx + size %llu wraps past the end of the address space",
				(ull)iova, (ull)size);
	if (iova & (si.pgsize - 1))
		return cmd_fail(-EINVAL, "iova 0x%llx is not aligned to %llu", (ull)iova,
				(ull)si.pgsize);
	if (size & (si.pgsize - 1))
		return cmd_fail(-EINVAL, "size %llu is not a multiple of %llu", (ull)size,
				(ull)si.pgsize);
	return cmd_fail(err, "range iova=0x%llx size=%llu refused", (ull)iova, (ull)size);
}

/* ----------------------------------------------------------- as ... */

static int cmd_as(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_fail(-EINVAL,
			"usage: as create|destroy|attach|detach|list ... (help lists them)");
}

static int cmd_as_create(int argc, char **argv)
{
	struct dma_space *share = NULL, *s = NULL;
	int rc;

	if (argc > 3)
		return cmd_fail(-EINVAL, "usage: " U_AS_CREATE);
	if (argc == 3) {
		if (strncmp(argv[2], "share=", 6))
			return cmd_fail(-EINVAL, "unknown option '%.40s' (usage: " U_AS_CREATE ")",
					argv[2]);
		if ((rc = get_space(argv[2] + 6, &share)))
			return rc;
	}
	rc = dma_space_create(share, &s);
	if (rc == -ENOMEM)
		return cmd_fail(rc, "out of memory for a new address space");
	if (rc)
		return cmd_fail(rc, "cannot create an address space");
	con_printf("as=%u\n", dma_space_id(s));
	return 0;
}

static int cmd_as_destroy(int argc, char **argv)
{
	struct dma_space *s;
	unsigned id;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: " U_AS_DESTROY);
	if ((rc = get_space(argv[2], &s)))
		return rc;
	id = dma_space_id(s);
	/* the groups leave the space: remember them to release their IRTEs
	 * (every group that is no longer attached, also after a partial
	 * teardown) */
	unsigned ngone = 0;
	while (dma_space_group_at(s, ngone))
		ngone++;
	struct dma_group **gone = ngone ? calloc(ngone, sizeof(*gone)) : NULL;
	if (ngone && !gone)
		return cmd_fail(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < ngone; i++)
		gone[i] = dma_space_group_at(s, i);
	rc = dma_space_destroy(s);
	for (unsigned i = 0; i < ngone; i++)
		if (!gone[i]->space)
			dev_group_released(gone[i]);
	free(gone);
	if (rc)
		return cmd_fail(
			rc,
			"as=%u could not be torn down completely (iommu faults / klog say why); "
			"what could not be undone stays pinned",
			id);
	return 0;
}

static int group_of(const char *bdf, struct pci_dev **d, struct dma_group **g)
{
	int rc;

	if ((rc = get_dev(bdf, d)))
		return rc;
	rc = dev_group_get(*d, g);
	if (rc == -ENODEV)
		return cmd_fail(rc, "no IOMMU unit translates %.40s", bdf);
	if (rc == -E2BIG)
		return cmd_fail(rc, "the group of %.40s uses more than %d requester IDs", bdf,
				DMA_GROUP_MAX_RIDS);
	if (rc == -ENOTSUP)
		return cmd_fail(rc, "the group of %.40s spans several IOMMU units", bdf);
	if (rc)
		return cmd_fail(rc, "cannot set up the group of %.40s", bdf);
	return 0;
}

static int cmd_as_attach(int argc, char **argv)
{
	struct dma_space *s;
	struct pci_dev *d;
	struct dma_group *g;
	char bdfs[128];
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: " U_AS_ATTACH);
	if ((rc = get_space(argv[2], &s)) || (rc = group_of(argv[3], &d, &g)))
		return rc;
	if (g->space == s)
		return cmd_fail(-EBUSY, "%.40s is already attached to as=%u", argv[3],
				dma_space_id(s));
	if (g->space)
		return cmd_fail(-EBUSY,
				"%.40s (group %d: %s) is attached to as=%u; detach it first",
				argv[3], g->id, dev_group_bdfs(g, bdfs, sizeof(bdfs)),
				dma_space_id(g->space));
	rc = dma_attach(s, g);
	switch (rc) {
	case 0: return 0;
	case -EPERM:
		return cmd_fail(rc,
				"IOMMU unit %u does not remap interrupts from %.40s; boot with "
				"allow_unsafe_interrupts to attach anyway",
				g->unit->index, argv[3]);
	case -EINVAL:
		return cmd_fail(
			rc,
			"a mapping of as=%u lies outside what unit %u translates (last iova 0x%llx) "
			"or in a reserved region of the group; unmap it first",
			dma_space_id(s), g->unit->index, (ull)g->unit->aperture_end);
	case -ENOMEM: return cmd_fail(rc, "out of memory for the domain or its page tables");
	case -EBUSY:
		return cmd_fail(rc, "a requester ID of %.40s is held by an RMRR identity domain",
				argv[3]);
	default:
		return cmd_fail(rc, "attach of %.40s to as=%u failed (nothing changed)", argv[3],
				dma_space_id(s));
	}
}

static int cmd_as_detach(int argc, char **argv)
{
	struct dma_space *s;
	struct pci_dev *d;
	struct dma_group *g;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: " U_AS_DETACH);
	if ((rc = get_space(argv[2], &s)) || (rc = get_dev(argv[3], &d)))
		return rc;
	g = dev_group_find(d->group);
	if (!g || g->space != s)
		return cmd_fail(-ENOENT, "%.40s is not attached to as=%u", argv[3],
				dma_space_id(s));
	rc = dma_detach(s, g);
	if (rc)
		return cmd_fail(rc, "detach of %.40s from as=%u failed; it stays attached", argv[3],
				dma_space_id(s));
	dev_group_released(g);
	return 0;
}

static int cmd_as_list(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		return cmd_fail(-EINVAL, "usage: " U_AS_LIST);
	for (struct dma_space *s = dma_space_next(NULL); s; s = dma_space_next(s)) {
		struct dma_space_info si;
		char devs[512];
		unsigned used = 0;

		dma_space_info(s, &si);
		devs[0] = 0;
		for (unsigned i = 0;; i++) {
			struct dma_group *g = dma_space_group_at(s, i);
			char b[256];
			if (!g)
				break;
			dev_group_bdfs(g, b, sizeof(b));
			int w = snprintf(devs + used, sizeof(devs) - used, "%s%s", used ? "," : "",
					 b);
			if (w < 0 || (unsigned)w >= sizeof(devs) - used) {
				devs[used] = 0;
				break;
			}
			used += (unsigned)w;
		}
		con_printf(
			"as=%u devices=%s mappings=%llu bytes=%llu domains=%u owner=%u pgsize=%llu "
			"map_limit=%llu hinted=%llu\n",
			si.id, used ? devs : "-", (ull)si.nmaps, (ull)si.bytes, si.ndomains,
			si.owner, (ull)si.pgsize, (ull)si.map_limit, (ull)si.hinted);
	}
	return 0;
}

/* ---------------------------------------------------------- dma ... */

static int cmd_dma(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_fail(-EINVAL,
			"usage: dma map|unmap|list|translate|hint|unhint ... (help lists them)");
}

static int map_fail(struct dma_space *s, int err, uint64_t iova, uint64_t size, enum dma_src src,
		    uint64_t hpa)
{
	struct dma_space_info si;
	struct dma_map_info mi;
	struct dma_owner_stat os;

	dma_space_info(s, &si);
	switch (err) {
	case -EOVERFLOW:
		if (src == DMA_SRC_HPA && wraps(hpa, size) && !wraps(iova, size))
			return cmd_fail(err, "hpa 0x%llx + size %llu wraps past the end of memory",
					(ull)hpa, (ull)size);
		return range_fail(s, err, iova, size);
	case -EINVAL:
		if (size == 0 || wraps(iova, size) || ((iova | size) & (si.pgsize - 1)))
			return range_fail(s, err, iova, size);
		if (src == DMA_SRC_HPA && (hpa & (si.pgsize - 1)))
			return cmd_fail(err, "hpa 0x%llx is not aligned to %llu", (ull)hpa,
					(ull)si.pgsize);
		if (iova + size - 1 > si.iova_last)
			return cmd_fail(
				err,
				"iova range 0x%llx-0x%llx ends above the last valid IOVA 0x%llx of as=%u",
				(ull)iova, (ull)(iova + size - 1), (ull)si.iova_last, si.id);
		return cmd_fail(
			err,
			"iova range 0x%llx-0x%llx touches a reserved region (the MSI window "
			"0xfee00000-0xfeefffff or a device's RMRR)",
			(ull)iova, (ull)(iova + size - 1));
	case -EEXIST:
		if (first_overlap(s, iova, iova + size - 1, &mi))
			return cmd_fail(err, "overlaps mapping at iova=0x%llx size=%llu",
					(ull)mi.iova, (ull)mi.size);
		return cmd_fail(err, "overlaps an existing mapping");
	case -ENOSPC:
		return cmd_fail(err, "as=%u has reached its limit of %llu mappings", si.id,
				(ull)si.map_limit);
	case -ENOMEM:
		dma_owner_stat(s, &os);
		if (os.limit != UINT64_MAX && (os.pinned > os.limit || size > os.limit - os.pinned))
			return cmd_fail(
				err,
				"pin limit: owner %u has pinned=%llu limit=%llu and needs up to %llu more "
				"(pin limit raises it)",
				os.id, (ull)os.pinned, (ull)os.limit, (ull)size);
		return cmd_fail(err, "out of memory (%s %llu bytes)",
				src == DMA_SRC_ALLOC ? "allocating" : "tracking", (ull)size);
	case -EPERM:
		return cmd_fail(
			err,
			"hpa 0x%llx..0x%llx is not memory from mem alloc (sluice's own, a page "
			"table, or not RAM)",
			(ull)hpa, (ull)(hpa + size - 1));
	case -EFAULT:
		return cmd_fail(err, "hpa 0x%llx..0x%llx is not allocated RAM (mem alloc it first)",
				(ull)hpa, (ull)(hpa + size - 1));
	default: return cmd_fail(err, "the IOMMU refused the mapping (nothing was mapped)");
	}
}

static int cmd_dma_map(int argc, char **argv)
{
	struct dma_space *s;
	uint64_t iova, size, hpa = 0, first = 0;
	enum dma_src src;
	unsigned prot = DMA_PROT_R | DMA_PROT_W;
	int rc;

	if (argc != 6 && argc != 7)
		return cmd_fail(-EINVAL, "usage: " U_DMA_MAP);
	if ((rc = get_space(argv[2], &s)) || (rc = get_num(argv[3], "iova", &iova)) ||
	    (rc = get_size(argv[4], "size", &size)))
		return rc;
	if (!strcmp(argv[5], "alloc")) {
		src = DMA_SRC_ALLOC;
	} else if (!strncmp(argv[5], "hpa:", 4)) {
		src = DMA_SRC_HPA;
		if ((rc = get_num(argv[5] + 4, "hpa", &hpa)))
			return rc;
	} else {
		return cmd_fail(-EINVAL, "bad source '%.40s' (alloc or hpa:<addr>)", argv[5]);
	}
	if (argc == 7) {
		if (!strcmp(argv[6], "r"))
			prot = DMA_PROT_R;
		else if (!strcmp(argv[6], "w"))
			prot = DMA_PROT_W;
		else if (!strcmp(argv[6], "rw"))
			prot = DMA_PROT_R | DMA_PROT_W;
		else
			return cmd_fail(-EINVAL, "bad access '%.40s' (r, w or rw)", argv[6]);
	}
	rc = dma_map(s, iova, size, src, hpa, prot, &first);
	if (rc)
		return map_fail(s, rc, iova, size, src, hpa);
	con_printf("iova=0x%llx size=%llu hpa=0x%llx\n", (ull)iova, (ull)size, (ull)first);
	return 0;
}

static int cmd_dma_unmap(int argc, char **argv)
{
	struct dma_space *s;
	struct dma_map_info mi;
	uint64_t iova, size, un = 0;
	int rc;

	if (argc != 4 && argc != 5)
		return cmd_fail(-EINVAL, "usage: " U_DMA_UNMAP);
	if ((rc = get_space(argv[2], &s)))
		return rc;
	if (argc == 4) {
		if (strcmp(argv[3], "all"))
			return cmd_fail(-EINVAL, "usage: " U_DMA_UNMAP);
		rc = dma_unmap_all(s, &un);
		if (rc)
			return cmd_fail(
				rc,
				"unmap all stopped after %llu bytes: invalidation or memory failure "
				"(the rest stays mapped)",
				(ull)un);
		con_printf("unmapped=%llu\n", (ull)un);
		return 0;
	}
	if ((rc = get_num(argv[3], "iova", &iova)) || (rc = get_size(argv[4], "size", &size)))
		return rc;
	rc = dma_unmap(s, iova, size, &un);
	if (rc == -EINVAL && size && !wraps(iova, size) &&
	    bisected(s, iova, iova + size - 1, &mi)) {
		struct dma_space_info si;
		dma_space_info(s, &si);
		if (!((iova | size) & (si.pgsize - 1)))
			return cmd_fail(
				rc,
				"range 0x%llx-0x%llx would split mapping at iova=0x%llx size=%llu "
				"(unmap whole mappings)",
				(ull)iova, (ull)(iova + size - 1), (ull)mi.iova, (ull)mi.size);
	}
	if (rc == -EINVAL || rc == -EOVERFLOW)
		return range_fail(s, rc, iova, size);
	if (rc == -ENOMEM)
		return cmd_fail(rc,
				"out of memory splitting a hinted mapping; nothing was unmapped");
	if (rc)
		return cmd_fail(rc,
				"unmap failed (invalidation did not complete); %llu bytes unmapped",
				(ull)un);
	con_printf("unmapped=%llu\n", (ull)un);
	return 0;
}

static int list_fn(const struct dma_map_info *mi, void *arg)
{
	(void)arg;
	con_printf("iova=0x%llx size=%llu hpa=0x%llx prot=%s src=%s hinted=%llu registered=%d\n",
		   (ull)mi->iova, (ull)mi->size, (ull)mi->hpa, prot_name(mi->prot),
		   mi->src == DMA_SRC_ALLOC ? "alloc" : "hpa", (ull)mi->hinted,
		   mi->registered ? 1 : 0);
	return 0;
}

static int cmd_dma_list(int argc, char **argv)
{
	struct dma_space *s;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: " U_DMA_LIST);
	if ((rc = get_space(argv[2], &s)))
		return rc;
	(void)dma_for_each_map(s, list_fn, NULL);
	return 0;
}

static int cmd_dma_translate(int argc, char **argv)
{
	struct dma_space *s;
	struct dma_space_info si;
	uint64_t iova, hpa = 0;
	unsigned level = 0, prot = 0;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: " U_DMA_TRANSLATE);
	if ((rc = get_space(argv[2], &s)) || (rc = get_num(argv[3], "iova", &iova)))
		return rc;
	dma_space_info(s, &si);
	if (!si.ndomains)
		return cmd_fail(-ENOENT, "as=%u has no hardware domain (attach a device first)",
				si.id);
	rc = dma_translate(s, iova, &hpa, &level, &prot);
	if (rc == -ENOENT)
		return cmd_fail(rc, "iova 0x%llx is not mapped in the hardware table of as=%u",
				(ull)iova, si.id);
	if (rc)
		return cmd_fail(rc, "page-table walk failed at iova 0x%llx", (ull)iova);
	con_printf("iova=0x%llx hpa=0x%llx level=%u prot=%s\n", (ull)iova, (ull)hpa, level,
		   prot_name(prot));
	return 0;
}

static int hint_cmd(int argc, char **argv, bool add)
{
	struct dma_space *s;
	struct dma_space_info si;
	uint64_t iova, size;
	int rc;

	if (argc != 5)
		return cmd_fail(-EINVAL, "usage: %s", add ? U_DMA_HINT : U_DMA_UNHINT);
	if ((rc = get_space(argv[2], &s)) || (rc = get_num(argv[3], "iova", &iova)) ||
	    (rc = get_size(argv[4], "size", &size)))
		return rc;
	rc = add ? dma_hint(s, iova, size) : dma_unhint(s, iova, size);
	if (!rc)
		return 0;
	dma_space_info(s, &si);
	if (rc == -EOVERFLOW || size == 0 || ((iova | size) & (si.pgsize - 1)))
		return range_fail(s, rc, iova, size);
	switch (rc) {
	case -EINVAL:
		return cmd_fail(rc, "range 0x%llx-0x%llx is not covered by mappings without gaps",
				(ull)iova, (ull)(iova + size - 1));
	case -ENOMEM:
		return cmd_fail(rc, add ? "out of memory splitting mappings"
					: "pin limit or memory exhausted re-pinning the range");
	case -EPERM:
	case -EFAULT:
		return cmd_fail(rc,
				"the memory behind the range is no longer usable for DMA (freed?)");
	default: return cmd_fail(rc, "%s failed; the range is unchanged", add ? "hint" : "unhint");
	}
}

static int cmd_dma_hint(int argc, char **argv) { return hint_cmd(argc, argv, true); }
static int cmd_dma_unhint(int argc, char **argv) { return hint_cmd(argc, argv, false); }

/* ---------------------------------------------------------- pin ... */

static int cmd_pin(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_fail(-EINVAL, "usage: pin register|unregister|stat|limit ... (help lists them)");
}

static int reg_cmd(int argc, char **argv, bool reg)
{
	struct dma_space *s;
	struct dma_owner_stat os;
	uint64_t hpa, size;
	int rc;

	if (argc != 5)
		return cmd_fail(-EINVAL, "usage: %s", reg ? U_PIN_REG : U_PIN_UNREG);
	if ((rc = get_space(argv[2], &s)) || (rc = get_num(argv[3], "hpa", &hpa)) ||
	    (rc = get_size(argv[4], "size", &size)))
		return rc;
	rc = reg ? dma_pin_register(s, hpa, size) : dma_pin_unregister(s, hpa, size);
	if (!rc)
		return 0;
	if (rc == -EINVAL) {
		if (size == 0)
			return cmd_fail(rc, "size is zero");
		if ((hpa | size) & (FRAME_SIZE - 1))
			return cmd_fail(rc, "hpa 0x%llx and size %llu must be multiples of %llu",
					(ull)hpa, (ull)size, (ull)FRAME_SIZE);
		if (wraps(hpa, size))
			return cmd_fail(rc, "hpa 0x%llx + size %llu wraps", (ull)hpa, (ull)size);
		return cmd_fail(rc,
				"range overlaps a different registration (unregister it first)");
	}
	if (reg) {
		switch (rc) {
		case -EBUSY:
			return cmd_fail(rc, "hpa 0x%llx size %llu is already registered", (ull)hpa,
					(ull)size);
		case -EPERM:
			return cmd_fail(rc, "hpa 0x%llx..0x%llx is not memory from mem alloc",
					(ull)hpa, (ull)(hpa + size - 1));
		case -EFAULT:
			return cmd_fail(rc, "hpa 0x%llx..0x%llx is not allocated RAM", (ull)hpa,
					(ull)(hpa + size - 1));
		case -ENOMEM:
			dma_owner_stat(s, &os);
			return cmd_fail(
				rc,
				"pin limit: owner %u has pinned=%llu limit=%llu (or out of memory)",
				os.id, (ull)os.pinned, (ull)os.limit);
		default: return cmd_fail(rc, "register failed; nothing changed");
		}
	}
	if (rc == -ENOENT)
		return cmd_fail(rc, "no registration of exactly hpa=0x%llx size=%llu", (ull)hpa,
				(ull)size);
	if (rc == -EBUSY)
		return cmd_fail(rc, "mappings still use hpa=0x%llx size=%llu (unmap them first)",
				(ull)hpa, (ull)size);
	return cmd_fail(rc, "unregister failed; nothing changed");
}

static int cmd_pin_register(int argc, char **argv) { return reg_cmd(argc, argv, true); }
static int cmd_pin_unregister(int argc, char **argv) { return reg_cmd(argc, argv, false); }

static int cmd_pin_stat(int argc, char **argv)
{
	struct dma_space *s;
	struct dma_owner_stat os;
	int rc;

	if (argc != 3)
		return cmd_fail(-EINVAL, "usage: " U_PIN_STAT);
	if ((rc = get_space(argv[2], &s)))
		return rc;
	dma_owner_stat(s, &os);
	con_printf("pinned=%llu registered=%llu limit=%llu owner=%u spaces=%u\n", (ull)os.pinned,
		   (ull)os.registered, (ull)os.limit, os.id, os.nspaces);
	return 0;
}

static int cmd_pin_limit(int argc, char **argv)
{
	struct dma_space *s;
	uint64_t lim;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: " U_PIN_LIMIT);
	if ((rc = get_space(argv[2], &s)))
		return rc;
	if (!strcmp(argv[3], "unlimited"))
		lim = UINT64_MAX;
	else if ((rc = get_size(argv[3], "limit", &lim)))
		return rc;
	rc = dma_owner_set_limit(s, lim);
	if (rc)
		return cmd_fail(rc, "cannot set the limit");
	return 0;
}

/* ---------------------------------------------------------- bench dma */

static unsigned order_for(uint64_t size)
{
	unsigned o = 0;

	while ((FRAME_SIZE << o) < size)
		o++;
	return o;
}

static int cmd_bench_dma(int argc, char **argv)
{
	struct dma_space *s;
	struct dma_space_info si;
	uint64_t size, count, pa, iova = 0, first, un, align, lo = 0;
	uint64_t t_map = 0, t_unmap = 0, t0, t1, t2, start;
	unsigned order;
	int rc;

	if (argc != 5)
		return cmd_fail(-EINVAL, "usage: " U_BENCH_DMA);
	if ((rc = get_space(argv[2], &s)) || (rc = get_size(argv[3], "size", &size)))
		return rc;
	if ((rc = parse_u64_max(argv[4], BENCH_MAX_COUNT, &count)))
		return cmd_fail(rc, "bad count '%.40s' (1..%llu)", argv[4], (ull)BENCH_MAX_COUNT);
	if (count == 0)
		return cmd_fail(-EINVAL, "count is zero");
	dma_space_info(s, &si);
	if (si.ngroups == 0 || si.ndomains == 0)
		return cmd_fail(
			-EINVAL,
			"attach a device first (as attach %u <bdf>): the bench measures the "
			"hardware path",
			si.id);
	if (size == 0 || size > (FRAME_SIZE << FRAME_MAX_ORDER))
		return cmd_fail(-EINVAL, "size must be 1..%llu",
				(ull)(FRAME_SIZE << FRAME_MAX_ORDER));
	if (size & (si.pgsize - 1))
		return cmd_fail(-EINVAL, "size %llu is not a multiple of %llu", (ull)size,
				(ull)si.pgsize);
	order = order_for(size);
	pa = frame_alloc(order, FRAME_USER);
	if (!pa)
		return cmd_fail(-ENOMEM, "no free contiguous block of %llu bytes",
				(ull)(FRAME_SIZE << order));
	align = FRAME_SIZE << order;
	if (align < si.pgsize)
		align = si.pgsize;
	/* Retries step over reserved regions dma_map knows and this search does not. */
	for (int tries = 0;; tries++) {
		rc = dev_free_iova(s, size, align, lo, si.iova_last, 1, 0, &iova);
		if (rc) {
			rc = cmd_fail(-ENOSPC,
				      "no free IOVA range of %llu bytes aligned to %llu in as=%u",
				      (ull)size, (ull)align, si.id);
			goto out;
		}
		rc = dma_map(s, iova, size, DMA_SRC_HPA, pa, DMA_PROT_R | DMA_PROT_W, &first);
		if (rc != -EINVAL || tries == 16)
			break;
		lo = iova + align;
	}
	if (rc) {
		rc = map_fail(s, rc, iova, size, DMA_SRC_HPA, pa);
		goto out;
	}
	rc = dma_unmap(s, iova, size, &un);
	if (rc) {
		rc = cmd_fail(rc, "unmap failed during the warm-up (invalidation)");
		goto out;
	}
	start = time_ns();
	for (uint64_t i = 0; i < count; i++) {
		t0 = time_ns();
		rc = dma_map(s, iova, size, DMA_SRC_HPA, pa, DMA_PROT_R | DMA_PROT_W, &first);
		t1 = time_ns();
		if (rc) {
			rc = map_fail(s, rc, iova, size, DMA_SRC_HPA, pa);
			goto out;
		}
		rc = dma_unmap(s, iova, size, &un);
		t2 = time_ns();
		if (rc) {
			rc = cmd_fail(rc, "unmap %llu of %llu failed (invalidation)", (ull)i + 1,
				      (ull)count);
			goto out;
		}
		t_map += t1 - t0;
		t_unmap += t2 - t1;
	}
	con_printf(
		"count=%llu size=%llu map_ns=%llu unmap_ns=%llu total_ms=%llu iova=0x%llx hpa=0x%llx\n",
		(ull)count, (ull)size, (ull)(t_map / count), (ull)(t_unmap / count),
		(ull)((time_ns() - start) / 1000000), (ull)iova, (ull)pa);
	rc = 0;
out:
	if (frame_free(pa, order)) {
		/* Still mapped (an unmap failed): the frames stay pinned and owned. */
		if (!rc)
			rc = cmd_fail(-EBUSY, "bench memory at 0x%llx is still pinned", (ull)pa);
	}
	return rc;
}

COMMAND(as, "as", "as create|destroy|attach|detach|list   DMA address spaces", cmd_as);
COMMAND(as_create, "as create",
	U_AS_CREATE "     new address space (share=: same accounting owner)", cmd_as_create);
COMMAND(as_destroy, "as destroy", U_AS_DESTROY "            unmap, unpin, detach everything",
	cmd_as_destroy);
COMMAND(as_attach, "as attach", U_AS_ATTACH "       the device's whole group follows",
	cmd_as_attach);
COMMAND(as_detach, "as detach", U_AS_DETACH, cmd_as_detach);
COMMAND(as_list, "as list",
	U_AS_LIST "                    as= devices= mappings= bytes= domains=", cmd_as_list);
COMMAND(dma, "dma", "dma map|unmap|list|translate|hint|unhint   mappings of an address space",
	cmd_dma);
COMMAND(dma_map, "dma map", U_DMA_MAP, cmd_dma_map);
COMMAND(dma_unmap, "dma unmap", U_DMA_UNMAP, cmd_dma_unmap);
COMMAND(dma_list, "dma list", U_DMA_LIST "              iova= size= hpa= prot= per mapping",
	cmd_dma_list);
COMMAND(dma_translate, "dma translate", U_DMA_TRANSLATE "  walk the hardware page table",
	cmd_dma_translate);
COMMAND(dma_hint, "dma hint", U_DMA_HINT "   free-page hint: unmap and unpin", cmd_dma_hint);
COMMAND(dma_unhint, "dma unhint", U_DMA_UNHINT " re-pin and remap hinted memory", cmd_dma_unhint);
COMMAND(pin, "pin", "pin register|unregister|stat|limit   pre-registration and pin limits",
	cmd_pin);
COMMAND(pin_register, "pin register", U_PIN_REG " pin and charge once", cmd_pin_register);
COMMAND(pin_unregister, "pin unregister", U_PIN_UNREG, cmd_pin_unregister);
COMMAND(pin_stat, "pin stat", U_PIN_STAT "              pinned= registered= limit= of the owner",
	cmd_pin_stat);
COMMAND(pin_limit, "pin limit", U_PIN_LIMIT, cmd_pin_limit);
COMMAND(bench_dma, "bench dma", U_BENCH_DMA "  map/unmap timing (strict invalidation)",
	cmd_bench_dma);
