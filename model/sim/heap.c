/* heap.c — the (time, sequence) min-heap of kvw_heap.h. */
#include "kvw_heap.h"

#include <stdlib.h>

static bool before(const kvw_event *x, const kvw_event *y)
{
	return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

bool kvw_heap_push(kvw_heap *h, double t, int32_t type, int32_t a, uint32_t ver)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		kvw_event *e = realloc(h->e, cap * sizeof *e);
		if (!e)
			return false;
		h->e = e;
		h->cap = cap;
	}
	kvw_event ev = { t, h->next_seq++, type, a, ver };
	size_t i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(&ev, &h->e[p]))
			break;
		h->e[i] = h->e[p];
		i = p;
	}
	h->e[i] = ev;
	return true;
}

bool kvw_heap_pop(kvw_heap *h, kvw_event *out)
{
	if (h->n == 0)
		return false;
	*out = h->e[0];
	kvw_event last = h->e[--h->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const kvw_event *best = &last;
		if (l < h->n && before(&h->e[l], best)) {
			m = l;
			best = &h->e[l];
		}
		if (r < h->n && before(&h->e[r], best))
			m = r;
		if (m == i)
			break;
		h->e[i] = h->e[m];
		i = m;
	}
	if (h->n > 0)
		h->e[i] = last;
	return true;
}

const kvw_event *kvw_heap_top(const kvw_heap *h)
{
	return h->n ? &h->e[0] : NULL;
}

void kvw_heap_free(kvw_heap *h)
{
	if (!h)
		return;
	free(h->e);
	h->e = NULL;
	h->n = h->cap = 0;
}
