// Every timer of a connection on virtual time: SYN and data retransmission
// with backoff and give-up (RFC 6298 §5), delayed ACK (RFC 9293 §3.8.6.3,
// RFC 5681 §4.2), zero-window probes (RFC 9293 §3.8.6.1), keepalive
// (RFC 9293 §3.8.4), the FIN-WAIT-2 timeout and TIME-WAIT expiry.
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Timers = TcpHarness;

// RFC 6298 §2.1, §5.5: the SYN goes again after 1 s, 2 s, 4 s ...; after
// syn_retries retransmissions the next timeout ends the attempt.
TEST_F(Timers, SynRetransmittedWithBackoffThenGivesUp) {
  cfg().syn_retries = 3;
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);

  advance_to(at_ms(999));
  expect_nothing_sent();
  advance_to(at_ms(1000));
  expect_sent(seg().flags(kTcpSyn).seq(iss()));
  advance_to(at_ms(2999));
  expect_nothing_sent();
  advance_to(at_ms(3000));
  expect_sent(seg().flags(kTcpSyn).seq(iss()));
  advance_to(at_ms(6999));
  expect_nothing_sent();
  advance_to(at_ms(7000));
  expect_sent(seg().flags(kTcpSyn).seq(iss()));
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);

  advance_to(at_ms(14999));
  expect_nothing_sent();
  EXPECT_EQ(c->state, TcpState::kSynSent);
  advance_to(at_ms(15000));  // a fourth retransmission is not allowed: give up
  expect_nothing_sent();
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  EXPECT_EQ(c->state, TcpState::kClosed);
  EXPECT_EQ(count(Counter::kAttemptFails), 1u);
  stack().close(*c, now());
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// RFC 6298 §5.5: each timeout doubles the RTO; the same bytes go again.
// After `retries` retransmissions the next timeout aborts the connection.
TEST_F(Timers, DataRetransmittedWithExponentialBackoffThenGivesUp) {
  cfg().retries = 4;
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);

  const Instant t0 = at_ms(100);
  advance_to(t0);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), t0), 100u);
  expect_sent(seg().seq(iss() + 1).payload(pattern(100)));

  std::vector<Instant> at;
  for (int i = 0; i < 4; ++i) {
    auto when = run_until_sent(t0 + Duration::s(200));
    ASSERT_TRUE(when) << "retransmission " << i + 1 << " never came";
    at.push_back(*when);
    expect_sent(seg().seq(iss() + 1).payload(pattern(100)));
    expect_nothing_sent();
  }
  const Duration rto = at[0] - t0;
  EXPECT_GE(rto, cfg().rto_min);
  EXPECT_EQ(at[1] - at[0], rto * 2);
  EXPECT_EQ(at[2] - at[1], rto * 4);
  EXPECT_EQ(at[3] - at[2], rto * 8);
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);

  advance_to(at[3] + rto * 16 - Duration::ms(1));
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);
  advance_to(at[3] + rto * 16);
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  for (const Sent& s : take_all_sent()) EXPECT_TRUE(s.f().rst()) << "only a reset may follow: " << s;
  EXPECT_EQ(count(Counter::kRetransSegs), 4u);
  stack().close(*c, now());
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// RFC 9293 §3.8.6.3: an ACK may be delayed, but by less than 0.5 s; here by
// cfg.delayed_ack exactly.
TEST_F(Timers, DelayedAckSentAtTheDeadline) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  const Seq32 next = leave_quickack_mode(irs() + 1, iss() + 1);
  const Instant held = now();

  advance_to(held + cfg().delayed_ack - Duration::ms(1));
  expect_nothing_sent();
  advance_to(held + cfg().delayed_ack);
  expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(next).data(0));
  EXPECT_GE(count(Counter::kDelayedACKs), 1u);
}

// RFC 5681 §4.2 / RFC 9293 §3.8.6.3: an ACK at least every second full-sized segment.
TEST_F(Timers, SecondFullSegmentAckedAtOnce) {
  Tcb* c = establish_passive();
  ASSERT_NE(c, nullptr);
  Seq32 next = leave_quickack_mode(irs() + 1, iss() + 1);
  advance_by(cfg().delayed_ack);
  take_all_sent();

  recv(seg().seq(next).ack(iss() + 1).data(1460), now() + Duration::ms(1));
  expect_nothing_sent();
  recv(seg().seq(next + 1460).ack(iss() + 1).data(1460), now() + Duration::ms(1));
  expect_sent(seg().flags(kTcpAck).ack(next + 2920));
}

// RFC 9293 §3.8.6.1: a zero window is probed, the interval backing off
// like the RTO; when the window opens the data goes.
TEST_F(Timers, ZeroWindowProbedWithBackoffUntilItOpens) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(10));  // the peer's buffer is full
  expect_nothing_sent();

  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(20)), 100u);
  expect_nothing_sent();

  std::vector<Instant> at;
  for (int i = 0; i < 3; ++i) {
    auto when = run_until_sent(at_ms(20) + Duration::s(120));
    ASSERT_TRUE(when) << "probe " << i + 1 << " never came";
    at.push_back(*when);
    const Sent p = expect_sent(seg().flags(kTcpAck).ack(irs() + 1));
    // Linux's probe (SEQ = SND.UNA - 1, no data) or BSD's (one byte of data).
    EXPECT_TRUE((p.seq == iss() && p.len() == 0) || (p.seq == iss() + 1 && p.len() == 1)) << p;
    recv(seg().seq(irs() + 1).ack(iss() + 1).win(0));  // still zero
    expect_nothing_sent();
  }
  EXPECT_GE(at[0] - at_ms(20), cfg().rto_min);
  EXPECT_EQ(at[2] - at[1], (at[1] - at[0]) * 2);
  EXPECT_EQ(count(Counter::kTCPWinProbe), 3u);

  recv(seg().seq(irs() + 1).ack(iss() + 1).win(65535), now() + Duration::ms(1));
  const Sent d = expect_sent(seg().seq(iss() + 1));
  EXPECT_EQ(d.len(), 100u) << d;
}

// A peer that answers every probe but never opens its window (a client that
// never reads) cannot hold the connection for ever: after persist_probes
// probes it is reset and the application told it timed out.
TEST_F(Timers, ZeroWindowGivesUpAfterPersistProbes) {
  cfg().persist_probes = 4;
  cfg().persist_timeout = Duration{};  // the count alone
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(10));
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(20)), 100u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(run_until_sent(now() + Duration::s(300))) << "probe " << i + 1;
    expect_sent(seg().flags(kTcpAck).ack(irs() + 1));
    recv(seg().seq(irs() + 1).ack(iss() + 1).win(0));  // answered, still zero
  }
  ASSERT_TRUE(run_until_sent(now() + Duration::s(300)));
  expect_sent(seg().flags(kTcpRst | kTcpAck).seq(iss() + 1));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  EXPECT_EQ(count(Counter::kTCPWinProbe), 4u);
  EXPECT_EQ(count(Counter::kTCPPersistGiveUp), 1u);
  stack().close(*c, now());
}

// persist_timeout bounds the same wait in time, whichever comes first; a
// window that opens in between starts a new episode.
TEST_F(Timers, ZeroWindowGivesUpAfterPersistTimeout) {
  cfg().persist_timeout = Duration::s(10);
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(10));
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(20)), 100u);
  Instant reset_at = Instant::max();
  while (now() < at_ms(60'000)) {
    const auto when = run_until_sent(at_ms(60'000));
    if (!when) break;
    const Sent p = expect_sent();
    if (p.f().rst()) {
      reset_at = *when;
      break;
    }
    recv(seg().seq(irs() + 1).ack(iss() + 1).win(0));
  }
  ASSERT_NE(reset_at, Instant::max()) << "never gave up";
  EXPECT_GE(reset_at - at_ms(20), Duration::s(10));
  EXPECT_LE(reset_at - at_ms(20), Duration::s(20));  // at the first probe due after the 10 s
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  EXPECT_EQ(count(Counter::kTCPPersistGiveUp), 1u);
  stack().close(*c, now());
}

// RFC 9293 §3.8.4: after keepalive_idle without a word from the peer, a
// probe every keepalive_interval; keepalive_probes unanswered end it.
TEST_F(Timers, KeepaliveProbesThenGivesUp) {
  cfg().keepalive_idle = Duration::s(10);
  cfg().keepalive_interval = Duration::s(2);
  cfg().keepalive_probes = 3;
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  const Instant t0 = now();
  stack().set_keepalive(*c, true, t0);

  advance_to(t0 + Duration::s(10) - Duration::ms(1));
  expect_nothing_sent();
  for (int i = 0; i < 3; ++i) {
    advance_to(t0 + Duration::s(10 + 2 * i));
    const Sent p = expect_sent(seg().flags(kTcpAck).seq(iss()).ack(irs() + 1));  // SEQ = SND.NXT - 1
    EXPECT_LE(p.len(), 1u) << p;
    advance_to(now() + Duration::s(2) - Duration::ms(1));
    if (i < 2) expect_nothing_sent();
  }
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);
  advance_to(t0 + Duration::s(16));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  take_all_sent();
  EXPECT_EQ(count(Counter::kTCPKeepAlive), 3u);
  stack().close(*c, now());
  EXPECT_EQ(tcbs_in_use(), 0u);
}

TEST_F(Timers, AnsweredKeepaliveProbeKeepsTheConnection) {
  cfg().keepalive_idle = Duration::s(10);
  cfg().keepalive_interval = Duration::s(2);
  cfg().keepalive_probes = 3;
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  const Instant t0 = now();
  stack().set_keepalive(*c, true, t0);

  advance_to(t0 + Duration::s(10));
  expect_sent(seg().flags(kTcpAck).seq(iss()).ack(irs() + 1));
  recv(seg().seq(irs() + 1).ack(iss() + 1), t0 + Duration::s(10) + Duration::ms(5));  // "still here"

  advance_to(t0 + Duration::s(20));  // a whole idle period again before the next probe
  expect_nothing_sent();
  advance_to(t0 + Duration::s(20) + Duration::ms(5));
  expect_sent(seg().flags(kTcpAck).seq(iss()).ack(irs() + 1));
  advance_to(t0 + Duration::s(40));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut) << "the second round went unanswered";
  take_all_sent();
}

// tcp_fin_timeout: an orphan in FIN-WAIT-2 does not wait for the peer's FIN forever.
TEST_F(Timers, FinWait2OrphanTimesOut) {
  cfg().fin_timeout = Duration::s(5);
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().close(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck).seq(iss() + 1));
  recv(seg().seq(irs() + 1).ack(iss() + 2), at_ms(10));
  ASSERT_EQ(state(), TcpState::kFinWait2);

  advance_to(at_ms(10) + Duration::s(5) - Duration::ms(1));
  EXPECT_EQ(state(), TcpState::kFinWait2);
  advance_to(at_ms(10) + Duration::s(5) + Duration::ms(1));
  EXPECT_EQ(state(), std::nullopt);
  EXPECT_EQ(tcbs_in_use(), 0u);
  EXPECT_EQ(count(Counter::kTCPFinWait2Timeout), 1u);
  take_all_sent();
}

// RFC 9293 §3.10.7.4: TIME-WAIT ends after 2MSL (cfg.time_wait).
TEST_F(Timers, TimeWaitExpiresAfterTwoMsl) {
  cfg().time_wait = Duration::s(10);
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().close(*c, at_ms(10));
  expect_sent(seg().flags(kTcpFin | kTcpAck));
  recv(seg().flags(kTcpFin | kTcpAck).seq(irs() + 1).ack(iss() + 2), at_ms(20));
  expect_sent(seg().flags(kTcpAck).ack(irs() + 2));
  ASSERT_EQ(stack().time_wait().size(), 1u);

  advance_to(at_ms(20) + Duration::s(10) - Duration::ms(1));
  EXPECT_EQ(stack().time_wait().size(), 1u);
  advance_to(at_ms(20) + Duration::s(10));
  EXPECT_EQ(stack().time_wait().size(), 0u);
  expect_nothing_sent();
}

// RFC 6298 §5.3: an ACK of new data restarts the timer; when all is ACKed it stops.
TEST_F(Timers, AckOfEverythingStopsTheRetransmissionTimer) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(10)), 100u);
  expect_sent(seg().seq(iss() + 1).data(100));
  recv(seg().seq(irs() + 1).ack(iss() + 101), at_ms(20));
  advance_to(at_ms(20) + Duration::s(130));
  expect_nothing_sent();
  EXPECT_EQ(c->state, TcpState::kEstablished);
}

// RFC 6298 §5.7 (Karn): a timeout's backoff lasts until a valid RTT sample.
// An ACK of retransmitted data gives one only when its TSecr shows that it
// answers the retransmission (RFC 7323 §4.1, RFC 8985 §6.2 step 2): the echo
// of the original's TSval (the original was late, or its ACK lost) times
// the wait for the timer too, and leaves the backoff; an echo of the
// retransmission's TSval ends it, timed from the retransmission.
TEST_F(Timers, BackoffEndsWithAnAckThatEchoesTheRetransmission) {
  Tcb* c = establish_active(seg().mss(1460).ts(100, 0));
  ASSERT_NE(c, nullptr);
  const auto lose_once = [&](std::uint32_t off, Instant at) {
    advance_to(at);
    const std::uint32_t original = our_tsval(*c);
    EXPECT_EQ(stack().send_copy(*c, pattern(100), at), 100u);
    expect_sent(seg().seq(iss() + 1 + off).data(100));
    const std::optional<Instant> resent = run_until_sent(at + Duration::s(10));
    EXPECT_TRUE(resent.has_value());
    expect_sent(seg().seq(iss() + 1 + off).data(100));
    return std::pair{original, our_tsval(*c)};
  };
  const auto [original, unused] = lose_once(0, at_ms(100));
  EXPECT_EQ(c->rto.backoffs(), 1u);
  recv(seg().seq(irs() + 1).ack(iss() + 101).ts(200, original), now() + Duration::ms(5));
  EXPECT_EQ(c->rto.backoffs(), 1u) << "the original's echo is no sample";

  const auto [first, resent] = lose_once(100, now() + Duration::ms(10));
  EXPECT_EQ(c->rto.backoffs(), 2u);
  const std::int64_t srtt = c->rto.srtt().count_ns();
  recv(seg().seq(irs() + 1).ack(iss() + 201).ts(300, resent), now() + Duration::ms(7));
  EXPECT_EQ(c->rto.backoffs(), 0u) << "the retransmission's echo is a sample";
  // RFC 6298 §2.3: SRTT moves an eighth of the way to the 7 ms the
  // retransmission took.
  EXPECT_EQ(c->rto.srtt().count_ns(), srtt + (Duration::ms(7).count_ns() - srtt) / 8);
}

// RFC 6582 §4.2, the timestamp heuristic: after a timeout, NewReno without
// SACK enters fast retransmit on duplicates below "recover" when the last
// ACK of new data echoed the TSval of the last segment it acknowledged.
// Here the whole window is lost; the go-back resends arrive in order (the
// ACK of segments 2-3 echoes their TSval), then resend 4 is lost and 5-7
// draw three duplicates: 4 goes again at once. Before, RFC 6582 §3.2 step
// 1's careful variant held back and only another timeout resent it.
TEST_F(Timers, AfterATimeoutALostResendIsFastRetransmittedByItsTimestamps) {
  Tcb* c = establish_active(seg().mss(1460).ts(100, 0));  // timestamps, no SACK
  ASSERT_NE(c, nullptr);
  ASSERT_FALSE(c->sack_ok);
  ASSERT_EQ(c->cc.name(), "newreno");
  const std::uint32_t mss = c->mss;
  const auto S = [&](std::uint32_t i) { return iss() + 1 + (i - 1) * mss; };  // segment i, from 1
  advance_to(at_ms(100));
  ASSERT_EQ(stack().send_copy(*c, pattern(10 * mss), at_ms(100)), 10u * mss);
  EXPECT_EQ(take_all_sent().size(), 10u);  // the initial window: all lost
  ASSERT_TRUE(run_until_sent(at_ms(100) + Duration::s(10)));
  expect_sent(seg().seq(S(1)).data(mss));  // the timeout: go back to segment 1
  expect_nothing_sent();
  std::uint32_t peer_ts = 200;
  const auto ack = [&](std::uint32_t i, std::uint32_t tsecr) {
    recv(seg().seq(irs() + 1).ack(S(i)).ts(++peer_ts, tsecr), now() + Duration::ms(5));
  };
  ack(2, our_tsval(*c));
  expect_sent(seg().seq(S(2)).data(mss));  // slow start from one segment
  expect_sent(seg().seq(S(3)).data(mss));
  expect_nothing_sent();
  const std::uint32_t resend_ts = our_tsval(*c);
  ack(4, resend_ts);  // 2 and 3 arrived: the ACK echoes their TSval
  for (std::uint32_t i = 4; i < 8; ++i) expect_sent(seg().seq(S(i)).data(mss));
  expect_nothing_sent();
  ack(4, resend_ts);  // 4 lost; 5, 6 and 7 arrive
  ack(4, resend_ts);
  expect_nothing_sent();
  ack(4, resend_ts);
  expect_sent(seg().seq(S(4)).data(mss));
  EXPECT_EQ(count(Counter::kTCPFastRetrans), 1u);
  EXPECT_EQ(count(Counter::kTCPTimeouts), 1u);
  EXPECT_TRUE(c->cc.in_recovery());
  // ssthresh from what the resends put in flight (cwnd 4 segments), not
  // from SND.MAX - SND.UNA (7 segments, most of them gone at the timeout).
  EXPECT_EQ(c->cc.ssthresh(), 2 * mss);
}

}  // namespace
}  // namespace tern::tcptest
