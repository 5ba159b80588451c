#include "tcp/cc/hystart.h"

#include <algorithm>

namespace tern {

void HyStart::start_round(Seq32 window_end) noexcept {
  // RFC 9406 §4.2, "at the start of each round during standard slow start
  // and CSS".
  last_round_min_ = current_round_min_;
  current_round_min_ = kNoRtt;
  samples_ = 0;
  window_end_ = window_end;
  round_started_ = true;
}

std::uint32_t HyStart::increment(std::uint32_t inc) noexcept {
  if (!in_css()) return inc;
  // RFC 9406 §4.2: cwnd = cwnd + (min(N, L * SMSS) / CSS_GROWTH_DIVISOR).
  css_carry_ += inc;
  const std::uint32_t step = css_carry_ / kCssGrowthDivisor;
  css_carry_ %= kCssGrowthDivisor;
  return step;
}

HyStart::Verdict HyStart::on_ack(const AckSample& a) noexcept {
  // The first ACK of the connection opens the first round.
  if (!round_started_) start_round(a.snd_max);
  if (a.rtt > Duration{}) {
    current_round_min_ = std::min(current_round_min_, a.rtt);
    ++samples_;
  }
  const bool enough = samples_ >= kNRttSample && current_round_min_ != kNoRtt;
  if (!in_css()) {
    // Delay increase: the round's minimum RTT rose by at least RttThresh
    // over the last round's. The samples are a round's minimum so a single
    // delayed ACK does not end slow start.
    if (enough && last_round_min_ != kNoRtt &&
        current_round_min_ >= last_round_min_ + rtt_thresh(last_round_min_)) {
      css_baseline_ = current_round_min_;
      css_rounds_ = 0;
      css_carry_ = 0;
    }
  } else if (enough && current_round_min_ < css_baseline_) {
    // The RTT came back below the baseline that triggered CSS: the exit was
    // spurious, resume slow start (with HyStart++).
    css_baseline_ = kNoRtt;
  }
  Verdict v = Verdict::kContinue;
  if (seq_geq(a.ack, window_end_)) {
    // This ACK covers windowEnd: the round is over. CSS "lasts at most
    // CSS_ROUNDS rounds. If the transition into CSS happens in the middle
    // of a round, that partial round counts towards the limit."
    if (in_css() && ++css_rounds_ >= kCssRounds) {
      css_baseline_ = kNoRtt;
      v = Verdict::kEnterCongestionAvoidance;
    }
    start_round(a.snd_max);
  }
  return v;
}

}  // namespace tern
