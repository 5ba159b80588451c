#!/usr/bin/env bash
# Benchmark, not a test (issue 11): how many attacking connections of each
# kind one worker survives at the DEFAULT configuration, with the legitimate
# client's success >= 99 %. Nothing here passes or fails on the figures; it
# prints one table row per (kind, level). bench/attack/README.md has the
# results and how to read them.
#   attack_bench.sh BUILD_DIR [tap|af_packet]
# BUILD_DIR is any Tern build tree with apps/tern-httpd and apps/tern-echo
# (e.g. a worktree of an older commit: the "before" column).
# Environment:
#   TERN_BENCH_KINDS    kinds to run (default "1 2 3 4": 1 drip, 2 ooo,
#                       3 zerowin, 4 slowloris: tests/interop/attack.py)
#   TERN_BENCH_LEVELS   attacking connections per level (default
#                       "100 1000 3000 10000")
#   TERN_BENCH_SECONDS  seconds of attack per level (default 12)
#   TERN_BENCH_RECOVER  seconds allowed for recovery (default 15)
#   TERN_BENCH_OUT      also append the table rows to this file
#   TERN_BENCH_KEEP     keep each level's samples, summaries and Tern's log under this directory
#   TERN_BENCH_PER_PROC connections per attacker process (default 2500):
#                       a level of N runs ceil(N / this) processes
#                       (attack.py --procs), each from its own address
#   TERN_BENCH_DRIP_RATE drip's aggregate bytes a second (default 10000):
#                       each connection drips one byte every
#                       max(2, N * 1000 / this) ms (1,000 ms at 10,000)
#   TERN_BENCH_OOO_PPS  ooo's segments a second, all processes together
#                       (default 14000, attack_test.sh's)
#   TERN_BENCH_HTTPD_ARGS extra tern-httpd arguments (e.g. "--worker-connections
#                       16384"): a departure from the default, for experiments
# The configuration is Tern's default (config/tap.toml's keys, docs/config.md
# defaults: 8,191 mbufs, max_connections 65,536, persist_timeout_s 120, ...)
# and tern-httpd's default timeouts (header 10 s, idle 60 s, send 60 s,
# 4,096 worker connections), except what it takes to run here: one worker
# (lcore 0) so that every attacker meets the legitimate client on one pool,
# the port (net_tap or a veth with net_af_packet) and the EAL file prefix.
# Tern restarts for every level. The kernel side (attackers, legitimate
# client, sampler) runs in the namespace on CPU 1, as in attack_test.sh; the
# namespace's ephemeral port range is widened to 10000-65000, each attacker
# process raises its open-file limit to the hard limit (20,000 here) and
# has its own source address (net.10, .11, ...), so ports and descriptors
# hold 10,000 connections and their replacements.
# Per level: the attack for TERN_BENCH_SECONDS with the legitimate client
# (a new connection every ~20 ms) and the pool sampled every 0.5 s; then the
# attacker exits (its sockets close with SO_LINGER 0: RSTs) and "recovered"
# is the time until CurrEstab is 0 and the pool back at its baseline (+64),
# followed by 2 s of the legitimate client that must all succeed. (With the
# default timeouts, silent attackers would hold their connections for
# 60-120 s: see the README.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
interop=$here/../../tests/interop
. "$interop/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [tap|af_packet]"; exit 2; }
interop_init attack-bench "${2:-tap}" "$1"
trap 'interop_cleanup; attack_remove_eal_files' EXIT

kinds=${TERN_BENCH_KINDS:-1 2 3 4}
levels=${TERN_BENCH_LEVELS:-100 1000 3000 10000}
secs=${TERN_BENCH_SECONDS:-12}
recover=${TERN_BENCH_RECOVER:-15}
outfile=${TERN_BENCH_OUT:-}
per_proc=${TERN_BENCH_PER_PROC:-2500}
drip_rate=${TERN_BENCH_DRIP_RATE:-10000}
ooo_pps=${TERN_BENCH_OOO_PPS:-14000}
mbufs=8191  # docs/config.md's default mbufs_per_worker
slack=64

# Namespaces, addresses, the kernel's side on CPU 1 (tests/interop/lib.sh).
attack_setup b 10.84
end_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" || true
  forget "$1"
}

# start_tern APP ARGS...: Tern with one worker, then the kernel side's
# addresses: lib.sh's and the attackers' of this level ($srcs).
start_tern() {
  interop_write_config 512 "$mbufs"
  sed -i 's/^lcores = .*/lcores = [0]/' "$work/tern.toml"
  interop_start_tern "$@"
  attack_peer_addresses "${srcs[@]}"
}

stop_tern() {
  local p=$tern_pid
  kill -INT "$p" 2>/dev/null || true
  if ! tern_wait_for "$tern_name to exit" 20 pid_gone "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  tern_rc=0
  wait "$p" || tern_rc=$?
  tern_pid=
  forget "$p"
  cp "$work/tern.log" "$dir/tern.log"
  attack_remove_eal_files
}

# level KIND N: one row. The attack is split over ceil(N / per_proc)
# attacker processes (attack.py --procs), each with its own source address
# (net.10, .11, ...; at least two addresses: slowloris's churn).
level() {
  local kind=$1 n=$2 app=tern-httpd port=80 legit=legit-http name args=() procs k list
  procs=$(((n + per_proc - 1) / per_proc))
  srcs=()
  for ((k = 0; k < (procs > 2 ? procs : 2); k++)); do srcs+=("$net.$((10 + k))"); done
  list=$(IFS=,; echo "${srcs[*]}")
  case $kind in
    1) name=drip
       # Every connection drips one byte every interval_ms, the aggregate
       # drip_rate bytes a second (at most one byte every 2 ms: the test's).
       local ivl=$((n * 1000 / drip_rate)); [ "$ivl" -ge 2 ] || ivl=2
       args=(drip "$tern_ip" 80 "$list" "$secs" --connections "$n" --interval-ms "$ivl" --procs "$procs") ;;
    2) name=ooo; app=tern-echo; port=7; legit=legit-echo
       # 256 segments per connection per round at 28 connections (the
       # test's); fewer per connection as they multiply, at least 8.
       local segs=$((7168 / n)); [ "$segs" -ge 8 ] || segs=8
       args=(ooo "$tern_ip" 7 "$list" "$peer_if" "$secs" --connections "$n" --segments "$segs" --pps "$ooo_pps"
         --procs "$procs") ;;
    3) name=zerowin; args=(zerowin "$tern_ip" 80 "$list" "$secs" --connections "$n" --procs "$procs") ;;
    4) name=slowloris; args=(slowloris "$tern_ip" 80 "$list" "$secs" --connections "$n" --procs "$procs") ;;
    *) echo "unknown kind $kind"; return 0 ;;
  esac
  dir=$work/$name-$n
  mkdir -p "$dir"
  echo "--- $name, $n connections, $secs s ($app, default config) ---"
  if [ "$app" = tern-httpd ]; then start_tern tern-httpd --port 80 ${TERN_BENCH_HTTPD_ARGS:-}; else start_tern tern-echo --port 7; fi
  "${inpeer[@]}" "${atk[@]}" "$legit" "$tern_ip" "$port" "$legit_ip" 0.01 "$dir/warmup.json"
  sleep 0.5
  local base mon_pid legit_pid atk_pid
  base=$("${atk[@]}" pool "$prefix")
  bg mon_pid "${atk[@]}" monitor "$prefix" "$dir/mon.jsonl" "$dir/mon.now"
  tern_wait_for "the first sample" 10 test -s "$dir/mon.now" || true
  bg legit_pid "${inpeer[@]}" "${atk[@]}" "$legit" "$tern_ip" "$port" "$legit_ip" $((secs + 120)) "$dir/legit.json" \
    "$dir/attack-stopped"
  bg atk_pid "${atk_nice[@]}" "${args[@]}" >"$dir/attacker.out" 2>&1
  tern_wait_for "the attack to stop" $((secs + 120)) attack_over "$atk_pid" "$dir/attacker.out" || true
  touch "$dir/attack-stopped"
  wait "$legit_pid" || true
  forget "$legit_pid"
  # The attacker leaves: SIGTERM, it prints its summary and exits (RSTs).
  end_pid "$atk_pid"
  local t_end
  t_end=$(date +%s.%N)
  "${atk[@]}" cleanup "$dir/mon.now" "$recover" "$base" "$slack" 0 "$t_end" >"$dir/cleanup.json" || true
  "${inpeer[@]}" "${atk[@]}" "$legit" "$tern_ip" "$port" "$legit_ip" 2 "$dir/after.json" || true
  end_pid "$mon_pid"
  stop_tern
  # TERN_BENCH_KEEP=DIR keeps each level's samples, summaries and Tern's log.
  if [ -n "${TERN_BENCH_KEEP:-}" ]; then mkdir -p "$TERN_BENCH_KEEP" && cp -r "$dir" "$TERN_BENCH_KEEP/"; fi
  python3 - "$dir" "$kind" "$name" "$n" "$base" "$mbufs" "$tern_rc" <<'PY' 2>&1 | tee -a "$work/rows.md" ${outfile:+"$outfile"} || true
import json, os, sys
d, kind, name, n, base, size, rc = sys.argv[1:]
def load(p, default=None):
    try:
        return json.load(open(os.path.join(d, p)))
    except (OSError, ValueError):
        return default
samples = [json.loads(l) for l in open(os.path.join(d, "mon.jsonl")) if l.strip()]
good = [s for s in samples if "error" not in s]
summary = {}
for l in open(os.path.join(d, "attacker.out")):
    if l.startswith("summary "):
        summary = json.loads(l[8:])
leg, after, clean = load("legit.json", {}), load("after.json", {}), load("cleanup.json", None)
if clean is None:
    try:
        clean = json.loads(open(os.path.join(d, "cleanup.json")).read())
    except (OSError, ValueError):
        clean = {}
first, last = (good[0], good[-1]) if good else ({}, {})
def delta(t, k):
    return ((last.get(t) or {}).get(k) or 0) - ((first.get(t) or {}).get(k) or 0)
peak = max((s["in_use"] for s in good), default=-1)
rate = 100.0 * leg.get("ok", 0) / leg["total"] if leg.get("total") else 0.0
att = summary.get("connected", summary.get("connections", "?"))
alive = summary.get("alive_at_stop", "")
defs = ["%s +%d" % (k, delta("stats", k)) for k in (
    "TCPMemoryPressures", "TCPAbortOnMemory", "TCPRcvCollapsed", "OfoPruned", "TCPOFOQueue", "TCPOFODrop",
    "TCPPersistGiveUp", "TCPAbortOnOrphans", "EstabResets") if delta("stats", k) > 0]
defs += ["%s +%d" % (k, delta("drops", k)) for k in sorted(last.get("drops") or {})
         if k != "MbufExhausted" and delta("drops", k) > 0]
procs = summary.get("procs", 1)
pace = "%d proc%s" % (procs, "" if procs == 1 else "s")
secs = summary.get("seconds") or 0
if summary.get("ticks") is not None and summary.get("interval_ms"):
    pace += ", 1 B / %g ms a conn: %.0f B/s sent, %s" % (
        summary["interval_ms"], summary.get("bytes_sent", 0) / secs if secs else 0,
        "%.0f ticks/s, lag mean %s max %s ms" % (summary["ticks"] / secs, summary.get("lag_mean_ms"),
                                                 summary.get("lag_max_ms"))
        if summary["ticks"] else "no tick (every connection ended before its first)")
elif "segments_sent" in summary:
    pace += ", %d segments (%s/s)%s" % (summary["segments_sent"], summary.get("pps"),
                                         ", %d conns failed" % summary["failed"] if summary.get("failed") else "")
aok = after.get("total", 0) > 0 and after.get("ok") == after.get("total")
rec = ("yes, %.1f s" % clean["seconds"]) if clean.get("ok") and aok else \
      "no (estab %s, pool %s%s)" % (clean.get("estab"), clean.get("in_use"), "" if aok else ", legit after failed")
print("| %s | %s | %s%s | %s | %.1f %% (%d/%d) | %d / %s (base %s) | %s | %s | %s | %s |%s" % (
    name, n, att, (" (%s alive at stop)" % alive) if alive != "" else "", pace, rate, leg.get("ok", 0),
    leg.get("total", 0), peak, size, base, (last.get("eth") or {}).get("rx_nombuf", "?"),
    delta("drops", "MbufExhausted") if last.get("drops") else "n/a", ", ".join(defs) or "-", rec,
    "" if rc == "0" else " Tern exit %s" % rc))
PY
}

header="| kind | attacking conns | connected | attacker | legit success | pool peak in use | rx_nombuf | MbufExhausted | defence counters (delta) | recovered |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
echo "build: $build ($(git -C "$build/.." rev-parse --short HEAD 2>/dev/null || echo '?')), mode $mode, $secs s per level, $(date -u +%F)"
for k in $kinds; do for n in $levels; do level "$k" "$n"; done; done
echo
echo "$header"
cat "$work/rows.md"
