#!/usr/bin/env bash
# Benchmark, not a test (issue 12): like for like. One bulk TCP connection
# from a sender in namespace S to a receiver in namespace R through
# tern-impair-bridge in namespace B, which forwards frames between two veths
# through Tern's ImpairedPort (the impairment of loss_bench.sh, both
# directions). Each side is either the kernel (tern-perf --kernel) or Tern
# (tern-perf on net_af_packet, no impairment of its own), so both senders
# face the same receiver through the same impairment: the 2x2 matrix
# {Tern, Linux} sender x {Tern, Linux} receiver, one row per loss point.
# Nothing passes or fails (bench/loss/README.md has the results).
#   bridge_bench.sh BUILD_DIR
# Environment: TERN_LOSS_POINTS, TERN_LOSS_SECONDS, TERN_LOSS_SEED,
#   TERN_LOSS_KERNEL_CC, TERN_LOSS_OUT, TERN_LOSS_KEEP, TERN_LOSS_INTERVAL,
#   TERN_LOSS_TCP (both Tern ends) as for loss_bench.sh
#   (default points "0 0.01 0.03"; loss only); Tern runs `[tcp] congestion =
#   TERN_LOSS_CC` (default cubic).
#   TERN_BRIDGE_IDLE_US  the bridge sleeps this long after a round with no
#                        frame (default 20; 0 busy-polls)
#   TERN_BRIDGE_RT       SCHED_FIFO priority of the bridge (default 50; empty:
#                        the ordinary scheduler)
#   TERN_LOSS_PORT_TOML  more [[port]] keys for both Tern ends (e.g. "gro = false")
# Topology, one /24 (10.88.x.0), L2 through the bridge:
#   S: .1 the kernel, .2 Tern (both on the sender's veth)
#   B: tern-impair-bridge between the two veths' other ends
#   R: .3 the kernel, .4 Tern (on the receiver's veth)
# Placement (2 cores): the sender alone on CPU 0 (Tern's worker, or the
# kernel's client, with RPS putting its veth's receive work there too); the
# bridge on CPU 1 with the receiver (Tern's worker or the kernel's server, its
# veth's receive work there too). So a sender has a core of its own and
# faces the same receiver, bridge and CPU whichever it is. A busy-polling
# bridge beside a busy-polling Tern receiver takes turns of milliseconds
# with it (Tern's receiver got 0.016-0.019 Gbit/s at 1 %; bench/loss/README.md):
# the bridge therefore sleeps when idle and, as SCHED_FIFO, runs at once when
# it wakes, as a link would.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/interop/lib.sh"
. "$here/loss_lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR"; exit 2; }
interop_init bridge-bench af_packet "$1"

points=${TERN_LOSS_POINTS:-0 0.01 0.03}
secs=${TERN_LOSS_SECONDS:-5}
seed=${TERN_LOSS_SEED:-7}
cc=${TERN_LOSS_CC:-cubic}
kcc=${TERN_LOSS_KERNEL_CC:-cubic}
outfile=${TERN_LOSS_OUT:-}
interval=${TERN_LOSS_INTERVAL:-0}
idle_us=${TERN_BRIDGE_IDLE_US:-20}
rt=${TERN_BRIDGE_RT-50}
port=5201
perf="$build/apps/perf/tern-perf"
bridge="$build/bench/loss/tern-impair-bridge"
for b in "$perf" "$bridge"; do [ -x "$b" ] || { echo "no $b: build it first (ninja -C BUILD_DIR)"; exit 2; }; done

net="10.88.$((RANDOM % 200 + 10))"
ns_s=$(tern_ns_create bs)
ns_b=$(tern_ns_create bb)
ns_r=$(tern_ns_create br)
s_if="bsv${TERN_NS_TAG}"
r_if="brv${TERN_NS_TAG}"
bs_if="bbs${TERN_NS_TAG}"
br_if="bbr${TERN_NS_TAG}"
tern_veth "$ns_s" "$s_if" "$ns_b" "$bs_if"
tern_veth "$ns_r" "$r_if" "$ns_b" "$br_if"
# Every frame crosses a socket PMD (the bridge's, and Tern's at an end), so
# none may leave a kernel with its checksum still to fill in.
for x in "$ns_s $s_if" "$ns_r $r_if" "$ns_b $bs_if" "$ns_b $br_if"; do
  # shellcheck disable=SC2086
  interop_tx_checksum_off $x
done
ip -n "$ns_s" addr add "$net.1/24" dev "$s_if"
ip -n "$ns_r" addr add "$net.3/24" dev "$r_if"
ip netns exec "$ns_s" sh -c "echo 1 > /sys/class/net/$s_if/queues/rx-0/rps_cpus"
ip netns exec "$ns_r" sh -c "echo 2 > /sys/class/net/$r_if/queues/rx-0/rps_cpus"

# tern_config FILE NS IF ADDRESS CPU: Tern's tern-perf on net_af_packet.
tern_config() {
  cat >"$1" <<TOML
log_level = "info"
[eal]
file_prefix = "tb$2$TERN_NS_TAG"
memory_mb = 512
[runtime]
lcores = [$5]
mbufs_per_worker = 16383
[[port]]
name = "p0"
device = "net_af_packet0,iface=$3,framecnt=8192"
address = "$4/24"
${TERN_LOSS_PORT_TOML:-}
[tcp]
congestion = "$cc"
${TERN_LOSS_TCP:-}
TOML
}
tern_config "$work/s.toml" s "$s_if" "$net.2" 0
tern_config "$work/r.toml" r "$r_if" "$net.4" 1

# start_receiver KIND DIR: a tern-perf server in R; sets rpid.
start_receiver() {
  rm -f "$work/rready"
  if [ "$1" = kernel ]; then
    ip netns exec "$ns_r" taskset -c 1 "$perf" --kernel --server --port "$port" --json --congestion "$kcc" \
      --ready-file "$work/rready" >"$2/receiver.log" 2>&1 &
  else
    ip netns exec "$ns_r" "$perf" --config "$work/r.toml" --ready-file "$work/rready" --server --port "$port" \
      --json >"$2/receiver.log" 2>&1 &
  fi
  rpid=$!
  TERN_PIDS+=("$rpid")
  tern_wait_for "the $1 receiver" 30 test -f "$work/rready" || { tail "$2/receiver.log"; fail "receiver did not start"; }
}

# run_one SENDER RECEIVER LOSS DIR: one bulk transfer through a fresh bridge
# (each of the four runs meets the same fault sequence from the seed).
run_one() {
  local snd=$1 rcv=$2 loss=$3 dir=$4 bpid to
  mkdir -p "$dir"
  rm -f "$work/bready"
  ip netns exec "$ns_b" ${rt:+chrt -f "$rt"} "$bridge" --a "$bs_if" --b "$br_if" --loss "$loss" --seed "$seed" \
    --cpu 1 --idle-sleep-us "$idle_us" --ready-file "$work/bready" >"$dir/bridge.log" 2>&1 &
  bpid=$!
  TERN_PIDS+=("$bpid")
  tern_wait_for "the bridge" 30 test -f "$work/bready" || { tail "$dir/bridge.log"; fail "bridge did not start"; }
  start_receiver "$rcv" "$dir"
  if [ "$rcv" = kernel ]; then to=$net.3; else to=$net.4; fi
  nstat_abs "$ns_s" >"$dir/nstat.before"
  if [ "$snd" = kernel ]; then
    timeout $((secs + 60)) ip netns exec "$ns_s" "$perf" --kernel --client "$to" --port "$port" --mode bulk \
      --time "$secs" --interval "$interval" --cpu 0 --congestion "$kcc" --json >"$dir/sender.log" 2>&1 || true
  else
    timeout $((secs + 60)) ip netns exec "$ns_s" "$perf" --config "$work/s.toml" --client "$to" --port "$port" \
      --mode bulk --time "$secs" --interval "$interval" --json >"$dir/sender.log" 2>&1 || true
  fi
  nstat_abs "$ns_s" >"$dir/nstat.after"
  kill -INT "$rpid" 2>/dev/null || true
  wait "$rpid" 2>/dev/null || true
  kill -INT "$bpid" 2>/dev/null || true
  wait "$bpid" 2>/dev/null || true
}

# sender_counts KIND DIR: "retransmitted segments / RTOs / loss probes".
sender_counts() {
  if [ "$1" = kernel ]; then
    echo "$(nstat_delta "$2/nstat.before" "$2/nstat.after" TcpRetransSegs) / $(nstat_delta "$2/nstat.before" "$2/nstat.after" TcpExtTCPTimeouts) / $(nstat_delta "$2/nstat.before" "$2/nstat.after" TcpExtTCPLossProbes)"
  else
    echo "$(counter "$2/sender.log" RetransSegs) / $(counter "$2/sender.log" TCPTimeouts) / $(counter "$2/sender.log" TCPLossProbes)"
  fi
}
# bridge_counts LOG: "impaired drops S->R, R->S; tx refused S->R, R->S |
# frames S->R per frame R->S" (data segments per ACK, near enough).
bridge_counts() {
  awk '$1 == "a->b:" || $1 == "b->a:" { d = d (d == "" ? "" : ", ") $6; r = r (r == "" ? "" : ", ") $9 }
       $1 == "a->b:" { ab = $3 } $1 == "b->a:" { ba = $3 }
       END { printf "%s; %s | %s\n", d, r, (ba > 0 ? sprintf("%.1f", ab / ba) : "n/a") }' "$1"
}
ratio() { python3 -c "import sys; t,k=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (t/k) if k > 0 else 'n/a')" "$1" "$2"; }

echo "Tern: [tcp] congestion = \"$cc\"; kernel: $kcc (per socket), sack $(ip netns exec "$ns_s" sysctl -n net.ipv4.tcp_sack)," \
  "timestamps $(ip netns exec "$ns_s" sysctl -n net.ipv4.tcp_timestamps); seed $seed, $secs s per run"
echo "| loss | seed | Tern -> Linux | Linux -> Linux | Tern / Linux sender, Linux receiver | Tern -> Tern | Linux -> Tern | Tern / Linux sender, Tern receiver |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
details=()
for loss in $points; do
  declare -A g=()
  for rcv in kernel tern; do
    for snd in kernel tern; do
      dir=$work/$loss-$snd-$rcv
      run_one "$snd" "$rcv" "$loss" "$dir"
      g[$snd-$rcv]=$(json_field "$dir/sender.log" gbps)
      details+=("| $loss | $seed | $snd | $rcv | ${g[$snd-$rcv]} | $(sender_counts "$snd" "$dir") | $(bridge_counts "$dir/bridge.log") |")
      [ "$interval" = 0 ] || echo "  $loss, $snd -> $rcv: means over the intervals: $(interval_means "$dir/sender.log")"
      if [ -n "${TERN_LOSS_KEEP:-}" ]; then mkdir -p "$TERN_LOSS_KEEP" && cp -r "$dir" "$TERN_LOSS_KEEP/"; fi
    done
  done
  row="| $loss | $seed | ${g[tern-kernel]} | ${g[kernel-kernel]} | $(ratio "${g[tern-kernel]}" "${g[kernel-kernel]}") | ${g[tern-tern]} | ${g[kernel-tern]} | $(ratio "${g[tern-tern]}" "${g[kernel-tern]}") |"
  echo "$row"
  [ -z "$outfile" ] || echo "$row" >>"$outfile"
done
echo
echo "| loss | seed | sender | receiver | Gbit/s | sender's retrans segs / RTOs / loss probes | bridge's impaired drops S->R, R->S; tx refused S->R, R->S | frames S->R per frame R->S |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${details[@]}"
