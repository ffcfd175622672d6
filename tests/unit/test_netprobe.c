/* test_netprobe.c — the perftest output parser on fixtures in
 * tests/data/perftest (perftest's layout, illustrative numbers). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "copycheck.h"
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

/* a host-memory mock of a transfer probe's copy: src -> dst (and src ->
 * dst2 when two destinations, as bidir); the timed runs left dst right */
typedef struct mock_copy {
	unsigned char src[256], dst[256], dst2[256];
	int writes; /* destinations the copy writes: 0 (broken), 1, 2 */
	bool two;
} mock_copy;

static int mock_poison(void *ctx)
{
	mock_copy *m = ctx;
	memset(m->dst, 0xA5, sizeof m->dst);
	if (m->two)
		memset(m->dst2, 0xA5, sizeof m->dst2);
	return 0;
}

static int mock_copy_run(void *ctx)
{
	mock_copy *m = ctx;
	if (m->writes >= 1)
		memcpy(m->dst, m->src, sizeof m->src);
	if (m->writes >= 2)
		memcpy(m->dst2, m->src, sizeof m->src);
	return 0;
}

static long long mock_wrong(void *ctx)
{
	mock_copy *m = ctx;
	long long w = 0;
	for (size_t i = 0; i < sizeof m->src; i++)
		w += (m->dst[i] != m->src[i]) + (m->two && m->dst2[i] != m->src[i]);
	return w;
}

static void test_copy_verify(void)
{
	mock_copy m;
	for (int i = 0; i < 256; i++)
		m.src[i] = (unsigned char)(i * 7 + 1) == 0xA5 ? 0x11 : (unsigned char)(i * 7 + 1); /* never the poison */
	memcpy(m.dst, m.src, 256); /* what the timed iterations left behind */
	memcpy(m.dst2, m.src, 256);
	kvw_copy_check c = { mock_poison, mock_copy_run, mock_wrong, &m };
	m.writes = 1, m.two = false;
	CHECK(kvw_copy_verify(&c) == 0);   /* a working copy passes */
	m.writes = 0;
	CHECK(kvw_copy_verify(&c) == 256); /* a copy that does nothing is caught */
	m.two = true, m.writes = 1;
	memcpy(m.dst2, m.src, 256);
	CHECK(kvw_copy_verify(&c) == 256); /* bidir: the second destination is poisoned too */
	m.writes = 2;
	CHECK(kvw_copy_verify(&c) == 0);
}

typedef struct mock_wait {
	double t;
	int naps, done_after, error_after;
} mock_wait;

static int w_done(void *c)
{
	mock_wait *m = c;
	return m->done_after >= 0 && m->naps >= m->done_after;
}

static int w_err(void *c)
{
	mock_wait *m = c;
	return m->error_after >= 0 && m->naps >= m->error_after ? 6 /* ncclRemoteError */ : 0;
}

static double w_now(void *c)
{
	return ((mock_wait *)c)->t;
}

static void w_nap(void *c)
{
	mock_wait *m = c;
	m->naps++;
	m->t += 0.1;
}

static void test_wait(void)
{
	int code;
	mock_wait m = { 0, 0, 3, -1 };
	kvw_waiter w = { w_done, w_err, w_now, w_nap, &m };
	CHECK(kvw_wait_async(&w, 10, &code) == 0 && m.naps == 3);
	/* a dead peer: the communicator reports an asynchronous error */
	m = (mock_wait){ 0, 0, -1, 5 };
	CHECK(kvw_wait_async(&w, 10, &code) == 1 && code == 6 && m.naps == 5);
	/* a silent peer: fails after the timeout instead of hanging */
	m = (mock_wait){ 0, 0, -1, -1 };
	CHECK(kvw_wait_async(&w, 2.0, &code) == 2 && m.naps >= 20 && m.naps <= 22);
}

int main(void)
{
	test_copy_verify();
	test_wait();
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
