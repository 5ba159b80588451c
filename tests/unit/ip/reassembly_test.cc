// Fragment reassembly (RFC 791 §3.2, FragReassembler) and fragmentation of
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
  // A table of one datagram (frag_max_flows 1), the peer resolved, and two
  // echo requests of `data` in fragments of 32 bytes: a (id 1, seq 1) and
  // b (id 2, seq 2).
  struct TwoDatagrams {
    std::vector<Bytes> a, b;
  };
  TwoDatagrams one_entry_table(const Bytes& data) {
    settings_.ip.frag_max_flows = 1;
    resolve_peer(at_ms(0));
    return {fragments({.id = 1}, echo_request(1, 1, data), 32),
            fragments({.id = 2}, echo_request(2, 2, data), 32)};
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
  expect_frags_held(1);   // charged at truesize, not at its 504 bytes
  recv(frags[1], at_ms(2));
  expect_reply_to(5, 6, data);
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kIpReasmReqds), 2u);
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_frags_held(0);  // the whole chain uncharged when it came out
  EXPECT_EQ(mem_.peak(), 2 * kTruesize);
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
  expect_frags_held(2);
  recv(frags[o[2]], at_ms(3));
  expect_reply_to(1, 2, data);
  expect_nothing_sent();
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_frags_held(0);
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

// ---- datagrams of many fragments (frag_max_fragments, 64 by default) ------

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

// Records what the IP layer hands TCP over IPv4: the datagram, as a chain.
struct Capture4 : TransportInput {
  void on_ipv4(const Ipv4Delivery& d, Mbuf frame, Instant, FrameQueue&) override {
    deliveries.push_back(d);
    frames.push_back(bytes_of(frame.get()));
  }
  std::vector<Ipv4Delivery> deliveries;
  std::vector<Bytes> frames;
};

// The 30,000-byte datagram: 21 fragments at MTU 1500, more than
// rte_ip_frag's 8.
class BigDatagram : public Reassembly, public ::testing::WithParamInterface<Arrival> {
 protected:
  Capture4 tcp_;
};

TEST_P(BigDatagram, TwentyOneFragmentsAreReassembledWhateverTheOrder) {
  ip().set_tcp(&tcp_);
  const Bytes segment = pattern(30'000, 31);
  const auto frags = fragments({.protocol = kProtoTcp, .id = 0x3000}, segment, 1480);
  ASSERT_EQ(frags.size(), 21u);
  const auto order = arrival_order(frags.size(), GetParam());
  for (std::size_t i = 0; i + 1 < order.size(); ++i) recv(frags[order[i]], at_ms(1));
  EXPECT_TRUE(tcp_.frames.empty());
  expect_frags_held(20);
  recv(frags[order.back()], at_ms(2));
  ASSERT_EQ(tcp_.frames.size(), 1u);
  EXPECT_EQ(tcp_.deliveries[0].l4_offset, 14 + 20);
  EXPECT_EQ(tcp_.deliveries[0].l4_len, 30'000);
  const IpView v = parse_ip(std::span<const std::byte>(tcp_.frames[0]).subspan(14));
  EXPECT_EQ(v.total_length, 20 + 30'000);
  EXPECT_EQ(v.frag, 0) << "no offset, no MF";
  EXPECT_EQ(v.id, 0x3000);
  EXPECT_TRUE(v.checksum_ok) << "the rewritten header's checksum";
  EXPECT_TRUE(v.payload == segment) << "reassembled bytes differ";
  EXPECT_EQ(count(Counter::kIpReasmReqds), 21u);
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_frags_held(0);
}

INSTANTIATE_TEST_SUITE_P(Orders, BigDatagram,
                         ::testing::Values(Arrival::kInOrder, Arrival::kReversed, Arrival::kShuffled),
                         [](const auto& i) { return arrival_name(i.param); });

// Abandoned after 20 of 21 fragments: the timer alone gives every mbuf back.
TEST_F(Reassembly, TimeoutFreesEveryFragmentOfABigDatagram) {
  const auto frags = fragments({.protocol = kProtoUdp, .id = 0x3001}, pattern(30'000, 32), 1480);
  for (std::size_t i = 0; i + 1 < frags.size(); ++i) recv(frags[i], at_ms(1));
  expect_frags_held(20);
  timer(at_ms(1) + settings_.ip.frag_timeout);
  expect_frags_held(20);  // not yet: the timeout has not passed
  timer(at_ms(2) + settings_.ip.frag_timeout);
  expect_only_drop(Drop::kIpFragDiscarded, 20);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_frags_held(0);  // the pool is full again
}

TEST_F(Reassembly, MoreFragmentsThanFragMaxFragmentsAreDiscardedAndCounted) {
  settings_.ip.frag_max_fragments = 8;
  resolve_peer(at_ms(0));
  const auto frags = fragments({.id = 81}, echo_request(9, 9, pattern(9 * 64 - 8, 16)), 64);
  ASSERT_EQ(frags.size(), 9u);
  // Last and first first, so the ninth arrival is the one that overflows.
  send_fragments(frags, {8, 0, 1, 2, 3, 4, 5, 6}, at_ms(1));
  expect_nothing_sent();
  EXPECT_EQ(counters_.total_drops(), 0u);
  expect_frags_held(8);
  recv(frags[7], at_ms(1));
  expect_nothing_sent();
  expect_only_drop(Drop::kIpFragTooMany, 9);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_frags_held(0);  // nothing held: every piece was freed and uncharged
  // A copy of a fragment of the discarded datagram is dropped, not held.
  recv(frags[2], at_ms(2));
  EXPECT_EQ(drops(Drop::kIpFragDiscarded), 1u);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_frags_held(0);
}

// RFC 5722 §4 lets a receiver drop an exact copy alone; Linux does.
TEST_F(Reassembly, DuplicateFragmentIsDroppedAloneAndTheDatagramAnswered) {
  resolve_peer(at_ms(0));
  const Bytes data = pattern(1200, 33);
  const auto frags = fragments({.id = 82}, echo_request(2, 2, data), 512);
  ASSERT_EQ(frags.size(), 3u);
  send_fragments(frags, {0, 1, 1, 0, 2}, at_ms(1));
  expect_reply_to(2, 2, data);
  expect_only_drop(Drop::kIpFragDuplicate, 2);
  EXPECT_EQ(count(Counter::kIpReasmFails), 0u);
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1u);
  expect_frags_held(0);
}

// RFC 5722 §4: an overlap discards the datagram, and the fragments of it
// still to come are discarded too (until its timeout) rather than held.
TEST_F(Reassembly, OverlapDiscardsTheDatagramAndItsLaterFragments) {
  resolve_peer(at_ms(0));
  const Bytes data = pattern(1000, 34);
  const Bytes msg = echo_request(4, 4, data);
  recv(fragment_frame({.id = 83}, msg, 0, 512, true), at_ms(1));
  recv(fragment_frame({.id = 83}, msg, 256, 512, true), at_ms(1));
  expect_only_drop(Drop::kIpFragDiscarded, 2);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_frags_held(0);
  recv(fragment_frame({.id = 83}, msg, 768, 240, false), at_ms(2));
  recv(fragment_frame({.id = 83}, msg, 0, 768, true), at_ms(2));
  expect_nothing_sent();
  expect_only_drop(Drop::kIpFragDiscarded, 4);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_frags_held(0);
  // After the timeout the same identification is a new datagram.
  recv(fragment_frame({.id = 83}, msg, 0, 768, true), at_ms(1) + settings_.ip.frag_timeout + Duration::ms(1));
  recv(fragment_frame({.id = 83}, msg, 768, 240, false),
       at_ms(1) + settings_.ip.frag_timeout + Duration::ms(1));
  expect_reply_to(4, 4, data);
  expect_frags_held(0);
}

// A full table takes a new datagram in place of the oldest once that one
// has expired.
TEST_F(Reassembly, FullTableReusesAnExpiredEntry) {
  const Bytes data = pattern(64, 35);
  const auto [a, b] = one_entry_table(data);
  recv(a[0], at_ms(1));
  const Instant later = at_ms(2) + settings_.ip.frag_timeout;
  for (const Bytes& f : b) recv(f, later);
  expect_reply_to(2, 2, data);
  expect_only_drop(Drop::kIpFragDiscarded);  // a's fragment, timed out
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_frags_held(0);
}

TEST_F(Reassembly, FullTableDiscardsNewDatagrams) {
  const Bytes data = pattern(64, 17);
  const auto [a, b] = one_entry_table(data);
  recv(a[0], at_ms(1));
  recv(b[0], at_ms(1));  // no room for a second datagram
  expect_only_drop(Drop::kIpFragDiscarded);
  expect_frags_held(1);
  recv(a[1], at_ms(1));
  recv(a[2], at_ms(1));
  expect_reply_to(1, 1, data);
  expect_frags_held(0);
}

// The entry of a datagram discarded for an overlap keeps its later
// fragments out, but a full table takes it back for a new datagram.
TEST_F(Reassembly, FullTableReusesADiscardedDatagramsEntry) {
  const Bytes data = pattern(64, 36);
  const std::vector<Bytes> b = one_entry_table(data).b;
  const Bytes msg = echo_request(1, 1, data);  // 72 bytes
  recv(fragment_frame({.id = 1}, msg, 0, 40, true), at_ms(1));
  recv(fragment_frame({.id = 1}, msg, 32, 40, false), at_ms(1));  // overlaps 32..40
  expect_only_drop(Drop::kIpFragDiscarded, 2);
  for (const Bytes& f : b) recv(f, at_ms(2));
  expect_reply_to(2, 2, data);
  expect_only_drop(Drop::kIpFragDiscarded, 2);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_frags_held(0);
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
  expect_frags_held(1);
  // The second half arrives 30 s + 1 ms later: the first is thrown away.
  recv(frags[1], at_ms(31'001));
  expect_nothing_sent();
  expect_only_drop(Drop::kIpFragDiscarded);
  expect_frags_held(1);  // the late fragment starts a new datagram
  // A retransmitted first half completes that new datagram.
  recv(frags[0], at_ms(31'002));
  expect_reply_to(1, 1, data);
  expect_frags_held(0);
}

TEST_F(Reassembly, AbandonedDatagramIsFreedByTheTimerAfterTheTimeout) {
  settings_.ip.frag_timeout = Duration::s(30);
  resolve_peer(at_ms(0));
  const auto frags = fragments({.id = 92}, echo_request(1, 1, pattern(100, 20)), 56);
  recv(frags[0], at_ms(1'000));
  timer(at_ms(30'999));
  expect_frags_held(1);  // not yet: 30 s have not passed
  EXPECT_EQ(counters_.total_drops(), 0u);
  timer(at_ms(31'001));  // no further fragment arrives; the timer alone frees it
  expect_only_drop(Drop::kIpFragDiscarded);
  EXPECT_EQ(count(Counter::kIpReasmFails), 1u);
  expect_nothing_sent();
  expect_frags_held(0);
}

// ---- duplicates and overlaps ---------------------------------------------

struct Piece {
  std::size_t off, len;
  bool more;
};

// Each scenario sends these pieces of a 1008-byte echo request, in this order,
// all carrying the request's own bytes. Whatever reassembly decides, the stack
// must not crash or leak, and a reply, if any, must echo exactly the request.
// Exact duplicates are dropped alone (answered); overlaps discard.
struct Scenario {
  const char* name;
  bool answered;  // complete before anything inconsistent came
  std::vector<Piece> pieces;
};

const Scenario kScenarios[] = {
    {"DuplicateMiddle", true, {{0, 336, true}, {336, 336, true}, {336, 336, true}, {672, 336, false}}},
    {"DuplicateFirst", true, {{0, 336, true}, {0, 336, true}, {336, 336, true}, {672, 336, false}}},
    {"DuplicateLast", true, {{672, 336, false}, {672, 336, false}, {0, 336, true}, {336, 336, true}}},
    {"DuplicateAfterCompletion", true, {{0, 504, true}, {504, 504, false}, {504, 504, false}}},
    {"OverlapHead", false, {{0, 512, true}, {256, 512, true}, {768, 240, false}}},
    {"OverlapTail", false, {{0, 504, true}, {496, 512, false}}},
    {"Contained", false, {{0, 1008 - 8, true}, {400, 200, true}, {1000, 8, false}}},
    {"OverlapFillsHole", false, {{0, 336, true}, {672, 336, false}, {328, 352, true}}},
    {"TwoLastFragments", true, {{0, 504, true}, {504, 504, false}, {600, 408, false}}},
    {"ShorterLastAfterLonger", false, {{0, 504, true}, {496, 512, false}, {504, 504, false}}},
    // rte_ip_frag (before Tern's own) chained 504..672 to the last fragment
    // before it found the hole at 336..504 and put a chain on its death row.
    {"HoleFoundAfterChaining",
     false,
     {{0, 336, true}, {504, 168, true}, {504, 168, true}, {672, 336, false}}},
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
  EXPECT_EQ(replies, GetParam().answered ? 1u : 0u);
  EXPECT_EQ(drops(Drop::kIcmpBadChecksum), 0u) << "a datagram was delivered with bytes that were never sent";
  RecordProperty("replies", static_cast<int>(replies));
  RecordProperty("discarded", static_cast<int>(drops(Drop::kIpFragDiscarded)));
  // Every drop is a reassembly discard or a duplicate dropped alone.
  EXPECT_EQ(counters_.total_drops(), drops(Drop::kIpFragDiscarded) + drops(Drop::kIpFragDuplicate));
  // Whatever reassembly kept, chained or dropped, the charges match what it
  // still holds, and go back to exactly zero once that times out.
  out_.clear();
  expect_frags_held(rte_mempool_in_use_count(pool_) - baseline_);
  timer(at_ms(1 + 30'001));
  expect_frags_held(0);
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
    ASSERT_EQ(counters_.total_drops(),
              drops(Drop::kIpFragDiscarded) + drops(Drop::kIpFragMalformed) + drops(Drop::kIpFragDuplicate));
    ASSERT_NO_FATAL_FAILURE(expect_frags_held(rte_mempool_in_use_count(pool_) - baseline_));
  }
  timer(at_ms(1'000'000));
  expect_frags_held(0);
  // Both outcomes occur, so the property above was exercised both ways.
  EXPECT_GT(answered, 0);
  EXPECT_GT(discarded, 0);
  RecordProperty("answered", answered);
  RecordProperty("discarded", discarded);
}

// ---- memory: charged at truesize, bounded by frag_high_thresh ------------

// A 16-byte UDP datagram from `src` in two 8-byte halves.
Bytes half(std::uint32_t src, std::size_t i, bool first) {
  const Ip h{.src = src, .protocol = kProtoUdp, .id = static_cast<std::uint16_t>(i)};
  return first ? fragment_frame(h, pattern(16), 0, 8, true) : fragment_frame(h, pattern(16), 8, 8, false);
}
// A different spoofed source for each datagram of a flood.
std::uint32_t spoofed(std::size_t i) {
  return ip4(198, 18, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i));
}

TEST_F(Reassembly, FloodOfIncompleteDatagramsStaysUnderHighAndEvictsOldestFirst) {
  settings_.ip.frag_max_flows = 1024;  // the table is not what limits this flood
  settings_.ip.frag_high_thresh = 20 * kTruesize;
  settings_.ip.frag_low_thresh = 15 * kTruesize;
  constexpr std::size_t kFlood = 600;
  std::uint64_t peak = 0;
  for (std::size_t i = 0; i < kFlood; ++i) {
    // All in one RX burst, so all with one timestamp: order alone tells the oldest.
    recv(half(spoofed(i), i, true), at_ms(1));
    ASSERT_LE(ip().frag_held(), settings_.ip.frag_high_thresh) << "after datagram " << i;
    peak = std::max(peak, ip().frag_held());
  }
  EXPECT_EQ(peak, settings_.ip.frag_high_thresh);
  const auto held = static_cast<unsigned>(ip().frag_held() / kTruesize);
  expect_frags_held(held);
  EXPECT_GE(held * kTruesize, settings_.ip.frag_low_thresh);  // evicted down to low, not further
  EXPECT_EQ(drops(Drop::kIpFragEvicted), kFlood - held);      // one fragment per datagram here
  EXPECT_EQ(counters_.total_drops(), kFlood - held);
  EXPECT_EQ(count(Counter::kIpReasmFails), kFlood - held);  // one datagram per eviction

  // The newest datagram completes...
  recv(half(spoofed(kFlood - 1), kFlood - 1, false), at_ms(2));
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1u);
  // ...and so does every other survivor: they are the newest ones, newest to oldest.
  const auto survivors = static_cast<std::size_t>(ip().frag_held() / kTruesize);
  ASSERT_GT(survivors, 0u);
  for (std::size_t j = 1; j <= survivors; ++j)
    recv(half(spoofed(kFlood - 1 - j), kFlood - 1 - j, false), at_ms(2));
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1 + survivors);
  expect_frags_held(0);
  // The one just older was evicted: its second half waits alone.
  recv(half(spoofed(kFlood - 2 - survivors), kFlood - 2 - survivors, false), at_ms(2));
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1 + survivors);
  expect_frags_held(1);
  timer(at_ms(2 + 30'001));
  expect_frags_held(0);
}

// The flood in the issue: 7 of 8 fragments of each datagram, never the last.
// Memory is bounded whatever the shape, an eviction takes a whole datagram,
// and IpFragEvicted counts fragments.
TEST_F(Reassembly, FloodOfSevenFragmentDatagramsEvictsWholeDatagrams) {
  settings_.ip.frag_max_flows = 1024;
  settings_.ip.frag_high_thresh = 64 * kTruesize;
  settings_.ip.frag_low_thresh = 40 * kTruesize;
  constexpr std::size_t kFlood = 100;
  const Bytes udp = pattern(64);
  for (std::size_t i = 0; i < kFlood; ++i) {
    const Ip h{.src = spoofed(i), .protocol = kProtoUdp, .id = static_cast<std::uint16_t>(i)};
    for (std::size_t off = 0; off < 56; off += 8) {
      recv(fragment_frame(h, udp, off, 8, true), at_ms(static_cast<std::int64_t>(i)));
      ASSERT_LE(ip().frag_held(), settings_.ip.frag_high_thresh) << "datagram " << i << " offset " << off;
    }
  }
  const auto held = static_cast<unsigned>(ip().frag_held() / kTruesize);
  EXPECT_EQ(held % 7, 0u) << "a datagram was evicted in part";
  expect_frags_held(held);
  EXPECT_EQ(drops(Drop::kIpFragEvicted), 7 * kFlood - held);
  EXPECT_EQ(counters_.total_drops(), 7 * kFlood - held);
  // The newest datagram still completes with its last fragment.
  const Ip last{.src = spoofed(kFlood - 1), .protocol = kProtoUdp, .id = kFlood - 1};
  recv(fragment_frame(last, udp, 56, 8, false), at_ms(kFlood));
  EXPECT_EQ(count(Counter::kIpReasmOKs), 1u);
  expect_frags_held(held - 7);
}

// The numbers: spoofed fragments at 2,000 packets/s, 7 per datagram,
// for 10 s, against a pool of 1,023 mbufs and the default table of 1,024
// datagrams (room for 7,168 fragments). Without a bound the pool runs dry in
// a tenth of that; with the default frag_high_thresh (1 MiB, 455 mbufs)
// reassembly never holds more, and a real ping still gets through.
TEST_F(Reassembly, SpoofedFloodAtTheDefaultThresholdsLeavesThePoolUsable) {
  settings_.ip.frag_max_flows = 1024;
  ASSERT_EQ(settings_.ip.frag_high_thresh, 1u << 20);
  resolve_peer(at_ms(0));
  const Bytes udp = pattern(64);
  std::int64_t t_us = 0;
  for (std::size_t i = 0; i < 20'000 / 7; ++i) {
    const Ip h{.src = spoofed(i), .protocol = kProtoUdp, .id = static_cast<std::uint16_t>(i)};
    for (std::size_t off = 0; off < 56; off += 8, t_us += 500) {
      ASSERT_NO_FATAL_FAILURE(recv(fragment_frame(h, udp, off, 8, true), Instant::from_ns(t_us * 1000)));
      ASSERT_LE(ip().frag_held(), settings_.ip.frag_high_thresh);
    }
  }
  EXPECT_LE(rte_mempool_in_use_count(pool_) - baseline_, (1u << 20) / kTruesize);
  const Bytes data = pattern(1000, 21);
  const auto frags = fragments({.id = 0x7777}, echo_request(7, 7, data), 504);
  for (const Bytes& f : frags) recv(f, Instant::from_ns(t_us * 1000));
  expect_reply_to(7, 7, data);
  timer(Instant::from_ns(t_us * 1000) + Duration::s(31));
  expect_frags_held(0);
}

// set_mem_account hands what is held over to the new account; the layer's own
// count stays; destroying the layer returns the charges.
TEST_F(Reassembly, ChargesMoveWithTheAccountAndLeaveWithTheLayer) {
  const auto frags = fragments({.id = 5}, echo_request(1, 1, pattern(100)), 56);
  ASSERT_EQ(frags.size(), 2u);
  recv(frags[0], at_ms(1));
  expect_frags_held(1);
  MemAccount other;
  ip().set_mem_account(&other);
  EXPECT_EQ(mem_.charged(), 0u);
  EXPECT_EQ(other.charged(), kTruesize);
  ip().set_mem_account(nullptr);
  EXPECT_EQ(other.charged(), 0u);
  EXPECT_EQ(ip().frag_held(), kTruesize);
  ip().set_mem_account(&mem_);
  EXPECT_EQ(mem_.charged(), kTruesize);
  layer_.reset();
  EXPECT_EQ(mem_.charged(), 0u);
  expect_no_leaks();
}

}  // namespace
}  // namespace tern::testkit
