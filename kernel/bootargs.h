/*
 * kernel/bootargs.h — boot arguments: blank-separated words `key` or
 * `key=value`, from the UEFI load options and sluice.cfg.
 */
#ifndef SLUICE_KERNEL_BOOTARGS_H
#define SLUICE_KERNEL_BOOTARGS_H

#include <stdbool.h>
#include <stdint.h>

void bootargs_set(const char *args);
const char *bootargs_all(void);
bool bootarg_flag(const char *key); /* `key` or `key=1` present */
/* The value of key=value (NULL if absent); the returned string is valid
 * until the next call. */
const char *bootarg_value(const char *key);
uint64_t bootarg_u64(const char *key, uint64_t dflt); /* sizes with K/M/G */

#endif
