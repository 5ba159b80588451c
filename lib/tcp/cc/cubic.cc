#include "tcp/cc/cubic.h"

#include <algorithm>

namespace tern {

template class RenoRecovery<CubicGrowth>;

CubicGrowth::CubicGrowth(std::uint32_t mss, std::uint32_t abc_limit_bytes, const Config& cfg) noexcept
    : mss_(std::clamp<std::uint32_t>(mss, 1, 0xffff)),
      abc_limit_bytes_(abc_limit_bytes),
      hystart_enabled_(cfg.hystart),
      fast_convergence_(cfg.fast_convergence) {}

std::int64_t CubicGrowth::ticks(Duration d) noexcept {
  if (d <= Duration{}) return 0;
  // Beyond 2 * kMaxTicks the result is clamped anyway; keeps ns << 13 in range.
  constexpr std::int64_t kMaxNs = (2 * kMaxTicks * 1'000'000'000) >> kTickShift;
  const std::int64_t ns = std::min(d.count_ns(), kMaxNs);
  return (ns << kTickShift) / 1'000'000'000;
}

// C * d^3 in bytes for d ticks: 0.4 * SMSS * d^3 / 2^39. d^3 <= 2^63; after
// >> 23 it is at most 2^40, times 2 * SMSS (< 2^17) it still fits.
std::uint64_t CubicGrowth::cube_bytes(std::uint64_t d) const noexcept {
  d = std::min<std::uint64_t>(d, kMaxTicks);
  const std::uint64_t q = (d * d * d) >> (3 * kTickShift - 16);
  return q * kCNum * mss_ / (kCDen << 16);
}

// Eq. 2 in ticks: K^3 = diff / (C * SMSS) s^3, K_ticks^3 = K^3 * 2^39 =
// (diff * 5 * 2^26 / (2 * SMSS)) * 2^13. diff < 2^32, so the first factor
// fits 64 bits; K is clamped to kMaxTicks, whose cube is 2^63.
std::int64_t CubicGrowth::k_ticks(std::uint32_t diff) const noexcept {
  const std::uint64_t y = ((std::uint64_t{diff} * kCDen) << (2 * kTickShift)) / (kCNum * mss_);
  if (y >= std::uint64_t{1} << (63 - kTickShift)) return kMaxTicks;
  return static_cast<std::int64_t>(icbrt(y << kTickShift));
}

std::uint64_t CubicGrowth::w_cubic(Duration t) const noexcept {
  const std::int64_t d = ticks(t) - k_;
  if (d >= 0) return w_max_ + cube_bytes(static_cast<std::uint64_t>(d));
  const std::uint64_t down = cube_bytes(static_cast<std::uint64_t>(-d));
  return down >= w_max_ ? 0 : w_max_ - down;
}

// §4.6: ssthresh = max(flight_size * beta_cubic, 2 * SMSS).
std::uint32_t CubicGrowth::reduce(std::uint32_t window) const noexcept {
  return std::max(static_cast<std::uint32_t>(window * kBetaNum / kBetaDen), 2 * mss_);
}

void CubicGrowth::start_epoch(Instant now, std::uint32_t cwnd) noexcept {
  // §4.8 after a timeout, §4.10 after HyStart++: "K is set to 0, and W_max
  // is set to the congestion window size at the beginning of the current
  // congestion avoidance stage".
  if (origin_is_epoch_ || w_max_ == 0) w_max_ = cwnd;
  origin_is_epoch_ = false;
  epoch_valid_ = true;
  t_epoch_ = now;
  cwnd_epoch_ = cwnd;
  // Eq. 2, and its negative root when the stage starts above W_max (after
  // a slow start past it): W_cubic(0) = cwnd_epoch either way.
  k_ = cwnd <= w_max_ ? k_ticks(w_max_ - cwnd) : -k_ticks(cwnd - w_max_);
  // §4.3: "W_est is set equal to cwnd_epoch at the start of the congestion
  // avoidance stage" (and, §4.8, after a timeout).
  w_est_ = std::uint64_t{cwnd} << kEstShift;
  carry_ = 0;
}

void CubicGrowth::congestion_avoidance(const AckSample& a, CcWindow& w) noexcept {
  if (!epoch_valid_) start_epoch(a.now, w.cwnd);
  const Duration t = a.now > t_epoch_ ? a.now - t_epoch_ : Duration{};
  const std::uint64_t cwnd = w.cwnd;
  // Eq. 4 in bytes: W_est += alpha_cubic * acked * SMSS / cwnd, with alpha_cubic
  // 1 once W_est has reached cwnd_prior ("the same congestion window increment
  // rate as Reno", §4.3).
  const std::uint64_t est_inc = (std::uint64_t{a.acked} * mss_) << kEstShift;
  w_est_ += (w_est_ >> kEstShift) >= cwnd_prior_ ? est_inc / cwnd : est_inc * kAlphaNum / (kAlphaDen * cwnd);
  // §4.2, §4.4, §4.5: target = W_cubic(t + RTT) within [cwnd, 1.5 * cwnd],
  // cwnd += (target - cwnd) / cwnd per segment acknowledged; in bytes
  // (target - cwnd) * acked / cwnd, the remainder carried.
  const std::uint64_t target = std::clamp(w_cubic(t + a.srtt), cwnd, cwnd + cwnd / 2);
  const std::uint64_t inc = (target - cwnd) * a.acked + carry_;
  std::uint64_t next = cwnd + inc / cwnd;
  carry_ = inc % cwnd;
  // §4.3 Reno-friendly region: cwnd = W_est where that is more. §4.3 tests
  // W_cubic(t) < W_est; taking the larger window ("chooses the larger of
  // the two values", §4.2) also keeps the first ACKs of an epoch, where
  // W_est has just moved past W_cubic(t) = cwnd_epoch, on the cubic step
  // when that is larger, as Linux does (the faster of the two rates).
  if (const std::uint64_t w_est = w_est_ >> kEstShift; w_est > next) {
    next = w_est;
    carry_ = 0;
  }
  // At most half the bytes acknowledged per ACK (§4.2's 1.5 * cwnd per RTT,
  // per ACK). The cubic step is within it but for the carried remainder,
  // and W_est's is at most acked * SMSS / cwnd <= acked / 2, cwnd being at
  // least ssthresh >= 2 * SMSS here; this makes the bound exact.
  next = std::min({next, cwnd + a.acked / 2, std::uint64_t{kCcMaxCwnd}});
  w.cwnd = static_cast<std::uint32_t>(std::max(next, cwnd));
}

void CubicGrowth::on_ack(const AckSample& a, CcWindow& w) noexcept {
  last_ack_ = a.now;
  if (!w.in_slow_start()) return congestion_avoidance(a, w);
  // Slow start as NewReno's (RFC 3465 L), HyStart++ only in the first one
  // (RFC 9406 §4.3: while ssthresh has its initial value).
  std::uint32_t inc = std::min(a.acked, abc_limit_bytes_);
  const bool hystart = hystart_enabled_ && w.ssthresh == kCcInitialSsthresh;
  if (hystart) inc = hystart_.increment(inc);
  cc_slow_start(w, inc);
  if (hystart && hystart_.on_ack(a) == HyStart::Verdict::kEnterCongestionAvoidance) {
    // RFC 9406 §4.2: "enter congestion avoidance by setting the ssthresh to
    // the current cwnd"; RFC 9438 §4.10: cwnd_prior = cwnd, W_max undefined.
    w.ssthresh = w.cwnd;
    cwnd_prior_ = w.cwnd;
    origin_is_epoch_ = true;
    epoch_valid_ = false;
  }
}

std::uint32_t CubicGrowth::on_congestion(std::uint32_t flight, const CcWindow&) noexcept {
  // §4.7 then §4.6, from the window in use when the loss was detected:
  // cwnd in SACK recovery (kReducesFromCwnd; the engine keeps an unused
  // cwnd from growing, RFC 7661, as §4.6 requires of that choice),
  // FlightSize less limited transmit at a fast retransmit without SACK.
  w_max_ = fast_convergence_ && flight < w_max_
               ? static_cast<std::uint32_t>(flight * kFastConvNum / kFastConvDen)
               : flight;
  cwnd_prior_ = flight;
  epoch_valid_ = false;
  origin_is_epoch_ = false;
  carry_ = 0;
  hystart_ = HyStart{};  // ssthresh is set: no HyStart++ from here on (RFC 9406 §4.3)
  return reduce(flight);
}

std::uint32_t CubicGrowth::on_rto(std::uint32_t flight, bool first, const CcWindow& w) noexcept {
  // §4.8: cwnd falls as Reno's (the core sets it to one segment); ssthresh
  // as in §4.6, held on a backed-off repeat (RFC 5681 §3.1); the next
  // congestion avoidance stage starts a fresh curve with K = 0.
  epoch_valid_ = false;
  origin_is_epoch_ = true;
  carry_ = 0;
  hystart_ = HyStart{};
  if (!first) return w.ssthresh;
  cwnd_prior_ = flight;
  return reduce(flight);
}

void CubicGrowth::save_prior() noexcept {
  prior_.t_epoch = t_epoch_;
  prior_.w_max = w_max_;
  prior_.cwnd_prior = cwnd_prior_;
  prior_.cwnd_epoch = cwnd_epoch_;
  prior_.w_est = static_cast<std::uint32_t>(std::min<std::uint64_t>(w_est_ >> kEstShift, kCcMaxCwnd));
  prior_.epoch_valid = epoch_valid_;
  prior_.origin_is_epoch = origin_is_epoch_;
}

void CubicGrowth::undo_prior(bool restore) noexcept {
  carry_ = 0;
  // §4.9.2: "if the current cwnd is already higher than prior_cwnd, CUBIC
  // SHOULD continue to use the current and the most recent values".
  if (!restore) return;
  w_max_ = prior_.w_max;
  cwnd_prior_ = prior_.cwnd_prior;
  origin_is_epoch_ = prior_.origin_is_epoch;
  epoch_valid_ = prior_.epoch_valid;
  if (!epoch_valid_) return;
  // The same curve as before the reduction: epoch_start, W_max, K (eq. 2
  // from cwnd_epoch, as start_epoch computed it) and W_est.
  t_epoch_ = prior_.t_epoch;
  cwnd_epoch_ = prior_.cwnd_epoch;
  k_ = cwnd_epoch_ <= w_max_ ? k_ticks(w_max_ - cwnd_epoch_) : -k_ticks(cwnd_epoch_ - w_max_);
  w_est_ = std::uint64_t{prior_.w_est} << kEstShift;
}

void CubicGrowth::on_idle(Instant now, Instant last_send, bool restarted, const CcWindow& w) noexcept {
  if (!epoch_valid_) return;
  // Restarted below ssthresh: slow start runs again and the congestion
  // avoidance after it is a new stage, with a new epoch toward the same W_max.
  if (restarted && w.in_slow_start()) {
    epoch_valid_ = false;
    return;
  }
  // §5.8: t "does not include application-limited periods, such as idle
  // periods". Idle since the later of the last send and the last ACK (the
  // pipe drained at the last ACK); move the epoch start forward by that much.
  const Instant from = std::max(last_send, last_ack_);
  if (now > from) t_epoch_ = t_epoch_ + (now - from);
}

}  // namespace tern
