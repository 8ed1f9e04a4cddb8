// SOURCES: lib/bootcfg.c
/* tests/fuzz/fuzz_bootcfg.c — arbitrary bytes as sluice.cfg into
 * bootcfg_parse().  Invariants: the boot-argument part is a prefix of the
 * input; every kept image has a valid name (unique among the images), a
 * normalised kernel path, NUL-terminated fields within their limits, only
 * printable characters; every error has a known kind and a line number
 * within the input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bootcfg.h"

static void check_str(const char *s, size_t cap, size_t min)
{
	size_t n = strnlen(s, cap);

	if (n == cap || n < min)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

static void check_path(const char *p, bool required)
{
	check_str(p, BOOTCFG_PATH_MAX + 1, required ? 2 : 0);
	if (!p[0])
		return;
	size_t n = strlen(p);
	if (p[0] != '\\' || p[n - 1] == '\\' || strstr(p, "\\\\") || strchr(p, '/'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bootcfg cfg;
	unsigned lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n' || data[i] == '\r';
	bootcfg_parse((const char *)data, size, &cfg);
	if (cfg.args_len > size || cfg.nimages > BOOTCFG_MAX_IMAGES ||
	    cfg.nerrors > BOOTCFG_MAX_ERRORS ||
	    (cfg.errors_lost && cfg.nerrors < BOOTCFG_MAX_ERRORS))
		abort();
	for (unsigned i = 0; i < cfg.nimages; i++) {
		const struct bootcfg_image *m = &cfg.images[i];
		check_str(m->name, BOOTCFG_NAME_MAX + 1, 1);
		for (const char *c = m->name; *c; c++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
				    *c))
				abort();
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(cfg.images[j].name, m->name))
				abort();
		check_path(m->kernel, true);
		check_path(m->initrd, false);
		check_str(m->cmdline, BOOTCFG_CMDLINE_MAX + 1, 0);
		if (m->line < 1 || m->line > lines)
			abort();
	}
	for (unsigned i = 0; i < cfg.nerrors; i++) {
		const struct bootcfg_diag *d = &cfg.errors[i];
		if (d->err < BOOTCFG_EHEADER || d->err > BOOTCFG_EMANY || d->line < 1 ||
		    d->line > lines)
			abort();
		check_str(d->name, BOOTCFG_NAME_MAX + 1, 0);
		(void)bootcfg_strerror(d->err);
	}
	return 0;
}
