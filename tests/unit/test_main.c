/* tests/unit/test_main.c — runs every TEST() registered in the binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define MAX_TESTS 1024

static struct {
	const char *name;
	void (*fn)(void);
} tests[MAX_TESTS];
static int ntests;
int test_current_failed;

void test_register(const char *name, void (*fn)(void))
{
	if (ntests == MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		exit(2);
	}
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	ntests++;
}

void test_fail(const char *file, int line, const char *what)
{
	if (test_current_failed < 10)
		fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what);
	test_current_failed++;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	const char *only = argc > 1 ? argv[1] : NULL;
	const char *prog = strrchr(argv[0], '/');

	prog = prog ? prog + 1 : argv[0];
	/* Constructors register in link order; run in file order. */
	for (int i = 0; i < ntests; i++) {
		if (only && strcmp(only, tests[i].name))
			continue;
		test_current_failed = 0;
		tests[i].fn();
		if (test_current_failed) {
			fprintf(stderr, "FAIL %s.%s\n", prog, tests[i].name);
			failed++;
		} else {
			passed++;
		}
	}
	printf("%s: %d passed, %d failed\n", prog, passed, failed);
	return failed ? 1 : 0;
}
