#!/usr/bin/env bash
# Interop: tern-httpd with 2 workers, the Linux kernel's curl, wget and a
# Python socket client in a network namespace.
#   httpd_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks: curl and wget download /bytes/1048576 and /bytes/104857600 and
# their sha256 matches the pattern generated here; over IPv6 (issue 15: an
# address6 on Tern, the kernel's without DAD), curl -6 and wget -6 download
# /bytes/1048576 from http://[ADDR6]:80, sha256 checked; a file under --root
# downloaded by curl matches; a malformed request gets a 400 and the server
# keeps serving; 3 pipelined requests on one connection get 3 correct
# responses in order; ab -k and wrk (20 keep-alive connections) see no
# failed or non-2xx response; the timeouts (--header-timeout 2,
# --idle-timeout 4, --send-timeout 2): a client that sends nothing, or a
# head that never completes however it trickles in, gets 408 and EOF after
# the header timeout, and so does a keep-alive connection whose next head
# starts late (timed from its first byte); an idle keep-alive connection is
# closed after the idle timeout, a slow but active one is not; a client that
# never reads its response is reset after the send timeout; others are
# served meanwhile. Slots (--worker-connections 32): 100 incomplete heads
# evict the oldest, nothing is refused, and a new client is still served.
# --root naming a missing directory or a file is a start-up error (exit 2).
# At exit: no connection, TCB or HTTP state left.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init httpd "$@"

port=80
interop_setup "$mode" h 10.79
interop_write_config 512 16383 "[tcp]
max_connections = 1024"
tern_ip6="2001:db8:79::2"
peer_ip6="2001:db8:79::1"
sed -i "s|^address = .*|&\naddress6 = [\"$tern_ip6/64\"]|" "$work/tern.toml"

mkdir -p "$work/root/sub"
head -c 3000000 /dev/urandom >"$work/root/sub/blob.bin"
echo "<html><body>tern-httpd</body></html>" >"$work/root/index.html"

# A missing --root is a start-up error (exit 2).
set +e
"$build/apps/tern-httpd" --config "$work/tern.toml" --root "$work/nonexistent" >"$work/noroot.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "--root of a missing directory: exit $rc, expected 2"
grep -q "not a readable directory" "$work/noroot.log" || fail "no clear --root error: $(cat "$work/noroot.log")"
# So is a --root that names a file.
set +e
"$build/apps/tern-httpd" --config "$work/tern.toml" --root "$work/root/index.html" >"$work/fileroot.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "--root of a file: exit $rc, expected 2"
grep -q "not a readable directory (Not a directory)" "$work/fileroot.log" ||
  fail "no clear --root error: $(cat "$work/fileroot.log")"

# Short timeouts, so that the timeout checks below finish quickly; the idle
# timeout longer than the header timeout, so each check tells them apart.
header=2
idle=4
send=2
slots=32
interop_start_tern tern-httpd --port "$port" --root "$work/root" --header-timeout "$header" \
  --idle-timeout "$idle" --send-timeout "$send" --worker-connections "$slots"
echo "tern-httpd at $tern_ip:$port, kernel client $peer_ip in $peer_ns"
url="http://$tern_ip:$port"
inpeer() { interop_in_peer "$@"; }

start=$SECONDS
for n in 1048576 104857600; do
  want=$(interop_pattern_sha "$n")
  # curl's own transfer time (connect to last byte); wget's below includes process start-up.
  t=$(inpeer curl -sS --fail --max-time 30 -o "$work/curl.out" -w '%{time_total}' "$url/bytes/$n") ||
    fail "curl /bytes/$n"
  got=$(sha256sum <"$work/curl.out" | cut -d' ' -f1)
  [ "$got" = "$want" ] || fail "curl /bytes/$n: sha256 $got, expected $want (size $(stat -c %s "$work/curl.out"))"
  echo "curl /bytes/$n ok: $(python3 -c "print('%.3f s, %.0f Mbit/s' % ($t, $n * 8 / $t / 1e6))")"
  t0=$(date +%s.%N)
  inpeer wget -q -T 30 -t 1 -O "$work/wget.out" "$url/bytes/$n" || fail "wget /bytes/$n"
  t1=$(date +%s.%N)
  got=$(sha256sum <"$work/wget.out" | cut -d' ' -f1)
  [ "$got" = "$want" ] || fail "wget /bytes/$n: sha256 $got, expected $want"
  echo "wget /bytes/$n ok: $(python3 -c "print('%.3f s, %.0f Mbit/s' % ($t1 - $t0, $n * 8 / ($t1 - $t0) / 1e6))")"
  rm -f "$work/curl.out" "$work/wget.out"
done

# IPv6: curl -6 and wget -6 against the same server. DAD (about a second)
# ended during the downloads above; only then may the kernel side get its
# IPv6 address (in tap mode its link-local address is Tern's: lib.sh).
t6=$SECONDS
tern_wait_for "duplicate address detection" 10 interop_dad_done || fail "no Router Solicitation after DAD"
interop_peer_ipv6 "$peer_ip6"
url6="http://[$tern_ip6]:$port"
n=1048576
want=$(interop_pattern_sha "$n")
inpeer curl -6 -sS --fail --max-time 30 -o "$work/curl.out" "$url6/bytes/$n" || fail "curl -6 $url6/bytes/$n"
got=$(sha256sum <"$work/curl.out" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "curl -6 /bytes/$n: sha256 $got, expected $want (size $(stat -c %s "$work/curl.out"))"
echo "curl -6 $url6/bytes/$n ok"
inpeer wget -6 -q -T 30 -t 1 -O "$work/wget.out" "$url6/bytes/$n" || fail "wget -6 $url6/bytes/$n"
got=$(sha256sum <"$work/wget.out" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "wget -6 /bytes/$n: sha256 $got, expected $want (size $(stat -c %s "$work/wget.out"))"
echo "wget -6 $url6/bytes/$n ok (IPv6 part: $((SECONDS - t6)) s)"
rm -f "$work/curl.out" "$work/wget.out"

inpeer curl -sS --fail --max-time 20 -o "$work/blob.out" "$url/sub/blob.bin" || fail "curl a file"
cmp "$work/blob.out" "$work/root/sub/blob.bin" || fail "file under --root differs"
echo "curl /sub/blob.bin (3,000,000 bytes) ok"
[ "$(inpeer curl -sS --max-time 10 "$url/")" = "$(cat "$work/root/index.html")" ] || fail "curl / (index.html)"
code=$(inpeer curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$url/nope")
[ "$code" = 404 ] || fail "missing file: $code, expected 404"
code=$(inpeer curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --path-as-is "$url/../etc/passwd")
[ "$code" = 400 ] || fail "../: $code, expected 400"
code=$(inpeer curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X POST "$url/bytes/1")
[ "$code" = 405 ] || fail "POST: $code, expected 405"
echo "/ index.html, 404, ../ 400, POST 405 ok"

inpeer python3 - "$tern_ip" "$port" <<'PY' || fail "raw socket checks"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])

def read_response(f, head=False):
    status = f.readline()
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""): break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = b"" if head else f.read(int(headers["content-length"]))
    return status.decode().strip(), headers, body

def conn():
    s = socket.create_connection((host, port), timeout=10)
    return s, s.makefile("rb")

# Malformed: 400, then the server closes.
s, f = conn()
s.sendall(b"GARBAGE\r\n\r\n")
st, h, _ = read_response(f)
assert st.startswith("HTTP/1.1 400"), st
assert h.get("connection") == "close", h
assert f.read() == b"", "data after a 400"
s.close()
# Oversized head: 431.
s, f = conn()
s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * 9000 + b"\r\n\r\n")
st, _, _ = read_response(f)
assert st.startswith("HTTP/1.1 431"), st
s.close()
# Three pipelined requests in one write on a keep-alive connection.
pat = bytearray(65521); x = 1
for k in range(65521):
    x = (x * 1103515245 + 12345) & 0x7fffffff; pat[k] = (x >> 16) & 0xff
s, f = conn()
s.sendall(b"GET /bytes/100000 HTTP/1.1\r\nHost: t\r\n\r\n"
          b"HEAD /bytes/7 HTTP/1.1\r\nHost: t\r\n\r\n"
          b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n")
st, h, body = read_response(f)
assert st == "HTTP/1.1 200 OK" and body == bytes(pat) + bytes(pat[:100000 - 65521]), (st, len(body))
st, h, _ = read_response(f, head=True)
assert st == "HTTP/1.1 200 OK" and h["content-length"] == "7", (st, h)
st, h, body = read_response(f)
assert st == "HTTP/1.1 200 OK" and b"tern-httpd" in body, (st, body)
# The connection is still usable, then Connection: close ends it.
s.sendall(b"GET /bytes/5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
st, h, body = read_response(f)
assert st == "HTTP/1.1 200 OK" and body == bytes(pat[:5]) and h["connection"] == "close", (st, h, body)
assert f.read() == b""
s.close()
# A client that never reads: its window fills, others are served meanwhile.
stuck = socket.create_connection((host, port), timeout=10)
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
stuck.sendall(b"GET /bytes/104857600 HTTP/1.1\r\nHost: t\r\n\r\n")
for i in range(5):
    s, f = conn()
    s.sendall(b"GET /bytes/300000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    st, _, body = read_response(f)
    assert st == "HTTP/1.1 200 OK" and len(body) == 300000, st
    s.close()
stuck.close()  # unread data: the kernel resets it
print("400 + close, 431, 3 pipelined responses in order, Connection: close, a stuck reader does not block others: ok")
PY

# ab and wrk: 20 keep-alive connections, every response complete and 2xx.
if command -v ab >/dev/null; then
  inpeer ab -k -n 2000 -c 20 -s 10 "$url/bytes/1000" >"$work/ab.out" 2>&1 || fail "ab: $(tail -5 "$work/ab.out")"
  grep -qE "^Complete requests: +2000$" "$work/ab.out" || fail "ab: not 2000 complete: $(cat "$work/ab.out")"
  grep -qE "^Failed requests: +0$" "$work/ab.out" || fail "ab: failed requests: $(cat "$work/ab.out")"
  grep -qE "^Keep-Alive requests: +2000$" "$work/ab.out" || fail "ab: not all keep-alive: $(cat "$work/ab.out")"
  ! grep -q "^Non-2xx responses" "$work/ab.out" || fail "ab: non-2xx responses: $(cat "$work/ab.out")"
  echo "ab -k -n 2000 -c 20 /bytes/1000 ok: $(grep -E "^Requests per second" "$work/ab.out" | tr -s ' ')"
else
  echo "SKIP ab: not installed (apt-get install apache2-utils)"
fi
if command -v wrk >/dev/null; then
  inpeer wrk -t1 -c20 -d3s "$url/bytes/1000" >"$work/wrk.out" 2>&1 || fail "wrk: $(cat "$work/wrk.out")"
  grep -qE "^ +[0-9]+ requests in" "$work/wrk.out" || fail "wrk: no result: $(cat "$work/wrk.out")"
  [ "$(grep -oE "^ +[0-9]+ requests in" "$work/wrk.out" | tr -dc 0-9)" -gt 0 ] || fail "wrk: no requests: $(cat "$work/wrk.out")"
  ! grep -q "Non-2xx or 3xx responses" "$work/wrk.out" || fail "wrk: non-2xx responses: $(cat "$work/wrk.out")"
  ! grep -q "Socket errors" "$work/wrk.out" || fail "wrk: socket errors: $(cat "$work/wrk.out")"
  echo "wrk -t1 -c20 -d3s /bytes/1000 ok: $(grep -E "requests in|Requests/sec" "$work/wrk.out" | tr -s ' ' | tr '\n' ';')"
else
  echo "SKIP wrk: not installed (apt-get install wrk)"
fi

# The timeouts and slot eviction. Every wait is bounded (10 s).
inpeer python3 - "$tern_ip" "$port" "$header" "$idle" "$send" "$slots" <<'PY' || fail "timeout checks"
import socket, struct, sys, time
host, port = sys.argv[1], int(sys.argv[2])
header, idle, send, slots = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])

def conn():
    return socket.create_connection((host, port), timeout=10)

def read_all(s):
    """Everything until EOF (a reset counts as EOF), and how long it took."""
    t0, data = time.monotonic(), b""
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b: break
        data += b
    return data, time.monotonic() - t0

def get(s, path, close=False):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n")
    f = s.makefile("rb")
    st = f.readline()
    n = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""): break
        if line.lower().startswith(b"content-length:"): n = int(line.split(b":")[1])
    body = f.read(n)
    f.close()
    return st, body

def served():
    s = conn()
    st, body = get(s, b"/bytes/1000", close=True)
    assert st.startswith(b"HTTP/1.1 200") and len(body) == 1000, st
    s.close()

# A client that sends nothing: 408 and EOF after the header timeout (not
# the idle timeout), others served meanwhile.
silent = conn()
t0 = time.monotonic()
served()
data, _ = read_all(silent)
dt = time.monotonic() - t0
assert data.startswith(b"HTTP/1.1 408 "), data
assert b"Connection: close" in data, data
assert header - 0.5 <= dt < idle, dt
silent.close()
served()
# A head that never completes, however it trickles in (a line every 0.25 s
# for 2.5 s): 408 on the same deadline.
slow = conn()
t0 = time.monotonic()
slow.sendall(b"GET /bytes/10 HTTP/1.1\r\n")
for i in range(10):
    time.sleep(0.25)
    try: slow.sendall(b"X-Slow: %d\r\n" % i)
    except OSError: break
data, _ = read_all(slow)
dt = time.monotonic() - t0
assert data.startswith(b"HTTP/1.1 408 "), data
assert header - 0.5 <= dt < idle, dt
slow.close()
# On a keep-alive connection the next head is timed from its first byte:
# after a pause longer than the header timeout (but under the idle one), a
# partial head still gets the whole header timeout.
ka = conn()
st, body = get(ka, b"/bytes/10")
assert st.startswith(b"HTTP/1.1 200") and len(body) == 10, st
time.sleep(header + 0.5)
ka.sendall(b"GET /bytes/10 HTTP/1.1\r\n")
t0 = time.monotonic()
data, _ = read_all(ka)
dt = time.monotonic() - t0
assert data.startswith(b"HTTP/1.1 408 "), data
assert header - 0.5 <= dt <= 10, dt
ka.close()
# Idle keep-alive: closed (EOF, no response) after the timeout.
ka = conn()
st, body = get(ka, b"/bytes/10")
assert st.startswith(b"HTTP/1.1 200") and len(body) == 10, st
data, dt = read_all(ka)
assert data == b"", data
assert idle - 0.5 <= dt <= 10, dt
ka.close()
# Active keep-alive: requests idle/2 apart for 2 x idle on one connection are all served.
ka = conn()
for i in range(4):
    st, body = get(ka, b"/bytes/100")
    assert st.startswith(b"HTTP/1.1 200") and len(body) == 100, (i, st)
    time.sleep(idle / 2)
st, body = get(ka, b"/bytes/100", close=True)
assert st.startswith(b"HTTP/1.1 200") and len(body) == 100, st
ka.close()
served()
# A client that never reads a 100 MB response: once its window and our send
# buffer are full, nothing is acknowledged for the send timeout, and the
# server resets it. Watched through TCP_INFO's state, without reading
# (reading would make room and restart the timeout).
stuck = socket.socket()
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
stuck.settimeout(10)
stuck.connect((host, port))
stuck.sendall(b"GET /bytes/104857600 HTTP/1.1\r\nHost: t\r\n\r\n")
t0 = time.monotonic()
TCP_CLOSE = 7
while struct.unpack("B", stuck.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0] != TCP_CLOSE:
    assert time.monotonic() - t0 < 10, "not reset within 10 s"
    time.sleep(0.05)
dt = time.monotonic() - t0
assert send - 0.5 <= dt, dt
stuck.close()
served()
# Slots: 100 connections with an incomplete head on 2 workers of 32 slots.
# Each one past a worker's 32 evicts that worker's oldest incomplete head
# (reset) instead of being refused; a complete request is still served.
# Opened one after another (each connect waits for the handshake), so the
# server sees them in this order; all within the header timeout, or the
# oldest would have had their 408 instead.
partial = []
t0 = time.monotonic()
for i in range(100):
    s = conn()
    s.sendall(b"GET /bytes/10 HTTP/1.1\r\n")
    partial.append(s)
opened = time.monotonic() - t0
assert opened < header - 0.5, "100 connections took %.2f s, over the header timeout" % opened
served()
try:
    got = partial[0].recv(100)
    assert False, "the oldest connection was not evicted: %r" % got
except ConnectionResetError:
    pass
data, _ = read_all(partial[-1])  # the newest keeps its slot: 408 at its header timeout
assert data.startswith(b"HTTP/1.1 408 "), data
for s in partial: s.close()
served()
print("header timeout %gs: silent client 408 + EOF, trickled head 408, late head on keep-alive 408; "
      "idle timeout %gs: idle keep-alive closed, active keep-alive kept; send timeout %gs: reset after "
      "%.1f s; 100 partial heads (opened in %.2f s) on %d slots: oldest evicted, newest kept; "
      "others served: ok" % (header, idle, send, dt, opened, slots))
PY
echo "clients finished in $((SECONDS - start)) s"

interop_wait_closed

interop_stop_tern
echo "--- tern-httpd at exit ---"
sed -n '/^--- tern counters/,$p' "$work/tern.log" | grep -E "^httpd|^(PassiveOpens|EstabResets|InRsts|OutRsts|RetransSegs|InSegs|OutSegs|CurrEstab) "

python3 - "$work/tern.log" <<'PY' || fail "Tern's counters"
import os, re, sys
log = open(sys.argv[1]).read()
w = [dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1]))
     for line in log.splitlines() if line.startswith("httpd worker ")]
assert len(w) == int(os.environ["TERN_WORKERS"]), "expected a report line per worker, got %d" % len(w)
s = lambda k: sum(x[k] for x in w)
checks = [
    ("closed_clean + closed_error + refused == accepted",
     s("closed_clean") + s("closed_error") + s("refused") == s("accepted")),
    ("no HTTP state left (active 0)", s("active") == 0),
    ("no TCB left", s("tcbs_in_use") == 0),
    ("no connection left", s("connections") == 0),
    ("nothing refused (always one to evict)", s("refused") == 0),
    ("no file errors", s("file_errors") == 0),
    ("every worker served", all(x["accepted"] > 0 for x in w)),
    ("408 after the header timeout (>= 3)", s("header_timeouts") >= 3),
    ("idle keep-alive closed (>= 1)", s("idle_closed") >= 1),
    ("stalled reader reset (>= 1)", s("send_timeouts") >= 1),
    ("oldest heads evicted (>= 100 - 2 x 32)", s("evicted") >= 100 - 2 * 32),
]
for name, ok in checks: print("%-42s %s" % (name, "ok" if ok else "FAILED"))
print("accepted %d requests %d 2xx %d 4xx %d body bytes %d send_blocked %d header_timeouts %d "
      "send_timeouts %d idle_closed %d evicted %d evicted_idle %d refused %d" % (
    s("accepted"), s("requests"), s("status_2xx"), s("status_4xx"), s("body_bytes"), s("send_blocked"),
    s("header_timeouts"), s("send_timeouts"), s("idle_closed"), s("evicted"), s("evicted_idle"),
    s("refused")))
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
echo "PASS [$mode] in $((SECONDS - start)) s"
