/* evict_lru.c — least recently used: one list, a hit moves the block to
 * the head, the victim is the tail.  The baseline every KV cache ships
 * (vLLM's free-block queue, LMCache's default cache_policy "LRU"). */
#include "kvw_evict.h"

static bool lru_init(kvw_store *s)
{
	(void)s;
	return true;
}

static void lru_fini(kvw_store *s)
{
	(void)s;
}

static void lru_touch(kvw_store *s, int32_t slot)
{
	kvw_store_unlink(s, slot);
	kvw_store_push_head(s, 0, slot);
}

static void lru_admit(kvw_store *s, uint64_t key)
{
	if (s->used == s->cap)
		kvw_store_drop(s, s->tail[0]);
	kvw_store_push_head(s, 0, kvw_store_take(s, key));
}

static void lru_evict(kvw_store *s)
{
	kvw_store_drop(s, s->tail[0]);
}

const kvw_evict_ops kvw_evict_lru = {
	.name = "lru",
	.summary = "least recently used (vLLM's and LMCache's default)",
	.init = lru_init,
	.fini = lru_fini,
	.touch = lru_touch,
	.admit = lru_admit,
	.evict = lru_evict,
};
