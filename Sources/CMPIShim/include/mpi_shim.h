// The C shim: the only code that includes mpi.h. OpenMPI's handles are macros and pointer typedefs Swift
// cannot import, so this header exposes plain C over MPI_COMM_WORLD. Every function returns an MPI error
// code (0 = MPI_SUCCESS); errors are returned, never fatal (MPI_ERRORS_RETURN).
#ifndef VAE_MPI_SHIM_H
#define VAE_MPI_SHIM_H

#include <stddef.h>
#include <stdint.h>

/// Initializes MPI (if the process was started by mpirun or as a singleton) and the node communicator.
int vae_mpi_init(void);
int vae_mpi_finalize(void);
int vae_mpi_rank(void);
int vae_mpi_size(void);
/// Rank and size among the ranks on this node (shared-memory domain).
int vae_mpi_local_rank(void);
int vae_mpi_local_size(void);

/// In-place sum over all ranks (MPI_Allreduce: the library picks the algorithm and the bracketing).
int vae_mpi_allreduce_sum_f32(float *buffer, int64_t count);
/// In-place sum by recursive doubling, for a power-of-two number of ranks: every rank computes the same
/// complete binary tree ((r0 + r1) + (r2 + r3)) …, so the result's bits do not depend on the algorithm MPI picks.
/// `scratch` holds `count` floats. Returns MPI_ERR_SIZE when the size is not a power of two.
int vae_mpi_allreduce_tree_sum_f32(float *buffer, float *scratch, int64_t count);
int vae_mpi_allreduce_sum_f64(double *buffer, int64_t count);
/// Non-blocking in-place sum; `request` receives a handle for vae_mpi_wait.
int vae_mpi_iallreduce_sum_f32(float *buffer, int64_t count, int32_t *request);
int vae_mpi_wait(int32_t request);

int vae_mpi_broadcast_bytes(void *buffer, int64_t count, int root);
int vae_mpi_broadcast_f32(float *buffer, int64_t count, int root);
int vae_mpi_barrier(void);
/// Gathers `record_bytes` from every rank into `records` (size × record_bytes, rank order).
int vae_mpi_allgather_bytes(const void *record, int record_bytes, void *records);

/// Ends every rank of the job with `code`.
void vae_mpi_abort(int code);
double vae_mpi_wall_time(void);
/// Writes MPI's description of `code` into `text` (NUL-terminated).
void vae_mpi_error_string(int code, char *text, int capacity);

#endif
