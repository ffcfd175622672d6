/* probe_hbm.c — HBM bandwidth and KV pack/unpack on one GPU.
 *
 *   hbm      copy, read, write, triad kernels (kernels/hbm.cu) and the
 *            cudaMemcpy device-to-device reference, at sizes far past L2.
 *            GB/s counts HBM traffic: copy and cudaMemcpy read + write,
 *            triad two reads + one write, read and write one pass; the
 *            record's bytes are that traffic per iteration.  Then
 *            cudaMemcpyAsync D2D 4 KiB .. 1 GiB as a transfer path (payload
 *            GB/s, one direction), fitted into profile.links as hbm_d2d.
 *   kv_pack  a paged KV cache of the --model's per-layer token size in
 *            16-token blocks, gathered into one send buffer (pack) and
 *            scattered back (unpack); GB/s counts the KV payload.  Where the
 *            two pools and the send buffer do not fit in free GPU memory the
 *            probe is recorded as skipped, saying how much it needs.
 * Every output is checked element by element after the timing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvw_gpu.h"
#include "out.h"
#include "probe.h"

static const char *need_gpu(const kvw_mpi *mpi)
{
	(void)mpi;
	return kvw_gpu_unavailable(1);
}

#ifdef KVW_HAVE_CUDA
#include "kvw_config.h"
#include "kvw_cuda.h"
#include "kvw_fit.h"
#include "kvw_gbench.h"
#include "kvw_gpuplan.h"
#include "kvw_kernels.h"

#define SEED_B 11u
#define SEED_C 22u
#define SEED_W 33u

typedef struct hbm_job {
	int op; /* kvw_hbm_op, or -1 for cudaMemcpyAsync */
	void *a, *b, *c;
	size_t n;
	unsigned *xor_dev;
	int blocks;
	int reps; /* launches between one pair of events */
	kvw_evtimer t;
} hbm_job;

static int hbm_once(void *arg)
{
	hbm_job *j = arg;
	cudaError_t e = j->op < 0 ? cudaMemcpyAsync(j->a, j->b, j->n * 16, cudaMemcpyDeviceToDevice, j->t.stream)
		: kvw_hbm_run((kvw_hbm_op)j->op, j->a, j->b, j->c, j->n, SEED_W, j->xor_dev, j->blocks, j->t.stream);
	return e != cudaSuccess;
}

/* reps launches (or copies) between one pair of events, as BabelStream and
 * nvbandwidth time them: seconds per launch, no launch gap in between */
static double time_hbm(void *arg)
{
	hbm_job *j = arg;
	kvw_marks m = kvw_evtimer_marks(&j->t);
	return kvw_time_loop(j->reps > 0 ? j->reps : 1, hbm_once, j, &m);
}

static const char *op_name(int op)
{
	static const char *const n[] = { "copy", "read", "write", "triad" };
	return op < 0 ? "cudaMemcpy_d2d" : n[op];
}

/* checks what op left in a (or the xor it computed); returns wrong elements or -1 */
static long long verify(hbm_job *j, unsigned long long *wrong_dev)
{
	unsigned long long wrong = 0;
	unsigned x = 0;
	if (j->op == KVW_HBM_READ) {
		if (cudaMemset(j->xor_dev, 0, sizeof *j->xor_dev) != cudaSuccess
		    || kvw_hbm_run(KVW_HBM_READ, NULL, j->b, NULL, j->n, 0, j->xor_dev, j->blocks, 0) != cudaSuccess
		    || cudaMemcpy(&x, j->xor_dev, sizeof x, cudaMemcpyDeviceToHost) != cudaSuccess)
			return -1;
		return x != kvw_hbm_expected_xor(j->n, SEED_B);
	}
	kvw_hbm_op op = j->op == KVW_HBM_WRITE ? KVW_HBM_WRITE : j->op == KVW_HBM_TRIAD ? KVW_HBM_TRIAD : KVW_HBM_COPY;
	unsigned sb = op == KVW_HBM_WRITE ? SEED_W : SEED_B;
	if (cudaMemset(wrong_dev, 0, sizeof *wrong_dev) != cudaSuccess
	    || kvw_hbm_check(op, j->a, j->n, sb, SEED_C, wrong_dev, 0) != cudaSuccess
	    || cudaMemcpy(&wrong, wrong_dev, sizeof wrong, cudaMemcpyDeviceToHost) != cudaSuccess)
		return -1;
	return (long long)wrong;
}

static kvw_err hbm_size(kvw_probe_run *r, size_t bytes, json_t *summary, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	hbm_job j = { .n = bytes / 16, .blocks = kvw_hbm_blocks() };
	unsigned long long *wrong_dev = NULL;
	KVW_CU(kvw_evtimer_init(&j.t, 0));
	KVW_CU(cudaMalloc(&j.a, bytes));
	KVW_CU(cudaMalloc(&j.b, bytes));
	KVW_CU(cudaMalloc(&j.c, bytes));
	KVW_CU(cudaMalloc((void **)&j.xor_dev, sizeof *j.xor_dev));
	KVW_CU(cudaMalloc((void **)&wrong_dev, sizeof *wrong_dev));
	KVW_CU(kvw_hbm_fill(j.b, j.n, SEED_B, 0));
	KVW_CU(kvw_hbm_fill(j.c, j.n, SEED_C, 0));
	for (int op = -1; op <= KVW_HBM_TRIAD; op++) {
		char variant[64], name[96];
		snprintf(variant, sizeof variant, "%s_%zuMiB", op_name(op), bytes >> 20);
		snprintf(name, sizeof name, "hbm/%s", variant);
		kvw_record rec = kvw_record_new("hbm", variant);
		rec.bytes = (double)j.n * (op < 0 ? 32 : kvw_hbm_traffic((kvw_hbm_op)op));
		rec.iterations = j.reps = r->quick ? 5 : 20; /* launches per repetition, one pair of events */
		rec.repetitions = r->quick ? 5 : 7;
		j.op = op;
		KVW_CU(cudaMemset(j.a, 0xA5, bytes)); /* poison: every element must be written */
		if ((err = kvw_gbench_measure(name, time_hbm, &j, 1, rec.repetitions, &rec.time_s, d)))
			goto out;
		j.reps = 1; /* the verification run: one launch */
		rec.gbps = rec.bytes / rec.time_s.median / 1e9;
		KVW_CU(cudaMemset(j.a, 0xA5, bytes));
		if (op != KVW_HBM_READ && time_hbm(&j) < 0) {
			err = kvw_fail(d, KVW_EDRIVER, "hbm %s: the verification run failed", variant);
			goto out;
		}
		long long wrong = verify(&j, wrong_dev);
		if (wrong < 0) {
			err = kvw_fail(d, KVW_EDRIVER, "hbm %s: the check kernel failed", variant);
			goto out;
		}
		rec.checked = op == KVW_HBM_READ ? 1 : (long long)j.n;
		rec.wrong = wrong;
		if (wrong) {
			rec.status = KVW_ST_FAILED;
			snprintf(rec.reason, sizeof rec.reason, "%lld wrong 16-byte elements", wrong);
		}
		char key[32];
		snprintf(key, sizeof key, "%s_GBps", op_name(op));
		if (rec.status == KVW_ST_OK) /* a kernel checked wrong gives no figure */
			json_object_set_new(summary, key, kvw_num(rec.gbps));
		if ((err = kvw_probe_emit(r, &rec, d)))
			goto out;
	}
out:
	cudaFree(j.a);
	cudaFree(j.b);
	cudaFree(j.c);
	cudaFree(j.xor_dev);
	cudaFree(wrong_dev);
	kvw_evtimer_destroy(&j.t);
	return err;
}

/* cudaMemcpyAsync device to device as a KV transfer path (two instances on
 * one GPU): 4 KiB .. 1 GiB, GB/s of payload (one direction, unlike the
 * traffic above), fitted into profile.links as "hbm_d2d"; each size's copy
 * is checked */
static kvw_err d2d_sweep(kvw_probe_run *r, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	size_t max = r->quick ? ((size_t)256 << 20) : ((size_t)1 << 30), step = r->quick ? 16 : 4;
	hbm_job j = { .op = -1 };
	unsigned long long *wrong_dev = NULL;
	double sizes[16], times[16];
	int n = 0;
	KVW_CU(kvw_evtimer_init(&j.t, 0));
	KVW_CU(cudaMalloc(&j.a, max));
	KVW_CU(cudaMalloc(&j.b, max));
	KVW_CU(cudaMalloc((void **)&wrong_dev, sizeof *wrong_dev));
	int first = r->n_records;
	for (size_t bytes = 4096; bytes <= max && n < 16; bytes *= step) {
		j.n = bytes / 16;
		KVW_CU(kvw_hbm_fill(j.b, j.n, SEED_B, 0));
		KVW_CU(cudaMemset(j.a, 0xA5, bytes));
		char variant[64];
		snprintf(variant, sizeof variant, "d2d_payload_%zuKiB", bytes >> 10);
		kvw_record rec = kvw_record_new("hbm", variant);
		rec.bytes = (double)bytes;
		rec.iterations = j.reps = r->quick ? 5 : (bytes < (1u << 24) ? 50 : 10);
		rec.repetitions = r->quick ? 5 : 5;
		if ((err = kvw_gbench_measure(variant, time_hbm, &j, 1, rec.repetitions, &rec.time_s, d)))
			goto out;
		rec.gbps = rec.bytes / rec.time_s.median / 1e9;
		/* poison, one more copy, then check: the timed copies left the right bytes */
		j.reps = 1;
		KVW_CU(cudaMemset(j.a, 0xA5, bytes));
		if (time_hbm(&j) < 0) {
			err = kvw_fail(d, KVW_EDRIVER, "hbm %s: the verification copy failed", variant);
			goto out;
		}
		long long wrong = verify(&j, wrong_dev);
		if (wrong < 0) {
			err = kvw_fail(d, KVW_EDRIVER, "hbm %s: the check kernel failed", variant);
			goto out;
		}
		rec.checked = (long long)j.n;
		rec.wrong = wrong;
		if (wrong) {
			rec.status = KVW_ST_FAILED;
			snprintf(rec.reason, sizeof rec.reason, "%lld wrong 16-byte elements", wrong);
		}
		sizes[n] = rec.bytes;
		times[n++] = rec.time_s.median;
		if ((err = kvw_probe_emit(r, &rec, d)))
			goto out;
	}
	kvw_linkfit f;
	if (kvw_fit_link(sizes, times, n, &f))
		kvw_probe_add_link(r, first, "hbm_d2d", "device", f.alpha_s, f.bw, f.n, f.r2);
out:
	cudaFree(j.a);
	cudaFree(j.b);
	cudaFree(wrong_dev);
	kvw_evtimer_destroy(&j.t);
	return err;
}

static kvw_err hbm_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	size_t free_b = 0, total = 0;
	kvw_err err = KVW_OK;
	KVW_CU(cudaMemGetInfo(&free_b, &total));
	size_t sizes[] = { (size_t)256 << 20, (size_t)1 << 30, (size_t)4 << 30 };
	int first = r->quick ? 1 : 0, last = r->quick ? 1 : 2;
	json_t *summary = kvw_probe_section(r, "hbm", false);
	json_object_set_new(summary, "convention", json_string("GB/s of HBM traffic: copy and cudaMemcpy count "
	                    "read + write, triad 2 reads + 1 write, read and write one pass"));
	for (int i = first; i <= last; i++) {
		if (3 * sizes[i] + ((size_t)512 << 20) > free_b)
			break;
		json_object_set_new(summary, "bytes_per_buffer", json_integer((json_int_t)sizes[i]));
		if ((err = hbm_size(r, sizes[i], summary, d)))
			break;
	}
	if (!err)
		err = d2d_sweep(r, d);
out:
	return err;
}

/* ---- kv_pack ------------------------------------------------------------------- */

typedef struct pack_job {
	bool unpack;
	void *pool, *pool2, *send;
	int *table;
	int layers, seq_blocks, pool_blocks;
	size_t block_bytes;
	int reps;
	kvw_evtimer t;
} pack_job;

static int pack_once(void *arg)
{
	pack_job *j = arg;
	cudaError_t e = j->unpack
		? kvw_kv_unpack(j->pool2, j->send, j->table, j->layers, j->seq_blocks, j->pool_blocks, j->block_bytes, j->t.stream)
		: kvw_kv_pack(j->send, j->pool, j->table, j->layers, j->seq_blocks, j->pool_blocks, j->block_bytes, j->t.stream);
	return e != cudaSuccess;
}

static double time_pack(void *arg)
{
	pack_job *j = arg;
	kvw_marks m = kvw_evtimer_marks(&j->t);
	return kvw_time_loop(j->reps > 0 ? j->reps : 1, pack_once, j, &m);
}

static kvw_err pack_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	kvw_arch *a = malloc(sizeof *a);
	pack_job j = { 0 };
	int *table = NULL;
	unsigned long long *wrong_dev = NULL;
	kvw_err err = a ? kvw_probe_model(r, a, d) : kvw_fail(d, KVW_ESYS, "out of memory");
	if (err)
		goto out;
	kvw_kvfmt f = { KVW_DT_BF16, 1 };
	const int block_tokens = 16, seq_tokens = r->quick ? 8192 : 32768;
	j.layers = a->n_layers;
	j.seq_blocks = seq_tokens / block_tokens;
	j.pool_blocks = 2 * j.seq_blocks;
	j.block_bytes = (size_t)(block_tokens * kvw_kv_bytes_per_token_layer(a, &f));
	if (j.block_bytes % 16) {
		err = kvw_fail(d, KVW_EUSAGE, "kv_pack: %zu-byte blocks are not a multiple of 16", j.block_bytes);
		goto out;
	}
	size_t pool_bytes = (size_t)j.layers * j.pool_blocks * j.block_bytes;
	size_t send_bytes = (size_t)j.layers * j.seq_blocks * j.block_bytes;
	/* two pools and the send buffer must fit (Llama-2-7B at 32k tokens: ~80 GiB,
	 * past an 80 GB card): else skipped, saying what it needs */
	size_t free_b = 0, total_b = 0;
	char why[256], what[128];
	KVW_CU(cudaMemGetInfo(&free_b, &total_b));
	snprintf(what, sizeof what, "kv_pack %s at %d tokens", a->name, seq_tokens);
	if (!kvw_fits_memory(what, 2 * pool_bytes + send_bytes, free_b, (size_t)1 << 30, why, sizeof why)) {
		kvw_record rec = kvw_record_new("kv_pack", a->name);
		rec.status = KVW_ST_SKIPPED;
		snprintf(rec.reason, sizeof rec.reason, "%s", why);
		err = kvw_probe_emit(r, &rec, d);
		goto out;
	}
	table = malloc((size_t)j.seq_blocks * sizeof *table);
	int *perm = malloc((size_t)j.pool_blocks * sizeof *perm);
	if (!table || !perm) {
		free(perm);
		err = kvw_fail(d, KVW_ESYS, "out of memory");
		goto out;
	}
	/* a random block table: the sequence's blocks are scattered over the pool */
	for (int i = 0; i < j.pool_blocks; i++)
		perm[i] = i;
	unsigned long long x = 88172645463325252ull;
	for (int i = j.pool_blocks - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int k = (int)(x % (unsigned long long)(i + 1)), t = perm[i];
		perm[i] = perm[k], perm[k] = t;
	}
	memcpy(table, perm, (size_t)j.seq_blocks * sizeof *table);
	free(perm);
	KVW_CU(kvw_evtimer_init(&j.t, 0));
	KVW_CU(cudaMalloc(&j.pool, pool_bytes));
	KVW_CU(cudaMalloc(&j.pool2, pool_bytes));
	KVW_CU(cudaMalloc(&j.send, send_bytes));
	KVW_CU(cudaMalloc((void **)&j.table, (size_t)j.seq_blocks * sizeof *table));
	KVW_CU(cudaMalloc((void **)&wrong_dev, sizeof *wrong_dev));
	KVW_CU(cudaMemcpy(j.table, table, (size_t)j.seq_blocks * sizeof *table, cudaMemcpyHostToDevice));
	KVW_CU(kvw_hbm_fill(j.pool, pool_bytes / 16, SEED_B, 0));
	for (int unpack = 0; unpack <= 1; unpack++) {
		char variant[96];
		snprintf(variant, sizeof variant, "%s_%s_%dtok_block%d", unpack ? "unpack" : "pack", a->name,
		         seq_tokens, block_tokens);
		kvw_record rec = kvw_record_new("kv_pack", variant);
		rec.bytes = (double)send_bytes;
		rec.iterations = j.reps = r->quick ? 5 : 20;
		rec.repetitions = r->quick ? 5 : 7;
		j.unpack = unpack;
		if ((err = kvw_gbench_measure("kv_pack", time_pack, &j, 1, rec.repetitions, &rec.time_s, d)))
			goto out;
		/* poison the destination, one more run, then check every element */
		j.reps = 1;
		KVW_CU(cudaMemset(unpack ? j.pool2 : j.send, 0xA5, unpack ? pool_bytes : send_bytes));
		if (time_pack(&j) < 0) {
			err = kvw_fail(d, KVW_EDRIVER, "kv_pack %s: the verification run failed", variant);
			goto out;
		}
		rec.gbps = rec.bytes / rec.time_s.median / 1e9;
		unsigned long long wrong = 0;
		KVW_CU(cudaMemset(wrong_dev, 0, sizeof *wrong_dev));
		KVW_CU(unpack ? kvw_kv_check_pool(j.pool2, j.table, j.layers, j.seq_blocks, j.pool_blocks, j.block_bytes,
		                                  SEED_B, wrong_dev, 0)
		              : kvw_kv_check_send(j.send, j.table, j.layers, j.seq_blocks, j.pool_blocks, j.block_bytes,
		                                  SEED_B, wrong_dev, 0));
		KVW_CU(cudaMemcpy(&wrong, wrong_dev, sizeof wrong, cudaMemcpyDeviceToHost));
		rec.checked = (long long)(send_bytes / 16);
		rec.wrong = (long long)wrong;
		if (wrong) {
			rec.status = KVW_ST_FAILED;
			snprintf(rec.reason, sizeof rec.reason, "%llu wrong 16-byte elements", wrong);
		}
		if ((err = kvw_probe_emit(r, &rec, d)))
			goto out;
	}
out:
	cudaFree(j.pool);
	cudaFree(j.pool2);
	cudaFree(j.send);
	cudaFree(j.table);
	cudaFree(wrong_dev);
	kvw_evtimer_destroy(&j.t);
	free(table);
	free(a);
	return err;
}

#else /* built without CUDA: unavailable() always says so and run() is never called */

static kvw_err hbm_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)r, (void)state;
	return kvw_fail(d, KVW_EDRIVER, "built without CUDA");
}
#define pack_run hbm_run

#endif

const kvw_probe kvw_probe_hbm = {
	.name = "hbm",
	.summary = "HBM copy/read/write/triad kernels and the cudaMemcpy D2D reference (traffic GB/s), verified",
	.needs = KVW_NEED_CUDA,
	.unavailable = need_gpu,
	.run = hbm_run,
};

const kvw_probe kvw_probe_kv_pack = {
	.name = "kv_pack",
	.summary = "gather a paged KV cache (16-token blocks) into a send buffer and scatter it back (KV GB/s), verified",
	.needs = KVW_NEED_CUDA,
	.unavailable = need_gpu,
	.run = pack_run,
};
