#include "wire/bytes.h"

#include <gtest/gtest.h>

#include <array>

#include "wire/parsed.h"

namespace tern {
namespace {

TEST(Bytes, BigEndianLoadsReadNetworkOrder) {
  const std::array<std::byte, 4> b{std::byte{0x12}, std::byte{0x34}, std::byte{0x56}, std::byte{0x78}};
  EXPECT_EQ(load_be16(b.data()), 0x1234);
  EXPECT_EQ(load_be16(b.data() + 1), 0x3456);
  EXPECT_EQ(load_be32(b.data()), 0x12345678u);
  EXPECT_EQ(load_u8(b.data() + 3), 0x78);
}

TEST(Bytes, StoresAreTheInverseOfLoads) {
  std::array<std::byte, 6> b{};
  store_be32(b.data() + 1, 0xdeadbeef);
  EXPECT_EQ(b[0], std::byte{0});
  EXPECT_EQ(b[1], std::byte{0xde});
  EXPECT_EQ(b[4], std::byte{0xef});
  EXPECT_EQ(load_be32(b.data() + 1), 0xdeadbeefu);
  store_be16(b.data() + 4, 0xfffe);
  EXPECT_EQ(load_be16(b.data() + 4), 0xfffe);
  EXPECT_EQ(b[5], std::byte{0xfe});
}

TEST(Bytes, UsableInConstantExpressions) {
  constexpr std::array<std::byte, 2> b{std::byte{0x08}, std::byte{0x06}};
  static_assert(load_be16(b.data()) == 0x0806);
}

TEST(Parsed, HoldsValueOrError) {
  const Parsed<int> good{7};
  EXPECT_TRUE(good.ok());
  EXPECT_TRUE(static_cast<bool>(good));
  EXPECT_EQ(good.value(), 7);
  const Parsed<int> bad{ParseError::kBadOption};
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(static_cast<bool>(bad));
  EXPECT_EQ(bad.error(), ParseError::kBadOption);
}

TEST(Parsed, ErrorNames) {
  EXPECT_EQ(parse_error_name(ParseError::kTruncated), "truncated");
  EXPECT_EQ(parse_error_name(ParseError::kBadTotalLength), "bad_total_length");
  EXPECT_EQ(parse_error_name(ParseError::kUnsupported), "unsupported");
}

}  // namespace
}  // namespace tern
