#!/usr/bin/env bash
# Idempotent set-up for building, testing and running Tern on Debian 12:
# installs every package the project needs, reserves hugepages and mounts a
# hugetlbfs. Safe to run again; it only does what is missing.
#   dpdk-env/setup.sh [--no-huge] [--bench]
#     --no-huge              packages only, no hugepages
#     --bench                also BENCH_PACKAGES (bench/ab/ab.sh passes it)
#     --list-packages        print PACKAGES, one a line, and exit
#     --list-bench-packages  print BENCH_PACKAGES, one a line, and exit
#   TERN_HUGEPAGES=N overrides the 2 MiB page count (default 1024).
# Every command a script, test, benchmark or doc of the project runs must come
# from a package listed here or from Debian's essential/required set (present
# even in a debootstrap minbase root): tests/check_commands.sh checks it.
set -euo pipefail

PACKAGES=(
  # build
  build-essential g++ clang libclang-rt-14-dev clang-format clang-tidy
  meson ninja-build pkg-config python3 python3-pyelftools git
  libdpdk-dev dpdk dpdk-dev
  libabsl-dev libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev
  # tests, demo and docs: namespaces, links and the kernel-side clients and captures
  iproute2 iputils-ping ethtool procps xxd curl wget wrk apache2-utils socat
  tshark wireshark-common tcpdump
  # tern-perf --plot draws with gnuplot; tests/interop/perf_test.sh checks it
  gnuplot-nox
  # tests/packetdrill/run_scripts.sh builds packetdrill from its source
  make bison flex
)
# Only for the A/B against the kernel (bench/ab/ab.sh): nginx starts a system
# server on install, which the tests do not want on every machine. (nginx-light
# is only a transitional package in Debian 12: nginx holds /usr/sbin/nginx.)
# valgrind: instruction counts of bench/micro/ir_per_segment.sh. sockperf and
# iperf3: the A/B's kernel side measured with the standard tools.
BENCH_PACKAGES=(nginx valgrind sockperf iperf3)

log() { echo "dpdk-env: $*"; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

huge=1
want_packages=("${PACKAGES[@]}")
for arg in "$@"; do
  case "$arg" in
    --no-huge) huge=0 ;;
    --bench) want_packages+=("${BENCH_PACKAGES[@]}") ;;
    --list-packages) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
    --list-bench-packages) printf '%s\n' "${BENCH_PACKAGES[@]}"; exit 0 ;;
    *) echo "usage: $0 [--no-huge] [--bench] [--list-packages] [--list-bench-packages]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  # nginx (--bench) starts a system nginx on install; the A/B runs its own,
  # pinned, in a namespace. Stop only the one the install started: the pid in
  # the package's pid file, when it was not running before (never a user's).
  nginx_before=$(cat /run/nginx.pid 2>/dev/null || true)
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [[ " ${missing[*]} " == *" nginx "* ]]; then
    nginx_pid=$(cat /run/nginx.pid 2>/dev/null || true)
    if [ -n "$nginx_pid" ] && [ "$nginx_pid" != "$nginx_before" ] &&
      [ "$(cat "/proc/$nginx_pid/comm" 2>/dev/null)" = nginx ]; then
      log "stopping the nginx the package started (pid $nginx_pid)"
      $SUDO kill -QUIT "$nginx_pid" 2>/dev/null || true
    fi
  fi
else
  log "all packages present"
fi

if [ "$huge" -eq 0 ]; then
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
