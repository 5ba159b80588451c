// Per-connection figures (TcpStack::info, tern/connection_info.h) after
// scripted exchanges on virtual time: the RTT estimator's values after known
// samples (RFC 6298 §2), byte and segment counts, retransmissions, and the
// loss-recovery state as Linux names it.
#include "sack_script.h"

namespace tern::tcptest {
namespace {

constexpr std::uint32_t kMss = 1460;

class Info : public SackScript {
 protected:
  // Active open: SYN at 0 ms, the peer's SYN-ACK at 30 ms: the first RTT
  // sample is 30 ms (RFC 6298 §2.2: SRTT = 30 ms, RTTVAR = 15 ms, RTO =
  // max(rto_min 200 ms, 30 + 4 * 15 = 90 ms) = 200 ms).
  Tcb* open(bool sack = false) {
    Tcb* c = active_syn(at_ms(0));
    if (c == nullptr) return nullptr;
    Seg synack = seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(kMss);
    if (sack) synack.sack_perm();
    recv(synack, at_ms(30));
    expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
    stack().set_nodelay(*c, true, now());
    return c;
  }
  ConnectionInfo info(const Tcb& c) { return stack().info(c); }
};

TEST_F(Info, AfterTheHandshake) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  const ConnectionInfo i = info(*c);
  EXPECT_EQ(i.state, "ESTABLISHED");
  EXPECT_EQ(i.congestion, "newreno");  // the harness's controller
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(to_string(i.ca_state), "open");
  EXPECT_EQ(i.mss, kMss);
  EXPECT_EQ(i.cwnd, 10 * kMss) << "RFC 6928 initial window";
  EXPECT_EQ(i.cwnd_segments, 10u);
  EXPECT_EQ(i.ssthresh_segments, i.ssthresh / kMss);
  EXPECT_EQ(i.srtt_us, 30'000u);
  EXPECT_EQ(i.rttvar_us, 15'000u);
  EXPECT_EQ(i.min_rtt_us, 30'000u);
  EXPECT_EQ(i.rto_us, 200'000u);
  EXPECT_EQ(i.pacing_rate, 0u);
  EXPECT_EQ(i.segs_out, 2u) << "SYN, ACK";
  EXPECT_EQ(i.segs_in, 1u) << "SYN-ACK";
  EXPECT_EQ(i.total_retrans, 0u);
  EXPECT_EQ(i.bytes_acked, 0u) << "the SYN is not data";
  EXPECT_EQ(i.bytes_received, 0u);
  EXPECT_EQ(i.reordering, 3u) << "DupThresh";
  EXPECT_EQ(i.snd_wnd, 65535u);
  EXPECT_GT(i.rcv_wnd, 0u);
  EXPECT_EQ(i.lost, 0u);
  EXPECT_EQ(i.snd_buf, cfg().snd_buf);
  EXPECT_EQ(i.rcv_buf, cfg().rcv_buf);
  EXPECT_EQ(i.rcv_space, 0u) << "nothing read yet";
  EXPECT_EQ(i.rcv_rtt_us, 0u);
}

// RFC 6298 §2.3 after a second sample R' = 40 ms: RTTVAR = 3/4 * 15 + 1/4 *
// |30 - 40| = 13.75 ms, SRTT = 7/8 * 30 + 1/8 * 40 = 31.25 ms; the minimum
// stays 30 ms. Bytes both ways are counted once acknowledged / in order.
TEST_F(Info, DataBothWaysAndASecondRttSample) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(3000), at_ms(100)), 3000u);
  ASSERT_EQ(take_all_sent().size(), 3u);
  EXPECT_EQ(info(*c).snd_queue, 3000u);
  EXPECT_EQ(info(*c).bytes_acked, 0u);

  recv(seg().seq(irs() + 1).ack(iss() + 1 + 3000), at_ms(140));
  ConnectionInfo i = info(*c);
  EXPECT_EQ(i.bytes_acked, 3000u);
  EXPECT_EQ(i.delivered, 3000u);
  EXPECT_EQ(i.snd_queue, 0u);
  EXPECT_EQ(i.srtt_us, 31'250u);
  EXPECT_EQ(i.rttvar_us, 13'750u);
  EXPECT_EQ(i.min_rtt_us, 30'000u);
  EXPECT_EQ(i.segs_out, 5u);
  EXPECT_EQ(i.segs_in, 2u);

  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1 + 3000).data(500), at_ms(150));
  i = info(*c);
  EXPECT_EQ(i.bytes_received, 500u);
  EXPECT_EQ(i.rcv_queue, 500u);
  EXPECT_EQ(i.segs_in, 3u);
  EXPECT_EQ(read_all(*c).size(), 500u);
  EXPECT_EQ(info(*c).rcv_queue, 0u);
  EXPECT_EQ(info(*c).bytes_received, 500u);
}

// A retransmission timeout: Linux's Loss state until the ACK, every
// outstanding byte presumed lost, the RTO backed off (RFC 6298 §5.5), and
// the retransmission counted for good.
TEST_F(Info, RetransmissionTimeout) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(1000), at_ms(100)), 1000u);
  expect_sent(seg().seq(iss() + 1).data(1000));
  EXPECT_EQ(info(*c).total_retrans, 0u);
  EXPECT_EQ(info(*c).ca_state, CaState::kOpen);

  advance_to(at_ms(300));  // RTO 200 ms
  expect_sent(seg().seq(iss() + 1).data(1000));
  ConnectionInfo i = info(*c);
  EXPECT_EQ(i.total_retrans, 1u);
  EXPECT_EQ(i.ca_state, CaState::kLoss);
  EXPECT_EQ(to_string(i.ca_state), "loss");
  EXPECT_EQ(i.lost, 1000u);
  EXPECT_EQ(i.rto_us, 400'000u);
  EXPECT_EQ(i.segs_out, 4u);

  recv(seg().seq(irs() + 1).ack(iss() + 1001), at_ms(320));
  i = info(*c);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(i.total_retrans, 1u);
  EXPECT_EQ(i.lost, 0u);
  EXPECT_EQ(i.bytes_acked, 1000u);
}

// With SACK: SACKed data without recovery is Disorder; once IsLost (RFC 6675
// §4: more than (DupThresh - 1) * SMSS SACKed above it) holds for the hole,
// Recovery, and the hole counts as lost. Delivered counts SACKed bytes.
TEST_F(Info, SackDisorderThenRecovery) {
  options_.tx_logs = 0;  // RFC 6675's IsLost decides `lost` (without a transmit log)
  Tcb* c = open(true);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(stack().send_copy(*c, pattern(10 * kMss), at_ms(100)), 10 * kMss);
  ASSERT_EQ(take_all_sent().size(), 10u);
  const auto sack = [&](Seq32 left, Seq32 right) {
    Seg s = seg().seq(irs() + 1).ack(S(1));
    s.opts_.sack[s.opts_.sack_count++] = SackBlock{left.value(), right.value()};
    return s;
  };
  recv(sack(S(2), S(4)), at_ms(110));  // 2920 SACKed: not more than 2 * SMSS
  ConnectionInfo i = info(*c);
  EXPECT_EQ(i.ca_state, CaState::kDisorder);
  EXPECT_EQ(i.lost, 0u);
  EXPECT_EQ(i.delivered, 2 * kMss);

  recv(sack(S(2), S(5)), at_ms(111));
  i = info(*c);
  EXPECT_EQ(i.ca_state, CaState::kRecovery);
  EXPECT_EQ(i.lost, kMss) << "S1, the hole below the SACKed data";
  EXPECT_EQ(i.delivered, 3 * kMss);
  EXPECT_EQ(i.total_retrans, 1u) << "S1 resent at once";
  EXPECT_EQ(i.bytes_acked, 0u);
}

}  // namespace
}  // namespace tern::tcptest
