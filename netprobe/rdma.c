/* rdma.c — the RDMA path: devices through libibverbs, bandwidth through
 * perftest.
 *
 *   rdma  lists every verbs device and port (state, link layer, active
 *         width x speed) into profile.rdma_devices; then, on the first
 *         device with an active port, runs perftest's ib_write_bw and
 *         ib_read_bw over all sizes (-a) — against a server it starts on
 *         this host (loopback through the NIC), or against one already
 *         running on --rdma-peer HOST — with --use_cuda=0 when GPU memory
 *         can be registered (nvidia_peermem loaded).  Each size becomes a
 *         record (GB/s = perftest's average; perftest checks no payload, so
 *         the record says 0 checked) and the sizes are fitted into
 *         profile.links with the catalog link of the port's rate as "spec".
 * Skipped with the reason: built without libibverbs, no RDMA device, no
 * active port, or perftest not installed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvw_gpu.h"
#include "kvw_topo.h"
#include "out.h"
#include "probe.h"

#ifdef KVW_HAVE_IBVERBS
#include <infiniband/verbs.h>

#include "kvw_fit.h"
#include "perftest.h"

#define PERFTEST_TIMEOUT_S 180
#define PERFTEST_PORT "18515"

extern char **environ;

static bool on_path(const char *tool)
{
	const char *path = getenv("PATH");
	char buf[4096];
	for (const char *p = path ? path : "/usr/bin"; p && *p;) {
		size_t n = strcspn(p, ":");
		snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, tool);
		if (access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* IB data rate per lane in Gb/s by ibv_port_attr.active_speed, and lanes by active_width */
static double lane_gbps(int speed)
{
	switch (speed) {
	case 1: return 2.0;      /* SDR 2.5 Gb/s signalling, 8b/10b */
	case 2: return 4.0;      /* DDR */
	case 4: return 8.0;      /* QDR */
	case 8: return 10.0;     /* FDR10 */
	case 16: return 13.64;   /* FDR */
	case 32: return 25.0;    /* EDR */
	case 64: return 50.0;    /* HDR */
	case 128: return 100.0;  /* NDR */
	default: return 0;
	}
}

static int lanes(int width)
{
	return width == 1 ? 1 : width == 2 ? 4 : width == 4 ? 8 : width == 8 ? 12 : width == 16 ? 2 : 0;
}

/* the catalog link of this rate and link layer, or NULL */
static const char *spec_name(double gbps, bool ethernet)
{
	static const struct { double rate; const char *ib, *eth; } t[] = {
		{ 100, NULL, "roce-100" }, { 200, "ib-hdr", "roce-200" }, { 400, "ib-ndr", "roce-400" }, { 800, "ib-xdr", NULL },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (gbps > 0.9 * t[i].rate && gbps < 1.1 * t[i].rate)
			return ethernet ? t[i].eth : t[i].ib;
	return NULL;
}

typedef struct port_pick {
	char dev[64];
	double gbps;
	bool ethernet, found;
} port_pick;

/* prefer: the NIC closest to this process's GPU (hwloc), else the first active port */
static void list_devices(kvw_probe_run *r, port_pick *pick)
{
	char gpu[32], near[64] = "";
	if (kvw_gpu_pci(gpu, sizeof gpu))
		kvw_topo_closest_nic(gpu, near, sizeof near);
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	json_t *arr = kvw_probe_section(r, "rdma_devices", true);
	for (int i = 0; list && i < n; i++) {
		struct ibv_context *ctx = ibv_open_device(list[i]);
		struct ibv_device_attr da;
		if (!ctx || ibv_query_device(ctx, &da)) {
			if (ctx)
				ibv_close_device(ctx);
			continue;
		}
		for (int p = 1; p <= da.phys_port_cnt; p++) {
			struct ibv_port_attr pa;
			if (ibv_query_port(ctx, (uint8_t)p, &pa))
				continue;
			bool eth = pa.link_layer == IBV_LINK_LAYER_ETHERNET, active = pa.state == IBV_PORT_ACTIVE;
			double gbps = lanes(pa.active_width) * lane_gbps(pa.active_speed);
			json_t *e = json_object();
			json_object_set_new(e, "device", json_string(ibv_get_device_name(list[i])));
			json_object_set_new(e, "port", json_integer(p));
			json_object_set_new(e, "state", json_string(ibv_port_state_str(pa.state)));
			json_object_set_new(e, "link_layer", json_string(eth ? "Ethernet" : "InfiniBand"));
			json_object_set_new(e, "active_gbps", gbps > 0 ? kvw_num(gbps) : json_null());
			json_array_append_new(arr, e);
			bool preferred = near[0] && strcmp(near, ibv_get_device_name(list[i])) == 0;
			if (active && (!pick->found || (preferred && strcmp(pick->dev, near) != 0))) {
				snprintf(pick->dev, sizeof pick->dev, "%s", ibv_get_device_name(list[i]));
				pick->gbps = gbps, pick->ethernet = eth, pick->found = true;
			}
		}
		ibv_close_device(ctx);
	}
	if (list)
		ibv_free_device_list(list);
}

/* runs argv with stdout into *text (malloc'd); kills it after the timeout */
static kvw_err capture(char *const argv[], char **text, kvw_diag *d)
{
	int fd[2];
	if (pipe(fd))
		return kvw_fail(d, KVW_ESYS, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
	posix_spawn_file_actions_addclose(&fa, fd[0]);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	if (rc) {
		close(fd[0]);
		return kvw_fail(d, KVW_ESYS, "cannot run %s: %s", argv[0], strerror(rc));
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	time_t end = time(NULL) + PERFTEST_TIMEOUT_S;
	kvw_err err = buf ? KVW_OK : kvw_fail(d, KVW_ESYS, "out of memory");
	while (!err) {
		struct pollfd p = { fd[0], POLLIN, 0 };
		int left = (int)(end - time(NULL));
		if (left <= 0 || poll(&p, 1, left * 1000) <= 0) {
			err = kvw_fail(d, KVW_ESYS, "%s did not finish in %d s", argv[0], PERFTEST_TIMEOUT_S);
			break;
		}
		if (len + 4096 > cap) {
			char *g = realloc(buf, cap *= 2);
			if (!g) {
				err = kvw_fail(d, KVW_ESYS, "out of memory");
				break;
			}
			buf = g;
		}
		ssize_t k = read(fd[0], buf + len, cap - len - 1);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd[0]);
	if (err)
		kill(pid, SIGKILL);
	int status = 0;
	waitpid(pid, &status, 0);
	if (!err && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		err = kvw_fail(d, KVW_EDRIVER, "%s exited with status %d", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*text = buf;
	return KVW_OK;
}

static kvw_err one_tool(kvw_probe_run *r, const char *tool, const port_pick *pick, bool cuda, kvw_diag *d)
{
	const char *peer = r->args->rdma_peer;
	char *args[16];
	int n = 0;
	args[n++] = (char *)tool, args[n++] = "-d", args[n++] = (char *)pick->dev, args[n++] = "-a";
	args[n++] = "-F", args[n++] = "-p", args[n++] = PERFTEST_PORT;
	if (cuda)
		args[n++] = "--use_cuda=0";
	pid_t server = 0;
	if (!peer) {
		args[n] = NULL;
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		int rc = posix_spawnp(&server, tool, &fa, NULL, args, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (rc)
			return kvw_fail(d, KVW_ESYS, "cannot start the %s server: %s", tool, strerror(rc));
		sleep(1);
	}
	args[n++] = (char *)(peer ? peer : "127.0.0.1");
	args[n] = NULL;
	char *text = NULL;
	kvw_err err = capture(args, &text, d);
	if (server) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	kvw_perftest pt;
	if (!err)
		err = kvw_perftest_parse(text, strlen(text), &pt, d);
	free(text);
	if (err)
		return err;
	double sizes[KVW_PT_MAX_ROWS], times[KVW_PT_MAX_ROWS];
	int first = r->n_records;
	for (int i = 0; i < pt.n && !err; i++) {
		kvw_record rec = kvw_record_new("rdma", "");
		snprintf(rec.variant, sizeof rec.variant, "%s_%s%s_%.0fB", tool, pick->dev, cuda ? "_gpumem" : "", pt.rows[i].bytes);
		rec.bytes = pt.rows[i].bytes;
		rec.iterations = pt.rows[i].iterations;
		rec.repetitions = 1;
		double t = pt.rows[i].avg_gbps > 0 ? pt.rows[i].bytes / (pt.rows[i].avg_gbps * 1e9) : 0;
		rec.time_s = (kvw_tstats){ t, t, t, t, 0 };
		rec.gbps = pt.rows[i].avg_gbps;
		sizes[i] = pt.rows[i].bytes, times[i] = t;
		if (!(t > 0)) {
			rec.gbps = NAN; /* a failed record carries no rate */
			rec.status = KVW_ST_FAILED;
			snprintf(rec.reason, sizeof rec.reason, "perftest reported no bandwidth");
		}
		err = kvw_probe_emit(r, &rec, d);
	}
	kvw_linkfit f;
	if (!err && kvw_fit_link(sizes, times, pt.n, &f)) {
		char name[128];
		snprintf(name, sizeof name, "rdma_%s_%s%s", pick->dev, strstr(tool, "read") ? "read" : "write",
		         cuda ? "_gpumem" : "");
		if (!kvw_probe_add_link(r, first, name, "network", f.alpha_s, f.bw, f.n, f.r2))
			return KVW_OK;
		const char *spec = spec_name(pick->gbps, pick->ethernet);
		json_t *links = json_object_get(r->profile, "links");
		if (spec)
			json_object_set_new(json_array_get(links, json_array_size(links) - 1), "spec", json_string(spec));
	}
	return err;
}

static const char *rdma_unavailable(const kvw_mpi *mpi)
{
	(void)mpi;
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	if (list)
		ibv_free_device_list(list);
	if (n == 0)
		return "no RDMA device (libibverbs found none)";
	if (!on_path("ib_write_bw"))
		return "perftest not installed (apt-get install perftest)";
	return NULL;
}

static kvw_err rdma_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)state;
	port_pick pick = { 0 };
	list_devices(r, &pick);
	if (!pick.found)
		return kvw_fail(d, KVW_EDRIVER, "no RDMA port is active");
	struct stat st;
	bool cuda = stat("/sys/module/nvidia_peermem", &st) == 0;
	kvw_err err = one_tool(r, "ib_write_bw", &pick, false, d);
	if (!err)
		err = one_tool(r, "ib_read_bw", &pick, false, d);
	if (!err && cuda)
		err = one_tool(r, "ib_write_bw", &pick, true, d);
	return err;
}

#else /* built without libibverbs */

static const char *rdma_unavailable(const kvw_mpi *mpi)
{
	(void)mpi;
	return "built without libibverbs";
}

static kvw_err rdma_run(kvw_probe_run *r, void *state, kvw_diag *d)
{
	(void)r, (void)state;
	return kvw_fail(d, KVW_EDRIVER, "built without libibverbs");
}

#endif

const kvw_probe kvw_probe_rdma = {
	.name = "rdma",
	.summary = "RDMA devices and ports (libibverbs) and perftest ib_write_bw / ib_read_bw over all sizes, "
	           "with GPU memory when it can be registered",
	.needs = KVW_NEED_RDMA,
	.unavailable = rdma_unavailable,
	.run = rdma_run,
};
