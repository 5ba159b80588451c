#include "wire/ipv4.h"

#include <gtest/gtest.h>

#include "test_bytes.h"
#include "wire/checksum.h"

namespace tern {
namespace {

using testing::concat;
using testing::hex;
using testing::ip;

// The IPv4 part of the captured ping: 10.0.0.1 > 10.0.0.2, id 0x1c46, DF,
// ttl 64, ICMP, 84 bytes.
std::vector<std::byte> ping_ip() {
  const auto f = testing::ping_frame();
  return {f.begin() + 14, f.end()};
}

// 20-byte header + `extra` option bytes, total length covering `payload`
// bytes after the header, checksum filled.
std::vector<std::byte> header_with_options(std::vector<std::byte> opts, std::size_t payload = 0) {
  const std::size_t hl = 20 + opts.size();
  auto h = hex("45 00 00 00 00 01 00 00 40 06 00 00 0a 00 00 01 0a 00 00 02");
  h[0] = static_cast<std::byte>(0x40 | hl / 4);
  store_be16(&h[2], static_cast<std::uint16_t>(hl + payload));
  h.insert(h.end(), opts.begin(), opts.end());
  h.resize(hl + payload);
  store_be16(&h[10], internet_checksum(std::span{h}.first(hl)));
  return h;
}

Parsed<Ipv4Header> parse(std::span<const std::byte> b) { return Ipv4Header::parse(b); }

TEST(Ipv4Header, ParsesCapturedPing) {
  const auto b = ping_ip();
  auto h = parse(b);
  ASSERT_TRUE(h.ok()) << parse_error_name(h.error());
  EXPECT_EQ(h->header_len(), 20u);
  EXPECT_EQ(h->total_length(), 84);
  EXPECT_EQ(h->id(), 0x1c46);
  EXPECT_TRUE(h->dont_fragment());
  EXPECT_FALSE(h->more_fragments());
  EXPECT_EQ(h->fragment_offset_bytes(), 0);
  EXPECT_FALSE(h->is_fragment());
  EXPECT_EQ(h->ttl(), 64);
  EXPECT_EQ(h->protocol(), kIpProtoIcmp);
  EXPECT_EQ(h->checksum(), 0x0a61);
  EXPECT_EQ(h->src(), ip(10, 0, 0, 1));
  EXPECT_EQ(h->dst(), ip(10, 0, 0, 2));
  EXPECT_EQ(h->tos(), 0);
  EXPECT_TRUE(h->checksum_ok());
  EXPECT_TRUE(h->options().empty());
  EXPECT_EQ(h->header().data(), b.data());
  EXPECT_EQ(h->payload().data(), b.data() + 20);
  EXPECT_EQ(h->payload().size(), 64u) << "8-byte ICMP header + 56 data bytes";
}

TEST(Ipv4Header, WriteReproducesCapturedHeader) {
  std::array<std::byte, 20> out{};
  write_ipv4(out, Ipv4Fields{.src = ip(10, 0, 0, 1),
                             .dst = ip(10, 0, 0, 2),
                             .protocol = kIpProtoIcmp,
                             .ttl = 64,
                             .id = 0x1c46,
                             .dont_fragment = true,
                             .payload_len = 64});
  const auto want = ping_ip();
  EXPECT_EQ(std::vector<std::byte>(out.begin(), out.end()),
            std::vector<std::byte>(want.begin(), want.begin() + 20));
}

TEST(Ipv4Header, WriteThenParseRoundTrip) {
  std::vector<std::byte> pkt(20 + 100);
  const Ipv4Fields f{.src = ip(192, 168, 1, 10),
                     .dst = ip(8, 8, 8, 8),
                     .protocol = kIpProtoUdp,
                     .ttl = 1,
                     .id = 0xbeef,
                     .dont_fragment = false,
                     .payload_len = 100,
                     .tos = 0xb8};
  write_ipv4(pkt, f);
  auto h = parse(pkt);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->src(), f.src);
  EXPECT_EQ(h->dst(), f.dst);
  EXPECT_EQ(h->protocol(), kIpProtoUdp);
  EXPECT_EQ(h->ttl(), 1);
  EXPECT_EQ(h->id(), 0xbeef);
  EXPECT_FALSE(h->dont_fragment());
  EXPECT_EQ(h->total_length(), 120);
  EXPECT_EQ(h->dscp(), 46) << "EF";
  EXPECT_EQ(h->ecn(), 0);
  EXPECT_TRUE(h->checksum_ok());
  EXPECT_EQ(h->payload().size(), 100u);
}

TEST(Ipv4Header, OffloadLeavesChecksumZero) {
  std::array<std::byte, 20> out{};
  out.fill(std::byte{0xAA});
  write_ipv4(out, Ipv4Fields{.src = 1, .dst = 2, .protocol = kIpProtoTcp, .payload_len = 0}, false);
  auto h = parse(out);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->checksum(), 0);
  EXPECT_FALSE(h->checksum_ok());
}

TEST(Ipv4Header, CorruptedChecksumIsReportedNotRejected) {
  auto b = ping_ip();
  b[8] = std::byte{63};  // TTL changed in flight without fixing the checksum
  auto h = parse(b);
  ASSERT_TRUE(h.ok()) << "parse() leaves checksums to the caller (NIC offload)";
  EXPECT_FALSE(h->checksum_ok());
}

TEST(Ipv4Header, TruncatedBelowTwentyBytes) {
  const auto b = ping_ip();
  for (std::size_t n = 0; n < kIpv4MinHeaderLen; ++n) {
    auto h = parse(std::span{b}.first(n));
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error(), ParseError::kTruncated) << n << " bytes";
  }
}

TEST(Ipv4Header, CutBeforeTotalLengthIsBadTotalLength) {
  const auto b = ping_ip();
  for (std::size_t n = kIpv4MinHeaderLen; n < b.size(); ++n) {
    auto h = parse(std::span{b}.first(n));
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error(), ParseError::kBadTotalLength) << n << " bytes";
  }
  EXPECT_TRUE(parse(b).ok());
}

TEST(Ipv4Header, BadVersion) {
  for (std::uint8_t v : {0, 1, 5, 6, 15}) {
    auto b = ping_ip();
    b[0] = static_cast<std::byte>(v << 4 | 5);
    auto h = parse(b);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error(), ParseError::kBadVersion) << "version " << int{v};
  }
}

TEST(Ipv4Header, BadIhl) {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    auto b = ping_ip();
    b[0] = static_cast<std::byte>(0x40 | ihl);
    auto h = parse(b);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.error(), ParseError::kBadHeaderLength) << "IHL " << int{ihl};
  }
  // IHL 15 (60 bytes) in a 40-byte buffer.
  auto b = hex("4f 00 00 28 00 00 00 00 40 06 00 00 0a 00 00 01 0a 00 00 02");
  b.resize(40);
  auto h = parse(b);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error(), ParseError::kBadHeaderLength);
}

TEST(Ipv4Header, TotalLengthOutOfRange) {
  auto b = ping_ip();
  store_be16(&b[2], 19);  // below the 20-byte header
  ASSERT_FALSE(parse(b).ok());
  EXPECT_EQ(parse(b).error(), ParseError::kBadTotalLength);
  store_be16(&b[2], static_cast<std::uint16_t>(b.size() + 1));  // one past the frame
  EXPECT_EQ(parse(b).error(), ParseError::kBadTotalLength);
  store_be16(&b[2], 0xFFFF);
  EXPECT_EQ(parse(b).error(), ParseError::kBadTotalLength);
  // With options, total length must cover them too.
  auto o = header_with_options(hex("01 01 01 00"));
  store_be16(&o[2], 22);
  EXPECT_EQ(parse(o).error(), ParseError::kBadTotalLength);
}

TEST(Ipv4Header, EthernetPaddingIsNotPayload) {
  // A 40-byte TCP RST in a minimum-size frame: 6 bytes of padding follow.
  auto b = header_with_options({}, 20);
  b.resize(46, std::byte{0});
  auto h = parse(b);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->total_length(), 40);
  EXPECT_EQ(h->payload().size(), 20u);
  EXPECT_TRUE(h->checksum_ok());
}

TEST(Ipv4Header, HeaderOnlyDatagram) {
  const auto b = header_with_options({});
  auto h = parse(b);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->payload().empty());
}

TEST(Ipv4Header, WellFormedOptions) {
  struct Case {
    const char* what;
    const char* opts;
  };
  for (const Case& c : {
           Case{"NOPs", "01 01 01 01"},
           Case{"EOL then padding", "00 00 00 00"},
           Case{"router alert (RFC 2113)", "94 04 00 00"},
           Case{"record route, 2 slots, then EOL", "07 0b 04 00 00 00 00 00 00 00 00 00"},
           Case{"garbage after EOL is padding", "00 ff 00 ff"},
           Case{"unknown option, exact fit", "1e 08 01 02 03 04 05 06"},
           Case{"40 bytes: one option filling all",
                "88 28 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
                "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
       }) {
    const auto b = header_with_options(hex(c.opts), 8);
    auto h = parse(b);
    ASSERT_TRUE(h.ok()) << c.what << ": " << parse_error_name(h.error());
    EXPECT_EQ(h->header_len(), 20 + hex(c.opts).size()) << c.what;
    EXPECT_EQ(h->options().size(), hex(c.opts).size()) << c.what;
    EXPECT_EQ(h->payload().size(), 8u) << c.what;
    EXPECT_TRUE(h->checksum_ok()) << c.what;
  }
}

TEST(Ipv4Header, MalformedOptions) {
  struct Case {
    const char* what;
    const char* opts;
  };
  for (const Case& c : {
           Case{"length 0", "94 00 00 00"},
           Case{"length 1", "94 01 00 00"},
           Case{"length past the header", "01 94 04 00"},
           Case{"length far past the header", "07 ff 04 00"},
           Case{"type octet without length octet", "01 01 01 94"},
           Case{"second option overruns", "94 04 00 00 07 09 04 00"},
       }) {
    const auto b = header_with_options(hex(c.opts), 8);
    auto h = parse(b);
    ASSERT_FALSE(h.ok()) << c.what;
    EXPECT_EQ(h.error(), ParseError::kBadOption) << c.what;
  }
}

TEST(Ipv4Header, FragmentFields) {
  auto b = ping_ip();
  store_be16(&b[6], 0x2000);  // MF, offset 0: the first fragment
  auto first = parse(b);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->more_fragments());
  EXPECT_FALSE(first->dont_fragment());
  EXPECT_TRUE(first->is_fragment());
  EXPECT_EQ(first->fragment_offset_bytes(), 0);

  store_be16(&b[6], 185);  // last fragment at 185 * 8 = 1480
  auto last = parse(b);
  ASSERT_TRUE(last.ok());
  EXPECT_FALSE(last->more_fragments());
  EXPECT_TRUE(last->is_fragment());
  EXPECT_EQ(last->fragment_offset_bytes(), 1480);

  store_be16(&b[6], 0x1FFF);
  EXPECT_EQ(parse(b)->fragment_offset_bytes(), 65528);

  store_be16(&b[6], 0x4000);  // DF only
  EXPECT_FALSE(parse(b)->is_fragment());
}

TEST(Ipv4Header, ViewNeverReachesPastItsSpan) {
  // The parsed payload is a subspan of the input whatever the trailing bytes.
  const auto b = concat({ping_ip(), hex("de ad be ef")});
  auto h = parse(b);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->payload().data() + h->payload().size(), b.data() + 84);
  EXPECT_LE(h->payload().data() + h->payload().size(), b.data() + b.size());
}

}  // namespace
}  // namespace tern
