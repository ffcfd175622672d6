/* outfile.c — writing a command's outputs to files (see out.h).
 *
 * What a --output (or --junit, or a file under --out) path can be, and
 * what kvwall does with it:
 *   - absent, or a regular file: replaced whole through a temporary file in
 *     the same directory and rename(2), never left half-written.  A new file
 *     gets 0666 less the umask; a file that exists keeps its mode (and its
 *     owner, where the process may set it).  Other hard links to the old
 *     file keep the old content: the path gets a new inode.
 *   - a symlink: followed.  Its target is replaced as above and the link
 *     stays a link; a link to nothing is refused (kvwall does not create
 *     the target of a dangling link).
 *   - a character device (/dev/null, /dev/stdout on a terminal, /dev/full)
 *     or a FIFO: written through, never replaced; a write error such as
 *     ENOSPC from /dev/full is an error.  A FIFO no process reads within
 *     $KVWALL_FIFO_WAIT_S seconds (default 10) is an error, not a hang.
 *   - a directory, a block device or a socket: refused.
 * Several outputs of one command (compare's table and --junit, validate's
 * files) go through kvw_write_outputs together: every file is written to
 * its temporary name and every device opened before anything is emitted;
 * only when all of that worked are devices and stdout written and the
 * files renamed into place.  Messages name the user's path, never the
 * temporary one, and keep their reason when the path is long.
 */
#define _GNU_SOURCE
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KVW_FIFO_WAIT_S 10

/* $KVWALL_FIFO_WAIT_S (0 .. 3600), else the default */
static int fifo_wait_s(void)
{
	const char *e = getenv("KVWALL_FIFO_WAIT_S");
	char *end;
	long v = e && *e ? strtol(e, &end, 10) : -1;
	return e && *e && !*end && v >= 0 && v <= 3600 ? (int)v : KVW_FIFO_WAIT_S;
}

/* ---- out of memory inside jansson -------------------------------------------- */

static unsigned long alloc_failures;

static void *counting_malloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		alloc_failures++;
	return p;
}

unsigned long kvw_alloc_failures(void)
{
	static int installed;
	if (!installed) {
		json_set_alloc_funcs(counting_malloc, free);
		installed = 1;
	}
	return alloc_failures;
}

/* ---- text in memory ------------------------------------------------------------ */

static ssize_t membuf_write(void *cookie, const char *p, size_t n)
{
	kvw_membuf *b = cookie;
	if (b->failed)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->data, cap);
		if (!grown) {
			b->failed = true;
			return -1; /* stdio marks the stream in error */
		}
		b->data = grown, b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return (ssize_t)n;
}

FILE *kvw_memopen(kvw_membuf *b)
{
	*b = (kvw_membuf){ 0 };
	cookie_io_functions_t io = { .write = membuf_write };
	return fopencookie(b, "w", io);
}

kvw_err kvw_memclose(FILE *f, kvw_membuf *b, char **text, size_t *len, kvw_diag *d)
{
	bool bad = !f || ferror(f);
	if (f && fclose(f) != 0)
		bad = true;
	if (bad || b->failed || !b->data) {
		free(b->data);
		*b = (kvw_membuf){ 0 };
		*text = NULL;
		*len = 0;
		return kvw_fail(d, KVW_ESYS, "out of memory building the output: nothing written");
	}
	*text = b->data;
	*len = b->len;
	*b = (kvw_membuf){ 0 };
	return KVW_OK;
}

/* ---- one output ---------------------------------------------------------------- */

typedef enum { OUT_STDOUT, OUT_FILE, OUT_DEVICE } out_kind;

typedef struct staged {
	out_kind kind;
	const kvw_output *src;
	char target[PATH_MAX]; /* the file renamed over (a symlink's target) */
	int dirfd;             /* OUT_FILE: its directory, where the temporary is */
	char base[NAME_MAX + 1];
	char tmp[40];          /* OUT_FILE: written, not yet renamed; "" once gone */
	int fd;                /* OUT_DEVICE: open for writing */
} staged;

static const char *shown(const char *path, char *buf, size_t cap)
{
	return kvw_elide(path, 200, buf, cap);
}

static kvw_err sys_fail(kvw_diag *d, const char *path, const char *what, int e)
{
	char b[256];
	return kvw_fail(d, KVW_ESYS, "cannot %s %s: %s", what, shown(path, b, sizeof b), strerror(e));
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		if (w == 0)
			return EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A FIFO: open without blocking, waiting a while for a reader. */
static kvw_err open_fifo(staged *s, kvw_diag *d)
{
	const char *path = s->src->path;
	int wait_s = fifo_wait_s();
	for (int waited_ms = 0;; waited_ms += 50) {
		s->fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (s->fd >= 0)
			break;
		if (errno != ENXIO)
			return sys_fail(d, path, "open", errno);
		if (waited_ms >= wait_s * 1000) {
			char b[256];
			return kvw_fail(d, KVW_ESYS, "cannot write %s: no process reads this FIFO (waited %d s)",
			                shown(path, b, sizeof b), wait_s);
		}
		nanosleep(&(struct timespec){ 0, 50 * 1000000L }, NULL);
	}
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
	return KVW_OK;
}

/* The temporary file beside the target, opened relative to its directory
 * under a short name of its own, so neither a target name near NAME_MAX
 * nor a path near PATH_MAX stops it. */
static kvw_err create_tmp(staged *s, mode_t mode, kvw_diag *d)
{
	char dir[PATH_MAX], base[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", s->target);
	snprintf(base, sizeof base, "%s", s->target);
	const char *bn = basename(base);
	if (strlen(bn) > NAME_MAX)
		return sys_fail(d, s->src->path, "write", ENAMETOOLONG);
	snprintf(s->base, sizeof s->base, "%s", bn);
	s->dirfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return sys_fail(d, s->src->path, "write", errno);
	static unsigned counter;
	for (int tries = 0; tries < 100; tries++) {
		unsigned long salt = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16) ^ (unsigned long)rand();
		snprintf(s->tmp, sizeof s->tmp, ".kvwall-%lx-%u.tmp", salt & 0xffffffff, counter++);
		s->fd = openat(s->dirfd, s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (s->fd >= 0)
			return KVW_OK;
		if (errno != EEXIST)
			break;
	}
	int e = errno;
	s->tmp[0] = '\0';
	return sys_fail(d, s->src->path, "write", e);
}

static kvw_err stage_file(staged *s, const struct stat *old, kvw_diag *d)
{
	kvw_err err = create_tmp(s, 0666, d); /* the umask applies */
	if (err)
		return err;
	if (old) { /* keep what the file was: mode and, where allowed, owner */
		if (fchmod(s->fd, old->st_mode & 07777) != 0)
			err = sys_fail(d, s->src->path, "keep the mode of", errno);
		if (fchown(s->fd, old->st_uid, old->st_gid) != 0 && errno != EPERM)
			err = err ? err : sys_fail(d, s->src->path, "keep the owner of", errno);
	}
	int e = err ? 0 : write_all(s->fd, s->src->data, s->src->len);
	if (!err && !e && fsync(s->fd) != 0)
		e = errno;
	if (close(s->fd) != 0 && !e && !err)
		e = errno;
	s->fd = -1;
	if (!err && e)
		err = sys_fail(d, s->src->path, "write", e);
	if (err && s->tmp[0]) {
		unlinkat(s->dirfd, s->tmp, 0);
		s->tmp[0] = '\0';
	}
	return err;
}

/* What is at the path decides what happens (the table at the top). */
static kvw_err stage(staged *s, const kvw_output *o, kvw_diag *d)
{
	*s = (staged){ .kind = o->path ? OUT_FILE : OUT_STDOUT, .src = o, .fd = -1, .dirfd = -1 };
	if (!o->path)
		return KVW_OK;
	char b[256];
	const char *p = o->path;
	if (strlen(p) >= PATH_MAX)
		return sys_fail(d, p, "write", ENAMETOOLONG);
	struct stat st, lst;
	if (lstat(p, &lst) != 0) {
		if (errno != ENOENT)
			return sys_fail(d, p, "write", errno);
		snprintf(s->target, sizeof s->target, "%s", p);
		return stage_file(s, NULL, d);
	}
	if (stat(p, &st) != 0)
		return errno == ENOENT ? kvw_fail(d, KVW_ESYS, "cannot write %s: a symlink to a missing file (kvwall "
		                                  "follows symlinks to files that exist)", shown(p, b, sizeof b))
		                       : sys_fail(d, p, "write", errno);
	if (S_ISREG(st.st_mode)) {
		if (S_ISLNK(lst.st_mode) && !realpath(p, s->target))
			return sys_fail(d, p, "resolve the symlink", errno);
		if (!S_ISLNK(lst.st_mode))
			snprintf(s->target, sizeof s->target, "%s", p);
		return stage_file(s, &st, d);
	}
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
		s->kind = OUT_DEVICE;
		if (S_ISFIFO(st.st_mode))
			return open_fifo(s, d);
		s->fd = open(p, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		return s->fd < 0 ? sys_fail(d, p, "open", errno) : KVW_OK;
	}
	const char *what = S_ISDIR(st.st_mode) ? "a directory" : S_ISBLK(st.st_mode) ? "a block device"
	                   : S_ISSOCK(st.st_mode) ? "a socket" : "not a file";
	return kvw_fail(d, KVW_ESYS, "cannot write %s: it is %s (kvwall writes regular files, character devices and "
	                "FIFOs)", shown(p, b, sizeof b), what);
}

static void unstage(staged *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->tmp[0])
		unlinkat(s->dirfd, s->tmp, 0);
	s->tmp[0] = '\0';
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
}

/* Devices and stdout get their bytes; a reader of a FIFO that goes away
 * is an error (EPIPE), not a signal that kills kvwall. */
static kvw_err deliver(staged *s, kvw_diag *d)
{
	if (s->kind == OUT_STDOUT) {
		if (fwrite(s->src->data, 1, s->src->len, stdout) != s->src->len || fflush(stdout) != 0)
			return kvw_fail(d, KVW_ESYS, "cannot write to standard output: %s", strerror(errno));
		return KVW_OK;
	}
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigaction(SIGPIPE, &ign, &old);
	int e = write_all(s->fd, s->src->data, s->src->len);
	sigaction(SIGPIPE, &old, NULL);
	if (close(s->fd) != 0 && !e && errno != EINTR)
		e = errno;
	s->fd = -1;
	return e ? sys_fail(d, s->src->path, "write", e) : KVW_OK;
}

kvw_err kvw_write_outputs(const kvw_output *outs, int n, kvw_diag *d)
{
	staged *s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
	if (!s)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_err err = KVW_OK;
	int k = 0;
	for (; k < n && !err; k++)
		err = stage(&s[k], &outs[k], d);
	/* on an error, s[k - 1] failed part way: unstaged with the others below */
	/* devices first (they can still fail: /dev/full), then stdout, then
	 * the renames, which cannot fail once the temporary files exist */
	for (int pass = 0; pass < 2 && !err; pass++)
		for (int i = 0; i < k && !err; i++)
			if ((pass == 0 && s[i].kind == OUT_DEVICE) || (pass == 1 && s[i].kind == OUT_STDOUT))
				err = deliver(&s[i], d);
	for (int i = 0; i < k && !err; i++)
		if (s[i].kind == OUT_FILE) {
			if (renameat(s[i].dirfd, s[i].tmp, s[i].dirfd, s[i].base) != 0)
				err = sys_fail(d, outs[i].path, "write", errno);
			else
				s[i].tmp[0] = '\0';
		}
	for (int i = 0; i < k; i++)
		unstage(&s[i]);
	free(s);
	return err;
}

kvw_err kvw_write_atomic(const char *path, const char *data, size_t len, kvw_diag *d)
{
	kvw_output o = { path, data, len };
	return kvw_write_outputs(&o, 1, d);
}

kvw_err kvw_check_output(const char *path, kvw_diag *d)
{
	char b[256];
	struct stat st;
	if (strlen(path) >= PATH_MAX)
		return sys_fail(d, path, "write", ENAMETOOLONG);
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode))
			return kvw_fail(d, KVW_ESYS, "cannot write %s: it is %s", shown(path, b, sizeof b),
			                S_ISDIR(st.st_mode) ? "a directory" : S_ISBLK(st.st_mode) ? "a block device" : "a socket");
		if (!S_ISREG(st.st_mode))
			return access(path, W_OK) == 0 ? KVW_OK : sys_fail(d, path, "write", errno);
	} else if (errno != ENOENT) {
		return sys_fail(d, path, "write", errno);
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	const char *dn = dirname(dir);
	if (stat(dn, &st) != 0 || !S_ISDIR(st.st_mode))
		return kvw_fail(d, KVW_ESYS, "cannot write %s: %s", shown(path, b, sizeof b),
		                stat(dn, &st) != 0 ? strerror(errno) : "its directory is not a directory");
	return access(dn, W_OK) == 0 ? KVW_OK : sys_fail(d, path, "write", errno);
}

kvw_err kvw_mkdir_p(const char *dir, kvw_diag *d)
{
	char path[PATH_MAX], b[256];
	size_t n = strlen(dir);
	if (n == 0)
		return kvw_fail(d, KVW_EUSAGE, "empty directory name");
	if (n >= sizeof path)
		return kvw_fail(d, KVW_ESYS, "cannot create %s: %s", shown(dir, b, sizeof b), strerror(ENAMETOOLONG));
	memcpy(path, dir, n + 1);
	for (char *p = path + 1;; p++) {
		bool end = *p == '\0';
		if (*p == '/' || end) {
			*p = '\0';
			struct stat st;
			if (mkdir(path, 0777) != 0 && errno != EEXIST)
				return kvw_fail(d, KVW_ESYS, "cannot create %s: %s", shown(path, b, sizeof b), strerror(errno));
			if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
				return kvw_fail(d, KVW_ESYS, "cannot create %s: %s", shown(path, b, sizeof b),
				                stat(path, &st) != 0 ? strerror(errno) : "a file of that name is in the way");
			if (end)
				break;
			*p = '/';
		}
	}
	return KVW_OK;
}

kvw_err kvw_json_text(const json_t *doc, char **text, size_t *len, kvw_diag *d)
{
	*text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17)); /* round-trips exactly */
	if (!*text)
		return kvw_fail(d, KVW_ESYS, "out of memory writing JSON");
	*len = strlen(*text);
	char *grown = realloc(*text, *len + 2);
	if (!grown) {
		free(*text);
		*text = NULL;
		return kvw_fail(d, KVW_ESYS, "out of memory writing JSON");
	}
	memcpy(grown + *len, "\n", 2);
	*text = grown;
	*len += 1;
	return KVW_OK;
}

kvw_err kvw_write_json(const char *path, const json_t *doc, kvw_diag *d)
{
	char *text = NULL;
	size_t len = 0;
	kvw_err err = kvw_json_text(doc, &text, &len, d);
	if (err)
		return err;
	kvw_output o = { path, text, len };
	err = kvw_write_outputs(&o, 1, d);
	free(text);
	return err;
}
