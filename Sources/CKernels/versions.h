// What every kernel file includes first. VERSIONS builds a function for x86-64-v4 (AVX-512), v3 (AVX2,
// FMA) and baseline x86-64, and the dynamic loader picks the CPU's best (an ifunc). Floating-point
// contraction is off, so no version fuses a·b + c into one rounding: the bits never depend on the CPU.
// Built with -Xcc -DVAE_KERNELS_MAX_AVX2, no AVX-512 version is made: the AVX2 path on any machine, as
// ONEDNN_MAX_CPU_ISA=AVX2 is oneDNN's (VAE_AVX2_ONLY=1 launch/test.sh sets both).
#ifndef VAE_KERNELS_VERSIONS_H
#define VAE_KERNELS_VERSIONS_H

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#if defined(__x86_64__) && defined(VAE_KERNELS_MAX_AVX2)
#define VERSIONS __attribute__((target_clones("arch=x86-64-v3", "default")))
#elif defined(__x86_64__)
#define VERSIONS __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VERSIONS
#endif

#endif
