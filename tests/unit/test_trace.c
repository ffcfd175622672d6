/* test_trace.c — the trace readers (model/readers/trace.c): the bundled
 * traces load with the counts their README gives, small texts parse to
 * the values written in them, and each kind of bad input is refused with
 * the file and line named. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "kvw_trace.h"

static kvw_err parse(const char *text, kvw_workload *w, kvw_diag *d)
{
	return kvw_trace_parse(text, strlen(text), KVW_TRACE_AUTO, "t.txt", w, d);
}

static void test_bundled(void)
{
	static const struct { const char *name; size_t n; long block; } rows[] = {
		{ "mooncake-conversation", 12031, 512 }, { "mooncake-synthetic", 3993, 512 },
		{ "azure-llm-2023-code", 8819, 0 },      { "azure-llm-2023-conv", 19366, 0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		kvw_workload w;
		kvw_diag d = { "" };
		kvw_err err = kvw_trace_open(rows[i].name, &w, &d);
		if (err)
			fprintf(stderr, "%s: %s\n", rows[i].name, d.msg);
		CHECK(err == KVW_OK);
		CHECK(w.n == rows[i].n);
		CHECK(w.hash_block == rows[i].block);
		CHECK(strcmp(w.name, rows[i].name) == 0);
		bool sorted = true;
		for (size_t k = 1; k < w.n; k++)
			sorted &= w.req[k].arrival_s >= w.req[k - 1].arrival_s;
		CHECK(sorted && w.n && w.req[0].arrival_s == 0);
		kvw_workload_free(&w);
		CHECK(w.req == NULL && w.n == 0);
	}
	/* first lines of the conversation trace and of the Azure conversation trace */
	kvw_workload w;
	kvw_diag d = { "" };
	CHECK(kvw_trace_open("MOONCAKE-conversation", &w, &d) == KVW_OK);
	CHECK(w.req[0].input_tokens == 6758 && w.req[0].output_tokens == 500 && w.req[0].n_hash == 14);
	CHECK(w.hashes[w.req[1].hash_off] == 0 && w.hashes[w.req[1].hash_off + 1] == 14);
	CHECK_NEAR(w.req[w.n - 1].arrival_s, 3536.999, 1e-12);
	kvw_workload_free(&w);
	CHECK(kvw_trace_open("azure-llm-2023-conv", &w, &d) == KVW_OK);
	CHECK(w.req[1].input_tokens == 396 && w.req[1].output_tokens == 109);
	CHECK_NEAR(w.req[1].arrival_s, 50.9951690 - 46.6805900, 1e-6); /* 18:15:46.68 -> 18:15:50.99 */
	kvw_workload_free(&w);
	kvw_workload_free(NULL);
}

static void test_small(void)
{
	kvw_workload w;
	kvw_diag d = { "" };
	const char *mc = "\n{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 5, \"hash_ids\": [7, 8]}\r\n"
	                 "{\"timestamp\": 1500.5, \"input_length\": 513, \"output_length\": 1, \"hash_ids\": [7]}\n"
	                 "{\"timestamp\": 1500.5, \"input_length\": 10, \"output_length\": 2}\n";
	CHECK(parse(mc, &w, &d) == KVW_OK);
	CHECK(w.n == 3 && w.n_hashes == 3 && w.hash_block == 512);
	CHECK_NEAR(w.req[1].arrival_s, 1.5005, 1e-12);
	CHECK(w.req[1].n_hash == 1 && w.hashes[w.req[1].hash_off] == 7 && w.req[2].n_hash == 0);
	kvw_workload_free(&w);
	const char *az = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 23:59:59.5,10,3\n"
	                 "2023-11-17 00:00:01.0,20,4\n";
	CHECK(parse(az, &w, &d) == KVW_OK);
	CHECK(w.n == 2 && w.hash_block == 0);
	CHECK_NEAR(w.req[1].arrival_s, 1.5, 1e-9); /* across midnight */
	kvw_workload_free(&w);
	/* columns in another order, numeric seconds */
	CHECK(parse("GeneratedTokens,x,ContextTokens,TIMESTAMP\n5,a,100,10.25\n6,b,200,12\n", &w, &d) == KVW_OK);
	CHECK(w.req[0].output_tokens == 5 && w.req[1].input_tokens == 200);
	CHECK_NEAR(w.req[1].arrival_s, 1.75, 1e-12);
	kvw_workload_free(&w);
}

/* each bad input: refused as KVW_EINPUT with these words in the message */
static void test_bad(void)
{
	static const struct { const char *text, *words; } rows[] = {
		{ "", "t.txt: no requests" },
		{ "\n\n", "no requests" },
		{ "TIMESTAMP,ContextTokens,GeneratedTokens\n", "no requests" },
		{ "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n{\"timestamp\": 1, \"input_length\": 5,",
		  "t.txt:2: malformed JSON" },
		{ "{\"timestamp\": 5, \"input_length\": 5, \"output_length\": 1}\n"
		  "{\"timestamp\": 4, \"input_length\": 5, \"output_length\": 1}\n", "t.txt:2: timestamp goes backwards" },
		{ "{\"timestamp\": 0, \"input_length\": -5, \"output_length\": 1}", "t.txt:1: input length -5" },
		{ "{\"timestamp\": 0, \"input_length\": 0, \"output_length\": 1}", "input length 0" },
		{ "{\"timestamp\": 0, \"input_length\": 99999999999, \"output_length\": 1}", "input length 1e+11" },
		{ "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 0}", "output length 0" },
		{ "{\"timestamp\": -1, \"input_length\": 5, \"output_length\": 1}", "timestamp -0.001" },
		{ "{\"timestamp\": \"0\", \"input_length\": 5, \"output_length\": 1}", "\"timestamp\" is not a number" },
		{ "{\"timestamp\": 0, \"input_length\": 5.5, \"output_length\": 1}", "\"input_length\" is not an integer" },
		{ "{\"timestamp\": 0, \"output_length\": 1}", "t.txt:1: no \"input_length\"" },
		{ "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [1, 2]}",
		  "2 hash_ids for 5 tokens" },
		{ "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": [-1]}",
		  "hash_ids[0] is not a non-negative integer" },
		{ "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1, \"hash_ids\": 3}", "not an array" },
		{ "{\"a\": 1, \"a\": 2}", "malformed JSON" },
		{ "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 1}\n[1]", "t.txt:2: not a JSON object" },
		{ "time,in,out\n1,2,3\n", "t.txt:1: not a trace" },
		{ "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,5,1\n", "t.txt:2: TIMESTAMP is not a time" },
		{ "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-13-01 00:00:00,5,1\n", "TIMESTAMP is not a time" },
		{ "TIMESTAMP,ContextTokens,GeneratedTokens\n1,five,1\n", "ContextTokens is not a number" },
		{ "TIMESTAMP,ContextTokens,GeneratedTokens\n1,5\n", "GeneratedTokens is not a number" },
		{ "TIMESTAMP,ContextTokens,GeneratedTokens\n2,5,1\n1,5,1\n", "t.txt:3: timestamp goes backwards" },
		{ "TIMESTAMP,ContextTokens,GeneratedTokens\n1,5,1e300\n", "output length 1e+300" },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		kvw_workload w;
		kvw_diag d = { "" };
		kvw_err err = parse(rows[i].text, &w, &d);
		bool ok = err == KVW_EINPUT && strstr(d.msg, rows[i].words) && w.req == NULL && w.n == 0;
		if (!ok)
			fprintf(stderr, "bad input %zu: err %d, message '%s', want '%s'\n", i, err, d.msg, rows[i].words);
		CHECK(ok);
	}
	/* binary: a NUL inside a line */
	kvw_workload w;
	kvw_diag d = { "" };
	const char bin[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n1,\0,1\n";
	CHECK(kvw_trace_parse(bin, sizeof bin - 1, KVW_TRACE_AUTO, "b", &w, &d) == KVW_EINPUT && strstr(d.msg, "b:2: binary"));
}

static void test_files(void)
{
	kvw_workload w;
	kvw_diag d = { "" };
	CHECK(kvw_trace_open("no-such-trace", &w, &d) == KVW_EUSAGE && strstr(d.msg, "mooncake-conversation"));
	CHECK(kvw_trace_open("/nonexistent/x.jsonl", &w, &d) == KVW_EINPUT && strstr(d.msg, "cannot open trace"));
	char dir[] = "/tmp/kvw_trace_XXXXXX";
	if (!mkdtemp(dir))
		return;
	char fifo[64], gz[64];
	snprintf(fifo, sizeof fifo, "%s/fifo.jsonl", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(kvw_trace_open(fifo, &w, &d) == KVW_EINPUT && strstr(d.msg, "not a regular file")); /* does not hang */
	CHECK(kvw_trace_open(dir, &w, &d) == KVW_EINPUT && strstr(d.msg, "not a regular file"));
	/* a truncated gzip file is an error, not a short trace */
	snprintf(gz, sizeof gz, "%s/cut.jsonl.gz", dir);
	FILE *f = fopen(gz, "wb");
	static const unsigned char head[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xab, 0x56 };
	fwrite(head, 1, sizeof head, f);
	fclose(f);
	kvw_err err = kvw_trace_open(gz, &w, &d);
	CHECK(err == KVW_EINPUT);
	unlink(fifo);
	unlink(gz);
	rmdir(dir);
}

int main(void)
{
	test_bundled();
	test_small();
	test_bad();
	test_files();
	return check_done("test_trace");
}
