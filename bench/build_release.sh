#!/usr/bin/env bash
# The optimised build the benchmarks compare (issue 16): meson's release
# build type (-O3, NDEBUG) with link-time optimisation, in its own build
# directory, building only what the benchmarks run. The default build
# (`build`, debugoptimized: -O2 -g, no LTO) stays what tests/run.sh and CI
# build; LTO re-optimises the whole program at every link, which the 102
# test binaries would each pay (bench/fast_path/round_15.md, rel).
#
#   bench/build_release.sh [BUILD_DIR [TARGET...]]
#     BUILD_DIR  default build-release (set up if absent, else its options
#                are set again, so an older directory is brought in line)
#     TARGET     ninja targets; default tern-pair, tcp_bench, tern-perf and
#                tern-httpd (bench/ab, bench/micro, bench/loss/loss_bench.sh);
#                bench/loss/bridge_bench.sh also needs
#                bench/loss/tern-impair-bridge, bench/attack apps/tern-echo;
#                `all` for everything (tests too: slow, each links with LTO)
#   TERN_JOBS    parallel compiles and LTO partitions (default: nproc)
#
# Then give the directory to the benchmark scripts, e.g.
#   bench/ab/ir_per_transaction.sh build-release rr crr
#   bench/micro/ir_per_segment.sh build-release BM_TcpTxPureAck/0
#   BUILD_DIR=build-release bench/ab/ab.sh
#   bench/loss/loss_bench.sh build-release
#
# NDEBUG: TERN_CHECK (lib/base/check.h) still tests its condition, counts
# and logs; it only stops aborting. assert() goes; tern's asserts guard the
# library's own calls (output buffer sizes, Parsed::value() after ok()),
# never received bytes, which the parsers check in every build.
# -march: DPDK's pkg-config flags carry -march=corei7 and meson puts them
# after cpp_args, so `-Dcpp_args=-march=native` would not take effect; the
# binaries run on any x86-64 with SSE4.2, as the default build's do.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-release}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- bench/ab/tern-pair bench/micro/tcp_bench apps/perf/tern-perf apps/tern-httpd
jobs=${TERN_JOBS:-$(nproc)}
# -Dbench=true: a directory set up without the benchmarks (README's
# deployment build, -Dbench=false) has none of the default targets.
opts=(--buildtype=release -Db_lto=true -Db_lto_threads="$jobs" -Dbench=true)
if [ -f "$dir/build.ninja" ]; then
  meson configure "$dir" "${opts[@]}"
else
  meson setup "$dir" "${opts[@]}"
fi
ninja -C "$dir" -j "$jobs" "$@"
