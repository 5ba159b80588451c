#!/usr/bin/env bash
# Interop: net_af_packet's queue pairs against Tern's workers (docs/ports.md).
# DPDK 22.11's PMD opens one AF_PACKET socket per queue pair (qpairs) when the
# EAL probes it and joins them in one PACKET_FANOUT_HASH group: the kernel
# then hands each socket its share of the flows, polled or not. With the
# interop scripts' former qpairs=2 and the loss bench's one worker, the
# second socket took about half the flows and nobody read it: one bench run
# in three lost a connection's SYN or SYN-ACK, no counter said so.
#   afpacket_fanout_test.sh af_packet BUILD_DIR
# Checks, with one worker and with two, each over 3 restarts of tern-echo on
# the same veth (lib.sh's device string, which gives no qpairs):
# 1. Tern opened exactly one packet socket per worker on the interface
#    (/proc/net/packet in Tern's namespace), no socket nobody polls.
# 2. The kernel opens 16 connections, one after another (a fresh source port
#    each, so a fresh fanout hash), and echoes 1,000 bytes through each: all
#    intact, and not one SYN retransmitted (TcpExtTCPSynRetrans of the
#    kernel's namespace unchanged): a SYN that a restarted Tern missed, or
#    whose SYN-ACK it missed, is retransmitted after the kernel's 1 s RTO.
# 3. Each of those sockets has a send buffer that covers its TX ring (ss -0
#    -m: tb >= framecnt x framesz; lib/port/af_packet_sndbuf.h): the PMD
#    kicks the ring once per burst, and a kick that stops at a full send
#    buffer leaves frames that wait for the next burst, or, for a TCP
#    sender whose window they hold, for its retransmission timeout.
# The refusal of qpairs=2 with one worker is startup_test.sh's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init afpfanout "$@"
[ "$mode" = af_packet ] || { echo "afpacket_fanout_test.sh: af_packet only"; exit 2; }
port=7
conns=16
interop_setup "$mode" f 10.74
ifindex=$(ip -n "$ns_tern" -o link show "$tern_if" | awk -F': ' '{print $1}')

# packet_sockets: Tern's packet sockets on its interface (nothing else in its
# namespace opens any; /proc/net/packet's Iface column is the index).
packet_sockets() { ip netns exec "$ns_tern" awk -v i="$ifindex" 'NR > 1 && $5 == i' /proc/net/packet | wc -l; }
# send_buffers: the send buffer (skmem tb) of each packet socket on the
# interface (ss puts skmem on the socket's line or the next, by width).
send_buffers() {
  ip netns exec "$ns_tern" ss -0 -m -a -n |
    awk -v i=":$tern_if" '$5 ~ i"$" { if ($0 !~ /skmem/) getline; if (match($0, /tb[0-9]+/)) print substr($0, RSTART + 2, RLENGTH - 2) }'
}
ring_bytes=$(($(sed -n 's/.*framecnt=\([0-9]*\).*/\1/p' <<<"$device") * 2048))
syn_retrans() { interop_in_peer awk '$1 == "TcpExt:" && !n { for (k = 2; k <= NF; k++) h[k] = $k; n = 1; next }
  $1 == "TcpExt:" { for (k = 2; k <= NF; k++) if (h[k] == "TCPSynRetrans") print $k }' /proc/net/netstat; }

echo_connections() {
  interop_in_peer python3 - "$tern_ip" "$port" "$conns" <<'PY'
import os, socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    data = os.urandom(1000)
    try:
        s = socket.create_connection((host, port), timeout=10)
    except OSError as e:
        print("connection %d of %d: %s (no SYN-ACK)" % (i + 1, n, e))
        sys.exit(1)
    src = s.getsockname()[1]
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    if got != data:
        print("connection %d (source port %d): %d of %d bytes back" % (i, src, len(got), len(data)))
        sys.exit(1)
print("%d connections echoed" % n)
PY
}

runs=0
for lcores in "0" "0, 1"; do
  workers=$(echo "$lcores" | tr ',' '\n' | grep -c .)
  for restart in 1 2 3; do
    interop_write_config 256 4095
    sed -i "s/^lcores = .*/lcores = [$lcores]/" "$work/tern.toml"
    interop_start_tern tern-echo --port "$port"
    grep -q "queues *$workers RX + $workers TX" "$work/tern.log" || fail "not $workers queue(s): $(grep queues "$work/tern.log")"
    sockets=$(packet_sockets)
    [ "$sockets" = "$workers" ] ||
      fail "$sockets packet socket(s) on $tern_if for $workers worker(s): the fanout feeds a socket nobody polls"
    buffers=$(send_buffers | tr '\n' ' ')
    [ "$(wc -w <<<"$buffers")" = "$workers" ] || fail "send buffers of $workers socket(s) expected, ss shows: $(ip netns exec "$ns_tern" ss -0 -m -a -n)"
    for b in $buffers; do
      [ "$b" -ge "$ring_bytes" ] || fail "a packet socket's send buffer is $b bytes, its TX ring $ring_bytes: $(grep 'tx ring' "$work/tern.log")"
    done
    before=$(syn_retrans)
    out=$(echo_connections) || fail "lcores [$lcores], start $restart: $out"
    after=$(syn_retrans)
    [ "$after" = "$before" ] ||
      fail "lcores [$lcores], start $restart: the kernel retransmitted $((after - before)) SYN(s) of $conns connections"
    echo "lcores [$lcores], start $restart: $sockets packet socket(s), send buffers $buffers(ring $ring_bytes), $out, no SYN retransmitted"
    interop_wait_closed
    interop_stop_tern
    runs=$((runs + 1))
  done
done
echo "PASS [$mode]: $runs starts of tern-echo, one packet socket per worker with a send buffer for its ring, $((runs * conns)) connections without a SYN retransmission"
