// SOURCES: lib/parse.c
/* tests/unit/test_parse.c — number, size and word parsing. */
#include <string.h>

#include "lib/parse.h"
#include "test.h"

TEST(parse_decimal_and_hex)
{
	uint64_t v = 0;
	CHECK_EQ(parse_u64("0", &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(parse_u64("123", &v), 0);
	CHECK_EQ(v, 123);
	CHECK_EQ(parse_u64("0x7b", &v), 0);
	CHECK_EQ(v, 123);
	CHECK_EQ(parse_u64("0XFFffFFffFFffFFff", &v), 0);
	CHECK_EQ(v, UINT64_MAX);
	CHECK_EQ(parse_u64("18446744073709551615", &v), 0);
	CHECK_EQ(v, UINT64_MAX);
}

TEST(parse_rejects_garbage)
{
	uint64_t v = 42;
	const char *bad[] = {"",   "x",	 "0x",	 "12a", "-1",  "+1",
			     " 1", "1 ", "0x1g", "1.5", "0b1", "١"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(parse_u64(bad[i], &v), -EINVAL);
	CHECK_EQ(v, 42);
	CHECK_EQ(parse_u64(NULL, &v), -EINVAL);
}

TEST(parse_overflow)
{
	uint64_t v = 7;
	CHECK_EQ(parse_u64("18446744073709551616", &v), -EOVERFLOW);
	CHECK_EQ(parse_u64("0x10000000000000000", &v), -EOVERFLOW);
	CHECK_EQ(parse_u64("99999999999999999999999999", &v), -EOVERFLOW);
	CHECK_EQ(v, 7);
	CHECK_EQ(parse_u64_max("256", 255, &v), -EOVERFLOW);
	CHECK_EQ(parse_u64_max("255", 255, &v), 0);
	CHECK_EQ(v, 255);
}

TEST(parse_sizes)
{
	uint64_t v;
	CHECK_EQ(parse_size("4K", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(parse_size("2m", &v), 0);
	CHECK_EQ(v, 2ull << 20);
	CHECK_EQ(parse_size("1G", &v), 0);
	CHECK_EQ(v, 1ull << 30);
	CHECK_EQ(parse_size("0x10K", &v), 0);
	CHECK_EQ(v, 16384);
	CHECK_EQ(parse_size("4096", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(parse_size("16777216T", &v), -EOVERFLOW);
	CHECK_EQ(parse_size("16777215T", &v), 0);
	CHECK_EQ(parse_size("K", &v), -EINVAL);
	CHECK_EQ(parse_size("4KK", &v), -EINVAL);
	CHECK_EQ(parse_size("4X", &v), -EINVAL);
	CHECK_EQ(parse_size("", &v), -EINVAL);
}

TEST(split_words_basic)
{
	char line[] = "  dma   map\t1 0x1000  ";
	char *argv[8];
	int n = split_words(line, argv, 8);
	CHECK_EQ(n, 4);
	CHECK(!strcmp(argv[0], "dma"));
	CHECK(!strcmp(argv[1], "map"));
	CHECK(!strcmp(argv[2], "1"));
	CHECK(!strcmp(argv[3], "0x1000"));
	char empty[] = "   ";
	CHECK_EQ(split_words(empty, argv, 8), 0);
	char many[] = "a b c d";
	CHECK_EQ(split_words(many, argv, 3), -E2BIG);
}
