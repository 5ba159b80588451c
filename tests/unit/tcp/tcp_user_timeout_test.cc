// TCP_USER_TIMEOUT (RFC 5482; RFC 9293 §3.8.3 "USER TIMEOUT"; tcp(7)):
// sent data unacknowledged, or a zero window shut, for the user timeout
// aborts the connection with a RST and kTimedOut (TCPAbortOnTimeout), at
// that moment rather than at the next backed-off timer; with keepalive it
// replaces the probe count (tcp_timers.cc).
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

class UserTimeout : public TcpHarness {
 protected:
  // An active open with `timeout` set and 100 bytes sent at `t0`.
  Tcb* open_and_send(Duration timeout, Instant t0) {
    Tcb* c = establish_active();
    if (c == nullptr) return nullptr;
    stack().set_user_timeout(*c, timeout, now());
    advance_to(t0);
    EXPECT_EQ(stack().send_copy(*c, pattern(100), t0), 100u);
    expect_sent(seg().seq(iss() + 1).payload(pattern(100)));
    return c;
  }
  // Runs the timers until the connection is closed or `limit`; returns the
  // retransmissions sent before, checking that the last segment is the RST.
  std::vector<Instant> run_until_closed(Tcb* c, Instant limit) {
    std::vector<Instant> rexmits;
    while (!handler_.closed_with(c) && now() < limit) {
      const auto when = run_until_sent(limit);
      if (!when) break;
      const Sent s = expect_sent();
      if (s.f().rst()) {
        EXPECT_TRUE(handler_.closed_with(c).has_value()) << "a RST before the close: " << s;
        rst_at_ = *when;
        rst_ = s;
        break;
      }
      rexmits.push_back(*when);
    }
    return rexmits;
  }
  Instant rst_at_ = Instant::max();
  Sent rst_;
};

// Retransmitting: the RTO backs off (about 200, 400, 800 ms ...); the
// abort comes exactly one user timeout after the data was sent, before the
// retransmission the backed-off timer would have sent next, with Tern's
// RST of a timeout (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>).
TEST_F(UserTimeout, AbortsOnTimeWhileRetransmitting) {
  const Instant t0 = at_ms(100);
  Tcb* c = open_and_send(Duration::ms(1000), t0);
  ASSERT_NE(c, nullptr);
  const std::vector<Instant> rexmits = run_until_closed(c, t0 + Duration::s(30));
  ASSERT_GE(rexmits.size(), 2u);
  EXPECT_LT(rexmits.back(), t0 + Duration::ms(1000));
  // Unclamped, the next retransmission would come later than the limit.
  EXPECT_GT(rexmits.back() + (rexmits.back() - rexmits[rexmits.size() - 2]) * 2, t0 + Duration::ms(1000));
  EXPECT_EQ(rst_at_, t0 + Duration::ms(1000));
  EXPECT_EQ(rst_.flags, kTcpRst | kTcpAck) << rst_;
  EXPECT_EQ(rst_.ack, irs() + 1);
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  EXPECT_EQ(count(Counter::kTCPAbortOnTimeout), 1u);
  EXPECT_EQ(c->state, TcpState::kClosed);
  stack().close(*c, now());
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// With a user timeout time alone decides, as in Linux: it outlasts
// [tcp] retries (here 2 RTOs) when it is the longer.
TEST_F(UserTimeout, ReplacesTheRetryCount) {
  cfg().retries = 2;
  const Instant t0 = at_ms(100);
  Tcb* c = open_and_send(Duration::s(20), t0);
  ASSERT_NE(c, nullptr);
  const std::vector<Instant> rexmits = run_until_closed(c, t0 + Duration::s(60));
  EXPECT_GT(rexmits.size(), 3u);
  EXPECT_EQ(rst_at_, t0 + Duration::s(20));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  stack().close(*c, now());
}

// Off (the default): [tcp] retries decides as before.
TEST_F(UserTimeout, OffByDefaultLeavesTheRetryCount) {
  cfg().retries = 2;
  const Instant t0 = at_ms(100);
  Tcb* c = open_and_send(Duration{}, t0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->user_timeout, Duration{});
  const std::vector<Instant> rexmits = run_until_closed(c, t0 + Duration::s(60));
  EXPECT_EQ(rexmits.size(), 2u);
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  stack().close(*c, now());
}

// [tcp] user_timeout_ms is every new connection's default.
TEST_F(UserTimeout, ConfigSetsTheDefault) {
  cfg().user_timeout = Duration::ms(700);
  const Instant t0 = at_ms(100);
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->user_timeout, Duration::ms(700));
  advance_to(t0);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), t0), 100u);
  take_all_sent();
  run_until_closed(c, t0 + Duration::s(30));
  EXPECT_EQ(rst_at_, t0 + Duration::ms(700));
  stack().close(*c, now());
}

// ACKs that keep acknowledging new data keep the connection, however long
// data stays outstanding in all: the clock restarts with each advance of
// SND.UNA. Once they stop, the abort comes one user timeout after the last.
TEST_F(UserTimeout, AcksOfNewDataKeepTheConnection) {
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_user_timeout(*c, Duration::ms(1000), now());
  const Instant t0 = at_ms(100);
  advance_to(t0);
  ASSERT_EQ(stack().send_copy(*c, pattern(1000), t0), 1000u);
  Instant last_ack = t0;
  for (int i = 1; i <= 8; ++i) {  // 100 bytes acknowledged every 800 ms: 6.4 s in all
    last_ack = t0 + Duration::ms(800 * i);
    recv(seg().seq(irs() + 1).ack(iss() + 1 + 100 * i), last_ack);
    ASSERT_EQ(handler_.closed_with(c), std::nullopt) << "aborted before ACK " << i;
  }
  take_all_sent();
  EXPECT_GT(last_ack - t0, Duration::ms(1000) * 6);
  run_until_closed(c, last_ack + Duration::s(30));
  EXPECT_EQ(rst_at_, last_ack + Duration::ms(1000));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  stack().close(*c, now());
}

// Zero window: a peer that answers every probe but keeps its window shut
// is given up one user timeout after the persist timer started, before
// [tcp] persist_probes and without persist_timeout (Linux's tcp_probe_timer).
TEST_F(UserTimeout, AbortsWhileZeroWindowProbing) {
  cfg().persist_timeout = Duration{};
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  stack().set_user_timeout(*c, Duration::s(3), now());
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(0), at_ms(10));
  const Instant t0 = at_ms(20);
  advance_to(t0);
  ASSERT_EQ(stack().send_copy(*c, pattern(100), t0), 100u);
  ASSERT_EQ(c->rtx_kind, Tcb::RtxKind::kPersist);
  int probes = 0;
  while (!handler_.closed_with(c) && now() < t0 + Duration::s(60)) {
    const auto when = run_until_sent(t0 + Duration::s(60));
    ASSERT_TRUE(when);
    const Sent s = expect_sent();
    if (s.f().rst()) {
      rst_at_ = *when;
      break;
    }
    ++probes;
    recv(seg().seq(irs() + 1).ack(iss() + 1).win(0));  // answered, still shut
  }
  EXPECT_GE(probes, 2);
  EXPECT_LT(static_cast<std::uint32_t>(probes), cfg().persist_probes);
  EXPECT_EQ(rst_at_, t0 + Duration::s(3));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  EXPECT_EQ(count(Counter::kTCPAbortOnTimeout), 1u);
  EXPECT_EQ(count(Counter::kTCPPersistGiveUp), 1u);
  stack().close(*c, now());
}

// Keepalive (tcp(7)): the user timeout replaces keepalive_probes. Idle
// 10 s, probes every 2 s, user timeout 13 s: probes at 10 and 12 s go
// unanswered, and the timer due at 14 s finds the peer silent for longer
// than 13 s: a RST instead of a third probe (of nine allowed).
TEST_F(UserTimeout, OverridesTheKeepaliveProbeCount) {
  cfg().keepalive_idle = Duration::s(10);
  cfg().keepalive_interval = Duration::s(2);
  cfg().keepalive_probes = 9;
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  const Instant t0 = now();
  stack().set_user_timeout(*c, Duration::s(13), t0);
  stack().set_keepalive(*c, true, t0);
  for (int i = 0; i < 2; ++i) {
    advance_to(t0 + Duration::s(10 + 2 * i));
    expect_sent(seg().flags(kTcpAck).seq(iss()).ack(irs() + 1));
  }
  advance_to(t0 + Duration::s(14) - Duration::ms(1));
  expect_nothing_sent();
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);
  advance_to(t0 + Duration::s(14));
  expect_sent(seg().flags(kTcpRst | kTcpAck).seq(iss() + 1));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  EXPECT_EQ(count(Counter::kTCPKeepAlive), 2u);
  EXPECT_EQ(count(Counter::kTCPAbortOnTimeout), 1u);
  stack().close(*c, now());
}

// A keepalive probe the peer answers resets the silence: the user timeout
// counts from the peer's last segment. Unanswered, the probe at 10 s would
// be followed by an abort at 12 s (silent 12 s >= 11 s); answered at 11 s,
// the connection idles again, probes at 21 s and is given up at 23 s.
TEST_F(UserTimeout, AnsweredKeepaliveKeepsTheConnection) {
  cfg().keepalive_idle = Duration::s(10);
  cfg().keepalive_interval = Duration::s(2);
  Tcb* c = establish_active();
  ASSERT_NE(c, nullptr);
  const Instant t0 = now();
  stack().set_user_timeout(*c, Duration::s(11), t0);
  stack().set_keepalive(*c, true, t0);
  advance_to(t0 + Duration::s(10));
  expect_sent(seg().flags(kTcpAck).seq(iss()).ack(irs() + 1));
  recv(seg().seq(irs() + 1).ack(iss() + 1), t0 + Duration::s(11));  // "still here"
  advance_to(t0 + Duration::s(21) - Duration::ms(1));
  expect_nothing_sent();
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);
  advance_to(t0 + Duration::s(21));  // idle again: a probe, not an abort
  expect_sent(seg().flags(kTcpAck).seq(iss()).ack(irs() + 1));
  advance_to(t0 + Duration::s(23) - Duration::ms(1));
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);
  advance_to(t0 + Duration::s(23));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  expect_sent(seg().flags(kTcpRst | kTcpAck));
  stack().close(*c, now());
}

// Set while the retransmission timer runs, a limit already passed aborts
// at the next tick instead of at the next RTO.
TEST_F(UserTimeout, SetWhileRetransmittingTakesEffectAtOnce) {
  const Instant t0 = at_ms(100);
  Tcb* c = open_and_send(Duration{}, t0);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(run_until_sent(t0 + Duration::s(5)));  // the first retransmission
  take_all_sent();
  const Instant set_at = now() + Duration::ms(10);
  advance_to(set_at);
  stack().set_user_timeout(*c, Duration::ms(50), set_at);
  EXPECT_EQ(handler_.closed_with(c), std::nullopt);
  advance_to(set_at + Duration::ms(1));
  EXPECT_EQ(handler_.closed_with(c), TcpError::kTimedOut);
  expect_sent(seg().flags(kTcpRst | kTcpAck));
  stack().close(*c, now());
}

}  // namespace
}  // namespace tern::tcptest
