/* tcp.c — the TCP wire protocol's server side and shared helpers (see
 * tcp.h).  The client and the probe are in tcp_probe.c. */
#define _GNU_SOURCE
#include "tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcp_io.h"

#define DRAIN_BUF ((size_t)4 << 20)

uint64_t kvw_tcp_checksum(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		h = (h << 7 | h >> 57) ^ w;
		h *= 0x100000001b3ull;
	}
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* ---- helpers shared with tcp_probe.c (tcp_io.h) -------------------------- */

int kvw_tcp_io_full(int fd, void *buf, size_t n, bool send_side)
{
	char *p = buf;
	while (n) {
		ssize_t k = send_side ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k == 0 ? ECONNRESET : errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

void kvw_tcp_tune(int fd)
{
	struct timeval tv = { KVW_TCP_TIMEOUT_S, 0 };
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

kvw_err kvw_tcp_parse_addr(const char *addr, int port, struct sockaddr_in *sa, kvw_diag *d)
{
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		return kvw_fail(d, KVW_EUSAGE, "'%s' is not an IPv4 address", addr);
	return KVW_OK;
}

/* ---- server ---------------------------------------------------------------- */

#define MAX_CONNS 256

struct kvw_tcp_server {
	int fd;
	pthread_t thread;
	pthread_mutex_t lock;
	int idle_s;          /* > 0: a connection silent this long is dropped */
	int open;            /* connections being served */
	int fds[MAX_CONNS];  /* their sockets (-1: free slot), shut down by stop */
	time_t last;         /* the last sign of life: a connection closed, or bytes arrived */
	int dropped;         /* silent connections dropped so far */
	volatile int stop;
};

typedef struct conn {
	kvw_tcp_server *srv;
	int fd, slot;
} conn;

static void alive(kvw_tcp_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->last = time(NULL);
	pthread_mutex_unlock(&s->lock);
}

/* 0 when the client closed or sent junk, else the errno that ended it */
static int serve_conn(kvw_tcp_server *srv, int fd)
{
	char *buf = malloc(DRAIN_BUF);
	int e = 0;
	if (!buf)
		return ENOMEM;
	for (;;) {
		kvw_tcp_hdr h;
		if ((e = kvw_tcp_io_full(fd, &h, sizeof h, false)) || h.magic != KVW_TCP_MAGIC || h.size > KVW_TCP_MAX_MSG)
			break;
		alive(srv);
		uint64_t left = h.size, sum = 0;
		/* a checksum needs the whole payload in order: read it in one buffer pass at a time */
		char *whole = NULL;
		if ((h.flags & KVW_TCP_SUM) && !(whole = malloc(h.size ? h.size : 1)))
			break;
		char *dst = whole;
		while (left && !e) {
			size_t n = left < DRAIN_BUF ? (size_t)left : DRAIN_BUF;
			e = kvw_tcp_io_full(fd, whole ? dst : buf, n, false);
			if (whole)
				dst += n;
			left -= n;
			alive(srv); /* a long payload that keeps coming is not idle */
		}
		if (whole) {
			sum = kvw_tcp_checksum(whole, h.size);
			free(whole);
		}
		if (e || ((h.flags & KVW_TCP_ACK) && (e = kvw_tcp_io_full(fd, &sum, sizeof sum, true))))
			break;
	}
	free(buf);
	return e == ECONNRESET ? 0 : e;
}

static void *conn_main(void *arg)
{
	conn *c = arg;
	kvw_tcp_server *s = c->srv;
	kvw_tcp_tune(c->fd);
	/* a server waits for the next message as long as the client likes,
	 * unless it serves with an idle timeout: then a client silent for that
	 * long is dropped, so the server can stop */
	struct timeval tv = { s->idle_s, 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int e = serve_conn(s, c->fd);
	pthread_mutex_lock(&s->lock);
	s->fds[c->slot] = -1;
	s->open--;
	if (e == EAGAIN || e == EWOULDBLOCK)
		s->dropped++; /* silent since its last bytes: no sign of life */
	else
		s->last = time(NULL);
	pthread_mutex_unlock(&s->lock);
	close(c->fd);
	free(c);
	return NULL;
}

/* a slot for a new connection's socket; -1 when all are taken */
static int take_slot(kvw_tcp_server *s, int fd)
{
	int slot = -1;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < MAX_CONNS && slot < 0; i++)
		if (s->fds[i] < 0)
			slot = i;
	if (slot >= 0) {
		s->fds[slot] = fd;
		s->open++;
	}
	pthread_mutex_unlock(&s->lock);
	return slot;
}

static void *accept_main(void *arg)
{
	kvw_tcp_server *s = arg;
	while (!s->stop) {
		struct pollfd p = { s->fd, POLLIN, 0 };
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept(s->fd, NULL, NULL);
		if (fd < 0)
			continue;
		conn *c = malloc(sizeof *c);
		int slot = c ? take_slot(s, fd) : -1;
		pthread_t t;
		if (slot < 0) {
			close(fd);
			free(c);
			continue;
		}
		*c = (conn){ s, fd, slot };
		if (pthread_create(&t, NULL, conn_main, c) != 0) {
			pthread_mutex_lock(&s->lock);
			s->fds[slot] = -1;
			s->open--;
			pthread_mutex_unlock(&s->lock);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static kvw_err server_start(const char *addr, int port, int idle_s, kvw_tcp_server **out, int *bound_port,
                            kvw_diag *d)
{
	struct sockaddr_in sa;
	kvw_err err = kvw_tcp_parse_addr(addr, port, &sa, d);
	if (err)
		return err;
	kvw_tcp_server *s = calloc(1, sizeof *s);
	if (!s)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	int one = 1;
	socklen_t len = sizeof sa;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
	    || bind(s->fd, (struct sockaddr *)&sa, sizeof sa) || listen(s->fd, 64)
	    || getsockname(s->fd, (struct sockaddr *)&sa, &len)) {
		err = kvw_fail(d, KVW_ESYS, "cannot listen on %s:%d: %s", addr, port, strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		free(s);
		return err;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->last = time(NULL);
	s->idle_s = idle_s;
	for (int i = 0; i < MAX_CONNS; i++)
		s->fds[i] = -1;
	if (pthread_create(&s->thread, NULL, accept_main, s) != 0) {
		close(s->fd);
		free(s);
		return kvw_fail(d, KVW_ESYS, "cannot start the server thread");
	}
	*bound_port = ntohs(sa.sin_port);
	*out = s;
	return KVW_OK;
}

kvw_err kvw_tcp_server_start(const char *addr, int port, kvw_tcp_server **out, int *bound_port, kvw_diag *d)
{
	return server_start(addr, port, 0, out, bound_port, d);
}

void kvw_tcp_server_stop(kvw_tcp_server *s)
{
	if (!s)
		return;
	s->stop = 1;
	pthread_join(s->thread, NULL);
	close(s->fd);
	/* connection threads end when their sockets shut down; they free
	 * themselves and must be gone before s is */
	int open = 0;
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&s->lock);
		for (int k = 0; k < MAX_CONNS; k++)
			if (s->fds[k] >= 0)
				shutdown(s->fds[k], SHUT_RDWR);
		open = s->open;
		pthread_mutex_unlock(&s->lock);
		if (!open)
			break;
		usleep(10000);
	}
	if (!open) /* else a thread still holds s: leave it to the process exit */
		free(s);
}

kvw_err kvw_tcp_serve(const char *addr, int port, int idle_s, kvw_diag *d)
{
	kvw_tcp_server *s;
	int bound;
	kvw_err err = server_start(addr, port, idle_s, &s, &bound, d);
	if (err)
		return err;
	fprintf(stderr, "kvwall serve: listening on %s:%d%s\n", addr, bound, idle_s ? "" : " (until killed)");
	int dropped = 0;
	for (;;) {
		sleep(1);
		pthread_mutex_lock(&s->lock);
		bool idle = s->open == 0 && idle_s > 0 && time(NULL) - s->last >= idle_s;
		dropped = s->dropped;
		pthread_mutex_unlock(&s->lock);
		if (idle)
			break;
	}
	fprintf(stderr, "kvwall serve: idle for %d s%s, stopping\n", idle_s,
	        dropped ? " (clients that stayed silent that long were dropped)" : "");
	kvw_tcp_server_stop(s);
	return KVW_OK;
}
