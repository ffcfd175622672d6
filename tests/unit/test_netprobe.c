/* test_netprobe.c — the perftest output parser on fixtures in
 * tests/data/perftest (perftest's layout, illustrative numbers). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kvw_config.h"
#include "nccl_math.h"
#include "perftest.h"

#ifndef FIXTURES
#define FIXTURES "tests/data/perftest"
#endif

static kvw_err parse_file(const char *name, kvw_perftest *pt, kvw_diag *d)
{
	char path[512], *buf;
	size_t len;
	snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
	kvw_err err = kvw_read_file(path, 1 << 20, &buf, &len, d);
	if (err)
		return err;
	err = kvw_perftest_parse(buf, len, pt, d);
	free(buf);
	return err;
}

int main(void)
{
	kvw_perftest pt;
	kvw_diag d;
	CHECK(parse_file("ib_write_bw_all_mbs.txt", &pt, &d) == KVW_OK);
	CHECK(strcmp(pt.test, "RDMA_Write BW Test") == 0);
	CHECK(strcmp(pt.device, "mlx5_0") == 0 && strcmp(pt.link_type, "IB") == 0 && !pt.gbits);
	CHECK(pt.n == 5);
	CHECK_NEAR(pt.rows[0].bytes, 2, 0);
	CHECK(pt.rows[4].iterations == 5000);
	/* MB/sec is 2^20 B/s in perftest: 46550 * 1048576 / 1e9 = 48.8112128 GB/s */
	CHECK_NEAR(pt.rows[4].avg_gbps, 48.8112128, 1e-12);
	CHECK_NEAR(pt.rows[4].peak_gbps, 46600 * 1048576.0 / 1e9, 1e-12);
	CHECK_NEAR(pt.rows[4].msg_rate_mpps, 0.005819, 1e-12);

	CHECK(parse_file("ib_read_bw_gbits_roce.txt", &pt, &d) == KVW_OK);
	CHECK(pt.gbits && pt.n == 1 && strcmp(pt.device, "mlx5_2") == 0 && strcmp(pt.link_type, "Ethernet") == 0);
	CHECK_NEAR(pt.rows[0].avg_gbps, 188.2 * 0.125, 1e-12); /* Gb/sec: 1.25e8 B/s */

	CHECK(parse_file("malformed_row.txt", &pt, &d) == KVW_EINPUT && strstr(d.msg, "line 3"));
	const char *none = "just some text\nno table here\n";
	CHECK(kvw_perftest_parse(none, strlen(none), &pt, &d) == KVW_EINPUT && strstr(d.msg, "no bandwidth table"));
	const char *empty = " #bytes #iterations BW peak[MB/sec] BW average[MB/sec] MsgRate[Mpps]\n-----\n";
	CHECK(kvw_perftest_parse(empty, strlen(empty), &pt, &d) == KVW_EINPUT && strstr(d.msg, "no result rows"));
	const char *unit = " #bytes #iterations BW peak[KB/sec] BW average[KB/sec] MsgRate[Mpps]\n";
	CHECK(kvw_perftest_parse(unit, strlen(unit), &pt, &d) == KVW_EINPUT && strstr(d.msg, "unknown bandwidth unit"));
	const char *neg = " #bytes #iterations BW peak[MB/sec] BW average[MB/sec] MsgRate[Mpps]\n 64 10 -1 2 3\n";
	CHECK(kvw_perftest_parse(neg, strlen(neg), &pt, &d) == KVW_EINPUT);
	/* found by the fuzzer: an iteration count past any integer type */
	const char *huge = " #bytes #iterations BW peak[MB/sec] BW average[MB/sec] MsgRate[Mpps]\n 64 5e118 1 2 3\n";
	CHECK(kvw_perftest_parse(huge, strlen(huge), &pt, &d) == KVW_EINPUT && strstr(d.msg, "line 2"));
	/* nccl-tests busbw factors: all-reduce 2(n-1)/n, all-gather (n-1)/n, send/recv 1 */
	CHECK_NEAR(kvw_busbw_factor(KVW_COLL_ALLREDUCE, 8), 1.75, 1e-15);
	CHECK_NEAR(kvw_busbw_factor(KVW_COLL_ALLGATHER, 4), 0.75, 1e-15);
	CHECK_NEAR(kvw_busbw_factor(KVW_COLL_SENDRECV, 2), 1.0, 0);
	CHECK_NEAR(kvw_busbw_factor(KVW_COLL_BROADCAST, 16), 1.0, 0);
	CHECK(kvw_busbw_factor(KVW_COLL_ALLREDUCE, 0) == 0);
	return check_done("test_netprobe");
}
