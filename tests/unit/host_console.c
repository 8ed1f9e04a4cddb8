/* tests/unit/host_console.c — console/console.h and kernel/log.h output into a buffer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "console/console.h"
#include "test.h"

char test_con_buf[65536];
size_t test_con_len;
char test_cmd_msg[512];

void test_con_reset(void)
{
	test_con_len = 0;
	test_con_buf[0] = 0;
	test_cmd_msg[0] = 0;
}

static void vput(const char *prefix, const char *fmt, va_list ap)
{
	size_t room = sizeof(test_con_buf) - test_con_len;
	int n = snprintf(test_con_buf + test_con_len, room, "%s", prefix);

	if (n > 0 && (size_t)n < room)
		test_con_len += (size_t)n;
	room = sizeof(test_con_buf) - test_con_len;
	n = vsnprintf(test_con_buf + test_con_len, room, fmt, ap);
	if (n > 0)
		test_con_len += (size_t)n < room ? (size_t)n : room - 1;
}

void con_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vput("", fmt, ap);
	va_end(ap);
}

void kevent(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vput("! ", fmt, ap);
	va_end(ap);
	con_printf("\n");
}

int cmd_fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(test_cmd_msg, sizeof(test_cmd_msg), fmt, ap);
	va_end(ap);
	return err;
}

void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vput("", fmt, ap);
	va_end(ap);
	con_printf("\n");
}

/* Weak: a test that links no command has no such section, and no symbols. */
extern const struct command __start_sluice_cmds[] __attribute__((weak));
extern const struct command __stop_sluice_cmds[] __attribute__((weak));

/* Words of the command's name that lead argv, or 0. */
static int name_words(const char *name, int argc, char **argv)
{
	char nm[64], *save = NULL;
	int w = 0;

	snprintf(nm, sizeof(nm), "%s", name);
	for (char *p = strtok_r(nm, " ", &save); p; p = strtok_r(NULL, " ", &save), w++)
		if (w >= argc || strcmp(p, argv[w]))
			return 0;
	return w;
}

int test_cmd(const char *fmt, ...)
{
	char line[512], *argv[TEST_CMD_WORDS + 1], *save = NULL;
	const struct command *best = NULL;
	int argc = 0, best_words = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *t = strtok_r(line, " ", &save); t && argc < TEST_CMD_WORDS;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	for (const struct command *c = __start_sluice_cmds; c && c < __stop_sluice_cmds; c++) {
		int w = name_words(c->name, argc, argv);

		if (w > best_words) {
			best = c;
			best_words = w;
		}
	}
	test_con_reset();
	return best ? best->fn(argc, argv) : -ENOENT;
}
