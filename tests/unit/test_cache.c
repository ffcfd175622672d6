/* test_cache.c — the tiered prefix cache (model/sim/kvw_cache.h): the key
 * map against a plain array, each eviction policy's order on hand-made
 * sequences, re-chunking, lookup/insertion/demotion across tiers, the
 * load / recompute / split prices against the physics (kvw_split_best),
 * and the properties of the replay the issue names: capacity 0 gives no
 * hits, a trace with no shared hash gives none, LRU's hit rate never
 * falls as a tier grows, tokens are conserved, refusals name the field. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kvw_cache.h"
#include "kvw_config.h"
#include "kvw_trace.h"

/* ---- the key map ------------------------------------------------------- */

static void test_map(void)
{
	enum { N = 2000, KEYS = 300 };
	kvw_u64map m;
	CHECK(kvw_u64map_init(&m, KEYS));
	int64_t want[KEYS];
	for (int i = 0; i < KEYS; i++)
		want[i] = -1;
	uint64_t x = 12345;
	int bad = 0;
	for (int i = 0; i < N; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		int k = (int)((x >> 33) % KEYS);
		uint64_t key = (uint64_t)k * 0x10000u; /* clustered keys stress the probing */
		if ((x >> 20) & 1) {
			kvw_u64map_put(&m, key, i);
			want[k] = i;
		} else {
			kvw_u64map_del(&m, key);
			want[k] = -1;
		}
		for (int j = 0; j < KEYS; j++)
			bad += kvw_u64map_get(&m, (uint64_t)j * 0x10000u) != want[j];
	}
	CHECK(bad == 0);
	kvw_u64map_free(&m);
}

/* ---- policies ------------------------------------------------------------ */

static long evicted_n;
static uint64_t evicted[64];
static void sink(void *ctx, uint64_t key)
{
	(void)ctx;
	if (evicted_n < 64)
		evicted[evicted_n] = key;
	evicted_n++;
}

static void test_lru(void)
{
	kvw_store s;
	CHECK(kvw_store_init(&s, 3, kvw_evict_find("lru")));
	s.on_evict = sink;
	evicted_n = 0;
	kvw_store_put(&s, 1), kvw_store_put(&s, 2), kvw_store_put(&s, 3);
	kvw_store_put(&s, 1); /* hit: 2 is now the least recent */
	kvw_store_put(&s, 4);
	CHECK(evicted_n == 1 && evicted[0] == 2);
	CHECK(kvw_store_find(&s, 1) != KVW_NIL && kvw_store_find(&s, 2) == KVW_NIL && s.used == 3);
	kvw_store_free(&s);
	CHECK(kvw_evict_find("LRU") && !kvw_evict_find("nope") && kvw_evict_count() >= 2);
}

static void test_s3fifo(void)
{
	kvw_store s;
	CHECK(kvw_store_init(&s, 10, kvw_evict_find("s3fifo"))); /* S holds 1, M 9 */
	s.on_evict = sink;
	evicted_n = 0;
	for (uint64_t k = 1; k <= 10; k++)
		kvw_store_put(&s, k);
	CHECK(s.used == 10 && evicted_n == 0);
	kvw_store_put(&s, 10); /* a hit on the newest: it will move to M instead of out */
	kvw_store_put(&s, 11);
	/* the S tail (1, never hit) leaves first, key into the ghost */
	CHECK(evicted_n == 1 && evicted[0] == 1);
	kvw_store_put(&s, 1); /* a ghost hit enters M directly */
	CHECK(kvw_store_find(&s, 1) != KVW_NIL && s.slot[kvw_store_find(&s, 1)].list == 1);
	CHECK(s.used == 10);
	/* a long scan of one-time keys never evicts a block hit twice */
	kvw_store_put(&s, 1), kvw_store_put(&s, 1);
	for (uint64_t k = 100; k < 200; k++)
		kvw_store_put(&s, k);
	CHECK(kvw_store_find(&s, 1) != KVW_NIL && s.used == 10);
	kvw_store_free(&s);
}

/* ---- a scenario and hand-made workloads --------------------------------- */

static kvw_arch arch8b;

static kvw_scenario scenario(void)
{
	kvw_scenario sc = { .arch = &arch8b, .kv = { KVW_DT_BF16, 1 }, .causal = true, .compute_slowdown = 1,
	                    .copy_slowdown = 1 };
	sc.compute.gemm.constant = sc.compute.attn.constant = 400e12;
	return sc;
}

/* requests r: hashes given as rows, -1 ends a row; tokens = 512 x count */
static void make_workload(kvw_workload *w, int n, const int rows[][8])
{
	memset(w, 0, sizeof *w);
	w->req = calloc((size_t)n, sizeof *w->req);
	w->hashes = calloc((size_t)n * 8, sizeof *w->hashes);
	w->hash_block = 512;
	snprintf(w->name, sizeof w->name, "hand-made");
	for (int r = 0; r < n; r++) {
		kvw_request *q = &w->req[w->n++];
		q->arrival_s = r;
		q->output_tokens = 1;
		q->hash_off = w->n_hashes;
		for (int j = 0; j < 8 && rows[r][j] >= 0; j++)
			w->hashes[w->n_hashes++] = (uint64_t)rows[r][j], q->n_hash++;
		q->input_tokens = 512L * q->n_hash;
	}
}

static kvw_cache_cfg cfg_one(double hbm_blocks, double dram_blocks)
{
	kvw_scenario sc = scenario();
	double bb = kvw_kv_bytes_per_token(&arch8b, &sc.kv) * 512;
	kvw_cache_cfg g = { .instances = 1, .instances_per_node = 1, .block_tokens = 512, .trace_block = 512 };
	g.tier[KVW_TIER_HBM].capacity_bytes = hbm_blocks * bb;
	g.tier[KVW_TIER_DRAM].capacity_bytes = dram_blocks * bb;
	g.tier[KVW_TIER_DRAM].link = (kvw_link){ 5e-6, 50e9 };
	return g;
}

static void test_keys(void)
{
	static const int rows[][8] = { { 7, 8, 9, -1 } };
	kvw_workload w;
	make_workload(&w, 1, rows);
	w.req[0].input_tokens = 512 * 2 + 300; /* last block partial */
	kvw_scenario sc = scenario();
	uint64_t k512[8], k256[16], k1024[4];
	long full;
	kvw_cache *c;
	kvw_cache_cfg g = cfg_one(4, 0);
	CHECK(kvw_cache_new(&g, &sc, 0, &c, NULL) == KVW_OK);
	CHECK(kvw_cache_keys(c, &w, 0, k512, 8, &full) == 2 && full == 1024); /* only full blocks */
	kvw_cache_free(c);
	g.block_tokens = 256;
	CHECK(kvw_cache_new(&g, &sc, 0, &c, NULL) == KVW_OK);
	CHECK(kvw_cache_keys(c, &w, 0, k256, 16, &full) == 5 && full == 1280); /* 2 + 2 + floor(300/256) */
	CHECK(k256[0] != k256[1] && k256[1] != k256[2] && k256[3] != k256[4] && kvw_cache_distinct(c) == 5);
	kvw_cache_free(c);
	g.block_tokens = 1024;
	CHECK(kvw_cache_new(&g, &sc, 0, &c, NULL) == KVW_OK);
	CHECK(kvw_cache_keys(c, &w, 0, k1024, 4, &full) == 1 && full == 1024);
	kvw_cache_free(c);
	kvw_diag d = { "" };
	g.block_tokens = 300;
	CHECK(kvw_cache_new(&g, &sc, 0, &c, &d) == KVW_EUSAGE && strstr(d.msg, "divide"));
	g.block_tokens = 512;
	g.tier[KVW_TIER_DRAM].capacity_bytes = 1000; /* below one block */
	CHECK(kvw_cache_new(&g, &sc, 0, &c, &d) == KVW_EUSAGE && strstr(d.msg, "hold no block") && c == NULL);
	/* no hashes: refused, or unique keys when asked */
	g.tier[KVW_TIER_DRAM].capacity_bytes = 0;
	w.req[0].n_hash = 0;
	CHECK(kvw_cache_new(&g, &sc, 0, &c, NULL) == KVW_OK);
	CHECK(kvw_cache_keys(c, &w, 0, k512, 8, &full) == -1);
	kvw_cache_free(c);
	g.unique_without_hashes = true;
	CHECK(kvw_cache_new(&g, &sc, 0, &c, NULL) == KVW_OK);
	CHECK(kvw_cache_keys(c, &w, 0, k512, 8, &full) == 2);
	kvw_cache_free(c);
	kvw_workload_free(&w);
}

/* the cache's ids for a request whose trace hashes are h[0..n) (512 tokens each) */
static int ids_for(kvw_cache *c, const uint64_t *h, int n, uint64_t *ids, int cap)
{
	kvw_request q = { .input_tokens = 512L * n, .output_tokens = 1, .n_hash = n };
	kvw_workload w = { .req = &q, .n = 1, .hashes = (uint64_t *)h, .n_hashes = (size_t)n, .hash_block = 512 };
	return kvw_cache_keys(c, &w, 0, ids, cap, NULL);
}

/* HBM of 2 blocks, DRAM of 4: demotion and promotion */
static void test_tiers(void)
{
	kvw_scenario sc = scenario();
	kvw_cache_cfg g = cfg_one(2, 4);
	kvw_cache *c;
	CHECK(kvw_cache_new(&g, &sc, 0, &c, NULL) == KVW_OK);
	uint64_t ha[3] = { 1, 2, 3 }, hb[2] = { 10, 11 }, a[3], b[2];
	CHECK(ids_for(c, ha, 3, a, 3) == 3 && ids_for(c, hb, 2, b, 2) == 2);
	kvw_cache_hit hit;
	kvw_cache_lookup(c, 0, a, 3, &hit);
	CHECK(hit.prefix_blocks == 0);
	kvw_cache_insert(c, 0, a, 3, &hit); /* HBM keeps the head 1, 2; 3 goes down to DRAM */
	kvw_cache_lookup(c, 0, a, 3, &hit);
	CHECK(hit.prefix_blocks == 3 && hit.hbm_lead == 2 && hit.tier_blocks[KVW_TIER_DRAM] == 1);
	kvw_cache_insert(c, 0, b, 2, NULL); /* 1 and 2 are demoted */
	kvw_cache_lookup(c, 0, a, 3, &hit);
	CHECK(hit.prefix_blocks == 3 && hit.hbm_lead == 0 && hit.tier_blocks[KVW_TIER_DRAM] == 3);
	int lead, tb[KVW_TIERS];
	CHECK(kvw_cache_match(c, 0, b, 2, &lead, tb) == 2 && lead == 2 && tb[KVW_TIER_HBM] == 2);
	kvw_cache_free(c);
}

/* prices: one DRAM tier, h = 0: the split equals the physics split */
static void test_price(void)
{
	kvw_scenario sc = scenario();
	kvw_cache_cfg g = cfg_one(0, 1000);
	g.block_tokens = 16;
	g.tier[KVW_TIER_DRAM].link = (kvw_link){ 20e-6, 2e9 }; /* a slow tier: the split matters */
	kvw_cache *c;
	CHECK(kvw_cache_new(&g, &sc, 0, &c, NULL) == KVW_OK);
	uint64_t keys[512], h[16];
	for (int i = 0; i < 16; i++)
		h[i] = 1000 + (uint64_t)i;
	CHECK(ids_for(c, h, 16, keys, 512) == 512); /* 16 trace blocks = 512 blocks of 16 tokens */
	kvw_cache_insert(c, 0, keys, 512, NULL); /* no HBM: written to DRAM */
	kvw_cache_hit hit;
	kvw_cache_lookup(c, 0, keys, 512, &hit);
	CHECK(hit.prefix_blocks == 512 && hit.tier_blocks[KVW_TIER_DRAM] == 512);
	kvw_cache_price_t p;
	long L = 8192 + 1000;
	kvw_cache_price(c, &hit, L, 5.0, 5.0, &p);
	kvw_scenario ts = kvw_cache_tier_scenario(c, KVW_TIER_DRAM, 2e9);
	kvw_split best;
	kvw_split_best(&ts, 8192, &best);
	CHECK(p.choice == KVW_CHOICE_SPLIT);
	CHECK(p.prefix_s <= best.split_s * 1.01 && p.prefix_s >= best.split_s * 0.99); /* block-aligned k */
	CHECK(labs(p.split_tokens - best.best_prefix) <= 16);
	CHECK(p.used_tokens + p.compute_tokens == L);
	CHECK_NEAR(p.suffix_s, kvw_recompute_s(&sc, (double)L) - kvw_recompute_s(&sc, 8192), 1e-9);
	/* a prefetch started just before: still a split, and the part that ran while queued is hidden */
	kvw_cache_price(c, &hit, L, 4.99, 5.0, &p);
	CHECK(p.choice == KVW_CHOICE_SPLIT && p.load_s > 0.01);
	CHECK_NEAR(p.hidden_s, 0.01, 1e-9);
	/* prefetch that started long before: loading is free, all hidden */
	kvw_cache_price(c, &hit, L, 0.0, 5.0, &p);
	CHECK(p.choice == KVW_CHOICE_LOAD && p.prefix_s == 0 && p.hidden_s == p.load_s && p.load_s > 0);
	CHECK(p.used_tokens == 8192 && p.compute_tokens == 1000);
	/* a tiny hit on a slow link: recompute */
	kvw_cache_lookup(c, 0, keys, 1, &hit);
	g.tier[KVW_TIER_DRAM].link.alpha_s = 0.05;
	kvw_cache_free(c);
	CHECK(kvw_cache_new(&g, &sc, 0, &c, NULL) == KVW_OK);
	CHECK(ids_for(c, h, 1, keys, 1) == 1);
	kvw_cache_insert(c, 0, keys, 1, NULL);
	kvw_cache_lookup(c, 0, keys, 1, &hit);
	kvw_cache_price(c, &hit, 100, 1.0, 1.0, &p);
	CHECK(p.choice == KVW_CHOICE_RECOMPUTE && p.used_tokens == 0 && p.compute_tokens == 100);
	/* all cached: the last token is still computed */
	kvw_cache_price(c, &hit, 16, 0.0, 1.0, &p);
	CHECK(p.compute_tokens == 1 && p.used_tokens == 15);
	kvw_cache_free(c);
}

/* ---- replays --------------------------------------------------------------- */

static kvw_cache_stats replay(const kvw_workload *w, kvw_cache_cfg g, const char *route)
{
	kvw_scenario sc = scenario();
	kvw_cache_stats st;
	kvw_replay_cfg rc = { .route = route, .prefetch = true };
	kvw_diag d = { "" };
	kvw_err err = kvw_cache_replay(&g, &rc, &sc, w, &st, &d);
	if (err)
		fprintf(stderr, "replay: %s\n", d.msg);
	CHECK(err == KVW_OK);
	return st;
}

static void test_replay_small(void)
{
	static const int shared[][8] = { { 1, 2, 3, -1 }, { 1, 2, 4, -1 }, { 1, 5, -1 }, { 1, 2, 3, 6, -1 } };
	static const int unique[][8] = { { 1, 2, -1 }, { 3, 4, -1 }, { 5, -1 }, { 6, 7, 8, -1 } };
	kvw_workload w;
	make_workload(&w, 4, shared);
	kvw_cache_stats st = replay(&w, cfg_one(100, 0), "single");
	/* hits: 2 + 1 + 3 blocks of 12 */
	CHECK(st.hit_blocks[KVW_TIER_HBM] == 6 && st.blocks == 12 && st.requests == 4);
	CHECK_NEAR(kvw_cache_token_hit_rate(&st, -1), 6.0 / 12.0, 1e-12);
	CHECK(st.used_tokens[KVW_TIER_HBM] + st.computed_tokens == st.input_tokens);
	st = replay(&w, cfg_one(0, 0), "single"); /* capacity 0: no cache at all */
	CHECK(st.hit_blocks[0] + st.hit_blocks[1] == 0 && st.computed_tokens == st.input_tokens);
	CHECK_NEAR(st.gpu_s, st.nocache_gpu_s, 1e-12);
	kvw_workload_free(&w);
	make_workload(&w, 4, unique);
	st = replay(&w, cfg_one(100, 100), "single");
	CHECK(kvw_cache_token_hit_rate(&st, -1) == 0);
	kvw_workload_free(&w);
}

static void test_replay_trace(void)
{
	kvw_workload w;
	kvw_diag d = { "" };
	if (kvw_trace_open("mooncake-conversation", &w, &d)) {
		fprintf(stderr, "%s\n", d.msg);
		CHECK(0);
		return;
	}
	/* unbounded, the whole trace: the exact value is checked against Python in tests/cache */
	kvw_cache_stats full = replay(&w, cfg_one(1e9, 0), "single");
	CHECK(kvw_cache_token_hit_rate(&full, -1) > 0.3 && kvw_cache_token_hit_rate(&full, -1) < 0.45);
	/* LRU: hit rate never falls as HBM grows (one instance, one tier: LRU's
	 * inclusion property), nor as DRAM grows under a fixed HBM; the first
	 * 3000 requests keep this quick under the sanitizers */
	w.n = 3000;
	double last = -1, last2 = -1;
	int falls = 0, falls2 = 0;
	for (double blocks = 1; blocks <= 100000; blocks *= 10) {
		kvw_cache_stats st = replay(&w, cfg_one(blocks, 0), "single");
		double h = kvw_cache_token_hit_rate(&st, -1);
		falls += h < last;
		last = h;
		st = replay(&w, cfg_one(64, blocks), "single");
		h = kvw_cache_token_hit_rate(&st, -1);
		falls2 += h < last2 - 1e-12;
		last2 = h;
	}
	CHECK(falls == 0 && falls2 == 0 && last > 0.2);
	/* four instances round-robin hit less than one shared cache */
	kvw_cache_cfg g = cfg_one(1000, 0);
	g.instances = 4;
	kvw_cache_stats rr = replay(&w, g, "round-robin"), pa = replay(&w, g, "prefix-aware");
	CHECK(kvw_cache_token_hit_rate(&rr, -1) < kvw_cache_token_hit_rate(&pa, -1));
	CHECK(pa.ttft_p50 <= pa.ttft_p90 && pa.ttft_p90 <= pa.ttft_p99);
	/* conservation of tokens with every tier */
	g.tier[KVW_TIER_SSD].capacity_bytes = g.tier[KVW_TIER_DRAM].capacity_bytes = 2000 * kvw_kv_bytes_per_token(
		&arch8b, &(kvw_kvfmt){ KVW_DT_BF16, 1 }) * 512;
	g.tier[KVW_TIER_SSD].link = (kvw_link){ 80e-6, 6e9 };
	g.tier[KVW_TIER_SSD].policy = "s3fifo";
	kvw_cache_stats all = replay(&w, g, "round-robin");
	double used = 0;
	for (int t = 0; t < KVW_TIERS; t++)
		used += all.used_tokens[t];
	CHECK_NEAR(used + all.computed_tokens, all.input_tokens, 1e-12);
	CHECK(all.hit_tokens[KVW_TIER_SSD] > 0 && all.hit_tokens[KVW_TIER_DRAM] > 0);
	kvw_workload_free(&w);
}

static void test_replay_refusals(void)
{
	static const int rows[][8] = { { 1, -1 }, { 1, -1 } };
	kvw_workload w;
	make_workload(&w, 2, rows);
	w.req[1].n_hash = 0;
	kvw_scenario sc = scenario();
	kvw_cache_stats st;
	kvw_diag d = { "" };
	kvw_cache_cfg g = cfg_one(10, 0);
	CHECK(kvw_cache_replay(&g, NULL, &sc, &w, &st, &d) == KVW_EINPUT && strstr(d.msg, "hash_ids"));
	g.unique_without_hashes = true;
	CHECK(kvw_cache_replay(&g, NULL, &sc, &w, &st, &d) == KVW_OK && st.hit_blocks[0] == 0);
	kvw_replay_cfg rc = { .route = "nowhere" };
	CHECK(kvw_cache_replay(&g, &rc, &sc, &w, &st, &d) == KVW_EUSAGE && strstr(d.msg, "nowhere"));
	kvw_workload_free(&w);
}

int main(void)
{
	kvw_diag d = { "" };
	if (kvw_catalog_model("llama-3-8b", &arch8b, &d)) {
		fprintf(stderr, "%s\n", d.msg);
		return 1;
	}
	test_map();
	test_lru();
	test_s3fifo();
	test_keys();
	test_tiers();
	test_price();
	test_replay_small();
	test_replay_trace();
	test_replay_refusals();
	return check_done("test_cache");
}
