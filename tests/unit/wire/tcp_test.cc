#include "wire/tcp.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>

#include "test_bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp_options.h"

namespace tern {
namespace {

using testing::hex;
using testing::ip;

constexpr std::uint32_t kClient = ip(10, 0, 0, 1);
constexpr std::uint32_t kServer = ip(10, 0, 0, 2);

std::vector<std::byte> syn_segment() {
  const auto f = testing::linux_syn_frame();
  return {f.begin() + 34, f.end()};
}

TEST(TcpHeader, ParsesCapturedLinuxSyn) {
  // 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 305419896, win 64240,
  //   options [mss 1460,sackOK,TS val 631729 ecr 0,nop,wscale 7], length 0
  const auto f = testing::linux_syn_frame();
  auto eth = EthernetHeader::parse(f);
  ASSERT_TRUE(eth.ok());
  auto iph = Ipv4Header::parse(eth->payload());
  ASSERT_TRUE(iph.ok());
  EXPECT_TRUE(iph->checksum_ok());
  ASSERT_EQ(iph->protocol(), kIpProtoTcp);
  auto tcp = TcpHeader::parse(iph->payload());
  ASSERT_TRUE(tcp.ok()) << parse_error_name(tcp.error());
  EXPECT_EQ(tcp->src_port(), 40000);
  EXPECT_EQ(tcp->dst_port(), 80);
  EXPECT_EQ(tcp->seq(), 0x12345678u);
  EXPECT_EQ(tcp->ack(), 0u);
  EXPECT_EQ(tcp->flags(), TcpFlags{kTcpSyn});
  EXPECT_EQ(tcp->flags().to_string(), "S");
  EXPECT_EQ(tcp->window(), 64240);
  EXPECT_EQ(tcp->checksum(), 0x9015);
  EXPECT_EQ(tcp->urgent_pointer(), 0);
  EXPECT_EQ(tcp->header_len(), 40u);
  EXPECT_EQ(tcp->options().size(), 20u);
  EXPECT_TRUE(tcp->payload().empty());
  EXPECT_TRUE(tcp->checksum_ok(iph->src(), iph->dst()));
  EXPECT_FALSE(tcp->checksum_ok(iph->dst(), ip(10, 0, 0, 3)));

  auto opts = parse_tcp_options(tcp->options());
  ASSERT_TRUE(opts.ok());
  EXPECT_EQ(opts->mss, 1460);
  EXPECT_TRUE(opts->sack_permitted);
  ASSERT_TRUE(opts->timestamps.has_value());
  EXPECT_EQ(opts->timestamps->first, 631729u);
  EXPECT_EQ(opts->timestamps->second, 0u);
  EXPECT_EQ(opts->window_scale, 7);
  EXPECT_EQ(opts->sack_count, 0);
}

TEST(TcpHeader, BuildingTheSynReproducesTheCapture) {
  std::vector<std::byte> frame(74);
  TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = {631729, 0};
  o.window_scale = 7;
  std::array<std::byte, kTcpMaxOptionsLen> opt_buf{};
  const std::size_t opt_len = write_tcp_options(opt_buf, o);
  ASSERT_EQ(opt_len, 20u);

  auto seg = std::span{frame}.subspan(34);
  const std::size_t hl = write_tcp(
      seg,
      TcpFields{.sport = 40000, .dport = 80, .seq = 0x12345678, .ack = 0, .flags = kTcpSyn, .window = 64240},
      std::span{opt_buf}.first(opt_len));
  ASSERT_EQ(hl, 40u);
  fill_tcp_checksum(seg, kClient, kServer);
  write_ipv4(
      std::span{frame}.subspan(14),
      Ipv4Fields{.src = kClient, .dst = kServer, .protocol = kIpProtoTcp, .id = 0x8f2a, .payload_len = 40});
  write_ethernet(frame, MacAddr{{2, 0, 0, 0, 0, 2}}, MacAddr{{2, 0, 0, 0, 0, 1}}, kEtherTypeIpv4);
  EXPECT_EQ(frame, testing::linux_syn_frame());
}

TEST(TcpHeader, DataSegmentWithOddPayload) {
  // 10.0.0.2.80 > 10.0.0.1.40000: Flags [P.], seq 1:6, ack 1, win 509, length 5
  std::vector<std::byte> seg(20 + 5);
  ASSERT_EQ(write_tcp(seg, TcpFields{.sport = 80,
                                     .dport = 40000,
                                     .seq = 0xabcdef01,
                                     .ack = 0x12345679,
                                     .flags = kTcpPsh | kTcpAck,
                                     .window = 509}),
            20u);
  std::memcpy(seg.data() + 20, "hello", 5);
  fill_tcp_checksum(seg, kServer, kClient);
  auto tcp = TcpHeader::parse(seg);
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->flags().to_string(), "P.");
  EXPECT_TRUE(tcp->flags().ack());
  EXPECT_TRUE(tcp->flags().psh());
  EXPECT_FALSE(tcp->flags().syn());
  EXPECT_EQ(tcp->payload().size(), 5u);
  EXPECT_TRUE(tcp->options().empty());
  EXPECT_TRUE(tcp->checksum_ok(kServer, kClient));
  seg[24] = std::byte{'O'};
  EXPECT_FALSE(TcpHeader::parse(seg)->checksum_ok(kServer, kClient)) << "the odd last byte is covered";
}

TEST(TcpHeader, ChecksumOverRandomSegmentsMatchesChunkedSum) {
  // fill_tcp_checksum on a contiguous segment agrees with summing the same
  // bytes as a chain of odd-sized segments (what a multi-mbuf path does).
  std::mt19937 rng(9293);
  for (int round = 0; round < 300; ++round) {
    auto seg = testing::random_bytes(20 + rng() % 1500, rng());
    ASSERT_EQ(
        write_tcp(seg, TcpFields{.sport = 1, .dport = 2, .seq = 3, .ack = 4, .flags = kTcpAck, .window = 5}),
        20u);
    fill_tcp_checksum(seg, kClient, kServer);
    ASSERT_TRUE(TcpHeader::parse(seg)->checksum_ok(kClient, kServer));
    const std::uint16_t stored = load_be16(&seg[16]);
    store_be16(&seg[16], 0);
    ChecksumAccumulator acc{
        pseudo_header_sum(kClient, kServer, kIpProtoTcp, static_cast<std::uint16_t>(seg.size()))};
    for (std::size_t off = 0; off < seg.size();) {
      const std::size_t n = std::min<std::size_t>(seg.size() - off, 1 + rng() % 301);
      acc.add(std::span{seg}.subspan(off, n));
      off += n;
    }
    ASSERT_EQ(acc.finish(), stored) << "round " << round;
  }
}

TEST(TcpHeader, TruncatedBelowTwentyBytes) {
  const auto s = syn_segment();
  for (std::size_t n = 0; n < kTcpMinHeaderLen; ++n) {
    EXPECT_EQ(TcpHeader::parse(std::span{s}.first(n)).error(), ParseError::kTruncated) << n;
  }
}

TEST(TcpHeader, OptionsCutShortAreBadHeaderLength) {
  const auto s = syn_segment();
  for (std::size_t n = kTcpMinHeaderLen; n < 40; ++n) {
    EXPECT_EQ(TcpHeader::parse(std::span{s}.first(n)).error(), ParseError::kBadHeaderLength) << n;
  }
  EXPECT_TRUE(TcpHeader::parse(s).ok());
}

TEST(TcpHeader, DataOffsetBelowFive) {
  for (std::uint8_t doff = 0; doff < 5; ++doff) {
    auto s = syn_segment();
    s[12] = static_cast<std::byte>(doff << 4);
    EXPECT_EQ(TcpHeader::parse(s).error(), ParseError::kBadHeaderLength) << "data offset " << int{doff};
  }
  auto s = syn_segment();
  s[12] = std::byte{0xf0};  // 60 bytes in a 40-byte segment
  EXPECT_EQ(TcpHeader::parse(s).error(), ParseError::kBadHeaderLength);
}

TEST(TcpHeader, WriteRejectsBadOptions) {
  std::array<std::byte, 64> out{};
  const TcpFields f{.sport = 1, .dport = 2, .seq = 3, .ack = 4, .flags = kTcpAck, .window = 5};
  std::array<std::byte, 44> opts{};
  EXPECT_EQ(write_tcp(out, f, std::span{opts}.first(3)), 0u) << "not padded to 4";
  EXPECT_EQ(write_tcp(out, f, std::span{opts}.first(44)), 0u) << "more than 40";
  EXPECT_EQ(write_tcp(std::span{out}.first(23), f, std::span{opts}.first(4)), 0u) << "no room";
  EXPECT_EQ(write_tcp(std::span{out}.first(24), f, std::span{opts}.first(4)), 24u);
  EXPECT_EQ(write_tcp(out, f, std::span{opts}.first(40)), 60u);
  EXPECT_EQ(TcpHeader::parse(out)->header_len(), 60u);
}

// write_tcp_ts writes what write_tcp writes with write_tcp_options' layout
// of the timestamps option alone, or of no option.
TEST(TcpHeader, InPlaceTimestampsHeaderIsWriteTcpsBytes) {
  const TcpFields f{40000, 80, 0x01020304, 0xA0B0C0D0, kTcpAck | kTcpPsh, 502};
  for (const bool ts : {true, false}) {
    TcpOptions o;
    if (ts) o.timestamps = std::pair{0x11223344u, 0x55667788u};
    std::array<std::byte, kTcpMaxOptionsLen> opt{};
    const std::size_t olen = write_tcp_options(opt, o);
    std::array<std::byte, kTcpMaxHeaderLen> want{}, got{};
    const std::size_t want_len = write_tcp(want, f, std::span<const std::byte>{opt.data(), olen});
    EXPECT_EQ(write_tcp_ts(got.data(), f, ts, 0x11223344u, 0x55667788u), want_len) << "ts " << ts;
    EXPECT_EQ(got, want) << "ts " << ts;
  }
}

TEST(TcpFlags, TcpdumpNotation) {
  EXPECT_EQ(TcpFlags{kTcpSyn | kTcpAck}.to_string(), "S.");
  EXPECT_EQ(TcpFlags{kTcpFin | kTcpAck}.to_string(), "F.");
  EXPECT_EQ(TcpFlags{kTcpRst}.to_string(), "R");
  EXPECT_EQ(TcpFlags{kTcpRst | kTcpAck}.to_string(), "R.");
  EXPECT_EQ(TcpFlags{kTcpAck}.to_string(), ".");
  EXPECT_EQ(TcpFlags{0}.to_string(), "none");
  EXPECT_EQ(TcpFlags{kTcpSyn | kTcpEce | kTcpCwr}.to_string(), "SEW");
  EXPECT_EQ(TcpFlags{kTcpUrg | kTcpAck}.to_string(), "U.");
  const TcpFlags all{0xFF};
  EXPECT_TRUE(all.fin() && all.syn() && all.rst() && all.psh() && all.ack() && all.urg() && all.ece() &&
              all.cwr());
  EXPECT_TRUE(TcpFlags{kTcpSyn | kTcpAck}.has(kTcpSyn | kTcpAck));
  EXPECT_FALSE(TcpFlags{kTcpSyn}.has(kTcpSyn | kTcpAck));
}

}  // namespace
}  // namespace tern
