#include <math.h>
#include "vae_kernels.h"
#include "versions.h"

VERSIONS void vae_bn_squared_deviations(const float *restrict x, size_t rows, size_t c, const float *restrict mean,
                                        float *restrict sum) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            float d = x[r * c + j] - mean[j];
            sum[j] += d * d;
        }
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

VERSIONS void vae_bn_leaky_backward(const float *restrict dout, const float *restrict factor, size_t count, float slope,
                                    float *restrict dz) {
    for (size_t i = 0; i < count; i++) {
        float leak = signbit(factor[i]) ? slope : 1.0f;
        dz[i] = dout[i] * fabsf(factor[i]) * leak;
    }
}

VERSIONS void vae_bn_gradient_sums(const float *restrict dz, const float *restrict x, size_t rows, size_t c,
                                   const float *restrict mean, const float *restrict inv, float *restrict s,
                                   float *restrict sx) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            size_t i = r * c + j;
            float xhat = (x[i] - mean[j]) * inv[j];
            s[j] += dz[i];
            sx[j] += dz[i] * xhat;
        }
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
