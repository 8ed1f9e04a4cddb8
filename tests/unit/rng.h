/*
 * tests/unit/rng.h — the tests' and benches' one pseudo-random generator:
 * xorshift64 (Marsaglia 2003), reproducible from its seed, so a failing
 * random sequence can be replayed.  Each file that includes it has its own
 * state; rng_seed() restarts it.
 */
#ifndef SLUICE_TESTS_UNIT_RNG_H
#define SLUICE_TESTS_UNIT_RNG_H

#include <stdint.h>

#define RNG_DEFAULT_SEED 0x9e3779b97f4a7c15ull

static uint64_t rng_state = RNG_DEFAULT_SEED;

/* xorshift64 never leaves 0, so 0 becomes the default seed. */
static inline void rng_seed(uint64_t seed) { rng_state = seed ? seed : RNG_DEFAULT_SEED; }

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

#endif
