/*
 * lib/parse.h — parsing console words: numbers (decimal or 0x-hex), sizes
 * (with binary K/M/G/T suffixes), and splitting a line into words.
 * Every function rejects garbage, empty words and overflow.
 */
#ifndef SLUICE_LIB_PARSE_H
#define SLUICE_LIB_PARSE_H

#include <stdint.h>

#include "lib/err.h"

/* "123", "0x7b" → 0; -EINVAL for garbage or empty; -EOVERFLOW past 2^64-1. */
int parse_u64(const char *s, uint64_t *out) MUST_CHECK;
/* parse_u64 plus an optional K/M/G/T suffix (x1024^n); -EOVERFLOW if the
 * product overflows. */
int parse_size(const char *s, uint64_t *out) MUST_CHECK;
/* A value <= max, else -EOVERFLOW. */
int parse_u64_max(const char *s, uint64_t max, uint64_t *out) MUST_CHECK;
/* Splits line in place on blanks into at most max words; -E2BIG if more. */
int split_words(char *line, char **argv, int max) MUST_CHECK;

#endif
