// SOURCES: dma/space.c dma/walk.c dma/map.c dma/hint.c dma/attach.c dma/prereg.c dma/acct.c lib/itree.c kernel/frame.c tests/unit/fake_iommu.c
/*
 * tests/unit/test_dma_model.c — random operations (map, unmap, unmap all,
 * attach, detach, register, unregister, hint, unhint, rebind, free) against a
 * simple reference model.  After every step the space records, every
 * attached domain's page table (walked through the fake driver), every
 * frame's pin count and every owner's charge must agree with the model.
 * Some steps run with an injected allocation or driver failure: a failed
 * step must leave everything as the model says it was.
 *
 * DMA_MODEL_OPS sets the number of steps (default 1000000, the issue's
 * million, about 25 s under ASan), DMA_MODEL_SEED the seed (printed on
 * failure).
 */
#include <stdio.h>

#include "tests/unit/dma_testlib.h"
#include "rng.h"

#define K4 0x1000ull
#define NPOOL 64 /* contiguous user frames for hpa sources */
#define NSING 8	 /* single user frames that the free step frees */
#define NIOVA 64 /* IOVA pages per space */
#define IOVA0 0x100000ull
#define MAXN 8 /* pages per mapping */
#define NSP 3
#define NMAP 16
#define NREG 4
#define NGRP 4

struct mmap_ {
	bool used, alloc;
	unsigned iova, n, prot;
	int reg;
	uint64_t pa[MAXN];
	bool hinted[MAXN];
};
struct mreg {
	bool used;
	unsigned first, n; /* pool pages */
};
struct msp {
	struct dma_space *s;
	int owner;
	struct mmap_ maps[NMAP];
	struct mreg regs[NREG];
};

static struct msp sp[NSP];
static uint64_t pool, single[NSING];
static uint64_t owner_limit[2] = {40 * K4, 20 * K4};
static struct iommu_unit *units[2];
static struct dma_group grp[NGRP];
static int grp_space[NGRP]; /* -1 = none */
static unsigned long step;
static const unsigned map_limit = 12;

static unsigned rn(unsigned n) { return (unsigned)(rnd() % n); }

/* ---------------------------------------------------------- model math */

/* Frames held by owner o: every live non-registered mapped page and every
 * registered page of its spaces; each frame once. */
static unsigned owner_frames(int o, uint64_t *out)
{
	unsigned n = 0;

	for (int i = 0; i < NSP; i++) {
		if (sp[i].owner != o)
			continue;
		for (int j = 0; j < NMAP; j++) {
			struct mmap_ *m = &sp[i].maps[j];
			if (!m->used || m->reg >= 0)
				continue;
			for (unsigned p = 0; p < m->n; p++)
				if (!m->hinted[p])
					out[n++] = m->pa[p];
		}
		for (int r = 0; r < NREG; r++)
			if (sp[i].regs[r].used)
				for (unsigned p = 0; p < sp[i].regs[r].n; p++)
					out[n++] = pool + (sp[i].regs[r].first + p) * K4;
	}
	/* unique */
	unsigned u = 0;
	for (unsigned a = 0; a < n; a++) {
		bool dup = false;
		for (unsigned b = 0; b < u; b++)
			if (out[b] == out[a])
				dup = true;
		if (!dup)
			out[u++] = out[a];
	}
	return u;
}

static bool owner_has(int o, uint64_t pa)
{
	static uint64_t buf[NSP * (NMAP * MAXN + NREG * NPOOL)];
	unsigned n = owner_frames(o, buf);
	for (unsigned i = 0; i < n; i++)
		if (buf[i] == pa)
			return true;
	return false;
}

static unsigned model_pins(uint64_t pa)
{
	unsigned c = 0;

	for (int i = 0; i < NSP; i++) {
		for (int j = 0; j < NMAP; j++) {
			struct mmap_ *m = &sp[i].maps[j];
			if (!m->used || m->reg >= 0)
				continue;
			for (unsigned p = 0; p < m->n; p++)
				if (!m->hinted[p] && m->pa[p] == pa)
					c++;
		}
		for (int r = 0; r < NREG; r++)
			if (sp[i].regs[r].used && pa >= pool + sp[i].regs[r].first * K4 &&
			    pa < pool + (sp[i].regs[r].first + sp[i].regs[r].n) * K4)
				c++;
	}
	return c;
}

static bool referenced(uint64_t pa)
{
	for (int i = 0; i < NSP; i++)
		for (int j = 0; j < NMAP; j++)
			if (sp[i].maps[j].used)
				for (unsigned p = 0; p < sp[i].maps[j].n; p++)
					if (sp[i].maps[j].pa[p] == pa)
						return true;
	return false;
}

static struct mmap_ *map_at(struct msp *x, unsigned page)
{
	for (int j = 0; j < NMAP; j++)
		if (x->maps[j].used && page >= x->maps[j].iova &&
		    page < x->maps[j].iova + x->maps[j].n)
			return &x->maps[j];
	return NULL;
}

static unsigned nmaps(struct msp *x)
{
	unsigned c = 0;
	for (int j = 0; j < NMAP; j++)
		c += x->maps[j].used;
	return c;
}

/* ---------------------------------------------------------- checking */

static int failed_step;

struct seen {
	struct msp *x;
	unsigned count;
	int bad;
};

static int check_map(const struct dma_map_info *mi, void *arg)
{
	struct seen *se = arg;
	unsigned page = (unsigned)((mi->iova - IOVA0) / K4);
	struct mmap_ *m = map_at(se->x, page);
	unsigned hinted = 0;

	se->count++;
	if (!m || m->iova != page || m->n * K4 != mi->size || m->prot != mi->prot ||
	    (m->reg >= 0) != mi->registered) {
		se->bad++;
		return 0;
	}
	for (unsigned p = 0; p < m->n; p++)
		hinted += m->hinted[p];
	if (hinted * K4 != mi->hinted)
		se->bad++;
	return 0;
}

static void check_all(void)
{
	int bad = 0;

	for (int i = 0; i < NSP; i++) {
		struct msp *x = &sp[i];
		struct seen se = {x, 0, 0};
		uint64_t live = 0;

		(void)dma_for_each_map(x->s, check_map, &se);
		bad += se.bad + (se.count != nmaps(x));
		for (int j = 0; j < NMAP; j++) {
			struct mmap_ *m = &x->maps[j];
			if (!m->used)
				continue;
			for (unsigned p = 0; p < m->n; p++) {
				uint64_t pa;
				bool h;
				if (dma_lookup(x->s, IOVA0 + (m->iova + p) * K4, &pa, &h) ||
				    pa != m->pa[p] || h != m->hinted[p])
					bad++;
				live += !m->hinted[p];
			}
		}
		/* Every domain of the space, through its groups. */
		for (int g = 0; g < NGRP; g++) {
			if (grp_space[g] != i)
				continue;
			struct iommu_domain *d = fake_iommu_rid_domain(grp[g].unit, grp[g].rids[0]);
			if (!d || grp[g].space != x->s) {
				bad++;
				continue;
			}
			if (fake_iommu_mapped_bytes(d) != live * K4 || fake_iommu_unflushed(d))
				bad++;
			for (int j = 0; j < NMAP; j++) {
				struct mmap_ *m = &x->maps[j];
				if (!m->used)
					continue;
				for (unsigned p = 0; p < m->n; p++) {
					uint64_t pa;
					unsigned lv, pr;
					int e = d->unit->ops->iova_to_phys(
						d, IOVA0 + (m->iova + p) * K4, &pa, &lv, &pr);
					if (m->hinted[p] ? e != -ENOENT
							 : (e || pa != m->pa[p] || pr != m->prot))
						bad++;
				}
			}
		}
	}
	/* Pins of every frame the model knows. */
	for (unsigned p = 0; p < NPOOL; p++)
		if (frame_get(pool + p * K4)->pins != model_pins(pool + p * K4))
			bad++;
	for (unsigned p = 0; p < NSING; p++)
		if (frame_get(single[p])->pins != model_pins(single[p]))
			bad++;
	for (int i = 0; i < NSP; i++)
		for (int j = 0; j < NMAP; j++)
			if (sp[i].maps[j].used && sp[i].maps[j].alloc)
				for (unsigned p = 0; p < sp[i].maps[j].n; p++) {
					struct frame *f = frame_get(sp[i].maps[j].pa[p]);
					if (!f || f->tag != FRAME_DMA ||
					    f->pins != model_pins(sp[i].maps[j].pa[p]))
						bad++;
				}
	/* Charges. */
	static uint64_t buf[NSP * (NMAP * MAXN + NREG * NPOOL)];
	for (int o = 0; o < 2; o++) {
		struct dma_owner_stat os;
		for (int i = 0; i < NSP; i++)
			if (sp[i].owner == o) {
				dma_owner_stat(sp[i].s, &os);
				if (os.pinned != owner_frames(o, buf) * K4)
					bad++;
				break;
			}
	}
	if (fake_iommu_stats.violations)
		bad++;
	if (bad && !failed_step) {
		failed_step = 1;
		fprintf(stderr, "  model mismatch at step %lu (%d differences)\n", step, bad);
	}
	CHECK_EQ(bad, 0);
}

/* ---------------------------------------------------------- operations */

static int expect_charge(int o, uint64_t *pas, unsigned n)
{
	static uint64_t buf[NSP * (NMAP * MAXN + NREG * NPOOL)];
	unsigned have = owner_frames(o, buf), add = 0;

	for (unsigned i = 0; i < n; i++) {
		bool dup = false;
		for (unsigned k = 0; k < i; k++)
			if (pas[k] == pas[i])
				dup = true;
		if (!dup && !owner_has(o, pas[i]))
			add++;
	}
	return (have + add) * K4 > owner_limit[o] ? -ENOMEM : 0;
}

static int reg_containing(struct msp *x, unsigned first, unsigned n)
{
	for (int r = 0; r < NREG; r++)
		if (x->regs[r].used && first >= x->regs[r].first &&
		    first + n <= x->regs[r].first + x->regs[r].n)
			return r;
	return -1;
}

/* Each op returns the result and whether it matched the model; on success
 * it applies itself to the model. */
static bool injected;

static void op_map(struct msp *x)
{
	unsigned iova = rn(NIOVA), n = 1 + rn(MAXN), prot = 1 + rn(3);
	bool alloc = rn(5) == 0, sing = !alloc && rn(4) == 0;
	unsigned first = rn(NPOOL - n + 1), si = rn(NSING);
	int expect = 0, e;
	uint64_t pas[MAXN], hpa;

	if (iova + n > NIOVA)
		n = NIOVA - iova;
	if (sing)
		n = 1;
	for (unsigned p = 0; p < n; p++)
		pas[p] = sing ? single[si] : pool + (first + p) * K4;
	for (unsigned p = 0; p < n && !expect; p++)
		if (map_at(x, iova + p))
			expect = -EEXIST;
	if (!expect && nmaps(x) >= map_limit)
		expect = -ENOSPC;
	int reg = (!alloc && !sing) ? reg_containing(x, first, n) : -1;
	if (!expect && reg < 0)
		expect = alloc ? ((owner_frames(x->owner,
						(uint64_t[NSP * (NMAP * MAXN + NREG * NPOOL)]){0}) +
				   n) * K4 > owner_limit[x->owner]
					  ? -ENOMEM
					  : 0)
			       : expect_charge(x->owner, pas, n);
	e = dma_map(x->s, IOVA0 + iova * K4, n * K4, alloc ? DMA_SRC_ALLOC : DMA_SRC_HPA, pas[0],
		    prot, &hpa);
	if (e && injected && !expect)
		return;
	CHECK_EQ(e, expect);
	if (e)
		return;
	for (int j = 0; j < NMAP; j++)
		if (!x->maps[j].used) {
			struct mmap_ *m = &x->maps[j];
			memset(m, 0, sizeof(*m));
			m->used = true;
			m->alloc = alloc;
			m->iova = iova;
			m->n = n;
			m->prot = prot;
			m->reg = reg;
			for (unsigned p = 0; p < n; p++) {
				if (alloc) {
					if (dma_lookup(x->s, IOVA0 + (iova + p) * K4, &m->pa[p],
						       NULL))
						CHECK(!"lookup");
				} else {
					m->pa[p] = pas[p];
				}
			}
			return;
		}
	CHECK(!"model full");
}

static void model_drop(struct mmap_ *m) { m->used = false; }

static void op_unmap(struct msp *x)
{
	unsigned a = rn(NIOVA), n = 1 + rn(16);
	int expect = 0, e;
	uint64_t un = 0, exp_un = 0;

	if (a + n > NIOVA)
		n = NIOVA - a;
	for (int j = 0; j < NMAP; j++) {
		struct mmap_ *m = &x->maps[j];
		if (!m->used || m->iova + m->n <= a || m->iova >= a + n)
			continue;
		if (m->iova < a || m->iova + m->n > a + n)
			expect = -EINVAL;
		exp_un += m->n * K4;
	}
	e = dma_unmap(x->s, IOVA0 + a * K4, n * K4, &un);
	if (e && injected && !expect)
		return;
	CHECK_EQ(e, expect);
	if (e)
		return;
	CHECK_EQ(un, exp_un);
	for (int j = 0; j < NMAP; j++) {
		struct mmap_ *m = &x->maps[j];
		if (m->used && m->iova >= a && m->iova + m->n <= a + n)
			model_drop(m);
	}
}

static void op_unmap_all(struct msp *x)
{
	uint64_t un = 0, exp_un = 0;
	int e;

	for (int j = 0; j < NMAP; j++)
		if (x->maps[j].used)
			exp_un += x->maps[j].n * K4;
	e = dma_unmap_all(x->s, &un);
	if (e && injected)
		return;
	CHECK_EQ(e, 0);
	CHECK_EQ(un, exp_un);
	for (int j = 0; j < NMAP; j++)
		x->maps[j].used = false;
}

static void op_attach(int si)
{
	int g = rn(NGRP), e;
	int expect = grp_space[g] >= 0 ? -EBUSY : 0;

	e = dma_attach(sp[si].s, &grp[g]);
	if (e && injected && !expect)
		return;
	CHECK_EQ(e, expect);
	if (!e)
		grp_space[g] = si;
}

static void op_detach(int si)
{
	int g = rn(NGRP), e;
	int expect = grp_space[g] == si ? 0 : -ENOENT;

	e = dma_detach(sp[si].s, &grp[g]);
	if (e && injected && !expect)
		return;
	CHECK_EQ(e, expect);
	if (!e)
		grp_space[g] = -1;
}

static void op_register(struct msp *x)
{
	unsigned first = rn(NPOOL), n = 1 + rn(16);
	int expect = 0, e, slot = -1;

	if (first + n > NPOOL)
		n = NPOOL - first;
	for (int r = 0; r < NREG; r++) {
		struct mreg *g = &x->regs[r];
		if (!g->used) {
			if (slot < 0)
				slot = r;
			continue;
		}
		if (g->first == first && g->n == n)
			expect = -EBUSY;
		else if (!expect && g->first < first + n && first < g->first + g->n)
			expect = -EINVAL;
	}
	if (slot < 0)
		return; /* model full */
	if (!expect) {
		uint64_t pas[NPOOL];
		for (unsigned p = 0; p < n; p++)
			pas[p] = pool + (first + p) * K4;
		expect = expect_charge(x->owner, pas, n);
	}
	e = dma_pin_register(x->s, pool + first * K4, n * K4);
	if (e && injected && !expect)
		return;
	CHECK_EQ(e, expect);
	if (!e) {
		x->regs[slot].used = true;
		x->regs[slot].first = first;
		x->regs[slot].n = n;
	}
}

static void op_unregister(struct msp *x)
{
	int r = rn(NREG), e, expect;
	unsigned first, n;

	if (x->regs[r].used && rn(4)) {
		first = x->regs[r].first;
		n = x->regs[r].n;
		expect = 0;
		for (int j = 0; j < NMAP; j++)
			if (x->maps[j].used && x->maps[j].reg == r)
				expect = -EBUSY;
	} else {
		first = rn(NPOOL);
		n = 1;
		expect = -ENOENT;
		for (int k = 0; k < NREG; k++)
			if (x->regs[k].used && x->regs[k].first == first && x->regs[k].n == 1) {
				r = k;
				expect = 0;
				for (int j = 0; j < NMAP; j++)
					if (x->maps[j].used && x->maps[j].reg == k)
						expect = -EBUSY;
			}
	}
	e = dma_pin_unregister(x->s, pool + first * K4, n * K4);
	if (e && injected && !expect)
		return;
	CHECK_EQ(e, expect);
	if (!e)
		x->regs[r].used = false;
}

static void op_hint(struct msp *x, bool add)
{
	unsigned a = rn(NIOVA), n = 1 + rn(12);
	int expect = 0, e;
	uint64_t pas[NIOVA];
	unsigned np = 0;

	if (a + n > NIOVA)
		n = NIOVA - a;
	for (unsigned p = a; p < a + n; p++) {
		struct mmap_ *m = map_at(x, p);
		if (!m) {
			expect = -EINVAL;
			break;
		}
		if (!add && m->hinted[p - m->iova] && m->reg < 0) {
			pas[np++] = m->pa[p - m->iova];
			struct frame *f = frame_get(m->pa[p - m->iova]);
			if (!f || f->tag == FRAME_FREE)
				expect = -EPERM;
		}
	}
	if (!expect && !add)
		expect = expect_charge(x->owner, pas, np);
	e = add ? dma_hint(x->s, IOVA0 + a * K4, n * K4) : dma_unhint(x->s, IOVA0 + a * K4, n * K4);
	if (e && injected && !expect)
		return;
	CHECK_EQ(e, expect);
	if (e)
		return;
	for (unsigned p = a; p < a + n; p++) {
		struct mmap_ *m = map_at(x, p);
		m->hinted[p - m->iova] = add;
	}
}

/* A hinted range of an hpa mapping moved to other user memory (pool pages
 * or one single frame): only the records change, so the model's frames of
 * those pages do; unhint, unmap and the pin checks then follow them. */
static void op_rebind(struct msp *x)
{
	unsigned a = rn(NIOVA), n = 1 + rn(3), first = rn(NPOOL - 3);
	bool sing = rn(4) == 0;
	struct mmap_ *m = map_at(x, a);
	uint64_t to = sing ? single[rn(NSING)] : pool + first * K4;
	int expect = 0, e;

	if (sing)
		n = 1;
	if (a + n > NIOVA)
		n = NIOVA - a;
	if (!m || a + n > m->iova + m->n || m->alloc || m->reg >= 0)
		expect = -EINVAL;
	for (unsigned p = a; p < a + n && !expect; p++)
		if (!m->hinted[p - m->iova])
			expect = -EINVAL;
	e = dma_hint_rebind(x->s, IOVA0 + a * K4, n * K4, to);
	if (e && injected && !expect)
		return;
	CHECK_EQ(e, expect);
	if (e)
		return;
	for (unsigned p = a; p < a + n; p++)
		m->pa[p - m->iova] = to + (p - a) * K4;
}

static void op_free(void)
{
	unsigned i = rn(NSING);
	unsigned pins = model_pins(single[i]);
	int e;

	if (referenced(single[i]) && !pins)
		return; /* hinted away: freeing it is the user's own mistake */
	e = frame_free(single[i], 0);
	CHECK_EQ(e, pins ? -EBUSY : 0);
	if (!e)
		single[i] = tl_user(0);
}

TEST(model_random_ops)
{
	const char *ops_env = getenv("DMA_MODEL_OPS"), *seed_env = getenv("DMA_MODEL_SEED");
	unsigned long nops = ops_env ? strtoul(ops_env, NULL, 0) : 1000000;
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 0x5eed5eed1234ull;
	struct tl_mem m0;

	tl_setup();
	fake_iommu_reset();
	m0 = tl_mem();
	rng_seed(seed | 1);
	pool = tl_user(6);
	for (int i = 0; i < NSING; i++)
		single[i] = tl_user(0);
	if (dma_space_create(NULL, &sp[0].s) || dma_space_create(sp[0].s, &sp[1].s) ||
	    dma_space_create(NULL, &sp[2].s))
		abort();
	sp[0].owner = sp[1].owner = 0;
	sp[2].owner = 1;
	for (int i = 0; i < NSP; i++) {
		for (int j = 0; j < NMAP; j++)
			sp[i].maps[j].used = false;
		if (dma_space_set_map_limit(sp[i].s, map_limit))
			abort();
	}
	if (dma_owner_set_limit(sp[0].s, owner_limit[0]) ||
	    dma_owner_set_limit(sp[2].s, owner_limit[1]))
		abort();
	units[0] = tl_unit(PGSIZE_4K | PGSIZE_2M);
	units[1] = tl_unit(PGSIZE_4K);
	for (int g = 0; g < NGRP; g++) {
		tl_group(&grp[g], units[g % 2], (uint16_t)(0x10 + g));
		grp_space[g] = -1;
	}

	for (step = 0; step < nops && !failed_step; step++) {
		int si = rn(NSP);
		struct msp *x = &sp[si];
		unsigned op = rn(100);

		injected = false;
		if (rn(20) == 0) {
			injected = true;
			if (rn(2))
				dma_test_fail_nth(1 + rn(4));
			else
				fake_iommu_fail_any(1 + rn(6));
		}
		if (op < 30)
			op_map(x);
		else if (op < 50)
			op_unmap(x);
		else if (op < 52)
			op_unmap_all(x);
		else if (op < 58)
			op_attach(si);
		else if (op < 63)
			op_detach(si);
		else if (op < 68)
			op_register(x);
		else if (op < 73)
			op_unregister(x);
		else if (op < 83)
			op_hint(x, true);
		else if (op < 93)
			op_hint(x, false);
		else if (op < 97)
			op_rebind(x);
		else
			op_free();
		dma_test_fail_nth(0);
		fake_iommu_fail_any(0);
		check_all();
	}
	if (failed_step)
		fprintf(stderr, "  DMA_MODEL_SEED=%#llx DMA_MODEL_OPS=%lu reproduces it\n",
			(unsigned long long)seed, step);
	else
		printf("model: %lu steps, seed %#llx\n", step, (unsigned long long)seed);

	for (int g = 0; g < NGRP; g++)
		if (grp_space[g] >= 0)
			CHECK_EQ(dma_detach(sp[grp_space[g]].s, &grp[g]), 0);
	for (int i = NSP - 1; i >= 0; i--)
		CHECK_EQ(dma_space_destroy(sp[i].s), 0);
	for (int i = 0; i < NSING; i++)
		CHECK_EQ(frame_free(single[i], 0), 0);
	CHECK_EQ(frame_free(pool, 6), 0);
	CHECK_EQ(tl_mem().free, m0.free);
	CHECK_EQ(tl_mem().pinned, 0);
	CHECK_EQ(fake_iommu_live_domains(), 0);
	struct dma_stats st;
	dma_stats(&st);
	CHECK_EQ(st.quarantined, 0);
	CHECK_EQ(st.side_entries, 0);
	fake_iommu_unit_free(units[0]);
	fake_iommu_unit_free(units[1]);
}
