#include "vae_kernels.h"
#include "versions.h"

// Columns j0 ..< j0 + W summed down every row in order, in registers: W is a constant, so the compiler keeps
// the W sums in vector registers instead of storing them after every row.
#define COLUMN_BLOCK(W)                                                                                        \
    static inline __attribute__((always_inline)) void column_block_##W(const float *restrict x, size_t rows,     \
                                                                       size_t c, size_t j0, float *restrict sum) { \
        float acc[W];                                                                                          \
        for (size_t j = 0; j < W; j++) acc[j] = sum[j0 + j];                                                   \
        for (size_t r = 0; r < rows; r++)                                                                      \
            for (size_t j = 0; j < W; j++) acc[j] += x[r * c + j0 + j];                                        \
        for (size_t j = 0; j < W; j++) sum[j0 + j] = acc[j];                                                   \
    }
COLUMN_BLOCK(64)
COLUMN_BLOCK(16)
COLUMN_BLOCK(4)
COLUMN_BLOCK(1)

VERSIONS void vae_column_sums(const float *restrict x, size_t rows, size_t c, float *restrict sum) {
    size_t j = 0;
    for (; j + 64 <= c; j += 64) column_block_64(x, rows, c, j, sum);
    for (; j + 16 <= c; j += 16) column_block_16(x, rows, c, j, sum);
    for (; j + 4 <= c; j += 4) column_block_4(x, rows, c, j, sum);
    for (; j < c; j++) column_block_1(x, rows, c, j, sum);
}

VERSIONS void vae_add_bias(const float *restrict bias, float *restrict x, size_t rows, size_t c) {
    if (c >= 16) {
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < c; j++) x[r * c + j] += bias[j];
        return;
    }
    // Narrow rows (an RGB output has 3 channels): 16 rows at a time against the bias repeated 16 times.
    float pattern[16 * 16];
    size_t width = 16 * c, r = 0;
    for (size_t k = 0; k < width; k++) pattern[k] = bias[k % c];
    for (; r + 16 <= rows; r += 16)
        for (size_t k = 0; k < width; k++) x[r * c + k] += pattern[k];
    for (size_t k = r * c; k < rows * c; k++) x[k] += bias[k % c];
}
