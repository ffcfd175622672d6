// gbench_shim.cc — the C shim over Google Benchmark (see kvw_gbench.h).
// A reporter collects the per-repetition times and the aggregates instead
// of printing them; each measurement registers one benchmark, runs it and
// clears the registry.  Each measurement starts with one untimed run of
// the operation (the warm-up).
#include "kvw_gbench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace {

double stat_min(const std::vector<double> &v)
{
	return *std::min_element(v.begin(), v.end());
}

double stat_max(const std::vector<double> &v)
{
	return *std::max_element(v.begin(), v.end());
}

// nearest rank: the smallest value with at least 90% of the samples at or below it
double stat_p90(const std::vector<double> &v)
{
	std::vector<double> s(v);
	std::sort(s.begin(), s.end());
	size_t rank = (size_t)std::ceil(0.9 * (double)s.size());
	return s[rank > 0 ? rank - 1 : 0];
}

class Collector : public benchmark::BenchmarkReporter {
public:
	std::map<std::string, double> aggregates;
	std::vector<double> samples;

	bool ReportContext(const Context &) override { return true; }

	void ReportRuns(const std::vector<Run> &runs) override
	{
		for (const Run &r : runs) {
			double seconds = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
			if (r.run_type == Run::RT_Aggregate)
				aggregates[r.aggregate_name] = seconds;
			else
				samples.push_back(seconds);
		}
	}
};

struct Job {
	kvw_timed_fn fn;
	void *arg;
	bool failed;
};

void body(benchmark::State &state, Job *job)
{
	for (auto _ : state) {
		double t = job->fn(job->arg);
		if (!(t >= 0)) {
			job->failed = true;
			state.SkipWithError("the timed operation failed");
			break;
		}
		state.SetIterationTime(t);
	}
}

bool initialised;

} // namespace

extern "C" kvw_err kvw_gbench_measure(const char *name, kvw_timed_fn fn, void *arg, long iterations,
                                      long repetitions, kvw_tstats *out, kvw_diag *d)
{
	if (iterations < 1 || repetitions < 1)
		return kvw_fail(d, KVW_EUSAGE, "%s: iterations and repetitions must be >= 1", name);
	if (!initialised) {
		int argc = 1;
		char prog[] = "kvwall";
		char *argv[] = { prog, nullptr };
		benchmark::Initialize(&argc, argv);
		initialised = true;
	}
	// warm-up before the first timed iteration: lazy module loading,
	// cuBLASLt's first use of an algorithm, NCCL's lazy connect
	if (!(fn(arg) >= 0))
		return kvw_fail(d, KVW_EDRIVER, "%s: the warm-up run failed", name);
	Job job = { fn, arg, false };
	benchmark::RegisterBenchmark(name, body, &job)
		->Iterations(iterations)
		->Repetitions(repetitions)
		->UseManualTime()
		->ComputeStatistics("min", stat_min)
		->ComputeStatistics("max", stat_max)
		->ComputeStatistics("p90", stat_p90);
	Collector c;
	benchmark::RunSpecifiedBenchmarks(&c);
	benchmark::ClearRegisteredBenchmarks();
	if (job.failed)
		return kvw_fail(d, KVW_EDRIVER, "%s: the timed operation failed", name);
	if (c.samples.empty())
		return kvw_fail(d, KVW_ESYS, "%s: Google Benchmark reported no runs", name);
	if (repetitions == 1) {
		double t = c.samples[0];
		*out = kvw_tstats{ t, t, t, t, 0.0 };
		return KVW_OK;
	}
	const char *need[] = { "min", "median", "p90", "max", "stddev" };
	for (const char *k : need)
		if (!c.aggregates.count(k))
			return kvw_fail(d, KVW_ESYS, "%s: Google Benchmark gave no '%s' aggregate", name, k);
	*out = kvw_tstats{ c.aggregates["min"], c.aggregates["median"], c.aggregates["p90"],
	                   c.aggregates["max"], c.aggregates["stddev"] };
	return KVW_OK;
}
