#!/usr/bin/env bash
# The cost model against measurement: the faces model, 16 images a rank, on 2 and 4 network-namespace hosts
# (launch/testing/namespace-hosts.sh, root) whose links tc shapes to 10 and 1 Gbit/s, floats and bf16. Each run prints
# its measured step beside the step `vae bench --link-gbit` predicts from that run's compute, then the error.
#   launch/bench/bench-scaling.sh [HOSTS...]     (default: 2 4)
# Every "host" shares this machine's cores: beyond one rank a core, the ranks take turns and the
# measurement says more about the machine than the link (see docs/distributed.md, *The cost model*).
set -uo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "bench-scaling.sh: needs root (network namespaces)" >&2; exit 2; }
hosts=("$@")
((${#hosts[@]})) || hosts=(2 4)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
swift build -c release >/dev/null || exit 1
faces=(.build/release/vae bench --config configs/faces.yaml --synthetic --warmup 5 --steps 40 --batch-per-rank 16)
echo "# 1 rank: $("${faces[@]}" | head -n 1)"
for count in "${hosts[@]}"; do
  for rate in 10gbit 1gbit; do
    for compression in none bf16; do
      lines=$(HOSTS=$count HOSTS_RATE=$rate HOSTS_TIMEOUT=600 launch/testing/namespace-hosts.sh --mca mpi_yield_when_idle 1 -- \
        "${faces[@]}" --set allreduce.compression=$compression --link-gbit "${rate%gbit}" 2>/dev/null | grep '^{')
      python3 - "$count" "$rate" "$compression" "$lines" <<'PY'
import json, sys
hosts, rate, compression, text = sys.argv[1:]
measured, predicted = (json.loads(line) for line in text.splitlines()[:2])
error = predicted["step_ms"] / measured["step_ms"] - 1
print(f"{hosts} hosts {rate:>6} {compression:>4}: measured {measured['step_ms']:7.1f} ms a step ({measured['images_per_s']:.0f} images/s, "
      f"sent {measured['sent_mb_per_step']:.1f} MB), predicted {predicted['step_ms']:7.1f} ms (comm {predicted['comm_ms']:.1f}): {error:+.1%}")
PY
    done
  done
done
