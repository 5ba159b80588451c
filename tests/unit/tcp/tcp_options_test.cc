// Option negotiation on the handshake: MSS (RFC 9293 §3.7.1), window scale
// and timestamps (RFC 7323 §2, §3), SACK-permitted (RFC 2018 §2); malformed
// and unknown options; PAWS (RFC 7323 §5).
#include "tcp_harness.h"

namespace tern::tcptest {
namespace {

using Options = TcpHarness;

TEST_F(Options, OurSynOffersEveryOption) {
  Tcb* c = stack().connect(kPeerIp, 80, at_ms(0));
  ASSERT_NE(c, nullptr);
  set_ports(c->tuple.lport, 80);
  const Sent syn = expect_sent(seg().flags(kTcpSyn).mss(1460).sack_perm());
  EXPECT_TRUE(syn.opts.window_scale.has_value()) << syn;
  ASSERT_TRUE(syn.opts.timestamps.has_value()) << syn;
  EXPECT_EQ(syn.opts.timestamps->second, 0u) << "RFC 7323 §3.2: TSecr is 0 on a SYN";
}

TEST_F(Options, AllNegotiatedWhenThePeerOffersThemToo) {
  Tcb* c = active_syn(at_ms(0));
  ASSERT_NE(c, nullptr);
  const std::uint32_t our_ts = our_tsval(*c);

  recv(seg()
           .flags(kTcpSyn | kTcpAck)
           .seq(irs())
           .ack(iss() + 1)
           .mss(1200)
           .sack_perm()
           .ts(5000, our_ts)
           .wscale(7),
       at_ms(1));
  // Our ACK carries a timestamp echoing the peer's.
  const Sent ack = expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 1));
  ASSERT_TRUE(ack.opts.timestamps.has_value()) << ack;
  EXPECT_EQ(ack.opts.timestamps->second, 5000u) << ack;
  EXPECT_FALSE(ack.opts.mss.has_value()) << "RFC 9293 §3.7.1: MSS only on SYNs";

  EXPECT_TRUE(c->ts_ok);
  EXPECT_TRUE(c->sack_ok);
  EXPECT_EQ(c->snd_wscale, 7);
  EXPECT_GT(c->rcv_wscale, 0) << "a 256 KB receive buffer needs a shift";
  EXPECT_EQ(c->mss, 1200 - 12) << "the peer's MSS less the 12 bytes of timestamps in every segment";

  // The peer's window field is scaled from now on (RFC 7323 §2.3).
  recv(seg().seq(irs() + 1).ack(iss() + 1).win(100).ts(5001, our_ts), at_ms(2));
  EXPECT_EQ(c->snd_wnd, 100u << 7);
}

// RFC 7323 §2.2, §3.2; RFC 2018 §2: an option is used only when both sides sent it.
TEST_F(Options, NoneUsedWhenThePeerOffersOnlyMss) {
  Tcb* c = establish_active(seg().mss(1400));
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->ts_ok);
  EXPECT_FALSE(c->sack_ok);
  EXPECT_EQ(c->snd_wscale, 0);
  EXPECT_EQ(c->rcv_wscale, 0) << "RFC 7323 §2.2: no scaling of our window either";
  EXPECT_EQ(c->mss, 1400);

  ASSERT_EQ(stack().send_copy(*c, pattern(100), at_ms(5)), 100u);
  const Sent d = expect_sent(seg().seq(iss() + 1).data(100));
  EXPECT_FALSE(d.opts.timestamps.has_value()) << d;
}

// A SYN with no options at all: the SYN-ACK offers only MSS, and we send at
// most 536 bytes per segment (RFC 9293 §3.7.1).
TEST_F(Options, SynWithoutAnyOption) {
  Tcb* c = establish_passive(seg());
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->ts_ok);
  EXPECT_FALSE(c->sack_ok);
  EXPECT_EQ(c->snd_wscale, 0);
  EXPECT_EQ(c->rcv_wscale, 0);
  EXPECT_EQ(c->mss, 536);

  ASSERT_EQ(stack().send_copy(*c, pattern(1000), at_ms(5)), 1000u);
  const Sent d = expect_sent(seg().seq(iss() + 1));
  EXPECT_EQ(d.len(), 536u) << d;
}

TEST_F(Options, SynAckAnswersOnlyWhatTheSynOffered) {
  ASSERT_NE(stack().listen(kServerPort, 8), nullptr);
  recv(seg().flags(kTcpSyn).seq(irs()), at_ms(0));
  const Sent synack = expect_sent(seg().flags(kTcpSyn | kTcpAck).ack(irs() + 1).mss(1460));
  EXPECT_FALSE(synack.opts.window_scale.has_value()) << synack;
  EXPECT_FALSE(synack.opts.timestamps.has_value()) << synack;
  EXPECT_FALSE(synack.opts.sack_permitted) << synack;
}

// RFC 9293 §3.2: an option of unknown kind with a sane length is skipped.
TEST_F(Options, UnknownOptionSkipped) {
  // Kind 253 (RFC 4727 experiment), length 4, then NOP NOP, then MSS.
  Tcb* c = establish_passive(seg()
                                 .raw_option(Bytes{std::byte{253}, std::byte{4}, std::byte{0xAB},
                                                   std::byte{0xCD}, std::byte{1}, std::byte{1}})
                                 .mss(1200)
                                 .sack_perm());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->mss, 1200);
  EXPECT_TRUE(c->sack_ok);
  EXPECT_EQ(drops(Drop::kTcpBadOptions), 0u);
}

// RFC 7323 §2.3: a shift count above 14 is used as 14.
TEST_F(Options, WindowScaleAbove14Clamped) {
  Tcb* c = establish_passive(seg().mss(1460).wscale(15));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->snd_wscale, 14);
}

TEST_F(Options, PeerMssAboveOursLimitedByOurMtu) {
  Tcb* c = establish_passive(seg().mss(9000));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->mss, 1460);
}

// A SYN with a malformed option list is dropped, not answered.
TEST_F(Options, MalformedOptionListDropped) {
  ASSERT_NE(stack().listen(kServerPort, 8), nullptr);
  // MSS with length 3: never valid.
  recv(seg().flags(kTcpSyn).seq(irs()).raw_option(Bytes{std::byte{2}, std::byte{3}, std::byte{5}}), at_ms(0));
  expect_nothing_sent();
  EXPECT_EQ(drops(Drop::kTcpBadOptions), 1u);
  EXPECT_EQ(tcbs_in_use(), 0u);
}

// RFC 7323 §5.3: a segment whose TSval is older than TS.Recent is an old
// duplicate: dropped, but ACKed.
TEST_F(Options, PawsDropsSegmentWithOldTimestamp) {
  Tcb* c = establish_passive(seg().mss(1460).ts(1000, 0));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->ts_ok);
  const std::uint32_t echo = our_tsval(*c);

  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).ts(2000, echo).data(100), at_ms(10));
  take_all_sent();
  EXPECT_EQ(read_all(*c), pattern(100));

  // Old incarnation's segment (TSval 1500 < TS.Recent 2000) carrying "new" sequence numbers.
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 101).ack(iss() + 1).ts(1500, echo).data(100, 2), at_ms(20));
  const Sent ack = expect_sent(seg().flags(kTcpAck).seq(iss() + 1).ack(irs() + 101));
  ASSERT_TRUE(ack.opts.timestamps.has_value()) << ack;
  EXPECT_EQ(ack.opts.timestamps->second, 2000u) << "TS.Recent unchanged";
  EXPECT_TRUE(read_all(*c).empty());
  EXPECT_EQ(drops(Drop::kTcpPawsRejected), 1u);
}

// RFC 7323 §4.3: TS.Recent follows the segment at RCV.NXT, and we echo it.
TEST_F(Options, TimestampEchoFollowsTheLatestInOrderSegment) {
  Tcb* c = establish_passive(seg().mss(1460).ts(1000, 0));
  ASSERT_NE(c, nullptr);
  const std::uint32_t echo = our_tsval(*c);
  recv(seg().flags(kTcpAck | kTcpPsh).seq(irs() + 1).ack(iss() + 1).ts(3000, echo).data(10), at_ms(10));
  advance_by(cfg().delayed_ack);
  const Sent ack = expect_sent(seg().flags(kTcpAck).ack(irs() + 11));
  ASSERT_TRUE(ack.opts.timestamps.has_value()) << ack;
  EXPECT_EQ(ack.opts.timestamps->second, 3000u) << ack;
}

}  // namespace
}  // namespace tern::tcptest
