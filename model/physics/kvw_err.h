/* kvw_err.h — the one error enum of kvwall, its strerror and exit codes.
 *
 * Every function that can fail returns a kvw_err and, where it has more to
 * say, fills a kvw_diag with one line naming the problem.  The CLI prints
 * that line and exits with kvw_exit_code(err); README.md documents the codes.
 */
#ifndef KVW_ERR_H
#define KVW_ERR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif


typedef enum kvw_err {
	KVW_OK = 0,
	KVW_EUSAGE,      /* bad option, bad number, unknown name       -> exit 1 */
	KVW_EINPUT,      /* missing / malformed input file or field     -> exit 1 */
	KVW_ESYS,        /* the OS failed us: write, memory, directory  -> exit 2 */
	KVW_EDRIVER,     /* CUDA / NCCL / verbs driver failure          -> exit 2 */
	KVW_EVERIFY,     /* a probe moved data and checked it wrong     -> exit 3 */
	KVW_EREGRESSION, /* a regression or threshold was missed        -> exit 4 */
} kvw_err;

/* One line of detail; empty when the error speaks for itself. */
typedef struct kvw_diag {
	char msg[512];
} kvw_diag;

const char *kvw_strerror(kvw_err err);
int kvw_exit_code(kvw_err err);

/* printf into d->msg (truncating) and return err, so callers can write
 * `return kvw_fail(d, KVW_EINPUT, "...", ...);`.  d may be NULL. */
kvw_err kvw_fail(kvw_diag *d, kvw_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to d->msg (e.g. a file name) and returns err; a
 * prefix longer than 200 characters is shortened in the middle, so the
 * message keeps its reason. */
kvw_err kvw_prefix(kvw_diag *d, kvw_err err, const char *prefix);

/* s when it has at most max characters, else its head and tail joined by
 * "..." in buf (for long paths in messages); max >= 16, cap > max. */
const char *kvw_elide(const char *s, size_t max, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
