/* evict.c — the eviction policies the cache knows, by name.  A new policy
 * is a file filling kvw_evict_ops (kvw_evict.h) plus one line here. */
#include <string.h>
#include <strings.h>

#include "kvw_evict.h"

extern const kvw_evict_ops kvw_evict_lru, kvw_evict_s3fifo;

static const kvw_evict_ops *const policies[] = { &kvw_evict_lru, &kvw_evict_s3fifo };
#define N_POLICIES ((int)(sizeof policies / sizeof policies[0]))

int kvw_evict_count(void)
{
	return N_POLICIES;
}

const kvw_evict_ops *kvw_evict_at(int i)
{
	return i >= 0 && i < N_POLICIES ? policies[i] : NULL;
}

const kvw_evict_ops *kvw_evict_find(const char *name)
{
	for (int i = 0; name && i < N_POLICIES; i++)
		if (strcasecmp(policies[i]->name, name) == 0)
			return policies[i];
	return NULL;
}
