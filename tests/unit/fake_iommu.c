/*
 * tests/unit/fake_iommu.c — fake IOMMU driver for host tests; see the header.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/itree.h"
#include "tests/unit/fake_iommu.h"

struct fake_iommu_stats fake_iommu_stats;
bool (*fake_iommu_release_check)(uint64_t pa, uint64_t size);

struct leaf {
	struct itree_node node; /* IOVA range */
	uint64_t pa;
	unsigned prot;
};

struct stale {
	uint64_t pa, size;
};

struct fdom {
	struct iommu_domain d;
	struct itree leaves;
	uint64_t mapped, flushes;
	struct stale *stale;
	size_t nstale, capstale;
	bool stale_overflow;
};

struct funit {
	struct iommu_unit u;
	struct iommu_domain **rid; /* 65536 entries */
};

static unsigned long fail_n[FAKE_NOPS];
static int fail_err[FAKE_NOPS];
static bool fail_sticky[FAKE_NOPS]; /* fail_from: stays failing once fired */
static unsigned long fail_any_n;
static unsigned live_domains;

static const struct iommu_ops fake_ops;

void fake_iommu_fail(enum fake_op op, unsigned long n, int err)
{
	fail_n[op] = n;
	fail_err[op] = err;
	fail_sticky[op] = false;
}

void fake_iommu_fail_from(enum fake_op op, unsigned long n, int err)
{
	fake_iommu_fail(op, n, err);
	fail_sticky[op] = n != 0;
}

void fake_iommu_fail_any(unsigned long n) { fail_any_n = n; }

unsigned long fake_iommu_fail_any_pending(void) { return fail_any_n; }

void fake_iommu_reset(void)
{
	memset(fail_n, 0, sizeof(fail_n));
	memset(fail_sticky, 0, sizeof(fail_sticky));
	fail_any_n = 0;
	memset(&fake_iommu_stats, 0, sizeof(fake_iommu_stats));
}

/* Counts the call; returns the injected error or 0. */
static int enter(enum fake_op op)
{
	fake_iommu_stats.calls[op]++;
	if (fail_any_n && --fail_any_n == 0)
		return -EIO;
	if (fail_n[op] && --fail_n[op] == 0) {
		if (fail_sticky[op])
			fail_n[op] = 1; /* the next call fires again */
		return fail_err[op] ? fail_err[op] : -EIO;
	}
	return 0;
}

struct iommu_unit *fake_iommu_unit_new(uint64_t pgsizes, uint64_t aperture_end, bool snoop,
				       bool intr_remap)
{
	struct funit *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->rid = calloc(65536, sizeof(f->rid[0]));
	if (!f->rid)
		abort();
	f->u.ops = &fake_ops;
	f->u.pgsizes = pgsizes;
	f->u.aperture_end = aperture_end;
	f->u.snoop_control = snoop;
	f->u.intr_remap = intr_remap;
	f->u.intr_isolated = intr_remap; /* a fake unit that remaps also isolates */
	return &f->u;
}

void fake_iommu_unit_free(struct iommu_unit *u)
{
	struct funit *f = (struct funit *)u;

	if (u->ndomains)
		fake_iommu_stats.violations++;
	free(f->rid);
	free(f);
}

static int f_domain_alloc(struct iommu_unit *u, struct iommu_domain **out)
{
	struct fdom *fd;
	int e = enter(FAKE_DOMAIN_ALLOC);

	if (e)
		return e;
	fd = calloc(1, sizeof(*fd));
	if (!fd)
		return -ENOMEM;
	fd->d.unit = u;
	fd->d.pgsizes = u->pgsizes;
	fd->d.aperture_end = u->aperture_end;
	fd->d.snoop = u->snoop_control;
	fd->d.priv = fd;
	u->ndomains++;
	live_domains++;
	*out = &fd->d;
	return 0;
}

static void f_domain_free(struct iommu_domain *d)
{
	struct fdom *fd = d->priv;

	fake_iommu_stats.domain_free++;
	/* The dma layer detaches every rid and unmaps everything first. */
	if (d->ndevices || fd->leaves.count || fd->nstale)
		fake_iommu_stats.violations++;
	while (fd->leaves.root) {
		struct itree_node *n = fd->leaves.root;
		itree_remove(&fd->leaves, n);
		free(itree_entry(n, struct leaf, node));
	}
	d->unit->ndomains--;
	live_domains--;
	free(fd->stale);
	free(fd);
}

static int f_attach(struct iommu_domain *d, uint16_t rid)
{
	struct funit *f = (struct funit *)d->unit;
	int e = enter(FAKE_ATTACH);

	if (e)
		return e;
	if (f->rid[rid] == d)
		return 0;
	if (f->rid[rid])
		f->rid[rid]->ndevices--;
	f->rid[rid] = d;
	d->ndevices++;
	return 0;
}

static int f_detach(struct iommu_domain *d, uint16_t rid)
{
	struct funit *f = (struct funit *)d->unit;
	int e = enter(FAKE_DETACH);

	if (e)
		return e;
	if (f->rid[rid] != d) {
		fake_iommu_stats.violations++;
		return -ENOENT;
	}
	f->rid[rid] = NULL;
	d->ndevices--;
	return 0;
}

static unsigned level_of(uint64_t size)
{
	return size == PGSIZE_1G ? 3 : size == PGSIZE_2M ? 2 : 1;
}

/* Largest leaf in pgsizes that alignment of iova/pa and len allow. */
static uint64_t pick_leaf(uint64_t pgsizes, uint64_t iova, uint64_t pa, uint64_t len)
{
	uint64_t best = PGSIZE_4K;
	static const uint64_t sz[] = {PGSIZE_1G, PGSIZE_2M};

	for (unsigned i = 0; i < 2; i++)
		if ((pgsizes & sz[i]) && !((iova | pa) & (sz[i] - 1)) && len >= sz[i]) {
			best = sz[i];
			break;
		}
	return best;
}

static void gather_add(struct iommu_gather *g, uint64_t iova, uint64_t size)
{
	if (g->end == 0) {
		g->start = iova;
		g->end = iova + size;
	} else {
		if (iova < g->start)
			g->start = iova;
		if (iova + size > g->end)
			g->end = iova + size;
	}
}

static void free_leaf_list(struct leaf **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/* Builds leaves for [iova, iova+size) -> pa into v (count in *n). */
static int build_leaves(struct fdom *fd, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
			struct leaf ***v, size_t *n)
{
	size_t cap = 0;
	uint64_t off = 0;

	*v = NULL;
	*n = 0;
	while (off < size) {
		uint64_t l = pick_leaf(fd->d.pgsizes, iova + off, pa + off, size - off);
		struct leaf *lf = malloc(sizeof(*lf));

		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct leaf **nv = realloc(*v, nc * sizeof(**v));
			if (!nv) {
				free(lf);
				lf = NULL;
			} else {
				*v = nv;
				cap = nc;
			}
		}
		if (!lf) {
			free_leaf_list(*v, *n);
			free(*v);
			*v = NULL;
			*n = 0;
			return -ENOMEM;
		}
		lf->node.start = iova + off;
		lf->node.last = iova + off + l - 1;
		lf->pa = pa + off;
		lf->prot = prot;
		(*v)[(*n)++] = lf;
		off += l;
	}
	return 0;
}

static void count_leaf(uint64_t sz) { fake_iommu_stats.leaves[level_of(sz) - 1]++; }

static int f_map(struct iommu_domain *d, uint64_t iova, uint64_t pa, uint64_t size, unsigned prot,
		 struct iommu_gather *g)
{
	struct fdom *fd = d->priv;
	struct leaf **v;
	size_t n;
	int e = enter(FAKE_MAP);

	if (e)
		return e;
	if (!size || ((iova | pa | size) & (PGSIZE_4K - 1)) || iova + size - 1 < iova ||
	    iova + size - 1 > d->aperture_end || !(prot & (IOMMU_READ | IOMMU_WRITE))) {
		fake_iommu_stats.violations++;
		return -EINVAL;
	}
	if (itree_first(&fd->leaves, iova, iova + size - 1))
		return -EEXIST;
	e = build_leaves(fd, iova, pa, size, prot, &v, &n);
	if (e)
		return e;
	for (size_t i = 0; i < n; i++) {
		itree_insert(&fd->leaves, &v[i]->node);
		count_leaf(v[i]->node.last - v[i]->node.start + 1);
	}
	free(v);
	fd->mapped += size;
	(void)g;
	return 0;
}

static int add_stale(struct fdom *fd, uint64_t pa, uint64_t size)
{
	if (fd->nstale && fd->stale[fd->nstale - 1].pa + fd->stale[fd->nstale - 1].size == pa) {
		fd->stale[fd->nstale - 1].size += size;
		return 0;
	}
	if (fd->nstale == fd->capstale) {
		size_t nc = fd->capstale ? fd->capstale * 2 : 16;
		struct stale *ns = realloc(fd->stale, nc * sizeof(*ns));
		if (!ns) {
			fd->stale_overflow = true;
			return 0;
		}
		fd->stale = ns;
		fd->capstale = nc;
	}
	fd->stale[fd->nstale].pa = pa;
	fd->stale[fd->nstale].size = size;
	fd->nstale++;
	return 0;
}

static int f_unmap(struct iommu_domain *d, uint64_t iova, uint64_t size, struct iommu_gather *g)
{
	struct fdom *fd = d->priv;
	uint64_t last = iova + size - 1;
	struct itree_node *n;
	struct leaf **head = NULL, **tail = NULL;
	size_t nh = 0, nt = 0;
	struct leaf *lh = NULL, *lt = NULL;
	int e = enter(FAKE_UNMAP);

	if (e)
		return e;
	if (!size || ((iova | size) & (PGSIZE_4K - 1)) || last < iova) {
		fake_iommu_stats.violations++;
		return -EINVAL;
	}
	/* Leaves straddling the edges are split: build the kept parts first so
	 * that a failed allocation changes nothing. */
	n = itree_first(&fd->leaves, iova, iova);
	if (n && n->start < iova) {
		lh = itree_entry(n, struct leaf, node);
		if (build_leaves(fd, n->start, lh->pa, iova - n->start, lh->prot, &head, &nh))
			return -ENOMEM;
	}
	n = itree_first(&fd->leaves, last, last);
	if (n && n->last > last) {
		lt = itree_entry(n, struct leaf, node);
		if (build_leaves(fd, last + 1, lt->pa + (last + 1 - n->start), n->last - last,
				 lt->prot, &tail, &nt)) {
			free_leaf_list(head, nh);
			free(head);
			return -ENOMEM;
		}
	}
	while ((n = itree_first(&fd->leaves, iova, last))) {
		struct leaf *lf = itree_entry(n, struct leaf, node);
		uint64_t s = n->start > iova ? n->start : iova;
		uint64_t l = n->last < last ? n->last : last;

		itree_remove(&fd->leaves, n);
		fd->mapped -= l - s + 1;
		add_stale(fd, lf->pa + (s - n->start), l - s + 1);
		if (lf == lh || lf == lt)
			fake_iommu_stats.splits++;
		free(lf);
	}
	for (size_t i = 0; i < nh; i++) {
		itree_insert(&fd->leaves, &head[i]->node);
		count_leaf(head[i]->node.last - head[i]->node.start + 1);
	}
	for (size_t i = 0; i < nt; i++) {
		itree_insert(&fd->leaves, &tail[i]->node);
		count_leaf(tail[i]->node.last - tail[i]->node.start + 1);
	}
	free(head);
	free(tail);
	gather_add(g, iova, size);
	g->need_flush = true;
	if (lh || lt)
		g->leaf_only = false;
	return 0;
}

static int f_flush(struct iommu_domain *d, struct iommu_gather *g)
{
	struct fdom *fd = d->priv;
	int e = enter(FAKE_FLUSH);

	fd->flushes++;
	if (e)
		return e;
	/* Whatever was unmapped must still be held by its owner until now. */
	if (fake_iommu_release_check)
		for (size_t i = 0; i < fd->nstale; i++)
			if (!fake_iommu_release_check(fd->stale[i].pa, fd->stale[i].size))
				fake_iommu_stats.violations++;
	fd->nstale = 0;
	iommu_gather_init(g);
	return 0;
}

static int f_iova_to_phys(struct iommu_domain *d, uint64_t iova, uint64_t *pa, unsigned *level,
			  unsigned *prot)
{
	struct fdom *fd = d->priv;
	struct itree_node *n = itree_first(&fd->leaves, iova, iova);
	struct leaf *lf;

	if (!n)
		return -ENOENT;
	lf = itree_entry(n, struct leaf, node);
	*pa = lf->pa + (iova - n->start);
	if (level)
		*level = level_of(n->last - n->start + 1);
	if (prot)
		*prot = lf->prot;
	return 0;
}

static const struct iommu_ops fake_ops = {
	.name = "fake",
	.domain_alloc = f_domain_alloc,
	.domain_free = f_domain_free,
	.attach = f_attach,
	.detach = f_detach,
	.map = f_map,
	.unmap = f_unmap,
	.flush = f_flush,
	.iova_to_phys = f_iova_to_phys,
};

uint64_t fake_iommu_mapped_bytes(struct iommu_domain *d)
{
	return ((struct fdom *)d->priv)->mapped;
}

uint64_t fake_iommu_nleaves(struct iommu_domain *d)
{
	return ((struct fdom *)d->priv)->leaves.count;
}

uint64_t fake_iommu_flushes(struct iommu_domain *d) { return ((struct fdom *)d->priv)->flushes; }

uint64_t fake_iommu_unflushed(struct iommu_domain *d) { return ((struct fdom *)d->priv)->nstale; }

struct iommu_domain *fake_iommu_rid_domain(struct iommu_unit *u, uint16_t rid)
{
	return ((struct funit *)u)->rid[rid];
}

unsigned fake_iommu_live_domains(void) { return live_domains; }

uint64_t fake_iommu_heap_bytes(struct iommu_domain *d)
{
	struct fdom *fd = d->priv;

	return sizeof(*fd) + fd->leaves.count * sizeof(struct leaf) +
	       fd->capstale * sizeof(struct stale);
}
