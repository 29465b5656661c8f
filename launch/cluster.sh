#!/usr/bin/env bash
# `vae train` across the hosts of an Open MPI hostfile, over TCP by default.
#   launch/cluster.sh HOSTFILE N --config configs/fashion-mnist.yaml [vae train arguments...]
# The hostfile lists one host per line with its slots ("node1 slots=16"). Every host needs the same
# build at the same path (a shared file system, or the repository cloned and built alike on each) and
# the data file at the path the config names.
# Environment:
#   VAE_BTL    Open MPI's byte transfer layers (default tcp,self,vader: TCP between hosts, shared memory
#              within one). A site with InfiniBand sets what it prefers, e.g. VAE_BTL=^tcp with UCX.
#   VAE_IFACE  restrict TCP to a network, e.g. VAE_IFACE=10.0.0.0/16 or VAE_IFACE=eth1
set -euo pipefail
cd "$(dirname "$0")/.."
hostfile=${1:?usage: launch/cluster.sh HOSTFILE N vae-train-arguments...}
ranks=${2:?usage: launch/cluster.sh HOSTFILE N vae-train-arguments...}
shift 2
# --map-by core fills a host's cores before the next host: its ranks are side by side, so the allreduce's
# first rounds (partners 1, 2, 4 … apart) stay in shared memory and only the last cross the network.
options=(--hostfile "$hostfile" -np "$ranks" --map-by core --bind-to core --mca btl "${VAE_BTL:-tcp,self,vader}")
if [[ -n ${VAE_IFACE:-} ]]; then options+=(--mca btl_tcp_if_include "$VAE_IFACE" --mca oob_tcp_if_include "$VAE_IFACE"); fi
# Remote ranks get the launching shell's view of these; mpirun does not forward the environment by itself.
for variable in PATH LD_LIBRARY_PATH OPENBLAS_NUM_THREADS OMP_NUM_THREADS OPENBLAS_CORETYPE VAE_CONV_BACKEND VAE_FAIL_AT_STEP; do
  [[ -n ${!variable:-} ]] && options+=(-x "$variable")
done
[[ $(id -u) -eq 0 ]] && options+=(--allow-run-as-root)
exec mpirun "${options[@]}" "$PWD/.build/release/vae" train "$@"
