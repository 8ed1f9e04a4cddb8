/* kernel/log.c — see log.h. */
#include <stddef.h>

#include "kernel/log.h"

static const struct log_sink *sink;

void log_set_sink(const struct log_sink *s) { sink = s; }

static void emit(enum log_kind kind, const char *fmt, va_list ap)
{
	if (sink && sink->emit)
		sink->emit(kind, fmt, ap);
}

void klog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LINE, fmt, ap);
	va_end(ap);
}

void kevent(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_EVENT, fmt, ap);
	va_end(ap);
}

void kline(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_ASYNC, fmt, ap);
	va_end(ap);
}

void log_raw(const char *s, size_t n)
{
	if (sink && sink->raw)
		sink->raw(s, n);
}
