/* tcp.h — the TCP transfer path (the fallback of KV transfer engines).
 *
 * Wire protocol, per message on one connection: a 24-byte header
 *   magic 'KVW1' (u32), flags (u32), payload size (u64), sequence (u64)
 * (little-endian, as the host writes it) followed by the payload.  With
 * KVW_TCP_ACK the receiver answers 8 bytes once the payload is in: the
 * payload's checksum when KVW_TCP_SUM is set, else zero.  Payloads are at
 * most KVW_TCP_MAX_MSG bytes; anything else closes the connection.
 * Sockets carry send and receive timeouts, so a dead peer is an error,
 * never a hang.
 */
#ifndef KVW_TCP_H
#define KVW_TCP_H

#include <stdint.h>
#include <stddef.h>

#include "kvw_err.h"

#define KVW_TCP_MAGIC 0x3157564bu /* "KVW1" */
#define KVW_TCP_ACK 1u
#define KVW_TCP_SUM 2u
#define KVW_TCP_MAX_MSG ((uint64_t)1 << 30)
#define KVW_TCP_TIMEOUT_S 10

/* Order-dependent checksum of a payload (64-bit words, then the tail). */
uint64_t kvw_tcp_checksum(const void *p, size_t n);

/* A server on addr:port (port 0: any; *bound_port gets it).  It accepts
 * connections and drains messages on a thread per connection.
 * kvw_tcp_server_stop closes it; destroy accepts NULL. */
typedef struct kvw_tcp_server kvw_tcp_server;
kvw_err kvw_tcp_server_start(const char *addr, int port, kvw_tcp_server **out, int *bound_port, kvw_diag *d);
void kvw_tcp_server_stop(kvw_tcp_server *s);
/* Serves in the foreground until idle_s seconds pass with no connection
 * open and no bytes received (0: forever); a connection silent for idle_s
 * seconds is dropped, so a client that connects and sends nothing cannot
 * keep the server up. */
kvw_err kvw_tcp_serve(const char *addr, int port, int idle_s, kvw_diag *d);

/* A loopback path for kvwall validate: a local server and `streams`
 * connections to it, the path the tcp probe's "_gpu_staged" sweep times.
 * send_gpu moves n bytes of GPU memory as the probe does: staged to the
 * host (device-to-host copy), then sent split over the streams, in chunks
 * of at most 256 MiB, each acknowledged; the bytes past the last multiple
 * of 8 x streams are not sent.  Returns the seconds it took, < 0 on error. */
typedef struct kvw_tcp_pipe kvw_tcp_pipe;
kvw_err kvw_tcp_pipe_open(int streams, kvw_tcp_pipe **out, kvw_diag *d);
double kvw_tcp_pipe_send_gpu(kvw_tcp_pipe *p, const void *dev, size_t n);
void kvw_tcp_pipe_close(kvw_tcp_pipe *p); /* accepts NULL */
/* One checked send of n bytes of GPU memory dev, staged into a poisoned
 * staging buffer, each stream's checksum (computed by the receiver)
 * compared with that of expected, the n host bytes dev must hold: wrong
 * bytes, or -1 when a stream failed. */
long long kvw_tcp_pipe_verify(kvw_tcp_pipe *p, const void *dev, const void *expected, size_t n);
/* For tests: another staging copy in place of kvw_gpu_to_host (NULL: back). */
#include <stdbool.h>
void kvw_tcp_pipe_set_stage(kvw_tcp_pipe *p, bool (*stage)(void *dst, const void *src, size_t n));

/* --peer ADDR:PORT well formed? (tcp_probe.c) */
kvw_err kvw_tcp_check_peer(const char *peer, kvw_diag *d);

#endif
