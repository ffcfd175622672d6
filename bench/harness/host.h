/* host.h — facts about the machine a result was produced on. */
#ifndef KVW_HOST_H
#define KVW_HOST_H

#include <jansson.h>

/* New object: hostname, os, kernel, arch, cpu model, logical CPUs,
 * memory bytes.  GPUs are added by the probes that find them. */
json_t *kvw_host_facts(void);

#endif
