#!/usr/bin/env bash
# Interop (issue 15): Tern's neighbour entry for the Linux kernel expires
# and is resolved again, over IPv6 (RFC 4861 §7.3.3, neighbour
# unreachability detection) and IPv4 (ARP, RFC 1122 §2.3.2.1), against
# tern-node with short timers ([nd] reachable_time_ms = 1000, the least
# allowed; delay_first_probe_s = 1; retrans_ms = 200; [arp] entry_ttl_s = 1).
#   nd_expiry_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks, the kernel pinging Tern (Tern's echo replies are what needs the
# kernel's MAC; they confirm nothing, so every entry runs its course):
# 1. IPv6: Tern learns the kernel from its solicitation (STALE), probes it
#    with unicast Neighbour Solicitations when it sends to a STALE entry
#    (DELAY, then PROBE), the kernel's solicited advertisements answer them
#    (REACHABLE); after ReachableTime the entry is STALE again and is probed
#    again. Shown by Icmp6OutNeighborSolicits and
#    Icmp6InNeighborAdvertisements rising by 2 or more each while
#    NdCacheMisses stays put (no packet parked: every solicitation was a
#    probe of an entry that was there, not a multicast resolution; DAD is
#    over) and NdExpired stays 0 (every probe answered); no ping lost.
# 2. IPv4: an ARP entry older than entry_ttl_s is requested again
#    (ArpOutRequests and ArpInReplies rise); no ping lost.
# 3. The kernel's MAC changes (`ip link set address`) while Tern holds an
#    entry for it. The kernel is given permanent entries for Tern (so it
#    neither solicits Tern nor teaches it the new MAC in its own
#    solicitations) and sends no unsolicited advertisement
#    (ndisc_notify=0, arp_notify=0): Tern's replies to the old MAC are
#    dropped by the kernel (not its address), Tern's unicast probes go
#    unanswered, the entry is deleted (NdExpired), and the next reply
#    resolves the kernel anew with a multicast solicitation (NdResolved):
#    ping -6 works again; over IPv4 the aged ARP entry is requested
#    again. Then no ping lost either way.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init nd_expiry "$@"
interop_setup "$mode" r 10.92
tern_ip6="2001:db8:92::2"
peer_ip6="2001:db8:92::1"
interop_write_config 256 4095 "[nd]
reachable_time_ms = 1000
delay_first_probe_s = 1
retrans_ms = 200
[arp]
entry_ttl_s = 1
retry_ms = 200"
sed -i "s|^address = .*|&\naddress6 = [\"$tern_ip6/64\"]|" "$work/tern.toml"
interop_start_tern tern-node
tern_wait_for "duplicate address detection" 10 interop_dad_done || fail "no Router Solicitation after DAD"
interop_peer_ipv6 "$peer_ip6"
tern_mac=$(telemetry /tern/info | python3 -c "import json,sys; print(json.load(sys.stdin)['mac'])") ||
  fail "telemetry /tern/info unreadable"
echo "Tern at $tern_ip and $tern_ip6 ($tern_mac), kernel $peer_ip and $peer_ip6 on $peer_if in $peer_ns"

# ping_ok ADDRESS [COUNT]: COUNT pings (1 by default), none lost.
ping_ok() {
  ip netns exec "$peer_ns" ping -c "${2:-1}" -i 0.1 -W 1 "$1" | grep -q " 0% packet loss"
}
# rose NAME1 BASE1 NAME2 BASE2: both counters rose by at least 1 (one
# telemetry read); the values read are left in now1, now2.
rose() {
  read -r now1 now2 < <(stat_of "$1" "$3")
  [ "$now1" -gt "$2" ] && [ "$now2" -gt "$4" ]
}
# Each poll pings once, so that Tern has something to send to the kernel.
probed_twice() {
  ping_ok "$peer_ping" || true
  rose Icmp6OutNeighborSolicits $((ns0 + 1)) Icmp6InNeighborAdvertisements $((na0 + 1))
}
arp_again() {
  ping_ok "$peer_ping" || true
  rose ArpOutRequests "$req0" ArpInReplies "$rep0"
}

# 1. IPv6: expiry and probes answered.
ping_ok "$tern_ip6" 3 || fail "ping -6 before the waits"
read -r ns0 na0 miss0 < <(stat_of Icmp6OutNeighborSolicits Icmp6InNeighborAdvertisements NdCacheMisses)
peer_ping=$tern_ip6
start=$SECONDS
tern_wait_for "two unicast probes answered" 20 probed_twice ||
  fail "Tern did not probe the kernel twice: Icmp6OutNeighborSolicits $ns0 -> $now1, Icmp6InNeighborAdvertisements $na0 -> $now2"
read -r ns1 na1 miss1 expired1 < <(stat_of Icmp6OutNeighborSolicits Icmp6InNeighborAdvertisements NdCacheMisses NdExpired)
echo "IPv6: probed and answered twice in $((SECONDS - start)) s: Icmp6OutNeighborSolicits $ns0 -> $ns1, Icmp6InNeighborAdvertisements $na0 -> $na1"
[ "$miss1" = "$miss0" ] || fail "NdCacheMisses $miss0 -> $miss1: an entry was resolved anew, not probed"
[ "$expired1" = 0 ] || fail "NdExpired $expired1: a probe went unanswered"
ping_ok "$tern_ip6" 5 || fail "ping -6 lost packets after the probes"

# 2. IPv4: the aged ARP entry requested again.
ping_ok "$tern_ip" 2 || fail "ping before the waits"
read -r req0 rep0 < <(stat_of ArpOutRequests ArpInReplies)
peer_ping=$tern_ip
start=$SECONDS
tern_wait_for "an ARP entry requested again" 20 arp_again ||
  fail "no new ARP request: ArpOutRequests $req0 -> $now1, ArpInReplies $rep0 -> $now2"
echo "IPv4: requested again in $((SECONDS - start)) s: ArpOutRequests $req0 -> $now1, ArpInReplies $rep0 -> $now2"
ping_ok "$tern_ip" 5 || fail "ping lost packets after the ARP refresh"

# 3. The kernel's MAC changes.
old_mac=$(ip -n "$peer_ns" -br link show dev "$peer_if" | awk '{print $3}')
new_mac=$(printf '02:52:%02x:%02x:%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))
ip netns exec "$peer_ns" sysctl -qw "net.ipv6.conf.$peer_if.ndisc_notify=0" "net.ipv4.conf.$peer_if.arp_notify=0"
read -r expired0 resolved0 rep0 < <(stat_of NdExpired NdResolved ArpInReplies)
ip -n "$peer_ns" link set dev "$peer_if" address "$new_mac"
# Linux flushes its own entries on the change; permanent ones for Tern keep
# it from soliciting Tern (which would carry the new MAC to Tern).
ip -n "$peer_ns" -6 neigh replace "$tern_ip6" lladdr "$tern_mac" dev "$peer_if" nud permanent
ip -n "$peer_ns" neigh replace "$tern_ip" lladdr "$tern_mac" dev "$peer_if" nud permanent
echo "kernel MAC $old_mac -> $new_mac"
start=$SECONDS
tern_wait_for "ping -6 after the MAC change" 20 ping_ok "$tern_ip6" ||
  fail "ping -6 never worked again after the kernel's MAC changed: NdExpired, NdResolved $expired0 $resolved0 -> $(stat_of NdExpired NdResolved)"
read -r expired1 resolved1 < <(stat_of NdExpired NdResolved)
echo "IPv6: answered again after $((SECONDS - start)) s: NdExpired $expired0 -> $expired1, NdResolved $resolved0 -> $resolved1"
[ "$expired1" -gt "$expired0" ] || fail "the entry with the old MAC was not deleted (NdExpired $expired1)"
[ "$resolved1" -gt "$resolved0" ] || fail "the kernel was not resolved anew (NdResolved $resolved1)"
ping_ok "$tern_ip6" 5 || fail "ping -6 lost packets after the MAC change"
start=$SECONDS
tern_wait_for "ping after the MAC change" 20 ping_ok "$tern_ip" || fail "ping never worked again after the kernel's MAC changed"
read -r rep1 < <(stat_of ArpInReplies)
echo "IPv4: answered again after $((SECONDS - start)) s: ArpInReplies $rep0 -> $rep1"
[ "$rep1" -gt "$rep0" ] || fail "no ARP reply taught Tern the new MAC"
ping_ok "$tern_ip" 5 || fail "ping lost packets after the MAC change"

interop_stop_tern
sed -n '/^--- tern counters/,/^--- worker/p' "$work/tern.log" | grep -E "^(Nd|Arp|Icmp6(In|Out)Neighbor)" || true
echo "PASS: nd_expiry ($mode)"
