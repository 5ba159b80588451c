// The per-connection frame prefix (lib/ip/frame_prefix.h, TcpStack::
// prefix_fresh): a connection's segments start with Ethernet and IP
// headers the sink built once (IPv4 or IPv6); the engine must build a new one whenever the
// sink says the old one went stale (its generation moved: the next hop's
// MAC changed) or it expired (its neighbour entry's lifetime), and send
// through the full path where the sink builds none.
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

class FramePrefixes : public TcpHarness {
 protected:
  void SetUp() override {
    TcpHarness::SetUp();
    use_prefixes();
  }
  // An established connection whose first 100 bytes went out behind the
  // first prefix and are ACKed at `acked_at`; the next send builds anew
  // or reuses it.
  Tcb* first_hundred_sent_and_acked(Instant acked_at) {
    Tcb* c = establish_passive();
    if (c == nullptr) return nullptr;
    EXPECT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
    const Sent d = expect_sent(seg().data(100));
    EXPECT_TRUE(d.prefixed);
    EXPECT_EQ(d.eth_dst, prefix_mac_);
    recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 101), acked_at);
    return c;
  }
};

constexpr MacAddr kNewHopMac{{0x02, 0, 0, 0, 0, 0x0C}};

// Data segments and ACKs go out behind the prefix, built once for the
// connection; the handshake's SYN-ACK takes the full path.
TEST_F(FramePrefixes, SegmentsCarryThePrefixBuiltOnce) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(500), at_ms(10)), 500u);
  const Sent d = expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).data(500));
  EXPECT_TRUE(d.prefixed);
  EXPECT_EQ(d.eth_dst, prefix_mac_);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 501).data(100), at_ms(11));
  const Sent a = expect_sent(seg().flags(kTcpAck).ack(irs() + 101));
  EXPECT_TRUE(a.prefixed);
  EXPECT_EQ(prefixes_built_, 1u) << "built for the first segment, then reused";
}

// The hop's MAC changed (the sink's generation moved): the next segment
// carries the new MAC. Without the generation check it would still go to
// the old one.
TEST_F(FramePrefixes, ANewGenerationRebuildsThePrefix) {
  Tcb* c = first_hundred_sent_and_acked(at_ms(11));
  ASSERT_NE(c, nullptr);
  const MacAddr old_mac = prefix_mac_;
  prefix_mac_ = kNewHopMac;
  ++prefix_generation_;
  ASSERT_EQ(stack().send_copy(*c, pattern(100, 2), at_ms(12)), 100u);
  const Sent d = expect_sent(seg().seq(iss() + 101).data(100, 2));
  EXPECT_TRUE(d.prefixed);
  EXPECT_EQ(d.eth_dst, kNewHopMac) << "still to " << old_mac.to_string();
  EXPECT_EQ(prefixes_built_, 2u);
}

// A prefix lasts no longer than the neighbour entry it came from.
TEST_F(FramePrefixes, AnExpiredPrefixIsRebuilt) {
  prefix_valid_until_ = at_ms(11);
  Tcb* c = first_hundred_sent_and_acked(at_ms(10));
  ASSERT_NE(c, nullptr);
  prefix_mac_ = kNewHopMac;  // what the sink would find now, same generation
  ASSERT_EQ(stack().send_copy(*c, pattern(100, 2), at_ms(11)), 100u);
  EXPECT_EQ(expect_sent(seg().seq(iss() + 101).data(100, 2)).eth_dst, kNewHopMac);
  EXPECT_EQ(prefixes_built_, 2u);
}

// Where the sink builds no prefix (here: it stops offering one, as IpLayer
// does while the hop's MAC is unknown), segments take the full path.
TEST_F(FramePrefixes, WithoutAPrefixSegmentsTakeTheFullPath) {
  prefix_valid_until_ = at_ms(11);
  Tcb* c = first_hundred_sent_and_acked(at_ms(10));
  ASSERT_NE(c, nullptr);
  prefixes_ = false;  // frame_prefix() now refuses
  ASSERT_EQ(stack().send_copy(*c, pattern(100, 2), at_ms(11)), 100u);
  EXPECT_FALSE(expect_sent(seg().seq(iss() + 101).data(100, 2)).prefixed);
}

// IPv6: the same prefix path (Ipv6Layer::build_prefix), the checksum
// from the IPv6 pseudo-header sum the prefix carries (RFC 8200 §8.1).
// Without the IPv6 branch the prefix would not be used, or the segment
// would carry an IPv4 pseudo-header checksum.
TEST_F(FramePrefixes, Ipv6SegmentsCarryThePrefixAndTheirChecksum) {
  use_ipv6();
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(300), at_ms(10)), 300u);
  const Sent d = expect_sent(seg().flags(kTcpAck | kTcpPsh).seq(iss() + 1).data(300));
  EXPECT_TRUE(d.prefixed);
  EXPECT_TRUE(d.v6);
  EXPECT_TRUE(d.checksum_ok);
  EXPECT_EQ(d.eth_dst, prefix_mac_);
  recv(seg().flags(kTcpAck).seq(irs() + 1).ack(iss() + 301), at_ms(11));
  prefixes_ = false;  // the neighbour no longer REACHABLE: the sink builds none
  ++prefix_generation_;
  ASSERT_EQ(stack().send_copy(*c, pattern(100, 2), at_ms(12)), 100u);
  const Sent full = expect_sent(seg().seq(iss() + 301).data(100, 2));
  EXPECT_FALSE(full.prefixed) << "through send_segment6, which does ND's DELAY step";
  EXPECT_TRUE(full.v6);
}

}  // namespace
}  // namespace tern::tcptest
