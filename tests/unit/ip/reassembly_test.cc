// Fragment reassembly (RFC 791 §3.2, DPDK rte_ip_frag) and fragmentation of
// oversize replies, on virtual time.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <random>

#include "ip_harness.h"

namespace tern::testkit {
namespace {

class Reassembly : public IpHarness {
 protected:
  // Sends the chosen fragments of `l4` (indices into fragments()) at `now`.
  void send_fragments(const std::vector<Bytes>& frags, std::initializer_list<std::size_t> order,
                      Instant now) {
    for (std::size_t i : order) recv(frags.at(i), now);
  }
  void expect_reply_to(std::uint16_t id, std::uint16_t seq, const Bytes& data) {
    const Reply r = expect_echo_reply();
    EXPECT_TRUE(r.ip.checksum_ok);
    EXPECT_TRUE(r.icmp.checksum_ok);
    EXPECT_EQ(r.ip.dst, kPeerIp);
    EXPECT_EQ(r.icmp.id, id);
    EXPECT_EQ(r.icmp.seq, seq);
    EXPECT_EQ(r.icmp.data.size(), data.size());
    EXPECT_TRUE(r.icmp.data == data) << "reply data differs from the request";
  }
};

TEST_F(Reassembly, TwoFragmentsInOrderAreAnswered) {
  resolve_peer(at_ms(0));
  const Bytes data = pattern(1000, 11);
  const Bytes msg = echo_request(5, 6, data);  // 1008 bytes
  const auto frags = fragments({.id = 77}, msg, 504);
  ASSERT_EQ(frags.size(), 2u);
  recv(frags[0], at_ms(1));
  expect_nothing_sent();  // held for the rest
  expect_no_leaks(/*held=*/1);
  recv(frags[1], at_ms(2));
  expect_reply_to(5, 6, data);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kIpReasmReqds), 2u);
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

class ThreeFragments : public Reassembly, public ::testing::WithParamInterface<std::array<std::size_t, 3>> {};

TEST_P(ThreeFragments, AnyArrivalOrderIsAnswered) {
  resolve_peer(at_ms(0));
  const Bytes data = pattern(1200, 12);
  const auto frags = fragments({.id = 78}, echo_request(1, 2, data), 512);  // 512 + 512 + 184
  ASSERT_EQ(frags.size(), 3u);
  const auto o = GetParam();
  recv(frags[o[0]], at_ms(1));
  recv(frags[o[1]], at_ms(2));
  expect_nothing_sent();
  recv(frags[o[2]], at_ms(3));
  expect_reply_to(1, 2, data);
  expect_nothing_sent();
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(
    Orders, ThreeFragments,
    ::testing::Values(std::array<std::size_t, 3>{0, 1, 2}, std::array<std::size_t, 3>{0, 2, 1},
                      std::array<std::size_t, 3>{1, 0, 2}, std::array<std::size_t, 3>{1, 2, 0},
                      std::array<std::size_t, 3>{2, 0, 1}, std::array<std::size_t, 3>{2, 1, 0}),
    [](const auto& i) {
      return "Order" + std::to_string(i.param[0]) + std::to_string(i.param[1]) + std::to_string(i.param[2]);
    });

TEST_F(Reassembly, FragmentsWithOptionsInTheFirstHeaderAreAnswered) {
  resolve_peer(at_ms(0));
  const Bytes data = pattern(600, 13);
  const Bytes msg = echo_request(3, 3, data);
  recv(fragment_frame({.id = 9, .options = Bytes(8, std::byte{1})}, msg, 0, 304, true), at_ms(1));
  recv(fragment_frame({.id = 9}, msg, 304, msg.size() - 304, false), at_ms(1));
  expect_reply_to(3, 3, data);
  expect_no_leaks();
}

TEST_F(Reassembly, LargePingIsAnsweredWithFragments) {
  with_indirect_pool();
  resolve_peer(at_ms(0));
  const Bytes data = pattern(4000, 14);
  const Bytes msg = echo_request(0x99, 1, data);  // 4008 bytes, as Linux "ping -s 4000" sends
  const auto frags = fragments({.id = 0x5151}, msg, 1480);
  ASSERT_EQ(frags.size(), 3u);
  for (const Bytes& f : frags) recv(f, at_ms(1));

  // Put the reply back together from what was sent, checking every fragment.
  std::map<std::size_t, Bytes> pieces;
  std::size_t total = 0;
  std::optional<std::uint16_t> id;
  while (sent_count() > 0) {
    const EthView eth = parse_eth(expect_sent());
    EXPECT_EQ(eth.dst, kPeerMac);
    EXPECT_EQ(eth.src, kOurMac);
    ASSERT_EQ(eth.type, kTypeIpv4);
    const IpView v = parse_ip(eth.payload);
    EXPECT_TRUE(v.checksum_ok);
    EXPECT_LE(v.total_length, 1500);
    EXPECT_EQ(eth.payload.size(), v.total_length);
    EXPECT_FALSE(v.df());
    EXPECT_EQ(v.src, kOurIp);
    EXPECT_EQ(v.dst, kPeerIp);
    EXPECT_EQ(v.protocol, kProtoIcmp);
    if (!id) id = v.id;
    EXPECT_EQ(v.id, *id) << "all fragments of one datagram share its id";
    if (v.mf()) {
      EXPECT_EQ(v.payload.size() % 8, 0u);
    }
    if (!v.mf()) total = v.offset() + v.payload.size();
    pieces[v.offset()] = v.payload;
  }
  ASSERT_GE(pieces.size(), 3u) << "4028 bytes do not fit a 1500-byte MTU in fewer";
  Bytes whole;
  for (const auto& [off, p] : pieces) {
    EXPECT_EQ(off, whole.size()) << "hole or overlap in the reply";
    append(whole, p);
  }
  EXPECT_EQ(whole.size(), total);
  const IcmpView r = parse_icmp(whole);
  EXPECT_EQ(r.type, 0);
  EXPECT_TRUE(r.checksum_ok);
  EXPECT_EQ(r.id, 0x99);
  EXPECT_EQ(r.seq, 1);
  EXPECT_TRUE(r.data == data);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(Reassembly, LargePingWithoutIndirectPoolIsReplyTooBig) {
  resolve_peer(at_ms(0));
  const auto frags = fragments({.id = 0x5152}, echo_request(1, 1, pattern(3000)), 1480);
  for (const Bytes& f : frags) recv(f, at_ms(1));
  expect_nothing_sent();
  expect_only_drop(Drop::kIpReplyTooBig);
  expect_no_leaks();
}

TEST_F(Reassembly, ReassembledUdpIsDeliveredToUdp) {
  const auto frags = fragments({.protocol = kProtoUdp, .id = 3}, pattern(800), 400);
  for (const Bytes& f : frags) recv(f, at_ms(1));
  expect_only_drop(Drop::kUdpNoListener);
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1u);
  expect_no_leaks();
}

// ---- the limits of RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) -------------------------

TEST_F(Reassembly, EightFragmentsAreAnswered) {
  resolve_peer(at_ms(0));
  const Bytes data = pattern(8 * 64 - 8, 15);
  const auto frags = fragments({.id = 80}, echo_request(8, 8, data), 64);
  ASSERT_EQ(frags.size(), 8u);
  for (const Bytes& f : frags) recv(f, at_ms(1));
  expect_reply_to(8, 8, data);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(Reassembly, NineFragmentsAreDiscardedAndCounted) {
  resolve_peer(at_ms(0));
  const auto frags = fragments({.id = 81}, echo_request(9, 9, pattern(9 * 64 - 8, 16)), 64);
  ASSERT_EQ(frags.size(), 9u);
  // Last and first first, so the ninth arrival is the one that overflows.
  send_fragments(frags, {8, 0, 1, 2, 3, 4, 5, 6}, at_ms(1));
  expect_nothing_sent();
  EXPECT_EQ(counters_.total_drops(), 0u);
  recv(frags[7], at_ms(1));
  expect_nothing_sent();
  expect_only_drop(Drop::kIpFragDiscarded, 9);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_no_leaks();  // nothing held: every piece was freed
}

TEST_F(Reassembly, FullTableDiscardsNewDatagrams) {
  settings_.ip.frag_max_flows = 1;
  resolve_peer(at_ms(0));
  const Bytes data = pattern(64, 17);
  const auto a = fragments({.id = 1}, echo_request(1, 1, data), 32);
  const auto b = fragments({.id = 2}, echo_request(2, 2, data), 32);
  recv(a[0], at_ms(1));
  recv(b[0], at_ms(1));  // no room for a second datagram
  expect_only_drop(Drop::kIpFragDiscarded);
  recv(a[1], at_ms(1));
  recv(a[2], at_ms(1));
  expect_reply_to(1, 1, data);
  expect_no_leaks();
}

// ---- timeouts on virtual time --------------------------------------------

TEST_F(Reassembly, DatagramCompletedJustBeforeTheTimeoutIsAnswered) {
  settings_.ip.frag_timeout = Duration::s(30);
  resolve_peer(at_ms(0));
  const Bytes data = pattern(100, 18);
  const auto frags = fragments({.id = 90}, echo_request(1, 1, data), 56);
  recv(frags[0], at_ms(1'000));
  recv(frags[1], at_ms(30'999));
  expect_reply_to(1, 1, data);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_no_leaks();
}

TEST_F(Reassembly, IncompleteDatagramExpiresAfterTheTimeout) {
  settings_.ip.frag_timeout = Duration::s(30);
  resolve_peer(at_ms(0));
  const Bytes data = pattern(100, 19);
  const auto frags = fragments({.id = 91}, echo_request(1, 1, data), 56);
  recv(frags[0], at_ms(1'000));
  expect_no_leaks(/*held=*/1);
  // The second half arrives 30 s + 1 ms later: the first is thrown away.
  recv(frags[1], at_ms(31'001));
  expect_nothing_sent();
  expect_only_drop(Drop::kIpFragDiscarded);
  expect_no_leaks(/*held=*/1);  // the late fragment starts a new datagram
  // A retransmitted first half completes that new datagram.
  recv(frags[0], at_ms(31'002));
  expect_reply_to(1, 1, data);
  expect_no_leaks();
}

TEST_F(Reassembly, AbandonedDatagramIsFreedByTheTimerAfterTheTimeout) {
  settings_.ip.frag_timeout = Duration::s(30);
  resolve_peer(at_ms(0));
  const auto frags = fragments({.id = 92}, echo_request(1, 1, pattern(100, 20)), 56);
  recv(frags[0], at_ms(1'000));
  timer(at_ms(30'999));
  expect_no_leaks(/*held=*/1);  // not yet: 30 s have not passed
  EXPECT_EQ(counters_.total_drops(), 0u);
  timer(at_ms(31'001));  // no further fragment arrives; the timer alone frees it
  expect_only_drop(Drop::kIpFragDiscarded);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_nothing_sent();
  expect_no_leaks();
}

// ---- duplicates and overlaps ---------------------------------------------

struct Piece {
  std::size_t off, len;
  bool more;
};

// Each scenario sends these pieces of a 1008-byte echo request, in this order,
// all carrying the request's own bytes. Whatever rte_ip_frag decides, the stack
// must not crash or leak, and a reply, if any, must echo exactly the request.
struct Scenario {
  const char* name;
  std::vector<Piece> pieces;
};

const Scenario kScenarios[] = {
    {"DuplicateMiddle", {{0, 336, true}, {336, 336, true}, {336, 336, true}, {672, 336, false}}},
    {"DuplicateFirst", {{0, 336, true}, {0, 336, true}, {336, 336, true}, {672, 336, false}}},
    {"DuplicateLast", {{672, 336, false}, {672, 336, false}, {0, 336, true}, {336, 336, true}}},
    {"DuplicateAfterCompletion", {{0, 504, true}, {504, 504, false}, {504, 504, false}}},
    {"OverlapHead", {{0, 512, true}, {256, 512, true}, {768, 240, false}}},
    {"OverlapTail", {{0, 504, true}, {496, 512, false}}},
    {"Contained", {{0, 1008 - 8, true}, {400, 200, true}, {1000, 8, false}}},
    {"OverlapFillsHole", {{0, 336, true}, {672, 336, false}, {328, 352, true}}},
    {"TwoLastFragments", {{0, 504, true}, {504, 504, false}, {600, 408, false}}},
    {"ShorterLastAfterLonger", {{0, 504, true}, {496, 512, false}, {504, 504, false}}},
};

class Overlaps : public Reassembly, public ::testing::WithParamInterface<Scenario> {};

TEST_P(Overlaps, NeverCrashLeakOrAnswerWithWrongBytes) {
  resolve_peer(at_ms(0));
  const Bytes data = pattern(1000, 20);
  const Bytes msg = echo_request(4, 4, data);
  for (const Piece& p : GetParam().pieces)
    recv(fragment_frame({.id = 92}, msg, p.off, p.len, p.more), at_ms(1));
  const std::size_t replies = sent_count();
  for (std::size_t i = 0; i < replies; ++i) expect_reply_to(4, 4, data);
  EXPECT_LE(replies, 1u);
  EXPECT_EQ(drops(Drop::kIcmpBadChecksum), 0u) << "a datagram was delivered with bytes that were never sent";
  RecordProperty("replies", static_cast<int>(replies));
  RecordProperty("discarded", static_cast<int>(drops(Drop::kIpFragDiscarded)));
  // Every drop is a reassembly discard; nothing else went wrong.
  EXPECT_EQ(counters_.total_drops(), drops(Drop::kIpFragDiscarded));
  // Whatever is still held dies with the layer (TearDown checks the pool).
}

INSTANTIATE_TEST_SUITE_P(All, Overlaps, ::testing::ValuesIn(kScenarios),
                         [](const auto& i) { return std::string(i.param.name); });

// Seeded random fragment trains: random cuts, duplicates, overlapping
// re-sends and any order. With every copy carrying the original bytes, any
// datagram the layer delivers must be the original one.
TEST_F(Reassembly, RandomDuplicatesAndOverlapsNeverDeliverWrongBytes) {
  settings_.ip.frag_timeout = Duration::s(1);
  settings_.arp.entry_ttl = Duration::s(3600);  // the trace spans 600 s of virtual time
  resolve_peer(at_ms(0));
  int answered = 0, discarded = 0;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    const std::size_t n_data = 100 + rng() % 1200;
    const Bytes data = pattern(n_data, seed);
    const Bytes msg = echo_request(static_cast<std::uint16_t>(seed), 1, data);
    const std::size_t units = (msg.size() + 7) / 8;
    // Cut points in 8-byte units.
    std::vector<Piece> pieces;
    for (std::size_t at = 0; at < msg.size();) {
      const std::size_t len = std::min<std::size_t>(8 * (1 + rng() % 40), msg.size() - at);
      pieces.push_back({at, len, at + len < msg.size()});
      at += len;
    }
    // Extra copies: exact duplicates and overlapping ranges.
    const std::size_t extras = rng() % 3;
    for (std::size_t e = 0; e < extras; ++e) {
      if (rng() % 2 == 0) {
        pieces.push_back(pieces[rng() % pieces.size()]);
      } else {
        const std::size_t off = 8 * (rng() % units);
        if (off >= msg.size()) continue;
        std::size_t len = std::min<std::size_t>(8 * (1 + rng() % 40), msg.size() - off);
        pieces.push_back({off, len, off + len < msg.size()});
      }
    }
    std::shuffle(pieces.begin(), pieces.end(), rng);
    const Instant now = at_ms(static_cast<std::int64_t>(seed) * 2'000);  // older datagrams have expired
    const std::uint64_t before = drops(Drop::kIpFragDiscarded);
    for (const Piece& p : pieces)
      recv(fragment_frame({.id = static_cast<std::uint16_t>(seed)}, msg, p.off, p.len, p.more), now);
    const std::size_t replies = sent_count();
    for (std::size_t i = 0; i < replies; ++i) expect_reply_to(static_cast<std::uint16_t>(seed), 1, data);
    answered += replies > 0;
    discarded += drops(Drop::kIpFragDiscarded) > before;
    ASSERT_EQ(drops(Drop::kIcmpBadChecksum), 0u);
    ASSERT_EQ(counters_.total_drops(), drops(Drop::kIpFragDiscarded) + drops(Drop::kIpFragMalformed));
  }
  // Both outcomes occur, so the property above was exercised both ways.
  EXPECT_GT(answered, 0);
  EXPECT_GT(discarded, 0);
  RecordProperty("answered", answered);
  RecordProperty("discarded", discarded);
}

}  // namespace
}  // namespace tern::testkit
