// The C shim over MPI_COMM_WORLD; see include/mpi_shim.h.
#include "mpi_shim.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static MPI_Comm node_comm = MPI_COMM_NULL;

// How long a wait may last, in seconds (0: for ever), and who the last wait that ran out was waiting for.
static double wait_limit;
static int stalled_partner = -1;

// Reductions in flight, addressed by small integer handles.
enum { TAG_BASE = 1 << 14 };
typedef struct {
    int used;
    int tree;            // recursive doubling; otherwise one MPI_Iallreduce
    int format;          // VAE_FORMAT_*: what travels in recursive doubling
    float *buffer, *scratch;
    int count, distance, tag;
    MPI_Request requests[2];
} reduction;
// Grown as needed; MPI keeps no pointer to a request variable, so the table may move between calls.
static reduction *reductions;
static int reductions_capacity;
// Every rank starts its reductions in the same order, so the k-th one has the same tag everywhere and
// messages of reductions in flight together cannot be matched to each other.
static int reductions_started;

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

void vae_mpi_set_wait_limit(double seconds) { wait_limit = seconds; }
int vae_mpi_stalled_partner(void) { return stalled_partner; }

// 16-bit formats. Both round to nearest, ties to even; NaN stays NaN (quiet) and ±inf stays ±inf, so the
// non-finite guard still sees them. bf16 keeps float's exponent (it overflows only where float does); fp16
// saturates at ±65504, so a finite float never arrives as inf.
static uint16_t bf16_from_float(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

static float bf16_to_float(uint16_t half) {
    uint32_t bits = (uint32_t)half << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static uint16_t fp16_from_float(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t magnitude = bits & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) return sign | 0x7E00u | (uint16_t)((magnitude >> 13) & 0x3FFu);
    if (magnitude == 0x7F800000u) return sign | 0x7C00u;
    if (magnitude >= 0x477FE000u) return sign | 0x7BFFu;                       // 65504 and beyond
    if (magnitude < 0x38800000u) {                                              // subnormal: units of 2^-24
        uint32_t exponent = magnitude >> 23;
        if (exponent < 102) return sign;                                         // below 2^-25: 0
        uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u, shift = 126 - exponent;
        uint32_t units = significand >> shift, rest = significand & ((1u << shift) - 1), half = 1u << (shift - 1);
        return sign | (uint16_t)(units + (rest > half || (rest == half && (units & 1u))));
    }
    uint32_t rebiased = magnitude - 0x38000000u;                                 // exponent 127 → 15
    return sign | (uint16_t)((rebiased + 0x0FFFu + ((rebiased >> 13) & 1u)) >> 13);
}

static float fp16_to_float(uint16_t half) {
    uint32_t sign = (uint32_t)(half & 0x8000u) << 16, exponent = (half >> 10) & 0x1Fu, mantissa = half & 0x3FFu;
    if (exponent == 0) {
        float value = (float)mantissa * 0x1p-24f;
        return sign ? -value : value;
    }
    uint32_t bits = sign | (exponent == 31 ? 0x7F800000u : (exponent + 112) << 23) | (mantissa << 13);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

// Whole arrays, the format chosen once outside each loop.
static void pack16(int format, const float *from, uint16_t *to, int64_t count) {
    if (format == VAE_FORMAT_BF16) for (int64_t i = 0; i < count; i++) to[i] = bf16_from_float(from[i]);
    else for (int64_t i = 0; i < count; i++) to[i] = fp16_from_float(from[i]);
}

static void unpack16(int format, const uint16_t *from, float *to, int64_t count) {
    if (format == VAE_FORMAT_BF16) for (int64_t i = 0; i < count; i++) to[i] = bf16_to_float(from[i]);
    else for (int64_t i = 0; i < count; i++) to[i] = fp16_to_float(from[i]);
}

// sum[i] = round16(f32(sum[i]) + f32(other[i])).
static void add16(int format, uint16_t *sum, const uint16_t *other, int64_t count) {
    if (format == VAE_FORMAT_BF16) for (int64_t i = 0; i < count; i++) sum[i] = bf16_from_float(bf16_to_float(sum[i]) + bf16_to_float(other[i]));
    else for (int64_t i = 0; i < count; i++) sum[i] = fp16_from_float(fp16_to_float(sum[i]) + fp16_to_float(other[i]));
}

void vae_round_to_16_bits(float *buffer, int64_t count, int format) {
    uint16_t chunk[1024];
    for (int64_t start = 0; start < count; start += 1024) {
        int64_t n = count - start < 1024 ? count - start : 1024;
        pack16(format, buffer + start, chunk, n);
        unpack16(format, chunk, buffer + start, n);
    }
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// MPI_Waitall that gives up at `deadline` (0: never), naming `partner` (-1: unknown) as the one not heard from.
// Polling costs what Open MPI's own wait costs: it spins in the progress engine too.
static int wait_until(int count, MPI_Request *requests, double deadline, int partner) {
    if (deadline == 0) return MPI_Waitall(count, requests, MPI_STATUSES_IGNORE);
    for (;;) {
        int finished = 0;
        int rc = MPI_Testall(count, requests, &finished, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS || finished) return rc;
        if (now_seconds() > deadline) {
            stalled_partner = partner;
            return VAE_MPI_TIMED_OUT;
        }
    }
}

static double deadline_from_now(void) { return wait_limit > 0 ? now_seconds() + wait_limit : 0; }

int vae_mpi_rank(void) { int r = 0; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
int vae_mpi_size(void) { int s = 1; MPI_Comm_size(MPI_COMM_WORLD, &s); return s; }
int vae_mpi_local_rank(void) { int r = 0; MPI_Comm_rank(node_comm, &r); return r; }
int vae_mpi_local_size(void) { int s = 1; MPI_Comm_size(node_comm, &s); return s; }

// A 16-bit reduction keeps both halves in `scratch` (count floats hold 2 × count halves): this rank's running
// sum, then the partner's.
static uint16_t *mine16(reduction *r) { return (uint16_t *)r->scratch; }
static uint16_t *theirs16(reduction *r) { return (uint16_t *)r->scratch + r->count; }

static int post_exchange(reduction *r) {
    int partner = vae_mpi_rank() ^ r->distance;
    int wide = r->format == VAE_FORMAT_FP32;
    void *into = wide ? (void *)r->scratch : theirs16(r), *from = wide ? (void *)r->buffer : mine16(r);
    MPI_Datatype type = wide ? MPI_FLOAT : MPI_UINT16_T;
    int rc = MPI_Irecv(into, r->count, type, partner, r->tag, MPI_COMM_WORLD, &r->requests[0]);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Isend(from, r->count, type, partner, r->tag, MPI_COMM_WORLD, &r->requests[1]);
}

// One round's sum. a + b == b + a exactly, so both partners hold the same bits: the lower rank's subtree on
// the left. Compressed, each partial sum is rounded to 16 bits again before it travels on.
static void add_partner(reduction *r) {
    if (r->format == VAE_FORMAT_FP32) {
        for (int i = 0; i < r->count; i++) r->buffer[i] += r->scratch[i];
        return;
    }
    add16(r->format, mine16(r), theirs16(r), r->count);
}

int vae_mpi_reduction_start(float *buffer, float *scratch, int64_t count, int format, int32_t *handle) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    if (format != VAE_FORMAT_FP32 && format != VAE_FORMAT_BF16 && format != VAE_FORMAT_FP16) return MPI_ERR_ARG;
    int slot = 0;
    while (slot < reductions_capacity && reductions[slot].used) slot++;
    if (slot == reductions_capacity) {
        int capacity = reductions_capacity ? 2 * reductions_capacity : 64;
        reduction *grown = realloc(reductions, (size_t)capacity * sizeof *grown);
        if (!grown) return MPI_ERR_NO_MEM;
        memset(grown + reductions_capacity, 0, (size_t)(capacity - reductions_capacity) * sizeof *grown);
        reductions = grown;
        reductions_capacity = capacity;
    }
    int size = vae_mpi_size();
    reduction *r = &reductions[slot];
    int tree = (size & (size - 1)) == 0;
    // Other rank counts sum floats with MPI's own algorithm: no 16-bit sum there.
    *r = (reduction){.used = 1, .tree = tree, .format = tree ? format : VAE_FORMAT_FP32, .buffer = buffer, .scratch = scratch,
                     .count = (int)count, .distance = 1, .tag = TAG_BASE + reductions_started++ % TAG_BASE};
    r->requests[0] = r->requests[1] = MPI_REQUEST_NULL;
    if (r->format != VAE_FORMAT_FP32) pack16(r->format, buffer, mine16(r), r->count);
    int rc = MPI_SUCCESS;
    if (!r->tree) rc = MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r->requests[0]);
    else if (size > 1) rc = post_exchange(r);
    if (rc != MPI_SUCCESS) { r->used = 0; return rc; }
    *handle = slot;
    return MPI_SUCCESS;
}

// Moves `r` on as far as it can without blocking, or to the end when `block` (giving up at `deadline`);
// *done says whether it ended.
static int advance(reduction *r, int block, double deadline, int32_t *done) {
    int size = vae_mpi_size();
    while (r->distance < size) {
        int finished = 1;
        int partner = r->tree ? vae_mpi_rank() ^ r->distance : -1;
        int rc = block ? wait_until(2, r->requests, deadline, partner)
                       : MPI_Testall(2, r->requests, &finished, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        if (!finished) { *done = 0; return MPI_SUCCESS; }
        if (!r->tree) break;
        add_partner(r);
        r->distance <<= 1;
        if (r->distance < size && (rc = post_exchange(r)) != MPI_SUCCESS) return rc;
    }
    if (r->format != VAE_FORMAT_FP32) {
        unpack16(r->format, mine16(r), r->buffer, r->count);
        r->format = VAE_FORMAT_FP32;  // unpacked: a later test or wait finds nothing left to do
    }
    r->distance = size;
    *done = 1;
    return MPI_SUCCESS;
}

static reduction *lookup(int32_t handle) {
    return handle >= 0 && handle < reductions_capacity && reductions[handle].used ? &reductions[handle] : NULL;
}

int vae_mpi_reduction_test(int32_t handle, int32_t *done) {
    reduction *r = lookup(handle);
    return r ? advance(r, 0, 0, done) : MPI_ERR_REQUEST;
}

int vae_mpi_reduction_wait(int32_t handle) {
    reduction *r = lookup(handle);
    if (!r) return MPI_ERR_REQUEST;
    int32_t done = 0;
    int rc = advance(r, 1, deadline_from_now(), &done);
    r->used = 0;
    return rc;
}

// The blocking collectives are their non-blocking forms waited for, so that a wait can run out. Which rank
// is missing is MPI's secret, except between two.
static int finish(int rc, MPI_Request *request) {
    int size = vae_mpi_size();
    return rc == MPI_SUCCESS ? wait_until(1, request, deadline_from_now(), size == 2 ? 1 - vae_mpi_rank() : -1) : rc;
}

int vae_mpi_broadcast_bytes(void *buffer, int64_t count, int root) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    MPI_Request request;
    return finish(MPI_Ibcast(buffer, (int)count, MPI_BYTE, root, MPI_COMM_WORLD, &request), &request);
}

int vae_mpi_barrier(void) {
    MPI_Request request;
    return finish(MPI_Ibarrier(MPI_COMM_WORLD, &request), &request);
}

int vae_mpi_allgather_bytes(const void *record, int record_bytes, void *records) {
    MPI_Request request;
    return finish(MPI_Iallgather(record, record_bytes, MPI_BYTE, records, record_bytes, MPI_BYTE, MPI_COMM_WORLD, &request), &request);
}

void vae_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void vae_mpi_error_string(int code, char *text, int capacity) {
    if (code == VAE_MPI_TIMED_OUT) {
        snprintf(text, (size_t)capacity, "timed out");
        return;
    }
    char message[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, message, &length) != MPI_SUCCESS) length = 0;
    message[length] = '\0';
    strncpy(text, message, (size_t)capacity - 1);
    text[capacity - 1] = '\0';
}
