# shellcheck shell=bash
# Shared parts of the interop scripts (ping_test.sh, echo_test.sh,
# httpd_test.sh, impair_test.sh, ...; the attack_* part at the end serves
# attack_test.sh and bench/attack/attack_bench.sh). Source it after
# `set -euo pipefail`:
#   here=$(cd "$(dirname "$0")" && pwd)
#   . "$here/lib.sh"
#   interop_init httpd "$@"               # mode, build, work dir, cleanup trap
#   interop_setup "$mode" h 10.79         # namespaces, interfaces, addresses
#   interop_write_config 512 16383 "[tcp]
#   max_connections = 1024"
#   interop_start_tern tern-httpd --port 80 --root "$work/root"
#   ...checks, `fail MESSAGE` on any failure...
#   interop_stop_tern                     # SIGINT; Tern prints its counters
# Names of namespaces and interfaces carry TERN_NS_TAG (dpdk-env/netns.sh),
# unique per run, so parallel runs never collide; the EXIT trap removes the
# namespaces, kills what the run started and deletes the work directory on
# every exit path (success, fail, set -e, SIGINT/SIGTERM/SIGHUP).

interop_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$interop_here/../../dpdk-env/netns.sh"

mode=
build=
work=
tern_pid=
tern_name=

# interop_init NAME MODE BUILD_DIR: checks the arguments, makes the work
# directory /tmp/tern-NAME.XXXXXX and installs the cleanup traps.
interop_init() {
  local name=$1
  if [ $# -ne 3 ] || { [ "$2" != tap ] && [ "$2" != af_packet ] && [ "$2" != af_xdp ]; }; then
    echo "usage: $0 tap|af_packet|af_xdp BUILD_DIR"
    exit 2
  fi
  mode=$2
  [ "$mode" != af_xdp ] || interop_af_xdp_or_skip
  build=$(cd "$3" && pwd)
  work=$(mktemp -d "/tmp/tern-$name.XXXXXX")
  trap interop_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

# interop_af_xdp_or_skip: exits 77 (meson's "skipped") with the reason when
# this kernel or this DPDK cannot run net_af_xdp: no AF_XDP sockets
# (CONFIG_XDP_SOCKETS), or no librte_net_af_xdp among DPDK's drivers.
interop_af_xdp_or_skip() {
  local why
  why=$(python3 -c '
import errno, socket
try:
    socket.socket(44, socket.SOCK_RAW).close()  # AF_XDP
except OSError as e:
    print("socket(AF_XDP): %s" % (errno.errorcode.get(e.errno, e.errno)))' 2>&1)
  if [ -n "$why" ]; then
    echo "SKIP [af_xdp]: this kernel cannot run AF_XDP ($why; needs Linux >= 5.4 with CONFIG_XDP_SOCKETS)"
    exit 77
  fi
  local libdir
  libdir=$(pkg-config --variable=libdir libdpdk 2>/dev/null || true)
  # (No `ldconfig -p | grep -q`: under pipefail, grep leaving early fails the pipe.)
  if ! compgen -G "${libdir:-/usr/lib}/dpdk/pmds-*/librte_net_af_xdp.so*" >/dev/null &&
    ! compgen -G "${libdir:-/usr/lib}/librte_net_af_xdp.so*" >/dev/null; then
    echo "SKIP [af_xdp]: DPDK has no net_af_xdp driver here (librte_net_af_xdp; Debian: librte-net-af-xdp23)"
    exit 77
  fi
}

interop_cleanup() {
  set +e  # clean up everything even if one step fails
  tern_ns_cleanup
  [ -n "$work" ] && rm -rf "$work"
  return 0
}

# fail MESSAGE: reports, prints the running Tern's counters (SIGUSR1) and the
# end of its log, runs the script's interop_on_fail hook if it has one, exits 1.
fail() {
  echo "FAIL [$mode]: $*"
  if [ -f "$work/tern.log" ]; then
    [ -n "$tern_pid" ] && kill -USR1 "$tern_pid" 2>/dev/null && sleep 0.3
    tail -80 "$work/tern.log"
  fi
  if declare -F interop_on_fail >/dev/null; then interop_on_fail || true; fi
  exit 1
}

# interop_setup MODE LETTER NET: the namespaces and the link between Tern and
# the kernel. LETTER (one lower-case letter per script) tells runs of
# different scripts apart in `ip netns list` / `ip link`; NET is the first
# two octets of the /24 (a random third octet is added).
# Sets: prefix (EAL file prefix), tern_ip, peer_ip, ns_tern, peer_ns,
#       tern_if, peer_if (kernel side), device (DPDK vdev string).
#   tap:       Tern's tap lives in ns_tern; the kernel side is that same
#              interface, configured once Tern has created it (interop_start_tern).
#   af_packet: a veth pair, Tern's end in ns_tern, the kernel's in peer_ns.
#   af_xdp:    the same veth pair, Tern on it through net_af_xdp. DPDK 22.11's
#              PMD counts a veth as one queue (docs/ports.md): one worker.
# Also sets tern_lcores, the [runtime] lcores of interop_write_config, and
# exports TERN_WORKERS, their number, for the scripts' checks.
interop_setup() {
  local m=$1 letter=$2 net="$3.$((RANDOM % 200 + 10))"
  prefix="tern${letter}${TERN_NS_TAG}"
  tern_ip="$net.2"
  peer_ip="$net.1"
  # In $(...), tern_ns_create's list never reaches this shell: the cleanup
  # finds the namespaces by TERN_NS_TAG (listing them twice would delete
  # each twice).
  ns_tern=$(tern_ns_create "$letter")
  tern_lcores="0, 1"
  export TERN_WORKERS=2
  case "$m" in
    tap)
      tern_if="${letter}t${TERN_NS_TAG}"
      device="net_tap0,iface=${tern_if}"
      peer_ns=$ns_tern
      peer_if=$tern_if
      ;;
    af_packet)
      tern_if="${letter}a${TERN_NS_TAG}"
      peer_if="${letter}p${TERN_NS_TAG}"
      peer_ns=$(tern_ns_create "${letter}p")
      tern_veth "$ns_tern" "$tern_if" "$peer_ns" "$peer_if"
      ip -n "$peer_ns" addr add "$peer_ip/24" dev "$peer_if"
      interop_tx_checksum_off "$peer_ns" "$peer_if"
      # docs/ports.md: the PMD's default ring (512 frames) fills under bulk
      # load and the fanout then rolls a flow over to the other queue, which
      # reorders it past PAWS; 8192 frames per queue keeps flows on one queue.
      # No qpairs: Tern adds one queue pair per worker. A fixed qpairs=2 here
      # once met the loss bench's single worker (lcores = [0]): the PMD's
      # second socket still took its half of the flows from the kernel's
      # fanout, nobody polled it, and about one bench run in three lost a
      # connection's SYN-ACKs or SYNs ("still connecting when the time was
      # up"). Tern now refuses qpairs that differ from its workers.
      device="net_af_packet0,iface=${tern_if},framecnt=8192"
      ;;
    af_xdp)
      tern_if="${letter}x${TERN_NS_TAG}"
      peer_if="${letter}p${TERN_NS_TAG}"
      peer_ns=$(tern_ns_create "${letter}p")
      tern_veth "$ns_tern" "$tern_if" "$peer_ns" "$peer_if"
      ip -n "$peer_ns" addr add "$peer_ip/24" dev "$peer_if"
      # As for af_packet: AF_XDP carries no checksum state, so the peer's
      # segments must leave it with their checksums filled in.
      interop_tx_checksum_off "$peer_ns" "$peer_if"
      device="net_af_xdp0,iface=${tern_if}"
      tern_lcores="0"
      export TERN_WORKERS=1
      ;;
    *) echo "usage: $0 tap|af_packet|af_xdp BUILD_DIR"; exit 2 ;;
  esac
}

# interop_tx_checksum_off NS IF: TX checksum offload off on the kernel's
# end IF of a veth whose other end a socket PMD reads. docs/ports.md: veth
# hands af_packet the kernel's TCP segments with the checksum still to be
# filled in (CHECKSUM_PARTIAL; net_af_packet ignores TP_STATUS_CSUMNOTREADY,
# AF_XDP carries no checksum state), so Tern would drop them as
# TcpBadChecksum. Read back: a silent failure here shows up only as Tern
# dropping everything (Tern's start-up warning names it too).
interop_tx_checksum_off() {
  command -v ethtool >/dev/null || { echo "interop: ethtool not found (Debian package ethtool; dpdk-env/setup.sh)"; exit 1; }
  ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
  ip netns exec "$1" ethtool -k "$2" | grep -q "^tx-checksumming: off" ||
    { echo "interop: ethtool -K $2 tx off did not take effect"; exit 1; }
}

# interop_write_config MEMORY_MB MBUFS_PER_WORKER [EXTRA_TOML]: writes
# $work/tern.toml for 2 workers (lcores 0 and 1; af_xdp: one, on lcore 0) on
# the port of interop_setup; EXTRA_TOML (tables such as [tcp] or
# [impairment]) is appended. TERN_INTEROP_PORT_TOML: more [[port]] keys
# (e.g. "gso = true"), for running a test with a port option.
interop_write_config() {
  cat >"$work/tern.toml" <<TOML
log_level = "info"
[eal]
file_prefix = "$prefix"
memory_mb = $1
[runtime]
lcores = [$tern_lcores]
mbufs_per_worker = $2
[[port]]
name = "p0"
device = "$device"
address = "$tern_ip/24"
${TERN_INTEROP_PORT_TOML:-}
TOML
  if [ -n "${3:-}" ]; then printf '%s\n' "$3" >>"$work/tern.toml"; fi
}

# interop_start_tern BINARY ARGS...: starts build/apps/BINARY in ns_tern with
# $work/tern.toml, its output in $work/tern.log, waits for its ready file,
# and in tap mode gives the kernel side of the tap its address.
# Sets tern_pid and tern_name.
interop_start_tern() {
  tern_name=$1
  shift
  rm -f "$work/ready"
  ip netns exec "$ns_tern" "$build/apps/$tern_name" --config "$work/tern.toml" --ready-file "$work/ready" "$@" \
    >"$work/tern.log" 2>&1 &
  tern_pid=$!
  TERN_PIDS+=("$tern_pid")
  tern_wait_for "$tern_name to start" 30 test -f "$work/ready" || fail "$tern_name did not start"
  if [ "$mode" = tap ]; then
    tern_wait_for "tap interface" 10 ip -n "$ns_tern" link show "$tern_if" || fail "no tap interface"
    ip netns exec "$ns_tern" sysctl -qw "net.ipv6.conf.$tern_if.disable_ipv6=1"
    ip -n "$ns_tern" addr add "$peer_ip/24" dev "$tern_if"
    ip -n "$ns_tern" link set "$tern_if" up
  fi
}

# interop_stop_tern: SIGINT, then waits; Tern prints its counters at exit.
# Fails if it exits with an error.
interop_stop_tern() {
  local p=$tern_pid keep=() x
  kill -INT "$p" 2>/dev/null || true  # already gone: wait reports how it ended
  tern_pid=
  wait "$p" || fail "$tern_name exited with an error"
  for x in "${TERN_PIDS[@]}"; do [ "$x" = "$p" ] || keep+=("$x"); done
  TERN_PIDS=("${keep[@]}")
}

# interop_in_peer COMMAND...: runs COMMAND on the kernel side.
interop_in_peer() { ip netns exec "$peer_ns" "$@"; }

# interop_peer_ipv6 ADDRESS6: IPv6 on the kernel side (interop_setup and,
# in tap mode, interop_start_tern leave it off) with ADDRESS6/64, usable at
# once (no DAD). In tap mode the kernel side is Tern's tap, which every
# interop_start_tern creates afresh: call this after each start there; and
# the tap's kernel side has Tern's MAC, so its link-local address is Tern's
# (docs/testing.md): called before Tern's DAD is over (interop_dad_done),
# the kernel answers Tern's probe and Tern's link-local address is
# duplicate (NdDadFailed).
interop_peer_ipv6() {
  ip netns exec "$peer_ns" sysctl -qw "net.ipv6.conf.$peer_if.accept_dad=0"
  ip netns exec "$peer_ns" sysctl -qw "net.ipv6.conf.$peer_if.disable_ipv6=0"
  ip -n "$peer_ns" -6 addr replace "$1/64" dev "$peer_if" nodad
}

# interop_dad_done: the running Tern's duplicate address detection is over
# (RFC 4862 §5.4: until then its IPv6 addresses are tentative, packets to
# them are dropped and none is a source). Worker 0 sends the port's first
# Router Solicitation when DAD ends (without a gateway6; its siblings end
# DAD on the same clock): telemetry's Icmp6OutRouterSolicits. For
# tern_wait_for.
interop_dad_done() {
  telemetry /tern/stats | python3 -c "import json,sys; sys.exit(json.load(sys.stdin)['Icmp6OutRouterSolicits'] < 1)"
}

# telemetry CMD: the value of a /tern telemetry command, as JSON.
telemetry() {
  echo "$1" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -c "
import json, sys
text = sys.stdin.read()
obj, _ = json.JSONDecoder().raw_decode(text[text.index('{\"/tern'):])
print(json.dumps(list(obj.values())[0]))"
}

# stat_of NAME...: Tern's counters (/tern/stats, all workers; 0 if absent),
# one line, space-separated, from one telemetry read:
#   read -r a b < <(stat_of NdExpired NdResolved)
stat_of() {
  telemetry /tern/stats | python3 -c "
import json, sys
s = json.load(sys.stdin)
print(' '.join(str(s.get(k, 0)) for k in sys.argv[1:]))" "$@"
}

# interop_established: Tern's CurrEstab, from telemetry.
interop_established() {
  telemetry /tern/stats | python3 -c "import json,sys; print(json.load(sys.stdin).get('CurrEstab', 0))"
}

# interop_wait_closed [SECONDS]: waits (10 s by default) for CurrEstab to
# reach 0, or fails. (Polls: the count is read on every try.)
interop_wait_closed() {
  tern_wait_for "CurrEstab to reach 0" "${1:-10}" interop_none_established ||
    fail "connections still established: $(interop_established)"
}
interop_none_established() { [ "$(interop_established)" = 0 ]; }

# interop_port_stats: one line of the ethdev counters of port 0 (frames the
# port lost before Tern saw them explain retransmissions). Never fails.
interop_port_stats() {
  echo "/ethdev/stats,0" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -c "
import json, sys
text = sys.stdin.read()
obj, _ = json.JSONDecoder().raw_decode(text[text.index('{\"/ethdev'):])
st = list(obj.values())[0]
print('port: ipackets %d opackets %d imissed %d ierrors %d rx_nombuf %d' % tuple(
    st.get(k, 0) for k in ('ipackets', 'opackets', 'imissed', 'ierrors', 'rx_nombuf')))" || true
}

# interop_pattern_sha N: sha256 of the first N bytes of tern-httpd's /bytes/
# pattern (apps/http_pattern.h).
interop_pattern_sha() {
  python3 - "$1" <<'PY'
import hashlib, sys
n = int(sys.argv[1]); b = bytearray(65521); x = 1
for k in range(65521):
    x = (x * 1103515245 + 12345) & 0x7fffffff; b[k] = (x >> 16) & 0xff
b = bytes(b); big = b * 16; h = hashlib.sha256()
while n >= len(big): h.update(big); n -= len(big)
while n >= len(b): h.update(b); n -= len(b)
h.update(b[:n]); print(h.hexdigest())
PY
}

# ---- attack_test.sh and bench/attack/attack_bench.sh (issue 11) ----

# attack_setup LETTER NET: interop_setup "$mode" LETTER NET, then what both
# attack scripts share. Sets, besides interop_setup's: net (the /24's first
# three octets), legit_ip (.3: the legitimate client), atk_ip, atk_ip2 (.4,
# .5: the attackers); off (the prefix that pins the kernel's side to CPU 1,
# empty where that CPU is missing): Tern polls lcore 0, and everything on
# the kernel's side (attackers, the legitimate client, ping, the sampler)
# runs on the other CPU, as a peer on another machine would, rather than
# taking turns with Tern's worker; atk (attack.py, pinned), inpeer (a
# command prefix: pinned, in the kernel's namespace), atk_nice (attack.py
# pinned, in the namespace, at nice 10: the attackers yield the CPU to the
# legitimate client; on a shared host they would otherwise starve it rather
# than Tern).
attack_setup() {
  interop_setup "$mode" "$1" "$2"
  net=${peer_ip%.*}
  legit_ip=$net.3
  atk_ip=$net.4
  atk_ip2=$net.5
  off=()
  taskset -c 1 true 2>/dev/null && off=(taskset -c 1)
  atk=("${off[@]}" python3 "$interop_here/attack.py")
  inpeer=("${off[@]}" ip netns exec "$peer_ns")
  atk_nice=("${inpeer[@]}" nice -n 10 python3 "$interop_here/attack.py")
}

# attack_peer_addresses [ADDRESS...]: once Tern runs (its tap is the
# kernel's interface in tap mode), the kernel side's extra addresses
# (legit_ip, atk_ip, atk_ip2 and any ADDRESS given) and an ephemeral port
# range of 10000-65000 (slowloris and the bench reopen thousands of
# connections a second).
attack_peer_addresses() {
  local a
  for a in "$legit_ip" "$atk_ip" "$atk_ip2" "$@"; do ip -n "$peer_ns" addr replace "$a/24" dev "$peer_if"; done
  ip netns exec "$peer_ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
}

# attack_remove_eal_files: the files of this run's EAL prefix (a net_tap run
# leaves its hugepage files behind, and the attack scripts start Tern many
# times). The scripts call it on every exit path, after interop_cleanup has
# ended Tern, and after each Tern they stop.
attack_remove_eal_files() {
  local m
  [ -n "${prefix:-}" ] || return 0
  while read -r m; do rm -f "$m/${prefix}map_"*; done < <(awk '$3 == "hugetlbfs" {print $2}' /proc/mounts)
  rm -rf "/var/run/dpdk/$prefix"
}

# bg VAR COMMAND...: runs COMMAND (a program, not a function: its pid is the
# one to signal) in the background, its pid in VAR and in TERN_PIDS, so that
# the cleanup ends it on every exit path. forget PID: drops it from
# TERN_PIDS once it has been waited for.
bg() {
  local var=$1
  shift
  "$@" &
  printf -v "$var" %s $!
  TERN_PIDS+=("$!")
}
forget() {
  local rest=() x
  for x in "${TERN_PIDS[@]}"; do [ "$x" = "$1" ] || rest+=("$x"); done
  TERN_PIDS=("${rest[@]}")
}
pid_gone() { ! kill -0 "$1" 2>/dev/null; }
# attack_over PID OUTPUT: the attacker has printed "stopped" or is gone.
attack_over() { grep -q "^stopped" "$2" || pid_gone "$1"; }

# interop_check_counters WHAT [ARG...]: checks Tern's counters at exit. The
# Python on stdin sets `checks`, a list of (label, ok), from `c` (the total
# counters of $work/tern.log's last report: name -> value, drops as
# "Drop.X"), `log` (the whole log) and `args` (ARG...); each check is
# printed, and any that failed fails the script with WHAT.
interop_check_counters() {
  local what=$1
  shift
  {
    cat <<'PY'
import os, re, sys
log = open(sys.argv[1]).read()
total = log[log.rindex("--- tern counters"):]
total = total[:total.index("--- worker")] if "--- worker" in total else total
c = {k: int(v) for k, v in re.findall(r"^(\S+) (\d+)$", total, re.M)}
args = sys.argv[2:]
PY
    cat
    cat <<'PY'
for name, ok in checks:
    print(("ok   " if ok else "FAIL ") + name)
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
  } >"$work/check_counters.py"
  python3 "$work/check_counters.py" "$work/tern.log" "$@" || fail "$what"
}

# interop_udp_echo_server ADDRESS LOG: a kernel UDP echo server on
# ADDRESS port 7007 (0.0.0.0 or ::) in $peer_ns, for Tern as the client:
# socat, each datagram read by a child of its own (UDP-RECVFROM with fork)
# that sends back what it reads from a pipe (PIPE), from the socket it
# came in on; -b 65536 takes any datagram in one read, -T 1 ends each
# child once idle. Returns once the socket is bound (over tap the address
# comes with the next Tern; the wildcard socket outlives the tap). Its
# output goes to LOG; the cleanup ends it.
interop_udp_echo_server() {
  local fam=4
  [[ $1 == *:* ]] && fam=6
  ip netns exec "$peer_ns" socat -b 65536 -T 1 "UDP$fam-RECVFROM:7007,fork,rcvbuf=1048576" PIPE >"$2" 2>&1 &
  TERN_PIDS+=("$!")
  tern_wait_for "the kernel echo server (socat)" 10 interop_udp_bound 7007 || fail "kernel echo server (socat)"
}
interop_udp_bound() { [ -n "$(ip netns exec "$peer_ns" ss -Hlun "sport = :$1")" ]; }

# interop_socat_echo HOST PORT SIZE...: socat in $peer_ns sends one
# datagram of each SIZE bytes (random content; each from its own source
# port, all at once) to the UDP echo server at HOST:PORT and writes what
# comes back (-b 65536: one read, one datagram; -t 1: it waits 1 s for the
# echo after its input ends), which must be the same bytes. A size that
# fails is tried twice more, alone, before the script fails.
interop_socat_echo() {
  local host=$1 port=$2 fam=4 n try pid pids=()
  shift 2
  [[ $host == *:* ]] && { fam=6; host="[$host]"; }
  for n in "$@"; do
    head -c "$n" /dev/urandom >"$work/socat.$n.in"
    interop_socat_once "UDP$fam:$host:$port" "$n" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  for n in "$@"; do
    cmp -s "$work/socat.$n.in" "$work/socat.$n.out" && continue
    for try in 2 3; do
      echo "socat: $n bytes to $host:$port, try $try"
      ! interop_socat_once "UDP$fam:$host:$port" "$n" || continue 2
    done
    fail "socat: no intact echo of $n bytes from $host:$port ($(stat -c %s "$work/socat.$n.out") bytes back)"
  done
  echo "socat: echoes of $* bytes from $host:$port intact"
}
# interop_socat_once ADDRESS N: one socat exchange of $work/socat.N.in.
interop_socat_once() {
  ip netns exec "$peer_ns" socat -b 65536 -t 1 - "$1" <"$work/socat.$2.in" >"$work/socat.$2.out" 2>"$work/socat.$2.err"
  cmp -s "$work/socat.$2.in" "$work/socat.$2.out"
}
