/* kernel/log.c — see log.h. */
#include <stddef.h>

#include "kernel/log.h"

static const struct log_sink *sink;

void log_set_sink(const struct log_sink *s) { sink = s; }

static void emit(bool event, const char *fmt, va_list ap)
{
	if (sink && sink->emit)
		sink->emit(event, fmt, ap);
}

void klog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(false, fmt, ap);
	va_end(ap);
}

void kevent(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(true, fmt, ap);
	va_end(ap);
}

void log_raw(const char *s, size_t n)
{
	if (sink && sink->raw)
		sink->raw(s, n);
}
