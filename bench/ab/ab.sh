#!/usr/bin/env bash
# One command for the A/B against the Linux kernel (bench/README.md):
# installs what it needs (dpdk-env/setup.sh --bench: nginx, sockperf, iperf3,
# gnuplot; wrk and ethtool are in its main list), builds Tern if needed, then
# runs bench/ab/ab.py (options pass through: --runs, --time, --out, --only,
# --workers, --oversubscribe, --skip). ab.py checks its prerequisites itself
# and names what is missing.
#   bench/ab/ab.sh                      (as root; about 10 minutes with the defaults)
#   BUILD_DIR=build-release bench/ab/ab.sh    (the release + LTO build: bench/build_release.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
# It starts and stops only its own processes: the servers ab.py runs (each in
# its own process group, tracked and stopped by ab.py), never a user's
# (dpdk-env/setup.sh stops only the nginx its own install started).
if ! ./dpdk-env/setup.sh --bench; then
  echo "ab.sh: dpdk-env/setup.sh --bench failed; going on (ab.py says what is missing)" >&2
fi
build=${BUILD_DIR:-build}
# Only the default `build` is set up here: another name not set up yet is
# most likely the release build, which bench/build_release.sh sets up
# (setting it up here would give a default build under that name).
if [ ! -f "$build/build.ninja" ]; then
  if [ "$build" != build ]; then
    echo "ab.sh: $build is not set up; for the release build run bench/build_release.sh $build first" >&2
    exit 2
  fi
  meson setup build
fi
# The build's output shows (warnings, errors); a failed build stops here.
ninja -C "$build" apps/perf/tern-perf apps/tern-httpd bench/ab/tern-pair ||
  { echo "ab.sh: the build failed (above)" >&2; exit 1; }
exec python3 bench/ab/ab.py --build "$build" "$@"
