/* gpu.c — kvw_gpu.h on the CUDA runtime (C API, no kernels here). */
#include "kvw_gpu.h"
#include "kvw_gpuplan.h"

#include <cuda_runtime_api.h>
#include <stdio.h>

const char *kvw_gpu_unavailable(int min_devices)
{
	static char why[200];
	int n = 0, drv = 0, rt = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	cudaDriverGetVersion(&drv);
	cudaRuntimeGetVersion(&rt);
	if (e != cudaSuccess)
		n = 0;
	return kvw_gpu_reason((int)e, cudaGetErrorString(e), drv, rt, n, min_devices, why, sizeof why);
}

json_t *kvw_gpu_facts(void)
{
	json_t *arr = json_array();
	int n = 0, drv = 0, rt = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess)
		return arr;
	cudaDriverGetVersion(&drv);
	cudaRuntimeGetVersion(&rt);
	for (int i = 0; i < n; i++) {
		struct cudaDeviceProp p;
		if (cudaGetDeviceProperties(&p, i) != cudaSuccess)
			continue;
		char ver[32], cc[16];
		json_t *g = json_object();
		json_object_set_new(g, "index", json_integer(i));
		json_object_set_new(g, "name", json_string(p.name));
		snprintf(ver, sizeof ver, "%d.%d", drv / 1000, (drv % 1000) / 10);
		json_object_set_new(g, "driver_cuda", json_string(ver));
		snprintf(ver, sizeof ver, "%d.%d", rt / 1000, (rt % 1000) / 10);
		json_object_set_new(g, "runtime", json_string(ver));
		json_object_set_new(g, "memory_bytes", json_integer((json_int_t)p.totalGlobalMem));
		json_object_set_new(g, "sm_count", json_integer(p.multiProcessorCount));
		snprintf(cc, sizeof cc, "%d.%d", p.major, p.minor);
		json_object_set_new(g, "cc", json_string(cc));
		json_object_set_new(g, "l2_bytes", json_integer(p.l2CacheSize));
		json_object_set_new(g, "pci_bus_id", json_integer(p.pciBusID));
		json_array_append_new(arr, g);
	}
	return arr;
}

void kvw_gpu_select(int local_rank)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) == cudaSuccess && n > 0)
		cudaSetDevice(local_rank % n);
}

bool kvw_gpu_has_fp8(void)
{
	int dev = 0, major = 0, minor = 0;
	if (cudaGetDevice(&dev) != cudaSuccess)
		return false;
	cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
	cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
	return major * 10 + minor >= 89;
}

bool kvw_gpu_pci(char *out, int cap)
{
	int dev = 0;
	return cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetPCIBusId(out, cap, dev) == cudaSuccess;
}

void *kvw_gpu_copy_of(const void *host, size_t n)
{
	void *dev = NULL;
	if (cudaMalloc(&dev, n) != cudaSuccess)
		return NULL;
	if (cudaMemcpy(dev, host, n, cudaMemcpyHostToDevice) != cudaSuccess) {
		cudaFree(dev);
		return NULL;
	}
	return dev;
}

bool kvw_gpu_to_host(void *dst, const void *dev, size_t n)
{
	return cudaMemcpy(dst, dev, n, cudaMemcpyDeviceToHost) == cudaSuccess;
}

void kvw_gpu_free(void *dev)
{
	if (dev)
		cudaFree(dev);
}
