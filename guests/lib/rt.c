/*
 * guests/lib/rt.c — serial output, printf, string helpers, HC_EXIT for the
 * built-in guests.
 */
#include <stdbool.h>

#include "guests/lib/rt.h"

#define COM1 0x3f8
#define COM1_LSR (COM1 + 5)
#define LSR_THRE 0x20
/* 16550: THR may be written once LSR.THRE is set; sluice's UART always
 * reports it, the bound only keeps a broken one from hanging the guest. */
#define THRE_SPINS 100000

void hc_exit(uint64_t code)
{
	hypercall(HC_EXIT, code, 0, 0);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void serial_putc(char c)
{
	for (unsigned i = 0; i < THRE_SPINS && !(inb(COM1_LSR) & LSR_THRE); i++)
		cpu_relax();
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

struct spec {
	unsigned width;
	bool zero;
	int lng; /* 0, 1 (l), 2 (ll) */
};

static int put_padded(const char *s, size_t len, const struct spec *sp, bool numeric)
{
	int n = 0;

	for (size_t i = len; i < sp->width; i++, n++)
		serial_putc(numeric && sp->zero ? '0' : ' ');
	for (size_t i = 0; i < len; i++, n++)
		serial_putc(s[i]);
	return n;
}

static int put_num(uint64_t v, unsigned base, bool neg, const struct spec *sp)
{
	char buf[24];
	unsigned i = sizeof(buf);

	do {
		buf[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		buf[--i] = '-';
	return put_padded(buf + i, sizeof(buf) - i, sp, true);
}

static uint64_t arg_unsigned(va_list *ap, int lng)
{
	if (lng == 2)
		return va_arg(*ap, unsigned long long);
	if (lng == 1)
		return va_arg(*ap, unsigned long);
	return va_arg(*ap, unsigned int);
}

static int64_t arg_signed(va_list *ap, int lng)
{
	if (lng == 2)
		return va_arg(*ap, long long);
	if (lng == 1)
		return va_arg(*ap, long);
	return va_arg(*ap, int);
}

/* One conversion at *fmt (just past the '%'); advances *fmt. */
static int convert(const char **fmt, va_list *ap)
{
	struct spec sp = {0};
	const char *f = *fmt;
	int n;

	if (*f == '0') {
		sp.zero = true;
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp.width = sp.width * 10 + (unsigned)(*f++ - '0');
	while (*f == 'l' && sp.lng < 2) {
		sp.lng++;
		f++;
	}
	switch (*f) {
	case 'd': {
		int64_t v = arg_signed(ap, sp.lng);
		uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

		n = put_num(mag, 10, v < 0, &sp);
		break;
	}
	case 'u': n = put_num(arg_unsigned(ap, sp.lng), 10, false, &sp); break;
	case 'x': n = put_num(arg_unsigned(ap, sp.lng), 16, false, &sp); break;
	case 'p':
		serial_puts("0x");
		n = 2 + put_num((uintptr_t)va_arg(*ap, void *), 16, false, &sp);
		break;
	case 'c': {
		char c = (char)va_arg(*ap, int);

		n = put_padded(&c, 1, &sp, false);
		break;
	}
	case 's': {
		const char *s = va_arg(*ap, const char *);

		if (!s)
			s = "(null)";
		n = put_padded(s, strlen(s), &sp, false);
		break;
	}
	case '%':
		serial_putc('%');
		n = 1;
		break;
	case '\0': *fmt = f; return 0;
	default:
		serial_putc('%');
		serial_putc(*f);
		n = 2;
		break;
	}
	*fmt = f + 1;
	return n;
}

int rt_vprintf(const char *fmt, va_list ap)
{
	va_list aq;
	int n = 0;

	va_copy(aq, ap);
	while (*fmt) {
		if (*fmt != '%') {
			serial_putc(*fmt++);
			n++;
			continue;
		}
		fmt++;
		n += convert(&fmt, &aq);
	}
	va_end(aq);
	return n;
}

int rt_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rt_vprintf(fmt, ap);
	va_end(ap);
	return n;
}
