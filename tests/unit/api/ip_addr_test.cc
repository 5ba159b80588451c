// tern::IpAddr and tern::Endpoint: the public, family-neutral address
// (issue 15). Text forms per RFC 4291 §2.2 / RFC 5952 and RFC 3986 §3.2.2.
#include "tern/ip_addr.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace tern {
namespace {

TEST(IpAddr, Ipv4IsHeldMappedAndKeepsItsHostOrderValue) {
  const IpAddr a = IpAddr::v4(0xC0000201);
  EXPECT_TRUE(a.is_v4());
  EXPECT_FALSE(a.is_v6());
  EXPECT_EQ(a.family(), IpFamily::kV4);
  EXPECT_EQ(a.v4_host(), 0xC0000201u);
  const std::array<std::uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 1};
  EXPECT_EQ(a.bytes(), mapped);
  EXPECT_EQ(IpAddr::v6(mapped), a);  // RFC 4291 §2.5.5.2: the mapped range is IPv4
  EXPECT_EQ(a.to_string(), "192.0.2.1");
}

TEST(IpAddr, Ipv6KeepsItsBytes) {
  const auto a = IpAddr::parse("2001:db8::1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v6());
  EXPECT_EQ(a->family(), IpFamily::kV6);
  EXPECT_EQ(a->v4_host(), 0u);
  EXPECT_EQ(a->bytes()[0], 0x20);
  EXPECT_EQ(a->bytes()[1], 0x01);
  EXPECT_EQ(a->bytes()[15], 0x01);
  EXPECT_EQ(a->to_string(), "2001:db8::1");
}

TEST(IpAddr, ParseAndFormatRoundTrip) {
  for (const char* text : {"0.0.0.0", "10.0.0.1", "255.255.255.255", "::", "::1", "fe80::1:2",
                           "2001:db8:0:1:1:1:1:1", "ff02::1:ff00:1"}) {
    const auto a = IpAddr::parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(a->to_string(), text);
  }
  // RFC 5952 canonical output for non-canonical input.
  EXPECT_EQ(IpAddr::parse("2001:DB8:0:0:0:0:0:1")->to_string(), "2001:db8::1");
  // A mapped IPv6 text is the IPv4 address.
  const auto m = IpAddr::parse("::ffff:192.0.2.7");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_v4());
  EXPECT_EQ(m->to_string(), "192.0.2.7");
}

TEST(IpAddr, ParseRefusesBadText) {
  for (const char* text : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "[::1]", "::1%eth0",
                           "1::2::3", "12345::", "g::1", ":", "2001:db8::1/64"}) {
    EXPECT_FALSE(IpAddr::parse(text)) << text;
  }
}

TEST(IpAddr, Predicates) {
  EXPECT_TRUE(IpAddr{}.is_unspecified());
  EXPECT_TRUE(IpAddr::any_v4().is_unspecified());
  EXPECT_TRUE(IpAddr::any_v4().is_v4());
  EXPECT_TRUE(IpAddr{}.is_v6());
  EXPECT_FALSE(IpAddr::v4(1).is_unspecified());
  EXPECT_TRUE(IpAddr::parse("127.3.2.1")->is_loopback());
  EXPECT_TRUE(IpAddr::parse("::1")->is_loopback());
  EXPECT_FALSE(IpAddr::parse("::2")->is_loopback());
  EXPECT_TRUE(IpAddr::parse("239.1.1.1")->is_multicast());
  EXPECT_FALSE(IpAddr::parse("240.1.1.1")->is_multicast());
  EXPECT_TRUE(IpAddr::parse("ff02::1")->is_multicast());
  EXPECT_TRUE(IpAddr::parse("169.254.9.9")->is_link_local());
  EXPECT_TRUE(IpAddr::parse("febf::1")->is_link_local());
  EXPECT_FALSE(IpAddr::parse("fec0::1")->is_link_local());
}

TEST(IpAddr, OrderedAndHashedByValue) {
  const IpAddr a = *IpAddr::parse("10.0.0.1");
  const IpAddr b = *IpAddr::parse("10.0.0.2");
  EXPECT_LT(a, b);
  EXPECT_NE(a, b);
  std::unordered_set<IpAddr> set{a, b, *IpAddr::parse("::ffff:10.0.0.1")};
  EXPECT_EQ(set.size(), 2u);
}

// operator== compares words at run time and the arrays in a constant
// expression: every byte counts in both, and both agree with <=>.
TEST(IpAddr, EqualityTellsEveryByte) {
  static_assert(IpAddr::v4(0x0A000001) == IpAddr::v4(0x0A000001));
  static_assert(IpAddr::v4(0x0A000001) != IpAddr::v4(0x0A000002));
  static_assert(IpAddr{} != IpAddr::any_v4());
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(0x20 + i);
  const IpAddr base = IpAddr::v6(bytes);
  EXPECT_EQ(base, IpAddr::v6(bytes));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
      std::array<std::uint8_t, 16> other = bytes;
      other[i] ^= flip;
      const IpAddr o = IpAddr::v6(other);
      EXPECT_NE(base, o) << "byte " << i;
      EXPECT_FALSE(base == o) << "byte " << i;
      EXPECT_TRUE((base <=> o) != 0) << "byte " << i;
    }
  }
  EXPECT_TRUE(IpAddr{}.is_unspecified());
  EXPECT_TRUE(IpAddr::any_v4().is_unspecified());
  EXPECT_FALSE(IpAddr::v4(1).is_unspecified());
}

TEST(Endpoint, ParseBothFamilies) {
  const auto v4 = Endpoint::parse("192.0.2.1:80");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->addr, IpAddr::v4(0xC0000201));
  EXPECT_EQ(v4->port, 80);
  const auto v6 = Endpoint::parse("[2001:db8::1]:65535");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->addr, *IpAddr::parse("2001:db8::1"));
  EXPECT_EQ(v6->port, 65535);
  EXPECT_EQ(Endpoint::parse("0.0.0.0:0")->port, 0);
}

TEST(Endpoint, ParseRefusesBadText) {
  for (const char* text :
       {"192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:080", "192.0.2.1:8a", "2001:db8::1:80",
        "[2001:db8::1]", "[192.0.2.1]:80", "[::1:80", "::1]:80", ":80", "192.0.2.1:-1", "192.0.2.1:+80"}) {
    EXPECT_FALSE(Endpoint::parse(text)) << text;
  }
}

TEST(Endpoint, FormatsWithBracketsForIpv6Only) {
  EXPECT_EQ((Endpoint{IpAddr::v4(0x0A000001), 8080}).to_string(), "10.0.0.1:8080");
  EXPECT_EQ((Endpoint{*IpAddr::parse("2001:db8::1"), 443}).to_string(), "[2001:db8::1]:443");
  // The longest form fits.
  const Endpoint longest{*IpAddr::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 65535};
  EXPECT_EQ(longest.to_string(), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
  for (const char* text : {"10.0.0.1:1", "[::]:0", "[fe80::1]:22"}) {
    EXPECT_EQ(Endpoint::parse(text)->to_string(), text);
  }
}

}  // namespace
}  // namespace tern
