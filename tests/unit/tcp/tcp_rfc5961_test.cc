// RFC 5961: blind reset (§3), blind SYN (§4) and blind data injection (§5)
// defences, and the challenge-ACK rate limit (§7).
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Rfc5961 = TcpHarness;

// §3.2: "If the RST bit is set and the sequence number exactly matches the
// next expected sequence number (RCV.NXT), then TCP MUST reset the connection."
TEST_F(Rfc5961, RstAtRcvNxtResets) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpRst).seq(irs() + 1), at_ms(10));
  expect_nothing_sent();
  EXPECT_EQ(c->state, TcpState::kClosed);
  EXPECT_EQ(handler_.closed_with(c), TcpError::kReset);
  EXPECT_EQ(count(Counter::kEstabResets), 1u);
  EXPECT_EQ(count(Counter::kCurrEstab), 0u);
  EXPECT_EQ(stack().connections(), 0u);

  stack().close(*c, at_ms(11));
  expect_nothing_sent();
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// §3.2: an RST inside the window but not at RCV.NXT gets a challenge ACK
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, and the connection stays.
TEST_F(Rfc5961, InWindowRstGetsChallengeAck) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpRst).seq(irs() + 1 + 1000), at_ms(10));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1).data(0));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(count(Counter::kTCPChallengeACK), 1u);
  EXPECT_EQ(drops(Drop::kTcpRstIgnored), 1u);
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);
}

// §3.2: "If the RST bit is set and the sequence number is outside the
// current receive window, silently drop the segment."
TEST_F(Rfc5961, OutOfWindowRstDropped) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpRst).seq(irs() + 1 - 5000), at_ms(10));  // left of the window
  recv(seg().flags(kTcpRst | kTcpAck).seq(irs() + 1 + 0x40000000).ack(iss() + 1), at_ms(11));  // far right
  expect_nothing_sent();
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(count(Counter::kTCPChallengeACK), 0u);
  EXPECT_EQ(count(Counter::kEstabResets), 0u);
}

// §4.2: a SYN in a synchronized state, in window or not, gets a challenge ACK.
TEST_F(Rfc5961, SynInEstablishedGetsChallengeAck) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpSyn).seq(irs() + 1 + 500).mss(1460), at_ms(10));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1).data(0));
  EXPECT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(count(Counter::kTCPChallengeACK), 1u);
  EXPECT_EQ(drops(Drop::kTcpSynChallenged), 1u);
  EXPECT_EQ(tcbs_in_use(), 1u) << "no second connection";
}

// §7: at most challenge_ack_limit challenge ACKs per second.
TEST_F(Rfc5961, ChallengeAcksRateLimited) {
  cfg().challenge_ack_limit = 2;
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  const Instant t0 = at_ms(5000);

  for (int i = 0; i < 5; ++i) recv(seg().flags(kTcpRst).seq(irs() + 100 + i), t0 + Duration::ms(10 * i));
  EXPECT_EQ(take_all_sent().size(), 2u);
  EXPECT_EQ(count(Counter::kTCPChallengeACK), 2u);

  recv(seg().flags(kTcpRst).seq(irs() + 200), t0 + Duration::ms(1100));  // a new second
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_EQ(c->state, TcpState::kEstablished);
}

// §5.2 / RFC 9293 §3.10.7.4 fifth step: an ACK of data never sent
// (SEG.ACK > SND.NXT) is answered with an ACK and the segment is dropped,
// its data included.
TEST_F(Rfc5961, AckForUnsentDataDropped) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1 + 1000).data(20), at_ms(10));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_EQ(drops(Drop::kTcpAckUnsent), 1u);
  EXPECT_TRUE(read_all(*c).empty());
  EXPECT_EQ(c->snd_una, iss() + 1);
}

// §5.2: an ACK older than SND.UNA - MAX.SND.WND is dropped (and ACKed).
TEST_F(Rfc5961, AckTooFarInThePastDropped) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);

  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1 - 0x20000000).data(20), at_ms(10));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_TRUE(read_all(*c).empty());
}

// RFC 9293 §3.10.7.3 / RFC 5961 §3.2: in SYN-SENT an RST is acceptable only
// with an ACK of our SYN; a bare one is dropped.
TEST_F(Rfc5961, RstWithoutAckInSynSentIgnored) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpRst).seq(irs()), at_ms(1));
  expect_nothing_sent();
  EXPECT_EQ(c->state, TcpState::kSynSent);
}

// RFC 9293 §3.10.7.4 first step: an unacceptable segment gets an ACK.
TEST_F(Rfc5961, OldDuplicateDataGetsAnAck) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).data(100), at_ms(10));
  take_all_sent();
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).data(100), at_ms(20));  // again
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 101));
  EXPECT_EQ(read_all(*c), pattern(100)) << "delivered once";
}

}  // namespace
}  // namespace tern::tcptest
