/* host_link.c — the GPU's link to host memory, and GPU-to-GPU peer copies.
 *
 *   host_link  cudaMemcpyAsync host->device, device->host and both at once
 *              (two streams, "bidir": GB/s counts both directions), from
 *              pinned (cudaHostAlloc) and pageable (malloc) memory, sizes
 *              4 KiB .. 1 GiB; an alpha + s / B fit per direction and kind
 *              goes into profile.links.  On Grace Hopper the path is
 *              NVLink-C2C, detected from the device (pageable memory reached
 *              through the host page tables) and named so.  KV-shaped
 *              traffic: the KV bytes of a --model prompt moved H2D as one
 *              message, per layer, and per (layer x 256/64/16-token block),
 *              into profile.kv_messages.
 *   peer       cudaMemcpyPeerAsync between every ordered pair of GPUs
 *              (peer access enabled where the pair allows it), 256 MiB,
 *              plus a size sweep and fit for 0 -> 1; needs 2 GPUs.
 * Every copy is checked after the timing: host buffers on the host, device
 * buffers by a kernel.
 * Pinned buffers are allocated by a thread bound (hwloc) to the NUMA node
 * nearest the GPU; profile.host_link.pinned_memory says where they went.
 * The thread's binding is restored when the probe ends.
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

static const char *need_2gpu(const kvw_mpi *mpi)
{
	(void)mpi;
	return kvw_gpu_unavailable(2);
}

#ifdef KVW_HAVE_CUDA
#include "copycheck.h"
#include "kvw_cuda.h"
#include "kvw_topo.h"
#include "kvw_fit.h"
#include "kvw_gbench.h"
#include "kvw_kernels.h"

#define SEED 7u
#define MAX_POINTS 16

enum { H2D, D2H, BIDIR };

typedef struct copy_job {
	int dir;
	long messages;  /* > 0: KV-shaped, that many H2D messages of msg_bytes */
	size_t msg_bytes;
	void *host, *host2, *dev, *dev2;
	size_t bytes;
	cudaStream_t s2;
	cudaEvent_t joined, forked;
	int reps; /* copies between one pair of events */
	kvw_evtimer t;
	int peer_src, peer_dst; /* peer copies: device numbers, dir < 0 */
} copy_job;

static int copy_once(void *arg)
{
	copy_job *j = arg;
	cudaError_t e;
	if (j->messages > 0) {
		e = cudaSuccess;
		for (long m = 0; m < j->messages && e == cudaSuccess; m++)
			e = cudaMemcpyAsync((char *)j->dev + m * j->msg_bytes, (const char *)j->host + m * j->msg_bytes,
			                    j->msg_bytes, cudaMemcpyHostToDevice, j->t.stream);
	} else if (j->dir < 0) {
		e = cudaMemcpyPeerAsync(j->dev2, j->peer_dst, j->dev, j->peer_src, j->bytes, j->t.stream);
	} else if (j->dir == BIDIR) {
		/* the second stream starts with the first and the first waits for it */
		cudaEventRecord(j->forked, j->t.stream);
		cudaStreamWaitEvent(j->s2, j->forked, 0);
		e = cudaMemcpyAsync(j->dev, j->host, j->bytes, cudaMemcpyHostToDevice, j->t.stream);
		if (e == cudaSuccess)
			e = cudaMemcpyAsync(j->host2, j->dev2, j->bytes, cudaMemcpyDeviceToHost, j->s2);
		cudaEventRecord(j->joined, j->s2);
		cudaStreamWaitEvent(j->t.stream, j->joined, 0);
	} else {
		e = j->dir == H2D ? cudaMemcpyAsync(j->dev, j->host, j->bytes, cudaMemcpyHostToDevice, j->t.stream)
		                  : cudaMemcpyAsync(j->host, j->dev, j->bytes, cudaMemcpyDeviceToHost, j->t.stream);
	}
	return e != cudaSuccess;
}

/* reps copies between one pair of events (nvbandwidth's way): seconds per copy */
static double time_copy(void *arg)
{
	copy_job *j = arg;
	kvw_marks m = kvw_evtimer_marks(&j->t);
	return kvw_time_loop(j->reps > 0 ? j->reps : 1, copy_once, j, &m);
}

static bool on_c2c(void)
{
	int dev = 0, ats = 0;
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&ats, cudaDevAttrPageableMemoryAccessUsesHostPageTables, dev);
	return ats == 1;
}

/* wrong 16-byte elements after the verification copy, or -1 */
static long long check_copy(copy_job *j, unsigned long long *wrong_dev)
{
	size_t n = j->bytes / 16;
	unsigned long long w = 0;
	if (j->dir == D2H)
		return (long long)kvw_pattern_check_host(j->host, n, SEED);
	if (j->dir == BIDIR)
		w = kvw_pattern_check_host(j->host2, n, SEED);
	if (cudaMemset(wrong_dev, 0, sizeof w) != cudaSuccess
	    || kvw_hbm_check(KVW_HBM_COPY, j->dir < 0 ? j->dev2 : j->dev, n, SEED, 0, wrong_dev, 0) != cudaSuccess
	    || cudaMemcpy(&w, wrong_dev, sizeof w, cudaMemcpyDeviceToHost) != cudaSuccess)
		return -1;
	return (long long)w;
}

/* every destination of the copy gets bytes no copy writes (copycheck.h):
 * the host buffer of D2H, both of bidir, the device buffer of H2D and of
 * the KV-shaped messages, the peer device's buffer */
typedef struct verify_ctx {
	copy_job *j;
	unsigned long long *wrong_dev;
} verify_ctx;

static int poison_dst(void *arg)
{
	copy_job *j = ((verify_ctx *)arg)->j;
	cudaError_t e = cudaSuccess;
	if (j->dir == D2H) {
		memset(j->host, 0xA5, j->bytes);
		return 0;
	}
	if (j->dir == BIDIR)
		memset(j->host2, 0xA5, j->bytes);
	if (j->dir < 0) {
		int cur = 0;
		cudaGetDevice(&cur);
		if ((e = cudaSetDevice(j->peer_dst)) == cudaSuccess && (e = cudaMemset(j->dev2, 0xA5, j->bytes)) == cudaSuccess)
			e = cudaDeviceSynchronize();
		cudaSetDevice(cur);
		return e != cudaSuccess;
	}
	if ((e = cudaMemset(j->dev, 0xA5, j->bytes)) == cudaSuccess)
		e = cudaDeviceSynchronize();
	return e != cudaSuccess;
}

static int verify_copy(void *arg)
{
	return time_copy(((verify_ctx *)arg)->j) < 0;
}

static long long count_wrong(void *arg)
{
	verify_ctx *c = arg;
	return check_copy(c->j, c->wrong_dev);
}

/* times one size, checks it, emits the record; *median gets the time */
static kvw_err measure(kvw_probe_run *r, copy_job *j, const char *variant, unsigned long long *wrong_dev,
                       double *median, kvw_diag *d)
{
	kvw_record rec = kvw_record_new(j->dir < 0 ? "peer" : "host_link", variant);
	rec.bytes = (double)j->bytes * (j->dir == BIDIR ? 2 : 1);
	rec.iterations = j->reps = r->quick ? 3 : (j->bytes < (1u << 24) ? 50 : 10);
	rec.repetitions = 5;
	kvw_err err = kvw_gbench_measure(variant, time_copy, j, 1, rec.repetitions, &rec.time_s, d);
	j->reps = 1;
	if (err)
		return err;
	*median = rec.time_s.median;
	rec.gbps = rec.bytes / rec.time_s.median / 1e9;
	/* poison every destination, copy once more, compare every element */
	verify_ctx vc = { j, wrong_dev };
	kvw_copy_check chk = { poison_dst, verify_copy, count_wrong, &vc };
	long long wrong = kvw_copy_verify(&chk);
	if (wrong == -1)
		return kvw_fail(d, KVW_EDRIVER, "%s: poisoning the destination failed", variant);
	if (wrong == -2)
		return kvw_fail(d, KVW_EDRIVER, "%s: the verification copy failed", variant);
	if (wrong < 0)
		return kvw_fail(d, KVW_EDRIVER, "%s: the check failed", variant);
	rec.checked = (long long)(j->bytes / 16) * (j->dir == BIDIR ? 2 : 1);
	rec.wrong = wrong;
	if (wrong) {
		rec.status = KVW_ST_FAILED;
		snprintf(rec.reason, sizeof rec.reason, "%lld wrong 16-byte elements", wrong);
	}
	return kvw_probe_emit(r, &rec, d);
}

static kvw_err sweep(kvw_probe_run *r, copy_job *j, bool pinned, const char *path, unsigned long long *wrong_dev,
                     size_t max_bytes, kvw_diag *d)
{
	static const char *const dirs[] = { "h2d", "d2h", "bidir" };
	double sizes[MAX_POINTS], times[MAX_POINTS];
	int n = 0;
	size_t step = r->quick ? 16 : 4;
	kvw_err err = KVW_OK;
	int first = r->n_records;
	for (size_t b = 4096; b <= max_bytes && n < MAX_POINTS; b *= step) {
		char variant[96];
		j->bytes = b;
		snprintf(variant, sizeof variant, "%s_%s_%s_%zuKiB", path, dirs[j->dir], pinned ? "pinned" : "pageable", b >> 10);
		if (j->dir != D2H)
			kvw_pattern_fill_host(j->host, b / 16, SEED);
		if (j->dir != H2D) {
			KVW_CU(kvw_hbm_fill(j->dir == BIDIR ? j->dev2 : j->dev, b / 16, SEED, 0));
			KVW_CU(cudaDeviceSynchronize());
		}
		if ((err = measure(r, j, variant, wrong_dev, &times[n], d)))
			goto out;
		sizes[n++] = (double)b * (j->dir == BIDIR ? 2 : 1);
	}
	kvw_linkfit f;
	if (kvw_fit_link(sizes, times, n, &f)) {
		char name[96];
		snprintf(name, sizeof name, "%s_%s_%s", path, dirs[j->dir], pinned ? "pinned" : "pageable");
		kvw_probe_add_link(r, first, name, "host", f.alpha_s, f.bw, f.n, f.r2);
	}
out:
	return err;
}

/* KV-shaped H2D from pinned memory: the same bytes as 1, per-layer and
 * per-(layer x block) messages, one cudaMemcpyAsync each */
static kvw_err kv_shaped(kvw_probe_run *r, copy_job *j, const char *path, size_t max_bytes,
                         unsigned long long *wrong_dev, kvw_diag *d)
{
	kvw_kv_plan plan;
	char where[96];
	snprintf(where, sizeof where, "%s_h2d_pinned", path);
	kvw_err err = kvw_probe_kv_plan(r, where, max_bytes, &plan, d);
	double packed_s = NAN;
	j->dir = H2D;
	for (int i = 0; plan.entry && i < KVW_KV_PATTERNS && !err; i++) {
		j->messages = plan.p[i].messages;
		j->msg_bytes = (size_t)plan.p[i].message_bytes;
		j->bytes = j->msg_bytes * (size_t)j->messages;
		kvw_pattern_fill_host(j->host, j->bytes / 16, SEED);
		char variant[96];
		snprintf(variant, sizeof variant, "%s_kv_%s_%s_%ldtok", where, plan.model, plan.p[i].mode, plan.tokens);
		double med;
		if ((err = measure(r, j, variant, wrong_dev, &med, d)))
			break;
		if (i == 0)
			packed_s = med;
		if (kvw_probe_records_ok(r, r->n_records - 1)) /* nothing from a copy checked wrong */
			kvw_probe_kv_result(plan.entry, &plan.p[i], med, packed_s);
	}
	j->messages = 0;
	return err;
}

static kvw_err host_link_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	kvw_err err = KVW_OK;
	size_t max_bytes = r->quick ? ((size_t)256 << 20) : ((size_t)1 << 30);
	copy_job j = { 0 };
	unsigned long long *wrong_dev = NULL;
	void *pageable = NULL, *pageable2 = NULL, *pinned = NULL, *pinned2 = NULL;
	const char *path = on_c2c() ? "nvlink_c2c" : "pcie";
	char numa[200] = "pinned buffers allocated without NUMA binding (hwloc unavailable)";
	int dev = 0;
	cudaGetDevice(&dev);
	kvw_topo_saved *binding = kvw_topo_bind_near_gpu(dev, numa, sizeof numa); /* undone at out: */
	KVW_CU(kvw_evtimer_init(&j.t, NULL));
	KVW_CU(cudaStreamCreateWithFlags(&j.t.stream, cudaStreamNonBlocking));
	KVW_CU(cudaStreamCreateWithFlags(&j.s2, cudaStreamNonBlocking));
	KVW_CU(cudaEventCreateWithFlags(&j.joined, cudaEventDisableTiming));
	KVW_CU(cudaEventCreateWithFlags(&j.forked, cudaEventDisableTiming));
	KVW_CU(cudaMalloc(&j.dev, max_bytes));
	KVW_CU(cudaMalloc(&j.dev2, max_bytes));
	KVW_CU(cudaMalloc((void **)&wrong_dev, sizeof *wrong_dev));
	KVW_CU(cudaHostAlloc(&pinned, max_bytes, cudaHostAllocDefault));
	KVW_CU(cudaHostAlloc(&pinned2, max_bytes, cudaHostAllocDefault));
	pageable = malloc(max_bytes);
	pageable2 = malloc(max_bytes);
	if (!pageable || !pageable2) {
		err = kvw_fail(d, KVW_ESYS, "host_link: cannot allocate pageable buffers");
		goto out;
	}
	memset(pageable, 0, max_bytes); /* touch every page before timing */
	memset(pageable2, 0, max_bytes);
	json_t *facts = kvw_probe_section(r, "host_link", false);
	json_object_set_new(facts, "path", json_string(path));
	json_object_set_new(facts, "pinned_memory", json_string(numa));
	for (int kind = 0; kind < 2 && !err; kind++)
		for (int dir = H2D; dir <= BIDIR && !err; dir++) {
			if (kind == 1 && dir == BIDIR)
				continue; /* pageable bidir mostly measures the CPU staging copies */
			j.dir = dir;
			j.host = kind == 0 ? pinned : pageable;
			j.host2 = kind == 0 ? pinned2 : pageable2;
			err = sweep(r, &j, kind == 0, path, wrong_dev, max_bytes, d);
		}
	if (!err) {
		j.host = pinned;
		err = kv_shaped(r, &j, path, max_bytes, wrong_dev, d);
	}
out:
	cudaFree(j.dev);
	cudaFree(j.dev2);
	cudaFree(wrong_dev);
	cudaFreeHost(pinned);
	cudaFreeHost(pinned2);
	free(pageable);
	free(pageable2);
	if (j.s2)
		cudaStreamDestroy(j.s2);
	if (j.t.stream)
		cudaStreamDestroy(j.t.stream);
	if (j.joined)
		cudaEventDestroy(j.joined);
	if (j.forked)
		cudaEventDestroy(j.forked);
	kvw_evtimer_destroy(&j.t);
	kvw_topo_unbind(binding);
	return err;
}

static kvw_err peer_pair(kvw_probe_run *r, int src, int dst, bool sweep_sizes, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	copy_job j = { .dir = -1, .peer_src = src, .peer_dst = dst };
	unsigned long long *wrong_dev = NULL;
	size_t max_bytes = (size_t)256 << 20;
	int can = 0;
	cudaDeviceCanAccessPeer(&can, dst, src);
	KVW_CU(cudaSetDevice(src));
	KVW_CU(cudaMalloc(&j.dev, max_bytes));
	KVW_CU(kvw_hbm_fill(j.dev, max_bytes / 16, SEED, 0));
	KVW_CU(cudaDeviceSynchronize());
	KVW_CU(cudaSetDevice(dst));
	if (can) {
		cudaError_t e = cudaDeviceEnablePeerAccess(src, 0);
		if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled)
			KVW_CU(e);
		cudaGetLastError();
	}
	KVW_CU(cudaMalloc(&j.dev2, max_bytes));
	KVW_CU(cudaMalloc((void **)&wrong_dev, sizeof *wrong_dev));
	KVW_CU(kvw_evtimer_init(&j.t, NULL));
	double sizes[MAX_POINTS], times[MAX_POINTS];
	int n = 0, first = r->n_records;
	for (size_t b = sweep_sizes ? 4096 : max_bytes; b <= max_bytes && n < MAX_POINTS; b *= 4) {
		char variant[96];
		j.bytes = b;
		snprintf(variant, sizeof variant, "gpu%d_to_gpu%d_%s_%zuKiB", src, dst, can ? "p2p" : "staged", b >> 10);
		if ((err = measure(r, &j, variant, wrong_dev, &times[n], d)))
			goto out;
		sizes[n++] = (double)b;
	}
	kvw_linkfit f;
	if (sweep_sizes && kvw_fit_link(sizes, times, n, &f)) {
		char name[64];
		snprintf(name, sizeof name, "peer_gpu%d_to_gpu%d", src, dst);
		kvw_probe_add_link(r, first, name, "peer", f.alpha_s, f.bw, f.n, f.r2);
	}
out:
	cudaSetDevice(src);
	cudaFree(j.dev);
	cudaSetDevice(dst);
	cudaFree(j.dev2);
	cudaFree(wrong_dev);
	kvw_evtimer_destroy(&j.t);
	cudaSetDevice(0);
	return err;
}

static kvw_err peer_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	int n = 0;
	kvw_err err = KVW_OK;
	KVW_CU(cudaGetDeviceCount(&n));
	for (int s = 0; s < n && !err; s++)
		for (int t = 0; t < n && !err; t++)
			if (s != t)
				err = peer_pair(r, s, t, s == 0 && t == 1, d);
out:
	return err;
}

#else /* built without CUDA */

static kvw_err host_link_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)r, (void)state;
	return kvw_fail(d, KVW_EDRIVER, "built without CUDA");
}
#define peer_run host_link_run

#endif

const kvw_probe kvw_probe_host_link = {
	.name = "host_link",
	.summary = "host<->GPU copies (PCIe, or NVLink-C2C on Grace Hopper): H2D, D2H, bidir; pinned and pageable; "
	           "4 KiB-1 GiB with the alpha + s/B fit, verified",
	.needs = KVW_NEED_CUDA,
	.unavailable = need_gpu,
	.run = host_link_run,
};

const kvw_probe kvw_probe_peer = {
	.name = "peer",
	.summary = "GPU-to-GPU copies for every pair (NVLink or PCIe P2P), with a fit for GPU 0 -> 1, verified",
	.needs = KVW_NEED_CUDA | KVW_NEED_2GPU,
	.unavailable = need_2gpu,
	.run = peer_run,
};
