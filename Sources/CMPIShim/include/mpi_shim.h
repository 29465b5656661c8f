// The C shim: the only code that includes mpi.h. OpenMPI's handles are macros and pointer typedefs Swift
// cannot import, so this header exposes plain C over MPI_COMM_WORLD. Every function returns an MPI error
// code (0 = MPI_SUCCESS) or VAE_MPI_TIMED_OUT; errors are returned, never fatal (MPI_ERRORS_RETURN).
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

/// Returned by a wait that ran past the wait limit; not an MPI error code (those are ≥ 0).
#define VAE_MPI_TIMED_OUT (-1)
/// Every later wait (for a reduction, broadcast, barrier or allgather) gives up after `seconds` (0: never)
/// and returns VAE_MPI_TIMED_OUT, leaving its messages unfinished: the job is then to be aborted.
void vae_mpi_set_wait_limit(double seconds);
/// The rank that the last wait to run out was waiting for: a reduction's partner in its current round, the
/// other rank of two; -1 when MPI's own collective algorithm hides it.
int vae_mpi_stalled_partner(void);

/// What a reduction's numbers travel as.
#define VAE_FORMAT_FP32 0
#define VAE_FORMAT_BF16 1
#define VAE_FORMAT_FP16 2

/// Rounds each float to the 16-bit `format` (nearest, ties to even) and back, in place: what a 16-bit
/// reduction does to a rank's numbers before they travel. NaN and ±inf survive; fp16 saturates at ±65504.
void vae_round_to_16_bits(float *buffer, int64_t count, int format);

/// Starts an in-place sum over all ranks; `handle` receives its handle. Every rank computes the same fixed
/// binary tree, the one a single process's pairwise sum builds over the ranks' buffers in rank order: at a
/// power-of-two rank count the complete tree ((r0 + r1) + (r2 + r3)) …; otherwise complete trees over groups
/// of ranks sized by the count's binary digits (6 = 4 + 2), their sums added from the smallest up. `halving`
/// picks Rabenseifner (a reduce-scatter by recursive halving, then an allgather: 2 · (P − 1) / P of the
/// buffer sent per rank) over recursive doubling (log2 P buffers); both give the same bits, and counts that
/// are not powers of two always halve. With `format` BF16 or FP16 the tree's leaves and every partial sum are rounded to that format and
/// travel as 16 bits (half the bytes), and the sum is widened back into `buffer` at the end; at one rank that
/// is a rounding. `scratch` holds `count` floats. Neither buffer may be touched until the wait returns.
int vae_mpi_reduction_start(float *buffer, float *scratch, int64_t count, int format, int halving, int32_t *handle);
/// How many bytes this rank's reductions have sent so far (the payload, without MPI's or TCP's headers).
int64_t vae_mpi_bytes_sent(void);
/// Moves the reduction on without blocking; *done becomes 1 once the sum is complete.
int vae_mpi_reduction_test(int32_t handle, int32_t *done);
/// Completes the reduction and frees its handle.
int vae_mpi_reduction_wait(int32_t handle);

int vae_mpi_broadcast_bytes(void *buffer, int64_t count, int root);
int vae_mpi_barrier(void);
/// Gathers `record_bytes` from every rank into `records` (size × record_bytes, rank order).
int vae_mpi_allgather_bytes(const void *record, int record_bytes, void *records);

/// Ends every rank of the job with `code`.
void vae_mpi_abort(int code);
/// Writes MPI's description of `code` into `text` (NUL-terminated).
void vae_mpi_error_string(int code, char *text, int capacity);

#endif
