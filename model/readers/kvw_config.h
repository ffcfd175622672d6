/* kvw_config.h — reading architectures and spec sheets from the catalog.
 *
 * Models are Hugging Face config.json files (the format users already
 * have); hardware spec sheets are kvwall.hw/1 JSON files in which every
 * value carries its source.  Parsing uses jansson; the arithmetic on the
 * result lives in kvw_model.h.
 */
#ifndef KVW_CONFIG_H
#define KVW_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "kvw_err.h"
#include "kvw_model.h"

/* Parses a config.json held in memory.  name labels the model (NULL: take
 * "_name_or_path" or "model"); unknown fields are ignored, a missing or
 * ill-typed required field is KVW_EINPUT with the field named in d. */
kvw_err kvw_config_parse(const char *text, size_t len, const char *name,
                         kvw_arch *out, kvw_diag *d);
kvw_err kvw_config_load(const char *path, const char *name, kvw_arch *out, kvw_diag *d);

typedef struct kvw_hw_gpu {
	char name[KVW_NAME_LEN];
	char description[160];
	double memory_bytes;
	double hbm_bw;                   /* bytes/s */
	double peak_flops[KVW_DT_COUNT]; /* dense FLOP/s; 0 = not supported */
	char host_link[KVW_NAME_LEN];    /* catalog link name, "" if none */
	char peer_link[KVW_NAME_LEN];
} kvw_hw_gpu;

typedef struct kvw_hw_link {
	char name[KVW_NAME_LEN];
	char description[160];
	char kind[16];   /* host, peer, network */
	double bw;       /* bytes/s, one direction: the line (data) rate */
	double latency_s;
	/* what benchmarks of this link class typically reach of bw (perftest
	 * ib_write_bw, nccl-tests, iperf3, nvbandwidth), with its source; 1 and
	 * "" when the sheet does not say */
	double efficiency;
	char efficiency_source[512];
} kvw_hw_link;

kvw_err kvw_hw_gpu_parse(const char *text, size_t len, kvw_hw_gpu *out, kvw_diag *d);
kvw_err kvw_hw_link_parse(const char *text, size_t len, kvw_hw_link *out, kvw_diag *d);

/* ---- catalog directories (catalog.c) ----------------------------------- */

/* $KVWALL_CATALOG, else the directory compiled in (the source tree's
 * model/catalog). */
const char *kvw_catalog_dir(void);
void kvw_catalog_set_dir(const char *dir);

typedef enum kvw_cat_kind { KVW_CAT_MODEL, KVW_CAT_GPU, KVW_CAT_LINK } kvw_cat_kind;

/* Sorted names (file stems) of one kind; *names is malloc'd, free with
 * kvw_catalog_free_names(). */
kvw_err kvw_catalog_list(kvw_cat_kind kind, char ***names, int *n, kvw_diag *d);
void kvw_catalog_free_names(char **names, int n);

/* Loads by name, case-insensitive; an unknown name is KVW_EUSAGE and the
 * message lists what there is. */
kvw_err kvw_catalog_model(const char *name, kvw_arch *out, kvw_diag *d);
kvw_err kvw_catalog_gpu(const char *name, kvw_hw_gpu *out, kvw_diag *d);
kvw_err kvw_catalog_link(const char *name, kvw_hw_link *out, kvw_diag *d);

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer the
 * caller frees.  A path that is not a regular file (a FIFO, a device, a
 * directory) is refused before it is read, never waited on. */
kvw_err kvw_read_file(const char *path, size_t max, char **buf, size_t *len, kvw_diag *d);

/* The same check, for readers that go on with stdio: a FILE open for
 * reading, or NULL with *err set and d naming the problem. */
FILE *kvw_open_regular(const char *path, kvw_diag *d, kvw_err *err);
/* The check alone, for paths another library opens (hwloc's XML). */
kvw_err kvw_check_regular(const char *path, kvw_diag *d);

/* dir + "/" + name into out; a result that does not fit in cap is
 * KVW_ESYS "file name too long" (out is then ""), never a truncated path. */
kvw_err kvw_path_join(char *out, size_t cap, const char *dir, const char *name, kvw_diag *d);

/* Reads and parses a JSON file (duplicate keys refused); the message names
 * the file and, for malformed JSON, the line and column.  *out is a new
 * reference. */
typedef struct json_t json_t;
kvw_err kvw_read_json(const char *path, size_t max, json_t **out, kvw_diag *d);

#endif
