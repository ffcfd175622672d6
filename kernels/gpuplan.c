/* gpuplan.c — the GPU code's decisions that need no GPU (kvw_gpuplan.h).
 * Built with and without CUDA: the error codes are cudaError_t's numbers,
 * which CUDA keeps stable (driver_types.h). */
#include "kvw_gpuplan.h"

#include <stdio.h>

enum {
	CU_OK = 0,
	CU_INIT = 3,               /* cudaErrorInitializationError */
	CU_STUB = 34,              /* cudaErrorStubLibrary: the toolkit's stub libcuda, no driver */
	CU_INSUFFICIENT = 35,      /* cudaErrorInsufficientDriver */
	CU_UNAVAILABLE = 46,       /* cudaErrorDevicesUnavailable */
	CU_NO_DEVICE = 100,        /* cudaErrorNoDevice */
	CU_DRIVER_MISMATCH = 803,  /* cudaErrorSystemDriverMismatch: kernel module vs user library */
};

static void version_text(int v, char *out, size_t cap)
{
	snprintf(out, cap, "%d.%d", v / 1000, (v % 1000) / 10);
}

const char *kvw_gpu_reason(int count_error, const char *error_text, int driver_version, int runtime_version,
                           int devices, int min_devices, char *buf, size_t cap)
{
	char drv[16], rt[16];
	version_text(driver_version, drv, sizeof drv);
	version_text(runtime_version, rt, sizeof rt);
	const char *text = error_text ? error_text : "?";
	if (count_error == CU_OK) {
		if (devices >= min_devices)
			return NULL;
		if (devices == 0)
			snprintf(buf, cap, "no CUDA device (the driver %s sees none)", drv);
		else
			snprintf(buf, cap, "needs %d CUDA devices, found %d", min_devices, devices);
		return buf;
	}
	/* no driver: libcuda.so.1 absent (the runtime reports "insufficient
	 * driver" with driver version 0) or only the toolkit's stub */
	if (count_error == CU_STUB || ((count_error == CU_INSUFFICIENT || count_error == CU_INIT) && driver_version == 0))
		snprintf(buf, cap, "no NVIDIA driver loaded (libcuda.so.1 not found or a stub)");
	else if (count_error == CU_INSUFFICIENT)
		snprintf(buf, cap, "driver older than the CUDA runtime (driver %s, runtime %s)", drv, rt);
	else if (count_error == CU_DRIVER_MISMATCH)
		snprintf(buf, cap, "no NVIDIA driver loaded: the kernel module and libcuda differ in version (%s)", text);
	else if (count_error == CU_NO_DEVICE)
		snprintf(buf, cap, "no CUDA device (driver %s loaded, no GPU visible: check CUDA_VISIBLE_DEVICES)", drv);
	else if (count_error == CU_UNAVAILABLE)
		snprintf(buf, cap, "no CUDA device available (all busy or in exclusive-process mode: %s)", text);
	else
		snprintf(buf, cap, "no CUDA device (%s)", text);
	return buf;
}

int kvw_attn_warps(int tokens, int heads, int sms)
{
	if (tokens < 1 || heads < 1 || sms < 1)
		return 4;
	for (int w = 4; w > 1; w /= 2) {
		long rows = 16L * w, blocks = (tokens + rows - 1) / rows * (long)heads;
		if (blocks >= 2L * sms)
			return w;
	}
	return 1;
}

double kvw_time_loop(int reps, int (*op)(void *arg), void *arg, const kvw_marks *m)
{
	if (reps < 1 || m->mark(m->ctx, 0) != 0)
		return -1;
	int bad = 0;
	for (int i = 0; i < reps && !bad; i++)
		bad = op(arg) != 0;
	if (m->mark(m->ctx, 1) != 0 || bad)
		return -1;
	double t = m->elapsed(m->ctx);
	return t < 0 ? -1 : t / reps;
}

bool kvw_fits_memory(const char *what, size_t need, size_t free_bytes, size_t reserve, char *buf, size_t cap)
{
	if (need <= free_bytes && free_bytes - need >= reserve)
		return true;
	snprintf(buf, cap, "%s needs %.1f GiB of GPU memory (+%.1f GiB reserve), %.1f GiB are free", what,
	         (double)need / 1073741824.0, (double)reserve / 1073741824.0, (double)free_bytes / 1073741824.0);
	return false;
}

kvw_gemm_mode kvw_gemm_mode_for(bool fp8)
{
	return (kvw_gemm_mode){ .operand_bytes = fp8 ? 1 : 2, .fast_accum = fp8 };
}

const char *kvw_sdpa_head_refusal(int d_qk, int d_v, bool fp8, int cc, char *buf, size_t cap)
{
	int mult = fp8 ? 16 : 8;
	if (d_qk < 1 || d_v < 1 || d_qk > 256 || d_v > 256)
		snprintf(buf, cap, "cuDNN SDPA takes head sizes up to 256, not d_qk %d, d_v %d", d_qk, d_v);
	else if (d_qk % mult || d_v % mult)
		snprintf(buf, cap, "cuDNN SDPA needs head sizes that are multiples of %d for %s (d_qk %d, d_v %d)", mult,
		         fp8 ? "fp8" : "bf16", d_qk, d_v);
	else if (d_qk != d_v && !(d_qk == 192 && d_v == 128))
		snprintf(buf, cap, "cuDNN SDPA needs d_qk == d_v, or d_qk 192 with d_v 128 (MLA); not d_qk %d, d_v %d",
		         d_qk, d_v);
	else if (d_qk != d_v && cc > 0 && cc < 90)
		snprintf(buf, cap, "cuDNN SDPA has d_qk 192 with d_v 128 on Hopper (sm_90) and later only; this card is "
		         "sm_%d", cc);
	else
		return NULL;
	return buf;
}

bool kvw_attn_own_has(int d_qk, int d_v, int heads, int kv_heads)
{
	return d_qk == d_v && (d_qk == 64 || d_qk == 128) && kv_heads > 0 && heads > 0 && heads % kv_heads == 0;
}
