#!/usr/bin/env bash
# Interop: tern-perf --udp (apps/perf/perf_udp.h) both ways between Tern (2
# workers) and `tern-perf --kernel --udp` in a network namespace, over IPv4
# and IPv6:
#   perf_udp_test.sh tap|af_packet|af_xdp BUILD_DIR
# (1) the Tern client against the kernel server, (2) the kernel client
# against the Tern server, each 1 s at 20 Mbit/s (about 1,700 datagrams),
# to the IPv4 and the IPv6 address. Checked (counts only, no timing): every
# client exits 0 with the server's report (--json "report": true), the
# receiver counted datagrams and at most half of them were lost (the kernel
# drops on a busy machine: a generous bound that only a broken path
# exceeds), received + lost - duplicates equals what the client sent, and
# each server printed one summary per test with the client's test id.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init perf_udp "$@"

port=5201
perf="$build/apps/perf/tern-perf"
[ -x "$perf" ] || { echo "no $perf: build apps/perf/tern-perf first"; exit 2; }
interop_setup "$mode" d 10.89
tern_ip6="2001:db8:89::2"
peer_ip6="2001:db8:89::1"
interop_write_config 256 4095
sed -i "s|^address = .*|&\naddress6 = [\"$tern_ip6/64\"]|" "$work/tern.toml"

# check_udp CLIENT_LOG NAME: the client's JSON summary carries the server's
# report, datagrams received, loss within the bound and the counts consistent.
check_udp() {
  python3 - "$1" "$2" <<'PY' || fail "$2: $(tail -5 "$1")"
import json, sys
log, name = sys.argv[1], sys.argv[2]
r = json.loads([l for l in open(log).read().splitlines() if l.startswith('{"type": "summary"')][-1])
print("%-22s sent %d received %d lost %d out_of_order %d duplicates %d jitter %.3f ms" % (
    name, r["sent"], r["received"], r["lost"], r["out_of_order"], r["duplicates"], r["jitter_ms"]))
assert r["report"] is True, "no report from the server"
assert r["sent"] > 100 and r["received"] > 0, "nothing sent or received"
assert r["received"] - r["duplicates"] + r["lost"] == r["sent"], "received + lost != sent"
assert 2 * r["lost"] <= r["sent"], "more than half lost"
assert r["bytes"] == r["received"] * r["length"], "bytes != received * length"
PY
}
# check_server_tests SERVER_LOG CLIENT_LOG...: one "type": "test" object per
# client, in order, with the client's test id and its sent count.
check_server_tests() {
  python3 - "$@" <<'PY' || fail "per-test summaries in $1"
import json, sys
tests = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"type": "test"')]
clients = [json.loads([l for l in open(f) if l.startswith('{"type": "summary"')][-1]) for f in sys.argv[2:]]
assert [t["test"] for t in tests] == [c["test"] for c in clients], (tests, clients)
assert all(t["sent"] == c["sent"] and t["received"] > 0 for t, c in zip(tests, clients)), (tests, clients)
print("server per-test summaries: %d, test ids and sent counts match" % len(tests))
PY
}

# ---- (1) Tern client, kernel server ----
ip netns exec "$peer_ns" "$perf" --kernel --udp --server --port "$port" --json --ready-file "$work/kready" \
  >"$work/kserver.log" 2>&1 &
kserver_pid=$!
TERN_PIDS+=("$kserver_pid")
tern_wait_for "the kernel server" 10 test -f "$work/kready" || fail "kernel UDP server did not start"

# tern_client ADDR NAME: the Tern client to ADDR until it exits.
tern_client() {
  rm -f "$work/go"
  interop_start_tern perf/tern-perf --udp --client "$1" --port "$port" --time 1 --bitrate 20M --json \
    --start-file "$work/go"
  if [[ $1 == *:* ]]; then tern_wait_for "duplicate address detection" 10 interop_dad_done || fail "DAD did not end"; fi
  interop_peer_ipv6 "$peer_ip6"
  touch "$work/go"
  tern_wait_for "the Tern $2 client" 30 eval '! kill -0 "$tern_pid"' || fail "the Tern $2 client did not finish"
  local p=$tern_pid
  tern_pid=
  wait "$p" || fail "the Tern $2 client exited with status $?: $(grep -v '^[A-Za-z0-9]* [0-9]*$' "$work/tern.log" | tail -20)"
  cp "$work/tern.log" "$work/tern-client-$2.log"
  check_udp "$work/tern-client-$2.log" "tern -> kernel $2"
}
tern_client "$peer_ip" v4
tern_client "$peer_ip6" v6

kill -INT "$kserver_pid"
tern_wait_for "the kernel server to exit" 10 eval '! kill -0 "$kserver_pid"' || fail "the kernel server ignored SIGINT"
wait "$kserver_pid" || fail "the kernel server exited with an error: $(tail -5 "$work/kserver.log")"
check_server_tests "$work/kserver.log" "$work/tern-client-v4.log" "$work/tern-client-v6.log"

# ---- (2) kernel client, Tern server ----
interop_start_tern perf/tern-perf --udp --server --port "$port" --json
tern_wait_for "duplicate address detection" 10 interop_dad_done || fail "DAD did not end"
interop_peer_ipv6 "$peer_ip6"
kernel_client() {
  timeout 30 ip netns exec "$peer_ns" "$perf" --kernel --udp --client "$1" --port "$port" --time 1 --bitrate 20M \
    --json >"$work/kclient-$2.log" 2>&1 || fail "the kernel $2 client exited with an error: $(tail -8 "$work/kclient-$2.log")"
  check_udp "$work/kclient-$2.log" "kernel -> tern $2"
}
kernel_client "$tern_ip" v4
kernel_client "$tern_ip6" v6
interop_stop_tern
check_server_tests "$work/tern.log" "$work/kclient-v4.log" "$work/kclient-v6.log"
python3 - "$work/tern.log" <<'PY' || fail "the Tern server's summary"
import json, sys
r = json.loads([l for l in open(sys.argv[1]) if l.startswith('{"type": "summary"')][-1])
assert r["tests"] == 2 and r["received"] > 0 and r["ignored"] == 0, r
print("tern server: %d tests, %d datagrams" % (r["tests"], r["received"]))
PY
echo "PASS [$mode] in $SECONDS s"
