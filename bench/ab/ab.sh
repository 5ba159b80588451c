#!/usr/bin/env bash
# One command for the A/B against the Linux kernel (bench/README.md):
# installs what it needs (dpdk-env/setup.sh --bench: nginx, sockperf, iperf3,
# gnuplot; wrk and ethtool are in its main list), builds Tern if needed, then
# runs bench/ab/ab.py (options pass through: --runs, --time, --out, --only,
# --skip). ab.py checks its prerequisites itself and names what is missing.
#   bench/ab/ab.sh                      (as root; about 10 minutes with the defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! ./dpdk-env/setup.sh --bench >/dev/null; then
  echo "ab.sh: dpdk-env/setup.sh --bench failed; going on (ab.py says what is missing)" >&2
fi
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build apps/perf/tern-perf apps/tern-httpd bench/ab/tern-pair >/dev/null
exec python3 bench/ab/ab.py --build build "$@"
