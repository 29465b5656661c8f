#!/usr/bin/env bash
# N ranks of `vae train` on this machine, one core each.
#   launch/local.sh N --config configs/fashion-mnist.yaml [--set key=value]... [--out DIR] [--resume [PATH]]
# Ranks are bound to cores; with more ranks than cores they are oversubscribed and left unbound.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${1:?usage: launch/local.sh N vae-train-arguments...}
shift
options=(-np "$ranks")
if (( ranks > $(nproc) )); then options+=(--oversubscribe --bind-to none); else options+=(--bind-to core); fi
[[ $(id -u) -eq 0 ]] && options+=(--allow-run-as-root)
exec mpirun "${options[@]}" .build/release/vae train "$@"
