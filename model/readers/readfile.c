/* readfile.c — reading a whole file, and a whole JSON document, with a size
 * bound and a message that names the file; and joining paths without
 * silent truncation.  Every reader of kvwall (config.json, spec sheets,
 * the catalog, profiles, compare inputs, validation documents) goes
 * through here.  A file is opened without blocking and checked to be a
 * regular file before a byte is read, so a FIFO or a device given as an
 * input is refused at once instead of hanging. */
#define _POSIX_C_SOURCE 200809L
#include "kvw_config.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
	       : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

FILE *kvw_open_regular(const char *path, kvw_diag *d, kvw_err *err)
{
	char b[256];
	const char *p = kvw_elide(path, 200, b, sizeof b);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	*err = KVW_OK;
	if (fd < 0) {
		*err = kvw_fail(d, KVW_EINPUT, "cannot open %s: %s", p, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*err = kvw_fail(d, KVW_EINPUT, "%s is %s, not a regular file", p, kind_of(st.st_mode));
		close(fd);
		return NULL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		*err = kvw_fail(d, KVW_ESYS, "out of memory opening %s", p);
		close(fd);
	}
	return f;
}

kvw_err kvw_check_regular(const char *path, kvw_diag *d)
{
	kvw_err err;
	FILE *f = kvw_open_regular(path, d, &err);
	if (f)
		fclose(f);
	return err;
}

kvw_err kvw_path_join(char *out, size_t cap, const char *dir, const char *name, kvw_diag *d)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	if (n >= 0 && (size_t)n < cap)
		return KVW_OK;
	char b[256];
	snprintf(out, cap, "%s", "");
	return kvw_fail(d, KVW_ESYS, "file name too long: %s/%s is %d bytes, the limit is %zu",
	                kvw_elide(dir, 160, b, sizeof b), name, n, cap - 1);
}

kvw_err kvw_read_file(const char *path, size_t max, char **buf, size_t *len, kvw_diag *d)
{
	*buf = NULL;
	kvw_err err;
	char b[256];
	FILE *f = kvw_open_regular(path, d, &err);
	const char *shown = kvw_elide(path, 200, b, sizeof b); /* the reason survives a long path */
	if (!f)
		return err;
	struct stat st;
	if (fstat(fileno(f), &st)) {
		err = kvw_fail(d, KVW_EINPUT, "cannot read %s: %s", shown, strerror(errno));
		goto out;
	}
	if ((size_t)st.st_size > max) {
		err = kvw_fail(d, KVW_EINPUT, "%s is larger than %zu bytes", shown, max);
		goto out;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		err = kvw_fail(d, KVW_ESYS, "out of memory reading %s", shown);
		goto out;
	}
	*len = fread(*buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		free(*buf);
		*buf = NULL;
		err = kvw_fail(d, KVW_EINPUT, "cannot read %s", shown);
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
	char b[256];
	*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (!*out)
		return kvw_fail(d, KVW_EINPUT, "%s: malformed JSON at line %d column %d: %s", kvw_elide(path, 200, b, sizeof b),
		                jerr.line, jerr.column,
		                jerr.text);
	return KVW_OK;
}
