/* lib/parse.c — see parse.h. */
#include <stdbool.h>
#include <stddef.h>

#include "lib/parse.h"

static int digit(char c, unsigned base)
{
	unsigned v;

	if (c >= '0' && c <= '9')
		v = (unsigned)(c - '0');
	else if (c >= 'a' && c <= 'f')
		v = (unsigned)(c - 'a' + 10);
	else if (c >= 'A' && c <= 'F')
		v = (unsigned)(c - 'A' + 10);
	else
		return -1;
	return v < base ? (int)v : -1;
}

/* Parses digits up to end (or NUL); end == NULL means the whole string. */
static int parse_digits(const char *s, const char *end, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	bool overflow = false;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (s == end || !*s)
		return -EINVAL;
	for (; *s && s != end; s++) {
		int d = digit(*s, base);
		if (d < 0)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			overflow = true;
		v = v * base + (uint64_t)d;
	}
	if (overflow)
		return -EOVERFLOW;
	*out = v;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	if (!s)
		return -EINVAL;
	return parse_digits(s, NULL, out);
}

int parse_u64_max(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int r = parse_u64(s, &v);

	if (r)
		return r;
	if (v > max)
		return -EOVERFLOW;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	size_t n = 0;
	unsigned shift = 0;
	uint64_t v;
	int r;

	if (!s || !*s)
		return -EINVAL;
	while (s[n])
		n++;
	/* A suffix only after decimal digits or a hex number: "0x1K" is fine,
	 * but a trailing hex digit is not a suffix (0x1B is 27). */
	char last = s[n - 1];
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	switch (last) {
	case 'k':
	case 'K': shift = 10; break;
	case 'm':
	case 'M': shift = 20; break;
	case 'g':
	case 'G': shift = 30; break;
	case 't':
	case 'T': shift = 40; break;
	default: break;
	}
	if (shift && n > 1) {
		r = parse_digits(s, s + n - 1, &v);
	} else {
		(void)hex;
		r = parse_digits(s, NULL, &v);
		shift = 0;
	}
	if (r)
		return r;
	if (shift && v > (UINT64_MAX >> shift))
		return -EOVERFLOW;
	*out = v << shift;
	return 0;
}

int split_words(char *line, char **argv, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = 0;
		if (!*p)
			break;
		if (n == max)
			return -E2BIG;
		argv[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return n;
}
