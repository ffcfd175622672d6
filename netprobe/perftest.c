/* perftest.c — perftest bandwidth output -> rows (see perftest.h). */
#include "perftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB 1048576.0
#define GBIT 1.25e8

/* the value after "key" and the next ':' on a banner line, one word */
static void banner_value(const char *line, const char *key, char *out, size_t cap)
{
	const char *k = strstr(line, key);
	const char *colon = k ? strchr(k, ':') : NULL;
	if (!colon)
		return;
	colon++;
	while (*colon == ' ' || *colon == '\t')
		colon++;
	size_t n = strcspn(colon, " \t\r\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, colon, n);
	out[n] = '\0';
}

static void trim_copy(const char *line, char *out, size_t cap)
{
	while (*line == ' ' || *line == '\t')
		line++;
	size_t n = strcspn(line, "\r\n");
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, line, n);
	out[n] = '\0';
}

static kvw_err parse_row(const char *line, int lineno, double unit, kvw_pt_row *r, kvw_diag *d)
{
	double v[5];
	const char *p = line;
	for (int i = 0; i < 5; i++) {
		char *end;
		v[i] = strtod(p, &end);
		if (end == p || !isfinite(v[i]) || v[i] < 0)
			return kvw_fail(d, KVW_EINPUT, "perftest output line %d: expected 5 numbers in a result row", lineno);
		p = end;
	}
	if (!(v[0] >= 1) || v[0] != floor(v[0]) || v[1] != floor(v[1]) || v[0] > 1e15 || v[1] > 1e15)
		return kvw_fail(d, KVW_EINPUT, "perftest output line %d: #bytes and #iterations must be whole numbers "
		                "up to 1e15", lineno);
	*r = (kvw_pt_row){ v[0], (long)v[1], v[2] * unit / 1e9, v[3] * unit / 1e9, v[4] };
	return KVW_OK;
}

kvw_err kvw_perftest_parse(const char *text, size_t len, kvw_perftest *out, kvw_diag *d)
{
	memset(out, 0, sizeof *out);
	double unit = 0;
	int lineno = 0;
	bool in_table = false, done = false;
	for (size_t pos = 0; pos < len && !done;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + 1;
		lineno++;
		char buf[512];
		if (n >= sizeof buf)
			n = sizeof buf - 1;
		memcpy(buf, line, n);
		buf[n] = '\0';
		if (in_table) {
			const char *s = buf + strspn(buf, " \t");
			if (*s == '-' || *s == '\0' || *s == '\r') {
				done = *s == '-';
				continue;
			}
			if (out->n == KVW_PT_MAX_ROWS)
				return kvw_fail(d, KVW_EINPUT, "perftest output: more than %d result rows", KVW_PT_MAX_ROWS);
			kvw_err err = parse_row(buf, lineno, unit, &out->rows[out->n], d);
			if (err)
				return err;
			out->n++;
			continue;
		}
		if (strstr(buf, " BW Test"))
			trim_copy(buf, out->test, sizeof out->test);
		if (strstr(buf, "Device") && !out->device[0])
			banner_value(buf, "Device", out->device, sizeof out->device);
		if (strstr(buf, "Link type") && !out->link_type[0])
			banner_value(buf, "Link type", out->link_type, sizeof out->link_type);
		if (strstr(buf, "#bytes") && strstr(buf, "BW average[")) {
			if (strstr(buf, "BW average[MB/sec]"))
				unit = MIB;
			else if (strstr(buf, "BW average[Gb/sec]"))
				unit = GBIT, out->gbits = true;
			else
				return kvw_fail(d, KVW_EINPUT, "perftest output line %d: unknown bandwidth unit", lineno);
			in_table = true;
		}
	}
	if (!in_table)
		return kvw_fail(d, KVW_EINPUT, "perftest output has no bandwidth table (no '#bytes ... BW average' header)");
	if (out->n == 0)
		return kvw_fail(d, KVW_EINPUT, "perftest output has a header but no result rows");
	return KVW_OK;
}
