/* cmd_probe.c — kvwall probe: run probes, write profile.json.
 *
 *   kvwall probe --list
 *   kvwall probe [NAME...] [--quick] [--out DIR] [--model M] [--json | --csv]
 *
 * A probe that cannot run here is recorded as skipped with the reason and
 * does not change the exit code.  A probe that fails is recorded as failed
 * with the reason; the run goes on and exits 3 if data was verified wrong,
 * else 2.  DIR/profile.json is written whole at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "host.h"
#include "kvw_config.h"
#include "kvw_gpu.h"
#include "out.h"
#include "probe.h"
#include "registry.h"
#include "scenario.h"
#include "storage.h"
#include "tcp.h"
#include "kvw_mpi.h"
#include "kvw_topo.h"

static const kvw_opt opts[] = {
	{ "list", KVW_OPT_FLAG, KVW_ARG(list), NULL, 0, 0, "list the probes and whether they can run here" },
	{ "quick", KVW_OPT_FLAG, KVW_ARG(quick), NULL, 0, 0, "fewer sizes and repetitions (about a minute on one GPU node)" },
	{ "out", KVW_OPT_STR, KVW_ARG(out_dir), NULL, 0, 0, "write DIR/profile.json (the directory is created)" },
	{ "model", KVW_OPT_STR, KVW_ARG(model), "llama-3-8b", 0, 0, "model whose layer shapes the prefill probe runs" },
	{ "config", KVW_OPT_STR, KVW_ARG(config), NULL, 0, 0, "Hugging Face config.json for the prefill probe" },
	{ "streams", KVW_OPT_LONG, KVW_ARG(streams), "4", 1, 64, "tcp: parallel streams" },
	{ "bind", KVW_OPT_STR, KVW_ARG(bind), "127.0.0.1", 0, 0, "tcp: address of the local server" },
	{ "peer", KVW_OPT_STR, KVW_ARG(peer), NULL, 0, 0, "tcp: a kvwall serve at ADDR:PORT instead of a local server" },
	{ "rdma-peer", KVW_OPT_STR, KVW_ARG(rdma_peer), NULL, 0, 0, "rdma: a host already running ib_write_bw / ib_read_bw servers" },
	{ "topology-xml", KVW_OPT_STR, KVW_ARG(topology_xml), NULL, 0, 0, "topology: read a saved hwloc XML (lstopo --of xml)" },
	{ "no-kv", KVW_OPT_FLAG, KVW_ARG(no_kv), NULL, 0, 0, "tcp: skip the KV-shaped message patterns" },
	{ "storage-dir", KVW_OPT_STR, KVW_ARG(storage_dir), NULL, 0, 0, "storage: directory on the filesystem to measure [/var/tmp]" },
	{ "storage-size", KVW_OPT_STR, KVW_ARG(storage_size), NULL, 0, 0, "storage: test file size, e.g. 4GiB [1 GiB, --quick 256 MiB; at most half the free space]" },
	{ "storage-file", KVW_OPT_STR, KVW_ARG(storage_file), NULL, 0, 0, "storage: use (and keep) this file instead of a temporary one" },
	KVW_OPTS_OUTPUT,
	KVW_OPT_END,
};

static const char *need_names(unsigned needs, char *buf, size_t cap)
{
	static const char *const names[] = { "cuda", "2 gpus", "nccl", "rdma", "mpi" };
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < 5; i++)
		if (needs & (1u << i))
			used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s%s", used ? ", " : "", names[i]);
	return used ? buf : "-";
}

static kvw_err list(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	int n;
	const kvw_probe *const *p = kvw_probes(&n, d);
	if (!p)
		return KVW_ESYS;
	kvw_out o;
	kvw_out_init(&o, "kvwall.probes/1");
	snprintf(o.title, sizeof o.title, "Probes");
	kvw_out_table(&o, "probes");
	kvw_out_col(&o, "name", "name", NULL);
	kvw_out_col(&o, "needs", "needs", NULL);
	kvw_out_col(&o, "here", "here", NULL);
	kvw_out_col(&o, "summary", "measures", NULL);
	for (int i = 0; i < n; i++) {
		char needs[64];
		const char *why = p[i]->unavailable(NULL);
		json_t *row[] = { json_string(p[i]->name), json_string(need_names(p[i]->needs, needs, sizeof needs)),
		                  json_string(why ? why : "runs"), json_string(p[i]->summary) };
		kvw_out_row(&o, row);
	}
	kvw_err err = kvw_out_emit(&o, a, argc, argv, d);
	kvw_out_free(&o);
	return err;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* the probe's headline figure once it has run: its fastest ok record
 * (GB/s, else TFLOP/s), how many records, and the time it took */
static void progress_done(const char *who, const kvw_probe *p, const kvw_probe_run *r, int first, double t0)
{
	const kvw_record *best = NULL;
	int ok = 0, failed = 0;
	for (int i = first; i < r->n_records; i++) {
		const kvw_record *x = &r->records[i];
		ok += x->status == KVW_ST_OK;
		failed += x->status == KVW_ST_FAILED;
		double v = x->gbps > 0 ? x->gbps : x->tflops > 0 ? x->tflops * 1e3 : 0;
		double b = !best ? -1 : best->gbps > 0 ? best->gbps : best->tflops > 0 ? best->tflops * 1e3 : 0;
		if (x->status == KVW_ST_OK && v > b)
			best = x;
	}
	char head[200] = "no figure";
	if (best && best->gbps > 0)
		snprintf(head, sizeof head, "best %.4g GB/s (%s)", best->gbps, best->variant);
	else if (best && best->tflops > 0)
		snprintf(head, sizeof head, "best %.4g TFLOP/s (%s)", best->tflops, best->variant);
	char fails[32] = "";
	if (failed)
		snprintf(fails, sizeof fails, ", %d failed", failed);
	if (ok + failed == 0)
		fprintf(stderr, "%s: %-12s done in %.1f s\n", who, p->name, now_s() - t0);
	else
		fprintf(stderr, "%s: %-12s done in %.1f s: %d ok%s, %s\n", who, p->name, now_s() - t0, ok, fails, head);
}

/* Runs one probe; returns the exit severity it adds (0, 2 or 3). */
int kvw_probe_run_one(const kvw_probe *p, kvw_probe_run *r, kvw_diag *d)
{
	char who[32] = "kvwall probe";
	if (r->mpi && r->mpi->size > 1)
		snprintf(who, sizeof who, "kvwall probe[%d]", r->mpi->rank);
	const char *why = p->unavailable(r->mpi);
	kvw_record rec = kvw_record_new(p->name, "");
	if (why) {
		rec.status = KVW_ST_SKIPPED;
		snprintf(rec.reason, sizeof rec.reason, "%s", why);
		fprintf(stderr, "%s: %-12s skipped: %s\n", who, p->name, why);
		return kvw_probe_emit(r, &rec, d) ? 2 : 0;
	}
	fprintf(stderr, "%s: %-12s running\n", who, p->name);
	double t0 = now_s();
	int first = r->n_records;
	void *state = NULL;
	kvw_diag pd = { "" };
	kvw_err err = p->setup ? p->setup(r, &state, &pd) : KVW_OK;
	if (!err)
		err = p->run(r, state, &pd);
	if (p->teardown)
		p->teardown(state);
	int sev = 0;
	for (int i = first; i < r->n_records; i++)
		if (r->records[i].status == KVW_ST_FAILED)
			sev = r->records[i].wrong > 0 ? 3 : (sev > 2 ? sev : 2);
	if (!err)
		progress_done(who, p, r, first, t0);
	if (err) {
		rec.status = KVW_ST_FAILED;
		snprintf(rec.reason, sizeof rec.reason, "%s", pd.msg[0] ? pd.msg : kvw_strerror(err));
		fprintf(stderr, "%s: %-12s failed after %.1f s: %s\n", who, p->name, now_s() - t0, rec.reason);
		kvw_probe_emit(r, &rec, d);
		int e = kvw_exit_code(err);
		sev = e > sev ? e : sev;
	}
	return sev;
}

json_t *kvw_profile_new(int argc, char **argv)
{
	json_t *p = json_object(), *tool = json_object(), *host = kvw_host_facts();
	char stamp[32], cmd[2048] = "kvwall";
	time_t now = time(NULL);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	size_t used = strlen(cmd);
	for (int i = 0; i < argc && used < sizeof cmd; i++)
		used += (size_t)snprintf(cmd + used, sizeof cmd - used, " %s", argv[i]);
	json_object_set_new(p, "schema", json_string("kvwall.profile/1"));
	json_object_set_new(tool, "name", json_string("kvwall"));
	json_object_set_new(tool, "version", json_string(KVW_VERSION));
	json_object_set_new(p, "tool", tool);
	json_object_set_new(p, "label", json_string("measured by kvwall probe"));
	json_object_set_new(p, "example", json_false());
	json_object_set_new(p, "created_utc", json_string(stamp));
	json_object_set_new(p, "command", json_string(cmd));
	json_object_set_new(host, "gpus", kvw_gpu_facts());
	json_object_set_new(p, "host", host);
	return p;
}

static void results_table(const kvw_probe_run *r, kvw_out *o)
{
	kvw_out_table(o, "results");
	const char *cols[][3] = {
		{ "probe", "probe", NULL }, { "variant", "variant", NULL }, { "bytes", "bytes", "%.4g" },
		{ "median_s", "median s", "%.4g" }, { "stddev_s", "stddev s", "%.2g" }, { "gbps", "GB/s", "%.4g" },
		{ "tflops", "TFLOP/s", "%.4g" }, { "checked", "checked", NULL }, { "wrong", "wrong", NULL },
		{ "status", "status", NULL }, { "reason", "reason", NULL },
	};
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
		kvw_out_col(o, cols[c][0], cols[c][1], cols[c][2]);
	for (int i = 0; i < r->n_records; i++) {
		const kvw_record *x = &r->records[i];
		json_t *row[] = {
			json_string(x->probe), json_string(x->variant), x->bytes > 0 ? kvw_num(x->bytes) : json_null(),
			kvw_num(x->time_s.median), kvw_num(x->time_s.stddev), kvw_num(x->gbps), kvw_num(x->tflops),
			json_integer(x->checked), json_integer(x->wrong), json_string(kvw_status_name(x->status)),
			x->reason[0] ? json_string(x->reason) : json_null(),
		};
		kvw_out_row(o, row);
	}
}

/* Every input checked before a probe runs (minutes on a GPU node): the
 * model, the addresses, the files to read and the places to write. */
static kvw_err check_inputs(const kvw_args *a, kvw_diag *d)
{
	kvw_err err = KVW_OK;
	struct in_addr ip;
	kvw_arch *arch = malloc(sizeof *arch);
	if (!arch)
		return kvw_fail(d, KVW_ESYS, "out of memory");
	if (a->model && a->config && kvw_opts_seen(a, "model"))
		err = kvw_fail(d, KVW_EUSAGE, "give --model or --config, not both");
	else if (a->config)
		err = kvw_config_load(a->config, NULL, arch, d);
	else
		err = kvw_catalog_model(a->model ? a->model : "llama-3-8b", arch, d);
	free(arch);
	if (!err && a->bind && inet_pton(AF_INET, a->bind, &ip) != 1)
		err = kvw_fail(d, KVW_EUSAGE, "--bind '%s' is not an IPv4 address", a->bind);
	if (!err && a->peer)
		err = kvw_tcp_check_peer(a->peer, d);
	if (!err && a->topology_xml && !(err = kvw_check_regular(a->topology_xml, d)))
		err = kvw_topo_check_xml(a->topology_xml, d);
	kvw_storage plan; /* the storage probe's file, size and free space, checked before anything runs */
	if (!err && (a->storage_dir || a->storage_size || a->storage_file))
		err = kvw_storage_plan(a, a->quick, &plan, d);
	char path[4096];
	if (!err && a->output)
		err = kvw_check_output(a->output, d);
	if (!err && a->out_dir && !(err = kvw_path_join(path, sizeof path, a->out_dir, "profile.json", d))
	    && !(err = kvw_mkdir_p(a->out_dir, d)))
		err = kvw_check_output(path, d);
	return err;
}

/* Rank 0: one cluster profile from every rank's.  Rank 0's object sections
 * stay as they are; list sections and records join every rank's, each
 * entry carrying its rank; other ranks' links are named rank<r>/<name>. */
static json_t *merge(json_t *all, int argc, char **argv)
{
	json_t *m = kvw_profile_new(argc, argv), *results = json_array(), *links = json_array(), *ranks = json_array();
	json_t *r0 = json_array_get(all, 0);
	const char *key;
	json_t *v;
	json_object_foreach(r0, key, v)
		if (!json_object_get(m, key) && strcmp(key, "results") && strcmp(key, "links"))
			json_object_set_new(m, key, json_is_array(v) ? json_array() : json_deep_copy(v));
	size_t r;
	json_t *doc;
	json_array_foreach(all, r, doc) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(doc, "results"), i, e) {
			json_t *c = json_deep_copy(e);
			json_object_set_new(c, "rank", json_integer((json_int_t)r));
			json_array_append_new(results, c);
		}
		json_array_foreach(json_object_get(doc, "links"), i, e) {
			json_t *c = json_deep_copy(e);
			if (r > 0) {
				char name[160];
				snprintf(name, sizeof name, "rank%zu/%s", r, json_string_value(json_object_get(e, "name")));
				json_object_set_new(c, "name", json_string(name));
			}
			json_array_append_new(links, c);
		}
		json_object_foreach(doc, key, v) /* list sections (kv_messages, rdma_devices): every rank's */
			if (json_is_array(v) && strcmp(key, "results") && strcmp(key, "links")) {
				json_t *dst = json_object_get(m, key);
				if (!dst)
					json_object_set_new(m, key, dst = json_array());
				size_t k;
				json_t *item;
				json_array_foreach(v, k, item) {
					json_t *c = json_deep_copy(item);
					if (json_is_object(c))
						json_object_set_new(c, "rank", json_integer((json_int_t)r));
					json_array_append_new(dst, c);
				}
			}
		json_t *ri = json_object();
		json_object_set_new(ri, "rank", json_integer((json_int_t)r));
		json_object_set(ri, "host", json_object_get(doc, "host"));
		json_array_append_new(ranks, ri);
	}
	char label[96];
	snprintf(label, sizeof label, "measured by kvwall probe on %zu MPI ranks", json_array_size(all));
	json_object_set_new(m, "label", json_string(label));
	json_object_set_new(m, "results", results);
	json_object_set_new(m, "links", links);
	json_object_set_new(m, "ranks", ranks);
	return m;
}

static kvw_err select_probes(const kvw_args *a, const kvw_probe **sel, int *n_sel, kvw_diag *d)
{
	int n;
	const kvw_probe *const *all = kvw_probes(&n, d);
	if (!all)
		return KVW_ESYS;
	*n_sel = 0;
	if (a->n_positional == 0) {
		for (int i = 0; i < n; i++)
			if (strcmp(all[i]->name, "null") != 0)
				sel[(*n_sel)++] = all[i];
		return KVW_OK;
	}
	for (int i = 0; i < a->n_positional; i++) {
		const kvw_probe *p = kvw_probe_find(a->positional[i]);
		if (!p)
			return kvw_fail(d, KVW_EUSAGE, "unknown probe '%s' (see kvwall probe --list)", a->positional[i]);
		sel[(*n_sel)++] = p;
	}
	return KVW_OK;
}

/* DIR/profile.json and the table (or the JSON profile) on stdout or
 * --output: both whole, or neither */
static kvw_err write_both(const kvw_args *a, const json_t *profile, char *table, size_t tl, kvw_diag *d)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	kvw_err err = kvw_json_text(profile, &text, &len, d);
	if (!err && a->out_dir && !(err = kvw_path_join(path, sizeof path, a->out_dir, "profile.json", d)))
		err = kvw_mkdir_p(a->out_dir, d);
	kvw_output outs[2] = { { path, text, len }, { a->output, table ? table : text, table ? tl : len } };
	if (!err)
		err = a->out_dir ? kvw_write_outputs(outs, 2, d) : kvw_write_outputs(outs + 1, 1, d);
	free(text);
	return err;
}

static kvw_err emit(const kvw_args *a, int argc, char **argv, json_t *profile, const kvw_probe_run *r,
                    kvw_diag *d)
{
	kvw_err err = KVW_OK;
	if (a->json)
		return write_both(a, profile, NULL, 0, d);
	kvw_out o;
	kvw_out_init(&o, "kvwall.probe/1");
	snprintf(o.title, sizeof o.title, "Probe results%s%s", a->out_dir ? " -> " : "", a->out_dir ? a->out_dir : "");
	if (r) {
		results_table(r, &o);
	} else { /* merged: the table of rank 0's view of every rank */
		kvw_probe_run all = { 0 };
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(profile, "results"), i, e) {
			kvw_record rec;
			if (!kvw_record_from_json(e, &rec, d)) {
				char variant[sizeof rec.variant];
				snprintf(variant, sizeof variant, "rank%lld/%s", (long long)json_integer_value(json_object_get(e, "rank")),
				         rec.variant);
				snprintf(rec.variant, sizeof rec.variant, "%s", variant);
				kvw_probe_emit(&all, &rec, d);
			}
		}
		results_table(&all, &o);
		free(all.records);
	}
	char *table = NULL;
	size_t tl = 0;
	if (!(err = kvw_out_render(&o, a, argc, argv, &table, &tl, d)))
		err = write_both(a, profile, table, tl, d);
	free(table);
	kvw_out_free(&o);
	return err;
}

static kvw_err run(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	if (a->list)
		return list(a, argc, argv, d);
	const kvw_probe *sel[KVW_MAX_POSITIONAL + 64];
	int n_sel;
	kvw_err err = select_probes(a, sel, &n_sel, d);
	if (err)
		return err;
	if (a->catalog)
		kvw_catalog_set_dir(a->catalog);
	if ((err = check_inputs(a, d)))
		return err;
	kvw_mpi mpi;
	kvw_mpi_init(NULL, NULL, &mpi);
	if (mpi.active)
		kvw_gpu_select(mpi.local_rank);
	kvw_probe_run r = { .quick = a->quick, .args = a, .mpi = &mpi, .profile = kvw_profile_new(argc, argv) };
	int sev = 0;
	for (int i = 0; i < n_sel; i++) {
		int s = kvw_probe_run_one(sel[i], &r, d);
		sev = s > sev ? s : sev;
	}
	json_t *results = json_array(), *all = NULL;
	for (int i = 0; i < r.n_records; i++)
		json_array_append_new(results, kvw_record_to_json(&r.records[i]));
	json_object_set_new(r.profile, "results", results);
	sev = kvw_mpi_max_int(&mpi, sev);
	if (mpi.size > 1) {
		err = kvw_mpi_gather_json(&mpi, r.profile, &all, d);
		if (!err && mpi.rank == 0) {
			json_t *merged = merge(all, argc, argv);
			err = emit(a, argc, argv, merged, NULL, d);
			json_decref(merged);
		}
	} else {
		err = emit(a, argc, argv, r.profile, &r, d);
	}
	if (!err && sev)
		err = kvw_fail(d, sev == 3 ? KVW_EVERIFY : sev == 1 ? KVW_EINPUT : KVW_EDRIVER,
		               "some probes failed (see the results)");
	json_decref(all);
	json_decref(r.profile);
	free(r.records);
	kvw_mpi_finalize(&mpi);
	return err;
}

const kvw_cmd kvw_cmd_probe = {
	"probe", "[NAME...] [--quick] [--out DIR] | --list",
	"measure this node: HBM, host link, peer, prefill throughput, overlap, KV pack (skipped where the hardware is absent)",
	opts, KVW_MAX_POSITIONAL, run,
};
