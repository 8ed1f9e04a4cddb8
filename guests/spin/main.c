/*
 * guests/spin/main.c — a guest that never exits (for stop/destroy and time
 * slicing): one line, then a plain counting loop with interrupts off, so
 * only sluice's own preemption takes the CPU back.
 */
#include "guests/lib/rt.h"

static volatile uint64_t spins;

int main(uint64_t ram_bytes)
{
	(void)ram_bytes;
	rt_printf("spin: spinning\n");
	for (;;)
		spins++;
}
