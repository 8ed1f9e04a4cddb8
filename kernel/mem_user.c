/* kernel/mem_user.c — see mem_user.h. */
#include "kernel/frame.h"
#include "kernel/mem_user.h"

static unsigned order_for(uint64_t size)
{
	unsigned order = 0;

	while ((FRAME_SIZE << order) < size)
		order++;
	return order;
}

int mem_user_alloc(uint64_t size, uint64_t *hpa)
{
	uint64_t pa;

	if (size == 0 || size > (FRAME_SIZE << FRAME_MAX_ORDER))
		return -EINVAL;
	pa = frame_alloc_zeroed(order_for(size), FRAME_USER);
	if (!pa)
		return -ENOMEM;
	*hpa = pa;
	return 0;
}

int mem_user_free(uint64_t hpa, uint64_t size)
{
	struct frame *f = frame_get(hpa);
	unsigned order;

	if (size == 0 || size > (FRAME_SIZE << FRAME_MAX_ORDER))
		return -ENOENT;
	order = order_for(size);
	if (!f || f->tag != FRAME_USER || f->order != order || (hpa & ((FRAME_SIZE << order) - 1)))
		return -ENOENT;
	int rc = frame_free(hpa, order);
	return rc == -EINVAL ? -ENOENT : rc;
}

static bool each_frame(uint64_t hpa, uint64_t len, bool any_tag)
{
	uint64_t end = hpa + len;

	if (end < hpa)
		return false;
	for (uint64_t a = hpa & ~(FRAME_SIZE - 1); a < end; a += FRAME_SIZE) {
		struct frame *f = frame_get(a);
		if (!f)
			return false;
		if (!any_tag && f->tag != FRAME_USER && f->tag != FRAME_DMA &&
		    f->tag != FRAME_GUEST)
			return false;
	}
	return true;
}

bool mem_user_writable(uint64_t hpa, uint64_t len) { return each_frame(hpa, len, false); }

bool mem_user_readable(uint64_t hpa, uint64_t len) { return each_frame(hpa, len, true); }
