#include "wire/ethernet.h"

#include <gtest/gtest.h>

#include "test_bytes.h"

namespace tern {
namespace {

using testing::hex;

constexpr MacAddr kA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr MacAddr kB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

TEST(MacAddr, Classes) {
  EXPECT_TRUE(MacAddr::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddr::broadcast().is_multicast()) << "broadcast is a multicast group";
  EXPECT_FALSE(kA.is_multicast());
  EXPECT_FALSE(kA.is_broadcast());
  const MacAddr ipv4_mcast{{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}};  // 224.0.0.251
  EXPECT_TRUE(ipv4_mcast.is_multicast());
  EXPECT_FALSE(ipv4_mcast.is_broadcast());
  EXPECT_TRUE(MacAddr::zero().is_zero());
  EXPECT_NE(kA, kB);
  EXPECT_EQ(kA, (MacAddr{{2, 0, 0, 0, 0, 1}}));
}

TEST(MacAddr, TextRoundTrip) {
  EXPECT_EQ(kA.to_string(), "02:00:00:00:00:01");
  EXPECT_EQ(MacAddr::broadcast().to_string(), "ff:ff:ff:ff:ff:ff");
  EXPECT_EQ(MacAddr::from_string("02:00:00:00:00:01"), kA);
  EXPECT_EQ(MacAddr::from_string("DE-AD-be-ef-00-0A"), (MacAddr{{0xde, 0xad, 0xbe, 0xef, 0x00, 0x0a}}));
  EXPECT_EQ(MacAddr::from_string("02:00:00:00:00"), std::nullopt);
  EXPECT_EQ(MacAddr::from_string("02:00:00:00:00:0g"), std::nullopt);
  EXPECT_EQ(MacAddr::from_string("02:00-00:00:00:01"), std::nullopt) << "mixed separators";
  EXPECT_EQ(MacAddr::from_string("020:00:00:00:00:1"), std::nullopt);
}

TEST(EthernetHeader, ParsesArpBroadcast) {
  const auto f =
      hex("ff ff ff ff ff ff 02 00 00 00 00 01 08 06"
          "00 01 08 00 06 04 00 01");
  auto eth = EthernetHeader::parse(f);
  ASSERT_TRUE(eth.ok());
  EXPECT_TRUE(eth->dst().is_broadcast());
  EXPECT_EQ(eth->src(), kA);
  EXPECT_EQ(eth->ether_type(), kEtherTypeArp);
  EXPECT_EQ(eth->header().size(), kEthernetHeaderLen);
  ASSERT_EQ(eth->payload().size(), 8u);
  EXPECT_EQ(eth->payload().data(), f.data() + 14);
}

TEST(EthernetHeader, HeaderOnlyFrameHasEmptyPayload) {
  const auto f = hex("02 00 00 00 00 02 02 00 00 00 00 01 86 dd");
  auto eth = EthernetHeader::parse(f);
  ASSERT_TRUE(eth.ok());
  EXPECT_EQ(eth->ether_type(), kEtherTypeIpv6);
  EXPECT_TRUE(eth->payload().empty());
}

TEST(EthernetHeader, TruncatedAtEveryLength) {
  const auto f = testing::ping_frame();
  for (std::size_t n = 0; n < kEthernetHeaderLen; ++n) {
    auto eth = EthernetHeader::parse(std::span{f}.first(n));
    ASSERT_FALSE(eth.ok()) << n << " bytes";
    EXPECT_EQ(eth.error(), ParseError::kTruncated);
  }
}

TEST(EthernetHeader, WriteThenParse) {
  std::array<std::byte, 20> buf{};
  write_ethernet(buf, kB, kA, kEtherTypeIpv4);
  EXPECT_EQ(std::vector<std::byte>(buf.begin(), buf.begin() + 14),
            hex("02 00 00 00 00 02 02 00 00 00 00 01 08 00"));
  auto eth = EthernetHeader::parse(buf);
  ASSERT_TRUE(eth.ok());
  EXPECT_EQ(eth->dst(), kB);
  EXPECT_EQ(eth->src(), kA);
  EXPECT_EQ(eth->ether_type(), kEtherTypeIpv4);
  EXPECT_EQ(eth->payload().size(), 6u);
}

}  // namespace
}  // namespace tern
