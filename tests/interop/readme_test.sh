#!/usr/bin/env bash
# README.md's "Running Tern yourself" block, run as written (issue 14): the
# lines between its markers, unindented, under `bash -e`, then each step's
# evidence in the output: the ping answered, telemetry's /tern/stats, the
# counters printed on SIGUSR1 and at exit, tern-httpd's page, the namespace
# gone. The block uses fixed names (namespace tern-try, tap tern0, prefix
# tern, /tmp files), so it runs in a private mount namespace with its own
# /run/netns, /run/dpdk, /tmp and hugetlbfs instance: nothing it creates
# can meet another run's or a user's.
#   readme_test.sh SOURCE_ROOT BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d "$build/readme-test.XXXXXX")  # not under /tmp: the block gets its own /tmp
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*"
  sed 's/^/  | /' "$work/out" 2>/dev/null | tail -60
  exit 1
}

sed -n '/<!-- running-tern-yourself:begin -->/,/<!-- running-tern-yourself:end -->/p' "$src/README.md" |
  sed -e '1d' -e '$d' -e 's/^    //' >"$work/block.sh"
[ "$(grep -c . "$work/block.sh")" -ge 10 ] || fail "no block between the markers in README.md"
echo "--- README.md's block:"
cat "$work/block.sh"
ln -s "$build" "$work/build"
ln -s "$src/config" "$work/config"

rc=0
unshare -m bash -c '
  set -e
  mkdir -p /run/netns /run/dpdk
  mount -t tmpfs tmpfs /run/netns
  mount -t tmpfs tmpfs /run/dpdk
  mount -t tmpfs tmpfs /tmp
  mount -t hugetlbfs nodev /dev/hugepages
  cd "$1"
  exec timeout 90 bash -e -x block.sh' readme "$work" >"$work/out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "the block exited $rc"
grep -q "3 packets transmitted, 3 received" "$work/out" || fail "the ping was not answered"
grep -q '"/tern/stats": {.*"RxPackets"' "$work/out" || fail "no /tern/stats from dpdk-telemetry.py"
grep -q "Local Address\|no connections\|State" "$work/out" || fail "no tern-stat listing"
[ "$(grep -c "^--- tern counters" "$work/out")" -ge 3 ] ||
  fail "counters not printed on SIGUSR1 and at each exit"
grep -q "^tern-node: Tern .* on DPDK" "$work/out" || fail "no start-up summary"
# DPDK's start-up noise stays hidden at log_level = "info" (lib/runtime/eal_log.cc).
! grep -E "^EAL: Detected|multiq qdisc|rt-signals are in use|Rx trigger|Disabling rte flow|rte_ip_frag_table_create" \
  "$work/out" || fail "DPDK's start-up lines above were not hidden"
grep -q "^hello from tern-httpd$" "$work/out" || fail "tern-httpd did not serve the page"
! ip netns list | grep -q "^tern-try" || fail "tern-try left behind"
echo "PASS: README.md's Running Tern yourself block, as written: $(grep -c '^+ ' "$work/out") commands"
