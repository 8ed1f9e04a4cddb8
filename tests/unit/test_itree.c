// SOURCES: lib/itree.c
/* tests/unit/test_itree.c — the interval tree against a brute-force list. */
#include <stdlib.h>
#include <string.h>

#include "lib/itree.h"
#include "test.h"
#include "rng.h"

#define N 600

TEST(itree_empty)
{
	struct itree t = ITREE_INIT;

	CHECK(itree_first(&t, 0, UINT64_MAX) == NULL);
	CHECK(itree_min(&t) == NULL);
	CHECK_EQ(itree_check(&t), 0);
}

TEST(itree_edges)
{
	struct itree t = ITREE_INIT;
	struct itree_node a = {.start = UINT64_MAX - 4095, .last = UINT64_MAX};
	struct itree_node b = {.start = 0, .last = 0};

	itree_insert(&t, &a);
	itree_insert(&t, &b);
	CHECK(itree_first(&t, UINT64_MAX, UINT64_MAX) == &a);
	CHECK(itree_first(&t, 0, 0) == &b);
	CHECK(itree_first(&t, 1, UINT64_MAX - 4096) == NULL);
	CHECK(itree_next(&t, &b, 0, UINT64_MAX) == &a);
	CHECK(itree_next(&t, &a, 0, UINT64_MAX) == NULL);
	itree_remove(&t, &a);
	CHECK(itree_first(&t, 1, UINT64_MAX) == NULL);
	CHECK_EQ(itree_check(&t), 1);
}

static int cmpnode(const void *a, const void *b)
{
	const struct itree_node *x = *(struct itree_node *const *)a;
	const struct itree_node *y = *(struct itree_node *const *)b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (uintptr_t)x < (uintptr_t)y ? -1 : (x != y);
}

TEST(itree_random_vs_bruteforce)
{
	static struct itree_node nodes[N];
	static bool in[N];
	struct itree t = ITREE_INIT;
	struct itree_node *exp[N];
	size_t nin = 0;

	memset(in, 0, sizeof(in));
	for (int step = 0; step < 20000; step++) {
		int i = rnd() % N;

		if (in[i]) {
			itree_remove(&t, &nodes[i]);
			in[i] = false;
			nin--;
		} else {
			nodes[i].start = rnd() % 10000;
			nodes[i].last = nodes[i].start + rnd() % (rnd() % 4 ? 50 : 3000);
			itree_insert(&t, &nodes[i]);
			in[i] = true;
			nin++;
		}
		if (step % 97)
			continue;
		CHECK_EQ(itree_check(&t), nin);
		for (int q = 0; q < 20; q++) {
			uint64_t s = rnd() % 11000, l = s + rnd() % 500;
			size_t ne = 0, ng = 0;
			struct itree_node *n;

			for (int k = 0; k < N; k++)
				if (in[k] && nodes[k].start <= l && nodes[k].last >= s)
					exp[ne++] = &nodes[k];
			qsort(exp, ne, sizeof(exp[0]), cmpnode);
			for (n = itree_first(&t, s, l); n; n = itree_next(&t, n, s, l)) {
				if (ng >= ne || exp[ng] != n) {
					CHECK(!"overlap walk differs");
					break;
				}
				ng++;
			}
			CHECK_EQ(ng, ne);
		}
		/* In-order walk covers everything. */
		size_t cnt = 0;
		for (struct itree_node *n = itree_min(&t); n; n = itree_succ(&t, n))
			cnt++;
		CHECK_EQ(cnt, nin);
	}
}
