#!/usr/bin/env bash
# Interop: tern-perf both ways between Tern (2 workers) and the Linux kernel
# in a network namespace, one wire protocol (apps/perf/perf_protocol.h).
#   perf_test.sh tap|af_packet|af_xdp BUILD_DIR
# (1) Tern as the client, against `tern-perf --kernel --server` on the kernel
#     side: bulk for 3 s, rr for 2 s, crr for 2 s.
# (2) The kernel client (`tern-perf --kernel --client`) against the Tern
#     server: the same three.
# Every run must exit 0 and its --json line report figures > 0 (Gbps,
# transactions/s and latency, connections/s) and 0 errors; both servers
# must count 0 errors too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init perf "$@"

port=5201
perf="$build/apps/perf/tern-perf"
[ -x "$perf" ] || { echo "no $perf: build apps/perf/tern-perf first"; exit 2; }
interop_setup "$mode" b 10.82
# crr leaves TIME-WAIT on the server (perf_protocol.h); bound it so a fast
# run never runs out of TCBs.
interop_write_config 512 16383 "[tcp]
max_connections = 32768
max_time_wait = 8192"

# check_json LOG NAME FIELD...: the last JSON line of LOG is tern-perf's; each
# FIELD must be > 0 and errors must be 0. Prints the figures.
check_json() {
  local log=$1 name=$2
  shift 2
  python3 - "$log" "$name" "$@" <<'PY' || fail "$name: $(tail -5 "$log")"
import json, sys
log, name, fields = sys.argv[1], sys.argv[2], sys.argv[3:]
# The last JSON line: libxdp (net_af_xdp) may log a line after it at exit.
r = json.loads([l for l in open(log).read().splitlines() if l.startswith("{")][-1])
bad = [f for f in fields if not r.get(f, 0) > 0]
if r.get("errors") != 0:
    bad.append("errors = %s" % r.get("errors"))
print("%-22s %s" % (name, "  ".join("%s %s" % (f, r.get(f)) for f in fields + ["errors"])))
if bad:
    print("  not as expected: %s" % ", ".join(bad))
    sys.exit(1)
PY
}

# ---- (1) Tern client, kernel server ----
# Not through interop_in_peer: $! must be the server itself (ip netns exec
# execs it), not a subshell that ignores SIGINT.
ip netns exec "$peer_ns" "$perf" --kernel --server --port "$port" --json --ready-file "$work/kready" \
  >"$work/kserver.log" 2>&1 &
kserver_pid=$!
TERN_PIDS+=("$kserver_pid")
tern_wait_for "the kernel server to listen" 10 test -f "$work/kready" || fail "kernel server did not start"

# tern_client MODE SECONDS EXTRA...: runs the Tern client to the end. It
# waits for $work/go, so that in tap mode the kernel side of the tap has its
# address before the first SYN.
tern_client() {
  local m=$1 t=$2
  shift 2
  rm -f "$work/go"
  interop_start_tern perf/tern-perf --client "$peer_ip" --port "$port" --mode "$m" --time "$t" \
    --start-file "$work/go" --json "$@"
  touch "$work/go"
  tern_wait_for "the Tern $m client to finish" $((t + 20)) eval '! kill -0 "$tern_pid"' ||
    fail "the Tern $m client did not finish"
  local p=$tern_pid
  tern_pid=
  wait "$p" || fail "the Tern $m client exited with status $?: $(grep -v '^[A-Za-z]* [0-9]*$' "$work/tern.log" | tail -20)"
  cp "$work/tern.log" "$work/tern-client-$m.log"
}

tern_client bulk 3 --connections 2
grep -E '^\[' "$work/tern-client-bulk.log" || true
check_json "$work/tern-client-bulk.log" "tern -> kernel bulk" gbps bytes
tern_client rr 2 --connections 4
check_json "$work/tern-client-rr.log" "tern -> kernel rr" transactions_per_s p50_us p99_us p999_us
tern_client crr 2 --connections 4
check_json "$work/tern-client-crr.log" "tern -> kernel crr" connections_per_s transactions_per_s p50_us

# A server that is not there: the Tern client reports the refusal and exits 1.
rm -f "$work/go"
interop_start_tern perf/tern-perf --client "$peer_ip" --port $((port + 1)) --mode rr --time 1 \
  --start-file "$work/go" --json
touch "$work/go"
tern_wait_for "the Tern client to give up" 20 eval '! kill -0 "$tern_pid"' || fail "the Tern client did not give up"
p=$tern_pid
tern_pid=
rc=0
wait "$p" || rc=$?
[ "$rc" = 1 ] && grep -q "refused" "$work/tern.log" ||
  fail "Tern client against a closed port: exit status $rc (expected 1 and 'refused')"
echo "tern -> closed port     exit 1: $(grep -m1 refused "$work/tern.log")"

kill -INT "$kserver_pid"
tern_wait_for "the kernel server to exit" 10 eval '! kill -0 "$kserver_pid"' || fail "the kernel server ignored SIGINT"
wait "$kserver_pid" || fail "the kernel server exited with an error: $(tail -5 "$work/kserver.log")"
check_json "$work/kserver.log" "kernel server" connections bytes transactions

# ---- (2) kernel client, Tern server ----
interop_start_tern perf/tern-perf --server --port "$port" --json

kernel_client() {
  local m=$1 t=$2
  shift 2
  timeout $((t + 20)) ip netns exec "$peer_ns" "$perf" --kernel --client "$tern_ip" --port "$port" --mode "$m" \
    --time "$t" --json "$@" >"$work/kclient-$m.log" 2>&1 ||
    fail "the kernel $m client exited with an error: $(tail -8 "$work/kclient-$m.log")"
}
kernel_client bulk 3 --connections 2
grep -E '^\[' "$work/kclient-bulk.log" || true
check_json "$work/kclient-bulk.log" "kernel -> tern bulk" gbps bytes
kernel_client rr 2 --connections 4
check_json "$work/kclient-rr.log" "kernel -> tern rr" transactions_per_s p50_us p99_us p999_us
kernel_client crr 2 --connections 4
check_json "$work/kclient-crr.log" "kernel -> tern crr" connections_per_s transactions_per_s p50_us

rc=0
ip netns exec "$peer_ns" "$perf" --kernel --client "$tern_ip" --port $((port + 1)) --mode rr --time 1 \
  >"$work/kclient-closed.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "refused" "$work/kclient-closed.log" ||
  fail "kernel client against a closed port: exit status $rc (expected 1 and 'refused')"
echo "kernel -> closed port   exit 1: $(grep -m1 refused "$work/kclient-closed.log")"

interop_stop_tern
check_json "$work/tern.log" "tern server" connections bytes transactions
echo "PASS [$mode] in $SECONDS s"
