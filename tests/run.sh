#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: set-up, a check that
# every command the project runs comes from a package setup.sh installs (or
# Debian's essential set), build, format check, unit + simulator tests, the
# same under ASan+UBSan, interop with the Linux kernel (tap and af_packet,
# 2 workers), packetdrill scripts (built from ../shared/third_party when
# there), each fuzzer briefly, and each micro-benchmark once (no timing
# is judged).
#   tests/run.sh            (TERN_FUZZ_SECONDS=N to fuzz longer; default 5)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
passed=0
failed=0
failures=()
suite_t0=$SECONDS  # CI allows 90 minutes; the suite should stay under 40 on 2 cores
step() {  # step NAME COMMAND...
  local name=$1 t0=$SECONDS
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== done: $name ($((SECONDS - t0)) s; $((SECONDS - suite_t0)) s since the start)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== FAILED: $name ($((SECONDS - t0)) s)"
  fi
}
setup_dir() {  # setup_dir DIR [meson options...]
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null; else meson setup "$dir" "$@" >/dev/null; fi
}

./dpdk-env/setup.sh || { echo "set-up failed"; exit 1; }
step "commands (each from setup.sh's packages or Debian's essential set)" ./tests/check_commands.sh
step "format" ./tests/check_format.sh
step "build" bash -c "$(declare -f setup_dir); setup_dir build && ninja -C build"
step "unit+sim" meson test -C build --suite unit --suite sim --print-errorlogs
step "asan build" bash -c "$(declare -f setup_dir); setup_dir build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false && ninja -C build-asan"
step "unit+sim (ASan+UBSan)" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --suite sim --print-errorlogs
step "interop (Linux kernel peer)" meson test -C build --suite interop --print-errorlogs
# packetdrill scripts against the engine (tests/packetdrill/README.md); says
# "skipped" when ../shared/third_party/packetdrill.tar.gz is absent.
step "packetdrill scripts" tests/packetdrill/run_scripts.sh
if [ -x tests/fuzz/run_fuzzers.sh ]; then
  step "fuzzers (${TERN_FUZZ_SECONDS:-5} s each)" tests/fuzz/run_fuzzers.sh "${TERN_FUZZ_SECONDS:-5}"
fi
run_benches() {
  local b ok=0
  for b in build/bench/micro/*_bench; do
    [ -x "$b" ] || continue
    echo "--- $b"
    "$b" --benchmark_min_time=0.01 | tail -n +4 || ok=1
  done
  return $ok
}
step "micro-benchmarks (run once, not judged)" run_benches

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed step: %s\n' "${failures[@]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
