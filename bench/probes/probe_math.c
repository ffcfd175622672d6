/* probe_math.c — the GPU probes' arithmetic without a GPU (probe_math.h). */
#include "probe_math.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool kvw_overlap_slowdown(double together, double together_sd, double alone, double alone_sd, double *slowdown,
                          double *noise, char *why, size_t cap)
{
	*slowdown = NAN;
	*noise = NAN;
	if (!(together > 0) || !(alone > 0) || !(together_sd >= 0) || !(alone_sd >= 0)) {
		snprintf(why, cap, "overlap: a time is not positive (together %g s, alone %g s)", together, alone);
		return false;
	}
	double rt = together_sd / together, ra = alone_sd / alone, ratio = together / alone;
	*noise = 3.0 * sqrt(rt * rt + ra * ra) + 0.01;
	if (ratio < 1.0 - *noise) {
		snprintf(why, cap, "overlap: together %.4g s is faster than alone %.4g s (ratio %.3f, noise %.3f): the "
		         "streams did not overlap as timed, or the alone run was disturbed", together, alone, ratio, *noise);
		return false;
	}
	*slowdown = ratio > 1.0 ? ratio : 1.0;
	return true;
}

void kvw_decode_point_fill(kvw_decode_point *p, int batch, long ctx, double layer_s, int n_layers, double bytes,
                           double read_bw)
{
	p->batch = batch;
	p->ctx = ctx;
	p->layer_s = layer_s;
	p->step_s = layer_s * n_layers;
	p->bytes = bytes;
	p->achieved_gbps = bytes / layer_s / 1e9;
	p->bound_s = bytes / read_bw;
	p->fixed_s = layer_s - p->bound_s;
}

double kvw_decode_layer_bytes(double layer_params, double weight_bytes, int batch, long ctx, double kv_bytes_per_token)
{
	return layer_params * weight_bytes + (double)batch * (double)ctx * kv_bytes_per_token;
}

const char *kvw_gpu_sheet_for(const char *n)
{
	if (!n)
		return NULL;
	if (strstr(n, "GH200"))
		return "gh200";
	if (strstr(n, "H200"))
		return "h200";
	if (strstr(n, "H100"))
		return strstr(n, "PCIe") ? "h100-pcie" : "h100-sxm";
	if (strstr(n, "B200"))
		return "b200";
	if (strstr(n, "A100"))
		return "a100-sxm";
	return NULL;
}
