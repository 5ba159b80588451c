#!/usr/bin/env bash
# Interop: UDP over IPv6 between tern-echo --udp and the Linux kernel in a
# network namespace (python3 sockets and socat).
#   udp6_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks: datagrams of 0 to 30,000 bytes from several source ports echoed
# intact to the kernel over IPv6, those past 1,452 bytes in fragments both
# ways (RFC 8200 §4.5). 30,000 bytes (the issue's) is 21 fragments at MTU
# 1500, past the 8 DPDK 22.11's rte_ip_frag would take. Over
# af_packet too: PACKET_FANOUT_FLAG_DEFRAG, which loses big IPv4 datagrams
# (udp_test.sh), reassembles IPv4 only, so IPv6 fragments reach Tern as
# they are. A datagram to a closed port answered with ICMPv6
# Port Unreachable, which the kernel reports to a connected socket as
# ECONNREFUSED; Tern's counters. Then Tern as the client: tern-echo --udp
# --connect to the kernel's IPv6 address, 50 datagrams of up to 30,000 bytes
# per worker (the first exactly that: 21 fragments each way) echoed and
# checked, every echo back on the worker whose
# connected socket sent (no Udp6NoPorts), those in fragments reassembled on
# the worker their addresses hash to and steered on from there
# (ReasmSteered). socat both ways: as the kernel's client of Tern's echo (5,
# 8,000 and 30,000 bytes, content compared) and as the kernel's echo server Tern's
# client talks to. Two workers (software steering).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init udp6 "$@"
interop_setup "$mode" v 10.83
tern_ip6="2001:db8:83::2"
peer_ip6="2001:db8:83::1"
port=7
interop_write_config 256 4095
sed -i "s|^address = .*|&\naddress6 = [\"$tern_ip6/64\"]|" "$work/tern.toml"
interop_start_tern tern-echo --udp --port "$port"
# The address is tentative until duplicate address detection ends (one
# probe, then [nd] retrans_ms). The kernel's IPv6 after it (lib.sh:
# interop_peer_ipv6).
tern_wait_for "duplicate address detection" 10 interop_dad_done || fail "no Router Solicitation after DAD"
interop_peer_ipv6 "$peer_ip6"
echo "tern-echo --udp at [$tern_ip6]:$port, kernel $peer_ip6 in $peer_ns"

ip netns exec "$peer_ns" python3 - "$tern_ip6" "$port" <<'PY' | tee "$work/client.log" || fail "kernel UDP/IPv6 client"
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
sizes = [0, 1, 7, 100, 512, 1000, 1400, 1452, 1453, 3000, 8000, 11000, 30000]
sent = 0
for round in range(4):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.settimeout(0.5)
    s.connect((host, port))
    for n in sizes:
        data = os.urandom(n)
        for attempt in range(5):
            s.send(data)
            try:
                got = s.recv(65535)
            except socket.timeout:
                print("retry: %d bytes, attempt %d" % (n, attempt + 1))
                continue
            break
        else:
            sys.exit("no echo for a %d-byte datagram" % n)
        if got != data:
            sys.exit("echo of %d bytes differs (%d bytes back)" % (n, len(got)))
        sent += 1
    s.close()
print("echoed %d datagrams of %d" % (sent, 4 * len(sizes)))
c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
c.settimeout(2)
c.connect((host, 9))
c.send(b"anyone?")
try:
    c.recv(100)
    sys.exit("a reply from closed port 9")
except ConnectionRefusedError:
    print("closed port: ECONNREFUSED (ICMPv6 port unreachable)")
except socket.timeout:
    sys.exit("no ICMPv6 port unreachable for closed port 9")
PY
grep -q "^echoed 52 datagrams of 52" "$work/client.log" || fail "not every datagram echoed"
# socat as the kernel's client (the issue's tool): a few bytes, 8,000
# and 30,000 (6 and 21 fragments each way).
interop_socat_echo "$tern_ip6" "$port" 5 8000 30000

interop_stop_tern
sed -n '/^--- tern counters/,$p' "$work/tern.log" | grep -E "^(Udp|Icmp6Out|Ip6Reasm|Ip6Frag|udp)" || true
interop_check_counters "Tern's counters" <<'PY'
checks = [
    ("Udp6InDatagrams >= 52", c.get("Udp6InDatagrams", 0) >= 52),
    ("Udp6OutDatagrams >= 52", c.get("Udp6OutDatagrams", 0) >= 52),
    ("Ip6ReasmOKs >= 20 (5 sizes in fragments, 4 rounds)", c.get("Ip6ReasmOKs", 0) >= 20),
    ("Ip6FragOKs >= 20", c.get("Ip6FragOKs", 0) >= 20),
    ("Ip6FragCreates >= 84 (21 for each 30,000-byte echo)", c.get("Ip6FragCreates", 0) >= 84),
    ("no Ip6ReasmFails", c.get("Ip6ReasmFails", 0) == 0),
    ("Udp6NoPorts >= 1", c.get("Udp6NoPorts", 0) >= 1),
    ("Icmp6OutDestUnreachs >= 1", c.get("Icmp6OutDestUnreachs", 0) >= 1),
    ("no Udp6InErrors", c.get("Udp6InErrors", 0) == 0),
]
PY

# Tern as the client over IPv6 (tern-echo --udp --connect ADDR6): a kernel
# echo server (socat) on port 7007; every echo checked. The client starts once
# Tern's duplicate address detection is over (--start-file): before, no
# address of Tern's is a source (RFC 4862 §5.4) and connect() fails. In tap
# mode the new Tern's tap is a new interface: the kernel's IPv6 again.
interop_udp_echo_server :: "$work/server6.log"
rm -f "$work/go"
interop_start_tern tern-echo --udp --connect "$peer_ip6" --port 7007 --messages 50 --max-size 30000 \
  --start-file "$work/go"
tern_wait_for "duplicate address detection" 10 interop_dad_done || fail "DAD did not end (client)"
interop_peer_ipv6 "$peer_ip6"
touch "$work/go"
tern_wait_for "the UDP client" 60 pid_gone "$tern_pid" || fail "tern-echo --udp --connect $peer_ip6 did not finish"
interop_stop_tern
grep "^udp echo client" "$work/tern.log"
[ "$(grep -c '^udp echo client .* ok$' "$work/tern.log")" = "$TERN_WORKERS" ] || fail "UDP client over IPv6"
for ((w = 0; w < TERN_WORKERS; w++)); do
  grep -q "^udp echo client $w: echoed 50 " "$work/tern.log" || fail "UDP client $w over IPv6: not 50 echoes"
done
interop_check_counters "Tern's counters (client)" "$TERN_WORKERS" <<'PY'
checks = [
    ("Udp6OutDatagrams >= 50", c.get("Udp6OutDatagrams", 0) >= 50),
    ("Udp6InDatagrams >= 50", c.get("Udp6InDatagrams", 0) >= 50),
    ("no Udp6NoPorts (every echo on its socket's worker)", c.get("Udp6NoPorts", 0) == 0),
    ("ReasmSteered >= 1 (fragmented echoes for the other worker)",
     int(args[0]) < 2 or c.get("ReasmSteered", 0) >= 1),
    # Each worker's first datagram, 30,000 bytes: 21 fragments out, its echo
    # reassembled from 21.
    ("Ip6FragCreates >= 21 per worker", c.get("Ip6FragCreates", 0) >= 21 * int(args[0])),
    ("Ip6ReasmOKs >= 1 per worker", c.get("Ip6ReasmOKs", 0) >= int(args[0])),
    ("no Udp6InErrors", c.get("Udp6InErrors", 0) == 0),
]
PY
echo "PASS: udp6 ($mode)"
