/*
 * kernel/log.h — log lines and events from any layer, and raw output for
 * panic and stdio.  The text goes to a sink that bring-up installs (the
 * console); nothing below console/ knows the console exists.
 *
 *  klog()   a log line from a subsystem (ACPI, PCI, IOMMU bring-up...): a
 *           plain line during boot, an event line ("! <text>") once the
 *           prompt is up.
 *  kevent() an asynchronous event, always "! <text>" on a line of its own
 *           (a DMA fault, a fault storm).  The wire format of both is
 *           ../shared/CONSOLE.md.
 *  kline()  an asynchronous line printed as given, on a line of its own
 *           (a guest's serial output, which carries its own `[vm<id>] `
 *           prefix).
 * All take the text without "! " and without a newline, and may be called
 * from interrupt handlers.
 */
#ifndef SLUICE_KERNEL_LOG_H
#define SLUICE_KERNEL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

void klog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kevent(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bytes straight to the output device, polled, no line discipline (panic,
 * exception dumps, newlib's stdout). */
void log_raw(const char *s, size_t n);

enum log_kind {
	LOG_LINE,  /* klog: the sink decides how it looks once the prompt is up */
	LOG_EVENT, /* kevent */
	LOG_ASYNC, /* kline */
};

struct log_sink {
	void (*emit)(enum log_kind kind, const char *fmt, va_list ap);
	void (*raw)(const char *s, size_t n);
};

/* Installed once by bring-up; before that, output is dropped. */
void log_set_sink(const struct log_sink *sink);

#endif
