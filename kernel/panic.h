/*
 * kernel/panic.h — fatal errors: print straight to the UART (no locks, no
 * heap) and stop the CPU.
 */
#ifndef SLUICE_KERNEL_PANIC_H
#define SLUICE_KERNEL_PANIC_H

#include <stdint.h>

void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void panic_begin(void);
void panic_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void panic_backtrace(uint64_t rbp);
void panic_end(void) __attribute__((noreturn));

#endif
