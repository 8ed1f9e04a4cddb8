// SOURCES: iommu/irq_route.c console/cmd_irq.c lib/parse.c lib/bdf.c
/* tests/unit/test_irq_route.c — the IOMMU core's interrupt routes
 * (iommu/irq_route.c) and the `irq` command over a driver that is not VT-d:
 * a fake unit whose messages carry the entry in the data (as an ITS-like
 * controller would), with failures injected per op.  Proves that the core
 * owns the registry and the vectors and that nothing in it or in the console
 * depends on VT-d (test_ir.c runs the same core over ir.c). */
#include <stdlib.h>
#include <string.h>

#include "console/console.h"
#include "iommu/iommu.h"
#include "test.h"

/* ---- arch stubs: vectors */
static int next_vector, vec_fail;
static unsigned vec_freed, vec_last_freed;
static irq_handler_fn vec_fn;
int irq_alloc_vector(irq_handler_fn fn, void *ctx)
{
	if (vec_fail)
		return vec_fail;
	vec_fn = fn;
	return next_vector++;
}
void irq_free_vector(unsigned v)
{
	vec_freed++;
	vec_last_freed = v;
}
uint64_t irq_count(unsigned v) { return v + 1000; }
uint32_t irq_dest_apic_id(void) { return 5; }

/* ---- a fake interrupt-remapping unit */
#define NENT 8
static struct {
	bool used[NENT], present[NENT];
	struct iommu_irq_entry e[NENT];
	unsigned writes, frees;
	int fail_alloc, fail_write, fail_free; /* next call of that op fails */
} fk;

static int fk_alloc(struct iommu_unit *u, unsigned count, unsigned *index)
{
	if (fk.fail_alloc) {
		int rc = fk.fail_alloc;
		fk.fail_alloc = 0;
		return rc;
	}
	for (unsigned i = 0; i < NENT; i++)
		if (!fk.used[i]) {
			fk.used[i] = true;
			*index = i;
			return 0;
		}
	return -ENOSPC;
}
static int fk_free(struct iommu_unit *u, unsigned index, unsigned count)
{
	fk.frees++;
	fk.present[index] = false;
	if (fk.fail_free) {
		int rc = fk.fail_free;
		fk.fail_free = 0;
		return rc; /* kept allocated, not present */
	}
	fk.used[index] = false;
	memset(&fk.e[index], 0, sizeof(fk.e[index]));
	return 0;
}
static int fk_write(struct iommu_unit *u, unsigned index, const struct iommu_irq_entry *e,
		    bool present)
{
	if (index >= NENT || !fk.used[index])
		return -EINVAL;
	fk.writes++;
	if (fk.fail_write) {
		int rc = fk.fail_write;
		fk.fail_write = 0;
		return rc;
	}
	fk.e[index] = *e;
	fk.present[index] = present;
	return 0;
}
static void fk_msi(const struct iommu_unit *u, unsigned index, unsigned sub,
		   struct iommu_msi_msg *m)
{
	m->addr_lo = 0x08020040u; /* a doorbell */
	m->addr_hi = 0x1;
	m->data = index + sub;
}
static uint64_t fk_rte(const struct iommu_unit *u, unsigned index, const struct iommu_irq_entry *e,
		       bool active_low, bool masked)
{
	return (uint64_t)index << 32 | (uint64_t)e->vector | (active_low ? 0x100u : 0) |
	       (masked ? 0x200u : 0) | (e->level ? 0x400u : 0);
}
static const struct iommu_irq_ops fk_ops = {fk_alloc, fk_free, fk_write, fk_msi, fk_rte};

static struct iommu_unit unit;

static void setup(void)
{
	memset(&fk, 0, sizeof(fk));
	memset(&unit, 0, sizeof(unit));
	unit.index = 2;
	unit.intr_remap = true;
	unit.irq_ops = &fk_ops;
	next_vector = 0x30;
	vec_fail = 0;
	vec_freed = 0;
	test_con_reset();
}

static void teardown(void)
{
	while (iommu_irq_routes())
		iommu_irq_route_free(iommu_irq_routes());
	for (unsigned i = 0; i < NENT; i++)
		CHECK(!fk.used[i]); /* nothing leaked */
}

static void h(unsigned v, void *ctx) {}

TEST(remapping_needs_ops_and_flag)
{
	setup();
	CHECK(iommu_irq_remapping(&unit));
	CHECK(!iommu_irq_remapping(NULL));
	unit.intr_remap = false;
	CHECK(!iommu_irq_remapping(&unit));
	struct iommu_irq_source src = {.kind = IOMMU_IRQ_MSI, .rid = 0x10, .alias = 0x10};
	struct iommu_irq_route *r;
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), -ENODEV);
	unit.intr_remap = true;
	unit.irq_ops = NULL;
	CHECK(!iommu_irq_remapping(&unit));
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), -ENODEV);
	CHECK_EQ(next_vector, 0x30); /* refused before a vector was taken */
	teardown();
}

TEST(alloc_fills_and_writes_the_entry)
{
	struct iommu_irq_route *r;
	struct iommu_msi_msg m;

	setup();
	struct iommu_irq_source src = {.kind = IOMMU_IRQ_MSIX,
				       .seg = 1,
				       .rid = 0x0308,
				       .alias = 0x0200,
				       .takeover = true,
				       .gsi = 7,
				       .owner = &unit};
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, &fk, &r), 0);
	CHECK(vec_fn == h);
	CHECK(r->unit == &unit);
	CHECK_EQ(r->index, 0);
	CHECK_EQ(r->count, 1);
	CHECK_EQ(r->vector, 0x30);
	CHECK(r->present);
	CHECK_EQ(r->kind, IOMMU_IRQ_MSIX);
	CHECK_EQ(r->seg, 1);
	CHECK_EQ(r->bdf, 0x0308);
	CHECK_EQ(r->gsi, 7);
	CHECK(r->owner == &unit);
	CHECK(r->ctx == &fk);
	/* the driver was given the whole entry, present */
	CHECK(fk.present[0]);
	CHECK_EQ(fk.e[0].vector, 0x30);
	CHECK_EQ(fk.e[0].dest, 5);
	CHECK_EQ(fk.e[0].dlm, IOMMU_IRQ_DLM_FIXED);
	CHECK(!fk.e[0].level);
	CHECK_EQ(fk.e[0].src_check, IOMMU_IRQ_SRC_BUS);
	CHECK_EQ(fk.e[0].sid, 0x0203);
	CHECK(!memcmp(&fk.e[0], &r->entry, sizeof(r->entry)));
	/* composed by the driver, not by the core */
	iommu_irq_route_msi(r, &m);
	CHECK_EQ(m.addr_lo, 0x08020040u);
	CHECK_EQ(m.addr_hi, 1);
	CHECK_EQ(m.data, 0);
	CHECK_EQ(iommu_irq_route_ioapic_rte(r, true, true), 0x330ull);
	/* listed only once registered, in registration order */
	CHECK(iommu_irq_routes() == NULL);
	struct iommu_irq_route *r2;
	src.kind = IOMMU_IRQ_IOAPIC;
	src.rid = src.alias = 0xf0f8;
	src.takeover = false;
	src.level = true;
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r2), 0);
	CHECK(fk.e[1].level);
	CHECK_EQ(fk.e[1].src_check, IOMMU_IRQ_SRC_RID);
	CHECK_EQ(fk.e[1].sid, 0xf0f8);
	CHECK_EQ(iommu_irq_route_ioapic_rte(r2, false, false), 1ull << 32 | 0x31 | 0x400);
	iommu_irq_route_register(r);
	iommu_irq_route_register(r2);
	CHECK(iommu_irq_routes() == r && r->next == r2 && r2->next == NULL);
	iommu_irq_route_unregister(r);
	CHECK(iommu_irq_routes() == r2);
	iommu_irq_route_register(r);
	CHECK(r2->next == r);
	teardown();
}

TEST(alloc_failures_unwind)
{
	struct iommu_irq_route *r;
	struct iommu_irq_source src = {.kind = IOMMU_IRQ_MSI, .rid = 0x10, .alias = 0x10};

	setup();
	vec_fail = -ENOSPC;
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), -ENOSPC);
	vec_fail = 0;
	fk.fail_alloc = -ENOSPC; /* no entry: the vector goes back */
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), -ENOSPC);
	CHECK_EQ(vec_freed, 1);
	CHECK(!fk.used[0]);
	/* the write fails, the entry is freed: so is the vector */
	fk.fail_write = -EINVAL;
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), -EINVAL);
	CHECK_EQ(vec_freed, 2);
	CHECK(!fk.used[0]);
	/* the write fails and the entry cannot be invalidated: entry and
	 * vector stay held, so a stale cached entry cannot reach the
	 * vector's next owner */
	fk.fail_write = -ETIMEDOUT;
	fk.fail_free = -ETIMEDOUT;
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), -ETIMEDOUT);
	CHECK_EQ(vec_freed, 2);
	CHECK(fk.used[0]);
	CHECK(!fk.present[0]);
	CHECK(iommu_irq_routes() == NULL);
	CHECK_EQ(fk_free(&unit, 0, 1), 0);
	teardown();
}

TEST(free_keeps_vector_when_entry_is_not_freed)
{
	struct iommu_irq_route *r;
	struct iommu_irq_source src = {.kind = IOMMU_IRQ_MSI, .rid = 0x10, .alias = 0x10};

	setup();
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), 0);
	iommu_irq_route_register(r);
	fk.fail_free = -ETIMEDOUT;
	iommu_irq_route_free(r);
	CHECK(iommu_irq_routes() == NULL);
	CHECK_EQ(vec_freed, 0);
	CHECK(fk.used[0] && !fk.present[0]);
	CHECK_EQ(fk_free(&unit, 0, 1), 0);
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), 0);
	iommu_irq_route_free(r);
	CHECK_EQ(vec_freed, 1);
	CHECK_EQ(vec_last_freed, 0x31);
	teardown();
}

TEST(updates_follow_the_unit)
{
	struct iommu_irq_route *r;
	struct iommu_irq_source src = {.kind = IOMMU_IRQ_MSI, .rid = 0x10, .alias = 0x10};
	unsigned nv;

	setup();
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), 0);
	iommu_irq_route_register(r);
	/* a write the unit refuses changes nothing */
	fk.fail_write = -EIO;
	CHECK_EQ(iommu_irq_route_set_present(r, false), -EIO);
	CHECK(r->present && fk.present[0]);
	fk.fail_write = -EIO;
	CHECK_EQ(iommu_irq_route_set_sid(r, 0x18), -EIO);
	CHECK_EQ(r->entry.sid, 0x10);
	fk.fail_write = -EIO;
	CHECK_EQ(iommu_irq_route_set_target(r, 0x40, 9, true), -EIO);
	CHECK_EQ(r->entry.vector, 0x30);
	/* set_target: entry only, the held vector and presence kept */
	CHECK_EQ(iommu_irq_route_set_present(r, false), 0);
	CHECK_EQ(iommu_irq_route_set_target(r, 0x40, 9, true), 0);
	CHECK_EQ(fk.e[0].vector, 0x40);
	CHECK_EQ(fk.e[0].dest, 9);
	CHECK(fk.e[0].level);
	CHECK(!fk.present[0] && !r->present);
	CHECK_EQ(r->vector, 0x30);
	CHECK_EQ(iommu_irq_route_set_target(r, 0x30, 5, false), 0);
	CHECK_EQ(iommu_irq_route_set_present(r, true), 0);
	/* sid: exact requester id from now on */
	r->entry.src_qual = 2;
	CHECK_EQ(iommu_irq_route_set_sid(r, 0x18), 0);
	CHECK_EQ(fk.e[0].src_check, IOMMU_IRQ_SRC_RID);
	CHECK_EQ(fk.e[0].src_qual, 0);
	CHECK_EQ(fk.e[0].sid, 0x18);
	/* retarget: a write failure gives the new vector back */
	fk.fail_write = -EIO;
	CHECK_EQ(iommu_irq_route_retarget(r, &nv), -EIO);
	CHECK_EQ(vec_freed, 1);
	CHECK_EQ(vec_last_freed, 0x31);
	CHECK_EQ(r->vector, 0x30);
	CHECK_EQ(iommu_irq_route_retarget(r, &nv), 0);
	CHECK_EQ(nv, 0x32);
	CHECK_EQ(r->vector, 0x32);
	CHECK_EQ(fk.e[0].vector, 0x32);
	CHECK_EQ(vec_last_freed, 0x30);
	teardown();
}

static int rt_result;
static unsigned rt_seen;
static int on_rt(struct iommu_irq_route *r, unsigned v)
{
	rt_seen = v;
	return rt_result;
}

TEST(retarget_hook_failure_restores_the_entry)
{
	struct iommu_irq_route *r;
	struct iommu_irq_source src = {
		.kind = IOMMU_IRQ_IOAPIC, .rid = 0xff00, .alias = 0xff00, .on_retarget = on_rt};
	unsigned nv, w;

	setup();
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &r), 0);
	iommu_irq_route_register(r);
	rt_result = -EIO;
	w = fk.writes;
	CHECK_EQ(iommu_irq_route_retarget(r, &nv), -EIO);
	CHECK_EQ(rt_seen, 0x31);
	CHECK_EQ(fk.writes, w + 2); /* new vector, then the old one back */
	CHECK_EQ(fk.e[0].vector, 0x30);
	CHECK_EQ(r->entry.vector, 0x30);
	CHECK_EQ(r->vector, 0x30);
	CHECK_EQ(vec_last_freed, 0x31);
	rt_result = 0;
	CHECK_EQ(iommu_irq_route_retarget(r, &nv), 0);
	CHECK_EQ(rt_seen, 0x32);
	CHECK_EQ(fk.e[0].vector, 0x32);
	teardown();
}

TEST(irq_command_over_any_unit)
{
	struct iommu_irq_route *a, *b;
	struct iommu_irq_source src = {
		.kind = IOMMU_IRQ_MSIX, .rid = 0x0310, .alias = 0x0310, .gsi = 3};

	setup();
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &a), 0);
	iommu_irq_route_register(a);
	src.kind = IOMMU_IRQ_IOAPIC;
	src.rid = src.alias = 0xff00;
	src.gsi = 9;
	CHECK_EQ(iommu_irq_route_alloc(&unit, &src, h, NULL, &b), 0);
	iommu_irq_route_register(b);
	CHECK_EQ(test_cmd("irq"), 0);
	CHECK(!strcmp(test_con_buf,
		      "bdf=03:02.0 irte=0 vector=48 dest=5 count=1048 kind=msix unit=2 present=1 "
		      "svt=1 sid=0x0310 entry=3\n"
		      "bdf=ff:00.0 irte=1 vector=49 dest=5 count=1049 kind=ioapic unit=2 present=1 "
		      "svt=1 sid=0xff00 gsi=9\n"));
	CHECK_EQ(test_cmd("irq mask 2:1"), 0);
	CHECK(!strcmp(test_con_buf, "irte=1 present=0\n"));
	CHECK(!fk.present[1]);
	CHECK_EQ(test_cmd("irq mask 0:1"), -ENOENT); /* no route on unit 0 */
	CHECK_EQ(test_cmd("irq retarget 0"), 0);
	CHECK(!strcmp(test_con_buf, "irte=0 vector=50 old=48\n"));
	CHECK_EQ(test_cmd("irq sid 0 03:02.1"), 0);
	CHECK(!strcmp(test_con_buf, "irte=0 svt=1 sid=0x0311\n"));
	CHECK_EQ(fk.e[0].sid, 0x0311);
	teardown();
	CHECK_EQ(test_cmd("irq"), 0);
	CHECK_EQ(test_con_len, 0);
}
