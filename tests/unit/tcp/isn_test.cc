// RFC 6528 ISNs: M (4 us clock) + F (keyed hash of the 4-tuple).
#include "tcp/isn.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>

#include "tcp/siphash.h"

namespace tern {
namespace {

constexpr std::array<std::uint8_t, 16> kKeyA{0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                             0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f};
constexpr std::array<std::uint8_t, 16> kKeyB{0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                             0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0e};

constexpr std::uint32_t kLocal = 0x0a000001;                  // 10.0.0.1
constexpr std::uint32_t kRemote = 0x0a000002;                 // 10.0.0.2
constexpr Instant kT0 = Instant::from_ns(1'000'000'000'000);  // 1000 s, a multiple of 4 us

TEST(Isn, Deterministic) {
  const IsnGenerator a{kKeyA};
  const IsnGenerator a2{kKeyA};
  EXPECT_EQ(a.isn(kLocal, 80, kRemote, 40000, kT0), a.isn(kLocal, 80, kRemote, 40000, kT0));
  EXPECT_EQ(a.isn(kLocal, 80, kRemote, 40000, kT0), a2.isn(kLocal, 80, kRemote, 40000, kT0));
}

TEST(Isn, DiffersPerKey) {
  const IsnGenerator a{kKeyA};
  const IsnGenerator b{kKeyB};
  EXPECT_NE(a.isn(kLocal, 80, kRemote, 40000, kT0), b.isn(kLocal, 80, kRemote, 40000, kT0));
}

TEST(Isn, DiffersPerTupleField) {
  const IsnGenerator g{kKeyA};
  const Seq32 base = g.isn(kLocal, 80, kRemote, 40000, kT0);
  EXPECT_NE(g.isn(kLocal + 1, 80, kRemote, 40000, kT0), base);
  EXPECT_NE(g.isn(kLocal, 81, kRemote, 40000, kT0), base);
  EXPECT_NE(g.isn(kLocal, 80, kRemote + 1, 40000, kT0), base);
  EXPECT_NE(g.isn(kLocal, 80, kRemote, 40001, kT0), base);
  // Swapping the ends is a different tuple (the peer's view of it).
  EXPECT_NE(g.isn(kRemote, 40000, kLocal, 80, kT0), base);
}

// Off-path prediction needs F to look random: consecutive ports (what a
// client's ephemeral range produces) give unrelated ISNs.
TEST(Isn, ConsecutivePortsSpreadOut) {
  const IsnGenerator g{kKeyA};
  std::set<std::uint32_t> seen;
  int small_steps = 0;
  Seq32 prev = g.isn(kLocal, 80, kRemote, 30000, kT0);
  for (std::uint16_t p = 30001; p < 31000; ++p) {
    const Seq32 s = g.isn(kLocal, 80, kRemote, p, kT0);
    seen.insert(s.value());
    const std::int32_t d = s - prev;
    if (d > -65536 && d < 65536) ++small_steps;
    prev = s;
  }
  EXPECT_EQ(seen.size(), 999u);
  EXPECT_LT(small_steps, 5);  // expected ~0.03 for random 32-bit values
}

TEST(Isn, AdvancesEveryFourMicroseconds) {
  const IsnGenerator g{kKeyA};
  const Seq32 base = g.isn(kLocal, 80, kRemote, 40000, kT0);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + Duration::ns(3'999)), base);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + Duration::us(4)), base + 1);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + Duration::us(7)), base + 1);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + Duration::us(8)), base + 2);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + Duration::ms(1)), base + 250);
}

TEST(Isn, TwoHundredFiftyThousandPerSecond) {
  const IsnGenerator g{kKeyA};
  const Seq32 base = g.isn(kLocal, 80, kRemote, 40000, kT0);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + Duration::s(1)) - base, 250'000);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + Duration::s(60)), base + 15'000'000u);
}

// RFC 6528 over the IPv6 tuple: F sees all 128 bits of both addresses, and
// an IPv6 tuple whose low 32 bits match an IPv4 one gets another ISN.
TEST(Isn, Ipv6TupleCoversWholeAddresses) {
  const IsnGenerator g{kKeyA};
  const IpAddr l6 = IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 1});
  const IpAddr r6 = IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 2});
  const Seq32 base = g.isn(l6, 80, r6, 40000, kT0);
  EXPECT_EQ(g.isn(l6, 80, r6, 40000, kT0), base);
  EXPECT_NE(g.isn(IpAddr::v4(kLocal), 80, IpAddr::v4(kRemote), 40000, kT0), base);
  std::set<std::uint32_t> seen{base.value()};
  for (std::size_t i = 0; i < 16; ++i) {
    auto r = r6.bytes();
    r[i] ^= 0x80;
    EXPECT_TRUE(seen.insert(g.isn(l6, 80, IpAddr::v6(r), 40000, kT0).value()).second) << "remote byte " << i;
    auto l = l6.bytes();
    l[i] ^= 0x80;
    EXPECT_TRUE(seen.insert(g.isn(IpAddr::v6(l), 80, r6, 40000, kT0).value()).second) << "local byte " << i;
  }
  EXPECT_NE(g.isn(r6, 40000, l6, 80, kT0), base);  // direction matters
  // M ticks alike.
  EXPECT_EQ(g.isn(l6, 80, r6, 40000, kT0 + Duration::us(8)), base + 2);
}

// The IPv4 tuple hashes the 32-bit addresses as it did before the tuple
// became family-neutral: the IpAddr and host-order forms agree.
TEST(Isn, Ipv4FormsAgree) {
  const IsnGenerator g{kKeyA};
  EXPECT_EQ(g.isn(IpAddr::v4(kLocal), 80, IpAddr::v4(kRemote), 40000, kT0),
            g.isn(kLocal, 80, kRemote, 40000, kT0));
}

// M is a 32-bit counter: it wraps after 2^32 ticks (~4.77 h), modulo 2^32.
TEST(Isn, ClockWrapsModulo2To32) {
  const IsnGenerator g{kKeyA};
  const Seq32 base = g.isn(kLocal, 80, kRemote, 40000, kT0);
  const Duration wrap = Duration::ns(kIsnTickNs * (std::int64_t{1} << 32));
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + wrap), base);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0 + wrap - Duration::us(4)), base - 1);
  // 3 hours in: 2.7e9 ticks, past 2^31, still the plain modular sum.
  const Seq32 later = g.isn(kLocal, 80, kRemote, 40000, kT0 + Duration::s(3 * 3600));
  EXPECT_EQ(later.value() - base.value(), static_cast<std::uint32_t>(std::int64_t{3 * 3600} * 250'000));
}

// Instants before the epoch still tick forward in 4 us steps.
TEST(Isn, NegativeInstantsFloor) {
  const IsnGenerator g{kKeyA};
  const Seq32 zero = g.isn(kLocal, 80, kRemote, 40000, Instant::from_ns(0));
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, Instant::from_ns(-1)), zero - 1);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, Instant::from_ns(-4'000)), zero - 1);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, Instant::from_ns(-4'001)), zero - 2);
}

// The ISN's F and the TSval offset are the two halves of one SipHash-2-4 of
// the tuple (address, port, address, port, big-endian): one hash per
// connection for both, each half a keyed PRF output of its own.
TEST(Isn, SecretsAreTheHalvesOfOneSipHash) {
  const IsnGenerator g{kKeyA};
  const std::array<std::uint8_t, 12> msg{0x0a, 0, 0, 1, 0, 80, 0x0a, 0, 0, 2, 0x9c, 0x40};  // port 40000
  const std::uint64_t h = siphash24(SipKey{kKeyA}, msg);
  const auto sec = g.secrets(IpAddr::v4(kLocal), 80, IpAddr::v4(kRemote), 40000);
  EXPECT_EQ(sec.isn_f, static_cast<std::uint32_t>(h));
  EXPECT_EQ(sec.ts_offset, static_cast<std::uint32_t>(h >> 32));
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, kT0), Seq32{IsnGenerator::clock_m(kT0)} + sec.isn_f);
  // Another key or another tuple field moves both halves.
  const auto other_key = IsnGenerator{kKeyB}.secrets(IpAddr::v4(kLocal), 80, IpAddr::v4(kRemote), 40000);
  EXPECT_NE(other_key.isn_f, sec.isn_f);
  EXPECT_NE(other_key.ts_offset, sec.ts_offset);
  const auto other_port = g.secrets(IpAddr::v4(kLocal), 80, IpAddr::v4(kRemote), 40001);
  EXPECT_NE(other_port.isn_f, sec.isn_f);
  EXPECT_NE(other_port.ts_offset, sec.ts_offset);
}

// Each of an IPv4 tuple's twelve bytes in its place: a tuple whose bytes
// all differ (and have high bits set), then each byte changed in turn,
// against siphash24 of the bytes. The tuple above has zero bytes where a
// byte put in the wrong place would go unseen; this pins the layout for any
// faster way of building the message.
TEST(Isn, SecretsOfAnIpv4TupleAreOneSipHashOfEachByte) {
  const IsnGenerator g{kKeyA};
  const std::array<std::uint8_t, 12> base{0xc0, 0xa8, 0xfe, 0x01, 0xa1, 0xb2,
                                          0x81, 0x92, 0xe3, 0xd4, 0xf5, 0x76};
  for (std::size_t i = 0; i <= base.size(); ++i) {
    std::array<std::uint8_t, 12> msg = base;
    if (i < msg.size()) msg[i] ^= 0x5a;  // i == 12: the base tuple itself
    const auto word = [&](std::size_t at) {
      return std::uint32_t{msg[at]} << 24 | std::uint32_t{msg[at + 1]} << 16 |
             std::uint32_t{msg[at + 2]} << 8 | msg[at + 3];
    };
    const auto port = [&](std::size_t at) { return static_cast<std::uint16_t>(msg[at] << 8 | msg[at + 1]); };
    const std::uint64_t h = siphash24(SipKey{kKeyA}, msg);
    const auto sec = g.secrets(IpAddr::v4(word(0)), port(4), IpAddr::v4(word(6)), port(10));
    EXPECT_EQ(sec.isn_f, static_cast<std::uint32_t>(h)) << "byte " << i;
    EXPECT_EQ(sec.ts_offset, static_cast<std::uint32_t>(h >> 32)) << "byte " << i;
  }
}

// M is the floor of the instant over 4 us, for every remainder and sign,
// out to the ends of the int64 range (where a - 3999 would overflow).
TEST(Isn, ClockFloorsEveryInstant) {
  const auto floor_m = [](std::int64_t ns) {
    std::int64_t q = ns / kIsnTickNs;
    if (ns % kIsnTickNs < 0) --q;
    return static_cast<std::uint32_t>(q);
  };
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  for (const std::int64_t centre : {std::int64_t{0}, std::int64_t{-8'000}, std::int64_t{123'456'000},
                                    std::int64_t{-987'654'000}, lo + 5'000, hi - 5'000}) {
    for (std::int64_t d = -4'001; d <= 4'001; ++d) {
      const std::int64_t ns = centre + d;
      ASSERT_EQ(IsnGenerator::clock_m(Instant::from_ns(ns)), floor_m(ns)) << ns;
    }
  }
  EXPECT_EQ(IsnGenerator::clock_m(Instant::from_ns(lo)), floor_m(lo));
  EXPECT_EQ(IsnGenerator::clock_m(Instant::from_ns(hi)), floor_m(hi));
}

// IPv6: the 128-bit addresses, 36 bytes in the same layout.
TEST(Isn, SecretsOfAnIpv6TupleAreOneSipHashOfItsBytes) {
  const IsnGenerator g{kKeyA};
  const IpAddr l = *IpAddr::parse("2001:db8::1"), r = *IpAddr::parse("2001:db8:0:1::2");
  std::array<std::uint8_t, 36> msg{};
  std::memcpy(msg.data(), l.bytes().data(), 16);
  msg[16] = 0;
  msg[17] = 80;
  std::memcpy(msg.data() + 18, r.bytes().data(), 16);
  msg[34] = 0x9c;  // port 40000
  msg[35] = 0x40;
  const std::uint64_t h = siphash24(SipKey{kKeyA}, msg);
  const auto sec = g.secrets(l, 80, r, 40000);
  EXPECT_EQ(sec.isn_f, static_cast<std::uint32_t>(h));
  EXPECT_EQ(sec.ts_offset, static_cast<std::uint32_t>(h >> 32));
}

}  // namespace
}  // namespace tern
