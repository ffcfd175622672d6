/* kvw_evict.h — one store of KV blocks (one tier on one instance or node)
 * and the eviction policies that decide what it keeps.
 *
 * A store holds at most `cap` blocks, each named by a 64-bit key (the
 * cache's block id, kvw_cache.h).  It owns the key -> slot index (a hash
 * map, or for a store that may hold a good part of a bounded set of ids a
 * dense array indexed by id) and the slots, and may keep one bit per id in
 * a presence table shared by all the stores of a cache, so a lookup across
 * tiers reads one word per block.  A policy orders the slots on up to
 * KVW_STORE_LISTS doubly linked
 * lists of its own meaning and picks the victim when the store is full.
 * Every policy fills the same kvw_evict_ops and is listed once in the table
 * of evict.c, so a new policy is one new file plus one line there (as fio's
 * ioengines).  A victim leaves through kvw_store_drop(), which hands its key
 * to the store's on_evict sink: the cache demotes it to the tier below.
 *
 * Pure C, no I/O, no globals: a store lives inside one kvw_cache.
 */
#ifndef KVW_EVICT_H
#define KVW_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVW_STORE_LISTS 3
#define KVW_NIL (-1)

typedef struct kvw_store kvw_store;

typedef struct kvw_evict_ops {
	const char *name;
	const char *summary;
	/* policy state for a store of s->cap blocks (s->priv); false: out of memory */
	bool (*init)(kvw_store *s);
	/* frees s->priv; accepts a store whose init failed */
	void (*fini)(kvw_store *s);
	/* the block in slot was accessed (a hit) */
	void (*touch)(kvw_store *s, int32_t slot);
	/* key is absent and the store may be full: make room (kvw_store_drop on
	 * victims), take a slot with kvw_store_take(s, key) and place it */
	void (*admit)(kvw_store *s, uint64_t key);
	/* the store holds more than it may (its capacity was lowered, see
	 * kvw_store_limit): drop at least one victim as admit would */
	void (*evict)(kvw_store *s);
} kvw_evict_ops;

/* An open-addressing map from 64-bit keys to non-negative values (linear
 * probing, backward-shift deletion), sized for a fixed number of entries. */
typedef struct kvw_u64map {
	uint64_t *key;
	int64_t *val; /* -1: empty */
	size_t mask;
} kvw_u64map;

bool kvw_u64map_init(kvw_u64map *m, size_t entries);
void kvw_u64map_free(kvw_u64map *m);
int64_t kvw_u64map_get(const kvw_u64map *m, uint64_t key); /* -1: absent */
void kvw_u64map_put(kvw_u64map *m, uint64_t key, int64_t val);
void kvw_u64map_del(kvw_u64map *m, uint64_t key);

/* One bit per (id, store): bits[id * words + store / 64]. */
typedef struct kvw_presence {
	uint64_t *bits;
	int words;
	size_t cap; /* ids the table has room for */
} kvw_presence;

static inline bool kvw_presence_has(const kvw_presence *p, uint64_t id, int bit)
{
	return id < p->cap && (p->bits[id * (size_t)p->words + (size_t)(bit >> 6)] >> (bit & 63)) & 1u;
}

typedef struct kvw_slot {
	uint64_t key;
	int32_t prev, next;
	uint8_t list; /* which list the slot is on */
	uint8_t freq; /* the policy's small counter */
	uint8_t in;   /* holds a block */
} kvw_slot;

struct kvw_store {
	kvw_u64map map;   /* key -> slot, unless dense */
	size_t dense_n;   /* > 0: slot k holds key k (keys < dense_n); no map */
	kvw_presence *pres; /* where this store sets bit `bit` of its keys, or NULL */
	int bit;
	int32_t cap, used;
	int32_t max_cap;  /* what it was built for; kvw_store_limit moves cap in [0, max_cap] */
	kvw_slot *slot;
	int32_t free_head; /* unused slots, chained through next */
	int32_t head[KVW_STORE_LISTS], tail[KVW_STORE_LISTS], len[KVW_STORE_LISTS];
	const kvw_evict_ops *ops;
	void *priv;
	/* victims go here (may be NULL) */
	void (*on_evict)(void *ctx, uint64_t key);
	void *ctx;
	long evictions;
};

/* The registered policies (evict.c). */
const kvw_evict_ops *kvw_evict_find(const char *name);
int kvw_evict_count(void);
const kvw_evict_ops *kvw_evict_at(int i);

/* A store of cap >= 1 blocks under policy ops; false: out of memory (the
 * store is then safe to kvw_store_free). */
bool kvw_store_init(kvw_store *s, int32_t cap, const kvw_evict_ops *ops);
void kvw_store_free(kvw_store *s); /* accepts a zeroed store */
/* The same with keys < n, slot k for key k (no map: for a store that may
 * hold a good part of a bounded set of keys). */
bool kvw_store_init_dense(kvw_store *s, int32_t cap, const kvw_evict_ops *ops, size_t n);
/* Keep bit `bit` of pres in step with the store's content. */
void kvw_store_track(kvw_store *s, kvw_presence *pres, int bit);

/* The slot holding key, or KVW_NIL. */
int32_t kvw_store_find(const kvw_store *s, uint64_t key);
/* A hit: the policy updates its order.  Returns false when key is absent. */
bool kvw_store_touch(kvw_store *s, uint64_t key);
/* Inserts key (absent ones only; a present key is touched instead).  A
 * store of capacity 0 passes the key straight to on_evict. */
void kvw_store_put(kvw_store *s, uint64_t key);
/* Lets the store hold at most cap blocks from now on (clamped to [0, the
 * capacity it was built with]); blocks beyond it are evicted at once, the
 * policy choosing the victims.  For a store that is an engine's free KV
 * pool (vLLM's, SGLang's prefix cache), which shrinks and grows with the
 * memory its running requests hold. */
void kvw_store_limit(kvw_store *s, int32_t cap);

/* For policies: a free slot mapped to key (the store must not be full). */
int32_t kvw_store_take(kvw_store *s, uint64_t key);
/* For policies: unlinks the slot, unmaps its key, frees it and reports the
 * key to on_evict. */
void kvw_store_drop(kvw_store *s, int32_t slot);
/* For policies: list operations (head = most recent end). */
void kvw_store_push_head(kvw_store *s, int list, int32_t slot);
void kvw_store_unlink(kvw_store *s, int32_t slot);

/* A FIFO of keys with membership, for ghost lists: the oldest falls out
 * when full; forget() removes a key that re-entered the cache. */
typedef struct kvw_keyring {
	uint64_t *ring;  /* cap entries, oldest at head */
	int64_t *seq;    /* the sequence number each ring entry was added with */
	int32_t cap, n, head;
	int64_t next_seq;
	kvw_u64map map;  /* key -> sequence number of its latest addition */
} kvw_keyring;

bool kvw_keyring_init(kvw_keyring *g, int32_t cap);
void kvw_keyring_free(kvw_keyring *g);
bool kvw_keyring_has(const kvw_keyring *g, uint64_t key);
void kvw_keyring_add(kvw_keyring *g, uint64_t key);
void kvw_keyring_forget(kvw_keyring *g, uint64_t key);

#endif
