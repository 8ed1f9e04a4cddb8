/*
 * lib/bdf.c — PCI bus/device/function as console text: "bb:dd.f" and
 * "ssss:bb:dd.f", parsed strictly and printed one way everywhere (lspci,
 * irq, iommu faults, fault events).
 */
#include <string.h>

#include "lib/bdf.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 1..maxdigits hex digits; *end gets the first character after them. */
static int hex_field(const char *s, unsigned maxdigits, unsigned *out, const char **end)
{
	unsigned v = 0, n = 0;

	while (hexval(s[n]) >= 0) {
		if (++n > maxdigits)
			return -EINVAL;
		v = v << 4 | (unsigned)hexval(s[n - 1]);
	}
	if (!n)
		return -EINVAL;
	*out = v;
	*end = s + n;
	return 0;
}

int pci_parse_bdf(const char *s, uint16_t *seg, uint8_t *bus, uint8_t *dev, uint8_t *fn)
{
	unsigned sg = 0, b, d, f;
	const char *p = s, *q;

	if (!s)
		return -EINVAL;
	/* "ssss:" is there when a second ':' follows the first field */
	q = strchr(s, ':');
	if (q && strchr(q + 1, ':')) {
		if (hex_field(p, 4, &sg, &p) || *p++ != ':')
			return -EINVAL;
	}
	if (hex_field(p, 2, &b, &p) || *p++ != ':')
		return -EINVAL;
	if (hex_field(p, 2, &d, &p) || *p++ != '.')
		return -EINVAL;
	if (hex_field(p, 1, &f, &p) || *p)
		return -EINVAL;
	if (d > 0x1f || f > 7)
		return -EINVAL;
	*seg = (uint16_t)sg;
	*bus = (uint8_t)b;
	*dev = (uint8_t)d;
	*fn = (uint8_t)f;
	return 0;
}

static const char hexdig[] = "0123456789abcdef";

char *pci_format_bdf(char *buf, size_t len, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
	char t[16];
	size_t n = 0;

	if (seg) {
		for (int sh = 12; sh >= 0; sh -= 4)
			t[n++] = hexdig[(seg >> sh) & 0xf];
		t[n++] = ':';
	}
	t[n++] = hexdig[bus >> 4];
	t[n++] = hexdig[bus & 0xf];
	t[n++] = ':';
	t[n++] = hexdig[(dev >> 4) & 1];
	t[n++] = hexdig[dev & 0xf];
	t[n++] = '.';
	t[n++] = hexdig[fn & 7];
	t[n] = 0;
	if (len) {
		size_t k = n < len - 1 ? n : len - 1;
		memcpy(buf, t, k);
		buf[k] = 0;
	}
	return buf;
}

char *bdf_format_rid(char *buf, size_t len, uint16_t seg, uint16_t rid)
{
	return pci_format_bdf(buf, len, seg, bdf_bus(rid), bdf_dev(rid), bdf_fn(rid));
}
