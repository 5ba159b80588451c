#pragma once
// BBR version 1 ("Bottleneck Bandwidth and Round-trip propagation time"),
// as specified in draft-cardwell-iccrg-bbr-congestion-control-00 (the
// revision that specifies v1; -01 and -02 specify BBRv2, whose model adds
// loss and ECN bounds). Section numbers below are -00's. One element is
// taken from -02 (§4.6.2) and Linux: the 1 % pacing margin.
//
// BBR builds a model of the path from rate samples (tcp/delivery_rate.h):
//   - BtlBw, a windowed max of the delivery rate over 10 round trips
//     (§4.1.1), rounds counted by delivered data (§4.1.1.3);
//   - RTprop, a windowed min of the RTT over 10 s (§4.1.2);
// and sets from it the pacing rate, pacing_gain * BtlBw (§4.2.1), and cwnd,
// cwnd_gain * BDP + 3 send quanta (§4.2.3), through four states (§4.3):
// STARTUP (gain 2/ln 2) until the full-pipe test (3 rounds < 25 % growth,
// §4.3.2.2), DRAIN (its inverse) until inflight <= BDP, PROBE_BW (an
// 8-phase pacing-gain cycle 5/4, 3/4, 1 x 6 starting at a random phase
// other than 3/4, §4.3.4), and PROBE_RTT (cwnd 4 packets for 200 ms and a
// round, when RTprop was not refreshed for 10 s, §4.3.5).
//
// Units: bytes, bytes per second, gains in 1/256 (Linux's BBR_UNIT);
// integer arithmetic throughout. The engine calls on_sample() once per ACK
// with the rate sample and what the ACK delivered (Congestion forwards it
// only here: NewReno and CUBIC never see it).
//
// Loss recovery. With SACK the engine runs RFC 6675 recovery and asks cwnd
// of the controller; BBR does not use PRR (Linux neither: PRR is for
// controllers without cong_control) but §4.2.3.4's packet conservation:
// on entry cwnd = pipe + delivered, then for one round cwnd >= pipe +
// delivered, and on exit cwnd is restored to at least its value before.
// Without SACK, fast retransmit and RFC 6582 partial ACKs come from the
// recovery core every window-based controller here shares (reno_recovery.h)
// with ssthresh = FlightSize: its window inflation by one SMSS per
// duplicate ACK is packet conservation counted in duplicates, the only
// delivery signal there is. A timeout sets cwnd to one segment and
// restores it once the data outstanding at the timeout is acknowledged.
#include <cstdint>
#include <string_view>

#include "base/instant.h"
#include "tcp/cc/congestion.h"
#include "tcp/cc/reno_recovery.h"
#include "tcp/delivery_rate.h"

namespace tern {

// The loss-recovery core's growth policy under BBR: none. BBR sets cwnd
// outside recovery; a congestion event does not reduce (ssthresh =
// FlightSize), a timeout holds ssthresh.
class BbrLossGrowth {
 public:
  struct Config {};
  static constexpr std::string_view kName = "bbr";
  static constexpr bool kReducesFromCwnd = false;
  BbrLossGrowth(std::uint32_t mss, std::uint32_t, const Config& = {}) noexcept : mss_(mss) {}
  void on_ack(const AckSample&, CcWindow&) noexcept {}
  // ssthresh = FlightSize less the three segments the duplicates reported
  // gone, so the core's cwnd = ssthresh + 3 * SMSS lets only the
  // retransmission go and each further duplicate one segment: packet
  // conservation (§4.2.3.4) counted in duplicate ACKs.
  std::uint32_t on_congestion(std::uint32_t flight, const CcWindow&) noexcept {
    return flight > 5 * mss_ ? flight - 3 * mss_ : 2 * mss_;
  }
  void on_recovery_exit() noexcept {}
  std::uint32_t on_rto(std::uint32_t, bool, const CcWindow& w) noexcept { return w.ssthresh; }
  void on_idle(Instant, Instant, bool, const CcWindow&) noexcept {}
  void save_prior() noexcept {}
  void undo_prior(bool) noexcept {}

 private:
  std::uint32_t mss_;
};
using BbrLossCore = RenoRecovery<BbrLossGrowth>;
extern template class RenoRecovery<BbrLossGrowth>;  // bbr.cc

// §4.1.1: a max filter over a window of `window` round trips that keeps
// only the best, second best and third best samples of successive
// sub-windows (Kathleen Nichols' algorithm, as Linux's win_minmax), so the
// state is three samples and an update is a few comparisons.
class WindowedMaxFilter {
 public:
  std::uint64_t get() const noexcept { return v_[0]; }
  void reset(std::uint32_t t, std::uint64_t v) noexcept {
    v_[0] = v_[1] = v_[2] = v;
    t_[0] = t_[1] = t_[2] = t;
  }
  std::uint64_t update(std::uint32_t t, std::uint64_t v, std::uint32_t window) noexcept;

 private:
  void set(int i, std::uint32_t t, std::uint64_t v) noexcept { v_[i] = v, t_[i] = t; }
  void copy(int to, int from) noexcept { v_[to] = v_[from], t_[to] = t_[from]; }
  // Best, second and third best: values and the rounds they were taken
  // (apart, so the three take 36 bytes, not 48).
  std::uint64_t v_[3] = {0, 0, 0};
  std::uint32_t t_[3] = {0, 0, 0};
};

// What one ACK told BBR besides the rate sample (draft -00's per-ACK inputs).
struct BbrAck {
  Instant now;
  std::uint32_t delivered = 0;        // bytes newly delivered (cumulative + newly SACKed): packets_delivered
  std::uint32_t lost = 0;             // bytes this ACK's loss detection newly marked lost: packets_lost
                                      // (RACK or RFC 6675 IsLost; 0 without SACK, where the core resends)
  std::uint32_t inflight = 0;         // pipe after the ACK (lost bytes out): packets_in_flight
  std::uint32_t prior_inflight = 0;   // pipe before it (Linux's prior_in_flight)
  std::uint32_t delivered_total = 0;  // C.delivered after the ACK (draft-cheng), bytes
  Duration srtt{};                    // zero while there is none
};

class Bbr {
 public:
  enum class State : std::uint8_t { kStartup, kDrain, kProbeBw, kProbeRtt };

  // Gains in 1/256. §4.3.1 BBRHighGain = 2/ln(2) = 2.885 (rounded up, as Linux's 739/256).
  static constexpr std::uint32_t kUnit = 256;
  static constexpr std::uint32_t kHighGain = 739;
  static constexpr std::uint32_t kDrainGain = kUnit * kUnit / kHighGain;  // §4.3.3: 1/high_gain (88)
  static constexpr std::uint32_t kProbeBwCwndGain = 2 * kUnit;            // §4.3.4
  static constexpr std::uint32_t kCycleLen = 8;                           // §4.3.4.3 BBRGainCycleLen
  static constexpr std::uint32_t kBtlBwFilterLen = 10;                    // §4.1.1.1, round trips
  static constexpr Duration kRtpropFilterLen = Duration::s(10);           // §4.1.2.1
  static constexpr Duration kProbeRttDuration = Duration::ms(200);        // §4.3.5
  static constexpr std::uint32_t kMinPipeSegments = 4;                    // §4.2.3.3 BBRMinPipeCwnd
  static constexpr std::uint32_t kPacingMarginPercent = 1;                // -02 §4.6.2, Linux
  static constexpr std::uint16_t kCycleGain[kCycleLen] = {320, 192, 256, 256, 256, 256, 256, 256};

  // `cfg.seed` picks PROBE_BW's starting phases (deterministic per connection).
  explicit Bbr(const NewRenoConfig& cfg = {}) noexcept;

  // ---- the engine's controller interface (congestion.h) ----
  CcAction on_ack(const AckSample& a) noexcept;
  CcAction on_dup_ack(const AckSample& a) noexcept;
  void on_limited_transmit(std::uint32_t bytes) noexcept { core_.on_limited_transmit(bytes); }
  void on_rto(Seq32 snd_una, Seq32 snd_max) noexcept;
  // BBR has its own restart rule (§4.3.4.4) and no RFC 5681 §4.1 idle
  // restart (Linux skips it for BBR): returns false.
  bool on_idle_restart(Instant now, Instant last_send, Duration rto) noexcept;
  // SACK recovery: entry with the pipe and what the entering ACK delivered
  // (§4.2.3.4); PRR's cwnd is not used.
  void enter_sack_recovery(std::uint32_t pipe, std::uint32_t delivered) noexcept;
  void set_recovery_cwnd(std::uint32_t) noexcept {}
  void exit_sack_recovery() noexcept;
  void adopt(std::uint32_t cwnd, std::uint32_t ssthresh, bool in_sack_recovery) noexcept;
  // The episode's response was spurious (tcp_undo.cc): recovery ends, cwnd
  // is restored to at least its value before (BBRRestoreCwnd), and, as
  // Linux's bbr_undo_cwnd, the full-pipe count starts afresh. False when no
  // episode began since the last undo.
  bool undo() noexcept;
  bool can_undo() const noexcept { return undo_valid_ || core_.can_undo(); }

  std::uint32_t cwnd() const noexcept { return core_.in_recovery() ? core_.cwnd() : cwnd_; }
  // BBR has no ssthresh; reported as "arbitrarily high" (Linux reports
  // TCP_INFINITE_SSTHRESH), so a controller taking over starts in slow start.
  std::uint32_t ssthresh() const noexcept { return kCcInitialSsthresh; }
  bool in_slow_start() const noexcept { return state_ == State::kStartup; }
  bool in_recovery() const noexcept { return core_.in_recovery() || sack_recovery_; }
  std::uint32_t dup_acks() const noexcept { return core_.dup_acks(); }
  std::string_view name() const noexcept { return "bbr"; }

  // ---- BBR's model (§4: BBRUpdateOnACK) ----
  void on_sample(const RateSample& rs, const BbrAck& a) noexcept;

  // Bytes per second; the engine paces at this rate (§4.2.1).
  std::uint64_t pacing_rate() const noexcept { return pacing_rate_; }
  // §4.2.2: the largest burst the pacer may send at once, bytes.
  std::uint32_t send_quantum() const noexcept { return send_quantum_; }

  // ---- observation (tests, telemetry) ----
  State state() const noexcept { return state_; }
  std::uint64_t btl_bw() const noexcept { return btl_bw_.get(); }
  Duration rtprop() const noexcept { return rtprop_; }
  bool rtprop_valid() const noexcept { return rtprop_valid_; }
  bool filled_pipe() const noexcept { return filled_pipe_; }
  std::uint32_t pacing_gain() const noexcept { return pacing_gain_; }
  std::uint32_t cwnd_gain() const noexcept { return cwnd_gain_; }
  std::uint32_t cycle_index() const noexcept { return cycle_index_; }
  std::uint32_t round_count() const noexcept { return round_count_; }
  bool packet_conservation() const noexcept { return packet_conservation_; }
  std::uint32_t target_cwnd() const noexcept { return target_cwnd_; }
  std::uint32_t initial_cwnd() const noexcept { return iw_; }
  // BBRInflight(gain): gain * BDP + 3 send quanta; the initial window until
  // there is a BDP estimate.
  std::uint32_t inflight(std::uint32_t gain) const noexcept;
  // BDP = BtlBw * RTprop, bytes.
  std::uint64_t bdp() const noexcept;
  // In PROBE_RTT the engine marks the connection app-limited (§4.3.5
  // BBRHandleProbeRTT: low-rate samples there say nothing of the path).
  bool wants_app_limited() const noexcept { return state_ == State::kProbeRtt; }

 private:
  void update_round(const RateSample& rs, const BbrAck& a) noexcept;
  void update_btl_bw(const RateSample& rs) noexcept;
  void check_cycle_phase(const RateSample& rs, const BbrAck& a) noexcept;
  void advance_cycle_phase(Instant now) noexcept;
  void check_full_pipe(const RateSample& rs) noexcept;
  void check_drain(const BbrAck& a) noexcept;
  void update_rtprop(const RateSample& rs, Instant now) noexcept;
  void check_probe_rtt(const BbrAck& a) noexcept;
  void enter_startup() noexcept;
  void enter_drain() noexcept;
  void enter_probe_bw(Instant now) noexcept;
  void enter_probe_rtt() noexcept;
  void exit_probe_rtt(Instant now) noexcept;
  void set_pacing_rate(std::uint32_t gain) noexcept;
  void init_pacing_rate(Duration srtt) noexcept;
  void set_send_quantum() noexcept;
  void set_cwnd(const BbrAck& a) noexcept;
  std::uint32_t save_cwnd() const noexcept;
  void restore_cwnd() noexcept;
  std::uint64_t rate_with_gain(std::uint64_t bw, std::uint32_t gain) const noexcept;
  std::uint32_t next_random() noexcept;

  BbrLossCore core_;  // duplicate ACKs, fast retransmit, partial ACKs without SACK
  std::uint32_t mss_;
  std::uint32_t iw_;
  std::uint32_t cwnd_;
  std::uint32_t prior_cwnd_ = 0;
  std::uint32_t target_cwnd_ = 0;
  std::uint64_t pacing_rate_ = 0;
  std::uint32_t send_quantum_;
  WindowedMaxFilter btl_bw_;
  Duration rtprop_{};
  Instant rtprop_stamp_{};
  Instant cycle_stamp_{};
  Instant probe_rtt_done_stamp_{};
  std::uint64_t full_bw_ = 0;
  std::uint32_t next_round_delivered_ = 0;
  std::uint32_t round_count_ = 0;
  std::uint32_t delivered_total_ = 0;  // C.delivered as last reported
  std::uint32_t rng_;
  Seq32 rto_recover_;  // SND.MAX at the last timeout
  std::uint16_t pacing_gain_ = kHighGain;
  std::uint16_t cwnd_gain_ = kHighGain;
  std::uint8_t cycle_index_ = 0;
  std::uint8_t full_bw_count_ = 0;
  State state_ = State::kStartup;
  bool round_start_ = false;
  bool filled_pipe_ = false;
  bool rtprop_valid_ = false;
  bool rtprop_expired_ = false;
  bool probe_rtt_done_valid_ = false;
  bool probe_rtt_round_done_ = false;
  bool packet_conservation_ = false;
  bool idle_restart_ = false;
  bool sack_recovery_ = false;
  bool rto_recovery_ = false;
  bool pacing_from_srtt_ = false;  // the initial pacing rate has seen an SRTT
  bool undo_valid_ = false;        // an episode (recovery, timeout) began: undo() may restore
};

static_assert(CongestionControl<Bbr>);

}  // namespace tern
