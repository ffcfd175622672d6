/* probe_math.h — the arithmetic of the GPU probes that needs no GPU
 * (probe_math.c), unit-tested in test_harness: the overlap slowdown and
 * when a measurement of it is inconsistent, and a decode-step point. */
#ifndef KVW_PROBE_MATH_H
#define KVW_PROBE_MATH_H

#include <stdbool.h>
#include <stddef.h>

/* One side's slowdown under overlap: together / alone, both medians with
 * their standard deviations.  Running beside a copy cannot make GEMMs
 * faster, so a ratio under 1 is noise — or a broken measurement.  Noise
 * is 3 x the combined relative spread plus 1%.  A ratio within noise of
 * 1 or above is kept (slowdown = max(1, ratio), *noise set); one below
 * 1 - noise is refused: false, with why. */
bool kvw_overlap_slowdown(double together, double together_sd, double alone, double alone_sd, double *slowdown,
                          double *noise, char *why, size_t cap);

/* A decode-step point (profile.decode.points[]): one layer's median time
 * layer_s, the bytes it reads (weights + KV), the HBM read bandwidth in
 * bytes/s; fills achieved GB/s, the bound bytes / bw and the fixed time
 * layer_s - bound the bytes do not explain. */
typedef struct kvw_decode_point {
	int batch;
	long ctx;
	double layer_s, step_s, bytes, achieved_gbps, bound_s, fixed_s;
} kvw_decode_point;
void kvw_decode_point_fill(kvw_decode_point *p, int batch, long ctx, double layer_s, int n_layers, double bytes,
                           double read_bw);

/* Bytes one decode layer reads: its weights (params x bytes per param)
 * and the KV of batch sequences of ctx tokens (kv_bytes_per_token of one
 * layer each). */
double kvw_decode_layer_bytes(double layer_params, double weight_bytes, int batch, long ctx, double kv_bytes_per_token);

/* The catalog spec sheet (model/catalog/hardware/gpu) of a CUDA device
 * name, as run_all.sh picks it; NULL when none matches. */
const char *kvw_gpu_sheet_for(const char *device_name);

#endif
