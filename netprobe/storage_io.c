/* storage_io.c — the storage probe's read engines (storage_io.h):
 *
 *   io_uring  one ring of qd_max entries (liburing); reads are submitted
 *             until qd are in flight, each completion is checked (a result
 *             shorter than asked is a short read) and refilled, as fio's
 *             io_uring engine does at iodepth=qd;
 *   threads   qd_max threads, each with its own buffer, take the next read
 *             of the batch and pread(2) it: qd threads busy = qd reads in
 *             flight (fio's psync engine with numjobs=qd, in one process).
 */
#define _GNU_SOURCE
#include "storage_io.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef KVW_HAVE_LIBURING
#include <liburing.h>
#endif

#define ALIGN 4096

static unsigned char *aligned(size_t n)
{
	void *p = NULL;
	return posix_memalign(&p, ALIGN, (n + ALIGN - 1) / ALIGN * ALIGN) == 0 ? p : NULL;
}

/* ---- threads + pread ------------------------------------------------------ */

typedef struct tworker {
	struct kvw_sio *e;
	pthread_t th;
	unsigned char *buf;
	int idx;
} tworker;

struct kvw_sio {
	int fd, qd_max;
	size_t max_len;
	/* threads */
	tworker w[KVW_SIO_MAX_QD];
	int n_threads;
	pthread_barrier_t start, done;
	const kvw_sio_read *rd;
	int n, qd, quit;
	atomic_int next;
	atomic_int err;
	uint64_t short_at;
	kvw_sio_check check;
	void *ctx;
	pthread_mutex_t check_lock;
#ifdef KVW_HAVE_LIBURING
	struct io_uring ring;
	unsigned char *ubuf[KVW_SIO_MAX_QD];
#endif
};

static int read_full(int fd, unsigned char *buf, const kvw_sio_read *r)
{
	ssize_t got = pread(fd, buf, r->len, (off_t)r->off);
	if (got < 0)
		return errno;
	return (size_t)got == r->len ? 0 : EIO;
}

static void *tmain(void *arg)
{
	tworker *w = arg;
	struct kvw_sio *e = w->e;
	for (;;) {
		pthread_barrier_wait(&e->start);
		if (e->quit)
			break;
		while (w->idx < e->qd && !atomic_load(&e->err)) {
			int i = atomic_fetch_add(&e->next, 1);
			if (i >= e->n)
				break;
			int rc = read_full(e->fd, w->buf, &e->rd[i]);
			if (rc) {
				int zero = 0;
				if (atomic_compare_exchange_strong(&e->err, &zero, rc))
					e->short_at = e->rd[i].off;
			} else if (e->check) {
				pthread_mutex_lock(&e->check_lock);
				e->check(e->ctx, &e->rd[i], w->buf);
				pthread_mutex_unlock(&e->check_lock);
			}
		}
		pthread_barrier_wait(&e->done);
	}
	return NULL;
}

static const char *threads_unavailable(void)
{
	return NULL;
}

static void threads_close(struct kvw_sio *e)
{
	if (!e)
		return;
	if (e->n_threads > 0) {
		e->quit = 1;
		pthread_barrier_wait(&e->start);
		for (int i = 0; i < e->n_threads; i++)
			pthread_join(e->w[i].th, NULL);
		pthread_barrier_destroy(&e->start);
		pthread_barrier_destroy(&e->done);
	}
	for (int i = 0; i < KVW_SIO_MAX_QD; i++)
		free(e->w[i].buf);
	pthread_mutex_destroy(&e->check_lock);
	free(e);
}

static struct kvw_sio *threads_open(int fd, int qd_max, size_t max_len)
{
	struct kvw_sio *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->fd = fd, e->qd_max = qd_max, e->max_len = max_len;
	pthread_mutex_init(&e->check_lock, NULL);
	for (int i = 0; i < qd_max; i++)
		if (!(e->w[i].buf = aligned(max_len))) {
			threads_close(e);
			errno = ENOMEM;
			return NULL;
		}
	pthread_barrier_init(&e->start, NULL, (unsigned)qd_max + 1);
	pthread_barrier_init(&e->done, NULL, (unsigned)qd_max + 1);
	for (int i = 0; i < qd_max; i++) {
		e->w[i] = (tworker){ e, 0, e->w[i].buf, i };
		if (pthread_create(&e->w[i].th, NULL, tmain, &e->w[i]) != 0) {
			/* the threads started wait on barriers sized for qd_max: left to the process exit */
			errno = EAGAIN;
			return NULL;
		}
		e->n_threads++;
	}
	return e;
}

static int threads_run(struct kvw_sio *e, const kvw_sio_read *rd, int n, int qd, kvw_sio_check check, void *ctx,
                       uint64_t *short_at)
{
	e->rd = rd, e->n = n, e->qd = qd < e->qd_max ? qd : e->qd_max;
	e->check = check, e->ctx = ctx;
	atomic_store(&e->next, 0);
	atomic_store(&e->err, 0);
	pthread_barrier_wait(&e->start);
	pthread_barrier_wait(&e->done);
	int err = atomic_load(&e->err);
	if (err && short_at)
		*short_at = e->short_at;
	return err;
}

static const kvw_sio_ops threads_ops = {
	"pread-threads", threads_unavailable, threads_open, threads_run, threads_close,
};

/* ---- io_uring --------------------------------------------------------------- */

#ifdef KVW_HAVE_LIBURING
static const char *uring_unavailable(void)
{
	struct io_uring r;
	int rc = io_uring_queue_init(4, &r, 0);
	if (rc < 0)
		return "io_uring_setup refused by the kernel (disabled, or seccomp)";
	io_uring_queue_exit(&r);
	return NULL;
}

static void uring_close(struct kvw_sio *e)
{
	if (!e)
		return;
	io_uring_queue_exit(&e->ring);
	for (int i = 0; i < KVW_SIO_MAX_QD; i++)
		free(e->ubuf[i]);
	free(e);
}

static struct kvw_sio *uring_open(int fd, int qd_max, size_t max_len)
{
	struct kvw_sio *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->fd = fd, e->qd_max = qd_max, e->max_len = max_len;
	int rc = io_uring_queue_init((unsigned)qd_max, &e->ring, 0);
	if (rc < 0) {
		free(e);
		errno = -rc;
		return NULL;
	}
	for (int i = 0; i < qd_max; i++)
		if (!(e->ubuf[i] = aligned(max_len))) {
			uring_close(e);
			errno = ENOMEM;
			return NULL;
		}
	return e;
}

static void submit_one(struct kvw_sio *e, const kvw_sio_read *rd, int i, int slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);
	io_uring_prep_read(sqe, e->fd, e->ubuf[slot], (unsigned)rd[i].len, rd[i].off);
	io_uring_sqe_set_data64(sqe, ((uint64_t)i << 8) | (uint64_t)slot);
}

static int uring_run(struct kvw_sio *e, const kvw_sio_read *rd, int n, int qd, kvw_sio_check check, void *ctx,
                     uint64_t *short_at)
{
	qd = qd < e->qd_max ? qd : e->qd_max;
	int next = 0, inflight = 0, err = 0;
	for (; next < n && inflight < qd; next++, inflight++)
		submit_one(e, rd, next, inflight);
	io_uring_submit(&e->ring);
	while (inflight > 0) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe(&e->ring, &cqe);
		if (rc < 0)
			return -rc;
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int i = (int)(data >> 8), slot = (int)(data & 0xff), res = cqe->res;
		io_uring_cqe_seen(&e->ring, cqe);
		inflight--;
		if (!err && (res < 0 || (size_t)res != rd[i].len)) {
			err = res < 0 ? -res : EIO;
			if (short_at)
				*short_at = rd[i].off;
		}
		if (!err && check)
			check(ctx, &rd[i], e->ubuf[slot]);
		if (!err && next < n) {
			submit_one(e, rd, next++, slot);
			inflight++;
			io_uring_submit(&e->ring);
		}
	}
	return err;
}

static const kvw_sio_ops uring_ops = {
	"io_uring", uring_unavailable, uring_open, uring_run, uring_close,
};
#endif

const kvw_sio_ops *kvw_sio_engine(int i)
{
#ifdef KVW_HAVE_LIBURING
	static const kvw_sio_ops *const engines[] = { &uring_ops, &threads_ops };
#else
	static const kvw_sio_ops *const engines[] = { &threads_ops };
#endif
	return i >= 0 && i < (int)(sizeof engines / sizeof engines[0]) ? engines[i] : NULL;
}
