#include "wire/udp.h"

#include <gtest/gtest.h>

#include <cstring>

#include "test_bytes.h"
#include "wire/checksum.h"

namespace tern {
namespace {

using testing::hex;
using testing::ip;

constexpr std::uint32_t kSrc = ip(10, 0, 0, 1);
constexpr std::uint32_t kDst = ip(10, 0, 0, 2);

// 10.0.0.1.5353 > 10.0.0.2.53: UDP, length 12, "hello, tern\n".
std::vector<std::byte> hello() { return hex("14 e9 00 35 00 14 9e b6 68 65 6c 6c 6f 2c 20 74 65 72 6e 0a"); }

TEST(UdpHeader, ParsesKnownDatagram) {
  const auto d = hello();
  auto u = UdpHeader::parse(d);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->src_port(), 5353);
  EXPECT_EQ(u->dst_port(), 53);
  EXPECT_EQ(u->length(), 20);
  EXPECT_EQ(u->checksum(), 0x9eb6);
  EXPECT_EQ(u->payload().size(), 12u);
  EXPECT_EQ(std::memcmp(u->payload().data(), "hello, tern\n", 12), 0);
  EXPECT_TRUE(u->checksum_ok(kSrc, kDst));
  EXPECT_FALSE(u->checksum_ok(kSrc, ip(10, 0, 0, 3))) << "the pseudo header binds the addresses";
}

TEST(UdpHeader, BuildReproducesKnownDatagram) {
  std::vector<std::byte> d(20);
  write_udp(d, 5353, 53, 12);
  std::memcpy(d.data() + 8, "hello, tern\n", 12);
  EXPECT_EQ(load_be16(d.data() + 6), 0) << "write_udp leaves the checksum to fill_udp_checksum";
  fill_udp_checksum(d, kSrc, kDst);
  EXPECT_EQ(d, hello());
}

TEST(UdpHeader, ZeroChecksumMeansNone) {
  auto d = hello();
  store_be16(&d[6], 0);
  d[10] = std::byte{'X'};
  EXPECT_TRUE(UdpHeader::parse(d)->checksum_ok(kSrc, kDst)) << "RFC 768: no checksum computed";
}

TEST(UdpHeader, CorruptionIsDetected) {
  auto d = hello();
  d[19] = std::byte{'!'};
  EXPECT_FALSE(UdpHeader::parse(d)->checksum_ok(kSrc, kDst));
}

TEST(UdpHeader, ComputedZeroIsSentAsOnes) {
  // Choose the last payload word so the datagram's checksum computes to 0.
  std::vector<std::byte> d(12);
  write_udp(d, 1000, 2000, 4);
  const std::uint32_t s = checksum_partial(d, pseudo_header_sum(kSrc, kDst, 17, 12));
  store_be16(&d[10], static_cast<std::uint16_t>(~checksum_fold(s)));
  fill_udp_checksum(d, kSrc, kDst);
  EXPECT_EQ(load_be16(&d[6]), 0xFFFF);
  EXPECT_TRUE(UdpHeader::parse(d)->checksum_ok(kSrc, kDst));
}

TEST(UdpHeader, TruncatedAndBadLength) {
  const auto d = hello();
  for (std::size_t n = 0; n < kUdpHeaderLen; ++n) {
    EXPECT_EQ(UdpHeader::parse(std::span{d}.first(n)).error(), ParseError::kTruncated) << n;
  }
  for (std::size_t n = kUdpHeaderLen; n < d.size(); ++n) {
    EXPECT_EQ(UdpHeader::parse(std::span{d}.first(n)).error(), ParseError::kBadLength) << n;
  }
  for (std::uint16_t len : {0, 1, 7}) {
    auto b = hello();
    store_be16(&b[4], len);
    EXPECT_EQ(UdpHeader::parse(b).error(), ParseError::kBadLength) << "length " << len;
  }
}

TEST(UdpHeader, BytesPastLengthAreIgnored) {
  auto d = hello();
  d.resize(30, std::byte{0xEE});
  auto u = UdpHeader::parse(d);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->payload().size(), 12u);
  EXPECT_TRUE(u->checksum_ok(kSrc, kDst));
}

TEST(UdpHeader, EmptyDatagram) {
  std::array<std::byte, 8> d{};
  write_udp(d, 9, 9, 0);
  fill_udp_checksum(d, kSrc, kDst);
  auto u = UdpHeader::parse(d);
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->payload().empty());
  EXPECT_EQ(u->length(), 8);
  EXPECT_TRUE(u->checksum_ok(kSrc, kDst));
}

}  // namespace
}  // namespace tern
