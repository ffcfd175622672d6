/* kvw_mpi.h — kvwall under mpirun / srun: one process per GPU, rank 0
 * writes one merged cluster profile.
 *
 * MPI is initialised only when the environment says a launcher started
 * this process (Open MPI, PMI/PMIx, Slurm); a plain `kvwall probe` never
 * touches MPI.  Built without MPI, everything answers "one rank".
 */
#ifndef KVW_MPI_H
#define KVW_MPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kvw_err.h"

typedef struct kvw_mpi {
	int rank, size, local_rank;
	bool active; /* MPI_Init was called */
} kvw_mpi;

/* Initialises MPI when launched by mpirun/srun (and built with MPI). */
void kvw_mpi_init(int *argc, char ***argv, kvw_mpi *m);
void kvw_mpi_finalize(const kvw_mpi *m);
void kvw_mpi_barrier(const kvw_mpi *m);
/* rank root's buf (NUL-terminated, at most cap bytes) to every rank */
void kvw_mpi_bcast_str(const kvw_mpi *m, char *buf, int cap, int root);
/* n raw bytes from root to every rank */
void kvw_mpi_bcast_bytes(const kvw_mpi *m, void *buf, int n, int root);
int kvw_mpi_max_int(const kvw_mpi *m, int v);
/* Every rank's document; on rank 0 *all is a new array indexed by rank,
 * elsewhere NULL.  Collective. */
kvw_err kvw_mpi_gather_json(const kvw_mpi *m, const json_t *mine, json_t **all, kvw_diag *d);
/* true when a launcher's environment variables are present */
bool kvw_mpi_launched(void);

#endif
