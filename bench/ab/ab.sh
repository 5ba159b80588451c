#!/usr/bin/env bash
# One command for the A/B against the Linux kernel (bench/README.md):
# installs what it needs (nginx, wrk, gnuplot), builds Tern if needed, then
# runs bench/ab/ab.py (options pass through: --runs, --time, --out, --only, --skip).
#   bench/ab/ab.sh                      (as root; about 10 minutes with the defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."
# --bench: also nginx and gnuplot-nox (setup.sh's BENCH_PACKAGES; wrk is in its PACKAGES).
./dpdk-env/setup.sh --bench >/dev/null
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build apps/perf/tern-perf apps/tern-httpd bench/ab/tern-pair >/dev/null
exec python3 bench/ab/ab.py --build build "$@"
