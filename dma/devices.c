/*
 * dma/devices.c — one persistent struct dma_group per PCI isolation
 * group (see devices.h).  The requester IDs of a group are every member's
 * own RID plus its alias RID: VT-d looks up a context entry by the source-id
 * a request carries (VT-d 3.4.3), and a device behind a PCIe-to-PCI bridge
 * may issue requests tagged with the bridge's secondary-bus RID or its own
 * (PCIe-to-PCI bridge spec 2.3; Xen and Linux map both), so both need the
 * domain's context entry.
 *
 * Reserved regions: the RMRRs naming any member (through the query the
 * platform installs with dev_set_rmrr_query) are the group's reserved IOVA
 * ranges.
 */
#include "dma/devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/log.h"

struct dev_grp {
	struct dma_group g;
	struct dev_grp *next;
};

static struct dev_grp *grps;

int dev_lookup(const char *bdf_text, struct pci_dev **out)
{
	uint16_t seg = 0;
	uint8_t bus = 0, dev = 0, fn = 0;
	struct pci_dev *d;

	if (!bdf_text || pci_parse_bdf(bdf_text, &seg, &bus, &dev, &fn))
		return -EINVAL;
	d = pci_find(seg, bus, dev, fn);
	if (!d)
		return -ENODEV;
	*out = d;
	return 0;
}

static int add_rid(uint16_t *rids, unsigned *n, unsigned max, uint16_t rid)
{
	for (unsigned i = 0; i < *n; i++)
		if (rids[i] == rid)
			return 0;
	if (*n >= max)
		return -E2BIG;
	rids[(*n)++] = rid;
	return 0;
}

int dev_collect_rids(struct pci_dev *const *members, unsigned n, uint16_t *rids, unsigned max)
{
	unsigned cnt = 0;

	for (unsigned i = 0; i < n; i++) {
		/* The alias first: it is what the IOMMU sees for the group. */
		if (add_rid(rids, &cnt, max, members[i]->alias_rid) ||
		    add_rid(rids, &cnt, max, pci_dev_rid(members[i])))
			return -E2BIG;
	}
	return (int)cnt;
}

struct dma_group *dev_group_find(int id)
{
	for (struct dev_grp *p = grps; p; p = p->next)
		if (p->g.id == id)
			return &p->g;
	return NULL;
}

/* Recomputes unit and rids of g from the PCI group of d. */
static dev_rmrr_query_fn rmrr_query;

void dev_set_rmrr_query(dev_rmrr_query_fn fn) { rmrr_query = fn; }

/* The RMRRs naming any member become the group's reserved IOVA ranges: the
 * firmware keeps DMAing there (identity-mapped), so no space the group
 * joins may map anything else over them.  -E2BIG past DMA_GROUP_MAX_RESV. */
static int collect_resv(struct pci_dev **m, unsigned n, struct dma_group *g)
{
	g->nresv = 0;
	if (!rmrr_query)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t start[DMA_GROUP_MAX_RESV + 1], last[DMA_GROUP_MAX_RESV + 1];
		unsigned k = rmrr_query(m[i]->seg, m[i]->bus, (uint8_t)(m[i]->dev << 3 | m[i]->fn),
					start, last, DMA_GROUP_MAX_RESV + 1);
		for (unsigned j = 0; j < k && j <= DMA_GROUP_MAX_RESV; j++) {
			bool dup = false;
			for (unsigned x = 0; x < g->nresv; x++)
				dup |= g->resv[x].start == start[j] && g->resv[x].last == last[j];
			if (dup)
				continue;
			if (g->nresv == DMA_GROUP_MAX_RESV)
				return -E2BIG;
			g->resv[g->nresv].start = start[j];
			g->resv[g->nresv].last = last[j];
			g->nresv++;
		}
	}
	return 0;
}

static int fill_group(struct dma_group *g, struct pci_dev *d)
{
	int n = pci_group_members(d->group, NULL, 0), nr;
	struct pci_dev **m;
	struct iommu_unit *u;
	uint16_t rids[DMA_GROUP_MAX_RIDS];

	if (n <= 0)
		n = 1;
	m = calloc((size_t)n, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (pci_group_members(d->group, m, (unsigned)n) <= 0) {
		m[0] = d;
		n = 1;
	}
	u = iommu_unit_for(d->seg, d->alias_rid);
	if (!u) {
		free(m);
		return -ENODEV;
	}
	for (int i = 0; i < n; i++)
		if (iommu_unit_for(m[i]->seg, m[i]->alias_rid) != u) {
			free(m);
			return -ENOTSUP;
		}
	nr = dev_collect_rids(m, (unsigned)n, rids, DMA_GROUP_MAX_RIDS);
	int nresv = nr < 0 ? 0 : collect_resv(m, (unsigned)n, g);
	free(m);
	if (nr < 0)
		return nr;
	if (nresv < 0)
		return nresv;
	g->unit = u;
	g->seg = d->seg;
	g->nrids = (unsigned)nr;
	memcpy(g->rids, rids, sizeof(rids));
	return 0;
}

int dev_quiesce_members(struct pci_dev *const *m, unsigned n)
{
	int err = 0;

	for (unsigned i = 0; i < n; i++) {
		bool did_flr;
		char b[24];
		int e;

		/* A bridge forwards the DMA of every function below it, in this
		 * group or another: its Bus Master and its reset are not one
		 * group's to take (edu turns its bridges' Bus Master on). */
		if (m[i]->is_bridge)
			continue;
		e = pci_quiesce(m[i], &did_flr);
		pci_format_bdf(b, sizeof(b), m[i]->seg, m[i]->bus, m[i]->dev, m[i]->fn);
		if (e) {
			klog("dma: %s could not be quiesced (%s)", b, err_name(e));
			err = err ? err : e;
		} else if (did_flr) {
			klog("dma: %s quiesced: bus master off, function level reset", b);
		}
	}
	return err;
}

/* The group's quiesce callback: every member, even past a failure (each
 * one stopped is one less writing into the next space). */
static int quiesce_group(struct dma_group *g, void *arg)
{
	struct pci_dev *m[32];
	int n = pci_group_members(g->id, m, 32);

	(void)arg;
	if (n > 32)
		return -E2BIG;
	return dev_quiesce_members(m, n < 0 ? 0 : (unsigned)n);
}

int dev_group_get(struct pci_dev *d, struct dma_group **out)
{
	struct dma_group *g = dev_group_find(d->group);
	struct dev_grp *p = NULL;
	int err;

	if (g && g->space) {
		*out = g; /* attached: its rids are in the hardware, keep them */
		return 0;
	}
	if (!g) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		g = &p->g;
		g->id = d->group;
	}
	err = fill_group(g, d);
	if (err) {
		free(p); /* a fresh group is dropped; an old one keeps its last state */
		return err;
	}
	if (p) {
		dma_group_on_quiesce(g, quiesce_group, NULL);
		p->next = grps;
		grps = p;
	}
	*out = g;
	return 0;
}

struct dma_group *dev_group(struct pci_dev *d)
{
	struct dma_group *g = NULL;

	return dev_group_get(d, &g) ? NULL : g;
}

char *dev_group_bdfs(const struct dma_group *g, char *buf, unsigned len)
{
	struct pci_dev *m[32];
	int n = pci_group_members(g->id, m, 32);
	unsigned used = 0;

	if (!len)
		return buf;
	buf[0] = 0;
	if (n <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	for (int i = 0; i < n && i < 32; i++) {
		char b[24];
		pci_format_bdf(b, sizeof(b), m[i]->seg, m[i]->bus, m[i]->dev, m[i]->fn);
		int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", b);
		if (w < 0 || (unsigned)w >= len - used) {
			buf[used] = 0;
			break;
		}
		used += (unsigned)w;
	}
	return buf;
}

void dev_reset(void)
{
	struct dev_grp **pp = &grps;

	while (*pp) {
		struct dev_grp *p = *pp;
		if (!p->g.space) {
			*pp = p->next;
			free(p);
		} else {
			pp = &p->next;
		}
	}
}
