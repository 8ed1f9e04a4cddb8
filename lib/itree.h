/*
 * lib/itree.h — an intrusive interval tree (AVL, augmented with the largest
 * `last` of each subtree).  Intervals are closed: [start, last], so a range
 * ending at 2^64-1 needs no overflow.  Nodes with equal start are allowed
 * (ordered by address); overlapping intervals are allowed.  No allocation:
 * insert and remove never fail.  Used by dma/ for mappings, registrations
 * and reserved regions, and by the fake IOMMU for its leaves.
 */
#ifndef SLUICE_LIB_ITREE_H
#define SLUICE_LIB_ITREE_H

#include <stddef.h>
#include <stdint.h>

struct itree_node {
	uint64_t start, last; /* the interval [start, last] */
	uint64_t max_last;    /* largest last in this subtree */
	struct itree_node *left, *right;
	int height;
};

struct itree {
	struct itree_node *root;
	size_t count;
};

#define ITREE_INIT      \
	{               \
		NULL, 0 \
	}

void itree_insert(struct itree *t, struct itree_node *n);
void itree_remove(struct itree *t, struct itree_node *n);
/* The overlapping node with the lowest (start, address), or NULL. */
struct itree_node *itree_first(const struct itree *t, uint64_t start, uint64_t last);
/* The next overlapping node after n in (start, address) order, or NULL. */
struct itree_node *itree_next(const struct itree *t, const struct itree_node *n, uint64_t start,
			      uint64_t last);
/* Lowest / next node in order (no range filter). */
struct itree_node *itree_min(const struct itree *t);
struct itree_node *itree_succ(const struct itree *t, const struct itree_node *n);
/* Checks AVL balance, order and max_last; returns the node count or -1. */
long itree_check(const struct itree *t);

#define itree_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
