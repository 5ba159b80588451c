// TCP segmentation offload on send (TcpStackOptions::tso_max, tcp_output.cc
// send_size): new data leaves as super-segments of whole MSS that the port
// cuts (RTE_MBUF_F_TX_TCP_SEG, tso_segsz = MSS), within the windows and the
// pacing quantum, over IPv4 and IPv6; retransmissions stay one MSS. Scripted segments at virtual time, as
// tcp_rack_test.cc: opened actively with MSS 1460 and SACK, no timestamps, Nagle off.
#include <algorithm>

#include "sack_script.h"

namespace tern::tcptest {
namespace {

constexpr std::uint32_t kMss = 1460;

class Tso : public SackScript {
 protected:
  Tso() {
    options_.tx_checksum_offload = true;
    options_.tso_max = TcpStackOptions::kTsoMaxPayload;
  }
  Tcb* open(Seg synack_options = seg().mss(1460).sack_perm()) {
    Tcb* c = active_syn(at_ms(0));
    if (c == nullptr) return nullptr;
    recv(synack_options.flags(kTcpSyn | kTcpAck).seq(irs()).ack(iss() + 1), at_ms(20));
    expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
    stack().set_nodelay(*c, true, now());
    return c;
  }
  // Every segment sent is one MSS at most and asks the port for no TSO.
  void expect_no_super_segments(const std::vector<Sent>& sent) {
    for (const Sent& s : sent) {
      EXPECT_LE(s.len(), kMss) << s;
      EXPECT_EQ(s.tso_segsz, 0) << s;
    }
  }
};

// The initial window goes as one super-segment of ten MSS (RFC 6928's IW10
// in whole segments), its checksum left to the port as DPDK wants it for
// TSO (the pseudo-header sum without the length), counted as ten wire
// segments in OutSegs and tcpi_segs_out; the bytes are the application's.
TEST_F(Tso, TheInitialWindowLeavesAsOneSuperSegmentOfWholeMss) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->mss, kMss);
  const std::uint32_t iw = c->cc.cwnd() / kMss;
  ASSERT_GE(iw, 2u);
  const std::uint64_t out_before = count(Counter::kOutSegs);
  const std::uint32_t segs_before = c->segs_out;
  send(*c, iw + 5, at_ms(30));
  const Sent s = expect_sent(seg().seq(S(1)).data(std::size_t{iw} * kMss));
  EXPECT_EQ(s.tso_segsz, kMss);
  EXPECT_TRUE(s.offloaded);
  EXPECT_TRUE(s.checksum_ok) << "pseudo-header sum without the length, l4_len";
  const Bytes all = pattern(std::size_t{iw + 5} * kMss);
  EXPECT_EQ(s.payload, Bytes(all.begin(), all.begin() + std::ptrdiff_t{iw} * kMss));
  expect_nothing_sent();  // cwnd is full
  EXPECT_EQ(count(Counter::kOutSegs), out_before + iw);
  EXPECT_EQ(c->segs_out, segs_before + iw);
  EXPECT_EQ(c->snd_nxt, S(iw + 1));
  // The ACK of all of it opens cwnd (slow start): the other five in one more.
  recv(ack_with(S(iw + 1)), at_ms(50));
  const Sent rest = expect_sent(seg().seq(S(iw + 1)).data(5 * kMss));
  EXPECT_EQ(rest.tso_segsz, kMss);
  expect_nothing_sent();
}

// On a port that copies every frame (tx_copy_max at kTxCopyMaxAlways) the
// chain is laid out as a receiving NIC's LRO builds it, which the
// in-process link hands over as it is: the header and the first MSS in one
// mbuf, then one mbuf per further MSS.
TEST_F(Tso, OnACopyingPortTheChainHasOneMbufPerWireSegment) {
  options_.tx_copy_max = TcpStackOptions::kTxCopyMaxAlways;
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  send(*c, 3, at_ms(30));
  const Sent s = expect_sent(seg().seq(S(1)).data(3 * kMss));
  EXPECT_EQ(s.tso_segsz, kMss);
  EXPECT_EQ(s.chain_parts, (std::vector<std::uint16_t>{20 + kMss, kMss, kMss}));
  EXPECT_TRUE(s.checksum_ok);
}

// A write that is not a whole number of MSS: the whole ones go together,
// the tail on its own (as a short segment always did: Nagle is off here),
// as an ordinary segment.
TEST_F(Tso, TheTailShortOfAnMssGoesOnItsOwn) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  const Bytes data = pattern(3 * kMss + 700);
  ASSERT_EQ(stack().send_copy(*c, data, at_ms(30)), data.size());
  const Sent whole = expect_sent(seg().seq(S(1)).data(3 * kMss));
  EXPECT_EQ(whole.tso_segsz, kMss);
  const Sent tail = expect_sent(seg().seq(S(4)).data(700));
  EXPECT_EQ(tail.tso_segsz, 0);
  EXPECT_TRUE(tail.f().psh());
  expect_nothing_sent();
}

// The peer's window bounds a super-segment like any segment: only the whole
// MSS it admits go (RFC 9293 §3.8.6.2.1: no short segment while more waits).
TEST_F(Tso, ThePeersWindowBoundsASuperSegment) {
  Tcb* c = open(seg().mss(1460).sack_perm().win(5000));
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->snd_wnd, 5000u);
  send(*c, 8, at_ms(30));
  const Sent s = expect_sent(seg().seq(S(1)).data(3 * kMss));
  EXPECT_EQ(s.tso_segsz, kMss);
  expect_nothing_sent();
}

// A part of a super-segment lost: what is resent is that MSS alone, as an
// ordinary segment (RFC 8985 §6.2: three segments SACKed above it and no
// reordering seen mark it lost at once), never the super-segment again.
TEST_F(Tso, ALostPartIsResentAloneAsOneMss) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  send(*c, 8, at_ms(30));
  const Sent s = expect_sent(seg().seq(S(1)).data(8 * kMss));
  ASSERT_EQ(s.tso_segsz, kMss);
  const std::uint64_t rtx_before = count(Counter::kRetransSegs);
  // S1..S3 arrive, S4 is lost, S5..S8 arrive.
  recv(ack_with(S(4), {{S(5), S(9)}}), at_ms(50));
  const Sent again = expect_sent(seg().seq(S(4)).data(kMss));
  EXPECT_EQ(again.tso_segsz, 0);
  EXPECT_EQ(count(Counter::kRetransSegs), rtx_before + 1);
  EXPECT_TRUE(c->sack_recovery);
  // New data sent in recovery (RFC 6675 NextSeg rule 2) goes one MSS at a time.
  send(*c, 4, at_ms(51));
  expect_no_super_segments(take_all_sent());
  recv(ack_with(S(9)), at_ms(70));
  take_all_sent();
  EXPECT_EQ(c->snd_una, S(9));
}

// After a timeout SND.NXT goes back to SND.UNA (go-back-N): everything sent
// again goes one MSS at a time.
TEST_F(Tso, AfterATimeoutEverythingIsResentOneMssAtATime) {
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  send(*c, 6, at_ms(30));
  ASSERT_EQ(expect_sent(seg().seq(S(1)).data(6 * kMss)).tso_segsz, kMss);
  advance_to(at_ms(3000));  // the tail loss probe (the last MSS), then the RTO
  const std::vector<Sent> sent = take_all_sent();
  ASSERT_GE(sent.size(), 2u);
  EXPECT_TRUE(std::any_of(sent.begin(), sent.end(), [&](const Sent& s) { return s.seq == S(1); }))
      << "the RTO resends from SND.UNA";
  expect_no_super_segments(sent);
}

// Over IPv6 too (the IPv6 layer passes a super-segment to the port whole):
// four MSS of new data leave as one, its checksum left to the port with the
// IPv6 pseudo-header sum without the length (RFC 8200 §8.1), the bytes the
// application's.
TEST_F(Tso, OverIpv6TooNewDataLeavesAsOneSuperSegment) {
  use_ipv6();
  Tcb* c = open(seg().mss(1440).sack_perm());
  ASSERT_NE(c, nullptr);
  const std::uint64_t out_before = count(Counter::kOutSegs);
  ASSERT_EQ(stack().send_copy(*c, pattern(4 * 1440 + 80), at_ms(30)), 4u * 1440 + 80);
  const Sent s = expect_sent(seg().seq(S(1)).data(4 * 1440));
  EXPECT_EQ(s.tso_segsz, 1440);
  EXPECT_TRUE(s.offloaded);
  EXPECT_TRUE(s.checksum_ok) << "IPv6 pseudo-header sum without the length, l4_len";
  const Bytes all = pattern(4 * 1440 + 80);
  EXPECT_EQ(s.payload, Bytes(all.begin(), all.begin() + 4 * 1440));
  const Sent tail = expect_sent(seg().seq(S(1) + 4 * 1440).data(80));
  EXPECT_EQ(tail.tso_segsz, 0) << "the tail short of an MSS on its own";
  expect_nothing_sent();
  EXPECT_EQ(count(Counter::kOutSegs), out_before + 5) << "four wire segments and the tail";
}

// Off (tso_max 0, the port offers none): one MSS per segment, as before.
TEST_F(Tso, OffSendsOneMssPerSegment) {
  options_.tso_max = 0;
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  send(*c, 4, at_ms(30));
  const std::vector<Sent> sent = take_all_sent();
  EXPECT_EQ(sent.size(), 4u);
  expect_no_super_segments(sent);
}

// Paced (BBR): a super-segment is at most one send quantum (1 ms of data
// at the pacing rate, at least two MSS), as Linux's tcp_tso_autosize sizes
// TSO frames by the pacing rate; ten MSS of window go as several.
TEST_F(Tso, APacedSuperSegmentIsAtMostOneSendQuantum) {
  cfg().congestion = CongestionAlgorithm::kBbr;
  Tcb* c = open();
  ASSERT_NE(c, nullptr);
  // One round trip first: BBR then paces from the measured RTT (20 ms).
  send(*c, 1, at_ms(30));
  expect_segment(1);
  recv(ack_with(S(2)), at_ms(50));
  ASSERT_NE(c->cc.pacing_rate(), 0u);
  const std::uint32_t quantum = std::max<std::uint32_t>(c->cc.pacing_quantum(), 2 * kMss);
  ASSERT_LT(quantum, c->cc.cwnd()) << "the window would bound it anyway";
  send(*c, 10, at_ms(60));
  advance_to(at_ms(100));  // the paced bursts
  const std::vector<Sent> sent = take_all_sent();
  ASSERT_GE(sent.size(), 2u);
  bool super = false;
  for (const Sent& s : sent) {
    EXPECT_LE(s.len(), quantum) << s;
    EXPECT_EQ(s.len() % kMss, 0u) << s;
    super = super || s.tso_segsz == kMss;
  }
  EXPECT_TRUE(super);
}

}  // namespace
}  // namespace tern::tcptest
