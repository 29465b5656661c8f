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

// Loops over a rows × channels matrix (NHWC activations: a row is a pixel's channels). Each per-channel
// sum adds its rows in order, and each expression is evaluated as written (no fused multiply-add), so
// every instruction set gives the bits of the plain loops.

/// sum[j] += Σ_r x[r][j], rows in order: a bias gradient, a batch norm's sum.
void vae_column_sums(const float *x, size_t rows, size_t channels, float *sum);
/// x[r][j] += bias[j]
void vae_add_bias(const float *bias, float *x, size_t rows, size_t channels);

// BatchNorm's loops; BatchNorm.swift has the math.
/// sum[j] += Σ_r (x[r][j] − mean[j])²
void vae_bn_squared_deviations(const float *x, size_t rows, size_t channels, const float *mean, float *sum);
/// y = γ·x̂ + β, x̂ = (x − μ)·inv
void vae_bn_normalize(const float *x, size_t rows, size_t channels, const float *mean, const float *inv,
                      const float *gamma, const float *beta, float *y);
/// The fused epilogue: z = γ·x̂ + β; a = z > 0 ? z : slope·z; with dropout, m is factor's value on entry
/// (vae_dropout_factors), else 1; y = a·m (a without dropout); factor = z > 0 ? m : −m.
void vae_bn_normalize_leaky(const float *x, size_t rows, size_t channels, const float *mean, const float *inv,
                            const float *gamma, const float *beta, float slope, int dropout, float *y, float *factor);
/// dz = ∂out, or with the epilogue (factor not NULL) its backward, ∂out·|factor|·(factor's sign bit ? slope
/// : 1); then s[j] += Σ_r dz[r][j];  sx[j] += Σ_r dz[r][j]·x̂[r][j]
void vae_bn_gradient_sums(const float *dout, const float *factor, float slope, float *dz, const float *x,
                          size_t rows, size_t channels, const float *mean, const float *inv, float *s, float *sx);
/// gradient: dz on entry, dx = scale·(m·dz − s − x̂·sx) on return; scale per channel, m the rows as a float.
void vae_bn_input_gradient(float *gradient, const float *x, size_t rows, size_t channels, const float *mean,
                           const float *inv, const float *scale, const float *s, const float *sx, float m);

/// y = 1 / (1 + e^−x), with e^−x in the bits of glibc 2.36's expf on CPUs with FMA (its __expf_fma), in
/// every version: Sigmoid's forward pass as `1 / (1 + expf(-x))` computes it there.
void vae_sigmoid(const float *x, float *y, size_t count);

/// Adam's update over count parameters (Adam.swift has the math): m ← β1·m + (1 − β1)·g;
/// v ← β2·v + (1 − β2)·g·g; p ← p − α·m / (√v + ε). The four buffers must not overlap.
void vae_adam_apply(float *restrict p, float *restrict m, float *restrict v, const float *restrict g,
                    size_t count, float beta1, float beta2, float epsilon, float alpha);

#endif
