/* nccl.c — NCCL point-to-point between two ranks, one GPU each.
 *
 *   nccl  under mpirun with >= 2 ranks: rank 0 makes the NCCL unique id,
 *         MPI broadcasts it, every rank joins one communicator; rank 0
 *         ncclSends 4 KiB .. 1 GiB to rank 1, which times its ncclRecv with
 *         CUDA events (every iteration starts together on both ranks; the
 *         iteration counts are fixed, so both run the same number of
 *         operations).  Rank 1 records algbw = bytes / time and busbw =
 *         algbw x 1 (send/recv, as nccl-tests), checks the received bytes,
 *         and fits the sizes into profile.links; then the KV-shaped
 *         patterns (one message, per layer, per layer x block) go into
 *         profile.kv_messages.  Same node or two nodes:
 *         NCCL picks NVLink, PCIe or the network itself.
 * Every wait polls the communicator's asynchronous errors (and gives up
 * after 60 s without progress), so a dead peer fails the probe with the
 * reason instead of hanging it; the communicator is aborted then.
 * Skipped with the reason: built without NCCL or CUDA, no CUDA device,
 * fewer than 2 ranks (NCCL refuses two ranks on one GPU, so a one-GPU node
 * cannot run it).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "copycheck.h"
#include "kvw_gpu.h"
#include "kvw_topo.h"
#include "nccl_math.h"
#include "out.h"
#include "probe.h"

#if defined(KVW_HAVE_CUDA) && defined(KVW_HAVE_NCCL)
#include <nccl.h>

#include "kvw_cuda.h"
#include "kvw_fit.h"
#include "kvw_gbench.h"
#include "kvw_kernels.h"

#define SEED 31u
/* a peer that neither finishes nor reports an error within this fails the run */
#define NCCL_TIMEOUT_S 60.0

typedef struct p2p_job {
	const kvw_mpi *mpi;
	ncclComm_t comm;
	void *buf;
	size_t bytes;    /* per message */
	long messages;   /* per iteration, back to back */
	kvw_evtimer t;
	char why[200];   /* set when the communicator failed or timed out (it is then aborted) */
} p2p_job;

/* the wait on the stop event, polling the communicator's asynchronous
 * errors (a dead peer shows there as ncclRemoteError / ncclSystemError):
 * kvw_wait_async's callbacks */
static int ev_done(void *ctx)
{
	cudaError_t e = cudaEventQuery(((p2p_job *)ctx)->t.stop);
	return e == cudaSuccess ? 1 : e == cudaErrorNotReady ? 0 : -1;
}

static int comm_error(void *ctx)
{
	ncclResult_t r = ncclSuccess;
	if (ncclCommGetAsyncError(((p2p_job *)ctx)->comm, &r) != ncclSuccess)
		return (int)ncclInternalError;
	return r == ncclSuccess || r == ncclInProgress ? 0 : (int)r;
}

static double mono_now(void *ctx)
{
	(void)ctx;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void nap(void *ctx)
{
	(void)ctx;
	struct timespec t = { 0, 20000 }; /* 20 us: far below any message's time */
	nanosleep(&t, NULL);
}

/* seconds between the events, or -1 with j->why set and the communicator
 * aborted when the peer failed or fell silent */
static double wait_p2p(p2p_job *j)
{
	kvw_waiter w = { ev_done, comm_error, mono_now, nap, j };
	int code = 0, rc = kvw_wait_async(&w, NCCL_TIMEOUT_S, &code);
	if (rc == 0)
		return kvw_evtimer_seconds(&j->t);
	if (rc == 1)
		snprintf(j->why, sizeof j->why, "NCCL: the communicator failed (%s): is the peer rank alive?",
		         ncclGetErrorString((ncclResult_t)code));
	else if (rc == 2)
		snprintf(j->why, sizeof j->why, "NCCL: no progress from the peer rank in %.0f s (dead or stalled peer)",
		         NCCL_TIMEOUT_S);
	else
		snprintf(j->why, sizeof j->why, "NCCL: waiting for the transfer failed (%s)",
		         cudaGetErrorString(cudaEventQuery(j->t.stop)));
	ncclCommAbort(j->comm);
	j->comm = NULL;
	return -1;
}

static double time_p2p(void *arg)
{
	p2p_job *j = arg;
	ncclResult_t e = ncclSuccess;
	if (!j->comm)
		return -1; /* aborted after a failure */
	kvw_mpi_barrier(j->mpi);
	cudaEventRecord(j->t.start, j->t.stream);
	for (long m = 0; m < j->messages && e == ncclSuccess; m++) {
		char *p = (char *)j->buf + m * j->bytes;
		if (j->mpi->rank == 0)
			e = ncclSend(p, j->bytes, ncclChar, 1, j->comm, j->t.stream);
		else if (j->mpi->rank == 1)
			e = ncclRecv(p, j->bytes, ncclChar, 0, j->comm, j->t.stream);
	}
	cudaEventRecord(j->t.stop, j->t.stream);
	if (e != ncclSuccess) {
		snprintf(j->why, sizeof j->why, "NCCL: %s", ncclGetErrorString(e));
		return -1;
	}
	return wait_p2p(j);
}

/* KV-shaped: the same KV bytes as 1, per-layer and per-(layer x block)
 * messages, each its own ncclSend / ncclRecv; rank 1 records */
static kvw_err kv_shaped(kvw_probe_run *r, p2p_job *j, size_t max, kvw_diag *d)
{
	kvw_kv_plan plan;
	/* every rank plans alike; only rank 1 keeps the profile entry */
	kvw_err err = kvw_probe_kv_plan(r, "nccl_rank0_to_rank1", max, &plan, d);
	double packed_s = NAN;
	for (int i = 0; plan.entry && i < KVW_KV_PATTERNS && !err; i++) {
		j->messages = plan.p[i].messages;
		j->bytes = (size_t)plan.p[i].message_bytes;
		kvw_record rec = kvw_record_new("nccl", "");
		snprintf(rec.variant, sizeof rec.variant, "kv_%s_%s_%ldtok", plan.model, plan.p[i].mode, plan.tokens);
		rec.bytes = (double)j->bytes * (double)j->messages;
		rec.iterations = 3;
		rec.repetitions = 3;
		if ((err = kvw_gbench_measure(rec.variant, time_p2p, j, rec.iterations, rec.repetitions, &rec.time_s, d))) {
			if (j->why[0])
				err = kvw_fail(d, KVW_EDRIVER, "nccl %s: %s", rec.variant, j->why);
			break;
		}
		if (i == 0)
			packed_s = rec.time_s.median;
		if (r->mpi->rank != 1)
			continue;
		rec.gbps = rec.bytes / rec.time_s.median / 1e9;
		kvw_probe_kv_result(plan.entry, &plan.p[i], rec.time_s.median, packed_s);
		err = kvw_probe_emit(r, &rec, d);
	}
	if (plan.entry && r->mpi->rank != 1) {
		json_t *all = json_object_get(r->profile, "kv_messages");
		json_array_remove(all, json_array_size(all) - 1);
	}
	j->messages = 1;
	return err;
}

static const char *nccl_unavailable(const kvw_mpi *mpi)
{
	const char *why = kvw_gpu_unavailable(1);
	if (why)
		return why;
	if (!mpi || mpi->size < 2)
		return "needs 2 MPI ranks with one GPU each (mpirun -np 2 kvwall probe nccl)";
	return NULL;
}

static kvw_err nccl_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	const kvw_mpi *m = r->mpi;
	kvw_err err = KVW_OK;
	ncclUniqueId id;
	p2p_job j = { .mpi = m, .messages = 1 };
	unsigned long long *wrong_dev = NULL;
	size_t max = r->quick ? ((size_t)256 << 20) : ((size_t)1 << 30);
	double sizes[16], times[16];
	int first = r->n_records;
	int n = 0;
	if (m->rank == 0 && ncclGetUniqueId(&id) != ncclSuccess)
		memset(&id, 0, sizeof id); /* the other ranks then fail to join, and say so */
	kvw_mpi_bcast_bytes(m, &id, sizeof id, 0);
	char gpu[32], nic[64];
	if (!getenv("NCCL_IB_HCA") && kvw_gpu_pci(gpu, sizeof gpu) && kvw_topo_closest_nic(gpu, nic, sizeof nic))
		setenv("NCCL_IB_HCA", nic, 0); /* the NIC nearest this rank's GPU; a user's setting wins */
	ncclResult_t ne = ncclCommInitRank(&j.comm, m->size, id, m->rank);
	if (ne != ncclSuccess)
		return kvw_fail(d, KVW_EDRIVER, "ncclCommInitRank: %s", ncclGetErrorString(ne));
	KVW_CU(kvw_evtimer_init(&j.t, NULL));
	KVW_CU(cudaStreamCreateWithFlags(&j.t.stream, cudaStreamNonBlocking));
	KVW_CU(cudaMalloc(&j.buf, max));
	KVW_CU(cudaMalloc((void **)&wrong_dev, sizeof *wrong_dev));
	for (size_t b = 4096; b <= max && n < 16; b *= r->quick ? 16 : 4) {
		j.bytes = b;
		if (m->rank == 0)
			KVW_CU(kvw_hbm_fill(j.buf, b / 16, SEED, 0));
		else
			KVW_CU(cudaMemset(j.buf, 0xA5, b));
		KVW_CU(cudaDeviceSynchronize());
		kvw_record rec = kvw_record_new("nccl", "");
		snprintf(rec.variant, sizeof rec.variant, "sendrecv_rank0_to_rank1_%zuKiB", b >> 10);
		rec.bytes = (double)b;
		rec.iterations = r->quick ? 5 : (b < (1u << 24) ? 50 : 10);
		rec.repetitions = r->quick ? 3 : 5;
		if ((err = kvw_gbench_measure(rec.variant, time_p2p, &j, rec.iterations, rec.repetitions, &rec.time_s, d))) {
			if (j.why[0])
				err = kvw_fail(d, KVW_EDRIVER, "nccl %s: %s", rec.variant, j.why);
			goto out;
		}
		if (m->rank != 1)
			continue; /* rank 1 holds the received data and the receive times */
		unsigned long long wrong = 0;
		KVW_CU(cudaMemset(wrong_dev, 0, sizeof wrong));
		KVW_CU(kvw_hbm_check(KVW_HBM_COPY, j.buf, b / 16, SEED, 0, wrong_dev, 0));
		KVW_CU(cudaMemcpy(&wrong, wrong_dev, sizeof wrong, cudaMemcpyDeviceToHost));
		rec.gbps = rec.bytes / rec.time_s.median / 1e9; /* algbw */
		rec.checked = (long long)(b / 16);
		rec.wrong = (long long)wrong;
		if (wrong) {
			rec.status = KVW_ST_FAILED;
			snprintf(rec.reason, sizeof rec.reason, "%llu wrong 16-byte elements received", wrong);
		}
		sizes[n] = rec.bytes, times[n++] = rec.time_s.median;
		if ((err = kvw_probe_emit(r, &rec, d)))
			goto out;
	}
	kvw_linkfit f;
	if (m->rank == 1 && kvw_fit_link(sizes, times, n, &f)
	    && kvw_probe_add_link(r, first, "nccl_rank0_to_rank1", "network", f.alpha_s, f.bw, f.n, f.r2)) {
		json_t *links = json_object_get(r->profile, "links");
		json_object_set_new(json_array_get(links, json_array_size(links) - 1), "busbw_factor",
		                    kvw_num(kvw_busbw_factor(KVW_COLL_SENDRECV, 2)));
	}
	if ((err = kv_shaped(r, &j, max, d)))
		goto out;
	if (m->rank != 1) {
		kvw_record rec = kvw_record_new("nccl", "");
		rec.status = KVW_ST_SKIPPED;
		snprintf(rec.reason, sizeof rec.reason, m->rank == 0 ? "sent to rank 1 (rank 1 records the numbers)"
		         : "send/recv runs between ranks 0 and 1");
		err = kvw_probe_emit(r, &rec, d);
	}
out:
	cudaFree(j.buf);
	cudaFree(wrong_dev);
	if (j.t.stream)
		cudaStreamDestroy(j.t.stream);
	kvw_evtimer_destroy(&j.t);
	if (j.comm)
		ncclCommDestroy(j.comm);
	return err;
}

#else /* built without NCCL or CUDA */

static const char *nccl_unavailable(const kvw_mpi *mpi)
{
	(void)mpi;
	return "built without NCCL";
}

static kvw_err nccl_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)r, (void)state;
	return kvw_fail(d, KVW_EDRIVER, "built without NCCL");
}

#endif

const kvw_probe kvw_probe_nccl = {
	.name = "nccl",
	.summary = "NCCL send/recv between ranks 0 and 1 (one GPU each; mpirun -np 2): algbw and busbw as "
	           "nccl-tests, 4 KiB-1 GiB with the fit, verified",
	.needs = KVW_NEED_CUDA | KVW_NEED_NCCL | KVW_NEED_MPI,
	.unavailable = nccl_unavailable,
	.run = nccl_run,
};
