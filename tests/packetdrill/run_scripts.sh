#!/usr/bin/env bash
# Runs packetdrill scripts against Tern's TCP engine through the front end
# (tern_packetdrill.so, README.md): every script in tests/packetdrill/scripts,
# or the ones named, each under a timeout, and reports pass/fail per script.
#   tests/packetdrill/run_scripts.sh [SCRIPT.pkt...]
# Environment:
#   TERN_BUILD=DIR           the meson build directory (default: build)
#   PACKETDRILL=PATH         a packetdrill binary built with -fPIC; without it,
#                            packetdrill is built from PACKETDRILL_TARBALL
#                            (default: ../shared/third_party/packetdrill.tar.gz
#                            beside the repository) into $TERN_BUILD/packetdrill-tool,
#                            and the step is skipped, saying so, when that file is absent
#   TERN_PD_TIMEOUT=SECONDS  per script (default 30): packetdrill's so-mode waits
#                            forever for a packet that does not come
#   TERN_PD_FLAGS=...        extra packetdrill options
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${TERN_BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
tarball=${PACKETDRILL_TARBALL:-$root/../shared/third_party/packetdrill.tar.gz}
per_script=${TERN_PD_TIMEOUT:-30}

pd=${PACKETDRILL:-}
if [ -z "$pd" ]; then
  if [ ! -f "$tarball" ]; then
    echo "packetdrill: $tarball not found: packetdrill scripts skipped"
    exit 0
  fi
  tool=$build/packetdrill-tool
  src=$tool/packetdrill/gtests/net/packetdrill
  pd=$src/packetdrill
  # Rebuilt when the tarball is newer than the binary. -fPIC: one copy of
  # optind, which the EAL inside the module parses its arguments with.
  if [ ! -x "$pd" ] || [ "$tarball" -nt "$pd" ]; then
    echo "packetdrill: building from $tarball"
    rm -rf "$tool"
    mkdir -p "$tool"
    tar xzf "$tarball" -C "$tool" || exit 1
    if ! (cd "$src" && ./configure >"$tool/build.log" 2>&1 &&
      make packetdrill packetdrill-extra-cflags=-fPIC >>"$tool/build.log" 2>&1); then
      tail -n 20 "$tool/build.log"
      echo "packetdrill: build failed (needs gcc, make, bison, flex: dpdk-env/setup.sh)"
      exit 1
    fi
  fi
fi

so=$build/tests/packetdrill/tern_packetdrill.so
if ! ninja -C "$build" tests/packetdrill/tern_packetdrill.so >/dev/null; then
  echo "packetdrill: building $so failed"
  exit 1
fi

if [ $# -gt 0 ]; then
  scripts=("$@")
else
  scripts=("$root"/tests/packetdrill/scripts/*.pkt)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0
for s in "${scripts[@]}"; do
  name=${s#"$root"/}
  # Addresses: the module's default local address, and a remote one from
  # the benchmarking range (RFC 2544), nothing that reaches a real network.
  # Tolerance: the clock is virtual, so timers fire exactly at the engine's
  # 1 ms ticks; 2 ms (not packetdrill's 4 ms + 12.5 %) keeps timing checks sharp.
  # shellcheck disable=SC2086
  timeout -k 5 "$per_script" "$pd" --so_filename="$so" --local_ip=192.168.0.1 --remote_ip=198.18.0.2 \
    --tolerance_usecs=2000 --tolerance_percent=0 ${TERN_PD_FLAGS:-} "$s" >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "pass  $name"
  else
    failed=$((failed + 1))
    [ $rc -eq 124 ] && echo "FAIL  $name (timed out after $per_script s)" || echo "FAIL  $name (exit $rc)"
    sed 's/^/      /' "$log" | tail -n 30
  fi
done
echo "packetdrill: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
