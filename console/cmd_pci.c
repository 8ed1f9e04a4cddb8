/*
 * console/cmd_pci.c - console commands over drivers/pci: `lspci`,
 * `pci read <bdf> <off> <1|2|4>`, `pci write <bdf> <off> <1|2|4> <value>`.
 * Output shapes are the contract in shared/CONSOLE.md.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/pci.h"
#include "console/console.h"
#include "lib/err.h"
#include "lib/parse.h"

int pci_cmd_lspci(int argc, char **argv);
int pci_cmd_read(int argc, char **argv);
int pci_cmd_write(int argc, char **argv);

static void caps_str(const struct pci_dev *d, char *buf, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
		bool wide;
	} caps[] = {
		{"msi", offsetof(struct pci_dev, cap_msi), false},
		{"msix", offsetof(struct pci_dev, cap_msix), false},
		{"pcie", offsetof(struct pci_dev, cap_pcie), false},
		{"ats", offsetof(struct pci_dev, ecap_ats), true},
		{"pasid", offsetof(struct pci_dev, ecap_pasid), true},
		{"pri", offsetof(struct pci_dev, ecap_pri), true},
		{"acs", offsetof(struct pci_dev, ecap_acs), true},
	};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		const char *p = (const char *)d + caps[i].off;
		unsigned v =
			caps[i].wide ? *(const uint16_t *)(const void *)p : *(const uint8_t *)p;
		size_t l = strlen(caps[i].name);

		if (!v || n + l + 2 > len)
			continue;
		if (n)
			buf[n++] = ',';
		memcpy(buf + n, caps[i].name, l + 1);
		n += l;
	}
	if (!n)
		memcpy(buf, "-", 2);
}

static void unit_str(int unit, char *buf)
{
	char t[12] = {0};
	int n = 0;

	if (unit < 0) {
		memcpy(buf, "-", 2);
		return;
	}
	do {
		t[n++] = (char)('0' + unit % 10);
		unit /= 10;
	} while (unit);
	for (int i = 0; i < n; i++)
		buf[i] = t[n - 1 - i];
	buf[n] = 0;
}

int pci_cmd_lspci(int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(-EINVAL, "usage: lspci (no arguments)");
	for (unsigned i = 0; i < pci_count(); i++) {
		struct pci_dev *d = pci_at(i);
		char bdf[16], alias[16], unit[12], caps[48];

		pci_format_bdf(bdf, sizeof(bdf), d->seg, d->bus, d->dev, d->fn);
		pci_format_bdf(alias, sizeof(alias), 0, d->alias_rid >> 8,
			       (d->alias_rid >> 3) & 0x1f, d->alias_rid & 7);
		unit_str(d->unit, unit);
		caps_str(d, caps, sizeof(caps));
		con_printf("bdf=%s id=%04x:%04x class=%06x unit=%s group=%d alias=%s caps=%s\n",
			   bdf, d->vendor, d->device, d->class, unit, d->group, alias, caps);
	}
	return 0;
}

/* The dispatcher gives the words of the line: argv[0] "pci", argv[1] the
 * sub-command.  Tolerate a dispatcher that passes "pci read" as one word. */
static int first_arg(int argc, char **argv)
{
	return (argc > 0 && !strcmp(argv[0], "pci")) ? 2 : 1;
}

/* Parses <bdf> <off> <size>; finds the device. */
static int access_args(char **a, struct pci_dev **dp, unsigned *off, unsigned *size)
{
	uint16_t seg;
	uint8_t bus, dev, fn;
	uint64_t o, s;
	int err;

	if (pci_parse_bdf(a[0], &seg, &bus, &dev, &fn))
		return cmd_fail(-EINVAL, "bad bdf '%s' (want bb:dd.f or ssss:bb:dd.f, hex)", a[0]);
	err = parse_u64(a[1], &o);
	if (err)
		return cmd_fail(-EINVAL, "bad offset '%s' (decimal or 0x-hex)", a[1]);
	if (o > 4095)
		return cmd_fail(-EINVAL, "offset %s beyond 4095 (config space is 4 KiB)", a[1]);
	err = parse_u64(a[2], &s);
	if (err || (s != 1 && s != 2 && s != 4))
		return cmd_fail(-EINVAL, "bad size '%s' (must be 1, 2 or 4)", a[2]);
	if (o & (s - 1))
		return cmd_fail(-EINVAL, "offset 0x%llx not aligned to size %llu",
				(unsigned long long)o, (unsigned long long)s);
	*dp = pci_find(seg, bus, dev, fn);
	if (!*dp)
		return cmd_fail(-ENODEV, "no PCI function at %s", a[0]);
	*off = (unsigned)o;
	*size = (unsigned)s;
	err = pci_cfg_check((*dp)->seg, (*dp)->bus, *off, *size);
	if (err)
		return cmd_fail(err, "config space of %s not reachable", a[0]);
	return 0;
}

int pci_cmd_read(int argc, char **argv)
{
	int a = first_arg(argc, argv), err;
	struct pci_dev *d;
	unsigned off, size;

	if (argc != a + 3)
		return cmd_fail(-EINVAL, "usage: pci read <bdf> <off> <1|2|4>");
	err = access_args(argv + a, &d, &off, &size);
	if (err)
		return err;
	con_printf("value=0x%0*x\n", (int)size * 2, pci_read(d, off, size));
	return 0;
}

int pci_cmd_write(int argc, char **argv)
{
	int a = first_arg(argc, argv), err;
	struct pci_dev *d;
	unsigned off, size;
	uint64_t v;

	if (argc != a + 4)
		return cmd_fail(-EINVAL, "usage: pci write <bdf> <off> <1|2|4> <value>");
	err = access_args(argv + a, &d, &off, &size);
	if (err)
		return err;
	if (parse_u64(argv[a + 3], &v))
		return cmd_fail(-EINVAL, "bad value '%s' (decimal or 0x-hex)", argv[a + 3]);
	if (v >> (size * 8))
		return cmd_fail(-EINVAL, "value %s too wide for %u byte(s)", argv[a + 3], size);
	pci_write(d, off, size, (uint32_t)v);
	return 0;
}

COMMAND(lspci, "lspci", "lspci                      every PCI function: bdf id class unit group",
	pci_cmd_lspci);
COMMAND(pci_read, "pci read", "pci read <bdf> <off> <1|2|4>          config-space read",
	pci_cmd_read);
COMMAND(pci_write, "pci write", "pci write <bdf> <off> <1|2|4> <value> config-space write",
	pci_cmd_write);
