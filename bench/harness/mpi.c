/* mpi.c — kvw_mpi.h on MPI, or one rank without it. */
#include "kvw_mpi.h"

#include <stdlib.h>
#include <string.h>

#ifdef KVW_HAVE_MPI
#include <mpi.h>
#endif

bool kvw_mpi_launched(void)
{
	return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK")
	       || (getenv("SLURM_PROCID") && getenv("SLURM_STEP_ID"));
}

#ifdef KVW_HAVE_MPI

void kvw_mpi_init(int *argc, char ***argv, kvw_mpi *m)
{
	*m = (kvw_mpi){ 0, 1, 0, false };
	if (!kvw_mpi_launched())
		return;
	MPI_Init(argc, argv);
	m->active = true;
	MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
	MPI_Comm_size(MPI_COMM_WORLD, &m->size);
	MPI_Comm node;
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, m->rank, MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &m->local_rank);
	MPI_Comm_free(&node);
}

void kvw_mpi_finalize(const kvw_mpi *m)
{
	if (m->active)
		MPI_Finalize();
}

void kvw_mpi_barrier(const kvw_mpi *m)
{
	if (m->active)
		MPI_Barrier(MPI_COMM_WORLD);
}

void kvw_mpi_bcast_str(const kvw_mpi *m, char *buf, int cap, int root)
{
	if (m->active)
		MPI_Bcast(buf, cap, MPI_CHAR, root, MPI_COMM_WORLD);
	buf[cap - 1] = '\0';
}

void kvw_mpi_bcast_bytes(const kvw_mpi *m, void *buf, int n, int root)
{
	if (m->active)
		MPI_Bcast(buf, n, MPI_BYTE, root, MPI_COMM_WORLD);
}

int kvw_mpi_max_int(const kvw_mpi *m, int v)
{
	int out = v;
	if (m->active)
		MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return out;
}

kvw_err kvw_mpi_gather_json(const kvw_mpi *m, const json_t *mine, json_t **all, kvw_diag *d)
{
	*all = NULL;
	char *text = json_dumps(mine, JSON_COMPACT);
	int len = text ? (int)strlen(text) + 1 : 0, *lens = NULL, *offs = NULL;
	char *buf = NULL;
	kvw_err err = KVW_OK;
	if (m->rank == 0) {
		lens = calloc((size_t)m->size, sizeof *lens);
		offs = calloc((size_t)m->size, sizeof *offs);
	}
	MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
	size_t total = 0;
	if (m->rank == 0) {
		for (int r = 0; r < m->size; r++) {
			offs[r] = (int)total;
			total += (size_t)lens[r];
		}
		buf = malloc(total ? total : 1);
	}
	MPI_Gatherv(text, len, MPI_CHAR, buf, lens, offs, MPI_CHAR, 0, MPI_COMM_WORLD);
	if (m->rank == 0) {
		*all = json_array();
		for (int r = 0; r < m->size; r++) {
			json_t *doc = lens[r] ? json_loads(buf + offs[r], 0, NULL) : NULL;
			if (!doc)
				err = kvw_fail(d, KVW_ESYS, "rank %d sent no profile", r);
			json_array_append_new(*all, doc ? doc : json_null());
		}
	}
	free(text);
	free(buf);
	free(lens);
	free(offs);
	return err;
}

#else /* one rank */

void kvw_mpi_init(int *argc, char ***argv, kvw_mpi *m)
{
	(void)argc, (void)argv;
	*m = (kvw_mpi){ 0, 1, 0, false };
}

void kvw_mpi_finalize(const kvw_mpi *m)
{
	(void)m;
}

void kvw_mpi_barrier(const kvw_mpi *m)
{
	(void)m;
}

void kvw_mpi_bcast_str(const kvw_mpi *m, char *buf, int cap, int root)
{
	(void)m, (void)root;
	buf[cap - 1] = '\0';
}

void kvw_mpi_bcast_bytes(const kvw_mpi *m, void *buf, int n, int root)
{
	(void)m, (void)buf, (void)n, (void)root;
}

int kvw_mpi_max_int(const kvw_mpi *m, int v)
{
	(void)m;
	return v;
}

kvw_err kvw_mpi_gather_json(const kvw_mpi *m, const json_t *mine, json_t **all, kvw_diag *d)
{
	(void)m, (void)d;
	*all = json_array();
	json_array_append(*all, (json_t *)mine);
	return KVW_OK;
}

#endif
