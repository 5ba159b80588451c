#!/usr/bin/env bash
# Start-up errors in Tern's words (issue 14), table-driven: each case starts
# tern-node with one thing wrong and expects its exit status and a one-line
# message naming the key (af_packet: more queue pairs than workers). Then,
# with a first tern-node running on the port,
# a second one on the same interface (tap or af_packet) is refused and the
# first keeps its interface (same MAC), and a second one with the same
# file_prefix is refused.
#   startup_test.sh tap|af_packet BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init startup "$@"
interop_setup "$mode" u 10.88
node="$build/apps/tern-node"

# A config and a copy of tern-node that everyone can read (the non-root
# cases run as nobody; the build tree may sit under a private directory
# such as /root). tern-node links no library of the build tree.
chmod 755 "$work"
cp "$node" "$work/tern-node-copy"
chmod 755 "$work/tern-node-copy"
base_config() { # EXTRA_TOP_LEVEL_TOML -> stdout
  cat <<TOML
log_level = "info"
[eal]
file_prefix = "$prefix"
memory_mb = ${MEMORY_MB:-256}
[runtime]
lcores = [${LCORES:-0}]
mbufs_per_worker = 4095
[[port]]
name = "p0"
device = "${DEVICE:-$device}"
address = "$tern_ip/24"
TOML
}

# expect NAME STATUS PATTERN CONFIG_VARS -- COMMAND...: runs COMMAND (which
# reads $work/case.toml), wants exit STATUS and one stderr line matching PATTERN.
cases=0
expect() {
  local name=$1 want_rc=$2 pattern=$3 rc=0
  shift 3
  "$@" >"$work/case.out" 2>"$work/case.err" || rc=$?
  local lines
  lines=$(grep -c . "$work/case.err" || true)
  echo "$name: exit $rc: $(cat "$work/case.err")"
  [ "$rc" = "$want_rc" ] || fail "$name: exit $rc, expected $want_rc; stdout: $(tail -5 "$work/case.out")"
  grep -q -- "$pattern" "$work/case.err" || fail "$name: no '$pattern' in the message"
  [ "$lines" = 1 ] || fail "$name: $lines lines on stderr, expected one"
  ! grep -q "^EAL: \|rte_eal_init" "$work/case.out" "$work/case.err" || fail "$name: DPDK's words, not Tern's"
  cases=$((cases + 1))
}
run_node() { ip netns exec "$ns_tern" "$node" --config "$work/case.toml" "$@"; }
as_nobody() {
  ip netns exec "$ns_tern" setpriv --reuid=nobody --regid=nogroup --clear-groups "$work/tern-node-copy" \
    --config "$work/case.toml"
}
no_hugetlbfs() {
  # A private mount namespace without any hugetlbfs mount.
  unshare -m sh -c 'awk '\''$3 == "hugetlbfs" {print $2}'\'' /proc/mounts | while read -r d; do umount "$d"; done
    exec ip netns exec "$0" "$1" --config "$2"' "$ns_tern" "$node" "$work/case.toml"
}

if [ "$mode" = tap ]; then
  cpus=$(nproc --all)
  LCORES="0, $cpus" base_config >"$work/case.toml"
  expect "lcores beyond the machine" 1 "runtime.lcores = \[0, $cpus\]: lcore $cpus is not a CPU" run_node
  MEMORY_MB=65536 base_config >"$work/case.toml"
  expect "memory beyond the free hugepages" 1 "eal.memory_mb = 65536 but only [0-9]* MB of hugepages are free" run_node
  base_config >"$work/case.toml"
  chmod 644 "$work/case.toml"
  expect "not root" 1 "not running as root (uid [0-9]*): port p0 .* needs CAP_NET_ADMIN" as_nobody
  DEVICE=net_ring0 base_config >"$work/case.toml"
  expect "hugepages not writable" 1 "hugepages: .* is not writable by this user" as_nobody
  base_config >"$work/case.toml"
  expect "no hugetlbfs" 1 "eal.no_huge = false but no hugetlbfs is mounted" no_hugetlbfs
  expect "ready file in a missing directory" 2 "the directory $work/missing does not exist" \
    run_node --ready-file "$work/missing/ready"
fi

if [ "$mode" = af_packet ]; then
  # docs/ports.md: a queue pair no worker polls takes its share of the flows
  # from the kernel's fanout and nobody reads it (one worker here).
  DEVICE="$device,qpairs=2" base_config >"$work/case.toml"
  expect "more af_packet queue pairs than workers" 1 "qpairs=2 but Tern runs 1 queue(s), one per worker" run_node
fi

# A first Tern on the port; then a second on the same interface, and one with the same prefix.
interop_write_config 256 4095
interop_start_tern tern-node
mac_before=$(ip -n "$ns_tern" -o link show "$tern_if" | grep -o 'link/ether [0-9a-f:]*')
sed "s/^file_prefix = .*/file_prefix = \"${prefix}b\"/" "$work/tern.toml" >"$work/case.toml"
expect "second process on the same $mode interface" 1 \
  "interface $tern_if is in use by another Tern process (pid $tern_pid, tern-node)" run_node
if [ "$mode" = tap ]; then
  other="u2${TERN_NS_TAG}"
  sed "s/iface=$tern_if/iface=$other/" "$work/tern.toml" >"$work/case.toml"
  expect "file_prefix in use" 1 "eal.file_prefix = \"$prefix\" is in use by another DPDK process (pid $tern_pid, tern-node)" run_node
  ! ip -n "$ns_tern" link show "$other" >/dev/null 2>&1 || fail "the refused process created $other"
fi
kill -0 "$tern_pid" || fail "the first tern-node died"
mac_after=$(ip -n "$ns_tern" -o link show "$tern_if" | grep -o 'link/ether [0-9a-f:]*')
[ "$mac_before" = "$mac_after" ] || fail "the interface changed: $mac_before -> $mac_after"
interop_in_peer ping -c 1 -W 2 "$tern_ip" >/dev/null || fail "the first tern-node no longer answers ping"
interop_stop_tern
echo "PASS [$mode]: $cases start-up errors in Tern's words, the interface and the prefix of a running Tern refused"
