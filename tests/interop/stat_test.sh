#!/usr/bin/env bash
# Interop: tern-stat (apps/stat) reading a live tern-echo (2 workers) through
# DPDK telemetry while the Linux kernel drives it (stat_client.py).
#   stat_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks, during an echo run (4 connections, round trips every 10 ms) and a
# bulk run (one connection at full speed):
#   - `tern-stat` lists exactly the client's connections, ESTABLISHED, with a
#     plausible RTT (0 < srtt <= 1 s, rttvar set), cwnd and MSS; the text
#     listing has one ESTAB line per connection; --json parses;
#   - its filters (state, port, peer, worker) keep and drop what they should;
#   - `tern-stat rates` shows nonzero deltas (packets, segments; bytes in the
#     bulk run), per worker summing to the total, as text and as --json;
#   - the command line: --help exits 0, --version prints the version, a bad
#     option exits 2, a prefix nobody uses exits 1 with the reason.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init stat "$@"

stat="$build/apps/stat/tern-stat"
[ -x "$stat" ] || { echo "no $stat: build apps/stat/tern-stat first"; exit 2; }
port=7
interop_setup "$mode" s 10.76
interop_write_config 512 16383 "[tcp]
max_connections = 1024"

# ---- the command line (no process needed) ----
"$stat" --help >"$work/help.txt" || fail "--help exited $?"
grep -q "^Usage: tern-stat" "$work/help.txt" || fail "--help: $(head -2 "$work/help.txt")"
version=$(sed -n "s/^ *version : '\(.*\)',$/\1/p" "$here/../../meson.build")
[ "$("$stat" --version)" = "tern-stat (Tern) $version" ] || fail "--version: $("$stat" --version)"
rc=0; "$stat" --jsno 2>"$work/err.txt" || rc=$?
[ $rc = 2 ] && grep -q "did you mean --json" "$work/err.txt" || fail "bad option: exit $rc, $(cat "$work/err.txt")"
rc=0; "$stat" -f "nobody$TERN_NS_TAG" 2>"$work/err.txt" || rc=$?
[ $rc = 1 ] && grep -q "no Tern process with file prefix 'nobody$TERN_NS_TAG'" "$work/err.txt" ||
  fail "unused prefix: exit $rc, $(cat "$work/err.txt")"
echo "command line: --help, --version, bad option (2), unused prefix (1): ok"

interop_start_tern tern-echo --port "$port"
echo "tern-echo at $tern_ip:$port, kernel client $peer_ip in $peer_ns"

# start_load MODE N: the client in the background, until $work/stop.
start_load() {
  rm -f "$work/stop" "$work/client.log"
  bg client_pid ip netns exec "$peer_ns" python3 "$here/stat_client.py" "$tern_ip" "$port" "$1" "$2" "$work/stop" \
    >"$work/client.log" 2>&1
  tern_wait_for "$1 client ready" 20 grep -q "^ready" "$work/client.log" || fail "$1 client: $(tail -3 "$work/client.log")"
}
stop_load() {
  touch "$work/stop"
  wait "$client_pid" || fail "client: $(tail -3 "$work/client.log")"
  forget "$client_pid"
  tail -1 "$work/client.log"
}

# check_conns N BULK: tern-stat's listing (text and --json) shows the N
# connections of the client with plausible figures.
check_conns() {
  local n=$1 bulk=$2
  "$stat" -f "$prefix" >"$work/conns.txt" || fail "tern-stat exited $?"
  "$stat" -f "$prefix" --json >"$work/conns.json" || fail "tern-stat --json exited $?"
  cat "$work/conns.txt"
  N=$n BULK=$bulk PEER=$peer_ip TERN=$tern_ip PORT=$port python3 - "$work/conns.txt" "$work/conns.json" <<'PY' ||
import json, os, sys
n, bulk, peer, tern, port = int(os.environ["N"]), os.environ["BULK"] == "1", os.environ["PEER"], os.environ["TERN"], os.environ["PORT"]
text = open(sys.argv[1]).read().splitlines()
j = json.load(open(sys.argv[2]))
conns = j["connections"]
ok = True
def check(what, cond):
    global ok
    print("%-60s %s" % (what, "ok" if cond else "FAILED"))
    ok = ok and cond
check("json: %d connections (total %d), %d expected" % (len(conns), j["total"], n), len(conns) == n == j["total"])
check("json: workers = %s" % j["workers"], j["workers"] == int(os.environ["TERN_WORKERS"]))
check("text: header like ss", text[0].split()[:3] == ["State", "Recv-Q", "Send-Q"])
estab = [l for l in text if l.startswith("ESTAB ")]
check("text: %d ESTAB lines" % len(estab), len(estab) == n)
check("text: a figures line under each (rtt:, cwnd:)", sum(1 for l in text if l.startswith("\t") and " rtt:" in l and " cwnd:" in l) == n)
for c in conns:
    name = "%s -> %s" % (c["remote"], c["local"])
    check(name + ": ESTABLISHED", c["state"] == "ESTABLISHED")
    check(name + ": endpoints", c["local"] == "%s:%s" % (tern, port) and c["remote"].startswith(peer + ":"))
    check(name + ": srtt %d us, rttvar %d us" % (c["srtt_us"], c["rttvar_us"]), 0 < c["srtt_us"] <= 1000000 and c["rttvar_us"] > 0)
    check(name + ": rto %d us" % c["rto_us"], c["rto_us"] >= c["srtt_us"])
    check(name + ": mss %d" % c["mss"], 500 <= c["mss"] <= 1460)
    check(name + ": cwnd %d segments" % c["cwnd_segs"], 2 <= c["cwnd_segs"] <= 100000 and c["cwnd"] >= 2 * c["mss"])
    check(name + ": segments both ways (%d in, %d out)" % (c["segs_in"], c["segs_out"]), c["segs_in"] >= 3 and c["segs_out"] >= 2)
    if bulk:
        # More than one initial window each way: the bulk run is under way.
        check(name + ": %d bytes received, %d acked" % (c["bytes_received"], c["bytes_acked"]),
              c["bytes_received"] > 65536 and c["bytes_acked"] > 65536)
sys.exit(0 if ok else 1)
PY
    fail "tern-stat's listing"
}

# lines CMD...: how many connection lines tern-stat prints (ss layout: one
# line per connection, then an indented line).
lines() { "$stat" -f "$prefix" "$@" | grep -vc -e '^State' -e $'^\t' || true; }

# check_rates BULK: `tern-stat rates` during the load: nonzero deltas,
# the workers' summing to the total.
check_rates() {
  local bulk=$1
  "$stat" -f "$prefix" rates --interval 0.5 --count 2 --json >"$work/rates.jsonl" || fail "tern-stat rates --json exited $?"
  "$stat" -f "$prefix" rates --interval 0.5 --count 1 >"$work/rates.txt" || fail "tern-stat rates exited $?"
  head -12 "$work/rates.txt"
  BULK=$bulk python3 - "$work/rates.jsonl" "$work/rates.txt" <<'PY' || fail "tern-stat rates"
import json, os, sys
bulk = os.environ["BULK"] == "1"
samples = [json.loads(l) for l in open(sys.argv[1])]
text = open(sys.argv[2]).read()
ok = len(samples) == 2
print("rates --json: %d samples (2 expected)" % len(samples))
for s in samples:
    t = s["total"]["events"]
    need = ["RxPackets", "TxPackets", "InSegs", "OutSegs"] + (["RxBytes"] if bulk else [])
    for k in need:
        ok = ok and t.get(k, 0) > 0
    for k, v in t.items():
        if k == "CurrEstab":
            continue
        ok = ok and v == sum(w["events"].get(k, 0) for w in s["workers"])
    ok = ok and 0.4 < s["interval_s"] < 5 and len(s["workers"]) == int(os.environ["TERN_WORKERS"])
    print("  over %.2f s: %s; %d counters changed" % (s["interval_s"], ", ".join("%s %d" % (k, t.get(k, 0)) for k in need), len(t)))
lines = text.splitlines()
ok = ok and lines[0].startswith("# change over") and lines[1].split()[:2] == ["event", "total"]
ok = ok and any(l.split()[0] == "RxPackets" and int(l.split()[1]) > 0 for l in lines[2:] if l.strip())
print("rates text: header and a nonzero RxPackets row: %s" % ("ok" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
}

# ---- echo run: 4 connections doing round trips ----
start_load echo 4
check_conns 4 0
[ "$(lines --state established --port "$port" --peer "$peer_ip")" = 4 ] || fail "filters that keep all: $(lines --state established --port "$port" --peer "$peer_ip")"
[ "$(lines --state syn-sent)" = 0 ] || fail "--state syn-sent lists something"
[ "$(lines --port 8)" = 0 ] || fail "--port 8 lists something"
[ "$(lines --peer 10.0.0.1)" = 0 ] || fail "--peer 10.0.0.1 lists something"
by_worker=$(( $(lines --worker 0) + $(lines --worker "$((TERN_WORKERS - 1))") ))
[ "$TERN_WORKERS" = 1 ] && by_worker=$(lines --worker 0)
[ "$by_worker" = 4 ] || fail "--worker: $by_worker connections over the workers, 4 expected"
echo "filters (state, port, peer, worker): ok"
check_rates 0
stop_load
interop_wait_closed

# ---- bulk run: one connection at full speed ----
start_load bulk 1
check_conns 1 1
check_rates 1
stop_load
interop_wait_closed
# (CurrEstab reaches 0 as Tern leaves CLOSE_WAIT; LAST_ACK ends a moment later.)
none_listed() { [ "$(lines)" = 0 ]; }
tern_wait_for "no connection listed" 10 none_listed || fail "connections listed after the client closed them all: $("$stat" -f "$prefix")"

interop_stop_tern
attack_remove_eal_files  # this run's EAL files (lib.sh): nothing left under the prefix
echo "PASS [$mode]"
