// SOURCES: vm/vmsix.c
/* tests/unit/test_vmsix.c — vm/vmsix.c: Linux 6.1's MSI-X programming
 * sequence (drivers/pci/msi/msi.c msix_capability_init, request_irq's
 * unmask, an affinity change, shutdown) replayed step by step with the
 * hooks logged, so each step shows exactly which hook fired; then mask,
 * Function Mask, Enable, message rewrites while deliverable, qword
 * accesses, the PBA, hook failures, the message decode and refusals. */
#include <string.h>

#include "test.h"
#include "vm/vmsix.h"

#define N 5 /* e1000e on QEMU 7.2: 5 entries */
#define A_LO 0x0
#define A_HI 0x4
#define DATA 0x8
#define VCTRL 0xc
#define ENT(i) ((uint64_t)(i)*VMSIX_ENTRY_SIZE)

struct rec {
	char log[1024];
	int fail_on; /* vector_on returns -ENOSPC while > 0 (decremented) */
	unsigned pba_calls;
	uint64_t pba_off;
	unsigned pba_size;
};

static void logf_(struct rec *r, const char *what, unsigned entry)
{
	size_t n = strlen(r->log);

	snprintf(r->log + n, sizeof(r->log) - n, "%s%s%u", n ? " " : "", what, entry);
}

static int h_on(void *ctx, unsigned entry)
{
	struct rec *r = ctx;

	if (r->fail_on > 0) {
		r->fail_on--;
		logf_(r, "fail", entry);
		return -ENOSPC;
	}
	logf_(r, "on", entry);
	return 0;
}

static void h_off(void *ctx, unsigned entry) { logf_(ctx, "off", entry); }
static void h_update(void *ctx, unsigned entry) { logf_(ctx, "upd", entry); }

static uint64_t h_pba(void *ctx, uint64_t off, unsigned size)
{
	struct rec *r = ctx;

	r->pba_calls++;
	r->pba_off = off;
	r->pba_size = size;
	return 0x8877665544332211ull;
}

static const struct vmsix_hooks hooks = {
	.vector_on = h_on,
	.vector_off = h_off,
	.vector_update = h_update,
	.pba_read = h_pba,
};
static const struct vmsix_hooks hooks_min = {.vector_on = h_on, .vector_off = h_off};

static struct vmsix x;
static struct vmsix_entry table[VMSIX_MAX_ENTRIES];
static struct rec rec;

static void setup_n(unsigned n, const struct vmsix_hooks *h)
{
	memset(&rec, 0, sizeof(rec));
	memset(table, 0xa5, sizeof(table));
	CHECK_EQ(vmsix_init(&x, n, table, h, &rec), 0);
}

static void setup(void) { setup_n(N, &hooks); }

/* the hook log since the last call, then cleared */
static int log_is(const char *want)
{
	int same = strcmp(rec.log, want) == 0;

	if (!same)
		printf("  hooks: \"%s\", expected \"%s\"\n", rec.log, want);
	rec.log[0] = 0;
	return same;
}

static uint32_t rd32(uint64_t off)
{
	uint64_t v = 0xdead;

	CHECK_EQ(vmsix_read(&x, off, 4, &v), 0);
	CHECK(v <= 0xffffffffu);
	return (uint32_t)v;
}

static void wr32(uint64_t off, uint32_t v) { CHECK_EQ(vmsix_write(&x, off, 4, v), 0); }

/* __pci_write_msi_msg for an MSI-X entry (6.1): mask around the write if
 * the entry was unmasked, then a flush read of the data. */
static void linux_write_msg(unsigned i, uint32_t lo, uint32_t hi, uint32_t data, bool unmasked)
{
	if (unmasked)
		wr32(ENT(i) + VCTRL, 1);
	wr32(ENT(i) + A_LO, lo);
	wr32(ENT(i) + A_HI, hi);
	wr32(ENT(i) + DATA, data);
	if (unmasked)
		wr32(ENT(i) + VCTRL, 0);
	(void)rd32(ENT(i) + DATA);
}

/* pci_msix_unmask / pci_msix_mask: vector control, then a flush read of
 * the table's first dword. */
static void linux_vctrl(unsigned i, uint32_t v)
{
	wr32(ENT(i) + VCTRL, v);
	(void)rd32(0);
}

static void linux_enable_three(void)
{
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE | VMSIX_CTRL_MASKALL);
	for (unsigned i = 0; i < 3; i++)
		linux_write_msg(i, 0xfee00000u | (i << 12), 0, 0x21 + i, false);
	for (unsigned i = 0; i < N; i++)
		wr32(ENT(i) + VCTRL, 1);
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	for (unsigned i = 0; i < 3; i++)
		linux_vctrl(i, 0);
	rec.log[0] = 0;
}

TEST(linux_61_sequence_step_by_step)
{
	uint8_t vec;
	uint32_t dest;

	setup();
	/* msix_capability_init: ENABLE | MASKALL first */
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE | VMSIX_CTRL_MASKALL);
	CHECK(log_is(""));
	CHECK_EQ(vmsix_ctrl_read(&x), VMSIX_CTRL_ENABLE | VMSIX_CTRL_MASKALL);
	/* msix_setup_msi_descs: each entry's vector control, masked at reset */
	for (unsigned i = 0; i < N; i++)
		CHECK_EQ(rd32(ENT(i) + VCTRL), 1);
	/* msix_setup_interrupts: three messages written while masked */
	for (unsigned i = 0; i < 3; i++) {
		linux_write_msg(i, 0xfee00000u | (i << 12), 0, 0x21 + i, false);
		CHECK_EQ(rd32(ENT(i) + A_LO), 0xfee00000u | (i << 12));
		CHECK_EQ(rd32(ENT(i) + A_HI), 0);
		CHECK_EQ(rd32(ENT(i) + DATA), 0x21 + i);
	}
	CHECK(log_is(""));
	/* msix_mask_all: every entry of the table */
	for (unsigned i = 0; i < N; i++)
		wr32(ENT(i) + VCTRL, 1);
	CHECK(log_is(""));
	/* MASKALL cleared: still nothing deliverable, every entry masked */
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	CHECK(log_is(""));
	CHECK(!vmsix_deliverable(&x, 0));
	CHECK_EQ(vmsix_target(&x, 0, &vec, &dest), -ENOENT);
	/* request_irq: one unmask per vector, each exactly one vector_on */
	linux_vctrl(0, 0);
	CHECK(log_is("on0"));
	CHECK_EQ(vmsix_target(&x, 0, &vec, &dest), 0);
	CHECK_EQ(vec, 0x21);
	CHECK_EQ(dest, 0);
	linux_vctrl(1, 0);
	linux_vctrl(2, 0);
	CHECK(log_is("on1 on2"));
	CHECK_EQ(vmsix_target(&x, 2, &vec, &dest), 0);
	CHECK_EQ(vec, 0x23);
	CHECK_EQ(dest, 2);
	CHECK_EQ(vmsix_target(&x, 3, &vec, &dest), -ENOENT);
	/* affinity change of vector 1 (msi_set_affinity): masked around */
	linux_write_msg(1, 0xfee05000u, 0, 0x41, true);
	CHECK(log_is("off1 on1"));
	CHECK_EQ(vmsix_target(&x, 1, &vec, &dest), 0);
	CHECK_EQ(vec, 0x41);
	CHECK_EQ(dest, 5);
	/* free_irq masks; pci_msix_shutdown masks all and clears ENABLE */
	linux_vctrl(2, 1);
	CHECK(log_is("off2"));
	for (unsigned i = 0; i < N; i++)
		linux_vctrl(i, 1);
	CHECK(log_is("off0 off1"));
	vmsix_ctrl_write(&x, 0);
	CHECK(log_is(""));
	CHECK_EQ(x.errors, 0);
}

TEST(mask_and_unmask_fire_once_per_transition)
{
	setup();
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	wr32(ENT(4) + VCTRL, 0);
	CHECK(log_is("on4"));
	wr32(ENT(4) + VCTRL, 0); /* already unmasked */
	CHECK(log_is(""));
	wr32(ENT(4) + VCTRL, 1);
	CHECK(log_is("off4"));
	wr32(ENT(4) + VCTRL, 1);
	CHECK(log_is(""));
	/* reserved bits of vector control are dropped and read 0 */
	wr32(ENT(4) + VCTRL, 0xfffffffe);
	CHECK(log_is("on4"));
	CHECK_EQ(rd32(ENT(4) + VCTRL), 0);
	wr32(ENT(4) + VCTRL, 0xffffffff);
	CHECK(log_is("off4"));
	CHECK_EQ(rd32(ENT(4) + VCTRL), 1);
}

TEST(function_mask_turns_every_live_entry_off_and_back)
{
	setup();
	linux_enable_three();
	CHECK(vmsix_deliverable(&x, 0) && vmsix_deliverable(&x, 2));
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE | VMSIX_CTRL_MASKALL);
	CHECK(log_is("off0 off1 off2"));
	CHECK(!vmsix_deliverable(&x, 0));
	/* entry changes under MASKALL are only recorded */
	wr32(ENT(3) + VCTRL, 0);
	wr32(ENT(1) + VCTRL, 1);
	CHECK(log_is(""));
	CHECK_EQ(rd32(ENT(3) + VCTRL), 0); /* the guest's own bit reads back */
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	CHECK(log_is("on0 on2 on3"));
	/* writing the same control word again fires nothing */
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	CHECK(log_is(""));
}

TEST(enable_off_turns_every_live_entry_off_and_keeps_the_shadow)
{
	uint8_t vec;
	uint32_t dest;

	setup();
	linux_enable_three();
	vmsix_ctrl_write(&x, VMSIX_CTRL_MASKALL); /* other bits of the word ignored */
	CHECK(log_is("off0 off1 off2"));
	vmsix_ctrl_write(&x, 0x07ff);
	CHECK(log_is(""));
	CHECK_EQ(vmsix_ctrl_read(&x), 0);
	CHECK_EQ(vmsix_target(&x, 1, &vec, &dest), -ENOENT);
	CHECK_EQ(rd32(ENT(1) + DATA), 0x22);
	CHECK_EQ(rd32(ENT(1) + VCTRL), 0);
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE | 0x07ff);
	CHECK(log_is("on0 on1 on2"));
	CHECK_EQ(vmsix_ctrl_read(&x), VMSIX_CTRL_ENABLE);
}

TEST(message_rewrite_while_deliverable_only_updates_the_shadow)
{
	uint8_t vec;
	uint32_t dest;

	setup();
	linux_enable_three();
	/* an OS that rewrites without masking: no off/on, one update each */
	wr32(ENT(0) + DATA, 0x55);
	CHECK(log_is("upd0"));
	CHECK_EQ(vmsix_target(&x, 0, &vec, &dest), 0);
	CHECK_EQ(vec, 0x55);
	wr32(ENT(0) + A_LO, 0xfee07000u);
	CHECK(log_is("upd0"));
	CHECK_EQ(vmsix_target(&x, 0, &vec, &dest), 0);
	CHECK_EQ(dest, 7);
	/* the same value again is no change */
	wr32(ENT(0) + A_LO, 0xfee07000u);
	wr32(ENT(0) + A_HI, 0);
	CHECK(log_is(""));
	/* address bits 1:0 are zero (dword aligned) */
	wr32(ENT(0) + A_LO, 0xfee07003u);
	CHECK_EQ(rd32(ENT(0) + A_LO), 0xfee07000u);
	CHECK(log_is(""));
	/* a masked entry's rewrite fires nothing */
	wr32(ENT(4) + DATA, 0x99);
	CHECK(log_is(""));
	/* without the optional hook nothing is called and the shadow changes */
	setup_n(N, &hooks_min);
	linux_enable_three();
	wr32(ENT(2) + DATA, 0x77);
	CHECK(log_is(""));
	CHECK_EQ(vmsix_target(&x, 2, &vec, &dest), 0);
	CHECK_EQ(vec, 0x77);
}

TEST(qword_accesses_cover_two_dwords_with_one_hook)
{
	uint64_t v;
	uint8_t vec;
	uint32_t dest;

	setup();
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	CHECK_EQ(vmsix_write(&x, ENT(1), 8, 0x00000000fee03000ull), 0);
	CHECK(log_is(""));
	/* data and unmask in one write: one vector_on that sees the new data */
	CHECK_EQ(vmsix_write(&x, ENT(1) + 8, 8, 0x0000000000000031ull), 0);
	CHECK(log_is("on1"));
	CHECK_EQ(vmsix_target(&x, 1, &vec, &dest), 0);
	CHECK_EQ(vec, 0x31);
	CHECK_EQ(dest, 3);
	CHECK_EQ(vmsix_read(&x, ENT(1), 8, &v), 0);
	CHECK_EQ(v, 0xfee03000ull);
	CHECK_EQ(vmsix_read(&x, ENT(1) + 8, 8, &v), 0);
	CHECK_EQ(v, 0x31);
	/* new address as a qword while live: one update */
	CHECK_EQ(vmsix_write(&x, ENT(1), 8, 0x00000000fee04000ull), 0);
	CHECK(log_is("upd1"));
	/* only the upper dword of the qword changes: still an update */
	CHECK_EQ(vmsix_write(&x, ENT(1), 8, 0x00000001fee04000ull), 0);
	CHECK(log_is("upd1"));
	CHECK_EQ(vmsix_target(&x, 1, &vec, &dest), -EINVAL);
	CHECK_EQ(vmsix_write(&x, ENT(1), 8, 0x00000000fee04000ull), 0);
	CHECK(log_is("upd1"));
	/* data change plus mask as a qword: off only */
	CHECK_EQ(vmsix_write(&x, ENT(1) + 8, 8, 0x0000000100000032ull), 0);
	CHECK(log_is("off1"));
	CHECK_EQ(vmsix_read(&x, ENT(1) + 8, 8, &v), 0);
	CHECK_EQ(v, 0x0000000100000032ull);
}

TEST(bad_sizes_alignment_and_offsets_are_refused_without_effect)
{
	static const struct {
		uint64_t off;
		unsigned size;
		int rc;
	} bad[] = {
		{0, 1, -EINVAL},	  {0, 2, -EINVAL},	{0, 3, -EINVAL},
		{0, 16, -EINVAL},	  {0, 0, -EINVAL},	{2, 4, -EINVAL},
		{VCTRL + 1, 4, -EINVAL},  {4, 8, -EINVAL},	{12, 8, -EINVAL},
		{ENT(N), 4, -ERANGE},	  {ENT(N), 8, -ERANGE}, {~0ull - 3, 4, -ERANGE},
		{1ull << 40, 8, -ERANGE},
	};
	struct vmsix_entry before[N];
	uint64_t v;

	setup();
	linux_enable_three();
	memcpy(before, table, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 0x1234;
		CHECK_EQ(vmsix_read(&x, bad[i].off, bad[i].size, &v), bad[i].rc);
		CHECK_EQ(v, 0x1234);
		CHECK_EQ(vmsix_write(&x, bad[i].off, bad[i].size, 0), bad[i].rc);
	}
	CHECK(memcmp(before, table, sizeof(before)) == 0);
	CHECK(log_is(""));
	/* the last dword and qword of the table are in range */
	CHECK_EQ(vmsix_read(&x, ENT(N) - 4, 4, &v), 0);
	CHECK_EQ(vmsix_read(&x, ENT(N) - 8, 8, &v), 0);
}

TEST(pba_reads_come_from_the_device_and_writes_are_dropped)
{
	uint64_t v;

	setup_n(65, &hooks); /* nvme on QEMU 7.2: 65 entries, two qwords of PBA */
	CHECK_EQ(vmsix_pba_size(&x), 16);
	CHECK_EQ(vmsix_pba_read(&x, 8, 8, &v), 0);
	CHECK_EQ(v, 0x8877665544332211ull);
	CHECK_EQ(rec.pba_off, 8);
	CHECK_EQ(rec.pba_size, 8);
	CHECK_EQ(vmsix_pba_read(&x, 4, 4, &v), 0);
	CHECK_EQ(v, 0x44332211u); /* the device's dword, nothing above it */
	CHECK_EQ(rec.pba_off, 4);
	CHECK_EQ(rec.pba_size, 4);
	CHECK_EQ(rec.pba_calls, 2);
	CHECK_EQ(vmsix_pba_read(&x, 16, 4, &v), -ERANGE);
	CHECK_EQ(vmsix_pba_read(&x, 2, 4, &v), -EINVAL);
	CHECK_EQ(vmsix_pba_read(&x, 4, 8, &v), -EINVAL);
	CHECK_EQ(vmsix_pba_read(&x, 0, 2, &v), -EINVAL);
	CHECK_EQ(rec.pba_calls, 2);
	CHECK_EQ(vmsix_pba_write(&x, 0, 8), 0);
	CHECK_EQ(vmsix_pba_write(&x, 1, 4), -EINVAL);
	CHECK_EQ(vmsix_pba_write(&x, 16, 8), -ERANGE);
	CHECK_EQ(rec.pba_calls, 2);
	CHECK(log_is(""));
	setup_n(1, &hooks_min); /* no pba_read: zeros */
	CHECK_EQ(vmsix_pba_size(&x), 8);
	CHECK_EQ(vmsix_pba_read(&x, 0, 8, &v), 0);
	CHECK_EQ(v, 0);
}

TEST(a_failed_vector_on_is_counted_and_retried)
{
	uint8_t vec;
	uint32_t dest;

	setup();
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	wr32(ENT(0) + A_LO, 0xfee00000u);
	wr32(ENT(0) + DATA, 0x30);
	rec.fail_on = 1;
	wr32(ENT(0) + VCTRL, 0);
	CHECK(log_is("fail0"));
	CHECK_EQ(x.errors, 1);
	CHECK(!table[0].live);
	CHECK_EQ(vmsix_target(&x, 0, &vec, &dest), -ENOENT);
	CHECK_EQ(rd32(ENT(0) + VCTRL), 0); /* the guest's view stands */
	/* masking an entry that never went on fires no off */
	wr32(ENT(0) + VCTRL, 1);
	CHECK(log_is(""));
	rec.fail_on = 1;
	wr32(ENT(0) + VCTRL, 0);
	CHECK(log_is("fail0"));
	/* the next write to the entry tries again */
	wr32(ENT(0) + DATA, 0x31);
	CHECK(log_is("on0"));
	CHECK_EQ(vmsix_target(&x, 0, &vec, &dest), 0);
	CHECK_EQ(vec, 0x31);
	/* and so does a control word write */
	wr32(ENT(1) + A_LO, 0xfee00000u);
	wr32(ENT(1) + DATA, 0x32);
	rec.fail_on = 1;
	wr32(ENT(1) + VCTRL, 0);
	CHECK(log_is("fail1"));
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	CHECK(log_is("on1"));
	CHECK_EQ(x.errors, 3);
}

TEST(target_decodes_only_fixed_physical_messages)
{
	static const struct {
		uint32_t lo, hi, data;
		int rc;
	} m[] = {
		{0xfee00000u, 0, 0x0030, 0},
		{0xfee0f000u, 0, 0x80ff, 0},	   /* level trigger bit: still fixed */
		{0xfee01004u, 0, 0x0021, -EINVAL}, /* logical (xAPIC flat) */
		{0xfee00000u, 1, 0x0030, -EINVAL}, /* above 4 GiB */
		{0xfed00000u, 0, 0x0030, -EINVAL}, /* outside the window */
		{0xfee00000u, 0, 0x0130, -EINVAL}, /* lowest priority */
		{0xfee00000u, 0, 0x0430, -EINVAL}, /* NMI */
		{0xfee00000u, 0, 0x000f, -EINVAL}, /* vector < 16 */
	};
	uint8_t vec = 0;
	uint32_t dest = 0;

	setup();
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	wr32(ENT(0) + VCTRL, 0);
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		wr32(ENT(0) + A_LO, m[i].lo);
		wr32(ENT(0) + A_HI, m[i].hi);
		wr32(ENT(0) + DATA, m[i].data);
		CHECK_EQ(vmsix_target(&x, 0, &vec, &dest), m[i].rc);
	}
	wr32(ENT(0) + A_LO, 0xfee0f000u);
	wr32(ENT(0) + A_HI, 0);
	wr32(ENT(0) + DATA, 0xffff00ee); /* upper half reserved */
	CHECK_EQ(vmsix_target(&x, 0, &vec, &dest), 0);
	CHECK_EQ(vec, 0xee);
	CHECK_EQ(dest, 0x0f);
	CHECK_EQ(vmsix_target(&x, N, &vec, &dest), -ENOENT);
	CHECK_EQ(vmsix_target(&x, ~0u, &vec, &dest), -ENOENT);
	CHECK(!vmsix_deliverable(&x, N));
}

TEST(init_refuses_bad_arguments_and_reset_turns_everything_off)
{
	setup();
	CHECK_EQ(vmsix_init(&x, 0, table, &hooks, &rec), -EINVAL);
	CHECK_EQ(vmsix_init(&x, VMSIX_MAX_ENTRIES + 1, table, &hooks, &rec), -EINVAL);
	CHECK_EQ(vmsix_init(&x, 1, NULL, &hooks, &rec), -EINVAL);
	CHECK_EQ(vmsix_init(&x, 1, table, NULL, &rec), -EINVAL);
	CHECK_EQ(vmsix_init(&x, 1, table, &(struct vmsix_hooks){.vector_on = h_on}, &rec), -EINVAL);
	CHECK_EQ(vmsix_init(&x, VMSIX_MAX_ENTRIES, table, &hooks, &rec), 0);
	CHECK_EQ(rd32(ENT(VMSIX_MAX_ENTRIES - 1) + VCTRL), 1);
	setup();
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ(rd32(ENT(i) + A_LO), 0);
		CHECK_EQ(rd32(ENT(i) + DATA), 0);
		CHECK_EQ(rd32(ENT(i) + VCTRL), 1);
		CHECK(!table[i].live);
	}
	CHECK_EQ(vmsix_ctrl_read(&x), 0);
	linux_enable_three();
	vmsix_reset(&x);
	CHECK(log_is("off0 off1 off2"));
	CHECK_EQ(vmsix_ctrl_read(&x), 0);
	CHECK_EQ(rd32(ENT(1) + DATA), 0);
	CHECK_EQ(rd32(ENT(1) + VCTRL), 1);
	vmsix_ctrl_write(&x, VMSIX_CTRL_ENABLE);
	CHECK(log_is(""));
}
