#!/usr/bin/env bash
# Instructions per transaction of tern-pair, both stacks and both
# applications together, counted by valgrind (callgrind) with the two
# workers polled in turn on one core (tern-pair --one-core): a figure that
# repeats on a shared, noisy machine or a VM without hardware counters,
# beside the wall-clock rates of bench/ab (bench/fast_path/README.md).
#
# Only Worker::poll_once and what it calls is counted (RX, IP, TCP, timers,
# the application's callbacks, TX), not EAL start-up. Polls that find no
# work count too, as they would on a busy-polling core, but with the two
# workers taking turns there are few of them.
#
#   bench/ab/ir_per_transaction.sh BUILD_DIR [MODE...]     MODE: rr, rr100, crr, bulk
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [rr|rr100|crr|bulk ...]" >&2; exit 2; }
build=$1
shift
[ $# -gt 0 ] || set -- rr rr100 crr bulk
pair="$build/bench/ab/tern-pair"
[ -x "$pair" ] || { echo "no $pair (ninja -C $build bench/ab/tern-pair)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for mode in "$@"; do
  case $mode in
    rr) args=(--mode rr --connections 1) ;;
    rr100) args=(--mode rr --connections 100) ;;
    crr) args=(--mode crr --connections 1) ;;
    bulk) args=(--mode bulk --connections 1 --size 65536) ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" --toggle-collect='tern::Worker::poll_once*' \
    "$pair" "${args[@]}" ${PAIR_ARGS:-} --time 2 --one-core --json >"$out/json" 2>"$out/log" ||
    { cat "$out/log" "$out/json" >&2; exit 1; }
  python3 - "$out/cg" "$out/json" "$mode" <<'PY'
import json, os, re, sys
total = 0
for line in open(sys.argv[1]):
    m = re.match(r'^(?:summary|totals): (\d+)', line)
    if m: total = int(m.group(1))
r = None
for line in open(sys.argv[2]):
    line = line.strip()
    if line.startswith('{'): r = json.loads(line)
if r is None: sys.exit('no JSON summary from tern-pair')
mode = sys.argv[3]
if mode == 'bulk':
    # A full segment at MTU 1500 with timestamps: 1448 bytes over IPv4,
    # 1428 over IPv6 (tern-pair --ipv6 in PAIR_ARGS).
    seg = 1428 if '--ipv6' in os.environ.get('PAIR_ARGS', '').split() else 1448
    segs = r['bytes'] / seg
    print(f'{mode:6} {total / segs:9.1f} instructions per {seg}-byte segment ({segs:.0f} segments)')
else:
    n = r['transactions']
    print(f'{mode:6} {total / n:9.1f} instructions per transaction ({n} transactions)')
PY
done
