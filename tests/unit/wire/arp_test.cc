#include "wire/arp.h"

#include <gtest/gtest.h>

#include "test_bytes.h"

namespace tern {
namespace {

using testing::hex;
using testing::ip;

constexpr MacAddr kA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr MacAddr kB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

// "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 46" (padded to 60).
std::vector<std::byte> who_has_frame() {
  return hex(
      "ff ff ff ff ff ff 02 00 00 00 00 01 08 06"
      "00 01 08 00 06 04 00 01 02 00 00 00 00 01 0a 00 00 01"
      "00 00 00 00 00 00 0a 00 00 02"
      "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
}

std::vector<std::byte> who_has_arp() {
  const auto f = who_has_frame();
  return {f.begin() + 14, f.begin() + 14 + kArpLen};
}

TEST(ArpPacket, ParsesWhoHas) {
  const auto f = who_has_frame();
  auto eth = EthernetHeader::parse(f);
  ASSERT_TRUE(eth.ok());
  ASSERT_EQ(eth->ether_type(), kEtherTypeArp);
  auto arp = ArpPacket::parse(eth->payload());
  ASSERT_TRUE(arp.ok()) << parse_error_name(arp.error());
  EXPECT_EQ(arp->op(), static_cast<std::uint16_t>(ArpOp::kRequest));
  EXPECT_EQ(arp->sender_mac(), kA);
  EXPECT_EQ(arp->sender_ip(), ip(10, 0, 0, 1));
  EXPECT_TRUE(arp->target_mac().is_zero());
  EXPECT_EQ(arp->target_ip(), ip(10, 0, 0, 2));
  EXPECT_EQ(arp->bytes().size(), kArpLen) << "padding is not part of the packet";
}

TEST(ArpPacket, WriteReplyThenParse) {
  std::array<std::byte, kArpLen> buf{};
  write_arp(buf, ArpOp::kReply, kB, ip(10, 0, 0, 2), kA, ip(10, 0, 0, 1));
  EXPECT_EQ(std::vector<std::byte>(buf.begin(), buf.end()),
            hex("00 01 08 00 06 04 00 02 02 00 00 00 00 02 0a 00 00 02"
                "02 00 00 00 00 01 0a 00 00 01"));
  auto arp = ArpPacket::parse(buf);
  ASSERT_TRUE(arp.ok());
  EXPECT_EQ(arp->op(), static_cast<std::uint16_t>(ArpOp::kReply));
  EXPECT_EQ(arp->sender_mac(), kB);
  EXPECT_EQ(arp->sender_ip(), ip(10, 0, 0, 2));
  EXPECT_EQ(arp->target_mac(), kA);
  EXPECT_EQ(arp->target_ip(), ip(10, 0, 0, 1));
}

TEST(ArpPacket, TruncatedAtEveryLength) {
  const auto f = who_has_frame();
  const auto arp = std::span{f}.subspan(14, kArpLen);
  for (std::size_t n = 0; n < kArpLen; ++n) {
    auto p = ArpPacket::parse(arp.first(n));
    ASSERT_FALSE(p.ok()) << n << " bytes";
    EXPECT_EQ(p.error(), ParseError::kTruncated);
  }
  EXPECT_TRUE(ArpPacket::parse(arp).ok());
}

TEST(ArpPacket, OtherHardwareOrProtocolIsUnsupported) {
  const auto good = who_has_arp();
  struct Case {
    const char* what;
    std::size_t offset;
    std::byte value;
  };
  for (const Case& c : {Case{"htype 6 (IEEE 802)", 1, std::byte{6}}, Case{"ptype IPv6", 2, std::byte{0x86}},
                        Case{"hlen 8", 4, std::byte{8}}, Case{"plen 16", 5, std::byte{16}}}) {
    auto b = good;
    b[c.offset] = c.value;
    auto p = ArpPacket::parse(b);
    ASSERT_FALSE(p.ok()) << c.what;
    EXPECT_EQ(p.error(), ParseError::kUnsupported) << c.what;
  }
}

TEST(ArpPacket, UnknownOpcodeStillParses) {
  auto b = who_has_arp();
  b[7] = std::byte{9};  // InARP request (RFC 2390): the caller counts ArpUnknownOp
  auto p = ArpPacket::parse(b);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->op(), 9);
}

}  // namespace
}  // namespace tern
