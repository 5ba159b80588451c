#!/usr/bin/env bash
# Interop: tern-proxy (2 workers) in front of three kernel backends
# (python3 -m http.server on 8001..8003 in the peer namespace), curl and
# Python clients on the kernel side.
#   proxy_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks: bad flags are usage errors (exit 2); a 1 MB and a 20 MB file come
# through intact (sha256), several times; a client that half-closes (sends,
# shuts down its write side, reads to EOF) gets the whole response; a client
# that resets mid-transfer makes the proxy reset the backend side; with one
# backend killed, 24 more requests all succeed, the dead backend is marked
# down (failures >= --fail-threshold on a worker, marked_down >= 1, and a
# "marked down" line in the log) and the other two served them; restarted,
# it is probed after --retry-after and serves again ("up again" logged). Then a proxy whose only backend never answers resets its
# client after --connect-timeout. Then --idle-timeout 2: a client that
# trickles its request a line every 0.5 s for 3 s is served, one that sends
# nothing is reset (both sides) after the idle timeout. At exit: no
# session, TCB or connection left.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init proxy "$@"

port=8080
threshold=3
proxy="$build/apps/proxy/tern-proxy"
interop_setup "$mode" x 10.81
interop_write_config 512 16383 "[tcp]
max_connections = 1024"

# Usage errors: exit 2 and a message naming the problem, before the stack starts.
usage_error() {
  local want=$1 rc
  shift
  set +e
  "$proxy" --config "$work/tern.toml" "$@" >"$work/usage.log" 2>&1
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "tern-proxy $*: exit $rc, expected 2"
  grep -q -- "$want" "$work/usage.log" || fail "tern-proxy $*: no '$want' in: $(cat "$work/usage.log")"
}
usage_error "--backend is required" --listen 80
usage_error "--listen is required" --backend 10.0.0.1:80
usage_error "expected IP:PORT" --listen 80 --backend 10.0.0.1
usage_error "expected IP:PORT" --listen 80 --backend 10.0.0.300:80
usage_error "expected round-robin or least-connections" --listen 80 --backend 10.0.0.1:80 --policy random
usage_error "expected an integer" --listen 80 --backend 10.0.0.1:80 --fail-threshold 0
echo "usage errors: exit 2 with a message"

mkdir -p "$work/www"
head -c 1048576 /dev/urandom >"$work/www/small.bin"
head -c 20971520 /dev/urandom >"$work/www/big.bin"
sha_small=$(sha256sum <"$work/www/small.bin" | cut -d' ' -f1)
sha_big=$(sha256sum <"$work/www/big.bin" | cut -d' ' -f1)

interop_start_tern proxy/tern-proxy --listen "$port" --policy round-robin --fail-threshold "$threshold" \
  --retry-after 2 --connect-timeout 2 \
  --backend "$peer_ip:8001" --backend "$peer_ip:8002" --backend "$peer_ip:8003"
# The backends bind the kernel-side address, which in tap mode exists only
# once the tap is up (interop_start_tern).
declare -A backend_pid
for p in 8001 8002 8003; do
  # ip netns exec execs python, so $! is the server itself (a shell function
  # in the background would leave it orphaned, holding the interop lock).
  ip netns exec "$peer_ns" python3 -m http.server "$p" --bind "$peer_ip" --directory "$work/www" \
    >"$work/backend$p.log" 2>&1 &
  backend_pid[$p]=$!
  TERN_PIDS+=("$!")
done
for p in 8001 8002 8003; do
  tern_wait_for "backend $p" 15 interop_in_peer curl -sf -o /dev/null "http://$peer_ip:$p/small.bin" ||
    fail "backend $p did not start: $(cat "$work/backend$p.log")"
done
echo "tern-proxy at $tern_ip:$port, backends $peer_ip:8001..8003, kernel clients in $peer_ns"
url="http://$tern_ip:$port"

start=$SECONDS
fetch() {  # fetch FILE WANT_SHA: curl's transfer time in $work/time
  local got
  interop_in_peer curl -sS --fail --max-time 30 -o "$work/out" -w '%{time_total}' "$url/$1" >"$work/time" ||
    fail "curl $1 through the proxy"
  got=$(sha256sum <"$work/out" | cut -d' ' -f1)
  [ "$got" = "$2" ] || fail "curl $1: sha256 $got, expected $2 (size $(stat -c %s "$work/out"))"
  rm -f "$work/out"
}
for i in 1 2 3; do
  fetch small.bin "$sha_small"
  fetch big.bin "$sha_big"
  echo "round $i: 1 MB and 20 MB intact (20 MB in $(cat "$work/time") s)"
done

interop_in_peer python3 - "$tern_ip" "$port" "$sha_small" "$sha_big" <<'PY' || fail "half-close / reset clients"
import hashlib, socket, struct, sys, time
host, port, sha_small, sha_big = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

# Half-close: the request, then FIN; the response still comes, then EOF.
for name, want in (("small.bin", sha_small), ("big.bin", sha_big)):
    s = socket.create_connection((host, port), timeout=20)
    s.sendall(b"GET /" + name.encode() + b" HTTP/1.0\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    data = bytearray()
    while True:
        b = s.recv(1 << 20)
        if not b: break
        data += b
    s.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head[:80]
    assert hashlib.sha256(body).hexdigest() == want, (name, len(body))
    print("half-close: %s intact after our FIN (%d bytes)" % (name, len(body)))

# Reset: read a little of the 20 MB, then RST (SO_LINGER 0).
s = socket.create_connection((host, port), timeout=20)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
got = 0
while got < 100000:
    b = s.recv(65536)
    assert b, "EOF before the reset"
    got += len(b)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("reset: client sent RST after %d bytes" % got)
PY

# One backend dies: its port now refuses. Every request must still succeed.
kill "${backend_pid[8003]}"
wait "${backend_pid[8003]}" 2>/dev/null || true
tern_wait_for "backend 8003 to stop" 10 sh -c "! ip netns exec $peer_ns curl -s -o /dev/null http://$peer_ip:8003/" ||
  fail "backend 8003 still answers"
for i in $(seq 24); do fetch small.bin "$sha_small"; done
echo "backend 8003 killed: 24 more requests intact"
# The worker that marked it down said so, as it happened.
grep -E "^tern-proxy: worker [0-9]+: backend $peer_ip:8003 marked down after [0-9]+ failed connects in a row \(the last: refused\)" \
  "$work/tern.log" || fail "no 'marked down' line for backend 8003: $(grep '^tern-proxy' "$work/tern.log")"

# It comes back: once --retry-after has passed, a client's connect probes it
# and it serves again (its own log shows the requests). Each worker keeps its
# own view of the backends and a client lands on either, so a worker that
# never reached the threshold may be the first to use 8003 again, without a
# probe: keep going until 8003 served 6, which needs both workers' turns.
ip netns exec "$peer_ns" python3 -m http.server 8003 --bind "$peer_ip" --directory "$work/www" \
  >"$work/backend8003b.log" 2>&1 &
TERN_PIDS+=("$!")
tern_wait_for "backend 8003 to restart" 15 interop_in_peer curl -sf -o /dev/null "http://$peer_ip:8003/" ||
  fail "backend 8003 did not restart"
revived=0
deadline=$((SECONDS + 20))
until [ "$(grep -c "GET /small.bin" "$work/backend8003b.log")" -ge 6 ]; do
  [ $SECONDS -lt $deadline ] || fail "backend 8003 served $(grep -c "GET /small.bin" "$work/backend8003b.log") of 6 within 20 s of its return"
  fetch small.bin "$sha_small"
  revived=$((revived + 1))
done
echo "backend 8003 back: served 6 again after $revived requests"

# The reset client's backend connection is gone too: nothing left open.
interop_wait_closed
interop_stop_tern
echo "--- tern-proxy at exit ---"
grep -E "^proxy " "$work/tern.log"
sed -n '/^--- tern counters/,$p' "$work/tern.log" | grep -E "^(ActiveOpens|PassiveOpens|AttemptFails|EstabResets|OutRsts|CurrEstab) " | head -6

THRESHOLD=$threshold REVIVED=$revived python3 - "$work/tern.log" <<'PY' || fail "the proxy's report"
import os, re, sys
log = open(sys.argv[1]).read()
threshold = int(os.environ["THRESHOLD"])
nw = int(os.environ["TERN_WORKERS"])
def fields(line):
    return dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(": ", 1)[1]))
workers = [fields(l) for l in log.splitlines() if re.match(r"proxy worker \d+: ", l)]
per = {}  # port -> [per-worker dicts]
total = {}
for l in log.splitlines():
    m = re.match(r"proxy (worker \d+|total) backend [\d.]+:(\d+): ", l)
    if not m: continue
    if m.group(1) == "total": total[int(m.group(2))] = fields(l)
    else: per.setdefault(int(m.group(2)), []).append(dict(fields(l), up=" state up " in l))
tot = fields([l for l in log.splitlines() if l.startswith("proxy total: ")][0])
revived = int(os.environ["REVIVED"])
sessions = 6 + 3 + 24 + revived
checks = [
    ("a report per worker", len(workers) == nw and all(len(v) == nw for v in per.values()) and len(per) == 3),
    ("accepted == %d" % sessions, tot["accepted"] == sessions),
    ("completed == accepted - 1 (the reset)", tot["completed"] == sessions - 1),
    ("client_resets == 1", tot["client_resets"] == 1),
    ("no backend reset, relay error or client turned away",
     tot["backend_resets"] == 0 and tot["relay_errors"] == 0 and tot["no_backend"] == 0),
    ("no session left (active 0)", tot["active"] == 0 and all(t["active"] == 0 for t in total.values())),
    ("no TCB or connection left", tot["tcbs_in_use"] == 0 and tot["connections"] == 0),
    ("8003 failed >= threshold on a worker", max(w["failures"] for w in per[8003]) >= threshold),
    ("8003 marked down", total[8003]["marked_down"] >= 1),
    ("8001 and 8002 never failed", total[8001]["failures"] == 0 and total[8002]["failures"] == 0),
    ("8003 served at most the first 9 and those after its return",
     total[8003]["connections"] <= 9 + revived),
    ("8003 probed after --retry-after, up again on a worker that marked it down",
     any(w["marked_down"] >= 1 and w["probes"] >= 1 and w["up"] for w in per[8003])),
    ("8001 + 8002 served the 24 while it was down",
     total[8001]["connections"] + total[8002]["connections"] >= 24),
    ("every backend served before the kill", all(total[p]["connections"] > 0 for p in (8001, 8002, 8003))),
    ("failures == refused connects", sum(t["failures"] for t in total.values()) == tot["connect_refused"]),
    ("retries == failures", tot["retries"] == tot["connect_refused"]),
    ("bytes to clients >= 3 x 21 MB + 24 MB",
     tot["bytes_to_clients"] >= 3 * 22020096 + (24 + revived) * 1048576 + 1048576 + 20971520),
    ("every worker accepted", all(w["accepted"] > 0 for w in workers)),
]
for name, ok in checks: print("%-44s %s" % (name, "ok" if ok else "FAILED"))
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
! grep -q "^CurrEstab [1-9]" "$work/tern.log" || fail "CurrEstab not 0 at exit"
# ... and a worker that had marked it down logged its return.
grep -E "^tern-proxy: worker [0-9]+: backend $peer_ip:8003 up again" "$work/tern.log" ||
  fail "no 'up again' line for backend 8003: $(grep '^tern-proxy' "$work/tern.log")"
! grep -E "^tern-proxy: worker [0-9]+: backend $peer_ip:800[12] " "$work/tern.log" ||
  fail "a health line for a backend that never failed"

# A backend that never answers (no host at that address): the client is
# reset once --connect-timeout passed, and the proxy says why.
blackhole="${tern_ip%.*}.99"
cp "$work/tern.log" "$work/tern1.log"
interop_start_tern proxy/tern-proxy --listen "$port" --connect-timeout 1 --fail-threshold 1 --backend "$blackhole:80"
t0=$SECONDS
set +e
interop_in_peer curl -sS --max-time 10 -o /dev/null "$url/small.bin" 2>"$work/curl-blackhole.log"
rc=$?
set -e
[ "$rc" != 0 ] || fail "curl through a proxy with no live backend succeeded"
[ "$rc" != 28 ] || fail "curl timed out: the proxy never reset the client"
echo "no live backend: curl failed after $((SECONDS - t0)) s: $(tr -d '\n' <"$work/curl-blackhole.log")"
interop_stop_tern
grep -E "^proxy total" "$work/tern.log"
python3 - "$work/tern.log" <<'PY' || fail "the blackhole proxy's report"
import re, sys
log = open(sys.argv[1]).read()
line = [l for l in log.splitlines() if l.startswith("proxy total: ")][0]
t = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(": ", 1)[1]))
b = [l for l in log.splitlines() if l.startswith("proxy total backend ")][0]
bt = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", b.split(": ", 1)[1]))
checks = [
    ("client reset: no backend", t["no_backend"] == 1 and t["accepted"] == 1),
    ("the connect failed (timeout or unreachable)", t["connect_timeouts"] + t["connect_other"] == 1),
    ("backend failure counted, marked down", bt["failures"] == 1 and bt["marked_down"] == 1),
    ("no session, TCB or connection left", t["active"] == 0 and t["tcbs_in_use"] == 0 and t["connections"] == 0),
]
for name, ok in checks: print("%-44s %s" % (name, "ok" if ok else "FAILED"))
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
grep -E "^tern-proxy: worker [0-9]+: backend $blackhole:80 marked down after 1 failed connect in a row \(the last: (connect timed out|unreachable)\)" \
  "$work/tern.log" || fail "no 'marked down' line for the blackhole backend: $(grep '^tern-proxy' "$work/tern.log")"

# The idle timeout: bytes either way keep a relay open, none for
# --idle-timeout closes it (reset on both sides).
idle=2
cp "$work/tern.log" "$work/tern2.log"
interop_start_tern proxy/tern-proxy --listen "$port" --idle-timeout "$idle" --backend "$peer_ip:8001"
interop_in_peer python3 - "$tern_ip" "$port" "$idle" "$sha_small" <<'PY' || fail "idle timeout clients"
import hashlib, socket, sys, time
host, port, idle, sha_small = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]

# Active: the request trickles in for longer than the timeout, then the response.
s = socket.create_connection((host, port), timeout=10)
s.sendall(b"GET /small.bin HTTP/1.0\r\n")
for i in range(6):
    time.sleep(0.5)
    s.sendall(b"X-Slow: %d\r\n" % i)
s.sendall(b"\r\n")
data = bytearray()
while True:
    b = s.recv(1 << 20)
    if not b: break
    data += b
s.close()
head, _, body = bytes(data).partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.0 200"), head[:80]
assert hashlib.sha256(body).hexdigest() == sha_small, len(body)

# Idle: connected, nothing sent either way: reset after the timeout.
s = socket.create_connection((host, port), timeout=10)
t0 = time.monotonic()
try:
    got = s.recv(100)
    assert False, "not reset: %r" % got
except ConnectionResetError:
    pass
dt = time.monotonic() - t0
assert idle - 0.5 <= dt <= 10, dt
s.close()
print("idle timeout %gs: a request trickled over 3 s served intact; a silent client reset after %.1f s" % (idle, dt))
PY
interop_wait_closed
interop_stop_tern
grep -E "^proxy total" "$work/tern.log"
python3 - "$work/tern.log" <<'PY' || fail "the idle-timeout proxy's report"
import re, sys
log = open(sys.argv[1]).read()
line = [l for l in log.splitlines() if l.startswith("proxy total: ")][0]
t = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(": ", 1)[1]))
checks = [
    ("two sessions, one completed", t["accepted"] == 2 and t["completed"] == 1),
    ("one idle timeout", t["idle_timeouts"] == 1),
    ("no reset from either side", t["client_resets"] == 0 and t["backend_resets"] == 0),
    ("no session, TCB or connection left", t["active"] == 0 and t["tcbs_in_use"] == 0 and t["connections"] == 0),
]
for name, ok in checks: print("%-44s %s" % (name, "ok" if ok else "FAILED"))
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
echo "PASS [$mode] in $((SECONDS - start)) s"
