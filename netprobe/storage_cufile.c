/* storage_cufile.c — the storage probe's GPUDirect Storage part: the test
 * file read straight into GPU memory with cuFileRead (NVIDIA cuFile API
 * reference: cuFileDriverOpen, cuFileHandleRegister on an O_DIRECT
 * descriptor, cuFileBufRegister, cuFileRead), sequential at queue depth 1,
 * one LMCache chunk-sized read and 1 MiB reads; timed by wall clock around
 * the synchronous call, then the bytes are copied back and checked
 * against the file's pattern.  Without cuFile at build time, without a
 * GPU, or on a descriptor without O_DIRECT (tmpfs), a skipped record says
 * which.  (When cuFile runs in compatibility mode — no nvidia-fs driver —
 * it still works, through a bounce buffer in host memory; the record's
 * numbers are then that path's.)
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvw_gbench.h"
#include "kvw_gpu.h"
#include "storage.h"

static kvw_err skipped(kvw_probe_run *r, const kvw_storage *st, const char *why, kvw_diag *d)
{
	kvw_record rec = kvw_record_new("storage", "");
	snprintf(rec.variant, sizeof rec.variant, "storage_%s_cufile_to_gpu", st->fs);
	rec.status = KVW_ST_SKIPPED;
	snprintf(rec.reason, sizeof rec.reason, "%s", why);
	return kvw_probe_emit(r, &rec, d);
}

#ifndef KVW_HAVE_CUFILE
kvw_err kvw_storage_cufile(kvw_probe_run *r, kvw_storage *st, kvw_diag *d)
{
	const char *gpu = kvw_gpu_unavailable(1);
	return skipped(r, st, gpu ? gpu : "built without cuFile (cufile.h and libcufile not found at configure time)", d);
}
#else
#include <cufile.h>

static double wall(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* bytes of the copy that differ from the file's pattern at off */
static long long wrong_bytes(const unsigned char *buf, uint64_t off, size_t len, long long *checked)
{
	unsigned char *want = malloc(len);
	long long wrong = 0;
	if (!want)
		return -1;
	kvw_storage_fill(want, off, len);
	for (size_t i = 0; i < len; i++)
		wrong += buf[i] != want[i];
	free(want);
	*checked += (long long)len;
	return wrong;
}

typedef struct cuf_job {
	CUfileHandle_t fh;
	void *dev;
	size_t len;
	uint64_t span, next;
} cuf_job;

/* one read of len bytes at the next offset; its wall time */
static double cuf_read(void *arg)
{
	cuf_job *j = arg;
	uint64_t off = j->span ? j->next % j->span / 4096u * 4096u : 0;
	j->next += 7919u * 4096u;
	double t0 = wall();
	ssize_t got = cuFileRead(j->fh, j->dev, j->len, (off_t)off, 0);
	return got == (ssize_t)j->len ? wall() - t0 : -1.0;
}

static kvw_err one_size(kvw_probe_run *r, kvw_storage *st, CUfileHandle_t fh, void *dev, size_t len, kvw_diag *d)
{
	kvw_record rec = kvw_record_new("storage", "");
	snprintf(rec.variant, sizeof rec.variant, "storage_%s_cufile_to_gpu_%zuKiB", st->fs, len >> 10);
	rec.bytes = (double)len;
	rec.iterations = r->quick ? 4 : 16;
	rec.repetitions = r->quick ? 3 : 5;
	cuf_job j = { fh, dev, len, (uint64_t)st->bytes - len, 0 };
	kvw_err err = kvw_gbench_measure(rec.variant, cuf_read, &j, rec.iterations, rec.repetitions, &rec.time_s, d);
	if (err == KVW_EDRIVER)
		return kvw_fail(d, KVW_EDRIVER, "storage: cuFileRead of %zu bytes failed", len);
	if (err)
		return err;
	rec.gbps = rec.bytes / rec.time_s.median / 1e9;
	unsigned char *host = malloc(len);
	ssize_t got = cuFileRead(fh, dev, len, 0, 0);
	if (!host || got != (ssize_t)len || !kvw_gpu_to_host(host, dev, len)) {
		free(host);
		return kvw_fail(d, KVW_EDRIVER, "storage: cuFile verification read failed");
	}
	rec.wrong = wrong_bytes(host, 0, len, &rec.checked);
	free(host);
	if (rec.wrong) {
		rec.status = KVW_ST_FAILED;
		snprintf(rec.reason, sizeof rec.reason, "%lld of %lld bytes read into the GPU wrong", rec.wrong, rec.checked);
	}
	return kvw_probe_emit(r, &rec, d);
}

kvw_err kvw_storage_cufile(kvw_probe_run *r, kvw_storage *st, kvw_diag *d)
{
	const char *gpu = kvw_gpu_unavailable(1);
	if (gpu)
		return skipped(r, st, gpu, d);
	if (!st->direct)
		return skipped(r, st, "cuFile needs an O_DIRECT descriptor, which this filesystem refuses", d);
	CUfileError_t e = cuFileDriverOpen();
	if (e.err != CU_FILE_SUCCESS)
		return skipped(r, st, "cuFileDriverOpen failed (no GPUDirect Storage driver or configuration here)", d);
	CUfileDescr_t desc;
	memset(&desc, 0, sizeof desc);
	desc.handle.fd = st->fd;
	desc.type = CU_FILE_HANDLE_TYPE_OPAQUE_FD;
	CUfileHandle_t fh;
	kvw_err err = KVW_OK;
	e = cuFileHandleRegister(&fh, &desc);
	if (e.err != CU_FILE_SUCCESS) {
		cuFileDriverClose();
		return skipped(r, st, "cuFileHandleRegister refused the file (filesystem without GPUDirect Storage support)", d);
	}
	size_t sizes[2] = { (size_t)1 << 20, st->chunk_bytes > 0 ? st->chunk_bytes : (size_t)32 << 20 };
	size_t maxlen = sizes[1] > sizes[0] ? sizes[1] : sizes[0];
	void *zero = calloc(1, maxlen), *dev = zero ? kvw_gpu_copy_of(zero, maxlen) : NULL;
	free(zero);
	if (!dev)
		err = kvw_fail(d, KVW_EDRIVER, "storage: cannot allocate %zu bytes of GPU memory", maxlen);
	if (!err && cuFileBufRegister(dev, maxlen, 0).err != CU_FILE_SUCCESS)
		err = kvw_fail(d, KVW_EDRIVER, "storage: cuFileBufRegister failed");
	for (int i = 0; i < 2 && !err; i++)
		if (sizes[i] <= (size_t)st->bytes)
			err = one_size(r, st, fh, dev, sizes[i], d);
	if (dev) {
		cuFileBufDeregister(dev);
		kvw_gpu_free(dev);
	}
	cuFileHandleDeregister(fh);
	cuFileDriverClose();
	return err;
}
#endif
