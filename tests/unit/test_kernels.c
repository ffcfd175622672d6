/* test_kernels.c — what the GPU code decides without a GPU: the reason a
 * machine has no usable device (three causes, three messages), the causal
 * attention grid (fills the SMs at short prompts, heaviest tiles first),
 * launch-loop timing (one pair of marks around the whole loop), the memory
 * check, which head sizes cuDNN's SDPA and the own kernel take (MLA's
 * 192/128), and the cuDNN shim loader (it loads here where it was built,
 * refuses head sizes cuDNN lacks, and a missing or wrong shim leaves the
 * reason the probes record). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kvw_gpuplan.h"
#ifdef KVW_HAVE_CUDA
#include "kvw_cudnn.h"
#endif

static void test_reason(void)
{
	char buf[200];
	/* enough devices: no reason */
	CHECK(kvw_gpu_reason(0, "no error", 12040, 13000, 1, 1, buf, sizeof buf) == NULL);
	/* no libcuda at all: the runtime says "insufficient driver" with driver version 0 */
	const char *r = kvw_gpu_reason(35, "CUDA driver version is insufficient for CUDA runtime version", 0, 13000, 0, 1,
	                               buf, sizeof buf);
	CHECK(r && strncmp(r, "no NVIDIA driver loaded", 23) == 0);
	/* the toolkit's stub libcuda */
	r = kvw_gpu_reason(34, "stub", 0, 13000, 0, 1, buf, sizeof buf);
	CHECK(r && strncmp(r, "no NVIDIA driver loaded", 23) == 0);
	/* a real driver, older than the runtime: both versions named */
	r = kvw_gpu_reason(35, "insufficient", 12040, 13000, 0, 1, buf, sizeof buf);
	CHECK(r && strcmp(r, "driver older than the CUDA runtime (driver 12.4, runtime 13.0)") == 0);
	/* a driver, no device */
	r = kvw_gpu_reason(100, "no CUDA-capable device is detected", 13000, 13000, 0, 1, buf, sizeof buf);
	CHECK(r && strncmp(r, "no CUDA device", 14) == 0 && strstr(r, "driver 13.0"));
	r = kvw_gpu_reason(0, "no error", 13000, 13000, 0, 1, buf, sizeof buf);
	CHECK(r && strncmp(r, "no CUDA device", 14) == 0);
	/* one device where two are needed */
	r = kvw_gpu_reason(0, "no error", 13000, 13000, 1, 2, buf, sizeof buf);
	CHECK(r && strcmp(r, "needs 2 CUDA devices, found 1") == 0);
	/* anything else keeps the runtime's words */
	r = kvw_gpu_reason(999, "unknown error", 13000, 13000, 0, 1, buf, sizeof buf);
	CHECK(r && strcmp(r, "no CUDA device (unknown error)") == 0);
	/* the three causes are three different messages */
	char a[200], b[200], c[200];
	kvw_gpu_reason(35, "x", 0, 13000, 0, 1, a, sizeof a);
	kvw_gpu_reason(35, "x", 12000, 13000, 0, 1, b, sizeof b);
	kvw_gpu_reason(100, "x", 13000, 13000, 0, 1, c, sizeof c);
	CHECK(strcmp(a, b) && strcmp(b, c) && strcmp(a, c));
}

static void test_attention_grid(void)
{
	/* long prompts: 4 warps (64-query tiles); 512 tokens x 32 heads on 132
	 * SMs would be 256 blocks, under two waves: fewer warps per block */
	CHECK(kvw_attn_warps(8192, 32, 132) == 4);
	CHECK(kvw_attn_warps(512, 32, 132) == 2);
	CHECK(kvw_attn_warps(128, 32, 132) == 1);
	CHECK(kvw_attn_warps(512, 64, 132) == 4);
	for (int t = 16; t <= 512; t *= 2) { /* every short prompt fills what it can */
		int w = kvw_attn_warps(t, 32, 132);
		long blocks = (t + 16L * w - 1) / (16L * w) * 32;
		CHECK(w == 1 || blocks >= 264);
	}
	/* heaviest tile first, every tile once */
	CHECK(kvw_attn_tile(0, 8) == 7 && kvw_attn_tile(7, 8) == 0);
	int seen[8] = { 0 };
	for (int b = 0; b < 8; b++)
		seen[kvw_attn_tile(b, 8)]++;
	for (int i = 0; i < 8; i++)
		CHECK(seen[i] == 1);
}

typedef struct trace {
	char log[256];
	int fail_op;
} trace;

static int mark(void *ctx, int stop)
{
	trace *t = ctx;
	strcat(t->log, stop ? "E" : "S");
	return 0;
}

static double elapsed(void *ctx)
{
	(void)ctx;
	return 3.0;
}

static int op(void *arg)
{
	trace *t = arg;
	strcat(t->log, "o");
	return t->fail_op && strlen(t->log) > 2;
}

static void test_time_loop(void)
{
	trace t = { "", 0 };
	kvw_marks m = { mark, elapsed, &t };
	/* one pair of marks around all the launches, the time per launch */
	CHECK_NEAR(kvw_time_loop(3, op, &t, &m), 1.0, 1e-12);
	CHECK(strcmp(t.log, "SoooE") == 0);
	trace f = { "", 1 };
	m.ctx = &f;
	CHECK(kvw_time_loop(3, op, &f, &m) < 0); /* a failed launch is an error, not a time */
	CHECK(kvw_time_loop(0, op, &f, &m) < 0);
}

static void test_fits(void)
{
	char buf[200];
	size_t gib = (size_t)1 << 30;
	CHECK(kvw_fits_memory("x", 10 * gib, 80 * gib, gib, buf, sizeof buf));
	/* Llama-2-7B at 32k tokens: ~80 GiB of pool, send buffer and copy on an 80 GB card */
	CHECK(!kvw_fits_memory("kv_pack llama-2-7b 32768 tokens", 96 * gib, 79 * gib, gib, buf, sizeof buf));
	CHECK(strstr(buf, "needs 96.0 GiB") && strstr(buf, "79.0 GiB are free"));
	CHECK(!kvw_fits_memory("x", 79 * gib, 79 * gib, gib, buf, sizeof buf)); /* nothing left for the reserve */
}

static void test_gemm_mode(void)
{
	kvw_gemm_mode f = kvw_gemm_mode_for(true), b = kvw_gemm_mode_for(false);
	CHECK(f.fast_accum && f.operand_bytes == 1); /* fp8 as engines run it */
	CHECK(!b.fast_accum && b.operand_bytes == 2);
}

/* cuDNN SDPA's head sizes (the frontend's support matrix) and the own
 * kernel's: MLA's 192/128 is cuDNN's only, and on sm_90 and later only */
static void test_sdpa_heads(void)
{
	char b[256];
	CHECK(kvw_sdpa_head_refusal(128, 128, false, 90, b, sizeof b) == NULL);
	CHECK(kvw_sdpa_head_refusal(64, 64, true, 90, b, sizeof b) == NULL);
	CHECK(kvw_sdpa_head_refusal(192, 128, false, 90, b, sizeof b) == NULL);  /* DeepSeek-V3 prefill, MHA form */
	CHECK(kvw_sdpa_head_refusal(192, 128, false, 100, b, sizeof b) == NULL); /* Blackwell */
	CHECK(kvw_sdpa_head_refusal(192, 128, false, 0, b, sizeof b) == NULL);   /* card unknown: cuDNN decides */
	CHECK(kvw_sdpa_head_refusal(192, 128, false, 80, b, sizeof b) == b && strstr(b, "sm_90") && strstr(b, "sm_80"));
	CHECK(kvw_sdpa_head_refusal(256, 128, false, 90, b, sizeof b) && strstr(b, "d_qk 256, d_v 128"));
	CHECK(kvw_sdpa_head_refusal(128, 192, false, 90, b, sizeof b) && strstr(b, "d_qk == d_v"));
	/* the absorbed MLA decode: 576/512 */
	CHECK(kvw_sdpa_head_refusal(576, 512, false, 90, b, sizeof b) && strstr(b, "up to 256"));
	CHECK(kvw_sdpa_head_refusal(72, 72, true, 90, b, sizeof b) && strstr(b, "multiples of 16"));
	CHECK(kvw_sdpa_head_refusal(72, 72, false, 90, b, sizeof b) == NULL);
	CHECK(kvw_sdpa_head_refusal(100, 100, false, 90, b, sizeof b) && strstr(b, "multiples of 8"));
	CHECK(kvw_attn_own_has(128, 128, 32, 8) && kvw_attn_own_has(64, 64, 8, 8));
	CHECK(!kvw_attn_own_has(192, 128, 128, 128) && !kvw_attn_own_has(256, 256, 8, 8));
	CHECK(!kvw_attn_own_has(128, 128, 32, 5) && !kvw_attn_own_has(128, 128, 32, 0));
}

#ifdef KVW_HAVE_CUDA
static void test_cudnn_loader(void)
{
	/* a path that does not exist: the dlopen error, naming the file */
	const char *r = kvw_cudnn_load("/nonexistent/libkvw_cudnn.so");
	CHECK(r && strstr(r, "cuDNN shim not loaded") && strstr(r, "/nonexistent/libkvw_cudnn.so"));
	CHECK(kvw_cudnn_unavailable() == r && kvw_cudnn_version() == 0);
	/* a library without the entry point */
	r = kvw_cudnn_load("libm.so.6");
	CHECK(r && strstr(r, "no kvw_cudnn_shim entry point"));
	/* switched off by the environment */
	setenv("KVW_CUDNN_SHIM", "off", 1);
	r = kvw_cudnn_load(NULL);
	CHECK(r && strstr(r, "switched off"));
	unsetenv("KVW_CUDNN_SHIM");
#ifdef KVW_TEST_CUDNN_SHIM
	/* the shim this build made: it loads, and libcudnn 9 answers */
	r = kvw_cudnn_load(KVW_TEST_CUDNN_SHIM);
	if (r)
		fprintf(stderr, "shim: %s\n", r);
	CHECK(r == NULL);
	CHECK(kvw_cudnn_version() >= 90000);
	printf("test_kernels: cuDNN shim loaded, cuDNN %ld\n", kvw_cudnn_version());
	/* the shim refuses head sizes cuDNN lacks before building a graph (no GPU needed) */
	kvw_sdpa_shape mla = { 1, 256, 256, 8, 8, 200, 128, true, KVW_SDPA_BF16, 0, 0 };
	kvw_sdpa *p = NULL;
	char why[256] = "";
	CHECK(kvw_sdpa_create(&mla, &p, why, sizeof why) != 0 && p == NULL && strstr(why, "d_qk == d_v")
	      && strstr(why, "d_qk 200, d_v 128"));
	kvw_sdpa_shape absorbed = { 1, 1, 4096, 128, 1, 576, 512, false, KVW_SDPA_BF16, 0, 0 };
	CHECK(kvw_sdpa_create(&absorbed, &p, why, sizeof why) != 0 && strstr(why, "up to 256"));
#else
	r = kvw_cudnn_load(NULL);
	CHECK(r && strstr(r, "built without the cuDNN shim"));
	printf("test_kernels: %s\n", r);
#endif
}
#endif

int main(void)
{
	test_reason();
	test_attention_grid();
	test_time_loop();
	test_fits();
	test_gemm_mode();
	test_sdpa_heads();
#ifdef KVW_HAVE_CUDA
	test_cudnn_loader();
#endif
	return check_done("test_kernels");
}
