/* catalog_arch.h — a catalog model's architecture for the unit tests, or a
 * zeroed one (and the reason on stderr) when it cannot be loaded, so the
 * test's checks on it fail rather than the test crashing. */
#ifndef KVW_TEST_CATALOG_ARCH_H
#define KVW_TEST_CATALOG_ARCH_H

#include <stdio.h>
#include <string.h>

#include "kvw_config.h"

static inline kvw_arch load(const char *name)
{
	kvw_arch a;
	kvw_diag d = { "" };
	if (kvw_catalog_model(name, &a, &d)) {
		fprintf(stderr, "cannot load %s: %s\n", name, d.msg);
		memset(&a, 0, sizeof a);
	}
	return a;
}

#endif
