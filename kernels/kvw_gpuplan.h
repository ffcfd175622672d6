/* kvw_gpuplan.h — the decisions of the GPU code that need no GPU, as pure
 * functions (gpuplan.c), so the CPU-only tests check them: why a machine
 * has no usable GPU, how the causal attention grid is shaped and ordered,
 * how a launch loop is timed, whether a buffer set fits in free memory.
 * Plain C; the attention tile order is also compiled into the kernel
 * (KVW_HD marks it host and device).
 */
#ifndef KVW_GPUPLAN_H
#define KVW_GPUPLAN_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __CUDACC__
#define KVW_HD __host__ __device__ __forceinline__
#else
#define KVW_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The reason a process sees fewer than min_devices usable CUDA devices,
 * from what the runtime answered: the error code of cudaGetDeviceCount
 * (0 = success; the cudaError_t values, stable across CUDA versions),
 * cudaDriverGetVersion (0: no driver library at all) and
 * cudaRuntimeGetVersion (e.g. 13000), and the device count.  Writes the
 * reason into buf and returns it, or NULL when enough devices are usable.
 * Three causes get three messages: "no NVIDIA driver loaded", "driver
 * older than the CUDA runtime (driver X, runtime Y)", "no CUDA device". */
const char *kvw_gpu_reason(int count_error, const char *error_text, int driver_version, int runtime_version,
                           int devices, int min_devices, char *buf, size_t cap);

/* Causal attention (attention.cu): warps per block (each warp owns 16
 * query rows) so that the grid of ceil(T / (16 warps)) x heads blocks
 * fills at least two waves of sms multiprocessors where it can: 4 warps
 * for long prompts, fewer below (T <= 512 on 132 SMs). */
int kvw_attn_warps(int tokens, int heads, int sms);

/* The query tile block x of n works on: the heaviest (last, most keys)
 * first, so the longest blocks start in the first wave and the short ones
 * fill the tail (the causal triangle's load balance). */
KVW_HD int kvw_attn_tile(int block, int n_tiles)
{
	return n_tiles - 1 - block;
}

/* A launch loop timed as BabelStream and nvbandwidth do: one mark before
 * the first of reps operations, one after the last, nothing between;
 * the elapsed time over reps.  op returns 0 on success.  < 0 on error. */
typedef struct kvw_marks {
	int (*mark)(void *ctx, int stop); /* records the start (0) or stop (1) mark; 0 ok */
	double (*elapsed)(void *ctx);     /* seconds between the marks, < 0 on error */
	void *ctx;
} kvw_marks;
double kvw_time_loop(int reps, int (*op)(void *arg), void *arg, const kvw_marks *m);

/* How a prefill/decode GEMM is set up for cuBLASLt (gemm.c): fp8 (e4m3)
 * operands run with CUBLASLT_MATMUL_DESC_FAST_ACCUM on, as inference
 * engines run them (cuBLASLt docs, cublasLtMatmulDescAttributes_t: "fast
 * FP8 mode ... less accurate accumulation"; without it the fp8 GEMMs are
 * 10-20% slower than what engines get). */
typedef struct kvw_gemm_mode {
	int operand_bytes; /* 1 (e4m3) or 2 (bf16) */
	bool fast_accum;
} kvw_gemm_mode;
kvw_gemm_mode kvw_gemm_mode_for(bool fp8);

/* Whether the own causal attention kernel (attention.cu, flash_k) has this
 * shape: one head size of 64 or 128 for Q, K and V (d_qk == d_v), KV heads
 * dividing the query heads.  MLA in MHA form (192/128) it has not. */
bool kvw_attn_own_has(int d_qk, int d_v, int heads, int kv_heads);

/* Whether cuDNN's SDPA forward takes these head sizes on a card of
 * compute capability cc (major x 10 + minor, 90 = sm_90; 0 = unknown):
 * NULL when it does, else the reason (into buf).  The rules are the cuDNN
 * frontend's support matrix (docs/operations/Attention.md, "Support
 * Matrix", stated for cuDNN 9.18.1): head sizes up to 256, multiples of 8
 * (bf16) or 16 (fp8); d_qk equal to d_v except d_qk = 192 with d_v = 128
 * (MLA in MHA form), which the matrix lists for Hopper and Blackwell only
 * (footnote 5).  The frontend's own tests run d_qk != d_v from cuDNN 8.9.6
 * on (test/python/test_mhas.py), and the shim loads libcudnn.so.9 only, so
 * no loadable version lacks it.  The shim (cudnn_sdpa.cc) refuses with
 * this reason before building a graph; cuDNN's check_support has the last
 * word on everything else. */
const char *kvw_sdpa_head_refusal(int d_qk, int d_v, bool fp8, int cc, char *buf, size_t cap);

/* Whether need bytes fit in free_bytes leaving reserve; when not, why
 * (what, how much it needs, how much is free) into buf. */
bool kvw_fits_memory(const char *what, size_t need, size_t free_bytes, size_t reserve, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
