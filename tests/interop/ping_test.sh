#!/usr/bin/env bash
# Interop: the Linux kernel, in a network namespace, talks to Tern with 2 workers.
#   ping_test.sh tap|af_packet BUILD_DIR
# Checks: ARP reply field by field; 100 pings, no loss; telemetry counts the
# echoes; dpdk-dumpcap captures the ICMP exchange and tshark reads it back.
set -euo pipefail
mode=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../dpdk-env/netns.sh"
work=$(mktemp -d /tmp/tern-interop.XXXXXX)
trap 'tern_ns_cleanup; rm -rf "$work"' EXIT

fail() { echo "FAIL [$mode]: $*"; [ -f "$work/tern.log" ] && tail -30 "$work/tern.log"; exit 1; }

prefix="tern${TERN_NS_TAG}"
net="10.77.$((RANDOM % 200 + 10))"
tern_ip="$net.2"
peer_ip="$net.1"
ns_tern=$(tern_ns_create t)
case "$mode" in
  tap)
    tern_if="tt${TERN_NS_TAG}"
    device="net_tap0,iface=${tern_if}"
    peer_ns=$ns_tern          # the kernel side of the tap lives where Tern runs
    peer_if=$tern_if
    ;;
  af_packet)
    tern_if="ta${TERN_NS_TAG}"
    peer_if="tp${TERN_NS_TAG}"
    peer_ns=$(tern_ns_create p)
    tern_veth "$ns_tern" "$tern_if" "$peer_ns" "$peer_if"
    ip -n "$peer_ns" addr add "$peer_ip/24" dev "$peer_if"
    device="net_af_packet0,iface=${tern_if},qpairs=2"
    ;;
  *) echo "usage: $0 tap|af_packet BUILD_DIR"; exit 2 ;;
esac

cat >"$work/tern.toml" <<TOML
log_level = "info"
[eal]
file_prefix = "$prefix"
memory_mb = 256
[runtime]
lcores = [0, 1]
mbufs_per_worker = 4095
[[port]]
name = "p0"
device = "$device"
address = "$tern_ip/24"
TOML

ip netns exec "$ns_tern" "$build/apps/tern-node" --config "$work/tern.toml" --ready-file "$work/ready" \
  >"$work/tern.log" 2>&1 &
TERN_PIDS+=($!)
tern_wait_for "tern-node to start" 30 test -f "$work/ready" || fail "tern-node did not start"
if [ "$mode" = tap ]; then
  tern_wait_for "tap interface" 10 ip -n "$ns_tern" link show "$tern_if" || fail "no tap interface"
  ip netns exec "$ns_tern" sysctl -qw "net.ipv6.conf.$tern_if.disable_ipv6=1"
  ip -n "$ns_tern" addr add "$peer_ip/24" dev "$tern_if"
  ip -n "$ns_tern" link set "$tern_if" up
fi
grep -q "steering" "$work/tern.log" && grep "steering" "$work/tern.log" | head -1

telemetry() { echo "$1" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -c "
import json, sys
text = sys.stdin.read()
start = text.index('{\"/tern')
obj, _ = json.JSONDecoder().raw_decode(text[start:])
print(json.dumps(list(obj.values())[0]))"; }
tern_mac=$(telemetry /tern/info | python3 -c "import json,sys; print(json.load(sys.stdin)['mac'])") \
  || fail "telemetry /tern/info unreadable"
echo "Tern is at $tern_ip ($tern_mac), kernel peer $peer_ip in $peer_ns"

# 1. ARP: a hand-made request from the kernel side gets a correct reply.
ip netns exec "$peer_ns" python3 "$here/arp_probe.py" "$peer_if" "$peer_ip" "$tern_ip" "$tern_mac" \
  || fail "ARP probe"

# 2. Capture while pinging: dpdk-dumpcap attaches to the running Tern.
if stdbuf -oL -eL dpdk-dumpcap --file-prefix="$prefix" -i 0 -w "$work/cap.pcapng" -f icmp >"$work/dumpcap.log" 2>&1 &
then
  cap_pid=$!
  TERN_PIDS+=($cap_pid)
  tern_wait_for "dumpcap to attach" 20 grep -q "Capturing on" "$work/dumpcap.log" || fail "dpdk-dumpcap did not attach"
fi

# 3. 100 pings, no loss. Flush the neighbour cache first so ARP runs again.
ip -n "$peer_ns" neigh flush dev "$peer_if" || true
ping_out=$(ip netns exec "$peer_ns" ping -c 100 -i 0.01 -W 1 "$tern_ip") || true
echo "$ping_out" | tail -2
echo "$ping_out" | grep -q " 0% packet loss" || fail "ping lost packets"
echo "$ping_out" | grep -q "100 received" || fail "not 100 replies"

# The kernel's neighbour entry for Tern holds Tern's MAC.
ip -n "$peer_ns" neigh show "$tern_ip" | grep -qi "$tern_mac" || fail "kernel neighbour entry is not Tern's MAC"

# 4. Telemetry reports the packets.
stats=$(telemetry /tern/stats) || fail "telemetry /tern/stats unreadable"
echo "$stats" | python3 -c "
import json, sys
s = json.load(sys.stdin)
assert s['IcmpInEchos'] >= 100, s['IcmpInEchos']
assert s['IcmpOutEchoReps'] >= 100, s['IcmpOutEchoReps']
assert s['ArpOutReplies'] >= 1, s['ArpOutReplies']
assert s['TxPackets'] >= 101, s['TxPackets']
print('telemetry: IcmpInEchos=%d IcmpOutEchoReps=%d ArpOutReplies=%d TxPackets=%d RxPackets=%d' % (
    s['IcmpInEchos'], s['IcmpOutEchoReps'], s['ArpOutReplies'], s['TxPackets'], s['RxPackets']))
" || fail "telemetry counters"

# 5. The capture holds the exchange, and tshark reads the pcapng back.
kill -INT "$cap_pid" 2>/dev/null || true
wait "$cap_pid" 2>/dev/null || true
[ -s "$work/cap.pcapng" ] || { cat "$work/dumpcap.log"; fail "dumpcap wrote no capture"; }
req=$(tshark -r "$work/cap.pcapng" -Y "icmp.type == 8 && ip.dst == $tern_ip" 2>/dev/null | wc -l)
rep=$(tshark -r "$work/cap.pcapng" -Y "icmp.type == 0 && ip.src == $tern_ip" 2>/dev/null | wc -l)
echo "capture: $req echo requests, $rep echo replies"
[ "$req" -ge 100 ] && [ "$rep" -ge 100 ] || fail "capture incomplete"

kill -INT "${TERN_PIDS[0]}"
wait "${TERN_PIDS[0]}" || fail "tern-node exited with an error"
grep -q "IcmpOutEchoReps" "$work/tern.log" || fail "tern-node did not print its counters on exit"
echo "PASS [$mode]"
