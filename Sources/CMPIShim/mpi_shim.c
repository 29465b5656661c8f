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
//
// Every sum is one fixed binary tree over the ranks, the tree one rank's pairwise sum builds over the same
// leaves in rank order, whatever the algorithm:
// - The ranks split into groups by the binary digits of their count, largest first: 6 = 4 + 2 makes
//   ranks 0–3 and 4–5. Within a group the tree is complete, ((r0 + r1) + (r2 + r3)) …; the groups' sums S
//   then add from the smallest up, S0 + (S1 + (S2 …)). A power-of-two count is one group.
// - Recursive doubling (one group only): in round k each rank swaps its whole buffer with partner
//   r ^ 2^k and adds: log2 P · N floats sent per rank.
// - Rabenseifner (halving): a reduce-scatter by recursive halving with the same partners in the same
//   order (distance 1 first), each round keeping and summing half of the last round's segment, then an
//   allgather by recursive doubling in reverse: 2 · (P − 1) / P · N floats per rank. Each element meets
//   the same partial sums in the same rounds as in recursive doubling, so the bits are the same.
// - Several groups always reduce-scatter. Then each group but the last receives, for its segments, the
//   sum of the groups after it from the next group, whose segments hold theirs, and adds; the first
//   group gathers the whole sum as in halving and each of its first ranks hands it to one rank of the
//   others: about 3 · N floats sent by the busiest rank, against a ring's 2 · (P − 1) / P · N.
enum { TAG_BASE = 1 << 14 };
enum { CORE, CHAIN_RECEIVE, CHAIN_SEND, GATHER, FINAL, DONE };
typedef struct {
    int used;
    int halving;         // Rabenseifner; otherwise recursive doubling
    int format;          // VAE_FORMAT_*: what travels
    float *buffer, *scratch;
    int count, tag;
    int stage, round;    // round k of CORE or GATHER (distance 2^k), or CHAIN_SEND's k-th piece
    int group, groups;   // this rank's group, and how many there are
    int base, members;   // the group's first rank and size (a power of two)
    int partner;         // the rank of the current round's exchange
    MPI_Request requests[2];
} reduction;
// Grown as needed; MPI keeps no pointer to a request variable, so the table may move between calls.
static reduction *reductions;
static int reductions_capacity;
// Every rank starts its reductions in the same order, so the k-th one has the same tag everywhere and
// messages of reductions in flight together cannot be matched to each other.
static int reductions_started;
// Bytes this rank's reductions have handed to MPI to send, for the benchmarks.
static int64_t bytes_sent;

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

int64_t vae_mpi_bytes_sent(void) { return bytes_sent; }
int vae_mpi_rank(void) { int r = 0; MPI_Comm_rank(MPI_COMM_WORLD, &r); return r; }
int vae_mpi_size(void) { int s = 1; MPI_Comm_size(MPI_COMM_WORLD, &s); return s; }
int vae_mpi_local_rank(void) { int r = 0; MPI_Comm_rank(node_comm, &r); return r; }
int vae_mpi_local_size(void) { int s = 1; MPI_Comm_size(node_comm, &s); return s; }

// Group `index` of `size` ranks (see above): its size, and its first rank in *base; 0 past the last.
static int group_at(int size, int index, int *base) {
    *base = 0;
    for (int bit = 30; bit >= 0; bit--) {
        if (!(size >> bit & 1)) continue;
        if (index-- == 0) return 1 << bit;
        *base += 1 << bit;
    }
    return 0;
}

static int log2_of(int power) { return __builtin_ctz((unsigned)power); }

// The segment a group member sums after `rounds` halving rounds: each round keeps the lower half when the
// round's bit of the member's index is 0, the upper half when it is 1 (the partner keeps the other). The
// first rounds' segments nest the later ones', so a smaller group's segments hold a larger group's.
static void segment(int count, int v, int rounds, int *lo, int *hi) {
    *lo = 0; *hi = count;
    for (int k = 0; k < rounds; k++) {
        int mid = *lo + (*hi - *lo) / 2;
        if (v & (1 << k)) *lo = mid; else *hi = mid;
    }
}

// A 16-bit reduction keeps two arrays of halves in `scratch` (count floats hold 2 × count halves): this
// rank's running sum, then what the partner sent. A float reduction keeps its sum in `buffer` and receives
// into `scratch`.
static int wide(reduction *r) { return r->format == VAE_FORMAT_FP32; }
static uint16_t *mine16(reduction *r) { return (uint16_t *)r->scratch; }
static uint16_t *theirs16(reduction *r) { return (uint16_t *)r->scratch + r->count; }
static void *mine_at(reduction *r, int i) { return wide(r) ? (void *)(r->buffer + i) : (void *)(mine16(r) + i); }
static void *theirs_at(reduction *r, int i) { return wide(r) ? (void *)(r->scratch + i) : (void *)(theirs16(r) + i); }

// Posts this round's receive into `into` and send from `from` (a count < 0 posts nothing).
static int exchange(reduction *r, int partner, void *into, int receive, const void *from, int send) {
    MPI_Datatype type = wide(r) ? MPI_FLOAT : MPI_UINT16_T;
    r->partner = partner;
    r->requests[0] = r->requests[1] = MPI_REQUEST_NULL;
    int rc = receive < 0 ? MPI_SUCCESS : MPI_Irecv(into, receive, type, partner, r->tag, MPI_COMM_WORLD, &r->requests[0]);
    if (rc != MPI_SUCCESS || send < 0) return rc;
    bytes_sent += (int64_t)send * (wide(r) ? 4 : 2);
    return MPI_Isend(from, send, type, partner, r->tag, MPI_COMM_WORLD, &r->requests[1]);
}

// Adds what the partner sent into this rank's sum over [lo, hi). a + b == b + a exactly, so both partners of
// a round hold the same bits. Compressed, each partial sum is rounded to 16 bits again before it travels on.
static void add_partner(reduction *r, int lo, int hi) {
    if (wide(r)) for (int i = lo; i < hi; i++) r->buffer[i] += r->scratch[i];
    else add16(r->format, mine16(r) + lo, theirs16(r) + lo, hi - lo);
}

// Posts the next exchange, skipping the stages this rank has no part in, or reaches DONE.
static int post_next(reduction *r) {
    int size = vae_mpi_size(), v = vae_mpi_rank() - r->base, rounds = log2_of(r->members), lo, hi, base, members;
    for (;;) {
        switch (r->stage) {
        case CORE:
            if (r->round == rounds) { r->stage = CHAIN_RECEIVE; break; }
            if (!r->halving) return exchange(r, r->base + (v ^ (1 << r->round)), theirs_at(r, 0), r->count, mine_at(r, 0), r->count);
            segment(r->count, v, r->round, &lo, &hi);
            {
                int mid = lo + (hi - lo) / 2, upper = v & (1 << r->round);
                int keep = upper ? mid : lo, give = upper ? lo : mid, kept = upper ? hi - mid : mid - lo;
                return exchange(r, r->base + (v ^ (1 << r->round)), theirs_at(r, keep), kept, mine_at(r, give), hi - lo - kept);
            }
        case CHAIN_RECEIVE:  // this segment of the later groups' sum, from the next group's member that holds it
            if (r->group == r->groups - 1) { r->stage = CHAIN_SEND; r->round = 0; break; }
            members = group_at(size, r->group + 1, &base);
            segment(r->count, v, rounds, &lo, &hi);
            return exchange(r, base + v % members, theirs_at(r, lo), hi - lo, NULL, -1);
        case CHAIN_SEND:  // to each member of the previous group whose segment lies in this one's, its piece
            members = r->group > 0 ? group_at(size, r->group - 1, &base) : 0;
            if (v + r->round * r->members < members) {
                int target = v + r->round * r->members;
                segment(r->count, target, log2_of(members), &lo, &hi);
                return exchange(r, base + target, NULL, -1, mine_at(r, lo), hi - lo);
            }
            r->stage = r->group == 0 && r->halving ? GATHER : FINAL;
            r->round = rounds - 1;
            break;
        case GATHER:
            if (r->round < 0) { r->stage = FINAL; break; }
            {
                int parent_lo, parent_hi;
                segment(r->count, v, r->round, &parent_lo, &parent_hi);
                segment(r->count, v, r->round + 1, &lo, &hi);
                int other = v & (1 << r->round) ? parent_lo : hi, other_count = parent_hi - parent_lo - (hi - lo);
                return exchange(r, r->base + (v ^ (1 << r->round)), mine_at(r, other), other_count, mine_at(r, lo), hi - lo);
            }
        case FINAL:  // the whole sum, from rank k of the first group to rank k of the rest
            if (r->groups > 1 && r->group == 0 && v < size - r->members)
                return exchange(r, r->members + v, NULL, -1, mine_at(r, 0), r->count);
            if (r->group > 0) return exchange(r, vae_mpi_rank() - group_at(size, 0, &base), mine_at(r, 0), r->count, NULL, -1);
            r->stage = DONE;
            break;
        default:
            return MPI_SUCCESS;
        }
    }
}

// After the posted exchange has finished: its sum, then the next stage or round.
static void complete_round(reduction *r) {
    int v = vae_mpi_rank() - r->base, lo = 0, hi = r->count;
    switch (r->stage) {
    case CORE:
        if (r->halving) segment(r->count, v, r->round + 1, &lo, &hi);
        add_partner(r, lo, hi);
        r->round++;
        return;
    case CHAIN_RECEIVE:
        segment(r->count, v, log2_of(r->members), &lo, &hi);
        add_partner(r, lo, hi);
        r->stage = CHAIN_SEND;
        r->round = 0;
        return;
    case CHAIN_SEND:
        r->round++;
        return;
    case GATHER:
        r->round--;
        return;
    default:  // FINAL
        r->stage = DONE;
    }
}

int vae_mpi_reduction_start(float *buffer, float *scratch, int64_t count, int format, int halving, int32_t *handle) {
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
    reduction *r = &reductions[slot];
    int size = vae_mpi_size(), rank = vae_mpi_rank(), group = 0, base = 0, members = group_at(size, 0, &base);
    while (rank >= base + members) members = group_at(size, ++group, &base);
    int groups = __builtin_popcount((unsigned)size);
    *r = (reduction){.used = 1, .halving = halving != 0 || groups > 1, .format = format, .buffer = buffer, .scratch = scratch,
                     .count = (int)count, .tag = TAG_BASE + reductions_started++ % TAG_BASE, .stage = CORE,
                     .group = group, .groups = groups, .base = base, .members = members, .partner = -1};
    r->requests[0] = r->requests[1] = MPI_REQUEST_NULL;
    if (!wide(r)) pack16(r->format, buffer, mine16(r), r->count);
    int rc = post_next(r);
    if (rc != MPI_SUCCESS) { r->used = 0; return rc; }
    *handle = slot;
    return MPI_SUCCESS;
}

// Moves `r` on as far as it can without blocking, or to the end when `block` (giving up at `deadline`);
// *done says whether it ended.
static int advance(reduction *r, int block, double deadline, int32_t *done) {
    while (r->stage != DONE) {
        int finished = 1;
        int rc = block ? wait_until(2, r->requests, deadline, r->partner)
                       : MPI_Testall(2, r->requests, &finished, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        if (!finished) { *done = 0; return MPI_SUCCESS; }
        complete_round(r);
        if ((rc = post_next(r)) != MPI_SUCCESS) return rc;
    }
    if (!wide(r)) {
        unpack16(r->format, mine16(r), r->buffer, r->count);
        r->format = VAE_FORMAT_FP32;  // unpacked: a later test or wait finds nothing left to do
    }
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
