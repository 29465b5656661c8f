#!/usr/bin/env bash
# Side by side, one after another on the same machine: this trainer, Keras/TensorFlow and PyTorch on the
# same data and settings (batch 32 per rank, z 2, 20,000 Fashion-MNIST images, 20 warm-up + 200 timed
# steps), on 1 core and on 2 (ours with overlapped buckets and with one fused allreduce). Prints one JSON
# line per run.
#   TF_PYTHON=/path/to/venv-tf/bin/python TORCH_PYTHON=/path/to/venv-torch/bin/python launch/bench-peers.sh
# The peers are launch/peers/{keras,torch}_vae.py (PEERS_DIR picks others); install tensorflow-cpu and
# torch in virtualenvs outside the repository, as launch/peers/README.md shows. A peer whose Python is
# missing is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
peers=${PEERS_DIR:-launch/peers}
tf=${TF_PYTHON:-python3}
torch=${TORCH_PYTHON:-python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
swift build -c release >/dev/null

run() { echo "# $*" >&2; "$@" 2>/dev/null | grep '^{' || echo "{\"skipped\": \"$*\"}"; }
# The peers print no memory or start-up figures: GNU time adds the largest process's peak RSS and the
# whole run's wall time (imports and data loading included) to their line.
usage=$(mktemp); trap 'rm -f "$usage"' EXIT
peer() {
  [ -x /usr/bin/time ] || { run "$@"; return; }
  line=$(run /usr/bin/time -f '%M %e' -o "$usage" "$@")
  case $line in *skipped*) echo "$line"; return ;; esac
  read -r rss wall < <(tail -n 1 "$usage")
  echo "${line%\}}, \"peak_rss_mb\": $((rss / 1024)), \"wall_s\": $wall}"
}
for repeat in 1 2; do
  run env OPENBLAS_NUM_THREADS=1 .build/release/vae bench
  peer "$tf" "$peers/keras_vae.py" --threads 1
  peer "$torch" "$peers/torch_vae.py" --threads 1
  run mpirun -np 2 --bind-to core .build/release/vae bench
  run mpirun -np 2 --bind-to core .build/release/vae bench --set allreduce.overlap=false
  peer "$tf" "$peers/keras_vae.py" --threads 2
  peer "$torch" "$peers/torch_vae.py" --ranks 2 --threads 1
done
