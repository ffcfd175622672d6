/* pass.c — one instance's passes: continuous batching with chunked
 * prefill, KV memory, admission and preemption (the policies are stated
 * in kvw_sim.h).  An instance runs one pass at a time: it merges the
 * requests that joined its decode batch, makes room for the batch's next
 * tokens (preempting the newest when it must), fills the rest of its token
 * budget with prefill chunks from the head of its FCFS queue, and asks the
 * cost model how long that takes.  At the pass's end (EV_ITER_END) the
 * chunks advance, the batch emits one token each, finished requests leave.
 */
#include "sim_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- containers ----------------------------------------------------------- */

bool sim_grow(void **p, size_t *cap, size_t need, size_t elem, kvw_sim *s)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? 2 * *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q) {
		s->oom = s->stop = true;
		return false;
	}
	*p = q;
	*cap = n;
	return true;
}

static bool ring_room(sim_ring *q, kvw_sim *s)
{
	if (q->len < q->cap)
		return true;
	size_t cap = q->cap ? 2 * q->cap : 16;
	int32_t *v = malloc(cap * sizeof *v);
	if (!v) {
		s->oom = s->stop = true;
		return false;
	}
	for (size_t i = 0; i < q->len; i++)
		v[i] = q->v[(q->head + i) % q->cap];
	free(q->v);
	q->v = v;
	q->cap = cap;
	q->head = 0;
	return true;
}

void sim_ring_push(sim_ring *q, int32_t r, bool front, kvw_sim *s)
{
	if (!ring_room(q, s))
		return;
	if (front) {
		q->head = (q->head + q->cap - 1) % q->cap;
		q->v[q->head] = r;
	} else {
		q->v[(q->head + q->len) % q->cap] = r;
	}
	q->len++;
}

int32_t sim_ring_at(const sim_ring *q, size_t i)
{
	return q->v[(q->head + i) % q->cap];
}

int32_t sim_ring_pop(sim_ring *q)
{
	int32_t r = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return r;
}

static bool fin_before(const sim_fin *a, const sim_fin *b)
{
	return a->step < b->step || (a->step == b->step && a->r < b->r);
}

static void fin_push(sim_inst *I, sim_fin f, kvw_sim *s)
{
	if (!sim_grow((void **)&I->fin, &I->cap_fin, I->n_fin + 1, sizeof *I->fin, s))
		return;
	size_t i = I->n_fin++;
	while (i > 0 && fin_before(&f, &I->fin[(i - 1) / 2])) {
		I->fin[i] = I->fin[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	I->fin[i] = f;
}

static sim_fin fin_pop(sim_inst *I)
{
	sim_fin top = I->fin[0], last = I->fin[--I->n_fin];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		const sim_fin *best = &last;
		if (l < I->n_fin && fin_before(&I->fin[l], best))
			best = &I->fin[m = l];
		if (l + 1 < I->n_fin && fin_before(&I->fin[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		I->fin[i] = I->fin[m];
		i = m;
	}
	if (I->n_fin)
		I->fin[i] = last;
	return top;
}

/* ---- memory --------------------------------------------------------------- */

void sim_mem(kvw_sim *s, int i, double delta)
{
	sim_inst *I = &s->inst[i];
	I->used += delta;
	if (I->used > I->peak)
		I->peak = I->used;
	if (I->used > I->cap + 1e-6)
		s->res->kv_overflows++;
}

double kvw_sim_free_tokens(const kvw_sim *s, int i)
{
	return s->inst[i].cap - s->inst[i].used;
}

double sim_room(const kvw_sim *s, int i)
{
	return s->inst[i].cap - s->inst[i].used - s->inst[i].reserved;
}

/* tokens a running request holds: context at join + a block + the tokens since */
static double run_tokens(const kvw_sim *s, const sim_inst *I, const sim_req *R)
{
	return R->ctx_join + s->c->block_tokens + (double)(I->step - R->join_step);
}

/* ---- the decode batch --------------------------------------------------- */

/* A request whose KV is complete on instance i joins its batch at the next pass. */
void sim_join(kvw_sim *s, int i, int32_t r)
{
	sim_inst *I = &s->inst[i];
	sim_req *R = &s->req[r];
	R->state = RQ_JOINING;
	R->inst = i;
	R->mem = 0; /* from now on held as a running request */
	if (sim_grow((void **)&I->joining, &I->cap_join, I->n_join + 1, sizeof *I->joining, s))
		I->joining[I->n_join++] = r;
}

static void merge_joining(kvw_sim *s, sim_inst *I)
{
	for (size_t k = 0; k < I->n_join; k++) {
		int32_t r = I->joining[k];
		sim_req *R = &s->req[r];
		R->state = RQ_RUNNING;
		R->join_step = I->step;
		R->ctx_join = R->isl + R->generated - 1;
		fin_push(I, (sim_fin){ I->step + (R->osl - R->generated), r, R->gen }, s);
		if (sim_grow((void **)&I->stack, &I->cap_stack, I->n_stack + 1, sizeof *I->stack, s))
			I->stack[I->n_stack++] = r;
		I->n_run++;
		I->sum_ctx += R->ctx_join;
	}
	I->n_join = 0;
}

/* takes running request r out of instance i's batch; returns its tokens */
static double leave_batch(kvw_sim *s, sim_inst *I, sim_req *R)
{
	double held = run_tokens(s, I, R);
	R->generated += (int32_t)(I->step - R->join_step);
	I->n_run--;
	I->sum_ctx -= held - s->c->block_tokens;
	R->gen++;
	return held;
}

/* vLLM's recompute preemption: the newest running request gives back its
 * KV and queues first to recompute it */
static bool preempt_newest(kvw_sim *s, int i)
{
	sim_inst *I = &s->inst[i];
	while (I->n_stack) {
		int32_t r = I->stack[--I->n_stack];
		sim_req *R = &s->req[r];
		if (R->state != RQ_RUNNING || R->inst != i)
			continue;
		sim_mem(s, i, -leave_batch(s, I, R));
		R->state = RQ_QUEUED;
		R->job = JOB_RESUME;
		R->job_base = 0;
		R->job_target = R->isl + R->generated - 1;
		R->job_done = 0;
		I->queued_tokens += R->job_target;
		sim_ring_push(&I->q, r, true, s);
		s->waiting++;
		s->res->preemptions++;
		return true;
	}
	return false;
}

/* Before a running request is preempted, the newest prefill that holds
 * KV here but has not finished gives its room back (it restarts later;
 * its work so far is wasted) — vLLM preempts the newest request, and a
 * prefill in progress is newer than the running batch. */
static bool evict_partial(kvw_sim *s, int i)
{
	sim_inst *I = &s->inst[i];
	for (size_t k = I->q.len; k-- > 0;) {
		sim_req *R = &s->req[sim_ring_at(&I->q, k)];
		if (R->mem <= 0 || R->job == JOB_SPLIT || R->layerwise)
			continue;
		sim_mem(s, i, -R->mem);
		I->waste_s += R->job_done * I->tok_s * I->tp;
		I->queued_tokens += R->job_done;
		R->mem = 0;
		R->job_done = 0;
		s->res->preemptions++;
		return true;
	}
	return false;
}

static void finish_due(kvw_sim *s, int i)
{
	sim_inst *I = &s->inst[i];
	while (I->n_fin && I->fin[0].step <= I->step) {
		sim_fin f = fin_pop(I);
		sim_req *R = &s->req[f.r];
		if (f.gen != R->gen || R->state != RQ_RUNNING || R->inst != i)
			continue;
		sim_mem(s, i, -leave_batch(s, I, R));
		sim_finish(s, f.r);
	}
}

/* ---- prefill chunks --------------------------------------------------------- */

/* KV tokens a chunk of `take` tokens needs: its own, plus, for a job's
 * first chunk, its cached prefix and a block of headroom; a split
 * recompute job's room was reserved with its handoff */
static double chunk_need(const kvw_sim *s, const sim_req *R, double take)
{
	if (R->job == JOB_SPLIT)
		return 0;
	return take + (R->job_done == 0 ? R->job_base + s->c->block_tokens : 0);
}

/* fills the pass's prefill budget from the head of the queue */
static void pick_chunks(kvw_sim *s, int i, long budget, double *before, double *tok)
{
	sim_inst *I = &s->inst[i];
	int max = I->max_reqs < SIM_MAX_CHUNKS ? I->max_reqs : SIM_MAX_CHUNKS;
	for (size_t k = 0; k < I->q.len && budget > 0 && I->n_ch < max; k++) {
		int32_t r = sim_ring_at(&I->q, k);
		sim_req *R = &s->req[r];
		if (R->hooked == 1)
			sim_prefix_price(s, i, r); /* it could start now: load, recompute or split */
		if (R->ready > s->now) {
			kvw_heap_push(&s->heap, R->ready, EV_READY, i, 0);
			break;
		}
		double remaining = R->job_target - R->job_done, take = fmin(remaining, (double)budget);
		/* the batch grows this pass too; a new prompt also leaves it a block each of headroom */
		double room = I->cap - I->used - I->n_dec - chunk_need(s, R, 0)
			- (R->job_done == 0 ? (double)I->n_dec * s->c->block_tokens : 0);
		if (R->job != JOB_SPLIT && take > room)
			take = floor(room);
		if (take < 1)
			break;
		if (R->job == JOB_PREFILL && R->job_done == 0 && I->role == KVW_ROLE_PREFILL && s->dep->layerwise) {
			sim_layerwise_begin(s, i, r);
			I->lw_new |= R->layerwise;
		}
		double need = chunk_need(s, R, take);
		sim_mem(s, i, need);
		R->mem += need;
		before[I->n_ch] = R->job_base + R->job_done;
		tok[I->n_ch] = take;
		I->ch_r[I->n_ch] = r;
		I->ch_tok[I->n_ch++] = (int32_t)take;
		budget -= (long)take;
		if (take < remaining)
			break;
	}
}

/* ---- decode-only windows ---------------------------------------------------------
 * A decode batch with no prefill to fit in and nobody joining repeats the
 * same step, its context growing by the batch size each time, until its
 * next request finishes.  Those k steps are one event: step j (0-based)
 * takes f0 + j df, linear in the context (exact for the HBM bound; the
 * measured table's curve is taken as a chord over the window).  Work that
 * arrives meanwhile shortens the window to the step in progress. */

#define WINDOW_MAX 4096

static double window_s(const sim_inst *I, int64_t j)
{
	return (double)j * I->win_f0 + I->win_df * (double)j * (double)(j - 1) / 2;
}

static int64_t window_len(const kvw_sim *s, const sim_inst *I)
{
	int64_t k = I->n_fin ? I->fin[0].step - I->step : 1;
	int64_t room = (int64_t)((I->cap - I->used) / I->n_dec);
	k = k < room ? k : room;
	k = k < WINDOW_MAX ? k : WINDOW_MAX;
	(void)s;
	return k > 1 ? k : 1;
}

static void start_window(kvw_sim *s, int i)
{
	sim_inst *I = &s->inst[i];
	I->win_k = window_len(s, I);
	I->win_f0 = kvw_sim_decode_step_s(s->c, I->tp, I->n_dec, I->sum_ctx);
	I->win_df = 0;
	if (I->win_k > 1) {
		double f1 = kvw_sim_decode_step_s(s->c, I->tp, I->n_dec, I->sum_ctx + (double)I->n_dec * (I->win_k - 1));
		I->win_df = (f1 - I->win_f0) / (double)(I->win_k - 1);
	}
	I->busy = true;
	I->t_start = s->now;
	I->reserved = (double)I->n_dec * (double)I->win_k;
	kvw_heap_push(&s->heap, s->now + window_s(I, I->win_k), EV_ITER_END, i, ++I->ver);
}

/* new work for a busy instance: a window ends at the step now in progress */
static void shorten_window(kvw_sim *s, int i)
{
	sim_inst *I = &s->inst[i];
	if (I->win_k <= 1 || (!I->n_join && !I->q.len))
		return;
	double e = s->now - I->t_start;
	int64_t lo = 0, hi = I->win_k; /* steps finished by now: largest j with window_s(j) <= e */
	while (hi - lo > 1) {
		int64_t m = (lo + hi) / 2;
		*(window_s(I, m) <= e ? &lo : &hi) = m;
	}
	if (lo + 1 >= I->win_k)
		return;
	I->win_k = lo + 1;
	I->reserved = (double)I->n_dec * (double)I->win_k;
	kvw_heap_push(&s->heap, I->t_start + window_s(I, I->win_k), EV_ITER_END, i, ++I->ver);
}

void sim_kick(kvw_sim *s, int i)
{
	sim_inst *I = &s->inst[i];
	if (s->stop)
		return;
	if (I->busy) {
		shorten_window(s, i);
		return;
	}
	merge_joining(s, I);
	while (I->n_run && I->used + I->n_run > I->cap)
		if (!evict_partial(s, i) && !preempt_newest(s, i))
			break;
	I->n_dec = I->n_run;
	long budget = I->role == KVW_ROLE_PREFILL || I->n_dec == 0 ? I->chunk : I->chunk - I->n_dec;
	double before[SIM_MAX_CHUNKS], tok[SIM_MAX_CHUNKS];
	I->n_ch = 0;
	I->lw_new = false;
	pick_chunks(s, i, budget, before, tok);
	if (I->n_ch == 0 && I->n_dec == 0)
		return;
	if (I->n_ch == 0) {
		start_window(s, i);
		return;
	}
	double dur = kvw_sim_pass_s(s->c, I->tp, I->n_ch, before, tok, I->n_dec, I->sum_ctx);
	for (int k = 0; I->lw_new && k < I->n_ch; k++)
		if (s->req[I->ch_r[k]].layerwise && s->req[I->ch_r[k]].job_done == 0)
			sim_layerwise_launch(s, I->ch_r[k], dur / s->c->sc->arch->n_layers);
	I->lw_new = false;
	I->win_k = 1;
	I->reserved = I->n_dec;
	I->busy = true;
	I->t_start = s->now;
	kvw_heap_push(&s->heap, s->now + dur, EV_ITER_END, i, ++I->ver);
}

/* GPU-seconds of this pass that went to one chunk of recompute */
static void charge_recompute(sim_inst *I, sim_req *R, double share)
{
	if (R->job == JOB_SPLIT) {
		I->split_s += share;
		R->split_s += share;
	} else if (R->job == JOB_RESUME) {
		I->waste_s += share;
	}
}

void sim_pass_end(kvw_sim *s, int i)
{
	sim_inst *I = &s->inst[i];
	double dur = s->now - I->t_start, T = I->n_dec;
	int64_t k = I->n_ch ? 1 : I->win_k;
	I->busy_s += dur * I->tp;
	I->last_pass_s = dur / (double)k;
	for (int c = 0; c < I->n_ch; c++)
		T += I->ch_tok[c];
	for (int c = 0; c < I->n_ch; c++) {
		sim_req *R = &s->req[I->ch_r[c]];
		R->job_done += I->ch_tok[c];
		I->queued_tokens -= I->ch_tok[c];
		charge_recompute(I, R, dur * I->tp * I->ch_tok[c] / T);
		if (R->job_done >= R->job_target) {
			sim_ring_pop(&I->q); /* chunks come from the head, in order */
			s->waiting--;
			if (R->job == JOB_PREFILL || R->job == JOB_LOCAL)
				s->res->prefill_tokens += R->job_target;
			if (R->job == JOB_PREFILL && R->hooked)
				sim_prefix_insert(s, i, I->ch_r[c]);
			sim_prefill_done(s, i, I->ch_r[c]);
		}
	}
	if (I->n_dec) {
		double toks = (double)I->n_dec * (double)k;
		I->step += k;
		I->sum_ctx += toks;
		sim_mem(s, i, toks);
		s->res->tokens_out += toks;
		finish_due(s, i);
	}
	I->n_ch = 0;
	I->reserved = 0;
	I->busy = false;
}

double kvw_sim_prefill_backlog_s(const kvw_sim *s, int i)
{
	return s->inst[i].queued_tokens * s->inst[i].tok_s;
}
