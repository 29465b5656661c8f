// Math kernels in C, for loops Swift's compiler cannot vectorize for this CPU: a Swift build targets
// baseline x86-64 (SSE2), while these are compiled for several instruction sets and the best one the CPU
// has is chosen when the program loads. No MPI, no files: part of the math room.
#ifndef VAE_KERNELS_H
#define VAE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Dropout's multipliers for elements 0..<count of one sample: element e keeps (keep, else 0) when the
/// uniform draw of SplitMix64(prefix ^ (stream << 32 | e)) is not below `rate`; the same bits as
/// VAEMath's CounterRandom.uniform(CounterRandom.bits(prefix:, stream << 32 | e)) < rate ? 0 : keep.
void vae_dropout_factors(uint64_t prefix, uint64_t stream, size_t count, float rate, float keep, float *out);

#endif
