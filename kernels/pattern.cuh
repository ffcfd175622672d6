/* pattern.cuh — the data every kernel writes and checks: a 32-bit hash of
 * (seed, word index), the same on host and device. */
#ifndef KVW_PATTERN_CUH
#define KVW_PATTERN_CUH

#include <stdint.h>

__host__ __device__ __forceinline__ uint32_t kvw_hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

/* the 16-byte element i of pattern(seed) */
__host__ __device__ __forceinline__ uint4 kvw_pattern(unsigned seed, size_t i)
{
	uint32_t w = (uint32_t)(i * 4u) ^ (seed * 0x9e3779b9u);
	return make_uint4(kvw_hash32(w), kvw_hash32(w + 1), kvw_hash32(w + 2), kvw_hash32(w + 3));
}

__host__ __device__ __forceinline__ bool kvw_eq4(uint4 a, uint4 b)
{
	return a.x == b.x && a.y == b.y && a.z == b.z && a.w == b.w;
}

#endif
