// TIME_WAIT table (lib/tcp/time_wait.h) on virtual time: bookkeeping, the
// tcp_max_tw_buckets cap, expiry at exactly 2MSL, a seeded model check
// against std::map, and the RFC 6191 / RFC 9293 §3.10.7.4 verdicts.
#include "tcp/time_wait.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <tuple>
#include <vector>

#include "wire/tcp.h"

namespace tern {
namespace {

constexpr Duration kTwoMsl = Duration::s(60);  // Linux TCP_TIMEWAIT_LEN
constexpr Instant kT0 = Instant::from_ns(3'600'000'000'000);

FourTuple tuple(std::uint16_t rport, std::uint32_t raddr = 0x0a000002) {
  return FourTuple::v4(0x0a000001, raddr, 80, rport);
}

// 2001:db8::1 <- 2001:db8::<raddr>, port 80.
FourTuple tuple6(std::uint16_t rport, std::uint32_t raddr = 0x0a000002) {
  return FourTuple{IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                   IpAddr::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
                               static_cast<std::uint8_t>(raddr >> 24), static_cast<std::uint8_t>(raddr >> 16),
                               static_cast<std::uint8_t>(raddr >> 8), static_cast<std::uint8_t>(raddr)}),
                   80, rport};
}

TimeWaitRecord record(const FourTuple& t, std::uint32_t rcv_nxt = 1000) {
  TimeWaitRecord r;
  r.tuple = t;
  r.rcv_nxt = Seq32{rcv_nxt};
  r.snd_nxt = Seq32{5000};
  r.window = 512;
  return r;
}

// addr_is_v4 (two words against constants) agrees with IpAddr::is_v4 (the
// bytes one at a time) for IPv4 addresses, and for an IPv6 address that
// differs from the ::ffff:0:0/96 prefix in any one byte of it.
TEST(AddrIsV4, AgreesWithIpAddrOnEveryPrefixByte) {
  for (const std::uint32_t a : {0u, 1u, 0x0a000001u, 0xffffffffu}) {
    EXPECT_TRUE(addr_is_v4(IpAddr::v4(a))) << a;
    EXPECT_EQ(addr_v4_host(IpAddr::v4(a)), a);
  }
  const IpAddr mapped = IpAddr::v4(0x0a000001);
  for (std::size_t i = 0; i < 12; ++i) {
    for (const std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
      std::array<std::uint8_t, 16> b{};
      std::copy(mapped.bytes().begin(), mapped.bytes().end(), b.begin());
      b[i] ^= flip;
      const IpAddr v6 = IpAddr::v6(b);
      EXPECT_FALSE(v6.is_v4()) << i;
      EXPECT_FALSE(addr_is_v4(v6)) << "byte " << i << " ^ " << int{flip};
    }
  }
}

TEST(TimeWaitTable, InsertFindErase) {
  TimeWaitTable tw{4, kTwoMsl};
  EXPECT_EQ(tw.find(tuple(1)), nullptr);
  EXPECT_EQ(tw.insert(record(tuple(1), 111), kT0), TwInsert::kInserted);
  EXPECT_EQ(tw.insert(record(tuple(2), 222), kT0), TwInsert::kInserted);
  EXPECT_EQ(tw.size(), 2u);
  const TimeWaitRecord* r = tw.find(tuple(1));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->rcv_nxt, Seq32{111});
  EXPECT_EQ(r->snd_nxt, Seq32{5000});
  EXPECT_EQ(r->window, 512);
  EXPECT_EQ(r->expiry, kT0 + kTwoMsl);                // set by the table
  EXPECT_EQ(tw.find(tuple(1, 0x0a000003)), nullptr);  // same ports, other peer
  tw.erase(tuple(1));
  EXPECT_EQ(tw.find(tuple(1)), nullptr);
  ASSERT_NE(tw.find(tuple(2)), nullptr);
  EXPECT_EQ(tw.find(tuple(2))->rcv_nxt, Seq32{222});
  tw.erase(tuple(1));  // absent: no-op
  EXPECT_EQ(tw.size(), 1u);
}

// With the tuple's hash passed in (one hash shared with the connection
// table under the same seed): the same records as the plain calls.
TEST(TimeWaitTable, HashedOverloadsAgreeWithPlain) {
  TimeWaitTable tw{4, kTwoMsl, 77};
  EXPECT_EQ(tw.hash(tuple(1)), hash_four_tuple(tuple(1), 77));
  EXPECT_EQ(tw.insert(record(tuple(1), 111), kT0, tw.hash(tuple(1))), TwInsert::kInserted);
  ASSERT_NE(tw.find(tuple(1)), nullptr);
  EXPECT_EQ(tw.find(tuple(1))->rcv_nxt, Seq32{111});
  EXPECT_EQ(tw.insert(record(tuple(2), 222), kT0), TwInsert::kInserted);
  ASSERT_NE(tw.find(tuple(2), tw.hash(tuple(2))), nullptr);
  EXPECT_EQ(tw.find(tuple(2), tw.hash(tuple(2)))->rcv_nxt, Seq32{222});
  EXPECT_EQ(tw.find(tuple(3), tw.hash(tuple(3))), nullptr);
  tw.erase(tuple(1));
  EXPECT_EQ(tw.find(tuple(1), tw.hash(tuple(1))), nullptr);
}

TEST(TimeWaitTable, ReinsertReplacesAndRestarts) {
  TimeWaitTable tw{2, kTwoMsl};
  ASSERT_EQ(tw.insert(record(tuple(1), 1), kT0), TwInsert::kInserted);
  ASSERT_EQ(tw.insert(record(tuple(1), 2), kT0 + Duration::s(10)), TwInsert::kInserted);
  EXPECT_EQ(tw.size(), 1u);
  EXPECT_EQ(tw.find(tuple(1))->rcv_nxt, Seq32{2});
  EXPECT_EQ(tw.find(tuple(1))->expiry, kT0 + Duration::s(10) + kTwoMsl);
}

TEST(TimeWaitTable, OverflowDoesNotEvict) {
  TimeWaitTable tw{3, kTwoMsl};
  for (std::uint16_t p = 1; p <= 3; ++p) ASSERT_EQ(tw.insert(record(tuple(p)), kT0), TwInsert::kInserted);
  EXPECT_EQ(tw.insert(record(tuple(4)), kT0), TwInsert::kOverflow);
  EXPECT_EQ(tw.size(), 3u);
  EXPECT_EQ(tw.find(tuple(4)), nullptr);
  for (std::uint16_t p = 1; p <= 3; ++p) EXPECT_NE(tw.find(tuple(p)), nullptr) << p;
  // Replacing a present tuple is not an overflow.
  EXPECT_EQ(tw.insert(record(tuple(2)), kT0), TwInsert::kInserted);
  tw.erase(tuple(1));
  EXPECT_EQ(tw.insert(record(tuple(4)), kT0), TwInsert::kInserted);
}

TEST(TimeWaitTable, ZeroCapacityAlwaysOverflows) {
  TimeWaitTable tw{0, kTwoMsl};
  EXPECT_EQ(tw.insert(record(tuple(1)), kT0), TwInsert::kOverflow);
  EXPECT_EQ(tw.find(tuple(1)), nullptr);
  EXPECT_EQ(tw.expire(kT0 + kTwoMsl), 0u);
}

TEST(TimeWaitTable, ExpiresExactlyAtTwoMsl) {
  TimeWaitTable tw{8, kTwoMsl};
  ASSERT_EQ(tw.insert(record(tuple(1)), kT0), TwInsert::kInserted);
  ASSERT_EQ(tw.insert(record(tuple(2)), kT0 + Duration::ms(1)), TwInsert::kInserted);
  EXPECT_EQ(tw.next_expiry(), kT0 + kTwoMsl);
  EXPECT_EQ(tw.expire(kT0 + kTwoMsl - Duration::ns(1)), 0u);
  EXPECT_NE(tw.find(tuple(1)), nullptr);
  EXPECT_EQ(tw.expire(kT0 + kTwoMsl), 1u);
  EXPECT_EQ(tw.find(tuple(1)), nullptr);
  EXPECT_NE(tw.find(tuple(2)), nullptr);
  EXPECT_EQ(tw.next_expiry(), kT0 + Duration::ms(1) + kTwoMsl);
  EXPECT_EQ(tw.expire(kT0 + Duration::ms(1) + kTwoMsl), 1u);
  EXPECT_EQ(tw.size(), 0u);
  EXPECT_EQ(tw.next_expiry(), Instant::max());
}

TEST(TimeWaitTable, RestartPushesExpiry) {
  TimeWaitTable tw{8, kTwoMsl};
  TimeWaitRecord r = record(tuple(1));
  r.ts_enabled = true;
  r.ts_recent = 100;
  ASSERT_EQ(tw.insert(r, kT0), TwInsert::kInserted);
  ASSERT_EQ(tw.insert(record(tuple(2)), kT0 + Duration::s(1)), TwInsert::kInserted);
  // The peer retransmits its FIN 30 s in.
  const Instant t_fin = kT0 + Duration::s(30);
  ASSERT_EQ(TimeWaitTable::classify(*tw.find(tuple(1)), kTcpFin | kTcpAck, Seq32{999}, 101u),
            TwVerdict::kAckAndRestart);
  EXPECT_TRUE(tw.restart(tuple(1), t_fin, 101u));
  EXPECT_EQ(tw.find(tuple(1))->ts_recent, 101u);
  EXPECT_EQ(tw.find(tuple(1))->expiry, t_fin + kTwoMsl);
  EXPECT_EQ(tw.next_expiry(), kT0 + Duration::s(1) + kTwoMsl);  // tuple 2 is now first
  EXPECT_EQ(tw.expire(kT0 + kTwoMsl), 0u);                      // the original deadline passes
  EXPECT_NE(tw.find(tuple(1)), nullptr);
  EXPECT_EQ(tw.expire(t_fin + kTwoMsl - Duration::ns(1)), 1u);  // only tuple 2
  EXPECT_NE(tw.find(tuple(1)), nullptr);
  EXPECT_EQ(tw.expire(t_fin + kTwoMsl), 1u);
  EXPECT_EQ(tw.size(), 0u);
  EXPECT_FALSE(tw.restart(tuple(1), t_fin + kTwoMsl));
}

// Thousands of random operations against a std::map model; small port and
// address ranges so that the same tuples come back, and a capacity the
// workload keeps hitting so that overflow and backward-shift deletion run.
TEST(TimeWaitTable, RandomOperationsMatchModel) {
  for (std::uint32_t seed : {1u, 2u, 3u, 42u}) {
    std::mt19937 rng{seed};
    constexpr std::uint32_t kCap = 200;
    TimeWaitTable tw{kCap, kTwoMsl, seed * 0x9e3779b97f4a7c15ULL};
    using Key = std::tuple<IpAddr, IpAddr, std::uint16_t, std::uint16_t>;
    std::map<Key, std::pair<std::uint32_t, Instant>> model;  // rcv_nxt, expiry
    auto key = [](const FourTuple& t) { return Key{t.laddr, t.raddr, t.lport, t.rport}; };
    Instant now = kT0;
    for (int op = 0; op < 20'000; ++op) {
      // Both families, with the same low 32 address bits.
      const auto rport = static_cast<std::uint16_t>(rng() % 300);
      const std::uint32_t raddr = 0x0a000000 + rng() % 3;
      const FourTuple t = rng() % 2 == 0 ? tuple(rport, raddr) : tuple6(rport, raddr);
      switch (rng() % 10) {
        case 0:
        case 1:
        case 2:
        case 3: {
          const std::uint32_t v = rng();
          const TwInsert res = tw.insert(record(t, v), now);
          auto it = model.find(key(t));
          if (it != model.end() || model.size() < kCap) {
            ASSERT_EQ(res, TwInsert::kInserted);
            model[key(t)] = {v, now + kTwoMsl};
          } else {
            ASSERT_EQ(res, TwInsert::kOverflow);
          }
          break;
        }
        case 4:
        case 5:
          tw.erase(t);
          model.erase(key(t));
          break;
        case 6: {
          const bool present = model.count(key(t)) != 0;
          ASSERT_EQ(tw.restart(t, now), present);
          if (present) model[key(t)].second = now + kTwoMsl;
          break;
        }
        case 7: {
          now = now + Duration::ms(static_cast<std::int64_t>(rng() % 2000));
          std::size_t expected = 0;
          for (auto it = model.begin(); it != model.end();) {
            if (it->second.second <= now) {
              it = model.erase(it);
              ++expected;
            } else {
              ++it;
            }
          }
          ASSERT_EQ(tw.expire(now), expected) << "seed " << seed << " op " << op;
          break;
        }
        default: {
          const TimeWaitRecord* r = tw.find(t);
          auto it = model.find(key(t));
          ASSERT_EQ(r != nullptr, it != model.end()) << "seed " << seed << " op " << op;
          if (r) {
            ASSERT_EQ(r->rcv_nxt, Seq32{it->second.first});
            ASSERT_EQ(r->expiry, it->second.second);
          }
        }
      }
      ASSERT_EQ(tw.size(), model.size());
    }
    // Everything in the model is findable at the end.
    for (const auto& [k, v] : model) {
      const FourTuple t{std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k)};
      ASSERT_NE(tw.find(t), nullptr);
      EXPECT_EQ(tw.find(t)->rcv_nxt, Seq32{v.first});
    }
  }
}

// --- RFC 6191 / RFC 9293 §3.10.7.4 verdicts ---

TimeWaitRecord ts_record(std::uint32_t ts_recent) {
  TimeWaitRecord r = record(tuple(1), 1000);
  r.ts_enabled = true;
  r.ts_recent = ts_recent;
  return r;
}

TEST(TimeWaitClassify, SynWithHigherSeqReopens) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{1001}, std::nullopt), TwVerdict::kAcceptNewSyn);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{1000 + 0x7fff0000}, std::nullopt),
            TwVerdict::kAcceptNewSyn);
}

TEST(TimeWaitClassify, SynWithHigherSeqAcrossWrapReopens) {
  const TimeWaitRecord r = record(tuple(1), 0xfffffff0);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{5}, std::nullopt), TwVerdict::kAcceptNewSyn);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{0xffffffe0}, std::nullopt), TwVerdict::kSendAck);
}

// RFC 6191 §2 says "otherwise, silently drop the incoming SYN segment";
// RFC 5961 §4 a challenge ACK, as Linux sends (docs/tcp/time_wait.md).
TEST(TimeWaitClassify, SynWithLowerOrEqualSeqGetsChallengeAck) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{1000}, std::nullopt), TwVerdict::kSendAck);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{999}, std::nullopt), TwVerdict::kSendAck);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{1}, std::nullopt), TwVerdict::kSendAck);
}

// SYN+FIN never opens a new incarnation: challenge ACK at any sequence number.
TEST(TimeWaitClassify, SynFinGetsChallengeAck) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn | kTcpFin, Seq32{1000}, std::nullopt), TwVerdict::kSendAck);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn | kTcpFin, Seq32{5000}, std::nullopt), TwVerdict::kSendAck);
}

TEST(TimeWaitClassify, SynWithNewerTsvalReopensEvenWithLowerSeq) {
  const TimeWaitRecord r = ts_record(5000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{10}, 5001u), TwVerdict::kAcceptNewSyn);
  // Modular (RFC 7323 §5.2): a TSval that wrapped past 2^32 is still newer.
  const TimeWaitRecord w = ts_record(0xffffff00);
  EXPECT_EQ(TimeWaitTable::classify(w, kTcpSyn, Seq32{10}, 0x10u), TwVerdict::kAcceptNewSyn);
}

TEST(TimeWaitClassify, SynWithOlderTsvalIsChallengedEvenWithHigherSeq) {
  const TimeWaitRecord r = ts_record(5000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{10}, 4999u), TwVerdict::kSendAck);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{2000}, 4999u), TwVerdict::kSendAck);
}

// RFC 6191 §2: equal TSval falls back to the sequence number.
TEST(TimeWaitClassify, SynWithEqualTsvalUsesSeq) {
  const TimeWaitRecord r = ts_record(5000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{2000}, 5000u), TwVerdict::kAcceptNewSyn);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{900}, 5000u), TwVerdict::kSendAck);
}

// RFC 6191 §2: old incarnation without timestamps, new SYN with them: honour.
TEST(TimeWaitClassify, SynWithTimestampsAfterConnectionWithoutReopens) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn, Seq32{10}, 1u), TwVerdict::kAcceptNewSyn);
}

TEST(TimeWaitClassify, SynAckGetsAck) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpSyn | kTcpAck, Seq32{5000}, std::nullopt), TwVerdict::kSendAck);
}

TEST(TimeWaitClassify, RetransmittedFinAcksAndRestarts) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpFin | kTcpAck, Seq32{999}, std::nullopt),
            TwVerdict::kAckAndRestart);
  // With data before the FIN.
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpFin | kTcpAck | kTcpPsh, Seq32{899}, std::nullopt),
            TwVerdict::kAckAndRestart);
  // RFC 7323 §5.3: an old TSval fails PAWS, ACKed but no restart.
  EXPECT_EQ(TimeWaitTable::classify(ts_record(5000), kTcpFin | kTcpAck, Seq32{999}, 4000u),
            TwVerdict::kSendAck);
  EXPECT_EQ(TimeWaitTable::classify(ts_record(5000), kTcpFin | kTcpAck, Seq32{999}, 5000u),
            TwVerdict::kAckAndRestart);
}

TEST(TimeWaitClassify, OldOrOutOfWindowSegmentsGetAck) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpAck, Seq32{500}, std::nullopt), TwVerdict::kSendAck);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpAck | kTcpPsh, Seq32{1500}, std::nullopt), TwVerdict::kSendAck);
}

// Never ACK an ACK: two TIME_WAITs after a simultaneous close would loop.
TEST(TimeWaitClassify, InSequenceBareAckIsDropped) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpAck, Seq32{1000}, std::nullopt), TwVerdict::kDrop);
}

// RFC 9293 §3.10.7.4 eighth step, TIME-WAIT: an acceptable FIN is ACKed and
// restarts 2MSL, at RCV.NXT or further into the window.
TEST(TimeWaitClassify, AcceptableFinAcksAndRestarts) {
  const TimeWaitRecord r = record(tuple(1), 1000);  // window 512
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpFin | kTcpAck, Seq32{1000}, std::nullopt),
            TwVerdict::kAckAndRestart);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpFin | kTcpAck, Seq32{1511}, std::nullopt),
            TwVerdict::kAckAndRestart);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpFin | kTcpAck, Seq32{1512}, std::nullopt), TwVerdict::kSendAck);
  TimeWaitRecord scaled = r;
  scaled.rcv_wscale = 2;  // RCV.WND 2048
  EXPECT_EQ(TimeWaitTable::classify(scaled, kTcpFin | kTcpAck, Seq32{2000}, std::nullopt),
            TwVerdict::kAckAndRestart);
}

// RFC 9293 §3.10.7.4 fifth step: an acceptable segment without ACK is
// dropped; an unacceptable one still gets the first step's ACK.
TEST(TimeWaitClassify, AcceptableSegmentWithoutAckIsDropped) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpFin, Seq32{1000}, std::nullopt), TwVerdict::kDrop);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpPsh, Seq32{1000}, std::nullopt, 10), TwVerdict::kDrop);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpFin, Seq32{999}, std::nullopt), TwVerdict::kSendAck);
  EXPECT_EQ(TimeWaitTable::classify(r, 0, Seq32{2000}, std::nullopt), TwVerdict::kSendAck);
}

// Text in TIME-WAIT (or an ACK beyond RCV.NXT) is answered, as Linux does;
// with a zero window nothing but SEG.SEQ = RCV.NXT, zero length, is acceptable.
TEST(TimeWaitClassify, TextIsAckedZeroWindowAcceptsOnlyRcvNxt) {
  TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpAck | kTcpPsh, Seq32{1000}, std::nullopt, 10),
            TwVerdict::kSendAck);
  r.window = 0;
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpAck, Seq32{1000}, std::nullopt), TwVerdict::kDrop);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpFin, Seq32{1000}, std::nullopt), TwVerdict::kSendAck);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpAck, Seq32{1001}, std::nullopt), TwVerdict::kSendAck);
}

// Linux tcp_rfc1337 = 0: an exactly in-sequence RST ends TIME_WAIT.
TEST(TimeWaitClassify, RstAtRcvNxtDeletesOthersIgnored) {
  const TimeWaitRecord r = record(tuple(1), 1000);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpRst, Seq32{1000}, std::nullopt), TwVerdict::kRstReceived);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpRst | kTcpAck, Seq32{1000}, std::nullopt),
            TwVerdict::kRstReceived);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpRst, Seq32{1001}, std::nullopt), TwVerdict::kDrop);
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpRst, Seq32{999}, std::nullopt), TwVerdict::kDrop);
  // RFC 7323 §5.2: RSTs are acceptable regardless of their timestamp.
  EXPECT_EQ(TimeWaitTable::classify(ts_record(5000), kTcpRst, Seq32{1000}, 1u), TwVerdict::kRstReceived);
  // An RST+SYN is an RST, never a reopen.
  EXPECT_EQ(TimeWaitTable::classify(r, kTcpRst | kTcpSyn, Seq32{2000}, std::nullopt), TwVerdict::kDrop);
}

}  // namespace
}  // namespace tern
