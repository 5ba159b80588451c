#!/usr/bin/env bash
# Interop: Tern as the TCP client (tern-echo --connect, 2 workers) against a
# Linux echo server (tests/interop/echo_server.py) in the peer namespace,
# through every way a connection can end. Each case checks both views:
# tern-echo's per-connection verdicts and Tern's counters, and the server's
# record of how each connection ended (EOF / ECONNRESET, who sent FIN first).
#   client_test.sh tap|af_packet|af_xdp BUILD_DIR
# Cases (docs/testing.md has the full close-path table):
#   1 bulk       50 connections x 200 messages of up to 64 KiB, every byte
#                checked; Tern closes first (--finish close): the server
#                reads EOF, then closes. ActiveOpens == 50, no resets.
#   2 kernel-first  the server closes after echoing K bytes (--finish wait):
#                Tern reads EOF, then closes.
#   3 half-close Tern half-closes as soon as it has sent everything
#                (--finish shutdown); the server keeps back the last 1,000
#                bytes of echo and sends them only after reading EOF, so Tern
#                must read data after its own FIN (the bytes are part of the
#                echo, so tern-echo's checker verifies them; no checker
#                change for "extra" bytes). The kernel half-closing first
#                while Tern keeps sending is echo_test.sh's halfclose phase.
#   4 simultaneous  the server's FIN leaves right after the last echoed byte
#                (delayed 0..900 us across connections) while Tern closes on
#                receiving that byte; 20 connections, all must end cleanly
#                (no RST in a kernel-side capture, no timeout). Tern has no
#                CLOSING counter: the capture counts the FINs that crossed
#                (neither acknowledges the other: both sides went through
#                CLOSING).
#   5 abort      --finish abort: the server sees ECONNRESET on every connection.
#   6 kernel abortive close (SO_LINGER 0) seen by Tern as a reset: covered by
#                echo_test.sh's abort phase (Tern as server), not repeated.
#   7 refused    connecting to a port nobody listens on: tern-echo reports
#                every connection refused and exits with status 1.
# Over af_packet, cases 1 and 3 need the PMD's ring larger than its default
# 512 frames (lib.sh sets framecnt): with the default, the ring overflows,
# the fanout rolls flows over to the other queue, segments arrive late and
# fail PAWS, and connections stall or get reset (docs/ports.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init client "$@"

interop_setup "$mode" c 10.77
interop_write_config 512 16383 "[tcp]
max_connections = 1024"
start=$SECONDS
server_pid=
cases=${TERN_CLIENT_CASES:-1 2 3 4 5 7}
want() { [[ " $cases " == *" $1 "* ]]; }
keep=${TERN_CLIENT_KEEP:-}  # set: on failure, copy the work directory (logs, captures) there

interop_on_fail() {
  if [ -n "$keep" ]; then
    [ -n "${dump_pid:-}" ] && kill -INT "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null
    rm -rf "$keep" && cp -r "$work" "$keep" && echo "work directory kept in $keep"
  fi
}

# start_server PORT CONNECTIONS ARGS...: echo_server.py in the peer namespace.
start_server() {
  local port=$1 n=$2
  shift 2
  rm -f "$work/server.log" "$work/server.out"
  interop_in_peer python3 "$here/echo_server.py" "$port" --connections "$n" --log "$work/server.log" \
    --timeout 40 "$@" >"$work/server.out" 2>&1 &
  server_pid=$!
  TERN_PIDS+=("$server_pid")
  tern_wait_for "echo server to listen" 10 grep -q listening "$work/server.out" || fail "echo server did not start"
}

# wait_server: the server exits once every connection ended; its status.
wait_server() {
  local p=$server_pid
  server_pid=
  tern_wait_for "echo server to finish" 30 pid_gone "$p" || fail "echo server: connections still open"
  wait "$p" || fail "echo server: $(cat "$work/server.out")"
}
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# run_client SECONDS ARGS...: tern-echo as the client; waits for it to exit
# by itself (every connection ended and every TCB freed). Sets client_rc.
run_client() {
  local limit=$1
  shift
  interop_start_tern tern-echo --connect "$peer_ip" "$@"
  local p=$tern_pid
  tern_wait_for "tern-echo client to finish" "$limit" pid_gone "$p" || fail "tern-echo did not finish in $limit s"
  tern_pid=
  client_rc=0
  wait "$p" || client_rc=$?
}

# check CASE [KEY=VALUE...]: tests/interop/client_test.sh's assertions for
# one case, over Tern's counters and client lines ($work/tern.log) and the
# server's records ($work/server.log). Prints the checks; fails on any.
check() {
  local name=$1
  shift
  env "$@" CASE="$name" CLIENT_RC="$client_rc" python3 - "$work/tern.log" "$work/server.log" <<'PY' ||
import json, os, re, sys
case = os.environ["CASE"]
n = int(os.environ.get("N", "0"))
log = open(sys.argv[1]).read()
total = log[log.index("--- tern counters"):]
total = total[:total.index("--- worker")]
c = {k: int(v) for k, v in re.findall(r"^(\S+) (\d+)$", total, re.M)}
cl = [dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1]))
      for line in log.splitlines() if line.startswith("echo client ")]
assert len(cl) == int(os.environ["TERN_WORKERS"]), "expected a client line per worker, got %d" % len(cl)
s = lambda k: sum(w[k] for w in cl)
srv = []
if os.path.exists(sys.argv[2]):
    srv = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
ends = {}
for r in srv:
    ends[r["end"]] = ends.get(r["end"], 0) + 1
firsts = {}
for r in srv:
    firsts[r["first"]] = firsts.get(r["first"], 0) + 1
rc = int(os.environ["CLIENT_RC"])
clean_client = [
    ("tern-echo exit status 0", rc == 0),
    ("connected == %d" % n, s("connected") == n),
    ("completed == %d, failed 0" % n, s("completed") == n and s("failed") == 0),
    ("no mismatched byte", s("mismatches") == 0),
    ("no timeouts", s("timed_out") == 0 and c.get("TCPAbortOnTimeout", 0) == 0),
    ("ActiveOpens == %d" % n, c.get("ActiveOpens", 0) == n),
    ("no TCB left at exit", s("tcbs_in_use") == 0),
    ("Tern aborted nothing on close", c.get("TCPAbortOnClose", 0) == 0 and c.get("TCPAbortOnData", 0) == 0),
]
no_resets = [
    ("no resets seen by tern-echo", s("reset") == 0),
    ("InRsts 0, OutRsts 0, EstabResets 0",
     c.get("InRsts", 0) == 0 and c.get("OutRsts", 0) == 0 and c.get("EstabResets", 0) == 0),
]
server_all = [("server recorded %d connections" % n, len(srv) == n)]
bytes_match = [("server echoed every byte tern-echo checked", s("bytes_checked") == sum(r["bytes_out"] for r in srv)
                and all(r["bytes_in"] == r["bytes_out"] for r in srv))]
no_late = [("server read nothing after its FIN", all(r["late_data"] == 0 for r in srv))]
checks = []
if case == "bulk":
    checks = clean_client + no_resets + server_all + bytes_match + [
        ("server: EOF on every connection, client first", ends.get("eof", 0) == n and firsts.get("client", 0) == n),
    ]
elif case == "kernel-first":
    k = int(os.environ["K"])
    checks = clean_client + no_resets + server_all + bytes_match + no_late + [
        ("server: its FIN first, then EOF, on every connection",
         ends.get("eof", 0) == n and firsts.get("server", 0) == n),
        ("every connection echoed %d bytes" % k, all(r["bytes_out"] == k for r in srv)),
    ]
elif case == "half-close":
    h = int(os.environ["H"])
    checks = clean_client + no_resets + server_all + bytes_match + [
        ("server: EOF first (Tern's FIN) on every connection",
         ends.get("eof", 0) == n and firsts.get("client", 0) == n),
        ("server sent %d bytes after EOF on every connection, Tern checked them" % h,
         all(r["after_eof"] == h for r in srv)),
    ]
elif case == "simultaneous":
    k = int(os.environ["K"])
    checks = clean_client + no_resets + server_all + bytes_match + no_late + [
        ("server: EOF on every connection, no reset", ends.get("eof", 0) == n),
        ("every connection echoed %d bytes" % k, all(r["bytes_out"] == k for r in srv)),
    ]
    print("server's view of who closed first: %s" % firsts)
elif case == "abort":
    checks = clean_client + server_all + [
        ("server: ECONNRESET on every connection", ends.get("reset", 0) == n),
        ("tern-echo saw no reset (it sent them)", s("reset") == 0),
        ("OutRsts >= %d" % n, c.get("OutRsts", 0) >= n),
        ("no resets received", c.get("InRsts", 0) == 0),
    ]
elif case == "refused":
    checks = [
        ("tern-echo exit status 1", rc == 1),
        ("refused == %d" % n, s("refused") == n),
        ("connected 0, completed 0, failed %d" % n,
         s("connected") == 0 and s("completed") == 0 and s("failed") == n),
        ("ActiveOpens == %d" % n, c.get("ActiveOpens", 0) == n),
        ("InRsts == %d (one per SYN)" % n, c.get("InRsts", 0) == n),
        ("no TCB left at exit", s("tcbs_in_use") == 0),
    ]
else:
    sys.exit("unknown case " + case)
for what, ok in checks:
    print("  %-66s %s" % (what, "ok" if ok else "FAILED"))
print("  counters: ActiveOpens %d EstabResets %d InRsts %d OutRsts %d RetransSegs %d AttemptFails %d; "
      "checked %d bytes" % (c.get("ActiveOpens", 0), c.get("EstabResets", 0), c.get("InRsts", 0),
                            c.get("OutRsts", 0), c.get("RetransSegs", 0), c.get("AttemptFails", 0),
                            s("bytes_checked")))
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
    fail "case $name"
  grep "^echo client" "$work/tern.log" | sed 's/^/  /'
  mv "$work/tern.log" "$work/$name.tern.log"
}

# start_capture FILE FILTER: dumpcap on every interface of the peer
# namespace ("any" also sees a tap created later). stop_capture ends it.
start_capture() {
  # Not through a function: $! must be dumpcap itself, for stop_capture's SIGINT.
  ip netns exec "$peer_ns" dumpcap -q -i any -s 100 -f "$2" -w "$1" >"$work/dumpcap.log" 2>&1 &
  dump_pid=$!
  TERN_PIDS+=("$dump_pid")
  tern_wait_for "dumpcap to capture" 10 grep -q "Capturing on" "$work/dumpcap.log" || fail "dumpcap did not start"
}
stop_capture() {
  kill -INT "$dump_pid" 2>/dev/null || true
  wait "$dump_pid" 2>/dev/null || true
  dump_pid=
}

# crossed_fins PCAP: per connection, whether the two FINs crossed (neither
# acknowledges the other); prints "crossed N of M" and fails on any RST.
crossed_fins() {
  tshark -r "$1" -T fields -E separator=' ' -e ip.src -e tcp.srcport -e tcp.dstport -e tcp.flags.fin \
    -e tcp.flags.reset -e tcp.seq_raw -e tcp.ack_raw -e tcp.len 2>/dev/null | python3 -c '
import sys
tern = sys.argv[1]
fins = {}   # connection (Tern port) -> {"tern": (fin_seq, ack), "peer": (...)}
rsts = 0
for line in sys.stdin:
    f = line.split()
    if len(f) < 8: continue
    src, sport, dport, fin, rst, seq, ack, ln = f[:8]
    if rst in ("1", "True"): rsts += 1
    if fin not in ("1", "True"): continue
    side, conn = ("tern", sport) if src == tern else ("peer", dport)
    fin_seq = (int(seq) + int(ln)) % 2**32   # the FIN follows any data
    fins.setdefault(conn, {}).setdefault(side, (fin_seq, int(ack)))
both = [f for f in fins.values() if "tern" in f and "peer" in f]
crossed = sum(1 for f in both if f["tern"][1] != (f["peer"][0] + 1) % 2**32
              and f["peer"][1] != (f["tern"][0] + 1) % 2**32)
print("  kernel-side capture: %d connections with both FINs, %d crossed (both sides through CLOSING), %d RST" %
      (len(both), crossed, rsts))
sys.exit(1 if rsts else 0)
' "$tern_ip"
}

echo "Tern $tern_ip (client), kernel echo server $peer_ip in $peer_ns"

if want 1; then
echo "== case 1: bulk, 50 connections x 200 messages <= 64 KiB, Tern closes first"
t=$SECONDS
start_server 7001 50
if [ -n "$keep" ]; then
  start_capture "$work/bulk.pcap" "tcp port 7001"
fi
run_client 40 --port 7001 --connections 50 --messages 200 --max-size 65536 --finish close
wait_server
check bulk N=50
echo "  ($((SECONDS - t)) s)"
fi

if want 2; then
echo "== case 2: the kernel closes first after echoing 262144 bytes (--finish wait)"
start_server 7002 20 --close-after 262144
run_client 20 --port 7002 --connections 20 --messages 262144 --max-size 1 --finish wait
wait_server
check kernel-first N=20 K=262144
fi

if want 3; then
echo "== case 3: Tern half-closes after sending; the server sends its last 1000 bytes after EOF"
start_server 7003 20 --holdback 1000
run_client 20 --port 7003 --connections 20 --messages 100 --max-size 65536 --finish shutdown
wait_server
check half-close N=20 H=1000
fi

if want 4; then
echo "== case 4: simultaneous close, 20 connections"
start_server 7004 20 --close-after 100000 --close-delay-us 100
start_capture "$work/close.pcap" "tcp port 7004 and (tcp[tcpflags] & (tcp-fin|tcp-rst) != 0)"
run_client 20 --port 7004 --connections 20 --messages 100000 --max-size 1 --finish close
wait_server
stop_capture
check simultaneous N=20 K=100000
crossed_fins "$work/close.pcap" || fail "RST in the simultaneous-close capture"
fi

if want 5; then
echo "== case 5: Tern aborts (--finish abort): the kernel sees ECONNRESET"
start_server 7005 20
run_client 20 --port 7005 --connections 20 --messages 20 --max-size 65536 --finish abort
wait_server
check abort N=20
fi

if want 7; then
echo "== case 7: connect to a closed kernel port"
rm -f "$work/server.log"
run_client 20 --port 7007 --connections 10 --finish close
check refused N=10
fi

echo "PASS [$mode] in $((SECONDS - start)) s"
