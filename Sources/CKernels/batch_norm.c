#include <math.h>
#include "vae_kernels.h"
#include "versions.h"
#include "column_blocks.h"

#define SQUARED_DEVIATIONS_BLOCK(W)                                                                            \
    BLOCK_INLINE void squared_deviations_##W(size_t j0, const float *restrict x, size_t rows, size_t c,         \
                                             const float *restrict mean, float *restrict sum) {                \
        float acc[W];                                                                                          \
        for (size_t j = 0; j < W; j++) acc[j] = sum[j0 + j];                                                   \
        for (size_t r = 0; r < rows; r++)                                                                      \
            for (size_t j = 0; j < W; j++) {                                                                   \
                float d = x[r * c + j0 + j] - mean[j0 + j];                                                    \
                acc[j] += d * d;                                                                               \
            }                                                                                                  \
        for (size_t j = 0; j < W; j++) sum[j0 + j] = acc[j];                                                   \
    }
BLOCK_WIDTHS(SQUARED_DEVIATIONS_BLOCK)

VERSIONS void vae_bn_squared_deviations(const float *restrict x, size_t rows, size_t c, const float *restrict mean,
                                        float *restrict sum) {
    COLUMN_BLOCKS(squared_deviations, c, x, rows, c, mean, sum);
}

VERSIONS void vae_bn_normalize(const float *restrict x, size_t rows, size_t c, const float *restrict mean,
                               const float *restrict inv, const float *restrict gamma, const float *restrict beta,
                               float *restrict y) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            size_t i = r * c + j;
            float xhat = (x[i] - mean[j]) * inv[j];
            y[i] = gamma[j] * xhat + beta[j];
        }
}

VERSIONS void vae_bn_normalize_leaky(const float *restrict x, size_t rows, size_t c, const float *restrict mean,
                                     const float *restrict inv, const float *restrict gamma,
                                     const float *restrict beta, float slope, int dropout, float *restrict y,
                                     float *restrict factor) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            size_t i = r * c + j;
            float xhat = (x[i] - mean[j]) * inv[j];
            float z = gamma[j] * xhat + beta[j];
            float a = z > 0 ? z : slope * z;
            float m = dropout ? factor[i] : 1.0f;
            y[i] = dropout ? a * m : a;
            factor[i] = z > 0 ? m : -m;
        }
}

// dz from ∂out (DZ: as is, or through the epilogue), written for vae_bn_input_gradient, and its two sums.
#define GRADIENT_SUMS_BLOCK(NAME, W, DZ)                                                                       \
    BLOCK_INLINE void NAME##_##W(size_t j0, const float *restrict dout, const float *restrict factor, float slope, \
                                 float *restrict dz, const float *restrict x, size_t rows, size_t c,           \
                                 const float *restrict mean, const float *restrict inv, float *restrict s,     \
                                 float *restrict sx) {                                                         \
        float as[W], asx[W];                                                                                   \
        for (size_t j = 0; j < W; j++) { as[j] = s[j0 + j]; asx[j] = sx[j0 + j]; }                             \
        for (size_t r = 0; r < rows; r++)                                                                      \
            for (size_t j = 0; j < W; j++) {                                                                   \
                size_t i = r * c + j0 + j;                                                                     \
                float d = DZ;                                                                                  \
                dz[i] = d;                                                                                     \
                float xhat = (x[i] - mean[j0 + j]) * inv[j0 + j];                                              \
                as[j] += d;                                                                                    \
                asx[j] += d * xhat;                                                                            \
            }                                                                                                  \
        for (size_t j = 0; j < W; j++) { s[j0 + j] = as[j]; sx[j0 + j] = asx[j]; }                             \
    }
#define PLAIN_GRADIENT_SUMS_BLOCK(W) GRADIENT_SUMS_BLOCK(plain_gradient_sums, W, dout[i])
#define LEAKY_GRADIENT_SUMS_BLOCK(W) \
    GRADIENT_SUMS_BLOCK(leaky_gradient_sums, W, dout[i] * fabsf(factor[i]) * (signbit(factor[i]) ? slope : 1.0f))
BLOCK_WIDTHS(PLAIN_GRADIENT_SUMS_BLOCK)
BLOCK_WIDTHS(LEAKY_GRADIENT_SUMS_BLOCK)

VERSIONS void vae_bn_gradient_sums(const float *restrict dout, const float *restrict factor, float slope,
                                   float *restrict dz, const float *restrict x, size_t rows, size_t c,
                                   const float *restrict mean, const float *restrict inv, float *restrict s,
                                   float *restrict sx) {
    if (factor)
        COLUMN_BLOCKS(leaky_gradient_sums, c, dout, factor, slope, dz, x, rows, c, mean, inv, s, sx);
    else
        COLUMN_BLOCKS(plain_gradient_sums, c, dout, factor, slope, dz, x, rows, c, mean, inv, s, sx);
}

VERSIONS void vae_bn_input_gradient(float *restrict gradient, const float *restrict x, size_t rows, size_t c,
                                    const float *restrict mean, const float *restrict inv,
                                    const float *restrict scale, const float *restrict s, const float *restrict sx,
                                    float m) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            size_t i = r * c + j;
            float xhat = (x[i] - mean[j]) * inv[j];
            gradient[i] = scale[j] * (m * gradient[i] - s[j] - xhat * sx[j]);
        }
}
