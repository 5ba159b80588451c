#!/usr/bin/env bash
# Interop over IPv6 (issue 15): the Linux kernel, in a network namespace,
# resolves Tern with neighbour discovery and pings it.
#   ping6_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks: duplicate address detection and a Router Solicitation at start-up;
# `ping -6` to Tern's global and link-local addresses, no loss; a
# 4,000-byte `ping -6 -s 4000`, fragmented both ways (RFC 8200 §4.5); the
# kernel's neighbour entry (`ip -6 neigh`) holds Tern's MAC; telemetry counts
# the solicitations, advertisements and echoes. Two workers (one over
# af_xdp): neighbour discovery reaches every worker, as ARP does, and only
# worker 0 solicits routers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init ping6 "$@"
interop_setup "$mode" s 10.78
tern_ip6="2001:db8:78::2"
peer_ip6="2001:db8:78::1"
interop_write_config 256 4095
sed -i "s|^address = .*|&\naddress6 = [\"$tern_ip6/64\"]|" "$work/tern.toml"
interop_start_tern tern-node
grep "address6" "$work/tern.log" || fail "no address6 line in the start-up summary"
# Duplicate address detection runs first (one probe per address, then
# [nd] retrans_ms); worker 0's first Router Solicitation follows it.
tern_wait_for "duplicate address detection" 10 interop_dad_done || fail "no Router Solicitation after DAD"

tern_mac=$(telemetry /tern/info | python3 -c "import json,sys; print(json.load(sys.stdin)['mac'])") \
  || fail "telemetry /tern/info unreadable"
# The link-local address Tern derives from its MAC (RFC 4291 appendix A).
tern_ll=$(python3 -c "
import ipaddress, sys
m = [int(x, 16) for x in sys.argv[1].split(':')]
iid = bytes([m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
print(ipaddress.IPv6Address(bytes([0xfe, 0x80] + [0] * 6) + iid))" "$tern_mac")
echo "Tern is at $tern_ip6 and $tern_ll ($tern_mac), kernel peer $peer_ip6 in $peer_ns"

# The kernel side: IPv6 on, no DAD delay.
interop_peer_ipv6 "$peer_ip6"

# 1. Global address: the kernel resolves Tern (multicast NS, Tern's NA), 20 pings.
ping_out=$(ip netns exec "$peer_ns" ping -6 -c 20 -i 0.05 -W 1 "$tern_ip6") || true
echo "$ping_out" | tail -2
echo "$ping_out" | grep -q " 0% packet loss" || fail "ping -6 lost packets"
ip -n "$peer_ns" -6 neigh show "$tern_ip6" | tee /dev/stderr | grep -qi "$tern_mac" ||
  fail "kernel neighbour entry for $tern_ip6 is not Tern's MAC"

# 1b. A 4,000-byte ping: the kernel sends it in 3 fragments, Tern
# reassembles it and sends its reply in 3 fragments of its own.
ping_out=$(ip netns exec "$peer_ns" ping -6 -c 5 -i 0.2 -W 2 -s 4000 "$tern_ip6") || true
echo "$ping_out" | tail -2
echo "$ping_out" | grep -q " 0% packet loss" || fail "ping -6 -s 4000 lost packets"

# 2. Link-local address. In tap mode the kernel's side of the tap has Tern's
# MAC, so it derives the same link-local address and answers such pings
# itself: only a veth peer can check this.
echos=28
if ip -n "$peer_ns" -6 addr show dev "$peer_if" | grep -q "$tern_ll"; then
  echo "link-local: skipped ($tern_ll is the kernel's own address on $peer_if too)"
else
  ping_out=$(ip netns exec "$peer_ns" ping -6 -c 5 -i 0.05 -W 1 "$tern_ll%$peer_if") || true
  echo "$ping_out" | tail -2
  echo "$ping_out" | grep -q " 0% packet loss" || fail "ping -6 to the link-local address lost packets"
  echos=33
fi

# 3. A neighbour entry that goes away is resolved again.
ip -n "$peer_ns" -6 neigh flush dev "$peer_if"
ip netns exec "$peer_ns" ping -6 -c 3 -i 0.05 -W 1 "$tern_ip6" | grep -q " 0% packet loss" ||
  fail "ping -6 after a neighbour flush"

# 4. Telemetry.
telemetry /tern/stats | mode="$mode" python3 -c "
import json, os, sys
s = json.load(sys.stdin)
for k, least in (('Icmp6InEchos', $echos), ('Icmp6OutEchoReplies', $echos), ('Icmp6InNeighborSolicits', 2),
                 ('Icmp6OutNeighborAdvertisements', 2), ('Icmp6OutNeighborSolicits', 1),
                 ('Icmp6OutRouterSolicits', 1), ('Ip6ReasmOKs', 5), ('Ip6FragOKs', 5),
                 ('Ip6FragCreates', 15)):
    assert s[k] >= least, (k, s[k])
print('telemetry: ' + ' '.join('%s=%d' % (k, s[k]) for k in (
    'Ip6InReceives', 'Icmp6InEchos', 'Icmp6OutEchoReplies', 'Icmp6InNeighborSolicits',
    'Icmp6OutNeighborAdvertisements', 'Icmp6OutNeighborSolicits', 'Icmp6OutRouterSolicits', 'NdDadFailed',
    'Ip6ReasmReqds', 'Ip6ReasmOKs', 'Ip6ReasmFails', 'Ip6FragOKs', 'Ip6FragCreates')))
# In tap mode the kernel's side of the tap shares Tern's MAC, hence its
# link-local address: when the kernel's own DAD probe for it meets Tern's,
# Tern rightly gives that address up (the global one is not affected), and
# worker 0's DAD probes are one (the global address) rather than two.
assert s['NdDadFailed'] <= (os.environ['mode'] == 'tap'), s['NdDadFailed']
assert s['Ip6ReasmFails'] == 0, s['Ip6ReasmFails']
" || fail "telemetry counters"

interop_stop_tern
grep -q "Icmp6OutEchoReplies" "$work/tern.log" || fail "tern-node did not print its counters on exit"
# Worker 0 alone sends the DAD probes and Router Solicitations; worker 1
# learns the answers from the replicated ND frames (its counters at exit;
# its solicitations resolving neighbours are not told apart from probes by
# a counter, so the Router Solicitations are what is checked).
# (One worker over af_xdp: nothing to compare.)
if [ "$mode" != af_xdp ]; then
  grep -q "^--- worker 1 ---" "$work/tern.log" || fail "expected two workers"
  awk '/^--- worker 1 ---/ {w = 1; next} /^---/ {w = 0} w' "$work/tern.log" |
    grep -E "^Icmp6OutRouterSolicits " && fail "worker 1 sent Router Solicitations"
  awk '/^--- worker 0 ---/ {w = 1; next} /^---/ {w = 0} w' "$work/tern.log" | grep -q "^Icmp6OutRouterSolicits " ||
    fail "worker 0 sent no Router Solicitation"
fi
echo "PASS [$mode]"
