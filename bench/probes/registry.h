/* registry.h — every probe kvwall has (bench/probes and netprobe), by name. */
#ifndef KVW_REGISTRY_H
#define KVW_REGISTRY_H

#include "probe.h"

/* The registry, checked once: unique non-empty names, a summary, run(). */
const kvw_probe *const *kvw_probes(int *n, kvw_diag *d);
const kvw_probe *kvw_probe_find(const char *name);

#endif
