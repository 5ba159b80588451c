#include "wire/checksum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "test_bytes.h"
#include "wire/bytes.h"

namespace tern {
namespace {

using testing::hex;
using testing::random_bytes;

// RFC 1071 by the letter: add big-endian 16-bit words (a trailing odd byte is
// the high byte of a zero-padded word) with end-around carry.
std::uint32_t reference_sum(std::span<const std::byte> d, std::uint32_t sum = 0) {
  std::uint64_t s = sum;
  for (std::size_t i = 0; i + 1 < d.size(); i += 2) s += load_be16(&d[i]);
  if (d.size() % 2 == 1) s += std::to_integer<std::uint64_t>(d.back()) << 8;
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return static_cast<std::uint32_t>(s);
}

TEST(Checksum, Rfc1071NumericalExample) {
  // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
  const auto d = hex("00 01 f2 03 f4 f5 f6 f7");
  EXPECT_EQ(checksum_partial(d), 0xddf2u);
  EXPECT_EQ(internet_checksum(d), 0x220d);
}

TEST(Checksum, KnownIpv4Header) {
  // 192.168.0.1 -> 192.168.0.199 UDP, checksum field 0xb861.
  auto h = hex("45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7");
  EXPECT_EQ(internet_checksum(h), 0) << "a correct header sums to -0";
  store_be16(&h[10], 0);
  EXPECT_EQ(internet_checksum(h), 0xb861);
}

TEST(Checksum, EmptyAndZeroData) {
  EXPECT_EQ(checksum_partial({}), 0u);
  EXPECT_EQ(internet_checksum({}), 0xFFFF);
  const std::vector<std::byte> zeros(37);
  EXPECT_EQ(internet_checksum(zeros), 0xFFFF);
  EXPECT_EQ(checksum_partial({}, 0x1234), 0x1234u);
}

TEST(Checksum, OddLengthPadsTheLastByteOnTheRight) {
  EXPECT_EQ(checksum_partial(hex("ab")), 0xab00u);
  EXPECT_EQ(checksum_partial(hex("12 34 ab")), 0x1234u + 0xab00u);
  EXPECT_EQ(checksum_partial(hex("ff ff ff")), 0xff00u) << "0xffff + 0xff00 = 0x1feff -> 0xff00";
}

TEST(Checksum, CarriesWrapAround) {
  const std::vector<std::byte> ones(1000, std::byte{0xFF});
  EXPECT_EQ(checksum_partial(ones), 0xFFFFu);
  EXPECT_EQ(internet_checksum(ones), 0);
  EXPECT_EQ(checksum_partial(hex("ff ff 00 01")), 0x0001u);
  EXPECT_EQ(checksum_partial(hex("80 00 80 00")), 0x0001u);
}

TEST(Checksum, MatchesReferenceOnRandomDataEveryLengthAndAlignment) {
  const auto buf = random_bytes(2100, 0x7e57'c0de);
  std::mt19937 rng(42);
  for (std::size_t len = 0; len <= 1030; ++len) {
    for (std::size_t align = 0; align < 8; ++align) {
      const std::span<const std::byte> d{buf.data() + align, len};
      const std::uint32_t init = rng();
      ASSERT_EQ(checksum_partial(d), reference_sum(d)) << "len " << len << " align " << align;
      ASSERT_EQ(checksum_fold(checksum_partial(d, init)), reference_sum(d, init))
          << "len " << len << " initial sum " << init;
    }
  }
}

TEST(Checksum, MatchesReferenceOnJumboFrames) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto d = random_bytes(9000 + seed, seed);
    EXPECT_EQ(internet_checksum(d), checksum_finish(reference_sum(d))) << "seed " << seed;
  }
}

TEST(Checksum, ChunksOfOddLengthSumLikeTheWhole) {
  // A multi-segment mbuf: the same bytes split at arbitrary points.
  std::mt19937 rng(1624);
  for (int round = 0; round < 500; ++round) {
    const auto d = random_bytes(1 + rng() % 3000, rng());
    const std::uint32_t whole = checksum_partial(d, 0x1234);

    ChecksumAccumulator acc{0x1234};
    std::uint32_t manual = 0x1234;
    std::size_t off = 0;
    while (off < d.size()) {
      const std::size_t n = std::min<std::size_t>(d.size() - off, rng() % 64);
      const std::span<const std::byte> chunk{d.data() + off, n};
      acc.add(chunk);
      manual = checksum_partial_at(chunk, manual, off % 2 == 1);
      off += n;
    }
    ASSERT_EQ(acc.sum(), whole) << "round " << round;
    ASSERT_EQ(manual, whole) << "round " << round;
    ASSERT_EQ(acc.length(), d.size());
    ASSERT_EQ(acc.finish(), checksum_finish(whole));
  }
}

TEST(Checksum, ChunkAtOddOffsetIsNotTheSameAsEven) {
  // 01 | 02 03: the second chunk's bytes are the low byte of word 0 and the
  // high byte of word 1, i.e. 0x0102 + 0x0300.
  const auto a = hex("01");
  const auto b = hex("02 03");
  EXPECT_EQ(checksum_partial_at(b, checksum_partial(a), true), 0x0102u + 0x0300u);
  EXPECT_NE(checksum_partial(b, checksum_partial(a)), 0x0102u + 0x0300u) << "the naive chaining is wrong";
}

TEST(Checksum, PseudoHeaderSum) {
  // 10.0.0.1 -> 10.0.0.2, TCP, 40 bytes: 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 40.
  EXPECT_EQ(pseudo_header_sum(0x0a000001, 0x0a000002, 6, 40), 0x0a00u + 1 + 0x0a00u + 2 + 6 + 40);
  EXPECT_EQ(pseudo_header_sum(0xFFFFFFFF, 0xFFFFFFFF, 255, 0xFFFF), 4u * 0xFFFF + 255 + 0xFFFF);
}

TEST(Checksum, Rfc1624Example) {
  // RFC 1624 §4: m changes 0x5555 -> 0x3285 with the rest summing to 0xCD7A,
  // HC = 0xDD2F. Eqn 3 gives 0x0000, like recomputing; RFC 1141's eqn 2
  // gave 0xFFFF here.
  EXPECT_EQ(checksum_adjust(0xDD2F, 0x5555, 0x3285), 0x0000);
  EXPECT_EQ(checksum_finish(0xCD7A + 0x3285), 0x0000);
}

TEST(Checksum, IncrementalAdjustEqualsRecomputation) {
  std::mt19937 rng(1141);
  for (int round = 0; round < 20000; ++round) {
    auto d = random_bytes(2 * (1 + rng() % 40), rng());
    d[0] = std::byte{0x45};  // never an all-zero message (see checksum.h)
    const std::uint16_t before = internet_checksum(d);
    const std::size_t w = 2 * (rng() % (d.size() / 2));
    const std::uint16_t old_word = load_be16(&d[w]);
    // Bias towards the edge values that broke RFC 1141.
    const std::uint16_t new_word = round % 4 == 0   ? 0
                                   : round % 4 == 1 ? 0xFFFF
                                                    : static_cast<std::uint16_t>(rng());
    store_be16(&d[w], new_word);
    if (std::all_of(d.begin(), d.end(), [](std::byte b) { return b == std::byte{0}; })) continue;
    ASSERT_EQ(checksum_adjust(before, old_word, new_word), internet_checksum(d))
        << "round " << round << " word " << w << " " << old_word << " -> " << new_word;
  }
}

TEST(Checksum, IncrementalAdjust32EqualsRecomputation) {
  std::mt19937 rng(7);
  for (int round = 0; round < 5000; ++round) {
    auto d = random_bytes(20, rng());
    d[0] = std::byte{0x45};
    const std::uint16_t before = internet_checksum(d);
    const std::uint32_t old_addr = load_be32(&d[12]);
    const std::uint32_t new_addr = round % 3 == 0 ? 0xFFFFFFFF : static_cast<std::uint32_t>(rng());
    store_be32(&d[12], new_addr);
    ASSERT_EQ(checksum_adjust32(before, old_addr, new_addr), internet_checksum(d)) << "round " << round;
  }
}

TEST(Checksum, FoldKeepsCarries) {
  EXPECT_EQ(checksum_fold(0x0001FFFF), 0x0001);
  EXPECT_EQ(checksum_fold(0xFFFFFFFF), 0xFFFF);
  EXPECT_EQ(checksum_fold(0), 0);
  EXPECT_EQ(checksum_finish(0x00010001), 0xFFFD) << "0x0001 + 0x0001 = 0x0002, complemented";
  EXPECT_EQ(checksum_finish(0x0001FFFE), 0x0000) << "0xFFFE + 1 = 0xFFFF, -0 complemented";
}

}  // namespace
}  // namespace tern
