#include "wire/tcp_options.h"

#include <gtest/gtest.h>

#include <random>

#include "test_bytes.h"

namespace tern {
namespace {

using testing::hex;

Parsed<TcpOptions> parse(const char* h) {
  static thread_local std::vector<std::byte> keep;  // the view does not outlive the test line
  keep = hex(h);
  return parse_tcp_options(keep);
}

std::vector<std::byte> write(const TcpOptions& o, std::size_t room = kTcpMaxOptionsLen) {
  std::vector<std::byte> out(room);
  out.resize(write_tcp_options(out, o));
  EXPECT_EQ(out.size(), tcp_options_len(o, room));
  EXPECT_EQ(out.size() % 4, 0u);
  return out;
}

TEST(TcpOptions, Empty) {
  auto o = parse("");
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->mss);
  EXPECT_FALSE(o->window_scale);
  EXPECT_FALSE(o->sack_permitted);
  EXPECT_FALSE(o->timestamps);
  EXPECT_EQ(o->sack_count, 0);
}

TEST(TcpOptions, LinuxSynAck) {
  // options [mss 1460,nop,nop,sackOK,nop,wscale 7] (no timestamps)
  auto o = parse("02 04 05 b4 01 01 04 02 01 03 03 07");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->mss, 1460);
  EXPECT_TRUE(o->sack_permitted);
  EXPECT_EQ(o->window_scale, 7);
  EXPECT_FALSE(o->timestamps);
}

TEST(TcpOptions, DataSegmentWithTimestampsAndSack) {
  // options [nop,nop,TS val 100 ecr 200,nop,nop,sack 2 {1000:2000}{3000:4000}]
  auto o = parse(
      "01 01 08 0a 00 00 00 64 00 00 00 c8"
      "01 01 05 12 00 00 03 e8 00 00 07 d0 00 00 0b b8 00 00 0f a0");
  ASSERT_TRUE(o.ok()) << parse_error_name(o.error());
  ASSERT_TRUE(o->timestamps);
  EXPECT_EQ(o->timestamps->first, 100u);
  EXPECT_EQ(o->timestamps->second, 200u);
  ASSERT_EQ(o->sack_count, 2);
  EXPECT_EQ(o->sack[0], (SackBlock{1000, 2000}));
  EXPECT_EQ(o->sack[1], (SackBlock{3000, 4000}));
  EXPECT_EQ(o->sack_blocks().size(), 2u);
}

// The aligned layout (NOP, NOP, TS) takes a shortcut; the same timestamps in
// another layout, or that layout followed by more, take the general walk,
// and all read the same values.
TEST(TcpOptions, AlignedTimestampsReadLikeAnyOtherLayout) {
  for (const char* h :
       {"0101080a0000000100000002", "080a00000001000000020101", "0101080a000000010000000201010000"}) {
    SCOPED_TRACE(h);
    auto o = parse(h);
    ASSERT_TRUE(o.ok());
    ASSERT_TRUE(o->timestamps.has_value());
    EXPECT_EQ(o->timestamps->first, 1u);
    EXPECT_EQ(o->timestamps->second, 2u);
    EXPECT_EQ(o->sack_count, 0);
    EXPECT_FALSE(o->mss.has_value());
  }
  EXPECT_FALSE(parse("0101080b0000000100000002").ok());  // a timestamps option of length 11
}

// Linux's (and Tern's) SYN layout, MSS, SACK-permitted, timestamps, NOP,
// window scale, takes a shortcut in the walk; the same options in other
// layouts take the general walk, and all read the same values. Near
// misses of the layout (a length octet off by one) are still malformed.
TEST(TcpOptions, LinuxSynLayoutReadsLikeAnyOtherLayout) {
  for (const char* h : {"020405b4 0402080a 00000001 00000002 01030307",  // the shortcut's layout
                        "01030307 020405b4 0402080a 00000001 00000002",  // the same options moved
                        "020405b4 0101080a 00000001 00000002 01030307 01010402",
                        "020405b4 0402080a 00000001 00000002 01030307 00000000"}) {
    SCOPED_TRACE(h);
    auto o = parse(h);
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(o->mss, 1460);
    EXPECT_TRUE(o->sack_permitted);
    ASSERT_TRUE(o->timestamps.has_value());
    EXPECT_EQ(o->timestamps->first, 1u);
    EXPECT_EQ(o->timestamps->second, 2u);
    EXPECT_EQ(o->window_scale, 7);
    EXPECT_EQ(o->sack_count, 0);
  }
  // The layout without SACK-permitted (NOP, NOP in its place) is not it.
  auto o = parse("020405b4 0101080a 00000001 00000002 01030307");
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->sack_permitted);
  EXPECT_EQ(o->window_scale, 7);
  for (const char* h : {"020305b4 0402080a 00000001 00000002 01030307",     // MSS length 3
                        "020405b4 0403080a 00000001 00000002 01030307",     // SACK-permitted length 3
                        "020405b4 0402080b 00000001 00000002 01030307",     // timestamps length 11
                        "020405b4 0402080a 00000001 00000002 01030407"}) {  // window scale length 4
    SCOPED_TRACE(h);
    EXPECT_FALSE(parse(h).ok());
  }
}

TEST(TcpOptions, FourSackBlocks) {
  auto o = parse(
      "01 01 05 22 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04"
      "00 00 00 05 00 00 00 06 00 00 00 07 00 00 00 08");
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->sack_count, 4);
  EXPECT_EQ(o->sack[3], (SackBlock{7, 8}));
}

TEST(TcpOptions, EndOfListEndsParsing) {
  auto o = parse("01 00 02 04 05 b4 ff ff");
  ASSERT_TRUE(o.ok()) << "bytes after EOL are padding, not options";
  EXPECT_FALSE(o->mss);
}

TEST(TcpOptions, UnknownKindsAreSkipped) {
  // MPTCP (30), TCP Fast Open (34), experimental (254), then MSS.
  auto o = parse("1e 04 00 00 22 0a 01 02 03 04 05 06 07 08 fe 06 f9 89 00 00 02 04 21 40");
  ASSERT_TRUE(o.ok()) << parse_error_name(o.error());
  EXPECT_EQ(o->mss, 8512);
}

TEST(TcpOptions, RepeatedOptionOverwrites) {
  auto o = parse("02 04 05 b4 02 04 02 18");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->mss, 536);
}

TEST(TcpOptions, MalformedLists) {
  struct Case {
    const char* what;
    const char* bytes;
  };
  for (const Case& c : {
           Case{"MSS length 3", "02 03 05 00"},
           Case{"MSS length 5", "02 05 05 b4 00 01 01 01"},
           Case{"window scale length 4", "03 04 07 00"},
           Case{"SACK-permitted length 3", "04 03 00 01"},
           Case{"timestamps length 8", "08 08 00 00 00 01 00 00"},
           Case{"SACK with no blocks", "05 02 01 01"},
           Case{"SACK of 9 bytes", "05 09 00 00 00 01 00 00 00"},
           Case{"SACK of 5 blocks",
                "05 2a 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05 00 00 00 06"
                " 00 00 00 07 00 00 00 08 00 00 00 09 00 00 00 0a"},
           Case{"unknown kind, length 0", "fe 00 01 01"},
           Case{"unknown kind, length 1", "fe 01 01 01"},
           Case{"length runs past the end", "01 01 08 0a 00 00 00 01"},
           Case{"kind without a length octet", "01 01 01 02"},
           Case{"valid MSS then a bad one", "02 04 05 b4 02 04 05"},
       }) {
    auto o = parse(c.bytes);
    ASSERT_FALSE(o.ok()) << c.what;
    EXPECT_EQ(o.error(), ParseError::kBadOption) << c.what;
  }
}

TEST(TcpOptions, WriteLinuxSynLayout) {
  TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = {0x0009a3b1, 0};
  o.window_scale = 7;
  EXPECT_EQ(write(o), hex("02 04 05 b4 04 02 08 0a 00 09 a3 b1 00 00 00 00 01 03 03 07"));
  // The four in one go where 20 bytes fit; piece by piece, what fits, below.
  EXPECT_EQ(write(o, 20), hex("02 04 05 b4 04 02 08 0a 00 09 a3 b1 00 00 00 00 01 03 03 07"));
  EXPECT_EQ(write(o, 19), hex("02 04 05 b4 04 02 08 0a 00 09 a3 b1 00 00 00 00"));
  o.sack_count = 1;
  o.sack[0] = {10, 20};
  EXPECT_EQ(write(o), hex("02 04 05 b4 04 02 08 0a 00 09 a3 b1 00 00 00 00 01 03 03 07"
                          "01 01 05 0a 00 00 00 0a 00 00 00 14"));
}

TEST(TcpOptions, WriteSynWithoutTimestamps) {
  TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.window_scale = 7;
  EXPECT_EQ(write(o), hex("02 04 05 b4 01 01 04 02 01 03 03 07"));
}

TEST(TcpOptions, WriteTimestampsOnly) {
  TcpOptions o;
  o.timestamps = {1, 2};
  EXPECT_EQ(write(o), hex("01 01 08 0a 00 00 00 01 00 00 00 02"));
}

TEST(TcpOptions, WriteNothing) { EXPECT_TRUE(write(TcpOptions{}).empty()); }

TEST(TcpOptions, SackBlocksAreCutToFit) {
  TcpOptions o;
  o.sack_count = 4;
  for (std::uint32_t k = 0; k < 4; ++k) o.sack[k] = {100 * k, 100 * k + 50};
  EXPECT_EQ(write(o).size(), 36u) << "4 blocks fit without timestamps";
  o.timestamps = {1, 2};
  const auto b = write(o);
  EXPECT_EQ(b.size(), 40u) << "RFC 2018 §3: only 3 blocks fit beside timestamps";
  auto back = parse_tcp_options(b);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->sack_count, 3);
  EXPECT_EQ(back->sack[2], (SackBlock{200, 250}));
  EXPECT_EQ(write(o, 20).size(), 12u) << "a block needs 12 bytes; only 8 are left";
  EXPECT_EQ(write(o, 24).size(), 24u);
  EXPECT_EQ(write(o, 11).size(), 0u) << "timestamps do not fit";
}

TEST(TcpOptions, RandomRoundTrip) {
  std::mt19937 rng(2018);
  for (int round = 0; round < 10000; ++round) {
    TcpOptions o;
    if (rng() % 2) o.mss = static_cast<std::uint16_t>(rng());
    if (rng() % 2) o.window_scale = static_cast<std::uint8_t>(rng() % 15);
    o.sack_permitted = rng() % 2;
    if (rng() % 2)
      o.timestamps = std::pair{static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};
    o.sack_count = static_cast<std::uint8_t>(rng() % 5);
    for (auto& s : o.sack) s = {static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};

    const auto b = write(o);
    auto back = parse_tcp_options(b);
    ASSERT_TRUE(back.ok()) << "round " << round;
    // Everything but SACK blocks always fits (4 + 12 + 4 + 4 = 24 bytes).
    EXPECT_EQ(back->mss, o.mss);
    EXPECT_EQ(back->window_scale, o.window_scale);
    EXPECT_EQ(back->sack_permitted, o.sack_permitted);
    EXPECT_EQ(back->timestamps, o.timestamps);
    ASSERT_LE(back->sack_count, o.sack_count);
    const std::size_t room =
        kTcpMaxOptionsLen - (b.size() - (back->sack_count ? 4 + 8u * back->sack_count : 0));
    if (back->sack_count < o.sack_count) {
      EXPECT_LT(room, 4 + 8u * (back->sack_count + 1u)) << "round " << round;
    }
    for (std::size_t k = 0; k < back->sack_count; ++k) EXPECT_EQ(back->sack[k], o.sack[k]);
  }
}

}  // namespace
}  // namespace tern
