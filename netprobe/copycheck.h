/* copycheck.h — the verification every transfer probe runs after timing,
 * and the wait that lets a dead NCCL peer fail instead of hang, as pure
 * functions over callbacks (copycheck.c), so CPU-only tests exercise them
 * with mocks of the copy routine.
 *
 * A timed copy leaves the right bytes in its destination; a check that
 * only reruns the copy and reads the destination then passes whatever the
 * copy did.  So the destination (every one: the second buffer of a
 * bidirectional copy, the peer device's buffer) is poisoned first, then
 * the copy runs once more, then every element is compared — as
 * nccl-tests and BabelStream do.
 */
#ifndef KVW_COPYCHECK_H
#define KVW_COPYCHECK_H

#include <stdbool.h>

typedef struct kvw_copy_check {
	int (*poison)(void *ctx);     /* fills every destination with a value no copy writes; 0 ok */
	int (*copy)(void *ctx);       /* the verification copy; 0 ok */
	long long (*wrong)(void *ctx); /* wrong elements in the destinations, < 0 on error */
	void *ctx;
} kvw_copy_check;

/* poison, copy, count: wrong elements, or -1 (poison), -2 (copy), -3 (count) */
long long kvw_copy_verify(const kvw_copy_check *c);

/* Waiting for an asynchronous operation that a dead peer may never
 * finish (NCCL send/recv): done() says 1 finished, 0 not yet, < 0 an
 * error; async_error() says 0 or the communicator's asynchronous error;
 * now() is a clock in seconds, nap() sleeps a moment.  Returns 0 when
 * done, 1 on an asynchronous error (*code set), 2 past timeout_s, 3 when
 * done() failed. */
typedef struct kvw_waiter {
	int (*done)(void *ctx);
	int (*async_error)(void *ctx);
	double (*now)(void *ctx);
	void (*nap)(void *ctx);
	void *ctx;
} kvw_waiter;
int kvw_wait_async(const kvw_waiter *w, double timeout_s, int *code);

#endif
