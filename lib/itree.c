/*
 * lib/itree.c — intrusive AVL interval tree; see itree.h.
 * Key order is (start, node address) so duplicates are well ordered and a
 * node can always be found again for removal.
 */
#include "lib/itree.h"

static int h(const struct itree_node *n) { return n ? n->height : 0; }

/* Key comparison: (start, address). */
static int cmp(const struct itree_node *a, const struct itree_node *b)
{
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a == b)
		return 0;
	return (uintptr_t)a < (uintptr_t)b ? -1 : 1;
}

static void fix(struct itree_node *n)
{
	int hl = h(n->left), hr = h(n->right);
	uint64_t m = n->last;

	n->height = (hl > hr ? hl : hr) + 1;
	if (n->left && n->left->max_last > m)
		m = n->left->max_last;
	if (n->right && n->right->max_last > m)
		m = n->right->max_last;
	n->max_last = m;
}

static struct itree_node *rot_right(struct itree_node *n)
{
	struct itree_node *l = n->left;

	n->left = l->right;
	l->right = n;
	fix(n);
	fix(l);
	return l;
}

static struct itree_node *rot_left(struct itree_node *n)
{
	struct itree_node *r = n->right;

	n->right = r->left;
	r->left = n;
	fix(n);
	fix(r);
	return r;
}

static struct itree_node *balance(struct itree_node *n)
{
	int b;

	fix(n);
	b = h(n->left) - h(n->right);
	if (b > 1) {
		if (h(n->left->left) < h(n->left->right))
			n->left = rot_left(n->left);
		return rot_right(n);
	}
	if (b < -1) {
		if (h(n->right->right) < h(n->right->left))
			n->right = rot_right(n->right);
		return rot_left(n);
	}
	return n;
}

static struct itree_node *ins(struct itree_node *root, struct itree_node *n)
{
	if (!root)
		return n;
	if (cmp(n, root) < 0)
		root->left = ins(root->left, n);
	else
		root->right = ins(root->right, n);
	return balance(root);
}

void itree_insert(struct itree *t, struct itree_node *n)
{
	n->left = n->right = NULL;
	n->height = 1;
	n->max_last = n->last;
	t->root = ins(t->root, n);
	t->count++;
}

/* Detaches the minimum of a subtree; *min receives it. */
static struct itree_node *del_min(struct itree_node *root, struct itree_node **min)
{
	if (!root->left) {
		*min = root;
		return root->right;
	}
	root->left = del_min(root->left, min);
	return balance(root);
}

static struct itree_node *del(struct itree_node *root, struct itree_node *n)
{
	int c;

	if (!root)
		return NULL;
	c = cmp(n, root);
	if (c < 0) {
		root->left = del(root->left, n);
	} else if (c > 0) {
		root->right = del(root->right, n);
	} else {
		struct itree_node *m;

		if (!root->right)
			return root->left;
		root->right = del_min(root->right, &m);
		m->left = root->left;
		m->right = root->right;
		root = m;
	}
	return balance(root);
}

void itree_remove(struct itree *t, struct itree_node *n)
{
	t->root = del(t->root, n);
	t->count--;
}

/* Lowest node overlapping [s, l] in the subtree whose key is > after (or any
 * when after is NULL). */
static struct itree_node *first_after(struct itree_node *r, uint64_t s, uint64_t l,
				      const struct itree_node *after)
{
	while (r) {
		if (r->max_last < s)
			return NULL;
		/* The left subtree holds smaller keys: only worth it if keys
		 * there can exceed after. */
		if (r->left && r->left->max_last >= s && (!after || cmp(r, after) > 0)) {
			struct itree_node *x = first_after(r->left, s, l, after);
			if (x)
				return x;
		}
		if (r->start > l)
			return NULL;
		if ((!after || cmp(r, after) > 0) && r->last >= s)
			return r;
		r = r->right;
	}
	return NULL;
}

struct itree_node *itree_first(const struct itree *t, uint64_t start, uint64_t last)
{
	return first_after(t->root, start, last, NULL);
}

struct itree_node *itree_next(const struct itree *t, const struct itree_node *n, uint64_t start,
			      uint64_t last)
{
	return first_after(t->root, start, last, n);
}

struct itree_node *itree_min(const struct itree *t)
{
	struct itree_node *r = t->root;

	while (r && r->left)
		r = r->left;
	return r;
}

struct itree_node *itree_succ(const struct itree *t, const struct itree_node *n)
{
	return first_after(t->root, 0, UINT64_MAX, n);
}

static long chk(const struct itree_node *n, const struct itree_node *lo,
		const struct itree_node *hi)
{
	long a, b;
	uint64_t m = n ? n->last : 0;

	if (!n)
		return 0;
	if ((lo && cmp(n, lo) <= 0) || (hi && cmp(n, hi) >= 0) || n->last < n->start)
		return -1;
	a = chk(n->left, lo, n);
	b = chk(n->right, n, hi);
	if (a < 0 || b < 0)
		return -1;
	if (n->left && n->left->max_last > m)
		m = n->left->max_last;
	if (n->right && n->right->max_last > m)
		m = n->right->max_last;
	if (m != n->max_last ||
	    n->height != (h(n->left) > h(n->right) ? h(n->left) : h(n->right)) + 1 ||
	    h(n->left) - h(n->right) > 1 || h(n->right) - h(n->left) > 1)
		return -1;
	return a + b + 1;
}

long itree_check(const struct itree *t)
{
	long c = chk(t->root, NULL, NULL);

	return (c >= 0 && (size_t)c == t->count) ? c : -1;
}
