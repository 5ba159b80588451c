#!/usr/bin/env bash
# UDP datagrams per second per core (issue 15): Tern's UDP against the
# kernel's, measured with tern-perf --udp and with iperf3 -u, over a veth
# pair between two namespaces, each side pinned to one core as ab.py pins
# its runs: the sender on core 0, the receiver on core 1.
#   bench/ab/udp_ab.sh [BUILD_DIR] [SECONDS] [LENGTH]   (root; defaults: build 5 1460)
#   TERN_UDP_AB_FAMILY=6 bench/ab/udp_ab.sh ...           (the same runs over IPv6; LENGTH 1452)
# TERN_UDP_AB_FAMILY=6 gives both ends IPv6 addresses (2001:db8:97::1 and
# ::2, /64, no DAD) and makes every run use them: iperf3 and tern-perf
# --kernel to the IPv6 address, Tern with an `address6` (and `[nd]
# dad_transmits = 0`: usable at once). The default LENGTH is then 1452 so
# that a datagram (+ 8 + 40) still fills one 1500-byte frame, as 1460 (+ 8
# + 20) does over IPv4.
# Runs, each --bitrate 0 (as fast as the sender goes) for SECONDS:
#   kernel iperf3     iperf3 -u -c (core 0) -> iperf3 -s (core 1)
#   kernel tern-perf  tern-perf --kernel --udp client (core 0) -> --kernel --udp server (core 1)
#   Tern receives     the kernel tern-perf client (core 0) -> Tern's tern-perf --udp
#                     server on net_af_packet (lcore 1)
#   Tern sends        Tern's tern-perf --udp client on net_af_packet (lcore 0) ->
#                     the kernel tern-perf server (core 1)
# and prints, per run, what the sender sent and the receiver counted
# (datagrams/s over the receiver's first to last datagram, lost %). One
# receiving core each: datagrams/s is per core. TX checksum offload is off
# on both veth ends for every run (a kernel sender over veth leaves the UDP
# checksum to a NIC that is not there; Tern on net_af_packet checks it).
# Needs iperf3 and ethtool (dpdk-env/setup.sh --bench installs iperf3).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
secs=${2:-5}
family=${TERN_UDP_AB_FAMILY:-4}
case "$family" in
  4) len=${3:-1460} ;;
  6) len=${3:-1452} ;;
  *) echo "udp_ab.sh: TERN_UDP_AB_FAMILY is 4 or 6, not $family" >&2; exit 2 ;;
esac
perf="$build/apps/perf/tern-perf"
[ -x "$perf" ] || { echo "no $perf: ninja -C $build apps/perf/tern-perf" >&2; exit 2; }
for tool in iperf3 ethtool taskset; do
  command -v "$tool" >/dev/null || { echo "udp_ab.sh: $tool missing (dpdk-env/setup.sh --bench)" >&2; exit 2; }
done
tag=${TERN_NS_TAG:-$$}
nsc="tnu${tag}c" nss="tnu${tag}s" ifc="tnu${tag}c0" ifs="tnu${tag}s0"
net="10.97.$((RANDOM % 200 + 10))"
ipc="$net.1" ips="$net.2"
ipc6="2001:db8:97::1" ips6="2001:db8:97::2"
work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$nsc" 2>/dev/null || true
  ip netns del "$nss" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$nsc"
ip netns add "$nss"
ip link add "$ifc" netns "$nsc" type veth peer name "$ifs" netns "$nss"
for side in "$nsc $ifc" "$nss $ifs"; do
  set -- $side
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
  ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
  ip -n "$1" link set lo up
  ip -n "$1" link set "$2" up
done
# kaddr add|del NS IF ADDR [ADDR6]: the kernel's address(es) on that end
# (Tern takes them over when it runs there). Over IPv6 the kernel's IPv6
# goes off on that end while Tern runs there (no link-local address of the
# kernel's either: it would be Tern's, from the same MAC).
kaddr() {
  ip -n "$2" link set "$3" up
  ip -n "$2" addr "$1" "$4/24" dev "$3" 2>/dev/null || true
  if [ -n "${5:-}" ]; then
    if [ "$1" = add ]; then
      ip netns exec "$2" sysctl -qw "net.ipv6.conf.$3.accept_dad=0" "net.ipv6.conf.$3.disable_ipv6=0"
      ip -n "$2" -6 addr replace "$5/64" dev "$3" nodad
    else
      ip netns exec "$2" sysctl -qw "net.ipv6.conf.$3.disable_ipv6=1"
    fi
  fi
  ip -n "$nsc" neigh flush dev "$ifc"
  ip -n "$nss" neigh flush dev "$ifs"
  ip -n "$nsc" -6 neigh flush dev "$ifc"
  ip -n "$nss" -6 neigh flush dev "$ifs"
}
# The address each run sends to (the server end's), and the IPv6 ones
# kaddr is given (none over IPv4).
dst=$ips dst_c6='' dst_s6=''
[ "$family" = 6 ] && { dst=$ips6; dst_c6=$ipc6; dst_s6=$ips6; }
kaddr add "$nsc" "$ifc" "$ipc" $dst_c6
kaddr add "$nss" "$ifs" "$ips" $dst_s6

tern_config() {  # tern_config IFACE ADDR LCORE [ADDR6]
  cat >"$work/tern.toml" <<TOML
log_level = "warning"
[eal]
file_prefix = "tnu$tag"
memory_mb = 512
[runtime]
lcores = [$3]
mbufs_per_worker = 32767
[[port]]
name = "p0"
device = "net_af_packet0,iface=$1,qpairs=1"
address = "$2/24"
[arp]
pending_packets = 4096
TOML
  if [ -n "${4:-}" ]; then
    sed -i "s|^address = .*|&\naddress6 = [\"$4/64\"]|" "$work/tern.toml"
    printf '[nd]\ndad_transmits = 0\npending_packets = 4096\n' >>"$work/tern.toml"
  fi
}
wait_file() { for _ in $(seq 100); do [ -f "$1" ] && return 0; sleep 0.1; done; echo "no $1" >&2; return 1; }
stop_last() { kill -INT "${pids[-1]}"; wait "${pids[-1]}" || true; unset 'pids[-1]'; }
# line NAME CLIENT_JSON: one line of figures from tern-perf's client summary.
line() {
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.loads([l for l in open(sys.argv[2]) if l.startswith('{"type": "summary"')][-1])
print("%-18s sent %9.0f datagrams/s   received %9.0f datagrams/s   lost %6.2f %%   (%d sent, %d received, jitter %.3f ms)" % (
    sys.argv[1], r["sent"] / r["duration_s"], r["received_pps"], r["lost_percent"], r["sent"], r["received"],
    r["jitter_ms"]))
PY
}

echo "UDP over IPv$family, $len-byte datagrams, $secs s per run, sender core 0, receiver core 1 ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"

# kernel, iperf3 (one test, then the server exits)
ip netns exec "$nss" taskset -c 1 iperf3 -s -1 -B "$dst" -p 5299 >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
ip netns exec "$nsc" taskset -c 0 iperf3 -u -c "$dst" -p 5299 -b 0 -l "$len" -t "$secs" -J >"$work/iperf3.json"
wait "${pids[-1]}" || true
unset 'pids[-1]'
python3 - "$work/iperf3.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
s = j["end"]["sum"]
secs = s["seconds"]
print("%-18s sent %9.0f datagrams/s   received %9.0f datagrams/s   lost %6.2f %%   (%d sent, %d lost, jitter %.3f ms)" % (
    "kernel iperf3", s["packets"] / secs, (s["packets"] - s["lost_packets"]) / secs, s["lost_percent"],
    s["packets"], s["lost_packets"], s["jitter_ms"]))
PY

# kernel, tern-perf
ip netns exec "$nss" "$perf" --kernel --udp --server --cpu 1 --ready-file "$work/kready" >/dev/null 2>&1 &
pids+=($!)
wait_file "$work/kready"
ip netns exec "$nsc" "$perf" --kernel --udp --client "$dst" --bitrate 0 --length "$len" --time "$secs" --cpu 0 \
  --json >"$work/kk.log" 2>&1 || true
line "kernel tern-perf" "$work/kk.log"

# Tern sends: its client on the client end (lcore 0), the kernel server still up
kaddr del "$nsc" "$ifc" "$ipc" $dst_c6
tern_config "$ifc" "$ipc" 0 $dst_c6
ip netns exec "$nsc" "$perf" --config "$work/tern.toml" --udp --client "$dst" --bitrate 0 --length "$len" \
  --time "$secs" --json >"$work/tk.log" 2>&1 || true
line "Tern sends" "$work/tk.log"
stop_last
kaddr add "$nsc" "$ifc" "$ipc" $dst_c6

# Tern receives: its server on the server end (lcore 1)
kaddr del "$nss" "$ifs" "$ips" $dst_s6
tern_config "$ifs" "$ips" 1 $dst_s6
ip netns exec "$nss" "$perf" --config "$work/tern.toml" --udp --server --ready-file "$work/tready" \
  >"$work/tserver.log" 2>&1 &
pids+=($!)
wait_file "$work/tready"
ip netns exec "$nsc" "$perf" --kernel --udp --client "$dst" --bitrate 0 --length "$len" --time "$secs" --cpu 0 \
  --json >"$work/kt.log" 2>&1 || true
line "Tern receives" "$work/kt.log"
stop_last
