/* evict_s3fifo.c — S3-FIFO: Yang, Zhang, Qiu, Yue, Vinayak, "FIFO queues
 * are all you need for cache eviction", SOSP 2023 (section 4, Algorithm 1).
 *
 * Three FIFO queues: a small one S (10% of the blocks) where new blocks
 * enter, the main one M (the other 90%), and a ghost G of keys recently
 * evicted from S (as many keys as M holds blocks).  A hit only bumps a
 * 2-bit counter (freq, capped at 3); nothing moves on a hit ("lazy
 * promotion").  When the cache is full: if S holds at least its 10%, its
 * tail leaves S — into M if it was hit while in S (freq > 0, the paper's
 * "accessed since insertion"), else out of the cache with its key in G
 * ("quick demotion" of one-hit wonders); otherwise M's tail is evicted
 * unless its counter is positive, in which case it goes back to M's head
 * with the counter decremented.  A miss whose key is in G enters M
 * directly.  For prefix caches this keeps shared system prompts and
 * conversation heads (reused) away from the one-time tails of prompts.
 */
#include <stdlib.h>

#include "kvw_evict.h"

enum { SMALL = 0, MAIN = 1 };

static kvw_keyring *ghost(kvw_store *s)
{
	return s->priv;
}

static int32_t small_target(const kvw_store *s)
{
	int32_t t = s->cap / 10;
	return t > 0 ? t : 1;
}

static bool s3_init(kvw_store *s)
{
	kvw_keyring *g = calloc(1, sizeof *g);
	s->priv = g;
	return g && kvw_keyring_init(g, s->cap - small_target(s) > 0 ? s->cap - small_target(s) : 1);
}

static void s3_fini(kvw_store *s)
{
	kvw_keyring_free(s->priv);
	free(s->priv);
	s->priv = NULL;
}

static void s3_touch(kvw_store *s, int32_t slot)
{
	if (s->slot[slot].freq < 3)
		s->slot[slot].freq++;
}

/* M's tail: reinserted while its counter is positive, else evicted */
static void evict_main(kvw_store *s)
{
	while (s->len[MAIN] > 0) {
		int32_t t = s->tail[MAIN];
		if (s->slot[t].freq == 0) {
			kvw_store_drop(s, t);
			return;
		}
		s->slot[t].freq--;
		kvw_store_unlink(s, t);
		kvw_store_push_head(s, MAIN, t);
	}
}

/* S's tail: into M when it was hit, else out (key to the ghost) */
static void evict_small(kvw_store *s)
{
	while (s->len[SMALL] > 0) {
		int32_t t = s->tail[SMALL];
		if (s->slot[t].freq == 0) {
			uint64_t key = s->slot[t].key;
			kvw_store_drop(s, t);
			kvw_keyring_add(ghost(s), key);
			return;
		}
		kvw_store_unlink(s, t);
		s->slot[t].freq = 0;
		kvw_store_push_head(s, MAIN, t);
		if (s->len[MAIN] > s->cap - small_target(s))
			evict_main(s);
		if (s->used < s->cap)
			return;
	}
	evict_main(s);
}

static void s3_evict(kvw_store *s)
{
	if (s->len[SMALL] >= small_target(s) || s->len[MAIN] == 0)
		evict_small(s);
	else
		evict_main(s);
}

static void s3_admit(kvw_store *s, uint64_t key)
{
	while (s->used >= s->cap)
		s3_evict(s);
	int32_t slot = kvw_store_take(s, key);
	if (kvw_keyring_has(ghost(s), key)) {
		kvw_keyring_forget(ghost(s), key);
		kvw_store_push_head(s, MAIN, slot);
	} else {
		kvw_store_push_head(s, SMALL, slot);
	}
}

const kvw_evict_ops kvw_evict_s3fifo = {
	.name = "s3fifo",
	.summary = "S3-FIFO (Yang et al., SOSP'23): small + main FIFO queues and a ghost of one-hit wonders",
	.init = s3_init,
	.fini = s3_fini,
	.touch = s3_touch,
	.admit = s3_admit,
	.evict = s3_evict,
};
