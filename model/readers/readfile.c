/* readfile.c — reading a whole file, and a whole JSON document, with a size
 * bound and a message that names the file.  Every reader in model/readers
 * (config.json, spec sheets, the catalog) goes through here. */
#define _POSIX_C_SOURCE 200809L
#include "kvw_config.h"

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

kvw_err kvw_read_file(const char *path, size_t max, char **buf, size_t *len, kvw_diag *d)
{
	*buf = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return kvw_fail(d, KVW_EINPUT, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	kvw_err err = KVW_OK;
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		err = kvw_fail(d, KVW_EINPUT, "%s is not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		err = kvw_fail(d, KVW_EINPUT, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		err = kvw_fail(d, KVW_ESYS, "out of memory reading %s", path);
		goto out;
	}
	*len = fread(*buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		free(*buf);
		*buf = NULL;
		err = kvw_fail(d, KVW_EINPUT, "cannot read %s", path);
		goto out;
	}
	(*buf)[*len] = '\0';
out:
	fclose(f);
	return err;
}

kvw_err kvw_read_json(const char *path, size_t max, json_t **out, kvw_diag *d)
{
	char *buf;
	size_t len = 0;
	kvw_err err = kvw_read_file(path, max, &buf, &len, d);
	if (err)
		return err;
	json_error_t jerr;
	*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (!*out)
		return kvw_fail(d, KVW_EINPUT, "%s: malformed JSON at line %d column %d: %s", path, jerr.line, jerr.column,
		                jerr.text);
	return KVW_OK;
}
