/* kernel/panic.c — see panic.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/cpu.h"
#include "kernel/log.h"
#include "kernel/panic.h"

static char pbuf[256];

void panic_begin(void) { cpu_cli(); }

void panic_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pbuf, sizeof(pbuf), fmt, ap);
	va_end(ap);
	log_raw(pbuf, strlen(pbuf));
}

/* Frame pointers are kept (-fno-omit-frame-pointer): walk a bounded chain. */
void panic_backtrace(uint64_t rbp)
{
	panic_printf("backtrace:");
	for (int i = 0; i < 16 && rbp && !(rbp & 7); i++) {
		uint64_t *fp = (uint64_t *)(uintptr_t)rbp;
		uint64_t ret = fp[1];
		if (!ret)
			break;
		panic_printf(" 0x%lx", (unsigned long)ret);
		if (fp[0] <= rbp)
			break;
		rbp = fp[0];
	}
	panic_printf("\r\n");
}

void panic_end(void)
{
	panic_printf("! halted\r\n");
	cpu_halt_forever();
}

void panic(const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	panic_begin();
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	panic_printf("\r\n! panic %s\r\n", msg);
	panic_backtrace((uint64_t)(uintptr_t)__builtin_frame_address(0));
	panic_end();
}
