/*
 * vm/vmsix.c — the emulated MSI-X table (vm/vmsix.h, docs/mmio.md).
 *
 * Every change of the guest's view (an entry's vector control, the Enable
 * or Function Mask bit) ends in reconcile(), which compares what the guest
 * now asks for with what the hooks were last told, and calls at most one
 * hook per entry.  The table itself is never written to the device here.
 */
#include "vm/vmsix.h"

#include <stddef.h>

/* PCI 3.0 6.8.2: entry layout */
#define ENT_ADDR_LO 0x0
#define ENT_ADDR_HI 0x4
#define ENT_DATA 0x8
#define ENT_VCTRL 0xc

/* Intel SDM 10.11.1/10.11.2: the interrupt message format */
#define MSI_ADDR_WIN_MASK 0xfff00000u
#define MSI_ADDR_WIN 0xfee00000u
#define MSI_ADDR_DM_LOGICAL 0x4u      /* Destination Mode (bit 2) */
#define MSI_ADDR_DEST_SHIFT 12	      /* Destination ID, bits 19:12 */
#define MSI_DATA_DELIVERY_MODE 0x700u /* 10:8, 000 = fixed */

static bool wants(const struct vmsix *x, const struct vmsix_entry *e)
{
	return (x->ctrl & VMSIX_CTRL_ENABLE) && !(x->ctrl & VMSIX_CTRL_MASKALL) &&
	       !(e->vctrl & VMSIX_VCTRL_MASK);
}

/* Brings entry i's hook state in line with the guest's view; changed: its
 * address or data was just rewritten. */
static void reconcile(struct vmsix *x, unsigned i, bool changed)
{
	struct vmsix_entry *e = &x->table[i];
	bool want = wants(x, e);

	if (e->live && !want) {
		e->live = false;
		x->hooks->vector_off(x->ctx, i);
	} else if (!e->live && want) {
		if (x->hooks->vector_on(x->ctx, i) == 0)
			e->live = true;
		else
			x->errors++;
	} else if (e->live && changed && x->hooks->vector_update) {
		x->hooks->vector_update(x->ctx, i);
	}
}

static void reconcile_all(struct vmsix *x)
{
	for (unsigned i = 0; i < x->nentries; i++)
		reconcile(x, i, false);
}

static void entries_reset(struct vmsix *x)
{
	for (unsigned i = 0; i < x->nentries; i++)
		x->table[i] = (struct vmsix_entry){.vctrl = VMSIX_VCTRL_MASK};
}

int vmsix_init(struct vmsix *x, unsigned nentries, struct vmsix_entry *table,
	       const struct vmsix_hooks *hooks, void *ctx)
{
	if (nentries == 0 || nentries > VMSIX_MAX_ENTRIES || !table || !hooks ||
	    !hooks->vector_on || !hooks->vector_off)
		return -EINVAL;
	*x = (struct vmsix){.hooks = hooks, .ctx = ctx, .table = table, .nentries = nentries};
	entries_reset(x);
	return 0;
}

void vmsix_reset(struct vmsix *x)
{
	x->ctrl = 0;
	reconcile_all(x); /* every live entry goes off */
	entries_reset(x);
}

/* PCI 3.0 6.8.2: DWORD or aligned QWORD accesses only. */
static int access_ok(uint64_t off, unsigned size, uint64_t limit)
{
	if ((size != 4 && size != 8) || (off & (size - 1)))
		return -EINVAL;
	if (off >= limit || limit - off < size)
		return -ERANGE;
	return 0;
}

static uint32_t field_read(const struct vmsix_entry *e, unsigned reg)
{
	switch (reg) {
	case ENT_ADDR_LO: return e->addr_lo;
	case ENT_ADDR_HI: return e->addr_hi;
	case ENT_DATA: return e->data;
	default: return e->vctrl;
	}
}

static uint64_t table_size(const struct vmsix *x)
{
	return (uint64_t)x->nentries * VMSIX_ENTRY_SIZE;
}

int vmsix_read(const struct vmsix *x, uint64_t off, unsigned size, uint64_t *val)
{
	int rc = access_ok(off, size, table_size(x));
	const struct vmsix_entry *e;
	unsigned reg;

	if (rc)
		return rc;
	/* from the shadow: Linux reads vector control before writing and
	 * reads back to flush, and must see what it wrote */
	e = &x->table[off / VMSIX_ENTRY_SIZE];
	reg = (unsigned)(off % VMSIX_ENTRY_SIZE);
	*val = field_read(e, reg);
	if (size == 8)
		*val |= (uint64_t)field_read(e, reg + 4) << 32;
	return 0;
}

/* One dword of an entry; true if the message (address or data) changed. */
static bool field_write(struct vmsix_entry *e, unsigned reg, uint32_t v)
{
	uint32_t old;

	switch (reg) {
	case ENT_ADDR_LO:
		/* PCI 3.0 6.8.2.6: bits 1:0 are zero (DWORD aligned) */
		old = e->addr_lo, e->addr_lo = v & ~3u;
		return old != e->addr_lo;
	case ENT_ADDR_HI: old = e->addr_hi, e->addr_hi = v; return old != v;
	case ENT_DATA: old = e->data, e->data = v; return old != v;
	default:
		/* PCI 3.0 6.8.2.9: bits 31:1 reserved, read as 0 */
		e->vctrl = v & VMSIX_VCTRL_MASK;
		return false;
	}
}

int vmsix_write(struct vmsix *x, uint64_t off, unsigned size, uint64_t val)
{
	int rc = access_ok(off, size, table_size(x));
	unsigned i, reg;
	bool changed;

	if (rc)
		return rc;
	i = (unsigned)(off / VMSIX_ENTRY_SIZE);
	reg = (unsigned)(off % VMSIX_ENTRY_SIZE);
	changed = field_write(&x->table[i], reg, (uint32_t)val);
	if (size == 8)
		changed |= field_write(&x->table[i], reg + 4, (uint32_t)(val >> 32));
	reconcile(x, i, changed);
	return 0;
}

uint64_t vmsix_pba_size(const struct vmsix *x)
{
	return ((uint64_t)x->nentries + 63) / 64 * 8; /* PCI 3.0 6.8.2.10: qwords */
}

int vmsix_pba_read(const struct vmsix *x, uint64_t off, unsigned size, uint64_t *val)
{
	int rc = access_ok(off, size, vmsix_pba_size(x));

	if (rc)
		return rc;
	*val = x->hooks->pba_read ? x->hooks->pba_read(x->ctx, off, size) : 0;
	if (size == 4)
		*val &= 0xffffffffu;
	return 0;
}

int vmsix_pba_write(const struct vmsix *x, uint64_t off, unsigned size)
{
	return access_ok(off, size, vmsix_pba_size(x)); /* dropped either way */
}

void vmsix_ctrl_write(struct vmsix *x, uint16_t ctrl)
{
	x->ctrl = ctrl & (VMSIX_CTRL_ENABLE | VMSIX_CTRL_MASKALL);
	reconcile_all(x); /* also retries entries whose vector_on failed */
}

uint16_t vmsix_ctrl_read(const struct vmsix *x) { return x->ctrl; }

bool vmsix_deliverable(const struct vmsix *x, unsigned entry)
{
	return entry < x->nentries && wants(x, &x->table[entry]);
}

int vmsix_target(const struct vmsix *x, unsigned entry, uint8_t *vector, uint32_t *dest)
{
	const struct vmsix_entry *e;
	uint8_t v;

	if (!vmsix_deliverable(x, entry) || !x->table[entry].live)
		return -ENOENT;
	e = &x->table[entry];
	v = (uint8_t)e->data;
	if (e->addr_hi || (e->addr_lo & MSI_ADDR_WIN_MASK) != MSI_ADDR_WIN)
		return -EINVAL;
	/* Physical destination only: a logical one names the guest's LDR,
	 * which this layer does not know.  RH is meaningless in physical mode. */
	if (e->addr_lo & MSI_ADDR_DM_LOGICAL)
		return -EINVAL;
	/* Fixed delivery only; vectors 0-15 are illegal (Intel SDM 10.5.2). */
	if ((e->data & MSI_DATA_DELIVERY_MODE) || v < 16)
		return -EINVAL;
	*vector = v;
	*dest = (e->addr_lo >> MSI_ADDR_DEST_SHIFT) & 0xffu;
	return 0;
}
