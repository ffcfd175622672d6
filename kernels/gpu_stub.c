/* gpu_stub.c — kvw_gpu.h when kvwall is built without CUDA. */
#include "kvw_gpu.h"

const char *kvw_gpu_unavailable(int min_devices)
{
	(void)min_devices;
	return "built without CUDA";
}

json_t *kvw_gpu_facts(void)
{
	return json_array();
}

void kvw_gpu_select(int local_rank)
{
	(void)local_rank;
}

bool kvw_gpu_has_fp8(void)
{
	return false;
}

bool kvw_gpu_pci(char *out, int cap)
{
	(void)out, (void)cap;
	return false;
}

void *kvw_gpu_copy_of(const void *host, size_t n)
{
	(void)host, (void)n;
	return NULL;
}

bool kvw_gpu_to_host(void *dst, const void *dev, size_t n)
{
	(void)dst, (void)dev, (void)n;
	return false;
}

void kvw_gpu_free(void *dev)
{
	(void)dev;
}
