/* storage.c — the storage probe: reading KV cache from a file, the SSD
 * tier of `kvwall cache` and a link for `kvwall crossover --link`.
 *
 *   storage   one file on the filesystem of --storage-dir (default
 *             /var/tmp), --storage-size bytes (default 1 GiB, 256 MiB with
 *             --quick; at most half the free space: the probe never fills
 *             a disk), written once with a pattern and read back with
 *             O_DIRECT (tmpfs refuses O_DIRECT: then buffered, and every
 *             record says so).  Reads go through io_uring (liburing) where
 *             it was built and the kernel allows it, else pread(2) from a
 *             thread per queue slot (storage_io.c).
 *             - sequential, one read at a time (queue depth 1), 4 KiB ..
 *               64 MiB: latency and bandwidth, fitted t = alpha + s / B
 *               (link storage_<fs>_qd1);
 *             - the same sizes split into 16 concurrent reads (as an engine
 *               loading a prefix reads many chunks at once), fitted (link
 *               storage_<fs>, class "storage": the SSD tier's default);
 *             - random reads at queue depth 1, 4, 16 and 64 of 4 KiB, of one
 *               KV block of the --model for one layer (16 tokens, vLLM's
 *               block), and of one LMCache chunk (256 tokens, all layers);
 *             - one whole request: the KV of a prompt of the model (8192
 *               tokens, 2048 with --quick, within half the file) read as
 *               256-token chunks at queue depth 16;
 *             - GPUDirect Storage (cuFile) file -> GPU where built with it
 *               and a GPU is present, else recorded skipped with why.
 *             After each timing one more pass checks every byte it read
 *             against the pattern; a wrong byte fails the record (exit 3).
 *             A read that comes back short (the file shrank) fails the
 *             probe (exit 2).  The file is unlinked as soon as it is open,
 *             so nothing is left behind however the run ends, unless
 *             --storage-file names it (then it is kept and reused).
 *             Test hook: KVWALL_STORAGE_FAULT=corrupt flips one byte of
 *             the file after writing it, =shrink truncates it to half after
 *             the first timed read (tests/cli/test_storage.py uses both).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "kvw_fit.h"
#include "kvw_gbench.h"
#include "kvw_model.h"
#include "opts.h"
#include "probe.h"
#include "storage.h"
#include "storage_io.h"

#define PATTERN_SEED 0x6b76776b76776b76ull /* "kvwkvwkv" */
#define WRITE_CHUNK ((size_t)4 << 20)
#define MIN_FILE ((double)(16u << 20))
#define ALIGN 4096u

static uint64_t pattern(uint64_t word)
{
	uint64_t x = PATTERN_SEED ^ (word * 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void kvw_storage_fill(unsigned char *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = pattern((off + i) / 8);
		memcpy(buf + i, &v, 8);
	}
}

/* ---- the file --------------------------------------------------------------- */

static const char *fs_name(long type)
{
	switch (type) {
	case TMPFS_MAGIC: return "tmpfs";
	case EXT4_SUPER_MAGIC: return "ext4";
	case XFS_SUPER_MAGIC: return "xfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case NFS_SUPER_MAGIC: return "nfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlay";
	case 0x65735546: return "fuse";
	case 0x2fc12fc1: return "zfs";
	default: return "fs";
	}
}

static kvw_err guard_size(const kvw_args *a, kvw_storage *st, kvw_diag *d)
{
	struct statvfs v;
	if (statvfs(st->dir, &v) != 0)
		return kvw_fail(d, errno == ENOENT ? KVW_EUSAGE : KVW_ESYS, "--storage-dir %s: %s", st->dir, strerror(errno));
	double avail = (double)v.f_bavail * (double)v.f_frsize, total = (double)v.f_blocks * (double)v.f_frsize;
	double want = st->bytes;
	if (a->storage_size) {
		kvw_err err = kvw_opts_bytes("storage-size", a->storage_size, &want, d);
		if (err)
			return err;
		if (!isfinite(want) || want < MIN_FILE)
			return kvw_fail(d, KVW_EUSAGE, "--storage-size %s: give a size of at least 16 MiB", a->storage_size);
		if (want > total)
			return kvw_fail(d, KVW_EUSAGE, "--storage-size %s is larger than the filesystem of %s (%.4g GB)",
			                a->storage_size, st->dir, total / 1e9);
	} else if (want > avail / 4 && avail / 4 >= MIN_FILE) {
		want = floor(avail / 4 / ALIGN) * ALIGN; /* the default shrinks to a quarter of the free space */
	}
	if (want > avail / 2)
		return kvw_fail(d, KVW_EUSAGE, "%s has %.4g GB free: a %.4g GB test file would take more than half of it "
		                "(the probe never fills a disk; give a smaller --storage-size or another --storage-dir)",
		                st->dir, avail / 1e9, want / 1e9);
	st->bytes = floor(want / ALIGN) * ALIGN;
	st->free_bytes = avail;
	return KVW_OK;
}

static kvw_err write_pattern(kvw_storage *st, int fd, kvw_diag *d)
{
	unsigned char *buf = malloc(WRITE_CHUNK);
	if (!buf)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	kvw_err err = KVW_OK;
	for (uint64_t off = 0; off < (uint64_t)st->bytes && !err; off += WRITE_CHUNK) {
		size_t n = (uint64_t)st->bytes - off < WRITE_CHUNK ? (size_t)((uint64_t)st->bytes - off) : WRITE_CHUNK;
		kvw_storage_fill(buf, off, n);
		ssize_t w = pwrite(fd, buf, n, (off_t)off);
		if (w != (ssize_t)n)
			err = kvw_fail(d, KVW_ESYS, "storage: writing the test file in %s failed after %.4g of %.4g GB: %s",
			               st->dir, (double)off / 1e9, st->bytes / 1e9,
			               w < 0 ? strerror(errno) : "short write (filesystem full?)");
	}
	free(buf);
	if (!err && fsync(fd) != 0)
		err = kvw_fail(d, KVW_ESYS, "storage: fsync of the test file in %s: %s", st->dir, strerror(errno));
	return err;
}

/* opens the reading descriptor: O_DIRECT, else buffered with the reason */
static kvw_err open_reader(kvw_storage *st, const char *path, kvw_diag *d)
{
	st->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	st->direct = st->fd >= 0;
	if (st->fd < 0 && errno == EINVAL) {
		snprintf(st->fallback, sizeof st->fallback, "O_DIRECT refused by %s (EINVAL): buffered reads, served from "
		         "memory (page cache), not a disk", st->fs);
		st->fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (st->fd < 0)
		return kvw_fail(d, KVW_ESYS, "storage: cannot open %s for reading: %s", path, strerror(errno));
	if (!st->direct)
		posix_fadvise(st->fd, 0, 0, POSIX_FADV_DONTNEED);
	else if (strcmp(st->fs, "tmpfs") == 0) /* Linux >= 6.6 takes O_DIRECT on tmpfs: still memory */
		snprintf(st->fallback, sizeof st->fallback, "tmpfs accepts O_DIRECT here, but its file is in memory: memory "
		         "speeds, not a disk's");
	return KVW_OK;
}

static void fault_corrupt(int fd, const kvw_storage *st)
{
	unsigned char b;
	off_t at = (off_t)(st->bytes / 3) / 8 * 8 + 5;
	if (pread(fd, &b, 1, at) == 1) {
		b ^= 0x5a;
		if (pwrite(fd, &b, 1, at) == 1 && fsync(fd) == 0)
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
}

/* a kept file (--storage-file) is reused when it has the size asked for */
static bool reusable(const char *path, double bytes)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (double)sb.st_size == bytes;
}

/* where the file goes, on which filesystem, and how big: no file yet */
kvw_err kvw_storage_plan(const kvw_args *a, bool quick, kvw_storage *st, kvw_diag *d)
{
	memset(st, 0, sizeof *st);
	st->fd = st->wfd = -1;
	st->rng = 0x2545f4914f6cdd1dull;
	snprintf(st->dir, sizeof st->dir, "%s", a->storage_dir ? a->storage_dir : access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp");
	st->bytes = quick ? (double)(256u << 20) : (double)(1u << 30);
	if (a->storage_file) {
		snprintf(st->path, sizeof st->path, "%s", a->storage_file);
		snprintf(st->dir, sizeof st->dir, "%s", a->storage_file);
		char *slash = strrchr(st->dir, '/');
		if (slash)
			*(slash == st->dir ? slash + 1 : slash) = '\0';
		else
			snprintf(st->dir, sizeof st->dir, ".");
		st->keep = true;
	}
	struct statfs f;
	struct stat sb;
	if (statfs(st->dir, &f) != 0 || stat(st->dir, &sb) != 0)
		return kvw_fail(d, errno == ENOENT || errno == ENOTDIR ? KVW_EUSAGE : KVW_ESYS, "--storage-dir %s: %s",
		                st->dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return kvw_fail(d, KVW_EUSAGE, "--storage-dir %s: not a directory", st->dir);
	snprintf(st->fs, sizeof st->fs, "%s", fs_name((long)f.f_type));
	return guard_size(a, st, d);
}

kvw_err kvw_storage_open(const kvw_args *a, bool quick, kvw_storage *st, kvw_diag *d)
{
	kvw_err err = kvw_storage_plan(a, quick, st, d);
	if (err)
		return err;
	bool reuse = st->keep && reusable(st->path, st->bytes);
	if (!st->keep)
		snprintf(st->path, sizeof st->path, "%s/kvwall-storage-XXXXXX", st->dir);
	st->wfd = reuse ? open(st->path, O_RDWR | O_CLOEXEC)
	        : st->keep ? open(st->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : mkostemp(st->path, O_CLOEXEC);
	if (st->wfd < 0)
		return kvw_fail(d, KVW_ESYS, "storage: cannot create a test file in %s: %s", st->dir, strerror(errno));
	st->created = !reuse;
	if (!reuse)
		err = write_pattern(st, st->wfd, d);
	const char *fault = getenv("KVWALL_STORAGE_FAULT");
	if (!err && fault && strcmp(fault, "corrupt") == 0)
		fault_corrupt(st->wfd, st);
	st->shrink = fault && strcmp(fault, "shrink") == 0;
	if (!err)
		err = open_reader(st, st->path, d);
	if (!st->keep)
		unlink(st->path); /* gone from the directory now; the descriptors keep it until closed */
	else if (err && st->created)
		unlink(st->path);
	return err;
}

void kvw_storage_close(kvw_storage *st)
{
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	if (st->wfd >= 0)
		close(st->wfd);
	st->fd = st->wfd = -1;
}

/* ---- one measurement ------------------------------------------------------ */

typedef struct job {
	kvw_storage *st;
	const kvw_sio_ops *ops;
	kvw_sio *eng;
	kvw_sio_read *rd;
	int n, qd;
	int err;
	uint64_t short_at;
	long long checked, wrong;
	bool shrunk, seq;
} job;

static void check(void *ctx, const kvw_sio_read *rd, const unsigned char *buf)
{
	job *j = ctx;
	for (size_t i = 0; i < rd->len; i += 8) {
		uint64_t want = pattern((rd->off + i) / 8), got;
		memcpy(&got, buf + i, 8);
		if (got != want)
			for (int b = 0; b < 8; b++)
				j->wrong += ((got >> (8 * b)) & 0xff) != ((want >> (8 * b)) & 0xff);
	}
	j->checked += (long long)rd->len;
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

void kvw_storage_layout(kvw_storage *st, kvw_sio_read *rd, int n, size_t len, bool seq)
{
	uint64_t blocks = (uint64_t)st->bytes / 4096u, per = (len + 4095) / 4096;
	uint64_t need = per * (uint64_t)(seq ? n : 1);
	uint64_t start = blocks > need ? next_rand(&st->rng) % (blocks - need + 1) * 4096u : 0;
	for (int i = 0; i < n; i++) {
		uint64_t off = seq ? start + (uint64_t)i * len
		                   : (blocks > per ? next_rand(&st->rng) % (blocks - per + 1) : 0) * 4096u;
		rd[i] = (kvw_sio_read){ off, len };
	}
}

/* new offsets for every iteration: a cache below (the device's, the
 * hypervisor's) must not serve a repeat */
static void advance(job *j)
{
	kvw_storage_layout(j->st, j->rd, j->n, j->rd[0].len, j->seq);
}

static double timed(void *arg)
{
	job *j = arg;
	j->err = j->ops->run(j->eng, j->rd, j->n, j->qd, NULL, NULL, &j->short_at);
	advance(j);
	if (j->st->shrink && !j->shrunk) { /* test hook: the file shrinks under the reader */
		j->shrunk = true;
		if (ftruncate(j->st->wfd, (off_t)(j->st->bytes / 2)) != 0)
			j->err = errno;
	}
	return j->err ? -1.0 : 0.0;
}

/* Google Benchmark's manual time needs the duration: wrap with a clock */
static double wall(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double timed_wall(void *arg)
{
	double t0 = wall();
	return timed(arg) < 0 ? -1.0 : wall() - t0;
}

static kvw_err io_error(const job *j, kvw_diag *d)
{
	struct stat sb;
	double now = fstat(j->st->fd, &sb) == 0 ? (double)sb.st_size : NAN;
	if (j->err == EIO && now < j->st->bytes)
		return kvw_fail(d, KVW_ESYS, "storage: %s shrank while being read: a read at offset %llu came back short "
		                "(the file is %.0f bytes now, %.0f were written)", j->st->keep ? j->st->path : "the test file",
		                (unsigned long long)j->short_at, now, j->st->bytes);
	return kvw_fail(d, KVW_ESYS, "storage: read at offset %llu failed: %s", (unsigned long long)j->short_at,
	                strerror(j->err));
}

kvw_err kvw_storage_measure(kvw_probe_run *r, kvw_storage *st, kvw_sio_read *rd, int n, bool seq, int qd,
                            kvw_record *rec, kvw_diag *d)
{
	job j = { .st = st, .ops = st->ops, .eng = st->eng, .rd = rd, .n = n, .qd = qd, .seq = seq };
	kvw_err err = kvw_gbench_measure(rec->variant, timed_wall, &j, rec->iterations, rec->repetitions, &rec->time_s, d);
	if (err == KVW_EDRIVER || j.err)
		return io_error(&j, d);
	if (err)
		return err;
	rec->gbps = rec->bytes / rec->time_s.median / 1e9;
	j.err = st->ops->run(st->eng, rd, n, qd, check, &j, &j.short_at);
	if (j.err)
		return io_error(&j, d);
	rec->checked = j.checked;
	rec->wrong = j.wrong;
	if (j.wrong) {
		rec->status = KVW_ST_FAILED;
		snprintf(rec->reason, sizeof rec->reason, "%lld of %lld bytes read back wrong", j.wrong, j.checked);
	} else if (st->fallback[0]) {
		snprintf(rec->reason, sizeof rec->reason, "%s", st->fallback);
	}
	return kvw_probe_emit(r, rec, d);
}
