#!/usr/bin/env bash
# Interop: tern-echo on net_af_packet over a veth whose kernel peer keeps its
# TX checksum offload on (veth's default), the trap docs/ports.md describes.
#   afpacket_checksum_test.sh af_packet BUILD_DIR
# Checks: 1. Tern's start-up log names the problem and the exact command that
# fixes it (the peer's name and namespace in it). 2. The problem is real: the
# kernel's SYNs reach Tern and are dropped as TcpBadChecksum, no connection
# opens. 3. The command, run as Tern printed it, fixes it: 1 MB echoed intact.
# 4. Restarted with the fix in place, Tern says the peer's offload is off and
# warns of nothing; no TcpBadChecksum at exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init afcsum "$@"
[ "$mode" = af_packet ] || { echo "afpacket_checksum_test.sh: af_packet only"; exit 2; }
port=7
interop_setup "$mode" k 10.76
# interop_setup turned the peer's TX checksum offload off; this test wants it as a veth starts.
ip netns exec "$peer_ns" ethtool -K "$peer_if" tx on >/dev/null
ip netns exec "$peer_ns" ethtool -k "$peer_if" | grep -q "^tx-checksumming: on" || fail "could not turn tx on on $peer_if"
interop_write_config 256 4095
interop_start_tern tern-echo --port "$port"

# 1. The warning, with the fix.
warning=$(grep "has TX checksum offload on" "$work/tern.log") || fail "no start-up warning about the peer's checksum offload"
echo "start-up: ${warning#*TERN: }"
want="Fix: ip netns exec $peer_ns ethtool -K $peer_if tx off"
[[ "$warning" == *"$want"* ]] || fail "the warning does not say '$want'"
[[ "$warning" == *TcpBadChecksum* ]] || fail "the warning does not name the counter"

# 2. Without the fix: the SYN (and its retransmissions) counted as bad, nothing opens.
bad_checksums() { telemetry /tern/drops | python3 -c "import json,sys; print(json.load(sys.stdin).get('TcpBadChecksum', 0))"; }
some_bad_checksums() { [ "$(bad_checksums)" -ge 1 ]; }
ip netns exec "$peer_ns" python3 -c "
import socket, sys
try:
    socket.create_connection(('$tern_ip', $port), timeout=30)
except OSError:
    sys.exit(0)
sys.exit(1)" &
syn_pid=$!
TERN_PIDS+=("$syn_pid")
tern_wait_for "TcpBadChecksum to count the kernel's SYN" 20 some_bad_checksums ||
  fail "TcpBadChecksum stayed at 0 with the peer's offload on"
[ "$(interop_established)" = 0 ] || fail "a connection opened although every segment is dropped"
echo "without the fix: TcpBadChecksum $(bad_checksums), CurrEstab 0"
kill "$syn_pid" 2>/dev/null || true
wait "$syn_pid" 2>/dev/null || true
forget "$syn_pid"

# 3. The fix as printed.
fix=${warning#*Fix: }
fix=${fix% (docs/ports.md)*}
echo "running: $fix"
$fix >/dev/null || fail "the printed fix failed: $fix"
echo_once() {
  ip netns exec "$peer_ns" python3 - "$tern_ip" "$port" <<'PY'
import hashlib, os, socket, sys
data = os.urandom(1 << 20)
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
got = bytearray()
sent = 0
while len(got) < len(data):
    if sent < len(data):
        sent += s.send(data[sent:sent + 65536])
    chunk = s.recv(1 << 16)
    if not chunk:
        break
    got += chunk
s.close()
if bytes(got) != data:
    print("echo: %d of %d bytes back, %s" % (len(got), len(data), "different" if len(got) == len(data) else "short"))
    sys.exit(1)
print("echo: 1 MB intact, sha256 %s" % hashlib.sha256(data).hexdigest()[:16])
PY
}
echo_once || fail "echo after the fix"
interop_wait_closed
interop_stop_tern

# 4. Restarted with the fix in place: a confirmation, no warning, no bad checksum.
# (net_af_packet took Tern's end of the veth down when its port closed.)
ip -n "$ns_tern" link set "$tern_if" up
interop_start_tern tern-echo --port "$port"
grep -q "has TX checksum offload off, as net_af_packet needs" "$work/tern.log" || fail "no confirmation of the fix"
! grep -q "has TX checksum offload on\|Tern cannot see" "$work/tern.log" || fail "a warning with the fix in place"
echo_once || fail "echo after a restart"
interop_wait_closed
interop_stop_tern
! grep -q "^Drop.TcpBadChecksum " "$work/tern.log" || fail "TcpBadChecksum with the fix in place"
echo "PASS [$mode]: the warning named the fix, the fix worked"
