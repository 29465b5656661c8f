// Per-column sums down the rows of a rows × c matrix, kept in vector registers: a kernel defines its block
// for a constant width W (NAME##_W(j0, ...) works on columns j0 ..< j0 + W, every row in order), and
// COLUMN_BLOCKS calls the blocks over the columns, widest first. Without a constant width the compiler
// stores each column's sum after every row, and the sums wait on store-to-load forwarding.
#ifndef VAE_COLUMN_BLOCKS_H
#define VAE_COLUMN_BLOCKS_H

#define BLOCK_INLINE static inline __attribute__((always_inline))
#define BLOCK_WIDTHS(DEFINE) DEFINE(64) DEFINE(16) DEFINE(4) DEFINE(1)
#define COLUMN_BLOCKS(NAME, c, ...)                                        \
    do {                                                                   \
        size_t j0_ = 0;                                                    \
        for (; j0_ + 64 <= (c); j0_ += 64) NAME##_64(j0_, __VA_ARGS__);   \
        for (; j0_ + 16 <= (c); j0_ += 16) NAME##_16(j0_, __VA_ARGS__);   \
        for (; j0_ + 4 <= (c); j0_ += 4) NAME##_4(j0_, __VA_ARGS__);      \
        for (; j0_ < (c); j0_++) NAME##_1(j0_, __VA_ARGS__);              \
    } while (0)

#endif
