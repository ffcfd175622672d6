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

bool kvw_gpu_pci(char *out, int cap)
{
	(void)out, (void)cap;
	return false;
}
