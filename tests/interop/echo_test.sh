#!/usr/bin/env bash
# Interop: tern-echo with 2 workers, the Linux kernel in a network namespace
# as the TCP client (tests/interop/echo_client.py).
#   echo_test.sh tap|af_packet BUILD_DIR
# Checks: every byte of 10,000 mixed-size messages echoed; 1,000 connections
# open at once; half-close read to EOF; abortive close (RST) mid-stream.
# Then Tern's counters: every connection opened passively, every abort
# counted as a reset, and at exit no connection, TCB or echo state left.
set -euo pipefail
mode=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../dpdk-env/netns.sh"
work=$(mktemp -d /tmp/tern-echo.XXXXXX)
keep_pcap=${TERN_ECHO_PCAP:-}  # set: keep a kernel-side capture of the run in this file
trap 'tern_ns_cleanup; rm -rf "$work"' EXIT

fail() {
  echo "FAIL [$mode]: $*"
  if [ -f "$work/tern.log" ]; then
    # Counters of the running Tern, then its log.
    [ -n "${tern_pid:-}" ] && kill -USR1 "$tern_pid" 2>/dev/null && sleep 0.3
    tail -80 "$work/tern.log"
  fi
  if [ -n "$keep_pcap" ] && [ -f "$work/kernel.pcap" ]; then
    [ -n "${dump_pid:-}" ] && kill -INT "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null
    cp "$work/kernel.pcap" "$keep_pcap" && echo "kernel-side capture kept in $keep_pcap"
  fi
  exit 1
}

port=7
prefix="tern${TERN_NS_TAG}"
net="10.78.$((RANDOM % 200 + 10))"
tern_ip="$net.2"
peer_ip="$net.1"
ns_tern=$(tern_ns_create t)
case "$mode" in
  tap)
    tern_if="tt${TERN_NS_TAG}"
    device="net_tap0,iface=${tern_if}"
    peer_ns=$ns_tern  # the kernel side of the tap lives where Tern runs
    peer_if=$tern_if
    ;;
  af_packet)
    tern_if="ta${TERN_NS_TAG}"
    peer_if="tp${TERN_NS_TAG}"
    peer_ns=$(tern_ns_create p)
    tern_veth "$ns_tern" "$tern_if" "$peer_ns" "$peer_if"
    ip -n "$peer_ns" addr add "$peer_ip/24" dev "$peer_if"
    # veth hands af_packet the kernel's TCP segments with the checksum still
    # to be filled in (CHECKSUM_PARTIAL; net_af_packet ignores
    # TP_STATUS_CSUMNOTREADY), so Tern would drop them as TcpBadChecksum.
    ip netns exec "$peer_ns" ethtool -K "$peer_if" tx off >/dev/null
    device="net_af_packet0,iface=${tern_if},qpairs=2"
    ;;
  *) echo "usage: $0 tap|af_packet BUILD_DIR"; exit 2 ;;
esac

# Mbufs: a connection can hold a receive window and a send buffer of
# full-size frames (2 x 256 KiB / 1448 B = ~360), and the stream phase runs
# 4 connections at line rate next to the rings' own mbufs.
cat >"$work/tern.toml" <<TOML
log_level = "info"
[eal]
file_prefix = "$prefix"
memory_mb = 512
[runtime]
lcores = [0, 1]
mbufs_per_worker = 16383
[[port]]
name = "p0"
device = "$device"
address = "$tern_ip/24"
[tcp]
max_connections = 4096
TOML

ip netns exec "$ns_tern" "$build/apps/tern-echo" --config "$work/tern.toml" --port "$port" \
  --ready-file "$work/ready" >"$work/tern.log" 2>&1 &
tern_pid=$!
TERN_PIDS+=($tern_pid)
tern_wait_for "tern-echo to start" 30 test -f "$work/ready" || fail "tern-echo did not start"
if [ "$mode" = tap ]; then
  tern_wait_for "tap interface" 10 ip -n "$ns_tern" link show "$tern_if" || fail "no tap interface"
  ip netns exec "$ns_tern" sysctl -qw "net.ipv6.conf.$tern_if.disable_ipv6=1"
  ip -n "$ns_tern" addr add "$peer_ip/24" dev "$tern_if"
  ip -n "$ns_tern" link set "$tern_if" up
fi
grep "steering" "$work/tern.log" | head -1 || true
echo "tern-echo at $tern_ip:$port, kernel client $peer_ip in $peer_ns"

if [ -n "$keep_pcap" ]; then
  ip netns exec "$peer_ns" tcpdump -i "$peer_if" -s 128 -w "$work/kernel.pcap" tcp >"$work/tcpdump.log" 2>&1 &
  dump_pid=$!
  TERN_PIDS+=($dump_pid)
  tern_wait_for "tcpdump to listen" 10 grep -q "listening" "$work/tcpdump.log" || fail "tcpdump did not start"
fi

telemetry() { echo "$1" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -c "
import json, sys
text = sys.stdin.read()
start = text.index('{\"/tern')
obj, _ = json.JSONDecoder().raw_decode(text[start:])
print(json.dumps(list(obj.values())[0]))"; }

start=$SECONDS
ip netns exec "$peer_ns" python3 "$here/echo_client.py" "$tern_ip" "$port" --seed "${TERN_ECHO_SEED:-1}" \
  | tee "$work/client.log" || fail "echo client"
summary=$(tail -1 "$work/client.log")
echo "client finished in $((SECONDS - start)) s"

# The client has closed everything: Tern's last connections leave LAST_ACK
# as soon as the kernel acknowledges their FINs.
established() { telemetry /tern/stats | python3 -c "import json,sys; print(json.load(sys.stdin).get('CurrEstab', 0))"; }
tern_wait_for "CurrEstab to reach 0" 10 test "$(established)" = 0 || fail "connections still established: $(established)"

# Frames the port lost before Tern saw them (ring overflow) explain
# retransmissions and out-of-order arrivals in the counters below.
echo "/ethdev/stats,0" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -c "
import json, sys
text = sys.stdin.read()
obj, _ = json.JSONDecoder().raw_decode(text[text.index('{\"/ethdev'):])
st = list(obj.values())[0]
print('port: ipackets %d opackets %d imissed %d ierrors %d rx_nombuf %d' % tuple(
    st.get(k, 0) for k in ('ipackets', 'opackets', 'imissed', 'ierrors', 'rx_nombuf')))" || true

kill -INT "$tern_pid"
wait "$tern_pid" || fail "tern-echo exited with an error"
TERN_PIDS=("${TERN_PIDS[@]:1}")
tern_pid=
echo "--- tern-echo at exit ---"
sed -n '/^--- tern counters/,$p' "$work/tern.log"

SUMMARY="$summary" python3 - "$work/tern.log" <<'PY' || fail "Tern's counters"
import json, os, re, sys
summary = json.loads(os.environ["SUMMARY"])
log = open(sys.argv[1]).read()
total = log[log.index("--- tern counters"):]
total = total[:total.index("--- worker")]
c = {k: int(v) for k, v in re.findall(r"^(\S+) (\d+)$", total, re.M)}
echo = [dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1]))
        for line in log.splitlines() if line.startswith("echo worker ")]
assert len(echo) == 2, "expected a report line per worker, got %d" % len(echo)
s = lambda k: sum(w[k] for w in echo)
checks = [
    ("PassiveOpens == connections", c.get("PassiveOpens", 0) == summary["connections"]),
    ("accepted == connections", s("accepted") == summary["connections"]),
    ("EstabResets == aborts", c.get("EstabResets", 0) == summary["aborts"]),
    ("closed_error == aborts", s("closed_error") == summary["aborts"]),
    ("closed_clean + closed_error == accepted", s("closed_clean") + s("closed_error") == s("accepted")),
    ("no echo state left (active 0)", s("active") == 0),
    ("no TCB left", s("tcbs_in_use") == 0),
    ("no connection left in the table", s("connections") == 0),
    ("CurrEstab 0", c.get("CurrEstab", 0) == 0),
    ("no pool exhaustion", s("no_slot") == 0),
    ("both workers served", all(w["accepted"] > 0 for w in echo)),
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
