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
 *   90% size        the tier's own token hit rate (hits it serves) on the
 *                   curve against its value at the top of the grid: the
 *                   smallest size reaching 90% of it, interpolated in log
 *                   size between the two grid points around it.
 */
#include "cache_study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static kvw_err replay(kvw_cache_study *s, const kvw_cache_cfg *g, kvw_cache_stats *st, int *done, int total,
                      const char *what, kvw_diag *d)
{
	if (s->progress)
		s->progress(s->progress_ctx, *done, total, what);
	kvw_err err = kvw_cache_replay(g, &s->rc, s->sc, s->w, st, d);
	(*done)++;
	return err;
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

static kvw_err run_configs(kvw_cache_study *s, int *done, int total, kvw_diag *d)
{
	unsigned given = given_mask(s), acc = 0;
	kvw_study_cfg *c = &s->cfgs[0];
	snprintf(c->label, sizeof c->label, "none");
	c->policy = -1;
	kvw_cache_cfg g = kvw_cache_study_cfg(s, 0, NULL);
	kvw_err err = replay(s, &g, &c->st, done, total, "no cache", d);
	s->n_cfgs = 1;
	for (int t = 0; t < KVW_TIERS && !err; t++) {
		if (!(given & (1u << t)))
			continue;
		acc |= 1u << t;
		for (int p = 0; p < s->n_policies && !err; p++) {
			c = &s->cfgs[s->n_cfgs++];
			c->tiers = acc;
			c->policy = p;
			label(acc, c->label, sizeof c->label);
			char what[96];
			snprintf(what, sizeof what, "%s, %s", c->label, s->policies[p]);
			g = kvw_cache_study_cfg(s, acc, s->policies[p]);
			err = replay(s, &g, &c->st, done, total, what, d);
		}
	}
	return err;
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

static kvw_err run_curves(kvw_cache_study *s, int *done, int total, kvw_diag *d)
{
	unsigned given = given_mask(s);
	kvw_err err = KVW_OK;
	for (int t = 0; t < KVW_TIERS && !err; t++) {
		if (!(given & (1u << t)))
			continue;
		for (int p = 0; p < s->n_policies && !err; p++) {
			kvw_study_point *first = &s->curve[s->n_points];
			for (int i = 0; i < s->points && !err; i++) {
				kvw_study_point *pt = &s->curve[s->n_points++];
				pt->tier = t, pt->policy = p, pt->capacity_bytes = grid(s, i);
				kvw_cache_cfg g = kvw_cache_study_cfg(s, given, s->policies[p]);
				g.tier[t].capacity_bytes = pt->capacity_bytes;
				char what[96];
				snprintf(what, sizeof what, "%s curve, %s, %.3g GB", kvw_tier_name(t), s->policies[p],
				         pt->capacity_bytes / 1e9);
				err = replay(s, &g, &pt->st, done, total, what, d);
			}
			if (!err)
				find90(s, first, s->points, t, p);
		}
	}
	return err;
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
		tiers += s->base.tier[t].capacity_bytes > 0;
	int n_curve = s->points >= 2 ? tiers * s->n_policies * s->points : 0;
	int total = 1 + tiers * s->n_policies + n_curve, done = 0;
	if (n_curve && !(s->curve = calloc((size_t)n_curve, sizeof *s->curve)))
		return kvw_fail(d, KVW_ESYS, "out of memory");
	if (!(err = run_configs(s, &done, total, d)))
		pick_winner(s);
	if (!err && n_curve)
		err = run_curves(s, &done, total, d);
	if (s->progress)
		s->progress(s->progress_ctx, done, total, NULL);
	return err;
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
