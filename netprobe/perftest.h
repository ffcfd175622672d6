/* perftest.h — reading the output of perftest's bandwidth tests
 * (ib_write_bw, ib_read_bw, ib_send_bw) into numbers.
 *
 * perftest prints a banner ("RDMA_Write BW Test", "Device : mlx5_0",
 * "Link type : IB", ...), then a result table under a dashed line:
 *   #bytes  #iterations  BW peak[MB/sec]  BW average[MB/sec]  MsgRate[Mpps]
 * where MB is 2^20 bytes (perftest's format factor 0x100000), or with
 * --report_gbits [Gb/sec], Gb being 1.25e8 bytes.  Both are converted to
 * GB/s (1e9 bytes).
 */
#ifndef KVW_PERFTEST_H
#define KVW_PERFTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "kvw_err.h"

#define KVW_PT_MAX_ROWS 64

typedef struct kvw_pt_row {
	double bytes;
	long iterations;
	double peak_gbps, avg_gbps; /* GB/s, 1e9 bytes */
	double msg_rate_mpps;
} kvw_pt_row;

typedef struct kvw_perftest {
	char test[64];      /* "RDMA_Write BW Test" */
	char device[64];    /* "mlx5_0", or "" */
	char link_type[16]; /* "IB", "Ethernet", or "" */
	bool gbits;         /* the table was in Gb/sec */
	int n;
	kvw_pt_row rows[KVW_PT_MAX_ROWS];
} kvw_perftest;

/* Parses perftest's standard output; KVW_EINPUT naming the line when the
 * table is missing or a row is malformed. */
kvw_err kvw_perftest_parse(const char *text, size_t len, kvw_perftest *out, kvw_diag *d);

#endif
