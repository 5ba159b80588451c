// ICMP Destination Unreachable and TCP (lib/tcp/tcp_icmp.cc): a connection
// attempt ends with a reason instead of timing out (Linux tcp_v4_err); the
// quoted sequence number must lie in SND.UNA..SND.MAX (RFC 5927 §4.1); a
// synchronized connection survives (RFC 1122 §4.2.3.9). Some tests call the
// engine directly, others send real frames through an IpLayer joined to the
// stack by TcpIpGlue, as a worker does.
#include <memory>

#include "ip/frame_queue.h"
#include "ip/ip_layer.h"
#include "tcp/ip_glue.h"
#include "tcp_harness.h"
#include "wire/icmp.h"

namespace tern::tcptest {
namespace {

using testkit::put16;
using testkit::put32;

constexpr std::uint32_t kRouterIp = testkit::kGatewayIp;  // 10.0.0.254 reports the error

class TcpIcmp : public TcpHarness {
 protected:
  void TearDown() override {
    ip_.reset();  // before the harness checks that every mbuf came back
    out_.clear();
    TcpHarness::TearDown();
  }

  // What the IP layer hands the stack for a Destination Unreachable quoting
  // our segment `seq` of the connection under test.
  IcmpUnreachable quote(Seq32 seq, std::uint8_t code) const {
    return IcmpUnreachable{.src = kLocalIp,
                           .dst = kPeerIp,
                           .sport = local_port(),
                           .dport = peer_port(),
                           .seq = seq.value(),
                           .code = code};
  }
  void unreachable(Seq32 seq, std::uint8_t code) { stack().on_icmp_unreachable(quote(seq, code), now()); }

  // The IP layer in front of the stack, created on first use.
  IpLayer& ip() {
    if (!ip_) {
      IpSettings s;
      s.mac = testkit::kOurMac;
      s.addr = kLocalIp;
      s.prefix_len = 24;
      s.gateway = kRouterIp;
      s.ip.frag_max_flows = 16;
      ip_ = std::make_unique<IpLayer>(s, counters_, pool_);
      glue_ = std::make_unique<TcpIpGlue>(*ip_, out_);
      glue_->attach(stack());
    }
    return *ip_;
  }

  // A router's Destination Unreachable about our segment `seq`: our IPv4
  // header (total length as sent) and the first `tcp_bytes` of our TCP header.
  Bytes unreachable_frame(Seq32 seq, std::uint8_t code, std::size_t tcp_bytes = 8,
                          std::uint8_t protocol = testkit::kProtoTcp, bool good_checksum = true) const {
    Bytes tcp(20);
    put16(tcp, 0, local_port());
    put16(tcp, 2, peer_port());
    put32(tcp, 4, seq.value());
    tcp[12] = std::byte{0x50};
    tcp[13] = std::byte{kTcpSyn};
    tcp.resize(tcp_bytes);
    const Bytes quoted =
        testkit::ipv4({.src = kLocalIp, .dst = kPeerIp, .protocol = protocol, .total_length = 60}, tcp);
    const Bytes msg = testkit::icmp(kIcmpDestUnreachable, code, 0, 0, quoted, good_checksum);
    return testkit::ethernet(testkit::kOurMac, testkit::kRouterMac, testkit::kTypeIpv4,
                             testkit::ipv4({.src = kRouterIp, .dst = kLocalIp}, msg));
  }
  void recv_frame(const Bytes& f) {
    Mbuf m = testkit::to_mbuf(pool_, f);
    ASSERT_TRUE(m) << "test pool exhausted";
    ip().on_frame(std::move(m), now(), out_);
  }

  FrameQueue out_;
  std::unique_ptr<IpLayer> ip_;
  std::unique_ptr<TcpIpGlue> glue_;
};

// connect() to a closed port of a host that answers with ICMP instead of RST
// (a firewall's "reject-with icmp-port-unreachable"): ECONNREFUSED at once.
TEST_F(TcpIcmp, PortUnreachableInSynSentRefusesTheConnection) {
  ip();
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);

  advance_to(at_ms(3));
  recv_frame(unreachable_frame(iss(), kIcmpPortUnreachable));
  expect_nothing_sent();
  EXPECT_EQ(c->state, TcpState::kClosed);
  EXPECT_EQ(handler_.closed_with(c), TcpError::kRefused);
  EXPECT_EQ(count(Counter::kIcmpInDestUnreachs), 1u);
  EXPECT_EQ(count(Counter::kAttemptFails), 1u);
  EXPECT_EQ(counters_.total_drops(), 0u);
  EXPECT_EQ(stack().connections(), 0u);

  // No SYN retransmission follows: the attempt is over.
  EXPECT_FALSE(run_until_sent(at_ms(10'000)).has_value());
  stack().close(*c, now());
  EXPECT_EQ(tcbs_in_use(), 0u);
}

TEST_F(TcpIcmp, HostUnreachableInSynSentEndsAsUnreachable) {
  ip();
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv_frame(unreachable_frame(iss(), kIcmpHostUnreachable));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kUnreachable);
  EXPECT_EQ(c->error, TcpError::kUnreachable);
  EXPECT_EQ(stack().connections(), 0u);
  stack().close(*c, now());
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// Every code but Fragmentation Needed ends a connection attempt, as in Linux:
// protocol and port unreachable as refused, the rest as unreachable.
TEST_F(TcpIcmp, EveryCodeEndsAnAttemptWithItsReason) {
  struct Case {
    std::uint8_t code;
    TcpError want;
  };
  const Case cases[] = {
      {0, TcpError::kUnreachable},  {1, TcpError::kUnreachable},  {2, TcpError::kRefused},
      {3, TcpError::kRefused},      {5, TcpError::kUnreachable},  {6, TcpError::kUnreachable},
      {7, TcpError::kUnreachable},  {8, TcpError::kUnreachable},  {9, TcpError::kUnreachable},
      {10, TcpError::kUnreachable}, {11, TcpError::kUnreachable}, {12, TcpError::kUnreachable},
      {13, TcpError::kUnreachable}, {14, TcpError::kUnreachable}, {15, TcpError::kUnreachable},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(::testing::Message() << "code " << int{k.code});
    handler_.clear();
    Tcb* c = active_syn(now() + Duration::ms(1));
    ASSERT_NE(c, nullptr);
    unreachable(iss(), k.code);
    EXPECT_EQ(handler_.closed_with(c), k.want);
    stack().close(*c, now());
  }
  EXPECT_EQ(tcbs_in_use(), 0u);
  EXPECT_EQ(count(Counter::kAttemptFails), std::size(cases));
  EXPECT_EQ(counters_.total_drops(), 0u);
}

// RFC 5927 §4.1: an error quoting a sequence number we never sent, or one
// already acknowledged, is not about this connection (or is forged).
TEST_F(TcpIcmp, QuotedSeqOutsideSndUnaToSndMaxIsIgnored) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  unreachable(iss() - 1, kIcmpPortUnreachable);
  unreachable(iss() + 2, kIcmpPortUnreachable);
  unreachable(iss() + 0x40000000u, kIcmpHostUnreachable);
  EXPECT_EQ(c->state, TcpState::kSynSent);
  EXPECT_EQ(handler_.log.size(), 0u);
  EXPECT_EQ(drops(Drop::kTcpIcmpOutOfWindow), 3u);
  EXPECT_EQ(count(Counter::kAttemptFails), 0u);

  // The attempt goes on: the SYN is retransmitted and the handshake completes.
  ASSERT_TRUE(run_until_sent(at_ms(5'000)).has_value());
  expect_sent(seg().flags(kTcpSyn).seq(iss()));
  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_EQ(c->state, TcpState::kEstablished);
}

// Through the IP layer too, with the window edges: SND.MAX itself is in.
TEST_F(TcpIcmp, SeqCheckAppliesToRealFrames) {
  ip();
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv_frame(unreachable_frame(iss() + 7, kIcmpPortUnreachable));
  EXPECT_EQ(c->state, TcpState::kSynSent);
  EXPECT_EQ(drops(Drop::kTcpIcmpOutOfWindow), 1u);
  recv_frame(unreachable_frame(iss() + 1, kIcmpPortUnreachable));  // SND.MAX
  EXPECT_EQ(handler_.closed_with(c), TcpError::kRefused);
  stack().close(*c, now());
}

// RFC 1122 §4.2.3.9: in a synchronized state these are soft errors; the
// connection carries on and its data still flows.
TEST_F(TcpIcmp, EstablishedConnectionSurvivesUnreachable) {
  ip();
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), now()), 100u);
  expect_sent(seg().seq(iss() + 1).data(100));

  advance_by(Duration::ms(2));
  recv_frame(unreachable_frame(iss() + 1, kIcmpHostUnreachable));
  recv_frame(unreachable_frame(iss() + 1, kIcmpPortUnreachable));
  unreachable(iss() + 1, kIcmpNetUnreachable);
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(handler_.log.size(), 0u) << "no event for a soft error";
  EXPECT_EQ(drops(Drop::kTcpIcmpSoftError), 3u);
  EXPECT_EQ(count(Counter::kIcmpInDestUnreachs), 2u);
  expect_nothing_sent();

  recv(seg().seq(irs() + 1).ack(iss() + 101), at_ms(10));
  EXPECT_EQ(c->snd_una, iss() + 101);
  EXPECT_EQ(c->state, TcpState::kEstablished);
}

TEST_F(TcpIcmp, PassiveHalfOpenConnectionSurvivesUnreachable) {
  Listener* l = stack().listen(kServerPort, 8);
  ASSERT_NE(l, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()).mss(1460), at_ms(0));
  set_iss(expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1)).seq);
  unreachable(iss(), kIcmpHostUnreachable);
  EXPECT_EQ(state(), TcpState::kSynReceived);
  EXPECT_EQ(drops(Drop::kTcpIcmpSoftError), 1u);
  recv(seg().seq(irs() + 1).ack(iss() + 1), at_ms(1));
  EXPECT_EQ(state(), TcpState::kEstablished);
}

// Path MTU Discovery (RFC 1191) is not implemented: Fragmentation Needed is
// counted and changes nothing.
TEST_F(TcpIcmp, FragmentationNeededIsCountedAndIgnored) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  unreachable(iss(), kIcmpFragNeeded);
  EXPECT_EQ(c->state, TcpState::kSynSent);
  EXPECT_EQ(drops(Drop::kTcpIcmpFragNeeded), 1u);
  EXPECT_EQ(handler_.log.size(), 0u);
}

TEST_F(TcpIcmp, ErrorForNoConnectionIsCounted) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  IcmpUnreachable u = quote(iss(), kIcmpPortUnreachable);
  u.sport = static_cast<std::uint16_t>(u.sport + 1);
  stack().on_icmp_unreachable(u, now());
  u = quote(iss(), kIcmpPortUnreachable);
  u.dst = kPeerIp + 1;
  stack().on_icmp_unreachable(u, now());
  EXPECT_EQ(drops(Drop::kTcpIcmpNoSocket), 2u);
  EXPECT_EQ(c->state, TcpState::kSynSent);
}

// What the IP layer refuses never reaches the connection.
TEST_F(TcpIcmp, MalformedErrorsAreDroppedBeforeTcp) {
  ip();
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv_frame(unreachable_frame(iss(), kIcmpPortUnreachable, 7));  // quote one byte short of 64 bits
  EXPECT_EQ(drops(Drop::kIcmpBadQuote), 1u);
  recv_frame(unreachable_frame(iss(), kIcmpPortUnreachable, 8, testkit::kProtoTcp, /*good_checksum=*/false));
  EXPECT_EQ(drops(Drop::kIcmpBadChecksum), 1u);
  recv_frame(unreachable_frame(iss(), kIcmpPortUnreachable, 8, testkit::kProtoUdp));
  EXPECT_EQ(drops(Drop::kIcmpUnreachNotTcp), 1u);
  EXPECT_EQ(c->state, TcpState::kSynSent);
  EXPECT_EQ(handler_.log.size(), 0u);
  EXPECT_EQ(counters_.total_drops(), 3u);

  recv_frame(unreachable_frame(iss(), kIcmpPortUnreachable, 20));  // the whole header quoted is fine
  EXPECT_EQ(handler_.closed_with(c), TcpError::kRefused);
  stack().close(*c, now());
}

}  // namespace
}  // namespace tern::tcptest
