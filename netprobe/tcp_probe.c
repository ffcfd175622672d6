/* tcp_probe.c — the TCP probe (its receiving end, kvwall serve, is
 * bench/cli/cmd_serve.c over kvw_tcp_serve).
 *
 *   tcp   N parallel streams (--streams, default 4) to a server: a thread of
 *         this process on loopback (--bind, default 127.0.0.1), or a
 *         `kvwall serve` on another host or namespace (--peer ADDR:PORT).
 *         One iteration sends one message of s bytes split over the
 *         streams and waits for every stream's acknowledgement, so
 *         t(s) = alpha + s / B; sizes 4 KiB .. 64 MiB, fitted into
 *         profile.links.  GB/s counts payload, one direction.  Where
 *         CUDA is, the sweep runs again with the payload staged from GPU
 *         memory (device-to-host copy into a staging buffer inside each
 *         timed send; the streams send the staging buffer).  After the
 *         timing each size is sent once more with a checksum the receiver
 *         computes and returns, compared with the checksum of what the GPU
 *         held (the payload), the staging buffer poisoned first: a
 *         mismatch, a staging fault included, fails the run.
 *         KV-shaped traffic on one stream: the KV bytes of a prompt of the
 *         --model sent as one packed message, one message per layer, and
 *         one per (layer x block) for 16-, 64- and 256-token blocks, only
 *         the last acknowledged; the extra time per message over the packed
 *         send goes into profile.kv_messages.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kvw_fit.h"
#include "kvw_gbench.h"
#include "kvw_gpu.h"
#include "out.h"
#include "probe.h"
#include "tcp.h"
#include "tcp_io.h"

#define MAX_STREAMS 64
#define BUF_BYTES ((size_t)256 << 20)

typedef struct client client;

typedef struct stream {
	client *c;
	int fd, err;
	pthread_t thread;
	uint64_t got_sum;
} stream;

struct client {
	int n;
	stream s[MAX_STREAMS];
	pthread_barrier_t start, done;
	char *payload;
	/* the current iteration */
	size_t msg_bytes; /* per message per stream */
	int messages;     /* per stream; only the last is acknowledged */
	uint32_t flags;   /* KVW_TCP_SUM to verify */
	void *dev_src;    /* set: each iteration first stages the payload from GPU memory ... */
	char *stage;      /* ... into this buffer, which the streams then send (never the payload) */
	bool (*stage_fn)(void *dst, const void *dev, size_t n); /* the staging copy: kvw_gpu_to_host */
	int quit;
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* stream i sends bytes [i m, (i + 1) m) of the payload, m = msg_bytes, or
 * of the staging buffer when the payload comes from the GPU */
static char *slice(const client *c, const stream *s)
{
	return (c->dev_src ? c->stage : c->payload) + (size_t)(s - c->s) * c->msg_bytes;
}

/* what stream s must deliver: the payload's slice (the GPU source holds a
 * copy of the payload), whatever the staging did */
static const char *expected_slice(const client *c, const stream *s)
{
	return c->payload + (size_t)(s - c->s) * c->msg_bytes;
}

static int send_messages(client *c, stream *s)
{
	for (int m = 0; m < c->messages; m++) {
		bool last = m == c->messages - 1;
		kvw_tcp_hdr h = { KVW_TCP_MAGIC, (last ? KVW_TCP_ACK : 0) | c->flags, c->msg_bytes, (uint64_t)m };
		int e = kvw_tcp_io_full(s->fd, &h, sizeof h, true);
		if (!e)
			e = kvw_tcp_io_full(s->fd, slice(c, s), c->msg_bytes, true);
		if (!e && last)
			e = kvw_tcp_io_full(s->fd, &s->got_sum, sizeof s->got_sum, false);
		if (e)
			return e;
	}
	return 0;
}

static void *stream_main(void *arg)
{
	stream *s = arg;
	client *c = s->c;
	for (;;) {
		pthread_barrier_wait(&c->start);
		if (c->quit)
			break;
		if (!s->err)
			s->err = send_messages(c, s);
		pthread_barrier_wait(&c->done);
	}
	return NULL;
}

static kvw_err connect_one(const struct sockaddr_in *sa, int *out, kvw_diag *d)
{
	char where[64];
	snprintf(where, sizeof where, "%s:%d", inet_ntoa(sa->sin_addr), ntohs(sa->sin_port));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kvw_fail(d, KVW_ESYS, "socket: %s", strerror(errno));
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa), e = errno;
	if (rc != 0 && e == EINPROGRESS) {
		struct pollfd p = { fd, POLLOUT, 0 };
		socklen_t len = sizeof e;
		rc = poll(&p, 1, KVW_TCP_TIMEOUT_S * 1000);
		if (rc == 0)
			e = ETIMEDOUT, rc = -1;
		else if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e == 0)
			rc = 0;
		else
			rc = -1;
	}
	if (rc != 0) {
		close(fd);
		return kvw_fail(d, KVW_ESYS, "cannot connect to %s: %s", where, strerror(e));
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	kvw_tcp_tune(fd);
	*out = fd;
	return KVW_OK;
}

static void client_close(client *c)
{
	if (!c)
		return;
	c->quit = 1;
	if (c->n > 0) {
		pthread_barrier_wait(&c->start);
		for (int i = 0; i < c->n; i++)
			pthread_join(c->s[i].thread, NULL);
		pthread_barrier_destroy(&c->start);
		pthread_barrier_destroy(&c->done);
	}
	for (int i = 0; i < MAX_STREAMS; i++)
		if (c->s[i].fd > 0)
			close(c->s[i].fd);
	free(c->payload);
	free(c->stage);
	free(c);
}

static kvw_err client_open(const struct sockaddr_in *sa, int n, client **out, kvw_diag *d)
{
	client *c = calloc(1, sizeof *c);
	if (!c || !(c->payload = malloc(BUF_BYTES)) || !(c->stage = malloc(BUF_BYTES))) {
		if (c)
			free(c->payload);
		free(c);
		return kvw_fail(d, KVW_ESYS, "out of memory");
	}
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < BUF_BYTES; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(c->payload + i, &x, 8);
	}
	kvw_err err = KVW_OK;
	for (int i = 0; i < n && !err; i++)
		err = connect_one(sa, &c->s[i].fd, d);
	if (err) {
		client_close(c);
		return err;
	}
	pthread_barrier_init(&c->start, NULL, (unsigned)n + 1);
	pthread_barrier_init(&c->done, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		c->s[i].c = c;
		if (pthread_create(&c->s[i].thread, NULL, stream_main, &c->s[i]) != 0) {
			/* The i threads started wait on a barrier sized for n: they cannot be
			 * released, so they and their client are left to the process exit. */
			return kvw_fail(d, KVW_ESYS, "cannot start stream thread %d of %d", i + 1, n);
		}
	}
	c->n = n;
	c->stage_fn = kvw_gpu_to_host;
	*out = c;
	return KVW_OK;
}

/* one iteration on every stream; seconds, or -1 when a stream failed */
static double iterate(client *c)
{
	double t0 = now();
	/* the whole message crosses from the GPU, every stream's slice of it */
	if (c->dev_src && !c->stage_fn(c->stage, c->dev_src, c->msg_bytes * (size_t)c->n))
		return -1;
	pthread_barrier_wait(&c->start);
	pthread_barrier_wait(&c->done);
	double t = now() - t0;
	for (int i = 0; i < c->n; i++)
		if (c->s[i].err)
			return -1;
	return t;
}

static double time_iteration(void *arg)
{
	return iterate(arg);
}

static kvw_err stream_error(client *c, const char *where, kvw_diag *d)
{
	for (int i = 0; i < c->n; i++)
		if (c->s[i].err)
			return kvw_fail(d, KVW_ESYS, "tcp %s: stream %d: %s", where, i,
			                c->s[i].err == ECONNRESET ? "the peer closed the connection"
			                : c->s[i].err == EAGAIN ? "timed out waiting for the peer"
			                : strerror(c->s[i].err));
	return kvw_fail(d, KVW_ESYS, "tcp %s: failed", where);
}

/* one checksummed iteration: the staging buffer is poisoned first, so a
 * staging copy that moved nothing (or the wrong bytes) cannot pass, and
 * each stream's checksum is compared with the payload's; wrong bytes, or
 * -1 when a stream failed */
static long long checked_iteration(client *c)
{
	if (c->dev_src)
		memset(c->stage, 0xA5, c->msg_bytes * (size_t)c->n);
	if (iterate(c) < 0)
		return -1;
	long long wrong = 0;
	for (int i = 0; i < c->n; i++)
		wrong += c->s[i].got_sum != kvw_tcp_checksum(expected_slice(c, &c->s[i]), c->msg_bytes)
		         ? (long long)c->msg_bytes : 0;
	return wrong;
}

/* times c's current setting, then verifies one checksummed iteration */
static kvw_err measure(kvw_probe_run *r, client *c, kvw_record *rec, kvw_diag *d)
{
	c->flags = 0;
	kvw_err err = kvw_gbench_measure(rec->variant, time_iteration, c, rec->iterations, rec->repetitions,
	                                 &rec->time_s, d);
	if (err == KVW_EDRIVER)
		return stream_error(c, rec->variant, d);
	if (err)
		return err;
	rec->gbps = rec->bytes / rec->time_s.median / 1e9;
	c->flags = KVW_TCP_SUM;
	long long wrong = checked_iteration(c);
	if (wrong < 0)
		return stream_error(c, rec->variant, d);
	rec->checked = (long long)(c->msg_bytes * (size_t)c->n);
	rec->wrong = wrong;
	if (rec->wrong) {
		rec->status = KVW_ST_FAILED;
		snprintf(rec->reason, sizeof rec->reason, "checksum mismatch on %lld bytes", rec->wrong);
	}
	return kvw_probe_emit(r, rec, d);
}

static long iterations_for(size_t bytes)
{
	return bytes <= (64u << 10) ? 200 : bytes <= (4u << 20) ? 20 : 3;
}

static kvw_err sweep(kvw_probe_run *r, client *c, const char *path, kvw_diag *d)
{
	double sizes[16], times[16];
	int n = 0, first = r->n_records;
	size_t max = r->quick ? ((size_t)16 << 20) : ((size_t)64 << 20), step = r->quick ? 16 : 4;
	for (size_t total = 4096; total <= max && n < 16; total *= step) {
		c->msg_bytes = total / (size_t)c->n / 8 * 8;
		c->messages = 1;
		kvw_record rec = kvw_record_new("tcp", "");
		snprintf(rec.variant, sizeof rec.variant, "%s_%dstreams_%zuKiB", path, c->n, total >> 10);
		rec.bytes = (double)(c->msg_bytes * (size_t)c->n);
		rec.iterations = r->quick ? (iterations_for(total) + 3) / 4 : iterations_for(total);
		rec.repetitions = r->quick ? 3 : 5;
		kvw_err err = measure(r, c, &rec, d);
		if (err)
			return err;
		sizes[n] = rec.bytes;
		times[n++] = rec.time_s.median;
	}
	kvw_linkfit f;
	if (kvw_fit_link(sizes, times, n, &f)) {
		char name[96];
		snprintf(name, sizeof name, "%s_%dstreams", path, c->n);
		kvw_probe_add_link(r, first, name, "network", f.alpha_s, f.bw, f.n, f.r2);
	}
	return KVW_OK;
}

/* KV-shaped traffic on stream 0 of a one-stream client */
static kvw_err kv_shaped(kvw_probe_run *r, client *c, const char *path, kvw_diag *d)
{
	kvw_kv_plan plan;
	kvw_err err = kvw_probe_kv_plan(r, path, BUF_BYTES, &plan, d);
	double packed_s = NAN;
	for (int i = 0; plan.entry && i < KVW_KV_PATTERNS && !err; i++) {
		c->msg_bytes = (size_t)plan.p[i].message_bytes;
		c->messages = (int)plan.p[i].messages;
		kvw_record rec = kvw_record_new("tcp", "");
		snprintf(rec.variant, sizeof rec.variant, "%s_kv_%s_%s_%ldtok", path, plan.model, plan.p[i].mode, plan.tokens);
		rec.bytes = (double)c->msg_bytes * (double)plan.p[i].messages;
		rec.iterations = r->quick ? 2 : 5;
		rec.repetitions = 3;
		if ((err = measure(r, c, &rec, d)))
			break;
		if (i == 0)
			packed_s = rec.time_s.median;
		if (rec.status == KVW_ST_OK) /* nothing from a send checked wrong */
			kvw_probe_kv_result(plan.entry, &plan.p[i], rec.time_s.median, packed_s);
	}
	return err;
}

static kvw_err parse_peer(const char *peer, struct sockaddr_in *sa, kvw_diag *d)
{
	char host[64];
	const char *colon = strrchr(peer, ':');
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || colon == peer || (size_t)(colon - peer) >= sizeof host || *end || port < 1 || port > 65535)
		return kvw_fail(d, KVW_EUSAGE, "--peer '%s' is not ADDR:PORT", peer);
	memcpy(host, peer, (size_t)(colon - peer));
	host[colon - peer] = '\0';
	return kvw_tcp_parse_addr(host, (int)port, sa, d);
}

static kvw_err tcp_run_local(kvw_probe_run *r, kvw_diag *d);

kvw_err kvw_tcp_check_peer(const char *peer, kvw_diag *d)
{
	struct sockaddr_in sa;
	return parse_peer(peer, &sa, d);
}

/* This host's address for a cross-rank server: --bind, else the first IPv4
 * address its hostname resolves to. */
static void host_addr(const kvw_args *a, char *out, size_t cap)
{
	char name[256];
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	snprintf(out, cap, "%s", a->bind && strcmp(a->bind, "127.0.0.1") ? a->bind : "127.0.0.1");
	if (a->bind && strcmp(a->bind, "127.0.0.1"))
		return;
	if (gethostname(name, sizeof name) == 0 && getaddrinfo(name, NULL, &hints, &res) == 0 && res) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, (socklen_t)cap);
		freeaddrinfo(res);
	}
}

/* Under MPI: rank 1 serves, rank 0 measures, the others wait; every rank
 * takes part in the same collectives. */
static kvw_err tcp_ranks(kvw_probe_run *r, kvw_diag *d)
{
	const kvw_mpi *m = r->mpi;
	kvw_tcp_server *srv = NULL;
	char peer[96] = "";
	int port = 0;
	kvw_err err = KVW_OK;
	if (m->rank == 1) {
		char addr[64];
		host_addr(r->args, addr, sizeof addr);
		err = kvw_tcp_server_start(addr, 0, &srv, &port, d);
		if (!err)
			snprintf(peer, sizeof peer, "%s:%d", addr, port);
	}
	kvw_mpi_bcast_str(m, peer, sizeof peer, 1);
	if (m->rank == 0) {
		if (!peer[0]) {
			err = kvw_fail(d, KVW_ESYS, "tcp: rank 1 could not start its server");
		} else {
			kvw_args a = *r->args;
			a.peer = peer;
			kvw_probe_run sub = *r;
			sub.args = &a;
			sub.mpi = NULL;
			err = tcp_run_local(&sub, d);
			r->n_records = sub.n_records, r->cap = sub.cap, r->records = sub.records;
		}
	}
	kvw_mpi_barrier(m);
	kvw_tcp_server_stop(srv);
	if (m->rank > 0 && !err) {
		kvw_record rec = kvw_record_new("tcp", "");
		rec.status = KVW_ST_SKIPPED;
		snprintf(rec.reason, sizeof rec.reason, m->rank == 1 ? "served rank 0's streams (rank 0 records the numbers)"
		         : "the tcp probe runs between ranks 0 and 1");
		err = kvw_probe_emit(r, &rec, d);
	}
	return err;
}

static kvw_err tcp_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	if (r->mpi && r->mpi->size > 1 && !r->args->peer)
		return tcp_ranks(r, d);
	return tcp_run_local(r, d);
}

static kvw_err tcp_run_local(kvw_probe_run *r, kvw_diag *d)
{
	const kvw_args *a = r->args;
	int streams = a->streams > 0 ? (int)a->streams : 4;
	kvw_tcp_server *srv = NULL;
	client *c = NULL;
	struct sockaddr_in sa;
	char path[96];
	kvw_err err;
	if (a->peer) {
		err = parse_peer(a->peer, &sa, d);
		snprintf(path, sizeof path, "tcp_%s", r->mpi == NULL ? "rank0_to_rank1" : a->peer);
		for (char *p = path; *p; p++)
			*p = *p == '.' || *p == ':' ? '_' : *p;
	} else {
		int port = 0;
		const char *bind_addr = a->bind ? a->bind : "127.0.0.1";
		err = kvw_tcp_server_start(bind_addr, 0, &srv, &port, d);
		if (!err)
			err = kvw_tcp_parse_addr(bind_addr, port, &sa, d);
		snprintf(path, sizeof path, "%s", strncmp(bind_addr, "127.", 4) == 0 ? "tcp_loopback" : "tcp_local");
	}
	if (!err)
		err = client_open(&sa, streams, &c, d);
	if (!err)
		err = sweep(r, c, path, d);
	if (!err && !kvw_gpu_unavailable(1)) {
		/* the KV lives in GPU memory: stage it to the host inside every timed send */
		char staged[112];
		snprintf(staged, sizeof staged, "%s_gpu_staged", path);
		c->dev_src = kvw_gpu_copy_of(c->payload, (size_t)64 << 20);
		if (!c->dev_src)
			err = kvw_fail(d, KVW_EDRIVER, "tcp: cannot stage the payload in GPU memory");
		else
			err = sweep(r, c, staged, d);
		kvw_gpu_free(c->dev_src);
		c->dev_src = NULL;
	}
	client_close(c);
	c = NULL;
	if (!err && !a->no_kv && !(err = client_open(&sa, 1, &c, d)))
		err = kv_shaped(r, c, path, d);
	client_close(c);
	kvw_tcp_server_stop(srv);
	return err;
}

/* ---- a loopback path for kvwall validate (tcp.h) ------------------------- */

struct kvw_tcp_pipe {
	kvw_tcp_server *srv;
	client *c;
};

kvw_err kvw_tcp_pipe_open(int streams, kvw_tcp_pipe **out, kvw_diag *d)
{
	kvw_tcp_pipe *p = calloc(1, sizeof *p);
	if (!p)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	int port = 0;
	struct sockaddr_in sa;
	kvw_err err = kvw_tcp_server_start("127.0.0.1", 0, &p->srv, &port, d);
	if (!err)
		err = kvw_tcp_parse_addr("127.0.0.1", port, &sa, d);
	if (!err)
		err = client_open(&sa, streams, &p->c, d);
	if (err) {
		kvw_tcp_pipe_close(p);
		return err;
	}
	*out = p;
	return KVW_OK;
}

double kvw_tcp_pipe_send_gpu(kvw_tcp_pipe *p, const void *dev, size_t n)
{
	client *c = p->c;
	double total = 0;
	size_t sent = 0, step = (size_t)c->n * 8;
	c->messages = 1;
	c->flags = 0;
	while (n - sent >= step) {
		size_t chunk = n - sent < BUF_BYTES ? n - sent : BUF_BYTES;
		c->msg_bytes = chunk / (size_t)c->n / 8 * 8;
		c->dev_src = (void *)((const char *)dev + sent);
		double t = iterate(c);
		c->dev_src = NULL;
		if (t < 0)
			return -1;
		total += t;
		sent += c->msg_bytes * (size_t)c->n;
	}
	return total;
}

long long kvw_tcp_pipe_verify(kvw_tcp_pipe *p, const void *dev, const void *expected, size_t n)
{
	client *c = p->c;
	long long wrong = 0;
	size_t sent = 0, step = (size_t)c->n * 8;
	char *payload = c->payload;
	c->messages = 1;
	c->flags = KVW_TCP_SUM;
	while (n - sent >= step && wrong >= 0) {
		size_t chunk = n - sent < BUF_BYTES ? n - sent : BUF_BYTES;
		c->msg_bytes = chunk / (size_t)c->n / 8 * 8;
		c->dev_src = (void *)((const char *)dev + sent);
		c->payload = (char *)expected + sent; /* what each stream must deliver */
		long long w = checked_iteration(c);
		wrong = w < 0 ? -1 : wrong + w;
		sent += c->msg_bytes * (size_t)c->n;
	}
	c->dev_src = NULL;
	c->payload = payload;
	c->flags = 0;
	return wrong;
}

void kvw_tcp_pipe_set_stage(kvw_tcp_pipe *p, bool (*stage)(void *dst, const void *src, size_t n))
{
	p->c->stage_fn = stage ? stage : kvw_gpu_to_host;
}

void kvw_tcp_pipe_close(kvw_tcp_pipe *p)
{
	if (!p)
		return;
	client_close(p->c);
	kvw_tcp_server_stop(p->srv);
	free(p);
}

static const char *always(const kvw_mpi *mpi)
{
	(void)mpi;
	return NULL;
}

const kvw_probe kvw_probe_tcp = {
	.name = "tcp",
	.summary = "TCP streams over loopback or to a kvwall serve (--peer): size sweep with the alpha + s/B fit and "
	           "KV-shaped message patterns, checksummed",
	.needs = KVW_NEED_NOTHING,
	.unavailable = always,
	.run = tcp_run,
};
