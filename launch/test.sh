#!/usr/bin/env bash
# Runs every test: the unit tests in the debug build, the end-to-end tests on the release `vae` (and the
# test-only `vae-fault-injection` beside it), which is what users run and several times faster under mpirun.
# Arguments go to `swift test` (--filter NAME, say). docs/testing.md says what runs and how long it takes.
#   VAE_AVX2_ONLY=1 launch/test.sh    the same on the AVX2 code path on any machine: oneDNN held to AVX2
#                                     (ONEDNN_MAX_CPU_ISA) and our kernels built without their AVX-512
#                                     versions, into .build/avx2
set -euo pipefail
cd "$(dirname "$0")/.."
flags=()
if [[ ${VAE_AVX2_ONLY:-0} == 1 ]]; then
  export ONEDNN_MAX_CPU_ISA=AVX2
  flags=(-Xcc -DVAE_KERNELS_MAX_AVX2 --scratch-path .build/avx2)
fi
swift build "${flags[@]}" -c release --product vae
swift build "${flags[@]}" -c release --product vae-fault-injection
VAE_BINARY=$(swift build "${flags[@]}" -c release --show-bin-path)/vae swift test "${flags[@]}" "$@"
