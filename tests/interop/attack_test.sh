#!/usr/bin/env bash
# Interop under attack (issue 11): no peer may empty a worker's mbuf pool.
# One worker (lcore 0, 8,191 mbufs: the issue's figures), restarted for every
# case, with limits small enough to be reached within seconds: [tcp]
# persist_timeout_s 5, fin_timeout_s 3, time_wait_s 5, [ip] frag_timeout_s 3;
# tern-httpd with --header-timeout 2 --idle-timeout 2 --send-timeout 3 (on a
# build without the first and last, --idle-timeout 2 alone). The attackers,
# a legitimate client and ping run on the kernel's side
# (tests/interop/attack.py): kernel sockets where they suffice, frames built
# here and sent through AF_PACKET where a segment must be crafted (the
# kernel's own stack never sees those).
#   attack_test.sh tap|af_packet|af_xdp BUILD_DIR
# Cases (TERN_ATTACK_CASES="1 2 ..." picks; the default is those that pass
# today, all six; docs/testing.md has their history):
#   1 drip       tern-httpd; 8 connections with SO_RCVBUF 4096 and TCP_NODELAY
#                ask for 1 GiB, never read, and keep sending a never-ending
#                next request one byte every 2 ms (1-byte segments pile up
#                in a receive queue the application does not read).
#   2 ooo        tern-echo; 28 connections that send nothing themselves;
#                one-byte segments beyond a hole at their SND.NXT (every
#                other byte, 256 per connection per round, timestamps and
#                ACK copied from a capture of the connection), 14,000 a
#                second; then the connections close (FIN at the hole).
#   3 zerowin    tern-httpd; 200 connections with SO_RCVBUF 4096 ask for
#                1 GiB and never read (Tern's send queues fill, windows shut).
#   4 slowloris  tern-httpd; up to 4,500 connections (more than its 4,096
#                slots) from two addresses send a request line, then a header
#                byte every 1.5 s; every connection Tern ends is replaced.
#   5 blind      tern-echo; a live kernel connection (an echo round trip
#                before and after); at its 4-tuple, out-of-window data
#                segments for half the time, then SYNs, 4,000 a second (the
#                issue's 20,000 of each in 10 s), with valid timestamps so
#                that only the sequence check or the SYN stops them. Tern's
#                segments to that 4-tuple are counted in a tcpdump capture:
#                at most span / 0.5 s + 2 per phase ([tcp]
#                invalid_ratelimit_ms 500); the connection still echoes.
#   6 frags      tern-httpd; IPv4 fragments that never complete (7 of 8, MF
#                always set) from 150 spoofed sources, 20,000 a second (ten
#                times the rate that emptied the pool before reassembly was
#                bounded; at 50,000 a loaded machine's tap link drops pings);
#                TERN_ATTACK_FRAG_PPS=0 sends as fast as the peer can, which
#                over net_tap saturates the link itself (frames dropped in
#                the kernel before Tern reads them: ping and the legitimate
#                client suffer whatever the pool does). Tap only:
#                net_af_packet's fanout has the kernel reassemble before
#                Tern sees a fragment.
# During each attack (TERN_ATTACK_SECONDS, default 10) a legitimate client
# from another address fetches GET /bytes/10000 (tern-httpd) or echoes 1,000
# bytes (tern-echo) on a new connection every ~20 ms, and the kernel pings
# Tern every 0.5 s. Each case checks:
#   - the pool never empty: in use sampled every 0.5 s (dpdk-proc-info:
#     DPDK 22.11's telemetry has no mempool counts) below its size, ethdev
#     rx_nombuf 0 (net_tap counts it; net_af_packet counts nothing), no
#     MbufExhausted drop;
#   - legitimate success >= 99 %, every ping answered;
#   - the attack reached Tern and was the one meant (counters);
#   - after the attackers stop (they go silent but keep their sockets open
#     and unread; case 2's close), CurrEstab back to 0 and the pool back to
#     its baseline (+64) within the limit that ends them, counted from the
#     stop: case 1, 3 persist_timeout_s + 5 s (the send timeout comes
#     first); 4 header timeout + 5 s; 6 frag_timeout_s + 5 s; 2, 5 5 s;
#   - Tern exits cleanly.
# A failing case does not stop the run: every case prints its figures, the
# run fails at the end, so the script is a measurement as well as a test.
# TERN_ATTACK_KEEP=DIR keeps the work directory (samples, logs, capture).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init attack "$@"
# On every exit path, after lib.sh's cleanup has ended Tern: the files of
# this run's EAL prefix (this script starts Tern up to six times).
trap 'interop_cleanup; attack_remove_eal_files' EXIT

cases=${TERN_ATTACK_CASES:-1 2 3 4 5 6}
secs=${TERN_ATTACK_SECONDS:-10}
frag_pps=${TERN_ATTACK_FRAG_PPS:-20000}  # 0: as fast as the peer can send
keep_dir=${TERN_ATTACK_KEEP:-}
mbufs=8191
persist_s=5
head_s=2
send_s=3
frag_s=3
slack=64
start=$SECONDS

# Namespaces, addresses, the kernel's side on CPU 1 (lib.sh).
attack_setup a 10.83

httpd_args=(--port 80)
httpd_help=$("$build/apps/tern-httpd" --help 2>&1 || true)
if grep -q -- --header-timeout <<<"$httpd_help"; then
  # --idle-timeout also bounds the lingering close after a 408.
  httpd_args+=(--header-timeout "$head_s" --idle-timeout "$head_s")
else
  httpd_args+=(--idle-timeout "$head_s")
fi
if grep -q -- --send-timeout <<<"$httpd_help"; then httpd_args+=(--send-timeout "$send_s"); fi

interop_on_fail() {
  if [ -n "$keep_dir" ]; then rm -rf "$keep_dir" && cp -r "$work" "$keep_dir" && echo "work directory kept in $keep_dir"; fi
}

# start_case APP ARGS...: Tern with one worker and the small limits, the
# extra addresses of the kernel side, then the pool's baseline (after one
# legitimate request, so that ARP and the first connection are behind it).
start_case() {
  interop_write_config 512 "$mbufs" "[tcp]
max_connections = 16384
persist_timeout_s = $persist_s
fin_timeout_s = 3
time_wait_s = 5
[ip]
frag_timeout_s = $frag_s"
  # One worker: every attacker and the legitimate client meet on the same
  # pool (af_packet: Tern gives the PMD one queue pair).
  sed -i 's/^lcores = .*/lcores = [0]/' "$work/tern.toml"
  interop_start_tern "$@"
  # Slowloris reopens thousands of connections a second from two addresses.
  attack_peer_addresses
  if [ "$1" = tern-httpd ]; then
    "${inpeer[@]}" "${atk[@]}" legit-http "$tern_ip" 80 "$legit_ip" 0.01 "$dir/warmup.json"
  else
    "${inpeer[@]}" "${atk[@]}" legit-echo "$tern_ip" 7 "$legit_ip" 0.01 "$dir/warmup.json"
  fi
  sleep 0.5
  pool_base=$("${atk[@]}" pool "$prefix") || fail "cannot read the pool's count (dpdk-proc-info)"
}

# stop_case: SIGINT, then up to 20 s for Tern to exit (a wedged worker is
# killed, and that is a failure of the case). Sets tern_rc.
stop_case() {
  local p=$tern_pid
  kill -INT "$p" 2>/dev/null || true
  if ! tern_wait_for "$tern_name to exit" 20 pid_gone "$p"; then
    echo "$tern_name did not exit in 20 s: killed"
    kill -KILL "$p" 2>/dev/null || true
  fi
  tern_rc=0
  wait "$p" || tern_rc=$?
  tern_pid=
  forget "$p"
  cp "$work/tern.log" "$dir/tern.log"
}
# link_dropped: frames the kernel's side of the link dropped on their way to
# Tern (net_tap: Tern did not read its queue in time; a veth: its peer's).
link_dropped() { ip netns exec "$peer_ns" cat "/sys/class/net/$peer_if/statistics/tx_dropped"; }

# run_case N NAME APP LIMIT_S ATTACK ARGS...: one case from Tern's start to
# its exit; prints the verdict; a failure is recorded, not fatal.
failed=()
ran=()
run_case() {
  local n=$1 name=$2 app=$3 limit=$4
  shift 4
  local port=80 legit=legit-http mon_pid legit_pid ping_pid atk_pid dump_pid='' t0=$SECONDS
  [ "$app" = tern-echo ] && port=7 legit=legit-echo
  dir=$work/case$n
  mkdir -p "$dir"
  echo "--- case $n ($name): $app, $secs s of attack ---"
  if [ "$app" = tern-httpd ]; then start_case tern-httpd "${httpd_args[@]}"; else start_case tern-echo --port 7; fi
  if [ "$n" = 5 ]; then
    bg dump_pid "${inpeer[@]}" tcpdump -i "$peer_if" -nn -tt -l --immediate-mode -s 96 \
      "tcp and src host $tern_ip and src port 7 and dst host $atk_ip" >"$dir/acks.txt" 2>"$dir/tcpdump.err"
    tern_wait_for "tcpdump to listen" 10 grep -q listening "$dir/tcpdump.err" || fail "tcpdump did not start"
  fi
  local drops0
  drops0=$(link_dropped)
  bg mon_pid "${atk[@]}" monitor "$prefix" "$dir/mon.jsonl" "$dir/mon.now"
  tern_wait_for "the first sample" 10 test -s "$dir/mon.now" || fail "no telemetry sample: $(tail -2 "$dir/mon.jsonl")"
  bg legit_pid "${inpeer[@]}" "${atk[@]}" "$legit" "$tern_ip" "$port" "$legit_ip" $((secs + 60)) "$dir/legit.json" \
    "$dir/attack-stopped"
  bg ping_pid "${inpeer[@]}" ping -n -c $((secs * 2)) -i 0.5 -W 2 "$tern_ip" >"$dir/ping.txt" 2>&1
  # The attackers yield the CPU to the legitimate client (atk_nice: lib.sh).
  bg atk_pid "${atk_nice[@]}" "$@" >"$dir/attacker.out" 2>&1
  tern_wait_for "the attack to stop" $((secs + 60)) attack_over "$atk_pid" "$dir/attacker.out" || true
  grep -q "^stopped" "$dir/attacker.out" || fail "case $n: the attack failed: $(tail -5 "$dir/attacker.out")"
  touch "$dir/attack-stopped"
  wait "$legit_pid" || true
  wait "$ping_pid" || true
  # From the moment the attack stopped: CurrEstab 0, the pool at its baseline.
  "${atk[@]}" cleanup "$dir/mon.now" "$limit" "$pool_base" "$slack" 0 \
    "$(sed -n 's/^stopped //p' "$dir/attacker.out")" >"$dir/cleanup.json" || true
  for p in "$atk_pid" "$mon_pid" "$legit_pid" "$ping_pid"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" || true
    forget "$p"
  done
  local dropped=0
  if [ -n "$dump_pid" ]; then
    kill -INT "$dump_pid" 2>/dev/null || true
    wait "$dump_pid" || true
    forget "$dump_pid"
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$dir/tcpdump.err")
  fi
  local link=$(($(link_dropped) - drops0))
  stop_case
  cat >"$dir/case.json" <<JSON
{"mode": "$mode", "pool_size": $mbufs, "pool_base": $pool_base, "slack": $slack, "limit": $limit, "tern_rc": $tern_rc,
 "ratelimit_s": 0.5, "tcpdump_dropped": ${dropped:-0}, "link_dropped": $link}
JSON
  ran+=("$n")
  if "${atk[@]}" verdict "$n" "$dir"; then
    echo "case $n ($name) ok in $((SECONDS - t0)) s"
  else
    echo "case $n ($name) FAILED [$mode] (in $((SECONDS - t0)) s)"
    failed+=("$n")
  fi
  grep -E "^(httpd|echo) worker" "$dir/tern.log" | sed 's/^/  at exit: /' || true
}

want() { [[ " $cases " == *" $1 "* ]]; }
for n in 1 2 3 4 5 6; do want "$n" || echo "case $n: skipped (not in TERN_ATTACK_CASES=\"$cases\")"; done
want 1 && run_case 1 drip tern-httpd $((persist_s + 5)) drip "$tern_ip" 80 "$atk_ip" "$secs"
want 2 && run_case 2 ooo tern-echo 5 ooo "$tern_ip" 7 "$atk_ip" "$peer_if" "$secs"
want 3 && run_case 3 zerowin tern-httpd $((persist_s + 5)) zerowin "$tern_ip" 80 "$atk_ip" "$secs"
want 4 && run_case 4 slowloris tern-httpd $((head_s + 5)) slowloris "$tern_ip" 80 "$atk_ip,$atk_ip2" "$secs"
want 5 && run_case 5 blind tern-echo 5 blind "$tern_ip" 7 "$atk_ip" "$peer_if" "$secs"
if want 6 && [ "$mode" = af_packet ]; then
  # net_af_packet's fanout asks the kernel to reassemble first
  # (PACKET_FANOUT_FLAG_DEFRAG, DPDK 22.11 rte_eth_af_packet.c): an
  # incomplete datagram never reaches Tern, whose reassembly is not exercised.
  echo "case 6: not applicable over af_packet (the PMD's fanout has the kernel reassemble fragments first)"
elif want 6; then
  run_case 6 frags tern-httpd $((frag_s + 5)) frags "$tern_ip" "$net" "$peer_if" "$prefix" "$secs" --pps "$frag_pps"
fi

[ -n "$keep_dir" ] && { rm -rf "$keep_dir" && cp -r "$work" "$keep_dir" && echo "work directory kept in $keep_dir"; }
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL [$mode]: case(s) ${failed[*]} in $((SECONDS - start)) s"
  exit 1
fi
echo "PASS [$mode]: case(s) ${ran[*]:-none} in $((SECONDS - start)) s"
