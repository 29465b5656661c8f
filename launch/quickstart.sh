#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (with the Swift toolchain) and trains the default VAE on Fashion-MNIST
# across 2 local MPI ranks.
#   launch/quickstart.sh [EPOCHS]      (default 5; configs/fashion-mnist.yaml itself keeps the book's 200)
# Installs the Debian packages that are missing, builds in release, and trains; output goes to runs/quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-5}

launch/install-packages.sh
swift build -c release --product vae
launch/local.sh 2 --config configs/fashion-mnist.yaml --set training.epochs="$epochs" --out runs/quickstart
