#!/usr/bin/env bash
# Installs every Debian package receptive needs on a fresh Debian 12 machine.
# Idempotent: when everything is present it prints nothing and touches no package list.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  clang
  libeigen3-dev libtbb-dev libboost-graph-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  catch2 libbenchmark-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev zlib1g-dev libdnnl-dev
  openmpi-bin libopenmpi-dev
  python3-numpy
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
