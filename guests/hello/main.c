/*
 * guests/hello/main.c — the smallest built-in guest: one line, exit 0.
 */
#include "guests/lib/rt.h"

int main(uint64_t ram_bytes)
{
	rt_printf("hello from guest, ram=%llu\n", (unsigned long long)ram_bytes);
	return 0;
}
