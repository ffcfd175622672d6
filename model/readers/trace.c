/* trace.c — Mooncake JSONL and Azure CSV traces into a kvw_workload
 * (kvw_trace.h).  One pass over the text, line by line; every error says
 * "file:line: what".  Files are read through zlib, which reads plain and
 * gzip-compressed files alike.
 */
#define _POSIX_C_SOURCE 200809L
#include "kvw_trace.h"

#include <jansson.h>
#include <zlib.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvw_config.h"

/* ---- growing the workload ------------------------------------------------ */

typedef struct builder {
	kvw_workload *w;
	size_t cap_req, cap_hash;
	const char *name;
	long line;
	double t0, last;
	bool any_hash;
} builder;

static kvw_err grow(void **p, size_t *cap, size_t need, size_t elem, kvw_diag *d)
{
	if (need <= *cap)
		return KVW_OK;
	size_t n = *cap ? *cap : 1024;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem)
			return kvw_fail(d, KVW_ESYS, "out of memory reading a trace");
		n *= 2;
	}
	void *q = realloc(*p, n * elem);
	if (!q)
		return kvw_fail(d, KVW_ESYS, "out of memory reading a trace");
	*p = q;
	*cap = n;
	return KVW_OK;
}

static kvw_err bad(builder *b, kvw_diag *d, const char *what)
{
	return kvw_fail(d, KVW_EINPUT, "%s:%ld: %s", b->name, b->line, what);
}

/* Appends one request; t is the trace's own time in seconds. */
static kvw_err add_request(builder *b, double t, double in, double out, kvw_diag *d)
{
	char why[200];
	if (!isfinite(t) || t < 0 || t > 1e10) {
		snprintf(why, sizeof why, "timestamp %g is not a time (want seconds or ms >= 0)", t);
		return bad(b, d, why);
	}
	if (!(in >= 1 && in <= KVW_TRACE_MAX_TOKENS) || in != floor(in)) {
		snprintf(why, sizeof why, "input length %g is not a token count in 1 .. %ld", in, KVW_TRACE_MAX_TOKENS);
		return bad(b, d, why);
	}
	if (!(out >= 1 && out <= KVW_TRACE_MAX_TOKENS) || out != floor(out)) {
		snprintf(why, sizeof why, "output length %g is not a token count in 1 .. %ld", out, KVW_TRACE_MAX_TOKENS);
		return bad(b, d, why);
	}
	kvw_workload *w = b->w;
	if (w->n == 0)
		b->t0 = b->last = t;
	if (t < b->last) {
		snprintf(why, sizeof why, "timestamp goes backwards (%.9g after %.9g): a trace must be in arrival order",
		         t, b->last);
		return bad(b, d, why);
	}
	b->last = t;
	kvw_err err = grow((void **)&w->req, &b->cap_req, w->n + 1, sizeof *w->req, d);
	if (err)
		return err;
	w->req[w->n] = (kvw_request){ .arrival_s = t - b->t0, .input_tokens = (long)in, .output_tokens = (long)out,
	                              .hash_off = w->n_hashes, .n_hash = 0 };
	w->n++;
	return KVW_OK;
}

/* ---- Mooncake JSONL ------------------------------------------------------ */

static kvw_err number_field(builder *b, json_t *o, const char *key, bool integer, double *out, kvw_diag *d)
{
	json_t *v = json_object_get(o, key);
	char why[160];
	if (!v) {
		snprintf(why, sizeof why, "no \"%s\"", key);
		return bad(b, d, why);
	}
	if (integer ? !json_is_integer(v) : !json_is_number(v)) {
		snprintf(why, sizeof why, "\"%s\" is not %s", key, integer ? "an integer" : "a number");
		return bad(b, d, why);
	}
	*out = json_number_value(v);
	return KVW_OK;
}

static kvw_err mooncake_line(builder *b, const char *s, size_t n, kvw_diag *d)
{
	json_error_t je;
	json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
	char why[300];
	if (!o) {
		snprintf(why, sizeof why, "malformed JSON at column %d: %s", je.column, je.text);
		return bad(b, d, why);
	}
	kvw_err err = KVW_OK;
	double t, in, out;
	if (!json_is_object(o))
		err = bad(b, d, "not a JSON object (a Mooncake trace has one request object per line)");
	if (!err && !(err = number_field(b, o, "timestamp", false, &t, d)) &&
	    !(err = number_field(b, o, "input_length", true, &in, d)) &&
	    !(err = number_field(b, o, "output_length", true, &out, d)))
		err = add_request(b, t / 1000.0, in, out, d);
	json_t *h = err ? NULL : json_object_get(o, "hash_ids");
	if (!err && h) {
		kvw_workload *w = b->w;
		size_t k = json_array_size(h);
		double blocks = ceil(in / KVW_MOONCAKE_BLOCK);
		if (!json_is_array(h))
			err = bad(b, d, "\"hash_ids\" is not an array");
		else if ((double)k > blocks) {
			snprintf(why, sizeof why, "%zu hash_ids for %.0f tokens: more than one per %d-token block", k, in,
			         KVW_MOONCAKE_BLOCK);
			err = bad(b, d, why);
		} else
			err = grow((void **)&w->hashes, &b->cap_hash, w->n_hashes + k, sizeof *w->hashes, d);
		for (size_t i = 0; !err && i < k; i++) {
			json_t *e = json_array_get(h, i);
			if (!json_is_integer(e) || json_integer_value(e) < 0) {
				snprintf(why, sizeof why, "hash_ids[%zu] is not a non-negative integer", i);
				err = bad(b, d, why);
			} else
				w->hashes[w->n_hashes + i] = (uint64_t)json_integer_value(e);
		}
		if (!err) {
			w->n_hashes += k;
			w->req[w->n - 1].n_hash = (int)k;
			b->any_hash |= k > 0;
		}
	}
	json_decref(o);
	return err;
}

/* ---- Azure CSV ----------------------------------------------------------- */

typedef struct azure_cols {
	int ts, in, out, n;
} azure_cols;

/* the i-th comma-separated field of s[0..n), without surrounding blanks or quotes */
static bool csv_field(const char *s, size_t n, int i, const char **f, size_t *fl)
{
	size_t a = 0;
	for (int k = 0; k < i; k++) {
		const char *c = memchr(s + a, ',', n - a);
		if (!c)
			return false;
		a = (size_t)(c - s) + 1;
	}
	const char *c = memchr(s + a, ',', n - a);
	size_t e = c ? (size_t)(c - s) : n;
	while (a < e && (isspace((unsigned char)s[a]) || s[a] == '"'))
		a++;
	while (e > a && (isspace((unsigned char)s[e - 1]) || s[e - 1] == '"'))
		e--;
	*f = s + a;
	*fl = e - a;
	return true;
}

static kvw_err azure_header(builder *b, const char *s, size_t n, azure_cols *c, kvw_diag *d)
{
	c->ts = c->in = c->out = -1;
	c->n = 0;
	const char *f;
	size_t fl;
	for (int i = 0; csv_field(s, n, i, &f, &fl); i++, c->n++) {
		if (fl == 9 && strncasecmp(f, "TIMESTAMP", 9) == 0)
			c->ts = i;
		else if (fl == 13 && strncasecmp(f, "ContextTokens", 13) == 0)
			c->in = i;
		else if (fl == 15 && strncasecmp(f, "GeneratedTokens", 15) == 0)
			c->out = i;
	}
	if (c->ts < 0 || c->in < 0 || c->out < 0)
		return bad(b, d, "not a trace: want a Mooncake JSONL line, or a CSV header with TIMESTAMP, "
		                 "ContextTokens and GeneratedTokens (Azure LLM inference trace)");
	return KVW_OK;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil) */
static long days_from_civil(long y, long m, long d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* a field as a C string in buf; false when empty or too long */
static bool field_str(const char *f, size_t fl, char *buf, size_t cap)
{
	if (fl == 0 || fl >= cap)
		return false;
	memcpy(buf, f, fl);
	buf[fl] = '\0';
	return true;
}

/* the whole field is one number */
static bool parse_number(const char *f, size_t fl, double *out)
{
	char buf[64], *end;
	if (!field_str(f, fl, buf, sizeof buf))
		return false;
	errno = 0;
	double v = strtod(buf, &end);
	if (errno || end == buf || *end)
		return false;
	*out = v;
	return true;
}

/* "YYYY-MM-DD HH:MM:SS[.frac]" (or with a T) or a plain number of seconds */
static bool parse_time(const char *f, size_t fl, double *out)
{
	char buf[64];
	if (!field_str(f, fl, buf, sizeof buf))
		return false;
	long Y, M, D, h, m;
	int used = 0;
	double s;
	if (sscanf(buf, "%4ld-%2ld-%2ld%*1[ T]%2ld:%2ld:%lf%n", &Y, &M, &D, &h, &m, &s, &used) == 6 &&
	    used == (int)fl) {
		if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || !(s >= 0 && s < 61))
			return false;
		*out = (double)days_from_civil(Y, M, D) * 86400.0 + (double)(h * 3600 + m * 60) + s;
		return true;
	}
	return parse_number(f, fl, out);
}

static kvw_err azure_line(builder *b, const azure_cols *c, const char *s, size_t n, kvw_diag *d)
{
	const char *f;
	size_t fl;
	double t, in, out;
	char why[200];
	if (!csv_field(s, n, c->ts, &f, &fl) || !parse_time(f, fl, &t)) {
		snprintf(why, sizeof why, "TIMESTAMP is not a time (want YYYY-MM-DD HH:MM:SS[.f] or seconds)");
		return bad(b, d, why);
	}
	if (!csv_field(s, n, c->in, &f, &fl) || !parse_number(f, fl, &in))
		return bad(b, d, "ContextTokens is not a number");
	if (!csv_field(s, n, c->out, &f, &fl) || !parse_number(f, fl, &out))
		return bad(b, d, "GeneratedTokens is not a number");
	return add_request(b, t, in, out, d);
}

/* ---- the text ------------------------------------------------------------ */

kvw_err kvw_trace_parse(const char *text, size_t len, kvw_trace_format fmt, const char *name, kvw_workload *out,
                        kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	builder b = { .w = out, .name = name };
	size_t i = 0;
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (fmt == KVW_TRACE_AUTO)
		fmt = i < len && text[i] == '{' ? KVW_TRACE_MOONCAKE : KVW_TRACE_AZURE;
	azure_cols cols = { 0 };
	bool header = fmt == KVW_TRACE_AZURE;
	kvw_err err = KVW_OK;
	for (size_t a = 0; a < len && !err;) {
		const char *nl = memchr(text + a, '\n', len - a);
		size_t e = nl ? (size_t)(nl - text) : len, l = e - a;
		b.line++;
		if (l && text[a + l - 1] == '\r')
			l--;
		size_t k = 0;
		while (k < l && isspace((unsigned char)text[a + k]))
			k++;
		if (k < l) {
			if (memchr(text + a, '\0', l))
				err = bad(&b, d, "binary data (a NUL byte): not a text trace");
			else if (header) {
				err = azure_header(&b, text + a, l, &cols, d);
				header = false;
			} else if (fmt == KVW_TRACE_MOONCAKE)
				err = mooncake_line(&b, text + a, l, d);
			else
				err = azure_line(&b, &cols, text + a, l, d);
		}
		a = e + 1;
	}
	if (!err && out->n == 0)
		err = kvw_fail(d, KVW_EINPUT, "%s: no requests in the trace", name);
	if (err) {
		kvw_workload_free(out);
		return err;
	}
	out->hash_block = b.any_hash ? KVW_MOONCAKE_BLOCK : 0;
	snprintf(out->name, sizeof out->name, "%s", name);
	return KVW_OK;
}

/* ---- files --------------------------------------------------------------- */

static kvw_err read_all(const char *path, char **buf, size_t *len, kvw_diag *d)
{
	*buf = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return kvw_fail(d, KVW_EINPUT, "cannot open trace %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return kvw_fail(d, KVW_EINPUT, "trace %s is not a regular file", path);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	gzFile g = gzdopen(fd, "rb");
	if (!g) {
		close(fd);
		return kvw_fail(d, KVW_ESYS, "out of memory opening trace %s", path);
	}
	size_t cap = 0;
	kvw_err err = KVW_OK;
	for (;;) {
		if (*len + (1u << 20) + 1 > cap) {
			if (cap >= KVW_TRACE_MAX_BYTES) {
				err = kvw_fail(d, KVW_EINPUT, "trace %s is larger than %lu bytes", path, KVW_TRACE_MAX_BYTES);
				break;
			}
			size_t nc = cap ? 2 * cap : (4u << 20);
			char *q = realloc(*buf, nc);
			if (!q) {
				err = kvw_fail(d, KVW_ESYS, "out of memory reading trace %s", path);
				break;
			}
			*buf = q;
			cap = nc;
		}
		int got = gzread(g, *buf + *len, 1u << 20);
		if (got < 0) {
			int zerr;
			const char *msg = gzerror(g, &zerr);
			err = kvw_fail(d, KVW_EINPUT, "cannot read trace %s: %s", path,
			               zerr == Z_ERRNO ? strerror(errno) : msg);
			break;
		}
		if (got == 0)
			break;
		*len += (size_t)got;
	}
	gzclose(g);
	if (err) {
		free(*buf);
		*buf = NULL;
		*len = 0;
		return err;
	}
	(*buf)[*len] = '\0';
	return KVW_OK;
}

kvw_err kvw_trace_load(const char *path, kvw_workload *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	char *buf;
	size_t len;
	kvw_err err = read_all(path, &buf, &len, d);
	if (err)
		return err;
	err = kvw_trace_parse(buf, len, KVW_TRACE_AUTO, path, out, d);
	free(buf);
	return err;
}

static const char *const trace_ext[] = { ".jsonl.gz", ".jsonl", ".csv.gz", ".csv" };
#define N_EXT (sizeof trace_ext / sizeof trace_ext[0])

static size_t known_ext(const char *f)
{
	size_t l = strlen(f);
	for (size_t i = 0; i < N_EXT; i++) {
		size_t e = strlen(trace_ext[i]);
		if (l > e && strcasecmp(f + l - e, trace_ext[i]) == 0)
			return e;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

kvw_err kvw_trace_open(const char *name, kvw_workload *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	if (strchr(name, '/') || known_ext(name))
		return kvw_trace_load(name, out, d);
	char dir[4096];
	if (snprintf(dir, sizeof dir, "%s/traces", kvw_catalog_dir()) >= (int)sizeof dir)
		return kvw_fail(d, KVW_EINPUT, "catalog directory name too long");
	DIR *dh = opendir(dir);
	if (!dh)
		return kvw_fail(d, KVW_EINPUT, "unknown trace '%s' (catalog %s: %s)", name, dir, strerror(errno));
	char *names[64], hit[512] = "";
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dh))) {
		size_t x = known_ext(e->d_name);
		if (!x)
			continue;
		size_t stem = strlen(e->d_name) - x;
		if (stem == strlen(name) && strncasecmp(e->d_name, name, stem) == 0 && !hit[0])
			snprintf(hit, sizeof hit, "%s", e->d_name);
		if (n < 64 && (names[n] = strndup(e->d_name, stem)))
			n++;
	}
	closedir(dh);
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	char known[384] = "";
	size_t used = 0;
	for (int i = 0; i < n; i++)
		if (used < sizeof known && (i == 0 || strcmp(names[i], names[i - 1])))
			used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", names[i]);
	for (int i = 0; i < n; i++)
		free(names[i]);
	if (!hit[0])
		return kvw_fail(d, KVW_EUSAGE, "unknown trace '%s' (bundled: %s; or give a path)", name, known);
	char path[4700];
	snprintf(path, sizeof path, "%s/%s", dir, hit);
	kvw_err err = kvw_trace_load(path, out, d);
	if (!err) {
		size_t x = known_ext(hit);
		snprintf(out->name, sizeof out->name, "%.*s", (int)(strlen(hit) - x), hit);
	}
	return err;
}
