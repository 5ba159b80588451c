// BBR v1 (lib/tcp/cc/bbr.cc) on synthetic rate samples: the model, the
// state machine and the control parameters, per
// draft-cardwell-iccrg-bbr-congestion-control-00 (section numbers are that
// revision's; it is the one that specifies v1).
#include "tcp/cc/bbr.h"

#include <gtest/gtest.h>

#include <set>

#include "tcp/cc/controller.h"

namespace tern {
namespace {

constexpr std::uint32_t kMss = 1460;
constexpr std::uint32_t kIw = 10 * kMss;  // RFC 6928 for a 1460-byte MSS
constexpr std::uint32_t kUnit = Bbr::kUnit;

std::uint64_t with_margin(std::uint64_t bw, std::uint32_t gain) { return bw * gain / kUnit * 99 / 100; }

// A connection's view of its ACKs: C.delivered, the clock, and a sample per
// call. Each round() delivers data sent at the start of the previous round,
// so each is a round start (§4.1.1.3).
struct Path {
  explicit Path(std::uint32_t seed = 7) : bbr(config(seed)) {}
  static NewRenoConfig config(std::uint32_t seed) {
    NewRenoConfig c;
    c.mss = kMss;
    c.seed = seed;
    return c;
  }
  // One ACK: `bytes` delivered, a sample of `rate` (0: none) and `rtt`,
  // `inflight` after it; `round_start` makes prior_delivered reach the
  // round's end.
  void ack(std::uint64_t rate, Duration rtt, std::uint32_t bytes, std::uint32_t inflight, Duration advance,
           bool app_limited = false, bool round_start = true, std::uint32_t lost = 0) {
    now = now + advance;
    RateSample rs;
    rs.has_prior = true;
    rs.prior_delivered = round_start ? delivered : round_begin;
    if (round_start) round_begin = delivered;
    rs.valid = rate > 0;
    rs.delivery_rate = rate;
    rs.rtt = rtt;
    rs.is_app_limited = app_limited;
    rs.delivered = bytes;
    const std::uint32_t prior_inflight = inflight + bytes;
    delivered += bytes;
    BbrAck a;
    a.now = now;
    a.delivered = bytes;
    a.lost = lost;
    a.inflight = inflight;
    a.prior_inflight = prior_inflight;
    a.delivered_total = delivered;
    a.srtt = rtt;
    bbr.on_sample(rs, a);
  }
  void round(std::uint64_t rate, std::uint32_t inflight, Duration rtt = Duration::ms(10)) {
    ack(rate, rtt, kIw, inflight, rtt);
  }
  // STARTUP with a rate that doubles, then stays at `bw`: the pipe is full
  // after three flat rounds (§4.3.2.2); `inflight` large keeps DRAIN going.
  void fill_pipe(std::uint64_t bw, std::uint32_t inflight) {
    for (std::uint64_t r = bw / 8; r < bw; r *= 2) round(r, inflight);
    for (int i = 0; i < 4 && bbr.state() == Bbr::State::kStartup; ++i) round(bw, inflight);
  }
  Bbr bbr;
  Instant now = at_ms(0);
  std::uint32_t delivered = 0;
  std::uint32_t round_begin = 0;
};

// §4.3.1 BBRInit / §4.2.1 BBRInitPacingRate: STARTUP at 2/ln2, the initial
// window, and InitialCwnd / 1 ms (no SRTT yet) times the high gain.
TEST(Bbr, InitialState) {
  Path p;
  EXPECT_EQ(p.bbr.state(), Bbr::State::kStartup);
  EXPECT_EQ(p.bbr.pacing_gain(), 739u);  // 2/ln(2) = 2.885 in 1/256
  EXPECT_EQ(p.bbr.cwnd_gain(), 739u);
  EXPECT_EQ(p.bbr.cwnd(), kIw);
  EXPECT_TRUE(p.bbr.in_slow_start());
  EXPECT_EQ(p.bbr.pacing_rate(), with_margin(std::uint64_t{kIw} * 1000, 739));
  EXPECT_EQ(p.bbr.name(), "bbr");
  EXPECT_EQ(p.bbr.ssthresh(), kCcInitialSsthresh);
}

// §4.2.1: once an SRTT exists (and no bandwidth sample yet), the initial
// rate is InitialCwnd / SRTT times the gain.
TEST(Bbr, InitialPacingRateFromSrtt) {
  Path p;
  p.ack(0, Duration::ms(20), kMss, kIw - kMss, Duration::ms(20));
  EXPECT_EQ(p.bbr.pacing_rate(), with_margin(std::uint64_t{kIw} * 50, 739));
  EXPECT_EQ(p.bbr.cwnd(), kIw + kMss);  // STARTUP grows by what is delivered (§4.2.3.5)
}

// §4.3.2.2 / §4.3.3: three rounds without 25 % growth fill the pipe;
// STARTUP gives way to DRAIN, and DRAIN to PROBE_BW once inflight <= BDP.
TEST(Bbr, StartupToDrainOnFullPipeThenProbeBw) {
  Path p;
  const std::uint64_t bw = 4'000'000;  // 4 MB/s with a 10 ms RTprop: BDP 40,000 bytes
  for (std::uint64_t r = bw / 8; r < bw; r *= 2) {
    p.round(r, 200'000);
    EXPECT_EQ(p.bbr.state(), Bbr::State::kStartup);
  }
  p.round(bw, 200'000);  // growth from bw/2: full_bw = bw
  p.round(bw, 200'000);  // 1
  p.round(bw, 200'000);  // 2
  EXPECT_EQ(p.bbr.state(), Bbr::State::kStartup);
  EXPECT_FALSE(p.bbr.filled_pipe());
  p.round(bw, 200'000);  // 3: full
  EXPECT_TRUE(p.bbr.filled_pipe());
  EXPECT_EQ(p.bbr.state(), Bbr::State::kDrain);
  EXPECT_EQ(p.bbr.pacing_gain(), 256u * 256 / 739);  // 1 / high_gain
  EXPECT_EQ(p.bbr.cwnd_gain(), 739u);
  EXPECT_EQ(p.bbr.pacing_rate(), with_margin(bw, 256 * 256 / 739));
  EXPECT_EQ(p.bbr.btl_bw(), bw);
  EXPECT_EQ(p.bbr.bdp(), 40'000u);
  // Still above BDP + quanta: DRAIN goes on (ACKs within the round).
  p.ack(bw, Duration::ms(10), kMss, 100'000, Duration::ms(1), false, false);
  EXPECT_EQ(p.bbr.state(), Bbr::State::kDrain);
  // Down to the BDP: PROBE_BW.
  p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  EXPECT_EQ(p.bbr.state(), Bbr::State::kProbeBw);
  EXPECT_EQ(p.bbr.cwnd_gain(), 2 * kUnit);
  EXPECT_FALSE(p.bbr.in_slow_start());
}

// §4.3.2.2: app-limited rounds do not count towards a full pipe.
TEST(Bbr, AppLimitedRoundsDoNotFillThePipe) {
  Path p;
  const std::uint64_t bw = 4'000'000;
  for (std::uint64_t r = bw / 8; r <= bw; r *= 2) p.round(r, 200'000);
  for (int i = 0; i < 10; ++i) p.ack(bw, Duration::ms(10), kIw, 200'000, Duration::ms(10), true);
  EXPECT_FALSE(p.bbr.filled_pipe());
  EXPECT_EQ(p.bbr.state(), Bbr::State::kStartup);
}

// §4.1.1.5: an app-limited sample below BtlBw is ignored; above, it counts.
TEST(Bbr, AppLimitedSamplesOnlyRaiseBtlBw) {
  Path p;
  p.round(2'000'000, 50'000);
  p.ack(1'000'000, Duration::ms(10), kIw, 50'000, Duration::ms(10), true);
  EXPECT_EQ(p.bbr.btl_bw(), 2'000'000u);
  p.ack(3'000'000, Duration::ms(10), kIw, 50'000, Duration::ms(10), true);
  EXPECT_EQ(p.bbr.btl_bw(), 3'000'000u);
}

// §4.1.1: BtlBw is the max over the last 10 round trips: a higher sample
// ages out after 10 rounds, not 10 ACKs.
TEST(Bbr, BtlBwFilterWindowIsTenRounds) {
  Path p;
  p.round(8'000'000, 50'000);
  for (int i = 0; i < 20; ++i) {
    p.ack(1'000'000, Duration::ms(10), kMss, 50'000, Duration::ms(1), false, false);  // not round starts
  }
  EXPECT_EQ(p.bbr.btl_bw(), 8'000'000u);
  for (int i = 0; i < 9; ++i) p.round(1'000'000, 50'000);
  EXPECT_EQ(p.bbr.btl_bw(), 8'000'000u) << "round " << p.bbr.round_count();
  p.round(1'000'000, 50'000);
  p.round(1'000'000, 50'000);
  EXPECT_EQ(p.bbr.btl_bw(), 1'000'000u);
}

TEST(WindowedMaxFilter, KeepsTheBestOfTheWindow) {
  WindowedMaxFilter f;
  f.reset(0, 10);
  EXPECT_EQ(f.update(1, 5, 10), 10u);
  EXPECT_EQ(f.update(4, 7, 10), 10u);
  EXPECT_EQ(f.update(8, 6, 10), 10u);
  EXPECT_EQ(f.update(11, 3, 10), 7u);  // 10 (t=0) aged out: the second best, from t=4
  EXPECT_EQ(f.update(15, 2, 10), 6u);  // 7 (t=4) out too
  EXPECT_EQ(f.update(16, 9, 10), 9u);
}

// §4.3.4: PROBE_BW cycles 5/4, 3/4, then six phases of 1, each an RTprop
// long; 5/4 ends only once inflight reached 5/4 BDP (or on loss), 3/4 as
// soon as inflight is down to the BDP.
TEST(Bbr, ProbeBwGainCycling) {
  Path p;
  const std::uint64_t bw = 4'000'000;
  p.fill_pipe(bw, 200'000);
  p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  ASSERT_EQ(p.bbr.state(), Bbr::State::kProbeBw);
  const std::uint32_t start = p.bbr.cycle_index();
  EXPECT_NE(start, 1u);
  EXPECT_EQ(p.bbr.pacing_gain(), Bbr::kCycleGain[start]);
  // Walk to phase 0 (5/4) with full-length phases at inflight = BDP.
  for (int i = 0; i < 8 && p.bbr.cycle_index() != 0; ++i) {
    const std::uint32_t before = p.bbr.cycle_index();
    p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(5), false, false);  // half an RTprop
    EXPECT_EQ(p.bbr.cycle_index(), before);
    p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(6), false, false);  // past it
    EXPECT_EQ(p.bbr.cycle_index(), (before + 1) % 8);
  }
  ASSERT_EQ(p.bbr.cycle_index(), 0u);
  EXPECT_EQ(p.bbr.pacing_gain(), 320u);
  EXPECT_EQ(p.bbr.pacing_rate(), with_margin(bw, 320));
  // 5/4: an RTprop passes but inflight stayed below 5/4 BDP: stays.
  p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(11), false, false);
  EXPECT_EQ(p.bbr.cycle_index(), 0u);
  // Inflight reached 5/4 BDP + quanta: next phase, 3/4.
  p.ack(bw, Duration::ms(10), kMss, p.bbr.inflight(320), Duration::ms(1), false, false);
  EXPECT_EQ(p.bbr.cycle_index(), 1u);
  EXPECT_EQ(p.bbr.pacing_gain(), 192u);
  EXPECT_EQ(p.bbr.pacing_rate(), with_margin(bw, 192));
  // 3/4: ends early, as soon as inflight is down to BDP + quanta.
  p.ack(bw, Duration::ms(10), kMss, 60'000, Duration::ms(1), false, false);
  EXPECT_EQ(p.bbr.cycle_index(), 1u);
  p.ack(bw, Duration::ms(10), kMss, p.bbr.inflight(kUnit) - kMss, Duration::ms(1), false, false);
  EXPECT_EQ(p.bbr.cycle_index(), 2u);
  EXPECT_EQ(p.bbr.pacing_gain(), kUnit);
  EXPECT_EQ(p.bbr.pacing_rate(), with_margin(bw, kUnit));
}

// A loss in the 5/4 phase ends it after an RTprop even below 5/4 BDP.
TEST(Bbr, LossEndsTheProbingPhase) {
  Path p;
  const std::uint64_t bw = 4'000'000;
  p.fill_pipe(bw, 200'000);
  p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  for (int i = 0; i < 8 && p.bbr.cycle_index() != 0; ++i)
    p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(11), false, false);
  ASSERT_EQ(p.bbr.cycle_index(), 0u);
  p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(11), false, false, kMss);
  EXPECT_EQ(p.bbr.cycle_index(), 1u);
}

// §4.3.4.3: the starting phase is random but never 3/4, and the seed makes
// it reproducible.
TEST(Bbr, ProbeBwStartPhaseIsRandomButNeverTheDrainingOne) {
  std::set<std::uint32_t> seen;
  for (std::uint32_t seed = 0; seed < 500; ++seed) {
    Path p(seed);
    p.fill_pipe(4'000'000, 200'000);
    p.ack(4'000'000, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
    ASSERT_EQ(p.bbr.state(), Bbr::State::kProbeBw);
    seen.insert(p.bbr.cycle_index());
    Path q(seed);
    q.fill_pipe(4'000'000, 200'000);
    q.ack(4'000'000, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
    EXPECT_EQ(q.bbr.cycle_index(), p.bbr.cycle_index());
  }
  EXPECT_EQ(seen, (std::set<std::uint32_t>{0, 2, 3, 4, 5, 6, 7}));
}

// §4.2.3: cwnd = cwnd_gain * BDP + 3 send quanta once the pipe is full;
// §4.2.2 send quantum = 1 ms at the pacing rate (at least 2 segments).
TEST(Bbr, CwndAndPacingRateInProbeBw) {
  Path p;
  const std::uint64_t bw = 4'000'000;
  p.fill_pipe(bw, 200'000);
  p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  ASSERT_EQ(p.bbr.state(), Bbr::State::kProbeBw);
  // Full-length phases, with inflight at 5/4 BDP so the 5/4 phase ends too.
  for (int i = 0; i < 8 && p.bbr.pacing_gain() != kUnit; ++i)
    p.ack(bw, Duration::ms(10), kMss, p.bbr.inflight(320), Duration::ms(11), false, false);
  ASSERT_EQ(p.bbr.pacing_gain(), kUnit);
  const std::uint64_t pacing = with_margin(bw, kUnit);  // 3,960,000 B/s
  EXPECT_EQ(p.bbr.pacing_rate(), pacing);
  EXPECT_EQ(p.bbr.send_quantum(), pacing / 1000);  // 3,960 bytes > 2 segments
  const std::uint32_t target = 2 * 40'000 + 3 * static_cast<std::uint32_t>(pacing / 1000);
  EXPECT_EQ(p.bbr.target_cwnd(), target);
  // Full pipe: cwnd = min(cwnd + delivered, target). The 3/4 phase's
  // smaller quantum left it one segment or so below; it grows by what each
  // ACK delivers and stops at the target.
  const std::uint32_t below = p.bbr.cwnd();
  ASSERT_LT(below, target);
  p.ack(bw, Duration::ms(10), kMss, 30'000, Duration::us(10), false, false);
  EXPECT_EQ(p.bbr.cwnd(), std::min(below + kMss, target));
  for (int i = 0; i < 4; ++i) p.ack(bw, Duration::ms(10), kMss, 30'000, Duration::us(10), false, false);
  EXPECT_EQ(p.bbr.cwnd(), target);
  Congestion c(CongestionAlgorithm::kBbr, Path::config(7));
  EXPECT_EQ(c.pacing_rate(), Bbr(Path::config(7)).pacing_rate());
}

// At low rates the quantum is one segment (§4.2.2: below 1.2 Mb/s).
TEST(Bbr, SendQuantumFloors) {
  Path p;
  p.round(100'000, 5000, Duration::ms(100));  // 0.8 Mb/s
  // STARTUP never lowers the rate below the initial one; with an SRTT of
  // 100 ms that is IW / 100 ms * 2.885 = 417 kB/s.
  EXPECT_GE(p.bbr.send_quantum(), 2 * kMss);
  Path q;
  q.fill_pipe(100'000, 5000);
  for (int i = 0; i < 3; ++i) q.ack(100'000, Duration::ms(10), kMss, 500, Duration::ms(20), false, false);
  ASSERT_TRUE(q.bbr.filled_pipe());
  EXPECT_LT(q.bbr.pacing_rate(), 150'000u);
  EXPECT_EQ(q.bbr.send_quantum(), kMss);
}

// §4.3.5: RTprop not refreshed for 10 s: PROBE_RTT, cwnd 4 segments; once
// inflight is down to that, 200 ms and a round trip; then back to PROBE_BW
// with cwnd restored.
TEST(Bbr, ProbeRttAfterRtpropExpiresAndExitAfter200ms) {
  Path p;
  const std::uint64_t bw = 4'000'000;
  p.fill_pipe(bw, 200'000);
  p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  ASSERT_EQ(p.bbr.state(), Bbr::State::kProbeBw);
  // RTT samples above RTprop for 10 s: no refresh.
  for (int i = 0; i < 99; ++i) p.ack(bw, Duration::ms(12), kMss, 40'000, Duration::ms(100), false, false);
  ASSERT_EQ(p.bbr.state(), Bbr::State::kProbeBw);
  const std::uint32_t cwnd_before = p.bbr.cwnd();
  p.ack(bw, Duration::ms(12), kMss, 40'000, Duration::ms(200), false, false);
  ASSERT_EQ(p.bbr.state(), Bbr::State::kProbeRtt);
  EXPECT_TRUE(p.bbr.wants_app_limited());
  EXPECT_EQ(p.bbr.cwnd(), 4 * kMss);
  EXPECT_EQ(p.bbr.pacing_gain(), kUnit);
  EXPECT_EQ(p.bbr.rtprop(), Duration::ms(12));  // the expired filter took the new sample
  // Inflight still above 4 segments: the 200 ms have not started.
  p.ack(bw, Duration::ms(12), kMss, 20'000, Duration::ms(300), false, true);
  EXPECT_EQ(p.bbr.state(), Bbr::State::kProbeRtt);
  // Down to 4 segments: the 200 ms start now.
  p.ack(bw, Duration::ms(12), kMss, 4 * kMss, Duration::ms(1), false, false);
  EXPECT_EQ(p.bbr.state(), Bbr::State::kProbeRtt);
  // A round passes, but not 200 ms yet.
  p.ack(bw, Duration::ms(12), kMss, 4 * kMss, Duration::ms(20), false, true);
  EXPECT_EQ(p.bbr.state(), Bbr::State::kProbeRtt);
  EXPECT_EQ(p.bbr.cwnd(), 4 * kMss);
  p.ack(bw, Duration::ms(12), kMss, 4 * kMss, Duration::ms(180), false, false);
  EXPECT_EQ(p.bbr.state(), Bbr::State::kProbeRtt);                             // 200 ms: not yet past
  p.ack(bw, Duration::ms(12), kMss, 4 * kMss, Duration::ms(1), false, false);  // 201 ms
  EXPECT_EQ(p.bbr.state(), Bbr::State::kProbeBw);
  EXPECT_GE(p.bbr.cwnd(), cwnd_before);  // BBRRestoreCwnd
  EXPECT_FALSE(p.bbr.wants_app_limited());
}

// §4.3.5: an idle restart is not taken for an RTprop expiry.
TEST(Bbr, IdleRestartDefersProbeRtt) {
  Path p;
  p.fill_pipe(4'000'000, 200'000);
  p.ack(4'000'000, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  EXPECT_FALSE(p.bbr.on_idle_restart(p.now + Duration::s(11), p.now, Duration::ms(200)));
  p.ack(4'000'000, Duration::ms(12), kMss, 40'000, Duration::s(11), false, false);
  EXPECT_EQ(p.bbr.state(), Bbr::State::kProbeBw);
  p.ack(4'000'000, Duration::ms(13), kMss, 40'000, Duration::s(11), false, false);
  EXPECT_EQ(p.bbr.state(), Bbr::State::kProbeRtt);
}

// §4.2.3.4: fast recovery starts at pipe + delivered, packet conservation
// for a round, then growth; on exit cwnd is restored.
TEST(Bbr, RecoveryPacketConservationAndRestore) {
  Path p;
  const std::uint64_t bw = 4'000'000;
  p.fill_pipe(bw, 200'000);
  p.ack(bw, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  const std::uint32_t before = p.bbr.cwnd();
  ASSERT_GT(before, 60'000u);
  p.bbr.enter_sack_recovery(30'000, kMss);
  EXPECT_TRUE(p.bbr.in_recovery());
  EXPECT_TRUE(p.bbr.packet_conservation());
  EXPECT_EQ(p.bbr.cwnd(), 30'000 + kMss);
  // In the round: cwnd = max(cwnd, inflight + delivered), not the target.
  p.ack(bw, Duration::ms(10), 2 * kMss, 20'000, Duration::ms(1), false, false);
  EXPECT_EQ(p.bbr.cwnd(), 30'000 + kMss);
  p.ack(bw, Duration::ms(10), 2 * kMss, 40'000, Duration::ms(1), false, false);
  EXPECT_EQ(p.bbr.cwnd(), 40'000 + 2 * kMss);
  // Data sent after recovery began is delivered: the round is over.
  p.ack(bw, Duration::ms(10), kMss, 20'000, Duration::ms(10), false, true);
  EXPECT_FALSE(p.bbr.packet_conservation());
  EXPECT_EQ(p.bbr.cwnd(), 40'000 + 3 * kMss);  // grows by delivered towards the target
  p.bbr.exit_sack_recovery();
  EXPECT_FALSE(p.bbr.in_recovery());
  EXPECT_EQ(p.bbr.cwnd(), before);
}

// A spurious episode undone (tcp_undo.cc): recovery ends and cwnd is back
// to at least its value before; a second undo has nothing to give back.
TEST(Bbr, UndoRestoresTheWindowBeforeTheEpisode) {
  Path p;
  p.fill_pipe(4'000'000, 200'000);
  p.ack(4'000'000, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  const std::uint32_t before = p.bbr.cwnd();
  EXPECT_FALSE(p.bbr.can_undo());
  EXPECT_FALSE(p.bbr.undo());
  p.bbr.enter_sack_recovery(20'000, kMss);
  ASSERT_LT(p.bbr.cwnd(), before);
  EXPECT_TRUE(p.bbr.can_undo());
  EXPECT_TRUE(p.bbr.undo());
  EXPECT_FALSE(p.bbr.in_recovery());
  EXPECT_FALSE(p.bbr.packet_conservation());
  EXPECT_EQ(p.bbr.cwnd(), before);
  EXPECT_FALSE(p.bbr.undo());
  p.bbr.on_rto(Seq32{1000}, Seq32{50'000});
  EXPECT_EQ(p.bbr.cwnd(), kMss);
  EXPECT_TRUE(p.bbr.undo());
  EXPECT_EQ(p.bbr.cwnd(), before);
}

// A timeout: cwnd one segment, restored once what was outstanding is ACKed.
TEST(Bbr, TimeoutThenRestore) {
  Path p;
  p.fill_pipe(4'000'000, 200'000);
  p.ack(4'000'000, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  const std::uint32_t before = p.bbr.cwnd();
  p.bbr.on_rto(Seq32{1000}, Seq32{50'000});
  EXPECT_EQ(p.bbr.cwnd(), kMss);
  AckSample a{Seq32{2460}, 1460, Seq32{50'000}, p.now};
  p.bbr.on_ack(a);
  EXPECT_EQ(p.bbr.cwnd(), kMss);
  a = AckSample{Seq32{50'000}, 47'540, Seq32{50'000}, p.now};
  p.bbr.on_ack(a);
  EXPECT_EQ(p.bbr.cwnd(), before);
}

// Without SACK: the shared RFC 6582 core decides fast retransmit; its
// window is packet conservation in duplicates, then BBR's returns.
TEST(Bbr, NewRenoStyleRecoveryWithoutSack) {
  Path p;
  p.fill_pipe(4'000'000, 200'000);
  p.ack(4'000'000, Duration::ms(10), kMss, 40'000, Duration::ms(1), false, false);
  const std::uint32_t before = p.bbr.cwnd();
  const Seq32 una{1000}, max{1000 + 40 * kMss};
  AckSample d{una, 0, max, p.now};
  EXPECT_EQ(p.bbr.on_dup_ack(d), CcAction::kSendNew);
  EXPECT_EQ(p.bbr.on_dup_ack(d), CcAction::kSendNew);
  EXPECT_EQ(p.bbr.on_dup_ack(d), CcAction::kRetransmit);
  EXPECT_TRUE(p.bbr.in_recovery());
  EXPECT_EQ(p.bbr.cwnd(), 40 * kMss);  // FlightSize - 3 segments + 3 segments
  p.bbr.on_dup_ack(d);
  EXPECT_EQ(p.bbr.cwnd(), 41 * kMss);
  AckSample full{max, 40 * kMss, max, p.now};
  p.bbr.on_ack(full);
  EXPECT_FALSE(p.bbr.in_recovery());
  EXPECT_EQ(p.bbr.cwnd(), before);
}

// Config and per-connection selection: "bbr" names the third controller.
TEST(Bbr, SelectedByName) {
  CongestionAlgorithm a{};
  ASSERT_TRUE(parse_congestion("bbr", a));
  EXPECT_EQ(a, CongestionAlgorithm::kBbr);
  EXPECT_EQ(to_string(a), "bbr");
  Congestion c(a, Path::config(1));
  EXPECT_EQ(c.name(), "bbr");
  EXPECT_EQ(c.algorithm(), CongestionAlgorithm::kBbr);
  EXPECT_TRUE(c.wants_rate_samples());
  EXPECT_GT(c.pacing_rate(), 0u);
  EXPECT_NE(c.bbr(), nullptr);
  c.switch_to(CongestionAlgorithm::kCubic, Path::config(1), false);
  EXPECT_EQ(c.pacing_rate(), 0u);  // CUBIC does not pace
  EXPECT_FALSE(c.wants_rate_samples());
  EXPECT_EQ(c.cwnd(), kIw);
  c.switch_to(CongestionAlgorithm::kBbr, Path::config(1), false);
  EXPECT_EQ(c.cwnd(), kIw);  // adopted
}

}  // namespace
}  // namespace tern
