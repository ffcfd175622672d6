/* workload.c — owning and releasing a kvw_workload (kvw_workload.h). */
#include "kvw_workload.h"

#include <stdlib.h>
#include <string.h>

void kvw_workload_free(kvw_workload *w)
{
	if (!w)
		return;
	free(w->req);
	free(w->hashes);
	memset(w, 0, sizeof *w);
}
