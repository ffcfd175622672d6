/* storage.h — inside the storage probe: the test file and one timed,
 * verified measurement (storage.c); the sweeps are storage_probe.c,
 * GPUDirect Storage storage_cufile.c. */
#ifndef KVW_STORAGE_H
#define KVW_STORAGE_H

#include <stdbool.h>

#include "probe.h"
#include "storage_io.h"

typedef struct kvw_storage {
	char dir[1024], path[1100], fs[16];
	double bytes;       /* the file's size */
	double free_bytes;  /* free space of the filesystem before writing */
	int fd;             /* reading: O_DIRECT unless !direct */
	int wfd;            /* writing (kept for the test hooks) */
	bool direct, keep, created, shrink;
	char fallback[200]; /* why not O_DIRECT */
	const kvw_sio_ops *ops;
	kvw_sio *eng;
	char engine_why[160]; /* why the better engine was not used */
	size_t chunk_bytes;   /* one LMCache chunk of the model (256 tokens, all layers), 4 KiB aligned */
	uint64_t rng;         /* offsets of the reads */
} kvw_storage;

/* The file's pattern: the bytes at file offset off (a multiple of 8). */
void kvw_storage_fill(unsigned char *buf, uint64_t off, size_t len);

/* The directory, its filesystem and the file's size from the options (the
 * size guard: at most half the free space, never more than the
 * filesystem); no file is made.  kvwall probe calls it before running any
 * probe, so a bad --storage-* option is refused up front. */
kvw_err kvw_storage_plan(const kvw_args *a, bool quick, kvw_storage *st, kvw_diag *d);

/* Creates (or with --storage-file reuses) and opens the file: the size
 * guard, the pattern, O_DIRECT or the fallback.  Errors name the problem;
 * nothing is left in the directory whatever happens (a --storage-file is
 * kept by request). */
kvw_err kvw_storage_open(const kvw_args *a, bool quick, kvw_storage *st, kvw_diag *d);
void kvw_storage_close(kvw_storage *st);

/* n reads of len bytes: contiguous from a random 4 KiB-aligned start
 * (seq), or each at a random aligned offset, all inside the file. */
void kvw_storage_layout(kvw_storage *st, kvw_sio_read *rd, int n, size_t len, bool seq);

/* Times rec->iterations x rec->repetitions batches of n reads laid out as
 * kvw_storage_layout (new offsets for every batch) at queue depth qd
 * (rec->bytes: the bytes of one batch), then checks one more batch against
 * the pattern, and emits the record.  rd: room for n reads, laid out. */
kvw_err kvw_storage_measure(kvw_probe_run *r, kvw_storage *st, kvw_sio_read *rd, int n, bool seq, int qd,
                            kvw_record *rec, kvw_diag *d);

/* GPUDirect Storage: file -> GPU memory through cuFile, or a skipped
 * record saying why not (storage_cufile.c). */
kvw_err kvw_storage_cufile(kvw_probe_run *r, kvw_storage *st, kvw_diag *d);

#endif
