/* tcp_io.h — internals shared by tcp.c (server) and tcp_probe.c (client). */
#ifndef KVW_TCP_IO_H
#define KVW_TCP_IO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvw_err.h"

typedef struct kvw_tcp_hdr {
	uint32_t magic, flags;
	uint64_t size, seq;
} kvw_tcp_hdr;

/* moves exactly n bytes; 0, or an errno (ECONNRESET when the peer closed) */
int kvw_tcp_io_full(int fd, void *buf, size_t n, bool send_side);
/* send/receive timeouts and TCP_NODELAY */
void kvw_tcp_tune(int fd);
kvw_err kvw_tcp_parse_addr(const char *addr, int port, struct sockaddr_in *sa, kvw_diag *d);

#endif
