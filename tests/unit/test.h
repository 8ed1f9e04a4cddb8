/*
 * tests/unit/test.h — the host unit-test framework.
 *
 * A test file starts with a line naming the sources it links:
 *     // SOURCES: lib/parse.c kernel/frame.c
 * (tests/unit/test_main.c, fake_hw.c and host_console.c are always linked.)
 * Each TEST() is one counted test; CHECK() records a failure and goes on.
 * The binary prints "<file>: N passed, N failed" and exits non-zero on
 * failure; `make unit` adds the files up into one closing line.
 */
#ifndef SLUICE_TESTS_UNIT_TEST_H
#define SLUICE_TESTS_UNIT_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

void test_register(const char *name, void (*fn)(void));
void test_fail(const char *file, int line, const char *what);
extern int test_current_failed;

#define TEST(name)                                                     \
	static void name(void);                                        \
	__attribute__((constructor)) static void test_reg_##name(void) \
	{                                                              \
		test_register(#name, name);                            \
	}                                                              \
	static void name(void)

#define CHECK(cond)                                           \
	do {                                                  \
		if (!(cond))                                  \
			test_fail(__FILE__, __LINE__, #cond); \
	} while (0)

#define CHECK_EQ(a, b)                                                                           \
	do {                                                                                     \
		unsigned long long _a = (unsigned long long)(a);                                 \
		unsigned long long _b = (unsigned long long)(b);                                 \
		if (_a != _b) {                                                                  \
			char _m[256];                                                            \
			snprintf(_m, sizeof(_m), "%s == %s (0x%llx != 0x%llx)", #a, #b, _a, _b); \
			test_fail(__FILE__, __LINE__, _m);                                       \
		}                                                                                \
	} while (0)

/* Console output captured by host_console.c (con_printf, klog, kevent). */
extern char test_con_buf[65536];
extern size_t test_con_len;
void test_con_reset(void);
/* Last cmd_fail() message. */
extern char test_cmd_msg[512];

/* Runs one console line (printf-style) as the console does: the command
 * whose multi-word name is the longest prefix of the words.  Console output
 * and the ERR message are reset first.  -ENOENT if no command matches. */
#define TEST_CMD_WORDS 15
int test_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
