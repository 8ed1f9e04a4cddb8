/* kernel/bootargs.c — see bootargs.h. */
#include <string.h>

#include "kernel/bootargs.h"
#include "kernel/log.h"
#include "lib/parse.h"

static char args[1024];
static char value[256];

void bootargs_set(const char *a)
{
	strncpy(args, a, sizeof(args) - 1);
	args[sizeof(args) - 1] = 0;
}

const char *bootargs_all(void) { return args; }

/* Finds word key or key=...; returns a pointer past the key, or NULL. */
static const char *find(const char *key)
{
	size_t n = strlen(key);

	for (const char *p = args; *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, n) && (p[n] == 0 || p[n] == ' ' || p[n] == '='))
			return p + n;
		p += strcspn(p, " ");
	}
	return NULL;
}

bool bootarg_flag(const char *key)
{
	const char *p = find(key);

	if (!p)
		return false;
	if (*p != '=')
		return true;
	return p[1] == '1' || !strncmp(p + 1, "on", 2) || !strncmp(p + 1, "yes", 3);
}

const char *bootarg_value(const char *key)
{
	const char *p = find(key);
	size_t n;

	if (!p || *p != '=')
		return NULL;
	p++;
	n = strcspn(p, " ");
	if (n >= sizeof(value))
		n = sizeof(value) - 1;
	memcpy(value, p, n);
	value[n] = 0;
	return value;
}

uint64_t bootarg_u64(const char *key, uint64_t dflt)
{
	const char *v = bootarg_value(key);
	uint64_t x;

	if (!v)
		return dflt;
	if (parse_size(v, &x)) {
		klog("bootargs: %s=%s is not a number, using %llu", key, v,
		     (unsigned long long)dflt);
		return dflt;
	}
	return x;
}
