#!/usr/bin/env bash
# Instructions per received segment of tcp_bench's receive benchmarks,
# counted by valgrind (callgrind), so that a shared, noisy machine or one
# without hardware counters (a VM: "PMU not available due to
# virtualization"; Debian's libbenchmark has no libpfm either) still gives a
# repeatable figure to set beside the wall-clock ns.
#
# Only the engine's own calls are counted (TcpStack::receive, where the
# inline on_segment and on_segment6 lead, recv and on_timer, with what
# they call), not the building of the peer's frames nor
# (BM_TcpTxAckProcessing*) the application's send.
# Segments = receive calls less each run's handshake segments (two
# received per passive open, counted by its SYN-ACK; one, the SYN-ACK, per
# active open, counted by its SYN); the handshakes' own instructions stay
# in (and connect(), once per run, so that its SYN is seen), a few per
# segment, the same in every tree. BM_TcpConnectionLifecycle: both
# stacks' receive, connect, accept, close and on_timer calls, per
# connection (connect calls). The *6 benchmarks are the
# IPv6 runs of the same (issue 15: IPv6 vs IPv4 per segment).
#
#   bench/micro/ir_per_segment.sh BUILD_DIR [BENCHMARK...]
#   e.g. bench/micro/ir_per_segment.sh build BM_TcpRxDataSegment/0 BM_TcpRxDataBurst/32
#        bench/micro/ir_per_segment.sh build BM_TcpRxDataSegment/0 BM_TcpRxDataSegment6/0 \
#          BM_TcpTxAckProcessing/0 BM_TcpTxAckProcessing6/0
# IR_MIN_TIME (seconds, default 0.05) is the benchmark's --benchmark_min_time:
# on a loaded machine a run makes fewer iterations, and each run's fixed
# cost (connect, handshake, slow start) weighs more per segment; compare
# trees at similar segment counts, or raise it.
# IR_KEEP (a directory): each benchmark's callgrind output is kept there as
# NAME.cg ('/' as '_'), for callgrind_annotate.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [BENCHMARK...]" >&2; exit 2; }
build=$1
shift
[ $# -gt 0 ] || set -- BM_TcpRxDataSegment/0 BM_TcpRxDataSegment/1 BM_TcpRxDataBurst/32
bench="$build/bench/micro/tcp_bench"
[ -x "$bench" ] || { echo "no $bench (ninja -C $build bench/micro/tcp_bench)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for b in "$@"; do
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
    --toggle-collect='tern::TcpStack::receive(*' --toggle-collect='tern::TcpStack::recv*' \
    --toggle-collect='tern::TcpStack::on_timer*' --toggle-collect='tern::TcpStack::connect(*' \
    --toggle-collect='tern::TcpStack::close(*' --toggle-collect='tern::TcpStack::accept(*' \
    "$bench" --benchmark_filter="^$b\$" --benchmark_min_time="${IR_MIN_TIME:-0.05}" >/dev/null 2>"$out/log" ||
    { cat "$out/log" >&2; exit 1; }
  python3 - "$out/cg" "$b" <<'EOF'
import re, sys
# callgrind's format: "cfn=(id) name" names a callee, "calls=N ..." follows.
names, calls, total, cfn = {}, {}, 0, None
for line in open(sys.argv[1]):
    m = re.match(r'^(c?fn)=\((\d+)\)(?: (.*))?', line)
    if m:
        if m.group(3): names[m.group(2)] = m.group(3)
        if m.group(1) == 'cfn': cfn = m.group(2)
        continue
    m = re.match(r'^calls=(\d+)', line)
    if m and cfn: calls[cfn] = calls.get(cfn, 0) + int(m.group(1))
    m = re.match(r'^(?:summary|totals): (\d+)', line)
    if m: total = int(m.group(1))
def n(prefix):
    return sum(c for i, c in calls.items() if names.get(i, '').startswith(prefix))
# A passive open sends a SYN-ACK (send_syn with ack), an active one a SYN:
# both through send_syn; the active benchmarks are the Tx ones.
if 'Lifecycle' in sys.argv[2]:
    # Both stacks, every call the benchmark makes: per connection.
    conns = n('tern::TcpStack::connect(')
    print(f'{sys.argv[2]:26} {total / conns:8.1f} instructions/connection ({conns} connections)')
    sys.exit(0)
runs = n('tern::TcpStack::send_syn(')
handshake = 1 if 'Tx' in sys.argv[2] else 2
segs = n('tern::TcpStack::receive(') - handshake * runs
print(f'{sys.argv[2]:26} {total / segs:8.1f} instructions/segment ({segs} segments, {runs} runs)')
EOF
  if [ -n "${IR_KEEP:-}" ]; then
    mkdir -p "$IR_KEEP"
    cp "$out/cg" "$IR_KEEP/${b//\//_}.cg"
  fi
done
