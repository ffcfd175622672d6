/* catalog.c — finding model configs and spec sheets by name.
 *
 * Layout under the catalog directory:
 *   models/<name>.json          Hugging Face config.json files
 *   hardware/gpu/<name>.json    kvwall.hw/1 GPU sheets
 *   hardware/link/<name>.json   kvwall.hw/1 link sheets
 * Names are file stems, matched case-insensitively.
 */
#define _POSIX_C_SOURCE 200809L
#include "kvw_config.h"

#include <jansson.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#ifndef KVW_CATALOG_DEFAULT
#define KVW_CATALOG_DEFAULT "model/catalog"
#endif

static const char *override_dir;

static const char *const subdirs[] = {
	[KVW_CAT_MODEL] = "models", [KVW_CAT_GPU] = "hardware/gpu", [KVW_CAT_LINK] = "hardware/link",
};
static const char *const kind_names[] = {
	[KVW_CAT_MODEL] = "model", [KVW_CAT_GPU] = "GPU", [KVW_CAT_LINK] = "link",
};

void kvw_catalog_set_dir(const char *dir)
{
	override_dir = dir;
}

const char *kvw_catalog_dir(void)
{
	if (override_dir)
		return override_dir;
	const char *env = getenv("KVWALL_CATALOG");
	return env && *env ? env : KVW_CATALOG_DEFAULT;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void kvw_catalog_free_names(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

kvw_err kvw_catalog_list(kvw_cat_kind kind, char ***names, int *n, kvw_diag *d)
{
	char dir[4096];
	*names = NULL;
	*n = 0;
	kvw_err jerr = kvw_path_join(dir, sizeof dir, kvw_catalog_dir(), subdirs[kind], d);
	if (jerr)
		return jerr;
	DIR *dh = opendir(dir);
	if (!dh)
		return kvw_fail(d, KVW_EINPUT, "catalog directory %s: %s (set KVWALL_CATALOG)", dir, strerror(errno));
	int cap = 0;
	kvw_err err = KVW_OK;
	struct dirent *e;
	while ((e = readdir(dh))) {
		size_t l = strlen(e->d_name);
		if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			char **grown = realloc(*names, (size_t)cap * sizeof *grown);
			if (!grown) {
				err = kvw_fail(d, KVW_ESYS, "out of memory listing %s", dir);
				break;
			}
			*names = grown;
		}
		if (!((*names)[*n] = strndup(e->d_name, l - 5))) {
			err = kvw_fail(d, KVW_ESYS, "out of memory listing %s", dir);
			break;
		}
		(*n)++;
	}
	closedir(dh);
	if (err) {
		kvw_catalog_free_names(*names, *n);
		*names = NULL;
		*n = 0;
		return err;
	}
	if (*n)
		qsort(*names, (size_t)*n, sizeof **names, cmp_names);
	return KVW_OK;
}

/* Finds name's file; on an unknown name the message lists the known ones. */
static kvw_err find(kvw_cat_kind kind, const char *name, char *path, size_t cap, char *stem, kvw_diag *d)
{
	char **names;
	int n;
	kvw_err err = kvw_catalog_list(kind, &names, &n, d);
	if (err)
		return err;
	int hit = -1;
	for (int i = 0; i < n && hit < 0; i++)
		if (strcasecmp(names[i], name) == 0)
			hit = i;
	if (hit >= 0) {
		char dir[4096], file[512];
		snprintf(file, sizeof file, "%s.json", names[hit]);
		if (!(err = kvw_path_join(dir, sizeof dir, kvw_catalog_dir(), subdirs[kind], d)))
			err = kvw_path_join(path, cap, dir, file, d);
		snprintf(stem, KVW_NAME_LEN, "%s", names[hit]);
	} else {
		char known[384] = "";
		size_t used = 0;
		for (int i = 0; i < n && used < sizeof known; i++)
			used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", names[i]);
		err = kvw_fail(d, KVW_EUSAGE, "unknown %s '%s' (known: %s)", kind_names[kind], name, known);
	}
	kvw_catalog_free_names(names, n);
	return err;
}

kvw_err kvw_catalog_model(const char *name, kvw_arch *out, kvw_diag *d)
{
	char path[4200], stem[KVW_NAME_LEN];
	kvw_err err = find(KVW_CAT_MODEL, name, path, sizeof path, stem, d);
	return err ? err : kvw_config_load(path, stem, out, d);
}

typedef kvw_err (*sheet_parser)(const char *, size_t, void *, kvw_diag *);

static kvw_err load_sheet(kvw_cat_kind kind, const char *name, sheet_parser parse, void *out, kvw_diag *d)
{
	char path[4200], stem[KVW_NAME_LEN], *buf;
	size_t len;
	kvw_err err = find(kind, name, path, sizeof path, stem, d);
	if (err || (err = kvw_read_file(path, 1u << 20, &buf, &len, d)))
		return err;
	err = parse(buf, len, out, d);
	free(buf);
	return err ? kvw_prefix(d, err, path) : KVW_OK;
}

static kvw_err parse_gpu(const char *t, size_t l, void *o, kvw_diag *d)
{
	return kvw_hw_gpu_parse(t, l, o, d);
}

static kvw_err parse_link(const char *t, size_t l, void *o, kvw_diag *d)
{
	return kvw_hw_link_parse(t, l, o, d);
}

kvw_err kvw_catalog_gpu(const char *name, kvw_hw_gpu *out, kvw_diag *d)
{
	return load_sheet(KVW_CAT_GPU, name, parse_gpu, out, d);
}

kvw_err kvw_catalog_link(const char *name, kvw_hw_link *out, kvw_diag *d)
{
	return load_sheet(KVW_CAT_LINK, name, parse_link, out, d);
}
