#include "vae_kernels.h"
#include "versions.h"

// Adam.swift's loop, evaluated as written there: left to right, no fused multiply-add, sqrt and division
// correctly rounded in every version, so the vector versions give the scalar loop's bits.
VERSIONS void vae_adam_apply(float *restrict p, float *restrict m, float *restrict v, const float *restrict g,
                             size_t count, float beta1, float beta2, float epsilon, float alpha) {
    const float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    for (size_t i = 0; i < count; i++) {
        const float gi = g[i];
        const float mi = beta1 * m[i] + a1 * gi;
        const float vi = beta2 * v[i] + a2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= alpha * mi / (__builtin_sqrtf(vi) + epsilon);
    }
}
