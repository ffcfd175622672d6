/* storage_io.h — reading a file at a queue depth, for the storage probe.
 *
 * One ops struct per way of keeping q reads in flight: io_uring through
 * liburing (where the library was found at build time and the kernel
 * allows it), else q threads each doing pread(2).  A batch is a list of
 * (offset, length) reads; the engine keeps at most qd of them in flight
 * and returns when all have completed.  Each in-flight slot reads into its
 * own buffer; with a check callback every completed read is handed to it
 * before the buffer is reused (the probe verifies the bytes there).
 */
#ifndef KVW_STORAGE_IO_H
#define KVW_STORAGE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVW_SIO_MAX_QD 64

typedef struct kvw_sio_read {
	uint64_t off;
	size_t len;
} kvw_sio_read;

/* called for each completed read with the bytes it read */
typedef void (*kvw_sio_check)(void *ctx, const kvw_sio_read *rd, const unsigned char *buf);

typedef struct kvw_sio kvw_sio;

typedef struct kvw_sio_ops {
	const char *name;
	/* NULL when usable here, else why not */
	const char *(*unavailable)(void);
	/* an engine reading fd with up to qd_max reads of up to max_len bytes
	 * in flight (buffers aligned for O_DIRECT); NULL: errno says why */
	kvw_sio *(*open)(int fd, int qd_max, size_t max_len);
	/* 0 on success; else an errno value (EIO for a short read, *short_at
	 * then holds the offset of the read that came back short) */
	int (*run)(kvw_sio *e, const kvw_sio_read *rd, int n, int qd, kvw_sio_check check, void *ctx,
	           uint64_t *short_at);
	void (*close)(kvw_sio *e); /* accepts NULL */
} kvw_sio_ops;

/* The engines, best first: io_uring (when built with liburing), threads. */
const kvw_sio_ops *kvw_sio_engine(int i);

#endif
