/* kvw_heap.h — the simulation's event queue: a binary min-heap ordered by
 * (time, sequence number), so events at one time run in the order they
 * were scheduled and every run breaks ties the same way (the habit of
 * libuv's timer heap, src/heap-inl.h; here an array of small values rather
 * than intrusive nodes, which suits a queue of a few dozen events).
 * Pure C, no I/O.
 */
#ifndef KVW_HEAP_H
#define KVW_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kvw_event {
	double t;
	uint64_t seq;
	int32_t type;   /* what happened (the simulation's event kinds) */
	int32_t a;      /* its subject: an instance, a transfer */
	uint32_t ver;   /* version of the subject when scheduled (stale events are dropped) */
} kvw_event;

typedef struct kvw_heap {
	kvw_event *e;
	size_t n, cap;
	uint64_t next_seq;
} kvw_heap;

/* Adds an event at time t; false when memory runs out. */
bool kvw_heap_push(kvw_heap *h, double t, int32_t type, int32_t a, uint32_t ver);
/* Removes the earliest event into *out; false when empty. */
bool kvw_heap_pop(kvw_heap *h, kvw_event *out);
/* The earliest event, or NULL. */
const kvw_event *kvw_heap_top(const kvw_heap *h);
void kvw_heap_free(kvw_heap *h); /* accepts a zeroed heap */

#endif
