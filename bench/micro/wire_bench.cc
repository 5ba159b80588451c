// lib/wire micro-benchmarks: the per-packet parse and build paths and the
// Internet checksum at common frame sizes.
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/tcp_options.h"

namespace tern {
namespace {

constexpr std::uint32_t kSrc = 0x0a000001;
constexpr std::uint32_t kDst = 0x0a000002;
constexpr MacAddr kMacA{{2, 0, 0, 0, 0, 1}};
constexpr MacAddr kMacB{{2, 0, 0, 0, 0, 2}};

std::vector<std::byte> random_bytes(std::size_t n) {
  std::mt19937_64 rng(1071);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// Writes an Ethernet + IPv4 + TCP (timestamps option) header for a segment
// of `payload` bytes into `out`; returns the header bytes written.
std::size_t build_headers(std::span<std::byte> out, std::uint32_t seq, std::size_t payload) {
  TcpOptions o;
  o.timestamps = {seq, 12345};
  std::array<std::byte, kTcpMaxOptionsLen> opts{};
  const std::size_t opt_len = write_tcp_options(opts, o);
  auto seg = out.subspan(kEthernetHeaderLen + kIpv4MinHeaderLen);
  const std::size_t tcp_len = write_tcp(
      seg,
      TcpFields{.sport = 40000, .dport = 80, .seq = seq, .ack = 1, .flags = kTcpAck | kTcpPsh, .window = 509},
      std::span{opts}.first(opt_len));
  fill_tcp_checksum(seg.first(tcp_len + payload), kSrc, kDst);
  write_ipv4(out.subspan(kEthernetHeaderLen),
             Ipv4Fields{.src = kSrc,
                        .dst = kDst,
                        .protocol = kIpProtoTcp,
                        .id = static_cast<std::uint16_t>(seq),
                        .payload_len = static_cast<std::uint16_t>(tcp_len + payload)});
  write_ethernet(out, kMacB, kMacA, kEtherTypeIpv4);
  return kEthernetHeaderLen + kIpv4MinHeaderLen + tcp_len;
}

// Receive path: Ethernet -> IPv4 -> TCP -> options, checksums left to the NIC.
void BM_ParseEthIpv4TcpWithOptions(benchmark::State& state) {
  std::vector<std::byte> frame(14 + 20 + 32 + 100);
  build_headers(frame, 1, 100);
  for (auto _ : state) {
    auto eth = EthernetHeader::parse(frame);
    if (!eth || eth->ether_type() != kEtherTypeIpv4) state.SkipWithError("eth");
    auto ip = Ipv4Header::parse(eth->payload());
    if (!ip || ip->protocol() != kIpProtoTcp) state.SkipWithError("ip");
    auto tcp = TcpHeader::parse(ip->payload());
    if (!tcp) state.SkipWithError("tcp");
    auto opts = parse_tcp_options(tcp->options());
    if (!opts) state.SkipWithError("opts");
    benchmark::DoNotOptimize(tcp->seq() + tcp->ack() + tcp->window() + opts->timestamps->first);
    benchmark::DoNotOptimize(tcp->payload().size());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseEthIpv4TcpWithOptions);

// Same, verifying IPv4 and TCP checksums in software (a port without RX
// checksum offload).
void BM_ParseAndVerifyChecksums(benchmark::State& state) {
  const auto payload = static_cast<std::size_t>(state.range(0));
  std::vector<std::byte> frame(14 + 20 + 32 + payload);
  build_headers(frame, 1, payload);
  for (auto _ : state) {
    auto eth = EthernetHeader::parse(frame);
    auto ip = Ipv4Header::parse(eth->payload());
    auto tcp = TcpHeader::parse(ip->payload());
    if (!ip->checksum_ok() || !tcp->checksum_ok(ip->src(), ip->dst())) state.SkipWithError("checksum");
    benchmark::DoNotOptimize(tcp->seq());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_ParseAndVerifyChecksums)->Arg(0)->Arg(1448);

// Transmit path for a pure ACK: options, TCP header + software checksum,
// IPv4 header + checksum, Ethernet.
void BM_BuildTcpIpHeader(benchmark::State& state) {
  std::array<std::byte, 14 + 20 + 32> frame{};
  std::uint32_t seq = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(build_headers(frame, ++seq, 0));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildTcpIpHeader);

void BM_Checksum(benchmark::State& state) {
  const auto data = random_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(internet_checksum(data));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Checksum)->Arg(64)->Arg(1500)->Arg(9000);

// Misaligned starts: an IPv4 header sits 14 bytes into an mbuf's data, so
// real payloads usually start 2 bytes off an 8-byte boundary. Args: length,
// offset from an 8-byte boundary.
void BM_ChecksumMisaligned(benchmark::State& state) {
  const auto len = static_cast<std::size_t>(state.range(0));
  const auto off = static_cast<std::size_t>(state.range(1));
  const auto data = random_bytes(len + 16);
  const auto base = reinterpret_cast<std::uintptr_t>(data.data());
  const std::size_t skip = (8 - base % 8) % 8 + off;
  const std::span<const std::byte> d{data.data() + skip, len};
  for (auto _ : state) {
    benchmark::DoNotOptimize(internet_checksum(d));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.size()));
}
BENCHMARK(BM_ChecksumMisaligned)->Args({1500, 0})->Args({1500, 2})->Args({1499, 1})->Args({63, 1});

// RFC 1071 by the letter (16-bit words), as the baseline the fast path beats.
void BM_ChecksumNaive16(benchmark::State& state) {
  const auto data = random_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    std::uint32_t s = 0;
    for (std::size_t i = 0; i + 1 < data.size(); i += 2) s += load_be16(&data[i]);
    benchmark::DoNotOptimize(checksum_finish(s));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_ChecksumNaive16)->Arg(64)->Arg(1500)->Arg(9000);

}  // namespace
}  // namespace tern

BENCHMARK_MAIN();
