/* lib/bootcfg.c — see bootcfg.h for the rules. */
#include <stdbool.h>
#include <string.h>

#include "lib/bootcfg.h"

struct line {
	const char *p;
	size_t n;
	unsigned no;
};

/* The section being read; img is copied into the result when it is good. */
struct section {
	bool active;		      /* a header was seen */
	bool bad;		      /* an error was reported: skip to the next header */
	bool kernel, initrd, cmdline; /* keys seen */
	struct bootcfg_image img;
};

static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static bool is_printable(char c) { return c >= 0x20 && c <= 0x7e; }
static bool is_sep(char c) { return c == '/' || c == '\\'; }

static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static void trim(const char **p, size_t *n)
{
	while (*n && is_blank(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_blank((*p)[*n - 1]))
		(*n)--;
}

/* The line at *pos (without its end: LF, CR or CRLF); false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, struct line *l)
{
	size_t i = *pos;

	if (i >= len)
		return false;
	l->p = text + i;
	while (i < len && text[i] != '\n' && text[i] != '\r')
		i++;
	l->n = (size_t)(text + i - l->p);
	if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
		i += 2; /* CRLF counts once */
	else if (i < len)
		i++;
	*pos = i;
	l->no++;
	return true;
}

static bool starts_sections(const char *p, size_t n)
{
	trim(&p, &n);
	return n >= 6 && !memcmp(p, "[image", 6) && (n == 6 || is_blank(p[6]) || p[6] == ']');
}

static void diag(struct bootcfg *cfg, unsigned line, enum bootcfg_error err, const char *name)
{
	if (cfg->nerrors == BOOTCFG_MAX_ERRORS) {
		cfg->errors_lost++;
		return;
	}
	struct bootcfg_diag *d = &cfg->errors[cfg->nerrors++];
	d->line = line;
	d->err = err;
	strcpy(d->name, name);
}

static void section_fail(struct bootcfg *cfg, struct section *s, unsigned line,
			 enum bootcfg_error err)
{
	s->bad = true;
	diag(cfg, line, err, s->img.name);
}

static void finish_section(struct bootcfg *cfg, struct section *s)
{
	if (!s->active || s->bad)
		return;
	if (!s->kernel) {
		section_fail(cfg, s, s->img.line, BOOTCFG_ENOKERNEL);
		return;
	}
	for (unsigned i = 0; i < cfg->nimages; i++) {
		if (!strcmp(cfg->images[i].name, s->img.name)) {
			section_fail(cfg, s, s->img.line, BOOTCFG_EDUP);
			return;
		}
	}
	if (cfg->nimages == BOOTCFG_MAX_IMAGES) {
		section_fail(cfg, s, s->img.line, BOOTCFG_EMANY);
		return;
	}
	cfg->images[cfg->nimages++] = s->img;
}

/* `[image <name>]`: 0 with the name in s->img, or the error. */
static enum bootcfg_error parse_header(const char *p, size_t n, struct section *s)
{
	trim(&p, &n);
	if (n < 7 || memcmp(p, "[image", 6) || p[n - 1] != ']' || (!is_blank(p[6]) && p[6] != ']'))
		return BOOTCFG_EHEADER;
	p += 6;
	n -= 7; /* "[image" and "]" */
	trim(&p, &n);
	if (n == 0 || n > BOOTCFG_NAME_MAX)
		return BOOTCFG_ENAME;
	for (size_t i = 0; i < n; i++)
		if (!is_name_char(p[i]))
			return BOOTCFG_ENAME;
	memcpy(s->img.name, p, n);
	s->img.name[n] = 0;
	return 0;
}

static void start_section(struct bootcfg *cfg, struct section *s, const struct line *l)
{
	finish_section(cfg, s);
	memset(s, 0, sizeof(*s));
	s->active = true;
	s->img.line = l->no;
	enum bootcfg_error err = parse_header(l->p, l->n, s);
	if (err)
		section_fail(cfg, s, l->no, err);
}

/* A path value into out (normalised, NUL-terminated). */
static enum bootcfg_error parse_path(const char *p, size_t n, char *out)
{
	size_t k = 0;

	if (n == 0 || is_sep(p[n - 1]))
		return BOOTCFG_EEMPTY; /* no file name */
	for (size_t i = 0; i < n; i++)
		if (!is_printable(p[i]))
			return BOOTCFG_ECHAR;
	out[k++] = '\\';
	for (size_t i = 0; i < n; i++) {
		char c = is_sep(p[i]) ? '\\' : p[i];
		if (c == '\\' && out[k - 1] == '\\')
			continue;
		if (k == BOOTCFG_PATH_MAX)
			return BOOTCFG_ELONG;
		out[k++] = c;
	}
	out[k] = 0;
	return 0;
}

static enum bootcfg_error parse_cmdline(const char *p, size_t n, char *out)
{
	if (n > BOOTCFG_CMDLINE_MAX)
		return BOOTCFG_ELONG;
	for (size_t i = 0; i < n; i++) {
		char c = p[i] == '\t' ? ' ' : p[i];
		if (!is_printable(c))
			return BOOTCFG_ECHAR;
		out[i] = c;
	}
	out[n] = 0;
	return 0;
}

static enum bootcfg_error parse_key(const char *p, size_t n, struct section *s)
{
	const char *eq = memchr(p, '=', n);

	if (!eq)
		return BOOTCFG_ESYNTAX;
	const char *k = p, *v = eq + 1;
	size_t kn = (size_t)(eq - p), vn = n - kn - 1;
	trim(&k, &kn);
	trim(&v, &vn);
	bool *seen;
	if (kn == 6 && !memcmp(k, "kernel", 6))
		seen = &s->kernel;
	else if (kn == 6 && !memcmp(k, "initrd", 6))
		seen = &s->initrd;
	else if (kn == 7 && !memcmp(k, "cmdline", 7))
		seen = &s->cmdline;
	else
		return BOOTCFG_EKEY;
	if (*seen)
		return BOOTCFG_EDUPKEY;
	*seen = true;
	if (seen == &s->kernel)
		return parse_path(v, vn, s->img.kernel);
	if (seen == &s->initrd)
		return parse_path(v, vn, s->img.initrd);
	return parse_cmdline(v, vn, s->img.cmdline);
}

static void section_line(struct bootcfg *cfg, struct section *s, const struct line *l)
{
	const char *p = l->p;
	size_t n = l->n;

	if (s->bad)
		return;
	trim(&p, &n);
	if (n == 0 || p[0] == '#')
		return;
	enum bootcfg_error err = parse_key(p, n, s);
	if (err)
		section_fail(cfg, s, l->no, err);
}

void bootcfg_parse(const char *text, size_t len, struct bootcfg *cfg)
{
	struct section s;
	struct line l = {0};
	size_t pos = 0, start = 0;
	bool in_sections = false;

	memset(cfg, 0, sizeof(*cfg));
	memset(&s, 0, sizeof(s));
	cfg->args_len = len;
	while (start = pos, next_line(text, len, &pos, &l)) {
		if (!in_sections) {
			if (!starts_sections(l.p, l.n))
				continue;
			in_sections = true;
			cfg->args_len = start;
		}
		const char *p = l.p;
		size_t n = l.n;
		trim(&p, &n);
		if (n && p[0] == '[')
			start_section(cfg, &s, &l);
		else
			section_line(cfg, &s, &l);
	}
	finish_section(cfg, &s);
}

const char *bootcfg_strerror(enum bootcfg_error err)
{
	switch (err) {
	case BOOTCFG_EHEADER: return "malformed section header (expected [image <name>])";
	case BOOTCFG_ENAME: return "bad image name (1..31 of A-Z a-z 0-9 . _ -)";
	case BOOTCFG_ESYNTAX: return "expected key=value";
	case BOOTCFG_EKEY: return "unknown key (kernel=, initrd= or cmdline=)";
	case BOOTCFG_EDUPKEY: return "key given twice";
	case BOOTCFG_EEMPTY: return "path names no file";
	case BOOTCFG_ELONG: return "value too long (paths 255, cmdline 1023 characters)";
	case BOOTCFG_ECHAR: return "character outside printable ASCII";
	case BOOTCFG_ENOKERNEL: return "no kernel= line";
	case BOOTCFG_EDUP: return "an earlier image has this name";
	case BOOTCFG_EMANY: return "more than 8 images";
	}
	return "error";
}
