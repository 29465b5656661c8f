#!/usr/bin/env bash
# Installs the Debian packages the project builds, tests and trains with, skipping those already present.
set -euo pipefail
packages=(pkg-config libopenblas-dev libdnnl-dev zlib1g-dev libopenmpi-dev openmpi-bin dataset-fashion-mnist gzip iproute2 procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
