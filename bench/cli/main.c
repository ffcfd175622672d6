/* main.c — kvwall: should the KV cache be transferred or recomputed?
 * Dispatches subcommands; every error ends as one line on stderr and the
 * exit code of its kvw_err (README.md, "Exit codes"). */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "kvw_err.h"
#include "opts.h"

#ifndef KVW_BUILT_WITH /* set by CMakeLists.txt from what configure found */
#define KVW_BUILT_WITH "?"
#endif

static const kvw_cmd *const commands[] = {
	&kvw_cmd_kv, &kvw_cmd_crossover, &kvw_cmd_split, &kvw_cmd_sweep, &kvw_cmd_models, &kvw_cmd_hw,
	&kvw_cmd_probe, &kvw_cmd_compare, &kvw_cmd_baseline, &kvw_cmd_serve, &kvw_cmd_validate, &kvw_cmd_cache,
	&kvw_cmd_plan,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const kvw_cmd *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kvwall COMMAND [OPTIONS]\n\n"
	           "kvwall answers: for this model on this cluster, should the KV cache be\n"
	           "transferred or recomputed, and at what context length does that flip?\n\n"
	           "commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "  %-10s %s\n\n", "help CMD", "options of one command");
	fprintf(f, "kvwall --version prints the version.  Exit codes: 0 ok, 1 usage or bad input,\n"
	           "2 system or driver error, 3 verification failed, 4 regression or threshold missed.\n");
}

static void help(const kvw_cmd *c, FILE *f)
{
	fprintf(f, "usage: kvwall %s %s\n\n%s\n\noptions:\n", c->name, c->usage, c->summary);
	kvw_opts_help(c->opts, f);
}

static int fail(kvw_err err, const kvw_diag *d)
{
	fprintf(stderr, "kvwall: %s: %s\n", kvw_strerror(err), d->msg[0] ? d->msg : kvw_strerror(err));
	return kvw_exit_code(err);
}

int main(int argc, char **argv)
{
	kvw_diag d = { "" };
	if (argc < 2) {
		usage(stderr);
		return kvw_exit_code(KVW_EUSAGE);
	}
	const char *name = argv[1];
	if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
		printf("kvwall %s\nbuilt with: %s\n", KVW_VERSION, KVW_BUILT_WITH);
		return 0;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "help") == 0) {
		if (argc == 2) {
			usage(stdout);
			return 0;
		}
		const kvw_cmd *c = find(argv[2]);
		if (!c)
			return fail(kvw_fail(&d, KVW_EUSAGE, "unknown command '%s' (see kvwall help)", argv[2]), &d);
		help(c, stdout);
		return 0;
	}
	const kvw_cmd *c = find(name);
	if (!c)
		return fail(kvw_fail(&d, KVW_EUSAGE, "unknown command '%s' (see kvwall help)", name), &d);
	kvw_args args;
	kvw_err err = kvw_opts_parse(c->opts, c->max_positional, argc - 1, argv + 1, &args, &d);
	if (err)
		return fail(err, &d);
	if (args.help) {
		help(c, stdout);
		return 0;
	}
	if (args.json && args.csv)
		return fail(kvw_fail(&d, KVW_EUSAGE, "choose one of --json and --csv"), &d);
	err = c->run(&args, argc - 1, argv + 1, &d);
	return err ? fail(err, &d) : 0;
}
