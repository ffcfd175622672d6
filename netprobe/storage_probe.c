/* storage_probe.c — the sweeps of the storage probe and its entry in the
 * registry (what it measures: storage.c's header).  Record variants:
 *   storage_<fs>_<direct|buffered>_seq_qd1_<size>      one read at a time
 *   storage_<fs>_<direct|buffered>_seq_qd16_<size>     the size as 16 reads at once
 *   storage_<fs>_<direct|buffered>_rand_qd<q>_<what>   random reads, 4k / kv block / chunk
 *   storage_<fs>_<direct|buffered>_kv_<model>_request_<T>tok_qd16
 * Each read batch is moved through the file between iterations, so no
 * read repeats the one before it (a device or hypervisor cache would
 * otherwise serve it).  gbps = bytes of the batch / its median time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvw_fit.h"
#include "kvw_model.h"
#include "storage.h"

#define MAX_READS 1024
#define MAX_BATCH ((double)(128u << 20)) /* bytes one batch of reads may cover */
#define MAX_BUFFERS ((size_t)512 << 20) /* reads in flight x size */

typedef struct sweep {
	kvw_probe_run *r;
	kvw_storage *st;
	kvw_sio_read rd[MAX_READS];
	char prefix[64];
	bool seq; /* the current layout */
} sweep;

static void size_name(size_t b, char *out, size_t cap)
{
	if (b % (1u << 20) == 0)
		snprintf(out, cap, "%zuMiB", b >> 20);
	else
		snprintf(out, cap, "%zuKiB", b >> 10);
}

static kvw_err engine(sweep *s, int qd, size_t max_len, kvw_diag *d)
{
	kvw_storage *st = s->st;
	st->ops->close(st->eng);
	st->eng = st->ops->open(st->fd, qd, max_len);
	if (!st->eng)
		return kvw_fail(d, KVW_ESYS, "storage: cannot start the %s engine (queue depth %d, %zu-byte reads): %s",
		                st->ops->name, qd, max_len, strerror(errno));
	return KVW_OK;
}

/* iterations for about target seconds per repetition, from one batch */
static long calibrate(sweep *s, int n, int qd, double target)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t at = 0;
	if (s->st->ops->run(s->st->eng, s->rd, n, qd, NULL, NULL, &at))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double t = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
	long it = t > 0 ? (long)(target / t) : 100;
	return it < 1 ? 1 : it > 200 ? 200 : it;
}

static kvw_err measure(sweep *s, const char *what, int n, int qd, double bytes, kvw_record *out, kvw_diag *d)
{
	kvw_record rec = kvw_record_new("storage", "");
	snprintf(rec.variant, sizeof rec.variant, "%s_%s", s->prefix, what);
	rec.bytes = bytes;
	rec.iterations = calibrate(s, n, qd, s->r->quick ? 0.02 : 0.08);
	rec.repetitions = s->r->quick ? 3 : 5;
	kvw_err err = kvw_storage_measure(s->r, s->st, s->rd, n, s->seq, qd, &rec, d);
	if (out)
		*out = rec;
	return err;
}

static void layout(sweep *s, int n, size_t len, bool seq)
{
	s->seq = seq;
	kvw_storage_layout(s->st, s->rd, n, len, seq);
}

/* the fit of one sweep whose records start at `first`: none when any of them failed */
static void fit_link(sweep *s, int first, const double *bytes, const double *t, int n, const char *suffix)
{
	kvw_linkfit f;
	char name[96];
	snprintf(name, sizeof name, "storage_%s%s", s->st->fs, suffix);
	if (kvw_fit_link(bytes, t, n, &f))
		kvw_probe_add_link(s->r, first, name, "storage", f.alpha_s, f.bw, f.n, f.r2);
}

/* sizes 4 KiB .. 64 MiB (quick: 16 MiB), x4: one read at a time, and split in 16 */
static kvw_err sequential(sweep *s, kvw_diag *d)
{
	size_t top = s->r->quick ? (size_t)16 << 20 : (size_t)64 << 20;
	while (top > (size_t)(s->st->bytes / 4))
		top /= 4;
	double b1[12], t1[12], b16[12], t16[12];
	int n1 = 0, n16 = 0, first = s->r->n_records;
	kvw_err err = engine(s, 16, top / 16 > 4096 ? top / 16 : top, d);
	for (size_t sz = 4096; sz <= top && !err; sz *= 4) { /* split: the SSD tier's link, fitted first */
		int m = sz / 4096 < 16 ? (int)(sz / 4096) : 16;
		char what[48], sn[16];
		size_name(sz, sn, sizeof sn);
		snprintf(what, sizeof what, "seq_qd16_%s", sn);
		layout(s, m, sz / (size_t)m, true);
		kvw_record rec;
		if (!(err = measure(s, what, m, 16, (double)sz, &rec, d)) && rec.status == KVW_ST_OK)
			b16[n16] = (double)sz, t16[n16++] = rec.time_s.median;
	}
	if (!err)
		fit_link(s, first, b16, t16, n16, "");
	first = s->r->n_records;
	if (!err)
		err = engine(s, 1, top, d);
	for (size_t sz = 4096; sz <= top && !err; sz *= 4) {
		int m = (int)(((size_t)4 << 20) / sz) > 1 ? (int)(((size_t)4 << 20) / sz) : 1;
		m = m > 64 ? 64 : m;
		char what[48], sn[16];
		size_name(sz, sn, sizeof sn);
		snprintf(what, sizeof what, "seq_qd1_%s", sn);
		layout(s, m, sz, true);
		kvw_record rec;
		if (!(err = measure(s, what, m, 1, (double)sz * m, &rec, d)) && rec.status == KVW_ST_OK)
			b1[n1] = (double)sz, t1[n1++] = rec.time_s.median / m;
	}
	if (!err)
		fit_link(s, first, b1, t1, n1, "_qd1");
	return err;
}

/* random reads of 4 KiB, one KV block of one layer, one chunk; queue depth 1..64 */
static kvw_err random_reads(sweep *s, const char *model, size_t block, size_t chunk, kvw_diag *d)
{
	struct { const char *what; size_t len; } kinds[3] = { { "4KiB", 4096 }, { "kvblock", block }, { "chunk", chunk } };
	static const int qds[4] = { 1, 4, 16, 64 };
	kvw_err err = KVW_OK;
	for (int k = 0; k < 3 && !err; k++) {
		if (kinds[k].len > (size_t)(s->st->bytes / 4))
			continue;
		for (int q = 0; q < 4 && !err; q++) {
			if ((size_t)qds[q] * kinds[k].len > MAX_BUFFERS)
				continue;
			/* a long batch keeps the queue full most of the time (ramp up and drain
			 * are a small part), as fio's steady state; bounded in bytes */
			double fit = floor(MAX_BATCH / (double)kinds[k].len);
			int n = (int)fmin(fmin(16.0 * qds[q], MAX_READS), fit);
			n = n < qds[q] ? qds[q] : n;
			if ((err = engine(s, qds[q], kinds[k].len, d)))
				break;
			char what[96], sn[16];
			size_name(kinds[k].len, sn, sizeof sn);
			if (k)
				snprintf(what, sizeof what, "rand_qd%d_%s_%s_%s", qds[q], model, kinds[k].what, sn);
			else
				snprintf(what, sizeof what, "rand_qd%d_4KiB", qds[q]);
			layout(s, n, kinds[k].len, false);
			err = measure(s, what, n, qds[q], (double)kinds[k].len * n, NULL, d);
		}
	}
	return err;
}

/* a whole request's KV, as chunks at queue depth 16 */
static kvw_err request(sweep *s, const kvw_arch *a, size_t chunk, kvw_diag *d)
{
	kvw_kvfmt f = { KVW_DT_BF16, 1 };
	long tokens = s->r->quick ? 2048 : 8192;
	while (tokens > 256 && kvw_kv_bytes(a, &f, (double)tokens) > s->st->bytes / 2)
		tokens /= 2;
	int n = (int)ceil((double)tokens / 256.0);
	if (n > MAX_READS || (size_t)n * chunk > (size_t)s->st->bytes || 16 * chunk > MAX_BUFFERS)
		return KVW_OK;
	kvw_err err = engine(s, 16, chunk, d);
	if (err)
		return err;
	layout(s, n, chunk, true);
	char what[96];
	snprintf(what, sizeof what, "kv_%s_request_%ldtok_qd16", a->name, tokens);
	return measure(s, what, n, 16, (double)chunk * n, NULL, d);
}

static void section(sweep *s, const kvw_arch *a, size_t block)
{
	kvw_storage *st = s->st;
	json_t *j = kvw_probe_section(s->r, "storage", false);
	json_object_set_new(j, "dir", json_string(st->dir));
	json_object_set_new(j, "filesystem", json_string(st->fs));
	json_object_set_new(j, "o_direct", json_boolean(st->direct));
	json_object_set_new(j, "fallback", st->fallback[0] ? json_string(st->fallback) : json_null());
	json_object_set_new(j, "engine", json_string(st->ops->name));
	json_object_set_new(j, "engine_note", st->engine_why[0] ? json_string(st->engine_why) : json_null());
	json_object_set_new(j, "file_bytes", json_real(st->bytes));
	json_object_set_new(j, "free_bytes", json_real(st->free_bytes));
	json_object_set_new(j, "model", json_string(a->name));
	json_object_set_new(j, "kv_block_bytes", json_integer((json_int_t)block));
	json_object_set_new(j, "chunk_bytes", json_integer((json_int_t)st->chunk_bytes));
}

static size_t round4k(double b)
{
	size_t x = (size_t)ceil(b / 4096.0) * 4096u;
	return x ? x : 4096u;
}

static void pick_engine(kvw_storage *st)
{
	for (int i = 0; kvw_sio_engine(i); i++) {
		const char *why = kvw_sio_engine(i)->unavailable();
		if (!why) {
			st->ops = kvw_sio_engine(i);
			return;
		}
		snprintf(st->engine_why, sizeof st->engine_why, "%s: %s", kvw_sio_engine(i)->name, why);
	}
}

static kvw_err storage_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	kvw_arch a;
	kvw_storage st;
	kvw_err err = kvw_probe_model(r, &a, d);
	if (err)
		return err;
	if ((err = kvw_storage_open(r->args, r->quick, &st, d))) {
		kvw_storage_close(&st);
		return err;
	}
	kvw_kvfmt f = { KVW_DT_BF16, 1 };
	size_t block = round4k(16 * kvw_kv_bytes_per_token_layer(&a, &f));
	st.chunk_bytes = round4k(256 * kvw_kv_bytes_per_token(&a, &f));
	pick_engine(&st);
	sweep *s = calloc(1, sizeof *s);
	if (!s) {
		kvw_storage_close(&st);
		return kvw_fail(d, KVW_ESYS, "out of memory");
	}
	s->r = r, s->st = &st;
	snprintf(s->prefix, sizeof s->prefix, "storage_%s_%s", st.fs, st.direct ? "direct" : "buffered");
	section(s, &a, block);
	err = sequential(s, d);
	if (!err)
		err = random_reads(s, a.name, block, st.chunk_bytes, d);
	if (!err)
		err = request(s, &a, st.chunk_bytes, d);
	st.ops->close(st.eng);
	st.eng = NULL;
	if (!err)
		err = kvw_storage_cufile(r, &st, d);
	free(s);
	kvw_storage_close(&st);
	return err;
}

static const char *always(const kvw_mpi *mpi)
{
	(void)mpi;
	return NULL;
}

const kvw_probe kvw_probe_storage = {
	.name = "storage",
	.summary = "file reads at KV-block sizes (O_DIRECT, io_uring or pread threads, queue depth 1..64, sequential and "
	           "random), verified, fitted as a storage link; cuFile file -> GPU where present",
	.needs = KVW_NEED_NOTHING,
	.unavailable = always,
	.run = storage_run,
};
