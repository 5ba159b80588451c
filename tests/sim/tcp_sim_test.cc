// Two TCP stacks on a simulated link (issue 3): named scenarios, a seeded
// sweep whose parameters come from the seed, determinism, and a SYN flood.
//
// The sweep runs TERN_SIM_SEEDS seeds (default 1000) starting at
// TERN_SIM_FIRST_SEED (default 1). A failing seed prints its scenario, what
// failed and the tail of its trace; re-run it alone with
//   build/tests/sim/tcp_sim_sweep --first SEED --seeds 1 --trace-lines 100000
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sim_scenario.h"
#include "tcp/cc/controller.h"

namespace tern::sim {
namespace {

// Made once per process (the EAL is up by then) and never freed: the pools
// outlive every test, and rte_eal_cleanup() runs before static destructors.
const SimPools& pools() {
  static const SimPools* p = new SimPools;
  return *p;
}

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

Scenario base(std::uint64_t seed) {
  Scenario s;
  s.seed = seed;
  s.a = s.b = sim_host_defaults();
  return s;
}

LinkParams link(Duration delay, double loss = 0) {
  LinkParams p;
  p.delay = delay;
  p.loss = loss;
  return p;
}

void expect_pass(const Scenario& s) {
  ASSERT_TRUE(pools().ok());
  const std::string report = check_scenario(s, pools());
  EXPECT_TRUE(report.empty()) << report;
}

TEST(SimTcp, CleanMegabyteEachWay) {
  Scenario s = base(1);
  s.ab = s.ba = link(Duration::ms(1));
  s.bytes_ab = s.bytes_ba = 1'000'000;
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  EXPECT_EQ(o.a.get(Counter::kRetransSegs), 0u);
  EXPECT_EQ(o.b.get(Counter::kRetransSegs), 0u);
  EXPECT_EQ(o.a.get(Counter::kActiveOpens), 1u);
  EXPECT_EQ(o.b.get(Counter::kPassiveOpens), 1u);
}

TEST(SimTcp, TenMegabytesWithOnePercentLoss) {
  Scenario s = base(2);
  s.ab = s.ba = link(Duration::ms(5), 0.01);
  s.bytes_ab = 10'000'000;
  s.bytes_ba = 100'000;
  s.a.tcp.snd_buf = s.b.tcp.rcv_buf = 1 << 20;
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  EXPECT_GT(o.ab.lost, 0u);
  EXPECT_GT(o.a.get(Counter::kRetransSegs), 0u);
}

// Over IPv6: every segment through the IPv6 layer (none through IPv4),
// full-sized ones at MTU - 60 (1440 bytes, less 12 for timestamps).
TEST(SimTcp, CleanMegabyteEachWayOverIpv6) {
  Scenario s = base(1);
  s.a.ipv6 = s.b.ipv6 = true;
  s.ab = s.ba = link(Duration::ms(1));
  s.bytes_ab = s.bytes_ba = 1'000'000;
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  EXPECT_EQ(o.a.get(Counter::kRetransSegs), 0u);
  // At least 1e6 / 1440 data segments each way went out over IPv6.
  EXPECT_GE(o.a.get(Counter::kIp6OutRequests), 1'000'000u / 1440);
  EXPECT_GE(o.b.get(Counter::kIp6OutRequests), 1'000'000u / 1440);
  EXPECT_EQ(o.a.get(Counter::kIpOutRequests), 0u) << "an IPv4 packet left A";
}

TEST(SimTcp, HundredMillisecondDelay) {
  Scenario s = base(3);
  s.ab = s.ba = link(Duration::ms(100));
  s.bytes_ab = 1'000'000;
  s.bytes_ba = 300'000;
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  // At least the handshake, and the window must grow: far fewer RTTs than segments.
  EXPECT_GT(o.end - Instant{}, Duration::ms(400));
  EXPECT_LT(o.end - Instant{}, Duration::s(30));
}

TEST(SimTcp, HalfCloseRequestResponse) {
  Scenario s = base(4);
  s.ab = s.ba = link(Duration::ms(2));
  s.bytes_ab = 2'000;      // the request, then A shuts down writing
  s.bytes_ba = 2'000'000;  // B answers into A's FIN_WAIT_2
  s.close = CloseOrder::kHalfClose;
  expect_pass(s);
}

TEST(SimTcp, BClosesFirst) {
  Scenario s = base(5);
  s.ab = s.ba = link(Duration::ms(2), 0.02);
  s.bytes_ab = 200'000;
  s.bytes_ba = 50'000;
  s.close = CloseOrder::kBFirst;
  expect_pass(s);
}

TEST(SimTcp, ZeroBytes) {
  for (CloseOrder c :
       {CloseOrder::kTogether, CloseOrder::kAFirst, CloseOrder::kBFirst, CloseOrder::kHalfClose}) {
    SCOPED_TRACE(to_string(c));
    Scenario s = base(6);
    s.ab = s.ba = link(Duration::ms(1));
    s.close = c;
    expect_pass(s);
  }
}

// Each impairment alone, then all together.
struct Impairment {
  const char* name;
  double reorder, duplicate, corrupt;
};
class SimImpairment : public ::testing::TestWithParam<Impairment> {};

TEST_P(SimImpairment, StreamSurvives) {
  const Impairment& im = GetParam();
  for (std::uint64_t seed : {7u, 8u, 9u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Scenario s = base(seed);
    LinkParams p = link(Duration::ms(3), 0.01);
    p.reorder = im.reorder;
    p.reorder_delay = Duration::ms(2);
    p.duplicate = im.duplicate;
    p.corrupt = im.corrupt;
    s.ab = s.ba = p;
    s.bytes_ab = 500'000;
    s.bytes_ba = 500'000;
    const Outcome o = run_scenario(s, pools());
    EXPECT_TRUE(o.ok) << check_scenario(s, pools());
    if (im.corrupt > 0) {
      EXPECT_GT(o.ab.corrupted + o.ba.corrupted, 0u);
      // Every corrupted frame is caught by a checksum (or a header check) and never acted on.
      EXPECT_GT(o.a.get(Drop::kTcpBadChecksum) + o.b.get(Drop::kTcpBadChecksum) +
                    o.a.get(Drop::kIpBadChecksum) + o.b.get(Drop::kIpBadChecksum),
                0u);
    }
    if (im.duplicate > 0) {
      EXPECT_GT(o.ab.duplicated + o.ba.duplicated, 0u);
    }
    if (im.reorder > 0) {
      EXPECT_GT(o.ab.reordered + o.ba.reordered, 0u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Link, SimImpairment,
    ::testing::Values(Impairment{"reorder", 0.05, 0, 0}, Impairment{"duplicate", 0, 0.03, 0},
                      Impairment{"corrupt", 0, 0, 0.03}, Impairment{"all", 0.05, 0.03, 0.03}),
    [](const ::testing::TestParamInfo<Impairment>& i) { return std::string(i.param.name); });

TEST(SimTcp, SlowReaderClosesTheWindow) {
  Scenario s = base(10);
  s.ab = s.ba = link(Duration::ms(1));
  s.bytes_ab = 200'000;
  s.a.tcp.snd_buf = 64 * 1024;
  s.b.tcp.rcv_buf = 8 * 1024;
  s.read_per_tick = 1000;  // 1 MB/s reader: the window closes and reopens
  expect_pass(s);
}

TEST(SimTcp, SameSeedSameTrace) {
  Scenario s = base(11);
  LinkParams p = link(Duration::ms(2), 0.05);
  p.reorder = 0.05;
  p.duplicate = 0.02;
  s.ab = s.ba = p;
  s.bytes_ab = 100'000;
  s.bytes_ba = 30'000;
  const Outcome x = run_scenario(s, pools(), 1'000'000);
  const Outcome y = run_scenario(s, pools(), 1'000'000);
  EXPECT_TRUE(x.ok) << check_scenario(s, pools());
  EXPECT_EQ(x.trace, y.trace);
  EXPECT_EQ(x.a.events, y.a.events);
  EXPECT_EQ(x.b.drops, y.b.drops);
  s.seed = 12;
  const Outcome z = run_scenario(s, pools(), 1'000'000);
  EXPECT_NE(x.trace, z.trace) << "the seed changes nothing";
}

TEST(SimTcp, SynFlood) {
  ASSERT_TRUE(pools().ok());
  SynFlood fl;
  fl.link = link(Duration::ms(1));
  fl.trace_lines = env_u64("TERN_SIM_FLOOD_TRACE", 0);
  const SynFloodOutcome o = run_syn_flood(fl, pools());
  if (!o.trace.empty()) std::printf("%s", o.trace.c_str());
  EXPECT_TRUE(o.ok) << o.failures;
  EXPECT_GT(o.b.get(Counter::kSyncookiesSent), 90'000u);
  EXPECT_EQ(o.b.get(Counter::kPassiveOpens), 1u);
  EXPECT_LE(o.max_tcbs_b, fl.syn_backlog + 4);
  EXPECT_GE(o.max_tcbs_b, fl.syn_backlog) << "the SYN queue never filled";
  // A connected while the SYN queue was full: its connection came from a cookie.
  EXPECT_EQ(o.b.get(Counter::kSyncookiesRecv), 1u);
  std::printf(
      "SYN flood: B's TCB high-water mark %u, SyncookiesSent %llu, ListenDrops %llu, transfer done at %s s\n",
      o.max_tcbs_b, static_cast<unsigned long long>(o.b.get(Counter::kSyncookiesSent)),
      static_cast<unsigned long long>(o.b.get(Counter::kListenDrops)), format_time(o.transfer_done).c_str());
  RecordProperty("max_tcbs_b", static_cast<int>(o.max_tcbs_b));
}

// A side that gives up after its whole retransmission series went unheard
// (every frame its peer sent it lost) did what RFC 9293 §3.8.3 (R2) and
// Linux do: the run passes, says so in gave_up, and still checks what was
// delivered (sweep seed 2963 of 100,000 was such a run, and failed).
TEST(SimTcp, AnOrphanThatGivesUpUnheardIsNotAFailure) {
  ASSERT_TRUE(pools().ok());
  Scenario s = base(14);
  s.ab = s.ba = link(Duration::ms(1));
  s.bytes_ba = 200'000;
  s.close_directly = true;  // B closes once all is queued: an orphan
  const auto dead_from = Instant{} + Duration::ms(8), dead_until = Instant{} + Duration::s(3600);
  s.link_schedule = [&](Instant now, SimLink& l) {
    LinkParams p = l.params(Side::kA);
    p.loss = now >= dead_from && now < dead_until ? 1.0 : 0.0;
    l.set_params(Side::kA, p);
  };
  Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << o.failures;
  EXPECT_NE(o.gave_up.find("B gave up after 9 timeouts in a row"), std::string::npos) << o.gave_up;
  EXPECT_EQ(o.b.get(Counter::kTCPAbortOnTimeout), 1u);

  // A link that comes back before the orphan gives up: no excuse needed.
  const auto back = Instant{} + Duration::s(2);
  s.link_schedule = [&](Instant now, SimLink& l) {
    LinkParams p = l.params(Side::kA);
    p.loss = now >= dead_from && now < back ? 1.0 : 0.0;
    l.set_params(Side::kA, p);
  };
  o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << o.failures;
  EXPECT_TRUE(o.gave_up.empty()) << o.gave_up;
  EXPECT_EQ(o.b.get(Counter::kTCPAbortOnTimeout), 0u);
}

// The checks themselves: a dead link fails the scenario (and says why)
// instead of hanging, and the virtual-time limit ends a run that cannot finish.
TEST(SimTcp, DeadLinkFailsWithReasons) {
  Scenario s = base(13);
  s.ab = s.ba = link(Duration::ms(1), 1.0);
  s.bytes_ab = 1000;
  Outcome o = run_scenario(s, pools());
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.failures.find("A: connection ended with error timed out"), std::string::npos) << o.failures;
  EXPECT_NE(o.failures.find("B: received 0 of 1000 bytes"), std::string::npos) << o.failures;
  EXPECT_EQ(o.failures.find("mbufs"), std::string::npos) << o.failures;

  s.time_limit = Duration::s(10);  // before the SYN retries run out
  o = run_scenario(s, pools(), 50);
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.failures.find("not finished after 10.000000 s"), std::string::npos) << o.failures;
  EXPECT_NE(o.trace.find("ARP, Request who-has 10.0.0.2 tell 10.0.0.1  [LOST]"), std::string::npos)
      << o.trace;
}

// Loss recovery without timeouts: 10 MB at 1% loss, 2% duplication and 2%
// reordering (up to 2 ms late) each way, 1 ms delay, SACK on, eight seeds.
// About 70 of the ~6900 segments are lost per run. Limited transmit (RFC 3042)
// gives a loss in a small window its three duplicates, and SACK blocks past
// "recover" let the first segment sent after a recovery be fast-retransmitted
// (RFC 6582 §3.2 step 1); NewReno's partial ACKs repair the rest of a window.
// What still needs the timer is mostly a retransmission lost again: 1% of
// ~70 repairs, about 0.7 per run. So at most 2 per run and 8 in all; before
// both changes these seeds took 3, 0, 1, 1, 6, 6, 5 and 4 (26).
TEST(SimTcp, LossRecoveryWithoutTimeouts) {
  std::uint64_t total = 0;
  for (std::uint64_t seed = 100; seed < 108; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Scenario s = base(seed);
    LinkParams p = link(Duration::ms(1), 0.01);
    p.duplicate = 0.02;
    p.reorder = 0.02;
    p.reorder_delay = Duration::ms(2);
    s.ab = s.ba = p;
    s.bytes_ab = 10'000'000;
    s.a.tcp.snd_buf = s.b.tcp.rcv_buf = 1 << 20;
    const Outcome o = run_scenario(s, pools());
    EXPECT_TRUE(o.ok) << check_scenario(s, pools());
    EXPECT_GT(o.ab.lost, 50u);
    // Most losses repaired by fast retransmission (the rest by probes and
    // RACK's timer), none by the RTO beyond the bound below.
    EXPECT_GT(o.a.get(Counter::kTCPFastRetrans), o.ab.lost / 2);
    const std::uint64_t timeouts = o.a.get(Counter::kTCPTimeouts);
    EXPECT_LE(timeouts, 2u) << "lost " << o.ab.lost << ", fast retransmits "
                            << o.a.get(Counter::kTCPFastRetrans) << ", partial-ACK retransmits "
                            << o.a.get(Counter::kTCPPartialAckRetrans);
    std::printf(
        "seed %llu: %s s, lost %llu, TCPTimeouts %llu, TCPFastRetrans %llu, TCPPartialAckRetrans %llu\n",
        static_cast<unsigned long long>(seed), format_time(o.end).c_str(),
        static_cast<unsigned long long>(o.ab.lost), static_cast<unsigned long long>(timeouts),
        static_cast<unsigned long long>(o.a.get(Counter::kTCPFastRetrans)),
        static_cast<unsigned long long>(o.a.get(Counter::kTCPPartialAckRetrans)));
    total += timeouts;
  }
  EXPECT_LE(total, 8u);
}

// 100 MB with 4 MB buffers at 1% loss and 2% duplication each way, 1 ms:
// windows of a few thousand segments, ~780 segments lost. With SACK loss
// recovery (RFC 6675 with PRR), lost retransmissions found by SACK blocks
// and tail loss probes (tcp_sack.cc, tcp_timers.cc), no loss needs the
// timer: 0 timeouts on this seed. Before (NewReno with SACK hints) the
// same scenario needed some (this test allowed up to 25), each a go-back-N
// over megabytes.
// 100 MB from A with 4 MB buffers over 1 ms each way, `loss` and 2%
// duplication in both directions, seed 101; checks the stream arrived intact.
Outcome hundred_megabytes(double loss) {
  Scenario s = base(101);
  LinkParams p = link(Duration::ms(1), loss);
  p.duplicate = 0.02;
  s.ab = s.ba = p;
  s.bytes_ab = 100'000'000;
  s.a.tcp.snd_buf = s.b.tcp.rcv_buf = 4 << 20;
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  return o;
}

TEST(SimTcp, OnePercentLossRecoversWithoutTimeouts) {
  const Outcome o = hundred_megabytes(0.01);
  EXPECT_GT(o.ab.lost, 600u);
  EXPECT_GT(o.a.get(Counter::kTCPSackRecovery), 300u);
  EXPECT_LE(o.a.get(Counter::kTCPTimeouts), 2u);
  std::printf("100 MB at 1%%: %s s, lost %llu, TCPTimeouts %llu, TCPSackRecovery %llu, TCPLossProbes %llu\n",
              format_time(o.end).c_str(), static_cast<unsigned long long>(o.ab.lost),
              static_cast<unsigned long long>(o.a.get(Counter::kTCPTimeouts)),
              static_cast<unsigned long long>(o.a.get(Counter::kTCPSackRecovery)),
              static_cast<unsigned long long>(o.a.get(Counter::kTCPLossProbes)));
}

// The same at 5% loss. Before RACK (RFC 6675 with the head's lost-
// retransmission check, go-back-N after a timeout), measured with CUBIC:
// 3,897 lost, 56 timeouts, 9,299 segments resent: a lost retransmission of
// any hole but the first waited for the timer, and go-back-N resent the
// whole flight. With RACK (tcp_rack.cc) every lost retransmission is found
// by time (TCPLostRetransmit), and a timeout resends only what it marks
// lost: 3,620 lost, 10 timeouts, 3,636 resent. Bounds: timeouts at most 1%
// of the losses; retransmissions at most 5% above the losses (measured
// 0.3%: the 2% duplication draws D-SACKs, not resends, and RACK resends
// a segment only once a later one was delivered). At 7% since CUBIC's SACK
// recovery reduces from cwnd (RFC 9438 §4.6): at 5% it met no timeout any
// more (3,619 lost, 3,624 resent), and the scenario is about them; at 7%:
// 5,139 lost, 6 timeouts, 5,183 resent.
TEST(SimTcp, GoBackAfterTimeoutRepairsLostResendsWithoutTimeouts) {
  const Outcome o = hundred_megabytes(0.07);
  EXPECT_GT(o.ab.lost, 3000u);
  EXPECT_GT(o.a.get(Counter::kTCPTimeouts), 0u) << "the scenario exercises timeouts";
  EXPECT_GT(o.a.get(Counter::kTCPLostRetransmit), 0u);
  EXPECT_LE(o.a.get(Counter::kTCPTimeouts), o.ab.lost / 100);
  EXPECT_LE(o.a.get(Counter::kRetransSegs), o.ab.lost * 105 / 100);
  const double secs = static_cast<double>(o.end.ns_since_epoch()) / 1e9;
  std::printf(
      "100 MB at 7%%: %s s (%.1f Mbit/s), lost %llu, TCPTimeouts %llu, TCPLostRetransmit %llu, "
      "RetransSegs %llu\n",
      format_time(o.end).c_str(), 800.0 / secs, static_cast<unsigned long long>(o.ab.lost),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPTimeouts)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPLostRetransmit)),
      static_cast<unsigned long long>(o.a.get(Counter::kRetransSegs)));
}

// Burst loss: a 100 Mbit/s bottleneck with a 64 KB drop-tail queue and 4 MB
// buffers, 5 ms each way. Each time cwnd outgrows the queue a run of
// consecutive segments is dropped at once, more than the 32 holes a
// connection's own scoreboard holds. Measured with that limit: 433
// dropped, 547 resent (114 D-SACKs: SACKed data the full board forgot,
// which RACK then called lost); with the board's ranges in the transmit
// log's room (256) while the log is lent: 284 dropped, 284 resent, no
// D-SACK, 0 timeouts, 92.5 Mbit/s. Bounds: no more than 2 timeouts,
// retransmissions at most 5% above the drops, no SACK range forgotten.
TEST(SimTcp, BurstLossFromADropTailQueue) {
  Scenario s = base(103);
  LinkParams p = link(Duration::ms(5));
  p.rate_bps = 100'000'000;
  p.queue_limit_bytes = 64 * 1024;
  s.ab = p;
  s.ba = link(Duration::ms(5));
  s.bytes_ab = 20'000'000;
  s.a.tcp.snd_buf = s.b.tcp.rcv_buf = 4 << 20;
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  const std::uint64_t lost = o.ab.dropped_queue + o.ab.lost;
  EXPECT_GT(lost, 100u);
  EXPECT_LE(o.a.get(Counter::kTCPTimeouts), 2u);
  EXPECT_LE(o.a.get(Counter::kRetransSegs), lost * 105 / 100);
  EXPECT_EQ(o.a.get(Counter::kTCPSACKOverflow), 0u);
  const double secs = static_cast<double>(o.end.ns_since_epoch()) / 1e9;
  std::printf(
      "burst loss: %s s (%.1f Mbit/s), dropped %llu, RetransSegs %llu, TCPTimeouts %llu, "
      "TCPSackRecovery %llu, TCPLostRetransmit %llu, TCPDSACKRecv %llu, TCPLossProbes %llu\n",
      format_time(o.end).c_str(), 8 * 20.0 / secs, static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(o.a.get(Counter::kRetransSegs)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPTimeouts)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPSackRecovery)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPLostRetransmit)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPDSACKRecv)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPLossProbes)));
}

// Heavy reordering: 2 % of the frames each way held back by up to 8 ms on a
// 5 ms path (so a late frame is overtaken by a few milliseconds' worth of
// segments), no link loss (the receiver's window may still drop some):
// nearly every retransmission is spurious. Measured: 263 reordered, 77
// resent, 0 timeouts; the same scenario with RFC 6675's DupThresh (no
// transmit log) resends 242. Before reordering is first seen reo_wnd is 0
// in recovery (RFC 8985 §6.2 step 4), and a frame held back longer than
// reo_wnd (min_RTT / 4 = 2.5 ms, widened by D-SACKs) is resent. Bound: at
// most 40% of the reordered frames (RFC 6675: 92%), no timeout.
TEST(SimTcp, HeavyReorderingCostsFewSpuriousRetransmissions) {
  Scenario s = base(104);
  LinkParams p = link(Duration::ms(5));
  p.reorder = 0.02;
  p.reorder_delay = Duration::ms(8);
  s.ab = s.ba = p;
  s.bytes_ab = 20'000'000;
  s.a.tcp.snd_buf = s.b.tcp.rcv_buf = 4 << 20;
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  EXPECT_GT(o.ab.reordered, 100u);
  EXPECT_LE(o.a.get(Counter::kRetransSegs), o.ab.reordered * 4 / 10);
  EXPECT_EQ(o.a.get(Counter::kTCPTimeouts), 0u);
  const double secs = static_cast<double>(o.end.ns_since_epoch()) / 1e9;
  std::printf(
      "reordering: %s s (%.1f Mbit/s), reordered %llu, spurious RetransSegs %llu, TCPTimeouts %llu, "
      "TCPSackRecovery %llu, TCPDSACKRecv %llu\n",
      format_time(o.end).c_str(), 8 * 20.0 / secs, static_cast<unsigned long long>(o.ab.reordered),
      static_cast<unsigned long long>(o.a.get(Counter::kRetransSegs)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPTimeouts)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPSackRecovery)),
      static_cast<unsigned long long>(o.a.get(Counter::kTCPDSACKRecv)));
}

// Tern at both ends as through tern-impair-bridge (bench/loss/README.md,
// issue 12): 1 % loss each way, 3 Gbit/s, 100 us each way, frames taken in
// receive bursts every 50 us and merged by the receiver's GRO (runtime/
// rx_coalesce.h), [tcp]'s default buffers, CUBIC, 20 MB, eight seeds. What
// the sender resends that the receiver already holds, the receiver counts
// (TCPDSACKDupData; RFC 2883 §4 reports each). rte_gro alone handed the
// segments after a hole-filling retransmission (same TSval) to TCP before
// it, the receiver SACKed them with the hole open, and RACK (RFC 8985
// §6.2) called the retransmission lost. Measured over the eight seeds,
// 1,178 frames lost: before the fix 1,391 resent, 212 duplicates,
// TCPLostRetransmit 223; after it 1,178, 0 and 12. Bounds: duplicates at
// most 2 % of the losses (a tail loss probe may resend a segment that
// arrived, RFC 8985 §7.3), retransmissions at most 3 % above them.
TEST(SimTcp, BurstsMergedByGroKeepRetransmissionsInOrder) {
  std::uint64_t lost = 0, dup = 0, resent = 0;
  for (std::uint64_t seed = 200; seed < 208; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Scenario s = base(seed);
    LinkParams p = link(Duration::us(100), 0.01);
    p.rate_bps = 3'000'000'000;
    p.batch = Duration::us(50);
    s.ab = s.ba = p;
    s.a.gro = s.b.gro = true;
    s.bytes_ab = 20'000'000;
    const Outcome o = run_scenario(s, pools());
    EXPECT_TRUE(o.ok) << check_scenario(s, pools());
    EXPECT_GT(o.b.get(Counter::kGroMerged), 0u) << "the receiver merged nothing";
    std::printf("seed %llu: lost %llu, RetransSegs %llu, TCPDSACKDupData %llu, TCPLostRetransmit %llu\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(o.ab.lost),
                static_cast<unsigned long long>(o.a.get(Counter::kRetransSegs)),
                static_cast<unsigned long long>(o.b.get(Counter::kTCPDSACKDupData)),
                static_cast<unsigned long long>(o.a.get(Counter::kTCPLostRetransmit)));
    lost += o.ab.lost;
    dup += o.b.get(Counter::kTCPDSACKDupData);
    resent += o.a.get(Counter::kRetransSegs);
  }
  EXPECT_GT(lost, 800u);
  EXPECT_LE(dup, lost * 2 / 100);
  EXPECT_LE(resent, lost * 103 / 100);
}

// A bottleneck: A sends 30 MB to B over 100 Mbit/s with 10 ms each way and
// a 1 MB queue (84 ms of buffer, four times the 250 kB BDP). Sampled once
// per millisecond after the first second: the queue at the bottleneck and,
// under BBR, its BtlBw and pacing rate.
struct Bottleneck {
  double goodput = 0;    // bytes per second, connect to close
  double queue_avg = 0;  // bytes
  std::uint64_t queue_max = 0;
  double btl_bw_avg = 0;  // bytes per second (BBR)
  double pacing_avg = 0;
  Outcome o;
};

// The bottleneck's rate in TCP payload: 1448 of each 1514-byte frame.
constexpr double kBottleneckPayloadRate = 100e6 / 8 * 1448 / 1514;

Bottleneck bottleneck(CongestionAlgorithm cc) {
  Scenario s = base(7);
  LinkParams p = link(Duration::ms(10));
  p.rate_bps = 100'000'000;
  p.queue_limit_bytes = 1 << 20;
  s.ab = s.ba = p;
  s.bytes_ab = 30'000'000;
  s.a.tcp.snd_buf = s.b.tcp.rcv_buf = 4 << 20;
  s.a.tcp.congestion = s.b.tcp.congestion = cc;
  Bottleneck r;
  double q_sum = 0, bw_sum = 0, rate_sum = 0;
  std::uint64_t n = 0, nb = 0;
  Instant last;
  s.observe = [&](TcpSim& sim, Instant now) {
    if (now < Instant{} + Duration::s(1) || now - last < Duration::ms(1)) return;
    last = now;
    const std::uint64_t q = sim.link().queued_bytes(Side::kA, now);
    q_sum += static_cast<double>(q);
    r.queue_max = std::max(r.queue_max, q);
    ++n;
    sim.a().tcp.for_each_connection([&](const Tcb& c) {
      if (const Bbr* b = c.cc.bbr()) {
        bw_sum += static_cast<double>(b->btl_bw());
        rate_sum += static_cast<double>(c.cc.pacing_rate());
        ++nb;
      }
    });
  };
  r.o = run_scenario(s, pools());
  EXPECT_TRUE(r.o.ok) << r.o.failures;
  r.goodput = 30e6 / (static_cast<double>(r.o.end.ns_since_epoch()) / 1e9);
  r.queue_avg = n > 0 ? q_sum / static_cast<double>(n) : 0;
  r.btl_bw_avg = nb > 0 ? bw_sum / static_cast<double>(nb) : 0;
  r.pacing_avg = nb > 0 ? rate_sum / static_cast<double>(nb) : 0;
  std::printf(
      "%s at the bottleneck: goodput %.2f MB/s (%.0f %% of %.2f), queue avg %.0f B max %llu B, "
      "BtlBw avg %.2f MB/s, pacing avg %.2f MB/s, TCPTimeouts %llu, queue drops %llu, RetransSegs %llu\n",
      std::string(to_string(cc)).c_str(), r.goodput / 1e6, 100 * r.goodput / kBottleneckPayloadRate,
      kBottleneckPayloadRate / 1e6, r.queue_avg, static_cast<unsigned long long>(r.queue_max),
      r.btl_bw_avg / 1e6, r.pacing_avg / 1e6,
      static_cast<unsigned long long>(r.o.a.get(Counter::kTCPTimeouts)),
      static_cast<unsigned long long>(r.o.ab.dropped_queue),
      static_cast<unsigned long long>(r.o.a.get(Counter::kRetransSegs)));
  return r;
}

// BBR (draft-cardwell-iccrg-bbr-congestion-control-00 §1, §4.2): BtlBw and
// the pacing rate converge near the bottleneck rate and the queue stays
// small, where CUBIC fills the buffer until it overflows.
TEST(SimTcp, BbrPacesNearTheBottleneckRateWithASmallQueue) {
  const Bottleneck b = bottleneck(CongestionAlgorithm::kBbr);
  EXPECT_GT(b.btl_bw_avg, 0.9 * kBottleneckPayloadRate);
  EXPECT_LT(b.btl_bw_avg, 1.05 * kBottleneckPayloadRate);
  EXPECT_GT(b.pacing_avg, 0.85 * kBottleneckPayloadRate);
  EXPECT_LT(b.pacing_avg, 1.15 * kBottleneckPayloadRate);
  EXPECT_LT(b.queue_avg, 60'000);  // a quarter of the BDP (250 kB)
  EXPECT_GT(b.goodput, 0.85 * kBottleneckPayloadRate);
  EXPECT_EQ(b.o.a.get(Counter::kTCPTimeouts), 0u);
  EXPECT_EQ(b.o.ab.dropped_queue, 0u);
  const Bottleneck c = bottleneck(CongestionAlgorithm::kCubic);
  EXPECT_GT(c.queue_avg, 4 * b.queue_avg);
}

// BBR's loss input (-00 §4.2.3.4 packets_lost) counts each loss once. A
// long recovery with a full transmit log (1 Gbit/s, 10 ms, 1 % random loss
// and the queue overflowing in STARTUP, seed 8 of tcp_sim_goodput's 10 ms /
// 1 % point) used to merge RACK-lost records into neighbours in flight, so
// RACK marked the same octets lost again at every send: Tcb::lost_segs
// reached 55,104 for 788 frames dropped, each time BBR took the octets off
// cwnd, and cwnd sat at its floor for ~10 round trips (goodput 218
// Mbit/s; 359-389 once each loss counts once).
TEST(SimTcp, BbrCountsEachLossOnceInALongRecovery) {
  Scenario s = base(8);
  s.a.tcp.congestion = s.b.tcp.congestion = CongestionAlgorithm::kBbr;
  LinkParams p = link(Duration::ms(5), 0.01);
  s.ab = s.ba = p;
  s.bytes_ab = 17'734'305;  // tcp_sim_goodput --seconds 10 at this point
  std::uint32_t lost_segs = 0;
  s.observe = [&](TcpSim& sim, Instant) {
    sim.a().tcp.for_each_connection([&](const Tcb& c) { lost_segs = std::max(lost_segs, c.lost_segs); });
  };
  const Outcome o = run_scenario(s, pools());
  ASSERT_TRUE(o.ok) << o.failures;
  const std::uint64_t dropped = o.ab.lost + o.ab.dropped_queue;
  std::printf("BBR, 10 ms, 1 %%: %.1f Mbit/s, %llu frames dropped, lost_segs %u, RetransSegs %llu\n",
              static_cast<double>(s.bytes_ab) * 8 / static_cast<double>(o.end.ns_since_epoch()) * 1e3,
              static_cast<unsigned long long>(dropped), lost_segs,
              static_cast<unsigned long long>(o.a.get(Counter::kRetransSegs)));
  EXPECT_GT(dropped, 100u);
  EXPECT_LT(lost_segs, 2 * dropped);
  EXPECT_EQ(o.a.get(Counter::kTCPTimeouts), 0u);
}

// Delay spikes on the ACK path: 50 MB from A over 100 Mbit/s, 1 ms each
// way, and in the second quarter of every second the ACKs B sends take
// `spike` longer. A waits longer than its RTO for the ACKs of data that
// arrived: spurious timeouts. The timeout fires after the spike, so the ACK
// to its retransmission overtakes the delayed ones: it carries B's D-SACK
// (RFC 2883) and echoes a TSval from before the timeout (Eifel, RFC 3522),
// either of which shows the timeout spurious (counted as TCPDSACKUndo,
// checked first). With [tcp] undo A restores its window and goes on with
// new data (RFC 4015); without, it restarts from one segment and goes back
// to SND.UNA, resending a window the peer already holds.
Outcome delay_spikes(bool undo, Duration spike, std::uint64_t until_ms = 500) {
  Scenario s = base(11);
  LinkParams p = link(Duration::ms(1));
  p.rate_bps = 100'000'000;
  s.ab = s.ba = p;
  s.bytes_ab = 50'000'000;
  s.a.tcp.snd_buf = s.b.tcp.rcv_buf = 1 << 20;
  s.a.tcp.undo = undo;
  s.link_schedule = [spike, until_ms](Instant now, SimLink& l) {
    const std::uint64_t in_second = (now.ns_since_epoch() / 1'000'000) % 1000;
    LinkParams ack_path = l.params(Side::kB);
    ack_path.delay = Duration::ms(1) + (in_second >= 250 && in_second < until_ms ? spike : Duration{});
    l.set_params(Side::kB, ack_path);
  };
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  return o;
}

TEST(SimTcp, UndoAfterSpuriousTimeoutsRestoresGoodput) {
  const Outcome with = delay_spikes(true, Duration::ms(400));
  const Outcome without = delay_spikes(false, Duration::ms(400));
  const auto mbps = [](const Outcome& o) {
    return 50'000'000 * 8.0 / static_cast<double>(o.end.ns_since_epoch()) * 1e3;
  };
  for (const auto* o : {&with, &without}) {
    std::printf(
        "%s: %s s (%.1f Mbit/s), TCPTimeouts %llu, TCPSpuriousRTOs %llu, TCPLossUndo %llu, "
        "TCPFullUndo %llu, TCPPartialUndo %llu, TCPDSACKUndo %llu, RetransSegs %llu\n",
        o == &with ? "undo   " : "no undo", format_time(o->end).c_str(), mbps(*o),
        static_cast<unsigned long long>(o->a.get(Counter::kTCPTimeouts)),
        static_cast<unsigned long long>(o->a.get(Counter::kTCPSpuriousRTOs)),
        static_cast<unsigned long long>(o->a.get(Counter::kTCPLossUndo)),
        static_cast<unsigned long long>(o->a.get(Counter::kTCPFullUndo)),
        static_cast<unsigned long long>(o->a.get(Counter::kTCPPartialUndo)),
        static_cast<unsigned long long>(o->a.get(Counter::kTCPDSACKUndo)),
        static_cast<unsigned long long>(o->a.get(Counter::kRetransSegs)));
  }
  EXPECT_GT(with.a.get(Counter::kTCPTimeouts), 0u) << "the spikes must outlast the RTO";
  EXPECT_GT(with.a.get(Counter::kTCPSpuriousRTOs), 0u);
  EXPECT_EQ(without.a.get(Counter::kTCPSpuriousRTOs), 0u);
  EXPECT_LT(with.a.get(Counter::kRetransSegs), without.a.get(Counter::kRetransSegs));
  EXPECT_GT(mbps(with), mbps(without) * 1.05);

  // The spike lasting past the timeout: the ACK to its retransmission is
  // delayed too, and the first to arrive is one of the originals', whose
  // TSecr predates the retransmission: Eifel (TCPLossUndo).
  const Outcome eifel = delay_spikes(true, Duration::ms(400), 750);
  std::printf(
      "undo, longer spikes: %s s, TCPTimeouts %llu, TCPSpuriousRTOs %llu, TCPLossUndo %llu, "
      "TCPDSACKUndo %llu, RetransSegs %llu\n",
      format_time(eifel.end).c_str(), static_cast<unsigned long long>(eifel.a.get(Counter::kTCPTimeouts)),
      static_cast<unsigned long long>(eifel.a.get(Counter::kTCPSpuriousRTOs)),
      static_cast<unsigned long long>(eifel.a.get(Counter::kTCPLossUndo)),
      static_cast<unsigned long long>(eifel.a.get(Counter::kTCPDSACKUndo)),
      static_cast<unsigned long long>(eifel.a.get(Counter::kRetransSegs)));
  EXPECT_GT(eifel.a.get(Counter::kTCPLossUndo), 0u);
}

class SimSweep : public ::testing::TestWithParam<std::uint64_t> {};

// Every seed with each congestion controller: CUBIC (the default), NewReno and BBR.
TEST_P(SimSweep, StreamsArriveIntact) {
  ASSERT_TRUE(pools().ok());
  const Scenario s = scenario_for_seed(GetParam());
  ASSERT_EQ(s.a.tcp.congestion, CongestionAlgorithm::kCubic);
  const std::string report = check_scenario(s, pools());
  EXPECT_TRUE(report.empty()) << report;
}

TEST_P(SimSweep, StreamsArriveIntactWithNewReno) {
  ASSERT_TRUE(pools().ok());
  Scenario s = scenario_for_seed(GetParam());
  s.a.tcp.congestion = s.b.tcp.congestion = CongestionAlgorithm::kNewReno;
  const std::string report = check_scenario(s, pools());
  EXPECT_TRUE(report.empty()) << report;
}

TEST_P(SimSweep, StreamsArriveIntactWithBbr) {
  ASSERT_TRUE(pools().ok());
  Scenario s = scenario_for_seed(GetParam());
  s.a.tcp.congestion = s.b.tcp.congestion = CongestionAlgorithm::kBbr;
  const std::string report = check_scenario(s, pools());
  EXPECT_TRUE(report.empty()) << report;
}

// The same seeded scenarios with the connection over IPv6 (issue 15):
// 2001:db8::1 and ::2 on the link, neighbour discovery instead of ARP,
// MSS 1440, the IPv6 pseudo-header checksum catching the link's corruption.
TEST_P(SimSweep, StreamsArriveIntactOverIpv6) {
  ASSERT_TRUE(pools().ok());
  Scenario s = scenario_for_seed(GetParam());
  s.a.ipv6 = s.b.ipv6 = true;
  const Outcome o = run_scenario(s, pools());
  EXPECT_TRUE(o.ok) << check_scenario(s, pools());
  if (o.ok && s.bytes_ab > 0) {
    EXPECT_GT(o.a.get(Counter::kIp6OutRequests), 0u) << "the connection did not run over IPv6";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, SimSweep,
    ::testing::Range(env_u64("TERN_SIM_FIRST_SEED", 1),
                     env_u64("TERN_SIM_FIRST_SEED", 1) + env_u64("TERN_SIM_SEEDS", 1000)),
    [](const ::testing::TestParamInfo<std::uint64_t>& i) { return std::to_string(i.param); });

}  // namespace
}  // namespace tern::sim
