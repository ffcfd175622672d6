/* nccl_math.h — bus bandwidth as nccl-tests define it.
 *
 * algbw = bytes / time.  busbw scales algbw by what each rank's busiest
 * link carries, so that it compares with the hardware's peak whatever the
 * rank count (nccl-tests doc/PERFORMANCE.md):
 *   all-reduce          2 (n - 1) / n
 *   all-gather, reduce-scatter, all-to-all   (n - 1) / n
 *   broadcast, reduce, send/recv   1
 */
#ifndef KVW_NCCL_MATH_H
#define KVW_NCCL_MATH_H

typedef enum kvw_coll {
	KVW_COLL_SENDRECV, KVW_COLL_ALLREDUCE, KVW_COLL_ALLGATHER, KVW_COLL_REDUCESCATTER,
	KVW_COLL_ALLTOALL, KVW_COLL_BROADCAST, KVW_COLL_REDUCE,
} kvw_coll;

double kvw_busbw_factor(kvw_coll c, int nranks);

#endif
