#!/usr/bin/env bash
# Benchmark, not a test (issue 12): one bulk TCP connection over Tern's
# impaired port, once with Tern sending to the Linux kernel and once with
# the kernel sending to Tern through the very same port and impairment, at
# each loss rate. Nothing passes or fails; it prints one table row per point
# (bench/loss/README.md has the results and how to read them).
#   loss_bench.sh BUILD_DIR [tap|af_packet]
# Environment:
#   TERN_LOSS_POINTS   "LOSS[/REORDER] ..." (default
#                      "0 0.001 0.01 0.03 0.05 0.01/0.02"): [impairment]
#                      loss and reorder, applied in both directions
#   TERN_LOSS_SECONDS  seconds of bulk transfer per run (default 5)
#   TERN_LOSS_SEED     [impairment] seed (default 7, the issue's)
#   TERN_LOSS_CC       Tern's [tcp] congestion values to run, one column set
#                      each (default: none written, the build's default)
#   TERN_LOSS_OUT      also append the table rows to this file
#   TERN_LOSS_PNG      also draw the rows of this run as a chart (PNG, with
#                      bench/loss/plot.py and gnuplot, which dpdk-env/setup.sh installs)
#   TERN_LOSS_KEEP     keep each run's logs under this directory
#   TERN_LOSS_INTERVAL both senders print a line every this many seconds
#                      (rate, cwnd, srtt, retransmissions, recovery state;
#                      in the kept logs; default 0, none)
#   TERN_LOSS_TCP      more lines for Tern's [tcp] table (e.g. "pacing = false")
#   TERN_LOSS_GRO      [port] gro for Tern (true/false; default unset: the
#                      build's default)
#   TERN_LOSS_PORT     more lines for Tern's [[port]] table (e.g. "tso = true
#                      gso = true", one per line)
#   TERN_LOSS_KERNEL_CC the kernel's congestion control (default cubic,
#                      Linux's default; this VM's own default is bbr and
#                      cubic is outside its allowed list, so it is set per
#                      socket: tern-perf --kernel --congestion, as root)
#   TERN_LOSS_KERNEL_QUICKACK  1: the kernel's route to Tern gets
#                      `quickack 1`, so the kernel's receiver ACKs every
#                      segment at once instead of once per batch its reader
#                      drains (a diagnosis of how the receiver's ACK timing
#                      bounds Tern's sender, not the benchmark's setting)
#   TERN_LOSS_RPS      the kernel's receive packet steering mask for the
#                      kernel-side interface (default 2: CPU 1; empty leaves
#                      the interface's setting alone)
# Placement: Tern has one worker on CPU 0; the kernel's tern-perf (client or
# server, --kernel: epoll, one thread) is pinned to CPU 1 in the namespace.
# What the kernel receives is written by Tern's worker (the tap's write, the
# veth's transmit) and so is processed by the kernel on CPU 0, the core Tern
# polls on, unless RPS moves it: TERN_LOSS_RPS=2 hands the kernel's receive
# work to the kernel's own core, so each side's TCP runs on its own CPU.
# The kernel runs its defaults there (SACK, timestamps, printed at the
# start) but for its congestion control, TERN_LOSS_KERNEL_CC.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
interop=$here/../../tests/interop
. "$interop/lib.sh"
. "$here/loss_lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [tap|af_packet]"; exit 2; }
interop_init loss-bench "${2:-tap}" "$1"

points=${TERN_LOSS_POINTS:-0 0.001 0.01 0.03 0.05 0.01/0.02}
secs=${TERN_LOSS_SECONDS:-5}
seed=${TERN_LOSS_SEED:-7}
ccs=${TERN_LOSS_CC:-default}
outfile=${TERN_LOSS_OUT:-}
interval=${TERN_LOSS_INTERVAL:-0}
port=5201
perf="$build/apps/perf/tern-perf"
[ -x "$perf" ] || { echo "no $perf: build apps/perf/tern-perf first"; exit 2; }
interop_setup "$mode" l 10.86

# config LOSS REORDER CC: $work/tern.toml, one worker on CPU 0.
config() {
  local cc_line=""
  [ "$3" = default ] || cc_line="congestion = \"$3\""
  cat >"$work/tern.toml" <<TOML
log_level = "info"
[eal]
file_prefix = "$prefix"
memory_mb = 512
[runtime]
lcores = [0]
mbufs_per_worker = 16383
[[port]]
name = "p0"
device = "$device"
address = "$tern_ip/24"
${TERN_LOSS_GRO:+gro = $TERN_LOSS_GRO}
${TERN_LOSS_PORT:-}
[tcp]
$cc_line
${TERN_LOSS_TCP:-}
[impairment]
loss = $1
reorder = $2
seed = $seed
TOML
}

# kernel_side_tweaks: RPS on the kernel's interface and, for the diagnosis,
# quickack on its route to Tern. Run once Tern is up: in tap mode the
# interface is the tap the PMD creates, gone between runs.
kernel_side_tweaks() {
  [ -z "${TERN_LOSS_RPS}" ] || ip netns exec "$peer_ns" sh -c "for q in /sys/class/net/$peer_if/queues/rx-*/rps_cpus; do echo $TERN_LOSS_RPS > \$q; done"
  if [ "${TERN_LOSS_KERNEL_QUICKACK:-0}" = 1 ]; then
    ip -n "$peer_ns" route replace "$tern_ip/32" dev "$peer_if" quickack 1
  fi
}

# tern_sends DIR: Tern's bulk client -> the kernel's server.
tern_sends() {
  local dir=$1 kpid
  rm -f "$work/kready"
  ip netns exec "$peer_ns" taskset -c 1 "$perf" --kernel --server --port "$port" --json --congestion "$kcc" \
    --ready-file "$work/kready" >"$dir/kserver.log" 2>&1 &
  kpid=$!
  TERN_PIDS+=("$kpid")
  tern_wait_for "the kernel server" 10 test -f "$work/kready" || fail "kernel server did not start"
  rm -f "$work/go"
  interop_start_tern perf/tern-perf --client "$peer_ip" --port "$port" --mode bulk --time "$secs" \
    --interval "$interval" --start-file "$work/go" --json
  kernel_side_tweaks
  touch "$work/go"
  tern_wait_for "the Tern client" $((secs + 60)) eval '! kill -0 "$tern_pid"' || fail "Tern client did not finish"
  local p=$tern_pid
  tern_pid=
  wait "$p" || true
  cp "$work/tern.log" "$dir/tern-client.log"
  kill -INT "$kpid" 2>/dev/null || true
  wait "$kpid" 2>/dev/null || true
}

# kernel_sends DIR: the kernel's bulk client -> Tern's server.
kernel_sends() {
  local dir=$1
  interop_start_tern perf/tern-perf --server --port "$port" --json
  kernel_side_tweaks
  nstat_abs "$peer_ns" >"$dir/nstat.before"
  timeout $((secs + 60)) ip netns exec "$peer_ns" "$perf" --kernel --client "$tern_ip" --port "$port" \
    --mode bulk --time "$secs" --interval "$interval" --cpu 1 --congestion "$kcc" --json >"$dir/kclient.log" 2>&1 || true
  nstat_abs "$peer_ns" >"$dir/nstat.after"
  interop_stop_tern || true
  cp "$work/tern.log" "$dir/tern-server.log"
}

kcc=${TERN_LOSS_KERNEL_CC:-cubic}
TERN_LOSS_RPS=${TERN_LOSS_RPS-2}
[ "${TERN_LOSS_KERNEL_QUICKACK:-0}" = 1 ] && echo "kernel side: quickack on its route to Tern (every run)"
echo "kernel side: $kcc congestion control (per socket)," \
  "sack $(interop_in_peer sysctl -n net.ipv4.tcp_sack), timestamps $(interop_in_peer sysctl -n net.ipv4.tcp_timestamps)"
header="| Tern cc | loss | reorder | Tern sends, Gbit/s | Linux sends, Gbit/s | Tern / Linux | Tern retrans segs | Tern RTOs | Linux retrans segs | Linux RTOs |"
echo "$header"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for cc in $ccs; do
  for pt in $points; do
    loss=${pt%%/*}
    reorder=0
    [ "$pt" = "$loss" ] || reorder=${pt#*/}
    dir=$work/$cc-$loss-$reorder
    mkdir -p "$dir"
    config "$loss" "$reorder" "$cc"
    tern_sends "$dir"
    kernel_sends "$dir"
    tg=$(json_field "$dir/tern-client.log" gbps)
    kg=$(json_field "$dir/kclient.log" gbps)
    ratio=$(python3 -c "import sys; t,k=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (t/k) if k > 0 else 'n/a')" "$tg" "$kg")
    row="| $cc | $loss | $reorder | $tg | $kg | $ratio | $(counter "$dir/tern-client.log" RetransSegs) | $(counter "$dir/tern-client.log" TCPTimeouts) | $(nstat_delta "$dir/nstat.before" "$dir/nstat.after" TcpRetransSegs) | $(nstat_delta "$dir/nstat.before" "$dir/nstat.after" TcpExtTCPTimeouts) |"
    echo "$row"
    [ -z "$outfile" ] || echo "$row" >>"$outfile"
    echo "$row" >>"$work/rows.md"
    if [ "$interval" != 0 ]; then
      echo "  means over the intervals: Tern sends $(interval_means "$dir/tern-client.log"); Linux sends $(interval_means "$dir/kclient.log")"
    fi
    if [ -n "${TERN_LOSS_KEEP:-}" ]; then mkdir -p "$TERN_LOSS_KEEP" && cp -r "$dir" "$TERN_LOSS_KEEP/"; fi
  done
done
if [ -n "${TERN_LOSS_PNG:-}" ]; then
  python3 "$here/plot.py" bench "$work/rows.md" "$TERN_LOSS_PNG" || echo "(no chart)"
fi
