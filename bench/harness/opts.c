/* opts.c — the one option parser (see opts.h).
 *
 * Numbers are parsed strictly: the whole text must be a number, finite,
 * and inside the option's range; "--name=value" and "--name value" both
 * work.  Whole numbers (token counts above all) take a decimal or binary
 * multiplier: k, M, G (1e3, 1e6, 1e9) or Ki, Mi, Gi (2^10, 2^20, 2^30), so
 * --ctx 128k is 128,000 and --ctx 128Ki 131,072; "K" alone is refused as
 * ambiguous.  Errors name the option and the offending text.
 */
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const kvw_opt *lookup(const kvw_opt *t, const char *name, size_t len)
{
	for (; t->name; t++)
		if (strlen(t->name) == len && strncmp(t->name, name, len) == 0)
			return t;
	return NULL;
}

static const struct { const char *suffix; double mult; } multipliers[] = {
	{ "k", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 },
};

/* digits, then with a multiplier optionally ".digits": the length of the
 * number part, 0 when text does not start like one */
static size_t number_part(const char *text, bool *fraction)
{
	size_t i = 0;
	while (text[i] >= '0' && text[i] <= '9')
		i++;
	*fraction = false;
	if (i > 0 && text[i] == '.' && text[i + 1] >= '0' && text[i + 1] <= '9') {
		*fraction = true;
		for (i++; text[i] >= '0' && text[i] <= '9'; i++)
			;
	}
	return i;
}

kvw_err kvw_opts_count(const char *name, const char *text, double lo, double hi, long *out, kvw_diag *d)
{
	bool fraction;
	size_t len = number_part(text, &fraction);
	const char *suffix = text + len;
	double mult = 1;
	if (len > 0 && *suffix) {
		size_t i = 0, n = sizeof multipliers / sizeof multipliers[0];
		while (i < n && strcmp(suffix, multipliers[i].suffix) != 0)
			i++;
		if (i == n && strcmp(suffix, "K") == 0)
			return kvw_fail(d, KVW_EUSAGE, "--%s: '%s' is ambiguous: write %.*sk (x 1000) or %.*sKi (x 1024)",
			                name, text, (int)len, text, (int)len, text);
		if (i == n)
			return kvw_fail(d, KVW_EUSAGE, "--%s: '%s' is not a whole number (multipliers: k M G Ki Mi Gi)",
			                name, text);
		mult = multipliers[i].mult;
	}
	if (len == 0 || (fraction && mult == 1))
		return kvw_fail(d, KVW_EUSAGE, "--%s: '%s' is not a whole number", name, text);
	errno = 0;
	double v = strtod(text, NULL) * mult;
	if (errno || !isfinite(v) || v != floor(v))
		return kvw_fail(d, KVW_EUSAGE, "--%s: '%s' is not a whole number", name, text);
	if (v < lo || v > hi)
		return kvw_fail(d, KVW_EUSAGE, "--%s: %s is outside [%.0f, %.0f]", name, text, lo, hi);
	*out = (long)v;
	return KVW_OK;
}

kvw_err kvw_opts_count_list(const char *name, const char *text, double lo, double hi, long *out, int max, int *n,
                            kvw_diag *d)
{
	char buf[256];
	if (strlen(text) >= sizeof buf)
		return kvw_fail(d, KVW_EUSAGE, "--%s: list too long", name);
	snprintf(buf, sizeof buf, "%s", text);
	*n = 0;
	for (char *p = buf, *comma; p; p = comma ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (*n == max)
			return kvw_fail(d, KVW_EUSAGE, "--%s: more than %d values", name, max);
		kvw_err err = kvw_opts_count(name, p, lo, hi, &out[*n], d);
		if (err)
			return err;
		for (int i = 0; i < *n; i++)
			if (out[i] == out[*n])
				return kvw_fail(d, KVW_EUSAGE, "--%s: %ld given twice", name, out[*n]);
		(*n)++;
	}
	return KVW_OK;
}

static kvw_err set_value(const kvw_opt *o, const char *text, kvw_args *a, kvw_diag *d)
{
	char *base = (char *)a + o->offset, *end = NULL;
	errno = 0;
	switch (o->type) {
	case KVW_OPT_STR:
		if (!*text)
			return kvw_fail(d, KVW_EUSAGE, "--%s needs a non-empty value", o->name);
		*(const char **)base = text;
		return KVW_OK;
	case KVW_OPT_LONG:
		return kvw_opts_count(o->name, text, o->lo, o->hi, (long *)base, d);
	case KVW_OPT_DBL: {
		double v = strtod(text, &end);
		if (!*text || *end || errno || !isfinite(v))
			return kvw_fail(d, KVW_EUSAGE, "--%s: '%s' is not a finite number", o->name, text);
		if (v < o->lo || v > o->hi)
			return kvw_fail(d, KVW_EUSAGE, "--%s: %s is outside [%g, %g]", o->name, text, o->lo, o->hi);
		*(double *)base = v;
		return KVW_OK;
	}
	case KVW_OPT_FLAG:
		*(bool *)base = true;
		return KVW_OK;
	case KVW_OPT_LIST: {
		kvw_strlist *l = (kvw_strlist *)base;
		if (!*text)
			return kvw_fail(d, KVW_EUSAGE, "--%s needs a non-empty value", o->name);
		if (l->n == KVW_MAX_LIST)
			return kvw_fail(d, KVW_EUSAGE, "--%s given more than %d times", o->name, KVW_MAX_LIST);
		l->v[l->n++] = text;
		return KVW_OK;
	}
	}
	return KVW_EUSAGE;
}

static kvw_err defaults(const kvw_opt *t, kvw_args *a, kvw_diag *d)
{
	for (; t->name; t++) {
		kvw_err err = t->def ? set_value(t, t->def, a, d) : KVW_OK;
		if (err)
			return err;
	}
	return KVW_OK;
}

kvw_err kvw_opts_parse(const kvw_opt *table, int max_positional, int argc, char **argv,
                       kvw_args *args, kvw_diag *d)
{
	memset(args, 0, sizeof *args);
	kvw_err err = defaults(table, args, d);
	if (err)
		return err;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			args->help = true;
			continue;
		}
		if (strncmp(s, "--", 2) != 0 || s[2] == '\0') {
			if (args->n_positional >= max_positional)
				return kvw_fail(d, KVW_EUSAGE, "unexpected argument '%s'", s);
			args->positional[args->n_positional++] = s;
			continue;
		}
		const char *name = s + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const kvw_opt *o = lookup(table, name, len);
		if (!o)
			return kvw_fail(d, KVW_EUSAGE, "unknown option '--%.*s' for '%s' (see kvwall help %s)",
			                (int)len, name, argv[0], argv[0]);
		if (o->type != KVW_OPT_LIST && kvw_opts_seen(args, o->name))
			return kvw_fail(d, KVW_EUSAGE, "--%s given twice", o->name);
		const char *val = NULL;
		if (o->type == KVW_OPT_FLAG) {
			if (eq)
				return kvw_fail(d, KVW_EUSAGE, "--%s takes no value", o->name);
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
			val = argv[++i];
		} else {
			return kvw_fail(d, KVW_EUSAGE, "--%s needs a value", o->name);
		}
		if ((err = set_value(o, val, args, d)))
			return err;
		if (args->n_seen < KVW_MAX_SEEN)
			args->seen[args->n_seen++] = o->name;
	}
	return KVW_OK;
}

bool kvw_opts_seen(const kvw_args *args, const char *name)
{
	for (int i = 0; i < args->n_seen; i++)
		if (strcmp(args->seen[i], name) == 0)
			return true;
	return false;
}

void kvw_opts_help(const kvw_opt *t, FILE *f)
{
	for (; t->name; t++) {
		char lhs[64];
		const char *meta = t->type == KVW_OPT_STR ? " TEXT" : t->type == KVW_OPT_LIST ? " TEXT..."
			: t->type == KVW_OPT_FLAG ? "" : " N";
		snprintf(lhs, sizeof lhs, "--%s%s", t->name, meta);
		fprintf(f, "  %-22s %s", lhs, t->help);
		if (t->def && t->type != KVW_OPT_FLAG)
			fprintf(f, " [default %s]", t->def);
		fputc('\n', f);
	}
}

kvw_err kvw_opts_bytes(const char *opt, const char *text, double *out, kvw_diag *d)
{
	static const struct { const char *unit; double scale; } units[] = {
		{ "", 1 }, { "b", 1 }, { "kb", 1e3 }, { "mb", 1e6 }, { "gb", 1e9 }, { "tb", 1e12 }, { "pb", 1e15 },
		{ "kib", 1024.0 }, { "mib", 1048576.0 }, { "gib", 1073741824.0 }, { "tib", 1099511627776.0 },
		{ "pib", 1125899906842624.0 },
	};
	if (strcasecmp(text, "unbounded") == 0 || strcasecmp(text, "inf") == 0) {
		*out = INFINITY;
		return KVW_OK;
	}
	char *end;
	double v = strtod(text, &end);
	while (*end == ' ')
		end++;
	for (size_t i = 0; end != text && i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(end, units[i].unit) != 0)
			continue;
		if (!isfinite(v) || v < 0 || !isfinite(v * units[i].scale))
			return kvw_fail(d, KVW_EUSAGE, "--%s: %s is not a size >= 0", opt, text);
		*out = v * units[i].scale;
		return KVW_OK;
	}
	return kvw_fail(d, KVW_EUSAGE, "--%s: '%s' is not a size (a number with B, kB, MB, GB, TB, PB, KiB, MiB, GiB, "
	                "TiB or PiB; 1 GB = 1e9 B)", opt, text);
}

kvw_err kvw_opts_tolerance(const char *text, double *out, kvw_diag *d)
{
	char *end;
	double v = strtod(text, &end);
	bool pct = *end == '%';
	if (end == text || (*end && !(pct && end[1] == '\0')) || !isfinite(v))
		return kvw_fail(d, KVW_EUSAGE, "--tolerance: '%s' is not a number or percentage", text);
	v = pct ? v / 100 : v;
	if (v < 0 || v > 10)
		return kvw_fail(d, KVW_EUSAGE, "--tolerance: %s is outside [0, 1000%%]", text);
	*out = v;
	return KVW_OK;
}
