/*
 * iommu/vtd/dmar.c — DMAR table parser and device-to-unit lookups (VT-d
 * spec chapter 8).  Firmware DMAR tables are often wrong (zero or all-ones
 * register bases, INCLUDE_PCI_ALL not last, inverted RMRRs, scopes naming
 * absent devices): every structure is checked, a bad one is logged with a
 * "dmar: " line and dropped, the rest kept.  No assert, no fixed-size array.
 */
#include "iommu/vtd/dmar.h"

#include <stdlib.h>
#include <string.h>

#include "kernel/log.h"

#define DMAR_HDR_LEN 48u       /* ACPI header + HAW, flags, 10 reserved (8.1) */
#define DMAR_STRUCT_HDR_LEN 4u /* Type (2), Length (2) */
#define DMAR_SCOPE_HDR_LEN 6u  /* 8.3.1: type, length, flags, rsvd, enum id, start bus */
#define PAGE_4K 0x1000ull

/* Fixed part of each structure before its device scopes. */
#define DRHD_SCOPES 16u
#define RMRR_SCOPES 24u
#define ATSR_SCOPES 8u
#define SATC_SCOPES 8u
#define RHSA_LEN 20u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Grows *arr (of *n elements of size sz) by one zeroed element. */
static void *grow(void **arr, unsigned *n, size_t sz)
{
	/* Capacity doubles at powers of two; n is the count in use. */
	unsigned cnt = *n;
	char *a = *arr;

	if ((cnt & (cnt - 1)) == 0) {
		size_t ncap = cnt ? (size_t)cnt * 2 : 1;

		a = realloc(a, ncap * sz);
		if (!a)
			return NULL;
		*arr = a;
	}
	memset(a + cnt * sz, 0, sz);
	(*n)++;
	return a + cnt * sz;
}

static void free_scopes(struct dmar_scope *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(s[i].path);
	free(s);
}

struct ctx {
	struct dmar_info *info;
	const char *kind; /* of the structure being parsed, for log lines */
	unsigned num;	  /* its number among structures of its kind */
	uint32_t off;	  /* its offset in the table */
};

/*
 * Parses the device scope list p[0..len) of one structure.  Malformed scopes
 * are dropped (logged); a scope whose length is 0 or runs past the structure
 * ends the list.  -ENOMEM only.
 */
static int parse_scopes(struct ctx *c, const uint8_t *p, uint32_t len, struct dmar_scope **out,
			unsigned *nout)
{
	uint32_t o = 0;
	unsigned j = 0;

	*out = NULL;
	*nout = 0;
	for (; o < len; j++) {
		uint32_t sl, np;
		struct dmar_scope *s;
		const uint8_t *e = p + o;

		if (len - o < 2) {
			klog("dmar: %s %u (offset 0x%x): scope %u truncated, ignored", c->kind,
			     c->num, c->off, j);
			c->info->dropped++;
			break;
		}
		sl = e[1];
		if (sl == 0) {
			klog("dmar: %s %u (offset 0x%x): scope %u has length 0, rest of scopes ignored",
			     c->kind, c->num, c->off, j);
			c->info->dropped++;
			break;
		}
		if (sl > len - o) {
			klog("dmar: %s %u (offset 0x%x): scope %u length %u runs past the structure, rest of scopes ignored",
			     c->kind, c->num, c->off, j, sl);
			c->info->dropped++;
			break;
		}
		o += sl;
		if (sl < DMAR_SCOPE_HDR_LEN + 2 || (sl - DMAR_SCOPE_HDR_LEN) % 2) {
			klog("dmar: %s %u (offset 0x%x): scope %u length %u (needs 6 + 2 per path entry, at least one), dropped",
			     c->kind, c->num, c->off, j, sl);
			c->info->dropped++;
			continue;
		}
		if (e[0] < DMAR_SCOPE_ENDPOINT || e[0] > DMAR_SCOPE_ACPI) {
			klog("dmar: %s %u (offset 0x%x): scope %u has unknown type %u, dropped",
			     c->kind, c->num, c->off, j, e[0]);
			c->info->dropped++;
			continue;
		}
		np = (sl - DMAR_SCOPE_HDR_LEN) / 2;
		for (uint32_t k = 0; k < np; k++)
			if (e[6 + 2 * k] > 31 || e[7 + 2 * k] > 7) {
				klog("dmar: %s %u (offset 0x%x): scope %u path entry %u is %02x.%x, not a device, dropped",
				     c->kind, c->num, c->off, j, k, e[6 + 2 * k], e[7 + 2 * k]);
				c->info->dropped++;
				np = 0;
				break;
			}
		if (!np)
			continue;
		s = grow((void **)out, nout, sizeof(**out));
		if (!s)
			return -ENOMEM;
		s->type = e[0];
		s->enum_id = e[4];
		s->start_bus = e[5];
		s->path = malloc(np * sizeof(*s->path));
		if (!s->path)
			return -ENOMEM;
		s->npath = (uint8_t)np;
		for (uint32_t k = 0; k < np; k++) {
			s->path[k].dev = e[6 + 2 * k];
			s->path[k].fn = e[7 + 2 * k];
		}
	}
	return 0;
}

static void drop(struct ctx *c, const char *why)
{
	klog("dmar: %s %u (offset 0x%x): %s, dropped", c->kind, c->num, c->off, why);
	c->info->dropped++;
}

/*
 * Parsers of the fixed part of one structure, called once the structure is
 * known to be at least as long as that part (kinds[] below).  Each checks
 * what it needs, drops (logged) or keeps the structure, and tells where its
 * device scopes go (sl untouched: it has none or was dropped).  -ENOMEM only.
 */
struct scope_list {
	struct dmar_scope **scope;
	unsigned *n;
};

static int parse_drhd(struct ctx *c, const uint8_t *e, struct scope_list *sl)
{
	struct dmar_info *info = c->info;
	uint64_t base, size, end;
	struct dmar_drhd *d;

	base = rd64(e + 8);
	/* 8.3 Size field, bits 3:0: the register set spans 2^N 4 KiB pages. */
	size = PAGE_4K << (e[5] & 0xf);
	if (base == 0) {
		drop(c, "register base is 0");
		return 0;
	}
	if ((base | (PAGE_4K - 1)) == ~0ull) {
		drop(c, "register base is all ones");
		return 0;
	}
	if (base & (PAGE_4K - 1)) {
		drop(c, "register base not 4 KiB aligned");
		return 0;
	}
	end = base + size;
	if (end < base) {
		drop(c, "register range wraps");
		return 0;
	}
	for (unsigned i = 0; i < info->ndrhd; i++) {
		const struct dmar_drhd *o = &info->drhd[i];

		if (base < o->base + o->reg_size && o->base < end) {
			klog("dmar: %s %u (offset 0x%x): register base 0x%llx overlaps DRHD at 0x%llx, dropped",
			     c->kind, c->num, c->off, (unsigned long long)base,
			     (unsigned long long)o->base);
			info->dropped++;
			return 0;
		}
	}
	if (e[4] & DMAR_DRHD_INCLUDE_PCI_ALL)
		for (unsigned i = 0; i < info->ndrhd; i++)
			if (info->drhd[i].include_all && info->drhd[i].segment == rd16(e + 6)) {
				klog("dmar: %s %u (offset 0x%x): second INCLUDE_PCI_ALL unit for segment %u, dropped",
				     c->kind, c->num, c->off, rd16(e + 6));
				info->dropped++;
				return 0;
			}
	d = grow((void **)&info->drhd, &info->ndrhd, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->flags = e[4];
	d->include_all = (e[4] & DMAR_DRHD_INCLUDE_PCI_ALL) != 0;
	d->segment = rd16(e + 6);
	d->base = base;
	d->reg_size = size;
	*sl = (struct scope_list){&d->scope, &d->nscope};
	return 0;
}

static int parse_rmrr(struct ctx *c, const uint8_t *e, struct scope_list *sl)
{
	struct dmar_rmrr *r;
	uint64_t base, limit;

	base = rd64(e + 8);
	limit = rd64(e + 16);
	if (limit < base) {
		klog("dmar: %s %u (offset 0x%x): end 0x%llx below base 0x%llx, dropped", c->kind,
		     c->num, c->off, (unsigned long long)limit, (unsigned long long)base);
		c->info->dropped++;
		return 0;
	}
	/* 8.4: base 4 KiB aligned, limit + 1 a multiple of 4 KiB. */
	if ((base & (PAGE_4K - 1)) || ((limit + 1) & (PAGE_4K - 1)) || limit == ~0ull) {
		klog("dmar: %s %u (offset 0x%x): range 0x%llx-0x%llx not 4 KiB aligned, dropped",
		     c->kind, c->num, c->off, (unsigned long long)base, (unsigned long long)limit);
		c->info->dropped++;
		return 0;
	}
	r = grow((void **)&c->info->rmrr, &c->info->nrmrr, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->segment = rd16(e + 6);
	r->base = base;
	r->limit = limit;
	*sl = (struct scope_list){&r->scope, &r->nscope};
	return 0;
}

static int parse_atsr(struct ctx *c, const uint8_t *e, struct scope_list *sl)
{
	struct dmar_atsr *a = grow((void **)&c->info->atsr, &c->info->natsr, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->flags = e[4];
	a->segment = rd16(e + 6);
	*sl = (struct scope_list){&a->scope, &a->nscope};
	return 0;
}

static int parse_satc(struct ctx *c, const uint8_t *e, struct scope_list *sl)
{
	struct dmar_satc *a = grow((void **)&c->info->satc, &c->info->nsatc, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->flags = e[4];
	a->segment = rd16(e + 6);
	*sl = (struct scope_list){&a->scope, &a->nscope};
	return 0;
}

static int parse_rhsa(struct ctx *c, const uint8_t *e, struct scope_list *sl)
{
	struct dmar_rhsa *h = grow((void **)&c->info->rhsa, &c->info->nrhsa, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->base = rd64(e + 8);
	h->proximity_domain = rd32(e + 16);
	return 0;
}

/* The remapping structures (8.2), indexed by type: the length of the fixed
 * part (device scopes follow it) and its parser (NULL: skipped; ANDD names
 * ACPI objects, useless without AML). */
static const struct dmar_kind {
	const char *name;
	uint32_t min_len;
	int (*parse)(struct ctx *c, const uint8_t *e, struct scope_list *sl);
} kinds[] = {
	[DMAR_TYPE_DRHD] = {"DRHD", DRHD_SCOPES, parse_drhd},
	[DMAR_TYPE_RMRR] = {"RMRR", RMRR_SCOPES, parse_rmrr},
	[DMAR_TYPE_ATSR] = {"ATSR", ATSR_SCOPES, parse_atsr},
	[DMAR_TYPE_RHSA] = {"RHSA", RHSA_LEN, parse_rhsa},
	[DMAR_TYPE_ANDD] = {"ANDD", 0, NULL},
	[DMAR_TYPE_SATC] = {"SATC", SATC_SCOPES, parse_satc},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* 8.3: an INCLUDE_PCI_ALL DRHD must be the last of its segment.  Firmware
 * gets this wrong (ACRN PR #4979); it stays the segment's catch-all. */
static void check_include_all_last(const struct dmar_info *info)
{
	for (unsigned i = 0; i < info->ndrhd; i++) {
		if (!info->drhd[i].include_all)
			continue;
		for (unsigned k = i + 1; k < info->ndrhd; k++)
			if (info->drhd[k].segment == info->drhd[i].segment) {
				klog("dmar: DRHD at 0x%llx: INCLUDE_PCI_ALL but not the last DRHD of segment %u (firmware bug), still its catch-all",
				     (unsigned long long)info->drhd[i].base, info->drhd[i].segment);
				break;
			}
	}
}

int dmar_parse(const void *table, uint32_t len, struct dmar_info **out)
{
	const uint8_t *t = table;
	struct dmar_info *info;
	unsigned count[NKINDS] = {0};
	uint32_t hlen, off;

	*out = NULL;
	if (!t || len < DMAR_HDR_LEN) {
		klog("dmar: table shorter than its %u byte header, ignored", DMAR_HDR_LEN);
		return -EINVAL;
	}
	if (memcmp(t, "DMAR", 4) != 0) {
		klog("dmar: signature is not DMAR, ignored");
		return -EINVAL;
	}
	hlen = rd32(t + 4);
	if (hlen < DMAR_HDR_LEN || hlen > len) {
		klog("dmar: header length %u outside %u..%u, ignored", hlen, DMAR_HDR_LEN, len);
		return -EINVAL;
	}
	info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	info->haw = (uint8_t)(t[36] + 1);
	info->flags = t[37];
	info->intr_remap = (t[37] & DMAR_FLAG_INTR_REMAP) != 0;
	info->x2apic_opt_out = (t[37] & DMAR_FLAG_X2APIC_OPT_OUT) != 0;
	info->dma_ctrl_opt_in = (t[37] & DMAR_FLAG_DMA_CTRL_PLATFORM_OPT_IN) != 0;

	for (off = DMAR_HDR_LEN; off < hlen;) {
		const uint8_t *e = t + off;
		struct ctx c = {.info = info, .off = off};
		uint16_t type;
		uint32_t slen;
		int err = 0;

		if (hlen - off < DMAR_STRUCT_HDR_LEN) {
			klog("dmar: %u trailing bytes at offset 0x%x, ignored", hlen - off, off);
			info->dropped++;
			break;
		}
		type = rd16(e);
		slen = rd16(e + 2);
		if (slen < DMAR_STRUCT_HDR_LEN) {
			klog("dmar: structure type %u at offset 0x%x has length %u, rest of table ignored",
			     type, off, slen);
			info->dropped++;
			break;
		}
		if (slen > hlen - off) {
			klog("dmar: structure type %u at offset 0x%x length %u runs past the table (%u bytes), dropped, rest of table ignored",
			     type, off, slen, hlen);
			info->dropped++;
			break;
		}
		if (type < NKINDS) {
			const struct dmar_kind *k = &kinds[type];

			c.kind = k->name;
			c.num = count[type]++;
			struct scope_list sl = {NULL, NULL};

			if (slen < k->min_len)
				drop(&c, "too short");
			else if (k->parse)
				err = k->parse(&c, e, &sl);
			if (!err && sl.scope)
				err = parse_scopes(&c, e + k->min_len, slen - k->min_len, sl.scope,
						   sl.n);
		} else {
			klog("dmar: structure type %u at offset 0x%x unknown, skipped", type, off);
		}
		if (err) {
			klog("dmar: out of memory parsing the table");
			dmar_free(info);
			return err;
		}
		off += slen;
	}
	check_include_all_last(info);
	*out = info;
	return 0;
}

void dmar_free(struct dmar_info *info)
{
	if (!info)
		return;
	for (unsigned i = 0; i < info->ndrhd; i++)
		free_scopes(info->drhd[i].scope, info->drhd[i].nscope);
	for (unsigned i = 0; i < info->nrmrr; i++)
		free_scopes(info->rmrr[i].scope, info->rmrr[i].nscope);
	for (unsigned i = 0; i < info->natsr; i++)
		free_scopes(info->atsr[i].scope, info->atsr[i].nscope);
	for (unsigned i = 0; i < info->nsatc; i++)
		free_scopes(info->satc[i].scope, info->satc[i].nscope);
	free(info->drhd);
	free(info->rmrr);
	free(info->atsr);
	free(info->rhsa);
	free(info->satc);
	free(info);
}

/* ---- lookups */

int dmar_scope_resolve(const struct dmar_scope *s, uint16_t seg,
		       int (*secondary_bus)(void *ctx, uint16_t seg, uint8_t bus, uint8_t dev,
					    uint8_t fn),
		       void *ctx, uint8_t *bus, uint8_t *devfn)
{
	uint8_t b = s->start_bus;

	if (s->npath == 0 || !s->path)
		return -EINVAL;
	/* 8.3.1.1: each hop but the last is a PCI-PCI bridge; the next hop
	 * sits on that bridge's secondary bus. */
	for (unsigned i = 0; i + 1 < s->npath; i++) {
		int sec;

		if (!secondary_bus)
			return -EINVAL;
		sec = secondary_bus(ctx, seg, b, s->path[i].dev, s->path[i].fn);
		if (sec < 0)
			return -ENODEV;
		if (sec > 0xff)
			return -ENODEV;
		b = (uint8_t)sec;
	}
	*bus = b;
	*devfn = (uint8_t)(s->path[s->npath - 1].dev << 3 | s->path[s->npath - 1].fn);
	return 0;
}

bool dmar_scope_covers(const struct dmar_scope *s, uint16_t seg, uint8_t bus, uint8_t devfn,
		       const struct dmar_pci_ops *ops, void *ctx)
{
	uint8_t b, df;
	int sec, sub;

	if (dmar_scope_resolve(s, seg, ops ? ops->secondary_bus : NULL, ctx, &b, &df))
		return false;
	if (ops && ops->present && !ops->present(ctx, seg, b, df))
		return false;
	if (b == bus && df == devfn)
		return true;
	if (s->type != DMAR_SCOPE_BRIDGE || !ops || !ops->secondary_bus || !ops->subordinate_bus)
		return false;
	sec = ops->secondary_bus(ctx, seg, b, df >> 3, df & 7);
	sub = ops->subordinate_bus(ctx, seg, b, df >> 3, df & 7);
	if (sec < 0 || sub < 0)
		return false;
	return bus >= sec && bus <= sub;
}

int dmar_unit_for(const struct dmar_info *info, uint16_t seg, uint8_t bus, uint8_t devfn,
		  const struct dmar_pci_ops *ops, void *ctx)
{
	int all = -ENODEV;

	for (unsigned i = 0; i < info->ndrhd; i++) {
		const struct dmar_drhd *d = &info->drhd[i];

		if (d->segment != seg)
			continue;
		/* Wherever the firmware put it, the INCLUDE_PCI_ALL unit only
		 * gets what no other unit of the segment lists (8.3). */
		if (d->include_all) {
			if (all < 0)
				all = (int)i;
			continue;
		}
		for (unsigned k = 0; k < d->nscope; k++)
			if (dmar_scope_covers(&d->scope[k], seg, bus, devfn, ops, ctx))
				return (int)i;
	}
	return all;
}

int dmar_unit_for_special(const struct dmar_info *info, uint8_t type, uint8_t enum_id,
			  const struct dmar_pci_ops *ops, void *ctx, uint16_t *sid)
{
	for (unsigned i = 0; i < info->ndrhd; i++) {
		const struct dmar_drhd *d = &info->drhd[i];

		for (unsigned k = 0; k < d->nscope; k++) {
			const struct dmar_scope *s = &d->scope[k];
			uint8_t b, df;

			if (s->type != type || s->enum_id != enum_id)
				continue;
			if (dmar_scope_resolve(s, d->segment, ops ? ops->secondary_bus : NULL, ctx,
					       &b, &df))
				return -ENODEV;
			if (sid)
				*sid = (uint16_t)(b << 8 | df);
			return (int)i;
		}
	}
	return -ENODEV;
}

unsigned dmar_rmrr_for(const struct dmar_info *info, uint16_t seg, uint8_t bus, uint8_t devfn,
		       const struct dmar_pci_ops *ops, void *ctx, unsigned *idx, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < info->nrmrr; i++) {
		const struct dmar_rmrr *r = &info->rmrr[i];

		if (r->segment != seg)
			continue;
		for (unsigned k = 0; k < r->nscope; k++)
			if (dmar_scope_covers(&r->scope[k], seg, bus, devfn, ops, ctx)) {
				if (n < max)
					idx[n] = i;
				n++;
				break;
			}
	}
	return n;
}

static unsigned log_absent(const char *kind, unsigned i, uint16_t seg, const struct dmar_scope *s,
			   unsigned n, const struct dmar_pci_ops *ops, void *ctx)
{
	unsigned bad = 0;

	for (unsigned k = 0; k < n; k++) {
		uint8_t b, df;

		/* IOAPIC, HPET and ACPI-namespace scopes name source-ids of
		 * platform devices, not PCI functions: nothing to find. */
		if (s[k].type != DMAR_SCOPE_ENDPOINT && s[k].type != DMAR_SCOPE_BRIDGE)
			continue;
		if (!dmar_scope_resolve(&s[k], seg, ops ? ops->secondary_bus : NULL, ctx, &b,
					&df) &&
		    (!ops || !ops->present || ops->present(ctx, seg, b, df)))
			continue;
		klog("dmar: %s %u scope %u names absent device (segment %u, start bus 0x%02x, %u hops)",
		     kind, i, k, seg, s[k].start_bus, s[k].npath);
		bad++;
	}
	return bad;
}

unsigned dmar_log_absent(const struct dmar_info *info, const struct dmar_pci_ops *ops, void *ctx)
{
	unsigned bad = 0;

	for (unsigned i = 0; i < info->ndrhd; i++)
		bad += log_absent("DRHD", i, info->drhd[i].segment, info->drhd[i].scope,
				  info->drhd[i].nscope, ops, ctx);
	for (unsigned i = 0; i < info->nrmrr; i++)
		bad += log_absent("RMRR", i, info->rmrr[i].segment, info->rmrr[i].scope,
				  info->rmrr[i].nscope, ops, ctx);
	for (unsigned i = 0; i < info->natsr; i++)
		bad += log_absent("ATSR", i, info->atsr[i].segment, info->atsr[i].scope,
				  info->atsr[i].nscope, ops, ctx);
	for (unsigned i = 0; i < info->nsatc; i++)
		bad += log_absent("SATC", i, info->satc[i].segment, info->satc[i].scope,
				  info->satc[i].nscope, ops, ctx);
	return bad;
}
