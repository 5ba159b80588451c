#!/usr/bin/env bash
# Interop: tern-proxy (2 workers, an address6) over IPv6, between kernel
# clients and two kernel backends that listen on IPv6 only (python3 -m
# http.server --bind ADDR6 on 8001 and 8002 in the peer namespace).
#   proxy6_test.sh tap|af_packet BUILD_DIR
# Checks: a 1 MB and a 20 MB file come through intact (sha256) with curl -6
# to the proxy's IPv6 address, several times, so both backends serve; an
# IPv4 client (curl -4) is relayed to the IPv6 backends too (the listener
# takes both families); a client that half-closes (socat -6: the request,
# then FIN) reads the whole response. At exit: every session completed, no
# connect error, reset or session left, both backends used (the report
# names them [ADDR6]:PORT).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init proxy6 "$@"

port=8080
interop_setup "$mode" y 10.91
tern_ip6="2001:db8:91::2"
peer_ip6="2001:db8:91::1"
interop_write_config 512 16383 "[tcp]
max_connections = 1024"
sed -i "s|^address = .*|&\naddress6 = [\"$tern_ip6/64\"]|" "$work/tern.toml"
start=$SECONDS

mkdir -p "$work/www"
head -c 1048576 /dev/urandom >"$work/www/small.bin"
head -c 20971520 /dev/urandom >"$work/www/big.bin"
sha_small=$(sha256sum <"$work/www/small.bin" | cut -d' ' -f1)
sha_big=$(sha256sum <"$work/www/big.bin" | cut -d' ' -f1)

interop_start_tern proxy/tern-proxy --listen "$port" --backend "[$peer_ip6]:8001" --backend "[$peer_ip6]:8002"
tern_wait_for "duplicate address detection" 10 interop_dad_done || fail "no Router Solicitation after DAD"
interop_peer_ipv6 "$peer_ip6"
for p in 8001 8002; do
  # ip netns exec execs python, so $! is the server itself.
  ip netns exec "$peer_ns" python3 -m http.server "$p" --bind "$peer_ip6" --directory "$work/www" \
    >"$work/backend$p.log" 2>&1 &
  TERN_PIDS+=("$!")
done
for p in 8001 8002; do
  tern_wait_for "backend $p" 15 interop_in_peer curl -g -sf -o /dev/null "http://[$peer_ip6]:$p/small.bin" ||
    fail "backend $p did not start: $(cat "$work/backend$p.log")"
done
echo "tern-proxy at [$tern_ip6]:$port, backends [$peer_ip6]:8001..8002, kernel clients in $peer_ns"

fetch() {  # fetch URL WANT_SHA
  local got
  interop_in_peer curl -g -sS --fail --max-time 30 -o "$work/out" "$1" || fail "curl $1 through the proxy"
  got=$(sha256sum <"$work/out" | cut -d' ' -f1)
  [ "$got" = "$2" ] || fail "curl $1: sha256 $got, expected $2 (size $(stat -c %s "$work/out"))"
  rm -f "$work/out"
}
for i in 1 2; do
  fetch "http://[$tern_ip6]:$port/small.bin" "$sha_small"
  fetch "http://[$tern_ip6]:$port/big.bin" "$sha_big"
done
echo "curl -6: 1 MB and 20 MB intact, twice"
fetch "http://$tern_ip:$port/small.bin" "$sha_small"
echo "curl -4 to the proxy, relayed over IPv6: 1 MB intact"

# Half-close: socat sends the request, shuts down its write side at its
# stdin's EOF and reads the response to Tern's FIN (-t 20).
printf 'GET /big.bin HTTP/1.0\r\n\r\n' |
  interop_in_peer socat -t 20 -T 20 - "TCP6:[$tern_ip6]:$port" >"$work/half.raw" || fail "socat half-close"
python3 - "$work/half.raw" "$sha_big" <<'PY' || fail "half-close: the response"
import hashlib, sys
head, _, body = open(sys.argv[1], "rb").read().partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.0 200"), head[:80]
assert hashlib.sha256(body).hexdigest() == sys.argv[2], len(body)
print("half-close (socat -6): 20 MB intact after our FIN")
PY

interop_wait_closed
interop_stop_tern
grep -E "^proxy " "$work/tern.log"
BACKEND="$peer_ip6" python3 - "$work/tern.log" <<'PY' || fail "the proxy's report"
import os, re, sys
log = open(sys.argv[1]).read()
def fields(line):
    return dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(": ", 1)[1]))
tot = fields([l for l in log.splitlines() if l.startswith("proxy total: ")][0])
backends = {}
for l in log.splitlines():
    m = re.match(r"proxy total backend \[([0-9a-f:]+)\]:(\d+): ", l)
    if m and m.group(1) == os.environ["BACKEND"]: backends[int(m.group(2))] = fields(l)
sessions = 4 + 1 + 1
checks = [
    ("accepted == completed == %d" % sessions, tot["accepted"] == sessions and tot["completed"] == sessions),
    ("no reset, relay error, client turned away or local connect error",
     tot["client_resets"] == 0 and tot["backend_resets"] == 0 and tot["relay_errors"] == 0
     and tot["no_backend"] == 0 and tot["local_connect_errors"] == 0),
    ("both IPv6 backends reported and used", sorted(backends) == [8001, 8002]
     and all(b["connections"] > 0 and b["failures"] == 0 for b in backends.values())),
    ("no session, TCB or connection left", tot["active"] == 0 and tot["tcbs_in_use"] == 0 and tot["connections"] == 0),
]
for name, ok in checks:
    print(("ok   " if ok else "FAIL ") + name)
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
echo "PASS: proxy6 ($mode) in $((SECONDS - start)) s"
