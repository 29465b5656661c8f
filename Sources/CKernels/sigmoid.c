#include <math.h>
#include <string.h>
#include "vae_kernels.h"
#include "versions.h"

// glibc 2.36's expf (sysdeps/ieee754/flt-32/e_expf.c, from ARM's optimized routines) as its FMA build
// (__expf_fma, which x86-64 CPUs with FMA run) computes it: e^x = 2^(k/32) · 2^(r/32) in double, the table
// holding 2^(i/32) less i/32 in the exponent. Written with the same fused multiply-adds, every version
// gives the bits of that expf for |x| < 88 (checked against it for all 2³² floats); beyond, and for NaN,
// the kernel calls expf itself.
static const uint64_t exp2_table[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b,
    0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb,
    0x3feedea64c123422, 0x3feece086061892d, 0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429,
    0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d, 0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};

static inline __attribute__((always_inline)) float exp_core(float x) {
    const double invln2n = 0x1.71547652b82fep+0 * 32, shift = 0x1.8p+52;
    const double c0 = 0x1.c6af84b912394p-5 / 32 / 32 / 32, c1 = 0x1.ebfce50fac4f3p-3 / 32 / 32,
                 c2 = 0x1.62e42ff0c52d6p-1 / 32;
    double xd = x;
    double z = fma(invln2n, xd, shift);
    uint64_t ki;
    memcpy(&ki, &z, sizeof ki);
    double kd = z - shift;
    double r = fma(invln2n, xd, -kd);
    uint64_t t = exp2_table[ki & 31] + (ki << 47);
    double s;
    memcpy(&s, &t, sizeof s);
    double p = fma(r, c0, c1), r2 = r * r, q = fma(r, c2, 1.0);
    return (float)(fma(p, r2, q) * s);
}

static inline int outside_core(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return ((bits >> 20) & 0x7ff) >= 0x42b;  // |x| ≥ 88, or not finite: expf's special cases
}

VERSIONS void vae_sigmoid(const float *restrict x, float *restrict y, size_t count) {
    for (size_t i = 0; i < count; i++) y[i] = 1.0f / (1.0f + exp_core(-x[i]));
    // Scalar, so that expf runs only where needed: vectorized, the loop would call it for every element.
#pragma clang loop vectorize(disable)
    for (size_t i = 0; i < count; i++)
        if (outside_core(-x[i])) y[i] = 1.0f / (1.0f + expf(-x[i]));
}
