/* kvw_err.c — strerror and exit codes for kvw_err (see kvw_err.h). */
#define _POSIX_C_SOURCE 200809L
#include "kvw_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kvw_strerror(kvw_err err)
{
	switch (err) {
	case KVW_OK: return "ok";
	case KVW_EUSAGE: return "usage error";
	case KVW_EINPUT: return "bad input";
	case KVW_ESYS: return "system error";
	case KVW_EDRIVER: return "driver error";
	case KVW_EVERIFY: return "verification failed";
	case KVW_EREGRESSION: return "regression or threshold missed";
	}
	return "unknown error";
}

int kvw_exit_code(kvw_err err)
{
	switch (err) {
	case KVW_OK: return 0;
	case KVW_EUSAGE:
	case KVW_EINPUT: return 1;
	case KVW_ESYS:
	case KVW_EDRIVER: return 2;
	case KVW_EVERIFY: return 3;
	case KVW_EREGRESSION: return 4;
	}
	return 2;
}

/* Messages are one line: control characters (a parser quoting the input,
 * say) become spaces. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

kvw_err kvw_fail(kvw_diag *d, kvw_err err, const char *fmt, ...)
{
	if (d) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof d->msg, fmt, ap);
		va_end(ap);
		one_line(d->msg);
	}
	return err;
}

const char *kvw_elide(const char *s, size_t max, char *buf, size_t cap)
{
	size_t n = strlen(s);
	if (n <= max || max < 16 || cap <= max)
		return s;
	size_t head = (max - 3) / 3, tail = max - 3 - head; /* the tail holds the file name */
	memcpy(buf, s, head);
	memcpy(buf + head, "...", 3);
	memcpy(buf + head + 3, s + n - tail, tail);
	buf[max] = '\0';
	return buf;
}

kvw_err kvw_prefix(kvw_diag *d, kvw_err err, const char *prefix)
{
	if (d) {
		char short_prefix[224];
		prefix = kvw_elide(prefix, 200, short_prefix, sizeof short_prefix);
		char m[sizeof d->msg];
		memcpy(m, d->msg, sizeof m);
		size_t cap = sizeof d->msg, pl = strlen(prefix), ml = strnlen(m, cap - 1);
		pl = pl > cap - 3 ? cap - 3 : pl;
		memcpy(d->msg, prefix, pl);
		memcpy(d->msg + pl, ": ", 2);
		ml = ml > cap - 3 - pl ? cap - 3 - pl : ml;
		memcpy(d->msg + pl + 2, m, ml);
		d->msg[pl + 2 + ml] = '\0';
		one_line(d->msg);
	}
	return err;
}
