/*
 * console/cmd_dma.c — the console commands of the DMA memory manager:
 * `as ...` (address spaces and the devices attached to them), `dma ...`
 * (mappings), `pin ...` (pre-registration and the owner's pin limit) and
 * `bench dma`.  Syntax, keys and errno names are the contract in
 * shared/CONSOLE.md ("DMA address spaces", "Benchmarks"); the rules behind
 * each errno are dma/dma.h's (docs/dma.md).  This file only parses, calls
 * the dma layer and turns its errno, and the reason the layer recorded
 * (dma_space_why), into a message a person can act on.
 */
#include <stdio.h>
#include <string.h>

#include "dma/dma.h"
#include "console/console.h"
#include "dma/devices.h"
#include "kernel/frame.h"
#include "kernel/time.h"
#include "lib/bdf.h"
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

int cmd_get_dev(const char *w, struct pci_dev **d)
{
	int rc = dev_lookup(w, d);

	if (rc == -EINVAL)
		return cmd_fail(rc, "bad bdf '%.40s' (bus:dev.fn in hex, e.g. 00:03.0)", w);
	if (rc)
		return cmd_fail(rc, "no PCI device %.40s (lspci lists them)", w);
	return 0;
}

/* ------------------------------------------------- what the dma layer says */

/* What a failed command was doing: the words of its ERR line around the
 * reason dma/ recorded (dma_space_why).  The errno name is always the one
 * the dma call returned. */
enum verb { V_MAP, V_UNMAP, V_HINT, V_UNHINT, V_REG, V_UNREG, V_ATTACH, V_DETACH };

struct cmd_ctx {
	enum verb verb;
	uint64_t iova, size, hpa; /* the command's range */
	const char *bdf;	  /* attach, detach: the device */
	uint16_t seg;
};

static const char *const failed[] = {"the mapping failed", "unmap failed",    "hint failed",
				     "unhint failed",	   "register failed", "unregister failed",
				     "attach failed",	   "detach failed"};
static const char *const unchanged[] = {"nothing was mapped",	  "nothing was unmapped",
					"the range is unchanged", "the range is unchanged",
					"nothing changed",	  "nothing changed",
					"nothing changed",	  "it stays attached"};

static const char *frame_what(uint64_t tag)
{
	switch (tag) {
	case FRAME_FREE: return "free (not allocated)";
	case FRAME_SLUICE: return "sluice's own memory";
	case FRAME_IOPT: return "an IOMMU table";
	case FRAME_RESERVED: return "RAM sluice does not manage";
	case DMA_WHY_UNMANAGED: return "not RAM";
	default: return "not DMA-able";
	}
}

/* The reason alone, for messages that pass it on: "out of memory (the
 * mapping's record, 136 bytes)", "IOMMU unit 0 refused the map at 0x10000
 * (EIO)", else the errno name. */
static const char *reason(const struct dma_why *w, int rc, enum verb v, uint16_t seg, char *b,
			  size_t n)
{
	static const char *const mem[] = {"a record", "the mapping's memory", "bookkeeping"};
	static const char *const op[] = {"map at 0x",  "unmap at 0x", "invalidation",
					 "attach of ", "detach of ",  "domain allocation"};
	const char *what = mem[w->b % 3];
	char at[24] = "";

	if (w->kind == DMA_WHY_NO_MEMORY) {
		if (w->b == DMA_MEM_RECORD)
			what = v == V_MAP      ? "the mapping's record"
			       : v == V_REG    ? "the registration's record"
			       : v == V_ATTACH ? "the domain's record"
					       : what;
		if (w->a)
			snprintf(b, n, "out of memory (%s, %llu bytes)", what, (ull)w->a);
		else
			snprintf(b, n, "out of memory (%s)", what);
	} else if (w->kind == DMA_WHY_IOMMU) {
		if (w->a <= DMA_OP_UNMAP)
			snprintf(at, sizeof(at), "%llx", (ull)w->b);
		else if (w->a == DMA_OP_ATTACH || w->a == DMA_OP_DETACH)
			bdf_format_rid(at, sizeof(at), seg, (uint16_t)w->b);
		snprintf(b, n, "%sIOMMU unit %d refused the %s%s (%s)",
			 w->err == -ENOMEM ? "out of memory for page tables: " : "", w->id,
			 op[w->a % 6], at, err_name(w->err));
	} else {
		snprintf(b, n, "%s", err_name(rc));
	}
	return b;
}

/* Whose reserved range [a, b] is: "the MSI window", "an RMRR of group 3:
 * 00:1f.0". */
static const char *resv_text(const struct dma_why *w, char *b, size_t n)
{
	struct dma_group *g = w->id >= 0 ? dev_group_find(w->id) : NULL;
	char bdfs[64];

	if (w->id < 0 && w->a == DMA_MSI_START && w->b == DMA_MSI_LAST)
		snprintf(b, n, "the MSI window");
	else if (w->id < 0)
		snprintf(b, n, "reserved in the space");
	else
		snprintf(b, n, "an RMRR of group %d: %s", w->id,
			 g ? dev_group_bdfs(g, bdfs, sizeof(bdfs)) : "-");
	return b;
}

/* Where the range or the IOVA space refused: 0 if not such a reason. */
static int range_fail(struct dma_space *s, int rc, const struct dma_why *w, const struct cmd_ctx *c)
{
	unsigned id = dma_space_id(s);
	uint64_t last = c->iova + c->size - 1;
	char t[96];

	switch (w->kind) {
	case DMA_WHY_ZERO_SIZE: return cmd_fail(rc, "size is zero");
	case DMA_WHY_IOVA_WRAPS:
		return cmd_fail(rc,
				"iova 0x%llx + size %llu wraps past the end of the address space",
				(ull)w->a, (ull)w->b);
	case DMA_WHY_HPA_WRAPS:
		return cmd_fail(rc, "hpa 0x%llx + size %llu wraps past the end of memory",
				(ull)w->a, (ull)w->b);
	case DMA_WHY_IOVA_ALIGN:
		return cmd_fail(rc, "iova 0x%llx is not aligned to %llu", (ull)w->a, (ull)w->b);
	case DMA_WHY_SIZE_ALIGN:
		return cmd_fail(rc, "size %llu is not a multiple of %llu", (ull)w->a, (ull)w->b);
	case DMA_WHY_HPA_ALIGN:
		return cmd_fail(
			rc,
			"hpa 0x%llx is not aligned to %llu (hpa and size must be multiples of %llu)",
			(ull)w->a, (ull)w->b, (ull)w->b);
	case DMA_WHY_APERTURE:
		if (!w->map_size)
			return cmd_fail(
				rc,
				"iova range 0x%llx-0x%llx ends above the last valid IOVA 0x%llx "
				"of as=%u",
				(ull)c->iova, (ull)w->a, (ull)w->b, id);
		return cmd_fail(
			rc,
			"a mapping of as=%u lies outside what unit %d translates: iova=0x%llx "
			"size=%llu ends above its last iova 0x%llx; unmap it first",
			id, w->id, (ull)w->map_iova, (ull)w->map_size, (ull)w->b);
	case DMA_WHY_QUARANTINED:
		return cmd_fail(rc,
				"iova range 0x%llx-0x%llx touches the quarantined range "
				"0x%llx-0x%llx (a failed map could not be unmapped from a domain: "
				"the range stays taken, its memory pinned)",
				(ull)c->iova, (ull)last, (ull)w->a, (ull)w->b);
	case DMA_WHY_RESERVED:
		if (!w->map_size)
			return cmd_fail(rc,
					"iova range 0x%llx-0x%llx touches the reserved region "
					"0x%llx-0x%llx (%s)",
					(ull)c->iova, (ull)last, (ull)w->a, (ull)w->b,
					resv_text(w, t, sizeof(t)));
		return cmd_fail(
			rc,
			"mapping iova=0x%llx size=%llu of as=%u lies in the reserved region "
			"0x%llx-0x%llx of the group (%s); unmap it first",
			(ull)w->map_iova, (ull)w->map_size, id, (ull)w->a, (ull)w->b,
			resv_text(w, t, sizeof(t)));
	case DMA_WHY_PGSIZE:
		if (!w->b)
			return cmd_fail(rc, "unit %d has no page size in common with as=%u", w->id,
					id);
		return cmd_fail(rc,
				"mapping iova=0x%llx size=%llu of as=%u is not aligned to the "
				"%llu-byte pages of unit %d (at 0x%llx); unmap it first",
				(ull)w->map_iova, (ull)w->map_size, id, (ull)w->b, w->id,
				(ull)w->a);
	case DMA_WHY_OVERLAP:
		return cmd_fail(rc, "overlaps mapping at iova=0x%llx size=%llu", (ull)w->map_iova,
				(ull)w->map_size);
	case DMA_WHY_BISECT:
		return cmd_fail(rc,
				"range 0x%llx-0x%llx would split mapping at iova=0x%llx size=%llu "
				"(unmap whole mappings)",
				(ull)c->iova, (ull)last, (ull)w->map_iova, (ull)w->map_size);
	case DMA_WHY_GAP:
		return cmd_fail(
			rc,
			"range 0x%llx-0x%llx is not covered by mappings without gaps (nothing "
			"is mapped at 0x%llx)",
			(ull)c->iova, (ull)last, (ull)w->a);
	default: return 0;
	}
}

/* Memory a space's owner may not map: whose it is instead. */
static int other_owner(int rc, struct dma_space *s, const struct dma_why *w)
{
	if (w->c == FRAME_DMA)
		return cmd_fail(rc,
				"hpa 0x%llx belongs to another owner: it was allocated for owner "
				"%llu's mappings, as=%u's owner is %d (only spaces made with "
				"share= map each other's memory)",
				(ull)w->a, (ull)w->b, dma_space_id(s), w->id);
	if (w->c == FRAME_GUEST)
		return cmd_fail(rc,
				"hpa 0x%llx belongs to another owner: it is guest %llu's RAM, "
				"as=%u's owner is %d",
				(ull)w->a, (ull)w->b, dma_space_id(s), w->id);
	return cmd_fail(rc,
			"hpa 0x%llx belongs to another owner: it is the console user's memory, "
			"as=%u's owner %d is a guest's",
			(ull)w->a, dma_space_id(s), w->id);
}

/* Limits, the source memory and registrations: 0 if not such a reason. */
static int charge_fail(struct dma_space *s, int rc, const struct dma_why *w,
		       const struct cmd_ctx *c)
{
	switch (w->kind) {
	case DMA_WHY_MAP_LIMIT:
		return cmd_fail(rc, "as=%u has reached its limit of %llu mappings", dma_space_id(s),
				(ull)w->b);
	case DMA_WHY_PIN_LIMIT:
		return cmd_fail(
			rc,
			"pin limit: owner %d has pinned=%llu limit=%llu and needs %llu more "
			"(pin limit raises it)",
			w->id, (ull)w->a, (ull)w->b, (ull)w->c);
	case DMA_WHY_NOT_DMA_MEMORY:
		if (c->verb == V_UNHINT)
			return cmd_fail(rc,
					"the memory behind the range is no longer usable for DMA "
					"(freed?): hpa 0x%llx is %s",
					(ull)w->a, frame_what(w->b));
		return cmd_fail(rc, "hpa 0x%llx..0x%llx is not memory from mem alloc: 0x%llx is %s",
				(ull)c->hpa, (ull)(c->hpa + c->size - 1), (ull)w->a,
				frame_what(w->b));
	case DMA_WHY_OTHER_OWNER:
		return other_owner(rc, s, w);
	case DMA_WHY_NOT_RAM:
		return cmd_fail(rc, "hpa 0x%llx..0x%llx is not allocated RAM (mem alloc it first)",
				(ull)w->a, (ull)(w->a + w->b - 1));
	case DMA_WHY_REG_OVERLAP:
		return cmd_fail(rc,
				"range overlaps a different registration (hpa=0x%llx size=%llu; "
				"unregister it first)",
				(ull)w->a, (ull)w->b);
	case DMA_WHY_REG_EXISTS:
		return cmd_fail(rc, "hpa 0x%llx size %llu is already registered", (ull)c->hpa,
				(ull)c->size);
	case DMA_WHY_REG_NONE:
		return cmd_fail(rc, "no registration of exactly hpa=0x%llx size=%llu", (ull)c->hpa,
				(ull)c->size);
	case DMA_WHY_REG_IN_USE:
		return cmd_fail(rc,
				"mappings still use hpa=0x%llx size=%llu (%llu of them; unmap them "
				"first)",
				(ull)c->hpa, (ull)c->size, (ull)w->a);
	default: return 0;
	}
}

static int why_fail(struct dma_space *s, int rc, const struct cmd_ctx *c)
{
	const struct dma_why *w = dma_space_why(s);
	unsigned id = dma_space_id(s);
	char t[96], rid[24];

	if (range_fail(s, rc, w, c) || charge_fail(s, rc, w, c))
		return rc;
	switch (w->kind) {
	case DMA_WHY_UNSAFE_INTERRUPTS:
		if (w->a)
			return cmd_fail(rc,
					"compatibility-format interrupts cannot be blocked on IOMMU "
					"unit %d, so %.40s could inject any vector around interrupt "
					"remapping; boot with allow_unsafe_interrupts to attach anyway",
					w->id, c->bdf);
		return cmd_fail(rc,
				"IOMMU unit %d does not remap interrupts from %.40s; boot with "
				"allow_unsafe_interrupts to attach anyway",
				w->id, c->bdf);
	case DMA_WHY_NOT_QUIESCED:
		return cmd_fail(rc,
				"group %d of %.40s left an address space and is not quiesced (its "
				"DMA could not be stopped: %s); it joins no space until it is",
				w->id, c->bdf, err_name(-(int)w->a));
	case DMA_WHY_IOMMU:
		if (c->verb == V_ATTACH && w->err == -EBUSY && w->a == DMA_OP_ATTACH)
			return cmd_fail(
				rc, "requester ID %s of %.40s is held by an RMRR identity domain",
				bdf_format_rid(rid, sizeof(rid), c->seg, (uint16_t)w->b), c->bdf);
		if (c->verb == V_DETACH && w->a != DMA_OP_DETACH)
			return cmd_fail(
				rc,
				"%.40s left as=%u, but its domain could not be torn down (%s); "
				"the domain is kept, not freed",
				c->bdf, id, reason(w, rc, c->verb, c->seg, t, sizeof(t)));
		break;
	default: break;
	}
	return cmd_fail(rc, "%s: %s; %s", failed[c->verb],
			reason(w, rc, c->verb, c->seg, t, sizeof(t)), unchanged[c->verb]);
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
	/* Every group that leaves calls its release (the edu glue's frees the
	 * interrupt routes), also after a partial teardown. */
	rc = dma_space_destroy(s);
	if (rc) {
		char t[96];
		return cmd_fail(
			rc,
			"as=%u could not be torn down completely: %s; what could not be undone "
			"stays pinned",
			id, reason(dma_space_why(s), rc, V_DETACH, 0, t, sizeof(t)));
	}
	return 0;
}

static int group_of(const char *bdf, struct pci_dev **d, struct dma_group **g)
{
	int rc;

	if ((rc = cmd_get_dev(bdf, d)))
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
	if (rc)
		return why_fail(s, rc,
				&(struct cmd_ctx){.verb = V_ATTACH, .bdf = argv[3], .seg = g->seg});
	return 0;
}

static int cmd_as_detach(int argc, char **argv)
{
	struct dma_space *s;
	struct pci_dev *d;
	struct dma_group *g;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: " U_AS_DETACH);
	if ((rc = get_space(argv[2], &s)) || (rc = cmd_get_dev(argv[3], &d)))
		return rc;
	g = dev_group_find(d->group);
	if (!g || g->space != s)
		return cmd_fail(-ENOENT, "%.40s is not attached to as=%u", argv[3],
				dma_space_id(s));
	rc = dma_detach(s, g);
	if (rc)
		return why_fail(s, rc,
				&(struct cmd_ctx){.verb = V_DETACH, .bdf = argv[3], .seg = g->seg});
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
		char owner[16];
		/* A VM's space says whose it is (CONSOLE.md: owner=vm<id>). */
		snprintf(owner, sizeof(owner), si.guest ? "vm%u" : "%u",
			 si.guest ? si.guest : si.owner);
		con_printf(
			"as=%u devices=%s mappings=%llu bytes=%llu domains=%u owner=%s pgsize=%llu "
			"map_limit=%llu hinted=%llu\n",
			si.id, used ? devs : "-", (ull)si.nmaps, (ull)si.bytes, si.ndomains,
			owner, (ull)si.pgsize, (ull)si.map_limit, (ull)si.hinted);
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

static int map_fail(struct dma_space *s, int rc, uint64_t iova, uint64_t size, uint64_t hpa)
{
	return why_fail(s, rc,
			&(struct cmd_ctx){.verb = V_MAP, .iova = iova, .size = size, .hpa = hpa});
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
		return map_fail(s, rc, iova, size, hpa);
	con_printf("iova=0x%llx size=%llu hpa=0x%llx\n", (ull)iova, (ull)size, (ull)first);
	return 0;
}

static int cmd_dma_unmap(int argc, char **argv)
{
	struct dma_space *s;
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
		if (rc) {
			char t[96];
			return cmd_fail(
				rc,
				"unmap all stopped after %llu bytes: %s (the rest stays mapped)",
				(ull)un, reason(dma_space_why(s), rc, V_UNMAP, 0, t, sizeof(t)));
		}
		con_printf("unmapped=%llu\n", (ull)un);
		return 0;
	}
	if ((rc = get_num(argv[3], "iova", &iova)) || (rc = get_size(argv[4], "size", &size)))
		return rc;
	rc = dma_unmap(s, iova, size, &un);
	if (rc)
		return why_fail(s, rc,
				&(struct cmd_ctx){.verb = V_UNMAP, .iova = iova, .size = size});
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
	uint64_t iova, hpa = 0;
	unsigned level = 0, prot = 0;
	int rc;

	if (argc != 4)
		return cmd_fail(-EINVAL, "usage: " U_DMA_TRANSLATE);
	if ((rc = get_space(argv[2], &s)) || (rc = get_num(argv[3], "iova", &iova)))
		return rc;
	rc = dma_translate(s, iova, &hpa, &level, &prot);
	if (rc && dma_space_why(s)->kind == DMA_WHY_NO_DOMAIN)
		return cmd_fail(rc, "as=%u has no hardware domain (attach a device first)",
				dma_space_id(s));
	if (rc == -ENOENT)
		return cmd_fail(rc, "iova 0x%llx is not mapped in the hardware table of as=%u",
				(ull)iova, dma_space_id(s));
	if (rc)
		return cmd_fail(rc, "page-table walk failed at iova 0x%llx", (ull)iova);
	con_printf("iova=0x%llx hpa=0x%llx level=%u prot=%s\n", (ull)iova, (ull)hpa, level,
		   prot_name(prot));
	return 0;
}

static int hint_cmd(int argc, char **argv, bool add)
{
	struct dma_space *s;
	uint64_t iova, size;
	int rc;

	if (argc != 5)
		return cmd_fail(-EINVAL, "usage: %s", add ? U_DMA_HINT : U_DMA_UNHINT);
	if ((rc = get_space(argv[2], &s)) || (rc = get_num(argv[3], "iova", &iova)) ||
	    (rc = get_size(argv[4], "size", &size)))
		return rc;
	rc = add ? dma_hint(s, iova, size) : dma_unhint(s, iova, size);
	if (rc)
		return why_fail(s, rc,
				&(struct cmd_ctx){.verb = add ? V_HINT : V_UNHINT,
						  .iova = iova,
						  .size = size});
	return 0;
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
	uint64_t hpa, size;
	int rc;

	if (argc != 5)
		return cmd_fail(-EINVAL, "usage: %s", reg ? U_PIN_REG : U_PIN_UNREG);
	if ((rc = get_space(argv[2], &s)) || (rc = get_num(argv[3], "hpa", &hpa)) ||
	    (rc = get_size(argv[4], "size", &size)))
		return rc;
	rc = reg ? dma_pin_register(s, hpa, size) : dma_pin_unregister(s, hpa, size);
	if (rc)
		return why_fail(
			s, rc,
			&(struct cmd_ctx){.verb = reg ? V_REG : V_UNREG, .hpa = hpa, .size = size});
	return 0;
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
	uint64_t size, count, pa, iova = 0, first, un, align;
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
	/* Fresh frames may hold an earlier holder's data: zeroed once, before
	 * the timed loop, so no device reads what it was never given. */
	pa = frame_alloc_zeroed(order, FRAME_USER);
	if (!pa)
		return cmd_fail(-ENOMEM, "no free contiguous block of %llu bytes",
				(ull)(FRAME_SIZE << order));
	align = FRAME_SIZE << order;
	if (align < si.pgsize)
		align = si.pgsize;
	rc = dma_free_iova(
		s, &(struct dma_iova_req){.size = size, .align = align, .last = UINT64_MAX}, &iova);
	if (rc) {
		rc = cmd_fail(-ENOSPC, "no free IOVA range of %llu bytes aligned to %llu in as=%u",
			      (ull)size, (ull)align, si.id);
		goto out;
	}
	rc = dma_map(s, iova, size, DMA_SRC_HPA, pa, DMA_PROT_R | DMA_PROT_W, &first);
	if (rc) {
		rc = map_fail(s, rc, iova, size, pa);
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
			rc = map_fail(s, rc, iova, size, pa);
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
