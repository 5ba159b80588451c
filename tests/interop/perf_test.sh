#!/usr/bin/env bash
# Interop: tern-perf both ways between Tern (2 workers) and the Linux kernel
# in a network namespace, one wire protocol (apps/perf/perf_protocol.h).
#   perf_test.sh tap|af_packet|af_xdp BUILD_DIR
# (1) Tern as the client, against `tern-perf --kernel --server` on the kernel
#     side: bulk for 3 s, rr for 2 s, 1 s each of bulk --reverse, --bidir
#     (with --plot: a PNG) and -n 50M (exactly that many bytes counted by
#     the server), crr for 2 s; a client to a closed port says
#     "refused", one to an address nobody answers ARP for says so. The
#     kernel server printed one summary per test (its JSON "type": "test"
#     objects: each test's mode, direction and bytes).
# (2) The kernel client (`tern-perf --kernel --client`) against the Tern
#     server: the same three and bulk --reverse; an iperf3 client (its
#     cookie, sent by Python) is told "not a tern-perf client (iperf3?)";
#     the Tern server's per-test summaries.
# Every run must exit 0 and its --json line report figures > 0 (Gbps,
# transactions/s and latency, connections/s) and 0 errors; both servers
# must count 0 errors too (the iperf3 cookie aside). Bulk runs print one
# JSON interval object per interval, with Retr, Cwnd and RTT where the
# client sends.
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
# FIELD must be > 0 and errors must be $want_errors (default 0). Prints the figures.
check_json() {
  local log=$1 name=$2
  shift 2
  WANT_ERRORS=${want_errors:-0} python3 - "$log" "$name" "$@" <<'PY' || fail "$name: $(tail -5 "$log")"
import json, os, sys
log, name, fields = sys.argv[1], sys.argv[2], sys.argv[3:]
# The last JSON line: libxdp (net_af_xdp) may log a line after it at exit.
r = json.loads([l for l in open(log).read().splitlines() if l.startswith("{")][-1])
bad = [f for f in fields if not r.get(f, 0) > 0]
if r.get("errors") != int(os.environ["WANT_ERRORS"]):
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

# tern_client MODE SECONDS EXTRA...: runs the Tern client to the end (its
# log: $work/tern-client-$name.log, name MODE or $name when set). It waits
# for $work/go, so that in tap mode the kernel side of the tap has its
# address before the first SYN.
tern_client() {
  local m=$1 t=$2 n=${name:-$1}
  shift 2
  rm -f "$work/go"
  interop_start_tern perf/tern-perf --client "$peer_ip" --port "$port" --mode "$m" --time "$t" \
    --start-file "$work/go" --json "$@"
  touch "$work/go"
  tern_wait_for "the Tern $n client to finish" $((t + 20)) eval '! kill -0 "$tern_pid"' ||
    fail "the Tern $n client did not finish"
  local p=$tern_pid
  tern_pid=
  wait "$p" || fail "the Tern $n client exited with status $?: $(grep -v '^[A-Za-z]* [0-9]*$' "$work/tern.log" | tail -20)"
  cp "$work/tern.log" "$work/tern-client-$n.log"
}

# check_intervals LOG DIRECTION...: LOG has JSON interval objects for each
# DIRECTION; the "send" ones carry Retr, Cwnd and RTT (numbers, not null).
check_intervals() {
  python3 - "$@" <<'PY' || fail "interval objects in $1"
import json, sys
log, dirs = sys.argv[1], sys.argv[2:]
objs = [json.loads(l) for l in open(log) if l.startswith('{"type": "interval"')]
for d in dirs:
    got = [o for o in objs if o["direction"] == d]
    assert got, "no %s interval in %s" % (d, log)
    if d == "send":
        assert all(o["retr"] is not None and o["cwnd_kb"] is not None and o["rtt_us"] is not None for o in got), got
    assert sum(o["bytes"] for o in got) > 0, got
print("interval objects: %s" % ", ".join("%d %s" % (len([o for o in objs if o["direction"] == d]), d) for d in dirs))
PY
}

tern_client bulk 3 --connections 2
grep -E '^\[' "$work/tern-client-bulk.log" || true
check_json "$work/tern-client-bulk.log" "tern -> kernel bulk" gbps bytes
tern_client rr 2 --connections 4
check_json "$work/tern-client-rr.log" "tern -> kernel rr" transactions_per_s p50_us p99_us p999_us
check_intervals "$work/tern-client-bulk.log" send

# The other directions, and a fixed amount (-n): 1 s each.
name=reverse tern_client bulk 1 -R --connections 2 --interval 0.5
check_json "$work/tern-client-reverse.log" "tern <- kernel bulk -R" gbps rx_bytes
check_intervals "$work/tern-client-reverse.log" receive
name=bidir tern_client bulk 1 --bidir --interval 0.5 --plot "$work/bidir.png"
check_json "$work/tern-client-bidir.log" "tern <-> kernel --bidir" gbps tx_bytes rx_bytes
check_intervals "$work/tern-client-bidir.log" send receive
[ "$(head -c 8 "$work/bidir.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "--plot wrote no PNG"
echo "--plot: $(stat -c %s "$work/bidir.png") bytes of PNG"
name=bytes tern_client bulk 1 -n 50M --connections 2
check_json "$work/tern-client-bytes.log" "tern -> kernel -n 50M" gbps tx_bytes
python3 -c 'import json,sys; r=json.loads([l for l in open(sys.argv[1]) if l.startswith("{\"mode")][-1]); sys.exit(r["tx_bytes"] != 52428800)' \
  "$work/tern-client-bytes.log" || fail "-n 50M: the server did not count exactly 52428800 bytes"
# crr last: it leaves TIME-WAIT on the kernel server for the client's ports
# (perf_protocol.h), which a new SYN from the same port first has to clear.
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

# An address on the link that nobody answers ARP for: the client says so.
rm -f "$work/go"
interop_start_tern perf/tern-perf --client "${tern_ip%.*}.99" --port "$port" --mode rr --time 1 \
  --start-file "$work/go" --json
touch "$work/go"
tern_wait_for "the Tern client to give up" 20 eval '! kill -0 "$tern_pid"' || fail "the Tern client did not give up"
p=$tern_pid
tern_pid=
rc=0
wait "$p" || rc=$?
[ "$rc" = 1 ] && grep -q "no answer to ARP" "$work/tern.log" && grep -q '"arp_unanswered": 1' "$work/tern.log" ||
  fail "Tern client to an address without a host: exit $rc (expected 1 and 'no answer to ARP'): $(tail -5 "$work/tern.log")"
echo "tern -> no host         exit 1: $(grep -m1 "no answer to ARP" "$work/tern.log")"

kill -INT "$kserver_pid"
tern_wait_for "the kernel server to exit" 10 eval '! kill -0 "$kserver_pid"' || fail "the kernel server ignored SIGINT"
wait "$kserver_pid" || fail "the kernel server exited with an error: $(tail -5 "$work/kserver.log")"
check_json "$work/kserver.log" "kernel server" connections bytes transactions
# One summary per client test, in the order they ran, each its own figures.
check_tests() {
  python3 - "$@" <<'PY' || fail "per-test summaries in $1"
import json, sys
log, want = sys.argv[1], sys.argv[2:]
tests = [json.loads(l) for l in open(log) if l.startswith("{") and '"type": "test"' in l]
got = [t["mode"] for t in tests]
assert got == want, "per-test summaries %s, expected %s" % (got, want)
assert all(t["errors"] == 0 and t["connections"] > 0 for t in tests), tests
assert len(set(t["test"] for t in tests)) == len(tests), "test ids repeat"
print("per-test summaries: %s" % ", ".join("%s (%d conns, tx %d, rx %d)" % (
    t["mode"], t["connections"], t["tx_bytes"], t["rx_bytes"]) for t in tests))
if len(tests) >= 6:
    rev, bidir, n = tests[2], tests[3], tests[4]
    assert rev["rx_bytes"] > 0 and rev["tx_bytes"] == 0, rev
    assert bidir["rx_bytes"] > 0 and bidir["tx_bytes"] > 0 and bidir["connections"] == 2, bidir
    assert n["tx_bytes"] == 52428800 and n["connections"] == 2, n
PY
}
check_tests "$work/kserver.log" bulk rr bulk bulk bulk crr

# ---- (2) kernel client, Tern server ----
interop_start_tern perf/tern-perf --server --port "$port" --json
grep -m1 "offloads" "$work/tern.log" || true  # which offloads (and GRO/GSO) the server runs with

kernel_client() {
  local m=$1 t=$2 n=${name:-$1}
  shift 2
  timeout $((t + 20)) ip netns exec "$peer_ns" "$perf" --kernel --client "$tern_ip" --port "$port" --mode "$m" \
    --time "$t" --json "$@" >"$work/kclient-$n.log" 2>&1 ||
    fail "the kernel $n client exited with an error: $(tail -8 "$work/kclient-$n.log")"
}
kernel_client bulk 3 --connections 2
grep -E '^\[' "$work/kclient-bulk.log" || true
check_json "$work/kclient-bulk.log" "kernel -> tern bulk" gbps bytes
kernel_client rr 2 --connections 4
check_json "$work/kclient-rr.log" "kernel -> tern rr" transactions_per_s p50_us p99_us p999_us
kernel_client crr 2 --connections 4
check_json "$work/kclient-crr.log" "kernel -> tern crr" connections_per_s transactions_per_s p50_us

name=reverse kernel_client bulk 1 -R --interval 0.5
check_json "$work/kclient-reverse.log" "kernel <- tern bulk -R" gbps rx_bytes

# An iperf3 client: its control connection opens with a 37-byte cookie
# ([a-z2-7], NUL); the server names it and resets.
interop_in_peer python3 - "$tern_ip" "$port" <<'PY' || fail "the iperf3-like client"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"k2lmqz7vxa3bcdefk2lmqz7vxa3bcdefk2lm\0")
try:
    assert s.recv(100) == b"", "data from the server"
except ConnectionResetError:
    pass
PY
tern_wait_for "the iperf3 message" 10 grep -q "not a tern-perf client (iperf3?)" "$work/tern.log" ||
  fail "no 'not a tern-perf client (iperf3?)' from the Tern server: $(grep tern-perf: "$work/tern.log" | tail -3)"
echo "iperf3 cookie -> tern:  $(grep -m1 "iperf3?" "$work/tern.log")"

rc=0
ip netns exec "$peer_ns" "$perf" --kernel --client "$tern_ip" --port $((port + 1)) --mode rr --time 1 \
  >"$work/kclient-closed.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "refused" "$work/kclient-closed.log" ||
  fail "kernel client against a closed port: exit status $rc (expected 1 and 'refused')"
echo "kernel -> closed port   exit 1: $(grep -m1 refused "$work/kclient-closed.log")"

interop_stop_tern
# The iperf3 connection is the server's one error.
want_errors=1 check_json "$work/tern.log" "tern server" connections bytes transactions
check_tests "$work/tern.log" bulk rr crr bulk
echo "PASS [$mode] in $SECONDS s"
