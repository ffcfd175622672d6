/* cache_store.c — the pieces every eviction policy shares (kvw_evict.h):
 * the key map, a store's slots and lists, and the ghost key ring.
 *
 * The map is open addressing with linear probing at a load factor of at
 * most 1/2, and deletion by backward shift (Knuth vol. 3, 6.4, Algorithm
 * R), so no tombstones pile up in a store that evicts all the time.
 */
#include "kvw_evict.h"

#include <stdlib.h>
#include <string.h>

/* ---- key map ---------------------------------------------------------- */

static size_t home(const kvw_u64map *m, uint64_t key)
{
	key ^= key >> 31;
	key *= 0x9e3779b97f4a7c15ull;
	return (size_t)(key >> 17) & m->mask;
}

bool kvw_u64map_init(kvw_u64map *m, size_t entries)
{
	size_t n = 16;
	while (n < 2 * entries + 2)
		n <<= 1;
	m->key = malloc(n * sizeof *m->key);
	m->val = malloc(n * sizeof *m->val);
	m->mask = n - 1;
	if (!m->key || !m->val) {
		kvw_u64map_free(m);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		m->val[i] = -1;
	return true;
}

void kvw_u64map_free(kvw_u64map *m)
{
	if (!m)
		return;
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof *m);
}

static size_t probe(const kvw_u64map *m, uint64_t key)
{
	size_t i = home(m, key);
	while (m->val[i] >= 0 && m->key[i] != key)
		i = (i + 1) & m->mask;
	return i;
}

int64_t kvw_u64map_get(const kvw_u64map *m, uint64_t key)
{
	return m->val[probe(m, key)];
}

void kvw_u64map_put(kvw_u64map *m, uint64_t key, int64_t val)
{
	size_t i = probe(m, key);
	m->key[i] = key;
	m->val[i] = val;
}

void kvw_u64map_del(kvw_u64map *m, uint64_t key)
{
	size_t i = probe(m, key);
	if (m->val[i] < 0)
		return;
	/* shift back every entry of the run after i that may move into the hole */
	for (size_t j = (i + 1) & m->mask; m->val[j] >= 0; j = (j + 1) & m->mask) {
		size_t h = home(m, m->key[j]);
		/* j's home lies cyclically in (i, j]: it must stay */
		if ((i < j) ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		m->key[i] = m->key[j];
		m->val[i] = m->val[j];
		i = j;
	}
	m->val[i] = -1;
}

/* ---- store ------------------------------------------------------------- */

/* dense_n > 0: slot i holds key i (keys < dense_n), no map, no free list */
static bool store_init(kvw_store *s, int32_t cap, const kvw_evict_ops *ops, size_t dense_n)
{
	memset(s, 0, sizeof *s);
	s->cap = s->max_cap = cap;
	s->ops = ops;
	s->dense_n = dense_n;
	size_t n = dense_n ? dense_n : (size_t)(cap > 0 ? cap : 1);
	s->slot = calloc(n, sizeof *s->slot); /* zero pages: untouched until used */
	if (!s->slot || (!dense_n && !kvw_u64map_init(&s->map, (size_t)cap)))
		return false;
	for (int32_t i = 0; !dense_n && i < cap; i++)
		s->slot[i].next = i + 1 < cap ? i + 1 : KVW_NIL;
	s->free_head = !dense_n && cap > 0 ? 0 : KVW_NIL;
	for (int l = 0; l < KVW_STORE_LISTS; l++)
		s->head[l] = s->tail[l] = KVW_NIL;
	return ops->init(s);
}

bool kvw_store_init(kvw_store *s, int32_t cap, const kvw_evict_ops *ops)
{
	return store_init(s, cap, ops, 0);
}

bool kvw_store_init_dense(kvw_store *s, int32_t cap, const kvw_evict_ops *ops, size_t n)
{
	return store_init(s, cap, ops, n ? n : 1);
}

void kvw_store_track(kvw_store *s, kvw_presence *pres, int bit)
{
	s->pres = pres;
	s->bit = bit;
}

static void set_bit(kvw_store *s, uint64_t key, bool on)
{
	if (!s->pres || key >= s->pres->cap)
		return;
	uint64_t *w = &s->pres->bits[key * (size_t)s->pres->words + (size_t)(s->bit >> 6)];
	uint64_t m = 1ull << (s->bit & 63);
	*w = on ? *w | m : *w & ~m;
}

static void index_set(kvw_store *s, uint64_t key, int32_t slot)
{
	if (s->dense_n)
		; /* the slot is the key */
	else if (slot == KVW_NIL)
		kvw_u64map_del(&s->map, key);
	else
		kvw_u64map_put(&s->map, key, slot);
	set_bit(s, key, slot != KVW_NIL);
}

void kvw_store_free(kvw_store *s)
{
	if (!s)
		return;
	if (s->ops)
		s->ops->fini(s);
	kvw_u64map_free(&s->map);
	free(s->slot);
	memset(s, 0, sizeof *s);
}

int32_t kvw_store_find(const kvw_store *s, uint64_t key)
{
	if (s->dense_n)
		return key < s->dense_n && s->slot[key].in ? (int32_t)key : KVW_NIL;
	return (int32_t)kvw_u64map_get(&s->map, key);
}

bool kvw_store_touch(kvw_store *s, uint64_t key)
{
	int32_t slot = kvw_store_find(s, key);
	if (slot == KVW_NIL)
		return false;
	s->ops->touch(s, slot);
	return true;
}

void kvw_store_put(kvw_store *s, uint64_t key)
{
	if (kvw_store_touch(s, key))
		return;
	if (s->cap > 0) {
		s->ops->admit(s, key);
	} else { /* no room at all: in and out at once */
		s->evictions++;
		if (s->on_evict)
			s->on_evict(s->ctx, key);
	}
}

void kvw_store_limit(kvw_store *s, int32_t cap)
{
	s->cap = cap < 0 ? 0 : cap > s->max_cap ? s->max_cap : cap;
	while (s->used > s->cap)
		s->ops->evict(s);
}

int32_t kvw_store_take(kvw_store *s, uint64_t key)
{
	int32_t slot;
	if (s->dense_n) {
		slot = (int32_t)key;
	} else {
		slot = s->free_head;
		s->free_head = s->slot[slot].next;
	}
	s->slot[slot].in = 1;
	s->slot[slot].key = key;
	s->slot[slot].freq = 0;
	s->slot[slot].prev = s->slot[slot].next = KVW_NIL;
	s->used++;
	index_set(s, key, slot);
	return slot;
}

void kvw_store_push_head(kvw_store *s, int list, int32_t slot)
{
	s->slot[slot].list = (uint8_t)list;
	s->slot[slot].prev = KVW_NIL;
	s->slot[slot].next = s->head[list];
	if (s->head[list] != KVW_NIL)
		s->slot[s->head[list]].prev = slot;
	else
		s->tail[list] = slot;
	s->head[list] = slot;
	s->len[list]++;
}

void kvw_store_unlink(kvw_store *s, int32_t slot)
{
	int l = s->slot[slot].list;
	int32_t p = s->slot[slot].prev, n = s->slot[slot].next;
	if (p != KVW_NIL)
		s->slot[p].next = n;
	else
		s->head[l] = n;
	if (n != KVW_NIL)
		s->slot[n].prev = p;
	else
		s->tail[l] = p;
	s->slot[slot].prev = s->slot[slot].next = KVW_NIL;
	s->len[l]--;
}

void kvw_store_drop(kvw_store *s, int32_t slot)
{
	uint64_t key = s->slot[slot].key;
	kvw_store_unlink(s, slot);
	index_set(s, key, KVW_NIL);
	s->slot[slot].in = 0;
	if (!s->dense_n) {
		s->slot[slot].next = s->free_head;
		s->free_head = slot;
	}
	s->used--;
	s->evictions++;
	if (s->on_evict)
		s->on_evict(s->ctx, key);
}

/* ---- ghost ring -------------------------------------------------------- */

bool kvw_keyring_init(kvw_keyring *g, int32_t cap)
{
	memset(g, 0, sizeof *g);
	g->cap = cap > 0 ? cap : 1;
	g->ring = malloc((size_t)g->cap * sizeof *g->ring);
	g->seq = malloc((size_t)g->cap * sizeof *g->seq);
	return g->ring && g->seq && kvw_u64map_init(&g->map, (size_t)g->cap);
}

void kvw_keyring_free(kvw_keyring *g)
{
	if (!g)
		return;
	free(g->ring);
	free(g->seq);
	kvw_u64map_free(&g->map);
	memset(g, 0, sizeof *g);
}

bool kvw_keyring_has(const kvw_keyring *g, uint64_t key)
{
	return kvw_u64map_get(&g->map, key) >= 0;
}

void kvw_keyring_add(kvw_keyring *g, uint64_t key)
{
	if (g->n == g->cap) { /* the oldest falls out, unless it was added again since */
		uint64_t old = g->ring[g->head];
		if (kvw_u64map_get(&g->map, old) == g->seq[g->head])
			kvw_u64map_del(&g->map, old);
		g->head = (g->head + 1) % g->cap;
		g->n--;
	}
	int32_t at = (g->head + g->n) % g->cap;
	g->ring[at] = key;
	g->seq[at] = g->next_seq;
	kvw_u64map_put(&g->map, key, g->next_seq++);
	g->n++;
}

void kvw_keyring_forget(kvw_keyring *g, uint64_t key)
{
	kvw_u64map_del(&g->map, key);
}
