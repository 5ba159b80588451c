// TCP_WINDOW_CLAMP (tcp(7)): the window we advertise offers at most the
// clamp (never taking back an edge already advertised, RFC 9293 §3.8.6),
// receive autotuning stops at the buffer that fills it, a listener's clamp
// sizes its SYN-ACK's window scale, and the scale an active open announced
// in its SYN stays whatever changes before the SYN-ACK (RFC 7323 §2.2).
#include <rte_mbuf.h>

#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

constexpr Duration kRtt = Duration::ms(10);

class WindowClamp : public TcpHarness {
 protected:
  // A passive open whose peer offers window scaling: we scale by 7 (room
  // for [tcp] rcv_buf_max, 6 MiB).
  Tcb* establish() {
    Tcb* c = establish_passive(seg().mss(1460).wscale(7));
    if (c != nullptr) peer_seq_ = irs() + 1;
    return c;
  }
  // Once per round trip the peer sends, in full segments, up to the right
  // edge our ACKs had opened when the round began; the application reads
  // everything. Every ACK sent is kept in acks_.
  void rounds(Tcb& c, int n) {
    Instant t = now() + kRtt;
    for (int r = 0; r < n; ++r, t = t + kRtt) {
      fill_window(c, peer_seq_, t, true);
      for (Sent& s : take_all_sent()) acks_.push_back(s);
    }
  }
  // The window an ACK offered, in bytes.
  static std::uint32_t offered(const Sent& s, const Tcb& c) { return std::uint32_t{s.win} << c.rcv_wscale; }
  std::uint32_t full_truesize() const {
    return static_cast<std::uint32_t>(sizeof(rte_mbuf)) + rte_pktmbuf_data_room_size(pool_);
  }

  Seq32 peer_seq_;
  std::vector<Sent> acks_;
};

// The window falls to the clamp as the peer uses up what was offered
// before (the right edge never moves left) and stays there; without a
// clamp the same peer is offered the whole buffer (well over 64 KB).
TEST_F(WindowClamp, BoundsTheWindowField) {
  Tcb* c = establish();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->rcv_wscale, 7);
  const Seq32 edge_before = c->rcv_adv;
  stack().set_window_clamp(*c, 20000, now());
  EXPECT_EQ(c->window_clamp, 20000u);
  rounds(*c, 6);
  ASSERT_GT(acks_.size(), 10u);
  Seq32 edge = edge_before;
  bool clamped = false;
  for (const Sent& a : acks_) {
    const Seq32 right = a.ack + offered(a, *c);
    EXPECT_FALSE(seq_lt(right, edge)) << "the right edge moved left: " << a;
    if (seq_gt(right, edge)) edge = right;
    // Once the window offered is down to the clamp (rounded up to the
    // scale at most, so as not to take back an edge), it stays there; it
    // is there by the time the peer used up what was offered before.
    if (clamped) {
      EXPECT_LE(offered(a, *c), 20000u + 127) << a;
    } else {
      clamped = offered(a, *c) <= 20000u + 127;
      EXPECT_TRUE(clamped || seq_lt(a.ack, edge_before)) << a;
    }
  }
  EXPECT_TRUE(clamped);
  EXPECT_GE(offered(acks_.back(), *c), 20000u - 1460) << "the window stays open at the clamp";
  EXPECT_LE(static_cast<std::uint32_t>(c->rcv_adv - c->rcv_nxt), 20000u + 127);
  EXPECT_EQ(c->rcv_nxt, peer_seq_);
}

TEST_F(WindowClamp, WithoutItTheWindowIsTheBuffers) {
  Tcb* c = establish();
  ASSERT_NE(c, nullptr);
  rounds(*c, 6);
  ASSERT_FALSE(acks_.empty());
  EXPECT_GT(offered(acks_.back(), *c), 100000u);
}

// Below Linux's floor (SOCK_MIN_RCVBUF / 2) a clamp is raised to it.
TEST_F(WindowClamp, SmallValuesAreRaisedToTheFloor) {
  Tcb* c = establish();
  ASSERT_NE(c, nullptr);
  stack().set_window_clamp(*c, 100, now());
  EXPECT_EQ(c->window_clamp, kMinWindowClamp);
  rounds(*c, 4);
  EXPECT_LE(offered(acks_.back(), *c), kMinWindowClamp + 127);
  EXPECT_GT(offered(acks_.back(), *c), 0u);
}

// Autotuning grows the buffer while the application keeps up, but no
// further than the buffer a clamped window can fill; the window offered
// never passes the clamp. Unclamped the same run reaches 6 MiB
// (TcpAutotune.GrowsToTheCeilingWhileTheApplicationKeepsUp).
TEST_F(WindowClamp, AutotuningStopsAtIt) {
  Tcb* c = establish();
  ASSERT_NE(c, nullptr);
  const std::uint32_t start = c->rcv_buf;
  constexpr std::uint32_t kClamp = 400000;
  stack().set_window_clamp(*c, kClamp, now());
  rounds(*c, 20);
  const std::uint32_t clamp_truesize = (kClamp + 1459) / 1460 * full_truesize();
  EXPECT_GT(c->rcv_buf, start) << "autotuning still grows the buffer below the clamp";
  EXPECT_LE(c->rcv_buf, clamp_truesize);
  EXPECT_GE(count(Counter::kTCPRcvBufGrown), 1u);
  for (const Sent& a : acks_) EXPECT_LE(offered(a, *c), kClamp + 127) << a;
  EXPECT_GT(offered(acks_.back(), *c), kClamp - 2 * 1460);
}

// A listener's clamp is inherited and sizes the SYN-ACK: the scale is the
// smallest that reaches the clamp (0 for 20000 bytes, where the unclamped
// listener announces 7) and the window is within it (Linux's
// tcp_openreq_init_rwin).
TEST_F(WindowClamp, ListenerClampSizesTheSynAckScale) {
  listener_ = stack().listen(kServerPort, 16);
  ASSERT_NE(listener_, nullptr);
  stack().set_window_clamp(*listener_, 20000);
  recv(seg().flags(kTcpSyn).seq(irs()).ack(0u).mss(1460).wscale(7));
  const Sent synack = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1));
  ASSERT_TRUE(synack.opts.window_scale.has_value());
  EXPECT_EQ(*synack.opts.window_scale, 0);
  EXPECT_LE(synack.win, 20000);
  set_iss(synack.seq);
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(1000));
  Tcb* c = stack().accept(*listener_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->window_clamp, 20000u);
  EXPECT_EQ(c->rcv_wscale, 0);
  peer_seq_ = irs() + 1;
  rounds(*c, 3);
  for (const Sent& a : acks_) EXPECT_LE(a.win, 20000) << a;
}

// A clamp of 1 MiB needs a shift of 5 (1 MiB >> 4 is past 65535).
TEST_F(WindowClamp, ListenerClampOfOneMegabyteAnnouncesFive) {
  listener_ = stack().listen(kServerPort, 16);
  ASSERT_NE(listener_, nullptr);
  stack().set_window_clamp(*listener_, 1u << 20);
  recv(seg().flags(kTcpSyn).seq(irs()).ack(0u).mss(1460).wscale(7));
  const Sent synack = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1));
  ASSERT_TRUE(synack.opts.window_scale.has_value());
  EXPECT_EQ(*synack.opts.window_scale, 5);
}

// An active open announced its scale in the SYN: a clamp (or SO_RCVBUF)
// set in SYN-SENT leaves it, on the retransmitted SYN and after the
// SYN-ACK alike, since the peer may have the first SYN's; only the window
// is clamped. (Recomputed from the smaller buffer, the scale would have
// fallen to 1 while the peer scaled our windows by 7.)
TEST_F(WindowClamp, ActiveOpenKeepsTheScaleItsSynAnnounced) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->rcv_wscale, 7);
  stack().set_window_clamp(*c, 20000, now());
  stack().set_receive_buffer(*c, 65536, now());
  advance_to(at_ms(1000));
  const Sent again = expect_sent(seg().flags(kTcpSyn).seq(iss()));
  ASSERT_TRUE(again.opts.window_scale.has_value());
  EXPECT_EQ(*again.opts.window_scale, 7);
  EXPECT_LE(again.win, 20000);
  recv(seg().flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1).mss(1460).wscale(7), at_ms(1010));
  const Sent ack = expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  ASSERT_EQ(c->state, TcpState::kEstablished);
  EXPECT_EQ(c->rcv_wscale, 7);
  EXPECT_LE(std::uint32_t{ack.win} << 7, 20000u + 127);
  EXPECT_GT(ack.win, 0);
}

}  // namespace
}  // namespace tern::tcptest
