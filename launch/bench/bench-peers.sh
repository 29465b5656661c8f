#!/usr/bin/env bash
# Side by side, one after another on the same machine: this trainer, Keras/TensorFlow and PyTorch on the
# same data and settings, then every ratio docs/performance.md and the speed targets quote, from this one run.
#   TF_PYTHON=~/venv-tf/bin/python TORCH_PYTHON=~/venv-torch/bin/python launch/bench/bench-peers.sh [PASS...]
# PASS is any of (default: all three):
#   digits  batch 32 per rank, z 2, 20,000 Fashion-MNIST images, 20 warm-up + 200 timed steps, on 1 core
#           and on 2 (ours with overlapped buckets, with one fused allreduce, and as 1 process of 2 threads)
#   faces   configs/faces.yaml on synthetic 128×128×3 images, global batch 32, 5 warm-up + 40 timed
#           steps: 1 rank (Keras with 1 and 2 threads), 2 ranks of 16 images (ours, PyTorch DDP), and ours
#           on 1 rank at 16 images, the base of the scaling, two such runs at once that never communicate
#           (the machine's ceiling on scaling), and ours as 1 process of 2 threads
#   links   the faces model's 2 ranks of 16 images on two network-namespace hosts (launch/testing/namespace-hosts.sh, root) whose
#           links tc limits to 10 and 1 Gbit/s, fp32 and bf16 gradients
# Each run prints one JSON line, tagged "run"; the ratios follow, each with its target. Every pass runs
# twice and the ratios take each run's mean. The peers are launch/bench/peers/*.py (PEERS_DIR picks others);
# install tensorflow-cpu and torch in virtualenvs outside the repository, as launch/bench/peers/README.md shows.
# A peer whose Python is missing is skipped, and so are the ratios that need it.
set -uo pipefail
cd "$(dirname "$0")/../.."
peers=${PEERS_DIR:-launch/bench/peers}
tf=${TF_PYTHON:-python3}
torch=${TORCH_PYTHON:-python3}
passes=("$@")
((${#passes[@]})) || passes=(digits faces links)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
swift build -c release >/dev/null || exit 1
vae=.build/release/vae
lines=$(mktemp); usage=$(mktemp); trap 'rm -f "$lines" "$usage"' EXIT

# run LABEL COMMAND...: the command's JSON line, tagged with LABEL, on stdout and in $lines. The peers
# print no memory or start-up figures: for them (peer) GNU time adds the largest process's peak RSS and
# the whole run's wall time (imports and data loading included) to the line.
run() {
  local label=$1 line extra="" rss wall; shift
  echo "# $label: $*" >&2
  if [[ ${timed:-0} == 1 && -x /usr/bin/time ]]; then
    line=$(/usr/bin/time -f '%M %e' -o "$usage" "$@" 2>/dev/null | grep '^{' | tail -n 1)
    [[ -n $line ]] && read -r rss wall < <(tail -n 1 "$usage") && extra=", \"peak_rss_mb\": $((rss / 1024)), \"wall_s\": $wall"
  else
    line=$("$@" 2>/dev/null | grep '^{' | tail -n 1)
  fi
  [[ -n $line ]] || line='{"skipped": true}'
  line="{\"run\": \"$label\", ${line#\{}"
  echo "${line%\}}$extra}" | tee -a "$lines"
}
peer() { timed=1 run "$@"; }

# pair LABEL COMMAND...: two copies of a 1-rank command at once, on cores 0 and 1, that never communicate:
# the most two ranks could reach on this machine, sharing its caches and memory. The line's images/s is
# their sum.
pair() {
  local label=$1 both line; shift
  echo "# $label: taskset -c 0 and -c 1 at once: $*" >&2
  both=$({ taskset -c 0 "$@" 2>/dev/null & taskset -c 1 "$@" 2>/dev/null; wait; } | grep '^{')
  line=$(python3 -c 'import json, sys
runs = [json.loads(text) for text in sys.stdin]
print(json.dumps({"run": sys.argv[1], "images_per_s": round(sum(r["images_per_s"] for r in runs), 1),
                  "each": [r["images_per_s"] for r in runs]} if len(runs) == 2 else {"run": sys.argv[1], "skipped": True}))' "$label" <<< "$both")
  echo "$line" | tee -a "$lines"
}

faces=(--config configs/faces.yaml --synthetic --warmup 5 --steps 40)
facesPeer=(--warmup 5 --steps 40)
for repeat in 1 2; do
  for pass in "${passes[@]}"; do
    case $pass in
      digits)
        run digits-ours-1 "$vae" bench
        peer digits-keras-1 "$tf" "$peers/keras_vae.py" --threads 1
        peer digits-torch-1 "$torch" "$peers/torch_vae.py" --threads 1
        run digits-ours-2 mpirun -np 2 --bind-to core "$vae" bench
        run digits-ours-2-fused mpirun -np 2 --bind-to core "$vae" bench --set allreduce.overlap=false
        run digits-ours-1x2 env OPENBLAS_NUM_THREADS=2 "$vae" bench
        peer digits-keras-2 "$tf" "$peers/keras_vae.py" --threads 2
        peer digits-torch-ddp-2 "$torch" "$peers/torch_vae.py" --ranks 2 --threads 1 ;;
      faces)
        run faces-ours-1 "$vae" bench "${faces[@]}"
        run faces-ours-1-batch16 "$vae" bench "${faces[@]}" --batch-per-rank 16
        run faces-ours-2 mpirun -np 2 --bind-to core "$vae" bench "${faces[@]}" --batch-per-rank 16
        pair faces-ours-1-pair "$vae" bench "${faces[@]}" --batch-per-rank 16
        run faces-ours-1x2 env OPENBLAS_NUM_THREADS=2 "$vae" bench "${faces[@]}"
        peer faces-keras-1 "$tf" "$peers/keras_faces.py" --threads 1 "${facesPeer[@]}"
        peer faces-keras-2 "$tf" "$peers/keras_faces.py" --threads 2 "${facesPeer[@]}"
        peer faces-torch-1 "$torch" "$peers/torch_faces.py" --threads 1 "${facesPeer[@]}"
        peer faces-torch-ddp-2 "$torch" "$peers/torch_faces.py" --ranks 2 --threads 1 --batch 16 "${facesPeer[@]}" ;;
      links)
        [[ $(id -u) == 0 ]] || { echo "# links: needs root (network namespaces); skipped" >&2; continue; }
        # The 1-rank baseline of the scaling, beside the linked runs.
        run links-ours-1-batch16 "$vae" bench "${faces[@]}" --batch-per-rank 16
        for rate in 10gbit 1gbit; do
          for compression in none bf16; do
            run "links-$rate-$compression" env HOSTS_RATE=$rate HOSTS_TIMEOUT=600 launch/testing/namespace-hosts.sh \
              "$vae" bench "${faces[@]}" --batch-per-rank 16 --set allreduce.compression=$compression
          done
        done ;;
      *) echo "bench-peers.sh: unknown pass '$pass' (digits, faces, links)" >&2; exit 2 ;;
    esac
  done
done

echo
python3 - "$lines" <<'EOF'
import json, sys
from statistics import mean
runs = {}
for text in open(sys.argv[1]):
    line = json.loads(text)
    if "images_per_s" in line: runs.setdefault(line["run"], []).append(line)
speed = lambda label: mean(r["images_per_s"] for r in runs[label]) if label in runs else None
def ratio(what, top, bottom, target=None, scale=1.0, fmt="{:.2f}×"):
    a, b = speed(top), speed(bottom)
    if a is None or b is None: return print(f"{what}: not measured ({top if a is None else bottom} missing)")
    value = a / (b * scale)
    verdict = "" if target is None else f"   target ≥ {fmt.format(target)}: {'met' if value >= target else 'NOT met'}"
    base = f"{scale:g}·{b:.1f}" if scale != 1 else f"{b:.1f}"
    print(f"{what}: {fmt.format(value)}   ({a:.1f} / {base} images/s){verdict}")
pct = "{:.1%}"
print("ratios (mean images/s of each run's repeats):")
ratio("digits, 1 core, ours / Keras", "digits-ours-1", "digits-keras-1", 1.1)
ratio("digits, 1 core, ours / PyTorch", "digits-ours-1", "digits-torch-1")
ratio("digits, 2 cores, ours / Keras 2 threads", "digits-ours-2", "digits-keras-2")
ratio("digits, 2 cores, ours / PyTorch DDP", "digits-ours-2", "digits-torch-ddp-2")
ratio("digits, 1 process × 2 threads, ours / Keras 2 threads", "digits-ours-1x2", "digits-keras-2")
ratio("faces, 1 rank, ours / Keras 1 thread", "faces-ours-1", "faces-keras-1", 2.5)
ratio("faces, 1 rank, ours / PyTorch 1 thread", "faces-ours-1", "faces-torch-1")
ratio("faces, 2 ranks, ours / Keras 2 threads", "faces-ours-2", "faces-keras-2", 3.0)
ratio("faces, 2 ranks, ours / PyTorch DDP", "faces-ours-2", "faces-torch-ddp-2", 3.0)
ratio("faces, 1 process × 2 threads, ours / Keras 2 threads", "faces-ours-1x2", "faces-keras-2")
ratio("faces, scaling 1 → 2 ranks, shared memory", "faces-ours-2", "faces-ours-1-batch16", 0.95, 2, pct)
ratio("faces, two 1-rank runs at once, no communication (the machine's ceiling on scaling)", "faces-ours-1-pair",
      "faces-ours-1-batch16", None, 2, pct)
ratio("faces, 2 ranks / two 1-rank runs at once (what the allreduce and waiting cost)", "faces-ours-2",
      "faces-ours-1-pair", None, 1, pct)
for rate, target in (("10gbit", 0.95), ("1gbit", None)):
    ratio(f"faces, scaling 1 → 2 hosts at {rate}, fp32", f"links-{rate}-none", "links-ours-1-batch16", target, 2, pct)
ratio("faces, scaling 1 → 2 hosts at 1gbit, bf16", "links-1gbit-bf16", "links-ours-1-batch16", 0.80, 2, pct)
ratio("faces, scaling 1 → 2 hosts at 10gbit, bf16", "links-10gbit-bf16", "links-ours-1-batch16", None, 2, pct)
rss = [r["peak_rss_mb"] for label in ("faces-ours-1", "faces-ours-2") for r in runs.get(label, [])]
if rss: print(f"faces, peak RSS per rank: {max(rss):.0f} MB   target ≤ 350 MB: {'met' if max(rss) <= 350 else 'NOT met'}")
EOF
