/* plan_run.c — runs the planner's jobs on the node's cores: a pool of
 * pthreads takes jobs in order from a shared counter; each job is one
 * single-threaded, deterministic simulation or goodput search with all its
 * state of its own, so the answers do not depend on the number of threads
 * or on which thread ran what.  Progress (jobs done, time, time left) goes
 * to stderr when stderr is a terminal, at most five times a second.
 */
#define _POSIX_C_SOURCE 200809L
#include "plan.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

typedef struct pool {
	plan_job *jobs;
	int n, next, done;
	const plan_inputs *in;
	const char *what;
	bool tty;
	double t0, last;
	pthread_mutex_t mu;
} pool;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int plan_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void run_one(const plan_inputs *in, plan_job *j)
{
	kvw_bisect b = in->bisect;
	if (j->nocache)
		b.prefix = NULL;
	if (j->scale > 0) {
		kvw_sim_opts o = { .rate_scale = j->scale, .max_requests = b.max_requests, .percentiles = true,
		                   .max_waiting = b.max_waiting, .prefix = b.prefix, .prefix_cfg = b.prefix_cfg };
		j->err = kvw_sim_run(&j->cluster, &j->dep, &in->w, &in->slo, &o, &j->r, &j->d);
	} else {
		j->err = kvw_goodput_search(&j->cluster, &j->dep, &in->w, &in->slo, &b, &j->g, &j->d);
	}
}

static void progress(pool *p, bool final)
{
	double t = now_s();
	if (!p->tty || (!final && t - p->last < 0.2))
		return;
	p->last = t;
	double el = t - p->t0, left = p->done ? el * (p->n - p->done) / p->done : 0;
	fprintf(stderr, "\r[plan] %s: %d/%d, %.1f s, ~%.0f s left   %s", p->what, p->done, p->n, el, left,
	        final ? "\n" : "");
	fflush(stderr);
}

static void *worker(void *arg)
{
	pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int k = p->next < p->n ? p->next++ : -1;
		pthread_mutex_unlock(&p->mu);
		if (k < 0)
			return NULL;
		run_one(p->in, &p->jobs[k]);
		pthread_mutex_lock(&p->mu);
		p->done++;
		progress(p, false);
		pthread_mutex_unlock(&p->mu);
	}
}

kvw_err plan_run_jobs(plan_job *jobs, int n, const plan_inputs *in, int threads, const char *what, kvw_diag *d)
{
	if (n <= 0)
		return KVW_OK;
	pool p = { .jobs = jobs, .n = n, .in = in, .what = what, .tty = isatty(STDERR_FILENO), .t0 = now_s() };
	pthread_mutex_init(&p.mu, NULL);
	threads = threads < 1 ? 1 : threads > n ? n : threads > 256 ? 256 : threads;
	pthread_t tid[256];
	int started = 0;
	for (int i = 1; i < threads; i++)
		started += pthread_create(&tid[started], NULL, worker, &p) == 0;
	worker(&p); /* this thread works too */
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	progress(&p, true);
	pthread_mutex_destroy(&p.mu);
	for (int i = 0; i < n; i++)
		if (jobs[i].err) {
			*d = jobs[i].d;
			return jobs[i].err;
		}
	return KVW_OK;
}
