/*
 * iommu/iommu.c — the registry of IOMMU units declared at the end of
 * iommu/iommu.h: drivers register their units at bring-up, the dma layer
 * and the console look them up.  Units are kept in registration order.
 * Also the driver-neutral parts of what the console shows: unit records
 * (describe), self-tests, and the fault log the drivers' fault handlers fill.
 */
#include "iommu/iommu.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/irq.h"

#define IOMMU_MAX_UNITS 64

static struct iommu_unit *reg_units[IOMMU_MAX_UNITS];
static unsigned reg_count;
static bool (*scope_fn)(struct iommu_unit *u, uint16_t seg, uint16_t rid);

int iommu_register_unit(struct iommu_unit *u)
{
	if (!u || !u->ops)
		return -EINVAL;
	for (unsigned i = 0; i < reg_count; i++)
		if (reg_units[i] == u)
			return -EEXIST;
	if (reg_count == IOMMU_MAX_UNITS)
		return -ENOSPC;
	reg_units[reg_count++] = u;
	return 0;
}

void iommu_unregister_unit(struct iommu_unit *u)
{
	for (unsigned i = 0; i < reg_count; i++)
		if (reg_units[i] == u) {
			for (unsigned j = i + 1; j < reg_count; j++)
				reg_units[j - 1] = reg_units[j];
			reg_count--;
			return;
		}
}

unsigned iommu_unit_count(void) { return reg_count; }

struct iommu_unit *iommu_unit_at(unsigned index)
{
	return index < reg_count ? reg_units[index] : NULL;
}

struct iommu_unit *iommu_unit_for(uint16_t seg, uint16_t rid)
{
	if (!scope_fn)
		return NULL; /* without DMAR scope information nothing is known translated */
	for (unsigned i = 0; i < reg_count; i++)
		if (reg_units[i]->segment == seg && scope_fn(reg_units[i], seg, rid))
			return reg_units[i];
	return NULL;
}

void iommu_set_scope_fn(bool (*in_scope)(struct iommu_unit *u, uint16_t seg, uint16_t rid))
{
	scope_fn = in_scope;
}

/* ------------------------------------------------------------ describe, self-test */

static void line_add(struct iommu_line *l, const char *key, const char *val)
{
	size_t need = (l->used ? 1 : 0) + strlen(key) + 1 + strlen(val);

	if (l->truncated || l->used + need + 1 > l->len) {
		l->truncated = true;
		return;
	}
	l->used += (size_t)snprintf(l->buf + l->used, l->len - l->used, "%s%s=%s",
				    l->used ? " " : "", key, val);
}

void iommu_line_word(struct iommu_line *l, const char *key, const char *fmt, ...)
{
	char val[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val)) {
		l->truncated = true;
		return;
	}
	line_add(l, key, val);
}

/* "4K,2M,1G": the leaf sizes in sizes, "-" for none. */
static void pgsizes_string(uint64_t sizes, char *buf, size_t len)
{
	static const struct {
		uint64_t size;
		const char *name;
	} names[] = {{PGSIZE_4K, "4K"}, {PGSIZE_2M, "2M"}, {PGSIZE_1G, "1G"}};
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(sizes & names[i].size))
			continue;
		size_t l = strlen(names[i].name);
		if (n + l + 2 > len)
			break;
		if (n)
			buf[n++] = ',';
		memcpy(buf + n, names[i].name, l + 1);
		n += l;
	}
	if (!n && len > 1) {
		buf[0] = '-';
		buf[1] = 0;
	}
}

void iommu_line_field(struct iommu_line *l, enum iommu_field f)
{
	const struct iommu_unit *u = l->unit;
	char sps[16];

	switch (f) {
	case IOMMU_FIELD_INDEX: iommu_line_word(l, "unit", "%u", u->index); break;
	case IOMMU_FIELD_SEGMENT: iommu_line_word(l, "seg", "%u", u->segment); break;
	case IOMMU_FIELD_PGSIZES:
		pgsizes_string(u->pgsizes, sps, sizeof(sps));
		line_add(l, "sps", sps);
		break;
	case IOMMU_FIELD_DOMAINS: iommu_line_word(l, "domains", "%u", u->ndomains); break;
	case IOMMU_FIELD_KIND: iommu_line_word(l, "kind", "%s", u->ops->name); break;
	}
}

static void line_init(struct iommu_line *l, struct iommu_unit *u, char *buf, size_t len)
{
	*l = (struct iommu_line){.unit = u, .buf = buf, .len = len};
	if (len)
		buf[0] = 0;
	else
		l->truncated = true;
}

int iommu_describe(struct iommu_unit *u, char *buf, size_t len)
{
	struct iommu_line l;

	line_init(&l, u, buf, len);
	if (!u->ops->describe)
		return -ENOTSUP;
	u->ops->describe(u, &l);
	return l.truncated ? -ENOSPC : 0;
}

int iommu_selftest(struct iommu_unit *u, char *buf, size_t len)
{
	struct iommu_line l;

	line_init(&l, u, buf, len);
	if (!u->ops->selftest)
		return -ENOTSUP;
	return u->ops->selftest(u, &l);
}

/* ------------------------------------------------------------ fault log */

/* Written by the drivers' fault interrupts: every reader below looks at it
 * with interrupts off so it never sees a record half written or the ring
 * moving under it. */
static struct iommu_fault log_ring[IOMMU_FAULT_LOG_SIZE];
static unsigned log_head, log_count; /* log_head: the oldest */
static uint64_t total, total_at_clear;

void iommu_fault_add(struct iommu_fault *f)
{
	bool was = irq_save_disable();

	if (log_count == IOMMU_FAULT_LOG_SIZE) {
		log_head = (log_head + 1) % IOMMU_FAULT_LOG_SIZE;
		log_count--;
	}
	f->seq = ++total;
	log_ring[(log_head + log_count++) % IOMMU_FAULT_LOG_SIZE] = *f;
	irq_restore(was);
}

void iommu_fault_poll(void)
{
	bool was = irq_save_disable();

	for (unsigned i = 0; i < reg_count; i++)
		if (reg_units[i]->ops->fault_poll)
			reg_units[i]->ops->fault_poll(reg_units[i]);
	irq_restore(was);
}

uint64_t iommu_fault_total(void) { return total; }
uint64_t iommu_fault_total_since_clear(void) { return total - total_at_clear; }

bool iommu_fault_seen_since(uint64_t mark, uint16_t seg, uint16_t rid)
{
	bool was = irq_save_disable(), seen = false;

	for (unsigned i = 0; i < log_count && !seen; i++) {
		const struct iommu_fault *r = &log_ring[(log_head + i) % IOMMU_FAULT_LOG_SIZE];

		seen = r->seq > mark && r->seg == seg && r->rid == rid;
	}
	irq_restore(was);
	return seen;
}

unsigned iommu_fault_snapshot(struct iommu_fault *out, unsigned max)
{
	bool was = irq_save_disable();
	unsigned n = log_count < max ? log_count : max;

	for (unsigned i = 0; i < n; i++)
		out[i] = log_ring[(log_head + i) % IOMMU_FAULT_LOG_SIZE];
	irq_restore(was);
	return n;
}

void iommu_fault_clear(void)
{
	bool was = irq_save_disable();

	log_head = log_count = 0;
	total_at_clear = total;
	irq_restore(was);
}

void iommu_fault_reset(void)
{
	iommu_fault_clear();
	total = total_at_clear = 0;
}
