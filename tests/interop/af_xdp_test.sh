#!/usr/bin/env bash
# Interop: what Tern on net_af_xdp over a veth needed fixing (issue 16,
# docs/ports.md), each check able to fail on the bug it guards.
#   af_xdp_test.sh af_xdp BUILD_DIR
# (1) Start-up: a missing interface, more workers than the veth's one queue,
#     a pool too small for the fill ring: each refused with its own message
#     before the PMD's bare "failed to initialize".
# (2) Kernel client -> Tern server, rr for 2 s: every segment Tern sent has
#     a good checksum (the kernel's TcpInCsumErrors stays 0; DPDK 22.11's
#     PMD sent a header mbuf's stale bytes instead of the payload chained to
#     it, and each such segment waited for Tern's retransmission timeout).
# (3) Tern client -> kernel server, bulk for 2 s (more frames than the pool
#     holds): the transfer completes and the server counts every byte Tern
#     sent (the PMD's UMEM left the pool's last mbufs out, and the sender
#     stalled for good after ~11,000 frames).
# Skips (exit 77) where the kernel or DPDK cannot run AF_XDP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init afxdp "$@"
[ "$mode" = af_xdp ] || { echo "af_xdp_test.sh: af_xdp only"; exit 2; }

port=5201
perf="$build/apps/perf/tern-perf"
[ -x "$perf" ] || { echo "no $perf: build apps/perf/tern-perf first"; exit 2; }
interop_setup "$mode" q 10.83

# ---- (1) start-up errors ----
# refused EXPECTED DEVICE LCORES MBUFS: tern-perf --server must exit non-zero
# at start-up, saying EXPECTED.
refused() {
  local expected=$1 dev=$2 lcores=$3 mbufs=$4 rc=0
  interop_write_config 256 "$mbufs"
  sed -i "s|^device = .*|device = \"$dev\"|; s|^lcores = .*|lcores = [$lcores]|" "$work/tern.toml"
  timeout 30 ip netns exec "$ns_tern" "$perf" --config "$work/tern.toml" --server --port "$port" \
    >"$work/refused.log" 2>&1 || rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "started (exit $rc) with $dev, lcores [$lcores], $mbufs mbufs"
  grep -q -- "$expected" "$work/refused.log" ||
    fail "no '$expected' in: $(grep -v '^EAL' "$work/refused.log" | tail -3)"
  echo "refused: $(grep -m1 -- "$expected" "$work/refused.log")"
}
refused "no interface named 'nosuch0'" "net_af_xdp0,iface=nosuch0" 0 8191
refused "1 combined channel(s)" "$device" "0, 1" 8191
refused "mbufs_per_worker = 3000 is too few" "$device" 0 3000

nstat_peer() { ip netns exec "$peer_ns" nstat -az "$1" | awk -v k="$1" '$1 == k {print $2}'; }
# last_json LOG: tern-perf's JSON line (libxdp may log after it at exit).
last_json() { grep '^{' "$1" | tail -1; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], 0))" "$1" "$2"; }

# ---- (2) kernel client -> Tern server ----
interop_write_config 512 16383
interop_start_tern perf/tern-perf --server --port "$port" --json
# The start-up summary's port and offloads lines (the log only: not a check).
grep -E "^ +(port|offloads) " "$work/tern.log" || true
csum0=$(nstat_peer TcpInCsumErrors)
timeout 30 ip netns exec "$peer_ns" "$perf" --kernel --client "$tern_ip" --port "$port" --mode rr \
  --connections 4 --time 2 --interval 0 --json >"$work/rr.log" 2>&1 || fail "kernel rr client: $(tail -3 "$work/rr.log")"
rr=$(last_json "$work/rr.log")
csum=$(($(nstat_peer TcpInCsumErrors) - csum0))
echo "kernel -> tern rr: $(field "$rr" transactions) transactions, p50 $(field "$rr" p50_us) us," \
  "p99.9 $(field "$rr" p999_us) us; kernel TcpInCsumErrors +$csum"
[ "$(field "$rr" errors)" = 0 ] && [ "$(field "$rr" transactions)" -gt 0 ] || fail "rr: $rr"
[ "$csum" = 0 ] || fail "the kernel dropped $csum segments from Tern with a bad checksum"
kill -USR1 "$tern_pid"
tern_wait_for "Tern's counters" 10 grep -q "^--- tern counters" "$work/tern.log" || fail "no counters on SIGUSR1"
# Shown, not checked: on a shared machine a descheduled client can earn a
# loss probe without any loss.
echo "tern: RetransSegs $(sed -n '/^--- tern counters/,/^--- worker/p' "$work/tern.log" |
  awk '$1 == "RetransSegs" {print $2}' | grep . || echo 0)"
interop_stop_tern

# ---- (3) Tern client -> kernel server ----
ip netns exec "$peer_ns" "$perf" --kernel --server --port "$port" --json --ready-file "$work/kready" \
  >"$work/kserver.log" 2>&1 &
kserver_pid=$!
TERN_PIDS+=("$kserver_pid")
tern_wait_for "the kernel server to listen" 10 test -f "$work/kready" || fail "kernel server did not start"
interop_write_config 512 16383
interop_start_tern perf/tern-perf --client "$peer_ip" --port "$port" --mode bulk --connections 2 --time 2 \
  --interval 0 --json
tern_wait_for "the Tern bulk client to finish" 30 eval '! kill -0 "$tern_pid"' || fail "the bulk client hangs"
p=$tern_pid
tern_pid=
wait "$p" || fail "the Tern bulk client failed: $(grep -v '^[A-Za-z.]* [0-9]*$' "$work/tern.log" | tail -5)"
bulk=$(last_json "$work/tern.log")
kill -INT "$kserver_pid"
tern_wait_for "the kernel server to exit" 10 eval '! kill -0 "$kserver_pid"' || fail "the kernel server ignored SIGINT"
wait "$kserver_pid" || fail "the kernel server failed: $(tail -3 "$work/kserver.log")"
ks=$(last_json "$work/kserver.log")
sent=$(field "$bulk" sent_bytes)
echo "tern -> kernel bulk: $(field "$bulk" gbps) Gbit/s, $sent bytes sent, the kernel server got $(field "$ks" bytes);" \
  "$(grep -o '[0-9]* mbufs withheld' "$work/tern.log" | head -1 || echo 'no mbufs withheld')"
[ "$(field "$bulk" errors)" = 0 ] || fail "bulk: $bulk"
[ "$sent" -gt $((16383 * 1448)) ] || fail "bulk sent only $sent bytes: fewer frames than the pool holds"
[ "$(field "$ks" bytes)" = "$sent" ] || fail "the kernel server got $(field "$ks" bytes) of $sent bytes"
echo "PASS [$mode] in $SECONDS s"
