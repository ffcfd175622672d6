/* copycheck.c — poison-then-verify and the bounded asynchronous wait
 * (see copycheck.h). */
#include "copycheck.h"

long long kvw_copy_verify(const kvw_copy_check *c)
{
	if (c->poison(c->ctx) != 0)
		return -1;
	if (c->copy(c->ctx) != 0)
		return -2;
	long long w = c->wrong(c->ctx);
	return w < 0 ? -3 : w;
}

int kvw_wait_async(const kvw_waiter *w, double timeout_s, int *code)
{
	double t0 = w->now(w->ctx);
	*code = 0;
	for (;;) {
		int d = w->done(w->ctx);
		if (d > 0)
			return 0;
		if (d < 0)
			return 3;
		if ((*code = w->async_error(w->ctx)) != 0)
			return 1;
		if (w->now(w->ctx) - t0 > timeout_s)
			return 2;
		w->nap(w->ctx);
	}
}
