#!/usr/bin/env bash
# Installs the Debian packages the project builds, tests and trains with, skipping those already present.
#   launch/install-packages.sh          what building and training need
#   launch/install-packages.sh --test   also what the tests need: a throwaway Slurm cluster with accounting
#                                       (launch/testing/slurm-local-cluster.sh): Slurm, munge, slurmdbd, MariaDB;
#                                       and TensorBoard's reader, in a virtualenv outside the repository
#                                       ($VAE_TEST_VENV, default ~/.cache/swift-vae/test-venv), from PyPI
set -euo pipefail
packages=(pkg-config libopenblas-dev libdnnl-dev zlib1g-dev libturbojpeg0-dev libpng-dev libopenmpi-dev openmpi-bin dataset-fashion-mnist gzip iproute2 procps)
# slurmdbd and MariaDB only so that sacct can tell how a job ended. The script runs a mariadbd and a
# slurmdbd of its own, on ports of its own, so the services these packages install are not needed: in a
# container policy-rc.d keeps them stopped; under systemd the host's MariaDB starts on 3306 (slurmdbd
# has no /etc/slurm/slurmdbd.conf to run with), which the script leaves alone; systemctl disable --now
# mariadb stops it for good.
test_packages=(slurm-wlm munge slurmdbd mariadb-server mariadb-client python3-venv)
case ${1:-} in
  "") ;;
  --test) packages+=("${test_packages[@]}") ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if [[ ${1:-} == --test ]]; then
  # The TensorBoard test reads the event files with TensorBoard's own reader; Debian's python3, not a pyenv shim.
  venv=${VAE_TEST_VENV:-$HOME/.cache/swift-vae/test-venv}
  if ! "$venv/bin/python" -c "import tensorboard" 2>/dev/null; then
    echo "installing tensorboard into $venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check tensorboard
  fi
fi
