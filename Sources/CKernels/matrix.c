#include "vae_kernels.h"
#include "versions.h"
#include "column_blocks.h"

#define COLUMN_SUMS_BLOCK(W)                                                                                   \
    BLOCK_INLINE void column_sums_##W(size_t j0, const float *restrict x, size_t rows, size_t c,                \
                                      float *restrict sum) {                                                   \
        float acc[W];                                                                                          \
        for (size_t j = 0; j < W; j++) acc[j] = sum[j0 + j];                                                   \
        for (size_t r = 0; r < rows; r++)                                                                      \
            for (size_t j = 0; j < W; j++) acc[j] += x[r * c + j0 + j];                                        \
        for (size_t j = 0; j < W; j++) sum[j0 + j] = acc[j];                                                   \
    }
BLOCK_WIDTHS(COLUMN_SUMS_BLOCK)

VERSIONS void vae_column_sums(const float *restrict x, size_t rows, size_t c, float *restrict sum) {
    COLUMN_BLOCKS(column_sums, c, x, rows, c, sum);
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
