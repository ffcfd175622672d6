/* nccl_math.c — busbw factors (see nccl_math.h). */
#include "nccl_math.h"

double kvw_busbw_factor(kvw_coll c, int n)
{
	if (n < 1)
		return 0;
	switch (c) {
	case KVW_COLL_ALLREDUCE: return 2.0 * (n - 1) / n;
	case KVW_COLL_ALLGATHER:
	case KVW_COLL_REDUCESCATTER:
	case KVW_COLL_ALLTOALL: return (double)(n - 1) / n;
	default: return 1.0;
	}
}
