/* fill.cu — bf16 operands for the GEMM probes: uniform in [-scale, scale]
 * from a hash of the index (finite, never zeros). */
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "kvw_kernels.h"
#include "pattern.cuh"

__global__ void fill_bf16_k(__nv_bfloat16 *a, size_t n, unsigned seed, float scale)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		uint32_t h = kvw_hash32((uint32_t)i ^ (seed * 0x9e3779b9u) ^ (uint32_t)(i >> 32));
		float u = (float)(h >> 8) * (1.0f / 16777216.0f); /* [0, 1) */
		a[i] = __float2bfloat16(scale * (2.0f * u - 1.0f));
	}
}

extern "C" cudaError_t kvw_fill_bf16(void *a, size_t n, unsigned seed, float scale, cudaStream_t s)
{
	fill_bf16_k<<<1024, 256, 0, s>>>((__nv_bfloat16 *)a, n, seed, scale);
	return cudaGetLastError();
}

__global__ void fill_fp8_k(__nv_fp8_e4m3 *a, size_t n, unsigned seed, float scale)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		uint32_t h = kvw_hash32((uint32_t)i ^ (seed * 0x9e3779b9u) ^ (uint32_t)(i >> 32));
		float u = (float)(h >> 8) * (1.0f / 16777216.0f);
		a[i] = __nv_fp8_e4m3(scale * (2.0f * u - 1.0f));
	}
}

extern "C" cudaError_t kvw_fill_fp8(void *a, size_t n, unsigned seed, float scale, cudaStream_t s)
{
	fill_fp8_k<<<1024, 256, 0, s>>>((__nv_fp8_e4m3 *)a, n, seed, scale);
	return cudaGetLastError();
}

/* bf16 -> e4m3 (saturating) at unit scale: the activations of an fp8 layer */
__global__ void quant_fp8_k(const __nv_bfloat16 *__restrict__ in, __nv_fp8_e4m3 *__restrict__ out, size_t n)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		out[i] = __nv_fp8_e4m3(__bfloat162float(in[i]));
}

extern "C" cudaError_t kvw_quant_fp8(const void *in, void *out, size_t n, cudaStream_t s)
{
	size_t blocks = (n + 255) / 256;
	quant_fp8_k<<<(unsigned)(blocks < 1024 ? (blocks ? blocks : 1) : 1024), 256, 0, s>>>((const __nv_bfloat16 *)in,
	                                                                                    (__nv_fp8_e4m3 *)out, n);
	return cudaGetLastError();
}

/* e4m3 -> bf16 (exact: every e4m3 value is a bf16 value) */
__global__ void fp8_to_bf16_k(const __nv_fp8_e4m3 *__restrict__ in, __nv_bfloat16 *__restrict__ out, size_t n)
{
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		out[i] = __float2bfloat16(float(in[i]));
}

extern "C" cudaError_t kvw_fp8_to_bf16(const void *in, void *out, size_t n, cudaStream_t s)
{
	fp8_to_bf16_k<<<1024, 256, 0, s>>>((const __nv_fp8_e4m3 *)in, (__nv_bfloat16 *)out, n);
	return cudaGetLastError();
}
