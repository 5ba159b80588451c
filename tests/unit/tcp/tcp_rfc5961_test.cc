// RFC 5961: blind reset (§3), blind SYN (§4) and blind data injection (§5)
// defences, and the challenge-ACK rate limit (§7).
#include <algorithm>
#include <vector>

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

// §7, per connection first (as Linux after CVE-2016-5696): at most one
// challenge ACK per invalid_ratelimit_ms on a connection.
TEST_F(Rfc5961, ChallengeAcksRateLimitedPerConnection) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  const Instant t0 = at_ms(5000);

  for (int i = 0; i < 5; ++i) recv(seg().flags(kTcpRst).seq(irs() + 100 + i), t0 + Duration::ms(10 * i));
  EXPECT_EQ(take_all_sent().size(), 1u);
  EXPECT_EQ(count(Counter::kTCPChallengeACK), 1u);
  EXPECT_EQ(count(Counter::kTCPChallengeACKSkipped), 4u);

  recv(seg().flags(kTcpRst).seq(irs() + 200), t0 + Duration::ms(510));  // the interval has passed
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_EQ(c->state, TcpState::kEstablished);
}

// §7: the per-worker ceiling is drawn at random each second between half
// and one and a half times challenge_ack_limit, so its count tells an
// off-path attacker nothing (CVE-2016-5696).
TEST_F(Rfc5961, ChallengeAckWorkerBudgetIsRandomisedAroundTheLimit) {
  cfg().challenge_ack_limit = 10;
  cfg().invalid_ratelimit = Duration{};  // the per-connection limit off: only the worker's
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  std::vector<std::size_t> per_second;
  for (int sec = 0; sec < 8; ++sec) {
    const Instant t0 = at_ms(5000 + 1000 * sec);
    for (int i = 0; i < 100; ++i) recv(seg().flags(kTcpRst).seq(irs() + 100 + i), t0 + Duration::us(i * 100));
    per_second.push_back(take_all_sent().size());
  }
  for (std::size_t n : per_second) {
    EXPECT_GE(n, 5u);
    EXPECT_LE(n, 15u);
  }
  EXPECT_NE(*std::min_element(per_second.begin(), per_second.end()),
            *std::max_element(per_second.begin(), per_second.end()));
  EXPECT_EQ(c->state, TcpState::kEstablished);
}

// §4.2: a SYN is challenged whatever its sequence number, an out-of-window
// one included (it used to earn a plain duplicate ACK outside the limit).
TEST_F(Rfc5961, OutOfWindowSynGetsChallengeAck) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  recv(seg().flags(kTcpSyn).seq(irs() + 1 + 10'000'000).mss(1460), at_ms(10));
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  EXPECT_EQ(drops(Drop::kTcpSynChallenged), 1u);
  EXPECT_EQ(drops(Drop::kTcpOutOfWindow), 0u);
  EXPECT_EQ(count(Counter::kTCPChallengeACK), 1u);
  for (int i = 0; i < 10; ++i) recv(seg().flags(kTcpSyn).seq(irs() + 7 * i).mss(1460), at_ms(20 + i));
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kTCPChallengeACKSkipped), 10u);
  EXPECT_EQ(c->state, TcpState::kEstablished);
}

// RFC 9293 §3.10.7.4 asks for an ACK to an unacceptable segment; blind
// segments at a known 4-tuple earn one per invalid_ratelimit_ms, no more
// (Linux's tcp_invalid_ratelimit).
TEST_F(Rfc5961, AcksToOutOfWindowSegmentsRateLimited) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 20; ++i) {
    recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1 + 5'000'000 + 100 * i).ack(iss() + 1).data(10),
         at_ms(100 + i));
  }
  EXPECT_EQ(take_all_sent().size(), 1u);
  EXPECT_EQ(drops(Drop::kTcpOutOfWindow), 20u);
  EXPECT_EQ(count(Counter::kTCPACKSkippedInvalid), 19u);
  recv(seg().flags(kTcpAck).seq(irs() + 1 + 5'000'000).ack(iss() + 1), at_ms(700));
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
