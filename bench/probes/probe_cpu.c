/* probe_cpu.c — probes that need no accelerator.
 *
 *   null         times an empty call through the whole harness (Google
 *                Benchmark repetitions, records, profile): it exists to test
 *                kvwall itself, like fio's null engine; it reports a time and
 *                no bandwidth.
 *   host_memcpy  copies between two host buffers far larger than the CPU
 *                caches, two ways at each size:
 *                  stream_copy_<N>MiB  a copy loop with streaming
 *                    (non-temporal) stores, four pages interleaved: the
 *                    memory's copy bandwidth,
 *                    traffic exactly twice the payload (read + write);
 *                  memcpy_<N>MiB  libc memcpy, as applications call it.
 *                GB/s counts the payload (bytes copied, once).  Each copy
 *                is warmed (one untimed copy, every page touched first)
 *                and verified byte for byte after the timing.
 *
 * Why two: glibc's memcpy switches to streaming stores only above its
 * non-temporal threshold, 3/4 of the shared cache size it reads from
 * CPUID (ld.so --list-tunables: glibc.cpu.x86_non_temporal_threshold).
 * Below it, memcpy stores through the cache, and each destination line is
 * read before it is written (write-allocate): 3x the payload in traffic,
 * about 2/3 of the streaming rate.  On this project's 2-core CI VMs the
 * threshold is 192 MiB, so memcpy of 64 MiB ran at ~6.8 GB/s and of
 * 256 MiB at ~11.5 GB/s, while a VM whose CPUID reported a smaller cache
 * gave 12.4 at 64 MiB (GLIBC_TUNABLES=glibc.cpu.x86_non_temporal_threshold
 * moves the step).  Not a warm-up effect: every repetition gave the same.
 * The streaming copy does not depend on that guess.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvw_gbench.h"
#include "probe.h"

#if defined(__x86_64__)
#include <emmintrin.h>
#define HAVE_STREAM_COPY 1
#endif

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

typedef void (*copy_fn)(void *dst, const void *src, size_t n);

typedef struct copy_job {
	unsigned char *src, *dst;
	size_t bytes;
	copy_fn copy;
} copy_job;

static void libc_copy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

#ifdef HAVE_STREAM_COPY
#include <xmmintrin.h>
#define PAGE 4096
/* Four pages at a time, interleaved 64 bytes from each (as glibc's large
 * copy does, so four DRAM pages stream at once), loads prefetched, stores
 * around the cache.  n is a multiple of 4 pages and both buffers are
 * page-aligned (memcpy_size). */
static void stream_copy(void *dst, const void *src, size_t n)
{
	char *d = dst;
	const char *s = src;
	for (size_t base = 0; base < n; base += 4 * PAGE)
		for (size_t off = 0; off < PAGE; off += 64)
			for (size_t p = base + off; p < base + 4 * PAGE; p += PAGE) {
				const __m128i *x = (const __m128i *)(s + p);
				__m128i *y = (__m128i *)(d + p);
				_mm_prefetch((const char *)x + 256, _MM_HINT_T0);
				__m128i a = _mm_load_si128(x), b = _mm_load_si128(x + 1), c = _mm_load_si128(x + 2),
				        e = _mm_load_si128(x + 3);
				_mm_stream_si128(y, a);
				_mm_stream_si128(y + 1, b);
				_mm_stream_si128(y + 2, c);
				_mm_stream_si128(y + 3, e);
			}
	_mm_sfence();
}
#endif

static double time_copy(void *arg)
{
	copy_job *j = arg;
	double t0 = now();
	j->copy(j->dst, j->src, j->bytes);
	double t = now() - t0;
	sink += j->dst[j->bytes - 1]; /* keep the copy observable */
	return t;
}

/* times one way of copying (the destination holds other bytes first),
 * then checks every byte */
static kvw_err copy_variant(kvw_probe_run *r, copy_job *j, const char *way, kvw_diag *d)
{
	char variant[64];
	snprintf(variant, sizeof variant, "%s_%zuMiB", way, j->bytes >> 20);
	kvw_record rec = kvw_record_new("host_memcpy", variant);
	rec.bytes = (double)j->bytes;
	rec.iterations = r->quick ? 3 : 10;
	rec.repetitions = r->quick ? 3 : 7;
	memset(j->dst, 0xA5, j->bytes);
	j->copy(j->dst, j->src, j->bytes); /* warm: code, TLB, every page of both buffers */
	memset(j->dst, 0x5A, j->bytes);
	kvw_err err = kvw_gbench_measure("host_memcpy", time_copy, j, rec.iterations, rec.repetitions, &rec.time_s, d);
	if (err)
		return err;
	rec.gbps = (double)j->bytes / rec.time_s.median / 1e9;
	rec.checked = (long long)j->bytes;
	for (size_t i = 0; i < j->bytes; i++)
		rec.wrong += j->dst[i] != j->src[i];
	if (rec.wrong) {
		rec.status = KVW_ST_FAILED;
		snprintf(rec.reason, sizeof rec.reason, "%lld of %zu bytes wrong after %s", rec.wrong, j->bytes, way);
	}
	return kvw_probe_emit(r, &rec, d);
}

static kvw_err memcpy_size(kvw_probe_run *r, size_t bytes, kvw_diag *d)
{
	copy_job j = { NULL, NULL, bytes, libc_copy };
	kvw_err err = KVW_OK;
	if (posix_memalign((void **)&j.src, 4096, bytes) || posix_memalign((void **)&j.dst, 4096, bytes)) {
		err = kvw_fail(d, KVW_ESYS, "host_memcpy: cannot allocate 2 x %zu bytes", bytes);
		goto out;
	}
	uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift fill: not zeros, not a pattern memcpy can shortcut */
	for (size_t i = 0; i < bytes; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		j.src[i] = (unsigned char)x;
	}
#ifdef HAVE_STREAM_COPY
	j.copy = stream_copy;
	err = copy_variant(r, &j, "stream_copy", d);
	j.copy = libc_copy;
#endif
	if (!err)
		err = copy_variant(r, &j, "memcpy", d);
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
	.summary = "host memory copy bandwidth, streaming stores and libc memcpy (payload GB/s), verified",
	.needs = KVW_NEED_NOTHING,
	.unavailable = always,
	.run = memcpy_run,
};
