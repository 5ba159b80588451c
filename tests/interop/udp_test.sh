#!/usr/bin/env bash
# Interop: UDP between tern-echo --udp (2 workers) and the Linux kernel in a
# network namespace (python3 sockets and socat).
#   udp_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks, Tern as the server: datagrams of 0 to 30,000 bytes echoed intact
# from many source ports (spread over both workers), the large ones in
# fragments both ways (30,000 bytes is 21 fragments at MTU 1500, past the 8
# DPDK 22.11's rte_ip_frag would take; Tern reassembles up to 64); a datagram to
# a closed port answered with ICMP Port Unreachable, which the kernel
# reports to a connected socket as ECONNREFUSED. Over af_packet the largest
# is 1,800 bytes: DPDK's net_af_packet joins its sockets with
# PACKET_FANOUT_FLAG_DEFRAG, so the kernel hands it datagrams reassembled,
# and one past its 2,048-byte frames is lost. Tern as the client: tern-echo
# --udp --connect against a kernel echo server, up to 30,000 bytes (echoes
# in fragments, reassembled on one worker and steered to the socket's),
# every echo checked. socat both ways: as the kernel's client of Tern's
# echo (5, 8,000 and 30,000 bytes, 1,800 over af_packet, compared) and as
# the kernel's echo server Tern's client talks to. Then Tern's counters.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init udp "$@"

port=7
interop_setup "$mode" u 10.81
interop_write_config 512 8191
interop_start_tern tern-echo --udp --port "$port"
echo "tern-echo --udp at $tern_ip:$port, kernel $peer_ip in $peer_ns"

ip netns exec "$peer_ns" python3 - "$tern_ip" "$port" "$mode" <<'PY' | tee "$work/client.log" || fail "kernel UDP client"
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
sizes = [0, 1, 7, 100, 512, 1400, 1472, 1473, 3000, 8000, 11000, 30000]
if sys.argv[3] == "af_packet":
    sizes = [n for n in sizes if n <= 1800] + [1800]
sent = 0
for sport_round in range(8):  # new sockets: new source ports, spread over the workers
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
            sys.exit("no echo for a %d-byte datagram from port %d" % (n, s.getsockname()[1]))
        if got != data:
            sys.exit("echo of %d bytes differs (%d bytes back)" % (n, len(got)))
        sent += 1
    s.close()
print("echoed %d datagrams of %d" % (sent, 8 * len(sizes)))
# A closed port: the kernel turns Tern's Port Unreachable into ECONNREFUSED.
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(2)
c.connect((host, 9))
c.send(b"anyone?")
try:
    c.recv(100)
    sys.exit("a reply from closed port 9")
except ConnectionRefusedError:
    print("closed port: ECONNREFUSED (ICMP port unreachable)")
except socket.timeout:
    sys.exit("no ICMP port unreachable for closed port 9")
PY
grep -Eq "^echoed ([0-9]+) datagrams of \1$" "$work/client.log" || fail "not every datagram echoed"
# socat as the kernel's client (the issue's tool): a few bytes, 8,000 and
# 30,000 (6 and 21 fragments each way; 1,800 at most over af_packet, above).
socat_sizes=(5 8000 30000)
[ "$mode" = af_packet ] && socat_sizes=(5 1800)
interop_socat_echo "$tern_ip" "$port" "${socat_sizes[@]}"

interop_stop_tern
echo "--- tern-echo --udp at exit ---"
sed -n '/^--- tern counters/,$p' "$work/tern.log" | grep -E "^(Udp|Icmp|Ip|udp|Drop)" || true
echoed=$(sed -n 's/^echoed \([0-9]*\) datagrams.*/\1/p' "$work/client.log")
interop_check_counters "Tern's counters (server)" "$mode" "$echoed" <<'PY'
n = int(args[1])
w = [dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1]))
     for line in log.splitlines() if line.startswith("udp echo worker ")]
checks = [
    ("a report line per worker", len(w) == int(os.environ["TERN_WORKERS"])),
    ("echoed at least %d datagrams" % n, sum(x["datagrams"] for x in w) >= n),
    ("no send errors", sum(x["send_errors"] for x in w) == 0),
    ("UdpInDatagrams >= %d" % n, c.get("UdpInDatagrams", 0) >= n),
    ("UdpOutDatagrams == datagrams echoed", c.get("UdpOutDatagrams", 0) == sum(x["datagrams"] for x in w)),
    ("UdpNoPorts >= 1", c.get("UdpNoPorts", 0) >= 1),
    ("IcmpOutDestUnreachs >= 1", c.get("IcmpOutDestUnreachs", 0) >= 1),
    # 1473 to 30,000 bytes: 5 sizes in fragments, 8 rounds.
    ("IpReasmOKs >= 40", args[0] == "af_packet" or c.get("IpReasmOKs", 0) >= 40),
    ("no IpFragTooMany", c.get("Drop.IpFragTooMany", 0) == 0),
    ("no UdpInErrors", c.get("UdpInErrors", 0) == 0),
]
PY

# Tern as the client: a kernel echo server (socat) on port 7007 in the peer namespace.
interop_udp_echo_server 0.0.0.0 "$work/server.log"
# Up to 30,000 bytes, the first datagram of each worker exactly that (21
# fragments each way at MTU 1500): most echoes come back in fragments, which
# steering sends by addresses alone to one worker; it reassembles each and
# steers it on to the worker whose connected socket sent it (ReasmSteered).
# Over af_packet the kernel defragments (above), so 1,800 bytes at most there.
client_max=30000
[ "$mode" = af_packet ] && client_max=1800
# The client starts once the link is set up on both sides (--start-file):
# an ARP request sent before the kernel's end has its address goes
# unanswered, and each worker would resend its first datagram for the
# second until ARP asks again.
rm -f "$work/go"
interop_start_tern tern-echo --udp --connect "$peer_ip" --port 7007 --messages 200 --max-size "$client_max" \
  --start-file "$work/go"
touch "$work/go"
tern_wait_for "the UDP client" 60 pid_gone "$tern_pid" || fail "tern-echo --udp --connect did not finish"
interop_stop_tern
grep "^udp echo client" "$work/tern.log"
sed -n '/^--- tern counters/,/^--- worker/p' "$work/tern.log" | grep -E "^(Udp|Ip|Arp|Steer|Reasm|Drop)" || true
[ "$(grep -c '^udp echo client .* ok$' "$work/tern.log")" = "$TERN_WORKERS" ] || fail "UDP client"
grep -q "^udp echo client 0: echoed 200 " "$work/tern.log" || fail "UDP client: not 200 echoes"
# Each worker's first datagram, 30,000 bytes (1,800 over af_packet): its
# echo reassembled from 21 fragments (the kernel's reassembly over af_packet).
interop_check_counters "Tern's counters (client)" "$mode" "$TERN_WORKERS" <<'PY'
n = int(args[1])
checks = [
    ("UdpOutDatagrams >= 200", c.get("UdpOutDatagrams", 0) >= 200),
    ("no UdpNoPorts (every echo on its socket's worker)", c.get("UdpNoPorts", 0) == 0),
    ("IpReasmOKs >= 1 per worker", args[0] == "af_packet" or c.get("IpReasmOKs", 0) >= n),
    ("no UdpInErrors", c.get("UdpInErrors", 0) == 0),
]
PY
echo "PASS: udp ($mode)"
