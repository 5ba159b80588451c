#!/usr/bin/env bash
# Idempotent set-up for building, testing and running Tern on Debian 12:
# installs every package the project needs, reserves hugepages and mounts a
# hugetlbfs. Safe to run again; it only does what is missing.
#   dpdk-env/setup.sh [--no-huge]      (TERN_HUGEPAGES=N overrides the 2 MiB page count, default 1024)
set -euo pipefail

PACKAGES=(
  build-essential g++ clang libclang-rt-14-dev clang-format clang-tidy
  meson ninja-build pkg-config python3 python3-pyelftools
  libdpdk-dev dpdk dpdk-dev
  libabsl-dev libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 iputils-ping tshark curl wget procps xxd wrk apache2-utils
)

log() { echo "dpdk-env: $*"; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "all packages present"
fi

if [ "${1:-}" = "--no-huge" ]; then
  log "hugepages not requested: run Tern with [eal] no_huge = true (dpdk-dumpcap needs hugepages)"
  exit 0
fi
want=${TERN_HUGEPAGES:-1024}
have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$have" -lt "$want" ]; then
  echo "$want" | $SUDO tee /proc/sys/vm/nr_hugepages >/dev/null 2>&1 || true
  have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
fi
if ! mount | grep -q "type hugetlbfs"; then
  $SUDO mkdir -p /dev/hugepages
  $SUDO mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi
if [ "$have" -gt 0 ] && mount | grep -q "type hugetlbfs"; then
  log "hugepages: $have x 2 MiB reserved, hugetlbfs mounted"
else
  log "hugepages unavailable here: falling back to --no-huge ([eal] no_huge = true); dpdk-dumpcap will not work"
  exit 0
fi
