/* evtimer.c — CUDA event timing for the probes (see kvw_cuda.h). */
#include "kvw_cuda.h"

#include <string.h>

cudaError_t kvw_evtimer_init(kvw_evtimer *t, cudaStream_t s)
{
	memset(t, 0, sizeof *t);
	t->stream = s;
	cudaError_t e = cudaEventCreate(&t->start);
	if (e == cudaSuccess)
		e = cudaEventCreate(&t->stop);
	return e;
}

void kvw_evtimer_destroy(kvw_evtimer *t)
{
	if (t->start)
		cudaEventDestroy(t->start);
	if (t->stop)
		cudaEventDestroy(t->stop);
	memset(t, 0, sizeof *t);
}

double kvw_evtimer_seconds(kvw_evtimer *t)
{
	float ms = 0;
	if (cudaEventSynchronize(t->stop) != cudaSuccess || cudaEventElapsedTime(&ms, t->start, t->stop) != cudaSuccess)
		return -1;
	return ms * 1e-3;
}

static int mark(void *ctx, int stop)
{
	kvw_evtimer *t = ctx;
	return cudaEventRecord(stop ? t->stop : t->start, t->stream) != cudaSuccess;
}

static double elapsed(void *ctx)
{
	return kvw_evtimer_seconds(ctx);
}

kvw_marks kvw_evtimer_marks(kvw_evtimer *t)
{
	return (kvw_marks){ mark, elapsed, t };
}
