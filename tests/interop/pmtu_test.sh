#!/usr/bin/env bash
# Interop: TCP path MTU discovery (RFC 8201, RFC 1191) through a Linux router.
#   pmtu_test.sh tap|af_packet|af_xdp BUILD_DIR
# Tern (tern-httpd) sits on a 1500-byte link to the kernel of the "router"
# namespace (interop_setup's peer side; in tap mode Tern's own namespace),
# which forwards to a client namespace over a veth whose router end has a
# smaller MTU (1280 for the IPv6 run, 1000 for IPv4) while the client's end
# keeps 1500, so the client announces a full-size MSS and only the router
# knows the path is narrower. Tern routes to the client through its
# gateway / gateway6. The client downloads 4 MB with curl over IPv6, then
# over IPv4: Tern's first full-size segments are too big, the router answers
# with ICMPv6 Packet Too Big / ICMP Fragmentation Needed, and the downloads
# must complete intact, with TCPPMTUUpdates counted for each family, the
# lowered path MTUs kept for the client's addresses (PmtuLearned) and the
# connections' telemetry showing the lowered path MTU (the rate-limited
# IPv4 download's connection starts from it where its worker learned it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init pmtu "$@"
interop_setup "$mode" m 10.85
client_net="10.86.$((RANDOM % 200 + 10))"
router_ip6="2001:db8:85::1"
tern_ip6="2001:db8:85::2"
client_ip="$client_net.2"
client_ip6="2001:db8:86::2"
router_cip="$client_net.1"
router_cip6="2001:db8:86::1"
port=80
mkdir -p "$work/root"
interop_write_config 512 16383
sed -i "s|^address = .*|&\naddress6 = [\"$tern_ip6/64\"]\ngateway = \"$peer_ip\"\ngateway6 = \"$router_ip6\"|" "$work/tern.toml"
interop_start_tern tern-httpd --port "$port" --root "$work/root"

# The router: forwarding on, the link to Tern with IPv6 back on, and a veth
# to the client whose router end is the narrow hop.
router_ns=$peer_ns
client_ns=$(tern_ns_create mc)
rif="mr${TERN_NS_TAG}"
cif="mc${TERN_NS_TAG}"
tern_veth "$router_ns" "$rif" "$client_ns" "$cif"
ip netns exec "$router_ns" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$router_ns" sysctl -qw net.ipv6.conf.all.forwarding=1
for ifc in "$peer_if" "$rif"; do
  ip netns exec "$router_ns" sysctl -qw "net.ipv6.conf.$ifc.accept_dad=0"
  ip netns exec "$router_ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=0"
done
ip netns exec "$client_ns" sysctl -qw "net.ipv6.conf.$cif.accept_dad=0"
ip netns exec "$client_ns" sysctl -qw "net.ipv6.conf.$cif.disable_ipv6=0"
ip -n "$router_ns" -6 addr add "$router_ip6/64" dev "$peer_if" nodad
ip -n "$router_ns" addr add "$router_cip/24" dev "$rif"
ip -n "$router_ns" -6 addr add "$router_cip6/64" dev "$rif" nodad
ip -n "$client_ns" addr add "$client_ip/24" dev "$cif"
ip -n "$client_ns" -6 addr add "$client_ip6/64" dev "$cif" nodad
ip -n "$client_ns" route add default via "$router_cip"
ip -n "$client_ns" -6 route add default via "$router_cip6"
# ICMP errors unthrottled on the router (the kernel rate-limits them per
# destination: 1 s by default for ICMPv4), so the test does not wait on it.
ip netns exec "$router_ns" sysctl -qw net.ipv4.icmp_ratelimit=0
ip netns exec "$router_ns" sysctl -qw net.ipv6.icmp.ratelimit=0
echo "tern-httpd at $tern_ip / [$tern_ip6], router $router_ns, client $client_ip / [$client_ip6] in $client_ns"

# download URL N: curl in the client namespace, sha256 checked.
download() {
  local url=$1 n=$2 want got
  want=$(interop_pattern_sha "$n")
  ip netns exec "$client_ns" curl -sS --fail --max-time 30 -o "$work/curl.out" "$url/bytes/$n" ||
    fail "curl $url/bytes/$n"
  got=$(sha256sum <"$work/curl.out" | cut -d' ' -f1)
  [ "$got" = "$want" ] || fail "curl $url/bytes/$n: sha256 $got, expected $want (size $(stat -c %s "$work/curl.out"))"
  rm -f "$work/curl.out"
  echo "curl $url/bytes/$n ok"
}
n=4194304

# IPv6: the hop to the client carries 1280.
ip -n "$router_ns" link set "$rif" mtu 1280
download "http://[$tern_ip6]:$port" "$n"
v6_updates=$(stat_of TCPPMTUUpdates)
echo "after IPv6: TCPPMTUUpdates $v6_updates, Icmp6InPktTooBigs $(stat_of Icmp6InPktTooBigs)"
[ "$v6_updates" -ge 1 ] || fail "no PMTU update from the router's Packet Too Big"

# IPv4: the hop carries 1000 (IPv6 needs 1280, so it goes second).
ip -n "$router_ns" link set "$rif" mtu 1000
download "http://$tern_ip:$port" "$n"
v4_updates=$(stat_of TCPPMTUUpdates)
echo "after IPv4: TCPPMTUUpdates $v4_updates, IcmpInDestUnreachs $(stat_of IcmpInDestUnreachs)"
[ "$v4_updates" -gt "$v6_updates" ] || fail "no PMTU update from the router's Fragmentation Needed"

# A long IPv4 download with the connection's telemetry read mid-way: its
# path MTU is the narrow hop's.
ip netns exec "$client_ns" curl -sS --fail --max-time 60 --limit-rate 2M -o /dev/null \
  "http://$tern_ip:$port/bytes/8388608" &
curl_pid=$!
TERN_PIDS+=("$curl_pid")
conn_pmtu() {
  telemetry /tern/conns | python3 -c "
import json, sys
d = json.load(sys.stdin)
i = d['fields'].index('pmtu')
rows = [v for k, v in d.items() if k[0] == 'c' and k[1:].isdigit()]
sys.exit(0 if any(r[i] == '1000' for r in rows) else 1)"
}
tern_wait_for "a connection with pmtu 1000 in telemetry" 10 conn_pmtu ||
  fail "no connection shows pmtu 1000: $(telemetry /tern/conns)"
wait "$curl_pid" || fail "the rate-limited IPv4 download"

interop_stop_tern
interop_check_counters "Tern's counters" <<'PY'
for k in sorted(c):
    if "Icmp" in k or "PMTU" in k or "Pmtu" in k or "Retrans" in k:
        print("%s %d" % (k, c[k]))
checks = [
    ("TCPPMTUUpdates >= 2", c.get("TCPPMTUUpdates", 0) >= 2),
    # What the connections learned, kept for the client (RFC 8201 §5.2).
    ("PmtuLearned >= 2 (one per family)", c.get("PmtuLearned", 0) >= 2),
]
PY
echo "PASS: pmtu ($mode)"
