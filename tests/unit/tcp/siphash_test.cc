// SipHash-2-4 against the reference vectors: key 00 01 .. 0f, message
// 00 01 .. (n-1) for n = 0..63 (the paper's Appendix A and the authors'
// vectors.h, there printed as little-endian bytes; here as the 64-bit value).
#include "tcp/siphash.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

namespace tern {
namespace {

std::array<std::uint8_t, 16> ref_key() {
  std::array<std::uint8_t, 16> k{};
  std::iota(k.begin(), k.end(), std::uint8_t{0});
  return k;
}

std::vector<std::uint8_t> ref_msg(std::size_t n) {
  std::vector<std::uint8_t> m(n);
  std::iota(m.begin(), m.end(), std::uint8_t{0});
  return m;
}

struct Vector {
  std::size_t len;
  std::uint64_t out;
};

// Lengths 0..16 cover the empty message, every partial final word and the
// first full-block-plus-tail cases; 63 is the longest reference vector.
constexpr Vector kVectors[] = {
    {0, 0x726fdb47dd0e0e31ULL},  {1, 0x74f839c593dc67fdULL},  {2, 0x0d6c8009d9a94f5aULL},
    {3, 0x85676696d7fb7e2dULL},  {4, 0xcf2794e0277187b7ULL},  {5, 0x18765564cd99a68dULL},
    {6, 0xcbc9466e58fee3ceULL},  {7, 0xab0200f58b01d137ULL},  {8, 0x93f5f5799a932462ULL},
    {9, 0x9e0082df0ba9e4b0ULL},  {10, 0x7a5dbbc594ddb9f3ULL}, {11, 0xf4b32f46226bada7ULL},
    {12, 0x751e8fbc860ee5fbULL}, {13, 0x14ea5627c0843d90ULL}, {14, 0xf723ca908e7af2eeULL},
    {15, 0xa129ca6149be45e5ULL}, {16, 0x3f2acc7f57c29bdbULL}, {63, 0x958a324ceb064572ULL},
};

TEST(SipHash, ReferenceVectors) {
  const SipKey key{ref_key()};
  for (const auto& v : kVectors) {
    const auto msg = ref_msg(v.len);
    EXPECT_EQ(siphash24(key, msg), v.out) << "message length " << v.len;
  }
}

// siphash24_fixed (the message's length a compile-time constant) is the
// same function: the reference vectors at every length it can take that
// the table holds, and the span version at 36 (an IPv6 tuple for the ISN).
template <std::size_t N>
std::uint64_t fixed_of_ref_msg() {
  std::uint8_t m[N];
  std::iota(m, m + N, std::uint8_t{0});
  return siphash24_fixed(SipKey{ref_key()}, m);
}

TEST(SipHash, FixedLengthMatchesReferenceVectors) {
  const auto want = [](std::size_t len) {
    for (const auto& v : kVectors)
      if (v.len == len) return v.out;
    return std::uint64_t{0};
  };
  EXPECT_EQ(fixed_of_ref_msg<1>(), want(1));
  EXPECT_EQ(fixed_of_ref_msg<4>(), want(4));
  EXPECT_EQ(fixed_of_ref_msg<7>(), want(7));
  EXPECT_EQ(fixed_of_ref_msg<8>(), want(8));
  EXPECT_EQ(fixed_of_ref_msg<12>(), want(12));
  EXPECT_EQ(fixed_of_ref_msg<15>(), want(15));
  EXPECT_EQ(fixed_of_ref_msg<16>(), want(16));
  EXPECT_EQ(fixed_of_ref_msg<63>(), want(63));
  EXPECT_EQ(fixed_of_ref_msg<36>(), siphash24(SipKey{ref_key()}, ref_msg(36)));
}

// The paper's worked example (Appendix A): 15-byte message, output a129ca6149be45e5.
TEST(SipHash, PaperExample) {
  const SipKey key{ref_key()};
  EXPECT_EQ(key.k0(), 0x0706050403020100ULL);
  EXPECT_EQ(key.k1(), 0x0f0e0d0c0b0a0908ULL);
  EXPECT_EQ(siphash24(key, ref_msg(15)), 0xa129ca6149be45e5ULL);
}

TEST(SipHash, KeyMatters) {
  auto k = ref_key();
  const auto msg = ref_msg(12);
  const std::uint64_t h = siphash24(SipKey{k}, msg);
  for (std::size_t i = 0; i < k.size(); ++i) {
    auto k2 = k;
    k2[i] ^= 0x01;
    EXPECT_NE(siphash24(SipKey{k2}, msg), h) << "key byte " << i;
  }
}

// The length byte: a message and the same message with a trailing zero differ.
TEST(SipHash, TrailingZeroChangesHash) {
  const SipKey key{ref_key()};
  std::vector<std::uint8_t> a{1, 2, 3};
  std::vector<std::uint8_t> b{1, 2, 3, 0};
  EXPECT_NE(siphash24(key, a), siphash24(key, b));
}

}  // namespace
}  // namespace tern
