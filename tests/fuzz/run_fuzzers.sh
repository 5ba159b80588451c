#!/usr/bin/env bash
# Builds Tern's libFuzzer targets with ASan + UBSan and runs each one for a
# fixed time. Exits non-zero if any target crashes, leaks, trips a sanitizer
# or a FUZZ_CHECK.
#
#   tests/fuzz/run_fuzzers.sh [seconds-per-target (default 60)] [target ...]
#
# Without target names it runs every tests/fuzz/*_fuzz.cc. Environment:
#   BUILD_DIR  build directory (default <repo>/build-fuzz)
#   JOBS       ninja parallelism (default 2)
# Corpora persist in $BUILD_DIR/fuzz-corpus/<target> between runs (seeded
# with a few valid packets); crashing inputs land in $BUILD_DIR/fuzz-artifacts.
set -euo pipefail

secs=${1:-60}
shift || true
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for f in "$here"/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
fi

# -Dtests=true: tests/fuzz is reached through tests/meson.build. Only the
# fuzz targets are built below, so the unit tests cost nothing but configure.
if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ meson setup "$build" "$root" \
    -Dfuzz=true -Dtests=true -Dbench=false \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
fi
ninja -C "$build" -j"$jobs" "${targets[@]/#/tests/fuzz/}"

# A few valid packets per target, so the fuzzers start from real structure.
corpus_root=$build/fuzz-corpus
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"
seed() {  # seed <target> <name> <hex>
  mkdir -p "$corpus_root/$1"
  printf '%s' "$3" | xxd -r -p >"$corpus_root/$1/seed-$2"
}
eth='020000000002020000000001'
ip_ping='450000541c46400040010a610a0000010a000002'
icmp_ping='080098260d0500014ce8a26500000000a1b2030000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637'
ip_syn='4500003c8f2a40004006978f0a0000010a000002'
tcp_syn='9c40005012345678 00000000 a002faf0 90150000 020405b4 0402080a 0009a3b1 00000000 01030307'
tcp_syn=${tcp_syn// /}
syn_opts='020405b40402080a0009a3b10000000001030307'
sack_opts='0101080a00000064000000c801010512000003e8000007d000000bb800000fa0'
arp_req='0001080006040001020000000001 0a000001 000000000000 0a000002'
arp_req=${arp_req// /}
seed ethernet_fuzz ping "${eth}0800${ip_ping}${icmp_ping}"
seed ethernet_fuzz arp "ffffffffffff0200000000010806${arp_req}"
seed arp_fuzz request "$arp_req"
seed ipv4_fuzz ping "${ip_ping}${icmp_ping}"
seed ipv4_fuzz syn "${ip_syn}${tcp_syn}"
seed ipv4_fuzz options "4600001800010000400600000a0000010a00000294040000"
seed icmp_fuzz echo "$icmp_ping"
seed udp_fuzz hello "14e9003500149eb668656c6c6f2c207465726e0a"
# udp_stack_fuzz: open socket 0 on port 7, a datagram to it (length and
# checksum fixed), pop, connect, send, a datagram to closed port 9.
seed udp_stack_fuzz echo "00020000020007c001000dd4310007000d000068656c6c6f0700000003000002d43105000005d431616263c001000dd4310009000d000068656c6c6f"
seed tcp_fuzz syn "$tcp_syn"
seed tcp_options_fuzz syn "28${syn_opts}"
seed tcp_options_fuzz sack "28${sack_opts}"
seed checksum_fuzz ping "0000000003${icmp_ping}"
# IPv6 (issue 15): a Hop-by-Hop header (Router Alert, PadN) before a TCP
# header; a first fragment; an address as text. icmpv6_fuzz takes source,
# destination, a flag byte, then the message; ndp_fuzz a flag byte (1: fix
# the checksum) then an IPv6 packet: a Neighbour Solicitation with SLLA, a
# Router Advertisement with SLLA, MTU and a prefix.
ip6_a='20010db8000000000000000000000001'
ip6_b='20010db8000000000000000000000002'
seed ipv6_fuzz hbh "60000000001c0040${ip6_a}${ip6_b}060005020000010000501f9000000001000000005002ffff00000000"
seed ipv6_fuzz frag "6000000000182c40${ip6_a}${ip6_b}11000001deadbeef00000000000000000000000000000000"
seed ipv6_fuzz text "$(printf '2001:db8::ffff:10.1.2.3' | xxd -p)"
seed icmpv6_fuzz echo "${ip6_a}${ip6_b}0080004d481234000161626364"
seed ndp_fuzz ns "016000000000203afffe80000000000000000000fffe000001ff0200000000000000000001ff00000287004c5f0000000020010db80000000000000000000000020101020000000001"
seed ndp_fuzz ra "016000000000403afffe80000000000000000000fffe000002ff0200000000000000000000000000018600754e4080070800007530000003e8010102000000000205010000000005dc030440c000278d0000093a800000000020010db8000100000000000000000000"
# stack_fuzz records (see stack_fuzz.cc): an ICMPv6 echo request to our
# global address (MAC, destination and checksum repaired by the flags), and a
# neighbour solicitation for it to its solicited-node group.
seed stack_fuzz ping6 "100b00004202000000000102000000000286dd60000000000c3a4020010db800010000000000000000000220010db8000100000000000000000001800000001234000161626364"
seed stack_fuzz ns6 "101a0000563333ff00000102000000000286dd6000000000203aff20010db8000100000000000000000002ff0200000000000000000001ff000001870000000000000020010db80001000000000000000000010101020000000002"
# An ICMPv6 echo request in two fragments, the last first (reassembly, then
# a reply; checksum computed over the whole message).
seed stack_fuzz frag6 "100300004e02000000000102000000000286dd6000000000182c4020010db800010000000000000000000220010db80001000000000000000000013a00001000005eed696a6b6c6d6e6f7071727374757677780300004e02000000000102000000000286dd6000000000182c4020010db800010000000000000000000220010db80001000000000000000000013a00000100005eed8000fcd7123400016162636465666768"
# TCP through the stack, each family: the peer made known (an NS with its
# link-layer address; an ARP request), a SYN to port 80, then ACK + "hello",
# FIN and the last ACK, each answering the stack's last segment (kFixArpTarget:
# its ports, SEQ and ACK), checksums repaired.
seed stack_fuzz tcp6 "101a0000563333ff00000102000000000286dd6000000000203aff20010db8000100000000000000000002ff0200000000000000000001ff000001870000000000000020010db800010000000000000000000101010200000000020b00004e02000000000102000000000286dd600000000018064020010db800010000000000000000000220010db80001000000000000000000019c40005000000001000000006002ffff00000000020405a01b01004f02000000000102000000000286dd600000000019064020010db800010000000000000000000220010db80001000000000000000000019c40005000000001000000005018ffff0000000068656c6c6f1b01004a02000000000102000000000286dd600000000014064020010db800010000000000000000000220010db80001000000000000000000019c40005000000001000000005011ffff000000001b01004a02000000000102000000000286dd600000000014064020010db800010000000000000000000220010db80001000000000000000000019c40005000000001000000005010ffff00000000"
seed stack_fuzz tcp4 "101000002affffffffffff020000000002080600010800060400010200000000020a0000020000000000000a0000010f00003a02000000000102000000000208004500002c00004000400600000a0000020a0000019c40005000000001000000006002ffff00000000020405b41f01003b02000000000102000000000208004500002d00004000400600000a0000020a0000019c40005000000001000000005018ffff0000000068656c6c6f1f01003602000000000102000000000208004500002800004000400600000a0000020a0000019c40005000000001000000005011ffff000000001f01003602000000000102000000000208004500002800004000400600000a0000020a0000019c40005000000001000000005010ffff00000000"
# frag_fuzz records (see frag_fuzz.cc): an IPv4 datagram of 3 fragments
# last first, an IPv6 one middle first, a duplicate, an overlap, then the
# expiry sweep past the timeout.
seed frag_fuzz three "3f3c0004020308000200080202000b0202000b00020003040105"
seed frag_fuzz mixed "3f3c000402030800020008020200080002000a0002000a010300f00000f8f00000f8"
# tcp_engine_fuzz records (see tcp_engine_fuzz.cc): a passive open on port 80
# with data both ways and a close; the active connection's handshake, data,
# shutdown and TIME_WAIT, then segments to the TIME_WAIT tuple; and a bulk
# send with duplicate ACKs (fast retransmit, a NewReno partial ACK); a zero
# send window (persist probes) while the peer fills our receive window.
seed tcp_engine_fuzz passive "0001100200000000ffff02000005b40701101000000000ffff01000001101800000000ffff0164000200000216ff021410000501101000000000ffff01000001101100000000ffff01000002190001101000000000ffff0100000007"
seed tcp_engine_fuzz active "0001001200000001ffff02000005b40702042f01001000000000ffff01000801001800000000ffff013200020700020800000a01001100000000ffff010008020900000b"
seed tcp_engine_fuzz timewait "0001001200000001ffff02000005b40702042f01001000000000ffff01000801001800000000ffff013200020700020800000a01001100000000ffff01000802090001371100000000ffff010000013711ffff0000ffff01000001370210000000ffff02000005b407000b"
seed tcp_engine_fuzz recovery "0401001200000001ffff02000005b4070204ff01001000000000ffff01000001001000000000ffff01000001001000000000ffff01000001001000000000ffff010000010010000005a8ffff01000001001000000000ffff0100080005"
seed tcp_engine_fuzz zerownd "0001001200000001000002000005b400020410000a01001800000000000001f50001001800000000000001f58001001800000000000001f50201001800000000000001f500000a01001000000000ffff0100000206ff0005"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$corpus_root/$t"
  echo "=== $t: ${secs}s"
  # Extra libFuzzer flags for one target, if it needs any: tests/fuzz/<target>.flags.
  extra=()
  if [[ -f "$here/$t.flags" ]]; then read -ra extra <"$here/$t.flags"; fi
  if ! "$build/tests/fuzz/$t" "$corpus_root/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$t-" ${extra[@]+"${extra[@]}"} 2>"$build/$t.log"; then
    failed+=("$t")
    tail -n 40 "$build/$t.log"
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done [0-9]+ runs' "$build/$t.log" || true
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: ${failed[*]} (inputs in $artifacts)"
  exit 1
fi
echo "all ${#targets[@]} fuzz targets ran ${secs}s without a crash"
