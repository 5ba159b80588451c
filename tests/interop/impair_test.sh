#!/usr/bin/env bash
# Interop under impairment: tern-httpd with 2 workers and Tern's own netem
# ([impairment]: 1% loss, 2% duplication, 2% reordering, on RX and on TX of
# the port), the Linux kernel's curl in a network namespace.
#   impair_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks: curl downloads /bytes/104857600 and its sha256 matches the pattern.
# Then proof that the impairment really happened, so the test fails if it is
# silently off:
#   - Tern logs "impairment active" with the configured values;
#   - frames the port received vs frames Tern's IP layer saw (RxPackets), and
#     frames Tern handed to the port (TxPackets) vs frames the port sent:
#     without impairment they are equal; with duplication above loss the
#     impaired side has more, in both directions;
#   - Tern retransmitted (RetransSegs > 0, lost frames) and the kernel saw
#     out-of-order data (TcpExtTCPOFOQueue) and duplicates (DSACKs sent).
# At exit: no connection, TCB or HTTP state left.
# TERN_IMPAIR_SEED overrides the fault generator's seed (default 1);
# TERN_IMPAIR_CC sets tern-httpd's [tcp] congestion (default: none written,
# so the default, cubic), checked in Tern's start-up line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init impair "$@"

loss=0.01
duplicate=0.02
reorder=0.02
seed=${TERN_IMPAIR_SEED:-1}
cc=${TERN_IMPAIR_CC:-}
size=104857600
port=80
interop_setup "$mode" i 10.80
interop_write_config 512 16383 "[tcp]
max_connections = 64
${cc:+congestion = \"$cc\"}
[impairment]
loss = $loss
duplicate = $duplicate
reorder = $reorder
seed = $seed"
mkdir -p "$work/root"
interop_start_tern tern-httpd --port "$port" --root "$work/root"
echo "tern-httpd at $tern_ip:$port, kernel client $peer_ip in $peer_ns"
grep "impairment active" "$work/tern.log" || fail "no 'impairment active' in Tern's log"
grep -q "congestion ${cc:-cubic}," "$work/tern.log" || fail "Tern's start-up line does not say congestion ${cc:-cubic}"
grep -q "loss 0.0100 duplicate 0.0200 reorder 0.0200 seed $seed (both directions)" "$work/tern.log" ||
  fail "impairment not as configured"

want=$(interop_pattern_sha "$size")
start=$SECONDS
t=$(interop_in_peer curl -sS --fail --max-time 80 -o "$work/curl.out" -w '%{time_total}' \
  "http://$tern_ip:$port/bytes/$size") || fail "curl /bytes/$size ($(stat -c %s "$work/curl.out" 2>/dev/null || echo 0) bytes received)"
got=$(sha256sum <"$work/curl.out" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "curl /bytes/$size: sha256 $got, expected $want (size $(stat -c %s "$work/curl.out"))"
rm -f "$work/curl.out"
echo "curl /bytes/$size ok under impairment (congestion ${cc:-cubic}): $(python3 -c "print('%.3f s, %.0f Mbit/s' % ($t, $size * 8 / $t / 1e6))")"

interop_wait_closed

# The port's frame counts (below the impairment) and Tern's (above it), in
# one telemetry session so that both describe the same moment.
printf '/ethdev/stats,0\n/tern/stats\n' | dpdk-telemetry.py -f "$prefix" >"$work/telemetry.txt" 2>/dev/null ||
  fail "telemetry unreadable"
# The kernel's TCP counters in its namespace (this run's only).
interop_in_peer nstat -asz >"$work/nstat.txt" || fail "nstat"

interop_stop_tern
echo "--- tern-httpd at exit ---"
sed -n '/^--- tern counters/,/^--- worker/p' "$work/tern.log" |
  grep -E "^(PassiveOpens|InSegs|OutSegs|RetransSegs|TCPFastRetrans|TCPTimeouts|TCPOFOQueue|TCPDSACKDupData|RxPackets|TxPackets|Drop\.Tcp\w+) "

python3 - "$work/tern.log" "$work/telemetry.txt" "$work/nstat.txt" <<'PY' || fail "impairment not proven, or state left"
import json, os, re, sys
log = open(sys.argv[1]).read()
total = log[log.index("--- tern counters"):]
total = total[:total.index("--- worker")]
c = {k: int(v) for k, v in re.findall(r"^(\S+) (\d+)$", total, re.M)}
w = [dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1]))
     for line in log.splitlines() if line.startswith("httpd worker ")]
assert len(w) == int(os.environ["TERN_WORKERS"]), "expected a report line per worker, got %d" % len(w)
s = lambda k: sum(x[k] for x in w)

text = open(sys.argv[2]).read()
dec = json.JSONDecoder()
tel = {}
i = 0
while True:
    i = text.find('{"/', i)
    if i < 0: break
    obj, end = dec.raw_decode(text[i:])
    tel.update(obj)
    i += end
eth, tern = tel["/ethdev/stats"], tel["/tern/stats"]
nstat = {k: int(v) for k, v in re.findall(r"^(\w+)\s+(\d+)", open(sys.argv[3]).read(), re.M)}

rx_extra = tern["RxPackets"] - eth["ipackets"]   # RX duplicates - RX losses
tx_extra = eth["opackets"] - tern["TxPackets"]    # TX duplicates - TX losses
print("port RX %d frames, Tern saw %d (%+d); Tern sent %d frames, port TX %d (%+d)" % (
    eth["ipackets"], tern["RxPackets"], rx_extra, tern["TxPackets"], eth["opackets"], tx_extra))
print("Tern RetransSegs %d TCPFastRetrans %d TCPTimeouts %d; kernel TCPOFOQueue %d TCPDSACKOldSent %d "
      "TCPDSACKOfoSent %d DelayedACKLost %d" % (
      c.get("RetransSegs", 0), c.get("TCPFastRetrans", 0), c.get("TCPTimeouts", 0),
      nstat.get("TcpExtTCPOFOQueue", 0), nstat.get("TcpExtTCPDSACKOldSent", 0),
      nstat.get("TcpExtTCPDSACKOfoSent", 0), nstat.get("TcpExtDelayedACKLost", 0)))
checks = [
    # Duplication (2%) outweighs loss (1%): ~+1% of the frames each way;
    # without impairment both differences are 0.
    ("RX: impaired frames > port frames", rx_extra > 0),
    ("TX: port frames > impaired frames", tx_extra > 0),
    ("RetransSegs > 0 (frames lost)", c.get("RetransSegs", 0) > 0),
    ("kernel saw out-of-order data", nstat.get("TcpExtTCPOFOQueue", 0) > 0),
    ("kernel saw duplicate data (DSACK)",
     nstat.get("TcpExtTCPDSACKOldSent", 0) + nstat.get("TcpExtTCPDSACKOfoSent", 0) > 0),
    ("closed_clean + closed_error == accepted", s("closed_clean") + s("closed_error") == s("accepted")),
    ("no HTTP state left (active 0)", s("active") == 0),
    ("no TCB left", s("tcbs_in_use") == 0),
    ("no connection left", s("connections") == 0),
    ("nothing refused", s("refused") == 0),
    ("CurrEstab 0", c.get("CurrEstab", 0) == 0),
]
for name, ok in checks: print("%-42s %s" % (name, "ok" if ok else "FAILED"))
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
echo "PASS [$mode] in $((SECONDS - start)) s"
