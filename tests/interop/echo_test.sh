#!/usr/bin/env bash
# Interop: tern-echo with 2 workers, the Linux kernel in a network namespace
# as the TCP client (tests/interop/echo_client.py).
#   echo_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks: every byte of 10,000 mixed-size messages echoed; 1,000 connections
# open at once; half-close read to EOF; abortive close (RST) mid-stream.
# Then Tern's counters: every connection opened passively, every abort
# counted as a reset, and at exit no connection, TCB or echo state left.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init echo "$@"
keep_pcap=${TERN_ECHO_PCAP:-}  # set: keep a kernel-side capture of the run in this file

# On failure (after Tern's counters and log): keep the kernel-side capture.
interop_on_fail() {
  if [ -n "$keep_pcap" ] && [ -f "$work/kernel.pcap" ]; then
    [ -n "${dump_pid:-}" ] && kill -INT "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null
    cp "$work/kernel.pcap" "$keep_pcap" && echo "kernel-side capture kept in $keep_pcap"
  fi
}

port=7
interop_setup "$mode" e 10.78
# Mbufs: a connection can hold a receive window and a send buffer of
# full-size frames (2 x 256 KiB / 1448 B = ~360), and the stream phase runs
# 4 connections at line rate next to the rings' own mbufs.
interop_write_config 512 16383 "[tcp]
max_connections = 4096"
interop_start_tern tern-echo --port "$port"
grep "steering" "$work/tern.log" | head -1 || true
echo "tern-echo at $tern_ip:$port, kernel client $peer_ip in $peer_ns"

if [ -n "$keep_pcap" ]; then
  ip netns exec "$peer_ns" tcpdump -i "$peer_if" -s 128 -w "$work/kernel.pcap" tcp >"$work/tcpdump.log" 2>&1 &
  dump_pid=$!
  TERN_PIDS+=("$dump_pid")
  tern_wait_for "tcpdump to listen" 10 grep -q "listening" "$work/tcpdump.log" || fail "tcpdump did not start"
fi

start=$SECONDS
ip netns exec "$peer_ns" python3 "$here/echo_client.py" "$tern_ip" "$port" --seed "${TERN_ECHO_SEED:-1}" \
  | tee "$work/client.log" || fail "echo client"
summary=$(tail -1 "$work/client.log")
echo "client finished in $((SECONDS - start)) s"

# The client has closed everything: Tern's last connections leave LAST_ACK
# as soon as the kernel acknowledges their FINs.
interop_wait_closed

# Frames the port lost before Tern saw them (ring overflow) explain
# retransmissions and out-of-order arrivals in the counters below.
interop_port_stats

interop_stop_tern
echo "--- tern-echo at exit ---"
sed -n '/^--- tern counters/,$p' "$work/tern.log"

SUMMARY="$summary" PYTHONPATH="$here" python3 - "$work/tern.log" <<'PY' || fail "Tern's counters"
import json, os, sys
from tern_log import app_reports, total_counters
summary = json.loads(os.environ["SUMMARY"])
log = open(sys.argv[1]).read()
c = total_counters(log)
echo = app_reports(log, "echo worker ")
assert len(echo) == int(os.environ["TERN_WORKERS"]), "expected a report line per worker, got %d" % len(echo)
s = lambda k: sum(w[k] for w in echo)
checks = [
    ("PassiveOpens == connections", c.get("PassiveOpens", 0) == summary["connections"]),
    ("accepted == connections", s("accepted") == summary["connections"]),
    ("EstabResets == aborts", c.get("EstabResets", 0) == summary["aborts"]),
    ("closed_error == aborts", s("closed_error") == summary["aborts"]),
    ("closed_clean + closed_error + refused == accepted",
     s("closed_clean") + s("closed_error") + s("refused") == s("accepted")),
    ("no echo state left (active 0)", s("active") == 0),
    ("no TCB left", s("tcbs_in_use") == 0),
    ("no connection left in the table", s("connections") == 0),
    ("CurrEstab 0", c.get("CurrEstab", 0) == 0),
    ("nothing refused", s("refused") == 0),
    ("every worker served", all(w["accepted"] > 0 for w in echo)),
    ("no connection aborted by Tern", c.get("TCPAbortOnClose", 0) == 0 and c.get("TCPAbortOnData", 0) == 0),
    ("no timeouts", c.get("TCPAbortOnTimeout", 0) == 0),
]
for name, ok in checks:
    print("%-42s %s" % (name, "ok" if ok else "FAILED"))
print("counters: PassiveOpens %d EstabResets %d InRsts %d OutRsts %d RetransSegs %d; echoed %d bytes, "
      "send blocked %d times, max %d connections per worker" % (
      c.get("PassiveOpens", 0), c.get("EstabResets", 0), c.get("InRsts", 0), c.get("OutRsts", 0),
      c.get("RetransSegs", 0), s("bytes"), s("send_blocked"), max(w["max_active"] for w in echo)))
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY

if [ -n "$keep_pcap" ]; then
  kill -INT "$dump_pid" 2>/dev/null || true
  wait "$dump_pid" 2>/dev/null || true
  cp "$work/kernel.pcap" "$keep_pcap"
fi
echo "PASS [$mode] in $((SECONDS - start)) s"
