#pragma once
// HyStart++ (RFC 9406): leave the first slow start on a rise in RTT, before
// the loss that ends standard slow start, through Conservative Slow Start
// (CSS), which grows at a quarter of the slow-start rate for a few rounds
// and goes back to slow start if the rise proves spurious.
//
// Rounds are counted in sequence space (RFC 9406 §4.2): a round ends with
// the ACK that covers "windowEnd", SND.MAX as it stood when the round began
// (AckSample::snd_max on the ACK that closed the previous round, i.e. before
// the engine sends in reply to it). That ACK's sample still belongs to the
// round it closes.
//
// The window itself stays with the caller: increment() scales a slow-start
// step for CSS, on_ack() reports samples and round ends and says when CSS
// is over. RFC 9406 §4.3: use it only while ssthresh still has its initial
// value (the first slow start); the caller decides that.
#include <cstdint>
#include <limits>

#include "tcp/cc/congestion.h"

namespace tern {

class HyStart {
 public:
  // RFC 9406 §4.3, the RECOMMENDED values.
  static constexpr Duration kMinRttThresh = Duration::ms(4);
  static constexpr Duration kMaxRttThresh = Duration::ms(16);
  static constexpr std::int64_t kMinRttDivisor = 8;
  static constexpr std::uint32_t kNRttSample = 8;
  static constexpr std::uint32_t kCssGrowthDivisor = 4;
  static constexpr std::uint32_t kCssRounds = 5;
  // "infinity" in the RFC's pseudo-code: no sample yet.
  static constexpr Duration kNoRtt = Duration::ns(std::numeric_limits<std::int64_t>::max());

  enum class Verdict : std::uint8_t {
    kContinue,                  // stay in slow start or CSS
    kEnterCongestionAvoidance,  // CSS_ROUNDS rounds of CSS done: set ssthresh = cwnd
  };

  // The slow-start step `inc` (min(N, L*SMSS)) as it applies to this ACK:
  // unchanged in slow start, divided by CSS_GROWTH_DIVISOR in CSS (the
  // remainder carried to the next ACK, so small ACKs are not rounded away).
  std::uint32_t increment(std::uint32_t inc) noexcept;
  // After the window update for `a` (RFC 9406 §4.2's order): the RTT sample,
  // the delay-increase and spurious-exit tests, the round accounting.
  Verdict on_ack(const AckSample& a) noexcept;

  bool in_css() const noexcept { return css_baseline_ != kNoRtt; }
  std::uint32_t css_rounds() const noexcept { return css_rounds_; }
  Duration last_round_min_rtt() const noexcept { return last_round_min_; }
  Duration current_round_min_rtt() const noexcept { return current_round_min_; }
  Duration css_baseline_min_rtt() const noexcept { return css_baseline_; }

  // RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH)).
  static constexpr Duration rtt_thresh(Duration last_round_min) noexcept {
    const Duration eighth = last_round_min / kMinRttDivisor;
    const Duration capped = eighth < kMaxRttThresh ? eighth : kMaxRttThresh;
    return capped > kMinRttThresh ? capped : kMinRttThresh;
  }

 private:
  void start_round(Seq32 window_end) noexcept;

  Duration last_round_min_ = kNoRtt;
  Duration current_round_min_ = kNoRtt;
  Duration css_baseline_ = kNoRtt;
  std::uint32_t samples_ = 0;     // rttSampleCount, this round
  std::uint32_t css_rounds_ = 0;  // rounds ended in this CSS episode (a partial first one counts)
  std::uint32_t css_carry_ = 0;   // slow-start bytes not yet turned into CSS growth
  Seq32 window_end_;
  bool round_started_ = false;
};

}  // namespace tern
