/* tests/unit/host_console.c — console/console.h and kernel/log.h output into a buffer. */
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
