/* sim_internal.h — the state of one simulation, shared by the event loop
 * (sim.c) and the policies (deploy.c, route.c).  Not a public header: the
 * CLI and the tests see kvw_sim.h only.
 */
#ifndef KVW_SIM_INTERNAL_H
#define KVW_SIM_INTERNAL_H

#include "kvw_heap.h"
#include "kvw_sim.h"

#define SIM_MAX_CHUNKS 64

enum sim_state { RQ_FUTURE, RQ_QUEUED, RQ_HOLD, RQ_HANDOFF, RQ_JOINING, RQ_RUNNING, RQ_DONE };
/* what a request's prefill job is */
enum sim_job { JOB_PREFILL, JOB_LOCAL, JOB_SPLIT, JOB_RESUME };
enum sim_ev { EV_ITER_END, EV_XFER_START, EV_XFER_DONE, EV_HANDOFF_END, EV_READY };

typedef struct sim_req {
	double arrival, ready, t_first, t_finish, t_handoff;
	double split_s;        /* GPU-seconds the decode side spent recomputing its prefix */
	int32_t isl, osl, cached;
	int32_t job_base, job_target, job_done; /* the prefill job: context before it, tokens, done */
	int32_t generated;     /* output tokens produced so far (the first one included) */
	int32_t inst;          /* the instance holding it (queue, KV) */
	int32_t dinst;         /* decode instance of a handoff, -1 */
	int32_t ctx_join;      /* context when it joined a decode batch */
	int64_t join_step;
	double mem;            /* KV tokens it holds on inst while queued / prefilling / held */
	double dmem;           /* KV tokens reserved for it on dinst during a handoff */
	int32_t xfer;          /* its transfer, -1 */
	uint32_t gen;          /* bumped when it leaves a batch (stale heap entries) */
	uint8_t state, job, parts, layerwise, missed_ttft, needless;
	uint8_t hooked;        /* prefix cache: 0 not consulted, 1 looked up at placement, 2 priced */
} sim_req;

typedef struct sim_fin { /* a running request and the step at which it emits its last token */
	int64_t step;
	int32_t r;
	uint32_t gen;
} sim_fin;

typedef struct sim_ring { /* a deque of request ids */
	int32_t *v;
	size_t cap, head, len;
} sim_ring;

typedef struct sim_inst {
	int role, tp, node, group;
	long chunk;
	int max_reqs;
	double cap, used, peak;
	double reserved;       /* KV tokens the pass in progress adds when it ends (its decode steps) */
	sim_ring q;            /* prefill jobs, FCFS; the head ones are in progress */
	sim_ring hold;         /* handoffs waiting for KV room here (this is their decode instance) */
	double queued_tokens;  /* prefill tokens still to compute in q */
	sim_fin *fin;          /* min-heap of running requests by last step */
	size_t n_fin, cap_fin;
	int32_t *stack;        /* admission order, for LIFO preemption (lazy) */
	size_t n_stack, cap_stack;
	int32_t *joining;      /* to join the batch at the next pass */
	size_t n_join, cap_join;
	int n_run;
	double sum_ctx;
	int64_t step;
	bool busy, lw_new;
	uint32_t ver;
	double t_start;
	int n_ch, n_dec;
	int64_t win_k;          /* decode-only window: steps in this pass (1: an ordinary pass) */
	double win_f0, win_df;  /* its first step's time and the growth per step */
	int32_t ch_r[SIM_MAX_CHUNKS];
	int32_t ch_tok[SIM_MAX_CHUNKS];
	double tok_s;          /* seconds per prefill token at this instance's chunk (routing estimates) */
	double busy_s, split_s, waste_s, last_pass_s;
	int n_out[2], n_in[2]; /* active transfers per link class */
	double bytes_out[2];
} sim_inst;

typedef struct sim_xfer {
	int32_t r, src, dst, cls;
	double left, rate, t_last, floor_end, fixed_s;
	uint32_t ver;
	bool active, bytes_done, prefill_done;
} sim_xfer;

struct kvw_sim {
	const kvw_cluster *c;
	const kvw_deploy *dep;
	const kvw_workload *w;
	const kvw_slo *slo;
	const kvw_sim_opts *o;
	const kvw_deploy_ops *dops;
	const kvw_route_ops *rops;
	kvw_sim_result *res;
	double now;
	kvw_heap heap;
	size_t n, next_arrival;
	sim_req *req;
	int n_inst;
	sim_inst *inst;
	int group_first[KVW_SIM_MAX_GROUPS], group_count[KVW_SIM_MAX_GROUPS];
	sim_xfer *xf;
	size_t n_xf, cap_xf;
	int32_t *active;       /* active transfer ids */
	size_t n_active, cap_active;
	/* accounting */
	double in_system, area, t_area;
	long allowed_miss, miss, miss_ttft_allowed, miss_tpot_allowed, miss_ttft, miss_tpot;
	double sojourn_sum, ttft_sum, tpot_sum, tpot_n;
	long met, met_ttft, met_tpot;
	double *ttft_v, *tpot_v, *e2e_v;
	size_t n_tpot_v, n_first;
	long waiting;          /* prefill jobs queued over all instances */
	bool oom, stop;
	double ttft_thr, tpot_thr;
	/* the prefix cache, if any */
	const kvw_prefix_ops *pops;
	void *pfx;
	double *backlog;       /* scratch for placement: seconds of prefill queued per instance */
};

/* ---- the mechanics (pass.c, handoff.c, sim.c) -------------------------------- */

bool sim_grow(void **p, size_t *cap, size_t need, size_t elem, kvw_sim *s);
void sim_ring_push(sim_ring *q, int32_t r, bool front, kvw_sim *s);
int32_t sim_ring_at(const sim_ring *q, size_t i);
int32_t sim_ring_pop(sim_ring *q);
void sim_mem(kvw_sim *s, int i, double delta);
void sim_join(kvw_sim *s, int i, int32_t r);
void sim_kick(kvw_sim *s, int i);
void sim_pass_end(kvw_sim *s, int i);
void sim_prefill_done(kvw_sim *s, int i, int32_t r);
void sim_layerwise_begin(kvw_sim *s, int i, int32_t r);
void sim_layerwise_launch(kvw_sim *s, int32_t r, double first_layer_s);
void sim_first_token(kvw_sim *s, int32_t r);
void sim_finish(kvw_sim *s, int32_t r);
void sim_xfer_start(kvw_sim *s, int32_t x);
void sim_xfer_done(kvw_sim *s, int32_t x, uint32_t ver);
void sim_handoff_end(kvw_sim *s, int32_t x);
void sim_admit(kvw_sim *s, int d);
/* the prefix cache (sim.c): price a request before its first chunk, cache its blocks after its prefill */
void sim_prefix_price(kvw_sim *s, int i, int32_t r);
void sim_prefix_insert(kvw_sim *s, int i, int32_t r);

/* ---- helpers the policies use ------------------------------------------------ */

/* load of an instance for routing: seconds of prefill work queued there */
double kvw_sim_prefill_backlog_s(const kvw_sim *s, int i);
/* free KV tokens of an instance */
double kvw_sim_free_tokens(const kvw_sim *s, int i);
/* the same less what the pass in progress will add: what may be admitted now */
double sim_room(const kvw_sim *s, int i);
/* the decode instance with the most free KV among group g (ties: lowest index) */
int kvw_sim_least_used(const kvw_sim *s, int g);
/* the instance of group g with the least queued prefill work */
int kvw_sim_least_backlog(const kvw_sim *s, int g);
/* current share of port bandwidth a new transfer p -> d would get (bytes/s) */
double kvw_sim_xfer_share(const kvw_sim *s, int p, int d);
/* link class between two instances: 0 same node, 1 across nodes */
int kvw_sim_link_class(const kvw_sim *s, int p, int d);

#endif
