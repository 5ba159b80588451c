#!/usr/bin/env bash
# Interop: the Linux kernel, in a network namespace, talks to Tern with 2 workers.
#   ping_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks: ARP reply field by field; 100 pings, no loss; a 4,000-byte ping in
# fragments (tap, af_xdp); telemetry counts the echoes; dpdk-dumpcap captures the ICMP exchange and tshark reads it back.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init ping "$@"
interop_setup "$mode" t 10.77
interop_write_config 256 4095
interop_start_tern tern-node
grep -q "steering" "$work/tern.log" && grep "steering" "$work/tern.log" | head -1

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
  TERN_PIDS+=("$cap_pid")
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

# A 4,000-byte ping, in fragments both ways (reassembled by Tern, the reply
# fragmented). Not over af_packet: its fanout has the kernel reassemble
# first, and 4,028 bytes do not fit the PMD's 2,048-byte frames.
if [ "$mode" != af_packet ]; then
  big_out=$(ip netns exec "$peer_ns" ping -c 3 -i 0.2 -W 2 -s 4000 "$tern_ip") || true
  echo "$big_out" | tail -2
  echo "$big_out" | grep -q " 0% packet loss" || fail "ping -s 4000 lost packets"
fi

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

interop_stop_tern
grep -q "IcmpOutEchoReps" "$work/tern.log" || fail "tern-node did not print its counters on exit"
echo "PASS [$mode]"
