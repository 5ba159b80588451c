// SYN cookies (RFC 4987 §3.6) on virtual time: round trips, forgeries,
// expiry, and the window-scale / SACK bits carried in TSval.
#include "tcp/syn_cookie.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>

namespace tern {
namespace {

constexpr std::array<std::uint8_t, 16> kKey{0xde, 0xad, 0xbe, 0xef, 0x00, 0x11, 0x22, 0x33,
                                            0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
constexpr std::array<std::uint8_t, 16> kOtherKey{0xde, 0xad, 0xbe, 0xef, 0x00, 0x11, 0x22, 0x33,
                                                 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbc};

constexpr std::uint32_t kLocal = 0xc0a80001;   // 192.168.0.1, the listener
constexpr std::uint32_t kRemote = 0xc0a80063;  // 192.168.0.99, the client
constexpr std::uint16_t kLport = 443;
constexpr std::uint16_t kRport = 51515;
constexpr Seq32 kClientIsn{0xfffffff0};  // near the wrap on purpose
// 1 h: not on a 64 s period boundary (3600 / 64 = 56.25), like most instants.
constexpr Instant kT0 = Instant::from_ns(3'600'000'000'000);

// 2001:db8::1, the listener, and 2001:db8::63, the client.
constexpr IpAddr kLocal6 = IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
constexpr IpAddr kRemote6 = IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x63});

SynCookieRequest req(std::uint16_t mss = 1460) {
  return SynCookieRequest{IpAddr::v4(kLocal), kLport, IpAddr::v4(kRemote), kRport, kClientIsn, mss};
}
SynCookieRequest req6(std::uint16_t mss = 1440) {
  return SynCookieRequest{kLocal6, kLport, kRemote6, kRport, kClientIsn, mss};
}

std::optional<DecodedCookie> check_ok(const SynCookies& sc, Seq32 cookie, Instant now) {
  return sc.check(kLocal, kLport, kRemote, kRport, kClientIsn, cookie, now);
}

// RFC 4987 §3.6 over the IPv6 tuple: the hash covers all 128 bits of both
// addresses, and the MSS comes from the IPv6 table (MTU - 60 for 1280,
// 1480, 1500 and 9000).
TEST(SynCookie, Ipv6RoundTripAndTableCoversWholeAddresses) {
  const SynCookies sc{kKey};
  for (const std::uint16_t mss : kSynCookieMssTable6) {
    const Seq32 c = sc.make(req6(mss), kT0);
    const auto d = sc.check(kLocal6, kLport, kRemote6, kRport, kClientIsn, c, kT0 + Duration::ms(300));
    ASSERT_TRUE(d.has_value()) << "mss " << mss;
    EXPECT_EQ(d->mss, mss);
  }
  // Clamped down to the IPv6 table; below 1220 rounded up to it (RFC 8200 §5).
  struct Case {
    std::uint16_t in, out;
  };
  for (const Case k :
       {Case{1460, 1440}, Case{1439, 1420}, Case{1300, 1220}, Case{536, 1220}, Case{9000, 8940}}) {
    const auto d = sc.check(kLocal6, kLport, kRemote6, kRport, kClientIsn, sc.make(req6(k.in), kT0), kT0);
    ASSERT_TRUE(d.has_value()) << "mss " << k.in;
    EXPECT_EQ(d->mss, k.out) << "mss " << k.in;
  }
  const Seq32 c = sc.make(req6(), kT0);
  ASSERT_TRUE(sc.check(kLocal6, kLport, kRemote6, kRport, kClientIsn, c, kT0));
  // Any one byte of either address changed, the high half included: refused.
  for (std::size_t i = 0; i < 16; ++i) {
    auto r = kRemote6.bytes();
    r[i] ^= 0x01;
    EXPECT_FALSE(sc.check(kLocal6, kLport, IpAddr::v6(r), kRport, kClientIsn, c, kT0)) << "remote byte " << i;
    auto l = kLocal6.bytes();
    l[i] ^= 0x01;
    EXPECT_FALSE(sc.check(IpAddr::v6(l), kLport, kRemote6, kRport, kClientIsn, c, kT0)) << "local byte " << i;
  }
  // The IPv4 tuple with the same low 32 bits is another tuple.
  EXPECT_FALSE(sc.check(IpAddr::v4(0x00000001), kLport, IpAddr::v4(0x00000063), kRport, kClientIsn, c, kT0));
}

TEST(SynCookie, RoundTripEveryMssTableEntry) {
  const SynCookies sc{kKey};
  for (const std::uint16_t mss : kSynCookieMssTable) {
    const Seq32 c = sc.make(req(mss), kT0);
    const auto d = check_ok(sc, c, kT0 + Duration::ms(300));
    ASSERT_TRUE(d.has_value()) << "mss " << mss;
    EXPECT_EQ(d->mss, mss);
  }
}

// The cookie keeps only the table index: an MSS in between is clamped down
// to the nearest entry, never up (except below the table's 536 floor).
TEST(SynCookie, MssClampedDownToTable) {
  const SynCookies sc{kKey};
  struct Case {
    std::uint16_t in, out;
  };
  for (const Case c :
       {Case{9000, 1460}, Case{1461, 1460}, Case{1459, 1440}, Case{1440, 1440}, Case{1439, 1300},
        Case{1300, 1300}, Case{1299, 536}, Case{536, 536}, Case{100, 536}, Case{0, 536}}) {
    const auto d = check_ok(sc, sc.make(req(c.in), kT0), kT0);
    ASSERT_TRUE(d.has_value()) << "mss " << c.in;
    EXPECT_EQ(d->mss, c.out) << "mss " << c.in;
  }
}

TEST(SynCookie, Deterministic) {
  const SynCookies a{kKey};
  const SynCookies b{kKey};
  EXPECT_EQ(a.make(req(), kT0), b.make(req(), kT0));
  EXPECT_NE(a.make(req(), kT0), SynCookies{kOtherKey}.make(req(), kT0));
}

TEST(SynCookie, WrongTupleRejected) {
  const SynCookies sc{kKey};
  const Seq32 c = sc.make(req(), kT0);
  const Instant t = kT0 + Duration::s(1);
  ASSERT_TRUE(sc.check(kLocal, kLport, kRemote, kRport, kClientIsn, c, t));
  EXPECT_FALSE(sc.check(kLocal + 1, kLport, kRemote, kRport, kClientIsn, c, t));
  EXPECT_FALSE(sc.check(kLocal, kLport + 1, kRemote, kRport, kClientIsn, c, t));
  EXPECT_FALSE(sc.check(kLocal, kLport, kRemote ^ 0x100, kRport, kClientIsn, c, t));
  EXPECT_FALSE(sc.check(kLocal, kLport, kRemote, kRport - 1, kClientIsn, c, t));
  EXPECT_FALSE(sc.check(kRemote, kRport, kLocal, kLport, kClientIsn, c, t));
}

TEST(SynCookie, WrongClientIsnRejected) {
  const SynCookies sc{kKey};
  const Seq32 c = sc.make(req(), kT0);
  EXPECT_FALSE(sc.check(kLocal, kLport, kRemote, kRport, kClientIsn + 1, c, kT0));
  EXPECT_FALSE(sc.check(kLocal, kLport, kRemote, kRport, kClientIsn - 1, c, kT0));
  EXPECT_FALSE(sc.check(kLocal, kLport, kRemote, kRport, Seq32{0}, c, kT0));
}

TEST(SynCookie, WrongKeyRejected) {
  const Seq32 c = SynCookies{kKey}.make(req(), kT0);
  EXPECT_FALSE(check_ok(SynCookies{kOtherKey}, c, kT0));
}

// Every single-bit change is caught: in the hash, in the MSS index (which
// would otherwise let a client pick its MSS) and in the time bits.
TEST(SynCookie, EveryFlippedBitRejected) {
  const SynCookies sc{kKey};
  for (const std::uint16_t mss : kSynCookieMssTable) {
    const Seq32 c = sc.make(req(mss), kT0);
    for (int bit = 0; bit < 32; ++bit) {
      const Seq32 bad{c.value() ^ (std::uint32_t{1} << bit)};
      EXPECT_FALSE(check_ok(sc, bad, kT0)) << "mss " << mss << " bit " << bit;
      EXPECT_FALSE(check_ok(sc, bad, kT0 + kSynCookiePeriod)) << "mss " << mss << " bit " << bit;
    }
  }
}

TEST(SynCookie, ValidAfterOneMinute) {
  const SynCookies sc{kKey};
  const Seq32 c = sc.make(req(1440), kT0);
  const auto d = check_ok(sc, c, kT0 + Duration::s(60));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->mss, 1440);
}

// Made at the start of a period, the cookie lives through that period and
// the next: exactly 128 s. Made at the end of one, it still lives > 64 s.
TEST(SynCookie, ValidityWindowOnVirtualTime) {
  const SynCookies sc{kKey};
  const Instant start = Instant::from_ns(kSynCookiePeriod.count_ns() * 1000);  // a period boundary
  const Seq32 c = sc.make(req(), start);
  EXPECT_TRUE(check_ok(sc, c, start));
  EXPECT_TRUE(check_ok(sc, c, start + Duration::s(64)));
  EXPECT_TRUE(check_ok(sc, c, start + Duration::s(128) - Duration::ns(1)));
  EXPECT_FALSE(check_ok(sc, c, start + Duration::s(128)));
  EXPECT_FALSE(check_ok(sc, c, start + Duration::s(600)));
  // 32 periods later the 5 time bits match again; the hash over the full
  // counter still rejects it.
  EXPECT_FALSE(check_ok(sc, c, start + kSynCookiePeriod * 32));
  EXPECT_FALSE(check_ok(sc, c, start + kSynCookiePeriod * 33));

  const Instant late = start + kSynCookiePeriod - Duration::ns(1);  // last instant of the period
  const Seq32 c2 = sc.make(req(), late);
  EXPECT_TRUE(check_ok(sc, c2, late + Duration::s(64)));
  EXPECT_FALSE(check_ok(sc, c2, late + Duration::s(64) + Duration::ns(1)));
}

// A cookie from a later period than `now` (clock went backwards, or forged)
// is not accepted.
TEST(SynCookie, FutureCookieRejected) {
  const SynCookies sc{kKey};
  const Seq32 c = sc.make(req(), kT0 + kSynCookiePeriod);
  EXPECT_FALSE(check_ok(sc, c, kT0 - kSynCookiePeriod));
}

// The time sits in the top bits: cookies for one tuple grow period by period.
TEST(SynCookie, TimeInTopBits) {
  const SynCookies sc{kKey};
  const Instant start = Instant::from_ns(kSynCookiePeriod.count_ns() * 64);  // t = 64, t mod 32 = 0
  for (int i = 0; i < 32; ++i) {
    const Seq32 c = sc.make(req(), start + kSynCookiePeriod * i);
    EXPECT_EQ(c.value() >> 27, static_cast<std::uint32_t>(i));
  }
}

TEST(SynCookieTs, RoundTripAllWindowScalesAndSack) {
  for (int ws = 0; ws <= 14; ++ws) {
    for (const bool sack : {false, true}) {
      const SynCookieTsOptions o{static_cast<std::uint8_t>(ws), sack};
      const std::uint32_t ts = encode_ts_options(123'456'789, o);
      const auto d = decode_ts_options(ts);
      ASSERT_TRUE(d.has_value()) << ws << " " << sack;
      EXPECT_EQ(*d, o) << "ws " << ws << " sack " << sack;
    }
  }
  for (const bool sack : {false, true}) {
    const SynCookieTsOptions none{std::nullopt, sack};
    const auto d = decode_ts_options(encode_ts_options(987'654'321, none));
    ASSERT_TRUE(d.has_value());
    EXPECT_FALSE(d->window_scale.has_value());
    EXPECT_EQ(d->sack_permitted, sack);
  }
}

// RFC 7323 §2.3: a shift above 14 is used as 14.
TEST(SynCookieTs, WindowScaleAbove14Clamped) {
  const auto d = decode_ts_options(encode_ts_options(1000, {std::uint8_t{15}, false}));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->window_scale, std::optional<std::uint8_t>{14});
}

// The TSval never runs ahead of our TS clock (later TSvals must not go
// backwards, RFC 7323 §5), and stays within one 64-tick step of it,
// including around the 2^32 wrap.
TEST(SynCookieTs, NeverAheadOfClock) {
  for (const std::uint32_t now : {0u, 1u, 63u, 64u, 1000u, 0x7fffffffu, 0xffffffc0u, 0xffffffffu}) {
    for (int ws = 0; ws <= 15; ++ws) {
      for (const bool sack : {false, true}) {
        const SynCookieTsOptions o{ws == 15 ? std::nullopt : std::optional<std::uint8_t>(ws), sack};
        const std::uint32_t ts = encode_ts_options(now, o);
        const std::uint32_t behind = now - ts;  // modular
        EXPECT_LT(behind, 64u) << "now " << now << " ws " << ws << " sack " << sack;
      }
    }
  }
}

TEST(SynCookieTs, ReservedBitRejected) {
  EXPECT_FALSE(decode_ts_options(0x20));
  EXPECT_FALSE(decode_ts_options(0xffffffff));
  EXPECT_TRUE(decode_ts_options(0xffffffdf));
}

}  // namespace
}  // namespace tern
