/* cmds.h — the subcommands of kvwall, one kvw_cmd each. */
#ifndef KVW_CMDS_H
#define KVW_CMDS_H

#include "kvw_err.h"
#include "opts.h"

typedef struct kvw_cmd {
	const char *name;
	const char *usage;   /* one line after "kvwall NAME " */
	const char *summary; /* what it answers */
	const kvw_opt *opts;
	int max_positional;
	kvw_err (*run)(const kvw_args *a, int argc, char **argv, kvw_diag *d);
} kvw_cmd;

extern const kvw_cmd kvw_cmd_kv, kvw_cmd_crossover, kvw_cmd_split, kvw_cmd_sweep;
extern const kvw_cmd kvw_cmd_models, kvw_cmd_hw, kvw_cmd_probe, kvw_cmd_compare, kvw_cmd_baseline, kvw_cmd_serve,
	kvw_cmd_validate, kvw_cmd_cache, kvw_cmd_plan;

#endif
