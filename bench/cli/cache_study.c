/* cache_study.c — which replays `kvwall cache` runs and what it reads from
 * them (cache_study.h).
 *
 *   configurations  no cache, then the tiers given added one by one from
 *                   the top (hbm, hbm+dram, hbm+dram+ssd, +remote), each
 *                   under every policy; the winner has the lowest TTFT p90
 *                   (ties: fewer tiers, then the policy listed first);
 *   curves          for each tier given and each policy, the tier's size
 *                   swept on a log grid from 1/10^4 of the bytes of every
 *                   distinct block of the trace (at least one block) up to
 *                   all of them (then the tier holds the whole trace and
 *                   nothing changes beyond), the other tiers as given;
 *   in parallel     every replay is its own simulation (all its state in one
 *                   kvw_cache), so they run side by side on the node's cores;
 *                   the results do not depend on the number of threads;
 *   90% size        the tier's own token hit rate (hits it serves) on the
 *                   curve against its value at the top of the grid: the
 *                   smallest size reaching 90% of it, interpolated in log
 *                   size between the two grid points around it.
 */
#include "cache_study.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

kvw_cache_cfg kvw_cache_study_cfg(const kvw_cache_study *s, unsigned tiers, const char *policy)
{
	kvw_cache_cfg g = s->base;
	for (int t = 0; t < KVW_TIERS; t++) {
		if (!(tiers & (1u << t)))
			g.tier[t].capacity_bytes = 0;
		g.tier[t].policy = policy;
	}
	return g;
}

/* one replay to run: a configuration and where its statistics go */
typedef struct rjob {
	kvw_cache_cfg cfg;
	kvw_cache_stats *out;
	char what[96];
} rjob;

typedef struct pool {
	kvw_cache_study *s;
	rjob *jobs;
	int n;
	atomic_int next, done, failed;
	pthread_mutex_t lock;
	kvw_err err;
	kvw_diag diag;
} pool;

static void *worker(void *arg)
{
	pool *p = arg;
	for (;;) {
		int i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n || atomic_load(&p->failed))
			return NULL;
		if (p->s->progress) {
			pthread_mutex_lock(&p->lock);
			p->s->progress(p->s->progress_ctx, atomic_load(&p->done), p->n, p->jobs[i].what);
			pthread_mutex_unlock(&p->lock);
		}
		kvw_diag d = { "" };
		kvw_err err = kvw_cache_replay(&p->jobs[i].cfg, &p->s->rc, p->s->sc, p->s->w, p->jobs[i].out, &d);
		atomic_fetch_add(&p->done, 1);
		if (err) {
			pthread_mutex_lock(&p->lock);
			if (!p->err) {
				p->err = err;
				p->diag = d;
			}
			pthread_mutex_unlock(&p->lock);
			atomic_store(&p->failed, 1);
		}
	}
}

/* the replays side by side, one simulation per thread (each is single-threaded and
 * keeps all its state in its own kvw_cache) */
static kvw_err run_jobs(kvw_cache_study *s, rjob *jobs, int n, kvw_diag *d)
{
	pool p = { .s = s, .jobs = jobs, .n = n };
	pthread_mutex_init(&p.lock, NULL);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = s->threads > 0 ? s->threads : cpus > 0 ? (int)(cpus < 16 ? cpus : 16) : 1;
	threads = threads < n ? threads : n;
	pthread_t th[16];
	int started = 0;
	for (int i = 1; i < threads; i++)
		if (pthread_create(&th[started], NULL, worker, &p) == 0)
			started++;
	worker(&p); /* this thread works too */
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (s->progress)
		s->progress(s->progress_ctx, n, n, NULL);
	if (p.err)
		return kvw_fail(d, p.err, "%s", p.diag.msg);
	return KVW_OK;
}

/* the trace's block ids once for every replay; distinct blocks */
static kvw_err count_blocks(kvw_cache_study *s, kvw_diag *d)
{
	kvw_cache_cfg g = kvw_cache_study_cfg(s, 0, NULL);
	kvw_err err = kvw_cache_ids_build(&g, s->sc, s->w, &s->ids, d);
	if (err)
		return err;
	kvw_cache *c;
	if ((err = kvw_cache_new(&g, s->sc, 0, &c, d)))
		return err;
	s->block_bytes = kvw_cache_block_bytes(c);
	kvw_cache_free(c);
	s->distinct_blocks = (long)s->ids.n_ids;
	s->all_bytes = (double)(s->distinct_blocks > 0 ? s->distinct_blocks : 1) * s->block_bytes;
	s->rc.ids = &s->ids;
	return KVW_OK;
}

static unsigned given_mask(const kvw_cache_study *s)
{
	unsigned m = 0;
	for (int t = 0; t < KVW_TIERS; t++)
		if (s->base.tier[t].capacity_bytes > 0)
			m |= 1u << t;
	return m;
}

static void label(unsigned tiers, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (int t = 0; t < KVW_TIERS; t++)
		if (tiers & (1u << t))
			used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s%s", used ? "+" : "",
			                         kvw_tier_name(t));
	if (!used)
		snprintf(out, cap, "none");
}

static int add_configs(kvw_cache_study *s, rjob *jobs)
{
	unsigned given = given_mask(s), acc = 0;
	int n = 0;
	kvw_study_cfg *c = &s->cfgs[0];
	snprintf(c->label, sizeof c->label, "none");
	c->policy = -1;
	jobs[n++] = (rjob){ kvw_cache_study_cfg(s, 0, NULL), &c->st, "no cache" };
	s->n_cfgs = 1;
	for (int t = 0; t < KVW_TIERS; t++) {
		if (!(given & (1u << t)))
			continue;
		acc |= 1u << t;
		for (int p = 0; p < s->n_policies; p++) {
			c = &s->cfgs[s->n_cfgs++];
			c->tiers = acc;
			c->policy = p;
			label(acc, c->label, sizeof c->label);
			rjob *j = &jobs[n++];
			*j = (rjob){ kvw_cache_study_cfg(s, acc, s->policies[p]), &c->st, "" };
			snprintf(j->what, sizeof j->what, "%s, %s", c->label, s->policies[p]);
		}
	}
	return n;
}

static void pick_winner(kvw_cache_study *s)
{
	s->winner = s->n_cfgs > 1 ? 1 : 0;
	for (int i = 2; i < s->n_cfgs; i++) /* configurations come with fewer tiers first */
		if (s->cfgs[i].st.ttft_p90 < s->cfgs[s->winner].st.ttft_p90)
			s->winner = i;
}

static double grid(const kvw_cache_study *s, int i)
{
	double lo = fmax(s->block_bytes, s->all_bytes / 1e4), hi = s->all_bytes;
	if (s->points < 2 || hi <= lo)
		return hi;
	return lo * pow(hi / lo, (double)i / (double)(s->points - 1));
}

/* smallest size with own hit >= 90% of the top of the grid */
static void find90(kvw_cache_study *s, const kvw_study_point *pts, int n, int t, int p)
{
	double top = kvw_cache_token_hit_rate(&pts[n - 1].st, t), want = 0.9 * top;
	s->attainable[t][p] = top;
	s->size90[t][p] = NAN;
	if (!(top > 0))
		return;
	for (int i = 0; i < n; i++) {
		double h = kvw_cache_token_hit_rate(&pts[i].st, t);
		if (h < want)
			continue;
		if (i == 0) {
			s->size90[t][p] = pts[0].capacity_bytes;
			return;
		}
		double h0 = kvw_cache_token_hit_rate(&pts[i - 1].st, t), x0 = log(pts[i - 1].capacity_bytes);
		double x1 = log(pts[i].capacity_bytes), f = h > h0 ? (want - h0) / (h - h0) : 1;
		s->size90[t][p] = exp(x0 + f * (x1 - x0));
		return;
	}
}

static int add_curves(kvw_cache_study *s, rjob *jobs)
{
	unsigned given = given_mask(s);
	int n = 0;
	for (int t = 0; t < KVW_TIERS; t++) {
		if (!(given & (1u << t)) || (s->curve_tiers && !(s->curve_tiers & (1u << t))))
			continue;
		for (int p = 0; p < s->n_policies; p++)
			for (int i = 0; i < s->points; i++) {
				kvw_study_point *pt = &s->curve[s->n_points++];
				pt->tier = t, pt->policy = p, pt->capacity_bytes = grid(s, i);
				rjob *j = &jobs[n++];
				*j = (rjob){ kvw_cache_study_cfg(s, given, s->policies[p]), &pt->st, "" };
				j->cfg.tier[t].capacity_bytes = pt->capacity_bytes;
				snprintf(j->what, sizeof j->what, "%s curve, %s, %.3g GB", kvw_tier_name(t), s->policies[p],
				         pt->capacity_bytes / 1e9);
			}
	}
	return n;
}

static void find_all90(kvw_cache_study *s)
{
	for (int i = 0; i < s->n_points; i += s->points)
		find90(s, &s->curve[i], s->points, s->curve[i].tier, s->curve[i].policy);
}

kvw_err kvw_cache_study_run(kvw_cache_study *s, kvw_diag *d)
{
	for (int t = 0; t < KVW_TIERS; t++)
		for (int p = 0; p < KVW_STUDY_MAX_POLICIES; p++)
			s->attainable[t][p] = s->size90[t][p] = NAN;
	kvw_err err = count_blocks(s, d);
	if (err)
		return err;
	int tiers = 0;
	for (int t = 0; t < KVW_TIERS; t++)
		tiers += s->base.tier[t].capacity_bytes > 0 && (!s->curve_tiers || (s->curve_tiers & (1u << t)));
	int n_curve = s->points >= 2 ? tiers * s->n_policies * s->points : 0;
	rjob *jobs = calloc((size_t)(KVW_STUDY_MAX_CFGS + n_curve), sizeof *jobs);
	if (!jobs || (n_curve && !(s->curve = calloc((size_t)n_curve, sizeof *s->curve)))) {
		free(jobs);
		return kvw_fail(d, KVW_ESYS, "out of memory");
	}
	int n = add_configs(s, jobs);
	if (n_curve)
		n += add_curves(s, jobs + n);
	err = run_jobs(s, jobs, n, d);
	free(jobs);
	if (err)
		return err;
	pick_winner(s);
	find_all90(s);
	return KVW_OK;
}

void kvw_cache_study_free(kvw_cache_study *s)
{
	if (!s)
		return;
	free(s->curve);
	s->curve = NULL;
	s->n_points = 0;
	kvw_cache_ids_free(&s->ids);
	s->rc.ids = NULL;
}
