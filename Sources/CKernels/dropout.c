#include "vae_kernels.h"
#include "versions.h"

// SplitMix64's finalizer, as CounterRandom.mix in Random.swift.
static inline uint64_t mix(uint64_t value) {
    uint64_t x = value + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// AVX-512 multiplies 64-bit lanes in one instruction (vpmullq); AVX2 and SSE2 emulate it. Integer
// arithmetic and an exact conversion: every version gives the same bits.
VERSIONS void vae_dropout_factors(uint64_t prefix, uint64_t stream, size_t count, float rate, float keep, float *out) {
    for (size_t e = 0; e < count; e++) {
        float u = (float)(mix(prefix ^ (stream << 32 | e)) >> 40) * (1.0f / 16777216.0f);
        out[e] = u < rate ? 0.0f : keep;
    }
}
