/* probe_cpu.c — probes that need no accelerator.
 *
 *   null         times an empty call through the whole harness (Google
 *                Benchmark repetitions, records, profile): it exists to test
 *                kvwall itself, like fio's null engine; it reports a time and
 *                no bandwidth.
 *   host_memcpy  memcpy between two host buffers far larger than the CPU
 *                caches; GB/s counts the payload (bytes copied, once), the
 *                memory traffic is twice that (read + write).  The copy is
 *                verified byte for byte after the timing.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvw_gbench.h"
#include "probe.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *always(const kvw_mpi *mpi)
{
	(void)mpi;
	return NULL;
}

/* ---- null ---------------------------------------------------------------------- */

static volatile unsigned sink;

static void empty(void)
{
	sink++;
}

static double time_empty(void *arg)
{
	(void)arg;
	double t0 = now();
	empty();
	return now() - t0;
}

static kvw_err null_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	kvw_record rec = kvw_record_new("null", "empty_call");
	rec.iterations = r->quick ? 100 : 1000;
	rec.repetitions = r->quick ? 3 : 5;
	kvw_err err = kvw_gbench_measure("null/empty_call", time_empty, NULL, rec.iterations, rec.repetitions,
	                                 &rec.time_s, d);
	return err ? err : kvw_probe_emit(r, &rec, d);
}

const kvw_probe kvw_probe_null = {
	.name = "null",
	.summary = "an empty call timed through the whole harness (tests kvwall itself)",
	.needs = KVW_NEED_NOTHING,
	.unavailable = always,
	.run = null_run,
};

/* ---- host_memcpy -------------------------------------------------------------- */

typedef struct copy_job {
	unsigned char *src, *dst;
	size_t bytes;
} copy_job;

static double time_copy(void *arg)
{
	copy_job *j = arg;
	double t0 = now();
	memcpy(j->dst, j->src, j->bytes);
	double t = now() - t0;
	sink += j->dst[j->bytes - 1]; /* keep the copy observable */
	return t;
}

static kvw_err memcpy_size(kvw_probe_run *r, size_t bytes, kvw_diag *d)
{
	copy_job j = { malloc(bytes), malloc(bytes), bytes };
	kvw_err err = KVW_OK;
	if (!j.src || !j.dst) {
		err = kvw_fail(d, KVW_ESYS, "host_memcpy: cannot allocate 2 x %zu bytes", bytes);
		goto out;
	}
	uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift fill: not zeros, not a pattern memcpy can shortcut */
	for (size_t i = 0; i < bytes; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		j.src[i] = (unsigned char)x;
	}
	memset(j.dst, 0xA5, bytes);
	char variant[64];
	snprintf(variant, sizeof variant, "memcpy_%zuMiB", bytes >> 20);
	kvw_record rec = kvw_record_new("host_memcpy", variant);
	rec.bytes = (double)bytes;
	rec.iterations = r->quick ? 3 : 10;
	rec.repetitions = r->quick ? 3 : 7;
	if ((err = kvw_gbench_measure("host_memcpy", time_copy, &j, rec.iterations, rec.repetitions, &rec.time_s, d)))
		goto out;
	rec.gbps = (double)bytes / rec.time_s.median / 1e9;
	rec.checked = (long long)bytes;
	for (size_t i = 0; i < bytes; i++)
		rec.wrong += j.dst[i] != j.src[i];
	if (rec.wrong) {
		rec.status = KVW_ST_FAILED;
		snprintf(rec.reason, sizeof rec.reason, "%lld of %zu bytes wrong after memcpy", rec.wrong, bytes);
	}
	err = kvw_probe_emit(r, &rec, d);
out:
	free(j.src);
	free(j.dst);
	return err;
}

static kvw_err memcpy_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	size_t sizes[] = { (size_t)64 << 20, (size_t)256 << 20 };
	int n = r->quick ? 1 : 2;
	for (int i = 0; i < n; i++) {
		kvw_err err = memcpy_size(r, sizes[i], d);
		if (err)
			return err;
	}
	return KVW_OK;
}

const kvw_probe kvw_probe_host_memcpy = {
	.name = "host_memcpy",
	.summary = "host memory copy bandwidth (payload GB/s; traffic is twice), verified",
	.needs = KVW_NEED_NOTHING,
	.unavailable = always,
	.run = memcpy_run,
};
