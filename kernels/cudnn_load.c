/* cudnn_load.c — finds and opens the cuDNN shim (kvw_cudnn.h) with dlopen.
 *
 * Where: $KVW_CUDNN_SHIM if set ("off" switches cuDNN off), else
 * libkvw_cudnn.so beside the running executable, else the path CMake
 * built it at.  The first reason anything fails is kept and returned by
 * kvw_cudnn_unavailable(), so every probe can record why it ran the own
 * kernel: the dlopen error (libcudnn.so.9 missing is the usual one), a
 * missing or mismatched entry point, or how kvwall was built.
 */
#define _GNU_SOURCE
#include "kvw_cudnn.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const kvw_cudnn_shim_ops *shim;
static char why[512];
static int tried;

/* libkvw_cudnn.so in the folder of /proc/self/exe */
static bool beside_exe(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	snprintf(out, cap, "%s/libkvw_cudnn.so", exe);
	return access(out, R_OK) == 0;
}

static const char *open_shim(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, sizeof why, "cuDNN shim not loaded: %s", e ? e : path);
		return why;
	}
	const kvw_cudnn_shim_ops *(*entry)(void) = NULL;
	void *sym = dlsym(h, "kvw_cudnn_shim");
	memcpy(&entry, &sym, sizeof entry);
	const kvw_cudnn_shim_ops *ops = entry ? entry() : NULL;
	if (!ops || ops->abi != KVW_CUDNN_SHIM_ABI || !ops->version || !ops->create || !ops->run || !ops->destroy) {
		snprintf(why, sizeof why, "cuDNN shim %s: %s", path,
		         !entry ? "no kvw_cudnn_shim entry point" : "its interface version differs from kvwall's");
		dlclose(h);
		return why;
	}
	long v = ops->version();
	if (v < 90000) {
		snprintf(why, sizeof why, "cuDNN %ld.%ld is older than 9.0, which the shim needs", v / 10000, v / 100 % 100);
		dlclose(h);
		return why;
	}
	shim = ops; /* kept open for the life of the process */
	return NULL;
}

const char *kvw_cudnn_load(const char *path)
{
	char here[PATH_MAX];
	shim = NULL;
	why[0] = '\0';
	tried = 1;
	const char *env = getenv("KVW_CUDNN_SHIM");
	if (!path && env && (strcmp(env, "off") == 0 || strcmp(env, "0") == 0)) {
		snprintf(why, sizeof why, "cuDNN switched off (KVW_CUDNN_SHIM=%s)", env);
		return why;
	}
	if (!path && env && *env)
		path = env;
	if (!path && beside_exe(here, sizeof here))
		path = here;
#ifdef KVW_CUDNN_SHIM_PATH
	if (!path)
		path = KVW_CUDNN_SHIM_PATH;
#else
	if (!path) {
		snprintf(why, sizeof why, "%s", KVW_CUDNN_WHY);
		return why;
	}
#endif
	return open_shim(path);
}

const char *kvw_cudnn_unavailable(void)
{
	if (!tried)
		kvw_cudnn_load(NULL);
	return shim ? NULL : why;
}

long kvw_cudnn_version(void)
{
	return kvw_cudnn_unavailable() ? 0 : shim->version();
}

struct kvw_sdpa {
	void *impl;
};

int kvw_sdpa_create(const kvw_sdpa_shape *shape, kvw_sdpa **out, char *reason, size_t cap)
{
	*out = NULL;
	const char *no = kvw_cudnn_unavailable();
	if (no) {
		snprintf(reason, cap, "%s", no);
		return 1;
	}
	kvw_sdpa *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(reason, cap, "out of memory");
		return 1;
	}
	if (shim->create(shape, &p->impl, reason, cap) != 0) {
		free(p);
		return 1;
	}
	*out = p;
	return 0;
}

int kvw_sdpa_run(kvw_sdpa *p, const void *q, const void *k, const void *v, void *o, const int *page_table,
                 cudaStream_t s, char *reason, size_t cap)
{
	return shim->run(p->impl, q, k, v, o, page_table, s, reason, cap);
}

void kvw_sdpa_destroy(kvw_sdpa *p)
{
	if (!p)
		return;
	shim->destroy(p->impl);
	free(p);
}
