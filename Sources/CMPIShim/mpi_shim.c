// The C shim over MPI_COMM_WORLD; see include/mpi_shim.h.
#include "mpi_shim.h"

#include <limits.h>
#include <mpi.h>
#include <string.h>

static MPI_Comm node_comm = MPI_COMM_NULL;

// Outstanding non-blocking requests, addressed by small integer handles.
enum { MAX_REQUESTS = 64 };
static MPI_Request requests[MAX_REQUESTS];
static int request_used[MAX_REQUESTS];

int vae_mpi_init(void) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return rc;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node_comm);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Comm_set_errhandler(node_comm, MPI_ERRORS_RETURN);
}

int vae_mpi_finalize(void) {
    if (node_comm != MPI_COMM_NULL) MPI_Comm_free(&node_comm);
    return MPI_Finalize();
}

int vae_mpi_rank(void) { int r = 0; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
int vae_mpi_size(void) { int s = 1; MPI_Comm_size(MPI_COMM_WORLD, &s); return s; }
int vae_mpi_local_rank(void) { int r = 0; MPI_Comm_rank(node_comm, &r); return r; }
int vae_mpi_local_size(void) { int s = 1; MPI_Comm_size(node_comm, &s); return s; }

int vae_mpi_allreduce_sum_f32(float *buffer, int64_t count) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

int vae_mpi_allreduce_tree_sum_f32(float *buffer, float *scratch, int64_t count) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    int rank = vae_mpi_rank(), size = vae_mpi_size();
    if (size & (size - 1)) return MPI_ERR_SIZE;
    for (int distance = 1; distance < size; distance <<= 1) {
        int partner = rank ^ distance;
        int rc = MPI_Sendrecv(buffer, (int)count, MPI_FLOAT, partner, distance, scratch, (int)count, MPI_FLOAT,
                              partner, distance, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        // a + b == b + a exactly, so both partners hold the same bits: the lower rank's subtree on the left.
        for (int64_t i = 0; i < count; i++) buffer[i] += scratch[i];
    }
    return MPI_SUCCESS;
}

int vae_mpi_allreduce_sum_f64(double *buffer, int64_t count) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

int vae_mpi_iallreduce_sum_f32(float *buffer, int64_t count, int32_t *request) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    for (int i = 0; i < MAX_REQUESTS; i++) {
        if (request_used[i]) continue;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &requests[i]);
        if (rc != MPI_SUCCESS) return rc;
        request_used[i] = 1;
        *request = i;
        return MPI_SUCCESS;
    }
    return MPI_ERR_REQUEST;
}

int vae_mpi_wait(int32_t request) {
    if (request < 0 || request >= MAX_REQUESTS || !request_used[request]) return MPI_ERR_REQUEST;
    request_used[request] = 0;
    return MPI_Wait(&requests[request], MPI_STATUS_IGNORE);
}

int vae_mpi_broadcast_bytes(void *buffer, int64_t count, int root) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Bcast(buffer, (int)count, MPI_BYTE, root, MPI_COMM_WORLD);
}

int vae_mpi_broadcast_f32(float *buffer, int64_t count, int root) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Bcast(buffer, (int)count, MPI_FLOAT, root, MPI_COMM_WORLD);
}

int vae_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

int vae_mpi_allgather_bytes(const void *record, int record_bytes, void *records) {
    return MPI_Allgather(record, record_bytes, MPI_BYTE, records, record_bytes, MPI_BYTE, MPI_COMM_WORLD);
}

void vae_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

double vae_mpi_wall_time(void) { return MPI_Wtime(); }

void vae_mpi_error_string(int code, char *text, int capacity) {
    char message[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, message, &length) != MPI_SUCCESS) length = 0;
    message[length] = '\0';
    strncpy(text, message, (size_t)capacity - 1);
    text[capacity - 1] = '\0';
}
