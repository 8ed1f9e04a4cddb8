/* tests/fuzz/stubs.c — console output sinks for fuzz targets. */
#include <stdarg.h>

#include "console/console.h"

void con_printf(const char *fmt, ...) { (void)fmt; }
void kevent(const char *fmt, ...) { (void)fmt; }
void klog(const char *fmt, ...) { (void)fmt; }
int cmd_fail(int err, const char *fmt, ...)
{
	(void)fmt;
	return err;
}
