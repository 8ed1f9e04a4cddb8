/*
 * guests/hello/main.c — the smallest built-in guest: one line through COM1,
 * one through the print hypercall (and one refused: a buffer outside its
 * RAM), exit 0.
 */
#include "guests/lib/rt.h"

static const char via_hc[] = "hello through the print hypercall";

int main(uint64_t ram_bytes)
{
	rt_printf("hello from guest, ram=%llu\n", (unsigned long long)ram_bytes);
	int64_t r = hypercall(HC_PRINT, (uint64_t)(uintptr_t)via_hc, sizeof(via_hc) - 1, 0);
	int64_t bad = hypercall(HC_PRINT, ram_bytes + 0x1000, 8, 0);
	rt_printf("hello: print=%lld outside=%lld\n", (long long)r, (long long)bad);
	return r == 0 && bad == -HC_EFAULT ? 0 : 1;
}
