/*
 * guests/vmcall-bench/main.c — the VM exit round trip: VMCALL_BENCH_COUNT
 * VMMCALLs of a number sluice does not know (each one exit, -ENOSYS back)
 * between two prints; `bench vm exit` times it from outside.
 */
#include "guests/lib/rt.h"

#define VMCALL_BENCH_COUNT 100000u
#define HC_NOP_UNKNOWN 0xffffu

int main(uint64_t ram_bytes)
{
	unsigned bad = 0;

	(void)ram_bytes;
	rt_printf("vmcall-bench: start count=%u\n", VMCALL_BENCH_COUNT);
	for (unsigned i = 0; i < VMCALL_BENCH_COUNT; i++)
		if (hypercall(HC_NOP_UNKNOWN, i, 0, 0) != -HC_ENOSYS)
			bad++;
	rt_printf("vmcall-bench: done count=%u bad=%u\n", VMCALL_BENCH_COUNT, bad);
	return bad ? 1 : 0;
}
