#include <gtest/gtest.h>

#include "config/config.h"

namespace tern {
namespace {

TEST(Ipv4, RoundTrips) {
  for (std::string_view s : {"0.0.0.0", "10.77.0.2", "192.0.2.1", "255.255.255.255", "1.20.100.200"}) {
    const auto a = parse_ipv4(s);
    ASSERT_TRUE(a) << s;
    EXPECT_EQ(format_ipv4(*a), s);
  }
  EXPECT_EQ(parse_ipv4("192.0.2.1"), 0xc0000201u);
  EXPECT_EQ(format_ipv4(0x0a4d0002u), "10.77.0.2");
}

// The same language as inet_pton(AF_INET): no shorthand, no octal, no spaces.
TEST(Ipv4, RejectsMalformed) {
  for (std::string_view s :
       {"",         "1.2.3",    "1.2.3.4.5", "256.1.1.1",  "1.2.3.256",  "01.2.3.4", "1.2.3.00",
        " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "1..2.3",     "1.2.3.",     ".1.2.3",   "+1.2.3.4",
        "-1.2.3.4", "1.2.3.a",  "0x1.2.3.4", "1000.2.3.4", "1.2.3.4/24", "1,2,3,4",  "16909060"}) {
    EXPECT_FALSE(parse_ipv4(s)) << '"' << s << '"';
  }
}

TEST(Ipv4, Prefix) {
  const auto p = parse_ipv4_prefix("10.77.0.2/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->addr, 0x0a4d0002u);
  EXPECT_EQ(p->len, 24);
  EXPECT_EQ(format_ipv4_prefix(*p), "10.77.0.2/24");
  EXPECT_TRUE(parse_ipv4_prefix("10.0.0.1/0"));  // syntax only; Config requires 1..32
  EXPECT_TRUE(parse_ipv4_prefix("10.0.0.1/32"));
  for (std::string_view s : {"10.0.0.1", "10.0.0.1/", "10.0.0.1/33", "10.0.0.1/024", "10.0.0.1/ 24", "/24",
                             "10.0.0/24", "10.0.0.1/24/1", "10.0.0.1/-1"}) {
    EXPECT_FALSE(parse_ipv4_prefix(s)) << s;
  }
}

}  // namespace
}  // namespace tern
